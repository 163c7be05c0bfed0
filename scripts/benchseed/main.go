// Command benchseed prepares the benchmark workload on a real Kafka: N topics
// with P partitions and G consumer groups, each with a commit on every
// partition of one topic. It is idempotent: existing topics and groups are
// reused. Used by scripts/bench; not part of mqops.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	brokers := flag.String("brokers", os.Getenv("KAFKA_BROKERS"), "bootstrap brokers")
	prefix := flag.String("prefix", "bench", "name prefix of topics and groups")
	groups := flag.Int("groups", 500, "consumer groups")
	topics := flag.Int("topics", 10, "topics")
	parts := flag.Int("partitions", 32, "partitions per topic (each group commits on all partitions of one topic)")
	records := flag.Int("records", 100, "records per partition")
	flag.Parse()
	log.SetFlags(0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(*brokers, ",")...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	existing, err := adm.ListTopics(ctx)
	if err != nil {
		log.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < *topics; i++ {
		name := fmt.Sprintf("%s.t%02d", *prefix, i)
		if existing.Has(name) {
			continue
		}
		if _, err := adm.CreateTopic(ctx, int32(*parts), 1, nil, name); err != nil {
			log.Fatalf("create %s: %v", name, err)
		}
		var recs []*kgo.Record
		for p := 0; p < *parts; p++ {
			for r := 0; r < *records; r++ {
				recs = append(recs, &kgo.Record{Topic: name, Partition: int32(p), Value: []byte("bench")})
			}
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			log.Fatalf("produce %s: %v", name, err)
		}
	}
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		log.Fatal(err)
	}
	made := 0
	for g := 0; g < *groups; g++ {
		name := fmt.Sprintf("%s.g%03d", *prefix, g)
		if _, ok := listed[name]; ok {
			continue
		}
		topic := fmt.Sprintf("%s.t%02d", *prefix, g%*topics)
		offs := kadm.Offsets{}
		for p := 0; p < *parts; p++ {
			offs.Add(kadm.Offset{Topic: topic, Partition: int32(p), At: int64(rng.Intn(*records + 1)), LeaderEpoch: -1})
		}
		if _, err := adm.CommitOffsets(ctx, name, offs); err != nil {
			log.Fatalf("commit %s: %v", name, err)
		}
		made++
	}
	log.Printf("benchseed: %d topics × %d partitions, %d groups (%d new)", *topics, *parts, *groups, made)
}
