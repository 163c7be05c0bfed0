package kafka

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/mqops/mqops/backends"
)

// clusterRows is a snapshot the shape of the cluster-scale benchmark
// (docs/BENCHMARKS.md): groups × 32 partitions, each group on every
// partition of one of 10 topics of 100 records, committed at random.
func clusterRows(groups int) (*backends.ClusterSnapshot, map[string]sarama.Uuid) {
	r := rand.New(rand.NewPCG(1, 2))
	ids := map[string]sarama.Uuid{}
	for t := range 10 {
		ids[fmt.Sprintf("topic-%02d", t)] = sarama.Uuid{byte(t + 1)}
	}
	snap := &backends.ClusterSnapshot{Groups: make([]backends.Group, groups)}
	offs := make([]int64, 0, 2*groups*32)
	keep := func(v int64) *int64 { offs = append(offs, v); return &offs[len(offs)-1] }
	for g := range snap.Groups {
		topic := fmt.Sprintf("topic-%02d", r.IntN(10))
		rows := make([]backends.GroupPartition, 32)
		for p := range rows {
			c := r.Int64N(100)
			rows[p] = backends.GroupPartition{Topic: topic, Partition: int32(p), Committed: keep(c), Lag: keep(100 - c), LogStart: 0, LogEnd: 100}
		}
		snap.Groups[g] = backends.Group{Name: fmt.Sprintf("group-%05d", g), Partitions: rows}
	}
	return snap, ids
}

// BenchmarkRecordTimesCluster: a refresh's record times at 5,000 groups ×
// 32 partitions with every offset in the cache (the console's steady
// state; a first snapshot walks the rows the same way, then reads).
func BenchmarkRecordTimesCluster(b *testing.B) {
	snap, ids := clusterRows(5000)
	k := &Client{rt: newRecordTimes()}
	at := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	for t, id := range ids {
		for p := range int32(32) {
			for off := range int64(100) {
				k.rt.entries.put(rtKey{t, id, p, off}, &rtEntry{at: at, found: off, exact: true})
			}
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if n := k.fillRecordTimes(nil, nil, snap, ids, true, nil, nil); n != 0 {
			b.Fatalf("%d requests with everything cached", n)
		}
	}
}

// BenchmarkRecordTimesCollect: the walk of a first snapshot's group
// partitions at 5,000 groups × 32 partitions (an empty cache: every offset
// new, each to be read), before the reads are sent.
func BenchmarkRecordTimesCollect(b *testing.B) {
	snap, ids := clusterRows(5000)
	b.ReportAllocs()
	for b.Loop() {
		rt := newRecordTimes()
		rt.gen++
		uses, reads := rt.collect(snap, ids, 0)
		if len(uses) == 0 || len(uses[0]) == 0 || len(reads) != 320 {
			b.Fatalf("%d shards of uses, %d reads; want every row, 320 reads", len(uses), len(reads))
		}
	}
}

// TestCollectOnProcessorsSameAsOne: the walk of a big cluster's group
// partitions shared by processors (each the partitions of its ids) finds
// what one walk finds: every group partition with lag its offset's entry,
// one entry per offset, the same reads from the same offsets, the same
// counts; in a first round (an empty cache) and in a round after it with
// part of the offsets settled. Run under the race detector by make test.
func TestCollectOnProcessorsSameAsOne(t *testing.T) {
	snap, ids := clusterRows(600) // 19,200 group partitions
	n := 600 * 32
	type found struct {
		entries, wanted, cached int
		off                     map[*backends.GroupPartition]int64
		reads                   map[string][]int64
	}
	walk := func(rt *recordTimes, workers int) found {
		rt.gen++
		rt.last = rtStats{}
		shards, reads := rt.collectOn(snap, ids, 0, n, workers)
		if len(shards) != workers {
			t.Fatalf("%d processors: %d shards of uses", workers, len(shards))
		}
		uses := slices.Concat(shards...)
		f := found{entries: rt.entries.len(), wanted: rt.last.wanted, cached: rt.last.cached, off: map[*backends.GroupPartition]int64{}, reads: map[string][]int64{}}
		byOff := map[string]*rtEntry{}
		for _, u := range uses {
			if _, dup := f.off[u.gp]; dup {
				t.Fatalf("%d processors: %s/%d used twice", workers, u.gp.Topic, u.gp.Partition)
			}
			f.off[u.gp] = u.off
			k := fmt.Sprintf("%s/%d@%d", u.gp.Topic, u.gp.Partition, u.off)
			if e := byOff[k]; e != nil && e != u.e {
				t.Fatalf("%d processors: two entries for %s", workers, k)
			}
			byOff[k] = u.e
			if u.e != rt.entries.lookup(rtKey{u.gp.Topic, ids[u.gp.Topic], u.gp.Partition, u.off}) {
				t.Fatalf("%d processors: %s uses an entry the cache does not hold", workers, k)
			}
		}
		for _, r := range reads {
			k := fmt.Sprintf("%s/%d", r.topic, r.p)
			if _, dup := f.reads[k]; dup {
				t.Fatalf("%d processors: two reads of %s", workers, k)
			}
			w := append([]int64(nil), r.want...)
			slices.Sort(w)
			f.reads[k] = w
		}
		return f
	}
	settle := func(rt *recordTimes) { // every other offset read
		for _, m := range rt.entries.parts {
			for off, s := range m.m {
				if off%2 == 0 {
					s.e.at, s.e.found, s.e.exact = time.Unix(off, 0), off, true
				}
			}
		}
	}
	one, two := newRecordTimes(), newRecordTimes()
	for round := range 2 {
		a, b := walk(one, 1), walk(two, 2)
		if len(a.off) == 0 || len(a.reads) == 0 {
			t.Fatalf("round %d: %d group partitions, %d reads: the walk found nothing", round, len(a.off), len(a.reads))
		}
		if a.entries != b.entries || a.wanted != b.wanted || a.cached != b.cached {
			t.Errorf("round %d: entries/wanted/cached %d/%d/%d on one processor, %d/%d/%d on two", round, a.entries, a.wanted, a.cached, b.entries, b.wanted, b.cached)
		}
		if !maps.Equal(a.off, b.off) {
			t.Errorf("round %d: the group partitions and their offsets differ (%d on one processor, %d on two)", round, len(a.off), len(b.off))
		}
		if !maps.EqualFunc(a.reads, b.reads, slices.Equal[[]int64]) {
			t.Errorf("round %d: the reads differ (%d on one processor, %d on two)", round, len(a.reads), len(b.reads))
		}
		if round == 1 && (a.cached == 0 || a.cached == a.wanted) {
			t.Errorf("round 1: %d of %d offsets from the cache; want some, not all", a.cached, a.wanted)
		}
		settle(one)
		settle(two)
	}
}
