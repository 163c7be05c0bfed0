package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends/kafka"
	"github.com/mqops/mqops/backends/kafka/kafkatest"
)

// replayWorld is the real Kafka of scripts/testenv with topics this test
// created (unique names, deleted at the end).
type replayWorld struct {
	t       *testing.T
	brokers []string
	cl      *kgo.Client
	adm     *kadm.Client
	prefix  string
}

func newReplayWorld(t *testing.T) *replayWorld {
	t.Helper()
	env := requireEnv(t, "KAFKA_BROKERS")
	brokers := strings.Split(env["KAFKA_BROKERS"], ",")
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerLinger(2*time.Millisecond), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		t.Fatal(err)
	}
	w := &replayWorld{t: t, brokers: brokers, cl: cl, adm: kadm.NewClient(cl), prefix: fmt.Sprintf("replay-it-%d", time.Now().UnixNano())}
	t.Cleanup(cl.Close)
	return w
}

// topic creates a topic of parts partitions (with configs), deleted at
// the end of the test.
func (w *replayWorld) topic(suffix string, parts int32, configs map[string]*string) string {
	w.t.Helper()
	name := w.prefix + "." + suffix
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := w.adm.CreateTopic(ctx, parts, 1, configs, name); err != nil {
		w.t.Fatalf("create %s: %v", name, err)
	}
	w.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = w.adm.DeleteTopics(ctx, name)
	})
	// the broker answers CreateTopics before its metadata has the topic:
	// wait until it does, as a topic created earlier would be
	for {
		md, err := w.adm.Metadata(ctx, name)
		if err == nil && md.Topics[name].Err == nil && len(md.Topics[name].Partitions) == int(parts) {
			return name
		}
		if ctx.Err() != nil {
			w.t.Fatalf("topic %s not in the metadata: %v", name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ends returns each partition's log end.
func (w *replayWorld) ends(topic string) map[int32]int64 {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ends, err := w.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

func sum(m map[int32]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// produce writes n records through gen, asynchronously, and waits for all.
func (w *replayWorld) produce(n int, gen func(i int) *kgo.Record) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	errs := make(chan error, 1)
	for i := 0; i < n; i++ {
		w.cl.Produce(ctx, gen(i), func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		})
	}
	if err := w.cl.Flush(ctx); err != nil {
		w.t.Fatal(err)
	}
	select {
	case err := <-errs:
		w.t.Fatal(err)
	default:
	}
}

// mqops runs the built binary with an isolated config and state (dir),
// returning stdout, stderr and the error.
func (w *replayWorld) mqops(state string, timeout time.Duration, args ...string) (string, string, error) {
	w.t.Helper()
	args = append(args, "--brokers", strings.Join(w.brokers, ","))
	return run(w.t, timeout, replayEnv(state), mqopsBin(w.t), args...)
}

func replayEnv(state string) []string {
	return []string{"XDG_CONFIG_HOME=" + state, "XDG_STATE_HOME=" + state, "MQOPS_BROKERS=", "MQOPS_RABBITMQ_URL=", "MQOPS_MANAGEMENT_URL="}
}

// partReader streams one partition from its start, a fetch at a time.
type partReader struct {
	cl  *kgo.Client
	buf []*kgo.Record
}

func newPartReader(t *testing.T, brokers []string, topic string, p int32) *partReader {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxBytes(8<<20), kgo.FetchMaxPartitionBytes(8<<20))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &partReader{cl: cl}
}

func (r *partReader) next(t *testing.T) *kgo.Record {
	for len(r.buf) == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		fs := r.cl.PollFetches(ctx)
		cancel()
		if err := fs.Err0(); err != nil {
			t.Fatalf("reading: %v", err)
		}
		r.buf = fs.Records()
	}
	rec := r.buf[0]
	r.buf = r.buf[1:]
	return rec
}

// proofRecord is source record i of the proof: partition i%4, key k-i,
// a 1 KiB value that names i, three headers (one key twice) and a
// timestamp of base + i ms.
func proofRecord(topic string, base time.Time, i int) *kgo.Record {
	v := make([]byte, 1024)
	n := copy(v, fmt.Sprintf("value %d:", i))
	for j := n; j < len(v); j++ {
		v[j] = byte('a' + (i+j)%26)
	}
	return &kgo.Record{Topic: topic, Partition: int32(i % 4), Key: fmt.Appendf(nil, "k-%d", i), Value: v, Timestamp: base.Add(time.Duration(i) * time.Millisecond),
		Headers: []kgo.RecordHeader{{Key: "trace-id", Value: fmt.Appendf(nil, "t-%d", i)}, {Key: "type", Value: []byte("order.created")}, {Key: "trace-id", Value: []byte{0, 1, 2, byte(i)}}}}
}

func proofN(t *testing.T) int {
	n := 1_000_000
	if s := os.Getenv("MQOPS_REPLAY_PROOF_N"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1000 || v%4 != 0 {
			t.Fatalf("MQOPS_REPLAY_PROOF_N=%q: want a multiple of 4 of at least 1000", s)
		}
		n = v
	}
	return n
}

// TestReplayProof replays, on the real broker, a topic of 1,000,000
// records of 1 KiB with keys and headers (MQOPS_REPLAY_PROOF_N lowers it
// for a quick local run) with the built binary, and proves:
//
//   - byte-for-byte: every record is in the target's same partition at the
//     same offset with the same key, value, headers (in order) and
//     timestamp, plus mqops-replay-run and mqops-replay-source naming it;
//     compared by streaming both topics partition by partition;
//   - time range: the range a --from-time/--to-time plan selects is, on
//     every partition, what Kafka's own GetOffsetShell --time (offsets for
//     times) answers;
//   - kill -9: three SIGKILLs at random moments of a replay of part of the
//     source, each followed by --resume: no record missing, duplicates at
//     most one window per kill.
func TestReplayProof(t *testing.T) {
	if testing.Short() {
		t.Skip("proof test")
	}
	w := newReplayWorld(t)
	n := proofN(t)
	src := w.topic("src", 4, nil)
	base := time.Now().Add(-48 * time.Hour).Truncate(time.Millisecond)
	start := time.Now()
	w.produce(n, func(i int) *kgo.Record { return proofRecord(src, base, i) })
	t.Logf("produced %d records of 1 KiB in %v", n, time.Since(start).Round(time.Millisecond))

	t.Run("byte-for-byte", func(t *testing.T) {
		dst := w.topic("dst", 4, nil)
		state := t.TempDir()
		start := time.Now()
		out, se, err := w.mqops(state, 3*time.Minute, "replay", src, "--to", dst, "--yes", "-o", "json")
		if err != nil {
			t.Fatalf("%v\n%s\n%s", err, out, se)
		}
		var res actions.ReplayResult
		if err := json.Unmarshal([]byte(out), &res); err != nil || res.Replayed != n || res.Left != 0 || res.StoppedBecause != "end" {
			t.Fatalf("%v %+v\n%s", err, res, se)
		}
		t.Logf("replayed %d records in %v (whole process, plan included): %.0f records/s in the run", n, time.Since(start).Round(time.Millisecond), res.Rate)
		for p := int32(0); p < 4; p++ {
			a, b := newPartReader(t, w.brokers, src, p), newPartReader(t, w.brokers, dst, p)
			for off := int64(0); off < int64(n/4); off++ {
				x, y := a.next(t), b.next(t)
				hs := y.Headers
				want := fmt.Sprintf("%s/%d/%d", src, p, x.Offset)
				switch {
				case x.Offset != off || y.Offset != off || y.Partition != p:
					t.Fatalf("partition %d: offsets %d and %d, want %d", p, x.Offset, y.Offset, off)
				case !bytes.Equal(x.Key, y.Key) || !bytes.Equal(x.Value, y.Value) || !x.Timestamp.Equal(y.Timestamp):
					t.Fatalf("%s: key, value or timestamp differ (%q vs %q, %v vs %v)", want, x.Key, y.Key, x.Timestamp, y.Timestamp)
				case len(hs) != len(x.Headers)+2 || hs[len(hs)-2].Key != kafka.HeaderReplayRun || string(hs[len(hs)-2].Value) != res.RunID ||
					hs[len(hs)-1].Key != kafka.HeaderReplaySource || string(hs[len(hs)-1].Value) != want:
					t.Fatalf("%s: headers %v", want, hs)
				}
				for i, h := range x.Headers {
					if hs[i].Key != h.Key || !bytes.Equal(hs[i].Value, h.Value) {
						t.Fatalf("%s: header %d is %q=%q, want %q=%q", want, i, hs[i].Key, hs[i].Value, h.Key, h.Value)
					}
				}
			}
		}
		for p, e := range w.ends(dst) {
			if e != int64(n/4) {
				t.Fatalf("%s partition %d ends at %d, want %d", dst, p, e, n/4)
			}
		}
	})

	t.Run("time-range", func(t *testing.T) {
		dst := w.topic("dst-time", 4, nil)
		from, to := base.Add(time.Duration(n/3)*time.Millisecond), base.Add(time.Duration(2*n/3)*time.Millisecond)
		state := t.TempDir()
		out, se, err := w.mqops(state, 2*time.Minute, "replay", src, "--to", dst, "--dry-run", "-o", "json", "--plan-limit", "1",
			"--from-time", from.UTC().Format("2006-01-02T15:04:05.000Z"), "--to-time", to.In(time.FixedZone("", 2*3600)).Format("2006-01-02T15:04:05.000-07:00"))
		if err != nil {
			t.Fatalf("%v\n%s", err, se)
		}
		var got struct {
			Plan actions.ReplayPlan `json:"plan"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Plan.Parts) != 4 {
			t.Fatalf("%v\n%s", err, out)
		}
		want := func(at time.Time) map[int32]int64 {
			stdout, stderr, err := runCmd(t, filepath.Join(repoRoot(t), "scripts", "testenv"), "kafka-class", "org.apache.kafka.tools.GetOffsetShell",
				"--bootstrap-server", strings.Join(w.brokers, ","), "--topic", src, "--time", strconv.FormatInt(at.UnixMilli(), 10))
			if err != nil {
				t.Fatalf("GetOffsetShell: %v\n%s", err, stderr)
			}
			out := map[int32]int64{}
			for _, l := range strings.Fields(stdout) {
				f := strings.Split(l, ":")
				p, _ := strconv.Atoi(f[len(f)-2])
				o, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
				out[int32(p)] = o
			}
			return out
		}
		wf, wt := want(from), want(to)
		for _, pp := range got.Plan.Parts {
			if pp.Start != wf[pp.Partition] || pp.End != wt[pp.Partition] {
				t.Errorf("partition %d: mqops %d to %d, offsets for times %d to %d", pp.Partition, pp.Start, pp.End, wf[pp.Partition], wt[pp.Partition])
			}
		}
		// a time after the last record: GetOffsetShell has no offset, the
		// range is empty at the log end
		late := base.Add(time.Duration(n+5) * time.Millisecond)
		if len(want(late)) != 0 {
			t.Fatalf("GetOffsetShell found an offset after the last record")
		}
		out, se, err = w.mqops(state, time.Minute, "replay", src, "--to", dst, "--dry-run", "-o", "json", "--from-time", late.UTC().Format(time.RFC3339Nano))
		if err != nil || json.Unmarshal([]byte(out), &got) != nil || got.Plan.Offsets != 0 || got.Plan.Parts[0].Start != int64(n/4) {
			t.Fatalf("late: %v %+v\n%s", err, got.Plan, se)
		}
		t.Logf("from %s: %v; to %s: %v", from.UTC().Format(time.RFC3339Nano), wf, to.UTC().Format(time.RFC3339Nano), wt)
	})

	t.Run("kill-resume", func(t *testing.T) {
		// the first 100,000 records (25,000 per partition), or all
		m, window := min(n, 100_000), 1000
		dst := w.topic("dst-kill", 4, nil)
		state := t.TempDir()
		rng := rand.New(rand.NewSource(time.Now().UnixNano()))
		args := []string{"replay", src, "--to", dst, "--to-offset", strconv.Itoa(m / 4), "--window", strconv.Itoa(window), "--yes", "--brokers", strings.Join(w.brokers, ",")}
		runID := ""
		for kill := 1; kill <= 3; kill++ {
			a := args
			if runID != "" {
				a = []string{"replay", "--resume", runID, "--yes", "--brokers", strings.Join(w.brokers, ",")}
			}
			cmd := exec.Command(mqopsBin(t), a...)
			cmd.Env = append(os.Environ(), replayEnv(state)...)
			stderr, _ := cmd.StderrPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(stderr)
			for runID == "" && sc.Scan() {
				if m := regexp.MustCompile(`^run (\S+) \(checkpoint`).FindStringSubmatch(sc.Text()); m != nil {
					runID = m[1]
				}
			}
			go func() {
				for sc.Scan() {
				}
			}()
			// kill once a random share of what is left reached the target
			before := sum(w.ends(dst))
			target := before + 1 + rng.Int63n(max(1, (int64(m)-before)/3))
			deadline := time.Now().Add(time.Minute)
			for sum(w.ends(dst)) < target && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
			t.Logf("kill %d: target %d → %d records", kill, before, sum(w.ends(dst)))
			if runID == "" {
				t.Fatal("no run id on stderr")
			}
		}
		out, se, err := w.mqops(state, 2*time.Minute, "replay", "--resume", runID, "--yes")
		if err != nil {
			t.Fatalf("final resume: %v\n%s\n%s", err, out, se)
		}
		seen := map[string]int{}
		for p := int32(0); p < 4; p++ {
			r := newPartReader(t, w.brokers, dst, p)
			for i, end := int64(0), w.ends(dst)[p]; i < end; i++ {
				rec := r.next(t)
				src := rec.Headers[len(rec.Headers)-1]
				seen[string(src.Value)]++
			}
		}
		missing, dups := 0, 0
		for i := 0; i < m; i++ {
			c := seen[fmt.Sprintf("%s/%d/%d", src, i%4, i/4)]
			if c == 0 {
				missing++
			}
			dups += max(0, c-1)
		}
		t.Logf("3 kills: %d records, %d missing, %d duplicates (bound: 3 windows of %d)", m, missing, dups, window)
		if missing != 0 || dups > 3*window || len(seen) != m {
			t.Fatalf("%d missing, %d duplicates, %d distinct", missing, dups, len(seen))
		}
		cp, err := actions.LoadReplayRun(filepath.Join(state, "mqops"), runID)
		if err != nil || cp.Status != actions.RunDone {
			t.Fatalf("checkpoint %+v %v", cp, err)
		}
	})
}

// TestReplayKeyPartitioningLikeJavaClient: with --partitioning key, each
// record lands in the partition where Apache Kafka's own Java producer
// (kafka-console-producer, the default partitioner) puts the same key.
func TestReplayKeyPartitioningLikeJavaClient(t *testing.T) {
	w := newReplayWorld(t)
	src, dst, ref := w.topic("src", 3, nil), w.topic("dst", 7, nil), w.topic("ref", 7, nil)
	const n = 500
	w.produce(n, func(i int) *kgo.Record {
		return &kgo.Record{Topic: src, Partition: int32(i % 3), Key: fmt.Appendf(nil, "customer-%d", i*7919), Value: []byte("v")}
	})
	var lines strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&lines, "customer-%d:v\n", i*7919)
	}
	cmd := exec.Command(filepath.Join(repoRoot(t), "scripts", "testenv"), "kafka-class", "org.apache.kafka.tools.ConsoleProducer",
		"--bootstrap-server", strings.Join(w.brokers, ","), "--topic", ref, "--property", "parse.key=true", "--property", "key.separator=:")
	cmd.Stdin = strings.NewReader(lines.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kafka-console-producer: %v\n%s", err, out)
	}
	if out, se, err := w.mqops(t.TempDir(), time.Minute, "replay", src, "--to", dst, "--partitioning", "key", "--yes"); err != nil {
		t.Fatalf("%v\n%s\n%s", err, out, se)
	}
	where := func(topic string) map[string]int32 {
		out := map[string]int32{}
		for p := int32(0); p < 7; p++ {
			r := newPartReader(t, w.brokers, topic, p)
			for i, end := int64(0), w.ends(topic)[p]; i < end; i++ {
				rec := r.next(t)
				out[string(rec.Key)] = p
			}
		}
		return out
	}
	got, java := where(dst), where(ref)
	if len(got) != n || len(java) != n {
		t.Fatalf("%d keys replayed, %d produced by the Java client", len(got), len(java))
	}
	used := map[int32]bool{}
	for k, p := range java {
		used[p] = true
		if got[k] != p {
			t.Errorf("key %s: mqops put it in partition %d, the Java client in %d", k, got[k], p)
		}
	}
	if len(used) != 7 {
		t.Fatalf("the keys use %d of 7 partitions", len(used))
	}
}

// TestReplayRateHolds replays 150,000 records at --rate 5000 (30 s) into
// a topic that stamps each batch with its append time: the append times
// span at least 90% of N/5000 seconds (the limiter never let more through),
// and at most what the limiter allows plus the run's start.
func TestReplayRateHolds(t *testing.T) {
	if testing.Short() {
		t.Skip("30 s")
	}
	w := newReplayWorld(t)
	const n, rate = 150_000, 5000
	src := w.topic("src", 2, nil)
	logAppend := "LogAppendTime"
	dst := w.topic("dst", 2, map[string]*string{"message.timestamp.type": &logAppend})
	w.produce(n, func(i int) *kgo.Record {
		return &kgo.Record{Topic: src, Partition: int32(i % 2), Key: fmt.Appendf(nil, "%d", i), Value: []byte("v")}
	})
	out, se, err := w.mqops(t.TempDir(), 2*time.Minute, "replay", src, "--to", dst, "--rate", strconv.Itoa(rate), "--yes", "-o", "json")
	var res actions.ReplayResult
	if err != nil || json.Unmarshal([]byte(out), &res) != nil || res.Replayed != n {
		t.Fatalf("%v %+v\n%s", err, res, se)
	}
	var first, last time.Time
	for p := int32(0); p < 2; p++ {
		r := newPartReader(t, w.brokers, dst, p)
		for i, end := int64(0), w.ends(dst)[p]; i < end; i++ {
			ts := r.next(t).Timestamp
			if first.IsZero() || ts.Before(first) {
				first = ts
			}
			if ts.After(last) {
				last = ts
			}
		}
	}
	span := last.Sub(first)
	floor := time.Duration(float64(n) / rate * 0.9 * float64(time.Second))
	t.Logf("%d records at --rate %d: append times span %v (%.0f records/s), the run said %.0f records/s over %.1f s", n, rate, span, float64(n)/span.Seconds(), res.Rate, res.Seconds)
	if span < floor {
		t.Fatalf("append times span %v: faster than --rate %d allows by more than 10%% (at least %v)", span, rate, floor)
	}
}

// TestReplayHostile: offsets past the end, negative or not numbers, an
// end before the start, an unknown source, a missing target, checkpoints
// that are a FIFO or malformed, a run id that does not exist, and a broker
// that accepts TCP and never answers (the command fails within --timeout).
func TestReplayHostile(t *testing.T) {
	w := newReplayWorld(t)
	src := w.topic("src", 2, nil)
	dst := w.topic("dst", 2, nil)
	w.produce(100, func(i int) *kgo.Record { return &kgo.Record{Topic: src, Partition: int32(i % 2), Value: []byte("v")} })
	state := t.TempDir()
	runs := filepath.Join(state, "mqops", "runs")
	if err := os.MkdirAll(runs, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(runs, "fifo-run.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(runs, "bad-run.json"), []byte("{\n  \"version\": 1,\n  \"run_id\": \"bad-run\",\n  \"partitions\": [1, 2\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{src, "--to", dst, "--from-offset", "51", "--dry-run"}, "--from-offset 51 is past the log end of " + src + " partition 0 (log start 0, log end 50)"},
		{[]string{src, "--to", dst, "--from-offset", "-1", "--dry-run"}, "--from-offset: -1 is negative"},
		{[]string{src, "--to", dst, "--from-offset", "NaN", "--dry-run"}, `invalid argument "NaN" for "--from-offset"`},
		{[]string{src, "--to", dst, "--rate", "NaN", "--yes"}, "--rate: NaN is not a number"},
		{[]string{src, "--to", dst, "--from-offset", "20", "--to-offset", "10", "--dry-run"}, "--to-offset: 10 is before --from-offset 20"},
		{[]string{src, "--to", dst, "--from-time", "2024-05-02T00:00:00Z", "--to-time", "2024-05-01T00:00:00Z", "--dry-run"}, "--to-time: 2024-05-01T00:00:00Z is before --from-time"},
		{[]string{w.prefix + ".nope", "--to", dst, "--dry-run"}, `unknown topic "` + w.prefix + `.nope"`},
		{[]string{src, "--to", w.prefix + ".missing", "--yes"}, `cannot replay: target topic "` + w.prefix + `.missing" does not exist`},
		{[]string{src + ":5", "--to", dst, "--dry-run"}, `has no partition 5 (it has 2: 0 to 1)`},
		{[]string{"--resume", "fifo-run", "--yes"}, "is a named pipe (FIFO), not a regular file"},
		{[]string{"--resume", "bad-run", "--yes"}, filepath.Join(runs, "bad-run.json") + ":5: not a replay checkpoint"},
		{[]string{"--resume", "no-such-run", "--yes"}, `no replay run "no-such-run"`},
		{[]string{"--resume", "../../x", "--yes"}, "is not a run id"},
		{[]string{"--resume", "x", "--to", dst}, "--to cannot go with --resume"},
		{[]string{src, "--to", dst}, "refusing to replay without confirmation"},
	} {
		start := time.Now()
		_, se, err := w.mqops(state, time.Minute, append([]string{"replay"}, c.args...)...)
		if err == nil || !strings.Contains(se, c.want) {
			t.Errorf("%v: %v, stderr %q, want %q", c.args, err, se, c.want)
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("%v took %v", c.args, d)
		}
	}
	// nothing was produced by any of them
	if e := sum(w.ends(dst)); e != 0 {
		t.Fatalf("%d records reached %s", e, dst)
	}
	// a missing target in a dry run is a problem of the plan, not an error
	out, _, err := w.mqops(state, time.Minute, "replay", src, "--to", w.prefix+".missing", "--dry-run")
	if err != nil || !strings.Contains(out, "problem: target topic") {
		t.Fatalf("dry run to a missing target: %v\n%s", err, out)
	}
	// a broker that accepts TCP and never answers: within --timeout
	for _, addr := range []string{kafkatest.Silent(t), kafkatest.HandshakeThenSilent(t)} {
		for _, args := range [][]string{{"replay", "t", "--to", "u", "--dry-run"}, {"replay", "t", "--to", "u", "--yes"}} {
			start := time.Now()
			_, se, err := run(t, 20*time.Second, replayEnv(t.TempDir()), mqopsBin(t), append(args, "--brokers", addr, "--timeout", "1s")...)
			if exitCode(err) != 1 || se != fmt.Sprintf("mqops: kafka %s did not answer within 1s\n", addr) {
				t.Errorf("%v against %s: exit %d, stderr %q", args, addr, exitCode(err), se)
			}
			if d := time.Since(start); d > 1500*time.Millisecond {
				t.Errorf("%v against %s took %v with --timeout 1s", args, addr, d)
			}
		}
	}
}
