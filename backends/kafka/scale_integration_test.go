package kafka

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqops/mqops/backends"
)

// TestSnapshotRequestsIndependentOfGroups: on the real broker, the
// requests a snapshot sends — counted on the wire, the replies its
// connections read, and by the snapshot itself — are the same for 20
// groups as for 400 over the same topics (2 × 16 partitions: 320 and
// 6,400 group partitions), on a steady refresh (record times cached) and
// on a first one (none cached): they grow with brokers and coordinators,
// not with groups × partitions. The whole cluster's snapshot (every group
// of every test running) is logged beside them.
func TestSnapshotRequestsIndependentOfGroups(t *testing.T) {
	env := integrationEnv(t, "KAFKA_BROKERS")
	brokers := strings.Split(env["KAFKA_BROKERS"], ",")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close) // after the deletion below (cleanups run last first)
	adm := kadm.NewClient(cl)
	prefix := fmt.Sprintf("scale-req-%d", time.Now().UnixNano())
	topics := []string{prefix + ".a", prefix + ".b"}
	const parts, groups, records = 16, 400, 50
	if _, err := adm.CreateTopics(ctx, parts, 1, nil, topics...); err != nil {
		t.Fatal(err)
	}
	var names []string
	for g := range groups {
		names = append(names, fmt.Sprintf("%s.g%03d", prefix, g))
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if r, err := adm.DeleteGroups(ctx, names...); err != nil || r.Error() != nil {
			t.Errorf("deleting the groups: %v %v", err, r.Error())
		}
		if _, err := adm.DeleteTopics(ctx, topics...); err != nil {
			t.Errorf("deleting the topics: %v", err)
		}
	})
	var recs []*kgo.Record
	for _, topic := range topics {
		for p := range parts {
			for range records {
				recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(p), Value: []byte("x")})
			}
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// Each group commits on every partition of one topic, at its own
	// offsets (most with lag: their record times are read).
	rng := rand.New(rand.NewPCG(7, 11))
	offsets := make([]kadm.Offsets, groups)
	for g := range groups {
		offsets[g] = kadm.Offsets{}
		for p := range parts {
			offsets[g].Add(kadm.Offset{Topic: topics[g%2], Partition: int32(p), At: rng.Int64N(records + 1), LeaderEpoch: -1})
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, groups)
	sem := make(chan struct{}, 8)
	for g := range groups {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, err := adm.CommitOffsets(ctx, names[g], offsets[g]); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	k, err := New(Config{Brokers: brokers, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	// count takes a snapshot of the groups and returns its requests as
	// counted on the wire and by the snapshot.
	count := func(gs []string) (wire, self int, snap *backends.ClusterSnapshot) {
		t.Helper()
		var before int64
		if k.watch != nil {
			before = k.watch.replies.Load()
		}
		snap, err := k.Snapshot(ctx, backends.SnapshotOptions{Groups: gs})
		if err != nil {
			t.Fatal(err)
		}
		return int(k.watch.replies.Load() - before), snap.Requests, snap
	}
	_, _, _ = count(names) // connect, and cache every record time
	rows := func(s *backends.ClusterSnapshot) (n int) {
		for _, g := range s.Groups {
			n += len(g.Partitions)
		}
		return n
	}
	for _, mode := range []string{"steady", "first"} {
		if mode == "first" {
			k.rt = nil // a console just opened: no record time known
		}
		fewWire, fewSelf, few := count(names[:20])
		if mode == "first" {
			k.rt = nil
		}
		allWire, allSelf, all := count(names)
		t.Logf("%s refresh: 20 groups (%d group partitions): %d requests on the wire (%d counted by the snapshot); 400 groups (%d): %d (%d)",
			mode, rows(few), fewWire, fewSelf, rows(all), allWire, allSelf)
		if rows(few) != 20*parts || rows(all) != groups*parts {
			t.Fatalf("%d and %d group partitions, want %d and %d", rows(few), rows(all), 20*parts, groups*parts)
		}
		if fewWire != allWire || fewSelf != allSelf {
			t.Errorf("%s refresh: 20 groups took %d requests (%d counted), 400 groups %d (%d): the cost grows with the groups", mode, fewWire, fewSelf, allWire, allSelf)
		}
		if fewWire != fewSelf || allWire != allSelf {
			t.Errorf("%s refresh: the snapshot counted %d and %d requests, the wire %d and %d", mode, fewSelf, allSelf, fewWire, allWire)
		}
	}
	wire, self, whole := count(nil)
	t.Logf("whole cluster: %d groups, %d group partitions: %d requests on the wire (%d counted by the snapshot)", len(whole.Groups), rows(whole), wire, self)
}
