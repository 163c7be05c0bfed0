package tui

import (
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/hostile"
	"github.com/mqops/mqops/backends/kafka"
	"github.com/mqops/mqops/backends/kafka/kafkatest"
)

// withConsumerGroups is the synthetic cluster at step k with three groups
// of the consumer protocol (KIP-848) on orders: "checkout", stable;
// "ledger", reconciling (its assignment epoch behind the group's); and
// "legacy", on a broker that cannot describe it (members unknown).
func withConsumerGroups(k int) *backends.ClusterSnapshot {
	s := cluster(k)
	var orders []backends.Partition
	for _, t := range s.Topics {
		if t.Name == "orders" {
			orders = t.Partitions
		}
	}
	rows := func(member, client, host string, committed int64) []backends.GroupPartition {
		var out []backends.GroupPartition
		for i, p := range orders {
			c, l := committed, p.LogEnd-committed
			r := backends.GroupPartition{Topic: p.Topic, Partition: p.Partition, Committed: &c, LogStart: p.LogStart, LogEnd: p.LogEnd, Lag: &l}
			if member != "" {
				r.MemberID, r.ClientID, r.Host = member+string(rune('a'+i%2)), client, host+string(rune('1'+i%2))
			}
			out = append(out, r)
		}
		return out
	}
	checkout := backends.Group{Name: "checkout", State: backends.GroupStable, Type: backends.GroupConsumer, Protocol: "uniform", ProtocolType: "consumer",
		GroupEpoch: 12, AssignmentEpoch: 12, Coordinator: 2,
		Members: []backends.Member{
			{ID: "Xq3-mema", ClientID: "checkout-svc", Host: "/10.0.5.1", Epoch: 12, Assigned: map[string][]int32{"orders": {0, 2}}},
			{ID: "Xq3-memb", ClientID: "checkout-svc", Host: "/10.0.5.2", Epoch: 12, Assigned: map[string][]int32{"orders": {1}}},
		},
		Partitions: rows("Xq3-mem", "checkout-svc", "/10.0.5.", 100_000),
	}
	ledger := checkout
	ledger.Name, ledger.State, ledger.GroupEpoch, ledger.AssignmentEpoch = "ledger", backends.GroupReconciling, 8, 7
	ledger.Partitions = rows("Lg7-mem", "ledger-svc", "/10.0.6.", 110_000)
	legacy := backends.Group{Name: "legacy", State: backends.GroupStable, Type: backends.GroupConsumer, ProtocolType: "consumer", Coordinator: 1,
		Unknown:    "members: broker 1 (the coordinator) does not support ConsumerGroupDescribe (API 69) for KIP-848 groups; state and lag are known",
		Partitions: rows("", "", "", 90_000),
	}
	s.Groups = append(s.Groups, checkout, ledger, legacy)
	return s
}

// TestConsumerProtocolGroupGolden: the group view's header says which
// protocol a group uses (consumer (KIP-848), its assignor and epoch; the
// assignment's epoch when it lags), its members are shown as for classic
// groups; a group its broker cannot describe shows "?" members and what
// is unknown; the groups list shows "?" members for it.
func TestConsumerProtocolGroupGolden(t *testing.T) {
	for _, name := range []string{"checkout", "ledger", "legacy", "groups"} {
		t.Run(name, func(t *testing.T) {
			src := &cannedSource{}
			for k := 0; k < 3; k++ {
				src.push(withConsumerGroups(k), nil)
			}
			h := newHarness(t, Options{Cluster: "kafka-1.test:9092"}, src)
			fire[refreshTickMsg](h)
			fire[refreshTickMsg](h)
			if name != "groups" {
				h.selectRow(name)
				h.keys("enter")
			}
			checkFrame(t, h.m.View().Content, 120, 30)
			golden.RequireEqual(t, h.screen())
		})
	}
}

// TestConsumerProtocolGroupHostileConsole: a hostile broker's group type,
// assignor, member ids, client ids, hosts and unknown note never reach the
// screen raw in the groups list and the group view, and no line is wider
// than the screen.
func TestConsumerProtocolGroupHostileConsole(t *testing.T) {
	for _, s := range hostile.Strings {
		snap := cluster(0)
		for _, typ := range []string{backends.GroupConsumer, s} {
			g := backends.Group{Name: "g-" + typ, State: s, Type: typ, Protocol: s, ProtocolType: s, GroupEpoch: 3, AssignmentEpoch: 2, Unknown: s,
				Members: []backends.Member{{ID: s, ClientID: s, Host: s, Epoch: 2, Assigned: map[string][]int32{"orders": {0}}}}}
			c, l := int64(1), int64(2)
			g.Partitions = []backends.GroupPartition{{Topic: "orders", Partition: 0, Committed: &c, LogEnd: 3, Lag: &l, MemberID: s, ClientID: s, Host: s}}
			snap.Groups = append(snap.Groups, g)
		}
		src := &cannedSource{}
		src.set(snap, nil)
		h := newHarness(t, Options{Cluster: "kafka-1.test:9092"}, src)
		check := func(what string) {
			t.Helper()
			raw := h.m.View().Content
			checkFrame(t, raw, 120, 30)
			for _, l := range strings.Split(raw, "\n") {
				if err := hostile.Check([]byte(sgr.ReplaceAllString(l, ""))); err != nil {
					t.Fatalf("%s of %q: %v", what, s, err)
				}
			}
		}
		check("groups list")
		for _, g := range snap.Groups[len(snap.Groups)-2:] {
			h.selectRow(g.Name)
			h.keys("enter")
			check("group view")
			h.keys("esc")
		}
	}
}

// sgr matches the colour sequences the console's styles write: any other
// escape sequence on the screen came from broker text.
var sgr = regexp.MustCompile(`\x1b\[[0-9;:]*m`)

// TestConsumerProtocolGroupInTheConsole: on the real Kafka 4, the
// console's group view of a group whose members are Apache Kafka's own
// console consumers (group.protocol=consumer) says it uses the consumer
// protocol and shows, on each partition, the member, client id and host
// `kafka-consumer-groups --describe --members --verbose` gives; the
// classic group beside it says classic and shows its member.
func TestConsumerProtocolGroupInTheConsole(t *testing.T) {
	brokers := os.Getenv("KAFKA_BROKERS")
	if brokers == "" {
		if os.Getenv("MQOPS_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("KAFKA_BROKERS is not set")
		}
		t.Skip("KAFKA_BROKERS not set: integration test skipped")
	}
	sc := kafkatest.StartConsumerProtocol(t, strings.Split(brokers, ","), "cg")
	k, err := kafka.New(kafka.Config{Brokers: strings.Split(brokers, ","), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	h := newHarness(t, Options{Kafka: k, Cluster: brokers}, nil)
	h.send(teaWindow(220, 40))
	if h.m.data.snap == nil {
		t.Fatal("no snapshot after the first refresh")
	}
	h.selectRow(sc.Group)
	h.keys("enter")
	screen := h.screen()
	t.Logf("\n%s", screen)
	if !strings.Contains(screen, "protocol consumer (KIP-848) ") || !strings.Contains(screen, "members 2 ") {
		t.Errorf("the group view's header does not say the protocol and members:\n%s", screen)
	}
	for _, m := range sc.Members {
		for _, p := range m.Assigned[sc.Topic] {
			if !hasRow(screen, sc.Topic, p, m.ID, m.ClientID, m.Host) {
				t.Errorf("no row %s/%d with member %s, client %s, host %s:\n%s", sc.Topic, p, m.ID, m.ClientID, m.Host, screen)
			}
		}
	}
	h.keys("esc")
	h.selectRow(sc.Classic)
	h.keys("enter")
	screen = h.screen()
	want, out, err := kafkatest.DescribeMembers(context.Background(), sc.Classic, false)
	if err != nil || len(want) != 1 {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(screen, "protocol classic ") || !strings.Contains(screen, "members 1 ") {
		t.Errorf("the classic group's view:\n%s", screen)
	}
	for p := range int32(sc.Partitions) { // the member id is cut: client and host
		if !hasRow(screen, sc.Topic, p, want[0].ClientID+" "+want[0].Host) {
			t.Errorf("no row %s/%d with client %s and host %s:\n%s", sc.Topic, p, want[0].ClientID, want[0].Host, screen)
		}
	}
}

// hasRow reports a line of screen with the topic, the partition and the
// fields, in this order.
func hasRow(screen, topic string, p int32, fields ...string) bool {
	for _, l := range strings.Split(screen, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || f[0] != topic || f[1] != strconv.Itoa(int(p)) {
			continue
		}
		rest, ok := strings.Join(f[2:], " "), true
		for _, x := range fields {
			i := strings.Index(rest, x)
			if ok = i >= 0; !ok {
				break
			}
			rest = rest[i+len(x):]
		}
		if ok {
			return true
		}
	}
	return false
}
