package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// start runs an Env for the test and closes it at the end.
func start(t *testing.T, ctx context.Context, o Options) *Env {
	t.Helper()
	if o.Logf == nil {
		o.Logf = t.Logf
	}
	e, err := Start(ctx, o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func adminFor(t *testing.T, e *Env) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// readAll reads every record of topic from the start until n were read.
func readAll(t *testing.T, e *Env, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(e.Brokers()...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %s: got %d of %d records: %v", topic, len(out), n, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("read %s: %v", topic, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

func header(r *kgo.Record, key string) ([]byte, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return h.Value, true
		}
	}
	return nil, false
}

func sumEnds(t *testing.T, adm *kadm.Client, topic string) int64 {
	t.Helper()
	ends, err := adm.ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("end offset %s/%d: %v", o.Topic, o.Partition, o.Err)
		}
		n += o.Offset
	})
	return n
}

func TestInitialState(t *testing.T) {
	ctx := context.Background()
	e := start(t, ctx, Options{Seed: 42})
	adm := adminFor(t, e)

	if got := len(e.Brokers()); got != numBrokers {
		t.Fatalf("Brokers() = %v, want %d addresses", e.Brokers(), numBrokers)
	}

	td, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range topics {
		d, ok := td[want.name]
		if !ok {
			t.Fatalf("topic %s missing; have %v", want.name, td.Names())
		}
		if got := int32(len(d.Partitions)); got != want.partitions {
			t.Errorf("topic %s: %d partitions, want %d", want.name, got, want.partitions)
		}
		for _, p := range d.Partitions {
			if len(p.Replicas) != numBrokers || p.Leader < 0 {
				t.Errorf("%s/%d: leader %d replicas %v, want a leader and %d replicas", want.name, p.Partition, p.Leader, p.Replicas, numBrokers)
			}
		}
	}

	// Every group exists, is Empty and is a real consumer group.
	var names []string
	for _, s := range e.Scenario() {
		names = append(names, s.Group)
	}
	dg, err := adm.DescribeGroups(ctx, names...)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range names {
		d := dg[g]
		if d.Err != nil || d.State != "Empty" || d.ProtocolType != "consumer" {
			t.Errorf("group %s: state %q protocol type %q err %v, want Empty consumer group", g, d.State, d.ProtocolType, d.Err)
		}
	}

	ends, err := adm.ListEndOffsets(ctx, topicOrders, topicPayments, topicAudit, topicLegacy)
	if err != nil {
		t.Fatal(err)
	}
	starts, err := adm.ListStartOffsets(ctx, topicLegacy)
	if err != nil {
		t.Fatal(err)
	}
	end := func(topic string, p int32) int64 {
		o, ok := ends.Lookup(topic, p)
		if !ok || o.Err != nil {
			t.Fatalf("no end offset for %s/%d: %v", topic, p, o.Err)
		}
		return o.Offset
	}
	commits := func(g string) kadm.OffsetResponses {
		r, err := adm.FetchOffsets(ctx, g)
		if err != nil {
			t.Fatalf("fetch offsets %s: %v", g, err)
		}
		if err := r.Error(); err != nil {
			t.Fatalf("fetch offsets %s: %v", g, err)
		}
		return r
	}

	// legacy-events: log start moved on partition 0 only.
	if s, _ := starts.Lookup(topicLegacy, 0); s.Offset != legacyLogStart {
		t.Errorf("legacy-events/0 log start = %d, want %d", s.Offset, legacyLogStart)
	}
	if s, _ := starts.Lookup(topicLegacy, 1); s.Offset != 0 {
		t.Errorf("legacy-events/1 log start = %d, want 0", s.Offset)
	}
	for p := int32(0); p < 2; p++ {
		if got := end(topicLegacy, p); got != legacyPerPart {
			t.Errorf("legacy-events/%d end = %d, want %d", p, got, legacyPerPart)
		}
	}
	lr := commits(groupLegacy)
	if o, ok := lr.Lookup(topicLegacy, 0); !ok || o.At != legacyCommitted || o.At >= legacyLogStart {
		t.Errorf("legacy-reader on legacy-events/0: %+v (found %v), want %d, behind log start %d", o, ok, legacyCommitted, legacyLogStart)
	}
	if o, ok := lr.Lookup(topicLegacy, 1); ok && o.At >= 0 {
		t.Errorf("legacy-reader has a commit on legacy-events/1: %+v", o)
	}

	// The groups' first commits: caught up, behind, and left with lag.
	for _, c := range []struct {
		group, topic string
		parts        int32
		behind       bool
	}{
		{groupBilling, topicOrders, 6, false},
		{groupAnalytics, topicOrders, 6, false},
		{groupAnalytics, topicPayments, 3, false},
		{groupShipping, topicOrders, 6, true},
		{groupFraud, topicPayments, 3, true},
		{groupAudit, topicAudit, 4, true},
	} {
		r := commits(c.group)
		for p := int32(0); p < c.parts; p++ {
			o, ok := r.Lookup(c.topic, p)
			if !ok || o.At < 0 {
				t.Errorf("%s: no commit on %s/%d", c.group, c.topic, p)
				continue
			}
			lag := end(c.topic, p) - o.At
			if c.behind && lag <= 0 || !c.behind && lag != 0 {
				t.Errorf("%s on %s/%d: committed %d, end %d (lag %d), want behind=%v", c.group, c.topic, p, o.At, end(c.topic, p), lag, c.behind)
			}
		}
	}

	// Orders: JSON keyed by order id, with headers.
	orders := readAll(t, e, topicOrders, int(rateOrders*backlogSeconds))
	byPos := map[[2]int64]*kgo.Record{}
	for _, r := range orders {
		byPos[[2]int64{int64(r.Partition), r.Offset}] = r
		var v struct {
			OrderID  string      `json:"order_id"`
			Amount   json.Number `json:"amount"`
			Currency string      `json:"currency"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil || v.OrderID != string(r.Key) || v.Amount == "" || len(v.Currency) != 3 {
			t.Fatalf("orders record %s/%d@%d: %q (err %v)", r.Topic, r.Partition, r.Offset, r.Value, err)
		}
		if ct, ok := header(r, "content-type"); !ok || string(ct) != "application/json" || len(r.Headers) < 2 {
			t.Fatalf("orders record headers: %+v", r.Headers)
		}
	}

	// Dead letters: Spring Kafka headers pointing at real orders records.
	dlts := readAll(t, e, topicDLT, seededDeadLetter)
	if len(dlts) != seededDeadLetter {
		t.Fatalf("orders.DLT holds %d records, want %d", len(dlts), seededDeadLetter)
	}
	kinds := map[string]int{}
	hostile := 0
	for _, r := range dlts {
		for _, k := range []string{"kafka_dlt-original-topic", "kafka_dlt-original-partition", "kafka_dlt-original-offset", "kafka_dlt-exception-fqcn", "kafka_dlt-exception-message"} {
			if _, ok := header(r, k); !ok {
				t.Fatalf("DLT record %d@%d lacks header %s", r.Partition, r.Offset, k)
			}
		}
		topic, _ := header(r, "kafka_dlt-original-topic")
		part, _ := header(r, "kafka_dlt-original-partition")
		off, _ := header(r, "kafka_dlt-original-offset")
		fqcn, _ := header(r, "kafka_dlt-exception-fqcn")
		msg, _ := header(r, "kafka_dlt-exception-message")
		if string(topic) != topicOrders || len(part) != 4 || len(off) != 8 {
			t.Fatalf("DLT origin headers: topic %q partition %x offset %x", topic, part, off)
		}
		orig, ok := byPos[[2]int64{int64(int32(binary.BigEndian.Uint32(part))), int64(binary.BigEndian.Uint64(off))}]
		if !ok || !bytes.Equal(orig.Key, r.Key) {
			t.Fatalf("DLT record %d@%d points at %x/%x, which is not its orders record", r.Partition, r.Offset, part, off)
		}
		kinds[string(fqcn)]++
		if bytes.ContainsRune(msg, 0x1b) {
			hostile++
		}
	}
	if len(kinds) != 2 || kinds[fqcnIllegalState] == 0 || kinds[fqcnJSONParse] == 0 {
		t.Errorf("exception kinds: %v, want both %s and %s", kinds, fqcnIllegalState, fqcnJSONParse)
	}
	if hostile != 1 {
		t.Errorf("%d dead letters carry an escape sequence, want exactly 1", hostile)
	}
}

func TestSeedIsDeterministic(t *testing.T) {
	ctx := context.Background()
	content := func(seed int64) []string {
		e := start(t, ctx, Options{Seed: seed})
		var out []string
		for _, r := range readAll(t, e, topicDLT, seededDeadLetter) {
			out = append(out, fmt.Sprintf("%d|%s|%s", r.Partition, r.Key, r.Value))
		}
		slices.Sort(out)
		_ = e.Close()
		return out
	}
	a, b, c := content(7), content(7), content(8)
	if !slices.Equal(a, b) {
		t.Error("two starts with seed 7 seeded different dead letters")
	}
	if slices.Equal(a, c) {
		t.Error("seeds 7 and 8 seeded the same dead letters")
	}
}

func TestScenario(t *testing.T) {
	e := start(t, context.Background(), Options{})
	sc := e.Scenario()
	want := map[string]string{
		groupBilling: "OK", groupShipping: "WARN", groupFraud: "STALL",
		groupAudit: "STOP", groupLegacy: "STOP", groupAnalytics: "OK",
	}
	if len(sc) != len(want) {
		t.Fatalf("Scenario() has %d groups, want %d: %+v", len(sc), len(want), sc)
	}
	known := map[string]bool{}
	for _, tp := range topics {
		known[tp.name] = true
	}
	for _, s := range sc {
		if want[s.Group] != s.Expect {
			t.Errorf("%s: expect %q, want %q", s.Group, s.Expect, want[s.Group])
		}
		for _, tp := range strings.Split(s.Topic, ",") {
			if !known[tp] {
				t.Errorf("%s: unknown topic %q", s.Group, tp)
			}
		}
	}
	sc[0].Group = "mutated"
	if e.Scenario()[0].Group == "mutated" {
		t.Error("Scenario() returns the package's own slice")
	}
}

// eventually polls cond every 50ms until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTraffic(t *testing.T) {
	ctx := context.Background()
	base := runtime.NumGoroutine()
	e := start(t, ctx, Options{Seed: 3, Traffic: true})
	adm := adminFor(t, e)

	initial := map[string]int64{}
	for _, c := range []struct{ g, topic string }{{groupBilling, topicOrders}, {groupShipping, topicOrders}, {groupFraud, topicPayments}} {
		initial[c.g] = commitSum(t, adm, c.g, c.topic)
	}
	ordersEnd := sumEnds(t, adm, topicOrders)

	eventually(t, 15*time.Second, "orders to grow and billing and shipping to commit", func() bool {
		return sumEnds(t, adm, topicOrders) > ordersEnd &&
			commitSum(t, adm, groupBilling, topicOrders) > initial[groupBilling] &&
			commitSum(t, adm, groupShipping, topicOrders) > initial[groupShipping]
	})
	eventually(t, 15*time.Second, "live groups to be Stable with their members", func() bool {
		dg, err := adm.DescribeGroups(ctx, groupBilling, groupShipping, groupFraud, groupAnalytics, groupAudit)
		if err != nil {
			return false
		}
		for _, g := range []string{groupBilling, groupShipping, groupFraud, groupAnalytics} {
			if dg[g].State != "Stable" {
				return false
			}
		}
		var ids []string
		for _, m := range dg[groupAnalytics].Members {
			ids = append(ids, m.ClientID)
		}
		slices.Sort(ids)
		return slices.Equal(ids, []string{"analytics-worker-a", "analytics-worker-b"}) && dg[groupAudit].State == "Empty"
	})
	// fraud-check is a member but never commits.
	if got := commitSum(t, adm, groupFraud, topicPayments); got != initial[groupFraud] {
		t.Errorf("fraud-check moved its commits: %d, was %d", got, initial[groupFraud])
	}

	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	adm.Close()
	// Every goroutine of the cluster, the clients and the traffic is gone.
	eventually(t, 15*time.Second, "goroutines to end", func() bool { return runtime.NumGoroutine() <= base })
}

// commitSum sums a group's committed offsets on topic.
func commitSum(t *testing.T, adm *kadm.Client, g, topic string) int64 {
	t.Helper()
	r, err := adm.FetchOffsets(context.Background(), g)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	r.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic {
			n += o.At
		}
	})
	return n
}

func TestContextCancelStopsTraffic(t *testing.T) {
	base := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	e := start(t, ctx, Options{Seed: 5, Traffic: true})
	adm := adminFor(t, e)
	before := sumEnds(t, adm, topicOrders)
	eventually(t, 15*time.Second, "orders to grow", func() bool { return sumEnds(t, adm, topicOrders) > before })

	cancel()
	// The consumers leave their groups when the traffic stops.
	eventually(t, 15*time.Second, "live groups to be left", func() bool {
		dg, err := adm.DescribeGroups(context.Background(), groupBilling, groupShipping, groupFraud, groupAnalytics)
		if err != nil {
			return false
		}
		for _, d := range dg {
			if d.State != "Empty" {
				return false
			}
		}
		return true
	})
	// No producer is left: orders stops growing (while traffic runs it grows
	// every produce tick). The cluster still answers.
	eventually(t, 15*time.Second, "orders to stop growing", func() bool {
		before := sumEnds(t, adm, topicOrders)
		time.Sleep(3 * produceEvery)
		return sumEnds(t, adm, topicOrders) == before
	})
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	adm.Close()
	eventually(t, 15*time.Second, "goroutines to end", func() bool { return runtime.NumGoroutine() <= base })
}

func TestListenAddr(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()

	e := start(t, context.Background(), Options{ListenAddr: addr})
	if got := e.Brokers(); len(got) != numBrokers || got[0] != addr {
		t.Fatalf("Brokers() = %v, want %s first", got, addr)
	}
	// Bootstrapping from the fixed address alone reaches the whole cluster.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	md, err := kadm.NewClient(cl).BrokerMetadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Brokers) != numBrokers {
		t.Errorf("metadata lists %d brokers, want %d", len(md.Brokers), numBrokers)
	}

	// The port is taken now.
	if _, err := Start(context.Background(), Options{ListenAddr: addr}); err == nil {
		t.Error("Start on a port in use succeeded")
	}
	for _, bad := range []string{"no-port", "127.0.0.1:http", "127.0.0.1:70000"} {
		if _, err := Start(context.Background(), Options{ListenAddr: bad}); err == nil {
			t.Errorf("Start with ListenAddr %q succeeded", bad)
		}
	}
}

func TestKafkaVersion(t *testing.T) {
	ctx := context.Background()
	offsetFetchMax := func(e *Env) int16 {
		t.Helper()
		vs, err := adminFor(t, e).ApiVersions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var max int16 = -1
		vs.Each(func(b kadm.BrokerApiVersions) {
			if b.Err != nil {
				t.Fatalf("api versions of broker %d: %v", b.NodeID, b.Err)
			}
			if m, found := b.KeyMaxVersion(9); found { // 9: OffsetFetch
				max = m
			}
		})
		return max
	}
	old := start(t, ctx, Options{KafkaVersion: "2.8"})
	if got := offsetFetchMax(old); got < 0 || got >= 8 {
		t.Errorf("Kafka 2.8: OffsetFetch max version %d, want 0..7", got)
	}
	// The scenario is complete on an old broker too.
	if r, err := adminFor(t, old).FetchOffsets(ctx, groupLegacy); err != nil {
		t.Fatal(err)
	} else if o, ok := r.Lookup(topicLegacy, 0); !ok || o.At != legacyCommitted {
		t.Errorf("legacy-reader on Kafka 2.8: %+v", o)
	}
	if got := offsetFetchMax(start(t, ctx, Options{})); got < 8 {
		t.Errorf("default: OffsetFetch max version %d, want >= 8", got)
	}
	if _, err := Start(ctx, Options{KafkaVersion: "banana"}); err == nil {
		t.Error("Start with KafkaVersion banana succeeded")
	}
}

// fetches builds a poll result holding offsets [from, from+n) of each
// partition given as partition -> from.
func fetches(topic string, n int, from map[int32]int64) kgo.Fetches {
	ft := kgo.FetchTopic{Topic: topic}
	for p, start := range from {
		fp := kgo.FetchPartition{Partition: p}
		for o := start; o < start+int64(n); o++ {
			fp.Records = append(fp.Records, &kgo.Record{Topic: topic, Partition: p, Offset: o})
		}
		ft.Partitions = append(ft.Partitions, fp)
	}
	return kgo.Fetches{{Topics: []kgo.FetchTopic{ft}}}
}

func TestSlowQueueSpreadsWorkEvenly(t *testing.T) {
	s := &slowQueue{q: map[tp][]int64{}, processed: map[tp]int64{}, paused: map[tp]bool{}}
	budget := 7.0
	_, _, commit := s.step(fetches("orders", 30, map[int32]int64{0: 100, 1: 200, 2: 300}), &budget, true)
	if budget != 0 {
		t.Errorf("budget left %v, want 0", budget)
	}
	done := func(c map[string]map[int32]kgo.EpochOffset, p int32, base int64) int64 {
		if eo, ok := c["orders"][p]; ok {
			return eo.Offset - base
		}
		return 0
	}
	total := done(commit, 0, 100) + done(commit, 1, 200) + done(commit, 2, 300)
	if total != 7 {
		t.Fatalf("first step committed %d records (%v), want 7", total, commit)
	}
	// Two more steps of 7 without new data: 21 in all, 7 per partition,
	// since the round robin resumes where it stopped.
	for i := 0; i < 2; i++ {
		budget = 7
		_, _, c := s.step(nil, &budget, false)
		if c != nil {
			t.Fatalf("commit %v without asking for one", c)
		}
	}
	budget = 0
	_, _, commit = s.step(nil, &budget, true)
	for p, base := range map[int32]int64{0: 100, 1: 200, 2: 300} {
		if got := done(commit, p, base); got != 7 {
			t.Errorf("partition %d: %d records processed after 3 steps, want 7 (commit %v)", p, got, commit)
		}
	}
	// Nothing processed since the last commit: nothing to commit.
	budget = 0
	if _, _, c := s.step(nil, &budget, true); c != nil {
		t.Errorf("commit %v with nothing processed", c)
	}
}

func TestSlowQueueBoundsBacklog(t *testing.T) {
	s := &slowQueue{q: map[tp][]int64{}, processed: map[tp]int64{}, paused: map[tp]bool{}}
	budget := 0.0
	pause, resume, _ := s.step(fetches("orders", queueHigh+1, map[int32]int64{0: 0}), &budget, false)
	if !slices.Equal(pause["orders"], []int32{0}) || len(resume) != 0 {
		t.Fatalf("over the high mark: pause %v resume %v, want pause orders/0", pause, resume)
	}
	budget = float64(queueHigh - queueLow + 2) // leaves queueLow-1 queued
	pause, resume, _ = s.step(nil, &budget, false)
	if !slices.Equal(resume["orders"], []int32{0}) || len(pause) != 0 {
		t.Fatalf("under the low mark: pause %v resume %v, want resume orders/0", pause, resume)
	}

	// A revoked partition's backlog and progress are dropped.
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	s.drop(context.Background(), cl, map[string][]int32{"orders": {0}})
	budget = 5
	if _, _, c := s.step(nil, &budget, true); c != nil || budget != 5 {
		t.Errorf("after revoke: commit %v budget %v, want nothing processed", c, budget)
	}
}

// TestFirstMinute: what the demo offers to try at once is there: a
// stopped consumer group with committed offsets and no member (a reset
// is allowed), and a source topic with records next to an empty target
// of as many partitions that no group reads (a replay needs an existing
// target).
func TestFirstMinute(t *testing.T) {
	ctx := context.Background()
	e := start(t, ctx, Options{Seed: 5})
	adm := adminFor(t, e)
	stopped := false
	for _, s := range e.Scenario() {
		stopped = stopped || s.Group == ResetGroup && s.Expect == "STOP"
	}
	if !stopped {
		t.Errorf("%s is not a stopped group of the scenario: %+v", ResetGroup, e.Scenario())
	}
	dg, err := adm.DescribeGroups(ctx, ResetGroup)
	if err != nil || dg[ResetGroup].State != "Empty" || len(dg[ResetGroup].Members) != 0 {
		t.Fatalf("%s: %+v %v", ResetGroup, dg[ResetGroup], err)
	}
	offs, err := adm.FetchOffsets(ctx, ResetGroup)
	if err != nil || len(offs.Offsets()) == 0 {
		t.Fatalf("%s has no committed offset: %v", ResetGroup, err)
	}
	td, err := adm.ListTopics(ctx, ReplaySource, ReplayTarget)
	if err != nil || len(td[ReplayTarget].Partitions) == 0 || len(td[ReplayTarget].Partitions) != len(td[ReplaySource].Partitions) {
		t.Fatalf("%s and %s: %+v %v", ReplaySource, ReplayTarget, td, err)
	}
	if n := sumEnds(t, adm, ReplaySource); n == 0 {
		t.Errorf("%s is empty", ReplaySource)
	}
	if n := sumEnds(t, adm, ReplayTarget); n != 0 {
		t.Errorf("%s holds %d records, want none", ReplayTarget, n)
	}
	for _, s := range e.Scenario() {
		if slices.Contains(strings.Split(s.Topic, ","), ReplayTarget) {
			t.Errorf("group %s reads %s", s.Group, ReplayTarget)
		}
	}
}
