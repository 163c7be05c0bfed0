package rabbitmq

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/mqops/mqops/backends"
)

func integrationEnv(t *testing.T, names ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range names {
		v := os.Getenv(n)
		if v == "" {
			if os.Getenv("MQOPS_REQUIRE_INTEGRATION") == "1" {
				t.Fatalf("%s is not set: run the tests through `make test` (scripts/testenv up)", n)
			}
			t.Skipf("%s not set: integration test skipped (run `make test`)", n)
		}
		out[n] = v
	}
	return out
}

type fixture struct {
	t      *testing.T
	c      *Client
	conn   *amqp.Connection
	ch     *amqp.Channel
	prefix string
}

func newFixture(t *testing.T) *fixture {
	env := integrationEnv(t, "RABBITMQ_URL", "RABBITMQ_MANAGEMENT_URL", "RABBITMQ_USER", "RABBITMQ_PASSWORD")
	conn, err := amqp.Dial(env["RABBITMQ_URL"])
	if err != nil {
		t.Fatal(err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{ManagementURL: env["RABBITMQ_MANAGEMENT_URL"], Username: env["RABBITMQ_USER"], Password: env["RABBITMQ_PASSWORD"], Timeout: 10 * time.Second, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, c: c, conn: conn, ch: ch, prefix: fmt.Sprintf("t%d", time.Now().UnixNano())}
	t.Cleanup(func() { conn.Close(); c.Close() })
	return f
}

func (f *fixture) name(s string) string { return f.prefix + "." + s }

func (f *fixture) queue(name string, args amqp.Table) {
	f.t.Helper()
	if _, err := f.ch.QueueDeclare(name, true, false, false, false, args); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() {
		ch, err := f.conn.Channel()
		if err == nil {
			ch.QueueDelete(name, false, false, false)
			ch.Close()
		}
	})
}

func (f *fixture) exchange(name, kind string) {
	f.t.Helper()
	if err := f.ch.ExchangeDeclare(name, kind, true, false, false, false, nil); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() {
		ch, err := f.conn.Channel()
		if err == nil {
			ch.ExchangeDelete(name, false, false)
			ch.Close()
		}
	})
}

func (f *fixture) publish(exchange, key string, n int, msg func(i int) amqp.Publishing) {
	f.t.Helper()
	if err := f.ch.Confirm(false); err != nil {
		f.t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		c, err := f.ch.PublishWithDeferredConfirmWithContext(context.Background(), exchange, key, true, false, msg(i))
		if err != nil {
			f.t.Fatal(err)
		}
		if ok, err := c.WaitContext(context.Background()); !ok || err != nil {
			f.t.Fatalf("publish not confirmed: %v", err)
		}
	}
}

// reject takes n messages from queue and rejects them without requeue, so
// they are dead-lettered.
func (f *fixture) reject(queue string, n int) {
	f.t.Helper()
	for i := 0; i < n; i++ {
		d, ok, err := f.ch.Get(queue, false)
		if err != nil || !ok {
			f.t.Fatalf("get %s: ok=%v err=%v", queue, ok, err)
		}
		if err := d.Reject(false); err != nil {
			f.t.Fatal(err)
		}
	}
}

// waitQueues polls the management API (whose counters lag by a stats
// interval) until cond holds for the listing.
func (f *fixture) waitQueues(what string, cond func(map[string]backends.Queue) bool) map[string]backends.Queue {
	f.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		qs, err := f.c.Queues(context.Background())
		if err != nil {
			f.t.Fatal(err)
		}
		m := map[string]backends.Queue{}
		for _, q := range qs {
			if strings.HasPrefix(q.Name, f.prefix) {
				m[strings.TrimPrefix(q.Name, f.prefix+".")] = q
			}
		}
		if cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("waiting for %s: %+v", what, m)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// deadLetterSetup builds two origins (classic and quorum) dead-lettering
// through a DLX into one DLQ, with rejected and expired messages.
func deadLetterSetup(f *fixture) {
	dlx, dlq := f.name("dlx"), f.name("orders.dlq")
	f.exchange(dlx, "fanout")
	f.queue(dlq, nil)
	if err := f.ch.QueueBind(dlq, "", dlx, false, nil); err != nil {
		f.t.Fatal(err)
	}
	f.queue(f.name("orders"), amqp.Table{"x-dead-letter-exchange": dlx})
	f.queue(f.name("payments"), amqp.Table{"x-queue-type": "quorum", "x-dead-letter-exchange": dlx})
	msg := func(kind string) func(int) amqp.Publishing {
		return func(i int) amqp.Publishing {
			return amqp.Publishing{DeliveryMode: amqp.Persistent, MessageId: fmt.Sprintf("%s-%d", kind, i), ContentType: "application/json",
				Body: []byte(fmt.Sprintf(`{"id":%d}`, i)), Headers: amqp.Table{"trace": "abc\x1b[31m"}}
		}
	}
	f.publish("", f.name("orders"), 10, msg("o"))
	f.publish("", f.name("payments"), 4, msg("p"))
	f.reject(f.name("orders"), 6)
	f.reject(f.name("payments"), 4)
	// expired: a third origin whose messages expire at once
	f.queue(f.name("invoices"), amqp.Table{"x-dead-letter-exchange": dlx, "x-message-ttl": int32(1)})
	f.publish("", f.name("invoices"), 3, func(i int) amqp.Publishing {
		return amqp.Publishing{DeliveryMode: amqp.Persistent, MessageId: fmt.Sprintf("e-%d", i), Body: []byte("x")}
	})
}

func TestQueuesListingAndDLQDetection(t *testing.T) {
	f := newFixture(t)
	deadLetterSetup(f)
	f.queue(f.name("audit_error"), nil) // a DLQ by name only
	m := f.waitQueues("dead letters counted", func(m map[string]backends.Queue) bool {
		return m["orders.dlq"].Messages == 13 && m["orders"].Messages == 4
	})
	dlq := m["orders.dlq"]
	if !dlq.IsDLQ || !strings.Contains(dlq.DLQReason, "dead-letter exchange") {
		t.Errorf("orders.dlq not detected via its DLX: %+v", dlq)
	}
	if !m["audit_error"].IsDLQ || m["audit_error"].DLQReason != "named like a dead-letter queue" {
		t.Errorf("audit_error: %+v", m["audit_error"])
	}
	if m["orders"].IsDLQ || !m["orders"].HasDeadLetterExchange || m["orders"].DeadLetterExchange != f.name("dlx") {
		t.Errorf("orders: %+v", m["orders"])
	}
	if m["payments"].Type != "quorum" || m["orders"].Type != "classic" {
		t.Errorf("types: %s %s", m["payments"].Type, m["orders"].Type)
	}
	if m["orders"].Ready != 4 || m["orders"].Consumers != 0 {
		t.Errorf("orders depth: %+v", m["orders"])
	}

	d, err := f.c.QueueDetail(context.Background(), "/", f.name("orders.dlq"))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, b := range d.Bindings {
		if b.Source == f.name("dlx") {
			found = true
		}
	}
	if !found {
		t.Errorf("bindings: %+v", d.Bindings)
	}
	if _, err := f.c.QueueDetail(context.Background(), "/", f.name("nope")); err == nil || !strings.Contains(err.Error(), "not found in vhost") {
		t.Errorf("unknown queue: %v", err)
	}
}

func TestManagementErrors(t *testing.T) {
	env := integrationEnv(t, "RABBITMQ_MANAGEMENT_URL", "RABBITMQ_USER")
	const secret = "wrong-password-xyz"
	c, _ := New(Config{ManagementURL: env["RABBITMQ_MANAGEMENT_URL"], Username: env["RABBITMQ_USER"], Password: secret})
	_, err := c.Queues(context.Background())
	if err == nil || !strings.Contains(err.Error(), "authentication failed") || strings.Contains(err.Error(), secret) {
		t.Fatalf("bad password: %v", err)
	}
	c, _ = New(Config{ManagementURL: "http://127.0.0.1:1", Username: "u", Password: secret, Timeout: 2 * time.Second})
	_, err = c.Overview(context.Background())
	if err == nil || !strings.Contains(err.Error(), "cannot reach RabbitMQ management API") || strings.Contains(err.Error(), secret) {
		t.Fatalf("unreachable: %v", err)
	}
	if _, err := New(Config{ManagementURL: "http://u:p@h:1"}); err == nil {
		t.Fatal("credentials in URL accepted")
	}
}

func TestPeekIsSafeAndDeadLettersGroup(t *testing.T) {
	f := newFixture(t)
	deadLetterSetup(f)
	f.waitQueues("dead letters counted", func(m map[string]backends.Queue) bool { return m["orders.dlq"].Messages == 13 })
	f.c.cfg.URL = os.Getenv("RABBITMQ_URL")
	f.c.cfg.URL = strings.Replace(f.c.cfg.URL, ":"+os.Getenv("RABBITMQ_PASSWORD")+"@", "@", 1) // password only from the config field
	dlq := f.name("orders.dlq")
	depth := func() int {
		q, err := f.ch.QueueDeclarePassive(dlq, true, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		return q.Messages
	}
	ctx := context.Background()
	first, _, err := f.c.Peek(ctx, "/", dlq, 0, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 5 || depth() != 13 {
		t.Fatalf("peek 5: got %d, depth after %d", len(first), depth())
	}
	m := first[0]
	if m.MessageID != "o-0" || len(m.Deaths) == 0 || m.Deaths[0].Reason != "rejected" || m.Deaths[0].Queue != f.name("orders") {
		t.Fatalf("first dead letter: %+v", m)
	}
	if m.FirstDeath == nil || m.FirstDeath.Queue != f.name("orders") || m.Headers["trace"] != "abc\x1b[31m" || string(m.Body) != `{"id":0}` {
		t.Fatalf("first death / raw headers / body: %+v", m)
	}
	// paging: the same first message again (nothing consumed), and the tail
	again, _, err := f.c.Peek(ctx, "/", dlq, 0, 1)
	if err != nil || again[0].MessageID != "o-0" {
		t.Fatalf("peek again: %+v %v", again, err)
	}
	tail, _, err := f.c.Peek(ctx, "/", dlq, 10, 10)
	if err != nil || len(tail) != 3 || tail[0].Index != 10 {
		t.Fatalf("tail: %d %v", len(tail), err)
	}
	if depth() != 13 {
		t.Fatalf("depth changed by peeking: %d", depth())
	}
	sum, err := f.c.DeadLetters(ctx, "/", dlq, 1000)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, g := range sum.Groups {
		got[strings.TrimPrefix(g.Origin, f.prefix+".")+"/"+g.Reason] = g.Count
		if g.First.IsZero() || g.Last.Before(g.First) {
			t.Errorf("times: %+v", g)
		}
	}
	if got["orders/rejected"] != 6 || got["payments/rejected"] != 4 || got["invoices/expired"] != 3 || sum.Sampled != 13 || sum.Messages != 13 {
		t.Fatalf("groups: %v (sampled %d, messages %d)", got, sum.Sampled, sum.Messages)
	}
	if depth() != 13 {
		t.Fatalf("depth changed by sampling: %d", depth())
	}
	if _, _, err := f.c.Peek(ctx, "/", f.name("nope"), 0, 1); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("unknown queue: %v", err)
	}
}
