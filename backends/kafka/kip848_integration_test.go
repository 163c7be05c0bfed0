package kafka

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqops/mqops/backends"
)

// TestRealKIP848GroupIsUnknown: a group of the new consumer protocol
// (KIP-848, Kafka 4), which DescribeGroups does not describe, is in the
// snapshot with its lag and what is unknown about it (members,
// assignment), not with an error.
func TestRealKIP848GroupIsUnknown(t *testing.T) {
	env := integrationEnv(t, "KAFKA_BROKERS")
	brokers := strings.Split(env["KAFKA_BROKERS"], ",")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	topic := fmt.Sprintf("hx-kafka-848-%d", time.Now().UnixNano())
	group := topic + ".group"
	admc, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer admc.Close()
	adm := kadm.NewClient(admc)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = adm.DeleteGroups(ctx, group)
		_, _ = adm.DeleteTopics(ctx, topic)
	})
	if err := admc.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("a")}, &kgo.Record{Topic: topic, Value: []byte("b")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ServerSideBalancer(), kgo.Balancers(kgo.RangeBalancer()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	got := 0
	for got < 1 && ctx.Err() == nil {
		fs := cons.PollRecords(ctx, 1)
		got += fs.NumRecords()
	}
	if err := cons.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	k, _ := New(Config{Brokers: brokers, Timeout: 10 * time.Second})
	defer k.Close()
	snap, err := k.Snapshot(ctx, backends.SnapshotOptions{Groups: []string{group}})
	if err != nil {
		t.Fatal(err)
	}
	g, ok := snap.Group(group)
	if !ok {
		t.Fatalf("group %s not in the snapshot", group)
	}
	t.Logf("%+v", *g)
	if g.Err != "" || g.Unknown == "" {
		t.Fatalf("KIP-848 group: err %q, unknown %q", g.Err, g.Unknown)
	}
	if g.TotalLag() < 0 || len(g.Partitions) != 1 || g.Partitions[0].Committed == nil {
		t.Fatalf("lag of a KIP-848 group: %+v", g.Partitions)
	}
}
