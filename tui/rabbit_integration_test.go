package tui

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/mqops/mqops/backends/rabbitmq"
)

// TestLookingNeverLosesInTheConsole (issue 7, class 0) runs the console on
// the real RabbitMQ 3.10 with a quorum dead-letter queue of 50 messages and
// a delivery limit of 2: opening its dead-letter groups samples nothing,
// `p` asks before reading, and paging back and forth three times reads each
// page once (the pages read are kept); the queue then holds all 50 messages
// in their order.
func TestLookingNeverLosesInTheConsole(t *testing.T) {
	env := map[string]string{}
	for _, n := range []string{"RABBITMQ_URL", "RABBITMQ_MANAGEMENT_URL", "RABBITMQ_USER", "RABBITMQ_PASSWORD"} {
		if env[n] = os.Getenv(n); env[n] == "" {
			if os.Getenv("MQOPS_REQUIRE_INTEGRATION") == "1" {
				t.Fatalf("%s is not set", n)
			}
			t.Skipf("%s not set: integration test skipped", n)
		}
	}
	conn, err := amqp.Dial(env["RABBITMQ_URL"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() }) // after the queue's deletion below (cleanups run last first)
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	q := "hx-rabbit-" + hex.EncodeToString(b) + ".limited.dlq"
	if _, err := ch.QueueDeclare(q, true, false, false, false, amqp.Table{"x-queue-type": "quorum", "x-delivery-limit": int32(2)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c, err := conn.Channel(); err == nil {
			_, _ = c.QueueDelete(q, false, false, false)
		}
	})
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		c, err := ch.PublishWithDeferredConfirm("", q, true, false, amqp.Publishing{MessageId: fmt.Sprint(i), DeliveryMode: amqp.Persistent, Body: []byte("x")})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := c.WaitContext(context.Background()); !ok || err != nil {
			t.Fatal("not confirmed", err)
		}
	}
	client, err := rabbitmq.New(rabbitmq.Config{URL: strings.Replace(env["RABBITMQ_URL"], ":"+env["RABBITMQ_PASSWORD"]+"@", "@", 1),
		ManagementURL: env["RABBITMQ_MANAGEMENT_URL"], Username: env["RABBITMQ_USER"], Password: env["RABBITMQ_PASSWORD"], Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	h := newHarness(t, Options{Rabbit: client}, nil)
	h.command("dlq")
	h.selectRow(queueKey("/", q))
	h.keys("enter") // the dead-letter groups: not sampled
	if s := flat(h.screen()); !strings.Contains(s, "not sampled, to leave the queue as it was: quorum queue with a delivery limit of 2") {
		t.Fatalf("the groups of a costly queue:\n%s", h.screen())
	}
	h.keys("p")
	pv, ok := h.m.top().(*peekView)
	if !ok || !pv.asking() || !strings.Contains(flat(h.screen()), "It reads 20 of its 50 messages") {
		t.Fatalf("p:\n%s", h.screen())
	}
	h.keys("y")
	h.keys("]")
	if !pv.asking() || !strings.Contains(flat(h.screen()), "Peek at page 2") {
		t.Fatalf("] did not ask:\n%s", h.screen())
	}
	h.keys("y")
	if pv.page != 1 || len(pv.list.Rows()) != 20 || pv.list.Rows()[0].ID != "20" || pv.list.Rows()[0].Cells[mcLeft] != "1" {
		t.Fatalf("page 2:\n%s", h.screen())
	}
	for range 3 {
		h.keys("[")
		if pv.page != 0 || pv.list.Rows()[0].Cells[mcID] != "0" || pv.list.Rows()[0].Cells[mcLeft] != "0" {
			t.Fatalf("back to page 1:\n%s", h.screen())
		}
		h.keys("]")
		if pv.page != 1 || pv.list.Rows()[0].Cells[mcID] != "20" {
			t.Fatalf("forth to page 2:\n%s", h.screen())
		}
	}
	h.keys("esc", "esc")

	// all 50, in their order
	deadline := time.Now().Add(20 * time.Second)
	for {
		qi, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		if qi.Messages == 50 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d messages, want 50", q, qi.Messages)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := range 50 {
		d, ok, err := ch.Get(q, true)
		if err != nil || !ok || d.MessageId != fmt.Sprint(i) {
			t.Fatalf("message %d: %v %v %q: the order changed", i, ok, err, d.MessageId)
		}
	}
}

// TestBigHealthyBrokerIsNotUnreachable (issue 7, class 6): a management
// API that answers each of its 30 pages in 0.2 s, under a timeout of 1 s,
// is read whole by :queues (6 s in all): the console has no deadline on
// the whole load, each call is bounded by the client.
func TestBigHealthyBrokerIsNotUnreachable(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 30 slow pages")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond)
		if strings.HasPrefix(r.URL.Path, "/api/policies") { // the first look lists without statistics, beside the policies
			fmt.Fprint(w, `[]`)
			return
		}
		page := r.URL.Query().Get("page")
		fmt.Fprintf(w, `{"items":[{"vhost":"/","name":"q%s-a","messages":1},{"vhost":"/","name":"q%s-b","messages":2}],"page":%s,"page_count":30}`, page, page, page)
	}))
	defer srv.Close()
	client, err := rabbitmq.New(rabbitmq.Config{ManagementURL: srv.URL, Timeout: time.Second, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	h := newHarness(t, Options{Rabbit: client, Timeout: time.Second}, nil)
	h.command("queues")
	v := h.m.top().(*queuesView)
	if s := h.screen(); v.st.lastErr != nil || len(v.tbl.Rows()) != 60 || strings.Contains(s, "unreachable") {
		t.Fatalf("%d rows, error %v:\n%s", len(v.tbl.Rows()), v.st.lastErr, s)
	}
}
