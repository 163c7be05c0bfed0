package tui

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/tui/action"
	"github.com/mqops/mqops/tui/components"
)

// The reset of consumer groups' offsets from the console: `R` on a group
// of the groups view (or on the groups marked there with space), or in a
// group's view, opens the action screen (tui/action) on the reset's spec:
// a form (mode and its value, scope), the plan (an actions.ResetOffsets
// per group, planned by the console's actions.Runner in a command: its
// Validate reads a --from-file CSV there, never in Update) showing per
// partition current → new, lag before → after, what was clamped and how
// many records will be consumed again or skipped, the confirmation (the
// group name typed in a red context), the commit and its read-back, and
// the result with the rollback file and the command that rolls it back.
//
// A group that is not Empty or Dead is refused while planning (the runner
// records the refusal): the plan shows its state and members, and cannot
// be confirmed. Several groups run one after the other, each its own
// audit entry; the first that fails stops the others (recorded as
// refused: not run).
//
// The reset is absent in a read-only context, without a resetter
// (Options.KafkaResetter) or an audit log: no key, no help line
// (Model.canReset, in the one place the dangerous keys are unbound).

// canReset says whether this console has what a reset needs (a read-only
// context has no reset key: keys.Map.ReadOnly).
func (m *Model) canReset() bool {
	return m.opts.KafkaResetter != nil && m.opts.Audit != nil
}

// maxResetGroups bounds the groups one reset screen acts on.
const maxResetGroups = 50

// resetGroups are the groups `R` acts on in the view on top: the marked
// groups of the groups view, else its selected group; the group of a
// group's view. why, when not empty, says why there is none.
func (m *Model) resetGroups() (groups []string, why string) {
	switch v := m.top().(type) {
	case *groupsView:
		if ids := v.tbl.MarkedIDs(); len(ids) > 0 {
			// by name: the list's order follows the lag, which moves on
			// every refresh; the batch and its command do not
			slices.Sort(ids)
			if len(ids) > maxResetGroups {
				return nil, fmt.Sprintf("%d groups marked: R resets at most %d at once", len(ids), maxResetGroups)
			}
			return ids, ""
		}
		if r, ok := v.tbl.Selected(); ok {
			return []string{r.Ref}, ""
		}
		return nil, "no consumer group selected"
	case *groupView:
		return []string{v.name}, ""
	}
	return nil, "R resets the offsets of a consumer group: select one in :groups (space marks several), or open one"
}

// openReset is the `R` key.
func (m *Model) openReset() tea.Cmd {
	if !m.keys.Reset.Bound() {
		return nil // read-only, no resetter, no audit log
	}
	groups, why := m.resetGroups()
	if why != "" {
		return m.setFlash(components.FlashInfo, why)
	}
	return m.push(newActionView("reset/"+strings.Join(groups, "\x00"), "reset offsets", action.New(m.actionHost(), m.resetSpec(groups))))
}

// resetItem is the reset of one group, planned: its action and plan, or
// why it has none (refused: not Empty or Dead; the plan failed), which
// the runner recorded.
type resetItem struct {
	a    *actions.ResetOffsets
	plan *actions.ResetPlan
	err  error
}

// resetBatch is the plan of the reset screen: one item per group.
type resetBatch struct {
	items []*resetItem
}

// resetRun is how one group's reset ended.
type resetRun struct {
	group    string
	res      *actions.ResetResult
	err      error
	rollback string // the command that puts the previous offsets back
}

// resetOutcome is the result of the reset screen: one run per group.
type resetOutcome struct {
	runs []resetRun
}

// The fields of the reset form.
const (
	fMode  = "mode"
	fScope = "scope"
)

// resetModeOptions are the modes as the form offers them, with their
// value (typed after the mode) and its check.
func resetModeOptions() []action.Option {
	check := func(label string, parse func(string) error) func(string) error {
		return parsedCheck("Mode "+label, parse)
	}
	return []action.Option{
		{Value: string(actions.ResetToEarliest), Label: "earliest", Hint: "the log start"},
		{Value: string(actions.ResetToLatest), Label: "latest", Hint: "the log end"},
		{Value: string(actions.ResetToCurrent), Label: "current", Hint: "the committed offset (the log end where there is none)"},
		{Value: string(actions.ResetToOffset), Label: "offset", Arg: "N", Hint: "clamped into [log start, log end]",
			Check: check("offset", func(s string) error { _, err := actions.ParseOffset("to-offset", s); return err })},
		{Value: string(actions.ResetShiftBy), Label: "shift", Arg: "±N", Hint: "from the committed offset; N < 0 moves back (clamped)",
			Check: check("shift", func(s string) error { _, err := actions.ParseShift(s); return err })},
		{Value: string(actions.ResetToDatetime), Label: "datetime", Arg: "T", Hint: "first record at or after yyyy-MM-ddTHH:mm:ss.SSS[Z|±hh:mm]",
			Check: check("datetime", func(s string) error { _, err := actions.ParseDateTime(s); return err })},
		{Value: string(actions.ResetByDuration), Label: "duration", Arg: "D", Hint: "first record at or after now − D (PT30M, P1DT2H, 30m)",
			Check: check("duration", func(s string) error { _, err := actions.ParseResetDuration(s); return err })},
		{Value: string(actions.ResetFromFile), Label: "file", Arg: "path", Hint: "topic,partition,offset CSV (a rollback file); it names the partitions",
			Check: check("file", func(string) error { return nil })},
	}
}

// scopeCheck validates the topics of the scope as --topic takes them.
func scopeCheck(s string) error {
	if s == "" {
		return errors.New("Scope topics: type them (T, or T:0,2,5 for partitions; several separated by spaces) or choose all topics")
	}
	if _, err := actions.ParseTopicScope(strings.Fields(s)); err != nil {
		var fe *actions.FieldError
		if errors.As(err, &fe) {
			return errors.New("Scope topics: " + fe.Msg)
		}
		return errors.New("Scope topics: " + err.Error())
	}
	return nil
}

// resetSpec is the reset of the offsets of groups (one, or those marked).
func (m *Model) resetSpec(groups []string) action.Spec[*resetBatch, *resetOutcome] {
	k, run, now := m.opts.KafkaResetter, m.runner(), m.now
	ctxName, readOnly, broker := m.opts.Context, m.opts.ReadOnly, m.cluster
	build := func(v action.Values) []*actions.ResetOffsets {
		out := make([]*actions.ResetOffsets, len(groups))
		for i, g := range groups {
			o := actions.ResetOffsetsOptions{Context: ctxName, ReadOnly: readOnly, Group: g,
				Mode: actions.ResetMode(v.Choice(fMode)), Value: v.Arg(fMode)}
			if o.Mode != actions.ResetFromFile { // the file names the partitions
				if v.Choice(fScope) == "topics" {
					o.Topics = strings.Fields(v.Arg(fScope))
				} else {
					o.AllTopics = true
				}
			}
			out[i] = &actions.ResetOffsets{Broker: k, Options: o}
		}
		return out
	}
	one := len(groups) == 1
	title := "Reset the offsets of consumer group " + safe(groups[0])
	name, what := groups[0], "consumer group name"
	notes := []string{"the group must be Empty or Dead (no member); before the commit the previous offsets are written to a new file, for a one-command rollback"}
	if !one {
		title = fmt.Sprintf("Reset the offsets of %d consumer groups", len(groups))
		name, what = fmt.Sprintf("%d groups", len(groups)), "number of groups"
		notes = append(notes, "groups (marked): "+components.Clip(safe(strings.Join(groups, ", ")), 400), "each group is reset in turn, with its own audit entry and rollback file; the first that fails stops the rest")
	}
	if broker != "" {
		title += " on " + safe(broker)
	}
	return action.Spec[*resetBatch, *resetOutcome]{
		Verb: "Reset", Doing: "resetting", Title: title, Broker: broker,
		Fields: []action.Field{
			{Key: fMode, Label: "Mode", Options: resetModeOptions()},
			{Key: fScope, Label: "Scope", Options: []action.Option{
				{Value: "all", Label: "all topics", Hint: "every partition the group has a committed offset on"},
				{Value: "topics", Label: "topics", Arg: "T[:0,2,5] …", Hint: "these topics (or partitions); not used with Mode file", Check: scopeCheck},
			}},
		},
		Notes: notes,
		Prod:  m.prodLike(), Name: name, What: what,
		Command: func(v action.Values) string {
			acts := build(v)
			cmds := make([]string, len(acts))
			for i, a := range acts {
				cmds[i] = run.Command(a)
			}
			return safe(strings.Join(cmds, " && "))
		},
		Plan: func(ctx context.Context, v action.Values) (*resetBatch, error) {
			acts := build(v)
			// Validate reads the --from-file CSV: here, in the command. An
			// invalid option is refused (recorded) and goes back to the form.
			for _, a := range acts {
				if err := run.Validate(a); err != nil {
					return nil, err
				}
			}
			b := &resetBatch{}
			failed := 0
			var first error
			for _, a := range acts {
				p, err := run.Plan(ctx, a) // a refusal or a failure is recorded
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				rp, _ := p.(*actions.ResetPlan)
				if err == nil && rp == nil {
					err = errors.New("the plan is empty")
				}
				if err != nil && !actions.IsRefused(err) {
					failed++
					first = cmpErr(first, err)
				}
				b.items = append(b.items, &resetItem{a: a, plan: rp, err: err})
			}
			if failed == len(acts) {
				return nil, first // nothing to show: back to the form with why
			}
			return b, nil
		},
		PlanLines: resetPlanLines,
		Question:  resetQuestion,
		Blocked:   resetBlocked,
		Abandon: func(b *resetBatch) error {
			blocked := resetBlocked(b)
			var errs []error
			for _, it := range b.items {
				if it.plan == nil {
					continue // its refusal or failure is recorded
				}
				errs = append(errs, abandonPlan(run, it.a, it.plan, blocked, actions.DryRunNotConfirmed))
			}
			return errors.Join(errs...)
		},
		Execute: func(ctx context.Context, b *resetBatch, progress func(actions.Progress)) (*resetOutcome, error) {
			return executeResets(ctx, run, b, now, progress)
		},
		Counts: func(p actions.Progress) string {
			return "committed " + fmtInt(int64(p.Done)) + " · read back otherwise " + fmtInt(int64(p.Failed))
		},
		RateUnit:     "partitions/s",
		CancelSafety: "nothing changes before the commit; a commit already sent is read back and reported",
		Outcome:      resetOutcomeText,
		CloseHint:    "enter or esc closes and reloads the view",
	}
}

// cmpErr keeps the first error.
func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// executeResets runs each group's confirmed plan in turn through the
// runner (one audit entry each), reporting the partitions of all as one
// progress. The first group that fails stops the rest, each recorded as
// refused; a cancel is recorded as such by each run. now is the
// console's clock.
func executeResets(ctx context.Context, run *actions.Runner, b *resetBatch, now func() time.Time, progress func(actions.Progress)) (*resetOutcome, error) {
	out := &resetOutcome{}
	start := now()
	total := 0
	for _, it := range b.items {
		total += len(it.plan.Rows)
	}
	base := actions.Progress{Total: total}
	var firstErr error
	failed := ""
	for _, it := range b.items {
		group := it.a.Options.Group
		if failed != "" {
			err := fmt.Errorf("not run: the reset of consumer group %q before it failed; nothing was changed", failed)
			_ = run.Refuse(it.a, it.plan, err)
			out.runs = append(out.runs, resetRun{group: group, err: err})
			continue
		}
		r, err := run.Execute(ctx, it.a, it.plan, func(p actions.Progress) {
			if progress != nil {
				progress(actions.Progress{Done: base.Done + p.Done, Failed: base.Failed + p.Failed, Seen: base.Seen + p.Seen,
					Total: total, Elapsed: now().Sub(start)})
			}
		})
		res, _ := r.(*actions.ResetResult)
		rr := resetRun{group: group, res: res, err: err}
		if res != nil {
			base.Done += res.Committed
			base.Failed += len(res.Mismatches)
			if res.Previous != "" {
				back := &actions.ResetOffsets{Options: actions.ResetOffsetsOptions{Context: it.a.Options.Context, Group: group,
					Mode: actions.ResetFromFile, Value: res.Previous}}
				rr.rollback = run.Command(back)
			}
		}
		base.Seen += len(it.plan.Rows)
		out.runs = append(out.runs, rr)
		if err != nil {
			firstErr = cmpErr(firstErr, fmt.Errorf("consumer group %q: %w", group, err))
			if ctx.Err() == nil {
				failed = group
			}
		}
	}
	return out, firstErr
}

// resetTotals sums the plans shown.
func (b *resetBatch) totals() (t actions.ResetTotals, planned int) {
	for _, it := range b.items {
		if it.plan == nil {
			continue
		}
		planned++
		pt := it.plan.Totals
		t.Partitions += pt.Partitions
		t.Changed += pt.Changed
		t.Clamped += pt.Clamped
		t.NoCurrent += pt.NoCurrent
		t.Again += pt.Again
		t.Skipped += pt.Skipped
	}
	return t, planned
}

// mode is the mode of the batch as a flag: --to-offset 42.
func (b *resetBatch) mode() string {
	o := b.items[0].a.Options
	s := "--" + string(o.Mode)
	if o.Value != "" {
		s += " " + o.Value
	}
	return safe(s)
}

// resetQuestion is the scope the confirmation states.
func resetQuestion(b *resetBatch) string {
	what := fmt.Sprintf("%d consumer groups", len(b.items))
	if len(b.items) == 1 {
		what = "consumer group " + safe(b.items[0].a.Options.Group) + " (" + safe(b.items[0].plan.State) + ")"
	}
	t, _ := b.totals()
	return fmt.Sprintf("the offsets of %s, %s: %s partition(s), %s change, %s clamped; %s record(s) consumed again, %s skipped",
		what, b.mode(), fmtInt(int64(t.Partitions)), fmtInt(int64(t.Changed)), fmtInt(int64(t.Clamped)), fmtInt(t.Again), fmtInt(t.Skipped))
}

// resetBlocked says why the plan cannot be confirmed ("": it can): a
// group refused or not planned, a group with nothing to reset.
func resetBlocked(b *resetBatch) string {
	bad := 0
	for _, it := range b.items {
		if it.err != nil {
			bad++
		}
	}
	switch {
	case bad > 0 && len(b.items) == 1:
		return "the reset is refused (above): nothing was changed"
	case bad > 0:
		return fmt.Sprintf("%d of %d consumer groups cannot be reset (above): unmark them, or stop their consumers first; nothing was changed", bad, len(b.items))
	}
	for _, it := range b.items {
		if len(it.plan.Rows) == 0 {
			return "nothing to reset: consumer group " + safe(it.a.Options.Group) + " has no committed offset in scope (choose its topics)"
		}
	}
	return ""
}

// maxResetRowsShown bounds the partitions the plan screen lists per group.
const maxResetRowsShown = 100

// resetPlanLines draw the plan: a head line (kept on the progress and
// result stages), then per group its partitions (current → new, lag
// before → after, clamped), its totals, or why it cannot be reset.
func resetPlanLines(b *resetBatch, st *action.Styles) []string {
	t, planned := b.totals()
	counts := fmt.Sprintf("%s partition(s), %s change, %s clamped", fmtInt(int64(t.Partitions)), fmtInt(int64(t.Changed)), fmtInt(int64(t.Clamped)))
	var head string
	if len(b.items) == 1 {
		it := b.items[0]
		state := ""
		if it.plan != nil {
			state = " (" + safe(it.plan.State) + ")"
		}
		head = "plan: consumer group " + safe(it.a.Options.Group) + state + ", " + b.mode() + atText(it.plan)
		if it.plan != nil {
			head += ": " + counts
		}
	} else {
		head = fmt.Sprintf("plan: %d consumer groups, %s%s: %s", len(b.items), b.mode(), atText(firstPlan(b)), counts)
		if planned < len(b.items) {
			head += fmt.Sprintf(" (of the %d planned)", planned)
		}
	}
	lines := []string{head}
	for _, it := range b.items {
		if len(b.items) > 1 {
			state := ""
			if it.plan != nil {
				state = " (" + safe(it.plan.State) + ")"
			}
			lines = append(lines, "", "  consumer group "+safe(it.a.Options.Group)+state)
		}
		if it.err != nil {
			what := "refused: "
			if !actions.IsRefused(it.err) {
				what = "the plan failed: "
			}
			for i, l := range strings.Split(it.err.Error(), "\n") {
				if i == 0 {
					l = what + l
				}
				lines = append(lines, "  "+st.Error.Render(errText(errors.New(l))))
			}
			continue
		}
		lines = append(lines, resetTable(it.plan, st)...)
	}
	if t.Again > 0 || t.Skipped > 0 || t.NoCurrent > 0 {
		lines = append(lines, "", "  "+st.Warn.Render(resetEffect(t)))
	}
	if planned > 0 && t.NoCurrent < t.Partitions {
		each := "a new file"
		if len(b.items) > 1 {
			each = "a new file per group"
		}
		dir := filepath.Dir(b.items[0].a.Options.ExportPath())
		lines = append(lines, "  "+st.Dim.Render("before the commit, the previous offsets are written to "+each+" in "+safe(dir)+" (the rollback)"))
	}
	return lines
}

func firstPlan(b *resetBatch) *actions.ResetPlan {
	for _, it := range b.items {
		if it.plan != nil {
			return it.plan
		}
	}
	return nil
}

// atText is the time a --by-duration (or a --to-datetime written
// otherwise) looked up.
func atText(p *actions.ResetPlan) string {
	if p == nil || p.At == nil {
		return ""
	}
	at := time.UnixMilli(*p.At).UTC().Format("2006-01-02T15:04:05.000Z")
	if at == p.Value {
		return ""
	}
	return " (" + at + ")"
}

// resetEffect says what the consumers will see.
func resetEffect(t actions.ResetTotals) string {
	s := fmtInt(t.Again) + " record(s) will be consumed again, " + fmtInt(t.Skipped) + " skipped"
	if t.NoCurrent > 0 {
		s += "; " + fmtInt(int64(t.NoCurrent)) + " partition(s) had no committed offset (the group would have started there as its auto.offset.reset says)"
	}
	return s
}

// resetTable is one group's partitions: current → new, lag before →
// after, clamped; at most maxResetRowsShown, then its totals.
func resetTable(p *actions.ResetPlan, st *action.Styles) []string {
	if len(p.Rows) == 0 {
		return []string{"  " + st.Warn.Render("no partition in scope: the group has no committed offset there (choose its topics)")}
	}
	type cells struct{ topic, part, cur, nw, lb, la, note string }
	rows := make([]cells, 0, min(len(p.Rows), maxResetRowsShown))
	w := cells{topic: "TOPIC", part: "P", cur: "CURRENT", nw: "NEW", lb: "LAG BEFORE", la: "AFTER"}
	width := func(s string) int { return ansi.StringWidth(s) }
	tw, pw, cw, nw, lbw, law := width(w.topic), width(w.part), width(w.cur), width(w.nw), width(w.lb), width(w.la)
	for i, r := range p.Rows {
		if i == maxResetRowsShown {
			break
		}
		c := cells{topic: components.Clip(safe(r.Topic), maxTopicShown), part: itoa(int(r.Partition)), cur: optCount(r.Current), nw: fmtInt(r.New),
			lb: optCount(r.LagBefore), la: fmtInt(r.LagAfter)}
		if r.Clamped {
			bound := "log end"
			if r.New == r.LogStart && *r.Requested < r.LogStart {
				bound = "log start"
			}
			c.note = "clamped to " + bound + " (asked " + fmtInt(*r.Requested) + ")"
		}
		tw, pw, cw, nw = max(tw, width(c.topic)), max(pw, width(c.part)), max(cw, width(c.cur)), max(nw, width(c.nw))
		lbw, law = max(lbw, width(c.lb)), max(law, width(c.la))
		rows = append(rows, c)
	}
	line := func(c cells, arrow string) string {
		return strings.TrimRight(fmt.Sprintf("  %s  %s  %s %s %s  %s %s %s  %s",
			components.Fit(c.topic, tw, false), components.Fit(c.part, pw, true), components.Fit(c.cur, cw, true), arrow, components.Fit(c.nw, nw, false),
			components.Fit(c.lb, lbw, true), arrow, components.Fit(c.la, law, false), c.note), " ")
	}
	out := []string{st.Dim.Render(line(w, " "))}
	for _, c := range rows {
		l := line(c, "→")
		if c.note != "" {
			l = strings.TrimSuffix(l, c.note) + st.Warn.Render(c.note)
		}
		out = append(out, l)
	}
	if more := len(p.Rows) - len(rows); more > 0 {
		out = append(out, st.Dim.Render("  … and "+fmtInt(int64(more))+" more partition(s) (mqops reset-offsets … --dry-run lists them all)"))
	}
	t := p.Totals
	out = append(out, st.Dim.Render(fmt.Sprintf("  %s partition(s), %s change, %s clamped: %s record(s) consumed again, %s skipped",
		fmtInt(int64(t.Partitions)), fmtInt(int64(t.Changed)), fmtInt(int64(t.Clamped)), fmtInt(t.Again), fmtInt(t.Skipped))))
	return out
}

// maxTopicShown bounds a topic name in the plan's table (cells).
const maxTopicShown = 40

// optCount is a count that may be unknown ("-").
func optCount(n *int64) string {
	if n == nil {
		return "-"
	}
	return fmtInt(*n)
}

// resetOutcomeText words the result: per group the run, the read-back
// verdict, the rollback file and its command.
func resetOutcomeText(o *resetOutcome, err error, cancelled bool) action.Outcome {
	if o == nil || len(o.runs) == 0 {
		return action.Outcome{Summary: "no result"}
	}
	var lines []string
	committed, groups, runID, failures := 0, 0, "", false
	for _, r := range o.runs {
		prefix := ""
		if len(o.runs) > 1 {
			prefix = "consumer group " + safe(r.group) + ": "
		}
		if r.res == nil {
			if r.err != nil {
				lines = append(lines, prefix+errText(r.err))
			}
			continue
		}
		if runID == "" {
			runID = r.res.RunID
		}
		committed += r.res.Committed
		if r.res.Committed > 0 {
			groups++
		}
		verdict := "read back: as planned"
		if !r.res.Verified {
			verdict = fmt.Sprintf("read back: %d partition(s) differ from the plan", len(r.res.Mismatches))
			failures = true
		}
		lines = append(lines, fmt.Sprintf("%srun %s: committed %s partition(s) of consumer group %s; %s",
			prefix, safe(r.res.RunID), fmtInt(int64(r.res.Committed)), safe(r.group), verdict))
		for _, mm := range r.res.Mismatches {
			lines = append(lines, "  "+safe(mm))
		}
		if r.res.Previous != "" {
			lines = append(lines, "previous offsets: "+safe(r.res.Previous), "roll back with: "+safe(r.rollback))
		}
		if n := len(r.res.NoPrevious); n > 0 {
			lines = append(lines, fmt.Sprintf("note: %d partition(s) had no committed offset before: the file cannot give them none back (kafka-consumer-groups --delete-offsets can)", n))
		}
		if r.err != nil && len(o.runs) > 1 {
			lines = append(lines, prefix+errText(r.err))
		}
	}
	summary := fmt.Sprintf("committed %s partition(s) of %d consumer group(s)", fmtInt(int64(committed)), groups)
	if runID != "" && len(o.runs) == 1 {
		summary = "run " + safe(runID) + ": " + summary
	}
	return action.Outcome{Summary: summary, Lines: lines, RunID: runID, Failures: failures}
}
