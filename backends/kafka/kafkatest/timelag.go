package kafkatest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TimeLag is a workload on a real broker whose time lags are known: a
// topic of two partitions whose records carry chosen timestamps (a day,
// hours, minutes old), and groups committed at chosen offsets, with no
// members. Everything is deleted at the end of the test.
type TimeLag struct {
	Topic string
	// Times holds the timestamp of each record of each partition, by
	// offset (millisecond precision, as Kafka keeps them).
	Times map[int32][]time.Time
	// Commits holds each group's committed offset per partition.
	Commits map[string]map[int32]int64
	Admin   *kadm.Client
	Client  *kgo.Client
}

// Groups are the fixture's groups, sorted.
func (f *TimeLag) Groups() []string {
	return []string{f.Topic + ".day", f.Topic + ".hour", f.Topic + ".same"}
}

// NewTimeLag creates the workload on brokers. The topic is named prefix
// plus a random suffix; its groups:
//   - <topic>.day: partition 0 at offset 0 (a day old), partition 1 at 1 (90 minutes)
//   - <topic>.hour: partition 0 at 1 (an hour old), partition 1 at 1
//   - <topic>.same: partition 0 at 0, as .day (one read serves both)
func NewTimeLag(t testing.TB, brokers []string, prefix string) *TimeLag {
	t.Helper()
	now := time.Now().Truncate(time.Millisecond)
	f := &TimeLag{
		Topic: fmt.Sprintf("%s%d-%d", prefix, time.Now().UnixNano(), rand.IntN(1000)),
		Times: map[int32][]time.Time{
			0: {now.Add(-24 * time.Hour), now.Add(-time.Hour), now.Add(-30 * time.Minute), now.Add(-10 * time.Minute), now.Add(-time.Minute)},
			1: {now.Add(-2 * time.Hour), now.Add(-90 * time.Minute), now.Add(-5 * time.Minute)},
		},
	}
	f.Commits = map[string]map[int32]int64{
		f.Topic + ".day":  {0: 0, 1: 1},
		f.Topic + ".hour": {0: 1, 1: 1},
		f.Topic + ".same": {0: 0},
	}
	f.Client, f.Admin = CreateTopic(t, brokers, f.Topic, 2, nil)
	for p, times := range f.Times {
		Produce(t, f.Client, f.Topic, p, times...)
	}
	for g, offs := range f.Commits {
		Commit(t, f.Admin, g, f.Topic, offs)
	}
	return f
}

// CreateTopic creates a topic on brokers (deleted at the end of the test)
// with the given configs, and returns a client that writes to partitions
// by number, and an admin client.
func CreateTopic(t testing.TB, brokers []string, topic string, partitions int32, configs map[string]*string) (*kgo.Client, *kadm.Client) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, 1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		cl.Close()
		t.Fatalf("create topic %s: %v", topic, err)
	}
	t.Cleanup(func() {
		_, _ = adm.DeleteTopics(context.Background(), topic)
		cl.Close()
	})
	return cl, adm
}

// Produce writes one record per timestamp to partition p of topic, one
// batch per record, in order, and fails the test on an error.
func Produce(t testing.TB, cl *kgo.Client, topic string, p int32, times ...time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, ts := range times {
		r := &kgo.Record{Topic: topic, Partition: p, Timestamp: ts, Value: fmt.Appendf(nil, "record %d", i)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce to %s/%d: %v", topic, p, err)
		}
	}
}

// Commit commits offsets (partition → offset) of topic for group, retrying
// while the coordinator does not know a topic just created. The group is
// deleted at the end of the test.
func Commit(t testing.TB, adm *kadm.Client, group, topic string, offsets map[int32]int64) {
	t.Helper()
	o := kadm.Offsets{}
	for p, at := range offsets {
		o.Add(kadm.Offset{Topic: topic, Partition: p, At: at, LeaderEpoch: -1})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for attempt := 0; ; attempt++ {
		resp, err := adm.CommitOffsets(ctx, group, o)
		if err == nil {
			err = resp.Error()
		}
		if err == nil {
			t.Cleanup(func() { _, _ = adm.DeleteGroups(context.Background(), group) })
			return
		}
		if attempt == 50 {
			t.Fatalf("commit %s: %v", group, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
