package kafka

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mqops/mqops/backends"
)

// fakeCluster starts an in-process Kafka with topic "orders" (3 partitions),
// produces per-partition record counts and commits group offsets.
func fakeCluster(t *testing.T) (*kfake.Cluster, *kgo.Client) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "orders"), kfake.SeedTopics(1, "empty"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx := context.Background()
	for p, n := range []int{10, 5, 0} {
		for i := 0; i < n; i++ {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Partition: int32(p), Value: []byte("v")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	adm := kadm.NewClient(cl)
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "orders", Partition: 0, At: 4, LeaderEpoch: -1})
	offs.Add(kadm.Offset{Topic: "orders", Partition: 1, At: 5, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(ctx, "billing", offs); err != nil {
		t.Fatal(err)
	}
	return c, cl
}

func TestSnapshotAgainstKfake(t *testing.T) {
	c, _ := fakeCluster(t)
	snap := snapshotOf(t, c)
	orders, ok := snap.Topic("orders")
	if !ok || len(orders.Partitions) != 3 {
		t.Fatalf("orders topic: %+v", snap.Topics)
	}
	if orders.Partitions[0].LogEnd != 10 || orders.Partitions[1].LogEnd != 5 || orders.Partitions[2].LogEnd != 0 {
		t.Fatalf("log ends: %+v", orders.Partitions)
	}
	g, ok := snap.Group("billing")
	if !ok {
		t.Fatalf("group billing missing: %+v", snap.Groups)
	}
	if g.State != backends.GroupEmpty {
		t.Errorf("state = %q", g.State)
	}
	if len(g.Partitions) != 2 {
		t.Fatalf("partitions: %+v", g.Partitions)
	}
	if *g.Partitions[0].Lag != 6 || *g.Partitions[1].Lag != 0 || g.TotalLag() != 6 {
		t.Fatalf("lag: %+v", g.Partitions)
	}
	if snap.Requests > 10 {
		t.Errorf("requests = %d", snap.Requests)
	}
}

func TestSnapshotUnknownGroupAndTopic(t *testing.T) {
	c, _ := fakeCluster(t)
	k, _ := New(Config{Brokers: c.ListenAddrs(), Timeout: 5 * time.Second})
	defer k.Close()
	if _, err := k.Snapshot(context.Background(), backends.SnapshotOptions{Groups: []string{"nope"}}); err == nil || !contains(err.Error(), `unknown consumer group "nope"`) {
		t.Fatalf("err = %v", err)
	}
	if _, err := k.Snapshot(context.Background(), backends.SnapshotOptions{Topics: []string{"nope\x1b[2J"}}); err == nil || !contains(err.Error(), `unknown topic "nope\x1b[2J"`) || contains(err.Error(), "\x1b") {
		t.Fatalf("err = %v", err)
	}
}

func TestUnreachableBrokerFailsFast(t *testing.T) {
	k, err := New(Config{Brokers: []string{"127.0.0.1:1"}, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = k.Snapshot(context.Background(), backends.SnapshotOptions{})
	if err == nil || !contains(err.Error(), "cannot reach any Kafka broker at 127.0.0.1:1") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestSnapshotHonoursContext(t *testing.T) {
	// A listener that accepts and never answers: the call must return at the
	// context deadline, not hang.
	k, _ := New(Config{Brokers: []string{blackhole(t)}, Timeout: 30 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := k.Snapshot(ctx, backends.SnapshotOptions{})
	if err == nil || !contains(err.Error(), "timed out") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestNewValidates(t *testing.T) {
	for _, cfg := range []Config{{}, {Brokers: []string{"nohost"}}, {Brokers: []string{"h:1"}, SASL: &SASL{Mechanism: "GSSAPI"}}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestCloseDoesNotWaitForAbandonedCall(t *testing.T) {
	k, _ := New(Config{Brokers: []string{blackhole(t)}, Timeout: 20 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := k.Snapshot(ctx, backends.SnapshotOptions{}); err == nil {
		t.Fatal("snapshot of a silent broker succeeded")
	}
	done := make(chan struct{})
	go func() { k.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Close blocked on the abandoned call")
	}
}

func TestParseDeadLetterHeaders(t *testing.T) {
	bin := map[string][]byte{"kafka_dlt-original-topic": []byte("orders"), "kafka_dlt-original-partition": {0, 0, 0, 3},
		"kafka_dlt-original-offset": {0, 0, 0, 0, 0, 0, 1, 0}, "kafka_dlt-exception-fqcn": []byte("java.lang.IllegalStateException")}
	d := ParseDeadLetterHeaders(bin)
	if d == nil || d.Format != "spring" || d.OriginalTopic != "orders" || *d.OriginalPartition != 3 || *d.OriginalOffset != 256 || d.ExceptionClass != "java.lang.IllegalStateException" {
		t.Fatalf("spring binary: %+v", d)
	}
	text := map[string][]byte{"kafka_dlt-original-topic": []byte("orders"), "kafka_dlt-original-partition": []byte("2"), "kafka_dlt-original-offset": []byte("12345678")}
	if d := ParseDeadLetterHeaders(text); *d.OriginalPartition != 2 || *d.OriginalOffset != 12345678 {
		t.Fatalf("spring text: %+v", d)
	}
	conn := map[string][]byte{"__connect.errors.topic": []byte("pay"), "__connect.errors.partition": []byte("1"), "__connect.errors.exception.class.name": []byte("org.apache.kafka.connect.errors.DataException")}
	if d := ParseDeadLetterHeaders(conn); d.Format != "connect" || d.OriginalTopic != "pay" || *d.OriginalPartition != 1 {
		t.Fatalf("connect: %+v", d)
	}
	if ParseDeadLetterHeaders(map[string][]byte{"other": nil}) != nil {
		t.Fatal("no DLT headers must give nil")
	}
	for name, want := range map[string]bool{"orders.DLT": true, "orders-dlq": true, "dlq.orders": true, "orders_error": true, "orders": false, "dltx": false} {
		if IsDLTName(name) != want {
			t.Errorf("IsDLTName(%q) != %v", name, want)
		}
	}
}

// snapshotOf takes one snapshot of c with a fresh client.
func snapshotOf(t *testing.T, c *kfake.Cluster) *backends.ClusterSnapshot {
	t.Helper()
	return takeSnapshot(t, clientOf(t, c), backends.SnapshotOptions{})
}

// clientOf is a client of the cluster for the test (10 s timeout).
func clientOf(t *testing.T, c *kfake.Cluster) *Client {
	t.Helper()
	k, err := New(Config{Brokers: c.ListenAddrs(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

// takeSnapshot takes a snapshot with k, failing the test on an error.
func takeSnapshot(t *testing.T, k *Client, opts backends.SnapshotOptions) *backends.ClusterSnapshot {
	t.Helper()
	snap, err := k.Snapshot(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// manyGroups starts a 3-broker kfake cluster with n groups committed on
// "orders".
func manyGroups(t *testing.T, n int) *kfake.Cluster {
	c, _ := clusterWithGroups(t, 3, n, "group-%03d", false)
	return c
}

// clusterWithGroups starts a kfake cluster of brokers brokers with n
// groups, named by format from their index, committed on "orders"; with
// placed, its metadata lists __consumer_offsets so that the groups are
// placed as on Kafka (listOffsetsTopic).
func clusterWithGroups(t *testing.T, brokers, n int, format string, placed bool) (*kfake.Cluster, []string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(brokers), kfake.SeedTopics(int32(brokers), "orders"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	names := commitGroups(t, cl, n, format)
	if placed {
		listOffsetsTopic(t, c, cl, names)
	}
	return c, names
}

// commitGroups commits n groups, named by format from their index, at
// offset 0 of orders/0, and returns their names.
func commitGroups(tb testing.TB, cl *kgo.Client, n int, format string) []string {
	tb.Helper()
	adm := kadm.NewClient(cl)
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "orders", Partition: 0, At: 0, LeaderEpoch: -1})
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf(format, i)
		if _, err := adm.CommitOffsets(context.Background(), names[i], offs); err != nil {
			tb.Fatal(err)
		}
	}
	return names
}

// TestSnapshotWithoutOffsetsTopic: a cluster whose metadata does not list
// __consumer_offsets (kfake) gets its coordinators from FindCoordinator.
func TestSnapshotWithoutOffsetsTopic(t *testing.T) {
	c := manyGroups(t, 30)
	var lookups atomic.Int32
	c.ControlKey(int16(kmsg.FindCoordinator), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		lookups.Add(1)
		return nil, nil, false // the cluster answers as usual
	})
	snap := snapshotOf(t, c)
	if len(snap.Groups) != 30 || lookups.Load() < 30 {
		t.Fatalf("%d groups, %d lookups", len(snap.Groups), lookups.Load())
	}
	for _, g := range snap.Groups {
		if g.Err != "" || g.Coordinator < 0 || len(g.Partitions) != 1 {
			t.Fatalf("group %+v", g)
		}
	}
}

// TestDescribeGroupsWrongPlacement: when the metadata places groups on a
// broker that is not their coordinator, the broker says so and those
// groups are looked up and described again: every group ends up described
// with its real coordinator.
func TestDescribeGroupsWrongPlacement(t *testing.T) {
	c := manyGroups(t, 30)
	k := clientOf(t, c)
	names, md := onBrokerZero(30)
	err := k.withClient(context.Background(), func(cl sarama.Client, _ sarama.ClusterAdmin) error {
		groups, _, err := k.describeGroups(cl, md, names, map[string]listedGroup{})
		if err != nil {
			return err
		}
		moved := 0
		for _, g := range groups {
			co, err := cl.Coordinator(g.g.Name)
			if err != nil {
				return err
			}
			if g.g.Err != "" || g.g.Coordinator != co.ID() || g.g.State == "" {
				t.Errorf("group %+v (coordinator %d)", g.g, co.ID())
			}
			if co.ID() != 0 {
				moved++
			}
		}
		if moved == 0 {
			t.Fatal("kfake put every group on broker 0: the wrong placement was not exercised")
		}
		t.Logf("%d of 30 groups placed wrongly, then found", moved)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// onBrokerZero names n groups as manyGroups does and makes a metadata
// that places them all on broker 0 (every partition of __consumer_offsets
// led by it): of kfake's three brokers, most groups are coordinated by
// another.
func onBrokerZero(n int) ([]string, *sarama.MetadataResponse) {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("group-%03d", i)
	}
	md := &sarama.MetadataResponse{Topics: []*sarama.TopicMetadata{{Name: offsetsTopic}}}
	for p := range int32(50) {
		md.Topics[0].Partitions = append(md.Topics[0].Partitions, &sarama.PartitionMetadata{ID: p, Leader: 0})
	}
	return names, md
}

// TestSnapshotGroupWithoutCoordinator: a group whose coordinator cannot be
// found carries the error; the other groups are described as usual.
func TestSnapshotGroupWithoutCoordinator(t *testing.T) {
	c := manyGroups(t, 5)
	c.ControlKey(int16(kmsg.FindCoordinator), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.FindCoordinatorRequest)
		if r.CoordinatorKey != "group-002" {
			return nil, nil, false
		}
		resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
		resp.Version = r.Version
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp, nil, true
	})
	snap := snapshotOf(t, c)
	for _, g := range snap.Groups {
		switch {
		case g.Name == "group-002":
			if !strings.Contains(g.Err, "no coordinator") {
				t.Errorf("group-002: err %q", g.Err)
			}
		case g.Err != "" || len(g.Partitions) != 1:
			t.Errorf("group %+v", g)
		}
	}
	if len(snap.Groups) != 5 {
		t.Fatalf("%d groups", len(snap.Groups))
	}
}

// TestSnapshotOffsetFetchMovedAndFailed: the groups of each OffsetFetch
// are joined as its answer comes; a group its broker says it does not
// coordinate is fetched again and joined after, and the groups of a
// request that failed are in the snapshot with the error and no rows.
// Every group is there once, in order.
func TestSnapshotOffsetFetchMovedAndFailed(t *testing.T) {
	c := manyGroups(t, 30)
	const moved, failing = "group-004", "group-007"
	var forged, failed atomic.Int32
	c.ControlKey(int16(kmsg.OffsetFetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.OffsetFetchRequest)
		if len(r.Groups) < 2 { // the moved group's own request: the broker answers
			return nil, nil, false
		}
		for _, g := range r.Groups {
			if g.Group == failing {
				failed.Add(1)
				return nil, fmt.Errorf("connection dropped"), true
			}
		}
		resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
		resp.Version = r.Version
		for _, g := range r.Groups {
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group = g.Group
			if g.Group == moved {
				rg.ErrorCode = kerr.NotCoordinator.Code
			} else {
				rt := kmsg.NewOffsetFetchResponseGroupTopic()
				rt.Topic = "orders"
				rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
				rp.Partition, rp.Offset, rp.LeaderEpoch = 0, 0, -1
				rt.Partitions = append(rt.Partitions, rp)
				rg.Topics = append(rg.Topics, rt)
			}
			resp.Groups = append(resp.Groups, rg)
		}
		forged.Add(1)
		return resp, nil, true
	})
	snap := snapshotOf(t, c)
	if failed.Load() == 0 || forged.Load() == 0 {
		t.Fatalf("requests failed %d, answered %d: both paths must be taken", failed.Load(), forged.Load())
	}
	if len(snap.Groups) != 30 {
		t.Fatalf("%d groups, want 30", len(snap.Groups))
	}
	withErr := 0
	for i, g := range snap.Groups {
		if want := fmt.Sprintf("group-%03d", i); g.Name != want {
			t.Fatalf("group %d is %q, want %q", i, g.Name, want)
		}
		switch {
		case g.Err != "":
			withErr++
			if !strings.Contains(g.Err, "offset fetch") || len(g.Partitions) != 0 {
				t.Errorf("group %s: error %q, %d rows", g.Name, g.Err, len(g.Partitions))
			}
		case len(g.Partitions) != 1 || g.Partitions[0].Committed == nil || *g.Partitions[0].Committed != 0 || g.Partitions[0].Lag == nil:
			t.Errorf("group %s: rows %+v", g.Name, g.Partitions)
		}
		if g.Name == failing && g.Err == "" {
			t.Errorf("%s: no error, though its request failed", failing)
		}
		if g.Name == moved && g.Err != "" {
			t.Errorf("%s: %q, though it was fetched again", moved, g.Err)
		}
	}
	if withErr == 0 || withErr == 30 {
		t.Errorf("%d groups with an error", withErr)
	}
}

// TestSnapshotEmptyGroupsNotDescribed: a classic group that ListGroups
// lists Empty is not described (DescribeGroups would add nothing: no
// members, no protocol chosen). A snapshot of such groups sends no
// DescribeGroups for them, and each has its state, its coordinator and
// its committed offsets; a group with a member is described.
func TestSnapshotEmptyGroupsNotDescribed(t *testing.T) {
	c, names := clusterWithGroups(t, 3, 30, "group-%03d", true)
	var (
		mu        sync.Mutex
		described = map[string]int{}
	)
	c.ControlKey(int16(kmsg.DescribeGroups), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		mu.Lock()
		defer mu.Unlock()
		for _, g := range req.(*kmsg.DescribeGroupsRequest).Groups {
			described[g]++
		}
		return nil, nil, false
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	coords := kadm.NewClient(cl).FindGroupCoordinators(context.Background(), names...)

	k := clientOf(t, c)
	snap := takeSnapshot(t, k, backends.SnapshotOptions{})
	if len(snap.Groups) != len(names) {
		t.Fatalf("%d groups, want %d", len(snap.Groups), len(names))
	}
	for _, g := range snap.Groups {
		if g.State != backends.GroupEmpty || g.Type != backends.GroupClassic || g.Err != "" || len(g.Members) != 0 {
			t.Errorf("group %s: state %q, type %q, error %q, %d members", g.Name, g.State, g.Type, g.Err, len(g.Members))
		}
		if want := coords[g.Name].NodeID; g.Coordinator != want {
			t.Errorf("group %s: coordinator %d, want %d", g.Name, g.Coordinator, want)
		}
		if len(g.Partitions) != 1 || g.Partitions[0].Committed == nil || *g.Partitions[0].Committed != 0 {
			t.Errorf("group %s: rows %+v", g.Name, g.Partitions)
		}
	}
	mu.Lock()
	if len(described) != 0 {
		t.Errorf("Empty groups described: %v", described)
	}
	mu.Unlock()

	classicConsumer(t, c, "live", "live-client", "orders")
	deadline := time.Now().Add(10 * time.Second)
	for {
		snap, err := k.Snapshot(context.Background(), backends.SnapshotOptions{Groups: []string{"live"}})
		if err == nil && len(snap.Groups) == 1 && snap.Groups[0].State == backends.GroupStable && len(snap.Groups[0].Members) == 1 {
			if snap.Groups[0].Members[0].ClientID != "live-client" {
				t.Errorf("member %+v", snap.Groups[0].Members[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the group with a member was not described: %v %+v", err, snap)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if described["live"] == 0 {
		t.Error("the group with a member was not described")
	}
}

// TestEmptyGroupsWrongPlacement: Empty groups the metadata places on a
// broker that is not their coordinator are not described, so OffsetFetch
// is what finds the mistake: the broker says it does not coordinate them,
// and they are fetched again from their coordinator, which the snapshot
// then names.
func TestEmptyGroupsWrongPlacement(t *testing.T) {
	c := manyGroups(t, 30)
	k := clientOf(t, c)
	names, md := onBrokerZero(30)
	listed := map[string]listedGroup{}
	for _, name := range names {
		listed[name] = listedGroup{state: backends.GroupEmpty, groupType: backends.GroupClassic, protocolType: "consumer"}
	}
	err := k.withClient(context.Background(), func(cl sarama.Client, ad sarama.ClusterAdmin) error {
		groups, described, err := k.describeGroups(cl, md, names, listed)
		if err != nil {
			return err
		}
		if described != 0 {
			t.Errorf("%d DescribeGroups requests for Empty groups", described)
		}
		var settled atomic.Int32 // the parts settle on their own goroutines
		if _, err := k.fetchCommitted(cl, ad, groups, func(part []*describedGroup, _ bool) { settled.Add(int32(len(part))) }); err != nil {
			return err
		}
		moved := 0
		for _, g := range groups {
			co, err := cl.Coordinator(g.g.Name)
			if err != nil {
				return err
			}
			if co.ID() != 0 {
				moved++
			}
			if g.g.Err != "" || g.g.Coordinator != co.ID() || len(g.committed) != 1 || g.committed[0].off != 0 {
				t.Errorf("group %s: error %q, coordinator %d (want %d), commits %+v", g.g.Name, g.g.Err, g.g.Coordinator, co.ID(), g.committed)
			}
		}
		if moved == 0 {
			t.Fatal("kfake put every group on broker 0: the wrong placement was not exercised")
		}
		if int(settled.Load()) != 30-moved {
			t.Errorf("%d groups settled by their first fetch, want %d", settled.Load(), 30-moved)
		}
		t.Logf("%d of 30 Empty groups placed wrongly, then fetched from their coordinator", moved)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestFailedFirstSnapshotLeavesTheNextFirst: the record times of a
// client's first snapshot read again at once what one read left (it has
// no earlier refresh to lean on); a first snapshot that fails after its
// record times began leaves the next one the first.
func TestFailedFirstSnapshotLeavesTheNextFirst(t *testing.T) {
	c := manyGroups(t, 5)
	var failing atomic.Bool
	failing.Store(true)
	c.ControlKey(int16(kmsg.OffsetFetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if failing.Load() {
			return nil, fmt.Errorf("connection dropped"), true
		}
		return nil, nil, false
	})
	k := clientOf(t, c)
	if _, err := k.Snapshot(context.Background(), backends.SnapshotOptions{}); err == nil {
		t.Fatal("the snapshot whose OffsetFetch requests failed did not fail")
	}
	failing.Store(false)
	if k.rt != nil {
		t.Fatal("a failed first snapshot left the record-time cache: the next is not the first")
	}
	takeSnapshot(t, k, backends.SnapshotOptions{})
	if k.rt == nil {
		t.Fatal("no record-time cache after a snapshot")
	}
}
