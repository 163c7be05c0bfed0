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

// peekPanes is the layout the peek views share (RabbitMQ messages, Kafka
// records): the page's list in the upper pane, the selected item's lines in
// the lower one (tab switches), the summary above.
type peekPanes struct {
	list        *table
	detail      *table
	onDetail    bool
	details     map[string][]row // detail lines by list row id
	shown       string           // list row whose lines are in detail
	sum         summaryLines
	detailTitle string
	// titleOf is the title of the lower pane for the selected row.
	titleOf func(r *row) string
}

func newPeekPanes(cols []column, sortCol int, empty, detailEmpty string, titleOf func(r *row) string) peekPanes {
	list := newTable(cols, sortCol, false)
	list.empty = empty
	detail := newTable([]column{
		fcField: {title: "FIELD", nosort: true},
		fcValue: {title: "VALUE", flex: true, min: 10, nosort: true},
	}, -1, false)
	detail.empty = detailEmpty
	return peekPanes{list: list, detail: detail, details: map[string][]row{}, titleOf: titleOf}
}

func (p *peekPanes) noun(items string) string {
	if p.onDetail {
		return "lines"
	}
	return items
}

func (p *peekPanes) focused() *table {
	if p.onDetail {
		return p.detail
	}
	return p.list
}

func (p *peekPanes) togglePane() bool {
	p.onDetail = !p.onDetail
	return true
}

func (p *peekPanes) summary(width int) []string { return p.sum.wrap(width) }

// setPage installs a page's rows and their detail lines; the cursor stays
// on the same row id when it is still there.
func (p *peekPanes) setPage(rows []row, details map[string][]row) {
	p.details = details
	p.shown = "\x00" // the detail follows the new rows in layout
	p.list.setRows(rows)
	if p.list.selectedID() == "" || p.list.cursor >= len(rows) {
		p.list.top()
	}
}

// layout gives the list up to a third of the body and the rest to the
// selected item, under a title line; the item shown follows the list's
// cursor.
func (p *peekPanes) layout(width, height int) {
	if id := p.list.selectedID(); id != p.shown {
		p.shown = id
		p.detail.setRows(p.details[id])
		p.detail.top()
	}
	lh := min(p.list.len()+1, max(height/3, 3))
	if height < 6 {
		lh = height
	}
	dh := max(height-lh-1, 0)
	p.list.setSize(width, lh)
	p.detail.setSize(width, dh)
}

func (p *peekPanes) body(st *styles) []string {
	lines := p.list.view(st, !p.onDetail)
	for len(lines) < p.list.height {
		lines = append(lines, "")
	}
	if p.detail.height > 0 {
		title := p.detailTitle
		if r, ok := p.list.selected(); ok {
			title = p.titleOf(r)
		}
		if p.onDetail {
			title = "▸ " + title
		}
		lines = append(lines, st.sectionTitle.Render(title))
		lines = append(lines, p.detail.view(st, p.onDetail)...)
	}
	return lines
}

// peekView shows a page of a queue's messages (Peek: got and requeued,
// nothing consumed) in the peek panes. `]` and `[` turn the pages. It loads
// when opened, on a page turn and on `r`.
type peekView struct {
	peekPanes
	vhost, name string
	total       int64 // queue depth when opened (0: unknown)
	pageCursor
	st rabbitState
}

// pageCursor is where a peek is in its pages: the page shown, the one
// asked for, and how many items the shown page holds.
type pageCursor struct {
	page  int // page shown
	want  int // page requested
	count int // items on the page shown
}

// loadFailed goes back to the page shown.
func (c *pageCursor) loadFailed() { c.want = c.page }

// step asks for the next (dir > 0) or previous page of items (the noun);
// it refuses to go before the first page or past a short (last) page.
func (c *pageCursor) step(dir int, loaded bool, noun string) (bool, notice) {
	next := c.want + dir
	switch {
	case next < 0:
		return false, notice{flashInfo, "already on the first page"}
	case dir > 0 && loaded && c.want == c.page && c.count < peekPageSize:
		return false, notice{flashInfo, "last page: no " + noun + " after #" + itoa(c.page*peekPageSize+c.count-1)}
	}
	return true, notice{}
}

// arrived records a page that arrived with n items; an empty page after the
// first is refused with a notice ending in why, and the cursor stays.
func (c *pageCursor) arrived(page, n int, noun, why string) (bool, notice) {
	if n == 0 && page > 0 {
		c.want = c.page
		return false, notice{flashInfo, "no " + noun + " after #" + itoa(c.page*peekPageSize+c.count-1) + ": " + why}
	}
	c.page, c.want, c.count = page, page, n
	return true, notice{}
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
	cols := []column{
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
	}
	panes := newPeekPanes(cols, mcIndex, "no messages on this page", "select a message",
		func(r *row) string { return "message " + r.cells[mcIndex] })
	return &peekView{peekPanes: panes, vhost: vhost, name: name, total: total}
}

func (v *peekView) id() string              { return "peek/" + queueKey(v.vhost, v.name) }
func (v *peekView) crumb() string           { return "peek" }
func (v *peekView) what() string            { return "messages of " + safe(v.name) }
func (v *peekView) rabbit() *rabbitState    { return &v.st }
func (v *peekView) periodic() bool          { return false }
func (v *peekView) build(*dataset, *styles) {}
func (v *peekView) builtGen() uint64        { return 0 }
func (v *peekView) open() (view, bool)      { return nil, false }
func (v *peekView) noun() string            { return v.peekPanes.noun("messages") }

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

// turn asks for the next (dir > 0) or previous page.
func (v *peekView) turn(dir int) (bool, notice) {
	if ok, n := v.step(dir, v.st.loaded, "messages"); !ok {
		return false, n
	}
	v.want += dir
	return true, notice{}
}

func (v *peekView) apply(res any, _ time.Time, st *styles) notice {
	r, _ := res.(*peekResult)
	if r == nil {
		return notice{}
	}
	if ok, n := v.arrived(r.page, len(r.msgs), "messages", "the queue is shorter now"); !ok {
		return n
	}
	if v.total < int64(r.page*peekPageSize+len(r.msgs)) {
		v.total = int64(r.page*peekPageSize + len(r.msgs))
	}
	rows := make([]row, 0, len(r.msgs))
	details := make(map[string][]row, len(r.msgs))
	for i := range r.msgs {
		m := &r.msgs[i]
		id := itoa(m.Index)
		rows = append(rows, messageRow(id, m))
		details[id] = messageDetail(m)
	}
	v.setPage(rows, details)

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
	return renderBytes(m.Body, max(m.Size, len(m.Body)), m.Truncated, m.ContentType)
}

// renderBytes renders a body of size bytes of which body is what was read
// (truncated: the reader cut it).
func renderBytes(body []byte, size int, truncated bool, contentType string) (desc string, lines []string, st cellStyle) {
	truncated = truncated || size > len(body)
	if len(body) > maxBodyShown {
		body, truncated = body[:maxBodyShown], true
	}
	desc = fmtBytes(size)
	if contentType != "" {
		desc += " · " + safe(contentType)
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
