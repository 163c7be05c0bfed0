// Package backends holds mqops' domain types and the small interfaces that
// actions and the console depend on. Broker-specific code lives in the
// sub-packages (kafka, rabbitmq, store); none of their client types leak here.
package backends

import (
	"context"
	"slices"
	"time"
)

// Broker is one Kafka broker as seen in cluster metadata.
type Broker struct {
	ID         int32  `json:"id"`
	Addr       string `json:"addr"`
	Rack       string `json:"rack,omitempty"`
	Controller bool   `json:"controller"`
}

// Partition is one topic partition with its replica state and offsets.
// LogStart and LogEnd are -1 when the leader could not answer; Err says why.
type Partition struct {
	Topic           string  `json:"topic"`
	Partition       int32   `json:"partition"`
	Leader          int32   `json:"leader"`
	Replicas        []int32 `json:"replicas"`
	ISR             []int32 `json:"isr"`
	UnderReplicated bool    `json:"under_replicated"`
	LogStart        int64   `json:"log_start"`
	LogEnd          int64   `json:"log_end"`
	Err             string  `json:"error,omitempty"`
}

// Messages is the number of records currently retained (log-end − log-start).
func (p Partition) Messages() int64 {
	if p.LogStart < 0 || p.LogEnd < 0 {
		return 0
	}
	return p.LogEnd - p.LogStart
}

// Topic is a Kafka topic with its partitions sorted by partition id.
type Topic struct {
	Name       string      `json:"name"`
	Internal   bool        `json:"internal"`
	Partitions []Partition `json:"partitions"`
	Err        string      `json:"error,omitempty"`
}

// Member is one member of a consumer group.
type Member struct {
	ID         string             `json:"member_id"`
	InstanceID string             `json:"instance_id,omitempty"`
	ClientID   string             `json:"client_id"`
	Host       string             `json:"host"`
	Assigned   map[string][]int32 `json:"assigned,omitempty"`
	// Epoch is the member's epoch in a group of the consumer protocol
	// (KIP-848): behind the group's assignment epoch while it reconciles.
	Epoch int32 `json:"member_epoch,omitempty"`
}

// GroupPartition is a group's position on one partition. Committed and Lag
// are nil when the group has no committed offset there. (The small fields
// sit together: a big cluster's snapshot has hundreds of thousands of
// these, 144 bytes each.)
type GroupPartition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// BehindLogStart is set when the committed offset is older than the
	// log start: the consumer lost records to retention.
	BehindLogStart bool `json:"behind_log_start,omitempty"`
	// NoRecordToRead: only transaction markers lie between the committed
	// offset and the log end (a consumer that commits its last record + 1
	// stops at a commit marker): the lag counts them, yet the group has
	// nothing to read and its time lag is 0.
	NoRecordToRead bool   `json:"no_record_to_read,omitempty"`
	Committed      *int64 `json:"committed"`
	LogStart       int64  `json:"log_start"`
	LogEnd         int64  `json:"log_end"`
	Lag            *int64 `json:"lag"`
	MemberID       string `json:"member"`
	ClientID       string `json:"client_id"`
	Host           string `json:"host"`
	// RecordTime is the timestamp of the next record the group will read,
	// the one at its committed offset (the broker's append time on a topic
	// with message.timestamp.type=LogAppendTime), read for partitions with
	// lag. Nil when it was not read; RecordTimeNote then says why.
	RecordTime *time.Time `json:"record_time,omitempty"`
	// RecordTimeSource is TimeLagRecord when RecordTime is the time of the
	// record at the committed offset, TimeLagLowerBound when it is a later
	// record's (the records from the committed offset on were deleted by
	// retention or compaction): the time lag is then at least now minus it.
	RecordTimeSource TimeLagSource `json:"record_time_source,omitempty"`
	// RecordTimeNote says why RecordTime is a lower bound, or why it is
	// missing on a partition with lag.
	RecordTimeNote string `json:"record_time_note,omitempty"`
}

// TimeLagSource says how a time lag was obtained.
type TimeLagSource string

const (
	// TimeLagRecord: exact, now minus the timestamp of the record at the
	// committed offset (or zero: the group is caught up).
	TimeLagRecord TimeLagSource = "record"
	// TimeLagInterpolated: an estimate, interpolated from the log end
	// offsets seen across refreshes.
	TimeLagInterpolated TimeLagSource = "interpolated"
	// TimeLagLowerBound: the time lag is at least this much.
	TimeLagLowerBound TimeLagSource = "lower_bound"
)

// Group states, with Kafka's own names.
const (
	GroupStable              = "Stable"
	GroupEmpty               = "Empty"
	GroupDead                = "Dead"
	GroupPreparingRebalance  = "PreparingRebalance"
	GroupCompletingRebalance = "CompletingRebalance"
	GroupUnknown             = "Unknown"
	// States of the consumer protocol (KIP-848) besides Empty, Stable and
	// Dead: the group computes a new assignment, or its members move to it.
	GroupAssigning   = "Assigning"
	GroupReconciling = "Reconciling"
)

// Group types: the rebalance protocol a group uses (ListGroups v5, Kafka
// 3.8+; a broker that does not say has classic groups only).
const (
	GroupClassic  = "classic"
	GroupConsumer = "consumer" // KIP-848, Kafka 4's consumer protocol
)

// Group is a consumer group with its members and its per-partition offsets,
// sorted by topic then partition.
type Group struct {
	Name  string `json:"group"`
	State string `json:"state"`
	// Type is the rebalance protocol the group uses: GroupClassic, or
	// GroupConsumer for Kafka 4's consumer protocol (KIP-848); other
	// types a broker lists (share, streams) as it names them.
	Type string `json:"type"`
	// Protocol is the assignor: the classic group's protocol (range,
	// cooperative-sticky, ...) or the consumer protocol's server-side
	// assignor (uniform, range).
	Protocol     string `json:"protocol"`
	ProtocolType string `json:"protocol_type"`
	// GroupEpoch and AssignmentEpoch are a consumer-protocol group's
	// epochs: the assignment is up to date when they are equal.
	GroupEpoch      int32            `json:"group_epoch,omitempty"`
	AssignmentEpoch int32            `json:"assignment_epoch,omitempty"`
	Coordinator     int32            `json:"coordinator"`
	Members         []Member         `json:"members"`
	Partitions      []GroupPartition `json:"partitions"`
	// Err holds what could not be learnt about the group (describe or
	// offset-fetch failure); the rest of the snapshot is still valid.
	Err string `json:"error,omitempty"`
	// Unknown says what is not known about a group that is not in error:
	// a group of the consumer protocol (KIP-848) whose coordinator does
	// not support ConsumerGroupDescribe has its state and lag but no
	// members.
	Unknown string `json:"unknown,omitempty"`
}

// Topics returns the distinct topics the group has offsets on or is
// assigned, sorted.
func (g Group) Topics() []string {
	var (
		out  []string
		seen map[string]bool // once the group has many topics
	)
	for i := range g.Partitions {
		t := g.Partitions[i].Topic
		switch {
		case len(out) > 0 && out[len(out)-1] == t:
			// partitions come sorted by topic: a run of one
		case seen == nil && len(out) < 16:
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		default:
			if seen == nil {
				seen = make(map[string]bool, 2*len(out))
				for _, x := range out {
					seen[x] = true
				}
			}
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// TotalLag is the sum of lag over partitions that have a committed offset.
func (g Group) TotalLag() int64 {
	var n int64
	for i := range g.Partitions { // by index: a row is not copied for its lag
		if l := g.Partitions[i].Lag; l != nil {
			n += *l
		}
	}
	return n
}

// ClusterSnapshot is everything one refresh learns about a Kafka cluster.
type ClusterSnapshot struct {
	TakenAt    time.Time `json:"taken_at"`
	ClusterID  string    `json:"cluster_id,omitempty"`
	Brokers    []Broker  `json:"brokers"`
	Topics     []Topic   `json:"topics"`
	Groups     []Group   `json:"groups"`
	Controller int32     `json:"controller"`
	// Requests counts the broker round trips the snapshot took.
	Requests int `json:"requests"`
}

// Topic finds a topic by name.
func (s *ClusterSnapshot) Topic(name string) (*Topic, bool) {
	for i := range s.Topics {
		if s.Topics[i].Name == name {
			return &s.Topics[i], true
		}
	}
	return nil, false
}

// Group finds a group by name.
func (s *ClusterSnapshot) Group(name string) (*Group, bool) {
	for i := range s.Groups {
		if s.Groups[i].Name == name {
			return &s.Groups[i], true
		}
	}
	return nil, false
}

// SnapshotOptions narrows a snapshot. Empty slices mean everything.
type SnapshotOptions struct {
	Groups []string
	Topics []string
	// IncludeInternal keeps __consumer_offsets and other internal topics.
	IncludeInternal bool
	// SkipRecordTimes leaves out the read of the records at the committed
	// offsets of lagging partitions (GroupPartition.RecordTime): for
	// callers that show no time lag.
	SkipRecordTimes bool
}

// KafkaSource is what the console and actions need from a Kafka cluster to
// observe it.
type KafkaSource interface {
	Snapshot(ctx context.Context, opts SnapshotOptions) (*ClusterSnapshot, error)
	// Name is a short human name of the cluster (bootstrap address).
	Name() string
	Close() error
}
