package main

import (
	"bufio"
	"bytes"
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
)

// scaleRound is one timed whole process of the cluster-scale benchmark.
type scaleRound struct {
	Side    string  `json:"side"` // "mqops-json", "mqops-table" or "kafka-consumer-groups"
	Seconds float64 `json:"seconds"`
	CPU     float64 `json:"cpu"`        // user + system seconds
	MaxRSS  int64   `json:"max_rss_kb"` // wait4's ru_maxrss, KiB
	// Settled is how long the broker took to come to rest before the
	// process started (brokerAtRest).
	Settled float64 `json:"settled_seconds"`
}

// brokerAtRest waits, after a pause of settle, until the broker (pid)
// spends under a tenth of a core over half a second, and at most a
// minute: work left over from what ran before (the broker's collector,
// its group coordinator) would slow the next process down, and whichever
// side comes after the heaviest would pay. It returns how long it waited;
// with no pid it only pauses.
func brokerAtRest(pid int, settle time.Duration) time.Duration {
	start := time.Now()
	time.Sleep(settle)
	for pid > 0 && time.Since(start) < time.Minute {
		before := procCPU(pid)
		time.Sleep(500 * time.Millisecond)
		if (procCPU(pid)-before)/0.5 < 0.1 {
			break
		}
	}
	return time.Since(start)
}

// kafkaPid is the test broker's pid, from scripts/testenv's pid file (0
// when unknown).
func kafkaPid() int {
	b, err := os.ReadFile(filepath.Join(os.Getenv("MQOPS_TESTENV_DIR"), "kafka", "kafka.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// TestBenchKafkaScale measures mqops at cluster scale on the real broker,
// whose groups scripts/bench seeded under MQOPS_BENCH_PREFIX (5,000 groups
// × 32 partitions): whole processes, MQOPS_BENCH_ROUNDS rounds (3), the
// sides taking turns — `mqops lag -o json`, `mqops lag` (table), and
// Apache Kafka's `kafka-consumer-groups --describe --all-groups`; an mqops
// side runs MQOPS_BENCH_REPEAT times (3) in its turn, for its runs of a
// few tenths of a second move more with the machine than one of many
// seconds does — each
// timed from exec to exit with its peak memory (wait4's ru_maxrss); then
// the console (the built binary in tmux, default 5 s refresh): the time
// from exec to the first frame with data, its resident memory each second
// for MQOPS_BENCH_CONSOLE_SECONDS (60), its CPU, and the time `q` takes to
// end it. First, both tools' rows of the seeded groups are counted (they
// must be groups × partitions). The results go to MQOPS_BENCH_OUT (JSON)
// for scripts/bench kafka-scale, which writes docs/BENCHMARKS.md. Not a
// pass/fail on time.
func TestBenchKafkaScale(t *testing.T) {
	if os.Getenv("MQOPS_BENCH_SCALE") != "1" {
		t.Skip("set MQOPS_BENCH_SCALE=1, MQOPS_BENCH_PREFIX and MQOPS_BIN to run the cluster-scale benchmark (scripts/bench kafka-scale)")
	}
	env := requireEnv(t, "KAFKA_BROKERS", "MQOPS_BENCH_PREFIX")
	brokers, prefix := env["KAFKA_BROKERS"], env["MQOPS_BENCH_PREFIX"]+"."
	bin := mqopsBin(t)
	intEnv := func(name string, def int) int {
		if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
			return v
		}
		return def
	}
	rounds, repeat := intEnv("MQOPS_BENCH_ROUNDS", 3), intEnv("MQOPS_BENCH_REPEAT", 3)
	groups, parts := intEnv("MQOPS_BENCH_SCALE_GROUPS", 5000), intEnv("MQOPS_BENCH_PARTITIONS", 32)
	consoleFor := time.Duration(intEnv("MQOPS_BENCH_CONSOLE_SECONDS", 60)) * time.Second
	testenv := filepath.Join(repoRoot(t), "scripts", "testenv")
	dir := t.TempDir()
	procEnv := append(os.Environ(), "XDG_CONFIG_HOME="+dir, "XDG_STATE_HOME="+dir, "MQOPS_BROKERS=")
	loadBefore := loadAvg()

	sides := map[string][]string{
		"mqops-json":            {bin, "lag", "-o", "json", "--brokers", brokers},
		"mqops-table":           {bin, "lag", "--brokers", brokers},
		"kafka-consumer-groups": {testenv, "kafka-consumer-groups", "--bootstrap-server", brokers, "--describe", "--all-groups"},
	}
	// The peak memory of a process is wait4's ru_maxrss, taken by GNU time
	// between this process and the measured one: a child forked from this
	// process would count this process's own memory at the fork.
	gnuTime, err := exec.LookPath("/usr/bin/time")
	if err != nil {
		t.Fatal("GNU time (/usr/bin/time) is needed to measure peak memory: apt-get install time")
	}
	rssFile := filepath.Join(dir, "maxrss")
	run := func(side string, stdout *os.File) scaleRound {
		args := append([]string{gnuTime, "-f", "%M", "-o", rssFile}, sides[side]...)
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = procEnv
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = stdout, &stderr
		start := time.Now()
		err := cmd.Run()
		secs := time.Since(start).Seconds()
		// mqops lag exits 3 when some group of the shared broker could not
		// be read whole (another test's, mid-change); it printed the rest
		if ee, ok := err.(*exec.ExitError); err != nil && !(ok && strings.HasPrefix(side, "mqops") && ee.ExitCode() == 3) {
			t.Fatalf("%s: %v\n%s", side, err, stderr.String())
		}
		r := scaleRound{Side: side, Seconds: secs, CPU: (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()}
		b, err := os.ReadFile(rssFile)
		if f := strings.Fields(string(b)); err != nil || len(f) == 0 {
			t.Fatalf("%s: no peak memory from GNU time: %v %q", side, err, b)
		} else if r.MaxRSS, err = strconv.ParseInt(f[len(f)-1], 10, 64); err != nil {
			t.Fatalf("%s: peak memory %q: %v", side, b, err)
		}
		return r
	}

	// Both tools list every row of the seeded groups.
	counts := map[string]int{}
	for _, side := range []string{"mqops-json", "kafka-consumer-groups"} {
		f, err := os.Create(filepath.Join(dir, side+".out"))
		if err != nil {
			t.Fatal(err)
		}
		run(side, f)
		if _, err := f.Seek(0, 0); err != nil {
			t.Fatal(err)
		}
		// Line by line, keeping this process small (see run): the JSON
		// report is indented, a group's name on its line, then its
		// partitions' topics each on theirs.
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		mine := false
		for sc.Scan() {
			l := sc.Text()
			switch {
			case side == "kafka-consumer-groups":
				if strings.HasPrefix(l, prefix) {
					counts[side]++
				}
			case strings.HasPrefix(l, `      "group": `):
				mine = strings.HasPrefix(l, `      "group": "`+prefix)
			case mine && strings.HasPrefix(l, `          "topic": `):
				counts[side]++
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	t.Logf("rows of the seeded groups: mqops %d, kafka-consumer-groups %d (want %d)", counts["mqops-json"], counts["kafka-consumer-groups"], groups*parts)
	if counts["mqops-json"] != groups*parts || counts["kafka-consumer-groups"] != groups*parts {
		t.Fatalf("rows of the seeded groups: mqops %d, kafka-consumer-groups %d; want %d each", counts["mqops-json"], counts["kafka-consumer-groups"], groups*parts)
	}

	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	order := []string{"mqops-json", "mqops-table", "kafka-consumer-groups"}
	const settle = 2 * time.Second
	broker := kafkaPid()
	if broker == 0 {
		t.Logf("the broker's pid is not known (MQOPS_TESTENV_DIR): each process starts after %s, not at the broker's rest", settle)
	}
	var res []scaleRound
	for r := range rounds {
		for i := range order {
			side := order[(i+r)%len(order)] // each side goes first in turn
			times := repeat
			if side == "kafka-consumer-groups" {
				times = 1
			}
			for range times {
				// every process starts against a broker at rest
				settled := brokerAtRest(broker, settle)
				round := run(side, null)
				round.Settled = settled.Seconds()
				res = append(res, round)
				t.Logf("round %d %s: %.3f s, %.2f CPU s, max RSS %d KiB (broker at rest after %.1f s)", r+1, side, round.Seconds, round.CPU, round.MaxRSS, round.Settled)
			}
		}
	}
	median := func(side string, f func(scaleRound) float64) float64 {
		var v []float64
		for _, r := range res {
			if r.Side == side {
				v = append(v, f(r))
			}
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	secs := func(r scaleRound) float64 { return r.Seconds }
	t.Logf("median: mqops lag -o json %.3f s, table %.3f s, kafka-consumer-groups %.3f s: %.1f×",
		median("mqops-json", secs), median("mqops-table", secs), median("kafka-consumer-groups", secs),
		median("kafka-consumer-groups", secs)/median("mqops-json", secs))

	console := benchConsole(t, bin, brokers, procEnv, consoleFor)
	t.Logf("console: first frame with data after %.3f s; RSS %d KiB after %s (max %d, peak %d); %.2f CPU s; q quit in %.0f ms",
		console.FirstFrame, console.RSSEnd, consoleFor, console.RSSMax, console.HWM, console.CPU, console.QuitMs)

	if out := os.Getenv("MQOPS_BENCH_OUT"); out != "" {
		b, _ := json.MarshalIndent(map[string]any{
			"groups": groups, "partitions": parts, "rows": counts, "rounds": res, "console": console,
			"load_before": loadBefore, "load_after": loadAvg(),
		}, "", "  ")
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// consoleRun is what benchConsole measured.
type consoleRun struct {
	FirstFrame float64 `json:"first_frame_seconds"` // exec to the first frame with data
	Seconds    float64 `json:"seconds"`             // how long it ran
	RSSEnd     int64   `json:"rss_end_kb"`          // VmRSS at the end
	RSSMax     int64   `json:"rss_max_kb"`          // the largest VmRSS seen (once a second)
	HWM        int64   `json:"rss_peak_kb"`         // VmHWM at the end
	RSS        []int64 `json:"rss_kb"`              // VmRSS each second
	CPU        float64 `json:"cpu"`                 // user + system seconds while it ran
	QuitMs     float64 `json:"quit_ms"`             // from q to the process gone
}

// tmuxServer is a tmux server of its own (socket), killed when the test
// ends: tmux runs a command of it and returns its output.
func tmuxServer(t *testing.T, socket string) func(args ...string) (string, error) {
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", socket, "kill-server").Run() })
	return func(args ...string) (string, error) {
		out, err := exec.Command("tmux", append([]string{"-L", socket}, args...)...).CombinedOutput()
		return string(out), err
	}
}

// benchConsole runs the built console in tmux (120×40) for d.
func benchConsole(t *testing.T, bin, brokers string, env []string, d time.Duration) consoleRun {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux not installed")
	}
	tmux := tmuxServer(t, fmt.Sprintf("mqops-scale-%d", os.Getpid()))
	var envArgs []string
	for _, kv := range env {
		if strings.HasPrefix(kv, "XDG_") || strings.HasPrefix(kv, "MQOPS_BROKERS=") {
			envArgs = append(envArgs, kv)
		}
	}
	start := time.Now()
	// exec, twice: the pane's process is the console itself
	if out, err := tmux("new-session", "-d", "-s", "c", "-x", "120", "-y", "40", "exec env "+strings.Join(envArgs, " ")+" "+bin+" console --brokers "+brokers); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	var run consoleRun
	for run.FirstFrame == 0 {
		if time.Since(start) > 30*time.Second {
			screen, _ := tmux("capture-pane", "-p", "-t", "c")
			t.Fatalf("no frame with data within 30 s:\n%s", screen)
		}
		if screen, _ := tmux("capture-pane", "-p", "-t", "c"); strings.Contains(screen, "TO DRAIN") { // the groups table's header
			run.FirstFrame = time.Since(start).Seconds()
		}
		time.Sleep(5 * time.Millisecond)
	}
	out, err := tmux("display", "-p", "-t", "c", "#{pane_pid}")
	pid, _ := strconv.Atoi(strings.TrimSpace(out))
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err != nil || !strings.HasPrefix(filepath.Base(bin), strings.TrimSpace(string(comm))) {
		t.Fatalf("the pane's process %d is %q, not the console (%v)", pid, comm, err)
	}
	cpu0 := procCPU(pid)
	for time.Since(start) < d {
		time.Sleep(time.Second)
		rss, _ := procStatus(pid)
		run.RSS = append(run.RSS, rss)
		run.RSSMax = max(run.RSSMax, rss)
	}
	run.RSSEnd, run.HWM = procStatus(pid)
	run.CPU = procCPU(pid) - cpu0
	run.Seconds = time.Since(start).Seconds()
	q := time.Now()
	if _, err := tmux("send-keys", "-t", "c", "q"); err != nil {
		t.Fatal(err)
	}
	for procAlive(pid) && time.Since(q) < 10*time.Second {
		time.Sleep(time.Millisecond)
	}
	run.QuitMs = float64(time.Since(q).Microseconds()) / 1000
	return run
}

// procStatus is a process's VmRSS and VmHWM, KiB.
func procStatus(pid int) (rss, hwm int64) {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = v
		case "VmHWM:":
			hwm = v
		}
	}
	return rss, hwm
}

// procAlive reports whether process pid runs (a zombie, ended and not yet
// reaped by its parent, does not).
func procAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || !strings.HasPrefix(s[i+1:], " Z")
}
