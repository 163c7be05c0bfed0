package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/config"
	"github.com/mqops/mqops/backends/kafka"
)

// The equivalent headless command of a drain, as the console shows it and
// the audit log records it, is a command: bash splits it into the
// arguments of `mqops drain`, which, run with --dry-run, plans exactly
// what the console planned, and records the same command line.

// bashArgs splits a command line as bash does.
func bashArgs(t *testing.T, line string) []string {
	t.Helper()
	out, err := exec.Command("bash", "-c", "set -- "+line+"\nprintf '%s\\0' \"$@\"").Output()
	if err != nil {
		t.Fatalf("bash cannot read %q: %v", line, err)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
}

// checkRoundTrip plans a through a runner as the console does, runs its
// command with --dry-run -o json and compares the plans and commands.
func checkRoundTrip(t *testing.T, run *actions.Runner, a actions.Action) {
	t.Helper()
	p, err := run.Plan(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	line, out, _ := runCommandDryRun(t, run, a)
	var got struct {
		Plan json.RawMessage `json:"plan"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	norm := func(b []byte) string {
		var dp actions.DrainPlan
		if err := json.Unmarshal(b, &dp); err != nil {
			t.Fatal(err)
		}
		n, _ := json.Marshal(dp)
		return string(n)
	}
	want, _ := json.Marshal(p)
	if norm(got.Plan) != norm(want) {
		t.Errorf("%s plans\n%s\nnot\n%s", line, got.Plan, want)
	}
}

// runCommandDryRun runs a's equivalent command, split by bash, with
// --dry-run -o json. It returns the command and the output, and checks
// that the command is one printable line without --yes, that the dry run
// printed the same command and recorded it in exactly one entry (which it
// returns).
func runCommandDryRun(t *testing.T, run *actions.Runner, a actions.Action) (string, string, actions.AuditEntry) {
	t.Helper()
	line := run.Command(a)
	t.Log(line)
	args := bashArgs(t, line)
	if args[0] != "mqops" || strings.Contains(line, "--yes") || strings.ContainsAny(line, "\x1b\t\n") {
		t.Fatalf("command %q", line)
	}
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	out, errOut, err := runCLI(t, append(args[1:], "--dry-run", "-o", "json", "--audit-file", audit)...)
	if err != nil {
		t.Fatalf("%s: %v\n%s", line, err, errOut)
	}
	var got struct {
		Command string `json:"command"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Command != line {
		t.Errorf("the dry run's command is\n%s\nnot\n%s (%v)", got.Command, line, err)
	}
	es, _, err := actions.NewAuditLog(audit).Read(0)
	if err != nil || len(es) != 1 || es[0].Command != line || es[0].Outcome != actions.OutcomeDryRun {
		t.Fatalf("audit of the dry run: %+v %v", es, err)
	}
	return line, out, es[0]
}

// kafkaRunner is what a console on the cluster at brokers (given by
// --brokers, no config file) plans with: its context, a client, and a
// runner whose commands select the same cluster.
func kafkaRunner(t *testing.T, brokers string) (*config.Context, *kafka.Client, *actions.Runner) {
	t.Helper()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	g := &globals{stderr: io.Discard, brokers: strings.Split(brokers, ","), timeout: 10 * time.Second}
	_, c, err := g.loadContext()
	if err != nil {
		t.Fatal(err)
	}
	kc, err := kafka.New(kafka.Config{Brokers: g.brokers, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kc.Close() })
	return c, kc, &actions.Runner{Audit: actions.NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl")), Globals: g.commandGlobals(c)}
}

func TestDrainCommandRoundTripsKafka(t *testing.T) {
	c, kc, run := kafkaRunner(t, demoCluster(t))
	for _, o := range []actions.KafkaDrainOptions{
		{To: "origin"},
		{To: "origin", Limit: 20},
		{To: "topic:orders", Limit: 150, Rate: 0.5, SkipOversized: true},
		{To: "topic:orders", NotDeadLetters: true, Rate: 1234.5},
	} {
		o.Context, o.Topic = c.Name, "orders.DLT"
		checkRoundTrip(t, run, &actions.KafkaDrain{Broker: kc, Options: o})
	}
}

func TestDrainCommandRoundTripsRabbitMQ(t *testing.T) {
	v := newRabbitVhost(t)
	dlq := `it's "mine".dlq` // a name the shell must quote
	v.queue("a", nil)
	v.queue("b", nil)
	v.queue(dlq, nil)
	v.publish("", dlq, 60, func(i int, p *amqp.Publishing) {
		origin, reason := "a", "rejected"
		if i%3 == 0 {
			origin = "b"
		}
		if i%4 == 0 {
			reason = "expired"
		}
		p.Headers = amqp.Table{"x-first-death-queue": origin, "x-first-death-reason": reason}
	})
	v.waitListed(dlq, 60)
	g := &globals{stderr: io.Discard, timeout: 10 * time.Second}
	_, c, err := g.loadContext()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := g.rabbitClient(c)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	run := &actions.Runner{Audit: actions.NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl")), Globals: g.commandGlobals(c)}
	if strings.Join(run.Globals, " ") != "--context t" {
		t.Fatalf("globals %q", run.Globals)
	}
	file := filepath.Join(t.TempDir(), "out dir", "dead.jsonl")
	for _, o := range []actions.DrainOptions{
		{To: "origin"},
		{To: "origin", Reason: "rejected", Origin: "a", Limit: 30, Rate: 2.5},
		{To: "exchange:amq.direct:a", Sample: 10},
		{To: "file:" + file, Prefetch: 7, Reason: "expired"},
	} {
		// as the console builds it: the list detected the queue as a DLQ
		o.Context, o.Vhost, o.Queue, o.KnownDLQ = c.Name, v.name, dlq, true
		checkRoundTrip(t, run, &actions.RabbitDrain{Broker: rc, Options: o})
	}
	if v.depth(dlq) != 60 {
		t.Fatal("a dry run changed the queue")
	}
	if _, err := os.Stat(file); err == nil {
		t.Fatal("a dry run wrote the file")
	}
}

// A context whose password comes from an env var, and an address with
// user-info: the command names the variable, never a password.
func TestDrainCommandHasNoSecret(t *testing.T) {
	const pw = "s3cret-Pa55"
	t.Setenv("HX_RUNNER_PW", pw)
	backends.RegisterSecret(pw) // as the config does when it reads it
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	cfg := "current-context: prod\ncontexts:\n  prod:\n    color: red\n    rabbitmq:\n      url: amqp://ops@rabbit.prod:5672/orders\n      management-url: http://rabbit.prod:15672\n      password-env: HX_RUNNER_PW\n" +
		"    kafka:\n      brokers: [kafka.prod:9093]\n      sasl: {mechanism: SCRAM-SHA-512, username: ops, password-env: HX_RUNNER_PW}\n"
	if err := os.MkdirAll(filepath.Join(dir, "mqops"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mqops", "config.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c := mustContext(t, &globals{stderr: io.Discard})
	// flags with a password in their address are refused when the context
	// loads; the command drops it all the same
	g := &globals{stderr: io.Discard, rabbitURL: "amqp://ops:" + pw + "@rabbit.prod:5672/orders", mgmtURL: "http://ops:" + pw + "@rabbit.prod:15672", saslPwEnv: "HX_RUNNER_PW", saslUser: "ops"}
	if _, _, err := g.loadContext(); err == nil || !strings.Contains(err.Error(), "the URL contains a password") {
		t.Fatalf("a password in --rabbitmq-url: %v", err)
	}
	run := &actions.Runner{Globals: g.commandGlobals(c)}
	for _, a := range []actions.Action{
		&actions.RabbitDrain{Options: actions.DrainOptions{Context: c.Name, Queue: "q-" + pw, To: "file:/tmp/" + pw}},
		&actions.KafkaDrain{Options: actions.KafkaDrainOptions{Context: c.Name, Topic: "orders.DLT", To: "topic:x"}},
	} {
		line := run.Command(a)
		if strings.Contains(line, pw) || !strings.Contains(line, "--context prod") || !strings.Contains(line, "--rabbitmq-url amqp://ops@rabbit.prod:5672/orders") ||
			!strings.Contains(line, "--management-url http://ops@rabbit.prod:15672") || !strings.Contains(line, "--sasl-password-env HX_RUNNER_PW") {
			t.Errorf("command %s", line)
		}
	}
	// and the audit log keeps none either
	var buf bytes.Buffer
	log := actions.NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))
	run.Audit = log
	a := &actions.RabbitDrain{Options: actions.DrainOptions{Context: c.Name, ReadOnly: true, Queue: "q-" + pw, To: "origin"}}
	if err := run.Validate(a); err == nil {
		t.Fatal("a read-only drain validated")
	}
	data, err := os.ReadFile(log.Path)
	buf.Write(data)
	if err != nil || bytes.Contains(buf.Bytes(), []byte(pw)) || !bytes.Contains(buf.Bytes(), []byte(`"outcome":"refused"`)) {
		t.Fatalf("audit %v: %s", err, buf.Bytes())
	}
}

func mustContext(t *testing.T, g *globals) *config.Context {
	t.Helper()
	_, c, err := g.loadContext()
	if err != nil {
		t.Fatal(err)
	}
	return c
}
