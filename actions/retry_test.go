package actions

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/kafka"
	"github.com/mqops/mqops/backends/rabbitmq"
	"github.com/mqops/mqops/backends/store"
)

// retryRow is a row to insert into mqops_retry (SQLite).
type retryRow struct {
	msgID, dest, err, status string
	attempts, max            int
	noPayload                bool
}

func (e *resendEnv) insertRetry(t *testing.T, rows ...retryRow) {
	t.Helper()
	for i, r := range rows {
		var dest, payload, headers any
		if r.dest != "" {
			dest = r.dest
		}
		if !r.noPayload {
			payload, headers = []byte("retry payload of "+r.msgID), `[{"key":"tenant","value":"acme"},{"key":"trace","value":"t-`+r.msgID+`"}]`
		}
		max := r.max
		if max == 0 {
			max = 10
		}
		_, err := e.db.Exec(`INSERT INTO mqops_retry (message_id, destination, payload, headers, error, attempts, max_attempts, status, next_retry_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, strftime('%Y-%m-%d %H:%M:%f','now','+1 hour'), strftime('%Y-%m-%d %H:%M:%f','now','-`+fmt.Sprint(100-i)+` seconds'))`,
			r.msgID, dest, payload, headers, r.err, r.attempts, max, r.status)
		if err != nil {
			t.Fatal(err)
		}
	}
}

// retryTable is every column of every retry row as text, by message id:
// what "unchanged" means.
func (e *resendEnv) retryTable(t *testing.T) map[string]string {
	t.Helper()
	rs, err := e.db.Query(`SELECT message_id, COALESCE(destination,''), quote(payload), COALESCE(headers,''), error, attempts, max_attempts,
		status, COALESCE(next_retry_at,''), created_at FROM mqops_retry`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	out := map[string]string{}
	for rs.Next() {
		vals := make([]string, 10)
		ptrs := make([]any, 10)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out[vals[0]] = strings.Join(vals[1:], "|")
	}
	return out
}

const gatewayGroup = "payment gateway timeout after <n>ms for order <n>"

func gateway(i int) string {
	return fmt.Sprintf("payment gateway timeout after %dms for order %d", 3000+i, 100+i)
}

// TestRetryNowAndGiveUp: the plan of retry now for an error group lists
// exactly its waiting and dead rows and changes nothing; a row the
// application changes between the plan and the run is left alone and
// counted; the others become due now (a dead row at its maximum waiting
// with one more attempt); every other row is byte-for-byte as it was. Give
// up plans only waiting rows (a dead one given is noted) and marks them
// dead. Each outcome audited once with its equivalent command.
func TestRetryNowAndGiveUp(t *testing.T) {
	e := newResendEnv(t)
	e.insertRetry(t,
		retryRow{msgID: "g0", dest: "orders", err: gateway(0), status: "waiting", attempts: 1},
		retryRow{msgID: "g1", dest: "orders", err: gateway(1), status: "waiting", attempts: 2},
		retryRow{msgID: "g2", dest: "orders", err: gateway(2), status: "waiting", attempts: 3},
		retryRow{msgID: "g3", dest: "orders", err: gateway(3), status: "dead", attempts: 10},
		retryRow{msgID: "g4", dest: "orders", err: gateway(4), status: "done", attempts: 4},
		retryRow{msgID: "s0", dest: "orders", err: `StockError: "sku-1" out of stock`, status: "waiting", attempts: 1},
		retryRow{msgID: "s1", dest: "orders", err: `StockError: "sku-2" out of stock`, status: "dead", attempts: 10},
	)
	before := e.retryTable(t)
	run := &Runner{Audit: NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl")), Globals: []string{"--context", "test"}}
	a := &RetryRows{Store: e.st, Options: RetryOptions{Context: "test", Op: RetryOpNow, ErrorGroup: gatewayGroup}}
	p, err := run.Plan(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	plan := p.(*RetryPlan)
	var ids []string
	for _, r := range plan.Rows {
		ids = append(ids, r.MessageID)
	}
	if !reflect.DeepEqual(ids, []string{"g0", "g1", "g2", "g3"}) || plan.Selected != 4 || plan.Matched != 4 || len(plan.Groups) != 1 || plan.Groups[0] != (RetryPlanGroup{gatewayGroup, 4}) ||
		plan.Rows[3].Status != "dead" || plan.Rows[0].Attempts != 1 || plan.Rows[0].LastError != gateway(0) {
		t.Fatalf("plan %v %+v", ids, plan)
	}
	if after := e.retryTable(t); !reflect.DeepEqual(before, after) {
		t.Fatalf("the plan changed the table")
	}
	// the application's job takes g1 meanwhile
	if _, err := e.db.Exec("UPDATE mqops_retry SET attempts = attempts + 1 WHERE message_id = 'g1'"); err != nil {
		t.Fatal(err)
	}
	before = e.retryTable(t)
	var seen []Progress
	res, err := run.Execute(context.Background(), a, plan, func(p Progress) { seen = append(seen, p) })
	r, _ := res.(*RetryResult)
	if err != nil || r == nil || r.Changed != 3 || r.Skipped != 1 || r.SkippedChanged != 1 || r.Left != 0 || r.StoppedBecause != ResendStopEnd {
		t.Fatalf("run: %v %+v", err, r)
	}
	if last := seen[len(seen)-1]; last.Done != 3 || last.Skipped != 1 || last.Seen != 4 || last.Total != 4 {
		t.Fatalf("progress %+v", seen)
	}
	var dueNow int
	if err := e.db.QueryRow("SELECT COUNT(*) FROM mqops_retry WHERE message_id IN ('g0','g2','g3') AND status = 'waiting' AND julianday(next_retry_at) <= julianday('now')").Scan(&dueNow); err != nil || dueNow != 3 {
		t.Fatalf("due now: %d %v", dueNow, err)
	}
	var g3max int
	if err := e.db.QueryRow("SELECT max_attempts FROM mqops_retry WHERE message_id = 'g3'").Scan(&g3max); err != nil || g3max != 11 {
		t.Fatalf("g3 max_attempts %d %v", g3max, err)
	}
	after := e.retryTable(t)
	for id, row := range before {
		if id != "g0" && id != "g2" && id != "g3" && after[id] != row {
			t.Errorf("%s changed:\n%s\n%s", id, row, after[id])
		}
	}
	es, _, _ := run.Audit.Read(0)
	if len(es) != 1 || es[0].Action != "retry-now" || es[0].Outcome != OutcomeExecuted || es[0].Command != "mqops --context test retry now --error '"+gatewayGroup+"'" ||
		es[0].Plan.Selected != 4 || es[0].Result.Done != 3 || es[0].Result.Skipped != 1 {
		t.Fatalf("audit %+v", es)
	}

	// give up: only waiting rows; the dead one given is noted
	g := &RetryRows{Store: e.st, Options: RetryOptions{Context: "test", Op: RetryOpGiveUp, IDs: []string{"6", "7"}}}
	p, err = run.Plan(context.Background(), g)
	if err != nil {
		t.Fatal(err)
	}
	gp := p.(*RetryPlan)
	if gp.Selected != 1 || gp.Rows[0].MessageID != "s0" || len(gp.Notes) != 1 || !strings.Contains(gp.Notes[0], `"7"`) {
		t.Fatalf("give-up plan %+v", gp)
	}
	before = e.retryTable(t)
	res, err = run.Execute(context.Background(), g, gp, nil)
	if r := res.(*RetryResult); err != nil || r.Changed != 1 {
		t.Fatalf("give up: %v %+v", err, res)
	}
	after = e.retryTable(t)
	for id, row := range before {
		want := row
		if id == "s0" {
			want = strings.Replace(row, "|waiting|", "|dead|", 1)
		}
		if after[id] != want {
			t.Errorf("%s:\n%s\nwant\n%s", id, after[id], want)
		}
	}
	// the same plan again: the row changed since, nothing more
	res, err = run.Execute(context.Background(), &RetryRows{Store: e.st, Options: RetryOptions{Context: "test", Op: RetryOpGiveUp, IDs: []string{"6", "7"}, RunID: gp.RunID}}, gp, nil)
	if r := res.(*RetryResult); err != nil || r.Changed != 0 || r.SkippedGone+r.SkippedChanged != 1 {
		t.Fatalf("again: %v %+v", err, res)
	}
}

// TestRetryRepublish: a republish publishes each row's payload and
// headers, with the message id header, to the topic its destination
// routes to, and marks it done once the broker confirmed; a row without a
// destination is a problem of the plan and left alone; a row whose topic
// does not exist fails, is left exactly as it was, and its error counted.
func TestRetryRepublish(t *testing.T) {
	e := newResendEnv(t)
	e.insertRetry(t,
		retryRow{msgID: "r0", dest: "orders", err: gateway(0), status: "waiting", attempts: 1},
		retryRow{msgID: "r1", dest: "payments", err: gateway(1), status: "dead", attempts: 10},
		retryRow{msgID: "r2", dest: "orders", err: gateway(2), status: "waiting", attempts: 2},
		retryRow{msgID: "nd", err: gateway(3), status: "waiting", attempts: 1},
		retryRow{msgID: "bad", dest: "nosuchtopic", err: gateway(4), status: "waiting", attempts: 1},
	)
	run := &Runner{Audit: NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))}
	a := &RetryRows{Store: e.st, Publisher: e.k, Options: RetryOptions{Context: "test", Op: RetryOpRepublish, ErrorGroup: gatewayGroup, Route: kafkaRoute}}
	p, err := run.Plan(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	plan := p.(*RetryPlan)
	if plan.Selected != 4 || plan.NoDestination != 1 || len(plan.Problems) != 1 || !strings.Contains(plan.Problems[0], `"4"`) ||
		plan.Rows[0].Target != "kafka:orders" || plan.Rows[1].Target != "kafka:payments" || plan.MessageIDHeader != "mqops-message-id" {
		t.Fatalf("plan %+v", plan)
	}
	before := e.retryTable(t)
	res, err := run.Execute(context.Background(), a, plan, nil)
	r := res.(*RetryResult)
	if err != nil || r.Changed != 3 || r.Failed != 1 || len(r.Errors) != 1 || !strings.Contains(r.Errors[0], "nosuchtopic") || r.Left != 0 {
		t.Fatalf("run: %v %+v", err, r)
	}
	after := e.retryTable(t)
	for _, id := range []string{"nd", "bad"} {
		if after[id] != before[id] {
			t.Errorf("%s changed:\n%s\n%s", id, before[id], after[id])
		}
	}
	for _, id := range []string{"r0", "r1", "r2"} {
		if !strings.Contains(after[id], "|done|") {
			t.Errorf("%s: %s", id, after[id])
		}
	}
	for topic, want := range map[string][]string{"orders": {"r0", "r2"}, "payments": {"r1"}} {
		got := consumeAll(t, e.brokers, topic)
		if len(got) != len(want) {
			t.Fatalf("%s: %v", topic, got)
		}
		for _, id := range want {
			recs := got[id]
			if len(recs) != 1 {
				t.Fatalf("%s: %s published %d times", topic, id, len(recs))
			}
			rec := recs[0]
			if string(rec.Value) != "retry payload of "+id || len(rec.Headers) != 3 || rec.Headers[0].Key != "tenant" || string(rec.Headers[1].Value) != "t-"+id ||
				rec.Headers[2].Key != "mqops-message-id" || string(rec.Headers[2].Value) != id {
				t.Fatalf("%s: %+v", id, rec)
			}
		}
	}
}

// TestRetryOptionsValidate: every number checked, a selection required,
// a read-only context refused, each with a clear error naming the flag.
func TestRetryOptionsValidate(t *testing.T) {
	for _, c := range []struct {
		o    RetryOptions
		want string
	}{
		{RetryOptions{Op: "now"}, "no rows selected"},
		{RetryOptions{Op: "later", IDs: []string{"1"}}, `"later" is not a retry action`},
		{RetryOptions{Op: "now", IDs: []string{"1"}, Rate: math.NaN()}, "--rate: NaN is not a number"},
		{RetryOptions{Op: "now", IDs: []string{"1"}, Rate: -1}, "--rate: -1 is out of range"},
		{RetryOptions{Op: "now", IDs: []string{"1"}, Rate: math.Inf(1)}, "--rate: +Inf"},
		{RetryOptions{Op: "now", IDs: []string{"1"}, Limit: -1}, "--limit: -1 is out of range"},
		{RetryOptions{Op: "now", IDs: []string{"1"}, Batch: MaxResendBatch + 1}, "--batch"},
		{RetryOptions{Op: "now", IDs: []string{"1", "1"}}, `--id: "1" is given twice`},
		{RetryOptions{Op: "now", IDs: []string{""}}, "--id: an empty id"},
		{RetryOptions{Op: "now", ErrorGroup: strings.Repeat("x", maxErrorGroupLength+1)}, "--error: is 8193 bytes long"},
		{RetryOptions{Op: "republish", IDs: []string{"1"}}, "no route"},
		{RetryOptions{Op: "give-up", IDs: []string{"1"}, ReadOnly: true, Context: "prod"}, `context "prod" is read-only`},
	} {
		err := c.o.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.o, err, c.want)
		}
	}
	o := RetryOptions{Op: "now", IDs: []string{"1"}}
	if err := o.Validate(); err != nil || o.Batch != DefaultRetryBatch || o.RunID == "" {
		t.Fatalf("%v %+v", err, o)
	}
}

// TestRetryCancelled: a run cancelled after its first batch has changed
// that batch only; the rest is left, counted, and the outcome audited as
// cancelled.
func TestRetryCancelled(t *testing.T) {
	e := newResendEnv(t)
	var rows []retryRow
	for i := range 12 {
		rows = append(rows, retryRow{msgID: fmt.Sprintf("c%02d", i), dest: "orders", err: gateway(i), status: "waiting", attempts: 1})
	}
	e.insertRetry(t, rows...)
	run := &Runner{Audit: NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))}
	a := &RetryRows{Store: e.st, Options: RetryOptions{Context: "test", Op: RetryOpGiveUp, ErrorGroup: gatewayGroup, Batch: 4}}
	p, err := run.Plan(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := run.Execute(ctx, a, p, func(p Progress) {
		if p.Done >= 4 {
			cancel()
		}
	})
	r := res.(*RetryResult)
	if err == nil || r.StoppedBecause != ResendStopCancelled || r.Changed != 4 || r.Left != 8 {
		t.Fatalf("%v %+v", err, r)
	}
	dead := 0
	for _, row := range e.retryTable(t) {
		if strings.Contains(row, "|dead|") {
			dead++
		}
	}
	if dead != 4 {
		t.Fatalf("%d dead", dead)
	}
	if es, _, _ := run.Audit.Read(0); len(es) != 1 || es[0].Outcome != OutcomeCancelled || es[0].Result.Done != 4 || es[0].Result.Left != 8 {
		t.Fatalf("audit %+v", es)
	}
}

// the store and the clients implement what the actions need of them
var (
	_ backends.RetryStore          = (*store.Store)(nil)
	_ backends.MessageStore        = (*store.Store)(nil)
	_ backends.KafkaMessageFinder  = (*kafka.Client)(nil)
	_ backends.RabbitMessageFinder = (*rabbitmq.Client)(nil)
)
