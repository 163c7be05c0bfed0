package tui

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/tui/action"
)

// The two drains as specs of the action screen (tui/action): the drain of
// a RabbitMQ dead-letter queue (actions.PlanDrain, actions.ExecuteDrain)
// and that of a Kafka dead-letter topic (actions.PlanKafkaDrain,
// actions.ExecuteKafkaDrain). A spec names the fields, checks them, says
// the equivalent `mqops drain` command, plans, draws the plan, runs it and
// words its result; a plan shown and not confirmed is recorded in the
// audit log as a dry run (actions.AuditDryRun, AuditKafkaDryRun), as the
// CLI's --dry-run is.

// rabbitDrain is a RabbitMQ drain planned: its options and its plan.
type rabbitDrain struct {
	opts actions.DrainOptions
	plan *actions.DrainPlan
}

// kafkaDrain is a Kafka drain planned.
type kafkaDrain struct {
	opts actions.KafkaDrainOptions
	plan *actions.DrainPlan
}

// The fields of the drain forms.
const (
	fTarget  = "target"
	fOrigin  = "origin"
	fReason  = "reason"
	fLimit   = "limit"
	fRate    = "rate"
	fTooBig  = "too-big"
	skipThem = "skip"
)

var drainReasons = []string{"", "rejected", "expired", "maxlen", "delivery_limit"}

// rabbitDrainSpec is the drain of the dead-letter queue vhost/queue,
// its filter prefilled with origin and reason (a dead-letter group's).
func (m *Model) rabbitDrainSpec(vhost, queue, origin, reason string) action.Spec[*rabbitDrain, *actions.DrainResult] {
	r, audit := m.opts.Drainer, m.opts.Audit
	ctxName, readOnly, broker := m.opts.Context, m.opts.ReadOnly, m.rabbitName()
	reasons := make([]action.Option, len(drainReasons))
	chosen := 0
	for i, rs := range drainReasons {
		label := rs
		if rs == "" {
			label = "any"
		}
		reasons[i] = action.Option{Value: rs, Label: label}
		if rs == reason {
			chosen = i
		}
	}
	options := func(v action.Values) actions.DrainOptions {
		o := actions.DrainOptions{
			Context: ctxName, ReadOnly: readOnly, Vhost: vhost, Queue: queue,
			Origin: v.Text(fOrigin), Reason: v.Choice(fReason), To: v.Choice(fTarget),
			KnownDLQ: true, // the drain is only offered on queues the lists detected as dead-letter queues
		}
		if arg := v.Arg(fTarget); o.To != "origin" {
			o.To += ":" + arg
		}
		o.Limit, o.Rate = limitRate(v)
		return o
	}
	title := "Drain the dead letters of " + safe(queue) + " (vhost " + safe(vhost) + ")"
	if broker != "" {
		title += " on " + safe(broker)
	}
	return action.Spec[*rabbitDrain, *actions.DrainResult]{
		Verb: "Drain", Title: title, Broker: broker,
		Fields: []action.Field{
			{Key: fTarget, Label: "Target", Options: []action.Option{
				{Value: "origin", Label: "origin", Hint: "back to the queue each message died in"},
				{Value: "exchange", Label: "exchange", Arg: "exchange[:routing-key]",
					Check: required("type the exchange name (exchange[:routing-key]) or choose another target")},
				{Value: "file", Label: "file", Arg: "path", Hint: "(JSON lines)",
					Check: required("type the path of the file (JSON lines) or choose another target")},
			}},
			{Key: fOrigin, Label: "Origin", Value: origin, Hint: "only dead letters from this origin queue; empty: all"},
			{Key: fReason, Label: "Reason", Options: reasons, Chosen: chosen},
			{Key: fLimit, Label: "Limit", Hint: "at most N messages; empty: the depth at start", Check: limitCheck("messages")},
			{Key: fRate, Label: "Rate", Hint: "at most N messages/s; empty: unlimited", Check: rateCheck("messages")},
		},
		Prod: m.prodLike(), Name: queue, What: "queue",
		Command: func(v action.Values) string {
			o := options(v)
			args := []string{"drain", "rabbitmq:" + queue, "--to", o.To}
			if vhost != "/" {
				args = append(args, "--vhost", vhost)
			}
			args = append(append(args, flagIf("--origin", o.Origin)...), flagIf("--reason", o.Reason)...)
			return headlessCommand(ctxName, append(args, limitRateFlags(o.Limit, o.Rate)...))
		},
		Plan: func(ctx context.Context, v action.Values) (*rabbitDrain, error) {
			o := options(v)
			p, err := actions.PlanDrain(ctx, r, o)
			if err == nil && p == nil {
				err = errors.New("the plan is empty")
			}
			return &rabbitDrain{opts: o, plan: p}, err
		},
		PlanLines: func(d *rabbitDrain, st *action.Styles) []string {
			return rabbitPlanLines(d.plan, drainFilter(d.opts.Origin, d.opts.Reason, d.opts.Limit, d.opts.Rate, st), st)
		},
		Question: func(d *rabbitDrain) string { return safe(d.plan.Summary()) },
		Blocked:  func(d *rabbitDrain) string { return rabbitBlocked(d.plan) },
		Abandon:  func(d *rabbitDrain) { actions.AuditDryRun(audit, d.opts, d.plan, nil) },
		Execute: func(ctx context.Context, d *rabbitDrain, progress func(actions.Progress)) (*actions.DrainResult, error) {
			// The plan the operator saw bounds the run and goes to the audit log.
			o := d.opts
			o.Plan = d.plan
			return actions.ExecuteDrain(ctx, r, o, audit, progress)
		},
		Counts: func(p actions.Progress) string {
			return "moved " + fmtInt(int64(p.Done)) + " · skipped by filter " + fmtInt(int64(p.Skipped)) + " · failed " + fmtInt(int64(p.Failed))
		},
		RateUnit:     "msg/s",
		CancelSafety: "messages not yet confirmed by the target are requeued",
		Outcome: func(res *actions.DrainResult, err error, cancelled bool) action.Outcome {
			return drainOutcome(res, fmt.Sprintf("skipped by filter %s, ", fmtInt(int64(resOr(res).Skipped))), queue, "msg/s",
				"stopped: "+safe(orDash(resOr(res).StoppedBecause)))
		},
		CloseHint: "enter or esc closes and reloads the queue",
	}
}

// kafkaDrainSpec is the drain of the Kafka dead-letter topic.
func (m *Model) kafkaDrainSpec(topic string) action.Spec[*kafkaDrain, *actions.DrainResult] {
	k, audit := m.opts.KafkaDrainer, m.opts.Audit
	ctxName, readOnly, broker := m.opts.Context, m.opts.ReadOnly, m.cluster
	options := func(v action.Values) actions.KafkaDrainOptions {
		o := actions.KafkaDrainOptions{Context: ctxName, ReadOnly: readOnly, Topic: topic, To: "origin",
			SkipOversized: v.Choice(fTooBig) == skipThem}
		if v.Choice(fTarget) == "topic" {
			o.To = "topic:" + v.Arg(fTarget)
		}
		o.Limit, o.Rate = limitRate(v)
		return o
	}
	title := "Drain the dead letters of Kafka topic " + safe(topic)
	if broker != "" {
		title += " on " + safe(broker)
	}
	return action.Spec[*kafkaDrain, *actions.DrainResult]{
		Verb: "Drain", Title: title, Broker: broker,
		Fields: []action.Field{
			{Key: fTarget, Label: "Target", Options: []action.Option{
				{Value: "origin", Label: "origin", Hint: "back to the topic (and partition) each record died in"},
				{Value: "topic", Label: "topic", Arg: "name", Hint: "every record there, by key",
					Check: required("type the target topic name or choose another target")},
			}},
			{Key: fLimit, Label: "Limit", Hint: "at most N records; empty: up to the log end at start", Check: limitCheck("records")},
			{Key: fRate, Label: "Rate", Hint: "at most N records/s; empty: unlimited", Check: rateCheck("records")},
			{Key: fTooBig, Label: "Too big", Hint: "records larger than their target's max.message.bytes", Options: []action.Option{
				{Value: "stop", Label: "no: stop before them"}, {Value: skipThem, Label: "yes: skip them"},
			}},
		},
		Notes: []string{"every record from where the last drain stopped (consumer group " + safe(kafkaDrainGroup(topic)) + "); no filter"},
		Prod:  m.prodLike(), Name: topic, What: "topic",
		Validate: func(v action.Values) error {
			if v.Choice(fTarget) == "topic" && v.Arg(fTarget) == topic {
				return &action.FieldError{Field: fTarget, Msg: "the target is the dead-letter topic itself: choose another topic"}
			}
			return nil
		},
		Command: func(v action.Values) string {
			o := options(v)
			args := append([]string{"drain", "kafka:" + topic, "--to", o.To}, limitRateFlags(o.Limit, o.Rate)...)
			if o.SkipOversized {
				args = append(args, "--skip-oversized")
			}
			return headlessCommand(ctxName, args)
		},
		Plan: func(ctx context.Context, v action.Values) (*kafkaDrain, error) {
			o := options(v)
			p, err := actions.PlanKafkaDrain(ctx, k, o)
			if err == nil && p == nil {
				err = errors.New("the plan is empty")
			}
			return &kafkaDrain{opts: o, plan: p}, err
		},
		PlanLines: func(d *kafkaDrain, st *action.Styles) []string {
			return kafkaPlanLines(d.plan, drainFilter("", "", d.opts.Limit, d.opts.Rate, st), st)
		},
		Question: func(d *kafkaDrain) string { return safe(d.plan.Summary()) },
		Blocked:  func(d *kafkaDrain) string { return kafkaBlocked(d.plan) },
		Abandon:  func(d *kafkaDrain) { actions.AuditKafkaDryRun(audit, d.opts, d.plan, nil) },
		Execute: func(ctx context.Context, d *kafkaDrain, progress func(actions.Progress)) (*actions.DrainResult, error) {
			// The plan the operator saw goes to the audit log with the run.
			o := d.opts
			o.Plan = d.plan
			return actions.ExecuteKafkaDrain(ctx, k, o, audit, progress)
		},
		Counts: func(p actions.Progress) string {
			return "moved " + fmtInt(int64(p.Done)) + " · failed " + fmtInt(int64(p.Failed))
		},
		RateUnit:     "records/s",
		CancelSafety: "records not yet acknowledged by the target are not committed; the next drain resumes there",
		Outcome: func(res *actions.DrainResult, err error, cancelled bool) action.Outcome {
			skipped := ""
			if n := resOr(res).SkippedOversized; n > 0 {
				skipped = "skipped " + fmtInt(int64(n)) + " too large, "
			}
			return drainOutcome(res, skipped, topic, "records/s", "stopped because "+actions.KafkaStopText(resOr(res).StoppedBecause))
		},
		CloseHint: "enter or esc closes and reloads the list",
	}
}

// resOr is res, or an empty result when the run did not start.
func resOr(res *actions.DrainResult) *actions.DrainResult {
	if res == nil {
		return &actions.DrainResult{}
	}
	return res
}

// drainOutcome words a drain's result as `mqops drain` prints it: the
// counts (extra after moved), what is left in source, why it stopped.
func drainOutcome(res *actions.DrainResult, extra, source, unit, stopped string) action.Outcome {
	if res == nil {
		return action.Outcome{Summary: "no result"}
	}
	left := fmtInt(int64(res.Left))
	if res.Left < 0 {
		left = "unknown"
	}
	line := fmt.Sprintf("run %s: seen %s, moved %s, %sfailed %s, left in %s %s (%s %s)",
		safe(res.RunID), fmtInt(int64(res.Seen)), fmtInt(int64(res.Moved)), extra, fmtInt(int64(res.Failed)),
		safe(source), left, fmtRate(res.Rate), unit)
	return action.Outcome{Summary: line, Lines: []string{line, stopped}, RunID: res.RunID, Failures: res.Failed > 0}
}

// required is the check of an argument that must be typed.
func required(msg string) func(string) error {
	return func(s string) error {
		if s == "" {
			return errors.New(msg)
		}
		return nil
	}
}

// limitCheck validates a limit as the CLI validates --limit: empty means
// none, zero is refused.
func limitCheck(what string) func(string) error {
	return func(s string) error {
		if s == "" {
			return nil
		}
		if n, err := strconv.Atoi(s); err != nil || n < 1 || n > actions.MaxLimit {
			return fmt.Errorf("Limit %q: want a whole number of %s from 1 to %s (empty: no limit)", s, what, fmtInt(actions.MaxLimit))
		}
		return nil
	}
}

// rateCheck validates a rate as the CLI validates --rate: finite, in
// range; empty means unlimited, zero is refused.
func rateCheck(what string) func(string) error {
	return func(s string) error {
		if s == "" {
			return nil
		}
		r, err := strconv.ParseFloat(s, 64)
		if err == nil && r != 0 {
			if ferr := actions.CheckRate("rate", r); ferr != nil {
				err = ferr
			}
		}
		if err != nil || r == 0 {
			return fmt.Errorf("Rate %q: want %s per second from %v to %s (empty: unlimited)", s, what, actions.MinRate, fmtInt(actions.MaxRate))
		}
		return nil
	}
}

// limitRate reads the checked limit and rate (0: none).
func limitRate(v action.Values) (int, float64) {
	limit, _ := strconv.Atoi(v.Text(fLimit))
	rate, _ := strconv.ParseFloat(v.Text(fRate), 64)
	return limit, rate
}

func limitRateFlags(limit int, rate float64) []string {
	var out []string
	if limit > 0 {
		out = append(out, "--limit", strconv.Itoa(limit))
	}
	if rate > 0 {
		out = append(out, "--rate", strconv.FormatFloat(rate, 'f', -1, 64))
	}
	return out
}

// flagIf is the flag and its value when value is set, nothing else.
func flagIf(flag, value string) []string {
	if value == "" {
		return nil
	}
	return []string{flag, value}
}

// headlessCommand is the `mqops` command line of args on the context:
// shell-quoted, sanitized, secrets removed (none is ever a flag of it:
// passwords come from the context's environment variables and files), and
// without --yes, which the operator adds knowingly.
func headlessCommand(context string, args []string) string {
	words := []string{"mqops"}
	for _, a := range args {
		words = append(words, shellQuote(a))
	}
	if context != "" {
		words = append(words, "--context", shellQuote(context))
	}
	return safe(backends.Redact(strings.Join(words, " ")))
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:@%+=,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// drainFilter is the filter and bounds a plan's head states.
func drainFilter(origin, reason string, limit int, rate float64, st *action.Styles) string {
	filter := ""
	if origin != "" {
		filter += " · origin " + safe(origin)
	}
	if reason != "" {
		filter += " · reason " + safe(reason)
	}
	if limit > 0 {
		filter += " · limit " + fmtInt(int64(limit))
	}
	if rate > 0 {
		filter += " · rate " + strconv.FormatFloat(rate, 'f', -1, 64) + "/s"
	}
	return st.Dim.Render(filter)
}

// rabbitPlanLines show the plan as `mqops drain` prints it.
func rabbitPlanLines(p *actions.DrainPlan, filter string, st *action.Styles) []string {
	scope := fmtInt(int64(p.Sampled)) + " sampled"
	if p.Complete {
		scope = "all"
	}
	// a plan of part of a queue says its depth and scales the sample to
	// it; one that could not read the queue says so
	estimated := !p.Complete && p.Depth > 0 && p.NotSampled == nil
	head := fmt.Sprintf("plan: %s → %s (%s): %s to move, %s skipped by filter",
		safe(p.Source), safe(p.To), scope, fmtInt(int64(p.Selected)), fmtInt(int64(p.Skipped)))
	switch {
	case p.NotSampled != nil:
		head = fmt.Sprintf("plan: %s → %s (depth %s; not sampled): up to %s to move", safe(p.Source), safe(p.To), fmtInt(p.Depth), fmtInt(p.Estimate))
	case estimated:
		head = fmt.Sprintf("plan: %s → %s (depth %s; %s sampled, %s of them pass the filters): about %s to move",
			safe(p.Source), safe(p.To), fmtInt(p.Depth), fmtInt(int64(p.Sampled)), fmtInt(int64(p.Selected)), fmtInt(p.Estimate))
	}
	lines := []string{head + filter}
	for _, r := range p.Routes {
		line := fmt.Sprintf("  %6s → %s", fmtInt(int64(r.Count)), safe(r.Target))
		switch {
		case p.NotSampled != nil:
			line = fmt.Sprintf("  %6s → %s", "", safe(r.Target))
		case estimated:
			line += st.Dim.Render("  (about " + fmtInt(r.Estimate) + " of the depth)")
		}
		lines = append(lines, line+routeProblem(r, st))
	}
	lines = append(lines, planNotes(p, st)...)
	if estimated {
		lines = append(lines, st.Dim.Render("  the counts are of a sample, scaled to the depth: the drain moves every message that passes the filters, up to the depth planned"))
	} else if !p.Complete && p.NotSampled == nil {
		lines = append(lines, st.Dim.Render("  the counts are of a sample: the drain moves every message that passes the filters, up to the depth at start"))
	}
	return lines
}

// kafkaPlanLines show a Kafka drain's plan: records per target topic.
func kafkaPlanLines(p *actions.DrainPlan, filter string, st *action.Styles) []string {
	lines := []string{fmt.Sprintf("plan: %s → %s: %s record(s) to move of %s read", safe(p.Source), safe(p.To),
		fmtInt(int64(p.Selected)), fmtInt(int64(p.Sampled))) + filter}
	for _, r := range p.Routes {
		lines = append(lines, fmt.Sprintf("  %6s → %s", fmtInt(int64(r.Count)), safe(r.Target))+routeProblem(r, st))
	}
	return append(lines, planNotes(p, st)...)
}

func routeProblem(r actions.PlanRoute, st *action.Styles) string {
	if r.Problem == "" {
		return ""
	}
	return "  " + st.Error.Render("!! "+safe(r.Problem))
}

// planNotes are a plan's problems, notes, oversized records and warning.
func planNotes(p *actions.DrainPlan, st *action.Styles) []string {
	var lines []string
	for _, pr := range p.Problems {
		lines = append(lines, "  "+st.Error.Render("problem: "+safe(pr)))
	}
	if p.NotSampled != nil {
		lines = append(lines, "  "+st.Warn.Render("not sampled: "+safe(p.NotSampled.Reason)))
	}
	for _, n := range p.Notes {
		lines = append(lines, "  "+st.Dim.Render("note: "+safe(n)))
	}
	lines = append(lines, oversizedLines(p, st)...)
	if p.Warning != "" {
		lines = append(lines, "  "+st.Warn.Render("warning: "+safe(p.Warning)))
	}
	return lines
}

// maxOversizedShown bounds the oversized records the plan screen lists.
const maxOversizedShown = 5

// oversizedLines lists the records of a Kafka plan that their target
// cannot take, and what the drain does with them.
func oversizedLines(p *actions.DrainPlan, st *action.Styles) []string {
	if p.OversizedCount == 0 {
		return nil
	}
	then := "each partition stops before its first: choose Too big: yes to skip them"
	style := st.Error
	if p.SkipOversized {
		then, style = "skipped, and named in the result and the audit log", st.Warn
	}
	lines := []string{"  " + style.Render(fmtInt(int64(p.OversizedCount))+" record(s) too large for their target: "+then)}
	for i, ov := range p.Oversized {
		if i == maxOversizedShown {
			break
		}
		lines = append(lines, fmt.Sprintf("    partition %d offset %s: %s bytes > %s (max.message.bytes of topic %s)",
			ov.Partition, fmtInt64(ov.Offset), fmtInt(int64(ov.Size)), fmtInt(int64(ov.Limit)), safe(ov.Target)))
	}
	if more := p.OversizedCount - min(len(p.Oversized), maxOversizedShown); more > 0 {
		lines = append(lines, st.Dim.Render("    … and "+fmtInt(int64(more))+" more (mqops drain --dry-run lists the first 100)"))
	}
	return lines
}

// rabbitBlocked says why a RabbitMQ plan cannot be confirmed ("": it can).
func rabbitBlocked(p *actions.DrainPlan) string {
	switch {
	case len(p.Problems) > 0:
		return "the plan has problems (above): fix them first; the drain would stop at the first message it cannot deliver"
	case p.Selected == 0 && p.NotSampled != nil && p.Estimate == 0:
		return "nothing to drain: the queue is empty"
	case p.Selected == 0 && p.NotSampled == nil:
		return "nothing to drain: no message in the sample passes the filters"
	}
	return ""
}

// kafkaBlocked says why a Kafka plan cannot be confirmed ("": it can).
func kafkaBlocked(p *actions.DrainPlan) string {
	switch {
	case len(p.Problems) > 0:
		return "the plan has problems (above): fix them first; the drain would stop at the first message it cannot deliver"
	case p.Selected == 0 && p.SkipOversized && p.OversizedCount > 0:
		return "" // skipping them still commits past them
	case p.Selected == 0:
		return "nothing to drain: no record after the drain group's committed offsets"
	}
	return ""
}
