package tui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mqops/mqops/backends"
)

// Peek view limits.
const (
	peekPageSize  = 20      // messages per page
	maxBodyShown  = 1 << 20 // bytes of a body rendered
	maxBodyLines  = 5000    // lines of a body rendered
	hexDumpBytes  = 256     // bytes of a binary body shown
	hexDumpPerRow = 16
)

// peekView shows a page of a queue's messages (Peek: got and requeued,
// nothing consumed): the list in the upper pane, the selected message in
// the lower one (tab switches). `]` and `[` turn the pages. It loads when
// opened, on a page turn and on `r`.
type peekView struct {
	vhost, name string
	total       int64 // queue depth when opened (0: unknown)
	page        int   // page shown
	want        int   // page requested
	count       int   // messages on the page shown
	st          rabbitState
	list        *table
	detail      *table
	onDetail    bool
	details     map[string][]row // detail lines by message row id
	shown       string           // message whose lines are in detail
	sum         summaryLines
	detailTitle string
}

// peekResult is one page of messages.
type peekResult struct {
	page    int
	msgs    []backends.Message
	warning string
}

const (
	mcIndex = iota
	mcID
	mcRoutingKey
	mcExchange
	mcRedelivered
	mcTimestamp
	mcOrigin
	mcReason
	mcDeaths
	mcSize
)

const (
	fcField = iota
	fcValue
)

func newPeekView(vhost, name string, total int64) *peekView {
	list := newTable([]column{
		mcIndex:       {title: "#", right: true, num: true},
		mcID:          {title: "MESSAGE ID", flex: true, min: 8, max: 36, shrink: 2},
		mcRoutingKey:  {title: "ROUTING KEY", flex: true, min: 8, max: 30, shrink: 1},
		mcExchange:    {title: "EXCHANGE", flex: true, min: 6, max: 24, shrink: 1, drop: 2},
		mcRedelivered: {title: "REDELIV", drop: 3},
		mcTimestamp:   {title: "TIMESTAMP", num: true, desc: true, drop: 1},
		mcOrigin:      {title: "ORIGIN", flex: true, min: 6, max: 24, shrink: 1},
		mcReason:      {title: "REASON", flex: true, min: 6, max: 16},
		mcDeaths:      {title: "DEATHS", right: true, num: true, desc: true},
		mcSize:        {title: "SIZE", right: true, num: true, desc: true},
	}, mcIndex, false)
	list.empty = "no messages on this page"
	detail := newTable([]column{
		fcField: {title: "FIELD", nosort: true},
		fcValue: {title: "VALUE", flex: true, min: 10, nosort: true},
	}, -1, false)
	detail.empty = "select a message"
	return &peekView{vhost: vhost, name: name, total: total, list: list, detail: detail, details: map[string][]row{}}
}

func (v *peekView) id() string              { return "peek/" + queueKey(v.vhost, v.name) }
func (v *peekView) crumb() string           { return "peek" }
func (v *peekView) what() string            { return "messages of " + safe(v.name) }
func (v *peekView) rabbit() *rabbitState    { return &v.st }
func (v *peekView) periodic() bool          { return false }
func (v *peekView) build(*dataset, *styles) {}
func (v *peekView) builtGen() uint64        { return 0 }
func (v *peekView) open() (view, bool)      { return nil, false }

func (v *peekView) noun() string {
	if v.onDetail {
		return "lines"
	}
	return "messages"
}

func (v *peekView) focused() *table {
	if v.onDetail {
		return v.detail
	}
	return v.list
}

func (v *peekView) togglePane() bool {
	v.onDetail = !v.onDetail
	return true
}

func (v *peekView) summary(width int) []string { return v.sum.wrap(width) }

func (v *peekView) load(src RabbitSource) func(context.Context) (any, error) {
	vhost, name, page := v.vhost, v.name, v.want
	return func(ctx context.Context) (any, error) {
		msgs, warning, err := src.Peek(ctx, vhost, name, page*peekPageSize, peekPageSize)
		if err != nil {
			return nil, err
		}
		return &peekResult{page: page, msgs: msgs, warning: warning}, nil
	}
}

// loadFailed goes back to the page shown.
func (v *peekView) loadFailed() { v.want = v.page }

// turn asks for the next (dir > 0) or previous page.
func (v *peekView) turn(dir int) (bool, notice) {
	next := v.want + dir
	switch {
	case next < 0:
		return false, notice{flashInfo, "already on the first page"}
	case dir > 0 && v.st.loaded && v.want == v.page && v.count < peekPageSize:
		return false, notice{flashInfo, "last page: no messages after #" + itoa(v.page*peekPageSize+v.count-1)}
	}
	v.want = next
	return true, notice{}
}

// layout gives the message list up to a third of the body and the rest to
// the selected message, under a title line; the message shown follows the
// list's cursor.
func (v *peekView) layout(width, height int) {
	if id := v.list.selectedID(); id != v.shown {
		v.shown = id
		v.detail.setRows(v.details[id])
		v.detail.top()
	}
	lh := min(v.list.len()+1, max(height/3, 3))
	if height < 6 {
		lh = height
	}
	dh := max(height-lh-1, 0)
	v.list.setSize(width, lh)
	v.detail.setSize(width, dh)
}

func (v *peekView) body(st *styles) []string {
	lines := v.list.view(st, !v.onDetail)
	for len(lines) < v.list.height {
		lines = append(lines, "")
	}
	if v.detail.height > 0 {
		title := v.detailTitle
		if r, ok := v.list.selected(); ok {
			title = "message " + r.cells[mcIndex]
		}
		if v.onDetail {
			title = "▸ " + title
		}
		lines = append(lines, st.sectionTitle.Render(title))
		lines = append(lines, v.detail.view(st, v.onDetail)...)
	}
	return lines
}

func (v *peekView) apply(res any, _ time.Time, st *styles) notice {
	r, _ := res.(*peekResult)
	if r == nil {
		return notice{}
	}
	if len(r.msgs) == 0 && r.page > 0 {
		v.want = v.page
		return notice{flashInfo, "no messages after #" + itoa(v.page*peekPageSize+v.count-1) + ": the queue is shorter now"}
	}
	v.page, v.want, v.count = r.page, r.page, len(r.msgs)
	if v.total < int64(r.page*peekPageSize+len(r.msgs)) {
		v.total = int64(r.page*peekPageSize + len(r.msgs))
	}
	rows := make([]row, 0, len(r.msgs))
	v.details = make(map[string][]row, len(r.msgs))
	for i := range r.msgs {
		m := &r.msgs[i]
		id := itoa(m.Index)
		rows = append(rows, messageRow(id, m))
		v.details[id] = messageDetail(m)
	}
	v.shown = "\x00" // the detail follows the new rows in layout
	v.list.setRows(rows)
	if v.list.selectedID() == "" || v.list.cursor >= len(rows) {
		v.list.top()
	}

	kv := func(k, val string) string { return st.summaryKey.Render(k+" ") + val }
	// Indexes count from 0, as in the # column.
	first, last := r.page*peekPageSize, r.page*peekPageSize+len(r.msgs)-1
	span := "-"
	if len(r.msgs) > 0 {
		span = "#" + itoa(first) + "–#" + itoa(last)
	}
	pages := "?"
	if v.total > 0 {
		pages = itoa(int((v.total + peekPageSize - 1) / peekPageSize))
	}
	v.sum = summaryLines{parts: []string{
		kv("vhost", safe(v.vhost)),
		kv("queue", safe(v.name)),
		kv("page", itoa(r.page+1)+" of "+pages),
		kv("messages", span+" of "+fmtInt(v.total)),
		st.dim.Render("] next page · [ previous · tab message/list · nothing is consumed"),
	}}
	if r.warning != "" {
		w := safe(r.warning)
		v.sum.extra = append(v.sum.extra, st.flashWarn.Render("! "+w))
		return notice{flashWarn, w}
	}
	return notice{}
}

func messageRow(id string, m *backends.Message) row {
	origin, reason := m.Origin()
	var deaths int64
	for _, d := range m.Deaths {
		deaths += d.Count
	}
	ts, tsKey := fmtTime(m.Timestamp)
	redelivered := "no"
	if m.Redelivered {
		redelivered = "yes"
	}
	size := max(m.Size, len(m.Body))
	return row{
		id: id,
		cells: []string{
			mcIndex:       id,
			mcID:          safe(orDash(m.MessageID)),
			mcRoutingKey:  quoteSafe(m.RoutingKey),
			mcExchange:    safe(orDash(m.Exchange)),
			mcRedelivered: redelivered,
			mcTimestamp:   ts,
			mcOrigin:      safe(orDash(origin)),
			mcReason:      safe(orDash(reason)),
			mcDeaths:      fmtInt(deaths),
			mcSize:        fmtBytes(size),
		},
		styles: []cellStyle{mcReason: reasonStyle(reason)},
		nums: []float64{
			mcIndex:     float64(m.Index),
			mcTimestamp: tsKey,
			mcDeaths:    float64(deaths),
			mcSize:      float64(size),
		},
	}
}

// messageDetail is the selected message, one field or body line a row,
// everything sanitized.
func messageDetail(m *backends.Message) []row {
	var rows []row
	add := func(field, value string, s cellStyle) {
		rows = append(rows, row{
			id:     itoa(len(rows)),
			cells:  []string{fcField: field, fcValue: value},
			styles: []cellStyle{fcField: cellDim, fcValue: s},
		})
	}
	// Identity, routing and properties: one line each.
	id := "#" + itoa(m.Index) + " · id " + safe(orDash(m.MessageID))
	if m.CorrelationID != "" {
		id += " · correlation id " + safe(m.CorrelationID)
	}
	add("message", id, cellPlain)
	redelivered := "no"
	if m.Redelivered {
		redelivered = "yes"
	}
	add("routing", "exchange "+quoteSafe(m.Exchange)+" · routing key "+quoteSafe(m.RoutingKey)+" · redelivered "+redelivered, cellPlain)
	ts, _ := fmtTime(m.Timestamp)
	props := []string{"timestamp " + ts}
	if m.DeliveryMode > 0 {
		props = append(props, "delivery mode "+itoa(int(m.DeliveryMode)))
	}
	for _, p := range [][2]string{
		{"content type", m.ContentType}, {"encoding", m.Encoding}, {"app id", m.AppID}, {"type", m.Type},
		{"reply to", m.ReplyTo}, {"user id", m.UserID}, {"expiration", m.Expiration},
	} {
		if p[1] != "" {
			props = append(props, p[0]+" "+safe(p[1]))
		}
	}
	if m.Priority > 0 {
		props = append(props, "priority "+itoa(int(m.Priority)))
	}
	add("properties", strings.Join(props, " · "), cellPlain)
	for _, k := range sortedKeys(m.Headers) {
		switch k {
		case "x-death", "x-first-death-queue", "x-first-death-reason", "x-first-death-exchange":
			continue // shown as the death history below
		}
		add("header", safe(k)+": "+fmtValue(m.Headers[k]), cellPlain)
	}
	if m.FirstDeath != nil {
		add("first death", "queue "+quoteSafe(m.FirstDeath.Queue)+" · reason "+safe(orDash(m.FirstDeath.Reason))+
			" · exchange "+quoteSafe(m.FirstDeath.Exchange), reasonStyle(m.FirstDeath.Reason))
	}
	if len(m.Deaths) == 0 {
		add("deaths", "none (no x-death header)", cellDim)
	}
	for i, d := range m.Deaths {
		t, _ := fmtTime(d.Time)
		keys := make([]string, len(d.RoutingKeys))
		for j, k := range d.RoutingKeys {
			keys[j] = quoteSafe(k)
		}
		add("death "+itoa(i+1), "queue "+quoteSafe(d.Queue)+" · "+safe(orDash(d.Reason))+
			" ×"+fmtInt(d.Count)+" · "+t+" · exchange "+quoteSafe(d.Exchange)+
			" · keys "+orDash(strings.Join(keys, ", ")), reasonStyle(d.Reason))
	}
	desc, lines, s := renderBody(m)
	add("body", desc, s)
	for _, l := range lines {
		add("", l, cellPlain)
	}
	return rows
}

// renderBody describes a body and renders it: pretty-printed JSON when it
// parses, sanitized text when it is text, else a hex dump of its first 256
// bytes. Every line is safe to print.
func renderBody(m *backends.Message) (desc string, lines []string, st cellStyle) {
	body := m.Body
	size := max(m.Size, len(body))
	truncated := m.Truncated || size > len(body)
	if len(body) > maxBodyShown {
		body, truncated = body[:maxBodyShown], true
	}
	desc = fmtBytes(size)
	if m.ContentType != "" {
		desc += " · " + safe(m.ContentType)
	}
	if truncated {
		desc += " · truncated: showing the first " + fmtBytes(len(body))
		st = cellWarn
		// A cut may split the last character: drop its bytes.
		for k := 0; k < utf8.UTFMax && len(body) > 0 && !utf8.Valid(body); k++ {
			body = body[:len(body)-1]
		}
	}
	switch {
	case len(body) == 0:
		return desc + " · empty", nil, st
	case !truncated && json.Valid(body):
		var b bytes.Buffer
		if err := json.Indent(&b, body, "", "  "); err == nil {
			return desc + " · JSON", capLines(strings.Split(backends.SafeMultiline(b.String()), "\n")), st
		}
	}
	if isText(body) {
		return desc + " · text", capLines(strings.Split(backends.SafeMultiline(string(body)), "\n")), st
	}
	shown := body[:min(len(body), hexDumpBytes)]
	desc += " · binary: hex dump of the first " + fmtBytes(len(shown))
	return desc, hexDump(shown), st
}

// isText reports whether b is UTF-8 text: no NUL, and few control
// characters besides tab, newline, carriage return and escape (shown
// escaped).
func isText(b []byte) bool {
	if !utf8.Valid(b) || bytes.IndexByte(b, 0) >= 0 {
		return false
	}
	ctrl := 0
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != 0x1b {
			ctrl++
		}
	}
	return ctrl*20 <= len(b) // at most 5%
}

func capLines(lines []string) []string {
	if len(lines) <= maxBodyLines {
		return lines
	}
	more := len(lines) - maxBodyLines
	return append(lines[:maxBodyLines:maxBodyLines], "… "+fmtInt(int64(more))+" more lines")
}

// hexDump is `hexdump -C` style: offset, 16 bytes in hex, printable ASCII.
func hexDump(b []byte) []string {
	var lines []string
	for off := 0; off < len(b); off += hexDumpPerRow {
		chunk := b[off:min(off+hexDumpPerRow, len(b))]
		var sb strings.Builder
		fmt.Fprintf(&sb, "%08x  ", off)
		for i := 0; i < hexDumpPerRow; i++ {
			if i < len(chunk) {
				fmt.Fprintf(&sb, "%02x ", chunk[i])
			} else {
				sb.WriteString("   ")
			}
			if i == 7 {
				sb.WriteByte(' ')
			}
		}
		sb.WriteString(" |")
		for _, c := range chunk {
			if c >= 0x20 && c < 0x7f {
				sb.WriteByte(c)
			} else {
				sb.WriteByte('.')
			}
		}
		sb.WriteByte('|')
		lines = append(lines, sb.String())
	}
	return lines
}

// fmtBytes is a size: 512 B, 3.4 KiB, 1.0 MiB.
func fmtBytes(n int) string {
	switch {
	case n < 1024:
		return itoa(n) + " B"
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
