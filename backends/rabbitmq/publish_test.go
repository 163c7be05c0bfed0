package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/mqops/mqops/backends"
)

// outgoing is message i of a publish test to exchange x, routing key rk:
// id and message id p-i, a header given twice (the last wins), bytes that
// are not UTF-8 and a terminal escape.
func outgoing(x, rk string, i int) backends.OutgoingMessage {
	return backends.OutgoingMessage{ID: "p-" + strconv.Itoa(i), MessageID: "p-" + strconv.Itoa(i),
		Target: backends.RouteTarget{Broker: "rabbitmq", Exchange: x, RoutingKey: rk}, Value: fmt.Appendf(nil, "body %d", i),
		Headers: []backends.StoreHeader{{Key: "mqops-message-id", Value: "p-" + strconv.Itoa(i)}, {Key: "twice", Value: "first"}, {Key: "twice", Value: "last"},
			{Key: "bin", Value: "\x00\xff\x1b[31m"}}}
}

// publishTarget is a direct exchange with a queue bound to it with key k.
func publishTarget(f *fixture) (x, q string) {
	x, q = f.name("publish-x"), f.name("publish-q")
	f.exchange(x, "direct", nil)
	f.queue(q, nil)
	f.bind(q, "k", x, nil)
	return x, q
}

// TestPublish10000: 10,000 messages to an exchange bound to a queue are all
// confirmed and in the queue, in order, persistent, with their message id
// property and headers (of a repeated header, the last value).
func TestPublish10000(t *testing.T) {
	const n = 10_000
	f := newFixture(t)
	x, q := publishTarget(f)
	msgs := make([]backends.OutgoingMessage, n)
	for i := range msgs {
		msgs[i] = outgoing(x, "k", i)
	}
	res := f.c.Publish(context.Background(), msgs)
	for i, r := range res {
		if r.ID != msgs[i].ID || r.Err != nil {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	f.waitDepth(q, n)
	for i, d := range f.takeAll(q) {
		want := "p-" + strconv.Itoa(i)
		if d.MessageId != want || string(d.Body) != fmt.Sprintf("body %d", i) || d.DeliveryMode != amqp.Persistent {
			t.Fatalf("message %d: id %q body %q mode %d", i, d.MessageId, d.Body, d.DeliveryMode)
		}
		if len(d.Headers) != 3 || d.Headers["mqops-message-id"] != want || d.Headers["twice"] != "last" || d.Headers["bin"] != "\x00\xff\x1b[31m" {
			t.Fatalf("message %d: headers %v", i, d.Headers)
		}
	}
}

// TestPublishRefusals: in one call, a message with no queue bound for its
// routing key is returned and fails (mandatory), as does its identical
// twin; one to an exchange that does not exist fails, unsent; one routed to
// Kafka and one with an over-long routing key fail; every other (an
// identical pair among them) is confirmed and in the queue.
func TestPublishRefusals(t *testing.T) {
	f := newFixture(t)
	x, q := publishTarget(f)
	missing := f.name("publish-missing")
	long := strings.Repeat("r", 256)
	var msgs []backends.OutgoingMessage
	want := map[int]string{}
	for i := range 40 {
		m := outgoing(x, "k", i)
		switch i % 10 {
		case 3, 4: // twins: same exchange, key, message id and body
			m = outgoing(x, "nowhere", 3)
			want[i] = `unroutable: exchange "` + x + `" routing key "nowhere" (NO_ROUTE)`
		case 5:
			m.Target.Exchange = missing
			want[i] = `exchange "` + missing + `" not found in vhost "/": not published`
		case 6:
			m.Target.Broker = "kafka"
			want[i] = "message p-" + strconv.Itoa(i) + " is routed to kafka:, not to RabbitMQ"
		case 7:
			m.Target.RoutingKey = long
			want[i] = "message p-" + strconv.Itoa(i) + ": the routing key is 256 bytes, more than the 255 AMQP allows: not published"
		case 8, 9:
			m = outgoing(x, "k", 8) // twins that arrive
			m.ID = "twin-" + strconv.Itoa(i)
		}
		msgs = append(msgs, m)
	}
	res := f.c.Publish(context.Background(), msgs)
	confirmed := 0
	for i, r := range res {
		if r.ID != msgs[i].ID {
			t.Fatalf("result %d for %s", i, r.ID)
		}
		if w, fails := want[i]; fails {
			if r.Err == nil || r.Err.Error() != w {
				t.Errorf("message %d: %v, want %q", i, r.Err, w)
			}
			continue
		}
		if r.Err != nil {
			t.Errorf("message %d: %v", i, r.Err)
		}
		confirmed++
	}
	f.waitDepth(q, confirmed)
	got := ids(f.takeAll(q))
	if len(got) != 13 || got["p-8"] != 8 { // p-0, p-1, p-2 of each ten, and the twins p-8

		t.Fatalf("queue holds %v", got)
	}
}

// TestPublishRejectPublishNacks: a queue of at most 5 messages that
// refuses more (overflow reject-publish) takes the first 5; the broker
// nacks the others, which fail.
func TestPublishRejectPublishNacks(t *testing.T) {
	f := newFixture(t)
	q := f.name("publish-full")
	f.queue(q, amqp.Table{"x-max-length": int32(5), "x-overflow": "reject-publish"})
	msgs := make([]backends.OutgoingMessage, 20)
	for i := range msgs {
		msgs[i] = outgoing("", q, i)
	}
	res := f.c.Publish(context.Background(), msgs)
	for i, r := range res {
		want := ""
		if i >= 5 {
			want = fmt.Sprintf(`message p-%d to the default exchange routing key "%s" in vhost "/": nacked by the broker`, i, q)
		}
		if (r.Err == nil) != (want == "") || (r.Err != nil && r.Err.Error() != want) {
			t.Errorf("message %d: %v, want %q", i, r.Err, want)
		}
	}
	f.inOrderIDs(q, 5)
}

// inOrderIDs consumes queue and fails unless it holds p-0..p-(n-1) in
// that order.
func (f *fixture) inOrderIDs(queue string, n int) {
	f.t.Helper()
	f.waitDepth(queue, n)
	ds := f.takeAll(queue)
	for i, d := range ds {
		if d.MessageId != "p-"+strconv.Itoa(i) {
			f.t.Fatalf("%s: message %d is %s", queue, i, d.MessageId)
		}
	}
}

// proxied is a client (cfg) whose AMQP connections go through p.
func (f *fixture) proxied(p *freezingProxy, cfg Config) *Client {
	c := f.client(cfg)
	pu := *c.amqp
	pu.Host = p.ln.Addr().String()
	c.amqp = &pu
	return c
}

// TestPublishConnectionLost: the connection cut while 20,000 messages are
// being published fails every message not confirmed, and each message
// reported confirmed is in the queue.
func TestPublishConnectionLost(t *testing.T) {
	const n = 20_000
	f := newFixture(t)
	x, q := publishTarget(f)
	u, err := url.Parse(f.env["RABBITMQ_URL"])
	if err != nil {
		t.Fatal(err)
	}
	p := newFreezingProxy(t, u.Host, true, false, 0, 0, 1) // freezes nothing: a cut only
	defer p.close()
	c := f.proxied(p, Config{})
	msgs := make([]backends.OutgoingMessage, n)
	for i := range msgs {
		msgs[i] = outgoing(x, "k", i)
	}
	done := make(chan []backends.PublishResult, 1)
	go func() { done <- c.Publish(context.Background(), msgs) }()
	var res []backends.PublishResult
	deadline := time.Now().Add(30 * time.Second)
	for res == nil {
		select {
		case res = <-done:
			continue
		case <-time.After(5 * time.Millisecond):
		}
		if d := f.depth(q); d >= 2000 {
			p.close()
			res = <-done
		}
		if time.Now().After(deadline) {
			t.Fatal("the publish neither ended nor filled the queue")
		}
	}
	confirmed, lost := map[string]bool{}, 0
	for i, r := range res {
		switch {
		case r.Err == nil:
			confirmed[r.ID] = true
		case strings.Contains(r.Err.Error(), "connection to RabbitMQ was lost"), strings.HasPrefix(r.Err.Error(), "not published: "):
			lost++
		default:
			t.Fatalf("message %d: %v", i, r.Err)
		}
	}
	if lost == 0 || len(confirmed) == 0 {
		t.Fatalf("%d confirmed, %d lost: the connection was not cut mid-batch", len(confirmed), lost)
	}
	got := ids(f.takeAll(q))
	for id := range confirmed {
		if got[id] != 1 {
			t.Fatalf("%s reported confirmed, %d in the queue", id, got[id])
		}
	}
	t.Logf("%d confirmed, %d in the queue, %d failed", len(confirmed), len(got), lost)
}

// TestPublishIsBounded: a broker that stops answering at any step of a
// publish — the handshake, opening a channel, the exchange's lookup, the
// confirm mode, the confirms — fails the call within the timeout (1.5 × at
// most), every message with an error saying what timed out.
func TestPublishIsBounded(t *testing.T) {
	f := newFixture(t)
	x, _ := publishTarget(f)
	u, err := url.Parse(f.env["RABBITMQ_URL"])
	if err != nil {
		t.Fatal(err)
	}
	msgs := make([]backends.OutgoingMessage, 600)
	for i := range msgs {
		msgs[i] = outgoing(x, "k", i)
	}
	const timeout = time.Second
	for _, tc := range []struct {
		name          string
		fromClient    bool
		after         bool
		class, method uint16
		want          string
	}{
		{"connection.open", true, false, 10, 40, "timed out connecting to RabbitMQ at"},
		{"channel.open", true, false, 20, 10, "timed out opening a channel on RabbitMQ at"},
		{"exchange.declare", true, false, 40, 10, "timed out looking up exchange " + quote(x)},
		{"confirm.select", true, false, 85, 10, "timed out setting the channel to confirm mode"},
		{"basic.publish", true, false, 60, 40, "timed out waiting for RabbitMQ at "},
		{"basic.ack", false, false, 60, 80, "timed out waiting for RabbitMQ at "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newFreezingProxy(t, u.Host, tc.fromClient, tc.after, tc.class, tc.method, 1)
			defer p.close()
			c := f.proxied(p, Config{Timeout: timeout})
			start := time.Now()
			res := c.Publish(context.Background(), msgs)
			took := time.Since(start)
			for i, r := range res {
				if r.Err == nil || !strings.Contains(r.Err.Error(), tc.want) || !errors.Is(r.Err, context.DeadlineExceeded) {
					t.Fatalf("message %d: %v, want …%s…", i, r.Err, tc.want)
				}
			}
			if took > timeout*3/2 {
				t.Fatalf("took %v with a timeout of %v", took, timeout)
			}
		})
	}
}

// TestPublishCancelled: a cancelled call ends at once, every message
// not confirmed failing with the cancellation.
func TestPublishCancelled(t *testing.T) {
	f := newFixture(t)
	x, _ := publishTarget(f)
	u, err := url.Parse(f.env["RABBITMQ_URL"])
	if err != nil {
		t.Fatal(err)
	}
	p := newFreezingProxy(t, u.Host, false, false, 60, 80, 1) // no confirm ever comes
	defer p.close()
	c := f.proxied(p, Config{Timeout: time.Minute})
	msgs := make([]backends.OutgoingMessage, 600)
	for i := range msgs {
		msgs[i] = outgoing(x, "k", i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	res := c.Publish(ctx, msgs)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("took %v", took)
	}
	for i, r := range res {
		if !errors.Is(r.Err, context.DeadlineExceeded) {
			t.Fatalf("message %d: %v", i, r.Err)
		}
	}
}
