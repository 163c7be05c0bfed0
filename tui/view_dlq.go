package tui

import (
	"context"
	"math"
	"strconv"
	"time"

	"github.com/mqops/mqops/backends"
)

// dlqSample is how many messages the dead-letter groups are computed from.
const dlqSample = 1000

// dlqView is one dead-letter queue: its messages grouped by origin queue,
// reason and exception, from a sample (DeadLetters peeks, it consumes
// nothing). It loads when opened and on `r`; `p` peeks at the messages.
type dlqView struct {
	vhost, name string
	depth       int64 // messages when the list was loaded, until the sample says
	st          rabbitState
	tbl         *table
	sum         summaryLines
}

const (
	lcOrigin = iota
	lcReason
	lcException
	lcCount
	lcFirst
	lcLast
)

func newDLQView(q backends.Queue) *dlqView {
	t := newTable([]column{
		lcOrigin:    {title: "ORIGIN", flex: true, min: 10, shrink: 1},
		lcReason:    {title: "REASON", flex: true, min: 6, max: 16},
		lcException: {title: "EXCEPTION", flex: true, min: 10, shrink: 2},
		lcCount:     {title: "COUNT", right: true, num: true, desc: true},
		lcFirst:     {title: "FIRST", num: true, drop: 1},
		lcLast:      {title: "LAST", num: true, desc: true},
	}, lcCount, true)
	t.empty = "the dead-letter queue is empty"
	return &dlqView{vhost: q.Vhost, name: q.Name, depth: q.Messages, tbl: t}
}

func (v *dlqView) id() string                 { return "dlq/" + queueKey(v.vhost, v.name) }
func (v *dlqView) crumb() string              { return safe(v.name) }
func (v *dlqView) noun() string               { return "groups" }
func (v *dlqView) what() string               { return "dead letters of " + safe(v.name) }
func (v *dlqView) rabbit() *rabbitState       { return &v.st }
func (v *dlqView) periodic() bool             { return false }
func (v *dlqView) build(*dataset, *styles)    {}
func (v *dlqView) builtGen() uint64           { return 0 }
func (v *dlqView) focused() *table            { return v.tbl }
func (v *dlqView) summary(width int) []string { return v.sum.wrap(width) }
func (v *dlqView) togglePane() bool           { return false }
func (v *dlqView) open() (view, bool)         { return v.peek() }
func (v *dlqView) layout(width, height int)   { v.tbl.setSize(width, height) }
func (v *dlqView) body(st *styles) []string   { return v.tbl.view(st, true) }

// peek opens the queue's messages.
func (v *dlqView) peek() (view, bool) { return newPeekView(v.vhost, v.name, v.depth), true }

func (v *dlqView) load(src RabbitSource) func(context.Context) (any, error) {
	vhost, name := v.vhost, v.name
	return func(ctx context.Context) (any, error) {
		s, err := src.DeadLetters(ctx, vhost, name, dlqSample)
		if err != nil || s == nil {
			return nil, err
		}
		return s, nil
	}
}

func (v *dlqView) apply(res any, _ time.Time, st *styles) notice {
	s, _ := res.(*backends.DeadLetterSummary)
	if s == nil {
		return notice{}
	}
	v.depth = max(s.Messages, int64(s.Sampled))
	kv := func(k, val string) string { return st.summaryKey.Render(k+" ") + val }
	sampled := "sampled " + fmtInt(int64(s.Sampled)) + " of " + fmtInt(v.depth) + " messages"
	if int64(s.Sampled) < v.depth {
		sampled += " (counts are of the sample)"
	}
	v.sum = summaryLines{parts: []string{
		kv("vhost", safe(s.Vhost)),
		kv("messages", fmtInt(v.depth)),
		kv("groups", fmtInt(int64(len(s.Groups)))),
		sampled,
	}}
	var n notice
	if s.Warning != "" {
		w := safe(s.Warning)
		v.sum.extra = append(v.sum.extra, st.flashWarn.Render("! "+w))
		n = notice{level: flashWarn, text: w}
	}
	v.sum.extra = append(v.sum.extra, st.dim.Render("p or enter peeks at the messages"))
	rows := make([]row, 0, len(s.Groups))
	for i := range s.Groups {
		g := &s.Groups[i]
		first, firstKey := fmtTime(g.First)
		last, lastKey := fmtTime(g.Last)
		rows = append(rows, row{
			id: g.Origin + "\x00" + g.Reason + "\x00" + g.Exception,
			cells: []string{
				lcOrigin:    safe(orDash(g.Origin)),
				lcReason:    safe(orDash(g.Reason)),
				lcException: safe(orDash(g.Exception)),
				lcCount:     fmtInt(int64(g.Count)),
				lcFirst:     first,
				lcLast:      last,
			},
			styles: []cellStyle{lcReason: reasonStyle(g.Reason), lcException: cellWarn},
			nums: []float64{
				lcCount: float64(g.Count),
				lcFirst: firstKey,
				lcLast:  lastKey,
			},
		})
	}
	v.tbl.setRows(rows)
	return n
}

// reasonStyle colours the dead-letter reasons: rejected (a consumer said
// no) and delivery_limit stand out, expired and maxlen are dim.
func reasonStyle(reason string) cellStyle {
	switch reason {
	case "rejected", "delivery_limit":
		return cellError
	case "expired", "maxlen":
		return cellWarn
	}
	return cellPlain
}

// fmtTime is a timestamp cell and its sort key.
func fmtTime(t time.Time) (string, float64) {
	if t.IsZero() {
		return "-", math.NaN()
	}
	return t.UTC().Format("2006-01-02 15:04:05"), float64(t.Unix())
}

func itoa(n int) string { return strconv.Itoa(n) }
