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
	"github.com/mqops/mqops/tui/styles"
)

// fakeRabbit is a test double of the RabbitMQ broker (an external system):
// Queues answers the step-th queue list (the last one repeating), Peek
// slices the canned messages of a queue.
type fakeRabbit struct {
	mu        sync.Mutex
	steps     [][]backends.Queue
	queuesErr error
	step      int
	details   map[string]*backends.QueueDetail
	messages  map[string][]backends.Message
	warning   string
	peeks     []int // offsets asked
	dlCalls   int
	peekErr   error
	nilPeek   bool // a peek answers nothing and no error (a broken broker)
	// risk makes every queue one whose peeks cost delivery attempts;
	// requeues counts them per message index; depth, when set, is the
	// depth measured by the n-th peek.
	risk     *backends.PeekRisk
	requeues map[int]int64
	depth    func(n int) int64
}

func (f *fakeRabbit) Name() string { return "rabbit-1.test:15672" }

func (f *fakeRabbit) Queues(context.Context) ([]backends.Queue, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.queuesErr != nil {
		return nil, f.queuesErr
	}
	qs := f.steps[min(f.step, len(f.steps)-1)]
	f.step++
	return qs, nil
}

func (f *fakeRabbit) QueueDetail(_ context.Context, vhost, name string) (*backends.QueueDetail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.details[queueKey(vhost, name)]
	if !ok {
		return nil, errors.New(`queue "` + name + `" not found`)
	}
	return d, nil
}

// PeekQueue slices the canned messages. With risk set the queue is one
// whose peeks cost delivery attempts: it is refused without AcceptRisk,
// and each accepted read counts one more requeue on every message read.
func (f *fakeRabbit) PeekQueue(_ context.Context, vhost, queue string, o backends.PeekOptions) (*backends.PeekResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.peeks = append(f.peeks, o.Offset)
	if f.peekErr != nil || f.nilPeek {
		return nil, f.peekErr
	}
	ms := f.messages[queueKey(vhost, queue)]
	depth := int64(len(ms))
	if f.depth != nil {
		depth = f.depth(len(f.peeks))
	}
	if f.risk != nil {
		if !o.AcceptRisk {
			r := *f.risk
			r.Depth = depth
			return nil, &backends.PeekRiskError{Vhost: vhost, Queue: queue, Risk: &r}
		}
		for i := 0; i < min(o.Offset+o.Limit, len(ms)); i++ {
			if ms[i].Headers == nil {
				ms[i].Headers = map[string]any{}
			} else if f.requeues[i] == 0 {
				ms[i].Headers = maps.Clone(ms[i].Headers)
			}
			if f.requeues[i] > 0 {
				ms[i].Headers["x-delivery-count"] = f.requeues[i]
			}
			f.requeues[i]++
		}
	}
	res := &backends.PeekResult{Messages: []backends.Message{}, Depth: depth, Read: min(o.Offset+o.Limit, len(ms)), Risk: f.risk, Warning: f.warning}
	if o.Offset < len(ms) {
		res.Messages = append(res.Messages, ms[o.Offset:min(o.Offset+o.Limit, len(ms))]...)
	}
	return res, nil
}

func (f *fakeRabbit) DeadLetters(ctx context.Context, vhost, queue string, sample int) (*backends.DeadLetterSummary, error) {
	f.mu.Lock()
	f.dlCalls++
	ms := f.messages[queueKey(vhost, queue)]
	warning, risk := f.warning, f.risk
	f.mu.Unlock()
	if risk != nil {
		r := *risk
		r.Depth = 1500
		return &backends.DeadLetterSummary{Backend: "rabbitmq", Vhost: vhost, Queue: queue, Messages: 1500, Groups: []backends.DeadLetterGroup{}, NotSampled: &r}, nil
	}
	n := min(sample, len(ms))
	return &backends.DeadLetterSummary{Backend: "rabbitmq", Vhost: vhost, Queue: queue,
		Messages: 1500, Sampled: n, Groups: groupDeadLetters(ms[:n]), Warning: warning}, nil
}

// groupDeadLetters groups by origin and reason, as the broker client does
// (its Group lives in backends/rabbitmq, which tui does not import).
func groupDeadLetters(ms []backends.Message) []backends.DeadLetterGroup {
	var out []backends.DeadLetterGroup
	idx := map[string]int{}
	for i := range ms {
		origin, reason := ms[i].Origin()
		exc, _ := ms[i].Headers["x-exception-type"].(string)
		k := origin + "\x00" + reason + "\x00" + exc
		j, ok := idx[k]
		if !ok {
			j = len(out)
			idx[k] = j
			out = append(out, backends.DeadLetterGroup{Origin: origin, Reason: reason, Exception: exc, First: ms[i].Timestamp})
		}
		out[j].Count++
		out[j].Last = ms[i].Timestamp
	}
	return out
}

// costly makes the fake's queues quorum queues with a delivery limit of 2
// on RabbitMQ 3.10: a peek costs each message read one attempt.
func (f *fakeRabbit) costly() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.risk = &backends.PeekRisk{Kind: backends.RiskDeliveryLimit, DeliveryLimit: 2, LimitSource: "argument x-delivery-limit",
		OverLimit: "dropped (the queue has no dead-letter exchange)", CountsShown: true, Version: "3.10.8",
		Reason: "quorum queue with a delivery limit of 2 (argument x-delivery-limit): RabbitMQ 3.10.8 counts every requeue as a delivery attempt, " +
			"so a peek costs each message it reads one of its 2 requeues, and one already requeued 2 times is dropped (the queue has no dead-letter exchange)"}
	f.requeues = map[int]int64{}
}

func queuesAt(k int) []backends.Queue {
	kk := int64(k)
	limit := int64(5)
	return []backends.Queue{
		{Vhost: "/", Name: "orders", Type: "classic", Ready: 1200 + 300*kk, Unacked: 30, Messages: 1230 + 300*kk, Consumers: 3,
			PublishRate: 50, DeliverRate: 80, HasDeadLetterExchange: true, DeadLetterExchange: "dlx",
			Arguments: map[string]any{"x-dead-letter-exchange": "dlx", "x-max-length": 100000}},
		{Vhost: "/", Name: "payments", Type: "quorum", Ready: 40 - 10*kk, Messages: 40 - 10*kk, Consumers: 2, PublishRate: 12.5, DeliverRate: 10,
			HasDeadLetterExchange: true, DeliveryLimit: &limit, Policy: "qq-dlx"},
		{Vhost: "billing", Name: "invoices", Type: "classic", Ready: 900, Messages: 900, Consumers: 0, PublishRate: 3},
		{Vhost: "/", Name: "orders.dlq", Type: "classic", Ready: 1500, Messages: 1500, IsDLQ: true, DLQReason: "bound to dead-letter exchange dlx of orders"},
		{Vhost: "/", Name: "evil\x1b[31mred\u202equeue", Type: "classic", Ready: 1, Messages: 1, Consumers: 1},
		{Vhost: "billing", Name: "invoices.dead-letter", Type: "quorum", Ready: 2, Messages: 2, IsDLQ: true, DLQReason: "named like a dead-letter queue"},
	}
}

func deadLetters() []backends.Message {
	at := t0.Add(-time.Hour)
	death := func(q, reason string, n int64, min int) backends.Death {
		return backends.Death{Queue: q, Reason: reason, Exchange: "orders", RoutingKeys: []string{"order.created"}, Count: n, Time: at.Add(time.Duration(min) * time.Minute)}
	}
	ms := []backends.Message{
		{MessageID: "ord-1001", Exchange: "dlx", RoutingKey: "order.created", Redelivered: true, ContentType: "application/json",
			Timestamp: at, DeliveryMode: 2,
			Headers:    map[string]any{"x-exception-type": "ValidationError", "x-death": []any{}},
			Body:       []byte(`{"order":1001,"items":[{"sku":"A-1","qty":2}],"note":"\u001b[2Jwiped"}`),
			Deaths:     []backends.Death{death("orders", "rejected", 3, 5), death("orders.retry", "expired", 1, 1)},
			FirstDeath: &backends.Death{Queue: "orders", Reason: "rejected", Exchange: "orders"}},
		{MessageID: "ord-1002", Exchange: "dlx", RoutingKey: "order.created", ContentType: "application/octet-stream",
			Timestamp: at.Add(time.Minute), DeliveryMode: 2, Size: 300,
			Body:   append([]byte{0x00, 0x01, 0x02, 0xff, 0xfe, 0x1b, '[', '3', '1', 'm'}, make([]byte, 290)...),
			Deaths: []backends.Death{death("orders", "rejected", 1, 6)}},
		{MessageID: "evil\x1b]0;pwned\x07", Exchange: "dlx", RoutingKey: "rk\u202eevil", ContentType: "text/plain",
			Timestamp: at.Add(2 * time.Minute),
			Headers:   map[string]any{"x-note\x1b[31m": "red\x1b[0m"},
			Body:      []byte("line one \x1b[31mRED\x1b[0m\nline two \u009b2J\ttabbed\r\nend \u202edesrever"),
			Deaths:    []backends.Death{death("payments", "delivery_limit", 5, 7)}},
		{MessageID: "big-1", Exchange: "dlx", RoutingKey: "order.created", Size: 3 << 20, Truncated: true,
			Timestamp: at.Add(3 * time.Minute), Body: []byte(strings.Repeat("x", 1<<20)),
			Deaths: []backends.Death{death("orders", "maxlen", 1, 8)}},
	}
	for i := 4; i < 25; i++ {
		ms = append(ms, backends.Message{MessageID: "ord-" + itoa(1000+i+1), Exchange: "dlx", RoutingKey: "order.created",
			Timestamp: at.Add(time.Duration(i) * time.Minute), Body: []byte(`{"order":` + itoa(1000+i+1) + `}`),
			Deaths: []backends.Death{death("orders", "expired", 1, i)}})
	}
	for i := range ms {
		ms[i].Index = i
	}
	return ms
}

func newFakeRabbit() *fakeRabbit {
	steps := [][]backends.Queue{queuesAt(0), queuesAt(1), queuesAt(2)}
	return &fakeRabbit{
		steps: steps,
		details: map[string]*backends.QueueDetail{
			queueKey("/", "orders"): {
				Queue: steps[0][0],
				Bindings: []backends.Binding{
					{Source: "", Destination: "orders", DestinationType: "queue", RoutingKey: "orders"},
					{Source: "orders", Destination: "orders", DestinationType: "queue", RoutingKey: "order.*"},
				},
				Consumers: []backends.QueueConsumer{
					{Tag: "amq.ctag-1", Connection: "10.0.4.11:5123 -> 10.0.0.2:5672", Channel: "10.0.4.11:5123 (1)", AckRequired: true, Prefetch: 50},
				},
			},
		},
		messages: map[string][]backends.Message{queueKey("/", "orders.dlq"): deadLetters()},
	}
}

// rabbitHarness is a console on RabbitMQ only, showing :queues after three
// refreshes.
func rabbitHarness(t testing.TB, f *fakeRabbit) *harness {
	t.Helper()
	h := newHarness(t, Options{Rabbit: f}, nil)
	h.command("queues")
	fire[refreshTickMsg](h)
	fire[refreshTickMsg](h)
	return h
}

func (h *harness) command(line string) {
	h.t.Helper()
	h.keys(":")
	h.typeText(line)
	h.keys("enter")
}

func TestRabbitGolden(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, h *harness)
	}{
		{name: "queues"},
		{name: "queue_detail", setup: func(t *testing.T, h *harness) {
			h.selectRow(queueKey("/", "orders"))
			h.keys("enter")
		}},
		{name: "dlq_list", setup: func(t *testing.T, h *harness) {
			h.command("dlq")
		}},
		{name: "dlq_groups", setup: func(t *testing.T, h *harness) {
			h.command("dead")
			h.selectRow(queueKey("/", "orders.dlq"))
			h.keys("enter")
		}},
		{name: "peek_json", setup: func(t *testing.T, h *harness) {
			h.command("dlq")
			h.selectRow(queueKey("/", "orders.dlq"))
			h.keys("enter", "p")
		}},
		{name: "peek_binary", setup: func(t *testing.T, h *harness) {
			h.command("dlq")
			h.selectRow(queueKey("/", "orders.dlq"))
			h.keys("p", "j")
		}},
		{name: "peek_escapes", setup: func(t *testing.T, h *harness) {
			h.command("dlq")
			h.selectRow(queueKey("/", "orders.dlq"))
			h.keys("p", "j", "j")
		}},
		{name: "peek_truncated", setup: func(t *testing.T, h *harness) {
			h.command("dlq")
			h.selectRow(queueKey("/", "orders.dlq"))
			h.keys("p", "j", "j", "j")
		}},
		{name: "peek_page2_warning", setup: func(t *testing.T, h *harness) {
			h.m.opts.Rabbit.(*fakeRabbit).warning = "12 messages published while the peek ran are now ahead of the 25 it read"
			h.command("dlq")
			h.selectRow(queueKey("/", "orders.dlq"))
			h.keys("p", "]")
		}},
		{name: "dlq_groups_not_sampled", setup: func(t *testing.T, h *harness) {
			h.m.opts.Rabbit.(*fakeRabbit).costly()
			h.command("dlq")
			h.selectRow(queueKey("/", "orders.dlq"))
			h.keys("enter")
		}},
		{name: "peek_costly_asks", setup: func(t *testing.T, h *harness) {
			h.m.opts.Rabbit.(*fakeRabbit).costly()
			h.command("dlq")
			h.selectRow(queueKey("/", "orders.dlq"))
			h.keys("p")
		}},
		{name: "peek_costly_page2", setup: func(t *testing.T, h *harness) {
			h.m.opts.Rabbit.(*fakeRabbit).costly()
			h.command("dlq")
			h.selectRow(queueKey("/", "orders.dlq"))
			h.keys("p", "y", "]", "y", "[")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := rabbitHarness(t, newFakeRabbit())
			if c.setup != nil {
				c.setup(t, h)
			}
			raw := h.m.View().Content
			checkFrame(t, raw, 120, 30)
			if strings.ContainsAny(raw, "\x07\u202e\u009b") || strings.Contains(raw, "\x1b]") {
				t.Error("a control character from the broker reached the terminal")
			}
			golden.RequireEqual(t, h.screen())
		})
	}
	t.Run("no_rabbit", func(t *testing.T) {
		h := newHarness(t, Options{Context: "dev"}, nil)
		h.command("queues")
		golden.RequireEqual(t, h.screen())
		h.keys("r")
		if !strings.Contains(h.screen(), "no RabbitMQ configured") {
			t.Error("r on :queues without RabbitMQ does not say so")
		}
	})
}

func TestQueuesTrendAndDrain(t *testing.T) {
	h := rabbitHarness(t, newFakeRabbit())
	v := h.m.top().(*queuesView)
	if got := v.history[queueKey("/", "orders")]; len(got) != 3 || got[0] != 1230 || got[2] != 1830 {
		t.Fatalf("orders backlog history = %v", got)
	}
	r := rowByID(t, v.tbl, queueKey("/", "orders"))
	// 1,830 messages drained at 80−50 = 30/s: 61 s.
	if r.Cells[qcDrain] != "1m01s" {
		t.Errorf("time to drain = %q", r.Cells[qcDrain])
	}
	if r := rowByID(t, v.tbl, queueKey("billing", "invoices")); r.Cells[qcDrain] != "-" {
		t.Errorf("a queue that is not draining has time to drain %q", r.Cells[qcDrain])
	}
	// Sorted by depth.
	if ids := h.visibleIDs(); ids[0] != queueKey("/", "orders") {
		t.Errorf("first row %q, want the deepest queue", ids[0])
	}
	// Filter and sort work as on the Kafka views.
	h.keys("/")
	h.typeText("dlq|dead")
	h.keys("enter")
	if ids := h.visibleIDs(); len(ids) != 2 {
		t.Errorf("filter kept %v", ids)
	}
}

func rowByID(t *testing.T, tbl *components.Table, id string) *components.Row {
	t.Helper()
	for i := range tbl.Rows() {
		if tbl.Rows()[i].ID == id {
			return &tbl.Rows()[i]
		}
	}
	t.Fatalf("no row %q", id)
	return nil
}

func TestRabbitStaleResultsAreDropped(t *testing.T) {
	f := newFakeRabbit()
	h := rabbitHarness(t, f)
	m := h.m
	v := m.top().(*queuesView)
	cmd := m.startRefresh()
	if cmd == nil || !m.refresh.inFlight {
		t.Fatal("refresh did not start")
	}
	cur := m.refresh.tag
	old := cur
	old.seq--
	other := cur
	other.view = "dlq"
	for _, tag := range []reqTag{old, other} {
		m.Update(loadedMsg{tag: tag, apply: applying([]backends.Queue{}, v.apply)})
		m.Update(loadedMsg{tag: tag, err: errors.New("late failure")})
	}
	if len(v.tbl.Rows()) != 6 || v.st.lastErr != nil || !m.refresh.inFlight {
		t.Fatalf("a stale result was applied: %d rows, err %v", len(v.tbl.Rows()), v.st.lastErr)
	}
	// A failure keeps the rows on screen, marked stale, and backs off.
	m.Update(loadedMsg{tag: cur, err: errors.New("connection refused")})
	if len(v.tbl.Rows()) != 6 || v.st.failures != 1 || m.refresh.inFlight {
		t.Fatalf("failure: %d rows, %d failures", len(v.tbl.Rows()), v.st.failures)
	}
	if !strings.Contains(h.screen(), "STALE") || !strings.Contains(h.screen(), "connection refused") {
		t.Errorf("failure not shown:\n%s", h.screen())
	}

	// Opening a DLQ while the list refresh is in flight: the list's result
	// is stale once the groups view is on top.
	h.command("dlq")
	m.startRefresh()
	listTag := m.refresh.tag
	h.selectRow(queueKey("/", "orders.dlq"))
	_, cmd = m.Update(keyPress("enter"))
	dv := m.top().(*dlqView)
	if m.refresh.tag == listTag || m.refresh.tag.view != dv.id() {
		t.Fatalf("the refresh was not re-aimed at the groups view: %+v", m.refresh.tag)
	}
	m.Update(loadedMsg{tag: listTag, apply: func(*Model, time.Time) notice {
		t.Fatal("the list's result was applied to the groups view")
		return notice{}
	}})
	if dv.st.loaded {
		t.Fatal("the list's result was applied to the groups view")
	}
	h.run(cmd)
	if !dv.st.loaded || len(dv.tbl.Rows()) == 0 {
		t.Fatal("the groups did not load")
	}
	// The groups view does not refresh by itself: sampling reads messages.
	if m.refresh.inFlight || !m.refresh.idle {
		t.Errorf("the groups view scheduled a refresh")
	}
	calls := f.dlCalls
	fire[refreshTickMsg](h)
	if f.dlCalls != calls {
		t.Errorf("a scheduled tick re-sampled the dead-letter queue")
	}
	// Back on the list, the refresh loop resumes.
	h.keys("esc")
	if _, ok := m.top().(*dlqListView); !ok || (!m.refresh.inFlight && len(h.refreshTicks()) == 0) {
		t.Error("the list does not refresh after coming back")
	}
}

func TestPeekPaging(t *testing.T) {
	f := newFakeRabbit()
	h := rabbitHarness(t, f)
	pv := h.peekOrdersDLQ()
	if pv.page != 0 || len(pv.list.Rows()) != 20 {
		t.Fatalf("page %d with %d messages", pv.page, len(pv.list.Rows()))
	}
	h.keys("]")
	if pv.page != 1 || len(pv.list.Rows()) != 5 || pv.list.Rows()[0].ID != "20" {
		t.Fatalf("after ]: page %d, %d messages", pv.page, len(pv.list.Rows()))
	}
	// No page after a short one.
	n := len(f.peeks)
	h.keys("]")
	if len(f.peeks) != n || !strings.Contains(h.screen(), "last page") {
		t.Errorf("] on the last page peeked again: %v", f.peeks)
	}
	h.keys("[")
	if pv.page != 0 || len(pv.list.Rows()) != 20 {
		t.Fatalf("after [: page %d", pv.page)
	}
	h.keys("[")
	if !strings.Contains(h.screen(), "first page") {
		t.Error("[ on the first page says nothing")
	}
	if got, want := f.peeks[len(f.peeks)-3:], []int{0, 20, 0}; !equalInts(got, want) {
		t.Errorf("peek offsets %v, want …%v", f.peeks, want)
	}

	// Two quick turns: the first page's result arrives late and is dropped.
	_, first := h.m.Update(keyPress("]"))
	_, second := h.m.Update(keyPress("]"))
	if second == nil {
		t.Fatal("second turn did nothing")
	}
	late := execCmd(first)
	h.run(second)
	for _, msg := range late {
		h.m.Update(msg)
	}
	// Offset 40 is past the end: the view stays on page 0 and says so; the
	// late page (offset 20) must not have been applied.
	if pv.page != 0 || len(pv.list.Rows()) != 20 {
		t.Errorf("the late result of offset 20 was applied over the newer request: page %d", pv.page)
	}

	// A failed page leaves the shown page and says so.
	f.mu.Lock()
	f.peekErr = errors.New("channel closed")
	f.mu.Unlock()
	before := pv.page
	h.keys("]")
	if pv.page != before || pv.want != before || !strings.Contains(h.screen(), "channel closed") {
		t.Errorf("failed turn: page %d want %d\n%s", pv.page, pv.want, h.screen())
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRenderBody(t *testing.T) {
	ms := deadLetters()
	desc, lines, _ := renderBody(&ms[0])
	if !strings.Contains(desc, "JSON") || lines[0] != "{" || !strings.Contains(strings.Join(lines, "\n"), `"sku": "A-1"`) {
		t.Errorf("JSON body: %q %q", desc, lines)
	}
	desc, lines, _ = renderBody(&ms[1])
	if !strings.Contains(desc, "hex dump of the first 256 B") || len(lines) != 16 || !strings.HasPrefix(lines[0], "00000000  00 01 02 ff fe 1b 5b 33  31 6d") {
		t.Errorf("binary body: %q %q", desc, lines)
	}
	desc, lines, _ = renderBody(&ms[2])
	joined := strings.Join(lines, "\n")
	if !strings.Contains(desc, "text") || strings.ContainsAny(joined, "\x1b\u009b\u202e\r\t") || !strings.Contains(joined, `\x1b[31mRED`) {
		t.Errorf("escape body: %q %q", desc, lines)
	}
	desc, _, st := renderBody(&ms[3])
	if !strings.Contains(desc, "truncated") || st != styles.CellWarn {
		t.Errorf("big body: %q", desc)
	}
	// A body over 1 MiB that the client did not truncate is cut here.
	big := backends.Message{Body: []byte(strings.Repeat("é", 1<<20))}
	desc, lines, _ = renderBody(&big)
	if !strings.Contains(desc, "truncated: showing the first") || len(lines) != 1 || len(lines[0]) > 1<<20 {
		t.Errorf("uncut big body: %q (%d lines)", desc, len(lines))
	}
}

func TestRabbitFramesFitAnySize(t *testing.T) {
	h := rabbitHarness(t, newFakeRabbit())
	h.command("dlq")
	h.selectRow(queueKey("/", "orders.dlq"))
	h.keys("p", "j", "tab")
	for _, size := range [][2]int{{20, 5}, {40, 8}, {60, 12}, {80, 24}, {200, 60}} {
		h.send(teaWindow(size[0], size[1]))
		checkFrame(t, h.m.View().Content, size[0], size[1])
	}
}

// TestNoRabbitReason: without RabbitMQ, :queues says why when the caller
// knows (the demo names the broker it tried), wrapped to the width.
func TestNoRabbitReason(t *testing.T) {
	why := "RabbitMQ: login refused at 127.0.0.1:5672 as guest, Kafka only (guest/guest is refused — it only works from localhost, if not removed; pass --rabbitmq-url amqp://USER@HOST:5672/ and --rabbitmq-password-env VAR)"
	h := newHarness(t, Options{StartView: "queues", NoRabbit: why}, nil)
	sc := stripANSI(h.screen())
	if !strings.Contains(sc, "login refused at 127.0.0.1:5672 as guest") || !strings.Contains(sc, "--rabbitmq-password-env VAR)") || !strings.Contains(sc, "no RabbitMQ") {
		t.Fatalf("screen:\n%s", sc)
	}
	if strings.Contains(sc, "no RabbitMQ configured") {
		t.Fatalf("the configuration advice replaces the reason:\n%s", sc)
	}
}

// TestNoRabbitReasonInDLQ: :dlq without RabbitMQ in the demo points at
// :queues for the reason rather than at the configuration.
func TestNoRabbitReasonInDLQ(t *testing.T) {
	h := newHarness(t, Options{StartView: "dlq", NoRabbit: "RabbitMQ: not reachable at 127.0.0.1:5672", KafkaDLQ: newFakeKafkaDLQ(t)}, nil)
	sc := stripANSI(h.screen())
	if !strings.Contains(sc, "rabbitmq absent (:queues says why)") || !strings.Contains(sc, "kafka 3 dead-letter topics") {
		t.Fatalf("screen:\n%s", sc)
	}
}

func (f *fakeRabbit) requeued() map[int]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.requeues)
}

// TestPeekAsksBeforeCostingAttempts (issue 7, class 0, the console): on a
// quorum queue whose peeks cost delivery attempts, `p` reads nothing until
// the operator says yes to a question stating the numbers; pages read are
// kept, so paging back and forth costs nothing; each message shows the
// attempts it has left, and the question for a page that would use up the
// last attempt of messages already seen says how many.
func TestPeekAsksBeforeCostingAttempts(t *testing.T) {
	f := newFakeRabbit()
	f.costly()
	h := rabbitHarness(t, f)
	pv := h.peekOrdersDLQ()
	s := flat(h.screen())
	if len(f.requeued()) != 0 || !pv.asking() || !strings.Contains(s, "Peek at page 1 of orders.dlq? It reads 20 of its 25 messages") ||
		!strings.Contains(s, "each loses one of its 2 delivery attempts, and one with none left is dropped (the queue has no dead-letter exchange)") {
		t.Fatalf("p on a costly queue:\n%s", s)
	}
	h.keys("n")
	if len(f.requeued()) != 0 || pv.asking() || !strings.Contains(flat(h.screen()), "not peeked: nothing was read") {
		t.Fatalf("n read something:\n%s", flat(h.screen()))
	}
	h.keys("r") // a reload asks again
	if !pv.asking() || len(f.requeued()) != 0 {
		t.Fatal("r read without asking")
	}
	h.keys("y")
	if got := f.requeued(); len(got) != 20 || got[0] != 1 || pv.page != 0 || len(pv.list.Rows()) != 20 || pv.list.Rows()[0].Cells[mcLeft] != "1" {
		t.Fatalf("y: requeues %v, page %d\n%s", got, pv.page, flat(h.screen()))
	}
	h.keys("]")
	if !pv.asking() || len(f.requeued()) != 20 || !strings.Contains(flat(h.screen()), "Peek at page 2 of orders.dlq? It reads 25 of its 25 messages") {
		t.Fatalf("] did not ask:\n%s", flat(h.screen()))
	}
	h.keys("y")
	if got := f.requeued(); len(got) != 25 || got[0] != 2 || got[20] != 1 || pv.page != 1 || pv.list.Rows()[0].Cells[mcLeft] != "1" {
		t.Fatalf("page 2: requeues %v, page %d", got, pv.page)
	}
	peeks := len(f.peeks)
	for range 3 {
		h.keys("[")
		if pv.page != 0 || pv.list.Rows()[0].Cells[mcLeft] != "0" || !strings.Contains(flat(h.screen()), "showing it again costs nothing") {
			t.Fatalf("[ back to page 1:\n%s", flat(h.screen()))
		}
		h.keys("]")
		if pv.page != 1 || pv.list.Rows()[0].ID != "20" {
			t.Fatalf("] to page 2 again: page %d", pv.page)
		}
	}
	if len(f.peeks) != peeks || f.requeued()[0] != 2 {
		t.Fatalf("paging back and forth read again: %d peeks, %v", len(f.peeks)-peeks, f.requeued())
	}
	h.keys("r")
	if s := flat(h.screen()); !pv.asking() || !strings.Contains(s, "20 of the messages read before (from #0) have no attempt left: this read would lose them") {
		t.Fatalf("the question does not say what would be lost:\n%s", s)
	}
	h.keys("esc")
	if pv.asking() || f.requeued()[0] != 2 {
		t.Fatal("esc read the page")
	}
}

// TestPeekHeaderFollowsTheDepth (issue 7, class 9): the header gives the
// depth measured by each page and says when the queue changed since the
// previous one.
func TestPeekHeaderFollowsTheDepth(t *testing.T) {
	f := newFakeRabbit()
	f.depth = func(n int) int64 { return []int64{25, 25, 31, 28}[min(n, 4)-1] }
	h := rabbitHarness(t, f)
	h.command("dlq")
	h.selectRow(queueKey("/", "orders.dlq"))
	h.keys("p")
	if s := h.screen(); !strings.Contains(s, "messages #0–#19 of 25") || strings.Contains(s, "1,500") || strings.Contains(s, "since the previous page") {
		t.Fatalf("first page:\n%s", s)
	}
	h.keys("r")
	if s := h.screen(); strings.Contains(s, "since the previous page") {
		t.Fatalf("unchanged depth flagged:\n%s", s)
	}
	h.keys("]")
	if s := h.screen(); !strings.Contains(s, "messages #20–#24 of 31 (the queue grew by 6 since the previous page)") {
		t.Fatalf("grown:\n%s", s)
	}
	h.keys("[")
	if s := h.screen(); !strings.Contains(s, "of 28 (the queue shrank by 3 since the previous page)") {
		t.Fatalf("shrunk:\n%s", s)
	}
}

// flat is a screen with its wrapped lines joined: a wrapped sentence reads
// whole.
func flat(s string) string { return strings.Join(strings.Fields(s), " ") }

// peekOrdersDLQ opens the peek of orders.dlq from :dlq.
func (h *harness) peekOrdersDLQ() *peekView {
	h.t.Helper()
	h.command("dlq")
	h.selectRow(queueKey("/", "orders.dlq"))
	h.keys("p")
	pv, ok := h.m.top().(*peekView)
	if !ok {
		h.t.Fatalf("p opened %T", h.m.top())
	}
	return pv
}
