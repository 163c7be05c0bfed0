package backends

import "context"

// KafkaGroupMember is one member of a consumer group, as a refusal to
// reset its offsets names it.
type KafkaGroupMember struct {
	MemberID   string `json:"member_id"`
	InstanceID string `json:"instance_id,omitempty"`
	ClientID   string `json:"client_id"`
	Host       string `json:"host"`
}

// KafkaPartitionOffsets is a consumer group's position on one partition
// with the partition's offsets. Committed is nil where the group has no
// committed offset. AtTime is the offset of the first record whose
// timestamp is at or after the time asked for (ListOffsets by timestamp),
// nil when no record is that recent or no time was asked for.
type KafkaPartitionOffsets struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed *int64 `json:"committed"`
	LogStart  int64  `json:"log_start"`
	LogEnd    int64  `json:"log_end"`
	AtTime    *int64 `json:"at_time,omitempty"`
}

// KafkaGroupOffsets is what a reset of a group's offsets reads first: the
// group's state and members (a group the cluster does not know is "Dead"),
// and its position on every partition of the query, sorted by topic then
// partition.
type KafkaGroupOffsets struct {
	Group string `json:"group"`
	State string `json:"state"`
	// Type is "classic" or "consumer" (the KIP-848 protocol).
	Type       string                  `json:"type"`
	Members    []KafkaGroupMember      `json:"members"`
	Partitions []KafkaPartitionOffsets `json:"partitions"`
}

// KafkaOffsetsQuery says which partitions GroupOffsets reads: every
// partition of Topics, the Partitions named (each must exist), and with
// AllCommitted every partition the group has a committed offset on. At,
// when set, is a time in milliseconds since the epoch whose offsets are
// looked up too (AtTime).
type KafkaOffsetsQuery struct {
	Group        string
	Topics       []string
	Partitions   map[string][]int32
	AllCommitted bool
	At           *int64
}

// KafkaOffset is an offset to commit for a group on one partition.
type KafkaOffset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// KafkaOffsetResetter is what resetting a consumer group's offsets needs
// from a cluster.
type KafkaOffsetResetter interface {
	// GroupOffsets reads the group's state, members and positions on the
	// partitions of q. An unknown topic or partition is an error naming it.
	GroupOffsets(ctx context.Context, q KafkaOffsetsQuery) (*KafkaGroupOffsets, error)
	// CommitGroupOffsets commits offsets for the group as an administrator
	// does (no member, generation -1): the cluster accepts it only while
	// the group has no member. Every partition's answer is checked; the
	// error names those that failed.
	CommitGroupOffsets(ctx context.Context, group string, offsets []KafkaOffset) error
	// CommittedOffsets reads every offset the group has committed.
	CommittedOffsets(ctx context.Context, group string) (map[string]map[int32]int64, error)
}
