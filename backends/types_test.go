package backends

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

// TestGroupTopics: a group's topics once each, in the order of their
// first partition, whether the partitions come sorted or not, with few
// topics or many.
func TestGroupTopics(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 3, 15, 16, 17, 40} {
		for _, shuffle := range []bool{false, true} {
			var g Group
			for i := range n {
				for p := range 3 {
					g.Partitions = append(g.Partitions, GroupPartition{Topic: fmt.Sprintf("t%02d", i), Partition: int32(p)})
				}
			}
			if shuffle {
				rng.Shuffle(len(g.Partitions), func(i, j int) { g.Partitions[i], g.Partitions[j] = g.Partitions[j], g.Partitions[i] })
			}
			var want []string
			for _, p := range g.Partitions {
				if !slices.Contains(want, p.Topic) {
					want = append(want, p.Topic)
				}
			}
			if got := g.Topics(); !slices.Equal(got, want) {
				t.Errorf("%d topics, shuffled %v: %v, want %v", n, shuffle, got, want)
			}
		}
	}
}

// TestGroupPartitionSize: a big cluster's snapshot holds hundreds of
// thousands of group partitions, written, walked and read several times a
// refresh; the small fields sit together so that a row takes 144 bytes on
// a 64-bit machine, not 160.
func TestGroupPartitionSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes measured on 64-bit machines")
	}
	if n := unsafe.Sizeof(GroupPartition{}); n > 144 {
		t.Fatalf("GroupPartition takes %d bytes, want at most 144", n)
	}
}
