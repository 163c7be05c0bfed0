package backends

import (
	"context"
	"time"
)

// KafkaRangeQuery selects the records of a replay: partitions of a topic
// and a range of offsets, each end given as an offset or a time. Start
// is inclusive, end exclusive; a time selects as Kafka's offsets-for-times
// does (ListOffsets with a timestamp: the first offset whose timestamp is at
// or after it, the log end when there is none). Without a start the range
// starts at the log start, without an end it ends at the log end (the last
// stable offset) measured now.
type KafkaRangeQuery struct {
	Topic      string
	Partitions []int32 // nil: every partition
	FromOffset *int64
	FromTime   *time.Time
	ToOffset   *int64
	ToTime     *time.Time
}

// KafkaRangePart is one partition of a resolved range. Note says when
// the range was clamped into the log (an offset below the log start or
// past the log end).
type KafkaRangePart struct {
	Partition int32  `json:"partition"`
	LogStart  int64  `json:"log_start"`
	LogEnd    int64  `json:"log_end"` // the last stable offset: what a read_committed reader reaches
	Start     int64  `json:"start"`
	End       int64  `json:"end"`
	Note      string `json:"note,omitempty"`
}

// KafkaRange is a resolved range: every partition of it, in order.
type KafkaRange struct {
	Topic      string           `json:"topic"`
	Partitions int32            `json:"topic_partitions"` // the topic's partition count
	Parts      []KafkaRangePart `json:"parts"`
}

// KafkaReplayPart is where a replay stands on one source partition: the
// records from Next up to End (exclusive) are still to be replayed.
// SerialUntil > Next says the records below it are produced one at a time
// (a run ended with records not confirmed: see KafkaMoveResult).
type KafkaReplayPart struct {
	Partition   int32 `json:"partition"`
	Next        int64 `json:"next"`
	End         int64 `json:"end"`
	SerialUntil int64 `json:"serial_until,omitempty"`
}

// KafkaReplayPosition is a replay's saved position on one partition: every
// record below Next was confirmed by the target (or passed over by the
// filters).
type KafkaReplayPosition struct {
	Next        int64
	SerialUntil int64
}

// KafkaReplayOptions configures a replay of records of one topic into
// another. Keep, Wait and Save are called from one goroutine at a time.
type KafkaReplayOptions struct {
	Topic  string
	Parts  []KafkaReplayPart
	Target string
	// SamePartition sends each record to its own partition number in the
	// target (which must have it); otherwise records are partitioned by
	// key as the Java client's default partitioner does (murmur2; a record
	// without a key goes to a random partition).
	SamePartition bool
	// Keep, if set, says which records are replayed (the filters); the
	// others are passed over.
	Keep func(r *KafkaRecord) bool
	// RunID is written in each record's mqops-replay-run header.
	RunID string
	// Window bounds the records produced but not yet saved (default
	// 1000): what a crash can make the next run replay twice.
	Window        int
	Wait          func(ctx context.Context) error
	Progress      func(KafkaMoveProgress)
	SkipOversized bool
	// Save keeps the positions of the partitions that moved (only what
	// the target confirmed), atomically: the next run resumes there. It
	// is called continuously as records are confirmed, and once at the
	// end; an error stops the replay.
	Save func(changed map[int32]KafkaReplayPosition) error
}

// KafkaReplayResult is what a replay did.
type KafkaReplayResult struct {
	Replayed int `json:"replayed"` // confirmed by the target (acks=all)
	Filtered int `json:"filtered"` // passed over by the filters
	Failed   int `json:"failed"`
	// Left counts the offsets between the saved positions and the ends.
	Left           int              `json:"left"`
	StoppedBecause string           `json:"stopped_because"` // KafkaStop*
	Oversized      []KafkaOversized `json:"oversized,omitempty"`
	OversizedCount int              `json:"oversized_count,omitempty"`
}

// KafkaReplayCountOptions configures the count of a replay's records (its
// dry run): the records of Parts that Keep keeps, read up to MaxRecords
// records in all (0: no bound).
type KafkaReplayCountOptions struct {
	Topic         string
	Parts         []KafkaReplayPart
	Target        string
	Keep          func(r *KafkaRecord) bool
	RunID         string // its length counts in the size of each record as produced
	MaxRecords    int
	Progress      func(read int)
	SamePartition bool
	// Unattended: no one reads the count before the run (the operator
	// confirmed beforehand): without filters, the range is not read even
	// when the limits cannot show that every record fits the target (the
	// run measures every record and stops a partition before one that
	// does not, whatever a count would have listed).
	Unattended bool
}

// KafkaReplayPartCount is the count of one partition: Read records were
// read (every offset below ReadTo), Selected of them pass the filters,
// holding Bytes bytes of keys, values and headers.
type KafkaReplayPartCount struct {
	Partition int32 `json:"partition"`
	Read      int   `json:"read"`
	ReadTo    int64 `json:"read_to"`
	Selected  int   `json:"selected"`
	Bytes     int64 `json:"bytes"`
}

// KafkaReplayCount is the count of a replay's records. Complete is false
// when the bound stopped the read before the end of the range.
type KafkaReplayCount struct {
	Parts    []KafkaReplayPartCount `json:"parts"`
	Complete bool                   `json:"complete"`
	// Oversized lists the first records read (at most 100, in partition
	// and offset order) that the target cannot take, OversizedCount
	// counts them; Limit is the target's max.message.bytes (0 when it
	// could not be read: Notes say so).
	Oversized      []KafkaOversized `json:"oversized,omitempty"`
	OversizedCount int              `json:"oversized_count"`
	Limit          int              `json:"target_max_message_bytes,omitempty"`
	Notes          []string         `json:"notes,omitempty"`
	// Estimated: nothing was read (no filters, and every record fits the
	// target by the topics' limits): each partition's Selected is its
	// offsets in the range (at most the records: transaction markers and
	// aborted records are offsets too), its Bytes the range's share of its
	// size on disk, Read 0; Complete is false.
	Estimated bool `json:"estimated,omitempty"`
}

// KafkaReplayer is what a replay needs of a Kafka backend.
type KafkaReplayer interface {
	PartitionCounts(ctx context.Context, topics []string) (map[string]int32, error)
	ResolveRange(ctx context.Context, q KafkaRangeQuery) (*KafkaRange, error)
	CountReplay(ctx context.Context, o KafkaReplayCountOptions) (*KafkaReplayCount, error)
	Replay(ctx context.Context, o KafkaReplayOptions) (*KafkaReplayResult, error)
}
