package main

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

type killWorld struct {
	t        *testing.T
	conn     *amqp.Connection
	dlx, dlq string
	origins  []string
	env      map[string]string
	cliArgs  []string
}

func newKillWorld(t *testing.T, perOrigin int) *killWorld {
	return newNamedWorld(t, fmt.Sprintf("k%d", time.Now().UnixNano()), perOrigin)
}

// newNamedWorld builds <p>.orders (classic) and <p>.payments (quorum), both
// dead-lettering through <p>.dlx into <p>.dlq, with perOrigin rejected
// persistent messages from each.
func newNamedWorld(t *testing.T, p string, perOrigin int) *killWorld {
	env := requireEnv(t, "RABBITMQ_URL", "RABBITMQ_MANAGEMENT_URL", "RABBITMQ_USER", "RABBITMQ_PASSWORD")
	conn, err := amqp.Dial(env["RABBITMQ_URL"])
	if err != nil {
		t.Fatal(err)
	}
	w := &killWorld{t: t, conn: conn, dlx: p + ".dlx", dlq: p + ".dlq", origins: []string{p + ".orders", p + ".payments"}, env: env}
	ch, _ := conn.Channel()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(ch.ExchangeDeclare(w.dlx, "fanout", true, false, false, false, nil))
	_, err = ch.QueueDeclare(w.dlq, true, false, false, false, nil)
	must(err)
	must(ch.QueueBind(w.dlq, "", w.dlx, false, nil))
	_, err = ch.QueueDeclare(w.origins[0], true, false, false, false, amqp.Table{"x-dead-letter-exchange": w.dlx})
	must(err)
	_, err = ch.QueueDeclare(w.origins[1], true, false, false, false, amqp.Table{"x-queue-type": "quorum", "x-dead-letter-exchange": w.dlx})
	must(err)
	t.Cleanup(func() {
		if w.conn.IsClosed() { // a broker restart closed it
			if conn, err := amqp.Dial(env["RABBITMQ_URL"]); err == nil {
				w.conn = conn
			}
		}
		c, err := w.conn.Channel()
		if err == nil {
			for _, q := range append([]string{w.dlq}, w.origins...) {
				c.QueueDelete(q, false, false, false)
			}
			c.ExchangeDelete(w.dlx, false, false)
		}
		w.conn.Close()
	})
	must(ch.Confirm(false))
	for oi, q := range w.origins {
		var confs []*amqp.DeferredConfirmation
		for i := 0; i < perOrigin; i++ {
			c, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), "", q, true, false, amqp.Publishing{
				DeliveryMode: amqp.Persistent, MessageId: fmt.Sprintf("%d-%d", oi, i), Body: []byte(`{"order":1}`)})
			must(err)
			confs = append(confs, c)
		}
		for _, c := range confs {
			if ok, err := c.WaitContext(context.Background()); !ok || err != nil {
				t.Fatal("publish not confirmed")
			}
		}
		rc, _ := conn.Channel()
		rc.Qos(1000, 0, false)
		ds, err := rc.Consume(q, "", false, false, false, false, nil)
		must(err)
		for i := 0; i < perOrigin; i++ {
			d := <-ds
			must(d.Reject(false))
		}
		// quorum queues settle rejections asynchronously: close the
		// channel only once they all left the origin
		for i := 0; i < 600 && w.depth(q) > 0; i++ {
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond)
		rc.Close()
	}
	deadline := time.Now().Add(60 * time.Second)
	for w.depth(w.dlq) != 2*perOrigin {
		if time.Now().After(deadline) {
			t.Fatalf("setup: DLQ %d, origins %d and %d", w.depth(w.dlq), w.depth(w.origins[0]), w.depth(w.origins[1]))
		}
		time.Sleep(100 * time.Millisecond)
	}
	amqpURL := strings.Replace(env["RABBITMQ_URL"], ":"+env["RABBITMQ_PASSWORD"]+"@", "@", 1)
	w.cliArgs = []string{"--rabbitmq-url", amqpURL, "--management-url", env["RABBITMQ_MANAGEMENT_URL"], "--rabbitmq-password-env", "RABBITMQ_PASSWORD"}
	return w
}

// redial replaces the test's connection after a broker restart.
func (w *killWorld) redial(d time.Duration) {
	deadline := time.Now().Add(d)
	for {
		conn, err := amqp.Dial(w.env["RABBITMQ_URL"])
		if err == nil {
			w.conn.Close()
			w.conn = conn
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("reconnecting after the restart: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (w *killWorld) depth(q string) int {
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

func (w *killWorld) waitDepth(q string, n int, d time.Duration) {
	deadline := time.Now().Add(d)
	for w.depth(q) != n {
		if time.Now().After(deadline) {
			w.t.Fatalf("%s: depth %d, want %d", q, w.depth(q), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ids consumes a queue until it stays empty and counts each message id.
func (w *killWorld) ids(q string) map[string]int {
	out := map[string]int{}
	c, _ := w.conn.Channel()
	defer c.Close()
	c.Qos(2000, 0, false)
	ds, err := c.Consume(q, "", false, false, false, false, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	for {
		select {
		case d := <-ds:
			out[d.MessageId]++
			d.Ack(false)
		case <-time.After(2 * time.Second):
			return out
		}
	}
}

func (w *killWorld) drainCmd(extra ...string) *exec.Cmd {
	args := append([]string{"drain", "rabbitmq:" + w.dlq, "--to", "origin", "--yes", "--prefetch", "100"}, w.cliArgs...)
	args = append(args, extra...)
	cmd := exec.Command(mqopsBin(w.t), args...)
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+w.t.TempDir(), "XDG_STATE_HOME="+w.t.TempDir())
	return cmd
}

// TestDrainKill9 drains 20,000 persistent dead letters, killing the drain
// with SIGKILL at five random moments and resuming each time: every message
// id ends in its origin queue (zero lost), the DLQ is empty, and each kill
// duplicates at most the prefetch window.
func TestDrainKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kill test")
	}
	const perOrigin = 10000
	w := newKillWorld(t, perOrigin)
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	total := 2 * perOrigin
	kills := 0
	moved := func() int { return w.depth(w.origins[0]) + w.depth(w.origins[1]) }
	// settled waits until the killed drain's unacked messages are back in
	// the DLQ: every message is then ready in the DLQ or an origin.
	settled := func() {
		deadline := time.Now().Add(15 * time.Second)
		for w.depth(w.dlq)+moved() < total {
			if time.Now().After(deadline) {
				t.Fatalf("messages unaccounted for after a kill: DLQ %d + origins %d < %d", w.depth(w.dlq), moved(), total)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for kills < 5 {
		before, done := w.depth(w.dlq), moved()
		if before == 0 {
			break
		}
		// kill once a random share of what is left has reached the origins
		target := done + 1 + rng.Intn(max(1, before/4))
		cmd := w.drainCmd()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(60 * time.Second)
		for moved() < target && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		kills++
		settled()
		t.Logf("kill %d: DLQ %d → %d, origins %d → %d", kills, before, w.depth(w.dlq), done, moved())
	}
	t.Logf("before the final drain: DLQ %d, origins %d", w.depth(w.dlq), moved())
	defer func() { t.Logf("after: origins %d and %d", w.depth(w.origins[0]), w.depth(w.origins[1])) }()
	out, err := w.drainCmd().CombinedOutput()
	if err != nil {
		t.Fatalf("final drain: %v\n%s", err, out)
	}
	if d := w.depth(w.dlq); d != 0 {
		t.Fatalf("final drain left %d in the DLQ:\n%s", d, out)
	}
	seen := map[string]int{}
	for _, q := range w.origins {
		for id, n := range w.ids(q) {
			seen[id] += n
		}
	}
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	missing := 0
	for oi := range w.origins {
		for i := 0; i < perOrigin; i++ {
			if seen[fmt.Sprintf("%d-%d", oi, i)] == 0 {
				missing++
			}
		}
	}
	t.Logf("kill -9 test: %d messages, %d kills, %d lost, %d duplicates (bound %d)", total, kills, missing, dups, kills*100)
	if missing != 0 {
		t.Fatalf("%d messages lost", missing)
	}
	if dups > kills*100 {
		t.Fatalf("%d duplicates for %d kills: more than the prefetch window per kill", dups, kills)
	}
}
