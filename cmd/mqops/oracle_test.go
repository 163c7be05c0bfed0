package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestLagMatchesKafkaConsumerGroups compares `mqops lag -o json` with Apache
// Kafka's own `kafka-consumer-groups --describe --all-groups` on the real
// broker: groups with commits on some partitions only, empty partitions, a
// committed offset behind log-start after DeleteRecords, and a group with an
// active member.
func TestLagMatchesKafkaConsumerGroups(t *testing.T) {
	env := requireEnv(t, "KAFKA_BROKERS")
	brokers := strings.Split(env["KAFKA_BROKERS"], ",")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	run := fmt.Sprintf("oracle%d", time.Now().UnixNano())
	topicA, topicB, topicC := run+".a", run+".b", run+".c"
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for topic, parts := range map[string]int32{topicA: 3, topicB: 2, topicC: 1} {
		if _, err := adm.CreateTopic(ctx, parts, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	defer adm.DeleteTopics(context.Background(), topicA, topicB, topicC)
	produce := func(topic string, p int32, n int) {
		var recs []*kgo.Record
		for i := 0; i < n; i++ {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Key: []byte(strconv.Itoa(i)), Value: []byte("v")})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(topicA, 0, 10)
	produce(topicA, 1, 5) // partition 2 stays empty
	produce(topicB, 0, 20)
	produce(topicB, 1, 20)
	produce(topicC, 0, 3)
	del := kadm.Offsets{}
	del.Add(kadm.Offset{Topic: topicB, Partition: 0, At: 15})
	if _, err := adm.DeleteRecords(ctx, del); err != nil {
		t.Fatal(err)
	}
	commit := func(group string, offs ...kadm.Offset) {
		o := kadm.Offsets{}
		for _, x := range offs {
			x.LeaderEpoch = -1
			o.Add(x)
		}
		// a topic just created may not be known to the coordinator yet:
		// retry per-partition errors for a few seconds
		for attempt := 0; ; attempt++ {
			resp, err := adm.CommitOffsets(ctx, group, o)
			if err == nil {
				err = resp.Error()
			}
			if err == nil {
				return
			}
			if attempt == 50 {
				t.Fatalf("commit %s: %v", group, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	commit(run+".some", kadm.Offset{Topic: topicA, Partition: 0, At: 4}) // commits on one partition only
	commit(run+".all", kadm.Offset{Topic: topicA, Partition: 0, At: 10}, kadm.Offset{Topic: topicA, Partition: 1, At: 2}, kadm.Offset{Topic: topicA, Partition: 2, At: 0})
	commit(run+".behind", kadm.Offset{Topic: topicB, Partition: 0, At: 5}, kadm.Offset{Topic: topicB, Partition: 1, At: 20}) // 5 < log-start 15

	// an active member that consumed everything and committed
	consumer, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumerGroup(run+".active"), kgo.ConsumeTopics(topicC),
		kgo.ClientID("oracle-consumer"), kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	got := 0
	for got < 3 {
		fs := consumer.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		got += fs.NumRecords()
	}
	if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}

	// The oracle.
	var oracle []oracleRow
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, stderr, err := runCmd(t, filepath.Join(repoRoot(t), "scripts", "testenv"), "kafka-consumer-groups", "--describe", "--all-groups")
		if err != nil {
			t.Fatalf("kafka-consumer-groups: %v\n%s", err, stderr)
		}
		oracle = parseConsumerGroups(out, run+".")
		// the active group's member shows once its assignment is stable
		if hasMember(oracle, run+".active") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kafka-consumer-groups never showed the active member:\n%s", out)
		}
		time.Sleep(time.Second)
	}
	if len(oracle) == 0 {
		t.Fatal("kafka-consumer-groups printed no rows for our groups")
	}

	out, stderr, err := runCmd(t, mqopsBin(t), "lag", "-o", "json", "--brokers", env["KAFKA_BROKERS"])
	if err != nil {
		t.Fatalf("mqops lag: %v\n%s", err, stderr)
	}
	var rep lagReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bad json: %v\n%s", err, out)
	}
	mine := map[string]lagPartition{}
	groupOf := map[string]lagGroup{}
	for _, g := range rep.Groups {
		if !strings.HasPrefix(g.Group, run+".") {
			continue
		}
		groupOf[g.Group] = g
		for _, p := range g.Partitions {
			mine[fmt.Sprintf("%s/%s/%d", g.Group, p.Topic, p.Partition)] = p
		}
	}
	if len(mine) != len(oracle) {
		t.Errorf("mqops has %d partition rows for this run, kafka-consumer-groups %d", len(mine), len(oracle))
	}
	for _, o := range oracle {
		k := fmt.Sprintf("%s/%s/%d", o.group, o.topic, o.partition)
		p, ok := mine[k]
		if !ok {
			t.Errorf("%s: in kafka-consumer-groups, missing from mqops", k)
			continue
		}
		if str(p.Committed) != o.current || str(p.LogEnd) != o.logEnd || str(p.Lag) != o.lag {
			t.Errorf("%s: mqops committed/log-end/lag = %s/%s/%s, kafka-consumer-groups %s/%s/%s",
				k, str(p.Committed), str(p.LogEnd), str(p.Lag), o.current, o.logEnd, o.lag)
		}
		if o.clientID != "-" && (p.ClientID != o.clientID || p.Host != o.host) {
			t.Errorf("%s: mqops client/host = %s/%s, kafka-consumer-groups %s/%s", k, p.ClientID, p.Host, o.clientID, o.host)
		}
	}
	// Spot checks of the scenario itself, so a vacuous comparison can't pass.
	if p := mine[run+".behind/"+topicB+"/0"]; !p.BehindLogStart || str(p.Lag) != "15" {
		t.Errorf("behind-log-start partition: %+v", p)
	}
	if g := groupOf[run+".some"]; g.Lag != 6 || g.State != "Empty" {
		t.Errorf("group .some: %+v", g)
	}
	if g := groupOf[run+".active"]; g.State != "Stable" || g.Members != 1 {
		t.Errorf("group .active: %+v", g)
	}
	t.Logf("compared %d partition rows of %d groups with kafka-consumer-groups", len(oracle), len(groupOf))
}

type oracleRow struct {
	group, topic               string
	partition                  int32
	current, logEnd, lag       string
	consumerID, host, clientID string
}

func hasMember(rows []oracleRow, group string) bool {
	for _, r := range rows {
		if r.group == group && r.consumerID != "-" {
			return true
		}
	}
	return false
}

// parseConsumerGroups parses `kafka-consumer-groups --describe` tables:
// GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID
func parseConsumerGroups(out, prefix string) []oracleRow {
	var rows []oracleRow
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 9 || f[0] == "GROUP" || !strings.HasPrefix(f[0], prefix) {
			continue
		}
		p, err := strconv.Atoi(f[2])
		if err != nil {
			continue
		}
		rows = append(rows, oracleRow{group: f[0], topic: f[1], partition: int32(p), current: f[3], logEnd: f[4], lag: f[5], consumerID: f[6], host: f[7], clientID: f[8]})
	}
	return rows
}

func str(p *int64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatInt(*p, 10)
}

func runCmd(t *testing.T, name string, args ...string) (string, string, error) {
	return run(t, 2*time.Minute, nil, name, args...)
}
