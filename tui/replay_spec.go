package tui

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/tui/action"
	"github.com/mqops/mqops/tui/components"
)

// The replay of a range of a Kafka topic into another topic from the
// console: `P` on a topic of the topics view (the selected one, or the one
// marked), or in a topic's view (its partitions marked with space, if any,
// prefill the partitions), opens the action screen (tui/action) on the
// replay's spec: a form (the target topic, the range's two ends, each the
// log start or end, an offset or a time; the partitions; the key and
// header filters; the partitioning; the rate; what to do with records too
// large for the target), the plan (an actions.Replay planned by the
// console's actions.Runner in a command, never in Update: it validates the
// options, resolves the range and reads it to count) showing per partition
// the range, the records and bytes, counted or estimated, the target
// partition, the records the target cannot take; the confirmation (the
// target topic's name typed in a red context); the run's progress with its
// rate and ETA; and the result with the run id, its checkpoint, and the
// `mqops replay --resume` that goes on after a cancel.
//
// `P` is the lower-case peek's key shifted, as `R` is the refresh's: the
// lower-case key looks, the upper-case one acts (D, R, P). It was free in
// every view.
//
// The replay is absent in a read-only context, without a replayer
// (Options.KafkaReplayer) or an audit log: no key, no help line
// (Model.canReplay, in the one place the dangerous keys are unbound).

// canReplay says whether this console has what a replay needs (a
// read-only context has no replay key: keys.Map.ReadOnly).
func (m *Model) canReplay() bool {
	return m.opts.KafkaReplayer != nil && m.opts.Audit != nil
}

// replaySource is the topic `P` replays in the view on top, and the
// partitions marked in a topic's view. why, when not empty, says why
// there is none.
func (m *Model) replaySource() (topic string, parts []string, why string) {
	switch v := m.top().(type) {
	case *topicsView:
		switch ids := v.tbl.MarkedIDs(); {
		case len(ids) > 1:
			return "", nil, fmt.Sprintf("%d topics marked: P replays one topic at a time (space unmarks)", len(ids))
		case len(ids) == 1:
			return ids[0], nil, ""
		}
		if r, ok := v.tbl.Selected(); ok {
			return r.Ref, nil, ""
		}
		return "", nil, "no topic selected"
	case *topicView:
		return v.name, v.parts.MarkedIDs(), ""
	}
	return "", nil, "P replays a range of a topic into another topic: select one in :topics, or open one"
}

// openReplay is the `P` key.
func (m *Model) openReplay() tea.Cmd {
	if !m.keys.Replay.Bound() {
		return nil // read-only, no replayer, no audit log
	}
	topic, parts, why := m.replaySource()
	if why != "" {
		return m.setFlash(components.FlashInfo, why)
	}
	return m.push(newActionView("replay/"+topic, "replay", action.New(m.actionHost(), m.replaySpec(topic, parts))))
}

// replayPlanLimit bounds the records a plan of the console reads to count
// them (the command line's --plan-limit, 1,000,000 by default): past it
// the counts are estimated, and the run still replays the whole range.
const replayPlanLimit = 100_000

// replayItem is a replay planned: the action (its run id) and its plan.
type replayItem struct {
	a    *actions.Replay
	plan *actions.ReplayPlan
}

// The fields of the replay form.
const (
	fReplayTo     = "to"
	fReplayFrom   = "from"
	fReplayEnd    = "end"
	fReplayParts  = "partitions"
	fReplayKey    = "key"
	fReplayHeader = "headers"
	fReplayBy     = "partitioning"
)

// parsedCheck is the check of a value that parse reads as the command
// line reads its flag: an empty value asks for one, parse's error (a
// *actions.FieldError's message) is given after the field's label.
func parsedCheck(label string, parse func(string) error) func(string) error {
	return func(s string) error {
		if s == "" {
			return fmt.Errorf("%s: type its value", label)
		}
		if err := parse(s); err != nil {
			var fe *actions.FieldError
			if errors.As(err, &fe) {
				return fmt.Errorf("%s: %s", label, fe.Msg)
			}
			return fmt.Errorf("%s: %s", label, err.Error())
		}
		return nil
	}
}

// replayEnd is a choice of one end of the range: the log's, an offset or
// a time, each checked as the command line's flag of that end.
func replayEnd(which, logEnd, hint string) []action.Option {
	label := strings.ToUpper(which[:1]) + which[1:]
	check := func(flag string, parse func(string) error) func(string) error {
		return parsedCheck(label+" "+strings.TrimPrefix(flag, which+"-"), parse)
	}
	return []action.Option{
		{Value: "log", Label: logEnd, Hint: hint},
		{Value: "offset", Label: "offset", Arg: "N", Hint: "on every partition, clamped into the log (the plan says where)",
			Check: check(which+"-offset", func(s string) error { _, err := actions.ParseOffset(which+"-offset", s); return err })},
		{Value: "time", Label: "time", Arg: "T", Hint: "the first record at or after it: 2024-05-01T10:32:00Z, +02:00, or local time",
			Check: check(which+"-time", func(s string) error { _, err := actions.ParseReplayTime(which+"-time", s); return err })},
	}
}

// partitionsCheck validates the partitions: numbers, by commas or spaces.
func partitionsCheck(s string) error {
	for _, f := range splitList(s) {
		if n, err := strconv.ParseInt(f, 10, 32); err != nil || n < 0 {
			return fmt.Errorf("Partitions: %q is not a partition number (want 0,2,5; empty: every partition)", f)
		}
	}
	return nil
}

// headersCheck validates the header filters: key=value, by spaces.
func headersCheck(s string) error {
	for _, h := range strings.Fields(s) {
		if k, _, ok := strings.Cut(h, "="); !ok || k == "" {
			return fmt.Errorf("Headers: %q: want key=value (several separated by spaces; empty: no header filter)", h)
		}
	}
	return nil
}

// splitList splits a list of words separated by commas or spaces.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

// replayOptions reads the form as `mqops replay`'s options.
func replayOptions(topic string, v action.Values) actions.ReplayOptions {
	o := actions.ReplayOptions{Source: topic, To: v.Text(fReplayTo), Partitioning: v.Choice(fReplayBy),
		Headers: strings.Fields(v.Text(fReplayHeader)), SkipOversized: v.Choice(fTooBig) == skipThem, PlanLimit: replayPlanLimit}
	if o.Partitioning == "auto" {
		o.Partitioning = ""
	}
	if parts := splitList(v.Text(fReplayParts)); len(parts) > 0 {
		o.Source += ":" + strings.Join(parts, ",")
	}
	if k := v.Text(fReplayKey); k != "" {
		o.Key = &k
	}
	o.Rate, _ = strconv.ParseFloat(v.Text(fRate), 64) // checked by the field; empty: 0, unlimited
	for _, end := range []struct {
		key    string
		offset **int64
		time   *string
	}{{fReplayFrom, &o.FromOffset, &o.FromTime}, {fReplayEnd, &o.ToOffset, &o.ToTime}} {
		switch v.Choice(end.key) {
		case "offset":
			n, _ := actions.ParseOffset(end.key, v.Arg(end.key)) // checked by the field
			*end.offset = &n
		case "time":
			*end.time = v.Arg(end.key)
		}
	}
	if len(o.Headers) == 0 {
		o.Headers = nil
	}
	return o
}

// replaySpec is the replay of a range of topic into another topic; parts
// (the partitions marked) prefill the partitions.
func (m *Model) replaySpec(topic string, parts []string) action.Spec[*replayItem, *actions.ReplayResult] {
	k, run := m.opts.KafkaReplayer, m.runner()
	ctxName, readOnly, broker, brokers := m.opts.Context, m.opts.ReadOnly, m.cluster, m.opts.KafkaBrokers
	if m.opts.CommandContext != "" {
		ctxName = m.opts.CommandContext
	}
	build := func(v action.Values) *actions.Replay {
		o := replayOptions(topic, v)
		o.Context, o.ReadOnly, o.Brokers = ctxName, readOnly, brokers
		return &actions.Replay{Broker: k, Options: o}
	}
	resume := func(runID string) string {
		return safe(run.Command(&actions.Replay{Options: actions.ReplayOptions{Context: ctxName, Brokers: brokers, Resume: runID}}))
	}
	title := "Replay a range of Kafka topic " + safe(topic) + " into another topic"
	if broker != "" {
		title += " on " + safe(broker)
	}
	return action.Spec[*replayItem, *actions.ReplayResult]{
		Verb: "Replay", Title: title, Broker: broker,
		Fields: []action.Field{
			{Key: fReplayTo, Label: "Target", Hint: "an existing topic: mqops never creates one",
				Check: required("Target: type the target topic (an existing topic)")},
			{Key: fReplayFrom, Label: "From", Options: replayEnd("from", "log start", "the first record kept (inclusive)")},
			{Key: fReplayEnd, Label: "To", Options: replayEnd("to", "log end", "the log end when planned: later records are not replayed (exclusive)")},
			{Key: fReplayParts, Label: "Partitions", Value: strings.Join(parts, ","),
				Hint: "0,2,5 (space marks them in the topic's view); empty: every partition", Check: partitionsCheck},
			{Key: fReplayKey, Label: "Key", Hint: "only the records with this key; empty: any key"},
			{Key: fReplayHeader, Label: "Headers", Hint: "only the records with each header k=v (several by spaces)",
				Check: headersCheck},
			{Key: fReplayBy, Label: "Partitioning", Options: []action.Option{
				{Value: "auto", Label: "auto", Hint: "same when the target has as many partitions, else by key"},
				{Value: actions.PartitionSame, Label: "same", Hint: "each record to its own partition number"},
				{Value: actions.PartitionKey, Label: "key", Hint: "by key, as the Java client's default partitioner (murmur2)"},
			}},
			{Key: fRate, Label: "Rate", Hint: "at most N records/s; empty: unlimited", Check: rateCheck("records")},
			{Key: fTooBig, Label: "Too big", Hint: "records larger than the target's max.message.bytes", Options: []action.Option{
				{Value: "stop", Label: "no: stop before them"}, {Value: skipThem, Label: "yes: skip them"},
			}},
		},
		Notes: []string{
			"each record keeps its key, value, headers and timestamp, plus mqops-replay-run and mqops-replay-source",
			fmt.Sprintf("the plan reads at most %s records to count them (past that, it estimates); the run replays the whole range", fmtInt(replayPlanLimit)),
		},
		Prod: m.prodLike(), Name: "", What: "target topic name",
		NameOf: func(it *replayItem) string { return it.plan.Target },
		Validate: func(v action.Values) error {
			if v.Text(fReplayTo) == topic {
				return &action.FieldError{Field: fReplayTo, Msg: "Target: " + safe(topic) + " is the source topic: replay into another topic"}
			}
			return nil
		},
		Command: func(v action.Values) string { return safe(run.Command(build(v))) },
		Plan: func(ctx context.Context, v action.Values) (*replayItem, error) {
			a := build(v)
			p, err := run.Plan(ctx, a) // validates (a refusal is recorded), resolves the range, reads it
			rp, _ := p.(*actions.ReplayPlan)
			if err == nil && rp == nil {
				err = errors.New("the plan is empty")
			}
			if err != nil {
				return nil, err
			}
			return &replayItem{a: a, plan: rp}, nil
		},
		PlanLines: replayPlanLines,
		Question:  replayQuestion,
		Blocked:   func(it *replayItem) string { return replayBlocked(it.plan) },
		Abandon: func(it *replayItem) error {
			why := actions.DryRunNotConfirmed
			if n := replayNothing(it.plan); n != "" {
				why = n // a dry run, as the command line records it
			}
			return abandonPlan(run, it.a, it.plan, replayRefused(it.plan), why)
		},
		Execute: func(ctx context.Context, it *replayItem, progress func(actions.Progress)) (*actions.ReplayResult, error) {
			r, err := run.Execute(ctx, it.a, it.plan, progress) // the plan the operator saw goes to the audit log with the run
			res, _ := r.(*actions.ReplayResult)
			return res, err
		},
		Counts: func(p actions.Progress) string {
			return "replayed " + fmtInt(int64(p.Done)) + " · failed " + fmtInt(int64(p.Failed))
		},
		RateUnit:     "records/s",
		CancelSafety: "the checkpoint keeps only what the target confirmed, for mqops replay --resume",
		Outcome: func(res *actions.ReplayResult, err error, cancelled bool) action.Outcome {
			return replayOutcome(res, topic, resume)
		},
		CloseHint: "enter or esc closes the replay",
	}
}

// replayNothing says why a plan has nothing to replay ("": it has
// something), as `mqops replay` says it: an empty range, or a range read
// whole of which no record passes the filters (a blocked plan is refused
// before it is said to have nothing).
func replayNothing(p *actions.ReplayPlan) string {
	switch {
	case p.Blocked != "":
		return ""
	case p.Offsets == 0:
		return "nothing to replay: the range is empty"
	case p.Complete && p.Records == 0 && !(p.SkipOversized && p.OversizedCount > 0):
		return "nothing to replay: no record of the range passes the filters"
	}
	return ""
}

// replayRefused says why a plan is refused as `mqops replay` refuses it
// ("": it is not): it is blocked (a missing target, a partitioning that
// cannot be), or, with something to replay, it has problems (records the
// target cannot take).
func replayRefused(p *actions.ReplayPlan) string {
	switch {
	case p.Blocked != "":
		return "cannot replay: " + safe(p.Blocked)
	case replayNothing(p) == "" && len(p.Problems) > 0:
		return "the plan has problems (above): choose Too big: yes to skip the records the target cannot take, or end the range before them"
	}
	return ""
}

// replayBlocked says why the plan cannot be confirmed ("": it can): it is
// refused, or there is nothing to replay.
func replayBlocked(p *actions.ReplayPlan) string {
	if why := replayRefused(p); why != "" {
		return why
	}
	return replayNothing(p)
}

// replayQuestion is the scope the confirmation states, with the plan's
// numbers.
func replayQuestion(it *replayItem) string {
	p := it.plan
	_, total := estimates(p)
	source := safe(p.Source)
	if s := it.a.Options.Source; s != p.Source {
		source = safe(s) // its partitions
	}
	q := fmt.Sprintf("%s of %s (%d partition(s)) into %s, %s", replayCounts(total), source, len(p.Parts), safe(p.Target), replayHow(p))
	if p.Rate > 0 {
		q += ", at most " + strconv.FormatFloat(p.Rate, 'f', -1, 64) + " records/s"
	}
	return q
}

// maxReplayRowsShown bounds the partitions the plan screen lists.
const maxReplayRowsShown = 100

// replayEstimate is a partition's records and bytes: counted when the
// plan read all of its range, else scaled from what was read (on the
// partition, or on all of them when it read none of this one's).
type replayEstimate struct {
	records, bytes int64
	counted, known bool
}

// estimates scale each partition's counts to its range.
func estimates(p *actions.ReplayPlan) ([]replayEstimate, replayEstimate) {
	var readOffsets, readRecords, readBytes int64
	for _, pp := range p.Parts {
		readOffsets += pp.ReadTo - pp.Start
		readRecords += int64(pp.Records)
		readBytes += pp.Bytes
	}
	out := make([]replayEstimate, len(p.Parts))
	total := replayEstimate{counted: true, known: true}
	for i, pp := range p.Parts {
		e := replayEstimate{records: int64(pp.Records), bytes: pp.Bytes, counted: true, known: true}
		span, read := pp.End-pp.Start, pp.ReadTo-pp.Start
		switch {
		case pp.ReadTo >= pp.End:
		case read > 0:
			e.records = int64(float64(pp.Records) * float64(span) / float64(read))
			e.bytes = int64(float64(pp.Bytes) * float64(span) / float64(read))
			e.counted = false
		case readOffsets > 0:
			e.records = int64(float64(readRecords) * float64(span) / float64(readOffsets))
			e.bytes = int64(float64(readBytes) * float64(span) / float64(readOffsets))
			e.counted = false
		default:
			e.counted, e.known = false, false
		}
		out[i] = e
		total.records += e.records
		total.bytes += e.bytes
		total.counted = total.counted && e.counted
		total.known = total.known && e.known
	}
	return out, total
}

// replayCounts words records and bytes, "about" when estimated.
func replayCounts(e replayEstimate) string {
	switch {
	case !e.known:
		return "an unknown number of records"
	case e.counted:
		return fmtInt(e.records) + " record(s), " + fmtBytes(int(e.bytes))
	}
	return "about " + fmtInt(e.records) + " record(s), about " + fmtBytes(int(e.bytes))
}

// replayHow words the partitioning.
func replayHow(p *actions.ReplayPlan) string {
	if p.Partitioning == actions.PartitionSame {
		return "to the same partition numbers"
	}
	return "by key"
}

// replayPlanLines draw the plan: a head line (kept on the progress and
// result stages), the range and filters, per partition its range, records
// and bytes (counted or estimated) and target partition, the totals, then
// the problems, notes and the records the target cannot take.
func replayPlanLines(it *replayItem, st *action.Styles) []string {
	p := it.plan
	parts, total := estimates(p)
	head := fmt.Sprintf("plan: replay %s → %s: %s", safe(p.Source), safe(p.Target), replayCounts(total))
	if p.Rate > 0 {
		head += st.Dim.Render(" · rate " + strconv.FormatFloat(p.Rate, 'f', -1, 64) + "/s")
	}
	what := fmt.Sprintf("  run %s · range: %s → %s · %s (%s has %d partition(s))", safe(p.RunID), safe(p.From), safe(p.To), replayHow(p), safe(p.Target), p.TargetPartitions)
	if len(p.Filters) > 0 {
		what += " · only records with " + components.Clip(safe(strings.Join(p.Filters, " and ")), 400)
	}
	lines := []string{head, st.Dim.Render(what)}
	type cells struct{ part, start, end, offsets, records, bytes, target, count string }
	w := cells{part: "P", start: "START", end: "END", offsets: "OFFSETS", records: "RECORDS", bytes: "BYTES", target: "TARGET", count: "COUNT"}
	rows := make([]cells, 0, min(len(p.Parts), maxReplayRowsShown))
	notes := make([]string, 0, len(rows))
	for i, pp := range p.Parts {
		if i == maxReplayRowsShown {
			break
		}
		e := parts[i]
		c := cells{part: itoa(int(pp.Partition)), start: fmtInt(pp.Start), end: fmtInt(pp.End), offsets: fmtInt(pp.End - pp.Start),
			records: fmtInt(e.records), bytes: fmtBytes(int(e.bytes)), target: "by key", count: "counted"}
		if pp.TargetPartition != nil {
			c.target = itoa(int(*pp.TargetPartition))
		}
		switch {
		case !e.known:
			c.records, c.bytes, c.count = "?", "?", "not read"
		case !e.counted:
			c.records, c.bytes = "~"+c.records, "~"+c.bytes
			c.count = "estimated (" + fmtInt(int64(pp.Read)) + " read)"
		}
		rows = append(rows, c)
		notes = append(notes, safe(pp.Note))
	}
	ws := []int{0, 0, 0, 0, 0, 0, 0}
	for _, c := range append([]cells{w}, rows...) {
		for j, s := range []string{c.part, c.start, c.end, c.offsets, c.records, c.bytes, c.target} {
			ws[j] = max(ws[j], ansi.StringWidth(s))
		}
	}
	line := func(c cells) string {
		return strings.TrimRight(fmt.Sprintf("  %s  %s  %s  %s  %s  %s  %s  %s", components.Fit(c.part, ws[0], true), components.Fit(c.start, ws[1], true),
			components.Fit(c.end, ws[2], true), components.Fit(c.offsets, ws[3], true), components.Fit(c.records, ws[4], true), components.Fit(c.bytes, ws[5], true),
			components.Fit(c.target, ws[6], false), c.count), " ")
	}
	lines = append(lines, st.Dim.Render(line(w)))
	for i, c := range rows {
		l := line(c)
		if notes[i] != "" {
			l += "  " + st.Warn.Render(notes[i])
		}
		lines = append(lines, l)
	}
	if more := len(p.Parts) - len(rows); more > 0 {
		lines = append(lines, st.Dim.Render("  … and "+fmtInt(int64(more))+" more partition(s) (mqops replay … --dry-run -o json lists them all)"))
	}
	sum := fmt.Sprintf("  %s offset(s); %s to replay", fmtInt(p.Offsets), replayCounts(total))
	if p.Complete {
		sum += " (every record of the range read)"
	} else {
		sum += fmt.Sprintf(" (estimated from the first %s read)", fmtInt(int64(p.Read)))
	}
	lines = append(lines, st.Dim.Render(sum))
	for _, pr := range p.Problems {
		lines = append(lines, "  "+st.Error.Render("problem: "+safe(pr)))
	}
	for _, n := range p.Notes {
		lines = append(lines, "  "+st.Dim.Render("note: "+safe(n)))
	}
	return append(lines, replayOversized(p.Oversized, p.OversizedCount, p.SkipOversized, st)...)
}

// replayOversized lists the records the target cannot take, and what the
// replay does with them.
func replayOversized(ovs []backends.KafkaOversized, count int, skip bool, st *action.Styles) []string {
	if count == 0 {
		return nil
	}
	then, style := "each partition stops before its first: choose Too big: yes to skip them", st.Error
	if skip {
		then, style = "skipped, and named in the result and the audit log", st.Warn
	}
	lines := []string{"  " + style.Render(fmtInt(int64(count))+" record(s) too large for the target: "+then)}
	for i, ov := range ovs {
		if i == maxOversizedShown {
			break
		}
		lines = append(lines, fmt.Sprintf("    partition %d offset %s: %s bytes > %s (max.message.bytes of topic %s)",
			ov.Partition, fmtInt64(ov.Offset), fmtInt(int64(ov.Size)), fmtInt(int64(ov.Limit)), safe(ov.Target)))
	}
	if more := count - min(len(ovs), maxOversizedShown); more > 0 {
		lines = append(lines, st.Dim.Render("    … and "+fmtInt(int64(more))+" more (mqops replay --dry-run lists the first 100)"))
	}
	return lines
}

// replayOutcome words the result as `mqops replay` prints it: the run and
// its counts, why it stopped, the checkpoint, and the command that goes
// on where a run stopped before the end of its range (resume).
func replayOutcome(res *actions.ReplayResult, source string, resume func(runID string) string) action.Outcome {
	if res == nil {
		return action.Outcome{Summary: "no result"}
	}
	summary := fmt.Sprintf("run %s: replayed %s, left %s offset(s) of %s", safe(res.RunID), fmtInt(int64(res.Replayed)), fmtInt(int64(res.Left)), safe(source))
	line := fmt.Sprintf("run %s: replayed %s, filtered out %s, failed %s, left %s offset(s) of %s (%s records/s)",
		safe(res.RunID), fmtInt(int64(res.Replayed)), fmtInt(int64(res.Filtered)), fmtInt(int64(res.Failed)), fmtInt(int64(res.Left)),
		safe(source), fmtRate(res.Rate))
	lines := []string{line, "stopped because " + actions.ReplayStopText(res.StoppedBecause), "checkpoint: " + safe(res.Checkpoint)}
	if res.Left > 0 && res.StoppedBecause != backends.KafkaStopOversized {
		lines = append(lines, "go on with (the checkpoint keeps only what the target confirmed: nothing is skipped, at most the records in flight are replayed twice):",
			"  "+resume(res.RunID))
	}
	switch {
	case res.SkippedOversized > 0:
		lines = append(lines, "skipped "+fmtInt(int64(res.SkippedOversized))+" record(s) too large for the target")
	case len(res.Oversized) > 0:
		lines = append(lines, "stopped before "+fmtInt(int64(len(res.Oversized)))+" record(s) too large for the target")
	}
	for i, ov := range res.Oversized {
		if i == maxOversizedShown {
			break
		}
		lines = append(lines, fmt.Sprintf("  partition %d offset %s: %s bytes > %s", ov.Partition, fmtInt64(ov.Offset), fmtInt(int64(ov.Size)), fmtInt(int64(ov.Limit))))
	}
	return action.Outcome{Summary: summary, Lines: lines, RunID: res.RunID, Failures: res.Failed > 0}
}
