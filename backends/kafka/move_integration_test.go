package kafka

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqops/mqops/backends"
)

// realDLT creates, on the real Kafka of scripts/testenv, an origin topic
// (3 partitions) and its dead-letter topic (2 partitions) with unique names,
// and fills the DLT with n Spring dead letters: dead letter i has key k-i,
// points to partition i%3 of the origin (binary headers for even i, decimal
// text for odd i, as older Spring wrote them) and has a timestamp from an
// hour ago. The topics and the drain group are deleted at the end.
func realDLT(t *testing.T, n int) (k *Client, brokers []string, origin, dlt string) {
	t.Helper()
	env := integrationEnv(t, "KAFKA_BROKERS")
	brokers = strings.Split(env["KAFKA_BROKERS"], ",")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	origin = fmt.Sprintf("mqops-it-%s-%d", strings.ToLower(t.Name()), time.Now().UnixNano())
	dlt = origin + ".DLT"
	for name, parts := range map[string]int32{origin: 3, dlt: 2} {
		if _, err := adm.CreateTopic(ctx, parts, 1, nil, name); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = adm.DeleteGroups(ctx, DrainGroup(dlt))
		_, _ = adm.DeleteTopics(ctx, origin, dlt)
	})
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	recs := make([]*kgo.Record, 0, n)
	for i := range n {
		r := springDLT(dlt, int32(i%2), origin, int32(i%3), int64(i), []string{"java.lang.IllegalStateException", "com.fasterxml.jackson.core.JsonParseException"}[i%5/4], i%2 == 0)
		r.Timestamp = base.Add(time.Duration(i) * time.Millisecond)
		recs = append(recs, r)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce dead letters: %v", err)
	}
	k, err = New(Config{Brokers: brokers, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	// wait until the new topics are in every broker's metadata
	for {
		pc, err := k.PartitionCounts(ctx, []string{origin, dlt})
		if err == nil && pc[origin] == 3 && pc[dlt] == 2 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("topics not visible: %v %v", pc, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return k, brokers, origin, dlt
}

// checkMoved reads the target and returns how many times each dead letter
// (by its replay source) is there; it fails on any record that is not a
// faithful copy in its original partition.
func checkMoved(t *testing.T, brokers []string, origin, dlt string, n int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for _, r := range readAll(t, brokers, origin) {
		src, _ := header(r, HeaderReplaySource)
		var p, o int
		if _, err := fmt.Sscanf(strings.TrimPrefix(src, dlt+"/"), "%d/%d", &p, &o); err != nil || !strings.HasPrefix(src, dlt+"/") || p > 1 || o*2+p >= n {
			t.Fatalf("%s/%d/%d: replay source %q", origin, r.Partition, r.Offset, src)
		}
		i := o*2 + p // the DLT partitions alternate: dead letter i is at partition i%2, offset i/2
		if int(r.Partition) != i%3 || string(r.Key) != fmt.Sprintf("k-%d", i) || string(r.Value) != fmt.Sprintf(`{"n":%d}`, i) {
			t.Fatalf("%s: in partition %d with key %q value %q, want dead letter %d", src, r.Partition, r.Key, r.Value, i)
		}
		if tid, _ := header(r, "trace-id"); tid != fmt.Sprintf("t-%d", i) {
			t.Fatalf("%s: trace-id header %q", src, tid)
		}
		seen[src]++
	}
	return seen
}

func srcOf(dlt string, i int) string { return fmt.Sprintf("%s/%d/%d", dlt, i%2, i/2) }

// TestRealMoveRecords drains 2,000 Spring dead letters back to their
// origin on the real Kafka: each lands in its original partition with key,
// value, headers and timestamp kept; the drain group ends at the DLT's log
// end; a second run moves nothing. It also reads, detects and summarises
// the DLT.
func TestRealMoveRecords(t *testing.T) {
	const n = 2000
	k, brokers, origin, dlt := realDLT(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	dlts, err := k.ListDeadLetterTopics(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range dlts {
		found = found || (d.Topic == dlt && d.Messages == n && d.Partitions == 2 && d.DetectedBy == "name")
	}
	if !found {
		t.Fatalf("%s not detected: %v", dlt, dlts)
	}
	sum, err := k.DeadLetterSummary(ctx, dlt, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Messages != n || sum.Sampled != 1000 || len(sum.Groups) != 2 || sum.Groups[0].Origin != origin ||
		sum.Groups[0].Exception != "java.lang.IllegalStateException" || sum.Groups[0].Count != 800 || sum.Groups[1].Count != 200 {
		t.Fatalf("summary %+v", sum)
	}
	page, err := k.ReadRecords(ctx, dlt, nil, 10)
	if err != nil || len(page) != 10 {
		t.Fatalf("ReadRecords: %d, %v", len(page), err)
	}
	for _, r := range page {
		i := int(r.Offset)*2 + int(r.Partition)
		if d := r.DeadLetter; d == nil || d.Format != "spring" || d.OriginalTopic != origin || *d.OriginalPartition != int32(i%3) || *d.OriginalOffset != int64(i) {
			t.Fatalf("dead letter %d (%s headers) parsed as %+v", i, map[bool]string{true: "binary", false: "text"}[i%2 == 0], r.DeadLetter)
		}
	}

	plan, total, err := planCounts(ctx, k, dlt, "", 0, OriginTarget)
	if err != nil || total != n || plan[origin] != n {
		t.Fatalf("plan %v %d %v", plan, total, err)
	}
	res, err := k.MoveRecords(ctx, backends.KafkaMoveOptions{Topic: dlt, Target: OriginTarget, RunID: "it-run"})
	if err != nil || res.Moved != n || res.Left != 0 || res.Failed != 0 || res.StoppedBecause != backends.KafkaStopEnd {
		t.Fatalf("move: %+v %v", res, err)
	}
	seen := checkMoved(t, brokers, origin, dlt, n)
	for i := range n {
		if seen[srcOf(dlt, i)] != 1 {
			t.Fatalf("dead letter %d is %d times in %s", i, seen[srcOf(dlt, i)], origin)
		}
	}
	// headers and timestamps, record by record, against the DLT
	orig := map[string]*kgo.Record{}
	for _, r := range readAll(t, brokers, dlt) {
		orig[fmt.Sprintf("%s/%d/%d", dlt, r.Partition, r.Offset)] = r
	}
	for _, r := range readAll(t, brokers, origin) {
		src, _ := header(r, HeaderReplaySource)
		o := orig[src]
		if !r.Timestamp.Equal(o.Timestamp) {
			t.Fatalf("%s: timestamp %v, want %v", src, r.Timestamp, o.Timestamp)
		}
		if len(r.Headers) != len(o.Headers)+2 || r.Headers[len(r.Headers)-1].Key != HeaderRunID || string(r.Headers[len(r.Headers)-1].Value) != "it-run" {
			t.Fatalf("%s: headers %v", src, r.Headers)
		}
		for i, h := range o.Headers {
			if r.Headers[i].Key != h.Key || !bytes.Equal(r.Headers[i].Value, h.Value) {
				t.Fatalf("%s: header %d = %q, want %q", src, i, r.Headers[i].Key, h.Key)
			}
		}
	}
	ends := offsetsOf(t, brokers, dlt)
	committed := committedOf(t, brokers, DrainGroup(dlt), dlt)
	for p, o := range ends {
		if committed[p] != o[1] {
			t.Fatalf("drain group on %s/%d: committed %d, log end %d", dlt, p, committed[p], o[1])
		}
	}
	again, err := k.MoveRecords(ctx, backends.KafkaMoveOptions{Topic: dlt, Target: OriginTarget})
	if err != nil || again.Moved != 0 || again.Left != 0 {
		t.Fatalf("second run: %+v %v", again, err)
	}
}

// TestRealMoveLimit moves 120 of 500, then the rest: exactly once each.
func TestRealMoveLimit(t *testing.T) {
	const n = 500
	k, brokers, origin, dlt := realDLT(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	leftToDrain := func(want int64) {
		t.Helper()
		dlts, err := k.ListDeadLetterTopics(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dlts {
			if d.Topic == dlt {
				if d.Messages != n || d.LeftToDrain == nil || *d.LeftToDrain != want {
					t.Fatalf("%s: %d messages, left to drain %v, want %d of %d", dlt, d.Messages, d.LeftToDrain, want, n)
				}
				return
			}
		}
		t.Fatalf("%s not listed: %+v", dlt, dlts)
	}
	leftToDrain(n) // never drained
	res, err := k.MoveRecords(ctx, backends.KafkaMoveOptions{Topic: dlt, Target: OriginTarget, Limit: 120})
	if err != nil || res.Moved != 120 || res.Left != n-120 || res.StoppedBecause != backends.KafkaStopLimit {
		t.Fatalf("limited move: %+v %v", res, err)
	}
	var sum int64
	for _, o := range committedOf(t, brokers, DrainGroup(dlt), dlt) {
		sum += o
	}
	if sum != 120 {
		t.Fatalf("drain group committed %d records, want 120", sum)
	}
	if got := len(checkMoved(t, brokers, origin, dlt, n)); got != 120 {
		t.Fatalf("%d records in %s, want 120", got, origin)
	}
	leftToDrain(n - 120)
	res, err = k.MoveRecords(ctx, backends.KafkaMoveOptions{Topic: dlt, Target: OriginTarget})
	if err != nil || res.Moved != n-120 || res.Left != 0 {
		t.Fatalf("rest: %+v %v", res, err)
	}
	leftToDrain(0) // Kafka keeps the records: Messages stays n
	seen := checkMoved(t, brokers, origin, dlt, n)
	for i := range n {
		if seen[srcOf(dlt, i)] != 1 {
			t.Fatalf("dead letter %d moved %d times", i, seen[srcOf(dlt, i)])
		}
	}
}

// TestRealMoveUnknownTarget: a dead letter whose target topic does not
// exist (auto-creation is off) stops the move with a clear error; nothing is
// committed beyond the acknowledged records.
func TestRealMoveUnknownTarget(t *testing.T) {
	const n = 500
	k, brokers, origin, dlt := realDLT(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	missing := origin + "-missing"
	target := func(r *backends.KafkaRecord) (string, int32, error) {
		if r.Partition == 0 && r.Offset == 100 {
			return missing, -1, nil
		}
		return OriginTarget(r)
	}
	res, err := k.MoveRecords(ctx, backends.KafkaMoveOptions{Topic: dlt, Target: target})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("unknown target topic %q", missing)) {
		t.Fatalf("error = %v", err)
	}
	t.Logf("error: %v", err)
	if res.Failed != 1 || res.StoppedBecause != backends.KafkaStopError || res.Moved+res.Left != n {
		t.Fatalf("result %+v", res)
	}
	committed := committedOf(t, brokers, DrainGroup(dlt), dlt)
	if committed[0] != 100 {
		t.Fatalf("%s/0 committed at %d, want 100", dlt, committed[0])
	}
	seen := checkMoved(t, brokers, origin, dlt, n)
	for p, c := range committed {
		for o := int64(0); o < c; o++ {
			if seen[fmt.Sprintf("%s/%d/%d", dlt, p, o)] != 1 {
				t.Fatalf("%s/%d/%d committed but not in %s exactly once", dlt, p, o, origin)
			}
		}
	}
	if len(seen) != res.Moved {
		t.Fatalf("%d records in %s, %d reported moved", len(seen), origin, res.Moved)
	}
	pc, err := k.PartitionCounts(ctx, []string{missing})
	if err != nil || len(pc) != 0 {
		t.Fatalf("the missing target was created: %v %v", pc, err)
	}
}

// TestRealMoveThroughput moves 20,000 dead letters to their origin and logs
// the rate.
func TestRealMoveThroughput(t *testing.T) {
	const n = 20000
	k, brokers, origin, dlt := realDLT(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	res, err := k.MoveRecords(ctx, backends.KafkaMoveOptions{Topic: dlt, Target: OriginTarget, RunID: "bench"})
	took := time.Since(start)
	if err != nil || res.Moved != n {
		t.Fatalf("%+v %v", res, err)
	}
	t.Logf("moved %d dead letters to their original partitions in %v: %.0f records/s (acks=all, idempotent, window %d, commit after ack)",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds(), DefaultMoveWindow)
	if got := len(checkMoved(t, brokers, origin, dlt, n)); got != n {
		t.Fatalf("%d distinct records in %s", got, origin)
	}
}

// TestRealMoveCancelThenResume cancels a move of 20,000 half-way, then runs
// it again: every dead letter is in its origin at least once; duplicates
// stay within the window.
func TestRealMoveCancelThenResume(t *testing.T) {
	const n = 20000
	k, brokers, origin, dlt := realDLT(t, n)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := k.MoveRecords(ctx, backends.KafkaMoveOptions{Topic: dlt, Target: OriginTarget, Wait: func(context.Context) error {
		time.Sleep(20 * time.Microsecond) // slow enough for a progress report or two
		return nil
	}, Progress: func(p backends.KafkaMoveProgress) {
		if p.Moved >= 6000 {
			cancel()
		}
	}})
	if res == nil || res.StoppedBecause != backends.KafkaStopCancelled || res.Moved >= n {
		t.Fatalf("cancelled move: %+v %v", res, err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel2()
	res2, err := k.MoveRecords(ctx2, backends.KafkaMoveOptions{Topic: dlt, Target: OriginTarget})
	if err != nil || res2.Left != 0 {
		t.Fatalf("resume: %+v %v", res2, err)
	}
	seen := checkMoved(t, brokers, origin, dlt, n)
	dups := 0
	for i := range n {
		c := seen[srcOf(dlt, i)]
		if c == 0 {
			t.Fatalf("dead letter %d lost", i)
		}
		dups += c - 1
	}
	t.Logf("cancelled after %d moved, resumed with %d: %d lost, %d duplicates (window %d)", res.Moved, res2.Moved, 0, dups, DefaultMoveWindow)
	if dups > DefaultMoveWindow {
		t.Fatalf("%d duplicates, window %d", dups, DefaultMoveWindow)
	}
}

// TestRealMoveKill runs a move of 20,000 dead letters in a child process
// and kills it with SIGKILL three times at different points, resuming each
// time, then finishes in-process: zero lost, duplicates at most one window
// per kill.
func TestRealMoveKill(t *testing.T) {
	const n, window = 20000, 500
	k, brokers, origin, dlt := realDLT(t, n)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for i, after := range []int{1500, 3000, 2500} { // moved records in this run before the kill
		cmd := exec.Command(exe, "-test.run=^TestRealMoveKillChild$", "-test.v")
		cmd.Env = append(os.Environ(), "MQOPS_KILL_CHILD_DLT="+dlt, "MQOPS_KILL_CHILD_WINDOW="+strconv.Itoa(window))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killed := false
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var moved int
			if _, err := fmt.Sscanf(sc.Text(), "moved %d", &moved); err == nil && moved >= after && !killed {
				_ = cmd.Process.Signal(syscall.SIGKILL)
				killed = true
				t.Logf("kill %d: SIGKILL after %d moved in this run", i+1, moved)
			}
		}
		_ = cmd.Wait()
		if !killed {
			t.Fatalf("run %d finished before the kill", i+1)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := k.MoveRecords(ctx, backends.KafkaMoveOptions{Topic: dlt, Target: OriginTarget, Window: window})
	if err != nil || res.Left != 0 {
		t.Fatalf("final run: %+v %v", res, err)
	}
	seen := checkMoved(t, brokers, origin, dlt, n)
	lost, dups := 0, 0
	for i := range n {
		c := seen[srcOf(dlt, i)]
		if c == 0 {
			lost++
		}
		dups += max(0, c-1)
	}
	t.Logf("3 kills: %d lost, %d duplicates in all (window %d per kill), final run moved %d", lost, dups, window, res.Moved)
	if lost > 0 || dups > 3*window {
		t.Fatalf("%d lost, %d duplicates", lost, dups)
	}
	var sum int64
	for _, o := range committedOf(t, brokers, DrainGroup(dlt), dlt) {
		sum += o
	}
	if sum != n {
		t.Fatalf("drain group committed %d, want %d", sum, n)
	}
}

// TestRealMoveKillChild is the process TestRealMoveKill kills: it moves
// the DLT named in its environment, a little slowed down, printing
// progress. It does nothing in a normal test run.
func TestRealMoveKillChild(t *testing.T) {
	dlt := os.Getenv("MQOPS_KILL_CHILD_DLT")
	if dlt == "" {
		t.Skip("child of TestRealMoveKill only")
	}
	window, _ := strconv.Atoi(os.Getenv("MQOPS_KILL_CHILD_WINDOW"))
	k, err := New(Config{Brokers: strings.Split(os.Getenv("KAFKA_BROKERS"), ","), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = k.MoveRecords(context.Background(), backends.KafkaMoveOptions{Topic: dlt, Target: OriginTarget, Window: window,
		Wait: func(context.Context) error { time.Sleep(50 * time.Microsecond); return nil },
		Progress: func(p backends.KafkaMoveProgress) {
			fmt.Fprintf(os.Stdout, "moved %d\n", p.Moved)
		}})
	if err != nil {
		t.Fatal(err)
	}
}
