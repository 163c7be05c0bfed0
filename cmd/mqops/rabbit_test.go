package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// rabbitVhost is a test's own vhost on the shared RabbitMQ (created, and
// deleted at the end with everything in it), with a context whose listings
// see only it: `mqops dlq` and `mqops queues` then never touch the queues
// of other tests.
type rabbitVhost struct {
	t     *testing.T
	env   map[string]string
	name  string
	conn  *amqp.Connection
	ch    *amqp.Channel // confirm mode
	state string        // XDG_STATE_HOME (the audit log)
}

func newRabbitVhost(t *testing.T) *rabbitVhost {
	t.Helper()
	env := requireEnv(t, "RABBITMQ_URL", "RABBITMQ_MANAGEMENT_URL", "RABBITMQ_USER", "RABBITMQ_PASSWORD")
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	v := &rabbitVhost{t: t, env: env, name: "hx-rabbit-" + hex.EncodeToString(b), state: t.TempDir()}
	v.mgmt(http.MethodPut, "/api/vhosts/"+url.PathEscape(v.name), "")
	t.Cleanup(func() { v.mgmt(http.MethodDelete, "/api/vhosts/"+url.PathEscape(v.name), "") })
	v.mgmt(http.MethodPut, "/api/permissions/"+url.PathEscape(v.name)+"/"+url.PathEscape(env["RABBITMQ_USER"]),
		`{"configure":".*","write":".*","read":".*"}`)
	u, err := url.Parse(env["RABBITMQ_URL"])
	if err != nil {
		t.Fatal(err)
	}
	u.Path, u.RawPath = "/"+v.name, "/"+url.PathEscape(v.name)
	if v.conn, err = amqp.Dial(u.String()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.conn.Close() })
	if v.ch, err = v.conn.Channel(); err != nil {
		t.Fatal(err)
	}
	if err := v.ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv("XDG_STATE_HOME", v.state)
	amqpURL := strings.Replace(env["RABBITMQ_URL"], ":"+env["RABBITMQ_PASSWORD"]+"@", "@", 1)
	cfg := fmt.Sprintf("current-context: t\ncontexts:\n  t:\n    rabbitmq:\n      url: %s\n      management-url: %s\n      password-env: RABBITMQ_PASSWORD\n      vhosts: [%q]\n",
		amqpURL, env["RABBITMQ_MANAGEMENT_URL"], v.name)
	if err := os.MkdirAll(filepath.Join(dir, "mqops"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mqops", "config.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return v
}

func (v *rabbitVhost) mgmt(method, path, body string) {
	v.t.Helper()
	req, err := http.NewRequest(method, v.env["RABBITMQ_MANAGEMENT_URL"]+path, strings.NewReader(body))
	if err != nil {
		v.t.Fatal(err)
	}
	req.SetBasicAuth(v.env["RABBITMQ_USER"], v.env["RABBITMQ_PASSWORD"])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 && !(method == http.MethodDelete && resp.StatusCode == http.StatusNotFound) {
		v.t.Fatalf("%s %s: %s", method, path, resp.Status)
	}
}

func (v *rabbitVhost) queue(name string, args amqp.Table) {
	v.t.Helper()
	if _, err := v.ch.QueueDeclare(name, true, false, false, false, args); err != nil {
		v.t.Fatal(err)
	}
}

// publish publishes n persistent messages with ids 0..n-1 (pub may add to
// each) and waits for the confirms.
func (v *rabbitVhost) publish(exchange, key string, n int, pub func(i int, p *amqp.Publishing)) {
	v.t.Helper()
	var confs []*amqp.DeferredConfirmation
	for i := range n {
		p := amqp.Publishing{MessageId: fmt.Sprint(i), DeliveryMode: amqp.Persistent, Body: fmt.Appendf(nil, `{"n":%d}`, i)}
		if pub != nil {
			pub(i, &p)
		}
		c, err := v.ch.PublishWithDeferredConfirm(exchange, key, true, false, p)
		if err != nil {
			v.t.Fatal(err)
		}
		confs = append(confs, c)
	}
	for _, c := range confs {
		if ok, err := c.WaitContext(context.Background()); !ok || err != nil {
			v.t.Fatalf("publish not confirmed: %v", err)
		}
	}
}

func (v *rabbitVhost) depth(q string) int {
	v.t.Helper()
	ch, err := v.conn.Channel()
	if err != nil {
		v.t.Fatal(err)
	}
	defer ch.Close()
	qi, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
	if err != nil {
		v.t.Fatal(err)
	}
	return qi.Messages
}

// inOrder consumes the queue (the end of a test) and fails unless it holds
// ids 0..n-1 in that order.
func (v *rabbitVhost) inOrder(q string, n int) {
	v.t.Helper()
	v.waitDepth(q, n)
	ch, err := v.conn.Channel()
	if err != nil {
		v.t.Fatal(err)
	}
	defer ch.Close()
	var got []string
	for range n {
		d, ok, err := ch.Get(q, true)
		if err != nil || !ok {
			v.t.Fatalf("getting %s: %v %v (got %v)", q, ok, err, got)
		}
		got = append(got, d.MessageId)
		if d.MessageId != fmt.Sprint(len(got)-1) {
			v.t.Fatalf("%s is not in its order any more: %v", q, got)
		}
	}
}

// waitListed waits until the management API counts n messages in q (its
// statistics lag).
func (v *rabbitVhost) waitListed(q string, n int) {
	v.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _, err := runCLI(v.t, "queues", "-o", "json")
		if err == nil && strings.Contains(out, fmt.Sprintf(`"name": %q`, q)) {
			var rep queuesReport
			if json.Unmarshal([]byte(out), &rep) == nil {
				for _, x := range rep.Queues {
					if x.Name == q && x.Messages == int64(n) {
						return
					}
				}
			}
		}
		if time.Now().After(deadline) {
			v.t.Fatalf("the management API never counted %d messages in %s: %v\n%s", n, q, err, out)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestLookingNeverLosesInTheCLI (issue 7, class 0): a quorum dead-letter
// queue of 50 messages with a delivery limit of 2 on RabbitMQ 3.10 (which
// counts every requeue as a delivery attempt) goes through `mqops dlq`
// three times, `mqops drain --dry-run` three times (to its origins and to
// an exchange) and `mqops peek` without the flag: nothing reads it, each
// says why in numbers, and the queue holds its 50 messages in their order.
func TestLookingNeverLosesInTheCLI(t *testing.T) {
	v := newRabbitVhost(t)
	q := "limited.dlq"
	v.queue(q, amqp.Table{"x-queue-type": "quorum", "x-delivery-limit": int32(2)})
	v.queue("orders", nil)
	v.publish("", q, 50, func(i int, p *amqp.Publishing) {
		p.Headers = amqp.Table{"x-first-death-queue": "orders", "x-first-death-reason": "rejected"}
	})
	v.waitListed(q, 50)
	for round := range 3 {
		out, _, err := runCLI(t, "dlq")
		if err != nil || !strings.Contains(out, "50 (not sampled)") ||
			!strings.Contains(out, "not sampled: "+v.name+"/limited.dlq: quorum queue with a delivery limit of 2 (argument x-delivery-limit): RabbitMQ 3.10") ||
			!strings.Contains(out, "one already requeued 2 times is dropped (the queue has no dead-letter exchange)") ||
			!strings.Contains(out, "mqops peek rabbitmq:limited.dlq --vhost "+v.name+" --accept-delivery-attempts") {
			t.Fatalf("dlq %d: %v\n%s", round, err, out)
		}
		out, _, err = runCLI(t, "dlq", "-o", "json")
		var rep struct {
			DeadLetters []struct {
				Queue      string `json:"queue"`
				Messages   int64  `json:"messages"`
				Sampled    int    `json:"sampled"`
				NotSampled *struct {
					Kind          string `json:"kind"`
					DeliveryLimit int64  `json:"delivery_limit"`
					OverLimit     string `json:"over_limit"`
				} `json:"not_sampled"`
			} `json:"dead_letters"`
		}
		if err != nil || json.Unmarshal([]byte(out), &rep) != nil || len(rep.DeadLetters) != 1 || rep.DeadLetters[0].NotSampled == nil ||
			rep.DeadLetters[0].Messages != 50 || rep.DeadLetters[0].Sampled != 0 || rep.DeadLetters[0].NotSampled.DeliveryLimit != 2 {
			t.Fatalf("dlq -o json %d: %v\n%s", round, err, out)
		}
		to := "origin"
		if round == 2 {
			to = "exchange:amq.direct:orders"
		}
		out, _, err = runCLI(t, "drain", "rabbitmq:"+q, "--vhost", v.name, "--to", to, "--dry-run")
		if err != nil || !strings.Contains(out, "(depth 50; not sampled): up to 50 to move") ||
			!strings.Contains(out, "not sampled: quorum queue with a delivery limit of 2") ||
			!strings.Contains(out, "loses one of its 2 delivery attempts") {
			t.Fatalf("drain --dry-run %d: %v\n%s", round, err, out)
		}
		if round == 2 && !strings.Contains(out, "checked without reading: the exchange exists and routes the key to a queue") {
			t.Fatalf("drain --dry-run to an exchange: %s", out)
		}
	}
	// what a plan checks without reading, per target
	for to, want := range map[string]string{
		"exchange:amq.direct":                           "checked without reading: the exchange exists; where each message's routing key routes is found at run time",
		"exchange:nope:orders":                          "problem: exchange nope key orders: exchange does not exist",
		"exchange:amq.direct:nowhere":                   "problem: exchange amq.direct key nowhere: routes to no queue",
		"file:" + filepath.Join(t.TempDir(), "x.jsonl"): "→ file ",
	} {
		out, _, err := runCLI(t, "drain", "rabbitmq:"+q, "--vhost", v.name, "--to", to, "--dry-run", "--reason", "rejected")
		if err != nil || !strings.Contains(out, want) || !strings.Contains(out, "how many messages pass the filters is unknown until the run reads them") {
			t.Fatalf("drain --to %s --dry-run: %v\n%s", to, err, out)
		}
	}
	_, _, err := runCLI(t, "peek", "rabbitmq:"+q, "--vhost", v.name)
	if err == nil || !strings.Contains(err.Error(), "not peeked: quorum queue with a delivery limit of 2") ||
		!strings.Contains(err.Error(), "This peek would read 20 of its 50 messages") || !strings.Contains(err.Error(), "--accept-delivery-attempts") {
		t.Fatalf("peek without the flag: %v", err)
	}
	v.inOrder(q, 50)
}

// TestPeekCommand: the headless twin of the console's peek shows a page of
// a dead-letter queue (table and JSON) and leaves it as it was; on a
// quorum queue with a delivery limit, with the flag, it shows what each
// message read has left.
func TestPeekCommand(t *testing.T) {
	v := newRabbitVhost(t)
	v.queue("plain.dlq", nil)
	v.publish("", "plain.dlq", 30, func(i int, p *amqp.Publishing) {
		p.Headers = amqp.Table{"x-first-death-queue": "orders", "x-first-death-reason": "expired"}
		if i == 3 {
			p.Body = []byte("\x1b[2Jevil\x00binary")
		}
	})
	out, _, err := runCLI(t, "peek", "rabbitmq:plain.dlq", "--vhost", v.name, "--offset", "2", "--limit", "3")
	if err != nil || !strings.Contains(out, "rabbitmq:"+v.name+"/plain.dlq: messages #2–#4 of 30; 5 read and requeued in their order") ||
		!strings.Contains(out, `{"n":2}`) || !strings.Contains(out, "(binary, 15 bytes)") || !strings.Contains(out, "expired") || strings.Contains(out, "\x1b") {
		t.Fatalf("peek: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, "peek", "rabbitmq:plain.dlq", "--vhost", v.name, "-o", "json", "--limit", "40")
	var rep peekReport
	if err != nil || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Messages) != 30 || rep.Depth != 30 || rep.Messages[29].MessageID != "29" || rep.Risk != nil {
		t.Fatalf("peek -o json: %v\n%s", err, out)
	}
	v.inOrder("plain.dlq", 30)

	v.queue("limited.dlq", amqp.Table{"x-queue-type": "quorum", "x-delivery-limit": int32(1)})
	v.publish("", "limited.dlq", 5, nil)
	for _, want := range []string{"1 0", "2 none: dropped (the queue has no dead-letter exchange)"} {
		out, _, err = runCLI(t, "peek", "rabbitmq:limited.dlq", "--vhost", v.name, "--limit", "1", "--accept-delivery-attempts")
		row := ""
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 10 && f[0] == "0" {
				row = strings.Join(f[8:len(f)-1], " ")
			}
		}
		if err != nil || !strings.Contains(out, "REQUEUED  ATTEMPTS-LEFT") || row != want || !strings.Contains(out, "cost: quorum queue with a delivery limit of 1") {
			t.Fatalf("peek --accept-delivery-attempts: requeued and left %q, want %q: %v\n%s", row, want, err, out)
		}
	}
	// the second peek used the first message's last attempt: it is gone
	deadline := time.Now().Add(10 * time.Second)
	for v.depth("limited.dlq") != 4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if d := v.depth("limited.dlq"); d != 4 {
		t.Fatalf("depth %d after spending the last attempt of one message", d)
	}
	if _, _, err := runCLI(t, "peek", "kafka:orders.DLT"); err == nil || !strings.Contains(err.Error(), "want rabbitmq:<queue>") {
		t.Fatalf("peek kafka: %v", err)
	}
	if _, _, err := runCLI(t, "peek", "rabbitmq:plain.dlq", "--offset", "49990", "--limit", "20"); err == nil || !strings.Contains(err.Error(), "deeper than a peek reads") {
		t.Fatalf("peek too deep: %v", err)
	}
}

// TestDrainOnlyDrainsDeadLetterQueues (issue 7, class 8): a queue that is
// not detected as a dead-letter queue is refused with the reason (and the
// refusal audited), unless --not-dead-letters says so; one that a
// dead-letter exchange routes to is drained.
func TestDrainOnlyDrainsDeadLetterQueues(t *testing.T) {
	v := newRabbitVhost(t)
	v.queue("orders", nil)
	v.publish("", "orders", 3, nil)
	if err := v.ch.ExchangeDeclare("dlx", "fanout", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	v.queue("parked", nil)
	if err := v.ch.QueueBind("parked", "", "dlx", false, nil); err != nil {
		t.Fatal(err)
	}
	v.queue("payments", amqp.Table{"x-dead-letter-exchange": "dlx"})
	file := filepath.Join(t.TempDir(), "out.jsonl")
	_, _, err := runCLI(t, "drain", "rabbitmq:orders", "--vhost", v.name, "--to", "file:"+file, "--dry-run")
	want := "rabbitmq:" + v.name + "/orders is not a dead-letter queue (no dead-letter exchange routes to it and its name is not a DLQ's): pass --not-dead-letters to drain it anyway"
	if err == nil || err.Error() != want {
		t.Fatalf("drain of a live queue: %v", err)
	}
	out, _, err := runCLI(t, "audit", "-o", "json")
	if err != nil || !strings.Contains(out, `"outcome": "refused"`) || !strings.Contains(out, "is not a dead-letter queue") {
		t.Fatalf("the refusal is not audited: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, "drain", "rabbitmq:orders", "--vhost", v.name, "--to", "file:"+file, "--dry-run", "--not-dead-letters")
	if err != nil || !strings.Contains(out, "(all): 3 to move") {
		t.Fatalf("drain --not-dead-letters: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, "drain", "rabbitmq:parked", "--vhost", v.name, "--to", "file:"+file, "--dry-run")
	if err != nil || !strings.Contains(out, "(all): 0 to move") {
		t.Fatalf("drain of a DLQ that a dead-letter exchange routes to: %v\n%s", err, out)
	}
	if v.depth("orders") != 3 {
		t.Fatal("a dry run moved messages")
	}
}

// TestDrainPlanSaysTheTruth (issue 7, class 9): the plan of a dead-letter
// queue deeper than its sample states the depth, the sample and the
// estimate per route scaled to the depth, in the table, its JSON and the
// confirmation; a limit bounds the estimate.
func TestDrainPlanSaysTheTruth(t *testing.T) {
	v := newRabbitVhost(t)
	v.queue("a", nil)
	v.queue("b", nil)
	v.queue("mixed.dlq", nil)
	v.publish("", "mixed.dlq", 2500, func(i int, p *amqp.Publishing) {
		origin := "a"
		if i%5 == 4 {
			origin = "b"
		}
		p.Headers = amqp.Table{"x-first-death-queue": origin, "x-first-death-reason": "rejected"}
	})
	out, _, err := runCLI(t, "drain", "rabbitmq:mixed.dlq", "--vhost", v.name, "--to", "origin", "--dry-run")
	if err != nil || !strings.Contains(out, "(depth 2500; 1000 sampled, 1000 of them pass the filters): about 2500 to move") ||
		!strings.Contains(out, "800 → queue a  (about 2000 of the depth)") || !strings.Contains(out, "200 → queue b  (about 500 of the depth)") {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, "drain", "rabbitmq:mixed.dlq", "--vhost", v.name, "--to", "origin", "--dry-run", "-o", "json", "--limit", "1500")
	var rep struct {
		Plan struct {
			Sampled  int   `json:"sampled"`
			Depth    int64 `json:"depth"`
			Estimate int64 `json:"estimate"`
			Complete bool  `json:"complete"`
			Routes   []struct {
				Target   string `json:"target"`
				Count    int    `json:"count"`
				Estimate int64  `json:"estimate"`
			} `json:"routes"`
		} `json:"plan"`
	}
	if err != nil || json.Unmarshal([]byte(out), &rep) != nil || rep.Plan.Depth != 2500 || rep.Plan.Sampled != 1000 || rep.Plan.Estimate != 1500 ||
		rep.Plan.Complete || len(rep.Plan.Routes) != 2 || rep.Plan.Routes[0].Estimate != 1200 || rep.Plan.Routes[1].Estimate != 300 {
		t.Fatalf("plan -o json --limit 1500: %v\n%s", err, out)
	}
	// the run confirms what it will move: the question states it (no
	// terminal here, so the refusal quotes the plan on stderr)
	_, se, err := runCLI(t, "drain", "rabbitmq:mixed.dlq", "--vhost", v.name, "--to", "origin")
	if err == nil || !strings.Contains(se, "about 2500 to move") {
		t.Fatalf("run without a terminal: %v\n%s", err, se)
	}
	if v.depth("mixed.dlq") != 2500 {
		t.Fatal("the plan moved messages")
	}
}

// fakeManagement is a management API for the timeout tests: a listing
// with one dead-letter queue (x.dlq, classic) and what peeking it asks.
func fakeManagement(t *testing.T, slow func(w http.ResponseWriter, r *http.Request) bool) string {
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		if slow != nil && slow(w, r) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch p := r.URL.EscapedPath(); {
		case p == "/api/overview":
			fmt.Fprint(w, `{"rabbitmq_version":"3.10.8","cluster_name":"fake"}`)
		case p == "/api/queues" || p == "/api/queues/%2F":
			fmt.Fprint(w, `{"items":[{"vhost":"/","name":"x.dlq","type":"classic","messages":5,"arguments":{}}],"page":1,"page_count":1}`)
		case p == "/api/queues/%2F/x.dlq":
			fmt.Fprint(w, `{"vhost":"/","name":"x.dlq","type":"classic","messages":5,"arguments":{}}`)
		case p == "/api/queues/%2F/x.dlq/bindings":
			fmt.Fprint(w, `[]`)
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":"Object Not Found"}`)
		}
	})
	return srv
}

// TestRabbitCommandsFailWithinTimeout (issue 7, class 6): against a
// management API that accepts and never answers, one that streams a body
// that never ends, one that claims 10^12 pages, and an AMQP port that
// accepts and never answers, `queues`, `dlq`, `drain --dry-run` and `peek`
// each fail within the timeout (never a multiple of it) with a clear
// error.
func TestRabbitCommandsFailWithinTimeout(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	t.Setenv("MQOPS_TEST_RABBIT_PW", "pw")
	const timeout = 2 * time.Second
	hang := fakeManagement(t, func(w http.ResponseWriter, r *http.Request) bool { <-r.Context().Done(); return true })
	endless := fakeManagement(t, func(w http.ResponseWriter, r *http.Request) bool {
		fmt.Fprint(w, `{"items":[{"name":"`)
		for r.Context().Err() == nil {
			if _, err := w.Write([]byte(strings.Repeat("a", 1<<16))); err != nil {
				break
			}
			w.(http.Flusher).Flush()
			time.Sleep(time.Millisecond)
		}
		return true
	})
	trillion := fakeManagement(t, func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.EscapedPath(), "/api/queues") || r.URL.Query().Get("page") == "" {
			return false
		}
		fmt.Fprint(w, `{"items":[{"vhost":"/","name":"x.dlq","messages":5}],"page":1,"page_count":1000000000000}`)
		return true
	})
	working := fakeManagement(t, nil)
	dead := blackholeAddr(t)
	commands := [][]string{
		{"queues"}, {"dlq"}, {"drain", "rabbitmq:x.dlq", "--to", "origin", "--dry-run"}, {"peek", "rabbitmq:x.dlq"},
	}
	for _, tc := range []struct {
		name, mgmt string
		amqpOnly   bool // the listing works; reading messages hangs
		want       string
	}{
		{"management API never answers", hang, false, "timed out calling the RabbitMQ management API"},
		{"endless reply", endless, false, "RabbitMQ management API"},
		{"10^12 pages", trillion, false, "brought no queue that the pages before did not"},
		{"AMQP never answers", working, true, "timed out connecting to RabbitMQ at " + dead},
	} {
		for _, args := range commands {
			if tc.amqpOnly && args[0] == "queues" {
				continue // reads no message
			}
			if tc.name == "10^12 pages" && args[0] != "queues" && args[0] != "dlq" {
				continue // no listing
			}
			t.Run(tc.name+"/"+args[0], func(t *testing.T) {
				start := time.Now()
				args := append(append([]string{}, args...), "--management-url", tc.mgmt, "--rabbitmq-url", "amqp://ops@"+dead,
					"--rabbitmq-password-env", "MQOPS_TEST_RABBIT_PW", "--timeout", timeout.String())
				_, _, err := runCLI(t, args...)
				took := time.Since(start)
				if err == nil || !strings.Contains(strings.Join(errorLines(err), "\n"), tc.want) {
					t.Fatalf("%v: err = %v, want …%s…", args, err, tc.want)
				}
				if took > timeout*3/2 {
					t.Fatalf("%v took %v with --timeout %v: %v", args, took, timeout, err)
				}
				if args[0] == "dlq" && tc.amqpOnly {
					var pe *partialError
					if !errors.As(err, &pe) || exitStatus(err) != exitPartial || pe.missing[0] != "x.dlq: timed out connecting to RabbitMQ at "+dead+" (after 2s)" {
						t.Fatalf("dlq with a dead AMQP port: %v", err)
					}
				}
			})
		}
	}
}

// TestBigHealthyBrokerIsReadWhole (issue 7, class 6): 30 pages of queues,
// each taking 0.2 s, under --timeout 1s: each call is within the timeout,
// so `queues` and `dlq` read them all (6 s in all), where a deadline on
// the whole command cut them short.
func TestBigHealthyBrokerIsReadWhole(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 30 slow pages twice")
	}
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("MQOPS_TEST_RABBIT_PW", "pw")
	slow := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond)
		if strings.HasPrefix(r.URL.Path, "/api/policies") { // dlq reads them beside a listing without statistics
			fmt.Fprint(w, `[]`)
			return
		}
		page := r.URL.Query().Get("page")
		fmt.Fprintf(w, `{"items":[{"vhost":"/","name":"q%s-a","messages":1},{"vhost":"/","name":"q%s-b","messages":2}],"page":%s,"page_count":30}`, page, page, page)
	})
	for _, cmd := range []string{"queues", "dlq"} {
		out, _, err := runCLI(t, cmd, "-o", "json", "--management-url", slow, "--rabbitmq-url", "amqp://ops@127.0.0.1:1",
			"--rabbitmq-password-env", "MQOPS_TEST_RABBIT_PW", "--timeout", "1s")
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		if cmd == "queues" && (strings.Count(out, `"name": "q`) != 60 || !strings.Contains(out, "q30-b")) {
			t.Fatalf("queues: %s", out)
		}
		if cmd == "dlq" && !strings.Contains(out, `"dead_letters": []`) {
			t.Fatalf("dlq: %s", out)
		}
	}
}

// TestDLQPartialResult (issue 7, class 6): a dead-letter queue that cannot
// be read (gone between the listing and its sample) is named on its own
// line, as operators write it; what was read is printed; the status is 3,
// in table and JSON.
func TestDLQPartialResult(t *testing.T) {
	v := newRabbitVhost(t)
	v.queue("real.dlq", nil)
	v.publish("", "real.dlq", 4, func(i int, p *amqp.Publishing) {
		p.Headers = amqp.Table{"x-first-death-queue": "orders", "x-first-death-reason": "rejected"}
	})
	vh := url.PathEscape(v.name)
	mgmt := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.EscapedPath() {
		case "/api/queues/" + vh:
			fmt.Fprintf(w, `{"items":[{"vhost":%q,"name":"gone.dlq","messages":9},{"vhost":%q,"name":"real.dlq","messages":4}],"page":1,"page_count":1}`, v.name, v.name)
		case "/api/queues/" + vh + "/real.dlq":
			fmt.Fprintf(w, `{"vhost":%q,"name":"real.dlq","type":"classic","messages":4}`, v.name)
		case "/api/vhosts/" + vh:
			fmt.Fprintf(w, `{"name":%q}`, v.name)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	})
	cfg := filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "mqops", "config.yaml")
	b, _ := os.ReadFile(cfg)
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(b), v.env["RABBITMQ_MANAGEMENT_URL"], mgmt, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, output := range []string{"table", "json"} {
		out, _, err := runCLI(t, "dlq", "-o", output)
		lines := errorLines(err)
		if exitStatus(err) != exitPartial || len(lines) != 2 || lines[0] != "partial result: 1 missing (dead-letter queues or topics):" ||
			lines[1] != `  `+v.name+`/gone.dlq: queue "gone.dlq" not found in vhost "`+v.name+`"` {
			t.Fatalf("dlq -o %s: status %d, %q", output, exitStatus(err), lines)
		}
		if !strings.Contains(out, "real.dlq") || !strings.Contains(out, "orders") {
			t.Fatalf("dlq -o %s printed no result: %s", output, out)
		}
		if output == "json" && !strings.Contains(out, `"errors": [`) {
			t.Fatalf("no errors in the JSON: %s", out)
		}
	}
	v.inOrder("real.dlq", 4)
}

// newHTTPServer serves h until the test ends and returns its URL.
func newHTTPServer(t *testing.T, h http.HandlerFunc) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestQueuesFlagsNumbersOutOfRange (issue 7, class 10): `mqops queues`
// shows a number the management API sent out of range as it came, with a
// ?, says so on stderr, and keeps it out of the JSON numbers (invalid
// names it).
func TestQueuesFlagsNumbersOutOfRange(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("MQOPS_TEST_RABBIT_PW", "pw")
	mgmt := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"items":[{"vhost":"/","name":"odd","messages":3,"messages_ready":-5,"messages_unacknowledged":1e300,"consumers":1,
		  "message_stats":{"publish_details":{"rate":1e999}}}],"page":1,"page_count":1}`)
	})
	args := []string{"--management-url", mgmt, "--rabbitmq-password-env", "MQOPS_TEST_RABBIT_PW"}
	out, se, err := runCLI(t, append([]string{"queues"}, args...)...)
	if err != nil || !strings.Contains(out, "-5?") || !strings.Contains(out, "1e300?") || !strings.Contains(out, "1e999?") ||
		strings.Contains(out, "-9223372036854775808") ||
		!strings.Contains(se, "warning: the management API sent numbers out of range, shown with ? and left out of every count and sort: odd publish_rate 1e999; odd ready -5; odd unacked 1e300") {
		t.Fatalf("queues: %v\n%s\n%s", err, out, se)
	}
	out, _, err = runCLI(t, append([]string{"queues", "-o", "json"}, args...)...)
	if err != nil || !strings.Contains(out, `"unacked": 0`) || !strings.Contains(out, `"unacked": "1e300"`) || !strings.Contains(out, `"ready": "-5"`) {
		t.Fatalf("queues -o json: %v\n%s", err, out)
	}
}

// TestListingProgressLine: on a terminal, a listing of more than three
// pages shows its progress on one line, cleared at the end; a short one
// shows nothing.
func TestListingProgressLine(t *testing.T) {
	var b strings.Builder
	onPage, end := listingLine(&b)
	for p := 1; p <= 3; p++ {
		onPage(p, 3, p*500)
	}
	end()
	if b.Len() != 0 {
		t.Fatalf("3 pages: %q", b.String())
	}
	onPage, end = listingLine(&b)
	onPage(1, 12, 500)
	onPage(2, 12, 1000)
	end()
	if got := b.String(); got != "\rlisting RabbitMQ queues: page 1 of 12 (500 queues) \rlisting RabbitMQ queues: page 2 of 12 (1000 queues) \r\x1b[K" {
		t.Fatalf("12 pages: %q", got)
	}
}
