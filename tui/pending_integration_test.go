package tui

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/kafka"
	"github.com/mqops/mqops/backends/kafka/kafkatest"
	"github.com/mqops/mqops/backends/store"
	"github.com/mqops/mqops/backends/store/storetest"
)

// pgSchema is a PostgreSQL schema of the test's own with the mqops
// preset's tables (store.Schema), dropped at the end; dsn reaches it.
func pgSchema(t *testing.T, dsn string) (string, *sql.DB) {
	t.Helper()
	name := fmt.Sprintf("console_%08x", rand.Uint32())
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
		admin.Close()
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	raw, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	ddl, err := store.Schema("postgres")
	if err != nil {
		t.Fatal(err)
	}
	execDDL(t, raw, ddl)
	return u.String(), raw
}

// TestPendingOnPostgresBesideKafkaLag: :pending on the real PostgreSQL,
// its destination a topic of the real Kafka that a consumer group lags
// on: the destination's line has its pending rows, the oldest's age and,
// beside it, the group's lag read from the console's snapshot; its rows
// are listed oldest first.
func TestPendingOnPostgresBesideKafkaLag(t *testing.T) {
	pg := storetest.PostgresDSN(t)
	if os.Getenv("KAFKA_BROKERS") == "" {
		if os.Getenv("MQOPS_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("KAFKA_BROKERS must be set (eval \"$(cat /tmp/testenv.env)\")")
		}
		t.Skip("KAFKA_BROKERS not set: integration test skipped")
	}
	brokers := strings.Split(os.Getenv("KAFKA_BROKERS"), ",")
	topic := fmt.Sprintf("console-pending-%08x", rand.Uint32())
	group := topic + "-billing"
	cl, adm := kafkatest.CreateTopic(t, brokers, topic, 2, nil)
	times := func(n int) []time.Time {
		out := make([]time.Time, n)
		for i := range out {
			out[i] = time.Now().Add(time.Duration(i-n) * time.Second)
		}
		return out
	}
	kafkatest.Produce(t, cl, topic, 0, times(10)...)
	kafkatest.Produce(t, cl, topic, 1, times(6)...)
	kafkatest.Commit(t, adm, group, topic, map[int32]int64{0: 4, 1: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	dsn, raw := pgSchema(t, pg)
	for i, ago := range []time.Duration{9 * time.Minute, 30 * time.Minute, 12 * time.Minute} {
		if _, err := raw.ExecContext(ctx, `INSERT INTO mqops_outbox (message_id, destination, message_key, payload, status, attempts, created_at, last_error)
			VALUES ($1, $2, $3, $4, 'pending', $5, now() - make_interval(secs => $6), $7)`,
			fmt.Sprintf("m-%d", i), topic, fmt.Sprintf("k-%d", i), []byte("{}"), i, ago.Seconds(), "attempt "+fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := raw.ExecContext(ctx, `INSERT INTO mqops_outbox (message_id, destination, payload, status, created_at) VALUES ('young', $1, '\x00', 'pending', now())`, topic); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, store.Options{Driver: "postgres", DSN: dsn, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	k, err := kafka.New(kafka.Config{Brokers: brokers, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()

	h := newHarness(t, Options{StartView: "pending", Kafka: k, OpenStore: opener(st, nil), StoreRoute: backends.Route{Broker: "kafka"}}, nil)
	v, ok := h.m.top().(*pendingView)
	if !ok || !v.loaded {
		t.Fatalf("the view did not load:\n%s", h.screen())
	}
	h.selectRow(topic)
	var cells []string
	for _, r := range v.dests.Rows() {
		if r.ID == topic {
			cells = r.Cells
		}
	}
	// group lag: (10-4) + (6-1) = 11
	if cells == nil || cells[pdPending] != "3" || cells[pdLag] != "11" || cells[pdBeside] != "worst group "+group || cells[pdTarget] != "kafka:"+topic {
		t.Fatalf("destination %q\n%s", cells, h.screen())
	}
	if age := cells[pdOldest]; !strings.HasPrefix(age, "30m") {
		t.Errorf("oldest %q, want 30m…", age)
	}
	h.keys("tab")
	if got := strings.Join(v.rows.VisibleIDs(), ","); len(v.rows.VisibleIDs()) != 3 || v.byID[v.rows.VisibleIDs()[0]].MessageID != "m-1" {
		t.Errorf("rows %s (want the three, m-1 first)\n%s", got, h.screen())
	}
	if s := h.screen(); !strings.Contains(s, "database postgres mqops@127.0.0.1:15432 (mqops)") || !strings.Contains(s, "attempt 1") {
		t.Errorf("screen:\n%s", s)
	}
}
