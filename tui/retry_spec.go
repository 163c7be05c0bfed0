package tui

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/tui/action"
	"github.com/mqops/mqops/tui/components"
	"github.com/mqops/mqops/tui/keys"
)

// The actions on the application's retry rows from the console: in
// :retry, T (retry now: due now for the application's job), U (republish
// to the row's destination with the broker's confirms, then done) and X
// (give up: dead) on the error group selected in the upper pane, or on
// the rows marked with space (or the row selected) in the lower one, open
// the action screen (tui/action) on the spec of that operation: a form
// (limit, rate), the plan (an actions.RetryRows planned by the console's
// actions.Runner in a command: exactly the rows that will change, per
// error group; what a republish leaves alone and why; it changes
// nothing), the confirmation (the number of rows typed in a red context),
// the run's progress and its result; marked rows are the command's --id,
// a group its --error.
//
// T, U and X are dangerous (they change the application's database; U
// publishes) and absent in a read-only context, without a database or an
// audit log; U also without a publisher for the route's broker, and in a
// view whose rows carry no destination and payload (Model.canRetry).

// canRetry says whether this console has what the retry actions need.
func (m *Model) canRetry() bool { return m.store != nil && m.opts.Audit != nil }

// retryVerbs are an operation's words: the key's, the screen's verb and
// progressive, and what the plan's summary starts with.
var retryVerbs = map[string]struct{ verb, doing, summary string }{
	actions.RetryOpNow:       {"Retry now", "retrying", "retry now"},
	actions.RetryOpRepublish: {"Republish", "republishing", "republish"},
	actions.RetryOpGiveUp:    {"Give up", "giving up", "give up"},
}

// retryScope is what T, U and X act on in the view on top: an error
// group, or rows by id.
func (m *Model) retryScope() (group string, ids []string, why string) {
	v, ok := m.top().(*retryView)
	if !ok {
		return "", nil, "T, U and X act on the application's retry rows: open :retry"
	}
	g, ok := v.selectedGroup()
	return v.actedOn(g, ok, "no error group selected", "no retry row selected", "error group")
}

// openRetry is the T, U and X keys.
func (m *Model) openRetry(op string) tea.Cmd {
	b := map[string]keys.Binding{actions.RetryOpNow: m.keys.RetryNow, actions.RetryOpRepublish: m.keys.Republish, actions.RetryOpGiveUp: m.keys.GiveUp}[op]
	if !b.Bound() {
		return nil // read-only, no database, no audit log (republish: no publisher)
	}
	group, ids, why := m.retryScope()
	if why != "" {
		return m.setFlash(components.FlashInfo, why)
	}
	if v, _ := m.top().(*retryView); op == actions.RetryOpRepublish && !v.canRepublish {
		return nil // the view does not offer it
	}
	id := "retry/" + op + "/" + group
	if len(ids) > 0 {
		id = "retry/" + op + "/ids/" + strings.Join(ids, "\x00")
	}
	return m.push(newActionView(id, strings.ToLower(retryVerbs[op].verb), action.New(m.actionHost(), m.retrySpec(op, group, ids))))
}

// retryItem is a retry action planned.
type retryItem struct {
	a    *actions.RetryRows
	plan *actions.RetryPlan
}

// retrySpec is the operation op on the rows of the error group group, or
// on the rows ids.
func (m *Model) retrySpec(op, group string, ids []string) action.Spec[*retryItem, *actions.RetryResult] {
	conn, run, route := m.store, m.runner(), m.opts.StoreRoute
	ctxName, readOnly := m.opts.Context, m.opts.ReadOnly
	pub := m.publisherFor(route.Broker)
	words := retryVerbs[op]
	build := func(v action.Values) *actions.RetryRows {
		o := actions.RetryOptions{Context: ctxName, ReadOnly: readOnly, Op: op, IDs: ids, ErrorGroup: group}
		o.Limit, o.Rate = limitRate(v)
		if op == actions.RetryOpRepublish {
			o.Route = route
		}
		a := &actions.RetryRows{Options: o}
		if op == actions.RetryOpRepublish {
			a.Publisher = pub
		}
		return a
	}
	var title string
	var notes []string
	switch {
	case len(ids) == 1:
		title = words.verb + " the retry row " + safe(ids[0])
	case len(ids) > 1:
		title = fmt.Sprintf("%s %d marked retry rows", words.verb, len(ids))
		notes = append(notes, "rows (marked): "+components.Clip(safe(strings.Join(ids, ", ")), 400))
	default:
		title = words.verb + " the retry rows of an error group"
		notes = append(notes, "error group: "+components.Clip(safe(group), 400))
	}
	broker := m.storeName()
	title += " of " + safe(broker)
	switch op {
	case actions.RetryOpNow:
		notes = append(notes, "the rows become due now: the application's job takes them on its next run (river: as its JobRetry)")
	case actions.RetryOpRepublish:
		title += " → " + safe(actions.RouteText(route))
		notes = append(notes, "each row's payload and headers are published to its destination with the broker's confirms, and the row marked done only once confirmed")
	default:
		notes = append(notes, "the rows become dead (river: discarded): the application's job no longer takes them; T retries them later if need be")
	}
	notes = append(notes, "a row the application changes after the plan (status, attempts, next retry) is left alone")
	return action.Spec[*retryItem, *actions.RetryResult]{
		Verb: words.verb, Doing: words.doing, Title: title, Broker: broker,
		Fields: []action.Field{
			{Key: fLimit, Label: "Limit", Hint: "at most N rows, oldest first; empty: the store's bound on one read", Check: limitCheck("rows")},
			{Key: fRate, Label: "Rate", Hint: "at most N rows/s; empty: unlimited", Check: rateCheck("rows")},
		},
		Notes: notes,
		Prod:  m.prodLike(), What: "number of rows",
		NameOf:  func(it *retryItem) string { return fmt.Sprintf("%d rows", it.plan.Selected) },
		Command: func(v action.Values) string { return safe(run.Command(build(v))) },
		Plan: func(ctx context.Context, v action.Values) (*retryItem, error) {
			a := build(v)
			// reads exactly the rows that will change; changes nothing
			p, err := planOnStore[*actions.RetryPlan](ctx, run, conn, a, func(st StoreSource) error {
				a.Store = st
				return nil
			})
			if err != nil {
				return nil, err
			}
			return &retryItem{a: a, plan: p}, nil
		},
		PlanLines: retryPlanLines,
		Question: func(it *retryItem) string {
			return safe(strings.TrimPrefix(it.plan.Summary(), words.summary+" "))
		},
		Blocked: func(it *retryItem) string {
			return retryVerdict.blocked(it.plan.Selected, it.plan.Matched, it.plan.Problems)
		},
		Abandon: func(it *retryItem) error {
			return retryVerdict.abandon(run, it.a, it.plan, it.plan.Selected, it.plan.Matched, it.plan.Problems)
		},
		Execute: func(ctx context.Context, it *retryItem, progress func(actions.Progress)) (*actions.RetryResult, error) {
			r, err := run.Execute(ctx, it.a, it.plan, progress)
			res, _ := r.(*actions.RetryResult)
			return res, err
		},
		Counts: func(p actions.Progress) string {
			return "changed " + fmtInt(int64(p.Done)) + " · failed " + fmtInt(int64(p.Failed)) + " · left alone " + fmtInt(int64(p.Skipped))
		},
		RateUnit:     "rows/s",
		CancelSafety: retryCancelSafety(op),
		Outcome: func(res *actions.RetryResult, err error, cancelled bool) action.Outcome {
			return retryOutcome(res)
		},
		CloseHint: "enter or esc closes and reloads the retry rows",
	}
}

func retryCancelSafety(op string) string {
	if op == actions.RetryOpRepublish {
		return "what the broker confirmed is marked done; the other rows are left as they were"
	}
	return "the rows changed so far stay changed; the others are left as they were"
}

// retryVerdict is mqops retry's.
var retryVerdict = rowsVerdict{
	noMatch:  "nothing to change: no retry row matches",
	noneCan:  "nothing to change: no row of the selection can be changed",
	problems: "the plan has problems (above): mark the rows that can be changed (mqops retry … --yes changes the other rows)",
}

// maxRetryRowsShown bounds the rows the plan lists.
const maxRetryRowsShown = 50

// retryPlanLines draw the plan: a head (kept on the progress and result
// stages), the groups, the rows that change, the problems and notes.
func retryPlanLines(it *retryItem, st *action.Styles) []string {
	p := it.plan
	head := "plan: " + safe(p.Summary())
	if p.Rate > 0 {
		head += st.Dim.Render(" · rate " + strconv.FormatFloat(p.Rate, 'f', -1, 64) + "/s")
	}
	lines := []string{head, st.Dim.Render(fmt.Sprintf("  run %s · %s row(s) match, %s change · %d at a time · database %s",
		safe(p.RunID), fmtInt(int64(p.Matched)), fmtInt(int64(p.Selected)), p.Batch, safe(p.Store)))}
	if len(p.Groups) > 0 {
		groups := [][]string{{"ROWS", "ERROR GROUP"}}
		for i, g := range p.Groups {
			if i == maxRetryRowsShown {
				break
			}
			groups = append(groups, []string{fmtInt(int64(g.Count)), components.Clip(safe(g.Error), 100)})
		}
		for i, l := range planTable(groups, []bool{true, false}) {
			if i == 0 {
				l = st.Dim.Render(l)
			}
			lines = append(lines, l)
		}
	}
	rows := [][]string{{"ID", "STATUS", "ATTEMPTS", "NEXT RETRY", "MESSAGE ID", "LAST ERROR"}}
	if p.Op == actions.RetryOpRepublish {
		rows[0][3] = "TARGET"
	}
	for i, r := range p.Rows {
		if i == maxRetryRowsShown {
			break
		}
		attempts := strconv.Itoa(r.Attempts)
		if r.MaxAttempts > 0 {
			attempts += "/" + strconv.Itoa(r.MaxAttempts)
		}
		next := "-"
		if !r.NextRetryAt.IsZero() {
			next = fmtDuration(r.NextRetryAt.Sub(p.Now))
			if !r.NextRetryAt.After(p.Now) {
				next = "due"
			}
		}
		if p.Op == actions.RetryOpRepublish {
			next = components.Clip(safe(r.Target), 40)
		}
		rows = append(rows, []string{components.Clip(safe(r.ID), 24), safe(r.Status), attempts, next,
			components.Clip(safe(orDash(r.MessageID)), 40), components.Clip(safe(orDash(r.LastError)), 60)})
	}
	if len(rows) > 1 {
		lines = append(lines, "")
		for i, l := range planTable(rows, []bool{false, false, true, p.Op != actions.RetryOpRepublish, false, false}) {
			if i == 0 {
				l = st.Dim.Render(l)
			}
			lines = append(lines, l)
		}
		if more := len(p.Rows) - maxRetryRowsShown; more > 0 {
			lines = append(lines, st.Dim.Render("  … and "+fmtInt(int64(more))+" more row(s) (mqops retry … --dry-run -o json lists them all)"))
		}
	}
	for _, pr := range p.Problems {
		lines = append(lines, "  "+st.Error.Render("problem: "+safe(pr)))
	}
	for _, n := range p.Notes {
		lines = append(lines, "  "+st.Dim.Render("note: "+safe(n)))
	}
	return lines
}

// retryOutcome words the result as mqops retry prints it.
func retryOutcome(res *actions.RetryResult) action.Outcome {
	if res == nil {
		return action.Outcome{Summary: "no result"}
	}
	words := retryVerbs[res.Op]
	summary := fmt.Sprintf("run %s: %s: changed %s, failed %s, left alone %s, left %s", safe(res.RunID), strings.ToLower(words.verb),
		fmtInt(int64(res.Changed)), fmtInt(int64(res.Failed)), fmtInt(int64(res.Skipped)), fmtInt(int64(res.Left)))
	lines := []string{
		fmt.Sprintf("run %s: changed %s, failed %s, left %s (%s rows/s)", safe(res.RunID), fmtInt(int64(res.Changed)), fmtInt(int64(res.Failed)),
			fmtInt(int64(res.Left)), fmtRate(res.Rate)),
		fmt.Sprintf("left alone %s: changed by the application since the plan %s, no longer waiting or dead %s",
			fmtInt(int64(res.Skipped)), fmtInt(int64(res.SkippedChanged)), fmtInt(int64(res.SkippedGone))),
		"stopped: " + safe(orDash(res.StoppedBecause)),
	}
	if res.Failed > 0 {
		lines = append(lines, fmt.Sprintf("%s row(s) were not confirmed by the broker: they are left as they were", fmtInt(int64(res.Failed))))
	}
	for _, e := range res.Errors {
		lines = append(lines, "  "+errText(errors.New(e)))
	}
	if res.Unmarked > 0 {
		lines = append(lines, fmt.Sprintf("%s row(s) republished could not be marked done: their message was published, the application may handle it twice", fmtInt(int64(res.Unmarked))))
	}
	return action.Outcome{Summary: summary, Lines: lines, RunID: res.RunID, Failures: res.Failed > 0 || res.Unmarked > 0}
}
