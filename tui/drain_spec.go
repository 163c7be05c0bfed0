package tui

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/tui/action"
)

// The two drains as specs of the action screen (tui/action): the drain of
// a RabbitMQ dead-letter queue (actions.RabbitDrain) and that of a Kafka
// dead-letter topic (actions.KafkaDrain), both through the console's
// actions.Runner (Model.runner), which writes their audit entries. A spec
// names the fields, checks them, says the equivalent `mqops drain` command
// (Runner.Command), plans (Runner.Plan), draws the plan, runs it
// (Runner.Execute) and words its result; a plan shown and not confirmed is
// recorded as a dry run, as the CLI's --dry-run is, and one that could not
// be confirmed (problems) as a refusal (abandonPlan).

// rabbitDrain is a RabbitMQ drain planned: the action and its plan.
type rabbitDrain struct {
	a    *actions.RabbitDrain
	plan *actions.DrainPlan
}

// kafkaDrain is a Kafka drain planned.
type kafkaDrain struct {
	a    *actions.KafkaDrain
	plan *actions.DrainPlan
}

// runner is the console's action runner: its audit log, and the flags of
// its context for the equivalent headless commands.
func (m *Model) runner() *actions.Runner {
	return &actions.Runner{Audit: m.opts.Audit, Globals: m.opts.CommandArgs}
}

// abandonPlan records a plan shown and not run: a refusal when it could
// not be confirmed (blocked says why), else a dry run for why (the
// operator did not confirm it; there was nothing to do).
func abandonPlan(run *actions.Runner, a actions.Action, p actions.Plan, blocked, why string) error {
	if blocked != "" {
		return run.Refuse(a, p, errors.New(blocked))
	}
	return run.DryRun(a, p, why)
}

// drainPlanned is a drain's plan from the runner.
func drainPlanned(p actions.Plan, err error) (*actions.DrainPlan, error) {
	dp, _ := p.(*actions.DrainPlan)
	if err == nil && dp == nil {
		err = errors.New("the plan is empty")
	}
	return dp, err
}

// drainResult is a drain's result from the runner (nil: none).
func drainResult(r actions.Result, err error) (*actions.DrainResult, error) {
	dr, _ := r.(*actions.DrainResult)
	return dr, err
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
	r, run := m.opts.Drainer, m.runner()
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
	drain := func(v action.Values) *actions.RabbitDrain {
		o := actions.DrainOptions{
			Context: ctxName, ReadOnly: readOnly, Vhost: vhost, Queue: queue,
			Origin: v.Text(fOrigin), Reason: v.Choice(fReason), To: v.Choice(fTarget),
			KnownDLQ: true, // the drain is only offered on queues the lists detected as dead-letter queues
		}
		if arg := v.Arg(fTarget); o.To != "origin" {
			o.To += ":" + arg
		}
		o.Limit, o.Rate = limitRate(v)
		return &actions.RabbitDrain{Broker: r, Options: o}
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
		Prod: m.prodLike(), Name: queue, What: "queue name",
		Command: func(v action.Values) string { return safe(run.Command(drain(v))) },
		Plan: func(ctx context.Context, v action.Values) (*rabbitDrain, error) {
			a := drain(v)
			p, err := drainPlanned(run.Plan(ctx, a))
			return &rabbitDrain{a: a, plan: p}, err
		},
		PlanLines: func(d *rabbitDrain, st *action.Styles) []string {
			o := &d.a.Options
			return rabbitPlanLines(d.plan, drainFilter(o.Origin, o.Reason, o.Limit, o.Rate, st), st)
		},
		Question: func(d *rabbitDrain) string { return safe(d.plan.Summary()) },
		Blocked:  func(d *rabbitDrain) string { return rabbitBlocked(d.plan) },
		Abandon: func(d *rabbitDrain) error {
			return abandonPlan(run, d.a, d.plan, rabbitProblems(d.plan), drainNotRun(rabbitBlocked(d.plan)))
		},
		Execute: func(ctx context.Context, d *rabbitDrain, progress func(actions.Progress)) (*actions.DrainResult, error) {
			// The plan the operator saw bounds the run and goes to the audit log.
			return drainResult(run.Execute(ctx, d.a, d.plan, progress))
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
	k, run := m.opts.KafkaDrainer, m.runner()
	ctxName, readOnly, broker := m.opts.Context, m.opts.ReadOnly, m.cluster
	drain := func(v action.Values) *actions.KafkaDrain {
		o := actions.KafkaDrainOptions{Context: ctxName, ReadOnly: readOnly, Topic: topic, To: "origin",
			SkipOversized: v.Choice(fTooBig) == skipThem}
		if v.Choice(fTarget) == "topic" {
			o.To = "topic:" + v.Arg(fTarget)
		}
		o.Limit, o.Rate = limitRate(v)
		return &actions.KafkaDrain{Broker: k, Options: o}
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
		Prod:  m.prodLike(), Name: topic, What: "topic name",
		Validate: func(v action.Values) error {
			if v.Choice(fTarget) == "topic" && v.Arg(fTarget) == topic {
				return &action.FieldError{Field: fTarget, Msg: "the target is the dead-letter topic itself: choose another topic"}
			}
			return nil
		},
		Command: func(v action.Values) string { return safe(run.Command(drain(v))) },
		Plan: func(ctx context.Context, v action.Values) (*kafkaDrain, error) {
			a := drain(v)
			p, err := drainPlanned(run.Plan(ctx, a))
			return &kafkaDrain{a: a, plan: p}, err
		},
		PlanLines: func(d *kafkaDrain, st *action.Styles) []string {
			return kafkaPlanLines(d.plan, drainFilter("", "", d.a.Options.Limit, d.a.Options.Rate, st), st)
		},
		Question: func(d *kafkaDrain) string { return safe(d.plan.Summary()) },
		Blocked:  func(d *kafkaDrain) string { return kafkaBlocked(d.plan) },
		Abandon: func(d *kafkaDrain) error {
			return abandonPlan(run, d.a, d.plan, kafkaProblems(d.plan), drainNotRun(kafkaBlocked(d.plan)))
		},
		Execute: func(ctx context.Context, d *kafkaDrain, progress func(actions.Progress)) (*actions.DrainResult, error) {
			// The plan the operator saw goes to the audit log with the run.
			return drainResult(run.Execute(ctx, d.a, d.plan, progress))
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

// rabbitProblems is why a RabbitMQ plan is refused rather than merely
// empty ("": it is not refused).
func rabbitProblems(p *actions.DrainPlan) string {
	if len(p.Problems) == 0 {
		return ""
	}
	return rabbitBlocked(p)
}

// kafkaProblems is why a Kafka plan is refused, as `mqops drain` refuses
// it: problems, or records read of which none can be moved ("": it is not
// refused; a plan with nothing read is merely empty).
func kafkaProblems(p *actions.DrainPlan) string {
	if len(p.Problems) == 0 && p.Sampled == 0 {
		return ""
	}
	return kafkaBlocked(p)
}

// drainNotRun is why a drain's plan that was not refused was not run: it
// had nothing to drain (blocked), or the operator did not confirm it.
func drainNotRun(blocked string) string {
	if blocked != "" {
		return "nothing to drain"
	}
	return actions.DryRunNotConfirmed
}
