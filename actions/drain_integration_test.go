package actions

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/rabbitmq"
)

func rabbitEnv(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range []string{"RABBITMQ_URL", "RABBITMQ_MANAGEMENT_URL", "RABBITMQ_USER", "RABBITMQ_PASSWORD"} {
		v := os.Getenv(n)
		if v == "" {
			if os.Getenv("MQOPS_REQUIRE_INTEGRATION") == "1" {
				t.Fatalf("%s is not set: run the tests through `make test`", n)
			}
			t.Skipf("%s not set: integration test skipped", n)
		}
		out[n] = v
	}
	return out
}

// dlqWorld is a DLX + DLQ with two rejecting origins (classic and quorum)
// and one expiring origin.
type dlqWorld struct {
	t                               *testing.T
	conn                            *amqp.Connection
	ch                              *amqp.Channel
	client                          *rabbitmq.Client
	dlx, dlq, orders, payments, ttl string
}

func newWorld(t *testing.T, nOrders, nPayments, nExpired int) *dlqWorld {
	env := rabbitEnv(t)
	conn, err := amqp.Dial(env["RABBITMQ_URL"])
	if err != nil {
		t.Fatal(err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	p := fmt.Sprintf("d%d", time.Now().UnixNano())
	w := &dlqWorld{t: t, conn: conn, ch: ch, dlx: p + ".dlx", dlq: p + ".dlq", orders: p + ".orders", payments: p + ".payments", ttl: p + ".invoices"}
	url := strings.Replace(env["RABBITMQ_URL"], ":"+env["RABBITMQ_PASSWORD"]+"@", "@", 1)
	w.client, err = rabbitmq.New(rabbitmq.Config{URL: url, ManagementURL: env["RABBITMQ_MANAGEMENT_URL"], Username: env["RABBITMQ_USER"], Password: env["RABBITMQ_PASSWORD"]})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(ch.ExchangeDeclare(w.dlx, "fanout", true, false, false, false, nil))
	_, err = ch.QueueDeclare(w.dlq, true, false, false, false, nil)
	must(err)
	must(ch.QueueBind(w.dlq, "", w.dlx, false, nil))
	_, err = ch.QueueDeclare(w.orders, true, false, false, false, amqp.Table{"x-dead-letter-exchange": w.dlx})
	must(err)
	_, err = ch.QueueDeclare(w.payments, true, false, false, false, amqp.Table{"x-queue-type": "quorum", "x-dead-letter-exchange": w.dlx})
	must(err)
	_, err = ch.QueueDeclare(w.ttl, true, false, false, false, amqp.Table{"x-dead-letter-exchange": w.dlx, "x-message-ttl": int32(1)})
	must(err)
	t.Cleanup(func() {
		c, err := conn.Channel()
		if err == nil {
			for _, q := range []string{w.dlq, w.orders, w.payments, w.ttl} {
				c.QueueDelete(q, false, false, false)
			}
			c.ExchangeDelete(w.dlx, false, false)
		}
		conn.Close()
	})
	must(ch.Confirm(false))
	w.publishAndReject(w.orders, "o", nOrders)
	w.publishAndReject(w.payments, "p", nPayments)
	w.publish(w.ttl, "e", nExpired)
	w.waitDepth(w.dlq, nOrders+nPayments+nExpired)
	return w
}

func (w *dlqWorld) publish(queue, prefix string, n int) {
	w.t.Helper()
	var confs []*amqp.DeferredConfirmation
	for i := 0; i < n; i++ {
		c, err := w.ch.PublishWithDeferredConfirmWithContext(context.Background(), "", queue, true, false, amqp.Publishing{
			DeliveryMode: amqp.Persistent, MessageId: fmt.Sprintf("%s-%d", prefix, i), Body: []byte(fmt.Sprintf(`{"n":%d}`, i)),
			Headers: amqp.Table{"app-header": "kept"}})
		if err != nil {
			w.t.Fatal(err)
		}
		confs = append(confs, c)
	}
	for _, c := range confs {
		if ok, err := c.WaitContext(context.Background()); !ok || err != nil {
			w.t.Fatal("not confirmed")
		}
	}
}

func (w *dlqWorld) publishAndReject(queue, prefix string, n int) {
	w.t.Helper()
	w.publish(queue, prefix, n)
	c, err := w.conn.Channel()
	if err != nil {
		w.t.Fatal(err)
	}
	defer c.Close()
	c.Qos(500, 0, false)
	ds, err := c.Consume(queue, "", false, false, false, false, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		d := <-ds
		d.Reject(false)
	}
}

func (w *dlqWorld) depth(q string) int {
	w.t.Helper()
	c, err := w.conn.Channel()
	if err != nil {
		w.t.Fatal(err)
	}
	defer c.Close()
	qi, err := c.QueueDeclarePassive(q, true, false, false, false, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	return qi.Messages
}

func (w *dlqWorld) waitDepth(q string, n int) {
	w.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for w.depth(q) != n {
		if time.Now().After(deadline) {
			w.t.Fatalf("%s depth %d, want %d", q, w.depth(q), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ids drains a queue (test side) and returns its message ids and headers.
func (w *dlqWorld) take(q string) map[string]amqp.Table {
	w.t.Helper()
	out := map[string]amqp.Table{}
	c, err := w.conn.Channel()
	if err != nil {
		w.t.Fatal(err)
	}
	defer c.Close()
	for {
		d, ok, err := c.Get(q, true)
		if err != nil {
			w.t.Fatal(err)
		}
		if !ok {
			return out
		}
		out[d.MessageId] = d.Headers
	}
}

func TestDrainToOriginWithReasonFilter(t *testing.T) {
	w := newWorld(t, 6, 4, 3)
	audit := NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))
	o := DrainOptions{Context: "test", Queue: w.dlq, To: "origin", Reason: "rejected"}
	plan, err := planDrain(context.Background(), w.client, o)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Selected != 10 || plan.Skipped != 3 || len(plan.Routes) != 2 || len(plan.Problems) != 0 || !plan.Complete {
		t.Fatalf("plan: %+v", plan)
	}
	if w.depth(w.dlq) != 13 {
		t.Fatal("planning changed the DLQ")
	}
	var last Progress
	res, err := runDrain(context.Background(), w.client, o, nil, audit, func(p Progress) { last = p })
	if err != nil {
		t.Fatal(err)
	}
	if res.Moved != 10 || res.Skipped != 3 || res.Left != 3 {
		t.Fatalf("result: %+v", res)
	}
	if last.Done != 10 || last.Total != 13 {
		t.Fatalf("last progress: %+v", last)
	}
	orders, payments, left := w.take(w.orders), w.take(w.payments), w.take(w.dlq)
	if len(orders) != 6 || len(payments) != 4 || len(left) != 3 {
		t.Fatalf("orders %d payments %d left %d", len(orders), len(payments), len(left))
	}
	for id, h := range orders {
		if !strings.HasPrefix(id, "o-") {
			t.Errorf("%s in orders", id)
		}
		for k := range h {
			if strings.HasPrefix(k, "x-") {
				t.Errorf("%s: x- header %q copied", id, k)
			}
		}
		if h["app-header"] != "kept" || h[rabbitmq.HeaderRunID] != res.RunID || h[rabbitmq.HeaderMoveCount] != int64(1) {
			t.Errorf("%s headers: %v", id, h)
		}
		var deaths []backends.Death
		if err := json.Unmarshal([]byte(h[rabbitmq.HeaderDeathHistory].(string)), &deaths); err != nil || len(deaths) == 0 || deaths[0].Reason != "rejected" {
			t.Errorf("%s death history: %v %v", id, h[rabbitmq.HeaderDeathHistory], err)
		}
	}
	es, _, _ := audit.Read(0)
	if len(es) != 1 || es[0].Action != "drain" || es[0].Result.Done != 10 || es[0].Result.Skipped != 3 || es[0].Outcome != OutcomeExecuted ||
		es[0].Command != "mqops drain rabbitmq:"+w.dlq+" --to origin --reason rejected" {
		t.Fatalf("audit: %+v", es)
	}
}

// TestDrainMovesWhatThePlanShowed: dead letters that arrive between the
// preview and the confirmed run are not moved: the run sees the messages
// the plan saw and stops there (no Limit given); a drain without a plan
// goes to the depth at its start.
func TestDrainMovesWhatThePlanShowed(t *testing.T) {
	w := newWorld(t, 5, 0, 0)
	audit := NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))
	o := DrainOptions{Context: "test", Queue: w.dlq, To: "origin"}
	plan, err := planDrain(context.Background(), w.client, o)
	if err != nil || plan.Selected != 5 || !plan.Complete {
		t.Fatalf("plan %+v %v", plan, err)
	}
	w.publishAndReject(w.orders, "late", 3) // after the preview
	w.waitDepth(w.dlq, 8)
	res, err := runDrain(context.Background(), w.client, o, plan, audit, nil)
	if err != nil || res.Moved != 5 || res.Seen != 5 || res.Left != 3 || !strings.Contains(res.StoppedBecause, "the 5 messages the plan previewed") {
		t.Fatalf("bounded run: %+v %v", res, err)
	}
	moved := w.take(w.orders)
	for id := range moved {
		if !strings.HasPrefix(id, "o-") {
			t.Errorf("%s moved, but it arrived after the preview", id)
		}
	}
	if len(moved) != 5 {
		t.Fatalf("%d moved to origin, want the 5 previewed", len(moved))
	}
	es, _, _ := audit.Read(0)
	if len(es) != 1 || es[0].Plan == nil || es[0].Plan.Selected != 5 || es[0].Result.Details["limit_from_plan"] != float64(5) || es[0].Result.Done != 5 || es[0].Result.Left != 3 {
		t.Fatalf("audit: %+v", es)
	}
	// without a plan: the depth at the start
	res, err = runDrain(context.Background(), w.client, DrainOptions{Context: "test", Queue: w.dlq, To: "origin"}, nil, audit, nil)
	if err != nil || res.Moved != 3 || res.Left != 0 {
		t.Fatalf("unbounded run: %+v %v", res, err)
	}
}

func TestDrainUnroutableStopsWithoutLoss(t *testing.T) {
	w := newWorld(t, 5, 0, 0)
	x := w.dlx + ".nowhere"
	if err := w.ch.ExchangeDeclare(x, "direct", false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	o := DrainOptions{Context: "test", Queue: w.dlq, To: "exchange:" + x + ":nokey"}
	plan, err := planDrain(context.Background(), w.client, o)
	if err != nil || len(plan.Problems) == 0 || !strings.Contains(plan.Problems[0], "routes to no queue") {
		t.Fatalf("plan should flag the unroutable target: %+v %v", plan, err)
	}
	res, err := runDrain(context.Background(), w.client, o, nil, testAudit(t), nil)
	if err == nil || !strings.Contains(err.Error(), "returned unroutable") || !strings.Contains(err.Error(), "0 moved") {
		t.Fatalf("err = %v", err)
	}
	if res.Moved != 0 {
		t.Fatalf("moved %d", res.Moved)
	}
	w.waitDepth(w.dlq, 5)
	// a missing exchange: the plan says so, the drain stops, nothing lost
	o.To = "exchange:" + w.dlx + ".missing"
	plan, _ = planDrain(context.Background(), w.client, o)
	if len(plan.Problems) == 0 || !strings.Contains(plan.Problems[0], "does not exist") {
		t.Fatalf("plan: %+v", plan)
	}
	if _, err := runDrain(context.Background(), w.client, o, nil, testAudit(t), nil); err == nil {
		t.Fatal("drain to a missing exchange succeeded")
	}
	w.waitDepth(w.dlq, 5)
}

func TestDrainToFileLimitAndRate(t *testing.T) {
	w := newWorld(t, 40, 0, 0)
	path := filepath.Join(t.TempDir(), "out.jsonl")
	start := time.Now()
	res, err := runDrain(context.Background(), w.client, DrainOptions{Context: "test", Queue: w.dlq, To: "file:" + path, Limit: 30, Rate: 50}, nil, testAudit(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	if res.Moved != 30 || res.Left != 10 {
		t.Fatalf("result %+v", res)
	}
	// 30 messages at 50/s: the first goes at once, so 29/50 s = 0.58 s, within 10 %
	if el < 520*time.Millisecond || el > 2*time.Second {
		t.Fatalf("30 messages at 50/s took %v", el)
	}
	rate := float64(res.Moved-1) / el.Seconds()
	t.Logf("file drain: %d messages in %v (%.1f/s for a 50/s limit)", res.Moved, el, rate)
	f, _ := os.Open(path)
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var m backends.Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil || !strings.HasPrefix(m.MessageID, "o-") || len(m.Deaths) == 0 {
			t.Fatalf("line %d: %v %+v", n, err, m)
		}
		n++
	}
	if n != 30 {
		t.Fatalf("%d lines", n)
	}
}

func TestDrainRefusedInReadOnlyContext(t *testing.T) {
	audit := NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))
	_, err := runDrain(context.Background(), nil, DrainOptions{Context: "prod", ReadOnly: true, Queue: "q", To: "origin"}, nil, audit, nil)
	if err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("err = %v", err)
	}
	es, _, _ := audit.Read(0)
	if len(es) != 1 || es[0].Outcome != OutcomeRefused || es[0].Source != "rabbitmq:q" || !strings.Contains(es[0].Reason, "read-only") {
		t.Fatalf("audit: %+v", es)
	}
	for _, bad := range []DrainOptions{{Queue: "q", To: "nowhere"}, {Queue: "q", To: "origin", Reason: "bored"}, {Queue: "q", To: "file:"}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}

// closeConnection force-closes the broker connection with the given client
// name through the management API, as a broker restart or a network cut
// would.
func closeConnection(t *testing.T, name string) bool {
	t.Helper()
	env := rabbitEnv(t)
	req, _ := http.NewRequest(http.MethodGet, env["RABBITMQ_MANAGEMENT_URL"]+"/api/connections", nil)
	req.SetBasicAuth(env["RABBITMQ_USER"], env["RABBITMQ_PASSWORD"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var conns []struct {
		Name  string `json:"name"`
		Props struct {
			Name string `json:"connection_name"`
		} `json:"client_properties"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&conns); err != nil {
		t.Fatal(err)
	}
	for _, c := range conns {
		if c.Props.Name == name {
			del, _ := http.NewRequest(http.MethodDelete, env["RABBITMQ_MANAGEMENT_URL"]+"/api/connections/"+url.PathEscape(c.Name), nil)
			del.SetBasicAuth(env["RABBITMQ_USER"], env["RABBITMQ_PASSWORD"])
			if r, err := http.DefaultClient.Do(del); err == nil {
				r.Body.Close()
				return true
			}
		}
	}
	return false
}

func TestDrainConnectionLostStopsWithoutLoss(t *testing.T) {
	w := newWorld(t, 2000, 0, 0)
	o := DrainOptions{Context: "test", Queue: w.dlq, To: "origin", Rate: 200, Prefetch: 100, RunID: NewRunID()}
	done := make(chan error, 1)
	var res *DrainResult
	go func() {
		var err error
		res, err = runDrain(context.Background(), w.client, o, nil, testAudit(t), nil)
		done <- err
	}()
	closed := false
	for i := 0; i < 300 && !closed; i++ {
		time.Sleep(50 * time.Millisecond)
		if w.depth(w.orders) > 100 {
			closed = closeConnection(t, "mqops drain "+o.RunID)
		}
	}
	if !closed {
		t.Fatal("could not find the drain's connection")
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the drain did not stop after its connection was closed")
	}
	if err == nil || !strings.Contains(err.Error(), "connection") {
		t.Fatalf("err = %v", err)
	}
	t.Logf("stopped with: %v", err)
	// every message is in the DLQ or its origin (at most the window twice)
	deadline := time.Now().Add(15 * time.Second)
	for w.depth(w.dlq)+w.depth(w.orders) < 2000 {
		if time.Now().After(deadline) {
			t.Fatalf("lost messages: DLQ %d + origin %d < 2000", w.depth(w.dlq), w.depth(w.orders))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if res == nil || res.Moved == 0 {
		t.Fatalf("result %+v", res)
	}
	if extra := w.depth(w.dlq) + w.depth(w.orders) - 2000; extra > o.Prefetch {
		t.Fatalf("%d duplicates, more than the window", extra)
	}
}
