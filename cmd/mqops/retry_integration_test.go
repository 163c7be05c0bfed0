package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/riverqueue/river/rivertype"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends/store/storetest"
)

// retrySpec is a row to insert into mqops_retry.
type retrySpec struct {
	msgID, dest, err, status string
	attempts                 int
	age                      time.Duration // created this long ago
	noPayload                bool
}

// ahead is an SQL expression: the database's now plus d.
func (db *appDB) ahead(d time.Duration) string {
	secs := strconv.FormatInt(int64(d.Seconds()), 10)
	switch db.driver {
	case "postgres":
		return "now() + make_interval(secs => " + secs + ")"
	case "mysql":
		return "NOW(6) + INTERVAL " + secs + " SECOND"
	}
	return "strftime('%Y-%m-%d %H:%M:%f','now','+" + secs + " seconds')"
}

func (db *appDB) insertRetries(rows ...retrySpec) {
	db.t.Helper()
	for _, r := range rows {
		var dest, payload, headers any
		if r.dest != "" {
			dest = r.dest
		}
		if !r.noPayload {
			payload = []byte("retry payload of " + r.msgID)
			headers = `[{"key":"tenant","value":"acme"},{"key":"trace","value":"t-` + r.msgID + `"}]`
		}
		age := r.age
		if age == 0 {
			age = time.Minute
		}
		q := fmt.Sprintf("INSERT INTO mqops_retry (message_id, destination, payload, headers, error, attempts, max_attempts, status, next_retry_at, created_at) VALUES (%s,%s,%s,%s,%s,%s,10,%s,%s,%s)",
			db.ph(1), db.ph(2), db.ph(3), db.ph(4), db.ph(5), db.ph(6), db.ph(7), db.ahead(time.Hour), db.ago(age))
		if _, err := db.raw.Exec(q, r.msgID, dest, payload, headers, r.err, r.attempts, r.status); err != nil {
			db.t.Fatalf("insert %s: %v", r.msgID, err)
		}
	}
}

// retryTable is every column of every retry row, rendered, by message id:
// what "byte-equal" compares.
func (db *appDB) retryTable() map[string]string {
	db.t.Helper()
	rs, err := db.raw.Query("SELECT message_id, id, destination, payload, headers, error, attempts, max_attempts, status, next_retry_at, created_at FROM mqops_retry")
	if err != nil {
		db.t.Fatal(err)
	}
	defer rs.Close()
	out := map[string]string{}
	for rs.Next() {
		vals := make([]any, 11)
		ptrs := make([]any, 11)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			db.t.Fatal(err)
		}
		var b strings.Builder
		for i, v := range vals[1:] {
			if i > 0 {
				b.WriteByte('|')
			}
			if x, ok := v.([]byte); ok {
				v = string(x)
			}
			fmt.Fprintf(&b, "%v", v)
		}
		out[fmt.Sprintf("%s", vals[0])] = b.String()
	}
	if err := rs.Err(); err != nil {
		db.t.Fatal(err)
	}
	return out
}

// retryStatus is a row's status and attempts.
func (db *appDB) retryStatus(msgID string) (status string, attempts int) {
	db.t.Helper()
	if err := db.raw.QueryRow("SELECT status, attempts FROM mqops_retry WHERE message_id = "+db.ph(1), msgID).Scan(&status, &attempts); err != nil {
		db.t.Fatal(err)
	}
	return status, attempts
}

// retryID is the id of a row.
func (db *appDB) retryID(msgID string) string {
	db.t.Helper()
	var id int64
	if err := db.raw.QueryRow("SELECT id FROM mqops_retry WHERE message_id = "+db.ph(1), msgID).Scan(&id); err != nil {
		db.t.Fatal(err)
	}
	return strconv.FormatInt(id, 10)
}

// orderedKeys is the keys of a JSON object in the order written.
func orderedKeys(t *testing.T, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", raw)
	}
	var out []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

const gatewayGroup = "payment gateway timeout after <n>ms for order <n>"

func gatewayError(i int) string {
	return fmt.Sprintf("payment gateway timeout after %dms for order %d", 3000+i, 4000+i)
}

// retriesRows: five rows of the gateway group (one dead, one done), two of
// a stock error (one dead).
func retriesRows(dest string) []retrySpec {
	return []retrySpec{
		{msgID: "g-0", dest: dest, err: gatewayError(0), status: "waiting", attempts: 1, age: 50 * time.Minute},
		{msgID: "g-1", dest: dest, err: gatewayError(1), status: "waiting", attempts: 2, age: 40 * time.Minute},
		{msgID: "g-2", dest: dest, err: gatewayError(2), status: "dead", attempts: 10, age: 30 * time.Minute},
		{msgID: "g-3", dest: dest, err: gatewayError(3), status: "waiting", attempts: 3, age: 20 * time.Minute},
		{msgID: "g-done", dest: dest, err: gatewayError(9), status: "done", attempts: 3, age: 60 * time.Minute},
		{msgID: "s-0", dest: dest, err: `StockError: "SKU-1" unavailable in warehouse "AMS"`, status: "waiting", attempts: 1, age: 45 * time.Minute},
		{msgID: "s-1", dest: dest, err: `StockError: "SKU-7" unavailable in warehouse "FRA"`, status: "dead", attempts: 10, age: 10 * time.Minute},
	}
}

// TestRetriesJSON: on PostgreSQL, MariaDB and SQLite (preset mqops),
// mqops retries -o json has exactly the keys in their order (then
// what mqops adds), the rows waiting or dead oldest first, and the groups
// by normalised error with their counts, first and last; --dead and
// --error select; the table prints the groups first.
func TestRetriesJSON(t *testing.T) {
	for _, driver := range []string{"postgres", "mysql", "sqlite"} {
		t.Run(driver, func(t *testing.T) {
			db := newAppDB(t, driver)
			db.schema()
			db.insertRetries(retriesRows("orders")...)
			cfg := storeContext(t, nil, "", db, "{broker: kafka}", "")
			env := []string{"APPDB_DSN=" + db.dsn}
			out, stderr, err := run(t, time.Minute, env, mqopsBin(t), "--config", cfg, "retries", "-o", "json")
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			if k := orderedKeys(t, []byte(out)); !reflect.DeepEqual(k, []string{"retries", "groups", "total", "more"}) {
				t.Fatalf("keys %v", k)
			}
			var doc struct {
				Retries []json.RawMessage `json:"retries"`
				Groups  []json.RawMessage `json:"groups"`
			}
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatal(err)
			}
			var order []string
			for _, raw := range doc.Retries {
				k := orderedKeys(t, raw)
				if !reflect.DeepEqual(k[:7], []string{"id", "status", "attempts", "max_attempts", "next_retry_at", "last_error", "destination"}) {
					t.Fatalf("row keys %v", k)
				}
				var r retryRowJSON
				if err := json.Unmarshal(raw, &r); err != nil {
					t.Fatal(err)
				}
				order = append(order, r.MessageID)
				switch r.Status {
				case "waiting":
					if r.NextRetryAt == nil || r.NextRetryAt.Before(time.Now()) {
						t.Fatalf("%s: next retry %v", r.MessageID, r.NextRetryAt)
					}
				case "dead":
					if r.NextRetryAt != nil {
						t.Fatalf("%s: a dead row with a next retry", r.MessageID)
					}
				}
				if r.MaxAttempts != 10 || r.Destination != "orders" || r.LastError == "" || r.ID == "" {
					t.Fatalf("row %+v", r)
				}
			}
			if !reflect.DeepEqual(order, []string{"g-0", "s-0", "g-1", "g-2", "g-3", "s-1"}) {
				t.Fatalf("rows %v", order)
			}
			var groups []retryGroupJSON
			for _, raw := range doc.Groups {
				if k := orderedKeys(t, raw); !reflect.DeepEqual(k, []string{"error", "count", "first", "last"}) {
					t.Fatalf("group keys %v", k)
				}
				var gr retryGroupJSON
				if err := json.Unmarshal(raw, &gr); err != nil {
					t.Fatal(err)
				}
				groups = append(groups, gr)
			}
			if len(groups) != 2 || groups[0].Error != gatewayGroup || groups[0].Count != 4 || groups[1].Count != 2 || groups[1].Error != `StockError: "…" unavailable in warehouse "…"` {
				t.Fatalf("groups %+v", groups)
			}
			// first and last: the group's oldest and newest rows (50 and 20 minutes ago)
			if d := groups[0].Last.Sub(groups[0].First); d < 29*time.Minute || d > 31*time.Minute || time.Since(groups[0].First) < 49*time.Minute {
				t.Fatalf("gateway first %v last %v", groups[0].First, groups[0].Last)
			}

			out, stderr, err = run(t, time.Minute, env, mqopsBin(t), "--config", cfg, "retries", "--dead", "-o", "json")
			var dead retriesJSON
			if err != nil || json.Unmarshal([]byte(out), &dead) != nil || len(dead.Retries) != 2 || dead.Retries[0].MessageID != "g-2" || dead.Retries[1].MessageID != "s-1" {
				t.Fatalf("--dead: %v %s %s", err, out, stderr)
			}
			out, stderr, err = run(t, time.Minute, env, mqopsBin(t), "--config", cfg, "retries", "--error", groups[1].Error, "-o", "json")
			var stock retriesJSON
			if err != nil || json.Unmarshal([]byte(out), &stock) != nil || len(stock.Retries) != 2 || stock.Retries[0].MessageID != "s-0" || len(stock.Groups) != 2 {
				t.Fatalf("--error: %v %s %s", err, out, stderr)
			}
			table, stderr, err := run(t, time.Minute, env, mqopsBin(t), "--config", cfg, "retries")
			if err != nil {
				t.Fatalf("%v %s", err, stderr)
			}
			gi, ri := strings.Index(table, "COUNT  FIRST"), strings.Index(table, "ID  STATUS")
			if gi != 0 || ri < 0 || !strings.Contains(table[:ri], "4      ") || !strings.Contains(table, "3/10") {
				t.Fatalf("table:\n%s", table)
			}
		})
	}
}

// TestRetriesRiver: on river's own schema (rivermigrate) with jobs that
// really failed in river workers, mqops retries lists the retryable and
// discarded jobs grouped by their two kinds of error; retry now on a
// retryable and on a discarded job makes a running river client work
// each again (its worker sees attempt + 1); give-up discards a retryable
// job, which river then never runs.
func TestRetriesRiver(t *testing.T) {
	ctx := context.Background()
	dsn := storetest.PostgresDSN(t)
	schema := storetest.RiverSchema(ctx, t, dsn)
	jobs := storetest.RiverFailingJobs(ctx, t, dsn, schema, 2)
	db := &appDB{t: t, driver: "postgres", dsn: dsn}
	cfg := storeContext(t, nil, "", db, "{broker: kafka}", "      preset: river\n      schema: "+schema+"\n")
	env := []string{"APPDB_DSN=" + dsn, "XDG_STATE_HOME=" + t.TempDir()}
	out, stderr, err := run(t, time.Minute, env, mqopsBin(t), "--config", cfg, "retries", "-o", "json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if k := orderedKeys(t, []byte(out)); !reflect.DeepEqual(k[:2], []string{"retries", "groups"}) {
		t.Fatalf("keys %v", k)
	}
	var doc retriesJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	listed := map[string]retryRowJSON{}
	for _, r := range doc.Retries {
		listed[r.ID] = r
	}
	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	if len(doc.Retries) != len(jobs.Retryable)+len(jobs.Discarded) {
		t.Fatalf("%d rows, want %d retryable + %d discarded:\n%s", len(doc.Retries), len(jobs.Retryable), len(jobs.Discarded), out)
	}
	for _, j := range jobs.Retryable {
		if r := listed[id(j)]; r.Status != "retryable" || r.Attempts != 1 || r.MaxAttempts != storetest.RetryAttempts || r.NextRetryAt == nil {
			t.Fatalf("retryable %d: %+v", j, r)
		}
	}
	for _, j := range jobs.Discarded {
		if r := listed[id(j)]; r.Status != "discarded" || r.Attempts != storetest.DiscardAttempts || r.NextRetryAt != nil {
			t.Fatalf("discarded %d: %+v", j, r)
		}
	}
	for _, j := range jobs.Cancelled {
		if _, ok := listed[id(j)]; ok {
			t.Fatalf("cancelled job %d listed", j)
		}
	}
	if len(doc.Groups) != 2 || doc.Groups[0].Count+doc.Groups[1].Count != len(doc.Retries) {
		t.Fatalf("groups %+v", doc.Groups)
	}
	kinds := map[string]int{}
	for _, gr := range doc.Groups {
		switch {
		case strings.HasPrefix(gr.Error, "payment gateway timeout after <n>ms"):
			kinds["timeout"] = gr.Count
		case strings.Contains(gr.Error, "stock"):
			kinds["stock"] = gr.Count
		}
		if gr.First.IsZero() || gr.Last.Before(gr.First) {
			t.Fatalf("group %+v", gr)
		}
	}
	if kinds["timeout"] != len(jobs.Timeout) || kinds["stock"] != len(jobs.Stock) {
		t.Fatalf("groups %+v, want %d timeouts and %d stock errors", doc.Groups, len(jobs.Timeout), len(jobs.Stock))
	}

	retryable, discarded, giveUp := jobs.Retryable[0], jobs.Discarded[0], jobs.Retryable[1]
	c := storetest.StartRiver(ctx, t, dsn, schema, false) // workers that succeed now
	for _, j := range []int64{retryable, discarded} {
		out, stderr, err := run(t, time.Minute, env, mqopsBin(t), "--config", cfg, "retry", "now", "--id", id(j), "--yes", "-o", "json")
		var res retryJSON
		if err != nil || json.Unmarshal([]byte(out), &res) != nil || res.Changed != 1 {
			t.Fatalf("retry now %d: %v %s %s", j, err, out, stderr)
		}
	}
	out, stderr, err = run(t, time.Minute, env, mqopsBin(t), "--config", cfg, "retry", "give-up", "--id", id(giveUp), "--yes", "-o", "json")
	if err != nil || !strings.Contains(out, `"changed": 1`) {
		t.Fatalf("give up: %v %s %s", err, out, stderr)
	}
	want := map[int64]int{retryable: 2, discarded: storetest.DiscardAttempts + 1}
	deadline := time.After(60 * time.Second)
	for len(want) > 0 {
		select {
		case w := <-c.Worked:
			if w.ID == giveUp {
				t.Fatalf("river ran the given-up job %d", giveUp)
			}
			if a, ok := want[w.ID]; ok {
				if w.Attempt != a {
					t.Fatalf("job %d worked at attempt %d, want %d", w.ID, w.Attempt, a)
				}
				delete(want, w.ID)
			}
		case <-deadline:
			t.Fatalf("river did not work %v again", want)
		}
	}
	c.WaitStates(ctx, []int64{retryable, discarded}, rivertype.JobStateCompleted)
	c.WaitStates(ctx, []int64{giveUp}, rivertype.JobStateDiscarded)
}

type retryDryRun struct {
	DryRun  bool              `json:"dry_run"`
	Plan    actions.RetryPlan `json:"plan"`
	Command string            `json:"command"`
}

// retryCmd runs mqops retry with args and decodes its -o json output; a
// dry run's plan, or a run's result.
func retryCmd(t *testing.T, env []string, cfg string, wantExit int, args ...string) (retryDryRun, retryJSON, string) {
	t.Helper()
	out, stderr, err := run(t, 2*time.Minute, env, mqopsBin(t), append(append([]string{"--config", cfg, "retry"}, args...), "-o", "json")...)
	if exitCode(err) != wantExit {
		t.Fatalf("retry %v: exit %d, want %d\n%s\n%s", args, exitCode(err), wantExit, out, stderr)
	}
	var dr retryDryRun
	var res retryJSON
	if out == "" && wantExit != 0 { // refused: nothing on stdout
		return dr, res, stderr
	}
	if err := json.Unmarshal([]byte(out), &dr); err != nil || (!dr.DryRun && json.Unmarshal([]byte(out), &res) != nil) {
		t.Fatalf("retry %v: %v\n%s\n%s", args, err, out, stderr)
	}
	return dr, res, stderr
}

func planned(dr retryDryRun) []string {
	var out []string
	for _, r := range dr.Plan.Rows {
		out = append(out, r.MessageID)
	}
	sort.Strings(out)
	return out
}

// TestRetryEndToEnd: with the built binary on PostgreSQL, MariaDB and
// SQLite: each dry run plans exactly the rows it would change and leaves
// the table byte-for-byte as it was; --yes changes exactly those rows (now:
// waiting and due; give-up: dead) and no other; republish puts each row's
// payload and headers with the message id header on the real Kafka topic
// and marks it done, while a row whose topic does not exist is left as it
// was, its error reported, exit status 1. One audit entry per outcome.
func TestRetryEndToEnd(t *testing.T) {
	for _, driver := range []string{"postgres", "mysql", "sqlite"} {
		t.Run(driver, func(t *testing.T) {
			w := newReplayWorld(t)
			db := newAppDB(t, driver)
			db.schema()
			topic := w.topic("orders", 3, nil)
			rows := retriesRows(topic)
			rows = append(rows, retrySpec{msgID: "g-bad", dest: w.prefix + ".missing", err: gatewayError(5), status: "waiting", attempts: 1, age: 5 * time.Minute},
				retrySpec{msgID: "g-nodest", err: gatewayError(6), status: "waiting", attempts: 1, age: 4 * time.Minute, noPayload: true})
			db.insertRetries(rows...)
			cfg := storeContext(t, w.brokers, "", db, "{broker: kafka}", "")
			state := t.TempDir()
			env := []string{"APPDB_DSN=" + db.dsn, "XDG_STATE_HOME=" + state}

			// retry now, the gateway group: its waiting and dead rows
			before := db.retryTable()
			dr, _, _ := retryCmd(t, env, cfg, 0, "now", "--error", gatewayGroup, "--dry-run")
			if got := planned(dr); !reflect.DeepEqual(got, []string{"g-0", "g-1", "g-2", "g-3", "g-bad", "g-nodest"}) || dr.Command != "mqops --config "+cfg+" --context t retry now --error '"+gatewayGroup+"'" {
				t.Fatalf("now plan %v %q", got, dr.Command)
			}
			if after := db.retryTable(); !reflect.DeepEqual(before, after) {
				t.Fatalf("the dry run changed the table")
			}
			_, res, _ := retryCmd(t, env, cfg, 0, "now", "--error", gatewayGroup, "--yes")
			if res.Changed != 6 || res.Skipped != 0 || res.Left != 0 {
				t.Fatalf("now: %+v", res)
			}
			after := db.retryTable()
			for id, row := range before {
				changed := after[id] != row
				if changed != slicesContains(planned(dr), id) {
					t.Errorf("%s changed %v:\n%s\n%s", id, changed, row, after[id])
				}
			}
			if s, _ := db.retryStatus("g-2"); s != "waiting" {
				t.Fatalf("the dead row is %s", s)
			}

			// give up: the stock group's waiting row only
			before = db.retryTable()
			dr, _, _ = retryCmd(t, env, cfg, 0, "give-up", "--error", `StockError: "…" unavailable in warehouse "…"`, "--dry-run")
			if got := planned(dr); !reflect.DeepEqual(got, []string{"s-0"}) || !reflect.DeepEqual(db.retryTable(), before) {
				t.Fatalf("give-up plan %v", got)
			}
			_, res, _ = retryCmd(t, env, cfg, 0, "give-up", "--error", `StockError: "…" unavailable in warehouse "…"`, "--yes")
			if res.Changed != 1 {
				t.Fatalf("give up: %+v", res)
			}
			after = db.retryTable()
			for id, row := range before {
				if want := id == "s-0"; (after[id] != row) != want {
					t.Errorf("%s:\n%s\n%s", id, row, after[id])
				}
			}
			if s, _ := db.retryStatus("s-0"); s != "dead" {
				t.Fatalf("s-0 is %s", s)
			}

			// republish by ids: two to the topic, one to a missing topic,
			// one without a destination (a problem of the plan)
			ids := []string{"--id", db.retryID("g-0"), "--id", db.retryID("g-3"), "--id", db.retryID("g-bad"), "--id", db.retryID("g-nodest")}
			before = db.retryTable()
			dr, _, _ = retryCmd(t, env, cfg, 0, append([]string{"republish", "--dry-run"}, ids...)...)
			if got := planned(dr); !reflect.DeepEqual(got, []string{"g-0", "g-3", "g-bad"}) || dr.Plan.NoDestination != 1 || len(dr.Plan.Problems) != 1 ||
				!reflect.DeepEqual(db.retryTable(), before) {
				t.Fatalf("republish plan %v %+v", got, dr.Plan)
			}
			if recs := w.records(topic); len(recs) != 0 {
				t.Fatalf("the dry run published %d records", len(recs))
			}
			_, _, stderr := retryCmd(t, env, cfg, 1, append([]string{"republish"}, ids...)...)
			if !strings.Contains(stderr, "the plan has problems") {
				t.Fatalf("without --yes: %s", stderr)
			}
			_, res, stderr = retryCmd(t, env, cfg, 1, append([]string{"republish", "--yes"}, ids...)...)
			if res.Changed != 2 || res.Failed != 1 || len(res.Errors) != 1 || !strings.Contains(res.Errors[0], "unknown topic") || !strings.Contains(stderr, "left as they were") {
				t.Fatalf("republish: %+v\n%s", res, stderr)
			}
			after = db.retryTable()
			for id, row := range before {
				if want := id == "g-0" || id == "g-3"; (after[id] != row) != want {
					t.Errorf("%s:\n%s\n%s", id, row, after[id])
				}
			}
			for _, id := range []string{"g-0", "g-3"} {
				if s, _ := db.retryStatus(id); s != "done" {
					t.Fatalf("%s is %s", id, s)
				}
			}
			recs := w.records(topic)
			if len(recs) != 2 {
				t.Fatalf("%d records", len(recs))
			}
			for _, r := range recs {
				id := headerOf(r, "mqops-message-id")
				if (id != "g-0" && id != "g-3") || string(r.Value) != "retry payload of "+id || len(r.Headers) != 3 || r.Headers[0].Key != "tenant" ||
					string(r.Headers[1].Value) != "t-"+id || r.Key != nil {
					t.Fatalf("record %+v", r)
				}
			}
			es, bad, err := actions.NewAuditLog(filepath.Join(state, "mqops", "audit.jsonl")).Read(0)
			if err != nil || bad != 0 {
				t.Fatal(err)
			}
			var outcomes []string
			for _, e := range es {
				outcomes = append(outcomes, e.Action+":"+e.Outcome)
			}
			if !reflect.DeepEqual(outcomes, []string{"retry-now:dry-run", "retry-now:executed", "give-up:dry-run", "give-up:executed", "republish:dry-run", "republish:refused", "republish:executed"}) {
				t.Fatalf("audit %v", outcomes)
			}
			if driver == "postgres" { // the DSN and its password: in no output, no audit entry
				u, _ := url.Parse(db.dsn)
				pw, _ := u.User.Password()
				var all strings.Builder
				for _, args := range [][]string{{"retries"}, {"retries", "-o", "json"}, {"retry", "now", "--id", "1", "--dry-run"}, {"trace", "g-0"}, {"trace", "g-0", "-o", "json"}} {
					out, stderr, _ := run(t, time.Minute, env, mqopsBin(t), append([]string{"--config", cfg}, args...)...)
					all.WriteString(out + stderr)
				}
				audit, _ := os.ReadFile(filepath.Join(state, "mqops", "audit.jsonl"))
				for _, s := range []string{pw, db.dsn} {
					if pw == "" || strings.Contains(all.String(), s) || strings.Contains(string(audit), s) {
						t.Fatalf("%q appears:\n%s\n%s", s, all.String(), audit)
					}
				}
			}
		})
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestRetryRepublishRabbit: republish to a RabbitMQ exchange with
// confirms: the routed row lands in the bound queue with its payload,
// headers, message id header and message_id property, and is marked done;
// a row whose routing key reaches no queue is returned by the broker, left
// exactly as it was, and its error reported.
func TestRetryRepublishRabbit(t *testing.T) {
	v := newRabbitVhost(t)
	db := newAppDB(t, "postgres")
	db.schema()
	const exchange = "hxretry.events"
	if err := v.ch.ExchangeDeclare(exchange, "direct", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	v.queue("orders.q", nil)
	if err := v.ch.QueueBind("orders.q", "orders", exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	db.insertRetries(retrySpec{msgID: "r-1", dest: "orders", err: gatewayError(1), status: "dead", attempts: 10},
		retrySpec{msgID: "r-2", dest: "nowhere", err: gatewayError(2), status: "waiting", attempts: 1})
	amqpURL := strings.Replace(v.env["RABBITMQ_URL"], ":"+v.env["RABBITMQ_PASSWORD"]+"@", "@", 1)
	rabbit := fmt.Sprintf("    rabbitmq:\n      url: %s\n      management-url: %s\n      password-env: RABBITMQ_PASSWORD\n      vhosts: [%q]\n", amqpURL, v.env["RABBITMQ_MANAGEMENT_URL"], v.name)
	cfg := storeContext(t, nil, rabbit, db, "{broker: rabbitmq, exchange: "+exchange+"}", "")
	env := []string{"APPDB_DSN=" + db.dsn, "XDG_STATE_HOME=" + t.TempDir()}
	before := db.retryTable()
	_, res, stderr := retryCmd(t, env, cfg, 1, "republish", "--error", gatewayGroup, "--yes")
	if res.Changed != 1 || res.Failed != 1 || !strings.Contains(res.Errors[0], "unroutable") {
		t.Fatalf("%+v\n%s", res, stderr)
	}
	after := db.retryTable()
	if after["r-2"] != before["r-2"] || after["r-1"] == before["r-1"] {
		t.Fatalf("rows:\n%v\n%v", before, after)
	}
	if s, _ := db.retryStatus("r-1"); s != "done" {
		t.Fatalf("r-1 is %s", s)
	}
	d, ok, err := v.ch.Get("orders.q", true)
	if err != nil || !ok {
		t.Fatalf("get: %v %v", ok, err)
	}
	if d.MessageId != "r-1" || d.Headers["mqops-message-id"] != "r-1" || d.Headers["tenant"] != "acme" || string(d.Body) != "retry payload of r-1" || d.DeliveryMode != amqp.Persistent {
		t.Fatalf("%+v", d)
	}
	if n := v.depth("orders.q"); n != 0 {
		t.Fatalf("orders.q holds %d more", n)
	}
}

// traceCmd runs mqops trace -o json.
func traceCmd(t *testing.T, env []string, cfg string, wantExit int, args ...string) actions.TraceResult {
	t.Helper()
	out, stderr, err := run(t, 2*time.Minute, env, mqopsBin(t), append(append([]string{"--config", cfg, "trace"}, args...), "-o", "json")...)
	var r actions.TraceResult
	if exitCode(err) != wantExit || json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("trace %v: exit %d\n%s\n%s", args, exitCode(err), out, stderr)
	}
	return r
}

func stepsAt(r actions.TraceResult, place string) []actions.TraceStep {
	var out []actions.TraceStep
	for _, s := range r.Steps {
		if s.Place == place {
			out = append(out, s)
		}
	}
	return out
}

// TestTraceEndToEnd follows one message on PostgreSQL and the real
// Kafka: pending in the outbox (not in its key's partition), resent by
// mqops resend (found in the topic at the partition murmur2 gives its key,
// with its offset), consumed (found in the idempotency table); 30 records
// of its key later, --depth 10 reports it not found in the last 10; the
// table prints every place.
func TestTraceEndToEnd(t *testing.T) {
	w := newReplayWorld(t)
	db := newAppDB(t, "postgres")
	db.schema()
	topic := w.topic("traced", 4, nil)
	db.insert(outboxRow{msgID: "tr-1", dest: topic, key: "customer-42", age: 10 * time.Minute, headers: [][2]string{{"tenant", "acme"}}})
	cfg := storeContext(t, w.brokers, "", db, "{broker: kafka}", "")
	env := []string{"APPDB_DSN=" + db.dsn, "XDG_STATE_HOME=" + t.TempDir()}
	part := int32(kgo.StickyKeyPartitioner(nil).ForTopic(topic).Partition(&kgo.Record{Key: []byte("customer-42")}, 4))
	where := fmt.Sprintf("kafka:%s partition %d", topic, part)

	r := traceCmd(t, env, cfg, 0, "tr-1")
	if ob := stepsAt(r, actions.TraceOutbox); len(ob) != 1 || ob[0].State != "pending, 0 attempt(s)" || !ob[0].Found {
		t.Fatalf("outbox %+v", r.Steps)
	}
	if tp := stepsAt(r, actions.TraceTopic); len(tp) != 1 || tp[0].Status != actions.TraceNotFound || tp[0].Where != where || tp[0].Looked != 0 {
		t.Fatalf("topic %+v", r.Steps)
	}
	if c := stepsAt(r, actions.TraceIdempotency); len(c) != 1 || c[0].Status != actions.TraceNotFound {
		t.Fatalf("consumed %+v", r.Steps)
	}
	if _, stderr, err := run(t, time.Minute, env, mqopsBin(t), "--config", cfg, "resend", "--yes"); err != nil {
		t.Fatalf("resend: %v %s", err, stderr)
	}
	r = traceCmd(t, env, cfg, 0, "tr-1")
	tp := stepsAt(r, actions.TraceTopic)
	if len(tp) != 1 || !tp[0].Found || tp[0].Where != where || tp[0].State != "offset 0" || stepsAt(r, actions.TraceOutbox)[0].State != "sent, 1 attempt(s)" ||
		!strings.HasPrefix(r.Summary, "published, not known to be consumed: in "+where) {
		t.Fatalf("resent: %+v", r)
	}
	db.exec("INSERT INTO mqops_consumed (message_id, consumer) VALUES ('tr-1', 'billing-service')")
	r = traceCmd(t, env, cfg, 0, "tr-1")
	if c := stepsAt(r, actions.TraceIdempotency); len(c) != 1 || !c[0].Found || c[0].State != "consumed by billing-service" || !strings.HasPrefix(r.Summary, "consumed by billing-service at ") {
		t.Fatalf("consumed: %+v", r)
	}
	w.produce(30, func(i int) *kgo.Record {
		return &kgo.Record{Topic: topic, Partition: part, Key: []byte("customer-42"), Headers: []kgo.RecordHeader{{Key: "mqops-message-id", Value: fmt.Appendf(nil, "later-%d", i)}}}
	})
	r = traceCmd(t, env, cfg, 0, "tr-1", "--depth", "10")
	if tp := stepsAt(r, actions.TraceTopic); len(tp) != 1 || tp[0].Status != actions.TraceNotFound || tp[0].Looked != 10 || !strings.Contains(tp[0].Detail, "not in the last 10 record(s)") {
		t.Fatalf("depth 10: %+v", tp)
	}
	if tp := stepsAt(traceCmd(t, env, cfg, 0, "tr-1", "--depth", "31"), actions.TraceTopic); !tp[0].Found || tp[0].Looked != 31 {
		t.Fatalf("depth 31: %+v", tp)
	}
	table, stderr, err := run(t, time.Minute, env, mqopsBin(t), "--config", cfg, "trace", "tr-1")
	if err != nil || !strings.Contains(table, "message tr-1: consumed by billing-service") || !strings.Contains(table, "PLACE") || !strings.Contains(table, where) ||
		!strings.Contains(table, "dead-letter topic") {
		t.Fatalf("%v\n%s\n%s", err, table, stderr)
	}
}

// waitDepth waits until q holds n messages ready.
func (v *rabbitVhost) waitDepth(q string, n int) {
	v.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for v.depth(q) != n {
		if time.Now().After(deadline) {
			v.t.Fatalf("%s holds %d messages, want %d", q, v.depth(q), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// queueState is a queue's messages as a consumer reads them: id and
// redelivered flag, in order. It takes them and requeues them all.
func (v *rabbitVhost) queueState(q string) []string {
	v.t.Helper()
	ch, err := v.conn.Channel()
	if err != nil {
		v.t.Fatal(err)
	}
	defer ch.Close()
	var out []string
	for {
		d, ok, err := ch.Get(q, false)
		if err != nil {
			v.t.Fatal(err)
		}
		if !ok {
			break
		}
		out = append(out, d.MessageId+":"+strconv.FormatBool(d.Redelivered))
	}
	return out
}

// TestTraceRabbit: a message dead-lettered from the queue its route
// reaches is found in the dead-letter queue (where the queue's
// dead-letter exchange routes), with the reason; the queue itself is
// searched and the message reported not among its messages; the peek
// leaves both queues as they were (count and order); a quorum queue with a
// delivery limit is not peeked (looking is free): not looked, with why,
// and its messages never delivered.
func TestTraceRabbit(t *testing.T) {
	v := newRabbitVhost(t)
	db := newAppDB(t, "sqlite")
	db.schema()
	const exchange = "hxretry.trace"
	if err := v.ch.ExchangeDeclare(exchange, "direct", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := v.ch.ExchangeDeclare("hxretry.dlx", "fanout", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	v.queue("orders.q", amqp.Table{"x-dead-letter-exchange": "hxretry.dlx"})
	v.queue("orders.dlq", nil)
	for _, b := range [][2]string{{"orders.q", exchange}, {"orders.dlq", "hxretry.dlx"}} {
		if err := v.ch.QueueBind(b[0], "orders", b[1], false, nil); err != nil {
			t.Fatal(err)
		}
	}
	v.queue("quorum.q", amqp.Table{"x-queue-type": "quorum", "x-delivery-limit": int32(5)})
	if err := v.ch.QueueBind("quorum.q", "orders", exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	// dl-1 is rejected by a consumer and dead-lettered; then o-0..o-2 wait
	v.publish(exchange, "orders", 1, func(_ int, p *amqp.Publishing) { p.MessageId = "dl-1" })
	ch, err := v.conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	d, ok, err := ch.Get("orders.q", false)
	if err != nil || !ok || d.MessageId != "dl-1" {
		t.Fatalf("get %v %v %+v", ok, err, d)
	}
	if err := d.Nack(false, false); err != nil {
		t.Fatal(err)
	}
	ch.Close()
	v.waitDepth("orders.dlq", 1)
	v.publish(exchange, "orders", 3, func(i int, p *amqp.Publishing) { p.MessageId = fmt.Sprintf("o-%d", i) })
	v.waitDepth("orders.q", 3)
	v.waitDepth("quorum.q", 4)

	amqpURL := strings.Replace(v.env["RABBITMQ_URL"], ":"+v.env["RABBITMQ_PASSWORD"]+"@", "@", 1)
	rabbit := fmt.Sprintf("    rabbitmq:\n      url: %s\n      management-url: %s\n      password-env: RABBITMQ_PASSWORD\n      vhosts: [%q]\n", amqpURL, v.env["RABBITMQ_MANAGEMENT_URL"], v.name)
	cfg := storeContext(t, nil, rabbit, db, "{broker: rabbitmq, exchange: "+exchange+"}", "")
	env := []string{"APPDB_DSN=" + db.dsn}
	r := traceCmd(t, env, cfg, 0, "dl-1", "--destination", "orders")
	qs := stepsAt(r, actions.TraceQueue)
	sort.Slice(qs, func(i, j int) bool { return qs[i].Where < qs[j].Where })
	if len(qs) != 2 || qs[0].Where != "rabbitmq:"+v.name+"/orders.q" || qs[0].Status != actions.TraceNotFound || qs[0].Looked != 3 || qs[0].Detail != "not among its 3 message(s)" ||
		qs[1].Where != "rabbitmq:"+v.name+"/quorum.q" || qs[1].Status != actions.TraceNotLooked || !strings.Contains(qs[1].Detail, "delivery limit") {
		t.Fatalf("queues %+v", qs)
	}
	dl := stepsAt(r, actions.TraceDeadLetterQueue)
	if len(dl) != 1 || !dl[0].Found || dl[0].Where != "rabbitmq:"+v.name+"/orders.dlq" || dl[0].State != "message 1 of 1" || !strings.HasPrefix(dl[0].Detail, "dead-lettered from orders.q (rejected") ||
		!strings.HasPrefix(r.Summary, "dead-lettered: in rabbitmq:"+v.name+"/orders.dlq") {
		t.Fatalf("dead letters %+v\n%s", dl, r.Summary)
	}
	// the peek left the queues as they were: counts, order; the quorum
	// queue's messages were never delivered
	if got := v.queueState("orders.q"); !reflect.DeepEqual(got, []string{"o-0:true", "o-1:true", "o-2:true"}) {
		t.Fatalf("orders.q %v", got)
	}
	if got := v.queueState("orders.dlq"); !reflect.DeepEqual(got, []string{"dl-1:true"}) {
		t.Fatalf("orders.dlq %v", got)
	}
	if got := v.queueState("quorum.q"); !reflect.DeepEqual(got, []string{"dl-1:false", "o-0:false", "o-1:false", "o-2:false"}) {
		t.Fatalf("quorum.q %v", got)
	}
}

// TestRetryTraceHostile: hostile error texts (ESC, bidi, C1, NUL) are
// sanitized in the tables and escaped in JSON; a huge one is bounded;
// numbers out of range are refused naming the flag; a database that
// accepts TCP and never answers fails each command within --timeout; the
// DSN and its password appear in no output and no audit entry.
func TestRetryTraceHostile(t *testing.T) {
	bin := mqopsBin(t)
	db := newAppDB(t, "sqlite")
	db.schema()
	const evil = "boom\x1b[31m\u202eevil\u0085 \x00nul\x1b]0;title\x07"
	huge := "Huge: " + strings.Repeat("x", 100_000)
	db.insertRetries(retrySpec{msgID: "h-1\x1b[2J", dest: "orders\u202e", err: evil, status: "waiting", attempts: 1},
		retrySpec{msgID: "h-2", dest: "orders", err: huge, status: "waiting", attempts: 1})
	db.insert(outboxRow{msgID: "h-1\x1b[2J", dest: "orders\u202e", key: "\x1bk", age: time.Hour})
	cfg := storeContext(t, nil, "", db, "{broker: kafka}", "")
	state := t.TempDir()
	env := []string{"APPDB_DSN=" + db.dsn, "XDG_STATE_HOME=" + state}
	var all strings.Builder
	for _, args := range [][]string{{"retries"}, {"retries", "-o", "json"}, {"retry", "now", "--id", "1", "--dry-run"}, {"retry", "now", "--id", "1", "--dry-run", "-o", "json"},
		{"trace", "h-1\x1b[2J"}, {"trace", "h-1\x1b[2J", "-o", "json"}} {
		out, stderr, err := run(t, time.Minute, env, bin, append([]string{"--config", cfg}, args...)...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, stderr)
		}
		noRawControls(t, fmt.Sprint(args), out+stderr)
		if strings.ContainsRune(out+stderr, 0) {
			t.Fatalf("%v: a raw NUL:\n%q", args, out)
		}
		all.WriteString(out)
	}
	var doc retriesJSON
	out, _, _ := run(t, time.Minute, env, bin, "--config", cfg, "retries", "-o", "json")
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	for _, r := range doc.Retries {
		switch r.MessageID {
		case "h-1\x1b[2J":
			// escaped in JSON, the text kept (SQLite's substr ends a text at its NUL)
			if !strings.HasPrefix(evil, r.LastError) || !strings.HasPrefix(r.LastError, "boom\x1b[31m\u202eevil\u0085") || r.Destination != "orders\u202e" {
				t.Fatalf("JSON does not keep the text (escaped): %q", r.LastError)
			}
		case "h-2":
			if len(r.LastError) > 8<<10 || !strings.HasPrefix(r.LastError, "Huge: xxx") {
				t.Fatalf("huge error: %d bytes", len(r.LastError))
			}
		}
	}
	table, _, _ := run(t, time.Minute, env, bin, "--config", cfg, "retries")
	for _, l := range strings.Split(table, "\n") {
		if len(l) > 2000 {
			t.Fatalf("a table line of %d bytes", len(l))
		}
	}
	if !strings.Contains(table, `boom\x1b[31m\u202eevil`) {
		t.Fatalf("table:\n%s", table)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"retry", "now", "--id", "1", "--rate", "NaN"}, "--rate: NaN is not a number"},
		{[]string{"retry", "now", "--id", "1", "--rate", "-1"}, "--rate: -1 is out of range"},
		{[]string{"retry", "now", "--id", "1", "--rate", "0"}, "--rate: 0 is not a value"},
		{[]string{"retry", "now", "--id", "1", "--limit", "-5"}, "--limit: -5 is out of range"},
		{[]string{"retry", "now", "--id", "1", "--limit", "NaN"}, `invalid argument "NaN" for "--limit"`},
		{[]string{"retry", "now"}, "no rows selected"},
		{[]string{"retry", "later", "--id", "1"}, `"later" is not a retry action`},
		{[]string{"retries", "--limit", "-1"}, "--limit: -1 is out of range"},
		{[]string{"retries", "--dead", "--waiting"}, "--dead and --waiting"},
		{[]string{"trace", "m", "--depth", "-1"}, "--depth: -1 is out of range"},
		{[]string{"trace", "m", "--depth", "0"}, "--depth: 0 is not a value"},
		{[]string{"trace", "m", "--depth", "NaN"}, `invalid argument "NaN" for "--depth"`},
		{[]string{"trace", "m", "--depth", "1000000"}, "--depth: 1000000 is out of range"},
	} {
		_, stderr, err := run(t, 30*time.Second, env, bin, append([]string{"--config", cfg}, c.args...)...)
		if exitCode(err) != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d %q, want %q", c.args, exitCode(err), stderr, c.want)
		}
	}

	// a database that accepts TCP and never answers
	addr := blackholeAddr(t)
	const secret = "s3cr3t-pw-hxretry"
	for _, d := range []struct{ driver, dsn string }{
		{"postgres", "postgres://app:" + secret + "@" + addr + "/appdb?sslmode=disable"},
		{"mysql", "app:" + secret + "@tcp(" + addr + ")/appdb"},
	} {
		st := t.TempDir()
		env := []string{"XDG_CONFIG_HOME=" + st, "XDG_STATE_HOME=" + st, "STALL_DSN=" + d.dsn, "MQOPS_BROKERS=", "MQOPS_RABBITMQ_URL=", "MQOPS_MANAGEMENT_URL="}
		for _, args := range [][]string{{"retries"}, {"retry", "now", "--id", "1", "--dry-run"}, {"retry", "give-up", "--id", "1", "--yes"}, {"trace", "m-1"}} {
			start := time.Now()
			out, stderr, err := run(t, 30*time.Second, env, bin, append([]string{"--timeout", "1s", "--store", d.driver, "--store-dsn-env", "STALL_DSN"}, args...)...)
			took := time.Since(start)
			if exitCode(err) == 0 || took > 2500*time.Millisecond || !strings.Contains(stderr, "no answer within 1s") {
				t.Errorf("%s %v: exit %d after %s: %s", d.driver, args, exitCode(err), took, stderr)
			}
			if strings.Contains(out+stderr, secret) {
				t.Errorf("%s %v: the password is in the output:\n%s%s", d.driver, args, out, stderr)
			}
		}
		if b, _ := os.ReadFile(filepath.Join(st, "mqops", "audit.jsonl")); strings.Contains(string(b), secret) {
			t.Errorf("the password is in the audit log:\n%s", b)
		}
	}
}

// TestRetryRefusals: a read-only context refuses every retry action
// before it reads anything; without a terminal to ask on, a plan is
// shown and refused unless --yes; nothing changes; each refusal is
// audited once.
func TestRetryRefusals(t *testing.T) {
	db := newAppDB(t, "sqlite")
	db.schema()
	db.insertRetries(retrySpec{msgID: "r-1", dest: "orders", err: gatewayError(1), status: "waiting", attempts: 1})
	bin := mqopsBin(t)
	state := t.TempDir()
	env := []string{"APPDB_DSN=" + db.dsn, "XDG_STATE_HOME=" + state}
	before := db.retryTable()
	readOnly := storeContext(t, []string{"127.0.0.1:1"}, "    read-only: true\n", db, "{broker: kafka}", "")
	for _, op := range actions.RetryOps {
		_, stderr, err := run(t, 30*time.Second, env, bin, "--config", readOnly, "retry", op, "--id", "1", "--yes")
		if exitCode(err) != 1 || !strings.Contains(stderr, `context "t" is read-only: retry actions (now, republish, give-up) are not available`) {
			t.Fatalf("read-only %s: exit %d %s", op, exitCode(err), stderr)
		}
	}
	cfg := storeContext(t, []string{"127.0.0.1:1"}, "", db, "{broker: kafka}", "")
	_, stderr, err := run(t, 30*time.Second, env, bin, "--config", cfg, "retry", "give-up", "--id", "1")
	if exitCode(err) != 1 || !strings.Contains(stderr, "refusing to give up without confirmation: no terminal to ask on") || !strings.Contains(stderr, "plan: give up 1 retry row(s)") {
		t.Fatalf("no terminal: exit %d %s", exitCode(err), stderr)
	}
	if after := db.retryTable(); !reflect.DeepEqual(before, after) {
		t.Fatalf("a refusal changed the table")
	}
	es, _, err := actions.NewAuditLog(filepath.Join(state, "mqops", "audit.jsonl")).Read(0)
	if err != nil || len(es) != 4 {
		t.Fatalf("audit %v %+v", err, es)
	}
	for _, e := range es {
		if e.Outcome != actions.OutcomeRefused {
			t.Fatalf("audit %+v", e)
		}
	}
}
