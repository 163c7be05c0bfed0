package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// resendBenchSide is one round of one side of the resend benchmark.
type resendBenchSide struct {
	Side    string  `json:"side"`
	Round   int     `json:"round"`
	Seconds float64 `json:"seconds"`
	Rows    int     `json:"rows"`
	// CPU is user + system seconds of the mqops process (the loop runs in
	// the test's process: its CPU is the test's over the round).
	CPU float64 `json:"cpu"`
}

// TestBenchResendVsLoop times, on the real PostgreSQL and Kafka of
// scripts/testenv, resending MQOPS_BENCH_RESEND_N pending rows (10,000 — one run's plan, the store's bound on one read — of
// 1 KiB, 100 keys, three headers) of the mqops preset's sending table to a
// 6-partition topic, with status updates, rounds alternating which side
// goes first:
//
//   - mqops: the built binary, `mqops resend --yes` (plan, then batches:
//     optimistic claim, publish on an idempotent acks=all producer, mark
//     sent what the broker confirmed);
//   - loop: the row-by-row job an application would write: read the
//     pending rows, then for each one claim it (UPDATE … WHERE id AND
//     attempts AND status pending), produce it and wait for the broker's
//     acknowledgement (franz-go, idempotent, acks=all), and mark it sent —
//     database/sql over pgx, as mqops.
//
// Each round checks that every row is sent and every message id is in its
// topic once. It runs only with MQOPS_BENCH_RESEND=1 (scripts/bench
// resend) and writes its rounds as JSON to MQOPS_BENCH_OUT.
func TestBenchResendVsLoop(t *testing.T) {
	if os.Getenv("MQOPS_BENCH_RESEND") != "1" {
		t.Skip("benchmark: scripts/bench resend")
	}
	n := envInt("MQOPS_BENCH_RESEND_N", 10000)
	rounds := envInt("MQOPS_BENCH_RESEND_ROUNDS", 3)
	w := newReplayWorld(t)
	db := newAppDB(t, "postgres")
	db.schema()
	payload := bytes.Repeat([]byte("x"), 1024)
	rows := bulkRows(n, 100, "")
	for i := range rows {
		rows[i].payload = payload
		rows[i].headers = append(rows[i].headers, [2]string{"source", "bench"}, [2]string{"trace", fmt.Sprintf("t-%d", i)})
	}
	db.insert(rows...)
	bin := mqopsBin(t)
	loadBefore := loadAvg()
	var out []resendBenchSide
	for r := 1; r <= rounds; r++ {
		sides := []string{"mqops", "loop"}
		if r%2 == 0 {
			sides = []string{"loop", "mqops"}
		}
		for _, side := range sides {
			topic := w.topic(fmt.Sprintf("bench-%s-%d", side, r), 6, nil)
			db.exec("UPDATE mqops_outbox SET status = 'pending', attempts = 0, last_attempt_at = NULL, last_error = NULL, destination = '" + topic + "'")
			db.exec("VACUUM ANALYZE mqops_outbox")
			var s resendBenchSide
			if side == "mqops" {
				s = benchResendMqops(t, bin, w, db)
			} else {
				s = benchResendLoop(t, w, db)
			}
			s.Side, s.Round, s.Rows = side, r, n
			t.Logf("round %d %s: %.2f s, %.0f rows/s, %.2f CPU-s", r, side, s.Seconds, float64(n)/s.Seconds, s.CPU)
			for id, st := range db.states() {
				if st.Status != "sent" || st.Attempts != 1 {
					t.Fatalf("%s after %s: %+v", id, side, st)
				}
			}
			ids := idsIn(w, topic)
			if len(ids) != n {
				t.Fatalf("%s: %d message ids in %s, want %d", side, len(ids), topic, n)
			}
			for id, c := range ids {
				if c != 1 {
					t.Fatalf("%s: %s published %d times", side, id, c)
				}
			}
			out = append(out, s)
		}
	}
	res := map[string]any{"n": n, "go": runtime.Version(), "rounds": out, "load_before": loadBefore, "load_after": loadAvg()}
	b, _ := json.MarshalIndent(res, "", "  ")
	if p := os.Getenv("MQOPS_BENCH_OUT"); p != "" {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func benchResendMqops(t *testing.T, bin string, w *replayWorld, db *appDB) resendBenchSide {
	t.Helper()
	cfg := storeContext(t, w.brokers, "", db, "{broker: kafka}", "")
	c := exec.Command(bin, "--config", cfg, "resend", "--yes", "-o", "json")
	c.Env = append(os.Environ(), "APPDB_DSN="+db.dsn, "XDG_STATE_HOME="+t.TempDir())
	var so, se bytes.Buffer
	c.Stdout, c.Stderr = &so, &se
	start := time.Now()
	if err := c.Run(); err != nil {
		t.Fatalf("mqops resend: %v\n%s", err, se.String())
	}
	el := time.Since(start)
	ru := c.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return resendBenchSide{Seconds: el.Seconds(), CPU: cpu.Seconds()}
}

// benchResendLoop is the row-by-row resend job: claim, produce and wait,
// mark sent, one row at a time.
func benchResendLoop(t *testing.T, w *replayWorld, db *appDB) resendBenchSide {
	t.Helper()
	ctx := context.Background()
	var before syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	start := time.Now()
	conn, err := sql.Open("pgx", db.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	type row struct {
		id, msgID, dest string
		key             sql.NullString
		payload         []byte
		headers         string
		attempts        int
	}
	rs, err := conn.QueryContext(ctx, `SELECT id, message_id, destination, message_key, payload, headers, attempts
		FROM mqops_outbox WHERE status = 'pending' AND created_at < now() - interval '5 minutes' ORDER BY created_at, id`)
	if err != nil {
		t.Fatal(err)
	}
	var todo []row
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.id, &r.msgID, &r.dest, &r.key, &r.payload, &r.headers, &r.attempts); err != nil {
			t.Fatal(err)
		}
		todo = append(todo, r)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	rs.Close()
	for _, r := range todo {
		res, err := conn.ExecContext(ctx, `UPDATE mqops_outbox SET attempts = attempts + 1, last_attempt_at = now()
			WHERE id = $1 AND attempts = $2 AND status = 'pending'`, r.id, r.attempts)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			continue
		}
		var hs []struct{ Key, Value string }
		if err := json.Unmarshal([]byte(r.headers), &hs); err != nil {
			t.Fatal(err)
		}
		rec := &kgo.Record{Topic: r.dest, Value: r.payload}
		if r.key.Valid {
			rec.Key = []byte(r.key.String)
		}
		for _, h := range hs {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: h.Key, Value: []byte(h.Value)})
		}
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: "mqops-message-id", Value: []byte(r.msgID)})
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, `UPDATE mqops_outbox SET status = 'sent' WHERE id = $1`, r.id); err != nil {
			t.Fatal(err)
		}
	}
	el := time.Since(start)
	var after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano() - before.Utime.Nano() + after.Stime.Nano() - before.Stime.Nano())
	return resendBenchSide{Seconds: el.Seconds(), CPU: cpu.Seconds()}
}

// envInt is a positive integer from the environment, def without it.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
