// Package lag turns a series of cluster snapshots into what an operator asks
// about consumer lag: rates, time lag, time to drain, trend and a Burrow-style
// status per partition and per group.
package lag

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/mqops/mqops/backends"
)

// Status of a partition or group over the evaluation window (Burrow's rules).
type Status string

const (
	// OK: lag is zero, within allowance, or decreasing.
	OK Status = "OK"
	// Warn: lag never decreased across the window.
	Warn Status = "WARN"
	// Stall: the committed offset is not moving while there is lag.
	Stall Status = "STALL"
	// Stop: no commit for longer than the window while there is lag. OffsetFetch
	// gives no commit timestamps, so this reads: a group with no members
	// (Empty or Dead) whose committed offset did not move across the window,
	// or, on a single sample, such a group with lag.
	Stop Status = "STOP"
	// Rewind: the committed offset went backwards.
	Rewind Status = "REWIND"
	// Unknown: no committed offset, so nothing to judge.
	Unknown Status = "-"
)

// Severity orders statuses so that a group takes its worst partition's.
func (s Status) Severity() int {
	switch s {
	case OK:
		return 1
	case Warn:
		return 2
	case Rewind:
		return 3
	case Stall:
		return 4
	case Stop:
		return 5
	}
	return 0
}

// PartitionKey names a topic partition.
type PartitionKey struct {
	Topic     string
	Partition int32
}

// PartitionStats is the analysis of one group's position on one partition.
type PartitionStats struct {
	Topic     string
	Partition int32
	// Lag is the snapshot's lag, never negative; nil when there is no
	// committed offset (or the log end is unknown).
	Lag *int64
	// ProduceRate and ConsumeRate are records per second over the window;
	// NaN-free: 0 when unknown.
	ProduceRate float64
	ConsumeRate float64
	// TimeLag is how far behind in time the consumer is. Exact: now minus
	// the timestamp of the record at the committed offset (the snapshot's
	// GroupPartition.RecordTime; clamped at 0 for a time in the future), or
	// 0 when the lag is 0. Else an estimate: now minus the time at which
	// the log end was at the committed offset, interpolated from the log
	// ends seen. Nil when unknown (no commit, or too few samples to
	// interpolate).
	TimeLag *time.Duration
	// TimeLagSource says how TimeLag was obtained: record (exact),
	// interpolated (an estimate) or lower_bound (the time lag is at least
	// TimeLag); "" when TimeLag is nil.
	TimeLagSource backends.TimeLagSource
	// TimeLagNote says why TimeLag is not exact, or unknown, when known.
	TimeLagNote string
	// TimeToDrain is lag / (consume rate − produce rate) when the lag is
	// shrinking; nil when it is not shrinking or unknown.
	TimeToDrain *time.Duration
	Status      Status
	// LagHistory holds the lag at each retained sample (at most
	// Options.History, none older than Options.MaxAge), oldest first, for
	// sparklines (samples without a commit are left out).
	LagHistory []int64
}

// GroupStats aggregates a group's partitions.
type GroupStats struct {
	Group       string
	Lag         int64 // sum over partitions with a commit
	ProduceRate float64
	ConsumeRate float64
	// TimeLag is its oldest partition's (max over partitions), with that
	// partition's source and note; a lower bound on any partition makes
	// the group's a lower bound.
	TimeLag       *time.Duration
	TimeLagSource backends.TimeLagSource
	TimeLagNote   string
	TimeToDrain   *time.Duration // max over partitions that drain; nil if any lagging partition does not drain
	Status        Status         // worst partition
	LagHistory    []int64        // total lag per retained sample, oldest first (at most Options.History)
	// Ordered holds the group's partitions in the snapshot's order (topic,
	// then partition): Ordered[i] is the analysis of the snapshot group's
	// Partitions[i]. Partition looks one up.
	Ordered []*PartitionStats
	Samples int // samples in the window for this group
	// index finds a partition when the snapshot's were not in order (nil
	// when they were: Partition searches Ordered).
	index map[PartitionKey]*PartitionStats
}

// PartitionAt returns the analysis of the snapshot group's i-th partition
// (p of topic): Ordered[i], or the one Partition finds when Ordered does
// not follow the snapshot's partitions.
func (g *GroupStats) PartitionAt(i int, topic string, p int32) *PartitionStats {
	if i >= 0 && i < len(g.Ordered) {
		if s := g.Ordered[i]; s.Partition == p && s.Topic == topic {
			return s
		}
	}
	return g.Partition(topic, p)
}

// Partition returns the analysis of the group's partition p of topic, or
// nil when the snapshot did not list it.
func (g *GroupStats) Partition(topic string, p int32) *PartitionStats {
	if g.index != nil {
		return g.index[PartitionKey{Topic: topic, Partition: p}]
	}
	i, ok := slices.BinarySearchFunc(g.Ordered, PartitionKey{Topic: topic, Partition: p}, func(s *PartitionStats, k PartitionKey) int {
		return cmp.Or(strings.Compare(s.Topic, k.Topic), cmp.Compare(s.Partition, k.Partition))
	})
	if !ok {
		return nil
	}
	return g.Ordered[i]
}

// TopicStats is the produce side of a topic.
type TopicStats struct {
	Topic       string
	ProduceRate float64 // records/s over the window, summed over partitions
	Partitions  map[int32]float64
	// EndHistory is the sum of log-end offsets at each sample, oldest first.
	EndHistory []int64
}

// Analysis is the result of observing one more snapshot.
type Analysis struct {
	// TakenAt is the sample time: the snapshot's, or the previous sample's
	// when the snapshot was not newer than it.
	TakenAt time.Time
	// Samples is the number of observations in the evaluation window
	// (at most Options.Window).
	Samples int
	Groups  map[string]*GroupStats
	Topics  map[string]*TopicStats
}
