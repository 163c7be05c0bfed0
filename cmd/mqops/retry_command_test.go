package main

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/store"
)

// TestRetryCommandRoundTrips: the equivalent command of a retry action
// planned through the runner (as the console will), split by bash and run
// with --dry-run -o json, plans the same rows, prints the same command and
// records it — an error group the shell must quote, ids, limits, rates,
// batches and the three operations (SQLite, the flags that select it).
func TestRetryCommandRoundTrips(t *testing.T) {
	db := newAppDB(t, "sqlite")
	ddl, err := store.Schema("sqlite")
	if err != nil {
		t.Fatal(err)
	}
	db.script(ddl)
	const hostile = `it's "a" $HOME; ` + "`x`\x1b[2J\tnew\nline <n>"
	db.insertRetries(retrySpec{msgID: "a", dest: "orders", err: hostile, status: "waiting", attempts: 1},
		retrySpec{msgID: "b", dest: "orders", err: gatewayError(1), status: "dead", attempts: 10},
		retrySpec{msgID: "c", dest: "orders", err: gatewayError(2), status: "waiting", attempts: 2})
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("APPDB_DSN", db.dsn)
	g := &globals{stderr: io.Discard, timeout: 10 * time.Second, storeDriver: "sqlite", storeDSNEnv: "APPDB_DSN", routeBroker: "kafka"}
	_, c, err := g.loadContext()
	if err != nil {
		t.Fatal(err)
	}
	st, err := g.storeOf(c)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run := &actions.Runner{Audit: actions.NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl")), Globals: g.commandGlobals(c)}
	page, err := st.Retries(context.Background(), backends.RetryQuery{})
	if err != nil || len(page.Rows) != 3 {
		t.Fatalf("%v %+v", err, page)
	}
	hostileGroup := page.Rows[0].ErrorGroup
	for _, o := range []actions.RetryOptions{
		{Op: actions.RetryOpNow, ErrorGroup: hostileGroup},
		{Op: actions.RetryOpNow, ErrorGroup: gatewayGroup, Limit: 1, Rate: 12.5, Batch: 7},
		{Op: actions.RetryOpGiveUp, IDs: []string{"1", "3", "it's"}},
		{Op: actions.RetryOpRepublish, IDs: []string{"2"}, ErrorGroup: gatewayGroup, Route: routeOf(c)},
	} {
		o.Context = c.Name
		a := &actions.RetryRows{Store: st, Options: o}
		p, err := run.Plan(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		plan := *p.(*actions.RetryPlan)
		line, out, _ := runCommandDryRun(t, run, a)
		var got struct {
			DryRun bool              `json:"dry_run"`
			Plan   actions.RetryPlan `json:"plan"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil || !got.DryRun {
			t.Fatalf("%v\n%s", err, out)
		}
		got.Plan.RunID, got.Plan.Now = plan.RunID, plan.Now
		want, _ := json.Marshal(plan)
		have, _ := json.Marshal(got.Plan)
		if string(have) != string(want) || plan.Selected == 0 {
			t.Errorf("%s plans\n%s\nnot\n%s", line, have, want)
		}
	}
}
