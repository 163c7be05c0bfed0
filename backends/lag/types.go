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
	Samples       int            // samples in the window for this group

	an    *Analysis
	parts []partResult // the snapshot group's partitions, in its order
	// index finds a partition when the snapshot's were not in order (nil
	// when they were: Partition searches parts).
	index map[PartitionKey]int
}

// Len is the number of the group's partitions analysed: the snapshot
// group's.
func (g *GroupStats) Len() int { return len(g.parts) }

// At returns the analysis of the snapshot group's i-th partition. Its
// pointers (and LagHistory, when no lag of the analysis was over 2^31-1)
// point into the Analysis: read them, do not write them.
func (g *GroupStats) At(i int) PartitionStats {
	ps := g.Brief(i)
	r := &g.parts[i]
	if r.nhist > 0 {
		ps.LagHistory = g.an.history(r.hist, r.nhist)
	}
	return ps
}

// Brief is At without LagHistory, which it allocates nothing for.
func (g *GroupStats) Brief(i int) PartitionStats {
	r := &g.parts[i]
	ps := PartitionStats{
		Topic: g.an.topics[r.topic], Partition: r.partition,
		ProduceRate: r.produce, ConsumeRate: r.consume,
		Status: statuses[r.status], TimeLagSource: sources[r.source], TimeLagNote: g.an.notes[r.note],
	}
	if r.has(hasLag) {
		ps.Lag = &r.lag
	}
	if r.has(hasTimeLag) {
		ps.TimeLag = &r.timeLag
	}
	if r.has(hasDrain) {
		ps.TimeToDrain = &r.drain
	}
	return ps
}

// PartitionAt returns the analysis of the snapshot group's i-th partition
// (p of topic), or the one Partition finds when that is another; false
// when there is none.
func (g *GroupStats) PartitionAt(i int, topic string, p int32) (PartitionStats, bool) {
	if i, ok := g.indexOf(i, topic, p); ok {
		return g.At(i), true
	}
	return PartitionStats{}, false
}

// BriefAt is PartitionAt without LagHistory, which it allocates nothing
// for: what a view of many groups' partitions at once asks.
func (g *GroupStats) BriefAt(i int, topic string, p int32) (PartitionStats, bool) {
	if i, ok := g.indexOf(i, topic, p); ok {
		return g.Brief(i), true
	}
	return PartitionStats{}, false
}

// indexOf is i when the group's i-th partition is p of topic, else the
// index of p of topic (false when the snapshot did not list it).
func (g *GroupStats) indexOf(i int, topic string, p int32) (int, bool) {
	if i >= 0 && i < len(g.parts) {
		if r := &g.parts[i]; r.partition == p && g.an.topics[r.topic] == topic {
			return i, true
		}
	}
	return g.find(topic, p)
}

// Partition returns the analysis of the group's partition p of topic, or
// nil when the snapshot did not list it.
func (g *GroupStats) Partition(topic string, p int32) *PartitionStats {
	i, ok := g.find(topic, p)
	if !ok {
		return nil
	}
	ps := g.At(i)
	return &ps
}

// find is the index of the group's partition p of topic.
func (g *GroupStats) find(topic string, p int32) (int, bool) {
	if g.index != nil {
		i, ok := g.index[PartitionKey{Topic: topic, Partition: p}]
		return i, ok
	}
	return slices.BinarySearchFunc(g.parts, PartitionKey{Topic: topic, Partition: p}, func(r partResult, k PartitionKey) int {
		return cmp.Or(strings.Compare(g.an.topics[r.topic], k.Topic), cmp.Compare(r.partition, k.Partition))
	})
}

// partResult is a partition's analysis as an Analysis holds it: without
// pointers, so that the hundreds of thousands of a big cluster cost a few
// allocations and nothing for the garbage collector to scan. At makes the
// PartitionStats of it.
type partResult struct {
	lag            int64
	timeLag, drain time.Duration
	produce        float64
	consume        float64
	topic          uint32 // index in Analysis.topics
	partition      int32
	hist, nhist    uint32 // LagHistory: Analysis.hist[hist : hist+nhist]
	note           uint32 // index in Analysis.notes (0: none)
	status, source uint8  // indexes in statuses and sources
	flags          uint8
}

// partResult flags: which of lag, timeLag and drain are set.
const (
	hasLag uint8 = 1 << iota
	hasTimeLag
	hasDrain
)

func (r *partResult) has(f uint8) bool { return r.flags&f != 0 }

// The statuses and time-lag sources a partResult codes.
var (
	statuses = []Status{Unknown, OK, Warn, Stall, Stop, Rewind}
	sources  = []backends.TimeLagSource{"", backends.TimeLagRecord, backends.TimeLagInterpolated, backends.TimeLagLowerBound}
)

const statusUnknown uint8 = 0

func statusCode(s Status) uint8 {
	return uint8(max(slices.Index(statuses, s), 0))
}

func sourceCode(s backends.TimeLagSource) uint8 {
	return uint8(max(slices.Index(sources, s), 0))
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

	// the tables the groups' partitions point into: their lag histories
	// (in hist32 while every lag fits, else all in hist), notes and topics
	hist32 []int32
	hist   []int64
	notes  []string
	topics []string
}

func (a *Analysis) histLen() int {
	if a.hist != nil {
		return len(a.hist)
	}
	return len(a.hist32)
}

// addHist appends v to the lag histories: in half the room while every
// lag fits 32 bits (a big cluster has millions of them).
func (a *Analysis) addHist(v int64) {
	if a.hist == nil && v == int64(int32(v)) {
		a.hist32 = append(a.hist32, int32(v))
		return
	}
	if a.hist == nil {
		a.hist = make([]int64, len(a.hist32), max(cap(a.hist32), len(a.hist32)+1))
		for i, x := range a.hist32 {
			a.hist[i] = int64(x)
		}
		a.hist32 = nil
	}
	a.hist = append(a.hist, v)
}

// history returns the n lags from off.
func (a *Analysis) history(off, n uint32) []int64 {
	if a.hist != nil {
		return a.hist[off : off+n : off+n]
	}
	out := make([]int64, n)
	for i, x := range a.hist32[off : off+n] {
		out[i] = int64(x)
	}
	return out
}
