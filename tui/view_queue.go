package tui

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/tui/components"
	"github.com/mqops/mqops/tui/keys"
	"github.com/mqops/mqops/tui/styles"
)

// queueView is one RabbitMQ queue: its arguments, policy, bindings and
// consumers, from one QueueDetail call.
type queueView struct {
	vhost, name string // raw, as the broker spells them
	dlq         bool   // the list it was opened from detected a dead-letter queue
	st          loadState
	tbl         *components.Table
	sum         components.Summary
}

const (
	dcKind = iota
	dcName
	dcValue
)

func newQueueView(vhost, name string) *queueView {
	t := components.NewTable([]components.Column{
		dcKind:  {Title: "KIND", NoSort: true},
		dcName:  {Title: "NAME", Flex: true, Name: true, Min: 12, Max: 48, NoSort: true},
		dcValue: {Title: "VALUE", Flex: true, Min: 12, Shrink: 2, NoSort: true},
	}, -1, false)
	t.Empty = "no arguments, policy, bindings nor consumers"
	return &queueView{vhost: vhost, name: name, tbl: t}
}

func (v *queueView) id() string                      { return "queue/" + queueKey(v.vhost, v.name) }
func (v *queueView) crumb() string                   { return safe(v.name) }
func (v *queueView) noun() string                    { return "entries" }
func (v *queueView) what() string                    { return "queue " + safe(v.name) }
func (v *queueView) focused() *components.Table      { return v.tbl }
func (v *queueView) summary(width int) []string      { return v.sum.Wrap(width) }
func (v *queueView) togglePane() bool                { return false }
func (v *queueView) open() (view, bool)              { return nil, false }
func (v *queueView) layout(width, height int)        { v.tbl.SetSize(width, height) }
func (v *queueView) body(st *styles.Styles) []string { return v.tbl.View(st, true) }

// keys: D drains the queue when it is a dead-letter queue.
func (v *queueView) keys(k *keys.Map) []keys.Binding {
	if !v.dlq {
		return nil
	}
	return []keys.Binding{k.Drain}
}

// source: the queue's detail, refreshed on the schedule.
func (v *queueView) source(m *Model) source {
	vhost, name := v.vhost, v.name
	return m.rabbitSource(v.what(), true, &v.st, func(src RabbitSource) fetchFunc {
		return fetching(func(ctx context.Context) (*backends.QueueDetail, error) {
			return src.QueueDetail(ctx, vhost, name)
		}, v.apply)
	})
}

func (v *queueView) apply(d *backends.QueueDetail, _ time.Time, st *styles.Styles) notice {
	q := &d.Queue
	v.sum = queueSummary(q, st)
	var rows []components.Row
	add := func(kind, name, value string, s styles.CellStyle) {
		rows = append(rows, components.Row{
			ID:     kind + "\x00" + name + "\x00" + fmt.Sprint(len(rows)),
			Cells:  []string{dcKind: kind, dcName: name, dcValue: value},
			Styles: []styles.CellStyle{dcKind: styles.CellDim, dcValue: s},
		})
	}
	for _, k := range sortedKeys(q.Arguments) {
		add("argument", safe(k), fmtValue(q.Arguments[k]), styles.CellPlain)
	}
	if q.Policy != "" {
		add("policy", safe(q.Policy), fmtInt(int64(len(q.PolicyDefinition)))+" key(s)", styles.CellDim)
		for _, k := range sortedKeys(q.PolicyDefinition) {
			add("policy def", safe(k), fmtValue(q.PolicyDefinition[k]), styles.CellPlain)
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
		add("binding", safe(src)+" → "+safe(b.Destination), value, styles.CellPlain)
	}
	for _, c := range d.Consumers {
		ack := "auto-ack"
		if c.AckRequired {
			ack = "manual ack"
		}
		value := "connection " + safe(orDash(c.Connection)) + " · channel " + safe(orDash(c.Channel)) +
			" · " + ack + " · prefetch " + fmtInt(c.Prefetch)
		add("consumer", safe(orDash(c.Tag)), value, styles.CellPlain)
	}
	if len(d.Consumers) == 0 {
		s := styles.CellDim
		if q.Messages > 0 && !q.IsDLQ {
			s = styles.CellStop
		}
		add("consumer", "-", "no consumers", s)
	}
	v.tbl.SetRows(rows)
	return notice{}
}

func queueSummary(q *backends.Queue, st *styles.Styles) components.Summary {
	kv := func(k, v string) string { return st.SummaryKey.Render(k+" ") + v }
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
		c, style, _ := countCell(q, field, n, styles.CellPlain)
		return st.Cells[style].Render(c)
	}
	rate := func(field string, r float64) string {
		c, style, _ := rateCell(q, field, r)
		return st.Cells[style].Render(c)
	}
	sum := components.Summary{Parts: []string{
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
		sum.Extra = append(sum.Extra, st.Cells[styles.CellWarn].Render("dead-letter queue ("+safe(q.DLQReason)+"): :dlq lists its dead-letter groups"))
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
