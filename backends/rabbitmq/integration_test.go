package rabbitmq

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync"
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

// fixture is a test's own corner of the shared broker: every queue and
// exchange it declares is named with a random prefix and deleted at the
// end.
type fixture struct {
	t      *testing.T
	env    map[string]string
	c      *Client
	conn   *amqp.Connection
	ch     *amqp.Channel // confirm mode
	prefix string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := integrationEnv(t, "RABBITMQ_URL", "RABBITMQ_MANAGEMENT_URL", "RABBITMQ_USER", "RABBITMQ_PASSWORD")
	conn, err := amqp.Dial(env["RABBITMQ_URL"])
	if err != nil {
		t.Fatal(err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	f := &fixture{t: t, env: env, conn: conn, ch: ch, prefix: "mqt-" + hex.EncodeToString(b)}
	f.c = f.client(Config{PageSize: 2})
	t.Cleanup(func() { conn.Close() })
	return f
}

// client builds a Client the way the CLI does: the password only in the
// Password field, never in the URL.
func (f *fixture) client(cfg Config) *Client {
	f.t.Helper()
	cfg.URL = strings.Replace(f.env["RABBITMQ_URL"], ":"+f.env["RABBITMQ_PASSWORD"]+"@", "@", 1)
	cfg.ManagementURL = f.env["RABBITMQ_MANAGEMENT_URL"]
	cfg.Username = f.env["RABBITMQ_USER"]
	if cfg.Password == "" {
		cfg.Password = f.env["RABBITMQ_PASSWORD"]
	}
	c, err := New(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.Close() })
	return c
}

func (f *fixture) name(s string) string { return f.prefix + "." + s }

// cleanup runs fn on a fresh channel at the end of the test.
func (f *fixture) cleanup(fn func(ch *amqp.Channel)) {
	f.t.Cleanup(func() {
		ch, err := f.conn.Channel()
		if err == nil {
			fn(ch)
			ch.Close()
		}
	})
}

func (f *fixture) queue(name string, args amqp.Table) {
	f.t.Helper()
	if _, err := f.ch.QueueDeclare(name, true, false, false, false, args); err != nil {
		f.t.Fatal(err)
	}
	f.cleanup(func(ch *amqp.Channel) { _, _ = ch.QueueDelete(name, false, false, false) })
}

func (f *fixture) exchange(name, kind string, args amqp.Table) {
	f.t.Helper()
	if err := f.ch.ExchangeDeclare(name, kind, true, false, false, false, args); err != nil {
		f.t.Fatal(err)
	}
	f.cleanup(func(ch *amqp.Channel) { _ = ch.ExchangeDelete(name, false, false) })
}

func (f *fixture) bind(queue, key, exchange string, args amqp.Table) {
	f.t.Helper()
	if err := f.ch.QueueBind(queue, key, exchange, false, args); err != nil {
		f.t.Fatal(err)
	}
}

// publish publishes n persistent messages with pipelined confirms.
func (f *fixture) publish(exchange, key string, n int, msg func(i int) amqp.Publishing) {
	f.t.Helper()
	var confs []*amqp.DeferredConfirmation
	wait := func() {
		for _, c := range confs {
			if ok, err := c.WaitContext(context.Background()); !ok || err != nil {
				f.t.Fatalf("publish to %q/%q not confirmed: %v", exchange, key, err)
			}
		}
		confs = confs[:0]
	}
	for i := range n {
		p := msg(i)
		p.DeliveryMode = amqp.Persistent
		c, err := f.ch.PublishWithDeferredConfirm(exchange, key, true, false, p)
		if err != nil {
			f.t.Fatal(err)
		}
		if confs = append(confs, c); len(confs) == 1000 {
			wait()
		}
	}
	wait()
}

// reject consumes n messages of queue and rejects them without requeue,
// so they are dead-lettered.
func (f *fixture) reject(queue string, n int) {
	f.t.Helper()
	ch, err := f.conn.Channel()
	if err != nil {
		f.t.Fatal(err)
	}
	defer ch.Close()
	if err := ch.Qos(1000, 0, false); err != nil {
		f.t.Fatal(err)
	}
	ds, err := ch.Consume(queue, "", false, false, false, false, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	timeout := time.After(30 * time.Second)
	for i := range n {
		select {
		case d := <-ds:
			if i == n-1 || i%500 == 499 {
				if err := d.Nack(true, false); err != nil {
					f.t.Fatal(err)
				}
			}
		case <-timeout:
			f.t.Fatalf("rejecting %s: got %d of %d", queue, i, n)
		}
	}
}

func (f *fixture) depth(queue string) int {
	f.t.Helper()
	ch, err := f.conn.Channel()
	if err != nil {
		f.t.Fatal(err)
	}
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return q.Messages
}

// waitDepth waits for a queue's depth as AMQP counts it (quorum queues
// apply rejections and requeues asynchronously).
func (f *fixture) waitDepth(queue string, n int) {
	f.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for f.depth(queue) != n {
		if time.Now().After(deadline) {
			f.t.Fatalf("%s: depth %d, want %d", queue, f.depth(queue), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// takeAll consumes (acking) every message of a queue.
func (f *fixture) takeAll(queue string) []amqp.Delivery {
	f.t.Helper()
	n := f.depth(queue)
	ch, err := f.conn.Channel()
	if err != nil {
		f.t.Fatal(err)
	}
	defer ch.Close()
	ds, err := ch.Consume(queue, "", true, false, false, false, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	out := make([]amqp.Delivery, 0, n)
	timeout := time.After(30 * time.Second)
	for len(out) < n {
		select {
		case d := <-ds:
			out = append(out, d)
		case <-timeout:
			f.t.Fatalf("taking %s: got %d of %d", queue, len(out), n)
		}
	}
	return out
}

func ids(ds []amqp.Delivery) map[string]int {
	out := map[string]int{}
	for _, d := range ds {
		out[d.MessageId]++
	}
	return out
}

// waitQueues polls the listing (the management API's counters lag by a
// stats interval) until cond holds for this test's queues.
func (f *fixture) waitQueues(c *Client, what string, cond func(map[string]backends.Queue) bool) map[string]backends.Queue {
	f.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		qs, err := c.Queues(context.Background())
		if err != nil {
			f.t.Fatal(err)
		}
		m := map[string]backends.Queue{}
		for _, q := range qs {
			if strings.HasPrefix(q.Name, f.prefix+".") {
				m[strings.TrimPrefix(q.Name, f.prefix+".")] = q
			}
		}
		if cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("waiting for %s: %+v", what, m)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// world is a dead-letter setup: orders (classic) and payments (quorum)
// dead-letter through the fanout exchange dlx into orders.dlq; orders is
// fed through the direct exchange in, payments through the default
// exchange. legacy dead-letters through the default exchange into
// legacy.parked.
type world struct {
	*fixture
	in, dlx, dlq, orders, payments, legacy, parked string
	rejected, expired, paid, parkedN               int
}

func newWorld(t *testing.T, rejected, expired, paid, parked int) *world {
	f := newFixture(t)
	w := &world{fixture: f, in: f.name("in"), dlx: f.name("dlx"), dlq: f.name("orders.dlq"), orders: f.name("orders"),
		payments: f.name("payments"), legacy: f.name("legacy"), parked: f.name("legacy.parked"),
		rejected: rejected, expired: expired, paid: paid, parkedN: parked}
	f.exchange(w.in, "direct", nil)
	f.exchange(w.dlx, "fanout", nil)
	f.queue(w.dlq, nil)
	f.bind(w.dlq, "", w.dlx, nil)
	f.queue(w.orders, amqp.Table{"x-dead-letter-exchange": w.dlx})
	f.bind(w.orders, "orders.created", w.in, nil)
	f.queue(w.payments, amqp.Table{"x-queue-type": "quorum", "x-dead-letter-exchange": w.dlx})
	f.queue(w.parked, nil)
	f.queue(w.legacy, amqp.Table{"x-dead-letter-exchange": "", "x-dead-letter-routing-key": w.parked})

	if rejected > 0 {
		f.publish(w.in, "orders.created", rejected, func(i int) amqp.Publishing {
			p := amqp.Publishing{MessageId: fmt.Sprintf("o-%d", i), ContentType: "application/json", Body: fmt.Appendf(nil, `{"order":%d}`, i),
				Headers: amqp.Table{"tenant": "eu"}}
			if i < 3 {
				p.Headers["x-exception-type"] = "System.TimeoutException"
			}
			return p
		})
		f.reject(w.orders, rejected)
	}
	if paid > 0 {
		f.publish("", w.payments, paid, func(i int) amqp.Publishing {
			return amqp.Publishing{MessageId: fmt.Sprintf("p-%d", i), Body: fmt.Appendf(nil, `{"payment":%d}`, i)}
		})
		f.reject(w.payments, paid)
	}
	if expired > 0 {
		// per-message TTL: orders is empty, so they expire at its head
		f.publish(w.in, "orders.created", expired, func(i int) amqp.Publishing {
			return amqp.Publishing{MessageId: fmt.Sprintf("e-%d", i), Expiration: "1", Body: []byte("late")}
		})
	}
	if parked > 0 {
		f.publish("", w.legacy, parked, func(i int) amqp.Publishing {
			return amqp.Publishing{MessageId: fmt.Sprintf("l-%d", i), Body: []byte("legacy")}
		})
		f.reject(w.legacy, parked)
	}
	f.waitDepth(w.dlq, rejected+expired+paid)
	f.waitDepth(w.parked, parked)
	return w
}

func (w *world) short(name string) string { return strings.TrimPrefix(name, w.prefix+".") }

func TestQueuesListingAndDLQDetection(t *testing.T) {
	w := newWorld(t, 6, 3, 4, 2)
	w.queue(w.name("audit_error"), nil) // a DLQ by name only
	w.queue(w.name("plain"), nil)
	m := w.waitQueues(w.c, "dead letters counted", func(m map[string]backends.Queue) bool {
		return m["orders.dlq"].Messages == 13 && m["legacy.parked"].Messages == 2 && len(m) == 7
	})
	dlq := m["orders.dlq"]
	if !dlq.IsDLQ || !strings.HasPrefix(dlq.DLQReason, `bound to dead-letter exchange "`+w.dlx+`" of queues`) || dlq.Ready != 13 || dlq.Type != "classic" || !dlq.Durable {
		t.Errorf("orders.dlq: %+v", dlq)
	}
	if p := m["legacy.parked"]; !p.IsDLQ || !strings.Contains(p.DLQReason, "default exchange") {
		t.Errorf("legacy.parked (default-exchange DLX): %+v", p)
	}
	if a := m["audit_error"]; !a.IsDLQ || a.DLQReason != "named like a dead-letter queue" {
		t.Errorf("audit_error: %+v", a)
	}
	for _, n := range []string{"orders", "payments", "legacy", "plain"} {
		if m[n].IsDLQ {
			t.Errorf("%s marked DLQ: %+v", n, m[n])
		}
	}
	o, p := m["orders"], m["payments"]
	if o.Type != "classic" || !o.HasDeadLetterExchange || o.DeadLetterExchange != w.dlx || o.Arguments["x-dead-letter-exchange"] != w.dlx || o.Messages != 0 {
		t.Errorf("orders: %+v", o)
	}
	if p.Type != "quorum" || p.DeadLetterExchange != w.dlx || p.Arguments["x-queue-type"] != "quorum" {
		t.Errorf("payments: %+v", p)
	}
	if l := m["legacy"]; !l.HasDeadLetterExchange || l.DeadLetterExchange != "" || l.DeadLetterRoutingKey != w.parked {
		t.Errorf("legacy: %+v", l)
	}
	// the same through the per-vhost listing
	c := w.client(Config{PageSize: 3, Vhosts: []string{"/"}})
	m2 := w.waitQueues(c, "per-vhost listing", func(m map[string]backends.Queue) bool { return len(m) == 7 })
	if !m2["orders.dlq"].IsDLQ || m2["orders.dlq"].Messages != 13 {
		t.Errorf("per vhost: %+v", m2["orders.dlq"])
	}
	c = w.client(Config{Vhosts: []string{w.prefix}})
	if _, err := c.Queues(context.Background()); err == nil || err.Error() != `vhost "`+w.prefix+`" not found` {
		t.Errorf("unknown vhost: %v", err)
	}
	ov, err := w.c.Overview(context.Background())
	if err != nil || ov.RabbitMQVersion == "" || ov.ErlangVersion == "" || ov.ClusterName == "" || ov.Queues < 7 {
		t.Errorf("overview: %+v %v", ov, err)
	}
}

// TestQueueTotalsMatchQueues: the quick listing (no statistics) of the
// real broker gives the same queues, depths, types and dead-letter marks
// as the listing with statistics, flagged NoStats; the one with
// statistics is not.
func TestQueueTotalsMatchQueues(t *testing.T) {
	w := newWorld(t, 5, 2, 0, 1)
	w.queue(w.name("audit_error"), nil)
	full := w.waitQueues(w.c, "dead letters counted", func(m map[string]backends.Queue) bool {
		return m["orders.dlq"].Messages == 7 && m["legacy.parked"].Messages == 1 && len(m) == 6
	})
	qs, err := w.c.QueueTotals(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	quick := map[string]backends.Queue{}
	for _, q := range qs {
		if !q.NoStats {
			t.Fatalf("%s/%s: not flagged NoStats in the quick listing", q.Vhost, q.Name)
		}
		if n, ok := strings.CutPrefix(q.Name, w.prefix+"."); ok {
			quick[n] = q
		}
	}
	if len(quick) != len(full) {
		t.Fatalf("quick listing: %d queues of the test, want %d", len(quick), len(full))
	}
	for n, f := range full {
		q := quick[n]
		if f.NoStats {
			t.Errorf("%s: the listing with statistics is flagged NoStats", n)
		}
		if q.Type != f.Type || q.Messages != f.Messages || q.Ready != f.Ready || q.Unacked != f.Unacked || q.IsDLQ != f.IsDLQ ||
			q.DLQReason != f.DLQReason || q.DeadLetterExchange != f.DeadLetterExchange || q.Durable != f.Durable {
			t.Errorf("%s: quick %+v\nfull %+v", n, q, f)
		}
	}
}

func TestQueueDetailBindingsAndConsumers(t *testing.T) {
	w := newWorld(t, 2, 0, 0, 0)
	ch, err := w.conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := ch.Qos(7, 0, false); err != nil {
		t.Fatal(err)
	}
	tag := w.name("consumer")
	if _, err := ch.Consume(w.orders, tag, false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	// the default page size: QueueDetail scans (a bounded number of pages
	// of) the vhost's queues, which other tests share
	c := w.client(Config{})
	var d *backends.QueueDetail
	deadline := time.Now().Add(20 * time.Second)
	for {
		d, err = c.QueueDetail(context.Background(), "/", w.orders)
		if err != nil {
			t.Fatal(err)
		}
		// the channel details come with the next stats emission
		if (len(d.Consumers) == 1 && d.Consumers[0].Channel != "") || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(d.Consumers) != 1 || d.Consumers[0].Tag != tag || !d.Consumers[0].AckRequired || d.Consumers[0].Prefetch != 7 || d.Consumers[0].Channel == "" || d.Consumers[0].Connection == "" {
		t.Errorf("consumers: %+v", d.Consumers)
	}
	var keys []string
	for _, b := range d.Bindings {
		keys = append(keys, b.Source+"→"+b.RoutingKey)
	}
	if want := []string{"→" + w.orders, w.in + "→orders.created"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("bindings %v, want %v", keys, want)
	}
	if d.Queue.IsDLQ || d.Queue.DeadLetterExchange != w.dlx {
		t.Errorf("orders detail: %+v", d.Queue)
	}
	dd, err := c.QueueDetail(context.Background(), "/", w.dlq)
	if err != nil || !dd.Queue.IsDLQ || dd.Queue.DLQReason != `bound to dead-letter exchange "`+w.dlx+`" of queues "`+w.orders+`" and 1 more` {
		t.Errorf("orders.dlq detail: %+v %v", dd, err)
	}
	pd, err := c.QueueDetail(context.Background(), "/", w.parked)
	if err != nil || !pd.Queue.IsDLQ || !strings.Contains(pd.Queue.DLQReason, "default exchange") {
		t.Errorf("legacy.parked detail: %+v %v", pd, err)
	}
	if _, err := c.QueueDetail(context.Background(), "/", w.name("nope")); err == nil || err.Error() != `queue "`+w.name("nope")+`" not found in vhost "/"` {
		t.Errorf("unknown queue: %v", err)
	}
}

func TestRoutesAgainstTheBroker(t *testing.T) {
	f := newFixture(t)
	n := f.name
	for _, q := range []string{"eu", "us", "all", "created", "hq"} {
		f.queue(n(q), nil)
	}
	f.exchange(n("direct"), "direct", nil)
	f.bind(n("eu"), "eu", n("direct"), nil)
	f.bind(n("us"), "us", n("direct"), nil)
	f.exchange(n("fanout"), "fanout", nil)
	f.bind(n("eu"), "ignored", n("fanout"), nil)
	f.bind(n("us"), "", n("fanout"), nil)
	f.exchange(n("topic"), "topic", nil)
	f.bind(n("all"), "orders.#", n("topic"), nil)
	f.bind(n("created"), "orders.*.created", n("topic"), nil)
	f.exchange(n("headers"), "headers", nil)
	f.bind(n("hq"), "", n("headers"), amqp.Table{"x-match": "all", "region": "hq"})
	f.exchange(n("lonely"), "direct", nil)
	ctx := context.Background()
	for _, tc := range []struct {
		x, key      string
		want        []string
		predictable bool
	}{
		{n("direct"), "eu", []string{n("eu")}, true},
		{n("direct"), "asia", nil, true},
		{n("fanout"), "whatever", []string{n("eu"), n("us")}, true},
		{n("topic"), "orders.eu.created", []string{n("all"), n("created")}, true},
		{n("topic"), "orders", []string{n("all")}, true},
		{n("topic"), "payments.eu", nil, true},
		{n("headers"), "", nil, false},
		{n("lonely"), "k", nil, true},
		{n("missing"), "k", nil, true},
		{"", n("eu"), []string{n("eu")}, true},
		{"", n("missing"), nil, true},
	} {
		got, ok, err := f.c.Routes(ctx, "/", tc.x, tc.key)
		if err != nil || ok != tc.predictable || !sameSet(got, tc.want) {
			t.Errorf("Routes(%q, %q) = %v %v %v, want %v %v", tc.x, tc.key, got, ok, err, tc.want, tc.predictable)
		}
		// the broker agrees: a mandatory publish is returned exactly when
		// nothing is predicted
		if tc.predictable && tc.x != n("missing") {
			if returned := f.probeReturned(tc.x, tc.key); returned != (len(tc.want) == 0) {
				t.Errorf("broker: publish to %q/%q returned=%v, Routes said %v", tc.x, tc.key, returned, tc.want)
			}
		}
	}
	for x, want := range map[string]bool{n("direct"): true, n("missing"): false, "": true, "amq.topic": true} {
		if ok, err := f.c.ExchangeExists(ctx, "/", x); ok != want || err != nil {
			t.Errorf("ExchangeExists(%q) = %v %v", x, ok, err)
		}
	}
	for _, q := range []string{"eu", "us", "all", "created"} {
		_, _ = f.ch.QueuePurge(n(q), false)
	}
}

// probeReturned publishes a mandatory message and says whether the broker
// returned it.
func (f *fixture) probeReturned(exchange, key string) bool {
	f.t.Helper()
	ch, err := f.conn.Channel()
	if err != nil {
		f.t.Fatal(err)
	}
	defer ch.Close()
	if err := ch.Confirm(false); err != nil {
		f.t.Fatal(err)
	}
	returns := ch.NotifyReturn(make(chan amqp.Return, 1))
	c, err := ch.PublishWithDeferredConfirm(exchange, key, true, false, amqp.Publishing{Body: []byte("probe")})
	if err != nil {
		f.t.Fatal(err)
	}
	c.Wait()
	select {
	case <-returns:
		return true
	default:
		return false
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		if m[s]--; m[s] < 0 {
			return false
		}
	}
	return true
}

func TestPeekLeavesTheQueueAsItWas(t *testing.T) {
	w := newWorld(t, 6, 3, 4, 0)
	ctx := context.Background()
	before := w.depth(w.dlq)
	first, warning, err := w.c.Peek(ctx, "/", w.dlq, 0, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 5 || w.depth(w.dlq) != before || warning != "" {
		t.Fatalf("peek 5: got %d, depth %d → %d, warning %q", len(first), before, w.depth(w.dlq), warning)
	}
	m := first[0]
	if m.MessageID != "o-0" || m.Index != 0 || m.Exchange != w.dlx || m.RoutingKey != "orders.created" || m.ContentType != "application/json" ||
		m.DeliveryMode != 2 || string(m.Body) != `{"order":0}` || m.Size != len(m.Body) || m.Headers["tenant"] != "eu" {
		t.Fatalf("first dead letter: %+v", m)
	}
	if len(m.Deaths) != 1 {
		t.Fatalf("deaths: %+v", m.Deaths)
	}
	d := m.Deaths[0]
	if d.Queue != w.orders || d.Reason != "rejected" || d.Exchange != w.in || !reflect.DeepEqual(d.RoutingKeys, []string{"orders.created"}) || d.Count != 1 ||
		time.Since(d.Time) > 5*time.Minute || d.Time.Location() != time.UTC {
		t.Fatalf("death: %+v", d)
	}
	if m.FirstDeath == nil || m.FirstDeath.Queue != w.orders || m.FirstDeath.Reason != "rejected" || m.FirstDeath.Exchange != w.in {
		t.Fatalf("first death: %+v", m.FirstDeath)
	}
	// paging: the same first message again (nothing consumed), then the tail
	again, _, err := w.c.Peek(ctx, "/", w.dlq, 0, 1)
	if err != nil || len(again) != 1 || again[0].MessageID != "o-0" || !again[0].Redelivered {
		t.Fatalf("peek again: %+v %v", again, err)
	}
	tail, _, err := w.c.Peek(ctx, "/", w.dlq, 10, 10)
	if err != nil || len(tail) != 3 || tail[0].Index != 10 {
		t.Fatalf("tail: %d %v", len(tail), err)
	}
	reasons := map[string]string{}
	all, _, err := w.c.Peek(ctx, "/", w.dlq, 0, 100)
	if err != nil || len(all) != 13 {
		t.Fatalf("all: %d %v", len(all), err)
	}
	for _, m := range all {
		q, r := m.Origin()
		reasons[m.MessageID] = w.short(q) + "/" + r
	}
	if reasons["o-5"] != "orders/rejected" || reasons["p-3"] != "payments/rejected" || reasons["e-2"] != "orders/expired" {
		t.Fatalf("origins: %v", reasons)
	}
	if w.depth(w.dlq) != before {
		t.Fatalf("depth changed by peeking: %d → %d", before, w.depth(w.dlq))
	}
	if _, _, err := w.c.Peek(ctx, "/", w.name("nope"), 0, 1); err == nil || err.Error() != `queue "`+w.name("nope")+`" not found in vhost "/"` {
		t.Fatalf("unknown queue: %v", err)
	}
	empty, _, err := w.c.Peek(ctx, "/", w.orders, 0, 10)
	if err != nil || len(empty) != 0 {
		t.Fatalf("empty queue: %v %v", empty, err)
	}
}

func TestPeekKeepsRawDataAndProperties(t *testing.T) {
	f := newFixture(t)
	q := f.name("raw")
	f.queue(q, nil)
	body := make([]byte, 256)
	for i := range body {
		body[i] = byte(i)
	}
	at := time.Unix(1_800_000_000, 0)
	f.publish("", q, 1, func(int) amqp.Publishing {
		return amqp.Publishing{
			MessageId: "raw-1", CorrelationId: "corr\x1b]0;title\x07", ContentType: "application/octet-stream", ContentEncoding: "identity",
			Priority: 5, Timestamp: at, AppId: "billing", Type: "invoice.failed", ReplyTo: "replies", UserId: f.env["RABBITMQ_USER"], Expiration: "3600000",
			Body: body,
			Headers: amqp.Table{
				"evil": "\x1b[2J\x1b[31mred", "i32": int32(-7), "i64": int64(1) << 40, "f": 1.5, "yes": true, "when": at,
				"nested": amqp.Table{"list": []any{"a", int32(1)}}, "bin": []byte{0, 0xff}, "dec": amqp.Decimal{Scale: 3, Value: 1500},
			},
		}
	})
	ms, _, err := f.c.Peek(context.Background(), "/", q, 0, 1)
	if err != nil || len(ms) != 1 {
		t.Fatalf("%v %v", ms, err)
	}
	m := ms[0]
	if string(m.Body) != string(body) || m.Size != 256 || m.Truncated {
		t.Errorf("binary body not kept: %q", m.Body)
	}
	if m.CorrelationID != "corr\x1b]0;title\x07" || m.Headers["evil"] != "\x1b[2J\x1b[31mred" {
		t.Errorf("raw strings changed (sanitizing is the display's job): %q %q", m.CorrelationID, m.Headers["evil"])
	}
	want := map[string]any{"evil": "\x1b[2J\x1b[31mred", "i32": int64(-7), "i64": int64(1) << 40, "f": 1.5, "yes": true, "when": at.UTC(),
		"nested": map[string]any{"list": []any{"a", int64(1)}}, "bin": []byte{0, 0xff}, "dec": "1.500"}
	if !reflect.DeepEqual(m.Headers, want) {
		t.Errorf("headers:\n got %#v\nwant %#v", m.Headers, want)
	}
	if m.MessageID != "raw-1" || m.ContentType != "application/octet-stream" || m.Encoding != "identity" || m.Priority != 5 || !m.Timestamp.Equal(at) ||
		m.AppID != "billing" || m.Type != "invoice.failed" || m.ReplyTo != "replies" || m.UserID != f.env["RABBITMQ_USER"] || m.Expiration != "3600000" ||
		m.DeliveryMode != 2 || m.Exchange != "" || m.RoutingKey != q || len(m.Deaths) != 0 || m.FirstDeath != nil {
		t.Errorf("properties: %+v", m)
	}
	if f.depth(q) != 1 {
		t.Errorf("depth %d after peek", f.depth(q))
	}
}

// inOrder consumes every message of queue (the end of a test) and fails
// unless they are ids 0..n-1 in that order.
func (f *fixture) inOrder(queue string, n int) {
	f.t.Helper()
	f.waitDepth(queue, n)
	ds := f.takeAll(queue)
	var got []string
	for i, d := range ds {
		got = append(got, d.MessageId)
		if d.MessageId != fmt.Sprint(i) {
			f.t.Fatalf("%s is not in its order any more: %v", queue, got)
		}
	}
	if len(ds) != n {
		f.t.Fatalf("%s holds %d messages, want %d", queue, len(ds), n)
	}
}

func numbered(i int) amqp.Publishing {
	return amqp.Publishing{MessageId: fmt.Sprint(i), Body: []byte("x")}
}

// TestLookingNeverLosesOnTheBroker: a quorum dead-letter queue with a
// delivery limit of 2 on RabbitMQ 3.10 (which counts every requeue as a
// delivery attempt) is never peeked implicitly: Peek refuses with the risk
// in numbers, DeadLetters gives its depth and why it did not sample, three
// times over; a peek the operator accepts costs each message read one
// attempt and says how many are left; the queue keeps all 50 messages in
// their order.
func TestLookingNeverLosesOnTheBroker(t *testing.T) {
	f := newFixture(t)
	q := f.name("limited.dlq")
	f.queue(q, amqp.Table{"x-queue-type": "quorum", "x-delivery-limit": int32(2)})
	f.publish("", q, 50, func(i int) amqp.Publishing { return numbered(i) })
	ctx := context.Background()
	f.waitQueues(f.c, "depth 50", func(m map[string]backends.Queue) bool { return m["limited.dlq"].Messages == 50 })
	for range 3 {
		_, _, err := f.c.Peek(ctx, "/", q, 0, 20)
		var re *backends.PeekRiskError
		if !errors.As(err, &re) || re.Risk.Kind != backends.RiskDeliveryLimit || re.Risk.DeliveryLimit != 2 || re.Risk.Depth != 50 ||
			!strings.Contains(err.Error(), "one already requeued 2 times is dropped (the queue has no dead-letter exchange)") {
			t.Fatalf("peek of a limited quorum queue: %v", err)
		}
		sum, err := f.c.DeadLetters(ctx, "/", q, 1000)
		if err != nil || sum.Sampled != 0 || sum.Messages != 50 || sum.NotSampled == nil || sum.NotSampled.DeliveryLimit != 2 || len(sum.Groups) != 0 {
			t.Fatalf("dead letters of a limited quorum queue: %+v %v", sum, err)
		}
		if d := f.depth(q); d != 50 {
			t.Fatalf("depth %d after a refused peek", d)
		}
	}
	// the operator accepts the cost for this queue: twice, 20 messages;
	// the second peek reads one more, the first never requeued (the 20
	// requeued by the first peek went to the head, so that one tells where
	// they end)
	for round, left := range []int64{1, 0} {
		res, err := f.c.PeekQueue(ctx, "/", q, backends.PeekOptions{Limit: 20, AcceptRisk: true})
		if err != nil || len(res.Messages) != 20 || res.Risk == nil || res.Depth != 50 || res.Read != 20+round {
			t.Fatalf("accepted peek %d: %+v %v", round, res, err)
		}
		for i, m := range res.Messages {
			got, ok := res.Risk.AttemptsLeft(&m)
			if m.MessageID != fmt.Sprint(i) || !ok || got != left {
				t.Fatalf("accepted peek %d, message %d: id %s, %d attempts left (%v), want %d", round, i, m.MessageID, got, ok, left)
			}
		}
	}
	f.inOrder(q, 50)
}

// TestPeekKeepsTheOrder peeks (several times, at several offsets) at a
// classic queue, a quorum queue without a delivery limit (RabbitMQ puts
// requeued messages at its back: the peek reads all of it), a quorum queue
// with one (requeued messages go to its head: the peek reads through those
// requeued before) and a quorum queue whose messages carry an
// x-delivery-count header of their own: each keeps its 50 messages in
// their order.
func TestPeekKeepsTheOrder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    amqp.Table
		headers amqp.Table
		accept  bool
	}{
		{"classic", nil, nil, false},
		{"quorum", amqp.Table{"x-queue-type": "quorum"}, nil, false},
		{"quorum-limit", amqp.Table{"x-queue-type": "quorum", "x-delivery-limit": int32(1000)}, nil, true},
		{"quorum-counted", amqp.Table{"x-queue-type": "quorum"}, amqp.Table{"x-delivery-count": int64(3)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			q := f.name(tc.name)
			f.queue(q, tc.args)
			f.publish("", q, 50, func(i int) amqp.Publishing {
				p := numbered(i)
				p.Headers = tc.headers
				return p
			})
			ctx := context.Background()
			for _, w := range [][2]int{{0, 20}, {0, 20}, {10, 5}, {20, 20}, {0, 50}, {45, 20}} {
				res, err := f.c.PeekQueue(ctx, "/", q, backends.PeekOptions{Offset: w[0], Limit: w[1], AcceptRisk: tc.accept})
				if err != nil {
					t.Fatalf("peek %v: %v", w, err)
				}
				if want := min(w[1], 50-w[0]); len(res.Messages) != want {
					t.Fatalf("peek %v: %d messages, want %d", w, len(res.Messages), want)
				}
				for i, m := range res.Messages {
					if m.MessageID != fmt.Sprint(w[0]+i) || m.Index != w[0]+i {
						t.Fatalf("peek %v: message %d is %s (#%d): the order changed", w, i, m.MessageID, m.Index)
					}
				}
				if tc.name == "quorum" && res.Read != 50 {
					t.Errorf("peek %v of a quorum queue without a limit read %d, want the whole queue", w, res.Read)
				}
				f.waitDepth(q, 50)
			}
			f.inOrder(q, 50)
		})
	}
}

// TestPeekKeepsTheOrderOfDeadLetters: dead letters of a quorum queue whose
// delivery limit dead-letters them into a quorum dead-letter queue; the
// DLQ, peeked and sampled three times, keeps its order.
func TestPeekKeepsTheOrderOfDeadLetters(t *testing.T) {
	f := newFixture(t)
	dlq, origin := f.name("origin.dlq"), f.name("origin")
	f.queue(dlq, amqp.Table{"x-queue-type": "quorum"})
	f.queue(origin, amqp.Table{"x-queue-type": "quorum", "x-delivery-limit": int32(0), "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq})
	f.publish("", origin, 40, func(i int) amqp.Publishing { return numbered(i) })
	// one requeue each: past the limit of 0, into the DLQ in order
	ch, err := f.conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	for range 40 {
		d, ok, err := ch.Get(origin, false)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		if err := d.Nack(false, true); err != nil {
			t.Fatal(err)
		}
	}
	ch.Close()
	f.waitDepth(dlq, 40)
	for range 3 {
		if _, _, err := f.c.Peek(context.Background(), "/", dlq, 0, 15); err != nil {
			t.Fatal(err)
		}
		sum, err := f.c.DeadLetters(context.Background(), "/", dlq, 10)
		if err != nil || sum.Sampled != 10 || sum.NotSampled != nil || len(sum.Groups) != 1 || sum.Groups[0].Reason != "delivery_limit" {
			t.Fatalf("%+v %v", sum, err)
		}
	}
	f.inOrder(dlq, 40)
}

func TestDeadLettersGroupByOriginAndReason(t *testing.T) {
	w := newWorld(t, 6, 3, 4, 0)
	sum, err := w.c.DeadLetters(context.Background(), "/", w.dlq, 1000)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, g := range sum.Groups {
		got[w.short(g.Origin)+"/"+g.Reason+"/"+g.Exception] = g.Count
		if g.First.IsZero() || g.Last.Before(g.First) || time.Since(g.Last) > 5*time.Minute {
			t.Errorf("times: %+v", g)
		}
	}
	want := map[string]int{"orders/rejected/System.TimeoutException": 3, "orders/rejected/": 3, "payments/rejected/": 4, "orders/expired/": 3}
	if !reflect.DeepEqual(got, want) || sum.Sampled != 13 || sum.Messages != 13 || sum.Backend != "rabbitmq" || sum.Queue != w.dlq || sum.Vhost != "/" {
		t.Fatalf("groups: %v (sampled %d, messages %d)", got, sum.Sampled, sum.Messages)
	}
	small, err := w.c.DeadLetters(context.Background(), "/", w.dlq, 5)
	if err != nil || small.Sampled != 5 || small.Messages != 13 {
		t.Fatalf("sample of 5: %+v %v", small, err)
	}
	if w.depth(w.dlq) != 13 {
		t.Fatalf("depth changed by sampling: %d", w.depth(w.dlq))
	}
}

func TestAMQPErrorsAreClear(t *testing.T) {
	f := newFixture(t)
	const wrong = "wrong-password-7f3a"
	bad := f.client(Config{Password: wrong})
	_, _, err := bad.Peek(context.Background(), "/", f.name("x"), 0, 1)
	if err == nil || !strings.Contains(err.Error(), `authentication failed for user "`+f.env["RABBITMQ_USER"]+`"`) || strings.Contains(err.Error(), wrong) {
		t.Errorf("wrong password: %v", err)
	}
	_, _, err = f.c.Peek(context.Background(), f.prefix, "q", 0, 1)
	if err == nil || !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `vhost "`+f.prefix+`" not found`) {
		t.Errorf("unknown vhost: %v", err)
	}
	down, _ := New(Config{URL: "amqp://u@127.0.0.1:1/", ManagementURL: "http://127.0.0.1:1", Password: wrong, Timeout: 2 * time.Second})
	_, err = down.Move(context.Background(), MoveOptions{Vhost: "/", Queue: "q", Decide: func(*backends.Message) (MoveDecision, MoveTarget, error) { return Move, MoveTarget{}, nil }})
	if err == nil || err.Error() != "cannot reach RabbitMQ at amqp://127.0.0.1:1: connection refused" {
		t.Errorf("unreachable: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := f.c.Peek(ctx, "/", f.name("x"), 0, 1); err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Errorf("cancelled: %v", err)
	}
}

// TestPeekBesideOtherConsumers peeks at queues another consumer holds: a
// single-active-consumer queue (a second consumer would get nothing: the
// peek gets), an exclusive consumer (a second consumer is refused) and a
// quorum queue (the order survives the requeue).
func TestPeekBesideOtherConsumers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		args      amqp.Table
		exclusive bool
	}{
		{"sac", amqp.Table{"x-single-active-consumer": true}, false},
		{"exclusive", nil, true},
		{"quorum", amqp.Table{"x-queue-type": "quorum"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			q := f.name(tc.name)
			f.queue(q, tc.args)
			f.publish("", q, 30, func(i int) amqp.Publishing { return amqp.Publishing{MessageId: fmt.Sprint(i), Body: []byte("x")} })
			held := 0
			if tc.name != "quorum" {
				ch, err := f.conn.Channel()
				if err != nil {
					t.Fatal(err)
				}
				defer ch.Close()
				_ = ch.Qos(1, 0, false)
				ds, err := ch.Consume(q, "holder", false, tc.exclusive, false, false, nil)
				if err != nil {
					t.Fatal(err)
				}
				<-ds // holds message 0, unacked
				held = 1
			}
			f.waitDepth(q, 30-held)
			start := time.Now()
			ms, _, err := f.c.Peek(context.Background(), "/", q, 0, 100)
			if err != nil {
				t.Fatalf("peek: %v", err)
			}
			if len(ms) != 30-held || ms[0].MessageID != fmt.Sprint(held) || ms[len(ms)-1].MessageID != "29" {
				t.Fatalf("peek got %d messages, first %+v", len(ms), ms[0])
			}
			t.Logf("%s: %d messages in %v", tc.name, len(ms), time.Since(start))
			again, _, err := f.c.Peek(context.Background(), "/", q, 0, 100)
			if err != nil || len(again) != len(ms) {
				t.Fatalf("again: %d %v", len(again), err)
			}
			for i := range ms {
				if again[i].MessageID != ms[i].MessageID {
					t.Fatalf("order changed by peeking: %s then %s at %d", ms[i].MessageID, again[i].MessageID, i)
				}
			}
			f.waitDepth(q, 30-held)
		})
	}
}

// TestDeadLetterSampleIsQuick samples 1,000 dead letters: a consumer
// streams them (basic.get would cost a round trip each).
func TestDeadLetterSampleIsQuick(t *testing.T) {
	w := newWorld(t, 1500, 0, 0, 0)
	start := time.Now()
	sum, err := w.c.DeadLetters(context.Background(), "/", w.dlq, 1000)
	el := time.Since(start)
	if err != nil || sum.Sampled != 1000 || sum.Messages != 1500 || len(sum.Groups) != 2 || sum.Groups[0].Count != 997 {
		t.Fatalf("%+v %v", sum, err)
	}
	t.Logf("sampled 1,000 of 1,500 dead letters in %v", el)
	w.waitDepth(w.dlq, 1500)
}

// freezingProxy forwards AMQP between mqops and the broker until the n-th
// method frame (class, method) passes one way; from then on nothing more
// goes that way, and the connection stays open: the broker has stopped
// answering at that very call.
type freezingProxy struct {
	t     *testing.T
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newFreezingProxy(t *testing.T, target string, fromClient, after bool, class, method uint16, nth int) *freezingProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezingProxy{t: t, ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				return
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, b)
			p.mu.Unlock()
			watch := func(dst, src net.Conn, header bool) {
				r := bufio.NewReader(src)
				if header { // AMQP 0-9-1 protocol header
					h := make([]byte, 8)
					if _, err := io.ReadFull(r, h); err != nil {
						return
					}
					dst.Write(h)
				}
				seen := 0
				for {
					fh := make([]byte, 7)
					if _, err := io.ReadFull(r, fh); err != nil {
						return
					}
					size := binary.BigEndian.Uint32(fh[3:])
					rest := make([]byte, int(size)+1)
					if _, err := io.ReadFull(r, rest); err != nil {
						return
					}
					if fh[0] == 1 && size >= 4 && binary.BigEndian.Uint16(rest) == class && binary.BigEndian.Uint16(rest[2:]) == method {
						if seen++; seen == nth {
							if after {
								dst.Write(append(fh, rest...))
							}
							_, _ = io.Copy(io.Discard, r) // frozen
							return
						}
					}
					if _, err := dst.Write(append(fh, rest...)); err != nil {
						return
					}
				}
			}
			if fromClient {
				go watch(b, c, true)
				go io.Copy(c, b)
			} else {
				go io.Copy(b, c)
				go watch(c, b, false)
			}
		}
	}()
	return p
}

func (p *freezingProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// TestEveryAMQPCallIsBounded (issue 7, class 6): a broker that stops
// answering at any call of a peek — the handshake, opening a channel, the
// passive declare, the prefetch, the subscription, the first delivery, the
// cancel, a basic.get, the depth read after the requeue — fails it within
// the timeout (1.5 × at most), with an error naming the call; the
// messages it held come back to the queue.
func TestEveryAMQPCallIsBounded(t *testing.T) {
	f := newFixture(t)
	q, sac := f.name("frozen"), f.name("frozen-sac")
	f.queue(q, nil)
	f.queue(sac, amqp.Table{"x-single-active-consumer": true})
	f.publish("", q, 5, func(i int) amqp.Publishing { return numbered(i) })
	f.publish("", sac, 5, func(i int) amqp.Publishing { return numbered(i) })
	u, err := url.Parse(f.env["RABBITMQ_URL"])
	if err != nil {
		t.Fatal(err)
	}
	const timeout = time.Second
	for _, tc := range []struct {
		name          string
		queue         string
		fromClient    bool
		after         bool
		class, method uint16
		nth           int
		want          string
	}{
		{"connection.open", q, true, false, 10, 40, 1, "timed out connecting to RabbitMQ at"},
		{"channel.open", q, true, false, 20, 10, 1, "timed out opening a channel on RabbitMQ at"},
		{"queue.declare", q, true, false, 50, 10, 1, `timed out reading the depth of queue "` + q + `"`},
		{"basic.qos", q, true, false, 60, 10, 1, "timed out setting the prefetch"},
		{"basic.consume", q, true, false, 60, 20, 1, `timed out subscribing to queue "` + q + `"`},
		{"first delivery", q, false, true, 60, 21, 1, `timed out waiting for the messages of queue "` + q + `"`},
		{"basic.cancel", q, true, false, 60, 30, 1, "timed out cancelling the peek's consumer"},
		{"basic.get", sac, true, false, 60, 70, 2, `timed out getting a message of queue "` + sac + `"`},
		{"depth after the requeue", q, true, false, 50, 10, 2, `timed out reading the depth of queue "` + q + `"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newFreezingProxy(t, u.Host, tc.fromClient, tc.after, tc.class, tc.method, tc.nth)
			defer p.close()
			c := f.proxied(p, Config{Timeout: timeout})
			start := time.Now()
			_, err := c.PeekQueue(context.Background(), "/", tc.queue, backends.PeekOptions{Limit: 3})
			took := time.Since(start)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want …%s…", err, tc.want)
			}
			if took > timeout*3/2 {
				t.Fatalf("took %v with a timeout of %v", took, timeout)
			}
			p.close()
			f.waitDepth(tc.queue, 5)
		})
	}
	f.inOrder(q, 5)
}
