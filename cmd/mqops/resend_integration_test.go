package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqops/mqops/actions"
)

type resendDryRun struct {
	DryRun  bool               `json:"dry_run"`
	Plan    actions.ResendPlan `json:"plan"`
	Command string             `json:"command"`
}

type resendOut struct {
	actions.ResendResult
	Command string `json:"command"`
}

// resendRows are the rows of the end-to-end tests: 24 to dest (keys k0..k4
// and none), 2 to a destination that cannot be published to, and one too
// young to be pending; each with two headers.
func resendRows(dest, bad string) []outboxRow {
	var rows []outboxRow
	for i := range 24 {
		key := fmt.Sprintf("k%d", i%6)
		if i%6 == 5 {
			key = ""
		}
		id := fmt.Sprintf("m-%02d", i)
		rows = append(rows, outboxRow{msgID: id, dest: dest, key: key, age: 10*time.Minute + time.Duration(30-i)*time.Second,
			headers: [][2]string{{"tenant", "acme"}, {"trace", "t-" + id}}})
	}
	rows = append(rows, outboxRow{msgID: "bad-0", dest: bad, age: 10 * time.Minute}, outboxRow{msgID: "bad-1", dest: bad, age: 10 * time.Minute},
		outboxRow{msgID: "young", dest: dest, key: "k0", age: time.Second})
	return rows
}

// TestResendEndToEnd: for the mqops preset on PostgreSQL, MariaDB and
// SQLite, to Kafka and to RabbitMQ, with the built binary: the dry run
// lists exactly the pending rows and changes nothing (table and broker);
// --yes publishes each row once with its headers and the message id
// header (Kafka: the key's partition as murmur2 gives it; RabbitMQ: the
// message_id property too), marks it sent with attempts + 1, and leaves
// the rows it cannot route pending with their error, exit status 1.
func TestResendEndToEnd(t *testing.T) {
	for _, driver := range []string{"postgres", "mysql", "sqlite"} {
		t.Run(driver+"/kafka", func(t *testing.T) { resendToKafka(t, driver) })
		t.Run(driver+"/rabbitmq", func(t *testing.T) { resendToRabbit(t, driver) })
	}
}

// dryRunChangesNothing runs the dry run and checks its plan and that the
// table did not change.
func dryRunChangesNothing(t *testing.T, db *appDB, env []string, cfg string, want []string) {
	t.Helper()
	before := db.states()
	out, stderr, err := run(t, time.Minute, env, mqopsBin(t), "--config", cfg, "resend", "--dry-run", "-o", "json")
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, stderr)
	}
	var dr resendDryRun
	if err := json.Unmarshal([]byte(out), &dr); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var got []string
	for _, r := range dr.Plan.Rows {
		got = append(got, r.MessageID)
	}
	sort.Strings(got)
	if !dr.DryRun || !reflect.DeepEqual(got, want) || dr.Plan.Selected != len(want) || dr.Command != "mqops --config "+cfg+" --context t resend" {
		t.Fatalf("dry run: selected %d, command %q\nrows %v\nwant %v", dr.Plan.Selected, dr.Command, got, want)
	}
	if after := db.states(); !reflect.DeepEqual(before, after) {
		t.Fatalf("the dry run changed the table:\n%v\n%v", before, after)
	}
}

func pendingIDs(rows []outboxRow) []string {
	var out []string
	for _, r := range rows {
		if r.age > time.Minute {
			out = append(out, r.msgID)
		}
	}
	sort.Strings(out)
	return out
}

// checkResent checks the table after the run: the rows of dest sent once
// (attempts 1), the bad ones pending with an error containing errPart, the
// young one untouched.
func checkResent(t *testing.T, db *appDB, errPart string) {
	t.Helper()
	for id, s := range db.states() {
		switch {
		case strings.HasPrefix(id, "m-"):
			if s.Status != "sent" || s.Attempts != 1 || s.LastError != "" {
				t.Errorf("%s: %+v", id, s)
			}
		case strings.HasPrefix(id, "bad-"):
			if s.Status != "pending" || s.Attempts != 1 || !strings.Contains(s.LastError, errPart) {
				t.Errorf("%s: %+v", id, s)
			}
		default:
			if s.Status != "pending" || s.Attempts != 0 {
				t.Errorf("%s: %+v", id, s)
			}
		}
	}
}

func runResendYes(t *testing.T, env []string, cfg string, wantResent, wantFailed int) resendOut {
	t.Helper()
	out, stderr, err := run(t, 2*time.Minute, env, mqopsBin(t), "--config", cfg, "resend", "--yes", "-o", "json")
	var res resendOut
	if jerr := json.Unmarshal([]byte(out), &res); jerr != nil {
		t.Fatalf("%v %v\n%s\n%s", err, jerr, out, stderr)
	}
	code := 0
	if wantFailed > 0 {
		code = 1
	}
	if exitCode(err) != code || res.Resent != wantResent || res.Failed != wantFailed || res.StoppedBecause != actions.ResendStopEnd || res.Left != 0 {
		t.Fatalf("resend: exit %d %+v\n%s", exitCode(err), res, stderr)
	}
	return res
}

func resendToKafka(t *testing.T, driver string) {
	w := newKafkaWorld(t)
	db := newAppDB(t, driver)
	db.schema()
	topic := w.topic("orders", 3)
	bad := w.prefix + ".missing"
	rows := resendRows(topic, bad)
	db.insert(rows...)
	cfg := storeContext(t, w.brokers, "", db, "{broker: kafka}", "")
	env := []string{"APPDB_DSN=" + db.dsn, "XDG_STATE_HOME=" + t.TempDir()}

	dryRunChangesNothing(t, db, env, cfg, pendingIDs(rows))
	if recs := w.records(topic); len(recs) != 0 {
		t.Fatalf("the dry run published %d records", len(recs))
	}
	res := runResendYes(t, env, cfg, 24, 2)
	if len(res.Errors) == 0 || !strings.Contains(res.Errors[0], "unknown topic") {
		t.Fatalf("errors %v", res.Errors)
	}
	checkResent(t, db, "unknown topic")
	recs := w.records(topic)
	if len(recs) != 24 {
		t.Fatalf("%d records", len(recs))
	}
	byID := map[string]*kgo.Record{}
	part := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	for _, r := range recs {
		id := headerOf(r, "mqops-message-id")
		if byID[id] != nil {
			t.Fatalf("%s published twice", id)
		}
		byID[id] = r
		if string(r.Value) != "payload of "+id || len(r.Headers) != 3 || r.Headers[0].Key != "tenant" || string(r.Headers[0].Value) != "acme" ||
			r.Headers[1].Key != "trace" || string(r.Headers[1].Value) != "t-"+id || r.Headers[2].Key != "mqops-message-id" {
			t.Fatalf("%s: %+v", id, r)
		}
		if len(r.Key) > 0 {
			if want := part.Partition(r, 3); want != int(r.Partition) {
				t.Fatalf("%s key %s in partition %d, murmur2 says %d", id, r.Key, r.Partition, want)
			}
		} else if id[len(id)-1] != '5' && id != "m-11" && id != "m-17" && id != "m-23" {
			t.Fatalf("%s has no key", id)
		}
	}
	// a key's rows in their order (oldest first)
	for k := range 5 {
		last := int64(-1)
		for i := k; i < 24; i += 6 {
			r := byID[fmt.Sprintf("m-%02d", i)]
			if r.Offset <= last {
				t.Fatalf("key k%d out of order", k)
			}
			last = r.Offset
		}
	}
}

func resendToRabbit(t *testing.T, driver string) {
	v := newRabbitVhost(t)
	db := newAppDB(t, driver)
	db.schema()
	const exchange, dest = "hxresend.events", "orders"
	if err := v.ch.ExchangeDeclare(exchange, "direct", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	v.queue("orders.q", nil)
	if err := v.ch.QueueBind("orders.q", dest, exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	rows := resendRows(dest, "nowhere")
	db.insert(rows...)
	amqpURL := strings.Replace(v.env["RABBITMQ_URL"], ":"+v.env["RABBITMQ_PASSWORD"]+"@", "@", 1)
	rabbit := fmt.Sprintf("    rabbitmq:\n      url: %s\n      management-url: %s\n      password-env: RABBITMQ_PASSWORD\n      vhosts: [%q]\n", amqpURL, v.env["RABBITMQ_MANAGEMENT_URL"], v.name)
	cfg := storeContext(t, nil, rabbit, db, "{broker: rabbitmq, exchange: "+exchange+"}", "")
	env := []string{"APPDB_DSN=" + db.dsn, "XDG_STATE_HOME=" + t.TempDir()}

	dryRunChangesNothing(t, db, env, cfg, pendingIDs(rows))
	if n := v.depth("orders.q"); n != 0 {
		t.Fatalf("the dry run published %d messages", n)
	}
	res := runResendYes(t, env, cfg, 24, 2)
	if len(res.Errors) == 0 || !strings.Contains(res.Errors[0], "unroutable") {
		t.Fatalf("errors %v", res.Errors)
	}
	checkResent(t, db, "unroutable")
	if n := v.depth("orders.q"); n != 24 {
		t.Fatalf("orders.q holds %d", n)
	}
	ch, err := v.conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	seen := map[string]bool{}
	for range 24 {
		d, ok, err := ch.Get("orders.q", true)
		if err != nil || !ok {
			t.Fatalf("get: %v %v", ok, err)
		}
		id := d.MessageId
		if seen[id] || d.Headers["mqops-message-id"] != id || d.Headers["tenant"] != "acme" || d.Headers["trace"] != "t-"+id ||
			string(d.Body) != "payload of "+id || d.DeliveryMode != amqp.Persistent {
			t.Fatalf("%s: %+v", id, d)
		}
		seen[id] = true
	}
}

// bulkRows are n rows to dest, created 10 minutes ago, keys k0..k<keys-1>
// (0: no key).
func bulkRows(n, keys int, dest string) []outboxRow {
	rows := make([]outboxRow, n)
	for i := range rows {
		rows[i] = outboxRow{msgID: fmt.Sprintf("b-%05d", i), dest: dest, age: 10 * time.Minute, headers: [][2]string{{"n", fmt.Sprint(i)}}}
		if keys > 0 {
			rows[i].key = fmt.Sprintf("k%d", i%keys)
		}
	}
	return rows
}

// idsIn counts the records of topic per message id.
func idsIn(w *kafkaWorld, topic string) map[string]int {
	out := map[string]int{}
	for _, r := range w.records(topic) {
		out[headerOf(r, "mqops-message-id")]++
	}
	return out
}

// TestResendTwoProcesses: two `mqops resend --yes` started at once on the
// same 2,000 rows (PostgreSQL → Kafka) publish every row exactly once,
// and count each row's attempts exactly once.
func TestResendTwoProcesses(t *testing.T) {
	w := newKafkaWorld(t)
	db := newAppDB(t, "postgres")
	db.schema()
	topic := w.topic("twice", 6)
	const n = 2000
	// without keys: no row waits behind a row of its key the other run
	// has in flight, so the two runs contend for every batch
	db.insert(bulkRows(n, 0, topic)...)
	cfg := storeContext(t, w.brokers, "", db, "{broker: kafka}", "")
	env := append(os.Environ(), "APPDB_DSN="+db.dsn, "XDG_STATE_HOME="+t.TempDir())
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for range 2 {
		c := exec.Command(mqopsBin(t), "--config", cfg, "resend", "--yes", "--batch", "100", "-o", "json")
		c.Env = env
		var so bytes.Buffer
		c.Stdout, c.Stderr = &so, io.Discard
		cmds, outs = append(cmds, c), append(outs, &so)
	}
	for _, c := range cmds {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	resent, claimed := 0, 0
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("resend %d: %v", i, err)
		}
		var res resendOut
		if err := json.Unmarshal(outs[i].Bytes(), &res); err != nil {
			t.Fatalf("%v: %s", err, outs[i])
		}
		t.Logf("process %d: resent %d, skipped %d (claimed by the other %d, gone %d)", i, res.Resent, res.Skipped, res.SkippedClaimed, res.SkippedGone)
		resent += res.Resent
		claimed += res.SkippedClaimed
	}
	ids := idsIn(w, topic)
	if len(ids) != n || resent != n {
		t.Fatalf("%d message ids in the topic, %d resent, want %d", len(ids), resent, n)
	}
	for id, c := range ids {
		if c != 1 {
			t.Fatalf("%s published %d times", id, c)
		}
	}
	for id, s := range db.states() {
		if s.Status != "sent" || s.Attempts != 1 {
			t.Fatalf("%s: %+v", id, s)
		}
	}
}

// TestResendKill9: a resend of 10,000 rows (PostgreSQL → Kafka, --batch
// 500) killed with SIGKILL five times, each followed by a new run: right
// after each kill no row is marked sent whose message id is not in the
// topic; at the end every row is sent and in the topic, and the
// duplicates are at most one window (500) per kill.
func TestResendKill9(t *testing.T) {
	w := newKafkaWorld(t)
	db := newAppDB(t, "postgres")
	db.schema()
	topic := w.topic("kill", 6)
	const n, window, kills = 10_000, 500, 5
	db.insert(bulkRows(n, 50, topic)...)
	cfg := storeContext(t, w.brokers, "", db, "{broker: kafka}", "")
	env := append(os.Environ(), "APPDB_DSN="+db.dsn, "XDG_STATE_HOME="+t.TempDir())
	sentCount := func() int {
		var c int
		if err := db.raw.QueryRow("SELECT count(*) FROM mqops_outbox WHERE status = 'sent'").Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	start := func() *exec.Cmd {
		// a killed run's claimed rows are taken at once (the operator knows it died)
		c := exec.Command(mqopsBin(t), "--config", cfg, "resend", "--yes", "--batch", fmt.Sprint(window), "--claim-lease", "1ms", "-o", "json")
		c.Env, c.Stdout, c.Stderr = env, io.Discard, io.Discard
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		return c
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	killed := 0
	for killed < kills {
		before := sentCount()
		if before == n {
			break
		}
		c := start()
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		// once the run marked its first rows, a moment later at random:
		// anywhere in a batch's claim, publish, confirm and mark
		exited := false
		for !exited && sentCount() == before {
			select {
			case <-done:
				exited = true
			case <-time.After(2 * time.Millisecond):
			}
		}
		if !exited {
			select {
			case <-done:
				exited = true
			case <-time.After(time.Duration(rng.IntN(200)) * time.Millisecond):
			}
		}
		if exited {
			t.Logf("run ended before its kill")
			continue
		}
		_ = c.Process.Signal(syscall.SIGKILL)
		<-done
		killed++
		// right after the kill: what is marked sent is in the topic
		ids := idsIn(w, topic)
		rs, err := db.raw.Query("SELECT message_id FROM mqops_outbox WHERE status = 'sent'")
		if err != nil {
			t.Fatal(err)
		}
		sent := 0
		for rs.Next() {
			var id string
			if err := rs.Scan(&id); err != nil {
				t.Fatal(err)
			}
			sent++
			if ids[id] == 0 {
				t.Fatalf("kill %d: %s is marked sent and is not in the topic", killed, id)
			}
		}
		rs.Close()
		t.Logf("kill %d: %d rows marked sent, %d message ids in the topic", killed, sent, len(ids))
	}
	if killed < kills {
		t.Fatalf("only %d kills: the runs ended first", killed)
	}
	c := start()
	if err := c.Wait(); err != nil {
		t.Fatalf("final run: %v", err)
	}
	ids := idsIn(w, topic)
	total := 0
	for _, c := range ids {
		total += c
	}
	for id, s := range db.states() {
		if s.Status != "sent" || s.Attempts < 1 || ids[id] == 0 {
			t.Fatalf("%s: %+v, %d in the topic", id, s, ids[id])
		}
	}
	dups := total - n
	t.Logf("%d records for %d rows: %d duplicates after %d kills (at most %d: one window of %d per kill)", total, n, dups, kills, kills*window, window)
	if len(ids) != n || dups > kills*window {
		t.Fatalf("%d ids, %d duplicates", len(ids), dups)
	}
}
