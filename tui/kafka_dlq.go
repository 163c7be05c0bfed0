package tui

import (
	"context"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/tui/components"
	"github.com/mqops/mqops/tui/keys"
	"github.com/mqops/mqops/tui/styles"
)

// The Kafka dead-letter views: the dead-letter groups of a topic
// (kafkaDLTView) and a paged peek at its records (kafkaPeekView), opened
// from :dlq (dlqListView, view_dlq.go). Their source is Options.KafkaDLQ
// (data.go): loaded when opened, on a page turn and on `r`. Reading
// records commits nothing.

// --- dead-letter groups of a topic -----------------------------------------

// kafkaDLTView is one dead-letter topic: its first records (dlqSample)
// grouped by original topic and exception class. Enter and `p` peek.
type kafkaDLTView struct {
	topic string
	depth int64 // records when the list was loaded, until the sample says
	st    loadState
	tbl   *components.Table
	sum   components.Summary
}

const (
	kgOrigin = iota
	kgException
	kgCount
	kgFirst
	kgLast
)

func newKafkaDLTView(topic string, depth int64) *kafkaDLTView {
	t := components.NewTable([]components.Column{
		kgOrigin:    {Title: "ORIGIN TOPIC", Flex: true, Name: true, Min: 10},
		kgException: {Title: "EXCEPTION", Flex: true, Min: 10, Shrink: 2, Tail: true},
		kgCount:     {Title: "COUNT", Right: true, Num: true, Desc: true},
		kgFirst:     {Title: "FIRST", Num: true, Drop: 9},
		kgLast:      {Title: "LAST", Num: true, Desc: true, Drop: 8},
	}, kgCount, true)
	t.Empty = "the dead-letter topic is empty"
	return &kafkaDLTView{topic: topic, depth: depth, tbl: t}
}

func (v *kafkaDLTView) id() string                      { return "kdlt/" + v.topic }
func (v *kafkaDLTView) crumb() string                   { return safe(v.topic) }
func (v *kafkaDLTView) noun() string                    { return "groups" }
func (v *kafkaDLTView) what() string                    { return "dead letters of " + safe(v.topic) }
func (v *kafkaDLTView) focused() *components.Table      { return v.tbl }
func (v *kafkaDLTView) summary(width int) []string      { return v.sum.Wrap(width) }
func (v *kafkaDLTView) togglePane() bool                { return false }
func (v *kafkaDLTView) open() (view, bool)              { return v.peek() }
func (v *kafkaDLTView) layout(width, height int)        { v.tbl.SetSize(width, height) }
func (v *kafkaDLTView) body(st *styles.Styles) []string { return v.tbl.View(st, true) }

// keys: p (and enter) peek at the records, D drains the topic.
func (v *kafkaDLTView) keys(k *keys.Map) []keys.Binding {
	return []keys.Binding{
		k.Peek.With("peek at the records (nothing is committed)", "peek"),
		k.Open.With("peek at the records", "").WithPriority(-1),
		k.Drain,
	}
}

// peek opens the topic's records.
func (v *kafkaDLTView) peek() (view, bool) { return newKafkaPeekView(v.topic, v.depth), true }

// source: the sample of the topic's records, when opened and on `r`.
func (v *kafkaDLTView) source(m *Model) source {
	topic := v.topic
	return m.kafkaDLQSource(v.what(), &v.st, func(src backends.KafkaDeadLetters) fetchFunc {
		return fetching(func(ctx context.Context) (*backends.KafkaDeadLetterSummary, error) {
			return src.DeadLetterSummary(ctx, topic, dlqSample)
		}, v.apply)
	})
}

func (v *kafkaDLTView) apply(s *backends.KafkaDeadLetterSummary, _ time.Time, st *styles.Styles) notice {
	v.depth = max(s.Messages, int64(s.Sampled))
	kv := func(k, val string) string { return st.SummaryKey.Render(k+" ") + val }
	sampled := "sampled " + fmtInt(int64(s.Sampled)) + " of " + fmtInt(v.depth) + " records"
	if int64(s.Sampled) < v.depth {
		sampled += " (the first ones; counts are of the sample)"
	}
	v.sum = components.Summary{Parts: []string{
		kv("topic", safe(v.topic)),
		kv("records", fmtInt(v.depth)),
		kv("groups", fmtInt(int64(len(s.Groups)))),
		sampled,
	}}
	v.sum.Extra = append(v.sum.Extra, st.Dim.Render("p or enter peeks at the records (nothing is committed)"))
	rows := make([]components.Row, 0, len(s.Groups))
	for i := range s.Groups {
		g := &s.Groups[i]
		first, firstKey := fmtTime(g.First)
		last, lastKey := fmtTime(g.Last)
		origin, originStyle := safe(g.Origin), styles.CellPlain
		if g.Origin == "" && g.Exception == "" {
			origin, originStyle = "(no dead-letter headers)", styles.CellDim
		}
		rows = append(rows, components.Row{
			ID: g.Origin + "\x00" + g.Exception,
			Cells: []string{
				kgOrigin:    orDash(origin),
				kgException: safe(orDash(g.Exception)),
				kgCount:     fmtInt(int64(g.Count)),
				kgFirst:     first,
				kgLast:      last,
			},
			Styles: []styles.CellStyle{kgOrigin: originStyle, kgException: styles.CellWarn},
			Nums: []float64{
				kgCount: float64(g.Count),
				kgFirst: firstKey,
				kgLast:  lastKey,
			},
		})
	}
	v.tbl.SetRows(rows)
	return notice{}
}

// --- peek at the records of a topic -----------------------------------------

// kafkaPeekView shows a page of a dead-letter topic's records (ReadRecords:
// no consumer group, nothing committed) in the peek panes. A page starts
// where the previous one ended in each partition; `[` goes back through the
// pages seen.
type kafkaPeekView struct {
	peekPanes
	topic string
	total int64 // records when opened (0: unknown)
	// starts[i] is where page i starts (nil: every partition's log start);
	// starts[page+1] is known once page is shown.
	starts []map[int32]int64
	pageCursor
	st loadState
}

// kafkaPage is one page of records.
type kafkaPage struct {
	page int
	from map[int32]int64
	recs []backends.KafkaRecord
}

const (
	rcIndex = iota
	rcPartition
	rcOffset
	rcTimestamp
	rcKey
	rcOrigin
	rcException
	rcSize
)

func newKafkaPeekView(topic string, total int64) *kafkaPeekView {
	cols := []components.Column{
		rcIndex:     {Title: "#", Right: true, Num: true},
		rcPartition: {Title: "PART", Right: true, Num: true, Drop: 5},
		rcOffset:    {Title: "OFFSET", Right: true, Num: true},
		rcTimestamp: {Title: "TIMESTAMP", Num: true, Desc: true, Drop: 9},
		rcKey:       {Title: "KEY", Flex: true, Name: true, Min: 6, Max: 30},
		rcOrigin:    {Title: "ORIGIN", Flex: true, Name: true, Min: 8, Max: 30},
		rcException: {Title: "EXCEPTION", Flex: true, Min: 8, Shrink: 3, Tail: true},
		rcSize:      {Title: "SIZE", Right: true, Num: true, Desc: true, Drop: 8},
	}
	panes := newPeekPanes(cols, rcIndex, "no records on this page", "select a record",
		func(r *components.Row) string {
			return "record " + r.Cells[rcIndex] + " · partition " + r.Cells[rcPartition] + " offset " + r.Cells[rcOffset]
		})
	return &kafkaPeekView{peekPanes: panes, topic: topic, total: total, starts: []map[int32]int64{nil}}
}

func (v *kafkaPeekView) id() string         { return "kpeek/" + v.topic }
func (v *kafkaPeekView) crumb() string      { return "peek" }
func (v *kafkaPeekView) what() string       { return "records of " + safe(v.topic) }
func (v *kafkaPeekView) open() (view, bool) { return nil, false }
func (v *kafkaPeekView) noun() string       { return v.peekPanes.noun("records") }

// keys: ] and [ turn the pages, tab switches the pane.
func (v *kafkaPeekView) keys(k *keys.Map) []keys.Binding { return v.pageKeys(k, "record") }

// source: the page asked for, read from where the previous one ended in
// each partition (no consumer group, nothing committed).
func (v *kafkaPeekView) source(m *Model) source {
	topic, page := v.topic, v.want
	from := v.starts[min(page, len(v.starts)-1)]
	return m.kafkaDLQSource(v.what(), &v.st, func(src backends.KafkaDeadLetters) fetchFunc {
		return fetching(func(ctx context.Context) (*kafkaPage, error) {
			recs, err := src.ReadRecords(ctx, topic, from, peekPageSize)
			if err != nil {
				return nil, err
			}
			return &kafkaPage{page: page, from: from, recs: recs}, nil
		}, v.apply)
	})
}

// turn asks for the next (dir > 0) or previous page.
func (v *kafkaPeekView) turn(dir int) (bool, notice) {
	if ok, n := v.step(dir, v.st.loaded, "records"); !ok {
		return false, n
	}
	if v.want+dir >= len(v.starts) {
		return false, notice{components.FlashInfo, "the page is loading"}
	}
	v.want += dir
	return true, notice{}
}

func (v *kafkaPeekView) apply(r *kafkaPage, _ time.Time, st *styles.Styles) notice {
	if ok, n := v.arrived(r.page, len(r.recs), "records", "the end of the topic"); !ok {
		return n
	}
	v.starts = append(v.starts[:r.page+1], backends.KafkaNextOffsets(r.from, r.recs))
	if n := int64(r.page*peekPageSize + len(r.recs)); v.total < n {
		v.total = n
	}
	rows := make([]components.Row, 0, len(r.recs))
	details := make(map[string][]components.Row, len(r.recs))
	values := make(map[string][]fieldValue, len(r.recs))
	for i := range r.recs {
		rec := &r.recs[i]
		idx := r.page*peekPageSize + i
		id := itoa(int(rec.Partition)) + "/" + fmtInt64(rec.Offset)
		rows = append(rows, recordRow(id, idx, rec))
		details[id], values[id] = recordFields(idx, rec)
	}
	v.setPage(rows, details)
	v.setValues(values)

	kv := func(k, val string) string { return st.SummaryKey.Render(k+" ") + val }
	first, last := r.page*peekPageSize, r.page*peekPageSize+len(r.recs)-1
	span := "-"
	if len(r.recs) > 0 {
		span = "#" + itoa(first) + "–#" + itoa(last)
	}
	pages := "?"
	if v.total > 0 {
		pages = itoa(int((v.total + peekPageSize - 1) / peekPageSize))
	}
	v.sum = components.Summary{Parts: []string{
		kv("topic", safe(v.topic)),
		kv("page", itoa(r.page+1)+" of "+pages),
		kv("records", span+" of "+fmtInt(v.total)),
		st.Dim.Render("] next page · [ previous · tab record/list · nothing is committed"),
	}}
	return notice{}
}

func fmtInt64(n int64) string { return strconv.FormatInt(n, 10) }

func recordRow(id string, idx int, r *backends.KafkaRecord) components.Row {
	ts, tsKey := fmtTime(r.Timestamp)
	origin, exc := "-", "-"
	if d := r.DeadLetter; d != nil {
		origin, exc = safe(orDash(d.OriginalTopic)), safe(orDash(d.ExceptionClass))
	}
	return components.Row{
		ID: id,
		Cells: []string{
			rcIndex:     itoa(idx),
			rcPartition: itoa(int(r.Partition)),
			rcOffset:    fmtInt64(r.Offset),
			rcTimestamp: ts,
			rcKey:       fmtBinary(r.Key, 64),
			rcOrigin:    origin,
			rcException: exc,
			rcSize:      fmtBytes(len(r.Value)),
		},
		Styles: []styles.CellStyle{rcException: styles.CellWarn},
		Nums: []float64{
			rcIndex:     float64(idx),
			rcPartition: float64(r.Partition),
			rcOffset:    float64(r.Offset),
			rcTimestamp: tsKey,
			rcSize:      float64(len(r.Value)),
		},
	}
}

// Limits of the values shown on one line.
const (
	maxHeaderShown = 256 // bytes of a text header value
	maxHexShown    = 32  // bytes of a binary value shown in hex
	maxExcLines    = 20  // lines of an exception message
)

// fmtBinary shows a key or header value on one line: sanitized text (cut
// after limit bytes), a short binary value in hex, a longer one as its
// size. nil is null.
func fmtBinary(b []byte, limit int) string {
	switch {
	case b == nil:
		return "null"
	case len(b) == 0:
		return `""`
	case isText(b):
		s, cut := b, false
		if len(s) > limit {
			s, cut = s[:limit], true
			for k := 0; k < utf8.UTFMax && len(s) > 0 && !utf8.Valid(s); k++ {
				s = s[:len(s)-1]
			}
		}
		out := quoteSafe(string(s))
		if cut {
			out += "… (" + fmtBytes(len(b)) + ")"
		}
		return out
	case len(b) <= maxHexShown:
		return "0x" + hex.EncodeToString(b)
	}
	return "<" + itoa(len(b)) + " bytes binary>"
}

// recordDetail is the selected record, one field, header or body line a
// row, everything sanitized.
func recordDetail(idx int, r *backends.KafkaRecord) []components.Row {
	rows, _ := recordFields(idx, r)
	return rows
}

// recordFields is recordDetail and the whole value of each row (the
// value viewer's): the key, the exception, a header's value, the body.
func recordFields(idx int, r *backends.KafkaRecord) ([]components.Row, []fieldValue) {
	var f fieldRows
	add, whole := f.add, f.whole
	ts, _ := fmtTime(r.Timestamp)
	add("record", "#"+itoa(idx)+" · partition "+itoa(int(r.Partition))+" · offset "+fmtInt64(r.Offset)+" · timestamp "+ts, styles.CellPlain)
	add("key", fmtBinary(r.Key, maxHeaderShown), styles.CellPlain)
	if r.Key != nil {
		whole(len(f.rows)-1, fieldValue{name: "key", raw: r.Key})
	}
	if d := r.DeadLetter; d != nil {
		where := "original topic " + quoteSafe(d.OriginalTopic)
		if d.OriginalPartition != nil {
			where += " · partition " + itoa(int(*d.OriginalPartition))
		}
		if d.OriginalOffset != nil {
			where += " · offset " + fmtInt64(*d.OriginalOffset)
		}
		add("dead letter", where+" · "+safe(orDash(d.Format))+" headers", styles.CellPlain)
		add("exception", safe(orDash(d.ExceptionClass)), styles.CellWarn)
		whole(len(f.rows)-1, fieldValue{name: "exception", raw: []byte(d.ExceptionClass)})
		msg := len(f.rows)
		if d.ExceptionMessage != "" {
			lines := strings.Split(backends.SafeMultiline(d.ExceptionMessage), "\n")
			if len(lines) > maxExcLines {
				more := len(lines) - maxExcLines
				lines = append(lines[:maxExcLines:maxExcLines], "… "+fmtInt(int64(more))+" more lines")
			}
			for i, l := range lines {
				field := ""
				if i == 0 {
					field = "message"
				}
				add(field, l, styles.CellWarn)
			}
			whole(msg, fieldValue{name: "exception message", raw: []byte(d.ExceptionMessage)})
		}
	} else {
		add("dead letter", "no dead-letter headers", styles.CellDim)
	}
	if len(r.Headers) == 0 {
		add("headers", "none", styles.CellDim)
	}
	for _, h := range r.Headers {
		add("header", quoteSafe(h.Key)+": "+fmtBinary(h.Value, maxHeaderShown), styles.CellPlain)
		if h.Value != nil {
			whole(len(f.rows)-1, fieldValue{name: "header " + h.Key, raw: h.Value})
		}
	}
	if r.Value == nil {
		add("body", "null (tombstone)", styles.CellDim)
		return f.rows, f.values
	}
	desc, lines, s := renderBytes(r.Value, len(r.Value), false, "")
	add("body", desc, s)
	for _, l := range lines {
		add("", l, styles.CellPlain)
	}
	whole(len(f.rows)-len(lines)-1, fieldValue{name: "body", raw: r.Value})
	return f.rows, f.values
}
