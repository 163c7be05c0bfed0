package actions

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mqops/mqops/backends"
)

func TestLimiterPacesToRate(t *testing.T) {
	var now time.Time
	slept := time.Duration(0)
	l := NewLimiter(100)
	l.now = func() time.Time { return now }
	l.sleep = func(_ context.Context, d time.Duration) error { slept += d; now = now.Add(d); return nil }
	for i := 0; i < 101; i++ {
		if err := l.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// 101 operations at 100/s span exactly one second
	if slept != time.Second {
		t.Fatalf("slept %v, want 1s", slept)
	}
}

func TestLimiterUnlimitedAndCancelled(t *testing.T) {
	if err := NewLimiter(0).Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := NewLimiter(1).Wait(ctx); err == nil {
		t.Fatal("cancelled wait returned nil")
	}
	l := NewLimiter(0.5)
	_ = l.Wait(context.Background())
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	// the next slot is 2 s away: a wait that ignored ctx would return nil
	if err := l.Wait(ctx2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait ignored ctx: %v", err)
	}
}

func TestAuditAppendRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state", "mqops", "audit.jsonl")
	a := NewAuditLog(p)
	for i := 0; i < 3; i++ {
		if err := a.Append(AuditEntry{Context: "prod", Action: "drain", RunID: fmt.Sprint(i), Outcome: OutcomeExecuted}); err != nil {
			t.Fatal(err)
		}
	}
	// a torn line from a crash is skipped, not fatal
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"time":"2026-`)
	f.Close()
	es, bad, err := a.Read(2)
	if err != nil || bad != 1 || len(es) != 2 || es[1].RunID != "2" || es[0].User == "" {
		t.Fatalf("entries %+v bad %d err %v", es, bad, err)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
}

func TestDefaultAuditPath(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/x/state")
	if got := DefaultAuditPath(); got != "/x/state/mqops/audit.jsonl" {
		t.Fatal(got)
	}
}

// testAudit is an audit log in the test's temporary directory: an action
// without one does not start.
func testAudit(t testing.TB) *AuditLog {
	t.Helper()
	return NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))
}

// runDrain executes a RabbitMQ drain through a Runner on audit, as the
// CLI and the console do (plan nil: no plan confirmed).
func runDrain(ctx context.Context, r RabbitDrainer, o DrainOptions, plan *DrainPlan, audit *AuditLog, progress func(Progress)) (*DrainResult, error) {
	res, err := (&Runner{Audit: audit}).Execute(ctx, &RabbitDrain{Broker: r, Options: o}, plan, progress)
	dr, _ := res.(*DrainResult)
	return dr, err
}

// runKafkaDrain executes a Kafka drain through a Runner on audit.
func runKafkaDrain(ctx context.Context, k backends.KafkaDeadLetters, o KafkaDrainOptions, plan *DrainPlan, audit *AuditLog, progress func(Progress)) (*DrainResult, error) {
	res, err := (&Runner{Audit: audit}).Execute(ctx, &KafkaDrain{Broker: k, Options: o}, plan, progress)
	dr, _ := res.(*DrainResult)
	return dr, err
}
