package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mqops/mqops/backends/embedded"
)

// runCLI runs the root command in-process with args and returns stdout,
// stderr and the error.
func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var so, se bytes.Buffer
	root := newRootCmdWith(&so, &se)
	root.SetOut(&so)
	root.SetErr(&se)
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return so.String(), se.String(), err
}

func demoCluster(t *testing.T) string {
	t.Helper()
	env, err := embedded.Start(context.Background(), embedded.Options{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	return strings.Join(env.Brokers(), ",")
}

func TestLagJSONContract(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	brokers := demoCluster(t)
	out, _, err := runCLI(t, "lag", "-o", "json", "--brokers", brokers)
	if err != nil {
		t.Fatal(err)
	}
	// decode generically: the contract is the field names, not our structs
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, k := range []string{"context", "taken_at", "groups"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("missing %q", k)
		}
	}
	if _, err := time.Parse(time.RFC3339, rep["taken_at"].(string)); err != nil {
		t.Errorf("taken_at: %v", err)
	}
	groups := map[string]map[string]any{}
	for _, g := range rep["groups"].([]any) {
		gm := g.(map[string]any)
		for _, k := range []string{"group", "state", "members", "lag", "status", "partitions", "time_lag_seconds", "time_lag_source"} {
			if _, ok := gm[k]; !ok {
				t.Errorf("group missing %q: %v", k, gm)
			}
		}
		groups[gm["group"].(string)] = gm
	}
	legacy := groups["legacy-reader"]
	if legacy == nil || legacy["state"] != "Empty" || legacy["status"] != "STOP" {
		t.Fatalf("legacy-reader: %v", legacy)
	}
	p0 := legacy["partitions"].([]any)[0].(map[string]any)
	for _, k := range []string{"topic", "partition", "committed", "log_start", "log_end", "lag", "member", "client_id", "host", "time_lag_seconds", "time_lag_source"} {
		if _, ok := p0[k]; !ok {
			t.Errorf("partition missing %q", k)
		}
	}
	if p0["committed"].(float64) != 250 || p0["log_start"].(float64) != 1000 || p0["behind_log_start"] != true {
		t.Errorf("legacy-reader/0: %v", p0)
	}
	if p0["lag"].(float64) != p0["log_end"].(float64)-250 {
		t.Errorf("lag: %v", p0)
	}
	// behind the log start: the time lag is a lower bound from the first
	// sample, saying why, and so is the group's
	note, _ := p0["time_lag_note"].(string)
	if tl, ok := p0["time_lag_seconds"].(float64); !ok || tl < 0 || p0["time_lag_source"] != "lower_bound" ||
		!strings.Contains(note, "records before offset 1000 deleted by retention") {
		t.Errorf("legacy-reader/0 time lag: %v %v %v", p0["time_lag_seconds"], p0["time_lag_source"], p0["time_lag_note"])
	}
	if legacy["time_lag_source"] != "lower_bound" {
		t.Errorf("legacy-reader time lag source %v", legacy["time_lag_source"])
	}
	// group lag is the sum of its partitions' lag
	for name, g := range groups {
		var sum float64
		for _, p := range g["partitions"].([]any) {
			if l, ok := p.(map[string]any)["lag"].(float64); ok {
				sum += l
			}
		}
		if sum != g["lag"].(float64) {
			t.Errorf("%s: lag %v, sum of partitions %v", name, g["lag"], sum)
		}
	}
}

func TestLagFiltersAndTable(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	brokers := demoCluster(t)
	out, _, err := runCLI(t, "lag", "--group", "billing", "--brokers", brokers)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "billing") || strings.Contains(out, "shipping") || !strings.HasPrefix(out, "GROUP") {
		t.Fatalf("table:\n%s", out)
	}
	out, _, err = runCLI(t, "lag", "--topic", "payments", "-o", "json", "--brokers", brokers)
	if err != nil {
		t.Fatal(err)
	}
	var rep lagReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	for _, g := range rep.Groups {
		for _, p := range g.Partitions {
			if p.Topic != "payments" {
				t.Errorf("topic filter leaked %s/%s", g.Group, p.Topic)
			}
		}
	}
	if len(rep.Groups) != 2 { // fraud-check, analytics
		t.Errorf("groups on payments: %d", len(rep.Groups))
	}
	if _, _, err := runCLI(t, "lag", "--group", "nope", "--brokers", brokers); err == nil || !strings.Contains(err.Error(), `unknown consumer group "nope"`) {
		t.Errorf("unknown group: %v", err)
	}
	if _, _, err := runCLI(t, "lag", "-o", "yaml", "--brokers", brokers); err == nil || !strings.Contains(err.Error(), "unknown output format") {
		t.Errorf("bad -o: %v", err)
	}
}

func TestGroupsAndTopicsCommands(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	brokers := demoCluster(t)
	out, _, err := runCLI(t, "groups", "-o", "json", "--brokers", brokers)
	if err != nil {
		t.Fatal(err)
	}
	var gr groupsReport
	if err := json.Unmarshal([]byte(out), &gr); err != nil {
		t.Fatal(err)
	}
	if len(gr.Groups) != 6 {
		t.Errorf("groups: %d", len(gr.Groups))
	}
	out, _, err = runCLI(t, "topics", "-o", "json", "--brokers", brokers)
	if err != nil {
		t.Fatal(err)
	}
	var tr topicsReport
	if err := json.Unmarshal([]byte(out), &tr); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tp := range tr.Topics {
		if tp.Topic == "orders" && tp.PartitionCount == 6 && tp.Messages > 0 {
			found = true
		}
	}
	if !found || len(tr.Brokers) != 3 {
		t.Errorf("topics: %+v", tr)
	}
}

func TestUnreachableBrokerExitsWithinTimeout(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	start := time.Now()
	addr := blackholeAddr(t)
	_, _, err := runCLI(t, "lag", "--brokers", addr, "--timeout", "1s")
	if err == nil || err.Error() != "kafka "+addr+" did not answer within 1s" {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("took %v with --timeout 1s", d)
	}
}

func TestContextFromConfigFileAndSecrets(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	brokers := demoCluster(t)
	cfg := filepath.Join(dir, "mqops", "config.yaml")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
		t.Fatal(err)
	}
	body := "current-context: local\ncontexts:\n  local:\n    color: green\n    kafka:\n      brokers: [" + brokers + "]\n" +
		"  prod:\n    color: red\n    read-only: true\n    kafka:\n      brokers: [127.0.0.1:1]\n      sasl: {mechanism: SCRAM-SHA-512, username: ops, password-env: MQOPS_TEST_PW}\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCLI(t, "groups")
	if err != nil || !strings.Contains(out, "billing") {
		t.Fatalf("groups via current-context: %v\n%s", err, out)
	}
	t.Setenv("MQOPS_TEST_PW", "s3cr3t-value")
	out, _, err = runCLI(t, "config", "view")
	if err != nil || strings.Contains(out, "s3cr3t-value") || !strings.Contains(out, "MQOPS_TEST_PW") {
		t.Fatalf("config view: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, "config", "contexts")
	if err != nil || !strings.Contains(out, "prod") || !strings.Contains(out, "local") {
		t.Fatalf("config contexts: %v\n%s", err, out)
	}
	_, _, err = runCLI(t, "lag", "--context", "prod", "--timeout", "1s")
	if err == nil || strings.Contains(err.Error(), "s3cr3t-value") {
		t.Fatalf("prod: %v", err)
	}
	_, _, err = runCLI(t, "lag", "--context", "nope")
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("unknown context: %v", err)
	}
	// malformed file: error names file and line
	if err := os.WriteFile(cfg, []byte("contexts:\n  x:\n    kafka:\n      brokers: notalist\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = runCLI(t, "groups")
	if err == nil || !strings.Contains(err.Error(), cfg+":4") {
		t.Fatalf("malformed config: %v", err)
	}
}

// TestTimeLagCell: the table marks estimates (~) and lower bounds (≥), as
// the README states.
func TestTimeLagCell(t *testing.T) {
	s := func(x string) *string { return &x }
	v := 25.2
	for _, c := range []struct {
		secs *float64
		src  *string
		want string
	}{
		{&v, s("record"), "25s"},
		{&v, s("interpolated"), "~25s"},
		{&v, s("lower_bound"), "≥ 25s"},
		{nil, nil, "-"},
	} {
		if got := timeLagCell(c.secs, c.src); got != c.want {
			t.Errorf("timeLagCell(%v, %v) = %q, want %q", c.secs, c.src, got, c.want)
		}
	}
}
