package rabbitmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/mqops/mqops/backends"
)

// toOrigin resolves a dead letter's origin from its x-death entry, as the
// drain does: the exchange and routing key it was published with; through
// the default exchange, the origin queue itself.
func toOrigin(m *backends.Message) (MoveDecision, MoveTarget, error) {
	origin, _ := m.Origin()
	for _, d := range m.Deaths {
		if d.Queue != origin {
			continue
		}
		if d.Exchange == "" || len(d.RoutingKeys) == 0 {
			return Move, MoveTarget{RoutingKey: origin}, nil
		}
		return Move, MoveTarget{Exchange: d.Exchange, RoutingKey: d.RoutingKeys[0]}, nil
	}
	return Stop, MoveTarget{}, errors.New("has no x-death entry for its origin")
}

func TestMoveToOrigin(t *testing.T) {
	w := newWorld(t, 6, 3, 4, 2)
	var progress []MoveProgress
	res, err := w.c.Move(context.Background(), MoveOptions{Vhost: "/", Queue: w.dlq, RunID: "run-1", Decide: toOrigin,
		Progress: func(p MoveProgress) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Moved != 13 || res.Seen != 13 || res.Total != 13 || res.Left != 0 || res.Failed != 0 || res.Skipped != 0 || res.Err != nil ||
		res.StoppedBecause != "done: the 13 messages there were at the start seen" {
		t.Fatalf("result: %+v", res)
	}
	if last := progress[len(progress)-1]; last.Moved != 13 || last.Total != 13 || last.Seen != 13 {
		t.Fatalf("last progress: %+v", last)
	}
	orders, payments := w.takeAll(w.orders), w.takeAll(w.payments)
	if w.depth(w.dlq) != 0 {
		t.Fatalf("DLQ not empty: %d", w.depth(w.dlq))
	}
	oi, pi := ids(orders), ids(payments)
	if len(orders) != 9 || len(oi) != 9 || len(payments) != 4 || len(pi) != 4 {
		t.Fatalf("orders %v, payments %v", oi, pi)
	}
	for id := range oi {
		if !strings.HasPrefix(id, "o-") && !strings.HasPrefix(id, "e-") {
			t.Errorf("%s arrived in orders", id)
		}
	}
	for id := range pi {
		if !strings.HasPrefix(id, "p-") {
			t.Errorf("%s arrived in payments", id)
		}
	}
	for _, d := range append(orders, payments...) {
		for k := range d.Headers {
			if strings.HasPrefix(k, "x-") {
				t.Errorf("%s: x- header %q copied", d.MessageId, k)
			}
		}
		var deaths []backends.Death
		hist, _ := d.Headers[HeaderDeathHistory].(string)
		if err := json.Unmarshal([]byte(hist), &deaths); err != nil || len(deaths) != 1 || (deaths[0].Reason != "rejected" && deaths[0].Reason != "expired") {
			t.Errorf("%s death history: %q %v", d.MessageId, hist, err)
		}
		if d.Headers[HeaderRunID] != "run-1" || d.Headers[HeaderMoveCount] != int64(1) || d.Headers[HeaderMovedFrom] != "/"+"/"+w.dlq {
			t.Errorf("%s headers: %v", d.MessageId, d.Headers)
		}
		if d.DeliveryMode != amqp.Persistent || d.Expiration != "" {
			t.Errorf("%s properties: mode %d expiration %q", d.MessageId, d.DeliveryMode, d.Expiration)
		}
	}
	if d := orders[0]; d.ContentType != "application/json" || d.Headers["tenant"] != "eu" || !strings.HasPrefix(string(d.Body), `{"order":`) {
		t.Errorf("body or properties not kept: %+v", d)
	}
	// through the default exchange: the parked messages go back to legacy
	res, err = w.c.Move(context.Background(), MoveOptions{Vhost: "/", Queue: w.parked, Decide: toOrigin})
	if err != nil || res.Moved != 2 || res.Left != 0 {
		t.Fatalf("default-exchange DLX: %+v %v", res, err)
	}
	if li := ids(w.takeAll(w.legacy)); len(li) != 2 || li["l-0"] != 1 || li["l-1"] != 1 {
		t.Fatalf("legacy: %v", li)
	}
	// an empty queue is no error
	res, err = w.c.Move(context.Background(), MoveOptions{Vhost: "/", Queue: w.dlq, Decide: toOrigin})
	if err != nil || res.StoppedBecause != "the queue is empty" || res.Left != 0 {
		t.Fatalf("empty: %+v %v", res, err)
	}
	if _, err := w.c.Move(context.Background(), MoveOptions{Vhost: "/", Queue: w.name("nope"), Decide: toOrigin}); err == nil ||
		err.Error() != `queue "`+w.name("nope")+`" not found in vhost "/"` {
		t.Fatalf("unknown queue: %v", err)
	}
}

func TestMoveSkipAndLimit(t *testing.T) {
	w := newWorld(t, 6, 0, 4, 0)
	var order []string
	for _, m := range mustPeek(t, w, w.dlq) {
		order = append(order, m.MessageID)
	}
	skipPayments := func(m *backends.Message) (MoveDecision, MoveTarget, error) {
		if origin, _ := m.Origin(); origin == w.payments {
			return Skip, MoveTarget{}, nil
		}
		return toOrigin(m)
	}
	// Prefetch 2: the skipped messages must not stall the consumer
	res, err := w.c.Move(context.Background(), MoveOptions{Vhost: "/", Queue: w.dlq, Prefetch: 2, Decide: skipPayments})
	if err != nil || res.Moved != 6 || res.Skipped != 4 || res.Seen != 10 || res.Left != 4 {
		t.Fatalf("skip: %+v %v", res, err)
	}
	var left, want []string
	for _, m := range mustPeek(t, w, w.dlq) {
		left = append(left, m.MessageID)
	}
	for _, id := range order {
		if strings.HasPrefix(id, "p-") {
			want = append(want, id)
		}
	}
	if strings.Join(left, ",") != strings.Join(want, ",") {
		t.Fatalf("skipped messages not left in place: %v, want %v", left, want)
	}
	if oi := ids(w.takeAll(w.orders)); len(oi) != 6 {
		t.Fatalf("orders: %v", oi)
	}
	res, err = w.c.Move(context.Background(), MoveOptions{Vhost: "/", Queue: w.dlq, Limit: 3, Decide: toOrigin})
	if err != nil || res.Moved != 3 || res.Total != 3 || res.Left != 1 || res.StoppedBecause != "done: the limit of 3 messages seen" {
		t.Fatalf("limit: %+v %v", res, err)
	}
	if pi := ids(w.takeAll(w.payments)); len(pi) != 3 {
		t.Fatalf("payments: %v", pi)
	}
	// Stop from Decide ends the move, the message stays
	res, err = w.c.Move(context.Background(), MoveOptions{Vhost: "/", Queue: w.dlq, Decide: func(*backends.Message) (MoveDecision, MoveTarget, error) {
		return Stop, MoveTarget{}, nil
	}})
	if err != nil || res.Moved != 0 || res.Left != 1 || !strings.HasPrefix(res.StoppedBecause, "stopped by the filter at message 1") {
		t.Fatalf("stop: %+v %v", res, err)
	}
	// a Decide error stops with it
	res, err = w.c.Move(context.Background(), MoveOptions{Vhost: "/", Queue: w.dlq, Decide: func(*backends.Message) (MoveDecision, MoveTarget, error) {
		return Stop, MoveTarget{}, errors.New("has no origin")
	}})
	if err == nil || !strings.Contains(err.Error(), "message 1 (id \"p-") || !strings.Contains(err.Error(), "has no origin: stopped, 0 moved, 1 left in") || res.Left != 1 {
		t.Fatalf("decide error: %+v %v", res, err)
	}
}

func mustPeek(t *testing.T, w *world, q string) []backends.Message {
	t.Helper()
	ms, _, err := w.c.Peek(context.Background(), "/", q, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestMoveUnroutableStopsWithoutLoss(t *testing.T) {
	w := newWorld(t, 50, 0, 0, 0)
	x := w.name("nowhere")
	w.exchange(x, "direct", nil)
	res, err := w.c.Move(context.Background(), MoveOptions{Vhost: "/", Queue: w.dlq, Decide: func(*backends.Message) (MoveDecision, MoveTarget, error) {
		return Move, MoveTarget{Exchange: x, RoutingKey: "eu"}, nil
	}})
	want := `message 1 (id "o-0") was returned unroutable by exchange "` + x + `" with routing key "eu" (NO_ROUTE): stopped, 0 moved, 50 left in "` + w.dlq + `"`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant  %s", err, want)
	}
	if res.Moved != 0 || res.Failed < 1 || res.Left != 50 || res.Err != err || !strings.Contains(res.StoppedBecause, "returned unroutable") {
		t.Fatalf("result: %+v", res)
	}
	w.waitDepth(w.dlq, 50)
	// the default exchange to a queue that does not exist: the same
	_, err = w.c.Move(context.Background(), MoveOptions{Vhost: "/", Queue: w.dlq, Decide: func(*backends.Message) (MoveDecision, MoveTarget, error) {
		return Move, MoveTarget{RoutingKey: w.name("gone")}, nil
	}})
	if err == nil || !strings.Contains(err.Error(), "returned unroutable by the default exchange") {
		t.Fatalf("err = %v", err)
	}
	w.waitDepth(w.dlq, 50)
	if oi := ids(w.takeAll(w.dlq)); len(oi) != 50 {
		t.Fatalf("DLQ ids: %d", len(oi))
	}
}

// source fills a plain queue with n persistent messages s-0..s-n-1 and
// returns it with a target queue bound to a fresh direct exchange.
func source(f *fixture, n int) (src, x, target string) {
	src, x, target = f.name("src"), f.name("x"), f.name("target")
	f.queue(src, nil)
	f.queue(target, nil)
	f.exchange(x, "direct", nil)
	f.bind(target, "k", x, nil)
	f.publish("", src, n, func(i int) amqp.Publishing {
		return amqp.Publishing{MessageId: "s-" + strconv.Itoa(i), Body: []byte(strings.Repeat("x", 200))}
	})
	return
}

// checkNoLoss says every id is in the source or the target, and counts the
// duplicates.
func checkNoLoss(t *testing.T, f *fixture, n int, queues ...string) (dups int) {
	t.Helper()
	seen := map[string]int{}
	for _, q := range queues {
		for id, c := range ids(f.takeAll(q)) {
			seen[id] += c
		}
	}
	for i := range n {
		c := seen["s-"+strconv.Itoa(i)]
		if c == 0 {
			t.Errorf("s-%d lost", i)
		}
		dups += c - 1
	}
	return dups
}

func TestMoveDeletedTargetExchangeStopsWithoutLoss(t *testing.T) {
	f := newFixture(t)
	const n = 3000
	src, x, target := source(f, n)
	ch, err := f.conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	const window = 100 // a small window makes the bounds below tight
	res, err := f.c.Move(context.Background(), MoveOptions{Vhost: "/", Queue: src, Prefetch: window, Decide: func(m *backends.Message) (MoveDecision, MoveTarget, error) {
		if m.Index == 1000 {
			if err := ch.ExchangeDelete(x, false, false); err != nil {
				t.Error(err)
			}
		}
		return Move, MoveTarget{Exchange: x, RoutingKey: "k"}, nil
	}})
	if err == nil || !strings.Contains(err.Error(), "RabbitMQ closed the publishing channel (NOT_FOUND - no exchange '"+x+"' in vhost '/')") ||
		!strings.Contains(err.Error(), "moved, ") {
		t.Fatalf("err = %v", err)
	}
	t.Logf("stopped with: %v", err)
	if res.Moved < 1000-window || res.Moved > 1001 || res.Left < 0 {
		t.Fatalf("result: %+v", res)
	}
	f.waitDepth(src, res.Left)
	inTarget := f.depth(target)
	if inTarget < res.Moved {
		t.Fatalf("%d moved but %d in the target", res.Moved, inTarget)
	}
	dups := checkNoLoss(t, f, n, src, target)
	t.Logf("moved %d, %d in target, %d left, %d duplicated", res.Moved, inTarget, res.Left, dups)
	if dups > window {
		t.Fatalf("%d duplicates, more than the window", dups)
	}
}

func TestMoveCancelledLosesNothing(t *testing.T) {
	f := newFixture(t)
	const n = 3000
	src, x, target := source(f, n)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := f.c.Move(ctx, MoveOptions{Vhost: "/", Queue: src, Decide: func(m *backends.Message) (MoveDecision, MoveTarget, error) {
		if m.Index == 1000 {
			cancel()
		}
		return Move, MoveTarget{Exchange: x, RoutingKey: "k"}, nil
	}})
	if err == nil || !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "move cancelled: ") || res.StoppedBecause != "cancelled" {
		t.Fatalf("err = %v, result %+v", err, res)
	}
	t.Logf("stopped with: %v", err)
	f.waitDepth(src, res.Left)
	if f.depth(target) != res.Moved || res.Moved+res.Left != n {
		// confirmed publishes were acked before stopping: no duplicates
		t.Errorf("moved %d, target %d, left %d", res.Moved, f.depth(target), res.Left)
	}
	if dups := checkNoLoss(t, f, n, src, target); dups != 0 {
		t.Errorf("%d duplicates", dups)
	}
}

func TestMoveStopsWhenAMessageOfTheRunComesRound(t *testing.T) {
	f := newFixture(t)
	src, x, target := source(f, 4)
	f.publish("", src, 1, func(int) amqp.Publishing {
		return amqp.Publishing{MessageId: "again", Headers: amqp.Table{HeaderRunID: "run-9"}}
	})
	f.publish("", src, 2, func(i int) amqp.Publishing { return amqp.Publishing{MessageId: fmt.Sprint("after-", i)} })
	res, err := f.c.Move(context.Background(), MoveOptions{Vhost: "/", Queue: src, RunID: "run-9", Decide: func(*backends.Message) (MoveDecision, MoveTarget, error) {
		return Move, MoveTarget{Exchange: x, RoutingKey: "k"}, nil
	}})
	if err != nil || res.Moved != 4 || res.Left != 3 || !strings.Contains(res.StoppedBecause, "came round again") {
		t.Fatalf("%+v %v", res, err)
	}
	if f.depth(target) != 4 {
		t.Fatalf("target %d", f.depth(target))
	}
}

func TestMoveToASink(t *testing.T) {
	f := newFixture(t)
	src, _, _ := source(f, 20)
	var stored []string
	res, err := f.c.Move(context.Background(), MoveOptions{Vhost: "/", Queue: src,
		Decide: func(*backends.Message) (MoveDecision, MoveTarget, error) { return Move, MoveTarget{}, nil },
		Sink: func(_ context.Context, m *backends.Message) error {
			if len(stored) == 15 {
				return errors.New("disk full")
			}
			if len(m.Body) != 200 {
				t.Errorf("sink got %d bytes", len(m.Body))
			}
			stored = append(stored, m.MessageID)
			return nil
		}})
	if err == nil || !strings.Contains(err.Error(), `message 16 (id "s-15") could not be stored: disk full: stopped, 15 moved, 5 left in`) || res.Moved != 15 || res.Failed != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	f.waitDepth(src, 5)
}

// TestMove20000 moves 20,000 persistent dead letters back to their origin
// and logs the throughput. MQOPS_MOVE_PREFETCH overrides the window.
func TestMove20000(t *testing.T) {
	if testing.Short() {
		t.Skip("20,000 messages: not in -short")
	}
	const n = 20_000
	w := newWorld(t, n, 0, 0, 0)
	prefetch := DefaultPrefetch
	if s := os.Getenv("MQOPS_MOVE_PREFETCH"); s != "" {
		prefetch, _ = strconv.Atoi(s)
	}
	var calls atomic.Int32
	start := time.Now()
	res, err := w.c.Move(context.Background(), MoveOptions{Vhost: "/", Queue: w.dlq, Prefetch: prefetch, Decide: toOrigin,
		Progress: func(MoveProgress) { calls.Add(1) }})
	el := time.Since(start)
	if err != nil || res.Moved != n || res.Left != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	t.Logf("moved %d persistent dead letters (classic DLQ → classic origin, small JSON bodies) in %v: %.0f msg/s with prefetch %d (%d progress calls)",
		n, el.Round(time.Millisecond), float64(n)/el.Seconds(), prefetch, calls.Load())
	if got := ids(w.takeAll(w.orders)); len(got) != n {
		t.Fatalf("%d distinct ids in the origin", len(got))
	}
	if c := calls.Load(); c > int32(el/(100*time.Millisecond))+2 {
		t.Errorf("%d progress calls in %v: more than ~10/s", c, el)
	}
}

// TestMoveSkipsMany skips most messages with a small window: the consumer
// is replaced several times (a quorum queue refuses a channel-wide
// prefetch), nothing stalls, and the skipped messages stay in the source:
// in their order in a classic queue (a quorum queue takes requeued
// messages back in the order its client batches them: no order promise).
func TestMoveSkipsMany(t *testing.T) {
	for _, kind := range []string{"classic", "quorum"} {
		t.Run(kind, func(t *testing.T) {
			f := newFixture(t)
			src, x, target := f.name("src"), f.name("x"), f.name("target")
			f.queue(src, amqp.Table{"x-queue-type": kind})
			f.queue(target, nil)
			f.exchange(x, "direct", nil)
			f.bind(target, "k", x, nil)
			const n = 600
			f.publish("", src, n, func(i int) amqp.Publishing {
				return amqp.Publishing{MessageId: "s-" + strconv.Itoa(i), Body: []byte("q")}
			})
			res, err := f.c.Move(context.Background(), MoveOptions{Vhost: "/", Queue: src, Prefetch: 10, Decide: func(m *backends.Message) (MoveDecision, MoveTarget, error) {
				if i, _ := strconv.Atoi(strings.TrimPrefix(m.MessageID, "s-")); i%5 != 0 {
					return Skip, MoveTarget{}, nil
				}
				return Move, MoveTarget{Exchange: x, RoutingKey: "k"}, nil
			}})
			if err != nil || res.Moved != n/5 || res.Skipped != n-n/5 || res.Left != n-n/5 {
				t.Fatalf("%+v %v", res, err)
			}
			ms, _, err := f.c.Peek(context.Background(), "/", src, 0, n)
			if err != nil || len(ms) != n-n/5 {
				t.Fatalf("peek: %d %v", len(ms), err)
			}
			var got, want []string
			for i := range n {
				if i%5 != 0 {
					want = append(want, "s-"+strconv.Itoa(i))
				}
			}
			for _, m := range ms {
				got = append(got, m.MessageID)
			}
			if kind == "quorum" {
				slices.Sort(got)
				slices.Sort(want)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("skipped messages left in the source:\n%v\nwant\n%v", got, want)
			}
			for id := range ids(f.takeAll(target)) {
				if i, _ := strconv.Atoi(strings.TrimPrefix(id, "s-")); i%5 != 0 {
					t.Errorf("%s moved", id)
				}
			}
		})
	}
}

// closeConnections force-closes, through the management API, the
// connections with this client-given name, as a broker restart or a
// network cut would; it waits until the API lists one.
func closeConnections(t *testing.T, f *fixture, name string) int {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var conns []struct {
			Name  string `json:"name"`
			Props struct {
				Name string `json:"connection_name"`
			} `json:"client_properties"`
		}
		if err := f.c.get(context.Background(), "/api/connections", nil, &conns); err != nil {
			t.Fatal(err)
		}
		closed := 0
		for _, c := range conns {
			if c.Props.Name != name {
				continue
			}
			req, _ := http.NewRequest(http.MethodDelete, f.env["RABBITMQ_MANAGEMENT_URL"]+"/api/connections/"+url.PathEscape(c.Name), nil)
			req.SetBasicAuth(f.env["RABBITMQ_USER"], f.env["RABBITMQ_PASSWORD"])
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
				closed++
			}
		}
		if closed > 0 || time.Now().After(deadline) {
			return closed
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestMoveConnectionLostLosesNothing(t *testing.T) {
	f := newFixture(t)
	const n = 3000
	src, x, target := source(f, n)
	closed := 0
	const window = 100
	res, err := f.c.Move(context.Background(), MoveOptions{Vhost: "/", Queue: src, RunID: f.prefix, Prefetch: window, Decide: func(m *backends.Message) (MoveDecision, MoveTarget, error) {
		if m.Index == 1000 {
			closed = closeConnections(t, f, "mqops drain "+f.prefix)
		}
		return Move, MoveTarget{Exchange: x, RoutingKey: "k"}, nil
	}})
	if closed == 0 {
		t.Fatal("the move's connections were not found")
	}
	if err == nil || !strings.Contains(err.Error(), "connection to RabbitMQ was lost (CONNECTION_FORCED") || !strings.Contains(err.Error(), "moved, ") {
		t.Fatalf("err = %v", err)
	}
	t.Logf("stopped with: %v", err)
	// everything not acknowledged is back; a message confirmed by the
	// target whose ack was lost with the connection is back too (a
	// duplicate within the window)
	deadline := time.Now().Add(30 * time.Second)
	for f.depth(src) < n-res.Moved {
		if time.Now().After(deadline) {
			t.Fatalf("%s: depth %d, want at least %d", src, f.depth(src), n-res.Moved)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d := f.depth(src); d > n-res.Moved+window {
		t.Fatalf("%s: depth %d, more than %d not moved plus the window", src, d, n-res.Moved)
	}
	dups := checkNoLoss(t, f, n, src, target)
	t.Logf("moved %d, %d duplicated", res.Moved, dups)
	if dups > window {
		t.Fatalf("%d duplicates, more than the window", dups)
	}
}
