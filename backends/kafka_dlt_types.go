package backends

import (
	"context"
	"time"
)

// KafkaHeader is one record header. Kafka allows a key to repeat; headers
// keep the order the producer wrote them in.
type KafkaHeader struct {
	Key   string `json:"key"`
	Value []byte `json:"value"`
}

// KafkaDeadLetterInfo is what a dead letter's headers say about the record
// that failed: Spring Kafka (kafka_dlt-*), Kafka Connect (__connect.errors.*)
// or generic (x-original-*) headers. OriginalPartition and OriginalOffset are
// nil when the header is absent or unreadable.
type KafkaDeadLetterInfo struct {
	Format            string `json:"format"` // "spring", "connect" or "generic"
	OriginalTopic     string `json:"original_topic"`
	OriginalPartition *int32 `json:"original_partition,omitempty"`
	OriginalOffset    *int64 `json:"original_offset,omitempty"`
	ExceptionClass    string `json:"exception_class,omitempty"`
	ExceptionMessage  string `json:"exception_message,omitempty"`
}

// KafkaRecord is one record read for inspection or for a move. Key and Value
// are nil for a null key or value (a tombstone), and empty but not nil for an
// empty one. Nothing here is sanitized: pass every string through SafeText
// (and cut long values) before it reaches a terminal.
type KafkaRecord struct {
	Topic     string        `json:"topic"`
	Partition int32         `json:"partition"`
	Offset    int64         `json:"offset"`
	Timestamp time.Time     `json:"timestamp"`
	Key       []byte        `json:"key"`
	Value     []byte        `json:"value"`
	Headers   []KafkaHeader `json:"headers"`
	// DeadLetter is parsed from the headers; nil when the record carries no
	// dead-letter header.
	DeadLetter *KafkaDeadLetterInfo `json:"dead_letter,omitempty"`
}

// Header returns the value of the last header named key (the one a Spring
// consumer's lastHeader would see) and whether there is one.
func (r *KafkaRecord) Header(key string) ([]byte, bool) {
	for i := len(r.Headers) - 1; i >= 0; i-- {
		if r.Headers[i].Key == key {
			return r.Headers[i].Value, true
		}
	}
	return nil, false
}

// KafkaNextOffsets returns the offsets to pass as `from` to read the page
// after recs: from, advanced past the last record read of each partition.
// Partitions absent from both stay absent (a later read starts them at their
// log start).
func KafkaNextOffsets(from map[int32]int64, recs []KafkaRecord) map[int32]int64 {
	next := make(map[int32]int64, len(from))
	for p, o := range from {
		next[p] = o
	}
	for _, r := range recs {
		if o, ok := next[r.Partition]; !ok || r.Offset+1 > o {
			next[r.Partition] = r.Offset + 1
		}
	}
	return next
}

// KafkaDLT is a topic found to be a dead-letter topic.
type KafkaDLT struct {
	Topic      string `json:"topic"`
	Messages   int64  `json:"messages"` // sum over partitions of log-end − log-start
	Partitions int    `json:"partitions"`
	DetectedBy string `json:"detected_by"` // "name" or "headers"
	// LeftToDrain counts the records after the offsets committed by mqops's
	// drain group of the topic (all of them when it never drained it): a
	// drain moves records but Kafka keeps them, so Messages does not drop.
	// nil when the group's offsets could not be read.
	LeftToDrain *int64 `json:"left_to_drain,omitempty"`
}

// KafkaDeadLetterGroup counts the sampled dead letters of one original topic
// and exception class. Origin and Exception are "" for records without
// dead-letter headers.
type KafkaDeadLetterGroup struct {
	Origin    string    `json:"origin"`
	Exception string    `json:"exception"`
	Count     int       `json:"count"`
	First     time.Time `json:"first"`
	Last      time.Time `json:"last"`
}

// KafkaDeadLetterSummary groups the first Sampled records of a dead-letter
// topic (read from its log start) by origin and exception, largest first.
type KafkaDeadLetterSummary struct {
	Topic    string                 `json:"topic"`
	Messages int64                  `json:"messages"`
	Sampled  int                    `json:"sampled"`
	Groups   []KafkaDeadLetterGroup `json:"groups"`
}

// KafkaPlanOptions are the options of a plan of a move (KafkaMovePlan):
// the same as the move's (KafkaMoveOptions), read without moving anything.
type KafkaPlanOptions struct {
	Topic  string
	Group  string // default "mqops-drain.<Topic>"
	Limit  int
	Target func(r *KafkaRecord) (topic string, partition int32, err error)
	// RunID is the run id the move will write in each record's
	// mqops-run-id header: its length counts in the size of each record
	// as it will be produced.
	RunID string
}

// KafkaOversized is a record of a dead-letter topic that its target
// cannot take: the record batch it would be produced in (alone, with the
// headers the move adds) is larger than the target topic's
// max.message.bytes, or than what the producer sends to it.
type KafkaOversized struct {
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Size      int    `json:"size"`  // bytes, as the broker measures the batch
	Limit     int    `json:"limit"` // the target topic's max.message.bytes
	Target    string `json:"target"`
	RefusedBy string `json:"refused_by"` // RefusedByTopic or RefusedByProducer
}

// What refuses an oversized record.
const (
	// RefusedByTopic: its batch is larger than the topic's max.message.bytes.
	RefusedByTopic = "topic"
	// RefusedByProducer: it fits the topic by a few bytes, but the
	// producer's estimate of it (lengths and headers counted at their
	// largest) does not fit what the producer sends to that topic (the
	// limit less 12 bytes, so that no batch of several records exceeds
	// the limit).
	RefusedByProducer = "producer"
)

// KafkaMovePlan is what a move would do, counted without moving anything.
type KafkaMovePlan struct {
	Counts map[string]int // target topic → records (oversized ones included)
	Total  int
	// Ends is, per partition, the offset after the last record counted:
	// KafkaMoveOptions.Until for a move of exactly these records.
	Ends map[int32]int64
	// Oversized lists the first records (at most 100, in partition and
	// offset order) that their target cannot take; OversizedCount counts
	// them all, OversizedByTarget per target topic.
	Oversized         []KafkaOversized
	OversizedCount    int
	OversizedByTarget map[string]int
	// Limits is each target topic's max.message.bytes; Notes say what
	// could not be read (a limit assumed).
	Limits map[string]int
	Notes  []string
}

// KafkaMoveOptions configures a move of records out of a dead-letter topic
// (the drain primitive). Target and Wait are called from one goroutine, in
// offset order within each partition of the dead-letter topic.
type KafkaMoveOptions struct {
	// Topic is the dead-letter topic to read.
	Topic string
	// Group is the consumer group whose committed offsets say where the
	// drain resumes; default "mqops-drain.<Topic>". Nothing else may use it.
	Group string
	// Target says where a record goes: a topic and a partition, or -1 to
	// partition by key as Kafka's default partitioner does (murmur2). A
	// partition that does not exist in the target topic also falls back to
	// the key. An error stops the move before that record.
	Target func(r *KafkaRecord) (topic string, partition int32, err error)
	// Limit caps the records moved; 0 means up to the log end measured when
	// the move starts.
	Limit int
	// Until, if set, stops each partition before this offset when that is
	// below the log end measured at the start: the end of the plan the
	// operator confirmed (KafkaMovePlan.Ends), so that records that arrive
	// after the preview stay for another drain.
	Until map[int32]int64
	// RunID is written in the mqops-run-id header of every moved record
	// (omitted when empty) and as the metadata of the drain group's commits.
	RunID string
	// Wait, if set, is called before each produce (a rate limiter); an error
	// stops the move.
	Wait func(ctx context.Context) error
	// Progress, if set, is called at most about ten times a second and once
	// at the end, from one goroutine at a time.
	Progress func(KafkaMoveProgress)
	// Window bounds the records produced but not yet committed in the drain
	// group (default 1000): after a crash at any moment, at most this many
	// records are moved a second time by the next run, and none is lost.
	Window int
	// SkipOversized skips the records their target cannot take (see
	// KafkaOversized), commits past them and names them in the result.
	// Without it, a partition stops before its first such record: nothing
	// after it on that partition is produced.
	SkipOversized bool
}

// KafkaMoveProgress is a move's progress so far.
type KafkaMoveProgress struct {
	Moved   int // acknowledged by the target (acks=all)
	Failed  int
	Seen    int // records read from the dead-letter topic and handed on
	Total   int // records to move, measured at start (bounded by Limit)
	Elapsed time.Duration
}

// Why a move stopped.
const (
	KafkaStopEnd       = "end"       // reached the log end measured at start
	KafkaStopLimit     = "limit"     // moved Limit records
	KafkaStopPlan      = "plan"      // moved the records of the plan (Until)
	KafkaStopCancelled = "cancelled" // the context ended
	KafkaStopError     = "error"     // a produce, commit, target or read error
	// KafkaStopOversized: a partition reached a record its target cannot
	// take (KafkaOversized) and stopped before it; the others went on.
	KafkaStopOversized = "oversized"
)

// KafkaMoveResult is what a move did. Left counts the records between the
// drain group's committed offsets and the log end measured at start, after
// the move.
type KafkaMoveResult struct {
	Moved          int
	Failed         int
	Left           int
	StoppedBecause string
	// BehindLogStart counts records the drain group had not moved yet that
	// retention deleted before this run started: the move began at the log
	// start instead.
	BehindLogStart int64
	// Oversized names the records their target cannot take that the move
	// skipped (SkipOversized), or stopped before (one per partition), the
	// first 100 in the order met; OversizedCount counts them all.
	Oversized      []KafkaOversized
	OversizedCount int
}

// KafkaDeadLetters is what the console and the drain action need of a Kafka
// backend to find, inspect and drain dead-letter topics.
type KafkaDeadLetters interface {
	ListDeadLetterTopics(ctx context.Context, sampleHeaders bool) ([]KafkaDLT, error)
	// DeadLetterTopic says how topic is detected as a dead-letter topic
	// ("name" or "headers"), "" when it is not one; an error when it does
	// not exist.
	DeadLetterTopic(ctx context.Context, topic string) (string, error)
	DeadLetterSummary(ctx context.Context, topic string, sample int) (*KafkaDeadLetterSummary, error)
	ReadRecords(ctx context.Context, topic string, from map[int32]int64, limit int) ([]KafkaRecord, error)
	PartitionCounts(ctx context.Context, topics []string) (map[string]int32, error)
	PlanMove(ctx context.Context, o KafkaPlanOptions) (*KafkaMovePlan, error)
	MoveRecords(ctx context.Context, o KafkaMoveOptions) (*KafkaMoveResult, error)
}
