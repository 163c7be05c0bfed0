package kafka

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/IBM/sarama"
)

// TestCommitsSorted: commits gives the usable commits of an OffsetFetch
// answer sorted by topic and partition, whatever the answer's shape:
// partitions numbered from 0 without a gap (put in place), with gaps or
// beyond the count (sorted), blocks with an error, no offset (-1) or nil
// left out, one topic or several. The reference filters and sorts.
func TestCommitsSorted(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		b := map[string]map[int32]*sarama.OffsetFetchResponseBlock{}
		var want []commit
		for range rng.IntN(4) {
			topic := fmt.Sprintf("t%d", rng.IntN(6))
			if b[topic] != nil {
				continue
			}
			ps := map[int32]*sarama.OffsetFetchResponseBlock{}
			b[topic] = ps
			n := rng.IntN(40)
			for p := range int32(n) {
				if rng.IntN(4) == 0 && i%2 == 1 { // every other answer has gaps
					p += int32(n + rng.IntN(100))
				}
				if _, dup := ps[p]; dup {
					continue
				}
				var blk *sarama.OffsetFetchResponseBlock
				switch rng.IntN(8) {
				case 0: // nil
				case 1:
					blk = &sarama.OffsetFetchResponseBlock{Offset: 5, Err: sarama.ErrUnknownTopicOrPartition}
				case 2:
					blk = &sarama.OffsetFetchResponseBlock{Offset: -1}
				default:
					blk = &sarama.OffsetFetchResponseBlock{Offset: rng.Int64N(1 << 40)}
					want = append(want, commit{topic: topic, p: p, off: blk.Offset})
				}
				ps[p] = blk
			}
		}
		slices.SortFunc(want, func(a, b commit) int { return cmp.Or(strings.Compare(a.topic, b.topic), cmp.Compare(a.p, b.p)) })
		got := commits(b)
		if !slices.Equal(got, want) {
			t.Fatalf("answer %d: got %v, want %v", i, got, want)
		}
	}
}
