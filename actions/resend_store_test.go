package actions

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/kafka"
	"github.com/mqops/mqops/backends/store"
)

// resendEnv is an SQLite database with mqops' reference tables, opened as
// a store, and a kfake cluster with topics orders (3 partitions) and
// payments (2) published to through a kafka.Client.
type resendEnv struct {
	db      *sql.DB
	st      *store.Store
	k       *kafka.Client
	brokers []string
	path    string // the SQLite file
}

func newResendEnv(t *testing.T) *resendEnv {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "orders"), kfake.SeedTopics(2, "payments"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	path := filepath.Join(t.TempDir(), "app.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ddl, err := store.Schema("sqlite")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ddl); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), store.Options{Driver: "sqlite", DSN: path, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	k, err := kafka.New(kafka.Config{Brokers: c.ListenAddrs(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return &resendEnv{db: db, st: st, k: k, brokers: c.ListenAddrs(), path: path}
}

// insert adds a pending row created age ago; more columns in extra
// (status, attempts, last_attempt_at as an SQLite time expression).
func (e *resendEnv) insert(t *testing.T, msgID, dest, key string, age time.Duration, extra map[string]string) {
	t.Helper()
	cols := []string{"message_id", "destination", "message_key", "payload", "headers", "created_at"}
	vals := []string{"?", "?", "?", "?", "?", fmt.Sprintf("strftime('%%Y-%%m-%%d %%H:%%M:%%f','now','-%d seconds')", int(age.Seconds()))}
	for c, v := range extra {
		cols, vals = append(cols, c), append(vals, v)
	}
	var k any = key
	if key == "" {
		k = nil
	}
	_, err := e.db.Exec("INSERT INTO mqops_outbox ("+strings.Join(cols, ",")+") VALUES ("+strings.Join(vals, ",")+")",
		msgID, dest, k, []byte("payload of "+msgID), `[{"key":"tenant","value":"acme"},{"key":"trace","value":"t-`+msgID+`"}]`)
	if err != nil {
		t.Fatal(err)
	}
}

type outboxState struct {
	status    string
	attempts  int
	lastError string
}

func (e *resendEnv) rows(t *testing.T) map[string]outboxState {
	t.Helper()
	rs, err := e.db.Query("SELECT message_id, status, attempts, COALESCE(last_error, '') FROM mqops_outbox")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	out := map[string]outboxState{}
	for rs.Next() {
		var id string
		var s outboxState
		if err := rs.Scan(&id, &s.status, &s.attempts, &s.lastError); err != nil {
			t.Fatal(err)
		}
		out[id] = s
	}
	return out
}

// consumeAll reads every record of topic: per message id header, the
// records (partition, key, headers).
func consumeAll(t *testing.T, brokers []string, topic string) map[string][]*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	end := 0
	k, _ := kafka.New(kafka.Config{Brokers: brokers, Timeout: 5 * time.Second})
	defer k.Close()
	r, err := k.ResolveRange(context.Background(), backends.KafkaRangeQuery{Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Parts {
		end += int(p.End - p.Start)
	}
	out := map[string][]*kgo.Record{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for n := 0; n < end; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s", n, end, topic)
		}
		fs.EachRecord(func(r *kgo.Record) {
			n++
			id := ""
			for _, h := range r.Headers {
				if h.Key == "mqops-message-id" {
					id = string(h.Value)
				}
			}
			out[id] = append(out[id], r)
		})
	}
	return out
}

// TestResendPlanAndRun: the plan lists exactly the pending rows old
// enough, per destination with its target, the consumed one counted, the
// one attempted a moment ago (in flight elsewhere) and the later row of
// its key passed over, and changes nothing; the run publishes each
// selected row once with its key, headers and message id header, marks it
// sent with attempts + 1, and leaves the rows of a topic that does not
// exist pending with their error. Audited once, with the equivalent
// command.
func TestResendPlanAndRun(t *testing.T) {
	e := newResendEnv(t)
	old := 10 * time.Minute
	for i := range 12 {
		e.insert(t, fmt.Sprintf("o-%02d", i), "orders", fmt.Sprintf("k%d", i%4), old+time.Duration(12-i)*time.Second, nil)
	}
	for i := range 3 {
		e.insert(t, fmt.Sprintf("p-%d", i), "payments", "", old, nil)
	}
	e.insert(t, "x-0", "nosuchtopic", "", old, nil)
	e.insert(t, "evil", "evil\x1b[31m\u202e", "", old, nil)
	e.insert(t, "young", "orders", "k9", time.Second, nil)
	e.insert(t, "done", "orders", "k9", old, map[string]string{"status": "'sent'"})
	e.insert(t, "busy-1", "payments", "kb", old+time.Minute, map[string]string{"attempts": "3", "last_attempt_at": "strftime('%Y-%m-%d %H:%M:%f','now')"})
	e.insert(t, "busy-2", "payments", "kb", old, nil)
	if _, err := e.db.Exec("INSERT INTO mqops_consumed (message_id, consumer) VALUES ('o-05', 'billing')"); err != nil {
		t.Fatal(err)
	}
	before := e.rows(t)

	run := &Runner{Audit: NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl")), Globals: []string{"--context", "test"}}
	a := &Resend{Store: e.st, Publisher: e.k, Options: ResendOptions{Context: "test", Route: kafkaRoute, Batch: 5}}
	p, err := run.Plan(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	plan := p.(*ResendPlan)
	if len(plan.Rows) != 19 || plan.Selected != 16 || plan.Pending != 19 || plan.Consumed != 1 || !plan.ConsumedChecked || plan.InFlight != 1 || plan.Held != 1 ||
		plan.Unroutable != 1 || len(plan.Problems) != 1 || !strings.Contains(plan.Problems[0], "is not a Kafka topic name") || len(plan.Destinations) != 4 || plan.MessageIDHeader != "mqops-message-id" {
		t.Fatalf("plan %+v", plan)
	}
	if r := plan.Rows[0]; r.MessageID != "busy-1" || r.Skip != "in-flight" || plan.Rows[len(plan.Rows)-1].MessageID == "young" {
		t.Fatalf("rows %+v", plan.Rows)
	}
	for _, d := range plan.Destinations {
		if d.Destination == "orders" && (d.Rows != 12 || d.Selected != 12 || d.Consumed != 1 || d.Target != "kafka:orders") {
			t.Fatalf("orders %+v", d)
		}
	}
	if got := e.rows(t); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("the plan changed the table:\n%v\n%v", before, got)
	}
	var seen []Progress
	res, err := run.Execute(context.Background(), a, plan, func(p Progress) { seen = append(seen, p) })
	r, _ := res.(*ResendResult)
	if err != nil || r == nil {
		t.Fatalf("run: %v %+v", err, r)
	}
	if r.Resent != 15 || r.Failed != 1 || r.Skipped != 0 || r.Left != 0 || r.StoppedBecause != ResendStopEnd || len(r.Errors) != 1 || !strings.Contains(r.Errors[0], "nosuchtopic") {
		t.Fatalf("result %+v", r)
	}
	if last := seen[len(seen)-1]; last.Done != 15 || last.Failed != 1 || last.Seen != 16 || last.Total != 16 {
		t.Fatalf("progress %+v", seen)
	}
	after := e.rows(t)
	for id, s := range after {
		switch {
		case strings.HasPrefix(id, "o-") || strings.HasPrefix(id, "p-"):
			if s.status != "sent" || s.attempts != 1 {
				t.Errorf("%s: %+v", id, s)
			}
		case id == "x-0":
			if s.status != "pending" || s.attempts != 1 || !strings.Contains(s.lastError, "nosuchtopic") {
				t.Errorf("%s: %+v", id, s)
			}
		default: // young, done, busy-1, busy-2, evil: untouched
			if s != before[id] {
				t.Errorf("%s: %+v, was %+v", id, s, before[id])
			}
		}
	}
	orders := consumeAll(t, e.brokers, "orders")
	if len(orders) != 12 {
		t.Fatalf("orders: %d message ids", len(orders))
	}
	partOf := map[string]int32{}
	for id, recs := range orders {
		if len(recs) != 1 {
			t.Fatalf("%s published %d times", id, len(recs))
		}
		rec := recs[0]
		if string(rec.Value) != "payload of "+id || len(rec.Headers) != 3 || rec.Headers[0].Key != "tenant" || string(rec.Headers[1].Value) != "t-"+id {
			t.Fatalf("%s: %+v", id, rec)
		}
		k := string(rec.Key)
		if p, ok := partOf[k]; ok && p != rec.Partition {
			t.Fatalf("key %s in partitions %d and %d", k, p, rec.Partition)
		}
		partOf[k] = rec.Partition
	}
	// a key's rows in order: the offsets of one key's rows follow their ages
	byKey := map[string][]*kgo.Record{}
	for i := range 12 {
		rec := orders[fmt.Sprintf("o-%02d", i)][0]
		byKey[string(rec.Key)] = append(byKey[string(rec.Key)], rec)
	}
	for k, recs := range byKey {
		for i := 1; i < len(recs); i++ {
			if recs[i].Offset <= recs[i-1].Offset {
				t.Fatalf("key %s out of order", k)
			}
		}
	}
	es, _, _ := run.Audit.Read(0)
	if len(es) != 1 || es[0].Outcome != OutcomeExecuted || es[0].Command != "mqops --context test resend --batch 5" || es[0].Result.Done != 15 || es[0].Plan.Selected != 16 {
		t.Fatalf("audit %+v", es)
	}
	// the same plan again: every row changed since, nothing is published
	a2 := &Resend{Store: e.st, Publisher: e.k, Options: ResendOptions{Context: "test", Route: kafkaRoute, RunID: plan.RunID, Batch: 5}}
	res, err = run.Execute(context.Background(), a2, plan, nil)
	if r := res.(*ResendResult); err != nil || r.Resent != 0 || r.SkippedGone != 15 || r.SkippedClaimed != 1 {
		t.Fatalf("again: %v %+v", err, res)
	}
	if n := len(consumeAll(t, e.brokers, "orders")); n != 12 {
		t.Fatalf("orders again: %d", n)
	}
}

// TestResendSkipConsumedAndCancel: --skip-consumed leaves the consumed
// row pending; a run cancelled after its first batch marks what the broker
// confirmed and leaves the others untouched (attempts 0), counted as left.
func TestResendSkipConsumedAndCancel(t *testing.T) {
	e := newResendEnv(t)
	for i := range 20 {
		e.insert(t, fmt.Sprintf("o-%02d", i), "orders", "", 10*time.Minute, nil)
	}
	if _, err := e.db.Exec("INSERT INTO mqops_consumed (message_id, consumer) VALUES ('o-00', 'billing')"); err != nil {
		t.Fatal(err)
	}
	run := &Runner{Audit: NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))}
	a := &Resend{Store: e.st, Publisher: e.k, Options: ResendOptions{Context: "test", Route: kafkaRoute, Batch: 4, SkipConsumed: true}}
	p, err := run.Plan(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	plan := p.(*ResendPlan)
	if plan.Selected != 19 || plan.Consumed != 1 || plan.Rows[0].Skip != "consumed" {
		t.Fatalf("plan %+v", plan)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := run.Execute(ctx, a, plan, func(p Progress) {
		if p.Done >= 4 {
			cancel()
		}
	})
	r := res.(*ResendResult)
	if err == nil || r.StoppedBecause != ResendStopCancelled || r.Resent != 4 || r.Left != 15 || r.SkippedConsumed != 1 {
		t.Fatalf("cancelled: %v %+v", err, r)
	}
	sent, untouched := 0, 0
	for id, s := range e.rows(t) {
		switch {
		case s.status == "sent" && s.attempts == 1:
			sent++
		case s.status == "pending" && s.attempts == 0:
			untouched++
		default:
			t.Errorf("%s: %+v", id, s)
		}
	}
	if sent != 4 || untouched != 16 {
		t.Fatalf("sent %d, untouched %d", sent, untouched)
	}
	if es, _, _ := run.Audit.Read(0); len(es) != 1 || es[0].Outcome != OutcomeCancelled {
		t.Fatalf("audit %+v", es)
	}
}

// TestReplayCountsConsumed: with a store, a replay's plan reads the
// range and counts the records whose message id header the idempotency
// table holds; --skip-consumed leaves them out of the plan's counts and
// of the run; without a store nothing changes.
func TestReplayCountsConsumed(t *testing.T) {
	e := newResendEnv(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "src", "dst", "dst2"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const n = 3000 // more than one batch of lookups
	var recs []*kgo.Record
	for i := range n {
		r := &kgo.Record{Topic: "src", Partition: int32(i % 2), Value: fmt.Appendf(nil, "v-%d", i)}
		if i%10 != 9 {
			r.Headers = []kgo.RecordHeader{{Key: "mqops-message-id", Value: fmt.Appendf(nil, "id-%d", i)}}
		}
		recs = append(recs, r)
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	consumed := 0
	for i := 0; i < n; i += 7 {
		if i%10 != 9 {
			if _, err := e.db.Exec("INSERT INTO mqops_consumed (message_id, consumer) VALUES (?, 'c')", fmt.Sprintf("id-%d", i)); err != nil {
				t.Fatal(err)
			}
			consumed++
		}
	}
	k, err := kafka.New(kafka.Config{Brokers: c.ListenAddrs(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	dir := t.TempDir()
	run := &Runner{Audit: NewAuditLog(filepath.Join(dir, "audit.jsonl"))}
	opts := func(to string, skip bool) ReplayOptions {
		return ReplayOptions{Context: "test", Brokers: c.ListenAddrs(), Source: "src", To: to, StateDir: dir, SkipConsumed: skip}
	}

	// counted, replayed all the same
	a := &Replay{Broker: k, Consumed: e.st, Options: opts("dst", false)}
	p, err := run.Plan(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	plan := p.(*ReplayPlan)
	if cs := plan.Consumed; cs == nil || cs.Consumed != consumed || cs.Checked != n-n/10 || cs.WithoutID != n/10 || cs.Skip || plan.Records != n || plan.Estimated {
		t.Fatalf("plan %+v consumed %+v", plan, plan.Consumed)
	}
	if a := plan.Audit(); a.Details["consumed"] == nil {
		t.Fatalf("audit %+v", a)
	}

	// skipped
	b := &Replay{Broker: k, Consumed: e.st, Options: opts("dst2", true)}
	p, err = run.Plan(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	plan = p.(*ReplayPlan)
	if plan.Records != n-consumed || !plan.Consumed.Skip || plan.Parts[0].Records+plan.Parts[1].Records != n-consumed || len(plan.Problems) != 0 {
		t.Fatalf("skip plan %+v", plan)
	}
	res, err := run.Execute(context.Background(), b, plan, nil)
	if r := res.(*ReplayResult); err != nil || r.Replayed != n-consumed || r.Filtered != consumed {
		t.Fatalf("run %v %+v", err, res)
	}
	if got := int(endOffsets(t, c.ListenAddrs(), "dst2")); got != n-consumed {
		t.Fatalf("dst2 holds %d records, want %d", got, n-consumed)
	}

	// a plan that does not read the whole range cannot skip past it
	o := opts("dst2", true)
	o.PlanLimit = 100
	pl, err := planReplay(context.Background(), k, o, e.st, nil)
	if err != nil || len(pl.Problems) != 1 || !strings.Contains(pl.Problems[0], "--skip-consumed: the plan read 100 record(s)") {
		t.Fatalf("limited plan %+v %v", pl, err)
	}
	// without a store: unchanged (nothing read: an estimate)
	pl, err = planReplay(context.Background(), k, opts("dst", false), nil, nil)
	if err != nil || pl.Consumed != nil {
		t.Fatalf("no store %+v %v", pl, err)
	}
}

// TestResendCommandCarriesPendingAfter: without --older-than, the
// equivalent command says the store's pending-after when it is not the
// default (a command given --store flags would otherwise select with
// 5m: other rows than the console planned).
func TestResendCommandCarriesPendingAfter(t *testing.T) {
	e := newResendEnv(t)
	a := &Resend{Store: e.st, Options: ResendOptions{Route: backends.Route{Broker: "kafka"}}}
	if args := a.Describe().Args; slices.Contains(args, "--older-than") {
		t.Fatalf("default pending-after: %q", args)
	}
	st, err := store.Open(context.Background(), store.Options{Driver: "sqlite", DSN: e.path, PendingAfter: 20 * time.Second, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a.Store = st
	if args := a.Describe().Args; !slices.Equal(args[:3], []string{"resend", "--older-than", "20s"}) {
		t.Fatalf("pending-after 20s: %q", args)
	}
	a.Options.OlderThan = time.Hour
	if args := a.Describe().Args; !slices.Equal(args[:3], []string{"resend", "--older-than", "1h0m0s"}) || slices.Contains(args, "20s") {
		t.Fatalf("--older-than 1h: %q", args)
	}
}
