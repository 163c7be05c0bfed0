package tui

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mqops/mqops/backends"
)

// queueView is one RabbitMQ queue: its arguments, policy, bindings and
// consumers, from one QueueDetail call.
type queueView struct {
	vhost, name string // raw, as the broker spells them
	st          rabbitState
	tbl         *table
	sum         summaryLines
}

const (
	dcKind = iota
	dcName
	dcValue
)

func newQueueView(vhost, name string) *queueView {
	t := newTable([]column{
		dcKind:  {title: "KIND", nosort: true},
		dcName:  {title: "NAME", flex: true, name: true, min: 12, max: 48, nosort: true},
		dcValue: {title: "VALUE", flex: true, min: 12, shrink: 2, nosort: true},
	}, -1, false)
	t.empty = "no arguments, policy, bindings nor consumers"
	return &queueView{vhost: vhost, name: name, tbl: t}
}

func (v *queueView) id() string                 { return "queue/" + queueKey(v.vhost, v.name) }
func (v *queueView) crumb() string              { return safe(v.name) }
func (v *queueView) noun() string               { return "entries" }
func (v *queueView) what() string               { return "queue " + safe(v.name) }
func (v *queueView) rabbit() *rabbitState       { return &v.st }
func (v *queueView) periodic() bool             { return true }
func (v *queueView) build(*dataset, *styles)    {}
func (v *queueView) builtGen() uint64           { return 0 }
func (v *queueView) focused() *table            { return v.tbl }
func (v *queueView) summary(width int) []string { return v.sum.wrap(width) }
func (v *queueView) togglePane() bool           { return false }
func (v *queueView) open() (view, bool)         { return nil, false }
func (v *queueView) layout(width, height int)   { v.tbl.setSize(width, height) }
func (v *queueView) body(st *styles) []string   { return v.tbl.view(st, true) }

func (v *queueView) load(src RabbitSource) func(context.Context) (any, error) {
	vhost, name := v.vhost, v.name
	return func(ctx context.Context) (any, error) {
		d, err := src.QueueDetail(ctx, vhost, name)
		if err != nil || d == nil {
			return nil, err
		}
		return d, nil
	}
}

func (v *queueView) apply(res any, _ time.Time, st *styles) notice {
	d, _ := res.(*backends.QueueDetail)
	if d == nil {
		return notice{}
	}
	q := &d.Queue
	v.sum = queueSummary(q, st)
	var rows []row
	add := func(kind, name, value string, s cellStyle) {
		rows = append(rows, row{
			id:     kind + "\x00" + name + "\x00" + fmt.Sprint(len(rows)),
			cells:  []string{dcKind: kind, dcName: name, dcValue: value},
			styles: []cellStyle{dcKind: cellDim, dcValue: s},
		})
	}
	for _, k := range sortedKeys(q.Arguments) {
		add("argument", safe(k), fmtValue(q.Arguments[k]), cellPlain)
	}
	if q.Policy != "" {
		add("policy", safe(q.Policy), fmtInt(int64(len(q.PolicyDefinition)))+" key(s)", cellDim)
		for _, k := range sortedKeys(q.PolicyDefinition) {
			add("policy def", safe(k), fmtValue(q.PolicyDefinition[k]), cellPlain)
		}
	}
	for _, b := range d.Bindings {
		src := b.Source
		if src == "" {
			src = "(default)"
		}
		value := "routing key " + quoteSafe(b.RoutingKey)
		if len(b.Arguments) > 0 {
			value += " · arguments " + fmtValue(b.Arguments)
		}
		add("binding", safe(src)+" → "+safe(b.Destination), value, cellPlain)
	}
	for _, c := range d.Consumers {
		ack := "auto-ack"
		if c.AckRequired {
			ack = "manual ack"
		}
		value := "connection " + safe(orDash(c.Connection)) + " · channel " + safe(orDash(c.Channel)) +
			" · " + ack + " · prefetch " + fmtInt(c.Prefetch)
		add("consumer", safe(orDash(c.Tag)), value, cellPlain)
	}
	if len(d.Consumers) == 0 {
		s := cellDim
		if q.Messages > 0 && !q.IsDLQ {
			s = cellStop
		}
		add("consumer", "-", "no consumers", s)
	}
	v.tbl.setRows(rows)
	return notice{}
}

func queueSummary(q *backends.Queue, st *styles) summaryLines {
	kv := func(k, v string) string { return st.summaryKey.Render(k+" ") + v }
	dlx := "-"
	if q.HasDeadLetterExchange {
		dlx = safe(q.DeadLetterExchange)
		if q.DeadLetterExchange == "" {
			dlx = "(default)"
		}
		if q.DeadLetterRoutingKey != "" {
			dlx += " (routing key " + safe(q.DeadLetterRoutingKey) + ")"
		}
	}
	limit := "-"
	if q.DeliveryLimit != nil {
		limit = fmtInt(*q.DeliveryLimit)
	}
	num := func(field string, n int64) string {
		c, style, _ := countCell(q, field, n, cellPlain)
		return st.cells[style].Render(c)
	}
	rate := func(field string, r float64) string {
		c, style, _ := rateCell(q, field, r)
		return st.cells[style].Render(c)
	}
	sum := summaryLines{parts: []string{
		kv("vhost", safe(q.Vhost)),
		kv("type", safe(orDash(q.Type))),
		kv("state", safe(orDash(q.State))),
		kv("ready", num("ready", q.Ready)),
		kv("unacked", num("unacked", q.Unacked)),
		kv("consumers", num("consumers", q.Consumers)),
		kv("publish/s", rate("publish_rate", q.PublishRate)),
		kv("deliver/s", rate("deliver_rate", q.DeliverRate)),
		kv("ack/s", rate("ack_rate", q.AckRate)),
		kv("policy", safe(orDash(q.Policy))),
		kv("dead-letter exchange", dlx),
		kv("delivery limit", limit),
	}}
	if q.IsDLQ {
		sum.extra = append(sum.extra, st.cells[cellWarn].Render("dead-letter queue ("+safe(q.DLQReason)+"): :dlq lists its dead-letter groups"))
	}
	return sum
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// fmtValue formats a decoded JSON or AMQP value on one line, sanitized.
func fmtValue(v any) string {
	switch x := v.(type) {
	case string:
		return quoteSafe(x)
	case []byte:
		return safe(string(x))
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return safe(fmt.Sprint(v))
	}
	return safe(string(b))
}

// quoteSafe shows an empty string as "" so that it is not mistaken for a
// missing value.
func quoteSafe(s string) string {
	if s == "" {
		return `""`
	}
	if strings.TrimSpace(s) != s {
		return `"` + safe(s) + `"`
	}
	return safe(s)
}
