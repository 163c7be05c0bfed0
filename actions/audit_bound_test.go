package actions

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestAuditHostileDeadLettersStayBounded is the reproduction: 600
// Kafka dead letters naming 600 distinct 10 KB origins made one dry run
// write a 12 MB audit line, after which the log could not be read. The
// entry now stays one bounded line, and the log reads on.
func TestAuditHostileDeadLettersStayBounded(t *testing.T) {
	w := newKafkaWorld(t)
	for i := 0; i < 600; i++ {
		origin := strings.Repeat(string(rune('a'+i%26)), 10_000) + "-" + itoa(i)
		w.produce(springDeadLetter("a.DLT", int32(i%2), origin, 0, i))
	}
	log := testAudit(t)
	run := &Runner{Audit: log}
	a := &KafkaDrain{Broker: w.k, Options: KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "origin"}}
	p, err := run.Plan(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.(*DrainPlan).Routes) != 600 {
		t.Fatalf("routes %d, want 600", len(p.(*DrainPlan).Routes))
	}
	if err := run.DryRun(a, p, DryRunFlag); err != nil {
		t.Fatal(err)
	}
	// a second, ordinary entry after it must still be read
	if err := log.Append(AuditEntry{Context: "local", Action: "drain", Outcome: OutcomeExecuted, Source: "kafka:x"}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(log.Path)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if len(line) > MaxAuditLine {
			t.Errorf("line %d is %d bytes, over %d", i+1, len(line), MaxAuditLine)
		}
	}
	es, bad, err := log.Read(0)
	if err != nil || bad != 0 || len(es) != 2 {
		t.Fatalf("read: %d entries, %d bad, %v", len(es), bad, err)
	}
	// the summary names the largest routes, each cut with its length, and
	// counts the rest
	sum := es[0].Plan.Summary
	if len(sum) > maxAuditString || !regexp.MustCompile(`…\(100\d\d bytes\)`).MatchString(sum) || !strings.Contains(sum, "and 595 more routes") {
		t.Errorf("the summary is not bounded: %d bytes: %.300q", len(sum), sum)
	}
	if probs := es[0].Plan.Problems; len(probs) > maxAuditList+1 {
		t.Errorf("%d problems kept, want at most %d and a count", len(probs), maxAuditList)
	}
}

// TestAuditReaderSkipsUnreadableLines: a line too long to read, a torn
// line and a line that is not JSON are skipped and counted; the entries
// around them are read, and only the last `limit` are kept.
func TestAuditReaderSkipsUnreadableLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	log := NewAuditLog(path)
	if err := log.Append(AuditEntry{Action: "drain", RunID: "first", Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	huge := `{"action":"drain","run_id":"` + strings.Repeat("x", 12<<20) + `"}` + "\n"
	if _, err := f.WriteString(huge + "not json\n" + `{"action":"dr` + "\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for i := 0; i < 5; i++ {
		if err := log.Append(AuditEntry{Action: "drain", RunID: "after-" + itoa(i), Outcome: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	es, bad, err := log.Read(0)
	if err != nil || bad != 3 || len(es) != 6 || es[0].RunID != "first" || es[5].RunID != "after-4" {
		t.Fatalf("read all: %d entries, %d bad, %v", len(es), bad, err)
	}
	es, bad, err = log.Read(2)
	if err != nil || bad != 3 || len(es) != 2 || es[0].RunID != "after-3" {
		t.Fatalf("read last 2: %+v, %d bad, %v", es, bad, err)
	}
}

// TestAuditEntryNeverFailsOnValues: values a hostile or careless caller
// puts in an entry (NaN, infinities, secrets in URLs, huge maps) are
// written as text, redacted and bounded; Append never fails on them.
func TestAuditEntryNeverFailsOnValues(t *testing.T) {
	log := testAudit(t)
	big := map[string]any{}
	for i := 0; i < 500; i++ {
		big["k"+itoa(i)] = i
	}
	e := AuditEntry{Action: "drain", Outcome: OutcomeFailed,
		Error:   "dial SASL_SSL://ops:hunter2@kafka:9093: refused",
		Command: "mqops --rabbitmq-url amqp://ops:hunter2@rabbit/ drain rabbitmq:q --to origin",
		Plan:    &AuditPlan{Summary: "to https://h/x?token=abc123", Details: map[string]any{"rate": math.NaN(), "limit": math.Inf(1), "url": "https://h/x?token=abc123&page=2", "big": big}},
		Result:  &AuditResult{StoppedBecause: "amqp://ops:hunter2@rabbit/ closed", Details: map[string]any{"rate": math.Inf(-1)}}}
	if err := log.Append(e); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(log.Path)
	s := string(data)
	for _, leak := range []string{"hunter2", "abc123"} {
		if strings.Contains(s, leak) {
			t.Errorf("secret %q in the audit log: %s", leak, s)
		}
	}
	es, bad, err := log.Read(0)
	if err != nil || bad != 0 || len(es) != 1 {
		t.Fatalf("%d entries, %d bad, %v", len(es), bad, err)
	}
	if d := es[0].Plan.Details; d["rate"] != "NaN" || d["limit"] != "+Inf" || es[0].Result.Details["rate"] != "-Inf" {
		t.Errorf("non-finite numbers: %v %v %v", d["rate"], d["limit"], es[0].Result.Details["rate"])
	}
	if b, _ := es[0].Plan.Details["big"].(map[string]any); len(b) != maxAuditKeys+1 {
		t.Errorf("big map kept %d keys, want %d and a count", len(b), maxAuditKeys)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestAuditBeforeEffect: an action whose audit log cannot be written (a
// directory, a FIFO, no log at all) or whose numbers are not finite and in
// range does not start: nothing moves, nothing is committed.
func TestAuditBeforeEffect(t *testing.T) {
	w := newKafkaWorld(t)
	w.seed("a.DLT", 3, 2)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, log := range map[string]*AuditLog{"directory": NewAuditLog(dir), "fifo": NewAuditLog(fifo), "none": nil} {
		// neither planned (a dry run must be recorded too) nor run
		a := &KafkaDrain{Broker: w.k, Options: KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "topic:c"}}
		if p, err := (&Runner{Audit: log}).Plan(context.Background(), a); err == nil || p != nil {
			t.Errorf("%s: planned: %v", name, err)
		}
		res, err := runKafkaDrain(context.Background(), w.k, KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "topic:c"}, nil, log, nil)
		if err == nil || res != nil {
			t.Errorf("%s: started: %+v %v", name, res, err)
		}
	}
	if st, err := os.Stat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the FIFO was replaced: %v", err)
	}
	for _, o := range []KafkaDrainOptions{
		{Rate: math.NaN()}, {Rate: math.Inf(1)}, {Rate: 1e-300}, {Rate: -1}, {Limit: -1}, {Window: -3}, {Window: 1 << 30},
	} {
		o.Context, o.Topic, o.To = "local", "a.DLT", "topic:c"
		log := testAudit(t)
		res, err := runKafkaDrain(context.Background(), w.k, o, nil, log, nil)
		var fe *FieldError
		if !errors.As(err, &fe) || res != nil {
			t.Errorf("%+v: %+v %v", o, res, err)
		}
	}
	if n := len(w.read("c")); n != 0 {
		t.Fatalf("%d records moved by actions that must not start", n)
	}
	if c := w.committed("mqops-drain.a.DLT", "a.DLT"); c > 0 {
		t.Fatalf("committed %d", c)
	}
}

// TestAuditEntryShrinksToTheBound: an entry whose bounded values still
// exceed MaxAuditLine loses its details, then its problems, never its
// subject, counts or outcome.
func TestAuditEntryShrinksToTheBound(t *testing.T) {
	log := testAudit(t)
	big := map[string]any{}
	for i := 0; i < maxAuditKeys; i++ {
		big["k"+itoa(i)] = strings.Repeat("x", 2*maxAuditString)
	}
	var problems []string
	for i := 0; i < 2*maxAuditList; i++ {
		problems = append(problems, strings.Repeat("p", 2*maxAuditString))
	}
	e := AuditEntry{Action: "drain", Outcome: OutcomeFailed, Source: "kafka:a.DLT", Target: "origin", Command: "mqops drain kafka:a.DLT --to origin",
		Plan:   &AuditPlan{Summary: "600 record(s)", Selected: 600, Total: 600, Problems: problems, Details: big},
		Result: &AuditResult{Done: 3, Left: 597, StoppedBecause: "error", Details: big}}
	if err := log.Append(e); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(log.Path)
	if len(data) > MaxAuditLine+1 {
		t.Fatalf("line of %d bytes", len(data))
	}
	es, bad, err := log.Read(0)
	if err != nil || bad != 0 || len(es) != 1 {
		t.Fatalf("%d entries, %d bad, %v", len(es), bad, err)
	}
	got := es[0]
	if got.Source != e.Source || got.Command != e.Command || got.Plan.Selected != 600 || got.Plan.Summary != "600 record(s)" || got.Result.Done != 3 || got.Result.Left != 597 ||
		!strings.HasSuffix(fmt.Sprint(got.Plan.Details["omitted"]), "too large for the audit log") || !strings.HasSuffix(fmt.Sprint(got.Result.Details["omitted"]), "too large for the audit log") {
		t.Fatalf("entry %+v %+v %+v", got, got.Plan, got.Result)
	}
}
