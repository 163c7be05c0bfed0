package tui

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/tui/components"
	"github.com/mqops/mqops/tui/keys"
	"github.com/mqops/mqops/tui/styles"
)

// queuesView lists the RabbitMQ queues (:queues) or only the dead-letter
// queues (:dlq). It keeps each queue's backlog (ready + unacked) across
// refreshes for the trend column.
type queuesView struct {
	dlqOnly bool
	st      loadState
	tbl     *components.Table
	queues  map[string]backends.Queue // by row id
	history map[string][]int64        // backlog samples by row id, oldest first
}

// historyLen is the number of backlog samples kept per queue.
const historyLen = 60

const (
	qcVhost = iota
	qcName
	qcType
	qcReady
	qcUnacked
	qcConsumers
	qcPublish
	qcDeliver
	qcTrend
	qcDrain
	qcDLX
	qcDLQ
)

func newQueueListTable(dlqOnly bool) *components.Table {
	last := components.Column{Title: "DLQ", Drop: 6}
	dlx := components.Column{Title: "DLX", Flex: true, Min: 9, Max: 24, Shrink: 3, Drop: 11}
	if dlqOnly {
		last = components.Column{Title: "DETECTED BY", Flex: true, Min: 16, Shrink: 2, Drop: 6}
		dlx.Drop = 13 // a DLQ rarely dead-letters: its DLX goes first
	}
	t := components.NewTable([]components.Column{
		qcVhost:     {Title: "VHOST", Flex: true, Min: 7, Max: 16, Shrink: 2, Drop: 7},
		qcName:      {Title: "NAME", Flex: true, Name: true, Min: 12},
		qcType:      {Title: "TYPE", Drop: 10},
		qcReady:     {Title: "READY", Right: true, Num: true, Desc: true},
		qcUnacked:   {Title: "UNACKED", Right: true, Num: true, Desc: true, Drop: 4},
		qcConsumers: {Title: "CONSUMERS", Right: true, Num: true, Desc: true, Drop: 3},
		qcPublish:   {Title: "PUB/S", Right: true, Num: true, Desc: true, Drop: 8},
		qcDeliver:   {Title: "DELIVER/S", Right: true, Num: true, Desc: true, Drop: 9},
		qcTrend:     {Title: "TREND", Plain: true, Drop: 12},
		qcDrain:     {Title: "TO DRAIN", Right: true, Num: true, Desc: true, Drop: 5},
		qcDLX:       dlx,
		qcDLQ:       last,
	}, qcReady, true)
	t.Empty = "no queues"
	if dlqOnly {
		t.Empty = "no dead-letter queues (none bound to a dead-letter exchange nor named like one)"
	}
	return t
}

func newQueuesView() *queuesView {
	return &queuesView{tbl: newQueueListTable(false), queues: map[string]backends.Queue{}, history: map[string][]int64{}}
}

func (v *queuesView) id() string {
	if v.dlqOnly {
		return "dlq"
	}
	return "queues"
}

func (v *queuesView) crumb() string {
	if v.dlqOnly {
		return "dead-letter queues"
	}
	return "queues"
}

func (v *queuesView) noun() string {
	if v.dlqOnly {
		return "dead-letter queues"
	}
	return "queues"
}

func (v *queuesView) what() string                    { return v.noun() }
func (v *queuesView) focused() *components.Table      { return v.tbl }
func (v *queuesView) summary(int) []string            { return nil }
func (v *queuesView) togglePane() bool                { return false }
func (v *queuesView) layout(width, height int)        { v.tbl.SetSize(width, height) }
func (v *queuesView) body(st *styles.Styles) []string { return v.tbl.View(st, true) }

// queueTotaler is a RabbitSource that also lists the queues without
// statistics (their depths only: no consumers, no rates), which the
// broker answers sooner and more cheaply than Queues.
type queueTotaler interface {
	QueueTotals(ctx context.Context) ([]backends.Queue, error)
}

// source: the queues of the broker, refreshed on the schedule. The first
// load is a quick look where the source offers one (the depths without
// statistics: on a big broker the first frame comes in about half the
// time), followed at once by the listing with statistics.
func (v *queuesView) source(m *Model) source {
	quick := !v.st.loaded
	return m.rabbitSource(v.what(), true, &v.st, func(src RabbitSource) fetchFunc {
		return fetching(func(ctx context.Context) ([]backends.Queue, error) {
			qs, err := listQueues(ctx, src, quick)
			if err == nil && qs == nil {
				qs = []backends.Queue{}
			}
			return qs, err
		}, v.apply)
	})
}

// listQueues is src's listing of the queues: the quick one (depths
// only) when quick and src offers it, else the one with statistics.
func listQueues(ctx context.Context, src RabbitSource, quick bool) ([]backends.Queue, error) {
	if t, ok := src.(queueTotaler); ok && quick {
		qs, err := t.QueueTotals(ctx)
		if !errors.Is(err, backends.ErrNoQueueTotals) {
			return qs, err
		}
	}
	return src.Queues(ctx)
}

func (v *queuesView) selectedQueue() (backends.Queue, bool) {
	r, ok := v.tbl.Selected()
	if !ok {
		return backends.Queue{}, false
	}
	q, ok := v.queues[r.ID]
	return q, ok
}

// keys: enter opens the queue; p and D act on a dead-letter queue, or on
// the marked ones (marks feed them).
func (v *queuesView) keys(k *keys.Map) []keys.Binding {
	own := []keys.Binding{k.Open.With("open the queue: arguments, policy, bindings, consumers", "queue")}
	if q, ok := v.selectedQueue(); ok && q.IsDLQ || v.tbl.MarkedCount() > 0 {
		peek, drain := markedKeys(k, v.tbl.MarkedCount())
		if v.tbl.MarkedCount() == 0 {
			peek = peek.With("peek at the messages of the dead-letter queue (nothing is consumed)", "")
		}
		own = append(own, peek, drain)
	}
	return append(own, k.Mark.With("mark / unmark the queue (p and D act on the marked)", "mark"))
}

// open goes to the queue's detail, or, in the DLQ list, to its dead-letter
// groups.
func (v *queuesView) open() (view, bool) {
	q, ok := v.selectedQueue()
	if !ok {
		return nil, false
	}
	if v.dlqOnly {
		return newDLQView(q), true
	}
	qv := newQueueView(q.Vhost, q.Name)
	qv.dlq = q.IsDLQ
	return qv, true
}

// peek opens the messages of the selected dead-letter queue.
func (v *queuesView) peek() (view, bool) {
	q, ok := v.selectedQueue()
	if !ok || !q.IsDLQ {
		return nil, false
	}
	return newPeekView(q.Vhost, q.Name, q.Messages), true
}

func queueKey(vhost, name string) string { return vhost + "\x00" + name }

func (v *queuesView) apply(qs []backends.Queue, _ time.Time, _ *styles.Styles) notice {
	rows := make([]components.Row, 0, len(qs))
	seen := make(map[string]bool, len(qs))
	v.queues = make(map[string]backends.Queue, len(qs))
	for i := range qs {
		q := &qs[i]
		k := queueKey(q.Vhost, q.Name)
		// Every queue's history grows, DLQ or not, so that switching the
		// filter does not lose it; a backlog the API sent out of range
		// is not a sample.
		h := v.history[k]
		if q.Valid("ready") && q.Valid("unacked") {
			h = append(h, q.Ready+q.Unacked)
		}
		if len(h) > historyLen {
			h = h[len(h)-historyLen:]
		}
		v.history[k] = h
		seen[k] = true
		if v.dlqOnly && !q.IsDLQ {
			continue
		}
		v.queues[k] = *q
		rows = append(rows, queueRow(k, q, h, v.dlqOnly))
	}
	for k := range v.history {
		if !seen[k] {
			delete(v.history, k)
		}
	}
	v.tbl.SetRows(rows)
	// a quick look (no statistics) is followed at once by the listing
	// with them
	v.st.followUp = len(qs) > 0 && qs[0].NoStats
	return notice{}
}

// countCell is a count of the management API as a cell, with its style
// and sort key; one that came out of range is its raw text flagged with ?
// (warning style), and sorts as missing.
func countCell(q *backends.Queue, field string, n int64, style styles.CellStyle) (string, styles.CellStyle, float64) {
	if raw, bad := q.Invalid[field]; bad {
		return safe(raw) + "?", styles.CellWarn, math.NaN()
	}
	return fmtInt(n), style, float64(n)
}

// rateCell is countCell for a rate.
func rateCell(q *backends.Queue, field string, r float64) (string, styles.CellStyle, float64) {
	if raw, bad := q.Invalid[field]; bad {
		return safe(raw) + "?", styles.CellWarn, math.NaN()
	}
	return fmtRate(r), styles.CellPlain, r
}

// pendingCell stands for a statistic not listed yet (the quick first
// look of :queues lists depths only).
const pendingCell = "…"

func queueRow(id string, q *backends.Queue, hist []int64, dlqOnly bool) components.Row {
	messages, depthOK := q.Depth()
	drainCell, drainKey := "-", math.NaN()
	if net := q.DeliverRate - q.PublishRate; net > 0 && messages > 0 && depthOK && q.Valid("deliver_rate") && q.Valid("publish_rate") {
		d := time.Duration(float64(messages) / net * float64(time.Second))
		drainCell, drainKey = fmtDuration(d), float64(d)
	}
	dlx, dlxStyle := "-", styles.CellDim
	if q.HasDeadLetterExchange {
		dlx, dlxStyle = safe(q.DeadLetterExchange), styles.CellPlain
		if q.DeadLetterExchange == "" {
			dlx = "(default)"
		}
	}
	last, lastStyle := "", styles.CellPlain
	if dlqOnly {
		last = safe(orDash(q.DLQReason))
		lastStyle = styles.CellDim
	} else if q.IsDLQ {
		last, lastStyle = "DLQ", styles.CellWarn
	}
	consumersStyle := styles.CellPlain
	if q.Consumers == 0 && messages > 0 && !q.IsDLQ {
		consumersStyle = styles.CellStop // a backlog nobody consumes
	}
	ready, readyStyle, readyKey := countCell(q, "ready", q.Ready, styles.CellPlain)
	unacked, unackedStyle, unackedKey := countCell(q, "unacked", q.Unacked, styles.CellPlain)
	consumers, consumersStyle, consumersKey := countCell(q, "consumers", q.Consumers, consumersStyle)
	publish, publishStyle, publishKey := rateCell(q, "publish_rate", q.PublishRate)
	deliver, deliverStyle, deliverKey := rateCell(q, "deliver_rate", q.DeliverRate)
	if q.NoStats { // not listed yet: unknown, not 0
		consumers, consumersStyle, consumersKey = pendingCell, styles.CellDim, math.NaN()
		publish, publishStyle, publishKey = pendingCell, styles.CellDim, math.NaN()
		deliver, deliverStyle, deliverKey = pendingCell, styles.CellDim, math.NaN()
	}
	return components.Row{
		ID:  id,
		Ref: id,
		Cells: []string{
			qcVhost:     safe(q.Vhost),
			qcName:      safe(q.Name),
			qcType:      safe(orDash(q.Type)),
			qcReady:     ready,
			qcUnacked:   unacked,
			qcConsumers: consumers,
			qcPublish:   publish,
			qcDeliver:   deliver,
			qcTrend:     components.Sparkline(hist, sparkWidth),
			qcDrain:     drainCell,
			qcDLX:       dlx,
			qcDLQ:       last,
		},
		Styles: []styles.CellStyle{
			qcVhost:     styles.CellDim,
			qcReady:     readyStyle,
			qcUnacked:   unackedStyle,
			qcConsumers: consumersStyle,
			qcPublish:   publishStyle,
			qcDeliver:   deliverStyle,
			qcTrend:     styles.CellDim,
			qcDLX:       dlxStyle,
			qcDLQ:       lastStyle,
		},
		Nums: []float64{
			qcReady:     readyKey,
			qcUnacked:   unackedKey,
			qcConsumers: consumersKey,
			qcPublish:   publishKey,
			qcDeliver:   deliverKey,
			qcTrend:     math.NaN(),
			qcDrain:     drainKey,
		},
	}
}
