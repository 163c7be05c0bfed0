package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/tui/components"
	"github.com/mqops/mqops/tui/styles"
)

// traceView is where one message is now (`enter` on a row of :pending or
// :retry): actions.Trace looks for its message id in each place the
// console can see — the outbox and retry rows, the topic or the queues its
// destination reaches, their dead-letter topics or queues, the
// idempotency table — and each place is a row: found (what the message is
// there), not found among what was looked at, not looked and why, or an
// error. It changes nothing (Kafka read without a consumer group, RabbitMQ
// through the peek that leaves a queue as it was). It loads when opened
// and on `r`, in a command, the spinner turning while it looks; esc goes
// back.
type traceView struct {
	st    loadState
	opts  actions.TraceOptions
	from  string // the row it was opened on
	tbl   *components.Table
	res   *actions.TraceResult
	sum   components.Summary
	width int
	bodyH int
}

const (
	tcPlace = iota
	tcWhere
	tcStatus
	tcState
	tcAt
	tcDetail
)

func newTraceView(o actions.TraceOptions, from string) *traceView {
	t := components.NewTable([]components.Column{
		tcPlace:  {Title: "PLACE", NoSort: true},
		tcWhere:  {Title: "WHERE", Flex: true, Name: true, Min: 10, NoSort: true},
		tcStatus: {Title: "STATUS", NoSort: true},
		tcState:  {Title: "THERE", Flex: true, Min: 8, Shrink: 1, NoSort: true},
		tcAt:     {Title: "AT", Drop: 3, NoSort: true},
		tcDetail: {Title: "DETAIL", Flex: true, Min: 10, Shrink: 2, Drop: 2, NoSort: true},
	}, -1, false)
	t.Empty = "nothing was looked at"
	return &traceView{opts: o, from: from, tbl: t}
}

func (v *traceView) id() string { return "trace/" + v.from + "/" + v.opts.MessageID }
func (v *traceView) crumb() string {
	return "trace " + components.Clip(safe(orDash(v.opts.MessageID)), 40)
}
func (v *traceView) noun() string               { return "places" }
func (v *traceView) focused() *components.Table { return v.tbl }
func (v *traceView) summary(width int) []string { return v.sum.Wrap(width) }
func (v *traceView) togglePane() bool           { return false }
func (v *traceView) open() (view, bool)         { return nil, false }

// traceDetailLines is the room under the table for the selected place's
// detail, whole.
const traceDetailLines = 3

func (v *traceView) layout(width, height int) {
	v.width, v.bodyH = width, height
	th := height
	if height >= traceDetailLines+4 {
		th = height - traceDetailLines - 1
	}
	v.tbl.SetSize(width, th)
}

// body: the places, then what the selected one says, whole (the table
// cuts it).
func (v *traceView) body(st *styles.Styles) []string {
	lines := v.tbl.View(st, true)
	r, ok := v.tbl.Selected()
	if !ok || v.res == nil || v.tbl.Height()+traceDetailLines+1 > v.bodyH {
		return lines
	}
	for len(lines) < v.tbl.Height() {
		lines = append(lines, "")
	}
	text := "▸ " + r.Cells[tcPlace] + " · " + r.Cells[tcWhere] + " · " + r.Cells[tcStatus]
	if r.Cells[tcState] != "-" {
		text += ": " + r.Cells[tcState]
	}
	if d := r.Cells[tcDetail]; d != "" {
		text += " · " + d
	}
	wrapped := strings.Split(ansi.Wrap(text, max(v.width-2, 10), " "), "\n")
	if len(wrapped) > traceDetailLines {
		wrapped = wrapped[:traceDetailLines]
		wrapped[traceDetailLines-1] = components.Truncate(wrapped[traceDetailLines-1], max(v.width-3, 1), "…")
	}
	lines = append(lines, "")
	for _, l := range wrapped {
		lines = append(lines, st.Dim.Render(" "+l))
	}
	return lines
}

// traceFinders are the brokers a trace looks in: the console's Kafka and
// RabbitMQ clients, when they can search (*kafka.Client and
// *rabbitmq.Client can).
func (m *Model) traceFinders() (backends.KafkaMessageFinder, backends.RabbitMessageFinder) {
	kf, _ := m.opts.Kafka.(backends.KafkaMessageFinder)
	rf, _ := m.opts.Rabbit.(backends.RabbitMessageFinder)
	return kf, rf
}

// source: the trace, when opened and on r (it reads up to its depth in
// every topic and queue it looks in: never on a schedule).
func (v *traceView) source(m *Model) source {
	what := "where message " + components.Clip(safe(v.opts.MessageID), 60) + " is"
	s := source{what: what, broker: m.storeName(), periodic: false, state: &v.st}
	if s.broker == "" {
		s.broker = m.cluster
	}
	conn, route, o := m.store, m.opts.StoreRoute, v.opts
	kf, rf := m.traceFinders()
	s.fetch = func(ctx context.Context) (applyFunc, error) {
		t := &actions.Trace{Kafka: kf, Rabbit: rf, Route: route, Options: o}
		if conn != nil {
			if st, err := conn.get(ctx); err != nil {
				t.StoreErr = err // the store's places say why
			} else {
				t.Store = st
			}
		}
		res, err := t.Run(ctx)
		if err == nil && res == nil {
			err = errors.New("the trace found nothing to say")
		}
		if err != nil {
			return nil, err
		}
		return func(m *Model, now time.Time) notice { return v.apply(m, res) }, nil
	}
	return s
}

// apply shows the places looked in, in the order looked.
func (v *traceView) apply(m *Model, res *actions.TraceResult) notice {
	v.res = res
	rows := make([]components.Row, 0, len(res.Steps))
	for i, s := range res.Steps {
		status, style := traceStatus(&s)
		at := ""
		if !s.At.IsZero() {
			at = s.At.UTC().Format("2006-01-02 15:04:05")
		}
		detail := s.Detail
		if s.Err != "" {
			detail = s.Err
			if s.Detail != "" {
				detail = s.Detail + ": " + s.Err
			}
		}
		rows = append(rows, components.Row{
			ID: fmt.Sprint(i),
			Cells: []string{
				tcPlace:  safe(s.Place),
				tcWhere:  safe(orDash(s.Where)),
				tcStatus: status,
				tcState:  safe(orDash(s.State)),
				tcAt:     at,
				tcDetail: safe(backends.Redact(detail)),
			},
			Styles: []styles.CellStyle{tcPlace: styles.CellDim, tcStatus: style, tcAt: styles.CellDim, tcDetail: styles.CellDim},
		})
	}
	v.tbl.SetRows(rows)
	dim := m.st.Dim.Render
	parts := []string{dim("message id ") + safe(res.MessageID)}
	if res.Destination != "" {
		d := dim("destination ") + safe(res.Destination)
		if res.Target != "" {
			d += dim(" → ") + safe(res.Target)
		}
		parts = append(parts, d)
	}
	switch {
	case res.HasKey:
		parts = append(parts, dim("key ")+safe(res.Key)+dim(" (its partition)"))
	case res.Target != "" && res.Destination != "":
		parts = append(parts, dim("no key: every partition"))
	}
	parts = append(parts, dim("depth ")+fmtInt(int64(res.Depth)))
	style := m.st.Cells[styles.CellOK]
	if res.Errors > 0 {
		style = m.st.FlashWarn
	}
	v.sum = components.Summary{Parts: parts, Extra: []string{style.Render("now: " + safe(backends.Redact(res.Summary)))}}
	return notice{}
}

// traceStatus words what a trace found in a place.
func traceStatus(s *actions.TraceStep) (string, styles.CellStyle) {
	switch s.Status {
	case actions.TraceFound:
		return "found", styles.CellOK
	case actions.TraceNotFound:
		if s.Looked > 0 {
			return "not found in " + fmtInt(int64(s.Looked)), styles.CellDim
		}
		return "not found", styles.CellDim
	case actions.TraceNotLooked:
		return "not looked", styles.CellWarn
	case actions.TraceError:
		return "error", styles.CellError
	}
	return safe(s.Status), styles.CellPlain
}

// traceOfOutbox is the trace of a pending row's message: by its
// destination and key (its partition).
func traceOfOutbox(r backends.OutboxRow) actions.TraceOptions {
	key := r.Key
	return actions.TraceOptions{MessageID: r.MessageID, Destination: r.Destination, Key: &key}
}

// traceOfRetry is the trace of a retry row's message (its key, if any,
// is its outbox row's).
func traceOfRetry(r backends.RetryRow) actions.TraceOptions {
	return actions.TraceOptions{MessageID: r.MessageID, Destination: r.Destination}
}
