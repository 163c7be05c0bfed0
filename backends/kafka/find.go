package kafka

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/IBM/sarama"

	"github.com/mqops/mqops/backends"
)

// Bounds of a search.
const (
	// MaxFindDepth bounds the records one search reads.
	MaxFindDepth = 1_000_000
	// defaultFindMatches is how many matches a search returns by default.
	defaultFindMatches = 10
)

// KeyPartition is the partition Kafka's default partitioner (murmur2, as
// the Java client and Publish) puts key in, of a topic of n partitions.
func KeyPartition(key []byte, n int32) (int32, error) {
	if n <= 0 {
		return 0, fmt.Errorf("a topic of %d partitions", n)
	}
	return sarama.NewMurmur2Partitioner("").Partition(&sarama.ProducerMessage{Key: sarama.ByteEncoder(key)}, n)
}

// FindRecords reads the last records of a topic's partitions (the one its
// key goes to, or all of them), q.Depth records in all, read_committed,
// without a consumer group and committing nothing, and returns those
// q.Match keeps (at most q.MaxMatches, without their values). Fetches are
// those of a peek (256 KiB per partition, 4 MiB per request), each bounded
// by the client's timeout.
func (c *Client) FindRecords(ctx context.Context, q backends.KafkaFindQuery) (*backends.KafkaFindResult, error) {
	if q.Depth <= 0 || q.Depth > MaxFindDepth {
		return nil, &Error{Op: fmt.Sprintf("searching %s: the depth must be 1 to %d records, got %d", backends.SafeText(q.Topic), MaxFindDepth, q.Depth)}
	}
	if q.Match == nil {
		return nil, &Error{Op: "searching " + backends.SafeText(q.Topic) + ": nothing to match"}
	}
	maxMatches := q.MaxMatches
	if maxMatches <= 0 {
		maxMatches = defaultFindMatches
	}
	out := &backends.KafkaFindResult{Topic: q.Topic, Searched: []backends.KafkaFindPart{}, Matches: []backends.KafkaRecord{}}
	err := c.withClient(ctx, func(cl sarama.Client, ad sarama.ClusterAdmin) error {
		ti, err := c.oneTopic(cl, q.Topic)
		if err != nil {
			return err
		}
		out.Partitions = int32(len(ti.parts))
		parts := ti.parts
		if q.Key != nil {
			p, err := KeyPartition(q.Key, out.Partitions)
			if err != nil {
				return err
			}
			parts = []int32{p}
		}
		offs, err := c.listOffsets(cl, ad, map[string][]int32{q.Topic: parts}, true)
		if err != nil {
			return err
		}
		avail := make([]int64, len(parts))
		for i, p := range parts {
			o := offs[q.Topic][p]
			avail[i] = o.stable - o.start
		}
		fps := make([]*fetchPart, len(parts))
		for i, share := range waterFill(q.Depth, avail) {
			o := offs[q.Topic][parts[i]]
			from := o.stable - int64(share)
			out.Searched = append(out.Searched, backends.KafkaFindPart{Partition: parts[i], LogStart: o.start, From: from, End: o.stable})
			fps[i] = &fetchPart{topic: q.Topic, p: parts[i], next: from, stop: o.stable, maxBytes: peekPartitionBytes}
		}
		index := make(map[*fetchPart]int, len(fps))
		for i, fp := range fps {
			index[fp] = i
		}
		f := c.newFetcher(cl, []*topicInfo{ti}, peekRequestBytes)
		for len(out.Matches) < maxMatches {
			var want []*fetchPart
			for _, fp := range fps {
				if fp.active() {
					want = append(want, fp)
				}
			}
			if len(want) == 0 {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			res, err := f.round(ctx, want)
			if err != nil {
				return err
			}
			for _, r := range res {
				sp := &out.Searched[index[r.fp]]
				for i := range r.recs {
					rec := r.recs[i]
					sp.Read++
					out.Read++
					if len(out.Matches) < maxMatches && q.Match(&rec) {
						rec.Value = nil
						out.Matches = append(out.Matches, copyRecord(rec))
					}
				}
				r.fp.next = r.end
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out.Matches, func(i, j int) bool {
		a, b := out.Matches[i], out.Matches[j]
		if a.Partition != b.Partition {
			return a.Partition < b.Partition
		}
		return a.Offset < b.Offset
	})
	return out, nil
}

// DeadLetterTopicsOf names the existing topics that are, by name, the
// dead-letter topics of topic (IsDLTName's suffixes and prefixes around
// its name: orders.DLT, orders-dlt, orders_error, dlq.orders…), sorted.
// One metadata request.
func (c *Client) DeadLetterTopicsOf(ctx context.Context, topic string) ([]string, error) {
	var out []string
	err := c.withClient(ctx, func(cl sarama.Client, _ sarama.ClusterAdmin) error {
		infos, err := c.topicInfos(cl, nil)
		if err != nil {
			return err
		}
		for name := range infos {
			if name != topic && dltOf(name, topic) {
				out = append(out, name)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

// dltOf says whether name is topic with a dead-letter suffix or prefix
// (case-insensitive), as IsDLTName knows them.
func dltOf(name, topic string) bool {
	if !IsDLTName(name) {
		return false
	}
	l, t := strings.ToLower(name), strings.ToLower(topic)
	for _, s := range dltSuffixes {
		if l == t+s {
			return true
		}
	}
	for _, p := range dltPrefixes {
		if l == p+t {
			return true
		}
	}
	return false
}
