package tui

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/tui/components"
	"github.com/mqops/mqops/tui/keys"
	"github.com/mqops/mqops/tui/styles"
)

// retryView is :retry: the rows of the application's retry table waiting
// for its job or given up, grouped by error (upper pane: the normalised
// error or exception class, how many rows, the first and the last), and
// the rows of the group selected (lower pane: status, attempts of max,
// next retry, last error, destination, message id). tab moves the focus
// between the panes. T (retry now), U (republish, where the rows carry a
// destination and a payload) and X (give up) act on the group selected
// in the upper pane, or on the rows marked (or the row selected) in the
// lower one; enter on a row traces its message.
//
// One refresh is one read of the retry table (Retries: at most
// retryRowsShown rows listed, the groups counted over every row read),
// on the refresh schedule, never two at once.
type retryView struct {
	scopedPanes  // error groups, and the rows of the one selected
	st           loadState
	groups, rows *components.Table // the panes' tables
	sum          components.Summary
	byID         map[string]backends.RetryRow
	groupOf      map[string]string // a group's row id → its error group
	canRepublish bool              // the store's rows carry a destination and a payload
}

// retryRowsShown bounds the rows one refresh of :retry lists.
const retryRowsShown = 1000

const (
	rgError = iota
	rgCount
	rgFirst
	rgLast
)

const (
	rrStatus = iota
	rrAttempts
	rrNext
	rrError
	rrDest
	rrMessageID
	rrAge
	rrID
)

func newRetryView() *retryView {
	groups := components.NewTable([]components.Column{
		rgError: {Title: "ERROR", Flex: true, Name: true, Min: 16},
		rgCount: {Title: "ROWS", Right: true, Num: true, Desc: true},
		rgFirst: {Title: "FIRST", Right: true, Num: true, Desc: true, Drop: 2},
		rgLast:  {Title: "LAST", Right: true, Num: true},
	}, rgCount, true)
	groups.Empty = "no retry rows waiting or dead"
	rows := components.NewTable([]components.Column{
		rrStatus:    {Title: "STATUS", Flex: true, Min: 4, Max: 12, Shrink: 3},
		rrAttempts:  {Title: "ATTEMPTS", Right: true, Num: true, Desc: true},
		rrNext:      {Title: "NEXT RETRY", Right: true, Num: true},
		rrError:     {Title: "LAST ERROR", Flex: true, Name: true, Min: 12},
		rrDest:      {Title: "DESTINATION", Flex: true, Min: 6, Max: 32, Shrink: 2, Drop: 4},
		rrMessageID: {Title: "MESSAGE ID", Flex: true, Min: 8, Max: 40, Shrink: 4, Drop: 5},
		rrAge:       {Title: "AGE", Right: true, Num: true, Desc: true, Drop: 3},
		rrID:        {Title: "ID", Flex: true, Min: 4, Max: 24, Shrink: 5, Drop: 6},
	}, rrAge, true)
	rows.Empty = "no rows listed for this error"
	rows.SetScope("")
	return &retryView{scopedPanes: scopedPanes{upper: groups, lower: rows}, groups: groups, rows: rows,
		byID: map[string]backends.RetryRow{}, groupOf: map[string]string{}}
}

func (v *retryView) id() string    { return "retry" }
func (v *retryView) crumb() string { return "retry rows" }

func (v *retryView) noun() string {
	if v.onLower {
		return "retry rows"
	}
	return "error groups"
}

func (v *retryView) summary(width int) []string { return v.sum.Wrap(width) }

// selectedGroup is the error group the lower pane shows.
func (v *retryView) selectedGroup() (string, bool) {
	r, ok := v.groups.Selected()
	if !ok {
		return "", false
	}
	g, ok := v.groupOf[r.ID]
	return g, ok
}

func (v *retryView) selectedRow() (backends.RetryRow, bool) {
	r, ok := v.rows.Selected()
	if !ok {
		return backends.RetryRow{}, false
	}
	row, ok := v.byID[r.ID]
	return row, ok
}

// layout scopes the lower pane to the group selected.
func (v *retryView) layout(width, height int) {
	g, ok := v.selectedGroup()
	v.rows.SetScope(g)
	v.lowerTop = "RETRY ROWS"
	if ok {
		v.lowerTop = "RETRY ROWS OF " + components.Clip(safe(orDash(g)), max(width-30, 20))
	}
	if n := v.rows.InScope(); ok && n > 0 {
		v.lowerTop += " · " + fmtInt(int64(n)) + " listed"
	}
	v.size(width, height)
}

// keys: on a group, T, U and X act on the group's rows; on the rows, on
// the marked rows or the selected one, and enter traces its message.
// Republish only where the rows carry a destination and a payload.
func (v *retryView) keys(k *keys.Map) []keys.Binding {
	pane := k.Pane.With("switch pane: error groups / their rows", "rows")
	republish := k.Republish
	if !v.canRepublish {
		republish.Unbind()
	}
	if !v.onLower {
		return []keys.Binding{
			k.Open.With("the rows of the error group", "rows"), pane,
			k.RetryNow.With("retry the group's rows now: due now for the application's job (plan first)", "retry now"),
			republish.With("republish the group's rows to their destination (plan first)", ""),
			k.GiveUp.With("give up the group's rows: dead, the job no longer takes them (plan first)", ""),
		}
	}
	what, its, hint := "the selected row", "its", ""
	if n := v.rows.MarkedCount(); n > 0 {
		what, its, hint = "the marked rows", "their", " "+fmtInt(int64(n))+" marked"
	}
	own := []keys.Binding{
		k.Open.With("where the row's message is now: table, topic or queue, dead letters, consumed", "trace"),
		pane.With("", "groups"),
		k.RetryNow.With("retry "+what+" now: due now for the application's job (plan first)", "retry now"+hint),
		republish.With("republish "+what+" to "+its+" destination (plan first)", ""),
		k.GiveUp.With("give up "+what+": dead, the job no longer takes "+map[string]string{"its": "it", "their": "them"}[its]+" (plan first)", ""),
	}
	if k.RetryNow.Bound() { // marks feed the retry actions only
		own = append(own, k.Mark.With("mark / unmark the row (T, U and X act on the marked)", "mark"))
	}
	return own
}

// open: enter on a group focuses its rows; on a row it traces its
// message.
func (v *retryView) open() (view, bool) {
	if !v.onLower {
		v.focusLower()
		return nil, false
	}
	row, ok := v.selectedRow()
	if !ok {
		return nil, false
	}
	return newTraceView(traceOfRetry(row), "retry/"+row.ID), true
}

// retryRead is what one refresh of :retry read.
type retryRead struct {
	page         *backends.RetryPage
	name, preset string
	canRepublish bool
}

// source: the retry table, refreshed on the schedule.
func (v *retryView) source(m *Model) source {
	return m.storeViewSource("retry rows", &v.st, func(c *storeConn) fetchFunc {
		return func(ctx context.Context) (applyFunc, error) {
			st, err := c.get(ctx)
			if err != nil {
				return nil, err
			}
			if !st.HasRetry() {
				return nil, fmt.Errorf("the application database (%s, preset %s) has no retry table (cap's retries are its published rows: see :pending)", st.Name(), st.Preset())
			}
			page, err := st.Retries(ctx, backends.RetryQuery{Limit: retryRowsShown})
			if err == nil && page == nil {
				err = errors.New("the database returned nothing")
			}
			if err != nil {
				return nil, err
			}
			r := &retryRead{page: page, name: st.Name(), preset: st.Preset(), canRepublish: st.CanRepublishRetries()}
			return func(m *Model, now time.Time) notice { return v.apply(m, r) }, nil
		}
	})
}

// apply installs a refresh: the groups, then the rows.
func (v *retryView) apply(m *Model, r *retryRead) notice {
	page := r.page
	v.canRepublish = r.canRepublish
	groups := make([]components.Row, 0, len(page.Groups))
	v.groupOf = make(map[string]string, len(page.Groups))
	for i, g := range page.Groups {
		id := "g" + strconv.Itoa(i) + ":" + g.Error // unique whatever the text
		v.groupOf[id] = g.Error
		groups = append(groups, retryGroupRow(id, g, page.Now))
	}
	v.groups.SetRows(groups)
	rows := make([]components.Row, 0, len(page.Rows))
	v.byID = make(map[string]backends.RetryRow, len(page.Rows))
	waiting, dead := 0, 0
	for _, row := range page.Rows {
		v.byID[row.ID] = row
		rows = append(rows, retryRow(&row, page.Now))
		if row.Dead {
			dead++
		} else {
			waiting++
		}
	}
	v.rows.SetRows(rows)
	dim := m.st.Dim.Render
	parts := []string{
		dim("database ") + safe(backends.Redact(r.name)) + dim(" ("+safe(r.preset)+")"),
		fmtInt(int64(page.Total)) + dim(" retry rows in ") + fmtInt(int64(len(page.Groups))) + dim(" error group(s)"),
		fmtInt(int64(waiting)) + dim(" waiting, ") + fmtInt(int64(dead)) + dim(" dead (listed)"),
	}
	if !r.canRepublish {
		parts = append(parts, dim("no republish: the rows carry no destination and payload"))
	} else if t, err := m.opts.StoreRoute.Resolve("{destination}"); err == nil {
		parts = append(parts, dim("republished to ")+safe(t.String()))
	}
	var extra []string
	if page.More {
		extra = append(extra, m.st.FlashWarn.Render(fmt.Sprintf("the %s oldest of %s rows are listed (one read is bounded); the groups count every row read",
			fmtInt(int64(len(page.Rows))), fmtInt(int64(page.Total)))))
	}
	v.sum = components.Summary{Parts: parts, Extra: extra}
	return notice{}
}

// retryGroupRow is one error group: its rows, the first and the last
// (ages).
func retryGroupRow(id string, g backends.RetryGroup, now time.Time) components.Row {
	first, last := now.Sub(g.First), now.Sub(g.Last)
	return components.Row{
		ID: id, Ref: g.Error,
		Cells: []string{
			rgError: safe(orDash(g.Error)),
			rgCount: fmtInt(int64(g.Count)),
			rgFirst: fmtDuration(first) + " ago",
			rgLast:  fmtDuration(last) + " ago",
		},
		Styles: []styles.CellStyle{rgError: styles.CellError, rgFirst: styles.CellDim},
		Nums:   []float64{rgCount: float64(g.Count), rgFirst: float64(first), rgLast: float64(last)},
	}
}

// retryRow is one retry row.
func retryRow(r *backends.RetryRow, now time.Time) components.Row {
	status, statusStyle := safe(orDash(r.Status)), styles.CellWarn
	if r.Dead {
		statusStyle = styles.CellStop
	}
	attempts := strconv.Itoa(r.Attempts)
	if r.MaxAttempts > 0 {
		attempts += "/" + strconv.Itoa(r.MaxAttempts)
	}
	next, nextKey, nextStyle := "-", math.NaN(), styles.CellDim
	switch {
	case r.Dead:
	case r.NextRetryAt.IsZero():
	case !r.NextRetryAt.After(now):
		next, nextKey, nextStyle = "due", float64(r.NextRetryAt.Sub(now)), styles.CellWarn
	default:
		next, nextKey, nextStyle = "in "+fmtDuration(r.NextRetryAt.Sub(now)), float64(r.NextRetryAt.Sub(now)), styles.CellPlain
	}
	age := now.Sub(r.CreatedAt)
	return components.Row{
		ID: r.ID, Ref: r.ID, Group: r.ErrorGroup,
		Cells: []string{
			rrStatus:    status,
			rrAttempts:  attempts,
			rrNext:      next,
			rrError:     safe(orDash(r.LastError)),
			rrDest:      safe(orDash(r.Destination)),
			rrMessageID: safe(orDash(r.MessageID)),
			rrAge:       fmtDuration(age),
			rrID:        safe(r.ID),
		},
		Styles: []styles.CellStyle{rrStatus: statusStyle, rrNext: nextStyle, rrError: styles.CellError, rrDest: styles.CellDim, rrID: styles.CellDim},
		Nums:   []float64{rrAttempts: float64(r.Attempts), rrNext: nextKey, rrAge: float64(age)},
	}
}
