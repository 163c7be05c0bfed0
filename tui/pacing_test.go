package tui

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mqops/mqops/backends"
)

// slowRabbit is a RabbitMQ whose queue listing takes took (on the test
// clock).
type slowRabbit struct {
	*fakeRabbit
	clock *testClock
	took  time.Duration
}

func (s *slowRabbit) Queues(ctx context.Context) ([]backends.Queue, error) {
	s.clock.t = s.clock.t.Add(s.took)
	return s.fakeRabbit.Queues(ctx)
}

// TestRabbitRefreshIsPacedByTheBrokersCost: a listing that takes the
// broker 2 s puts the next refresh 30 s later (the console keeps it busy
// a small part of the time), one of 100 ms keeps the 5 s period, and
// an endless one is capped.
func TestRabbitRefreshIsPacedByTheBrokersCost(t *testing.T) {
	f := &fakeRabbit{steps: [][]backends.Queue{{{Vhost: "/", Name: "orders", Type: "classic", Messages: 3}}}}
	s := &slowRabbit{fakeRabbit: f}
	h := newHarness(t, Options{Rabbit: s, Refresh: 5 * time.Second}, nil)
	s.clock = h.clock
	for _, tc := range []struct {
		took time.Duration
		want time.Duration
	}{{2 * time.Second, 30 * time.Second}, {100 * time.Millisecond, 5 * time.Second}, {time.Hour, maxPaced}} {
		s.took = tc.took
		if h.m.top().id() != "queues" {
			h.command("queues")
		} else {
			fire[refreshTickMsg](h)
		}
		if got := h.refreshTicks(); !slices.Equal(got, []time.Duration{tc.want}) {
			t.Errorf("a listing of %v: next refresh in %v, want %v", tc.took, got, tc.want)
		}
	}
}

// totalsRabbit is a RabbitMQ that also lists quickly (no statistics):
// totalsErr is what that listing answers, when set.
type totalsRabbit struct {
	*fakeRabbit
	totals    int // quick listings asked
	totalsErr error
}

func (r *totalsRabbit) QueueTotals(ctx context.Context) ([]backends.Queue, error) {
	r.totals++
	if r.totalsErr != nil {
		return nil, r.totalsErr
	}
	qs, err := r.fakeRabbit.Queues(ctx)
	out := slices.Clone(qs)
	for i := range out {
		out[i].Consumers, out[i].PublishRate, out[i].DeliverRate, out[i].NoStats = 0, 0, 0, true
	}
	r.fakeRabbit.step-- // the quick look is not a step of the broker's
	return out, err
}

// TestQueuesFirstLookIsQuick: the first load of :queues is the quick
// listing (depths, statistics shown as pending, never as 0), followed at
// once by the listing with statistics, and then the period; a source
// without the quick listing (ErrNoQueueTotals) gets the full one in the
// same load.
func TestQueuesFirstLookIsQuick(t *testing.T) {
	q := backends.Queue{Vhost: "/", Name: "orders", Type: "classic", Ready: 7, Messages: 7, Consumers: 3, PublishRate: 2.5}
	r := &totalsRabbit{fakeRabbit: &fakeRabbit{steps: [][]backends.Queue{{q}}}}
	h := newHarness(t, Options{Rabbit: r, Refresh: 5 * time.Second}, nil)
	h.command("queues")
	v := h.m.top().(*queuesView)
	row := rowByID(t, v.tbl, queueKey("/", "orders"))
	if r.totals != 1 || row.Cells[qcReady] != "7" || row.Cells[qcConsumers] != pendingCell || row.Cells[qcPublish] != pendingCell {
		t.Fatalf("first look (%d quick listings): %q", r.totals, row.Cells)
	}
	if got := h.refreshTicks(); !slices.Equal(got, []time.Duration{0}) {
		t.Fatalf("after the quick look: next refresh in %v, want at once", got)
	}
	fire[refreshTickMsg](h)
	row = rowByID(t, v.tbl, queueKey("/", "orders"))
	if r.totals != 1 || row.Cells[qcConsumers] != "3" || row.Cells[qcPublish] != "2.5" {
		t.Errorf("the listing with statistics (%d quick listings): %q", r.totals, row.Cells)
	}
	if got := h.refreshTicks(); !slices.Equal(got, []time.Duration{5 * time.Second}) {
		t.Errorf("after the full listing: next refresh in %v, want the period", got)
	}

	r = &totalsRabbit{fakeRabbit: &fakeRabbit{steps: [][]backends.Queue{{q}}}, totalsErr: backends.ErrNoQueueTotals}
	h = newHarness(t, Options{Rabbit: r, Refresh: 5 * time.Second}, nil)
	h.command("queues")
	row = rowByID(t, h.m.top().(*queuesView).tbl, queueKey("/", "orders"))
	if r.totals != 1 || row.Cells[qcConsumers] != "3" {
		t.Errorf("no quick listing: %q after %d tries, want the full listing in the first load", row.Cells, r.totals)
	}
	if got := h.refreshTicks(); !slices.Equal(got, []time.Duration{5 * time.Second}) {
		t.Errorf("after the fallback: next refresh in %v, want the period", got)
	}
}

// slowTotals is a slow RabbitMQ (each listing takes took on the test
// clock) with the quick listing too.
type slowTotals struct {
	*slowRabbit
	totals int
}

func (s *slowTotals) QueueTotals(ctx context.Context) ([]backends.Queue, error) {
	s.totals++
	qs, err := s.slowRabbit.Queues(ctx)
	out := slices.Clone(qs)
	for i := range out {
		out[i].Consumers, out[i].PublishRate, out[i].NoStats = 0, 0, true
	}
	return out, err
}

// TestDLQListIsPacedAndLooksQuickFirst: :dlq lists every RabbitMQ queue
// as :queues does, so it is paced by the broker's cost the same way, and
// its first look is the quick listing, followed at once by the one with
// statistics.
func TestDLQListIsPacedAndLooksQuickFirst(t *testing.T) {
	q := backends.Queue{Vhost: "/", Name: "orders.dlq", Type: "classic", Ready: 4, Messages: 4, Consumers: 2, IsDLQ: true, DLQReason: "named like a dead-letter queue"}
	f := &fakeRabbit{steps: [][]backends.Queue{{q}}}
	s := &slowTotals{slowRabbit: &slowRabbit{fakeRabbit: f, took: 2 * time.Second}}
	h := newHarness(t, Options{Rabbit: s, Refresh: 5 * time.Second}, nil)
	s.clock = h.clock
	h.command("dlq")
	v, ok := h.m.top().(*dlqListView)
	if !ok {
		t.Fatalf(":dlq is %T", h.m.top())
	}
	row := rowByID(t, v.tbl, queueKey("/", "orders.dlq"))
	if s.totals != 1 || row.Cells[dcDepth] != "4" || row.Cells[dcConsumers] != pendingCell || row.Cells[dcPublish] != pendingCell {
		t.Fatalf("first look (%d quick listings): %q", s.totals, row.Cells)
	}
	if got := h.refreshTicks(); !slices.Equal(got, []time.Duration{0}) {
		t.Fatalf("after the quick look: next refresh in %v, want at once", got)
	}
	fire[refreshTickMsg](h)
	row = rowByID(t, v.tbl, queueKey("/", "orders.dlq"))
	if s.totals != 1 || row.Cells[dcConsumers] != "2" {
		t.Errorf("the listing with statistics (%d quick listings): %q", s.totals, row.Cells)
	}
	if got := h.refreshTicks(); !slices.Equal(got, []time.Duration{30 * time.Second}) {
		t.Errorf("a listing of 2 s: next refresh in %v, want 30s", got)
	}
}
