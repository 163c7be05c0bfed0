package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/hostile"
	"github.com/mqops/mqops/backends/kafka/kafkatest"
	"github.com/mqops/mqops/backends/safejson"
)

// TestConsumerProtocolGroupFromBinary: on the real Kafka 4, the built
// binary's `groups` and `lag` (tables and -o json) show the members,
// client ids, hosts and assignments of a group of the consumer protocol
// whose members are Apache Kafka's own console consumers, as
// `kafka-consumer-groups --describe --members --verbose` prints them,
// with its type and epochs; the classic group beside it as before.
func TestConsumerProtocolGroupFromBinary(t *testing.T) {
	env := requireEnv(t, "KAFKA_BROKERS")
	bin := mqopsBin(t)
	sc := kafkatest.StartConsumerProtocol(t, strings.Split(env["KAFKA_BROKERS"], ","), "cg")
	cmdEnv := []string{"XDG_CONFIG_HOME=" + t.TempDir(), "XDG_STATE_HOME=" + t.TempDir()}
	// mqops runs a command; a whole-cluster `groups` may exit 3 for
	// other tests' groups caught changing: never for ours
	mqops := func(args ...string) (string, string) {
		t.Helper()
		so, se, err := run(t, 60*time.Second, cmdEnv, bin, append(args, "--brokers", env["KAFKA_BROKERS"])...)
		var exit *exec.ExitError
		if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 3 && !strings.Contains(se, sc.Topic)) {
			t.Fatalf("mqops %s: %v\n%s", strings.Join(args, " "), err, se)
		}
		if strings.Contains(se, "unknown") && strings.Contains(se, sc.Group) {
			t.Errorf("mqops %s: a note on stderr: %s", strings.Join(args, " "), se)
		}
		return so, se
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for attempt := 0; ; attempt++ {
		groupsJSON, _ := mqops("groups", "-o", "json")
		lagJSON, _ := mqops("lag", "-o", "json", "--group", sc.Group, "--group", sc.Classic)
		groupsTable, _ := mqops("groups")
		lagTable, _ := mqops("lag", "--group", sc.Group)
		after, out, err := kafkatest.DescribeMembers(ctx, sc.Group, true)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if fmt.Sprint(after) != fmt.Sprint(sc.Members) {
			if attempt == 5 {
				t.Fatalf("the group keeps changing:\n%+v\n%+v", sc.Members, after)
			}
			sc.Members = after
			continue
		}
		checkGroupsJSON(t, sc, groupsJSON)
		checkLagJSON(t, sc, lagJSON)
		checkGroupsTable(t, sc, groupsTable)
		checkLagTable(t, sc, lagTable)
		return
	}
}

func checkGroupsJSON(t *testing.T, sc *kafkatest.ConsumerProtocol, out string) {
	t.Helper()
	var rep groupsReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("groups -o json: %v\n%s", err, out)
	}
	var g, c *groupJSON
	for i := range rep.Groups {
		switch rep.Groups[i].Group {
		case sc.Group:
			g = &rep.Groups[i]
		case sc.Classic:
			c = &rep.Groups[i]
		}
	}
	if g == nil || c == nil {
		t.Fatalf("groups -o json lacks %s or %s:\n%s", sc.Group, sc.Classic, out)
	}
	if g.Type != "consumer" || g.State != "Stable" || g.Protocol != "consumer" || g.Assignor == "" || g.GroupEpoch <= 0 ||
		g.AssignmentEpoch != g.GroupEpoch || g.Error != "" || g.Unknown != "" || len(g.Members) != len(sc.Members) {
		t.Fatalf("groups -o json, the consumer-protocol group: %+v", *g)
	}
	for i, w := range sc.Members { // both sorted by member id
		m := g.Members[i]
		if m.ID != w.ID || m.ClientID != w.ClientID || m.Host != w.Host || m.Epoch != w.Epoch || fmt.Sprint(m.Assigned) != fmt.Sprint(w.Assigned) {
			t.Errorf("groups -o json member %d: %+v, kafka-consumer-groups %+v", i, m, w)
		}
	}
	if c.Type != "classic" || c.State != "Stable" || c.GroupEpoch != 0 || len(c.Members) != 1 || c.Members[0].ClientID != sc.ClassicClient {
		t.Errorf("groups -o json, the classic group: %+v", *c)
	}
}

func checkLagJSON(t *testing.T, sc *kafkatest.ConsumerProtocol, out string) {
	t.Helper()
	var rep lagReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("lag -o json: %v\n%s", err, out)
	}
	owner := map[string]kafkatest.OracleMember{}
	for _, m := range sc.Members {
		for _, p := range m.Assigned[sc.Topic] {
			owner[fmt.Sprint(p)] = m
		}
	}
	seen := 0
	for _, g := range rep.Groups {
		switch g.Group {
		case sc.Group:
			seen++
			if g.Type != "consumer" || g.Members != 2 || g.GroupEpoch <= 0 || g.Unknown != "" || len(g.Partitions) != sc.Partitions {
				t.Errorf("lag -o json: %+v", g)
			}
			for _, p := range g.Partitions {
				w := owner[fmt.Sprint(p.Partition)]
				if p.Topic != sc.Topic || p.Member != w.ID || p.ClientID != w.ClientID || p.Host != w.Host {
					t.Errorf("lag -o json partition %d: %+v, kafka-consumer-groups %+v", p.Partition, p, w)
				}
			}
		case sc.Classic:
			seen++
			if g.Type != "classic" || g.Members != 1 || len(g.Partitions) != sc.Partitions || g.Partitions[0].ClientID != sc.ClassicClient {
				t.Errorf("lag -o json, the classic group: %+v", g)
			}
		}
	}
	if seen != 2 {
		t.Errorf("lag -o json has %d of the 2 groups:\n%s", seen, out)
	}
}

func checkGroupsTable(t *testing.T, sc *kafkatest.ConsumerProtocol, out string) {
	t.Helper()
	var clients []string
	for _, m := range sc.Members {
		clients = append(clients, m.ClientID+"@"+m.Host)
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != sc.Group {
			continue
		}
		// GROUP STATE TYPE ASSIGNOR MEMBERS CLIENTS TOPICS LAG STATUS
		got := strings.Split(f[5], ",")
		sort.Strings(got)
		sort.Strings(clients)
		if len(f) != 9 || f[2] != "consumer" || f[4] != "2" || fmt.Sprint(got) != fmt.Sprint(clients) {
			t.Errorf("groups table row %q, want type consumer, 2 members, clients %v", line, clients)
		}
		return
	}
	t.Errorf("groups table has no row for %s:\n%s", sc.Group, out)
}

func checkLagTable(t *testing.T, sc *kafkatest.ConsumerProtocol, out string) {
	t.Helper()
	rows := 0
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 11 || f[0] != sc.Group {
			continue
		}
		rows++
		// ... CLIENT HOST: the last two columns
		client, host := f[len(f)-2], f[len(f)-1]
		ok := false
		for _, m := range sc.Members {
			for _, p := range m.Assigned[sc.Topic] {
				ok = ok || (fmt.Sprint(p) == f[2] && m.ClientID == client && m.Host == host)
			}
		}
		if !ok {
			t.Errorf("lag table row %q: not the client and host kafka-consumer-groups gives partition %s", line, f[2])
		}
	}
	if rows != sc.Partitions {
		t.Errorf("lag table: %d rows of %s, want %d:\n%s", rows, sc.Group, sc.Partitions, out)
	}
}

// kip848Cluster is a kfake cluster with a consumer-protocol group "kip848"
// of one member on "orders" (3 partitions), settled.
func kip848Cluster(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	kafkatest.KIP848Consumer(t, c, "kip848", "c-1", "orders")
	kafkatest.WaitKfakeSettled(t, c, "kip848", 1, 3)
	return c
}

// TestConsumerProtocolGroupHostileOutputs: member ids, client ids, hosts
// and an assignor name of a hostile coordinator's ConsumerGroupDescribe
// never reach stdout raw in `groups` and `lag`, tables or -o json, and
// decode from the JSON (safejson.Decode) to their exact bytes.
func TestConsumerProtocolGroupHostileOutputs(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	c := kip848Cluster(t)
	id := c.TopicInfo("orders").TopicID
	evil := hostile.Strings[3:22] // the escapes, controls and invalid bytes
	answer := func() {
		kafkatest.Answer848(c, func(_ *kmsg.ConsumerGroupDescribeRequest, g *kmsg.ConsumerGroupDescribeResponseGroup) {
			g.State, g.Epoch, g.AssignmentEpoch, g.AssignorName = "Stable", 4, 4, evil[0]
			for i, s := range evil {
				m := kmsg.NewConsumerGroupDescribeResponseGroupMember()
				m.MemberID, m.ClientID, m.ClientHost, m.MemberEpoch = fmt.Sprint(i)+s, s, s, 4
				if i < 3 {
					tp := kmsg.NewAssignmentTopicPartition()
					tp.TopicID, tp.Partitions = id, []int32{int32(i)}
					m.Assignment.TopicPartitions = append(m.Assignment.TopicPartitions, tp)
				}
				g.Members = append(g.Members, m)
			}
		})
	}
	brokers := strings.Join(c.ListenAddrs(), ",")
	cli := func(args ...string) []byte {
		t.Helper()
		answer()
		out, _, err := runCLI(t, append(args, "--brokers", brokers)...)
		if err != nil {
			t.Fatalf("%s: %v", strings.Join(args, " "), err)
		}
		checkStdout(t, strings.Join(args, " "), []byte(out))
		return []byte(out)
	}
	cli("groups")
	cli("lag")
	doc, err := safejson.Decode(cli("groups", "-o", "json"))
	if err != nil {
		t.Fatal(err)
	}
	g := doc.(map[string]any)["groups"].([]any)[0].(map[string]any)
	if g["assignor"] != evil[0] {
		t.Errorf("assignor decodes to %q", g["assignor"])
	}
	ms := g["members"].([]any)
	if len(ms) != len(evil) {
		t.Fatalf("%d members", len(ms))
	}
	for _, m := range ms {
		m := m.(map[string]any)
		s := m["client_id"].(string)
		if m["host"] != s || !strings.HasSuffix(m["member_id"].(string), s) {
			t.Errorf("member decodes to %q", m)
		}
	}
	doc, err = safejson.Decode(cli("lag", "-o", "json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range doc.(map[string]any)["groups"].([]any)[0].(map[string]any)["partitions"].([]any) {
		p := p.(map[string]any)
		n, _ := p["partition"].(json.Number).Int64()
		if i := int(n); p["client_id"] != evil[i] || p["host"] != evil[i] || p["member"] != fmt.Sprint(i)+evil[i] {
			t.Errorf("partition %d decodes to %q", i, p)
		}
	}
}

// TestConsumerProtocolGroupUnsupportedFromCLI: on a broker without
// ConsumerGroupDescribe, `groups` shows "?" for the members and clients
// of a consumer-protocol group and says on stderr what is unknown; exit
// status 0 (the result is whole).
func TestConsumerProtocolGroupUnsupportedFromCLI(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	c := kip848Cluster(t)
	kafkatest.WithoutConsumerGroupDescribe(t, c)
	out, stderr, err := runCLI(t, "groups", "--brokers", strings.Join(c.ListenAddrs(), ","))
	if err != nil {
		t.Fatal(err)
	}
	var row []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "kip848" {
			row = f
		}
	}
	if len(row) != 9 || row[2] != backends.GroupConsumer || row[4] != "?" || row[5] != "?" {
		t.Errorf("groups table: %q\n%s", row, out)
	}
	if !strings.Contains(stderr, "note: group kip848: unknown: members: broker ") || !strings.Contains(stderr, "ConsumerGroupDescribe (API 69)") {
		t.Errorf("stderr: %q", stderr)
	}
}
