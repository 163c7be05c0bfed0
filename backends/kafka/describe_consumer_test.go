package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
	"github.com/mqops/mqops/backends/hostile"
	"github.com/mqops/mqops/backends/kafka/kafkatest"
)

// classicConsumer joins group with the classic protocol until the end of
// the test.
func classicConsumer(t testing.TB, c *kfake.Cluster, group, clientID string, topics ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topics...),
		kgo.ClientID(clientID), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	go func() {
		for {
			if cl.PollFetches(context.Background()).IsClientClosed() {
				return
			}
		}
	}()
}

// countKeys counts the requests of each key the cluster gets, from now on.
func countKeys(c *kfake.Cluster, keys ...kmsg.Key) map[kmsg.Key]*atomic.Int32 {
	m := map[kmsg.Key]*atomic.Int32{}
	for _, k := range keys {
		n := new(atomic.Int32)
		m[k] = n
		c.ControlKey(int16(k), func(kmsg.Request) (kmsg.Response, error, bool) {
			c.KeepControl()
			n.Add(1)
			return nil, nil, false
		})
	}
	return m
}

// sameMembers fails unless the snapshot's group has kfake's members: ids,
// client ids, hosts and assignments, and each assigned partition's row
// names its member, client and host.
func sameMembers(t *testing.T, g *backends.Group, want *kfake.GroupInfo) {
	t.Helper()
	sameMembersOnly(t, g, want)
	for _, w := range want.Members {
		for topic, ps := range w.Assignment {
			for _, p := range ps {
				row := partitionRow(g, topic, p)
				if row == nil || row.MemberID != w.MemberID || row.ClientID != w.ClientID || row.Host != w.ClientHost {
					t.Errorf("group %s %s/%d: row %+v, member %s", g.Name, topic, p, row, w.MemberID)
				}
			}
		}
	}
}

// sameMembersOnly is sameMembers without the partition rows (of a group
// described but not joined with offsets).
func sameMembersOnly(t *testing.T, g *backends.Group, want *kfake.GroupInfo) {
	t.Helper()
	if len(g.Members) != len(want.Members) {
		t.Fatalf("group %s: %d members, kfake has %d: %+v", g.Name, len(g.Members), len(want.Members), g.Members)
	}
	byID := map[string]backends.Member{}
	for _, m := range g.Members {
		byID[m.ID] = m
	}
	for _, w := range want.Members {
		m, ok := byID[w.MemberID]
		if !ok || m.ClientID != w.ClientID || m.Host != w.ClientHost || m.Host == "" || fmt.Sprint(m.Assigned) != fmt.Sprint(w.Assignment) {
			t.Errorf("group %s member %s: mqops %+v, kfake %+v", g.Name, w.MemberID, m, w)
		}
	}
}

func partitionRow(g *backends.Group, topic string, p int32) *backends.GroupPartition {
	for i := range g.Partitions {
		if g.Partitions[i].Topic == topic && g.Partitions[i].Partition == p {
			return &g.Partitions[i]
		}
	}
	return nil
}

// TestConsumerProtocolGroupDescribed (kfake, which implements
// ConsumerGroupDescribe): a group of the consumer protocol with two
// members on two topics is described as the broker knows it (kfake's own
// account of the group is the oracle): type, state, assignor, epochs,
// members with client ids, hosts and assignments (topic ids named), and
// the rows of the assigned partitions; a classic group with a member in
// the same snapshot is described as before. One ConsumerGroupDescribe and
// one DescribeGroups per coordinator at most.
func TestConsumerProtocolGroupDescribed(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(6, "orders"), kfake.SeedTopics(2, "payments"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	kafkatest.KIP848Consumer(t, c, "billing", "billing-a", "orders", "payments")
	kafkatest.KIP848Consumer(t, c, "billing", "billing-b", "orders", "payments")
	classicConsumer(t, c, "audit", "audit-1", "orders")
	want := kafkatest.WaitKfakeSettled(t, c, "billing", 2, 8)
	wantClassic := kafkatest.WaitKfakeSettled(t, c, "audit", 1, 6)

	n := countKeys(c, kmsg.ConsumerGroupDescribe, kmsg.DescribeGroups)
	snap := snapshotOf(t, c)
	g, ok := snap.Group("billing")
	if !ok {
		t.Fatalf("no group billing: %+v", snap.Groups)
	}
	if g.Type != backends.GroupConsumer || g.State != backends.GroupStable || g.Protocol == "" || g.ProtocolType != "consumer" ||
		g.GroupEpoch != want.Epoch || g.AssignmentEpoch != g.GroupEpoch || g.Err != "" || g.Unknown != "" {
		t.Errorf("group billing: %+v (kfake epoch %d)", g, want.Epoch)
	}
	for _, m := range g.Members {
		if m.Epoch != g.GroupEpoch {
			t.Errorf("member %s epoch %d, group %d", m.ID, m.Epoch, g.GroupEpoch)
		}
	}
	sameMembers(t, g, want)
	if len(g.Partitions) != 8 {
		t.Errorf("billing: %d partition rows, want 8", len(g.Partitions))
	}

	a, ok := snap.Group("audit")
	if !ok || a.Type != backends.GroupClassic || a.State != backends.GroupStable || a.Err != "" || a.Unknown != "" || a.GroupEpoch != 0 {
		t.Fatalf("classic group audit: %+v", a)
	}
	sameMembers(t, a, wantClassic)

	coords := map[int32]bool{g.Coordinator: true, a.Coordinator: true}
	if d, cd := n[kmsg.DescribeGroups].Load(), n[kmsg.ConsumerGroupDescribe].Load(); cd != 1 || d != 1 {
		t.Errorf("%d DescribeGroups and %d ConsumerGroupDescribe for one group of each type", d, cd)
	}
	t.Logf("billing on coordinator %d, audit on %d (%d coordinators)", g.Coordinator, a.Coordinator, len(coords))
}

// TestConsumerProtocolGroupRequestsPerCoordinator: mixed lists of classic
// and consumer-protocol groups spread over three coordinators are
// described with at most one DescribeGroups and one ConsumerGroupDescribe
// per coordinator, whatever the number of groups: 3 of each, then 15.
func TestConsumerProtocolGroupRequestsPerCoordinator(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(2, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	admc, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admc.Close)
	adm := kadm.NewClient(admc)
	made := 0
	for _, total := range []int{3, 15} {
		for ; made < total; made++ {
			kafkatest.KIP848Consumer(t, c, fmt.Sprintf("kip848-%02d", made), fmt.Sprintf("c-%02d", made), "orders")
			offs := kadm.Offsets{}
			offs.Add(kadm.Offset{Topic: "orders", Partition: 0, At: 0, LeaderEpoch: -1})
			if _, err := adm.CommitOffsets(context.Background(), fmt.Sprintf("classic-%02d", made), offs); err != nil {
				t.Fatal(err)
			}
		}
		for i := range total {
			kafkatest.WaitKfakeSettled(t, c, fmt.Sprintf("kip848-%02d", i), 1, 2)
		}
		n := countKeys(c, kmsg.ConsumerGroupDescribe, kmsg.DescribeGroups)
		snap := snapshotOf(t, c)
		coords := map[string]map[int32]bool{backends.GroupClassic: {}, backends.GroupConsumer: {}}
		described := 0
		for _, g := range snap.Groups {
			if g.Err != "" || g.Unknown != "" {
				t.Fatalf("group %+v", g)
			}
			coords[g.Type][g.Coordinator] = true
			if g.Type == backends.GroupConsumer && len(g.Members) == 1 && g.Members[0].ClientID != "" {
				described++
			}
		}
		d, cd := int(n[kmsg.DescribeGroups].Load()), int(n[kmsg.ConsumerGroupDescribe].Load())
		t.Logf("%d groups of each type: %d DescribeGroups on %d coordinators, %d ConsumerGroupDescribe on %d", total, d, len(coords["classic"]), cd, len(coords["consumer"]))
		if described != total || len(snap.Groups) != 2*total {
			t.Fatalf("%d groups, %d consumer-protocol groups described, want %d of each", len(snap.Groups), described, total)
		}
		if d != len(coords["classic"]) || cd != len(coords["consumer"]) || d > 3 || cd > 3 {
			t.Errorf("%d groups of each type: %d DescribeGroups and %d ConsumerGroupDescribe, for %d and %d coordinators",
				total, d, cd, len(coords["classic"]), len(coords["consumer"]))
		}
		if total == 15 && (len(coords["consumer"]) < 2 || len(coords["classic"]) < 2) {
			t.Errorf("the groups are on too few coordinators to show anything: %v", coords)
		}
	}
}

// TestConsumerProtocolGroupUnsupportedBroker: a coordinator whose
// ApiVersions lacks ConsumerGroupDescribe is not sent one; its
// consumer-protocol groups are listed as before, with their state and lag,
// and what is unknown (members, and why), not as an error.
func TestConsumerProtocolGroupUnsupportedBroker(t *testing.T) {
	c, _ := fakeCluster(t)
	kafkatest.KIP848Consumer(t, c, "kip848", "c-1", "orders")
	kafkatest.WaitKfakeSettled(t, c, "kip848", 1, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.WaitGroupInfo(ctx, "kip848", func(g *kfake.GroupInfo) bool { // the member's commits
		return g != nil && len(g.Commits["orders"]) == 2 && g.Commits["orders"][0].Offset == 10 && g.Commits["orders"][1].Offset == 5
	}); err != nil {
		t.Fatal("the member did not commit what it read")
	}
	kafkatest.WithoutConsumerGroupDescribe(t, c)
	n := countKeys(c, kmsg.ConsumerGroupDescribe)
	snap := snapshotOf(t, c)
	g, ok := snap.Group("kip848")
	if !ok {
		t.Fatal("group kip848 missing")
	}
	t.Logf("%+v", *g)
	if g.Type != backends.GroupConsumer || g.Err != "" || g.State != backends.GroupStable || len(g.Members) != 0 ||
		!strings.Contains(g.Unknown, "does not support ConsumerGroupDescribe (API 69)") || !strings.Contains(g.Unknown, fmt.Sprintf("broker %d", g.Coordinator)) {
		t.Errorf("group on a broker without ConsumerGroupDescribe: %+v", g)
	}
	if len(g.Partitions) != 2 || g.TotalLag() != 0 || g.Partitions[0].Committed == nil || *g.Partitions[0].Committed != 10 || g.Partitions[0].MemberID != "" {
		t.Errorf("lag of the group: %+v", g.Partitions)
	}
	if got := n[kmsg.ConsumerGroupDescribe].Load(); got != 0 {
		t.Errorf("%d ConsumerGroupDescribe sent to a broker that does not speak it", got)
	}
	if b, ok := snap.Group("billing"); !ok || b.Err != "" || b.Unknown != "" || b.Type != backends.GroupClassic {
		t.Errorf("classic group: %+v", b)
	}
}

// TestConsumerProtocolGroupCoordinatorErrors: the coordinator's answers
// for a consumer-protocol group are handled as for classic groups:
// NOT_COORDINATOR and COORDINATOR_LOAD_IN_PROGRESS send the group through
// the coordinator lookup and one more ConsumerGroupDescribe, which
// describes it; GROUP_ID_NOT_FOUND (the group turned classic since
// listed, or is gone) asks DescribeGroups once; any other error code is
// the group's error, with the broker's message; the other groups are
// described as usual.
func TestConsumerProtocolGroupCoordinatorErrors(t *testing.T) {
	c, _ := fakeCluster(t)
	kafkatest.KIP848Consumer(t, c, "kip848", "c-1", "orders")
	want := kafkatest.WaitKfakeSettled(t, c, "kip848", 1, 3)
	k, _ := New(Config{Brokers: c.ListenAddrs(), Timeout: 10 * time.Second})
	defer k.Close()
	snap := func() *backends.ClusterSnapshot {
		t.Helper()
		s, err := k.Snapshot(context.Background(), backends.SnapshotOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// kfake's metadata does not list __consumer_offsets: place the group
	// on its coordinator as Kafka's metadata does, so that the first
	// ConsumerGroupDescribe goes there without a lookup
	err := k.withClient(context.Background(), func(cl sarama.Client, _ sarama.ClusterAdmin) error {
		md, err := k.metadata(cl)
		if err != nil {
			return err
		}
		offsets := &sarama.TopicMetadata{Name: offsetsTopic}
		for p := range int32(50) {
			offsets.Partitions = append(offsets.Partitions, &sarama.PartitionMetadata{ID: p, Leader: c.CoordinatorFor("kip848")})
		}
		md.Topics = append(md.Topics, offsets)
		for _, code := range []*kerr.Error{kerr.NotCoordinator, kerr.CoordinatorLoadInProgress} {
			kafkatest.Answer848(c, func(_ *kmsg.ConsumerGroupDescribeRequest, g *kmsg.ConsumerGroupDescribeResponseGroup) {
				g.ErrorCode = code.Code
			})
			n := countKeys(c, kmsg.ConsumerGroupDescribe, kmsg.FindCoordinator)
			groups, _, err := k.describeGroups(cl, md, []string{"kip848"}, map[string]listedGroup{"kip848": {state: "Stable", groupType: "consumer", protocolType: "consumer"}})
			if err != nil {
				return err
			}
			g := &groups[0].g
			if g.Err != "" || g.Type != backends.GroupConsumer || g.Coordinator != c.CoordinatorFor("kip848") {
				t.Fatalf("after %s: %+v", code.Message, g)
			}
			sameMembersOnly(t, g, want)
			// the first answered by the test, then the lookup, then the
			// coordinator's answer
			if got, l := n[kmsg.ConsumerGroupDescribe].Load(), n[kmsg.FindCoordinator].Load(); got != 1 || l != 1 {
				t.Errorf("after %s: %d ConsumerGroupDescribe and %d FindCoordinator, want 2 and 1", code.Message, got+1, l)
			}
		}
		// GROUP_ID_NOT_FOUND from its coordinator: the group may have
		// turned classic since listed; DescribeGroups is asked once
		kafkatest.Answer848(c, func(_ *kmsg.ConsumerGroupDescribeRequest, g *kmsg.ConsumerGroupDescribeResponseGroup) {
			g.ErrorCode = kerr.GroupIDNotFound.Code
		})
		n := countKeys(c, kmsg.ConsumerGroupDescribe, kmsg.DescribeGroups)
		groups, _, err := k.describeGroups(cl, md, []string{"kip848"}, map[string]listedGroup{"kip848": {state: "Stable", groupType: "consumer", protocolType: "consumer"}})
		if err != nil {
			return err
		}
		// kfake's DescribeGroups answers for groups of either type (Kafka
		// says Dead of a consumer-protocol group): described as classic
		if g := &groups[0].g; g.Err != "" || g.Type != backends.GroupClassic || n[kmsg.DescribeGroups].Load() != 1 || n[kmsg.ConsumerGroupDescribe].Load() != 0 {
			t.Errorf("not found as a consumer-protocol group: %+v, then %d DescribeGroups and %d ConsumerGroupDescribe", g, n[kmsg.DescribeGroups].Load(), n[kmsg.ConsumerGroupDescribe].Load())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	msg := "not allowed \x1b[31m here"
	kafkatest.Answer848(c, func(_ *kmsg.ConsumerGroupDescribeRequest, g *kmsg.ConsumerGroupDescribeResponseGroup) {
		g.ErrorCode, g.ErrorMessage = kerr.GroupAuthorizationFailed.Code, &msg
	})
	s := snap()
	g, _ := s.Group("kip848")
	if g == nil || !strings.HasPrefix(g.Err, "describe: ") || !strings.Contains(g.Err, "not authorized") || !strings.HasSuffix(g.Err, ": "+msg) || len(g.Members) != 0 {
		t.Errorf("authorization failure: %+v", g)
	}
	if b, _ := s.Group("billing"); b == nil || b.Err != "" {
		t.Errorf("the classic group beside it: %+v", b)
	}

	// not placed (kfake): looked up, then not found: gone since listed
	kafkatest.Answer848(c, func(_ *kmsg.ConsumerGroupDescribeRequest, g *kmsg.ConsumerGroupDescribeResponseGroup) {
		g.ErrorCode = kerr.GroupIDNotFound.Code
	})
	s = snap()
	if g, _ = s.Group("kip848"); g == nil || g.Err != "" || g.State != backends.GroupDead || len(g.Members) != 0 {
		t.Errorf("not found after the lookup: %+v", g)
	}
}

// TestConsumerProtocolGroupStalledDescribe: a coordinator that stops
// answering ConsumerGroupDescribe fails the snapshot within the timeout,
// naming the broker, like any other request.
func TestConsumerProtocolGroupStalledDescribe(t *testing.T) {
	c, _ := fakeCluster(t)
	kafkatest.KIP848Consumer(t, c, "kip848", "c-1", "orders")
	kafkatest.WaitKfakeSettled(t, c, "kip848", 1, 3)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	c.ControlKey(int16(kmsg.ConsumerGroupDescribe), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		c.SleepControl(func() { <-release })
		return nil, nil, true // no answer
	})
	const timeout = time.Second
	k, _ := New(Config{Brokers: c.ListenAddrs(), Timeout: timeout})
	defer k.Close()
	start := time.Now()
	_, err := k.Snapshot(context.Background(), backends.SnapshotOptions{})
	took := time.Since(start)
	var stall *StallError
	if !errors.As(err, &stall) || !strings.Contains(err.Error(), "did not answer within 1s") {
		t.Fatalf("err = %v", err)
	}
	if took > timeout*3/2 {
		t.Errorf("took %v with a timeout of %v", took, timeout)
	}
}

// TestConsumerProtocolGroupResponseMapping: how an answer of
// ConsumerGroupDescribe becomes a group: topic ids named from the metadata
// (else by the answer's name), partitions sorted once, members sorted,
// instance ids, epochs, the assignor; error codes into the group's error
// with the broker's message; GROUP_ID_NOT_FOUND as Dead; an id nobody
// names as the group's error; strings kept as the broker sent them
// (sanitized where printed).
func TestConsumerProtocolGroupResponseMapping(t *testing.T) {
	idOrders, idGone, idNew := sarama.Uuid{1}, sarama.Uuid{2}, sarama.Uuid{3}
	names := topicIDs(&sarama.MetadataResponse{Topics: []*sarama.TopicMetadata{{Name: "orders", Uuid: idOrders}, {Name: "no-id"}, nil}})
	if len(names) != 1 || names[idOrders] != "orders" {
		t.Fatalf("topic ids: %v", names)
	}
	inst := "pod-7"
	for _, evil := range hostile.Strings {
		d := &sarama.ConsumerGroupDescription{GroupID: "g", GroupState: "Reconciling", GroupEpoch: 9, AssignmentEpoch: 8, AssignorName: "range",
			Members: []sarama.ConsumerGroupMemberDescription{
				{MemberID: "z" + evil, ClientID: evil, ClientHost: "/" + evil, MemberEpoch: 8, InstanceID: &inst,
					Assignment: sarama.ConsumerGroupAssignment{TopicPartitions: []sarama.ConsumerGroupTopicPartitions{
						{TopicID: idOrders, TopicName: "ignored", Partitions: []int32{3, 1, 3}},
						{TopicID: idNew, TopicName: "fresh", Partitions: []int32{0}},
					}}},
				{MemberID: "a", ClientID: "c", ClientHost: "/10.0.0.1", MemberEpoch: 9},
			}}
		g := backends.Group{Name: "g", Coordinator: 2}
		describeConsumer(&g, d, names)
		if g.Type != backends.GroupConsumer || g.State != "Reconciling" || g.Protocol != "range" || g.ProtocolType != "consumer" ||
			g.GroupEpoch != 9 || g.AssignmentEpoch != 8 || g.Err != "" || g.Unknown != "" || len(g.Members) != 2 {
			t.Fatalf("group: %+v", g)
		}
		m := g.Members[1]
		if g.Members[0].ID != "a" || g.Members[0].Assigned != nil || m.ID != "z"+evil || m.ClientID != evil || m.Host != "/"+evil ||
			m.InstanceID != inst || m.Epoch != 8 || fmt.Sprint(m.Assigned) != "map[fresh:[0] orders:[1 3]]" {
			t.Fatalf("members: %+v", g.Members)
		}
	}

	unnamed := &sarama.ConsumerGroupDescription{GroupState: "Stable", Members: []sarama.ConsumerGroupMemberDescription{{MemberID: "m",
		Assignment: sarama.ConsumerGroupAssignment{TopicPartitions: []sarama.ConsumerGroupTopicPartitions{{TopicID: idGone, Partitions: []int32{0}}}}}}}
	g := backends.Group{}
	describeConsumer(&g, unnamed, names)
	if !strings.Contains(g.Err, "1 topic id(s) not in the metadata") || len(g.Members) != 1 {
		t.Errorf("an id nobody names: %+v", g)
	}

	msg := "Group g is being rebuilt"
	for _, c := range []struct {
		code       sarama.KError
		msg        *string
		err, state string
		unknown    bool
	}{
		{sarama.ErrGroupIDNotFound, nil, "", backends.GroupDead, false},
		{sarama.ErrUnsupportedVersion, nil, "", "Listed", true},
		{sarama.ErrGroupAuthorizationFailed, nil, "describe: kafka server: The client is not authorized to access this group", "Listed", false},
		{sarama.ErrInvalidRequest, &msg, "describe: kafka server: This most likely occurs because of a request being malformed by the client library or the message was sent to an incompatible broker. See the broker logs for more details: " + msg, "Listed", false},
	} {
		g := backends.Group{State: "Listed", Coordinator: 3}
		describeConsumer(&g, &sarama.ConsumerGroupDescription{ErrorCode: c.code, ErrorMessage: c.msg, GroupState: "Stable", Members: []sarama.ConsumerGroupMemberDescription{{MemberID: "m"}}}, names)
		if g.Err != c.err || g.State != c.state || (g.Unknown != "") != c.unknown || len(g.Members) != 0 || g.Type != backends.GroupConsumer {
			t.Errorf("%v: %+v", c.code, g)
		}
	}
}

// TestConsumerProtocolGroupHostileMembers: member ids, client ids and
// hosts a hostile coordinator sends reach the snapshot exactly as sent
// (the renderers sanitize them: see tui and cmd/mqops).
func TestConsumerProtocolGroupHostileMembers(t *testing.T) {
	c, _ := fakeCluster(t)
	kafkatest.KIP848Consumer(t, c, "kip848", "c-1", "orders")
	kafkatest.WaitKfakeSettled(t, c, "kip848", 1, 3)
	evil := hostile.Strings[3:12]
	kafkatest.Answer848(c, func(req *kmsg.ConsumerGroupDescribeRequest, g *kmsg.ConsumerGroupDescribeResponseGroup) {
		g.State, g.Epoch, g.AssignmentEpoch, g.AssignorName = "Stable", 3, 3, evil[0]
		for i, s := range evil {
			m := kmsg.NewConsumerGroupDescribeResponseGroupMember()
			m.MemberID, m.ClientID, m.ClientHost, m.MemberEpoch = fmt.Sprint(i)+s, s, s, 3
			g.Members = append(g.Members, m)
		}
	})
	snap := snapshotOf(t, c)
	g, _ := snap.Group("kip848")
	if g == nil || len(g.Members) != len(evil) || g.Protocol != evil[0] {
		t.Fatalf("group: %+v", g)
	}
	for i, m := range g.Members {
		if m.ID != fmt.Sprint(i)+evil[i] || m.ClientID != evil[i] || m.Host != evil[i] {
			t.Errorf("member %d: %q %q %q", i, m.ID, m.ClientID, m.Host)
		}
	}
}

// TestConsumerProtocolGroupRealBroker: on the real Kafka 4, a group of
// the consumer protocol whose members are Apache Kafka's own console
// consumers (group.protocol=consumer) is described with the members,
// client ids, hosts, assignments and epochs `kafka-consumer-groups
// --describe --members --verbose` prints; a classic group in the same
// snapshot has the members `kafka-consumer-groups --describe --members`
// prints. A snapshot of these two groups takes as many requests as one of
// them and six more (three of each type).
func TestConsumerProtocolGroupRealBroker(t *testing.T) {
	env := integrationEnv(t, "KAFKA_BROKERS")
	brokers := strings.Split(env["KAFKA_BROKERS"], ",")
	sc := kafkatest.StartConsumerProtocol(t, brokers, "cg")
	k, _ := New(Config{Brokers: brokers, Timeout: 10 * time.Second})
	defer k.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// the oracle before and after the snapshot: a rebalance in between
	// would make the comparison moot, so it is taken again
	var g *backends.Group
	var snap *backends.ClusterSnapshot
	for attempt := 0; ; attempt++ {
		var err error
		snap, err = k.Snapshot(ctx, backends.SnapshotOptions{Groups: []string{sc.Group, sc.Classic}, SkipRecordTimes: true})
		if err != nil {
			t.Fatal(err)
		}
		after, out, err := kafkatest.DescribeMembers(ctx, sc.Group, true)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		g, _ = snap.Group(sc.Group)
		if fmt.Sprint(after) == fmt.Sprint(sc.Members) {
			break
		}
		if attempt == 5 {
			t.Fatalf("the group keeps changing:\n%+v\n%+v", sc.Members, after)
		}
		sc.Members = after
	}
	t.Logf("%+v", *g)
	if g.Type != backends.GroupConsumer || g.State != backends.GroupStable || g.Err != "" || g.Unknown != "" ||
		g.Protocol == "" || g.GroupEpoch <= 0 || g.AssignmentEpoch != g.GroupEpoch {
		t.Errorf("group: %+v", g)
	}
	compareOracle(t, g, sc.Members, true)
	clients := map[string]bool{}
	for _, m := range g.Members {
		clients[m.ClientID] = true
	}
	if len(clients) != 2 || !clients[sc.Clients[0]] || !clients[sc.Clients[1]] {
		t.Errorf("client ids %v, want %v", clients, sc.Clients)
	}

	classic, _ := snap.Group(sc.Classic)
	want, out, err := kafkatest.DescribeMembers(ctx, sc.Classic, false)
	if err != nil || classic == nil {
		t.Fatalf("%v %v\n%s", classic, err, out)
	}
	if classic.Type != backends.GroupClassic || classic.State != backends.GroupStable || classic.Err != "" || classic.Protocol == "" ||
		len(classic.Members) != 1 || classic.Members[0].ClientID != sc.ClassicClient || len(classic.Partitions) != sc.Partitions {
		t.Errorf("classic group: %+v", classic)
	}
	compareOracle(t, classic, want, false)

	// three more groups of each type: the same requests
	base := snap.Requests
	groups := []string{sc.Group, sc.Classic}
	admc, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admc.Close) // after the deletion below
	adm := kadm.NewClient(admc)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if r, err := adm.DeleteGroups(ctx, groups[2:]...); err != nil || r.Error() != nil {
			t.Errorf("deleting the extra groups: %v %v", err, r.Error())
		}
	})
	for i := range 3 {
		name := fmt.Sprintf("%s.extra-classic-%d", sc.Topic, i)
		offs := kadm.Offsets{}
		offs.Add(kadm.Offset{Topic: sc.Topic, Partition: 0, At: 1, LeaderEpoch: -1})
		if _, err := adm.CommitOffsets(ctx, name, offs); err != nil {
			t.Fatal(err)
		}
		groups = append(groups, name)
		name = fmt.Sprintf("%s.extra-kip848-%d", sc.Topic, i)
		cons, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumerGroup(name), kgo.ConsumeTopics(sc.Topic), kgo.ServerSideBalancer(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
		if err != nil {
			t.Fatal(err)
		}
		for got := 0; got == 0 && ctx.Err() == nil; {
			got = cons.PollRecords(ctx, 1).NumRecords()
		}
		err = cons.CommitUncommittedOffsets(ctx)
		cons.Close() // the group stays, Empty, with its offsets
		if err != nil {
			t.Fatal(err)
		}
		groups = append(groups, name)
	}
	// the describe requests alone: the time lag's Fetch (one per leader) is
	// counted by TestTimeLagFetchBounded*
	more, err := k.Snapshot(ctx, backends.SnapshotOptions{Groups: groups, SkipRecordTimes: true})
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]int{}
	for _, g := range more.Groups {
		if g.Err != "" || g.Unknown != "" {
			t.Errorf("group %+v", g)
		}
		types[g.Type]++
	}
	if types[backends.GroupClassic] != 4 || types[backends.GroupConsumer] != 4 {
		t.Errorf("types of the eight groups: %v", types)
	}
	t.Logf("2 groups: %d requests; 8 groups: %d requests", base, more.Requests)
	if more.Requests != base {
		t.Errorf("2 groups took %d requests, 8 groups %d", base, more.Requests)
	}
}

// compareOracle fails unless g's members are those kafka-consumer-groups
// printed: ids, hosts, client ids, partition counts, and with verbose
// (consumer protocol) assignments and epochs; and each assigned
// partition's row names its member.
func compareOracle(t *testing.T, g *backends.Group, want []kafkatest.OracleMember, verbose bool) {
	t.Helper()
	if len(g.Members) != len(want) {
		t.Fatalf("group %s: %d members, kafka-consumer-groups %d:\n%+v\n%+v", g.Name, len(g.Members), len(want), g.Members, want)
	}
	for i, w := range want { // both sorted by member id
		m := g.Members[i]
		n := 0
		for _, ps := range m.Assigned {
			n += len(ps)
		}
		if m.ID != w.ID || m.Host != w.Host || m.ClientID != w.ClientID || n != w.Partitions {
			t.Errorf("group %s member %d: mqops %+v, kafka-consumer-groups %+v", g.Name, i, m, w)
		}
		if verbose && (fmt.Sprint(m.Assigned) != fmt.Sprint(w.Assigned) || m.Epoch != w.Epoch) {
			t.Errorf("group %s member %s: assigned %v epoch %d, kafka-consumer-groups %v epoch %d", g.Name, m.ID, m.Assigned, m.Epoch, w.Assigned, w.Epoch)
		}
		for topic, ps := range m.Assigned {
			for _, p := range ps {
				if r := partitionRow(g, topic, p); r == nil || r.MemberID != m.ID || r.ClientID != m.ClientID || r.Host != m.Host {
					t.Errorf("group %s %s/%d: row %+v", g.Name, topic, p, r)
				}
			}
		}
	}
}
