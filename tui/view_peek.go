package tui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/tui/components"
	"github.com/mqops/mqops/tui/keys"
	"github.com/mqops/mqops/tui/styles"
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
	list        *components.Table
	detail      *components.Table
	onDetail    bool
	details     map[string][]components.Row // detail lines by list row id
	values      map[string][]fieldValue     // their whole values, for the value viewer
	shown       string                      // list row whose lines are in detail
	sum         components.Summary
	detailTitle string
	// titleOf is the title of the lower pane for the selected row.
	titleOf func(r *components.Row) string
}

func newPeekPanes(cols []components.Column, sortCol int, empty, detailEmpty string, titleOf func(r *components.Row) string) peekPanes {
	list := components.NewTable(cols, sortCol, false)
	list.Empty = empty
	detail := components.NewTable([]components.Column{
		fcField: {Title: "FIELD", NoSort: true},
		fcValue: {Title: "VALUE", Flex: true, Min: 10, NoSort: true},
	}, -1, false)
	detail.Empty = detailEmpty
	return peekPanes{list: list, detail: detail, details: map[string][]components.Row{}, titleOf: titleOf}
}

func (p *peekPanes) noun(items string) string {
	if p.onDetail {
		return "lines"
	}
	return items
}

func (p *peekPanes) focused() *components.Table {
	if p.onDetail {
		return p.detail
	}
	return p.list
}

func (p *peekPanes) togglePane() bool {
	p.onDetail = !p.onDetail
	return true
}

// keys are the peek views': the pages and the panes; on the detail pane,
// the selected field's whole value (the value viewer, the clipboard).
func (p *peekPanes) pageKeys(k *keys.Map, item string) []keys.Binding {
	pane := k.Pane.With("switch pane: the list / the selected "+item, item)
	if p.onDetail {
		pane = pane.With("", "list")
	}
	var field []keys.Binding
	if p.onDetail {
		field = []keys.Binding{
			k.Open.With("open the selected field whole (the value viewer)", "value"),
			k.Copy.With("copy the selected field's whole value (OSC 52)", "copy value"),
		}
	}
	return append(field,
		k.NextPage.With("next page of "+item+"s", "next page"),
		k.PrevPage.With("previous page", "previous"),
		pane,
	)
}

func (p *peekPanes) summary(width int) []string { return p.sum.Wrap(width) }

// setPage installs a page's rows and their detail lines; the cursor stays
// on the same row id when it is still there.
func (p *peekPanes) setPage(rows []components.Row, details map[string][]components.Row) {
	p.details = details
	p.shown = "\x00" // the detail follows the new rows in layout
	p.list.SetRows(rows)
	if p.list.SelectedID() == "" || p.list.Cursor() >= len(rows) {
		p.list.Top()
	}
}

// layout gives the list up to a third of the body and the rest to the
// selected item, under a title line; the item shown follows the list's
// cursor. Below peekSplitHeight lines only the focused pane is drawn (the
// detail under its title): j/k always move in a pane on screen.
func (p *peekPanes) layout(width, height int) {
	if id := p.list.SelectedID(); id != p.shown {
		p.shown = id
		p.detail.SetRows(p.details[id])
		p.detail.Top()
	}
	lh := min(p.list.Len()+1, max(height/3, 3))
	if height < peekSplitHeight {
		lh = height
		if p.onDetail {
			lh = 0
		}
	}
	dh := max(height-lh-1, 0)
	p.list.SetSize(width, lh)
	p.detail.SetSize(width, dh)
}

// peekSplitHeight is the least body height that shows both panes of a
// peek or a topic.
const peekSplitHeight = 8

func (p *peekPanes) body(st *styles.Styles) []string {
	var lines []string
	if p.list.Height() > 0 {
		lines = p.list.View(st, !p.onDetail)
	}
	for len(lines) < p.list.Height() {
		lines = append(lines, "")
	}
	if p.detail.Height() > 0 {
		title := p.detailTitle
		if r, ok := p.list.Selected(); ok {
			title = p.titleOf(r)
		}
		if p.onDetail {
			title = "▸ " + title
		}
		lines = append(lines, components.Clip(st.SectionTitle.Render(title), p.detail.Width()))
		lines = append(lines, p.detail.View(st, p.onDetail)...)
	}
	return lines
}

// peekView shows a page of a queue's messages (PeekQueue: got and
// requeued, the queue left as it was) in the peek panes. `]` and `[` turn
// the pages. It loads when opened, on a page turn and on `r`. The header
// gives the depth measured at each page and says when it changed.
//
// A queue that a peek would change (a quorum queue with a delivery limit,
// on a RabbitMQ that counts requeues as delivery attempts) is read only
// when the operator says yes for each page, after a question stating the
// numbers; the pages read are kept, so paging back costs nothing, and each
// message shows the attempts it has left.
type peekView struct {
	peekPanes
	vhost, name string
	total       int64 // queue depth: from the list, then measured at each page (0: unknown)
	pageCursor
	st loadState

	measured bool   // total was measured by a page load
	change   string // how the depth changed since the previous page
	loadedAt time.Time
	styles   *styles.Styles

	// the cost of a peek, once known (a refusal, or an accepted read);
	// ask is the page waiting for the operator's yes, accept the page he
	// said yes to (-1: none); kept are the pages read at that cost, left
	// the attempts each message read has left (by index, where shown).
	risk   *backends.PeekRisk
	ask    int
	accept int
	kept   map[int]*peekResult
	left   map[int]int64
	long   []components.LongLine // the cost and the question, wrapped when drawn
}

func (v *peekView) summary(width int) []string {
	return append(v.peekPanes.summary(width), components.WrapLong(width, v.long)...)
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
		return false, notice{components.FlashInfo, "already on the first page"}
	case dir > 0 && loaded && c.want == c.page && c.count < peekPageSize:
		return false, notice{components.FlashInfo, "last page: no " + noun + " after #" + itoa(c.page*peekPageSize+c.count-1)}
	}
	return true, notice{}
}

// arrived records a page that arrived with n items; an empty page after the
// first is refused with a notice ending in why, and the cursor stays.
func (c *pageCursor) arrived(page, n int, noun, why string) (bool, notice) {
	if n == 0 && page > 0 {
		c.want = c.page
		return false, notice{components.FlashInfo, "no " + noun + " after #" + itoa(c.page*peekPageSize+c.count-1) + ": " + why}
	}
	c.page, c.want, c.count = page, page, n
	return true, notice{}
}

// peekResult is one page of messages, or the refusal to read it.
type peekResult struct {
	page    int
	res     *backends.PeekResult
	refused *backends.PeekRisk
	at      time.Time
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
	mcLeft // shown where each message read costs a delivery attempt
)

const (
	fcField = iota
	fcValue
)

func newPeekView(vhost, name string, total int64) *peekView {
	cols := []components.Column{
		mcIndex:       {Title: "#", Right: true, Num: true},
		mcID:          {Title: "MESSAGE ID", Flex: true, Name: true, Min: 8, Max: 36},
		mcRoutingKey:  {Title: "ROUTING KEY", Flex: true, Min: 8, Max: 30, Shrink: 1, Drop: 4},
		mcExchange:    {Title: "EXCHANGE", Flex: true, Min: 6, Max: 24, Shrink: 1, Drop: 8},
		mcRedelivered: {Title: "REDELIV", Drop: 9},
		mcTimestamp:   {Title: "TIMESTAMP", Num: true, Desc: true, Drop: 7},
		mcOrigin:      {Title: "ORIGIN", Flex: true, Name: true, Min: 8, Max: 36},
		mcReason:      {Title: "REASON", Flex: true, Min: 6, Max: 16},
		mcDeaths:      {Title: "DEATHS", Right: true, Num: true, Desc: true, Drop: 6},
		mcSize:        {Title: "SIZE", Right: true, Num: true, Desc: true, Drop: 5},
	}
	panes := newPeekPanes(cols, mcIndex, "no messages on this page", "select a message",
		func(r *components.Row) string { return "message " + r.Cells[mcIndex] })
	return &peekView{peekPanes: panes, vhost: vhost, name: name, total: total, ask: -1, accept: -1,
		kept: map[int]*peekResult{}, left: map[int]int64{}}
}

func (v *peekView) id() string         { return "peek/" + queueKey(v.vhost, v.name) }
func (v *peekView) crumb() string      { return "peek" }
func (v *peekView) what() string       { return "messages of " + safe(v.name) }
func (v *peekView) open() (view, bool) { return nil, false }
func (v *peekView) noun() string       { return v.peekPanes.noun("messages") }

// keys: ] and [ turn the pages, tab switches the pane.
func (v *peekView) keys(k *keys.Map) []keys.Binding { return v.pageKeys(k, "message") }

// asking says the view waits for the operator's yes to read a page.
func (v *peekView) asking() bool { return v.ask >= 0 }

// questionLines is how many lines the question takes at the end of the
// summary, at width.
func (v *peekView) questionLines(width int) int {
	if !v.asking() || len(v.long) == 0 {
		return 0
	}
	return len(components.WrapLong(width, v.long[len(v.long)-1:]))
}

// hints are the answers to the question, while it waits (nil: the
// console's keys).
func (v *peekView) hints() []key.Binding {
	if !v.asking() {
		return nil
	}
	return []key.Binding{
		key.NewBinding(key.WithHelp("y", "read the page")),
		key.NewBinding(key.WithHelp("any other key", "do not")),
	}
}

// source: the page asked for (got and requeued: the queue is left as it
// was), read when opened, on a page turn and on `r`; a queue that the
// peek would change is refused, unless the operator accepted the cost of
// this page.
func (v *peekView) source(m *Model) source {
	vhost, name, page := v.vhost, v.name, v.want
	accept := v.accept == page
	return m.rabbitSource(v.what(), false, &v.st, func(src RabbitSource) fetchFunc {
		return fetching(func(ctx context.Context) (*peekResult, error) {
			res, err := src.PeekQueue(ctx, vhost, name, backends.PeekOptions{Offset: page * peekPageSize, Limit: peekPageSize, AcceptRisk: accept})
			var re *backends.PeekRiskError
			switch {
			case errors.As(err, &re) && re.Risk != nil:
				return &peekResult{page: page, refused: re.Risk}, nil
			case err != nil:
				return nil, err
			case res == nil:
				return nil, errors.New("the broker returned no page")
			}
			return &peekResult{page: page, res: res}, nil
		}, v.apply)
	})
}

// turn asks for the next (dir > 0) or previous page. A page of a costly
// queue already read is shown as it was read, at no cost; one not read
// yet waits for the operator's yes.
func (v *peekView) turn(dir int) (bool, notice) {
	if v.asking() {
		return false, notice{components.FlashInfo, "answer the question first: y reads the page, any other key does not"}
	}
	if ok, n := v.step(dir, v.st.loaded, "messages"); !ok {
		return false, n
	}
	next := v.want + dir
	if r, ok := v.kept[next]; ok {
		v.want = next
		v.show(r)
		return false, notice{components.FlashInfo, "page " + itoa(next+1) + " as read at " + r.at.Format("15:04:05") + ": showing it again costs nothing"}
	}
	if v.risk != nil && v.risk.Kind == backends.RiskDeliveryLimit {
		v.ask = next
		v.summarize()
		return false, notice{components.FlashWarn, v.question()}
	}
	v.want = next
	return true, notice{}
}

// accepted is the operator's yes: the page asked for is read.
func (v *peekView) accepted() {
	v.accept, v.want, v.ask = v.ask, v.ask, -1
	v.summarize()
}

// declined is any other answer: nothing is read.
func (v *peekView) declined() {
	v.ask, v.want = -1, v.page
	v.summarize()
}

func (v *peekView) apply(r *peekResult, now time.Time, st *styles.Styles) notice {
	v.styles = st
	if r.refused != nil {
		v.risk, v.want = r.refused, v.page
		if v.total == 0 || !v.measured {
			v.total = r.refused.Depth
		}
		if r.refused.Kind != backends.RiskDeliveryLimit {
			v.list.Empty = "not read: " + safe(r.refused.Reason)
			v.summarize()
			return notice{components.FlashError, "not peeked: " + safe(r.refused.Reason)}
		}
		v.ask = r.page
		v.list.Empty = "not read yet: y reads this page"
		v.summarize()
		return notice{components.FlashWarn, v.question()}
	}
	if ok, n := v.arrived(r.page, len(r.res.Messages), "messages", "the queue is shorter now"); !ok {
		return n
	}
	r.at = now
	depth := r.res.Depth
	v.change = ""
	if v.measured && depth != v.total {
		verb, d := "grew", depth-v.total
		if d < 0 {
			verb, d = "shrank", -d
		}
		v.change = verb + " by " + fmtInt(d) + " since the previous page"
	}
	v.total, v.measured = depth, true
	if r.res.Risk != nil {
		v.risk = r.res.Risk
		v.accept = -1
		v.kept[r.page] = r
		// every message read lost one attempt; those of this page say
		// exactly how many they have left
		for i := 0; i < r.res.Read; i++ {
			if l, ok := v.left[i]; ok {
				v.left[i] = l - 1
			}
		}
		for k := range r.res.Messages {
			if l, ok := r.res.Risk.AttemptsLeft(&r.res.Messages[k]); ok {
				v.left[r.res.Messages[k].Index] = l
			}
		}
	}
	v.show(r)
	if r.res.Warning != "" {
		return notice{components.FlashWarn, safe(r.res.Warning)}
	}
	return notice{}
}

// show puts a page read (now, or earlier at a cost) on screen.
func (v *peekView) show(r *peekResult) {
	v.page, v.want, v.count = r.page, r.page, len(r.res.Messages)
	v.loadedAt = r.at
	costly := v.risk != nil && v.risk.Kind == backends.RiskDeliveryLimit
	if costly && v.list.Columns() == mcLeft {
		v.list.AddColumn(components.Column{Title: "LEFT", Right: true, Num: true})
	}
	rows := make([]components.Row, 0, len(r.res.Messages))
	details := make(map[string][]components.Row, len(r.res.Messages))
	values := make(map[string][]fieldValue, len(r.res.Messages))
	for i := range r.res.Messages {
		m := &r.res.Messages[i]
		id := itoa(m.Index)
		left, known := v.left[m.Index]
		if !costly {
			known = false
		}
		rows = append(rows, messageRow(id, m, left, known))
		details[id], values[id] = messageFields(m, v.attemptsLine(m))
	}
	v.setPage(rows, details)
	v.setValues(values)
	v.summarize()
}

// attemptsLine is the delivery attempts line of a message of a costly
// queue ("" for the others).
func (v *peekView) attemptsLine(m *backends.Message) string {
	r := v.risk
	if r == nil || r.Kind != backends.RiskDeliveryLimit {
		return ""
	}
	left, ok := v.left[m.Index]
	if !ok {
		return "delivery limit " + fmtInt(r.DeliveryLimit) + ": this RabbitMQ does not show how many attempts a message has left"
	}
	line := "x-delivery-count " + fmtInt(max(m.DeliveryCount(), 0)) + " when read · delivery limit " + fmtInt(r.DeliveryLimit) + " · "
	switch {
	case left < 0:
		return line + "no attempt left: " + safe(r.OverLimit)
	case left == 0:
		return line + "0 attempts left: the next requeue (a peek, a failed drain) drops or dead-letters it"
	}
	return line + fmtInt(left) + " attempts left"
}

// question states what reading the page asked for costs, in numbers.
func (v *peekView) question() string {
	r := v.risk
	depth := v.total
	if depth <= 0 {
		depth = r.Depth
	}
	reads := min(int64((v.ask+1)*peekPageSize), depth)
	q := "Peek at page " + itoa(v.ask+1) + " of " + safe(v.name) + "? It reads " + fmtInt(reads) + " of its " + fmtInt(depth) +
		" messages (and any requeued ahead of them, to keep the order): each loses one of its " + fmtInt(r.DeliveryLimit) +
		" delivery attempts, and one with none left is " + safe(r.OverLimit) + "."
	lost, first := 0, -1
	for i := 0; int64(i) < reads; i++ {
		if l, ok := v.left[i]; ok && l == 0 {
			lost++
			if first < 0 {
				first = i
			}
		}
	}
	if lost > 0 {
		q += " " + fmtInt(int64(lost)) + " of the messages read before (from #" + itoa(first) + ") have no attempt left: this read would lose them."
	}
	return q + " y reads it · any other key does not"
}

// summarize builds the lines above the panes.
func (v *peekView) summarize() {
	st := v.styles
	if st == nil {
		return
	}
	kv := func(k, val string) string { return st.SummaryKey.Render(k+" ") + val }
	first, last := v.page*peekPageSize, v.page*peekPageSize+v.count-1
	span := "-"
	if v.count > 0 {
		span = "#" + itoa(first) + "–#" + itoa(last)
	}
	pages := "?"
	if v.total > 0 {
		pages = itoa(int((v.total + peekPageSize - 1) / peekPageSize))
	}
	depth := fmtInt(v.total)
	if v.change != "" {
		depth += " " + st.FlashWarn.Render("(the queue "+v.change+")")
	}
	hint := "] next page · [ previous · tab message/list · nothing is consumed nor reordered"
	costly := v.risk != nil && v.risk.Kind == backends.RiskDeliveryLimit
	if costly {
		hint = "] next page (asks first) · [ previous (pages read are kept: no cost) · tab message/list"
	}
	v.sum = components.Summary{Parts: []string{
		kv("vhost", safe(v.vhost)),
		kv("queue", safe(v.name)),
		kv("page", itoa(v.page+1)+" of "+pages),
		kv("messages", span+" of "+depth),
		st.Dim.Render(hint),
	}}
	if costly && v.count > 0 && !v.loadedAt.IsZero() {
		v.sum.Parts = append(v.sum.Parts, kv("read", v.loadedAt.Format("15:04:05")))
	}
	v.long = nil
	if v.risk != nil {
		v.long = append(v.long, components.LongLine{Style: st.FlashWarn, Text: "! " + safe(v.risk.Reason)})
	}
	if v.asking() {
		v.long = append(v.long, components.LongLine{Style: st.Confirm, Text: v.question()})
	}
}

// messageRow is a message's row; left is the attempts it has left where
// known (a queue whose peeks cost delivery attempts).
func messageRow(id string, m *backends.Message, left int64, known bool) components.Row {
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
	leftCell, leftStyle, leftKey := "-", styles.CellDim, math.NaN()
	if known {
		leftCell, leftStyle, leftKey = fmtInt(left), styles.CellPlain, float64(left)
		switch {
		case left < 0:
			leftCell, leftStyle = "gone", styles.CellError
		case left == 0:
			leftStyle = styles.CellError
		}
	}
	return components.Row{
		ID: id,
		Cells: []string{
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
			mcLeft:        leftCell,
		},
		Styles: []styles.CellStyle{mcReason: reasonStyle(reason), mcLeft: leftStyle},
		Nums: []float64{
			mcIndex:     float64(m.Index),
			mcTimestamp: tsKey,
			mcDeaths:    float64(deaths),
			mcSize:      float64(size),
			mcLeft:      leftKey,
		},
	}
}

// messageDetail is the selected message, one field or body line a row,
// everything sanitized; attempts, when set, is its delivery attempts line.
func messageDetail(m *backends.Message, attempts string) []components.Row {
	rows, _ := messageFields(m, attempts)
	return rows
}

// messageFields is messageDetail and the whole value of each row (the
// value viewer's): a header's value, the body.
func messageFields(m *backends.Message, attempts string) ([]components.Row, []fieldValue) {
	var f fieldRows
	add, whole := f.add, f.whole
	// Identity, routing and properties: one line each.
	id := "#" + itoa(m.Index) + " · id " + safe(orDash(m.MessageID))
	if m.CorrelationID != "" {
		id += " · correlation id " + safe(m.CorrelationID)
	}
	add("message", id, styles.CellPlain)
	redelivered := "no"
	if m.Redelivered {
		redelivered = "yes"
	}
	add("routing", "exchange "+quoteSafe(m.Exchange)+" · routing key "+quoteSafe(m.RoutingKey)+" · redelivered "+redelivered, styles.CellPlain)
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
	add("properties", strings.Join(props, " · "), styles.CellPlain)
	for _, k := range sortedKeys(m.Headers) {
		switch k {
		case "x-death", "x-first-death-queue", "x-first-death-reason", "x-first-death-exchange":
			continue // shown as the death history below
		}
		add("header", safe(k)+": "+fmtValue(m.Headers[k]), styles.CellPlain)
		whole(len(f.rows)-1, fieldValue{name: "header " + k, raw: rawValue(m.Headers[k])})
	}
	if attempts != "" {
		add("attempts", attempts, styles.CellWarn)
	}
	if m.FirstDeath != nil {
		add("first death", "queue "+quoteSafe(m.FirstDeath.Queue)+" · reason "+safe(orDash(m.FirstDeath.Reason))+
			" · exchange "+quoteSafe(m.FirstDeath.Exchange), reasonStyle(m.FirstDeath.Reason))
	}
	if len(m.Deaths) == 0 {
		add("deaths", "none (no x-death header)", styles.CellDim)
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
	body := len(f.rows)
	add("body", desc, s)
	for _, l := range lines {
		add("", l, styles.CellPlain)
	}
	if m.Body != nil {
		whole(body, fieldValue{name: "body", raw: m.Body, size: max(m.Size, len(m.Body))})
	}
	return f.rows, f.values
}

// renderBody describes a body and renders it: pretty-printed JSON when it
// parses, sanitized text when it is text, else a hex dump of its first 256
// bytes. Every line is safe to print.
func renderBody(m *backends.Message) (desc string, lines []string, st styles.CellStyle) {
	return renderBytes(m.Body, max(m.Size, len(m.Body)), m.Truncated, m.ContentType)
}

// renderBytes renders a body of size bytes of which body is what was read
// (truncated: the reader cut it).
func renderBytes(body []byte, size int, truncated bool, contentType string) (desc string, lines []string, st styles.CellStyle) {
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
		st = styles.CellWarn
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
		lines = append(lines, hexRow(b[off:min(off+hexDumpPerRow, len(b))], off))
	}
	return lines
}

// hexRow is one row of a hex dump: the bytes of chunk, at offset off.
func hexRow(chunk []byte, off int) string {
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
	return sb.String()
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
