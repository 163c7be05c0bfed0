package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// benchRound is one timed whole process.
type benchRound struct {
	Side    string  `json:"side"` // "mqops" or "kafka-consumer-groups"
	Seconds float64 `json:"seconds"`
	CPU     float64 `json:"cpu"` // user + system seconds of the process and its children
}

// TestBenchResetOffsetsProcess times whole processes resetting one
// consumer group on 32 partitions with --to-datetime (the time alternates
// between two, so every run moves every partition): the built mqops
// binary (`reset-offsets --yes`) against Apache Kafka's own
// (`kafka-consumer-groups --reset-offsets --execute`, through
// scripts/testenv), MQOPS_BENCH_ROUNDS rounds each (5), alternating which
// goes first. Each run's result is read back with OffsetFetch and must be
// what both tools plan. The rounds go to MQOPS_BENCH_OUT (JSON) for
// scripts/bench, which writes docs/BENCHMARKS.md. Run by scripts/bench
// (MQOPS_BENCH_PROCESS=1); not a pass/fail on time.
func TestBenchResetOffsetsProcess(t *testing.T) {
	if os.Getenv("MQOPS_BENCH_PROCESS") != "1" {
		t.Skip("set MQOPS_BENCH_PROCESS=1 (and MQOPS_BIN) to run the whole-process reset-offsets benchmark (scripts/bench)")
	}
	env := requireEnv(t, "KAFKA_BROKERS")
	bin := mqopsBin(t)
	rounds, _ := strconv.Atoi(os.Getenv("MQOPS_BENCH_ROUNDS"))
	if rounds <= 0 {
		rounds = 5
	}
	const parts, perPart = 32, 100
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	run := fmt.Sprintf("reset-bench-%d", time.Now().UnixNano())
	topic, group := run+".t", run+".g"
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(env["KAFKA_BROKERS"], ",")...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, parts, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_, _ = adm.DeleteGroups(context.Background(), group)
		_, _ = adm.DeleteTopics(context.Background(), topic)
	}()
	loadBefore := loadAverage()
	base := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	var recs []*kgo.Record
	for p := int32(0); p < parts; p++ {
		for i := 0; i < perPart; i++ {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Timestamp: base.Add(time.Duration(i) * time.Second), Value: []byte("v")})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	offs := kadm.Offsets{}
	for p := int32(0); p < parts; p++ {
		offs.Add(kadm.Offset{Topic: topic, Partition: p, At: perPart, LeaderEpoch: -1})
	}
	commitRetrying(ctx, t, adm, group, offs)
	// two times, between records: offsets 30 and 70 on every partition
	times := []string{base.Add(29500 * time.Millisecond).UTC().Format("2006-01-02T15:04:05.000"), base.Add(69500 * time.Millisecond).UTC().Format("2006-01-02T15:04:05.000")}
	want := []int64{30, 70}
	dir := t.TempDir()
	testenv := filepath.Join(repoRoot(t), "scripts", "testenv")
	timed := func(side string, args ...string) benchRound {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+dir, "XDG_STATE_HOME="+dir, "MQOPS_BROKERS=")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		secs := time.Since(start).Seconds()
		if err != nil {
			t.Fatalf("%s: %v\n%s", side, err, out.String())
		}
		return benchRound{Side: side, Seconds: secs, CPU: (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()}
	}
	check := func(side string, at int64) {
		resp, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		resp.Each(func(o kadm.OffsetResponse) {
			if o.Topic == topic && o.Err == nil && o.At == at {
				n++
			}
		})
		if n != parts {
			t.Fatalf("after %s: %d of %d partitions at %d", side, n, parts, at)
		}
	}
	var res []benchRound
	k := 0
	for r := 0; r < rounds; r++ {
		sides := []string{"mqops", "kafka-consumer-groups"}
		if r%2 == 1 {
			sides[0], sides[1] = sides[1], sides[0]
		}
		for _, side := range sides {
			at := times[k%2]
			var round benchRound
			if side == "mqops" {
				round = timed(side, bin, "reset-offsets", group, "--to-datetime", at, "--all-topics", "--yes", "--brokers", env["KAFKA_BROKERS"])
			} else {
				round = timed(side, testenv, "kafka-consumer-groups", "--bootstrap-server", env["KAFKA_BROKERS"], "--reset-offsets", "--execute", "--group", group, "--to-datetime", at, "--all-topics")
			}
			check(side, want[k%2])
			k++
			res = append(res, round)
			t.Logf("round %d %s: %.3f s, %.3f CPU s", r+1, side, round.Seconds, round.CPU)
		}
	}
	med := func(side string) float64 {
		var v []float64
		for _, r := range res {
			if r.Side == side {
				v = append(v, r.Seconds)
			}
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	m, kc := med("mqops"), med("kafka-consumer-groups")
	t.Logf("median: mqops %.3f s, kafka-consumer-groups %.3f s: %.1f×", m, kc, kc/m)
	if out := os.Getenv("MQOPS_BENCH_OUT"); out != "" {
		b, _ := json.MarshalIndent(map[string]any{"partitions": parts, "records_per_partition": perPart, "mode": "--to-datetime, alternating", "rounds": res,
			"load_before": loadBefore, "load_after": loadAverage()}, "", "  ")
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// loadAverage is the one-minute load average, "" where unknown.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return ""
}
