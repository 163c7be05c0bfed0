package tui

import (
	"context"
	"math"
	"time"

	"github.com/mqops/mqops/backends"
)

// queuesView lists the RabbitMQ queues (:queues) or only the dead-letter
// queues (:dlq). It keeps each queue's backlog (ready + unacked) across
// refreshes for the trend column.
type queuesView struct {
	dlqOnly bool
	st      rabbitState
	tbl     *table
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

func newQueueListTable(dlqOnly bool) *table {
	last := column{title: "DLQ", drop: 6}
	if dlqOnly {
		last = column{title: "DETECTED BY", flex: true, min: 16, shrink: 2, drop: 6}
	}
	t := newTable([]column{
		qcVhost:     {title: "VHOST", flex: true, min: 7, max: 16, shrink: 2, drop: 7},
		qcName:      {title: "NAME", flex: true, name: true, min: 12},
		qcType:      {title: "TYPE", drop: 10},
		qcReady:     {title: "READY", right: true, num: true, desc: true},
		qcUnacked:   {title: "UNACKED", right: true, num: true, desc: true, drop: 4},
		qcConsumers: {title: "CONSUMERS", right: true, num: true, desc: true, drop: 3},
		qcPublish:   {title: "PUB/S", right: true, num: true, desc: true, drop: 8},
		qcDeliver:   {title: "DELIVER/S", right: true, num: true, desc: true, drop: 9},
		qcTrend:     {title: "TREND", plain: true, drop: 12},
		qcDrain:     {title: "TO DRAIN", right: true, num: true, desc: true, drop: 5},
		qcDLX:       {title: "DLX", flex: true, min: 9, max: 24, shrink: 3, drop: 11},
		qcDLQ:       last,
	}, qcReady, true)
	t.empty = "no queues"
	if dlqOnly {
		t.cols[qcDLX].drop = 13 // a DLQ rarely dead-letters: its DLX goes first
		t.empty = "no dead-letter queues (none bound to a dead-letter exchange nor named like one)"
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

func (v *queuesView) what() string             { return v.noun() }
func (v *queuesView) rabbit() *rabbitState     { return &v.st }
func (v *queuesView) periodic() bool           { return true }
func (v *queuesView) build(*dataset, *styles)  {}
func (v *queuesView) builtGen() uint64         { return 0 }
func (v *queuesView) focused() *table          { return v.tbl }
func (v *queuesView) summary(int) []string     { return nil }
func (v *queuesView) togglePane() bool         { return false }
func (v *queuesView) layout(width, height int) { v.tbl.setSize(width, height) }
func (v *queuesView) body(st *styles) []string { return v.tbl.view(st, true) }

func (v *queuesView) load(src RabbitSource) func(context.Context) (any, error) {
	return func(ctx context.Context) (any, error) {
		qs, err := src.Queues(ctx)
		if err != nil {
			return nil, err
		}
		if qs == nil {
			qs = []backends.Queue{}
		}
		return qs, nil
	}
}

func (v *queuesView) selectedQueue() (backends.Queue, bool) {
	r, ok := v.tbl.selected()
	if !ok {
		return backends.Queue{}, false
	}
	q, ok := v.queues[r.id]
	return q, ok
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
	return newQueueView(q.Vhost, q.Name), true
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

func (v *queuesView) apply(res any, _ time.Time, _ *styles) notice {
	qs, _ := res.([]backends.Queue)
	rows := make([]row, 0, len(qs))
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
	v.tbl.setRows(rows)
	return notice{}
}

// countCell is a count of the management API as a cell, with its style
// and sort key; one that came out of range is its raw text flagged with ?
// (warning style), and sorts as missing.
func countCell(q *backends.Queue, field string, n int64, style cellStyle) (string, cellStyle, float64) {
	if raw, bad := q.Invalid[field]; bad {
		return safe(raw) + "?", cellWarn, math.NaN()
	}
	return fmtInt(n), style, float64(n)
}

// rateCell is countCell for a rate.
func rateCell(q *backends.Queue, field string, r float64) (string, cellStyle, float64) {
	if raw, bad := q.Invalid[field]; bad {
		return safe(raw) + "?", cellWarn, math.NaN()
	}
	return fmtRate(r), cellPlain, r
}

func queueRow(id string, q *backends.Queue, hist []int64, dlqOnly bool) row {
	messages, depthOK := q.Depth()
	drainCell, drainKey := "-", math.NaN()
	if net := q.DeliverRate - q.PublishRate; net > 0 && messages > 0 && depthOK && q.Valid("deliver_rate") && q.Valid("publish_rate") {
		d := time.Duration(float64(messages) / net * float64(time.Second))
		drainCell, drainKey = fmtDuration(d), float64(d)
	}
	dlx, dlxStyle := "-", cellDim
	if q.HasDeadLetterExchange {
		dlx, dlxStyle = safe(q.DeadLetterExchange), cellPlain
		if q.DeadLetterExchange == "" {
			dlx = "(default)"
		}
	}
	last, lastStyle := "", cellPlain
	if dlqOnly {
		last = safe(orDash(q.DLQReason))
		lastStyle = cellDim
	} else if q.IsDLQ {
		last, lastStyle = "DLQ", cellWarn
	}
	consumersStyle := cellPlain
	if q.Consumers == 0 && messages > 0 && !q.IsDLQ {
		consumersStyle = cellStop // a backlog nobody consumes
	}
	ready, readyStyle, readyKey := countCell(q, "ready", q.Ready, cellPlain)
	unacked, unackedStyle, unackedKey := countCell(q, "unacked", q.Unacked, cellPlain)
	consumers, consumersStyle, consumersKey := countCell(q, "consumers", q.Consumers, consumersStyle)
	publish, publishStyle, publishKey := rateCell(q, "publish_rate", q.PublishRate)
	deliver, deliverStyle, deliverKey := rateCell(q, "deliver_rate", q.DeliverRate)
	return row{
		id:  id,
		ref: id,
		cells: []string{
			qcVhost:     safe(q.Vhost),
			qcName:      safe(q.Name),
			qcType:      safe(orDash(q.Type)),
			qcReady:     ready,
			qcUnacked:   unacked,
			qcConsumers: consumers,
			qcPublish:   publish,
			qcDeliver:   deliver,
			qcTrend:     sparkline(hist, sparkWidth),
			qcDrain:     drainCell,
			qcDLX:       dlx,
			qcDLQ:       last,
		},
		styles: []cellStyle{
			qcVhost:     cellDim,
			qcReady:     readyStyle,
			qcUnacked:   unackedStyle,
			qcConsumers: consumersStyle,
			qcPublish:   publishStyle,
			qcDeliver:   deliverStyle,
			qcTrend:     cellDim,
			qcDLX:       dlxStyle,
			qcDLQ:       lastStyle,
		},
		nums: []float64{
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
