package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
)

func (h *harness) traceView() *traceView {
	h.t.Helper()
	v, ok := h.m.top().(*traceView)
	if !ok {
		h.t.Fatalf("the view on top is %T\n%s", h.m.top(), h.screen())
	}
	return v
}

// step is the trace's step at place (the first), or fails.
func (v *traceView) step(t *testing.T, place string) actions.TraceStep {
	t.Helper()
	for _, s := range v.res.Steps {
		if s.Place == place {
			return s
		}
	}
	t.Fatalf("no step at %s: %+v", place, v.res.Steps)
	return actions.TraceStep{}
}

// TestTraceFromPendingThenResent: enter on a pending row traces its
// message: in the outbox (pending), not in its topic's partition among
// what was read, consumed per the idempotency table; esc goes back; once
// resent, r finds it in the topic (its partition and offset).
func TestTraceFromPendingThenResent(t *testing.T) {
	c := newKfakeCluster(t)
	topic := c.topic(t, "trace", 3)
	h, _ := resendConsole(t, c, func(db *appDB) {
		db.outbox(outboxRow{id: "1", messageID: "m-1", dest: topic, key: "order-7", created: t0.Add(-10 * time.Minute)})
		db.consumed("billing", t0.Add(-time.Minute), "m-1")
	}, Options{})
	h.keys("tab", "enter")
	v := h.traceView()
	if v.res == nil {
		t.Fatalf("the trace did not run:\n%s", h.screen())
	}
	if s := v.step(t, actions.TraceOutbox); !s.Found || !strings.Contains(s.State, "pending") {
		t.Errorf("outbox: %+v", s)
	}
	if s := v.step(t, actions.TraceTopic); s.Found || s.Status != actions.TraceNotFound || !strings.Contains(s.Where, topic) {
		t.Errorf("topic: %+v", s)
	}
	if s := v.step(t, actions.TraceIdempotency); !s.Found || !strings.Contains(s.State, "billing") {
		t.Errorf("consumed: %+v", s)
	}
	screen := flat(h.screen())
	for _, want := range []string{"pending sends › trace m-1", "message id m-1", "destination " + topic + " → kafka:" + topic, "key order-7 (its partition)",
		"now: consumed by billing", "outbox outbox row 1 found", "not found", "▸ outbox"} {
		if !strings.Contains(screen, want) {
			t.Errorf("%q is not on screen:\n%s", want, h.screen())
		}
	}
	// resent: back, E on the row, then the trace again
	h.keys("esc")
	if _, ok := h.m.top().(*pendingView); !ok {
		t.Fatalf("esc went to %T", h.m.top())
	}
	h.keys("E", "enter", "y")
	if res, _ := h.resendView().Result(); res == nil || res.Resent != 1 {
		t.Fatalf("the resend: %+v\n%s", res, h.screen())
	}
	h.m.stack = append(h.m.stack, newTraceView(traceOfOutbox(backends.OutboxRow{ID: "1", MessageID: "m-1", Destination: topic, Key: "order-7"}), "outbox/1"))
	h.keys("r")
	v = h.traceView()
	if s := v.step(t, actions.TraceTopic); !s.Found || !strings.Contains(s.State, "offset") {
		t.Errorf("the resent message is not found in the topic: %+v\n%s", s, h.screen())
	}
	if s := v.step(t, actions.TraceOutbox); !s.Found || !strings.Contains(s.State, "sent") {
		t.Errorf("outbox after the resend: %+v", s)
	}
}

// hangingFinder is a Kafka that accepts the connection and never answers
// a search.
type hangingFinder struct {
	backends.KafkaSource
	started chan struct{}
}

func (f *hangingFinder) FindRecords(ctx context.Context, _ backends.KafkaFindQuery) (*backends.KafkaFindResult, error) {
	f.started <- struct{}{}
	<-ctx.Done()
	return nil, ctx.Err()
}

func (f *hangingFinder) DeadLetterTopicsOf(ctx context.Context, _ string) ([]string, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestTraceSpinsWhileItLooks: the trace runs in a command; while a
// broker does not answer, the view shows its spinner and keys are
// handled; esc goes back at once (the trace is cancelled).
func TestTraceSpinsWhileItLooks(t *testing.T) {
	db := newAppDB(t)
	pendingFixture(db)
	f := &hangingFinder{KafkaSource: &cannedSource{}, started: make(chan struct{}, 4)}
	f.KafkaSource.(*cannedSource).push(cluster(0), nil)
	m := New(Options{StartView: "pending", Kafka: f, OpenStore: opener(&clockedStore{Store: db.open(5 * time.Minute), now: func() time.Time { return t0 }}, nil),
		StoreRoute: backends.Route{Broker: "kafka"}, Now: (&testClock{t: t0}).Now})
	m.after = func(time.Duration, tea.Msg) tea.Cmd { return nil }
	m.Update(teaWindow(120, 30))
	_, cmd := m.Update(execCmd(m.Init())[0])
	for _, msg := range execCmd(cmd) { // the rows (and the snapshot)
		m.Update(msg)
	}
	m.Update(keyPress("tab"))
	_, cmd = m.Update(keyPress("enter"))
	if _, ok := m.top().(*traceView); !ok {
		t.Fatalf("enter opened %T", m.top())
	}
	results := make(chan []tea.Msg, 1)
	go func() { results <- execCmd(cmd) }()
	<-f.started
	if s := stripANSI(m.View().Content); !strings.Contains(s, "loading where message msg-301 is") {
		t.Fatalf("no spinner while the trace looks:\n%s", s)
	}
	m.Update(keyPress("j"))
	m.Update(keyPress("esc"))
	if _, ok := m.top().(*pendingView); !ok {
		t.Fatalf("esc went to %T", m.top())
	}
	select {
	case <-results: // esc cancelled the trace
	case <-time.After(10 * time.Second):
		t.Fatal("the trace was not cancelled")
	}
}
