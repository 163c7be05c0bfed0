package actions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/kafka"
)

// Defaults and bounds of a replay.
const (
	// A replay's default window is what holds about replayWindowBytes of
	// records of the average size the plan counted, from
	// kafka.DefaultMoveWindow to maxDefaultReplayWindow records: enough in
	// flight that the producers never wait for a checkpoint, little enough
	// to bound memory and what an interruption replays twice.
	replayWindowBytes      = 16 << 20
	maxDefaultReplayWindow = 10_000
	// DefaultReplayPlanLimit is how many records a replay's plan reads at
	// most to count them (and find those the target cannot take).
	DefaultReplayPlanLimit = 1_000_000
	// Partitionings of a replay's target.
	PartitionSame = "same"
	PartitionKey  = "key"
)

// ReplayOptions are the parameters of a replay of a range of a Kafka
// topic into another topic, as the operator gave them.
type ReplayOptions struct {
	Context  string
	ReadOnly bool
	// Brokers is the cluster's bootstrap list, kept in the checkpoint so
	// that a resume goes to the same cluster.
	Brokers []string
	// Source is topic or topic:0,2,5 (those partitions only).
	Source string
	To     string // the target topic
	// The range: start inclusive, end exclusive; each end an offset or a
	// time (ISO 8601, as kafka-consumer-groups --to-datetime takes it);
	// default from the log start to the log end at plan time.
	FromOffset *int64
	ToOffset   *int64
	FromTime   string
	ToTime     string
	// Filters: only records with this key (nil: any) and with every one
	// of these headers (key=value).
	Key     *string
	Headers []string
	// Partitioning is same (each record to its partition number), key
	// (Kafka's default partitioner on the key), or "" for same when the
	// target has as many partitions as the source, else key.
	Partitioning string
	Rate         float64 // records per second, 0: unlimited
	// Window bounds the records produced but not yet in the checkpoint:
	// what an interruption replays twice (default: about 16 MiB of
	// records, 1,000 to 10,000).
	Window        int
	SkipOversized bool
	// PlanLimit bounds the records the plan reads (default
	// DefaultReplayPlanLimit).
	PlanLimit int
	RunID     string
	// Unattended says no one reads the plan before the run (confirmed
	// beforehand: --yes): without filters the plan does not read the range
	// only to list records too large for the target, which would change
	// nothing (the run stops each partition before the first, or skips
	// them); a dry run, or a plan someone confirms, reads it.
	Unattended bool
	// StateDir holds the runs' checkpoints (runs/<run-id>.json); default
	// $XDG_STATE_HOME/mqops.
	StateDir string
	// Resume, if set, is the id of a run to go on with from its
	// checkpoint, which says what it replays: then only Rate may be given
	// (and Context, Brokers, StateDir), and RunID is Resume.
	Resume string
	// SkipConsumed passes over the records whose message id the
	// application's idempotency table says was consumed (it needs the
	// Replay's Consumed index). MessageIDHeader names the header holding
	// a record's message id (default: the store's, mqops-message-id).
	SkipConsumed    bool
	MessageIDHeader string

	// parsed by Validate
	topic    string
	parts    []int32
	from, to *time.Time
	filter   replayFilter
}

// replayFilter is a replay's filters: a record is replayed when its key
// is key (when set) and it carries every header of headers.
type replayFilter struct {
	key     *string
	headers []HeaderFilter
}

// HeaderFilter is one --header key=value filter.
type HeaderFilter struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func (f replayFilter) empty() bool { return f.key == nil && len(f.headers) == 0 }

// keep is the filter as the backend applies it; nil without filters.
func (f replayFilter) keep() func(*backends.KafkaRecord) bool {
	if f.empty() {
		return nil
	}
	key := []byte(nil)
	if f.key != nil {
		key = []byte(*f.key)
	}
	hs := f.headers
	return func(r *backends.KafkaRecord) bool {
		if f.key != nil && (r.Key == nil || !bytes.Equal(r.Key, key)) {
			return false
		}
		for _, want := range hs {
			found := false
			for _, h := range r.Headers {
				if h.Key == want.Key && string(h.Value) == want.Value {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	}
}

// texts words the filters for a plan: key=…, header k=v.
func (f replayFilter) texts() []string {
	var out []string
	if f.key != nil {
		out = append(out, "key "+strconv.Quote(*f.key))
	}
	for _, h := range f.headers {
		out = append(out, "header "+strconv.Quote(h.Key)+"="+strconv.Quote(h.Value))
	}
	return out
}

// legal Kafka topic names: at most 249 of [a-zA-Z0-9._-], not . or ..
var topicNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`) }) // compiled when first used: not in every command's start

func checkTopicName(field, name string) error {
	if !topicNameRE().MatchString(name) || name == "." || name == ".." {
		return &FieldError{field, fmt.Sprintf("%q is not a Kafka topic name (at most 249 of a-z A-Z 0-9 . _ -)", backends.SafeText(name))}
	}
	return nil
}

// parseReplaySource parses topic or topic:0,2,5.
func parseReplaySource(s string) (string, []int32, error) {
	topic, list, hasParts := strings.Cut(s, ":")
	if err := checkTopicName("source", topic); err != nil {
		return "", nil, errors.New("invalid source: " + err.(*FieldError).Msg + ": want topic or topic:0,2,5")
	}
	if !hasParts {
		return topic, nil, nil
	}
	var parts []int32
	seen := map[int32]bool{}
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
		if err != nil || n < 0 {
			return "", nil, fmt.Errorf("invalid source %q: %q is not a partition number (want topic:0,2,5)", backends.SafeText(s), backends.SafeText(f))
		}
		if seen[int32(n)] {
			return "", nil, fmt.Errorf("invalid source %q: partition %d is named twice", backends.SafeText(s), n)
		}
		seen[int32(n)] = true
		parts = append(parts, int32(n))
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	return topic, parts, nil
}

// ParseReplayTime reads a time of a replay's range as Apache Kafka's
// kafka-consumer-groups --to-datetime takes it (ISO 8601,
// 2024-05-01T10:32:00.000, with an optional zone: Z, +02:00, +0200; local
// time without one), or a date (its midnight, local).
func ParseReplayTime(field, s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05Z07"} {
		if t, err := time.Parse(layout, s); err == nil {
			return checkEpoch(field, s, t)
		}
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return checkEpoch(field, s, t)
		}
	}
	return time.Time{}, &FieldError{field, fmt.Sprintf("%q is not a time: want ISO 8601, e.g. 2024-05-01T10:32:00Z, 2024-05-01T10:32:00.000+02:00 or 2024-05-01T10:32:00 (local time)", backends.SafeText(s))}
}

// checkEpoch refuses times before 1970: Kafka reads negative timestamps
// as special queries (latest, earliest).
func checkEpoch(field, s string, t time.Time) (time.Time, error) {
	if t.UnixMilli() < 0 {
		return time.Time{}, &FieldError{field, fmt.Sprintf("%q is before 1970-01-01T00:00:00Z, where Kafka's timestamps start", backends.SafeText(s))}
	}
	return t, nil
}

// Validate checks the options; a read-only context refuses replays.
func (o *ReplayOptions) Validate() error {
	if o.ReadOnly {
		return fmt.Errorf("context %q is read-only: replays are not available", o.Context)
	}
	if o.Resume != "" {
		return o.validateResume()
	}
	topic, parts, err := parseReplaySource(o.Source)
	if err != nil {
		return err
	}
	o.topic, o.parts = topic, parts
	if o.To == "" {
		return errors.New("no --to: want the target topic")
	}
	if err := checkTopicName("to", o.To); err != nil {
		return err
	}
	if o.To == topic {
		return &FieldError{"to", fmt.Sprintf("%q is the source topic: replay into another topic", backends.SafeText(o.To))}
	}
	if err := firstError(
		CheckRate("rate", o.Rate),
		CheckCount("window", o.Window, 1, kafka.MaxMoveWindow, true),
		CheckCount("plan-limit", o.PlanLimit, 1, MaxLimit, true),
	); err != nil {
		return err
	}
	if err := o.checkRange(); err != nil {
		return err
	}
	switch o.Partitioning {
	case "", PartitionSame, PartitionKey:
	default:
		return &FieldError{"partitioning", fmt.Sprintf("%q: want same or key", backends.SafeText(o.Partitioning))}
	}
	o.filter = replayFilter{key: o.Key}
	for _, h := range o.Headers {
		k, v, ok := strings.Cut(h, "=")
		if !ok || k == "" {
			return &FieldError{"header", fmt.Sprintf("%q: want key=value", backends.SafeText(h))}
		}
		o.filter.headers = append(o.filter.headers, HeaderFilter{Key: k, Value: v})
	}
	if len(o.MessageIDHeader) > maxIDLength {
		return &FieldError{"message-id-header", fmt.Sprintf("is %d bytes long: want at most %d", len(o.MessageIDHeader), maxIDLength)}
	}
	if o.PlanLimit == 0 {
		o.PlanLimit = DefaultReplayPlanLimit
	}
	if o.RunID == "" {
		o.RunID = NewRunID()
	}
	return checkRunID(o.RunID)
}

// validateResume checks the options of a resume: the run id, the rate,
// and nothing else, since a run goes on as it started.
func (o *ReplayOptions) validateResume() error {
	for _, f := range []struct {
		flag string
		set  bool
	}{
		{"source", o.Source != ""}, {"to", o.To != ""}, {"from-offset", o.FromOffset != nil}, {"to-offset", o.ToOffset != nil},
		{"from-time", o.FromTime != ""}, {"to-time", o.ToTime != ""}, {"key", o.Key != nil}, {"header", len(o.Headers) > 0},
		{"partitioning", o.Partitioning != ""}, {"window", o.Window != 0}, {"skip-oversized", o.SkipOversized}, {"plan-limit", o.PlanLimit != 0},
		{"skip-consumed", o.SkipConsumed}, {"message-id-header", o.MessageIDHeader != ""},
	} {
		if f.set {
			return fmt.Errorf("--%s cannot go with --resume: a run goes on as it started (its checkpoint says how); only --rate may change", f.flag)
		}
	}
	if err := firstError(checkRunID(o.Resume), CheckRate("rate", o.Rate)); err != nil {
		return err
	}
	if o.RunID != "" && o.RunID != o.Resume {
		return fmt.Errorf("run id %q is not the run resumed (%s)", backends.SafeText(o.RunID), o.Resume)
	}
	o.RunID = o.Resume
	return nil
}

// checkRange validates the range's ends: one of offset or time each,
// offsets not negative, times readable, and the end not before the start.
func (o *ReplayOptions) checkRange() error {
	if o.FromOffset != nil && o.FromTime != "" {
		return &FieldError{"from-offset", "give --from-offset or --from-time, not both"}
	}
	if o.ToOffset != nil && o.ToTime != "" {
		return &FieldError{"to-offset", "give --to-offset or --to-time, not both"}
	}
	for _, c := range []struct {
		field string
		v     *int64
	}{{"from-offset", o.FromOffset}, {"to-offset", o.ToOffset}} {
		if c.v != nil && *c.v < 0 {
			return &FieldError{c.field, fmt.Sprintf("%d is negative: want an offset (0 or more)", *c.v)}
		}
	}
	o.from, o.to = nil, nil
	if o.FromTime != "" {
		t, err := ParseReplayTime("from-time", o.FromTime)
		if err != nil {
			return err
		}
		o.from = &t
	}
	if o.ToTime != "" {
		t, err := ParseReplayTime("to-time", o.ToTime)
		if err != nil {
			return err
		}
		o.to = &t
	}
	switch {
	case o.FromOffset != nil && o.ToOffset != nil && *o.ToOffset < *o.FromOffset:
		return &FieldError{"to-offset", fmt.Sprintf("%d is before --from-offset %d (the end is exclusive: --to-offset %d replays nothing)", *o.ToOffset, *o.FromOffset, *o.FromOffset)}
	case o.from != nil && o.to != nil && o.to.Before(*o.from):
		return &FieldError{"to-time", fmt.Sprintf("%s is before --from-time %s", o.to.UTC().Format(time.RFC3339Nano), o.from.UTC().Format(time.RFC3339Nano))}
	}
	return nil
}

// rangeText words the range as the operator gave it.
func (o *ReplayOptions) rangeText() (from, to string) {
	from, to = "log start", "log end"
	switch {
	case o.FromOffset != nil:
		from = fmt.Sprintf("offset %d", *o.FromOffset)
	case o.from != nil:
		from = o.from.UTC().Format(time.RFC3339Nano)
	}
	switch {
	case o.ToOffset != nil:
		to = fmt.Sprintf("offset %d", *o.ToOffset)
	case o.to != nil:
		to = o.to.UTC().Format(time.RFC3339Nano)
	}
	return from, to
}

// ReplayPlan is a replay's preview: per partition the range and what was
// counted in it.
type ReplayPlan struct {
	RunID  string `json:"run_id"`
	Source string `json:"source"`
	Target string `json:"target"`
	// Partitioning is same or key; TargetPartitions the target's
	// partition count (0 when it does not exist).
	Partitioning     string           `json:"partitioning"`
	TargetPartitions int32            `json:"target_partitions"`
	From             string           `json:"from"`
	To               string           `json:"to"`
	Filters          []string         `json:"filters,omitempty"`
	Parts            []ReplayPlanPart `json:"partitions"`
	// Offsets is the size of the range (end − start, summed): control
	// records and aborted transactions included. Records and Bytes count
	// what the plan read and the filters keep; Read the records read.
	Offsets int64 `json:"offsets"`
	Records int   `json:"records"`
	Bytes   int64 `json:"bytes"`
	Read    int   `json:"read"`
	// Complete says the plan read the whole range; otherwise it stopped at
	// ReadLimit records and the counts are those of what it read.
	Complete  bool `json:"complete"`
	ReadLimit int  `json:"read_limit"`
	// Estimated says the plan read nothing (no filters, and the topics'
	// limits show that every record fits the target): Records are the
	// range's offsets (at most the records) and Bytes its share of the
	// partitions' sizes on disk; Notes say why.
	Estimated bool `json:"estimated,omitempty"`
	// Oversized lists the first records read (at most 100) that the
	// target cannot take (larger than its max.message.bytes as they will
	// be produced); each partition stops before its first, unless
	// SkipOversized.
	Oversized             []backends.KafkaOversized `json:"oversized,omitempty"`
	OversizedCount        int                       `json:"oversized_count"`
	SkipOversized         bool                      `json:"skip_oversized"`
	TargetMaxMessageBytes int                       `json:"target_max_message_bytes,omitempty"`
	Rate                  float64                   `json:"rate"`
	Window                int                       `json:"window"`
	Problems              []string                  `json:"problems,omitempty"`
	// Blocked says why nothing can be replayed (a missing target, a
	// partitioning that cannot be): the run refuses to start.
	Blocked string   `json:"blocked,omitempty"`
	Notes   []string `json:"notes,omitempty"`
	// Resume is set for the plan of a resumed run: the offsets left, not
	// read again; Status is then the run's status in its checkpoint.
	Resume bool   `json:"resume,omitempty"`
	Status string `json:"status,omitempty"`
	// Consumed is what the application's idempotency table says of the
	// message ids of the records read (nil: no store is configured).
	Consumed *ReplayConsumed `json:"consumed,omitempty"`

	consumed map[string]bool // the ids the run passes over (SkipConsumed)
}

// ReplayPlanPart is one source partition of a plan. TargetPartition is
// the target's partition with same partitioning (nil: by key).
type ReplayPlanPart struct {
	Partition       int32  `json:"partition"`
	LogStart        int64  `json:"log_start"`
	LogEnd          int64  `json:"log_end"`
	Start           int64  `json:"start"`
	End             int64  `json:"end"`
	Read            int    `json:"read"`
	ReadTo          int64  `json:"read_to"`
	Records         int    `json:"records"`
	Bytes           int64  `json:"bytes"`
	TargetPartition *int32 `json:"target_partition"`
	Note            string `json:"note,omitempty"`
}

// Summary is the plan in one line, for a confirmation and the audit log.
func (p *ReplayPlan) Summary() string {
	what := fmt.Sprintf("%d record(s), %s", p.Records, bytesText(p.Bytes))
	switch {
	case p.Resume:
		what = fmt.Sprintf("the %d offset(s) left", p.Offsets)
	case p.Estimated:
		what = fmt.Sprintf("at most %d record(s), about %s", p.Records, bytesText(p.Bytes))
	case !p.Complete:
		what = fmt.Sprintf("%d offset(s) (%d record(s), %s in the first %d read)", p.Offsets, p.Records, bytesText(p.Bytes), p.Read)
	}
	return fmt.Sprintf("%s of %s (%d partition(s)) → %s, partitioned by %s", what, cutLabel(p.Source), len(p.Parts), cutLabel(p.Target), p.Partitioning)
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// samePartition says whether the run sends each record to its partition
// number.
func (p *ReplayPlan) samePartition() bool { return p.Partitioning == PartitionSame }

// choosePartitioning resolves the partitioning: same when asked, or when
// not said and the target has as many partitions as the source; a
// problem when same cannot be (the target lacks a partition).
func choosePartitioning(asked string, sourceParts, targetParts int32, parts []backends.KafkaRangePart) (string, string) {
	mode := asked
	if mode == "" {
		mode = PartitionKey
		if targetParts == sourceParts {
			mode = PartitionSame
		}
	}
	if mode == PartitionSame && targetParts > 0 {
		for _, rp := range parts {
			if rp.Partition >= targetParts {
				return mode, fmt.Sprintf("--partitioning same: the target has %d partition(s), so partition %d has no partition of the same number there (use --partitioning key)", targetParts, rp.Partition)
			}
		}
	}
	return mode, ""
}

// planReplay previews a replay without producing anything: it resolves the
// range (times as offsets-for-times gives them), checks the target, and
// reads the range (read_committed, at most PlanLimit records) to count the
// records the filters keep and their bytes, per partition, and to find the
// records the target cannot take. Without filters it reads nothing when
// the topics' limits show that every record fits the target, or when the
// plan is Unattended (Estimated: the counts are the range's offsets). A
// missing target or a partitioning that cannot be are Problems; an unknown
// source or a range that cannot be are errors.
func planReplay(ctx context.Context, k backends.KafkaReplayer, o ReplayOptions, idx backends.ConsumedIndex, progress func(read int)) (*ReplayPlan, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	var counter *consumedCounter
	switch {
	case idx != nil && idx.HasIdempotency():
		header := o.MessageIDHeader
		if header == "" {
			header = idx.MessageIDHeader()
		}
		counter = newConsumedCounter(ctx, idx, header, o.SkipConsumed)
	case o.SkipConsumed:
		return nil, refused(&FieldError{"skip-consumed", "needs the application's idempotency table: configure a store (store: in the context, or --store) whose preset or mapping has one"})
	}
	rng, err := k.ResolveRange(ctx, backends.KafkaRangeQuery{Topic: o.topic, Partitions: o.parts, FromOffset: o.FromOffset, ToOffset: o.ToOffset, FromTime: o.from, ToTime: o.to})
	if err != nil {
		return nil, err
	}
	pc, err := k.PartitionCounts(ctx, []string{o.To})
	if err != nil {
		return nil, err
	}
	from, to := o.rangeText()
	p := &ReplayPlan{RunID: o.RunID, Source: o.topic, Target: o.To, TargetPartitions: pc[o.To], From: from, To: to, Filters: o.filter.texts(),
		ReadLimit: o.PlanLimit, SkipOversized: o.SkipOversized, Rate: o.Rate, Window: o.Window}
	mode, problem := choosePartitioning(o.Partitioning, rng.Partitions, pc[o.To], rng.Parts)
	p.Partitioning = mode
	if pc[o.To] == 0 {
		problem = fmt.Sprintf("target topic %q does not exist (mqops never creates one): nothing can be replayed", backends.SafeText(o.To))
	}
	if problem != "" {
		p.Problems, p.Blocked = append(p.Problems, problem), problem
	}
	var parts []backends.KafkaReplayPart
	for _, rp := range rng.Parts {
		pp := ReplayPlanPart{Partition: rp.Partition, LogStart: rp.LogStart, LogEnd: rp.LogEnd, Start: rp.Start, End: rp.End, ReadTo: rp.Start, Note: rp.Note}
		if mode == PartitionSame {
			tp := rp.Partition
			pp.TargetPartition = &tp
		}
		p.Parts = append(p.Parts, pp)
		p.Offsets += rp.End - rp.Start
		parts = append(parts, backends.KafkaReplayPart{Partition: rp.Partition, Next: rp.Start, End: rp.End})
	}
	keep := o.filter.keep()
	if counter != nil { // the records are read to look their message ids up
		keep = counter.keep(keep)
	}
	cnt, err := k.CountReplay(ctx, backends.KafkaReplayCountOptions{Topic: o.topic, Parts: parts, Target: o.To, Keep: keep, RunID: o.RunID,
		MaxRecords: o.PlanLimit, Progress: progress, SamePartition: mode == PartitionSame, Unattended: o.Unattended})
	if err != nil {
		return nil, err
	}
	p.Complete, p.Estimated, p.Oversized, p.OversizedCount, p.TargetMaxMessageBytes = cnt.Complete, cnt.Estimated, cnt.Oversized, cnt.OversizedCount, cnt.Limit
	p.Notes = append(p.Notes, cnt.Notes...)
	for i, c := range cnt.Parts {
		pp := &p.Parts[i]
		pp.Read, pp.ReadTo, pp.Records, pp.Bytes = c.Read, c.ReadTo, c.Selected, c.Bytes
		p.Read += c.Read
		p.Records += c.Selected
		p.Bytes += c.Bytes
	}
	if counter != nil {
		if err := counter.finish(p); err != nil {
			return nil, err
		}
	}
	if p.Window == 0 {
		p.Window = defaultReplayWindow(p.Records, p.Bytes)
	}
	if !p.Complete && !p.Estimated {
		left := int64(0)
		for _, pp := range p.Parts {
			left += pp.End - pp.ReadTo
		}
		what := "records"
		if !o.filter.empty() {
			what = "records that pass the filters"
		}
		p.Notes = append(p.Notes, fmt.Sprintf("the plan read %d record(s) (--plan-limit) and stopped: %d offset(s) were not read, so the counts are those of what was read; the run replays the whole range (the %s among those offsets too), and stops a partition before a record the target cannot take as the plan would", p.Read, left, what))
	}
	if p.OversizedCount > 0 && !o.SkipOversized {
		p.Problems = append(p.Problems, fmt.Sprintf("%d record(s) are larger than the target accepts (first: %s): each partition stops before its first such record (pass --skip-oversized to skip them)",
			p.OversizedCount, kafka.OversizedText(o.topic, &p.Oversized[0], "listed below")))
	}
	return p, nil
}

// defaultReplayWindow is the window for records of the average size of
// these (see replayWindowBytes).
func defaultReplayWindow(records int, bytes int64) int {
	if records == 0 {
		return kafka.DefaultMoveWindow
	}
	avg := max(bytes/int64(records), 1) + 64 // and what a record costs beyond its bytes
	return int(min(max(replayWindowBytes/avg, kafka.DefaultMoveWindow), maxDefaultReplayWindow))
}

// ReplayResult is how a replay ended.
type ReplayResult struct {
	RunID          string                    `json:"run_id"`
	Checkpoint     string                    `json:"checkpoint"`
	Replayed       int                       `json:"replayed"`
	Filtered       int                       `json:"filtered"`
	Failed         int                       `json:"failed"`
	Left           int                       `json:"left"`
	StoppedBecause string                    `json:"stopped_because"`
	Seconds        float64                   `json:"seconds"`
	Rate           float64                   `json:"rate"`
	Oversized      []backends.KafkaOversized `json:"oversized,omitempty"`
	// SkippedOversized counts the records skipped as too large for the
	// target (with SkipOversized).
	SkippedOversized int `json:"skipped_oversized,omitempty"`
}

// ReplayStopText words why a replay stopped.
func ReplayStopText(reason string) string {
	switch reason {
	case backends.KafkaStopEnd, backends.KafkaStopPlan:
		return "it reached the end of the range"
	case backends.KafkaStopCancelled:
		return "it was cancelled (resume it with mqops replay --resume)"
	case backends.KafkaStopError:
		return "of an error (resume it with mqops replay --resume once fixed)"
	case backends.KafkaStopOversized:
		return "a partition reached a record the target cannot take (too large): nothing after it on that partition was replayed"
	}
	return backends.SafeText(reason)
}

// executeReplay replays the range of plan (nil: the range resolved now,
// nothing read) into the target: it writes the run's checkpoint before
// producing anything and keeps it up to the records the target confirmed
// as the run goes. A cancelled ctx stops it cleanly: the checkpoint holds
// what was confirmed, the result says "cancelled" and the error is ctx's.
// A plan of another replay, or one that is blocked, is refused.
func executeReplay(ctx context.Context, k backends.KafkaReplayer, idx backends.ConsumedIndex, o *ReplayOptions, plan *ReplayPlan, progress func(Progress)) (*ReplayResult, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if plan == nil {
		var err error
		if o.SkipConsumed { // the ids to pass over are those the plan reads
			plan, err = planReplay(ctx, k, *o, idx, nil)
		} else {
			plan, err = o.resolvePlan(ctx, k)
		}
		if err != nil {
			return nil, err
		}
	}
	if plan.Resume || plan.RunID != o.RunID || plan.Source != o.topic || plan.Target != o.To {
		return nil, refused(fmt.Errorf("the plan is of run %s (%s → %s), not of this replay (run %s, %s → %s)",
			plan.RunID, cutLabel(plan.Source), cutLabel(plan.Target), o.RunID, cutLabel(o.topic), cutLabel(o.To)))
	}
	if plan.Blocked != "" {
		return nil, refused(errors.New("cannot replay: " + plan.Blocked))
	}
	keep := o.filter.keep()
	if c := plan.Consumed; c != nil && c.Skip {
		keep = skipConsumed(keep, c.Header, plan.consumed)
	}
	return runReplay(ctx, k, o.StateDir, newCheckpoint(o, plan), keep, o.Rate, progress)
}

// resolvePlan is the plan of a run given no plan: the range resolved now,
// nothing read.
func (o *ReplayOptions) resolvePlan(ctx context.Context, k backends.KafkaReplayer) (*ReplayPlan, error) {
	p, err := planReplay(ctx, k, ReplayOptions{Context: o.Context, Source: o.Source, To: o.To, FromOffset: o.FromOffset, ToOffset: o.ToOffset, FromTime: o.FromTime, ToTime: o.ToTime,
		Key: o.Key, Headers: o.Headers, Partitioning: o.Partitioning, Rate: o.Rate, Window: o.Window, SkipOversized: o.SkipOversized, PlanLimit: 1, RunID: o.RunID}, nil, nil)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// runReplay runs the replay of checkpoint cp (a new run's, or a resumed
// one's): it locks the run, writes the checkpoint, replays, and writes
// the final checkpoint.
func runReplay(ctx context.Context, k backends.KafkaReplayer, stateDir string, cp *ReplayCheckpoint, keep func(*backends.KafkaRecord) bool, rate float64, progress func(Progress)) (*ReplayResult, error) {
	out := &ReplayResult{RunID: cp.RunID}
	begin := time.Now()
	store, err := openRun(stateDir, cp)
	if err != nil {
		return nil, err
	}
	defer store.close()
	out.Checkpoint = store.path
	lim := NewLimiter(rate)
	ro := backends.KafkaReplayOptions{Topic: cp.Source, Parts: cp.left(), Target: cp.Target, SamePartition: cp.Partitioning == PartitionSame,
		Keep: keep, RunID: cp.RunID, Window: cp.Window, Wait: lim.Wait, SkipOversized: cp.SkipOversized, Save: store.save}
	if progress != nil {
		ro.Progress = func(p backends.KafkaMoveProgress) {
			progress(Progress{Done: p.Moved, Failed: p.Failed, Seen: p.Seen, Total: p.Total, Elapsed: p.Elapsed})
		}
	}
	res, err := k.Replay(ctx, ro)
	if res != nil {
		out.Replayed, out.Filtered, out.Failed, out.Left, out.StoppedBecause = res.Replayed, res.Filtered, res.Failed, res.Left, res.StoppedBecause
		out.Oversized = res.Oversized
		if cp.SkipOversized {
			out.SkippedOversized = res.OversizedCount
		}
	}
	if out.StoppedBecause == "" && err != nil {
		out.StoppedBecause = backends.KafkaStopError
	}
	if err != nil && ctx.Err() != nil {
		out.StoppedBecause = backends.KafkaStopCancelled
	}
	out.Seconds = time.Since(begin).Seconds()
	if out.Seconds > 0 {
		out.Rate = float64(out.Replayed) / out.Seconds
	}
	if serr := store.finish(out.StoppedBecause, err); serr != nil && err == nil {
		err = serr
	}
	return out, err
}

// Audit is what the audit log keeps of a replay's plan: the records to
// replay (selected) and their bytes, of those read (total), those the
// filters pass over (skipped), its problems, and as details the range, the
// partitions, the partitioning and the records the target cannot take.
func (p *ReplayPlan) Audit() AuditPlan {
	if p == nil {
		return AuditPlan{}
	}
	a := AuditPlan{Summary: p.Summary(), Selected: int64(p.Records), Skipped: int64(p.Read - p.Records), Total: int64(p.Read), Bytes: p.Bytes, Problems: p.Problems}
	if p.Estimated { // nothing read: the offsets of the range
		a.Skipped, a.Total = 0, p.Offsets
	}
	if p.Resume { // nothing read: the offsets left
		a.Selected, a.Skipped, a.Total = p.Offsets, 0, p.Offsets
	}
	d := map[string]any{"partitions": len(p.Parts), "offsets": p.Offsets, "complete": p.Complete, "partitioning": p.Partitioning,
		"target_partitions": p.TargetPartitions, "from": p.From, "to": p.To, "window": p.Window}
	if len(p.Filters) > 0 {
		d["filters"] = p.Filters
	}
	if p.Rate > 0 {
		d["rate"] = p.Rate
	}
	if p.Resume {
		d["resume"] = true
	}
	if p.Estimated {
		d["estimated"] = true
	}
	if p.OversizedCount > 0 {
		d["oversized_count"], d["oversized"], d["skip_oversized"] = p.OversizedCount, p.Oversized, p.SkipOversized
	}
	if p.Consumed != nil {
		d["consumed"] = p.Consumed
	}
	a.Details = d
	return a
}

// Audit is what the audit log keeps of a replay's run: the records
// replayed (done), passed over by the filters (skipped), failed, the
// offsets left, why it stopped, and as details the checkpoint and the
// records the target could not take.
func (r *ReplayResult) Audit() AuditResult {
	if r == nil {
		return AuditResult{}
	}
	a := AuditResult{Done: int64(r.Replayed), Skipped: int64(r.Filtered), Failed: int64(r.Failed), Left: int64(r.Left), StoppedBecause: r.StoppedBecause}
	d := map[string]any{"checkpoint": r.Checkpoint}
	if len(r.Oversized) > 0 {
		d["oversized"], d["skipped_oversized"] = r.Oversized, r.SkippedOversized
	}
	a.Details = d
	return a
}

// Replay is a replay of a range of a Kafka topic into another topic, or
// the resume of a run (Options.Resume), as an Action: run it through a
// Runner (Validate → Plan → the operator confirms → Execute), which
// audits each outcome.
type Replay struct {
	Broker  backends.KafkaReplayer
	Options ReplayOptions
	// Consumed, if set (a store is configured), is the application's
	// idempotency table: the plan counts the records whose message id was
	// consumed already, and Options.SkipConsumed passes them over.
	Consumed backends.ConsumedIndex
	// PlanProgress, if set, is told how many records the plan has read.
	PlanProgress func(read int)

	cp *ReplayCheckpoint // the resumed run's, loaded by Plan
}

func (a *Replay) Kind() string { return "replay" }

// Validate checks the options (no I/O).
func (a *Replay) Validate() error { return a.Options.Validate() }

// Describe: the source topic (and partitions) and the target topic; a
// resume's, once its plan loaded the checkpoint. Args are the command
// line: the source, the range, the filters and the flags the operator
// set; for a resume, --resume and --rate.
func (a *Replay) Describe() Subject {
	o := &a.Options
	s := Subject{Context: o.Context, RunID: o.RunID, Args: o.commandArgs()}
	source, target := o.Source, o.To
	if o.Resume != "" {
		s.RunID = o.Resume // a refused resume's too
		if a.cp != nil {
			source, target = a.cp.Source, a.cp.Target
		}
	}
	if source != "" {
		s.Source = "kafka:" + source
	}
	if target != "" {
		s.Target = "kafka:" + target
	}
	return s
}

// Plan previews the replay: the records and bytes of the range, counted
// by reading it (at most PlanLimit records); for a resume, the offsets
// left in its checkpoint (nothing read). A resume from another context or
// cluster is refused.
func (a *Replay) Plan(ctx context.Context) (Plan, error) {
	if a.Options.Resume != "" {
		cp, p, err := planResume(ctx, a.Broker, &a.Options)
		if cp != nil {
			a.cp = cp
		}
		if err != nil {
			return nil, err
		}
		return p, nil
	}
	p, err := planReplay(ctx, a.Broker, a.Options, a.Consumed, a.PlanProgress)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Execute replays the plan the operator confirmed (nil: the range
// resolved now, or the resumed run's checkpoint read now), rate-limited,
// checkpointing what the target confirmed, reporting progress.
func (a *Replay) Execute(ctx context.Context, p Plan, progress func(Progress)) (Result, error) {
	var plan *ReplayPlan
	if !isNil(p) {
		rp, ok := p.(*ReplayPlan)
		if !ok {
			return nil, fmt.Errorf("a replay cannot run the plan of another action (%T)", p)
		}
		plan = rp
	}
	var res *ReplayResult
	var err error
	if a.Options.Resume != "" {
		res, err = a.executeResume(ctx, plan, progress)
	} else {
		res, err = executeReplay(ctx, a.Broker, a.Consumed, &a.Options, plan, progress)
	}
	if res == nil {
		return nil, err
	}
	return res, err
}

// CheckpointPath is the checkpoint file of the run.
func (a *Replay) CheckpointPath() string { return CheckpointPath(a.Options.StateDir, a.Options.RunID) }

// commandArgs is the replay's command line (Subject.Args).
func (o *ReplayOptions) commandArgs() []string {
	if o.Resume != "" {
		return appendCounts([]string{"replay", "--resume", o.Resume}, 0, o.Rate)
	}
	a := []string{"replay", o.Source, "--to", o.To}
	add := func(flag, v string) {
		if v != "" {
			a = append(a, flag, v)
		}
	}
	if o.FromOffset != nil {
		add("--from-offset", strconv.FormatInt(*o.FromOffset, 10))
	}
	add("--from-time", o.FromTime)
	if o.ToOffset != nil {
		add("--to-offset", strconv.FormatInt(*o.ToOffset, 10))
	}
	add("--to-time", o.ToTime)
	if o.Key != nil {
		a = append(a, "--key", *o.Key) // an empty key too: a filter
	}
	for _, h := range o.Headers {
		add("--header", h)
	}
	add("--partitioning", o.Partitioning)
	a = appendCounts(a, 0, o.Rate)
	if o.Window != 0 {
		add("--window", strconv.Itoa(o.Window))
	}
	if o.SkipOversized {
		a = append(a, "--skip-oversized")
	}
	if o.PlanLimit != 0 && o.PlanLimit != DefaultReplayPlanLimit {
		add("--plan-limit", strconv.Itoa(o.PlanLimit))
	}
	if o.SkipConsumed {
		a = append(a, "--skip-consumed")
	}
	add("--message-id-header", o.MessageIDHeader)
	return a
}
