package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ConsumerProtocol is a scenario on the real broker: a topic, a group of
// Kafka 4's consumer protocol (KIP-848) with two members that are Apache
// Kafka's own console consumers, and a classic group with one member, all
// named after a random prefix and deleted at the end of the test.
type ConsumerProtocol struct {
	Topic      string
	Partitions int
	// Group is the consumer-protocol group; Members is how
	// kafka-consumer-groups --describe --members --verbose saw it settled.
	Group   string
	Clients []string
	Members []OracleMember
	// Classic is the classic group, its member's client id ClassicClient.
	Classic       string
	ClassicClient string
}

// StartConsumerProtocol sets up the scenario (prefix names the helper:
// topics and groups are prefix-<random>...) and waits until both groups
// are settled: it takes a while (two JVMs start).
func StartConsumerProtocol(t testing.TB, brokers []string, prefix string) *ConsumerProtocol {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	run := prefix + "-" + hex.EncodeToString(b)
	s := &ConsumerProtocol{Topic: run + ".orders", Partitions: 4, Group: run + ".kip848", Clients: []string{run + "-a", run + "-b"},
		Classic: run + ".classic", ClassicClient: run + "-classic"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, int32(s.Partitions), 1, nil, s.Topic); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // after the consumers stopped (cleanups run last first)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for ctx.Err() == nil { // a member that just left may linger a moment
			r, err := adm.DeleteGroups(ctx, s.Group, s.Classic)
			if err == nil && r.Error() == nil {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		_, _ = adm.DeleteTopics(ctx, s.Topic)
	})
	var recs []*kgo.Record
	for i := range 40 {
		recs = append(recs, &kgo.Record{Topic: s.Topic, Key: []byte(fmt.Sprint(i)), Value: []byte("v")})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	bootstrap := brokers[0]
	for _, c := range s.Clients {
		ConsoleConsumer(t, bootstrap, s.Topic, s.Group, c, "consumer")
	}
	classic, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumerGroup(s.Classic), kgo.ConsumeTopics(s.Topic),
		kgo.ClientID(s.ClassicClient), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(classic.Close)
	go func() {
		for !classic.PollFetches(context.Background()).IsClientClosed() {
		}
	}()
	s.Members = WaitSettled(t, s.Group, 2, s.Partitions, 2*time.Minute)
	return s
}
