package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/rabbitmq"
)

// rabbitTestEnv returns the test broker's settings; it skips the test when
// they are not set, unless MQOPS_REQUIRE_INTEGRATION=1 (then it fails).
func rabbitTestEnv(t *testing.T) map[string]string {
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

type mgmtQueue struct {
	Name      string         `json:"name"`
	Type      string         `json:"type"`
	Messages  int64          `json:"messages"`
	Consumers int            `json:"consumers"`
	Arguments map[string]any `json:"arguments"`
}

// getQueue reads a queue of vhost "/" from the management API; found is
// false on 404.
func getQueue(t *testing.T, env map[string]string, name string) (q mgmtQueue, found bool) {
	t.Helper()
	resp := mgmtDo(t, env, http.MethodGet, "/api/queues/%2F/"+url.PathEscape(name))
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return q, false
	default:
		t.Fatalf("GET queue %s: %s", name, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&q); err != nil {
		t.Fatal(err)
	}
	return q, true
}

// mgmtDo sends one request to the test broker's management API.
func mgmtDo(t *testing.T, env map[string]string, method, path string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, strings.TrimSuffix(env["RABBITMQ_MANAGEMENT_URL"], "/")+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(env["RABBITMQ_USER"], env["RABBITMQ_PASSWORD"])
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (l *logSink) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

// startTestDemo starts the RabbitMQ demo on the test broker under a
// prefix of its own (its queues are deleted on Close).
func startTestDemo(t *testing.T, env map[string]string, seed int64) (*Rabbit, string, *logSink) {
	t.Helper()
	prefix := fmt.Sprintf("mqopstest%d.", time.Now().UnixNano())
	logs := &logSink{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	r, err := StartRabbit(ctx, RabbitOptions{URL: env["RABBITMQ_URL"], Prefix: prefix, Seed: seed, DeleteOnClose: true, Logf: logs.logf})
	if err != nil {
		t.Fatal(err)
	}
	return r, prefix, logs
}

func TestRabbitDemoTraffic(t *testing.T) {
	env := rabbitTestEnv(t)
	r, prefix, logs := startTestDemo(t, env, 7)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	closed := false
	defer func() {
		if !closed {
			_ = r.Close()
		}
	}()

	wantType := map[string]string{}
	for _, q := range r.Queues() {
		if !strings.HasPrefix(q.Name, prefix) {
			t.Errorf("queue %q lacks the prefix %q", q.Name, prefix)
		}
		wantType[q.Name] = q.Type
	}
	for name, typ := range wantType {
		q, ok := getQueue(t, env, name)
		if !ok {
			t.Fatalf("queue %s not found through the management API", name)
		}
		if q.Type != typ {
			t.Errorf("queue %s: type %q, want %q", name, q.Type, typ)
		}
	}
	if q, _ := getQueue(t, env, prefix+"orders"); q.Arguments["x-dead-letter-exchange"] != prefix+"dlx" {
		t.Errorf("orders: arguments %v, want x-dead-letter-exchange %s", q.Arguments, prefix+"dlx")
	}
	if q, _ := getQueue(t, env, prefix+"orders.dlq"); fmt.Sprint(q.Arguments["x-max-length"]) != "5000" {
		t.Errorf("orders.dlq: arguments %v, want x-max-length 5000", q.Arguments)
	}

	rc, err := rabbitmq.New(rabbitmq.Config{
		URL: RedactURL(env["RABBITMQ_URL"]), ManagementURL: env["RABBITMQ_MANAGEMENT_URL"],
		Username: env["RABBITMQ_USER"], Password: env["RABBITMQ_PASSWORD"], Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()

	p0 := r.Published()
	reasons := func(queue string) (map[string]bool, *backends.DeadLetterSummary) {
		s, err := rc.DeadLetters(ctx, "/", queue, 200)
		if err != nil {
			t.Fatalf("DeadLetters(%s): %v", queue, err)
		}
		got := map[string]bool{}
		for _, g := range s.Groups {
			got[g.Reason] = true
		}
		return got, s
	}
	deadline := time.Now().Add(25 * time.Second)
	var pay, ord map[string]bool
	var paySum, ordSum *backends.DeadLetterSummary
	for {
		pay, paySum = reasons(prefix + "payments.dlq")
		ord, ordSum = reasons(prefix + "orders.dlq")
		if pay["rejected"] && pay["expired"] && ord["rejected"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 25 s: payments.dlq reasons %v, orders.dlq reasons %v (want rejected+expired, rejected); logs %v", pay, ord, logs.lines)
		}
		time.Sleep(time.Second)
	}
	for _, g := range append(paySum.Groups, ordSum.Groups...) {
		t.Logf("DLQ group: origin=%s reason=%s exception=%q count=%d", g.Origin, g.Reason, g.Exception, g.Count)
		if g.Reason == "rejected" && g.Exception == "" {
			t.Errorf("rejected dead letters of %s carry no exception header", g.Origin)
		}
		if g.Origin != prefix+"orders" && g.Origin != prefix+"payments" {
			t.Errorf("DLQ group with origin %q", g.Origin)
		}
	}
	msgs, _, err := rc.Peek(ctx, "/", prefix+"orders.dlq", 0, 1)
	if err != nil || len(msgs) == 0 {
		t.Fatalf("peek orders.dlq: %v (%d messages)", err, len(msgs))
	}
	if m := msgs[0]; m.MessageID == "" || !strings.Contains(string(m.Body), `"order_id":"ord-`) {
		t.Errorf("dead letter: message-id %q, body %s", m.MessageID, m.Body)
	}

	// Live traffic: the publisher keeps going and the consumers settle.
	time.Sleep(500 * time.Millisecond)
	if p1 := r.Published(); p1 <= p0 {
		t.Errorf("published %d then %d: traffic is not live", p0, p1)
	}
	if r.Acked() == 0 || r.Rejected() == 0 {
		t.Errorf("acked %d, rejected %d: want both > 0", r.Acked(), r.Rejected())
	}
	// The management API's consumer counts lag (stats are emitted every 5 s).
	for wait := time.Now().Add(12 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		q, _ := getQueue(t, env, prefix+"orders")
		if q.Consumers == 1 {
			break
		}
		if time.Now().After(wait) {
			t.Errorf("orders: %d consumers, want 1", q.Consumers)
			break
		}
	}

	start := time.Now()
	closed = true
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	p2 := r.Published()
	time.Sleep(300 * time.Millisecond)
	if r.Published() != p2 {
		t.Error("publishing goes on after Close")
	}
	for name := range wantType {
		if _, ok := getQueue(t, env, name); ok {
			t.Errorf("queue %s still exists after Close with DeleteOnClose", name)
		}
	}
	for _, l := range logs.lines {
		t.Logf("log: %s", l)
	}
}

// TestRabbitDemoReconnects: when the broker closes the demo's connection
// (as an operator does from the management UI, or a restart), the demo
// reconnects and its traffic goes on; Close still ends everything.
func TestRabbitDemoReconnects(t *testing.T) {
	env := rabbitTestEnv(t)
	r, prefix, logs := startTestDemo(t, env, 3)
	defer r.Close()
	// the demo's connection, by its client-provided name (the management
	// API lists a new connection within a few seconds)
	var name string
	for deadline := time.Now().Add(15 * time.Second); name == ""; time.Sleep(300 * time.Millisecond) {
		resp := mgmtDo(t, env, http.MethodGet, "/api/connections")
		var conns []struct {
			Name       string         `json:"name"`
			ClientProp map[string]any `json:"client_properties"`
		}
		err := json.NewDecoder(resp.Body).Decode(&conns)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range conns {
			if c.ClientProp["connection_name"] == "mqops demo "+prefix {
				name = c.Name
			}
		}
		if name == "" && time.Now().After(deadline) {
			t.Fatalf("the demo's connection is not listed: %v", conns)
		}
	}
	resp := mgmtDo(t, env, http.MethodDelete, "/api/connections/"+url.PathEscape(name))
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		t.Fatalf("closing the connection: %s", resp.Status)
	}
	for deadline := time.Now().Add(20 * time.Second); r.Reconnects() == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no reconnection after 20 s; logs %v", logs.lines)
		}
	}
	p0 := r.Published()
	a0 := r.Acked()
	time.Sleep(time.Second)
	if r.Published() <= p0 || r.Acked() <= a0 {
		t.Fatalf("traffic did not resume: published %d → %d, acked %d → %d; logs %v", p0, r.Published(), a0, r.Acked(), logs.lines)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	p1 := r.Published()
	time.Sleep(300 * time.Millisecond)
	if r.Published() != p1 {
		t.Error("publishing goes on after Close")
	}
	if _, ok := getQueue(t, env, prefix+"orders"); ok {
		t.Error("queues left after Close with DeleteOnClose")
	}
}

// TestRabbitDemoUnreachable: a refused port, a silent listener and a
// cancelled context all return an error within the 2 s budget.
func TestRabbitDemoUnreachable(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // accept, then never answer
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	}()
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedAddr := refused.Addr().String()
	refused.Close()

	for _, tc := range []struct{ name, url string }{
		{"refused", "amqp://guest:guest@" + refusedAddr + "/"},
		{"silent", "amqp://guest:guest@" + silent.Addr().String() + "/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			r, err := StartRabbit(context.Background(), RabbitOptions{URL: tc.url, Prefix: "mqopstest-unreachable."})
			if err == nil {
				r.Close()
				t.Fatal("StartRabbit succeeded on an unreachable broker")
			}
			if d := time.Since(start); d > 2500*time.Millisecond {
				t.Errorf("took %v, want ≤ 2 s", d)
			}
			if strings.Contains(err.Error(), "guest:guest") {
				t.Errorf("error shows the password: %v", err)
			}
			t.Logf("error: %v", err)
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if r, err := StartRabbit(ctx, RabbitOptions{URL: "amqp://guest:guest@" + silent.Addr().String() + "/"}); err == nil {
			r.Close()
			t.Fatal("StartRabbit succeeded with a cancelled context")
		}
	})
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"amqp://guest:guest@127.0.0.1:5672/": "amqp://guest@127.0.0.1:5672/",
		"amqp://127.0.0.1:5672":              "amqp://127.0.0.1:5672",
		"amqps://u:p%40ss@h:5671/v":          "amqps://u@h:5671/v",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRabbitDemoLoginRefused(t *testing.T) {
	env := rabbitTestEnv(t)
	u, err := url.Parse(env["RABBITMQ_URL"])
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(env["RABBITMQ_USER"], "not-the-password")
	start := time.Now()
	r, err := StartRabbit(context.Background(), RabbitOptions{URL: u.String(), Prefix: "mqopstest-login."})
	if err == nil {
		r.Close()
		t.Fatal("StartRabbit succeeded with a wrong password")
	}
	if !errors.Is(err, ErrRabbitLogin) {
		t.Errorf("error %v: want ErrRabbitLogin", err)
	}
	if strings.Contains(err.Error(), "not-the-password") {
		t.Errorf("error shows the password: %v", err)
	}
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Errorf("took %v", d)
	}
}
