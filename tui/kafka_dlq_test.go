package tui

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/tui/components"
)

// fakeKafkaDLQ is a test double of the Kafka dead-letter backend (an
// external system). ReadRecords reads the canned records of a topic in
// partition and offset order from the offsets asked; the move methods fail
// the test: the console only reads.
type fakeKafkaDLQ struct {
	t        testing.TB
	mu       sync.Mutex
	dlts     []backends.KafkaDLT
	byHeader []backends.KafkaDLT // found only when headers are sampled
	listErr  error
	readErr  error
	records  map[string][]backends.KafkaRecord
	scans    []bool            // sampleHeaders of each list call
	reads    []map[int32]int64 // from of each read
}

func (f *fakeKafkaDLQ) ListDeadLetterTopics(_ context.Context, sampleHeaders bool) ([]backends.KafkaDLT, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scans = append(f.scans, sampleHeaders)
	if f.listErr != nil {
		return nil, f.listErr
	}
	out := append([]backends.KafkaDLT(nil), f.dlts...)
	if sampleHeaders {
		out = append(out, f.byHeader...)
	}
	return out, nil
}

func (f *fakeKafkaDLQ) DeadLetterSummary(_ context.Context, topic string, sample int) (*backends.KafkaDeadLetterSummary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	recs := f.records[topic]
	n := min(sample, len(recs))
	s := &backends.KafkaDeadLetterSummary{Topic: topic, Messages: 1200, Sampled: n}
	idx := map[[2]string]int{}
	for _, r := range recs[:n] {
		var k [2]string
		if d := r.DeadLetter; d != nil {
			k = [2]string{d.OriginalTopic, d.ExceptionClass}
		}
		j, ok := idx[k]
		if !ok {
			j = len(s.Groups)
			idx[k] = j
			s.Groups = append(s.Groups, backends.KafkaDeadLetterGroup{Origin: k[0], Exception: k[1], First: r.Timestamp})
		}
		s.Groups[j].Count++
		s.Groups[j].Last = r.Timestamp
	}
	return s, nil
}

func (f *fakeKafkaDLQ) ReadRecords(_ context.Context, topic string, from map[int32]int64, limit int) ([]backends.KafkaRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads = append(f.reads, maps.Clone(from))
	if f.readErr != nil {
		return nil, f.readErr
	}
	var out []backends.KafkaRecord
	for _, r := range f.records[topic] {
		if len(out) == limit {
			break
		}
		if r.Offset >= from[r.Partition] { // log start 0
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fakeKafkaDLQ) PartitionCounts(context.Context, []string) (map[string]int32, error) {
	f.t.Error("the console asked for partition counts")
	return nil, errors.New("unexpected")
}

func (f *fakeKafkaDLQ) DeadLetterTopic(context.Context, string) (string, error) {
	f.t.Error("the console asked whether a topic is a dead-letter topic")
	return "", errors.New("unexpected")
}

func (f *fakeKafkaDLQ) PlanMove(context.Context, backends.KafkaPlanOptions) (*backends.KafkaMovePlan, error) {
	f.t.Error("the console planned a move")
	return nil, errors.New("unexpected")
}

func (f *fakeKafkaDLQ) MoveRecords(context.Context, backends.KafkaMoveOptions) (*backends.KafkaMoveResult, error) {
	f.t.Error("the console moved records")
	return nil, errors.New("unexpected")
}

const evilTopic = "evil\x1b[31mred\u202e.DLT"

func i32(n int32) *int32 { return &n }

// dltRecords are the records of orders.DLT: 15 in partition 0, 10 in
// partition 1 (25: two pages and a short one). The first three are a JSON
// body with Spring headers, a binary body, and escapes in a key and a
// header value.
func dltRecords() []backends.KafkaRecord {
	at := t0.Add(-time.Hour)
	spring := func(origin, exc string, p int32, o int64) []backends.KafkaHeader {
		return []backends.KafkaHeader{
			{Key: "kafka_dlt-original-topic", Value: []byte(origin)},
			{Key: "kafka_dlt-original-partition", Value: []byte{0, 0, 0, byte(p)}},
			{Key: "kafka_dlt-original-offset", Value: []byte{0, 0, 0, 0, 0, 0, 0x30, byte(o)}},
			{Key: "kafka_dlt-exception-fqcn", Value: []byte(exc)},
		}
	}
	dl := func(origin, exc, msg string, p int32, o int64) *backends.KafkaDeadLetterInfo {
		return &backends.KafkaDeadLetterInfo{Format: "spring", OriginalTopic: origin, OriginalPartition: i32(p),
			OriginalOffset: i64(o), ExceptionClass: exc, ExceptionMessage: msg}
	}
	var recs []backends.KafkaRecord
	for i := 0; i < 25; i++ {
		p, o := int32(0), int64(i)
		if i >= 15 {
			p, o = 1, int64(i-15)
		}
		exc := "org.springframework.kafka.listener.ListenerExecutionFailedException"
		if i%3 == 2 {
			exc = "com.example.ValidationException"
		}
		r := backends.KafkaRecord{Topic: "orders.DLT", Partition: p, Offset: o, Timestamp: at.Add(time.Duration(i) * time.Minute),
			Key: []byte("order-" + itoa(1000+i)), Value: []byte(`{"order":` + itoa(1000+i) + `}`),
			Headers:    spring("orders", exc, p, o),
			DeadLetter: dl("orders", exc, "Listener failed", p, o)}
		recs = append(recs, r)
	}
	recs[0].Value = []byte(`{"order":1000,"items":[{"sku":"A-1","qty":2}],"note":"\u001b[2Jwiped"}`)
	recs[0].DeadLetter.ExceptionMessage = "Listener method threw\nCaused by: java.lang.IllegalStateException: bad \x1b[31mstate"
	recs[1].Key = []byte{0x00, 0xff, 0x10}
	recs[1].Value = append([]byte{0x00, 0x01, 0x02, 0xff, 0xfe, 0x1b, '[', '3', '1', 'm'}, make([]byte, 290)...)
	recs[1].Headers = append(recs[1].Headers, backends.KafkaHeader{Key: "trace", Value: make([]byte, 100)})
	recs[2].Key = []byte("order-key\x1b]0;pwned\x07-1002-abcdef")
	recs[2].Headers = append(recs[2].Headers,
		backends.KafkaHeader{Key: "x-note\x1b[31m", Value: []byte("red\x1b[0m\u202eevil")},
		backends.KafkaHeader{Key: "empty", Value: []byte{}},
		backends.KafkaHeader{Key: "nil", Value: nil})
	recs[2].Value = []byte("line one \x1b[31mRED\x1b[0m\nline two \u009b2J")
	recs[3].Value = nil // a tombstone
	recs[3].DeadLetter, recs[3].Headers = nil, nil
	return recs
}

func ptr[T any](v T) *T { return &v }

func newFakeKafkaDLQ(t testing.TB) *fakeKafkaDLQ {
	return &fakeKafkaDLQ{
		t: t,
		dlts: []backends.KafkaDLT{
			{Topic: "orders.DLT", Messages: 1200, Partitions: 2, DetectedBy: "name", LeftToDrain: ptr[int64](200)}, // drained in part
			{Topic: evilTopic, Messages: 3, Partitions: 1, DetectedBy: "name"},                                     // drain group unreadable
		},
		byHeader: []backends.KafkaDLT{{Topic: "payments-errors", Messages: 42, Partitions: 3, DetectedBy: "headers", LeftToDrain: ptr[int64](42)}},
		records:  map[string][]backends.KafkaRecord{"orders.DLT": dltRecords()},
	}
}

// dlqHarness is a console on :dlq with the sources given (nil: absent).
func dlqHarness(t testing.TB, r *fakeRabbit, k *fakeKafkaDLQ) *harness {
	t.Helper()
	o := Options{Cluster: "kafka-1.test:9092"}
	if r != nil {
		o.Rabbit = r
	}
	if k != nil {
		o.KafkaDLQ = k
	}
	h := newHarness(t, o, nil)
	h.command("dlq")
	return h
}

const ordersDLT = kafkaRowPrefix + "orders.DLT"

func TestKafkaDLQGolden(t *testing.T) {
	cases := []struct {
		name          string
		rabbit, kafka bool
		setup         func(t *testing.T, h *harness)
	}{
		{name: "mixed_list", rabbit: true, kafka: true},
		{name: "kafka_only_list", kafka: true},
		{name: "kafka_failing", rabbit: true, kafka: true, setup: func(t *testing.T, h *harness) {
			h.m.opts.KafkaDLQ.(*fakeKafkaDLQ).listErr = errors.New("kafka: client has run out of available brokers to talk to")
			fire[refreshTickMsg](h)
		}},
		{name: "rabbit_failing", rabbit: true, kafka: true, setup: func(t *testing.T, h *harness) {
			h.m.opts.Rabbit.(*fakeRabbit).queuesErr = errors.New("dial tcp 10.0.0.2:15672: connect: connection refused")
			fire[refreshTickMsg](h)
		}},
		{name: "no_source"},
		{name: "kafka_groups", kafka: true, setup: func(t *testing.T, h *harness) {
			h.selectRow(ordersDLT)
			h.keys("enter")
		}},
		{name: "kafka_peek_json", rabbit: true, kafka: true, setup: func(t *testing.T, h *harness) {
			h.selectRow(ordersDLT)
			h.keys("p")
		}},
		{name: "kafka_peek_binary", kafka: true, setup: func(t *testing.T, h *harness) {
			h.selectRow(ordersDLT)
			h.keys("enter", "p", "j")
		}},
		{name: "kafka_peek_escapes", kafka: true, setup: func(t *testing.T, h *harness) {
			h.selectRow(ordersDLT)
			h.keys("p", "j", "j")
		}},
		{name: "kafka_peek_tombstone", kafka: true, setup: func(t *testing.T, h *harness) {
			h.selectRow(ordersDLT)
			h.keys("p", "j", "j", "j")
		}},
		{name: "kafka_peek_page2", kafka: true, setup: func(t *testing.T, h *harness) {
			h.selectRow(ordersDLT)
			h.keys("p", "]")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r *fakeRabbit
			var k *fakeKafkaDLQ
			if c.rabbit {
				r = newFakeRabbit()
			}
			if c.kafka {
				k = newFakeKafkaDLQ(t)
			}
			h := dlqHarness(t, r, k)
			if c.setup != nil {
				c.setup(t, h)
			}
			raw := h.m.View().Content
			checkFrame(t, raw, 120, 30)
			if strings.ContainsAny(raw, "\x07\u202e\u009b") || strings.Contains(raw, "\x1b]") || strings.Contains(raw, "\x1b[31mred") {
				t.Error("a control character from the broker reached the terminal")
			}
			golden.RequireEqual(t, h.screen())
		})
	}
}

func TestKafkaDLQList(t *testing.T) {
	t.Run("mixed", func(t *testing.T) {
		h := dlqHarness(t, newFakeRabbit(), newFakeKafkaDLQ(t))
		v := h.m.top().(*dlqListView)
		got := map[string]string{}
		for _, r := range v.tbl.Rows() {
			got[r.ID] = r.Cells[dcBackend] + " " + r.Cells[dcListName] + " " + r.Cells[dcDepth] + " " + r.Cells[dcToDrain] + " " + r.Cells[dcDetected]
		}
		want := map[string]string{
			queueKey("/", "orders.dlq"):                 "rabbitmq orders.dlq 1,500 1,500 bound to dead-letter exchange dlx of orders",
			queueKey("billing", "invoices.dead-letter"): "rabbitmq billing/invoices.dead-letter 2 2 named like a dead-letter queue",
			ordersDLT:                          "kafka orders.DLT 1,200 200 name",
			kafkaRowPrefix + evilTopic:         `kafka evil\x1b[31mred\u202e.DLT 3 ? name`,
			kafkaRowPrefix + "payments-errors": "kafka payments-errors 42 42 headers",
		}
		if !maps.Equal(got, want) {
			t.Errorf("rows:\n got %q\nwant %q", got, want)
		}
		// Sorted by depth, both backends together.
		if ids := h.visibleIDs(); ids[0] != queueKey("/", "orders.dlq") || ids[1] != ordersDLT {
			t.Errorf("order %q", ids)
		}
	})

	t.Run("kafka_only", func(t *testing.T) {
		k := newFakeKafkaDLQ(t)
		h := dlqHarness(t, nil, k)
		v := h.m.top().(*dlqListView)
		if len(v.tbl.Rows()) != 3 || !strings.Contains(h.screen(), "orders.DLT") || !strings.Contains(h.screen(), "rabbitmq not configured") {
			t.Fatalf("kafka-only :dlq:\n%s", h.screen())
		}
		// The list refreshes on the schedule.
		if len(h.refreshTicks()) != 1 {
			t.Errorf("no refresh scheduled: %v", h.refreshTicks())
		}
	})

	t.Run("start_view", func(t *testing.T) {
		// `mqops demo --view dlq` without RabbitMQ: the DLT shows at once.
		k := newFakeKafkaDLQ(t)
		h := newHarness(t, Options{KafkaDLQ: k, StartView: "dlq"}, nil)
		if !strings.Contains(h.screen(), "orders.DLT") {
			t.Fatalf("start on :dlq with Kafka only:\n%s", h.screen())
		}
	})

	t.Run("header_scan_schedule", func(t *testing.T) {
		k := newFakeKafkaDLQ(t)
		h := dlqHarness(t, nil, k)
		for i := 0; i < headerScanEvery+1; i++ {
			fire[refreshTickMsg](h)
		}
		v := h.m.top().(*dlqListView)
		k.mu.Lock()
		scans := append([]bool(nil), k.scans...)
		k.mu.Unlock()
		if len(scans) != headerScanEvery+2 || !scans[0] || scans[1] || !scans[headerScanEvery] || scans[headerScanEvery+1] {
			t.Errorf("header scans %v: want the first and every %dth", scans, headerScanEvery)
		}
		// Between scans the topic found by its headers stays.
		if _, ok := v.dlts[kafkaRowPrefix+"payments-errors"]; !ok {
			t.Error("the topic found by headers dropped out between scans")
		}
	})

	t.Run("one_failing_keeps_the_other", func(t *testing.T) {
		r, k := newFakeRabbit(), newFakeKafkaDLQ(t)
		h := dlqHarness(t, r, k)
		v := h.m.top().(*dlqListView)
		// Kafka fails: its rows of the last success stay, with the error;
		// RabbitMQ's are fresh.
		k.mu.Lock()
		k.listErr = errors.New("kafka down")
		k.mu.Unlock()
		fire[refreshTickMsg](h)
		if len(v.tbl.Rows()) != 5 || v.kafka.err == nil || v.rmq.err != nil {
			t.Fatalf("after a Kafka failure: %d rows, errs %v / %v", len(v.tbl.Rows()), v.rmq.err, v.kafka.err)
		}
		scr := h.screen()
		if !strings.Contains(scr, "kafka down") || !strings.Contains(scr, "STALE") {
			t.Errorf("the Kafka failure is not shown:\n%s", scr)
		}
		// Both fail: a failed refresh, the rows stay, marked stale.
		r.mu.Lock()
		r.queuesErr = errors.New("rabbit down")
		r.mu.Unlock()
		fire[refreshTickMsg](h)
		if len(v.tbl.Rows()) != 5 || v.st.failures != 1 {
			t.Fatalf("both failing: %d rows, %d failures", len(v.tbl.Rows()), v.st.failures)
		}
		if scr := h.screen(); !strings.Contains(scr, "rabbit down") || !strings.Contains(scr, "kafka down") {
			t.Errorf("both failures not shown:\n%s", scr)
		}
		// Kafka back: its rows are fresh, RabbitMQ's kept.
		k.mu.Lock()
		k.listErr = nil
		k.mu.Unlock()
		fire[refreshTickMsg](h)
		if len(v.tbl.Rows()) != 5 || v.kafka.err != nil || v.rmq.err == nil || v.st.failures != 0 {
			t.Fatalf("Kafka back: %d rows, errs %v / %v", len(v.tbl.Rows()), v.rmq.err, v.kafka.err)
		}
	})

	t.Run("first_load_fails_for_one", func(t *testing.T) {
		r, k := newFakeRabbit(), newFakeKafkaDLQ(t)
		r.queuesErr = errors.New("rabbit down")
		h := dlqHarness(t, r, k)
		v := h.m.top().(*dlqListView)
		if len(v.tbl.Rows()) != 3 || !strings.Contains(h.screen(), "rabbitmq unreachable") {
			t.Fatalf("RabbitMQ failing first: %d rows\n%s", len(v.tbl.Rows()), h.screen())
		}
	})

	t.Run("no_source", func(t *testing.T) {
		h := dlqHarness(t, nil, nil)
		if !strings.Contains(h.screen(), "no RabbitMQ nor Kafka configured") {
			t.Errorf(":dlq without sources:\n%s", h.screen())
		}
		h.keys("r")
		if !strings.Contains(h.screen(), "--brokers") {
			t.Errorf("r on :dlq without sources:\n%s", h.screen())
		}
	})

	t.Run("drain_sees_only_queues", func(t *testing.T) {
		h := dlqHarness(t, newFakeRabbit(), newFakeKafkaDLQ(t))
		v := h.m.top().(*dlqListView)
		h.selectRow(ordersDLT)
		if _, ok := v.selectedQueue(); ok {
			t.Error("a Kafka topic is offered as a RabbitMQ queue")
		}
		h.selectRow(queueKey("/", "orders.dlq"))
		if q, ok := v.selectedQueue(); !ok || q.Name != "orders.dlq" {
			t.Errorf("selected queue %v %v", q, ok)
		}
	})
}

func TestKafkaDLTGroups(t *testing.T) {
	h := dlqHarness(t, nil, newFakeKafkaDLQ(t))
	h.selectRow(ordersDLT)
	h.keys("enter")
	v, ok := h.m.top().(*kafkaDLTView)
	if !ok {
		t.Fatalf("enter opened %T", h.m.top())
	}
	// 24 Spring records in two exception classes and a tombstone without
	// headers.
	got := map[string]string{}
	for _, r := range v.tbl.Rows() {
		got[r.Cells[kgOrigin]+" "+r.Cells[kgException]] = r.Cells[kgCount]
	}
	want := map[string]string{
		"orders org.springframework.kafka.listener.ListenerExecutionFailedException": "16",
		"orders com.example.ValidationException":                                     "8",
		"(no dead-letter headers) -":                                                 "1",
	}
	if !maps.Equal(got, want) {
		t.Errorf("groups %v, want %v", got, want)
	}
	if scr := h.screen(); !strings.Contains(scr, "sampled 25 of 1,200 records") {
		t.Errorf("no sample note:\n%s", scr)
	}
	// The groups load once: a scheduled tick does not re-sample.
	if h.m.refresh.inFlight || !h.m.refresh.idle {
		t.Error("the groups view scheduled a refresh")
	}
	h.keys("p")
	if _, ok := h.m.top().(*kafkaPeekView); !ok {
		t.Fatalf("p on the groups opened %T", h.m.top())
	}
}

func TestKafkaPeekPaging(t *testing.T) {
	k := newFakeKafkaDLQ(t)
	h := dlqHarness(t, nil, k)
	h.selectRow(ordersDLT)
	h.keys("p")
	pv, ok := h.m.top().(*kafkaPeekView)
	if !ok {
		t.Fatalf("p opened %T", h.m.top())
	}
	ids := func() string {
		var out []string
		for _, r := range pv.list.Rows() {
			out = append(out, r.ID)
		}
		return strings.Join(out, " ")
	}
	if pv.page != 0 || len(pv.list.Rows()) != 20 || pv.list.Rows()[0].ID != "0/0" || pv.list.Rows()[19].ID != "1/4" {
		t.Fatalf("page %d: %s", pv.page, ids())
	}
	h.keys("]")
	if pv.page != 1 || len(pv.list.Rows()) != 5 || pv.list.Rows()[0].ID != "1/5" || pv.list.Rows()[0].Cells[rcIndex] != "20" {
		t.Fatalf("after ]: page %d: %s", pv.page, ids())
	}
	// No page after a short one.
	n := len(k.reads)
	h.keys("]")
	if len(k.reads) != n || !strings.Contains(h.screen(), "last page") {
		t.Errorf("] on the last page read again: %v", k.reads)
	}
	h.keys("[")
	if pv.page != 0 || len(pv.list.Rows()) != 20 || pv.list.Rows()[0].ID != "0/0" {
		t.Fatalf("after [: page %d: %s", pv.page, ids())
	}
	h.keys("[")
	if !strings.Contains(h.screen(), "first page") {
		t.Error("[ on the first page says nothing")
	}
	// Page 1 starts past the last record read of each partition; page 0
	// starts at the log starts, both times.
	want := []map[int32]int64{nil, {0: 15, 1: 5}, nil}
	if got := k.reads[len(k.reads)-3:]; len(got) != 3 || got[0] != nil || !maps.Equal(got[1], want[1]) || got[2] != nil {
		t.Errorf("reads from %v, want …%v", k.reads, want)
	}
	// Forward again: the same page 1.
	h.keys("]")
	if pv.page != 1 || pv.list.Rows()[0].ID != "1/5" {
		t.Errorf("page 1 again: %s", ids())
	}

	// A failed page leaves the shown page and says so.
	h.keys("[")
	k.mu.Lock()
	k.readErr = errors.New("NOT_LEADER_OR_FOLLOWER")
	k.mu.Unlock()
	h.keys("]")
	if pv.page != 0 || pv.want != 0 || !strings.Contains(h.screen(), "NOT_LEADER_OR_FOLLOWER") {
		t.Errorf("failed turn: page %d want %d\n%s", pv.page, pv.want, h.screen())
	}
}

func TestKafkaRecordDetail(t *testing.T) {
	recs := dltRecords()
	text := func(rows []components.Row) string {
		var b strings.Builder
		for _, r := range rows {
			b.WriteString(r.Cells[fcField] + "\t" + r.Cells[fcValue] + "\n")
		}
		return b.String()
	}
	d0 := text(recordDetail(0, &recs[0]))
	for _, want := range []string{
		"original topic orders · partition 0 · offset 0 · spring headers",
		"exception\torg.springframework.kafka.listener.ListenerExecutionFailedException",
		"message\tListener method threw\n\tCaused by: java.lang.IllegalStateException: bad \\x1b[31mstate",
		`header	kafka_dlt-original-partition: 0x00000000`,
		"body\t", "· JSON", `"sku": "A-1"`, `"note": "\u001b[2Jwiped"`,
	} {
		if !strings.Contains(d0, want) {
			t.Errorf("record 0 lacks %q:\n%s", want, d0)
		}
	}
	d1 := text(recordDetail(1, &recs[1]))
	for _, want := range []string{"key\t0x00ff10", "trace: <100 bytes binary>", "hex dump of the first 256 B", "00000000  00 01 02 ff fe 1b 5b 33  31 6d"} {
		if !strings.Contains(d1, want) {
			t.Errorf("record 1 lacks %q:\n%s", want, d1)
		}
	}
	d2 := text(recordDetail(2, &recs[2]))
	if strings.ContainsAny(d2, "\x1b\x07\u202e\u009b") {
		t.Errorf("record 2 has a control character:\n%q", d2)
	}
	for _, want := range []string{`order-key\x1b]0;pwned\x07-1002-abcdef`, `x-note\x1b[31m: red\x1b[0m\u202eevil`, `empty: ""`, "nil: null"} {
		if !strings.Contains(d2, want) {
			t.Errorf("record 2 lacks %q:\n%s", want, d2)
		}
	}
	d3 := text(recordDetail(3, &recs[3]))
	if !strings.Contains(d3, "null (tombstone)") || !strings.Contains(d3, "no dead-letter headers") {
		t.Errorf("tombstone:\n%s", d3)
	}
	// A huge value is cut; a long text header is cut with its size.
	big := backends.KafkaRecord{Value: []byte(strings.Repeat("x", 3<<20)),
		Headers: []backends.KafkaHeader{{Key: "kafka_dlt-exception-stacktrace", Value: []byte(strings.Repeat("at x.y\n", 1000))}}}
	db := text(recordDetail(0, &big))
	if !strings.Contains(db, "3.0 MiB · truncated: showing the first 1.0 MiB") || !strings.Contains(db, "… (6.8 KiB)") {
		t.Errorf("big record:\n%.600s", db)
	}
}

func TestKafkaDLQFramesFitAnySize(t *testing.T) {
	h := dlqHarness(t, newFakeRabbit(), newFakeKafkaDLQ(t))
	for _, size := range [][2]int{{20, 5}, {40, 8}, {60, 12}, {80, 24}, {200, 60}} {
		h.send(teaWindow(size[0], size[1]))
		checkFrame(t, h.m.View().Content, size[0], size[1])
	}
	h.send(teaWindow(120, 30))
	h.selectRow(ordersDLT)
	h.keys("p", "j", "j", "tab")
	for _, size := range [][2]int{{20, 5}, {40, 8}, {60, 12}, {80, 24}, {200, 60}} {
		h.send(teaWindow(size[0], size[1]))
		checkFrame(t, h.m.View().Content, size[0], size[1])
	}
}
