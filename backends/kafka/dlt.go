package kafka

import (
	"context"
	"encoding/binary"
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"

	"github.com/mqops/mqops/backends"
)

// IsDLTName reports whether a topic is named like a dead-letter topic
// (.DLT, -dlt, .dlq, -dlq, dlq. prefix, _error).
func IsDLTName(topic string) bool {
	l := strings.ToLower(topic)
	for _, s := range []string{".dlt", "-dlt", "_dlt", ".dlq", "-dlq", "_dlq", "_error", ".error", "-error"} {
		if strings.HasSuffix(l, s) {
			return true
		}
	}
	return strings.HasPrefix(l, "dlq.") || strings.HasPrefix(l, "dlq-") || strings.HasPrefix(l, "dlt.")
}

// DeadLetterInfo is what the dead-letter headers of a record say.
type DeadLetterInfo struct {
	Format            string // spring, connect, generic
	OriginalTopic     string
	OriginalPartition *int32
	OriginalOffset    *int64
	ExceptionClass    string
	ExceptionMessage  string
}

// ParseDeadLetterHeaders reads Spring Kafka, Kafka Connect and generic
// dead-letter headers. Spring writes partition and offset as big-endian
// binary (4 and 8 bytes) in recent versions and as text in older ones: both
// are read. It returns nil when no dead-letter header is present.
func ParseDeadLetterHeaders(h map[string][]byte) *DeadLetterInfo {
	if t, ok := h["kafka_dlt-original-topic"]; ok {
		d := &DeadLetterInfo{Format: "spring", OriginalTopic: string(t)}
		d.OriginalPartition = int32Header(h["kafka_dlt-original-partition"])
		d.OriginalOffset = int64Header(h["kafka_dlt-original-offset"])
		d.ExceptionClass = string(h["kafka_dlt-exception-fqcn"])
		d.ExceptionMessage = string(h["kafka_dlt-exception-message"])
		return d
	}
	if t, ok := h["__connect.errors.topic"]; ok {
		d := &DeadLetterInfo{Format: "connect", OriginalTopic: string(t)}
		d.OriginalPartition = int32Header(h["__connect.errors.partition"])
		d.OriginalOffset = int64Header(h["__connect.errors.offset"])
		d.ExceptionClass = string(h["__connect.errors.exception.class.name"])
		d.ExceptionMessage = string(h["__connect.errors.exception.message"])
		return d
	}
	if t, ok := h["x-original-topic"]; ok {
		d := &DeadLetterInfo{Format: "generic", OriginalTopic: string(t)}
		d.OriginalPartition = int32Header(h["x-original-partition"])
		d.OriginalOffset = int64Header(h["x-original-offset"])
		d.ExceptionClass = string(h["x-exception-class"])
		d.ExceptionMessage = string(h["x-exception-message"])
		return d
	}
	return nil
}

func int32Header(b []byte) *int32 {
	if b == nil {
		return nil
	}
	if len(b) == 4 && !printableDigits(b) {
		v := int32(binary.BigEndian.Uint32(b))
		return &v
	}
	if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 32); err == nil {
		v := int32(n)
		return &v
	}
	return nil
}

func int64Header(b []byte) *int64 {
	if b == nil {
		return nil
	}
	if len(b) == 8 && !printableDigits(b) {
		v := int64(binary.BigEndian.Uint64(b))
		return &v
	}
	if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
		return &n
	}
	return nil
}

func printableDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// DeadLetterTopics finds the dead-letter topics (by name) and groups the
// first `sample` records of each by original topic and exception class.
// Reading uses no consumer group and commits nothing.
func (c *Client) DeadLetterTopics(ctx context.Context, sample int) ([]backends.DeadLetterSummary, error) {
	snap, err := c.Snapshot(ctx, backends.SnapshotOptions{})
	if err != nil {
		return nil, err
	}
	var out []backends.DeadLetterSummary
	for _, t := range snap.Topics {
		if !IsDLTName(t.Name) {
			continue
		}
		sum, err := c.DeadLetterSummary(ctx, t, sample)
		if err != nil {
			return nil, err
		}
		out = append(out, *sum)
	}
	return out, nil
}

// DeadLetterSummary samples one dead-letter topic.
func (c *Client) DeadLetterSummary(ctx context.Context, t backends.Topic, sample int) (*backends.DeadLetterSummary, error) {
	sum := &backends.DeadLetterSummary{Backend: "kafka", Topic: t.Name, Groups: []backends.DeadLetterGroup{}}
	for _, p := range t.Partitions {
		sum.Messages += p.Messages()
	}
	recs, err := c.ReadRecords(ctx, t, sample)
	if err != nil {
		return nil, err
	}
	sum.Sampled = len(recs)
	type key struct{ origin, exc string }
	idx := map[key]*backends.DeadLetterGroup{}
	for _, r := range recs {
		k := key{}
		if d := ParseDeadLetterHeaders(r.Headers); d != nil {
			k = key{d.OriginalTopic, d.ExceptionClass}
		}
		g := idx[k]
		if g == nil {
			g = &backends.DeadLetterGroup{Origin: k.origin, Exception: k.exc}
			idx[k] = g
		}
		g.Count++
		if !r.Timestamp.IsZero() {
			if g.First.IsZero() || r.Timestamp.Before(g.First) {
				g.First = r.Timestamp
			}
			if r.Timestamp.After(g.Last) {
				g.Last = r.Timestamp
			}
		}
	}
	for _, g := range idx {
		sum.Groups = append(sum.Groups, *g)
	}
	sort.Slice(sum.Groups, func(i, j int) bool {
		if sum.Groups[i].Count != sum.Groups[j].Count {
			return sum.Groups[i].Count > sum.Groups[j].Count
		}
		return sum.Groups[i].Origin+sum.Groups[i].Exception < sum.Groups[j].Origin+sum.Groups[j].Exception
	})
	return sum, nil
}

// Record is one Kafka record read for inspection.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp time.Time
	Key       []byte
	Value     []byte
	Headers   map[string][]byte
}

// ReadRecords reads up to limit records of a topic from the log start of
// each partition (partition by partition), without a consumer group.
func (c *Client) ReadRecords(ctx context.Context, t backends.Topic, limit int) ([]Record, error) {
	var out []Record
	err := c.withClient(ctx, func(cl sarama.Client, _ sarama.ClusterAdmin) error {
		cons, err := sarama.NewConsumerFromClient(cl)
		if err != nil {
			return err
		}
		defer cons.Close()
		for _, p := range t.Partitions {
			if len(out) >= limit || p.LogEnd <= p.LogStart || p.LogStart < 0 {
				continue
			}
			pc, err := cons.ConsumePartition(t.Name, p.Partition, p.LogStart)
			if err != nil {
				if errors.Is(err, sarama.ErrOffsetOutOfRange) {
					continue // retention moved the log start since the snapshot
				}
				return &Error{Op: "reading " + backends.SafeText(t.Name), Err: err}
			}
			deadline := time.NewTimer(c.cfg.Timeout)
		read:
			for len(out) < limit {
				select {
				case m, ok := <-pc.Messages():
					if !ok {
						break read
					}
					r := Record{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Timestamp: m.Timestamp, Key: m.Key, Value: m.Value, Headers: map[string][]byte{}}
					for _, h := range m.Headers {
						if h != nil {
							r.Headers[string(h.Key)] = h.Value
						}
					}
					out = append(out, r)
					if m.Offset >= p.LogEnd-1 {
						break read
					}
				case err := <-pc.Errors():
					deadline.Stop()
					pc.Close()
					return &Error{Op: "reading " + backends.SafeText(t.Name), Err: err}
				case <-deadline.C:
					break read // fewer records than expected (transaction markers, compaction)
				}
			}
			deadline.Stop()
			pc.Close()
		}
		return nil
	})
	return out, err
}
