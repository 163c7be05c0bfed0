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
