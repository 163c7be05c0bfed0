package actions

import (
	"context"
	"errors"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/kafka"
)

// The runner's outcomes, each on the real Kafka drain (kfake): every path
// writes exactly one entry with the typed fields, and the refusals act
// before any effect.

// onlyEntry reads the log and fails unless it holds exactly one entry.
func onlyEntry(t *testing.T, log *AuditLog) AuditEntry {
	t.Helper()
	es, bad, err := log.Read(0)
	if err != nil || bad != 0 || len(es) != 1 {
		t.Fatalf("want exactly one entry: %d entries, %d bad, %v: %+v", len(es), bad, err, es)
	}
	e := es[0]
	if e.Time.IsZero() || e.User == "" || e.Action != "drain" || e.Context != "local" || e.Source != "kafka:a.DLT" || (e.RunID == "" && e.Outcome != OutcomeRefused) ||
		!strings.HasPrefix(e.Command, "mqops --context local drain kafka:a.DLT --to ") {
		t.Fatalf("entry lacks its subject: %+v", e)
	}
	return e
}

func newRunnerWorld(t *testing.T) (*kafkaWorld, *Runner, *AuditLog) {
	w := newKafkaWorld(t)
	w.seed("a.DLT", 30, 20)
	log := testAudit(t)
	return w, &Runner{Audit: log, Globals: []string{"--context", "local"}}, log
}

// untouched fails if anything moved or was committed.
func untouched(t *testing.T, w *kafkaWorld) {
	t.Helper()
	if n := len(w.read("c")) + len(w.read("a")) + len(w.read("b")); n != 0 {
		t.Fatalf("%d records moved", n)
	}
	if c := w.committed("mqops-drain.a.DLT", "a.DLT"); c != 0 {
		t.Fatalf("committed %d", c)
	}
}

func TestRunnerRefusesBadNumbersBeforeAnyEffect(t *testing.T) {
	w, _, _ := newRunnerWorld(t)
	for _, o := range []KafkaDrainOptions{{Rate: math.NaN()}, {Rate: math.Inf(-1)}, {Rate: 5e6}, {Limit: -5}, {Window: math.MaxInt32}} {
		o.Context, o.Topic, o.To = "local", "a.DLT", "topic:c"
		for _, step := range []string{"plan", "execute"} {
			log := testAudit(t)
			run := &Runner{Audit: log, Globals: []string{"--context", "local"}}
			a := &KafkaDrain{Broker: w.k, Options: o}
			var err error
			if step == "plan" {
				var p Plan
				p, err = run.Plan(context.Background(), a)
				if p != nil {
					t.Errorf("%+v: a plan of a refused action", o)
				}
			} else {
				var res Result
				res, err = run.Execute(context.Background(), a, nil, nil)
				if res != nil {
					t.Errorf("%+v: a result of a refused action", o)
				}
			}
			var fe *FieldError
			if !errors.As(err, &fe) || !IsRefused(err) {
				t.Fatalf("%s %+v: %v", step, o, err)
			}
			e := onlyEntry(t, log)
			if e.Outcome != OutcomeRefused || e.Reason != err.Error() || e.Error != "" || e.Plan != nil || e.Result != nil || e.Target != "topic:c" {
				t.Errorf("%s %+v: entry %+v", step, o, e)
			}
		}
	}
	// read-only is refused alike
	log := testAudit(t)
	run := &Runner{Audit: log, Globals: []string{"--context", "local"}}
	if _, err := run.Plan(context.Background(), &KafkaDrain{Broker: w.k, Options: KafkaDrainOptions{Context: "local", ReadOnly: true, Topic: "a.DLT", To: "origin", RunID: "r"}}); !IsRefused(err) {
		t.Fatalf("read-only: %v", err)
	}
	if e := onlyEntry(t, log); e.Outcome != OutcomeRefused || !strings.Contains(e.Reason, "read-only") {
		t.Fatalf("read-only entry %+v", e)
	}
	untouched(t, w)
}

func TestRunnerDryRun(t *testing.T) {
	w, run, log := newRunnerWorld(t)
	a := &KafkaDrain{Broker: w.k, Options: KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "origin", Limit: 20}}
	p, err := run.Plan(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	if es, _, _ := log.Read(0); len(es) != 0 {
		t.Fatalf("a plan was recorded before the caller said what became of it: %+v", es)
	}
	if err := run.DryRun(a, p, DryRunNotConfirmed); err != nil {
		t.Fatal(err)
	}
	e := onlyEntry(t, log)
	if e.Outcome != OutcomeDryRun || e.Reason != DryRunNotConfirmed || e.Result != nil || e.DurationMS != 0 || e.RunID != a.Options.RunID ||
		e.Command != "mqops --context local drain kafka:a.DLT --to origin --limit 20" {
		t.Fatalf("entry %+v", e)
	}
	if e.Plan == nil || e.Plan.Selected != 20 || e.Plan.Total != 20 || !strings.HasPrefix(e.Plan.Summary, "20 message(s) from kafka:a.DLT: ") {
		t.Fatalf("plan %+v", e.Plan)
	}
	untouched(t, w)
}

func TestRunnerExecuted(t *testing.T) {
	w, run, log := newRunnerWorld(t)
	a := &KafkaDrain{Broker: w.k, Options: KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "topic:c", Rate: 10000}}
	p, err := run.Plan(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	var last Progress
	res, err := run.Execute(context.Background(), a, p, func(pr Progress) { last = pr })
	if err != nil || res.(*DrainResult).Moved != 50 || last.Done != 50 {
		t.Fatalf("%+v %v (progress %+v)", res, err, last)
	}
	e := onlyEntry(t, log)
	if e.Outcome != OutcomeExecuted || e.Error != "" || e.Reason != "" || e.Target != "topic:c" || e.DurationMS < 0 ||
		e.Command != "mqops --context local drain kafka:a.DLT --to topic:c --rate 10000" {
		t.Fatalf("entry %+v", e)
	}
	if e.Plan == nil || e.Plan.Selected != 50 || e.Result == nil || e.Result.Done != 50 || e.Result.Left != 0 || e.Result.StoppedBecause != backends.KafkaStopPlan {
		t.Fatalf("plan %+v result %+v", e.Plan, e.Result)
	}
	if n := len(w.read("c")); n != 50 {
		t.Fatalf("%d moved", n)
	}
}

func TestRunnerFailed(t *testing.T) {
	w, run, log := newRunnerWorld(t)
	// the target topic does not exist: the run stops before moving
	a := &KafkaDrain{Broker: w.k, Options: KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "topic:nope"}}
	res, err := run.Execute(context.Background(), a, nil, nil)
	if err == nil || IsRefused(err) || res == nil {
		t.Fatalf("%+v %v", res, err)
	}
	e := onlyEntry(t, log)
	if e.Outcome != OutcomeFailed || e.Error != `unknown target topic "nope": nothing was moved` || e.Reason != "" || e.Result == nil || e.Result.Done != 0 ||
		e.Result.StoppedBecause != backends.KafkaStopError {
		t.Fatalf("entry %+v %+v", e, e.Result)
	}
	untouched(t, w)

	// a plan that fails is recorded as failed; the action never ran
	log2 := testAudit(t)
	run2 := &Runner{Audit: log2, Globals: []string{"--context", "local"}}
	// a broker that refuses connections
	down, err := kafka.New(kafka.Config{Brokers: []string{"127.0.0.1:1"}, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	b := &KafkaDrain{Broker: down, Options: KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "origin"}}
	if _, err := run2.Plan(context.Background(), b); err == nil {
		t.Fatal("a plan on a closed client")
	}
	if e := onlyEntry(t, log2); e.Outcome != OutcomeFailed || !strings.HasPrefix(e.Error, "the plan failed: ") || e.Plan != nil || e.Result != nil {
		t.Fatalf("failed plan entry %+v", e)
	}
}

func TestRunnerCancelledMidway(t *testing.T) {
	w, run, log := newRunnerWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := &KafkaDrain{Broker: w.k, Options: KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "topic:c", Rate: 200}}
	p, err := run.Plan(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	res, err := run.Execute(ctx, a, p, func(pr Progress) {
		if pr.Done >= 5 {
			cancel()
		}
	})
	dr := res.(*DrainResult)
	if !errors.Is(err, context.Canceled) || dr.Moved < 5 || dr.Moved >= 50 {
		t.Fatalf("%+v %v", dr, err)
	}
	e := onlyEntry(t, log)
	if e.Outcome != OutcomeCancelled || e.Error == "" || e.Result == nil || e.Result.Done != int64(dr.Moved) || e.Result.Left != int64(50-dr.Moved) ||
		e.Result.StoppedBecause != backends.KafkaStopCancelled || e.Plan == nil || e.Plan.Selected != 50 {
		t.Fatalf("entry %+v %+v", e, e.Result)
	}
	if c := w.committed("mqops-drain.a.DLT", "a.DLT"); c != int64(dr.Moved) {
		t.Fatalf("committed %d, moved %d", c, dr.Moved)
	}
	// a plan cancelled before it was shown is not recorded
	log2 := testAudit(t)
	run2 := &Runner{Audit: log2}
	if _, err := run2.Plan(ctx, &KafkaDrain{Broker: w.k, Options: KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "origin"}}); err == nil {
		t.Fatal("a plan under a cancelled context")
	}
	if es, _, _ := log2.Read(0); len(es) != 0 {
		t.Fatalf("a cancelled plan was recorded: %+v", es)
	}
}

// A source refused while planning or executing (not a dead-letter topic)
// is an outcome refused, and Refuse records a plan not confirmed.
func TestRunnerRefusedBySourceAndNotConfirmed(t *testing.T) {
	w, run, log := newRunnerWorld(t)
	a := &KafkaDrain{Broker: w.k, Options: KafkaDrainOptions{Context: "local", Topic: "b", To: "topic:c"}}
	if _, err := run.Plan(context.Background(), a); !IsRefused(err) {
		t.Fatalf("plan of a live topic: %v", err)
	}
	es, _, _ := log.Read(0)
	if len(es) != 1 || es[0].Outcome != OutcomeRefused || !strings.Contains(es[0].Reason, "is not a dead-letter topic") {
		t.Fatalf("%+v", es)
	}
	log2 := testAudit(t)
	run2 := &Runner{Audit: log2, Globals: run.Globals}
	b := &KafkaDrain{Broker: w.k, Options: KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "origin"}}
	p, err := run2.Plan(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if err := run2.Refuse(b, p, errors.New("refusing to drain without confirmation: no terminal to ask on")); err != nil {
		t.Fatal(err)
	}
	if e := onlyEntry(t, log2); e.Outcome != OutcomeRefused || e.Plan == nil || e.Plan.Selected != 50 || !strings.Contains(e.Reason, "no terminal") {
		t.Fatalf("%+v", e)
	}
	untouched(t, w)
}

// The command line: each argument quoted only when it must be, hostile
// names kept as one printable line that a shell reads back as the same
// arguments, secrets never in it.
func TestCommandLine(t *testing.T) {
	for in, want := range map[string]string{
		"orders.dlq":                "orders.dlq",
		"topic:orders-retry":        "topic:orders-retry",
		"":                          "''",
		"a b":                       "'a b'",
		"it's":                      `'it'\''s'`,
		"$(rm -rf /)":               `'$(rm -rf /)'`,
		"évt.dlq":                   "'évt.dlq'",
		"evil\x1b]0;pwned\x07":      `$'evil\x1b]0;pwned\x07'`,
		"a\nb\tc'\\":                `$'a\nb\tc\'\\'`,
		"rtl\u202eqld":              `$'rtl\u202eqld'`,
		"bad\xffbyte":               `$'bad\xffbyte'`,
		"~root":                     "'~root'",
		"file:/tmp/x.jsonl":         "file:/tmp/x.jsonl",
		"amqp://ops:hunter2@h:5672": "amqp://ops:" + backends.Redacted + "@h:5672",
	} {
		got := commandLine([]string{in})
		if got != want {
			t.Errorf("%q: got %s, want %s", in, got, want)
		}
		// bash reads it back as the same bytes (the redacted address aside)
		if !strings.Contains(in, "hunter2") {
			out, err := exec.Command("bash", "-c", "printf '%s\\0' "+got).Output()
			if err != nil || string(out) != in+"\x00" {
				t.Errorf("bash reads %s as %q (%v), want %q", got, out, err, in)
			}
		}
	}
	backends.RegisterSecret("s3cr3t-from-password-env")
	run := &Runner{Globals: []string{"--context", "prod", "--rabbitmq-url", "amqps://ops:hunter2@rabbit.prod:5671/orders", "--sasl-password-env", "KAFKA_PASSWORD"}}
	a := &RabbitDrain{Options: DrainOptions{Context: "prod", Queue: "q-s3cr3t-from-password-env", Vhost: "billing", To: "exchange:retry:rk", Reason: "rejected", Origin: "orders", Limit: 7, Rate: 0.5, Prefetch: 10, Sample: 50, NotDeadLetters: true}}
	got := run.Command(a)
	want := "mqops --context prod --rabbitmq-url amqps://ops:" + backends.Redacted + "@rabbit.prod:5671/orders --sasl-password-env KAFKA_PASSWORD " +
		"drain rabbitmq:q-" + backends.Redacted + " --to exchange:retry:rk --vhost billing --reason rejected --origin orders --limit 7 --rate 0.5 --prefetch 10 --sample 50 --not-dead-letters"
	if got != want {
		t.Errorf("command\n got %s\nwant %s", got, want)
	}
	for _, leak := range []string{"hunter2", "s3cr3t-from-password-env", "--yes", "--dry-run"} {
		if strings.Contains(got, leak) {
			t.Errorf("%q in the command: %s", leak, got)
		}
	}
}

// Lines written before entries were typed (real lines of the previous
// version: dry runs, runs, refusals, a cancel, failures, a hostile name)
// are read into the typed fields.
func TestAuditReadsLinesBeforeTyped(t *testing.T) {
	es, bad, err := NewAuditLog(filepath.Join("testdata", "audit-before-typed.jsonl")).Read(0)
	if err != nil || bad != 0 || len(es) != 12 {
		t.Fatalf("%d entries, %d bad, %v", len(es), bad, err)
	}
	var outcomes []string
	for _, e := range es {
		outcomes = append(outcomes, e.Outcome)
		if e.Source == "" || e.Target == "" || e.Action != "drain" || e.Command != "" || e.Parameters == nil {
			t.Errorf("not mapped: %+v", e)
		}
	}
	if got := strings.Join(outcomes, ","); got != "dry-run,executed,refused,dry-run,executed,cancelled,failed,failed,dry-run,executed,cancelled,refused" {
		t.Fatalf("outcomes %s", got)
	}
	// the RabbitMQ run: its plan and result, the parameters kept
	run := es[1]
	if run.Plan == nil || run.Plan.Selected != 5 || run.Plan.Total != 5 || run.Plan.Details["estimate"] != float64(5) || !strings.HasPrefix(run.Plan.Summary, "5 message(s) from rabbitmq:") ||
		run.Result == nil || run.Result.Done != 5 || run.Result.Left != 0 || !strings.HasPrefix(run.Result.StoppedBecause, "done: the 5 messages") ||
		run.Parameters["reason"] != "rejected" || run.Target != "origin" || run.DurationMS != 105 {
		t.Errorf("rabbit run %+v %+v %+v", run, run.Plan, run.Result)
	}
	if r := es[2]; r.Reason != `context "prod" is read-only: drains are not available` || r.Error != "" {
		t.Errorf("refusal %+v", r)
	}
	if d := es[3]; d.Reason != DryRunFlag || d.Plan.Selected != 5 || d.Target != "origin" || d.Source != "kafka:a.DLT" {
		t.Errorf("kafka dry run %+v", d)
	}
	if c := es[5]; c.Result.StoppedBecause != "cancelled" || !strings.Contains(c.Error, "context canceled") || c.Target != "topic:c" {
		t.Errorf("cancelled %+v", c)
	}
	if f := es[6]; f.Reason != "dry run" || f.Plan != nil || !strings.Contains(f.Error, "unknown topic") {
		t.Errorf("failed dry run %+v", f)
	}
	if h := es[10]; h.Source != "rabbitmq:/billing/evil\x1b]0;pwned\x07\u202eqld" || h.Result.Done != 120 || h.Result.Left != 880 {
		t.Errorf("hostile %+v", h)
	}
}
