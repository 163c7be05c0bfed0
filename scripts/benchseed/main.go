// Command benchseed prepares the benchmark workload on a real Kafka: N topics
// with P partitions and G consumer groups, each with a commit on every
// partition of one topic. It is idempotent: existing topics and groups are
// reused. With -delete it deletes the groups and topics of the prefix
// instead (what it seeded). Used by scripts/bench; not part of mqops.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand"
	"os"
	"strings"
	"sync"
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
	del := flag.Bool("delete", false, "delete the groups and topics named with the prefix instead")
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
	if *del {
		remove(ctx, adm, *prefix)
		return
	}
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
	// Commits in parallel (a few at a time): 5,000 groups in seconds.
	type job struct {
		name string
		offs kadm.Offsets
	}
	jobs := make(chan job)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		made int
	)
	for range 8 {
		wg.Go(func() {
			for j := range jobs {
				if _, err := adm.CommitOffsets(ctx, j.name, j.offs); err != nil {
					log.Fatalf("commit %s: %v", j.name, err)
				}
				mu.Lock()
				made++
				mu.Unlock()
			}
		})
	}
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
		jobs <- job{name, offs}
	}
	close(jobs)
	wg.Wait()
	log.Printf("benchseed: %d topics × %d partitions, %d groups (%d new)", *topics, *parts, *groups, made)
}

// remove deletes the groups and topics whose names start with prefix+".".
func remove(ctx context.Context, adm *kadm.Client, prefix string) {
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		log.Fatal(err)
	}
	var groups []string
	for name := range listed {
		if strings.HasPrefix(name, prefix+".") {
			groups = append(groups, name)
		}
	}
	deleted := len(groups)
	for len(groups) > 0 {
		n := min(len(groups), 500)
		res, err := adm.DeleteGroups(ctx, groups[:n]...)
		if err != nil {
			log.Fatalf("delete groups: %v", err)
		}
		if err := res.Error(); err != nil {
			log.Printf("delete groups: %v", err)
		}
		groups = groups[n:]
	}
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		log.Fatal(err)
	}
	var names []string
	for _, t := range topics.Names() {
		if strings.HasPrefix(t, prefix+".") {
			names = append(names, t)
		}
	}
	if len(names) > 0 {
		if _, err := adm.DeleteTopics(ctx, names...); err != nil {
			log.Fatalf("delete topics: %v", err)
		}
	}
	log.Printf("benchseed: deleted %d groups and %d topics of prefix %s", deleted, len(names), prefix)
}
