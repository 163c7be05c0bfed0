package tui

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/tui/components"
	"github.com/mqops/mqops/tui/keys"
	"github.com/mqops/mqops/tui/styles"
)

// dlqSample is how many messages the dead-letter groups are computed from.
const dlqSample = 1000

// dlqView is one dead-letter queue: its messages grouped by origin queue,
// reason and exception, from a sample (DeadLetters peeks, it consumes
// nothing). It loads when opened and on `r`; `p` peeks at the messages.
type dlqView struct {
	vhost, name string
	depth       int64 // messages when the list was loaded, until the sample says
	st          loadState
	tbl         *components.Table
	sum         components.Summary
	long        []components.LongLine // why it was not sampled, wrapped when drawn
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
	t := components.NewTable([]components.Column{
		lcOrigin:    {Title: "ORIGIN", Flex: true, Name: true, Min: 10},
		lcReason:    {Title: "REASON", Flex: true, Min: 6, Max: 16},
		lcException: {Title: "EXCEPTION", Flex: true, Min: 10, Shrink: 2, Drop: 7, Tail: true},
		lcCount:     {Title: "COUNT", Right: true, Num: true, Desc: true},
		lcFirst:     {Title: "FIRST", Num: true, Drop: 9},
		lcLast:      {Title: "LAST", Num: true, Desc: true, Drop: 8},
	}, lcCount, true)
	t.Empty = "the dead-letter queue is empty"
	return &dlqView{vhost: q.Vhost, name: q.Name, depth: q.Messages, tbl: t}
}

func (v *dlqView) id() string                 { return "dlq/" + queueKey(v.vhost, v.name) }
func (v *dlqView) crumb() string              { return safe(v.name) }
func (v *dlqView) noun() string               { return "groups" }
func (v *dlqView) what() string               { return "dead letters of " + safe(v.name) }
func (v *dlqView) focused() *components.Table { return v.tbl }
func (v *dlqView) summary(width int) []string {
	return append(v.sum.Wrap(width), components.WrapLong(width, v.long)...)
}
func (v *dlqView) togglePane() bool                { return false }
func (v *dlqView) open() (view, bool)              { return v.peek() }
func (v *dlqView) layout(width, height int)        { v.tbl.SetSize(width, height) }
func (v *dlqView) body(st *styles.Styles) []string { return v.tbl.View(st, true) }

// keys: p (and enter) peek at the messages, D drains them (the selected
// group's origin and reason prefill the form).
func (v *dlqView) keys(k *keys.Map) []keys.Binding {
	return []keys.Binding{
		k.Peek.With("peek at the messages (nothing is consumed)", "peek"),
		k.Open.With("peek at the messages", "").WithPriority(-1),
		k.Drain.With(k.Drain.Help().Desc+", the selected group's origin and reason prefilling the form", ""),
	}
}

// peek opens the queue's messages.
func (v *dlqView) peek() (view, bool) { return newPeekView(v.vhost, v.name, v.depth), true }

// source: a sample of the queue's messages (peeked, never consumed), when
// opened and on `r`.
func (v *dlqView) source(m *Model) source {
	vhost, name := v.vhost, v.name
	return m.rabbitSource(v.what(), false, &v.st, func(src RabbitSource) fetchFunc {
		return fetching(func(ctx context.Context) (*backends.DeadLetterSummary, error) {
			return src.DeadLetters(ctx, vhost, name, dlqSample)
		}, v.apply)
	})
}

func (v *dlqView) apply(s *backends.DeadLetterSummary, _ time.Time, st *styles.Styles) notice {
	v.depth = max(s.Messages, int64(s.Sampled))
	kv := func(k, val string) string { return st.SummaryKey.Render(k+" ") + val }
	sampled := "sampled " + fmtInt(int64(s.Sampled)) + " of " + fmtInt(v.depth) + " messages"
	if int64(s.Sampled) < v.depth {
		sampled += " (counts are of the sample)"
	}
	if s.NotSampled != nil {
		sampled = st.FlashWarn.Render("not sampled")
	}
	v.sum = components.Summary{Parts: []string{
		kv("vhost", safe(s.Vhost)),
		kv("messages", fmtInt(v.depth)),
		kv("groups", fmtInt(int64(len(s.Groups)))),
		sampled,
	}}
	var n notice
	if s.Warning != "" {
		w := safe(s.Warning)
		v.sum.Extra = append(v.sum.Extra, st.FlashWarn.Render("! "+w))
		n = notice{level: components.FlashWarn, text: w}
	}
	v.tbl.Empty = "the dead-letter queue is empty"
	v.long = nil
	hint := "p or enter peeks at the messages"
	if r := s.NotSampled; r != nil {
		v.long = append(v.long, components.LongLine{Style: st.FlashWarn, Text: "! not sampled, to leave the queue as it was: " + safe(r.Reason)})
		v.tbl.Empty = "not sampled: reading the messages would change the queue (above)"
		hint = "p or enter peeks on request: it asks first, stating what each page costs"
		if r.Kind != backends.RiskDeliveryLimit {
			hint = "no peek is possible without changing the queue"
		}
	}
	v.long = append(v.long, components.LongLine{Style: st.Dim, Text: hint})
	rows := make([]components.Row, 0, len(s.Groups))
	for i := range s.Groups {
		g := &s.Groups[i]
		first, firstKey := fmtTime(g.First)
		last, lastKey := fmtTime(g.Last)
		rows = append(rows, components.Row{
			ID: g.Origin + "\x00" + g.Reason + "\x00" + g.Exception,
			Cells: []string{
				lcOrigin:    safe(orDash(g.Origin)),
				lcReason:    safe(orDash(g.Reason)),
				lcException: safe(orDash(g.Exception)),
				lcCount:     fmtInt(int64(g.Count)),
				lcFirst:     first,
				lcLast:      last,
			},
			Styles: []styles.CellStyle{lcReason: reasonStyle(g.Reason), lcException: styles.CellWarn},
			Nums: []float64{
				lcCount: float64(g.Count),
				lcFirst: firstKey,
				lcLast:  lastKey,
			},
		})
	}
	v.tbl.SetRows(rows)
	return n
}

// reasonStyle colours the dead-letter reasons: rejected (a consumer said
// no) and delivery_limit stand out, expired and maxlen are dim.
func reasonStyle(reason string) styles.CellStyle {
	switch reason {
	case "rejected", "delivery_limit":
		return styles.CellError
	case "expired", "maxlen":
		return styles.CellWarn
	}
	return styles.CellPlain
}

// fmtTime is a timestamp cell and its sort key.
func fmtTime(t time.Time) (string, float64) {
	if t.IsZero() {
		return "-", math.NaN()
	}
	return t.UTC().Format("2006-01-02 15:04:05"), float64(t.Unix())
}

func itoa(n int) string { return strconv.Itoa(n) }

// dlqListView is :dlq: every RabbitMQ dead-letter queue and every Kafka
// dead-letter topic in one list. Each source is asked concurrently within
// the view's one request; one failing keeps the other's rows (and its own
// last good rows, marked with the error), both failing is a failed refresh.
// Enter opens the dead-letter groups of the row, `p` peeks at it.
type dlqListView struct {
	st  loadState
	tbl *components.Table
	sum components.Summary

	rmq, kafka srcState                     // RabbitMQ, Kafka
	queues     map[string]backends.Queue    // RabbitMQ rows by id
	dlts       map[string]backends.KafkaDLT // Kafka rows by id
	history    map[string][]int64           // depth samples by row id, oldest first

	// The Kafka header scan (sampleHeaders) reads records of every topic:
	// it runs on the first load and then every headerScanEvery loads; in
	// between, the topics found by their headers keep their last depth.
	byHeaders []backends.KafkaDLT
	sinceScan int // Kafka loads since the last header scan; -1: never

	noRabbit bool // Options.NoRabbit says why there is no RabbitMQ
}

// headerScanEvery is how many list loads go between two header scans of
// the Kafka topics (a minute at the default 5 s refresh).
const headerScanEvery = 12

// srcState is one source's part of the :dlq list.
type srcState struct {
	configured bool
	loaded     bool
	rows       []components.Row
	err        error // last failure; nil after a success
	lastOK     time.Time
}

// dlqListResult is the answer of both sources; an error of one of them is
// carried here, not returned.
type dlqListResult struct {
	rabbit, kafka bool // asked
	queues        []backends.Queue
	rabbitErr     error
	dlts          []backends.KafkaDLT
	kafkaErr      error
	scanned       bool // the Kafka list sampled headers
}

const (
	dcBackend = iota
	dcListName
	dcType
	dcDepth
	dcToDrain
	dcConsumers
	dcPublish
	dcTrend
	dcDetected
)

// kafkaRowPrefix keeps Kafka row ids apart from RabbitMQ's queueKey ids.
const kafkaRowPrefix = "\x01kafka\x00"

// noDeadLetterSourceText is what :dlq says when neither broker is configured.
// It fits a 120-column flash line.
const noDeadLetterSourceText = "no RabbitMQ nor Kafka configured: pass --brokers, or --rabbitmq-url and --management-url, or set them in the context"

// newDLQsView is the :dlq list of this console.
func (m *Model) newDLQsView() *dlqListView {
	v := newDLQsView()
	v.noRabbit = m.opts.Rabbit == nil && m.opts.NoRabbit != ""
	return v
}

func newDLQsView() *dlqListView {
	t := components.NewTable([]components.Column{
		dcBackend:   {Title: "BACKEND", Drop: 4},
		dcListName:  {Title: "NAME", Flex: true, Name: true, Min: 12},
		dcType:      {Title: "TYPE", Drop: 6},
		dcDepth:     {Title: "DEPTH", Right: true, Num: true, Desc: true},
		dcToDrain:   {Title: "UNDRAINED", Right: true, Num: true, Desc: true, Drop: 3},
		dcConsumers: {Title: "CONSUMERS", Right: true, Num: true, Desc: true, Drop: 7},
		dcPublish:   {Title: "PUB/S", Right: true, Num: true, Desc: true, Drop: 8},
		dcTrend:     {Title: "TREND", Plain: true, Drop: 9},
		dcDetected:  {Title: "DETECTED BY", Flex: true, Min: 8, Shrink: 2, Drop: 5},
	}, dcDepth, true)
	t.Empty = "no dead-letter queues or topics (none bound to a dead-letter exchange, named like one or carrying dead-letter headers)"
	return &dlqListView{tbl: t, queues: map[string]backends.Queue{}, dlts: map[string]backends.KafkaDLT{},
		history: map[string][]int64{}, sinceScan: -1}
}

func (v *dlqListView) id() string                      { return "dlq" }
func (v *dlqListView) crumb() string                   { return "dead letters" }
func (v *dlqListView) noun() string                    { return "dead-letter queues and topics" }
func (v *dlqListView) what() string                    { return "dead-letter queues and topics" }
func (v *dlqListView) focused() *components.Table      { return v.tbl }
func (v *dlqListView) summary(width int) []string      { return v.sum.Wrap(width) }
func (v *dlqListView) togglePane() bool                { return false }
func (v *dlqListView) layout(width, height int)        { v.tbl.SetSize(width, height) }
func (v *dlqListView) body(st *styles.Styles) []string { return v.tbl.View(st, true) }

// source: RabbitMQ's dead-letter queues and Kafka's dead-letter topics,
// both asked at once, refreshed on the schedule.
func (v *dlqListView) source(m *Model) source {
	s := source{what: v.what(), periodic: true, state: &v.st, unconfigured: noDeadLetterSourceText,
		noSource: []string{"no broker configured", "no broker", ""}}
	rabbit, kafka := m.rabbitName(), ""
	if m.opts.KafkaDLQ != nil {
		kafka = m.cluster
	}
	switch {
	case rabbit != "" && kafka != "":
		s.broker = rabbit + " + " + kafka
	case rabbit != "":
		s.broker = rabbit
	default:
		s.broker = kafka
	}
	s.fetch = v.fetch(&m.opts)
	// a RabbitMQ listing costs the broker about the time it takes
	s.paced = m.opts.Rabbit != nil
	return s
}

// fetch asks both sources; one failing keeps the other's rows (its error
// is carried in the result), both failing is a failed load. nil when
// neither is configured.
func (v *dlqListView) fetch(o *Options) fetchFunc {
	rs, ks, timeout := o.Rabbit, o.KafkaDLQ, o.Timeout
	if rs == nil && ks == nil {
		return nil
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	scan := v.sinceScan < 0 || v.sinceScan+1 >= headerScanEvery
	quick := !v.rmq.loaded // RabbitMQ's first look: depths only, sooner
	return fetching(func(ctx context.Context) (*dlqListResult, error) {
		res := &dlqListResult{rabbit: rs != nil, kafka: ks != nil, scanned: scan}
		var wg sync.WaitGroup
		if rs != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res.queues, res.rabbitErr = listQueues(ctx, rs, quick)
			}()
		}
		if ks != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// the RabbitMQ calls bound themselves (callsBounded); the
				// Kafka listing keeps its deadline of one timeout
				kctx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				res.dlts, res.kafkaErr = ks.ListDeadLetterTopics(kctx, scan)
			}()
		}
		wg.Wait()
		rabbitFailed := rs == nil || res.rabbitErr != nil
		kafkaFailed := ks == nil || res.kafkaErr != nil
		switch {
		case rabbitFailed && kafkaFailed && rs != nil && ks != nil:
			return nil, fmt.Errorf("rabbitmq: %w; kafka: %w", res.rabbitErr, res.kafkaErr)
		case rabbitFailed && kafkaFailed && rs != nil:
			return nil, res.rabbitErr
		case rabbitFailed && kafkaFailed:
			return nil, fmt.Errorf("kafka: %w", res.kafkaErr)
		}
		return res, nil
	}, v.apply)
}

// selected returns the RabbitMQ queue or the Kafka topic of the selected row.
func (v *dlqListView) selected() (q backends.Queue, isQueue bool, d backends.KafkaDLT, isTopic bool) {
	r, ok := v.tbl.Selected()
	if !ok {
		return
	}
	q, isQueue = v.queues[r.ID]
	d, isTopic = v.dlts[r.ID]
	return
}

// selectedQueue is the RabbitMQ dead-letter queue of the selected row, if
// it is one (the drain acts on RabbitMQ queues).
func (v *dlqListView) selectedQueue() (backends.Queue, bool) {
	q, ok, _, _ := v.selected()
	return q, ok
}

// keys: enter opens the dead-letter groups, p peeks, D drains: the
// selected row, or the marked ones (marks feed them).
func (v *dlqListView) keys(k *keys.Map) []keys.Binding {
	peek, drain := markedKeys(k, v.tbl.MarkedCount())
	if v.tbl.MarkedCount() == 0 {
		peek = peek.With("peek at the messages or records (nothing is consumed nor committed)", "")
	}
	return []keys.Binding{
		k.Open.With("open the dead-letter groups of the queue or topic", "groups"),
		peek, drain,
		k.Mark.With("mark / unmark the row (p and D act on the marked)", "mark"),
	}
}

// open goes to the dead-letter groups of the selected queue or topic.
func (v *dlqListView) open() (view, bool) {
	q, isQueue, d, isTopic := v.selected()
	switch {
	case isQueue:
		return newDLQView(q), true
	case isTopic:
		return newKafkaDLTView(d.Topic, d.Messages), true
	}
	return nil, false
}

// peek opens the messages of the selected queue or the records of the
// selected topic.
func (v *dlqListView) peek() (view, bool) {
	q, isQueue, d, isTopic := v.selected()
	switch {
	case isQueue:
		return newPeekView(q.Vhost, q.Name, q.Messages), true
	case isTopic:
		return newKafkaPeekView(d.Topic, d.Messages), true
	}
	return nil, false
}

func (v *dlqListView) apply(r *dlqListResult, now time.Time, st *styles.Styles) notice {
	v.rmq.configured, v.kafka.configured = r.rabbit, r.kafka
	var failed []string
	if r.rabbit {
		if r.rabbitErr != nil {
			v.rmq.err = r.rabbitErr
			failed = append(failed, "rabbitmq: "+errText(r.rabbitErr))
		} else {
			v.applyQueues(r.queues, now)
		}
	}
	if r.kafka {
		if r.kafkaErr != nil {
			v.kafka.err = r.kafkaErr
			failed = append(failed, "kafka: "+errText(r.kafkaErr))
		} else {
			v.applyTopics(r.dlts, r.scanned, now)
		}
	}
	rows := make([]components.Row, 0, len(v.rmq.rows)+len(v.kafka.rows))
	rows = append(append(rows, v.rmq.rows...), v.kafka.rows...)
	v.tbl.SetRows(rows)
	v.summarize(st)
	if len(failed) > 0 {
		return notice{components.FlashError, "listing dead letters failed for " + strings.Join(failed, "; ")}
	}
	return notice{}
}

// track appends a depth sample to a row's history.
func (v *dlqListView) track(id string, depth int64) []int64 {
	h := append(v.history[id], depth)
	if len(h) > historyLen {
		h = h[len(h)-historyLen:]
	}
	v.history[id] = h
	return h
}

// forget drops the history of the rows of one source that are gone.
func (v *dlqListView) forget(kafka bool, seen map[string]bool) {
	for id := range v.history {
		if strings.HasPrefix(id, kafkaRowPrefix) == kafka && !seen[id] {
			delete(v.history, id)
		}
	}
}

func (v *dlqListView) applyQueues(qs []backends.Queue, now time.Time) {
	v.rmq = srcState{configured: true, loaded: true, lastOK: now}
	// a quick look (no statistics) is followed at once by the listing
	// with them
	v.st.followUp = len(qs) > 0 && qs[0].NoStats
	v.queues = make(map[string]backends.Queue)
	seen := map[string]bool{}
	for i := range qs {
		q := &qs[i]
		if !q.IsDLQ {
			continue
		}
		id := queueKey(q.Vhost, q.Name)
		depth, depthOK := q.Depth()
		depthCell, depthStyle, depthKey := fmtInt(depth), styles.CellPlain, float64(depth)
		if !depthOK {
			depthCell, depthStyle, depthKey = safe(q.Invalid["messages"])+"?", styles.CellWarn, math.NaN()
		}
		hist := v.history[id]
		if depthOK {
			hist = v.track(id, depth)
		}
		seen[id] = true
		v.queues[id] = *q
		consumers, consumersStyle, consumersKey := countCell(q, "consumers", q.Consumers, styles.CellPlain)
		publish, publishStyle, publishKey := rateCell(q, "publish_rate", q.PublishRate)
		if q.NoStats { // not listed yet: unknown, not 0
			consumers, consumersStyle, consumersKey = pendingCell, styles.CellDim, math.NaN()
			publish, publishStyle, publishKey = pendingCell, styles.CellDim, math.NaN()
		}
		name := q.Name // as the CLI prints it: the vhost only where it is not the default
		if q.Vhost != "" && q.Vhost != "/" {
			name = q.Vhost + "/" + q.Name
		}
		v.rmq.rows = append(v.rmq.rows, components.Row{
			ID: id, Ref: id,
			Cells: []string{
				dcBackend:   "rabbitmq",
				dcListName:  safe(name),
				dcType:      safe(orDash(q.Type)),
				dcDepth:     depthCell,
				dcToDrain:   depthCell, // a drain moves what the queue holds
				dcConsumers: consumers,
				dcPublish:   publish,
				dcTrend:     components.Sparkline(hist, sparkWidth),
				dcDetected:  safe(orDash(q.DLQReason)),
			},
			Styles: []styles.CellStyle{dcBackend: styles.CellDim, dcDepth: depthStyle, dcToDrain: depthStyle, dcConsumers: consumersStyle,
				dcPublish: publishStyle, dcTrend: styles.CellDim, dcDetected: styles.CellDim},
			Nums: []float64{
				dcDepth:     depthKey,
				dcToDrain:   depthKey,
				dcConsumers: consumersKey,
				dcPublish:   publishKey,
				dcTrend:     math.NaN(),
			},
		})
	}
	v.forget(false, seen)
}

func (v *dlqListView) applyTopics(dlts []backends.KafkaDLT, scanned bool, now time.Time) {
	if scanned {
		v.sinceScan = 0
		v.byHeaders = v.byHeaders[:0]
		for _, d := range dlts {
			if d.DetectedBy == "headers" {
				v.byHeaders = append(v.byHeaders, d)
			}
		}
	} else {
		v.sinceScan++
		// A list by name only: the topics found by their headers at the
		// last scan stay, with the depth they had then.
		have := make(map[string]bool, len(dlts))
		for _, d := range dlts {
			have[d.Topic] = true
		}
		for _, d := range v.byHeaders {
			if !have[d.Topic] {
				dlts = append(dlts, d)
			}
		}
	}
	v.kafka = srcState{configured: true, loaded: true, lastOK: now}
	v.dlts = make(map[string]backends.KafkaDLT, len(dlts))
	seen := map[string]bool{}
	for _, d := range dlts {
		id := kafkaRowPrefix + d.Topic
		seen[id] = true
		v.dlts[id] = d
		parts := itoa(d.Partitions) + " partitions"
		if d.Partitions == 1 {
			parts = "1 partition"
		}
		detected := safe(orDash(d.DetectedBy)) // "name" or "headers"
		// Kafka keeps drained records: what is left is what lies after the
		// drain group's commits, unknown when they could not be read
		toDrain, toDrainNum, toDrainStyle := "?", math.NaN(), styles.CellDim
		if d.LeftToDrain != nil {
			toDrain, toDrainNum, toDrainStyle = fmtInt(*d.LeftToDrain), float64(*d.LeftToDrain), styles.CellPlain
		}
		v.kafka.rows = append(v.kafka.rows, components.Row{
			ID: id, Ref: id,
			Cells: []string{
				dcBackend:   "kafka",
				dcListName:  safe(d.Topic),
				dcType:      parts,
				dcDepth:     fmtInt(d.Messages),
				dcToDrain:   toDrain,
				dcConsumers: "-",
				dcPublish:   "-",
				dcTrend:     components.Sparkline(v.track(id, d.Messages), sparkWidth),
				dcDetected:  detected,
			},
			Styles: []styles.CellStyle{dcBackend: styles.CellDim, dcToDrain: toDrainStyle, dcConsumers: styles.CellDim, dcPublish: styles.CellDim, dcTrend: styles.CellDim, dcDetected: styles.CellDim},
			Nums: []float64{
				dcDepth:     float64(d.Messages),
				dcToDrain:   toDrainNum,
				dcConsumers: math.NaN(),
				dcPublish:   math.NaN(),
				dcTrend:     math.NaN(),
			},
		})
	}
	v.forget(true, seen)
}

// summarize says what each source gave: a count, an error (with the time of
// the rows kept), or that it is not configured.
func (v *dlqListView) summarize(st *styles.Styles) {
	kv := func(k, val string) string { return st.SummaryKey.Render(k+" ") + val }
	part := func(name string, s *srcState, n int, noun string) string {
		if n == 1 {
			noun = singular(noun)
		}
		switch {
		case !s.configured && name == "rabbitmq" && v.noRabbit:
			return kv(name, st.Dim.Render("absent (:queues says why)"))
		case !s.configured:
			return kv(name, st.Dim.Render("not configured"))
		case s.err != nil && !s.loaded:
			return kv(name, st.FlashError.Render("unreachable"))
		case s.err != nil:
			return kv(name, fmtInt(int64(n))+" "+noun+" "+st.Stale.Render("STALE"))
		}
		return kv(name, fmtInt(int64(n))+" "+noun)
	}
	v.sum = components.Summary{Parts: []string{
		part("rabbitmq", &v.rmq, len(v.rmq.rows), "dead-letter queues"),
		part("kafka", &v.kafka, len(v.kafka.rows), "dead-letter topics"),
	}}
	for _, s := range []struct {
		name string
		s    *srcState
	}{{"rabbitmq", &v.rmq}, {"kafka", &v.kafka}} {
		if s.s.err == nil {
			continue
		}
		text := "! " + s.name + ": "
		if s.s.loaded {
			text += "showing the list of " + s.s.lastOK.Format("15:04:05") + ": "
		}
		v.sum.Extra = append(v.sum.Extra, st.FlashError.Render(text+errText(s.s.err)))
	}
	v.sum.Extra = append(v.sum.Extra, st.Dim.Render("enter opens the dead-letter groups · p peeks (nothing is consumed nor committed)"))
}
