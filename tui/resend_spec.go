package tui

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/tui/action"
	"github.com/mqops/mqops/tui/components"
)

// The resend of pending rows of the application's sending table from the
// console: `E` in :pending (the destination selected in the upper pane;
// in the lower pane the rows marked with space, or the row selected) opens
// the action screen (tui/action) on the resend's spec: a form (older than,
// destination, limit, rate, whether to pass over the rows already
// consumed), the plan (an actions.Resend planned by the console's
// actions.Runner in a command: the rows it resends, per destination their
// count and target, those passed over and why, the message ids already
// consumed; it changes nothing), the confirmation (the number of rows
// typed in a red context), the run's progress (rows claimed, published
// with the broker's confirms and marked sent only once confirmed), and
// the result; marked rows are the command's --id.
//
// `E` (rEsend) is free in every view; it is dangerous (it publishes and
// changes the database) and absent in a read-only context, without a
// database, a publisher for the route's broker or an audit log
// (Model.canResend).

// canResend says whether this console has what a resend needs.
func (m *Model) canResend() bool {
	return m.store != nil && m.opts.Audit != nil && m.publisherFor(m.opts.StoreRoute.Broker) != nil
}

// publisherFor is the publisher of a route's broker (nil: none).
func (m *Model) publisherFor(broker string) backends.Publisher {
	switch broker {
	case "kafka":
		return m.opts.KafkaPublisher
	case "rabbitmq":
		return m.opts.RabbitPublisher
	}
	return nil
}

// resendScope is what `E` resends in the view on top: a destination, or
// rows by id. why, when not empty, says why there is nothing.
func (m *Model) resendScope() (dest string, ids []string, why string) {
	v, ok := m.top().(*pendingView)
	if !ok {
		return "", nil, "E resends pending rows of the application's sending table: open :pending"
	}
	d, ok := v.selectedDest()
	return v.actedOn(d, ok, "no destination selected", "no pending row selected", "destination")
}

// openResend is the `E` key.
func (m *Model) openResend() tea.Cmd {
	if !m.keys.Resend.Bound() {
		return nil // read-only, no database, no publisher, no audit log
	}
	dest, ids, why := m.resendScope()
	if why != "" {
		return m.setFlash(components.FlashInfo, why)
	}
	id := "resend/" + dest
	if len(ids) > 0 {
		id = "resend/ids/" + strings.Join(ids, "\x00")
	}
	return m.push(newActionView(id, "resend", action.New(m.actionHost(), m.resendSpec(dest, ids))))
}

// resendItem is a resend planned: the action (its run id) and its plan.
type resendItem struct {
	a    *actions.Resend
	plan *actions.ResendPlan
}

// The fields of the resend form.
const (
	fOlderThan    = "older-than"
	fDestination  = "destination"
	fSkipConsumed = "skip-consumed"
)

// olderThanCheck validates an age as --older-than takes it: empty is the
// store's pending-after.
func olderThanCheck(s string) error {
	if s == "" {
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Second || d > actions.MaxOlderThan {
		return fmt.Errorf("Older than %q: want a duration from 1s to %s, such as 10m or 2h (empty: the store's pending-after)", s, fmtDuration(actions.MaxOlderThan))
	}
	return nil
}

// resendSpec is the resend of the pending rows of dest, or of the rows
// ids (marked, or the one selected).
func (m *Model) resendSpec(dest string, ids []string) action.Spec[*resendItem, *actions.ResendResult] {
	conn, run, pub := m.store, m.runner(), m.publisherFor(m.opts.StoreRoute.Broker)
	ctxName, readOnly, route := m.opts.Context, m.opts.ReadOnly, m.opts.StoreRoute
	build := func(v action.Values) *actions.Resend {
		o := actions.ResendOptions{Context: ctxName, ReadOnly: readOnly, Route: route, Destination: v.Text(fDestination),
			IDs: ids, SkipConsumed: v.Choice(fSkipConsumed) == "yes"}
		o.OlderThan, _ = time.ParseDuration(v.Text(fOlderThan)) // checked by the field; empty: 0, pending-after
		o.Limit, _ = strconv.Atoi(v.Text(fLimit))
		o.Rate, _ = strconv.ParseFloat(v.Text(fRate), 64)
		return &actions.Resend{Publisher: pub, Options: o}
	}
	title := "Resend the pending rows of destination " + safe(dest)
	notes := []string{
		"each row is claimed (attempts + 1, where it is still pending at the attempts planned) before it is published; two resends publish a row once",
		"published with the broker's confirms, and marked sent only once confirmed; a row the broker refuses stays pending with its error",
	}
	switch {
	case len(ids) == 1:
		title = "Resend the pending row " + safe(ids[0])
	case len(ids) > 1:
		title = fmt.Sprintf("Resend %d marked pending rows", len(ids))
		notes = append(notes, "rows (marked): "+components.Clip(safe(strings.Join(ids, ", ")), 400))
	case dest == "":
		title = "Resend the pending rows of every destination"
	}
	broker := m.storeName()
	title += " of " + safe(broker) + " → " + safe(actions.RouteText(route))
	destHint := "only rows of this destination; empty: every destination"
	if len(ids) > 0 {
		destHint = "the rows named by id; empty: whatever their destination"
	}
	return action.Spec[*resendItem, *actions.ResendResult]{
		Verb: "Resend", Doing: "resending", Title: title, Broker: broker,
		Fields: []action.Field{
			{Key: fOlderThan, Label: "Older than", Hint: "only rows created at least this long ago (10m, 2h); empty: the store's pending-after",
				Check: olderThanCheck},
			{Key: fDestination, Label: "Destination", Value: dest, Hint: destHint},
			{Key: fLimit, Label: "Limit", Hint: "at most N rows, oldest first; empty: the store's bound on one read", Check: limitCheck("rows")},
			{Key: fRate, Label: "Rate", Hint: "at most N rows/s; empty: unlimited", Check: rateCheck("rows")},
			{Key: fSkipConsumed, Label: "Consumed", Hint: "rows whose message id the idempotency table says was consumed", Options: []action.Option{
				{Value: "no", Label: "resend them too", Hint: "consumers that deduplicate drop them"},
				{Value: "yes", Label: "skip them", Hint: "they stay pending (--skip-consumed)"},
			}},
		},
		Notes: notes,
		Prod:  m.prodLike(), What: "number of rows",
		NameOf: func(it *resendItem) string { return fmt.Sprintf("%d rows", it.plan.Selected) },
		Command: func(v action.Values) string {
			a := build(v)
			if st := conn.opened(); st != nil {
				a.Store = st // its pending-after, which the command must carry
			}
			return safe(run.Command(a))
		},
		Plan: func(ctx context.Context, v action.Values) (*resendItem, error) {
			a := build(v)
			// reads the rows (no payload), counts the consumed ids; changes nothing
			p, err := planOnStore[*actions.ResendPlan](ctx, run, conn, a, func(st StoreSource) error {
				if !st.HasOutbox() {
					return fmt.Errorf("the application database (%s, preset %s) has no sending table: nothing to resend", st.Name(), st.Preset())
				}
				a.Store = st
				return nil
			})
			if err != nil {
				return nil, err
			}
			return &resendItem{a: a, plan: p}, nil
		},
		PlanLines: resendPlanLines,
		Question:  func(it *resendItem) string { return safe(it.plan.Summary()) },
		Blocked: func(it *resendItem) string {
			return resendVerdict.blocked(it.plan.Selected, len(it.plan.Rows), it.plan.Problems)
		},
		Abandon: func(it *resendItem) error {
			return resendVerdict.abandon(run, it.a, it.plan, it.plan.Selected, len(it.plan.Rows), it.plan.Problems)
		},
		Execute: func(ctx context.Context, it *resendItem, progress func(actions.Progress)) (*actions.ResendResult, error) {
			r, err := run.Execute(ctx, it.a, it.plan, progress) // the plan the operator saw bounds the run and goes to the audit log
			res, _ := r.(*actions.ResendResult)
			return res, err
		},
		Counts: func(p actions.Progress) string {
			return "resent " + fmtInt(int64(p.Done)) + " · failed " + fmtInt(int64(p.Failed)) + " · skipped " + fmtInt(int64(p.Skipped))
		},
		RateUnit:     "rows/s",
		CancelSafety: "what the broker confirmed is marked sent; the other rows stay pending (a claimed row waits the claim lease before another resend takes it)",
		Outcome: func(res *actions.ResendResult, err error, cancelled bool) action.Outcome {
			return resendOutcome(res)
		},
		CloseHint: "enter or esc closes and reloads the pending sends",
	}
}

// rowsVerdict words why a plan of an action on the application's rows
// cannot be confirmed, as its command refuses it without --yes.
type rowsVerdict struct {
	noMatch, noneCan string // nothing to do: no row matches; none can be changed
	problems         string // the plan has problems (refused)
}

// nothing says why a plan changes nothing ("": it changes rows).
func (w rowsVerdict) nothing(selected, matched int) string {
	switch {
	case selected > 0:
		return ""
	case matched == 0:
		return w.noMatch
	}
	return w.noneCan
}

// refused says why a plan is refused ("": it is not): it has problems.
func (w rowsVerdict) refused(selected int, problems []string) string {
	if selected > 0 && len(problems) > 0 {
		return w.problems
	}
	return ""
}

// blocked says why the plan cannot be confirmed ("": it can).
func (w rowsVerdict) blocked(selected, matched int, problems []string) string {
	if why := w.refused(selected, problems); why != "" {
		return why
	}
	return w.nothing(selected, matched)
}

// abandon records a plan shown and not confirmed: refused, or a dry run
// (why: nothing to do, or not confirmed).
func (w rowsVerdict) abandon(run *actions.Runner, a actions.Action, p actions.Plan, selected, matched int, problems []string) error {
	why := actions.DryRunNotConfirmed
	if n := w.nothing(selected, matched); n != "" {
		why = n // as the command records it
	}
	return abandonPlan(run, a, p, w.refused(selected, problems), why)
}

// resendVerdict is mqops resend's.
var resendVerdict = rowsVerdict{
	noMatch:  "nothing to resend: no pending row matches",
	noneCan:  "nothing to resend: no pending row of the selection can be resent",
	problems: "the plan has problems (above): choose a destination that routes (mqops resend … --yes resends the other rows)",
}

// planOnStore plans a, an action on the application's database: it is
// validated (a refusal is recorded) before the database is opened, the
// open database is given to it (use: an error if it lacks the table the
// action needs), and the runner plans it. It runs in a command.
func planOnStore[P any](ctx context.Context, run *actions.Runner, conn *storeConn, a actions.Action, use func(StoreSource) error) (P, error) {
	var none P
	if err := run.Validate(a); err != nil {
		return none, err
	}
	st, err := conn.get(ctx)
	if err != nil {
		return none, err
	}
	if err := use(st); err != nil {
		return none, err
	}
	p, err := run.Plan(ctx, a)
	if err != nil {
		return none, err
	}
	pp, ok := p.(P)
	if !ok || isNil(pp) {
		return none, errors.New("the plan is empty")
	}
	return pp, nil
}

// maxResendRowsShown bounds the destinations and the rows the plan lists.
const maxResendRowsShown = 50

// resendPlanLines draw the plan: a head (kept on the progress and result
// stages), per destination its rows, those resent and consumed, its
// target or its problem, then the first rows and why any is passed over,
// the problems and the notes.
func resendPlanLines(it *resendItem, st *action.Styles) []string {
	p := it.plan
	age := "the store's pending-after"
	if p.OlderThan != "" {
		age = p.OlderThan
	}
	head := fmt.Sprintf("plan: resend %s of %s pending row(s) (older than %s) → %s", fmtInt(int64(p.Selected)), fmtInt(int64(p.Pending)), safe(age),
		safe(actions.RouteText(p.Route)))
	if p.Rate > 0 {
		head += st.Dim.Render(" · rate " + strconv.FormatFloat(p.Rate, 'f', -1, 64) + "/s")
	}
	lines := []string{head, st.Dim.Render(fmt.Sprintf("  run %s · %d at a time · message id header %s · database %s",
		safe(p.RunID), p.Batch, safe(orDash(p.MessageIDHeader)), safe(p.Store)))}
	consumed := func(n int) string {
		if !p.ConsumedChecked {
			return "-"
		}
		return fmtInt(int64(n))
	}
	dests := [][]string{{"DESTINATION", "TARGET", "ROWS", "RESENT", "CONSUMED", "OLDEST"}}
	problems := []string{""}
	for i, d := range p.Destinations {
		if i == maxResendRowsShown {
			break
		}
		dests = append(dests, []string{components.Clip(safe(orDash(d.Destination)), 40), components.Clip(safe(orDash(d.Target)), 40), fmtInt(int64(d.Rows)),
			fmtInt(int64(d.Selected)), consumed(d.Consumed), fmtDuration(time.Duration(d.OldestAgeSeconds * float64(time.Second)))})
		problems = append(problems, safe(d.Problem))
	}
	for i, l := range planTable(dests, []bool{false, false, true, true, true, true}) {
		switch {
		case i == 0:
			l = st.Dim.Render(l)
		case problems[i] != "":
			l += "  " + st.Error.Render(components.Clip(problems[i], 120))
		}
		lines = append(lines, l)
	}
	if more := len(p.Destinations) - maxResendRowsShown; more > 0 {
		lines = append(lines, st.Dim.Render("  … and "+fmtInt(int64(more))+" more destination(s) (mqops resend … --dry-run -o json lists them all)"))
	}
	rows := [][]string{{"ID", "AGE", "ATTEMPTS", "KEY", "MESSAGE ID", "DESTINATION", ""}}
	for i, r := range p.Rows {
		if i == maxResendRowsShown {
			break
		}
		skip := ""
		if r.Skip != "" {
			skip = "skipped: " + r.Skip
		} else if r.Consumed {
			skip = "consumed"
		}
		rows = append(rows, []string{components.Clip(safe(r.ID), 24), fmtDuration(time.Duration(r.AgeSeconds * float64(time.Second))), strconv.Itoa(r.Attempts),
			components.Clip(safe(orDash(r.Key)), 24), components.Clip(safe(orDash(r.MessageID)), 40), components.Clip(safe(orDash(r.Destination)), 32), skip})
	}
	if len(rows) > 1 {
		lines = append(lines, "")
		for i, l := range planTable(rows, []bool{false, true, true, false, false, false, false}) {
			if i == 0 {
				l = st.Dim.Render(l)
			}
			lines = append(lines, l)
		}
		if more := len(p.Rows) - maxResendRowsShown; more > 0 {
			lines = append(lines, st.Dim.Render("  … and "+fmtInt(int64(more))+" more row(s)"))
		}
	}
	var passed []string
	if p.Unroutable > 0 {
		passed = append(passed, fmtInt(int64(p.Unroutable))+" unroutable")
	}
	if n := p.InFlight + p.Held; n > 0 {
		passed = append(passed, fmtInt(int64(n))+" in flight in another resend (claim lease "+safe(p.ClaimLease)+")")
	}
	if p.SkipConsumed && p.Consumed > 0 {
		passed = append(passed, fmtInt(int64(p.Consumed))+" consumed already")
	}
	if len(passed) > 0 {
		lines = append(lines, "  "+st.Warn.Render("passed over: "+strings.Join(passed, "; ")))
	}
	for _, pr := range p.Problems {
		lines = append(lines, "  "+st.Error.Render("problem: "+safe(pr)))
	}
	for _, n := range p.Notes {
		lines = append(lines, "  "+st.Dim.Render("note: "+safe(n)))
	}
	return lines
}

// planTable lays out rows of cells (the first, the titles) in aligned
// columns, indented; right says which columns are numbers.
func planTable(rows [][]string, right []bool) []string {
	if len(rows) == 0 {
		return nil
	}
	ws := make([]int, len(rows[0]))
	for _, r := range rows {
		for j, c := range r {
			ws[j] = max(ws[j], ansi.StringWidth(c))
		}
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		var b strings.Builder
		b.WriteString(" ")
		for j, c := range r {
			b.WriteString(" ")
			b.WriteString(components.Fit(c, ws[j], right[j]))
		}
		out[i] = strings.TrimRight(b.String(), " ")
	}
	return out
}

// resendOutcome words the result as mqops resend prints it.
func resendOutcome(res *actions.ResendResult) action.Outcome {
	if res == nil {
		return action.Outcome{Summary: "no result"}
	}
	summary := fmt.Sprintf("run %s: resent %s, failed %s, skipped %s, left %s", safe(res.RunID), fmtInt(int64(res.Resent)), fmtInt(int64(res.Failed)),
		fmtInt(int64(res.Skipped)), fmtInt(int64(res.Left)))
	lines := []string{
		fmt.Sprintf("run %s: resent %s (published, confirmed by the broker and marked sent), failed %s, left %s (%s rows/s)",
			safe(res.RunID), fmtInt(int64(res.Resent)), fmtInt(int64(res.Failed)), fmtInt(int64(res.Left)), fmtRate(res.Rate)),
		fmt.Sprintf("skipped %s: claimed by another run %s, no longer pending %s, held behind a failed row of their key %s, consumed %s",
			fmtInt(int64(res.Skipped)), fmtInt(int64(res.SkippedClaimed)), fmtInt(int64(res.SkippedGone)), fmtInt(int64(res.SkippedHeld)), fmtInt(int64(res.SkippedConsumed))),
		"stopped: " + safe(orDash(res.StoppedBecause)),
	}
	if res.Failed > 0 {
		lines = append(lines, fmt.Sprintf("%s row(s) were not confirmed by the broker: they stay pending with their error", fmtInt(int64(res.Failed))))
	}
	for _, e := range res.Errors {
		lines = append(lines, "  "+errText(errors.New(e)))
	}
	if res.Unmarked > 0 {
		lines = append(lines, fmt.Sprintf("%s row(s) confirmed could not be marked sent: they stay pending and a later resend publishes them again", fmtInt(int64(res.Unmarked))))
	}
	return action.Outcome{Summary: summary, Lines: lines, RunID: res.RunID, Failures: res.Failed > 0 || res.Unmarked > 0}
}
