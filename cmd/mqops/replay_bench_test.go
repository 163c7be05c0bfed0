package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// benchSide is one whole-process round of the replay benchmark.
type benchSide struct {
	Side    string  `json:"side"`
	Round   int     `json:"round"`
	Seconds float64 `json:"seconds"`
	CPU     float64 `json:"cpu"` // user + system seconds of the process and its children
	// BrokerCPU is the broker's user + system seconds meanwhile
	// (MQOPS_BENCH_BROKER_PID; 0 when not given).
	BrokerCPU float64 `json:"broker_cpu"`
	Records   int64   `json:"records"`
}

// benchSourceLimit is the max.message.bytes of the benchmark's topics:
// Kafka's default.
const benchSourceLimit = 1048588

// TestBenchReplayVsKcat times, on the real broker, whole processes
// replaying the same topic (MQOPS_BENCH_REPLAY_N records of 1 KiB with keys
// and three headers, 4 partitions, max.message.bytes Kafka's default) into
// a fresh topic of 4 partitions and the same limit, rounds alternating
// which side goes first:
//
//   - mqops: `mqops replay SRC --to DST --yes`: the plan (not read: no one
//     reads it before the run), then the run (keys, headers, timestamps and
//     partitions kept, acks=all, idempotent, checkpointed, every record
//     measured against the target's limit);
//   - mqops-dry: `mqops replay SRC --to DST --dry-run`, the preview an
//     operator looks at first: it reads the range to list the records that
//     would not fit the target with the two headers (a record near the
//     limit), and produces nothing;
//   - kcat: Debian's kcat pipe, `kcat -C -b B -t SRC -e -o beginning -q |
//     kcat -P -b B -t DST` (values only: keys, headers, timestamps and
//     partitions are lost; librdkafka's defaults, acks=all since 1.x).
//
// Each round checks that the target holds every record (none after the
// dry run), and that the plan read the range or not as the side says. It runs only with
// MQOPS_BENCH_REPLAY=1 (scripts/bench replay) and writes its rounds as
// JSON to MQOPS_BENCH_OUT; MQOPS_BENCH_BROKER_PID names the broker's
// process, for its CPU.
func TestBenchReplayVsKcat(t *testing.T) {
	if os.Getenv("MQOPS_BENCH_REPLAY") != "1" {
		t.Skip("benchmark: scripts/bench replay")
	}
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatal("kcat is not installed (scripts/bench installs it: apt-get install kcat)")
	}
	n, rounds := 500_000, 3
	if v, err := strconv.Atoi(os.Getenv("MQOPS_BENCH_REPLAY_N")); err == nil && v > 0 {
		n = v
	}
	if v, err := strconv.Atoi(os.Getenv("MQOPS_BENCH_REPLAY_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	brokerPID, _ := strconv.Atoi(os.Getenv("MQOPS_BENCH_BROKER_PID"))
	w := newReplayWorld(t)
	limit := func(n int) map[string]*string {
		v := strconv.Itoa(n)
		return map[string]*string{"max.message.bytes": &v}
	}
	src := w.topic("bench-src", 4, limit(benchSourceLimit))
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	w.produce(n, func(i int) *kgo.Record { return proofRecord(src, base, i) })
	brokers := strings.Join(w.brokers, ",")
	out := map[string]any{"n": n, "value_bytes": 1024, "headers": 3, "partitions": 4, "go": runtime.Version(), "cores": runtime.NumCPU(),
		"source_limit": benchSourceLimit, "broker_cpu": brokerPID > 0, "load_before": loadAvg()}
	var all []benchSide
	timed := func(side string, round int, cmd *exec.Cmd, dst string) {
		cmd.Env = append(os.Environ(), replayEnv(t.TempDir())...)
		broker := procCPU(brokerPID)
		start := time.Now()
		b, err := cmd.CombinedOutput()
		took := time.Since(start)
		broker = procCPU(brokerPID) - broker
		if err != nil {
			t.Fatalf("%s: %v\n%s", side, err, b)
		}
		switch plan := string(b); {
		case side == "mqops" && !strings.Contains(plan, "not read (--yes)"),
			side == "mqops-dry" && !strings.Contains(plan, "every record of the range read"):
			t.Fatalf("%s: not the plan this side measures:\n%s", side, b)
		}
		got, want := sum(w.ends(dst)), int64(n)
		if side == "mqops-dry" {
			want = 0
		}
		if got != want {
			t.Fatalf("%s: %d records in the target, want %d\n%s", side, got, want, b)
		}
		cpu := 0.0
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		}
		all = append(all, benchSide{Side: side, Round: round, Seconds: took.Seconds(), CPU: cpu, BrokerCPU: broker, Records: got})
		_, _ = w.adm.DeleteTopics(context.Background(), dst) // its space back before the next round
		t.Logf("round %d %s: %v (%.0f records/s), CPU %.2f s, broker CPU %.2f s", round, side, took.Round(time.Millisecond), float64(n)/took.Seconds(), cpu, broker)
	}
	for r := 1; r <= rounds; r++ {
		sides := []string{"mqops", "mqops-dry", "kcat"}
		if r%2 == 0 {
			sides = []string{"kcat", "mqops-dry", "mqops"}
		}
		for _, side := range sides {
			dst := w.topic(fmt.Sprintf("bench-%s-%d", side, r), 4, limit(benchSourceLimit))
			var cmd *exec.Cmd
			switch side {
			case "mqops":
				cmd = exec.Command(mqopsBin(t), "replay", src, "--to", dst, "--yes", "--brokers", brokers)
			case "mqops-dry":
				cmd = exec.Command(mqopsBin(t), "replay", src, "--to", dst, "--dry-run", "--brokers", brokers)
			case "kcat":
				cmd = exec.Command("sh", "-c", fmt.Sprintf("%s -C -b %s -t %s -e -o beginning -q | %s -P -b %s -t %s", kcat, brokers, src, kcat, brokers, dst))
			}
			timed(side, r, cmd, dst)
		}
	}
	out["rounds"], out["load_after"] = all, loadAvg()
	if path := os.Getenv("MQOPS_BENCH_OUT"); path != "" {
		b, _ := json.MarshalIndent(out, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// procCPU is the user + system CPU seconds of process pid (0 when pid is
// 0 or unreadable).
func procCPU(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// loadAvg is the machine's load average, as /proc/loadavg says it.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
