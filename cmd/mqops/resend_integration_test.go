package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/twmb/franz-go/pkg/kadm"
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
	w := newReplayWorld(t)
	db := newAppDB(t, driver)
	db.schema()
	topic := w.topic("orders", 3, nil)
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
func idsIn(w *replayWorld, topic string) map[string]int {
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
	w := newReplayWorld(t)
	db := newAppDB(t, "postgres")
	db.schema()
	topic := w.topic("twice", 6, nil)
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
	w := newReplayWorld(t)
	db := newAppDB(t, "postgres")
	db.schema()
	topic := w.topic("kill", 6, nil)
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
			case <-time.After(time.Duration(rng.IntN(40)) * time.Millisecond): // about one batch's cycle at full speed
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

// keysOf is the sorted keys of a JSON object.
func keysOf(t *testing.T, v any) []string {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("not an object: %v", v)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// noRawControls fails when out holds an ESC, a C1 control or a bidi
// override as such (sanitized text shows them escaped).
func noRawControls(t *testing.T, what, out string) {
	t.Helper()
	for _, r := range out {
		if r == 0x1b || (r >= 0x80 && r < 0xa0) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			t.Fatalf("%s holds %U raw:\n%s", what, r, out)
		}
	}
}

// TestPendingJSONAndLag: mqops pending -o json has exactly the issue's
// shape; beside a Kafka destination the lag of the groups on its topic
// (two groups, lags 6 and 2: the worst, 6), beside a RabbitMQ destination
// the ready messages of the queue its exchange and routing key reach (7);
// a destination without a backlog (a hostile name, a topic that does
// not exist) has a null lag and a lag_error saying so (exit 0); one whose
// backlog cannot be read (a broker that does not answer) makes a partial
// result, the rows still printed (exit 3); hostile text is escaped in JSON
// and sanitized in the table.
func TestPendingJSONAndLag(t *testing.T) {
	w := newReplayWorld(t)
	db := newAppDB(t, "sqlite")
	db.schema()
	topic := w.topic("lagged", 1, nil)
	ctx := context.Background()
	for i := range 10 {
		if err := w.cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "%d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for g, at := range map[string]int64{w.prefix + ".g-behind": 4, w.prefix + ".g-close": 8} {
		var offs kadm.Offsets
		offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: at, LeaderEpoch: -1})
		if _, err := w.adm.CommitOffsets(ctx, g, offs); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = w.adm.DeleteGroups(context.Background(), g) })
	}
	const evil = "evil\x1b[31m\u202edest\u0085"
	db.insert(outboxRow{msgID: "a-1", dest: topic, key: "k", age: 20 * time.Minute}, outboxRow{msgID: "a-2", dest: topic, age: 10 * time.Minute},
		outboxRow{msgID: "e-1\x1b]0;x\x07", dest: evil, key: "\u202ekey", age: 15 * time.Minute}, outboxRow{msgID: "m-1", dest: w.prefix + ".missing", age: 6 * time.Minute},
		outboxRow{msgID: "young", dest: topic, age: time.Second})
	cfg := storeContext(t, w.brokers, "", db, "{broker: kafka}", "")
	env := []string{"APPDB_DSN=" + db.dsn}

	out, stderr, err := run(t, time.Minute, env, mqopsBin(t), "--config", cfg, "pending", "-o", "json")
	if err != nil || strings.Contains(stderr, "lag of destination") {
		t.Fatalf("exit %d\n%s", exitCode(err), stderr)
	}
	noRawControls(t, "json", out)
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if k := keysOf(t, doc); !reflect.DeepEqual(k, []string{"destinations", "pending"}) {
		t.Fatalf("keys %v", k)
	}
	rows := doc["pending"].([]any)
	if len(rows) != 4 {
		t.Fatalf("%d rows", len(rows))
	}
	for _, r := range rows {
		if k := keysOf(t, r); !reflect.DeepEqual(k, []string{"age_seconds", "attempts", "created_at", "destination", "id", "key", "last_error", "message_id", "status"}) {
			t.Fatalf("row keys %v", k)
		}
	}
	if first := rows[0].(map[string]any); first["message_id"] != "a-1" || first["age_seconds"].(float64) < 1199 {
		t.Fatalf("oldest first: %v", first)
	}
	var kafkaDest map[string]any
	for _, d := range doc["destinations"].([]any) {
		dm := d.(map[string]any)
		switch dm["destination"] {
		case topic:
			kafkaDest = dm
			if k := keysOf(t, dm); !reflect.DeepEqual(k, []string{"destination", "lag", "oldest_age_seconds", "pending"}) {
				t.Fatalf("destination keys %v", k)
			}
		case evil:
			if dm["lag"] != nil || !strings.Contains(dm["lag_error"].(string), "not a Kafka topic name") {
				t.Fatalf("evil %v", dm)
			}
		default:
			if dm["lag"] != nil || !strings.Contains(dm["lag_error"].(string), "does not exist") {
				t.Fatalf("missing %v", dm)
			}
		}
	}
	lag := kafkaDest["lag"].(map[string]any)
	if kafkaDest["pending"].(float64) != 2 || lag["broker"] != "kafka" || lag["topic"] != topic || lag["messages"].(float64) != 6 || lag["groups"].(float64) != 2 ||
		lag["worst_group"] != w.prefix+".g-behind" || !reflect.DeepEqual(keysOf(t, lag), []string{"broker", "groups", "messages", "topic", "worst_group"}) {
		t.Fatalf("kafka lag %v", kafkaDest)
	}
	table, _, err := run(t, time.Minute, env, mqopsBin(t), "--config", cfg, "pending")
	if err != nil || !strings.Contains(table, "worst of 2 group(s)") || !strings.Contains(table, `evil\x1b[31m\u202edest`) || !strings.Contains(table, "20m0") {
		t.Fatalf("exit %d\n%s", exitCode(err), table)
	}
	noRawControls(t, "table", table)
	// a broker that does not answer: the rows, and a partial result
	down := storeContext(t, []string{"127.0.0.1:1"}, "", db, "{broker: kafka}", "")
	out, stderr, err = run(t, time.Minute, env, mqopsBin(t), "--config", down, "--timeout", "1s", "pending", "-o", "json")
	if exitCode(err) != 3 || !strings.Contains(stderr, "lag of destination") || !strings.Contains(out, `"a-1"`) {
		t.Fatalf("broker down: exit %d\n%s\n%s", exitCode(err), out, stderr)
	}

	// RabbitMQ: the queue the destination's exchange and routing key reach
	v := newRabbitVhost(t)
	if err := v.ch.ExchangeDeclare("hxresend.x", "topic", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	v.queue("orders.q", nil)
	if err := v.ch.QueueBind("orders.q", "orders.#", "hxresend.x", false, nil); err != nil {
		t.Fatal(err)
	}
	v.publish("hxresend.x", "orders.created", 7, nil)
	db2 := newAppDB(t, "sqlite")
	db2.schema()
	db2.insert(outboxRow{msgID: "r-1", dest: "created", age: 10 * time.Minute})
	amqpURL := strings.Replace(v.env["RABBITMQ_URL"], ":"+v.env["RABBITMQ_PASSWORD"]+"@", "@", 1)
	rabbit := fmt.Sprintf("    rabbitmq:\n      url: %s\n      management-url: %s\n      password-env: RABBITMQ_PASSWORD\n      vhosts: [%q]\n", amqpURL, v.env["RABBITMQ_MANAGEMENT_URL"], v.name)
	cfg2 := storeContext(t, nil, rabbit, db2, "{broker: rabbitmq, exchange: hxresend.x, routing-key: 'orders.{destination}'}", "")
	deadline := time.Now().Add(30 * time.Second) // the management API's counts lag
	for {
		out, stderr, err := run(t, time.Minute, []string{"APPDB_DSN=" + db2.dsn}, mqopsBin(t), "--config", cfg2, "pending", "-o", "json")
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		var doc struct {
			Destinations []struct {
				Destination string `json:"destination"`
				Lag         struct {
					Broker, Vhost, Exchange string
					RoutingKey              string `json:"routing_key"`
					Messages                int
					Queues                  []struct {
						Queue          string
						Ready, Unacked int
					}
				} `json:"lag"`
			} `json:"destinations"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		l := doc.Destinations[0].Lag
		if l.Broker != "rabbitmq" || l.Vhost != v.name || l.Exchange != "hxresend.x" || l.RoutingKey != "orders.created" || len(l.Queues) != 1 || l.Queues[0].Queue != "orders.q" {
			t.Fatalf("rabbit lag %s", out)
		}
		if l.Messages == 7 && l.Queues[0].Ready == 7 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rabbit lag %s", out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestResendHostileInput: numbers out of range are named before anything
// is read; a database that accepts TCP and never answers fails each store
// command within --timeout (not a multiple of it); the DSN and its
// password never appear in any output or audit entry, on errors and on a
// real run alike.
func TestResendHostileInput(t *testing.T) {
	bin := mqopsBin(t)
	env := append(isolatedEnv(t), "APPDB_DSN="+filepath.Join(t.TempDir(), "none.db"))
	base := []string{"--store", "sqlite", "--store-dsn-env", "APPDB_DSN", "--route-broker", "kafka", "--brokers", "127.0.0.1:1"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"resend", "--rate", "NaN"}, "--rate: NaN is not a number"},
		{[]string{"resend", "--rate", "-1"}, "--rate: -1 is out of range"},
		{[]string{"resend", "--rate", "1e300"}, "--rate: 1e+300 is out of range"},
		{[]string{"resend", "--rate", "0"}, "--rate: 0 is not a value"},
		{[]string{"resend", "--limit", "-1"}, "--limit: -1 is out of range"},
		{[]string{"resend", "--limit", "1e300"}, `invalid argument "1e300" for "--limit"`},
		{[]string{"resend", "--limit", "NaN"}, `invalid argument "NaN" for "--limit"`},
		{[]string{"resend", "--batch", "100000"}, "--batch: 100000 is out of range"},
		{[]string{"resend", "--older-than", "-5m"}, "--older-than: -5m0s is negative"},
		{[]string{"resend", "--id", ""}, "--id: an empty id"},
		{[]string{"pending", "--limit", "-1"}, "--limit: -1 is out of range"},
		{[]string{"pending", "--sort", "size"}, `--sort: "size": want age or destination`},
		{[]string{"schema", "print", "--driver", "oracle"}, `--driver: "oracle": want postgres, mysql or sqlite`},
	} {
		_, stderr, err := run(t, 30*time.Second, env, bin, append(base, c.args...)...)
		if exitCode(err) != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d %q, want %q", c.args, exitCode(err), stderr, c.want)
		}
	}
	_, stderr, err := run(t, 30*time.Second, env, bin, "--brokers", "127.0.0.1:1", "replay", "t", "--to", "u", "--skip-consumed")
	if exitCode(err) != 1 || !strings.Contains(stderr, "--skip-consumed: needs the application's idempotency table") {
		t.Errorf("replay --skip-consumed without a store: exit %d %q", exitCode(err), stderr)
	}

	// a database that accepts TCP and never answers
	addr := blackholeAddr(t)
	const secret = "s3cr3t-pw-hxresend"
	for _, d := range []struct{ driver, dsn string }{
		{"postgres", "postgres://app:" + secret + "@" + addr + "/appdb?sslmode=disable"},
		{"mysql", "app:" + secret + "@tcp(" + addr + ")/appdb"},
	} {
		state := t.TempDir()
		env := []string{"XDG_CONFIG_HOME=" + state, "XDG_STATE_HOME=" + state, "STALL_DSN=" + d.dsn}
		for _, args := range [][]string{{"pending"}, {"resend", "--dry-run"}, {"consumed", "m-1"}} {
			start := time.Now()
			out, stderr, err := run(t, 30*time.Second, env, bin, append([]string{"--timeout", "1s", "--store", d.driver, "--store-dsn-env", "STALL_DSN", "--route-broker", "kafka", "--brokers", "127.0.0.1:1"}, args...)...)
			took := time.Since(start)
			if exitCode(err) != 1 || took > 2500*time.Millisecond || stderr == "" {
				t.Errorf("%s %v: exit %d after %s: %s", d.driver, args, exitCode(err), took, stderr)
			}
			if strings.Contains(out+stderr, secret) {
				t.Errorf("%s %v: the password is in the output:\n%s%s", d.driver, args, out, stderr)
			}
		}
		if b, _ := os.ReadFile(filepath.Join(state, "mqops", "audit.jsonl")); strings.Contains(string(b), secret) {
			t.Errorf("the password is in the audit log:\n%s", b)
		}
	}

	// a real run on PostgreSQL: its DSN and password in no output, no audit entry
	w := newReplayWorld(t)
	db := newAppDB(t, "postgres")
	db.schema()
	topic := w.topic("secret", 1, nil)
	db.insert(outboxRow{msgID: "s-1", dest: topic, age: 10 * time.Minute}, outboxRow{msgID: "s-2", dest: w.prefix + ".missing", age: 10 * time.Minute})
	u, _ := url.Parse(db.dsn)
	pw, _ := u.User.Password()
	if pw == "" {
		t.Fatal("the test DSN has no password")
	}
	state := t.TempDir()
	cfg := storeContext(t, w.brokers, "", db, "{broker: kafka}", "")
	renv := []string{"APPDB_DSN=" + db.dsn, "XDG_STATE_HOME=" + state}
	var all strings.Builder
	for _, args := range [][]string{{"pending"}, {"pending", "-o", "json"}, {"resend", "--dry-run"}, {"resend", "--dry-run", "-o", "json"}, {"resend", "--yes"}, {"consumed", "s-1"}} {
		out, stderr, _ := run(t, time.Minute, renv, bin, append([]string{"--config", cfg}, args...)...)
		all.WriteString(out + stderr)
	}
	audit, err := os.ReadFile(filepath.Join(state, "mqops", "audit.jsonl"))
	if err != nil || len(audit) == 0 {
		t.Fatalf("audit: %v", err)
	}
	for _, s := range []string{pw, db.dsn} {
		if strings.Contains(all.String(), s) || strings.Contains(string(audit), s) {
			t.Fatalf("%q appears:\n%s\n%s", s, all.String(), audit)
		}
	}
	if !strings.Contains(all.String(), "resent 1, failed 1") {
		t.Fatalf("the run:\n%s", all.String())
	}
}

// capContent is CAP's Message as it stores it in Content: {"Headers":
// {...}, "Value": ...}.
func capContent(headers [][2]string, value string) string {
	var b strings.Builder
	b.WriteString(`{"Headers":{`)
	for i, h := range headers {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(h[0])
		v, _ := json.Marshal(h[1])
		fmt.Fprintf(&b, "%s:%s", k, v)
	}
	return b.String() + `},"Value":` + value + "}"
}

// TestResendCAP: rows of DotNetCore.CAP's published table, created with
// CAP's own DDL (backends/store/testdata/cap_postgresql.sql, rendered as
// CAP's storage initializer does), resent to Kafka: each Scheduled or
// Failed row old enough published once with CAP's envelope headers on the
// wire (in order, cap-msg-id not added twice), its Value as the body, its
// cap-kafka-key (else its message id) as the key; StatusName Succeeded and
// Retries + 1 after.
func TestResendCAP(t *testing.T) {
	w := newReplayWorld(t)
	db := newAppDB(t, "postgres")
	ddl, err := os.ReadFile(filepath.Join(repoRoot(t), "backends", "store", "testdata", "cap_postgresql.sql"))
	if err != nil {
		t.Fatal(err)
	}
	schema := "cap_hxresend_" + hexSuffix()
	published := `"` + schema + `"."published"`
	db.exec(strings.NewReplacer("{schema}", schema, "{GetPublishedTableName()}", published, "{GetReceivedTableName()}", `"`+schema+`"."received"`).Replace(string(ddl)))
	t.Cleanup(func() { _, _ = db.raw.Exec(`DROP SCHEMA "` + schema + `" CASCADE`) })
	topic := w.topic("cap", 3, nil)
	headers := func(id string, extra ...[2]string) [][2]string {
		return append([][2]string{{"cap-msg-id", id}, {"cap-msg-name", topic}, {"cap-msg-type", "Order"},
			{"cap-senttime", "2026-12-03T10:00:00.0000000+01:00"}, {"cap-corr-id", id}, {"cap-corr-seq", "0"}}, extra...)
	}
	for _, r := range []struct {
		id      int64
		status  string
		age     time.Duration
		retries int
		content string
	}{
		{8001, "Scheduled", 10 * time.Minute, 0, capContent(headers("8001"), `{"OrderId":1}`)},
		{8002, "Failed", 20 * time.Minute, 3, capContent(headers("8002", [2]string{"cap-kafka-key", "customer-9"}), `{"OrderId":2}`)},
		{8003, "Succeeded", 30 * time.Minute, 0, capContent(headers("8003"), `{}`)},
		{8004, "Scheduled", time.Second, 0, capContent(headers("8004"), `{}`)},
	} {
		if _, err := db.raw.Exec(`INSERT INTO `+published+` ("Id","Version","Name","Content","Retries","Added","StatusName") VALUES ($1,'v1',$2,$3,$4,`+db.ago(r.age)+`,$5)`,
			r.id, topic, r.content, r.retries, r.status); err != nil {
			t.Fatal(err)
		}
	}
	cfg := storeContext(t, w.brokers, "", db, "{broker: kafka}", "      preset: cap\n      schema: "+schema+"\n")
	env := []string{"APPDB_DSN=" + db.dsn, "XDG_STATE_HOME=" + t.TempDir()}
	res := runResendYes(t, env, cfg, 2, 0)
	if res.SkippedConsumed != 0 {
		t.Fatalf("%+v", res)
	}
	recs := w.records(topic)
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	for _, r := range recs {
		id := headerOf(r, "cap-msg-id")
		want := headers(id)
		key, value := id, `{"OrderId":1}`
		if id == "8002" {
			want = headers(id, [2]string{"cap-kafka-key", "customer-9"})
			key, value = "customer-9", `{"OrderId":2}`
		}
		var got [][2]string
		for _, h := range r.Headers {
			got = append(got, [2]string{h.Key, string(h.Value)})
		}
		if !reflect.DeepEqual(got, want) || string(r.Key) != key || string(r.Value) != value {
			t.Fatalf("%s: headers %v key %q value %s", id, got, r.Key, r.Value)
		}
	}
	rs, err := db.raw.Query(`SELECT "Id", "StatusName", "Retries" FROM ` + published + ` ORDER BY "Id"`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var got []string
	for rs.Next() {
		var id int64
		var status string
		var retries int
		if err := rs.Scan(&id, &status, &retries); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s %d", id, status, retries))
	}
	if want := []string{"8001 Succeeded 1", "8002 Succeeded 4", "8003 Succeeded 0", "8004 Scheduled 0"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
}

// TestResendRefusals: in a read-only context a resend is refused (and
// audited) before the database is opened; without --yes and no terminal
// to confirm on it is refused after its plan, changing nothing; mqops
// consumed exits 0 whether the id was consumed or not.
func TestResendRefusals(t *testing.T) {
	db := newAppDB(t, "sqlite")
	db.schema()
	db.insert(outboxRow{msgID: "r-1", dest: "orders", age: 10 * time.Minute})
	db.exec("INSERT INTO mqops_consumed (message_id, consumer) VALUES ('r-1', 'billing')")
	bin := mqopsBin(t)
	state := t.TempDir()
	env := []string{"APPDB_DSN=" + db.dsn, "XDG_STATE_HOME=" + state}
	readOnly := storeContext(t, []string{"127.0.0.1:1"}, "    read-only: true\n", db, "{broker: kafka}", "")
	_, stderr, err := run(t, 30*time.Second, env, bin, "--config", readOnly, "resend", "--yes")
	if exitCode(err) != 1 || !strings.Contains(stderr, `context "t" is read-only: resends are not available`) {
		t.Fatalf("read-only: exit %d %s", exitCode(err), stderr)
	}
	cfg := storeContext(t, []string{"127.0.0.1:1"}, "", db, "{broker: kafka}", "")
	_, stderr, err = run(t, 30*time.Second, env, bin, "--config", cfg, "resend")
	if exitCode(err) != 1 || !strings.Contains(stderr, "refusing to resend without confirmation: no terminal to ask on") || !strings.Contains(stderr, "plan: resend 1 of 1") {
		t.Fatalf("no terminal: exit %d %s", exitCode(err), stderr)
	}
	if s := db.states()["r-1"]; s.Status != "pending" || s.Attempts != 0 {
		t.Fatalf("r-1 %+v", s)
	}
	out, _, err := run(t, 30*time.Second, env, bin, "audit", "-o", "json")
	if err != nil || strings.Count(out, `"outcome": "refused"`) != 2 || !strings.Contains(out, `"action": "resend"`) {
		t.Fatalf("audit %v\n%s", err, out)
	}
	for id, want := range map[string]string{"r-1": `{"message_id":"r-1","consumed":true,"consumptions":[{"consumer":"billing","consumed_at":`, "r-2": `{"message_id":"r-2","consumed":false,"consumptions":[]}`} {
		out, stderr, err := run(t, 30*time.Second, env, bin, "--config", cfg, "consumed", id, "-o", "json")
		if err != nil || !strings.HasPrefix(strings.Join(strings.Fields(out), ""), strings.ReplaceAll(want, " ", "")) {
			t.Fatalf("consumed %s: %v %s %s", id, err, out, stderr)
		}
	}
}
