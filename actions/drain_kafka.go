package actions

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/kafka"
)

// KafkaDrainOptions are the parameters of a drain of a Kafka dead-letter
// topic, as the operator gave them.
type KafkaDrainOptions struct {
	Context  string
	ReadOnly bool
	Topic    string // the dead-letter topic
	// To is origin (each record back to its kafka_dlt-original-topic /
	// __connect.errors.topic / x-original-topic, at its original partition
	// when known, else by key) or topic:<name> (every record there, by key).
	To    string
	Limit int
	Rate  float64 // records per second, 0: unlimited
	// Window bounds the records produced but not yet committed (default
	// 1000): what a crash can make the next run move twice.
	Window int
	// Group is the drain's consumer group (default mqops-drain.<Topic>).
	Group string
	RunID string
	// SkipOversized skips the records their target cannot take (larger,
	// as they would be produced, than the target topic's
	// max.message.bytes), commits past them and names them in the result
	// and the audit log. Without it a partition stops before its first
	// such record.
	SkipOversized bool
	// NotDeadLetters drains a topic that is not recognised as a dead-letter
	// topic (by its name or its records' dead-letter headers): without it,
	// such a source is refused.
	NotDeadLetters bool
}

// Validate checks the options; a read-only context refuses drains.
func (o *KafkaDrainOptions) Validate() error {
	if o.ReadOnly {
		return fmt.Errorf("context %q is read-only: drains are not available", o.Context)
	}
	if o.Topic == "" {
		return errors.New("no source topic: want kafka:<dead-letter-topic>")
	}
	if err := firstError(
		CheckCount("limit", o.Limit, 1, MaxLimit, true),
		CheckRate("rate", o.Rate),
		CheckCount("window", o.Window, 1, kafka.MaxMoveWindow, true),
	); err != nil {
		return err
	}
	t, err := kafkaTargetTopic(o.To)
	if err != nil {
		return err
	}
	if t == o.Topic {
		return fmt.Errorf("invalid --to %q: that is the dead-letter topic itself", o.To)
	}
	if o.Group == "" {
		o.Group = kafka.DrainGroup(o.Topic)
	}
	if o.Window == 0 {
		o.Window = kafka.DefaultMoveWindow // recorded in the audit log as used
	}
	if o.RunID == "" {
		o.RunID = NewRunID()
	}
	return nil
}

// kafkaTargetTopic parses --to for a Kafka source: "" for origin, the topic
// name for topic:<name>.
func kafkaTargetTopic(to string) (string, error) {
	switch {
	case to == toOrigin:
		return "", nil
	case strings.HasPrefix(to, "topic:"):
		t := strings.TrimPrefix(to, "topic:")
		if t == "" || strings.TrimSpace(t) != t {
			return "", fmt.Errorf("invalid --to %q: topic: needs a topic name", to)
		}
		return t, nil
	case to == "":
		return "", errors.New("no --to: want origin or topic:<name>")
	case strings.HasPrefix(to, "exchange:"), strings.HasPrefix(to, "file:"):
		return "", fmt.Errorf("invalid --to %q for a Kafka source: want origin or topic:<name> (exchange: and file: are for RabbitMQ)", to)
	}
	return "", fmt.Errorf("invalid --to %q: want origin or topic:<name>", to)
}

// target is the backend Target of the drain.
func (o *KafkaDrainOptions) target() func(*backends.KafkaRecord) (string, int32, error) {
	if t, _ := kafkaTargetTopic(o.To); t != "" {
		return kafka.TopicTarget(t)
	}
	return kafka.OriginTarget
}

func (o *KafkaDrainOptions) source() string { return "kafka:" + o.Topic }

// planEnds is where the run stops on each partition: where the plan the
// operator confirmed stopped, so that records that arrive after the
// preview stay for another drain (nil without a plan: the log end at the
// start).
func planEnds(plan *DrainPlan) map[int32]int64 {
	if plan == nil {
		return nil
	}
	return plan.ends
}

// KafkaStopText words why a Kafka drain stopped.
func KafkaStopText(reason string) string {
	switch reason {
	case backends.KafkaStopEnd:
		return "it reached the log end measured at start"
	case backends.KafkaStopPlan:
		return "it moved the records of the plan (records that arrived since stay)"
	case backends.KafkaStopLimit:
		return "it reached the limit"
	case backends.KafkaStopCancelled:
		return "it was cancelled"
	case backends.KafkaStopError:
		return "of an error"
	case backends.KafkaStopOversized:
		return "a partition reached a record its target cannot take (too large): nothing after it on that partition was moved"
	}
	return backends.SafeText(reason)
}

// noOrigin marks, in a plan's counts, the records without an original-topic
// header (no topic can be named so: it holds a NUL byte).
const noOrigin = "\x00no-origin"

// checkKafkaSource returns a clear error when the dead-letter topic does
// not exist, or is not recognised as a dead-letter topic (by its name or
// its records' dead-letter headers) and the operator did not say to drain
// it anyway (NotDeadLetters).
func checkKafkaSource(ctx context.Context, k backends.KafkaDeadLetters, o *KafkaDrainOptions) error {
	pc, err := k.PartitionCounts(ctx, []string{o.Topic})
	if err != nil {
		return err
	}
	if pc[o.Topic] == 0 {
		return fmt.Errorf("unknown topic %q: no dead-letter topic of that name in context %q", backends.SafeText(o.Topic), o.Context)
	}
	if o.NotDeadLetters {
		return nil
	}
	by, err := k.DeadLetterTopic(ctx, o.Topic)
	if err != nil {
		return err
	}
	if by == "" {
		return refused(&notDeadLettersError{source: o.source()})
	}
	return nil
}

// notDeadLettersError refuses a source that is not recognised as a
// dead-letter topic.
type notDeadLettersError struct{ source string }

func (e *notDeadLettersError) Error() string {
	return backends.SafeText(e.source) + " is not a dead-letter topic (its name is not a DLT's and its records carry no dead-letter headers): pass --not-dead-letters to drain it anyway"
}

// planKafkaDrain previews a drain without moving or committing anything: it
// reads the records the drain would move (from the drain group's committed
// offsets up to the log end, or Limit records), counts them per target
// topic and checks that every target topic exists. Records without an
// original-topic header (with --to origin) and missing target topics are
// Problems: the drain would stop at the first such record.
func planKafkaDrain(ctx context.Context, k backends.KafkaDeadLetters, o KafkaDrainOptions) (*DrainPlan, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := checkKafkaSource(ctx, k, &o); err != nil {
		return nil, err
	}
	var first *backends.KafkaRecord // the first record without an origin
	target := o.target()
	mp, err := k.PlanMove(ctx, backends.KafkaPlanOptions{Topic: o.Topic, Group: o.Group, Limit: o.Limit, RunID: o.RunID, Target: func(r *backends.KafkaRecord) (string, int32, error) {
		t, p, err := target(r)
		if errors.Is(err, kafka.ErrNoOrigin) {
			if first == nil {
				first = &backends.KafkaRecord{Partition: r.Partition, Offset: r.Offset}
			}
			return noOrigin, -1, nil
		}
		return t, p, err
	}})
	if err != nil {
		return nil, err
	}
	counts := mp.Counts
	p := &DrainPlan{Source: o.source(), To: o.To, Sampled: mp.Total, Complete: true, ends: mp.Ends,
		Oversized: mp.Oversized, OversizedCount: mp.OversizedCount, SkipOversized: o.SkipOversized}
	if len(mp.Notes) > 0 {
		p.Warning = strings.Join(mp.Notes, "; ")
	}
	var topics []string
	for t := range counts {
		if t != noOrigin {
			topics = append(topics, t)
		}
	}
	sort.Strings(topics)
	var parts map[string]int32
	if len(topics) > 0 {
		if parts, err = k.PartitionCounts(ctx, topics); err != nil {
			return nil, err
		}
	}
	for _, t := range topics {
		// the records the target cannot take are not moved
		route := PlanRoute{Target: "topic " + t, Count: counts[t] - mp.OversizedByTarget[t]}
		switch {
		case t == o.Topic:
			route.Problem = "is the dead-letter topic itself: the drain would stop at the first such record"
		case parts[t] == 0:
			route.Problem = "topic does not exist: the drain would stop at the first record for it"
		}
		if route.Problem != "" {
			p.Problems = append(p.Problems, route.Target+": "+route.Problem)
		} else {
			p.Selected += route.Count
		}
		p.Routes = append(p.Routes, route)
	}
	if n := mp.OversizedCount; n > 0 && !o.SkipOversized && len(mp.Oversized) > 0 {
		p.Problems = append(p.Problems, fmt.Sprintf("%d record(s) are larger than their target accepts (first: %s): each partition stops before its first such record (pass --skip-oversized to skip them)",
			n, kafka.OversizedText(o.source(), &mp.Oversized[0], "listed below")))
	}
	if n := counts[noOrigin]; n > 0 {
		p.Problems = append(p.Problems, fmt.Sprintf("%d record(s) have no original-topic header (first: partition %d offset %d): their origin is unknown and the drain would stop at the first (use --to topic:<name>)",
			n, first.Partition, first.Offset))
	}
	sort.Slice(p.Routes, func(i, j int) bool {
		if p.Routes[i].Count != p.Routes[j].Count {
			return p.Routes[i].Count > p.Routes[j].Count
		}
		return p.Routes[i].Target < p.Routes[j].Target
	})
	return p, nil
}

// KafkaDrain is the drain of a Kafka dead-letter topic as an Action: run
// it through a Runner.
type KafkaDrain struct {
	Broker  backends.KafkaDeadLetters
	Options KafkaDrainOptions
}

func (a *KafkaDrain) Kind() string    { return "drain" }
func (a *KafkaDrain) Validate() error { return a.Options.Validate() }

func (a *KafkaDrain) Describe() Subject {
	o := &a.Options
	return Subject{Context: o.Context, Source: o.source(), Target: o.To, RunID: o.RunID, Args: o.args()}
}

func (a *KafkaDrain) Plan(ctx context.Context) (Plan, error) {
	p, err := planKafkaDrain(ctx, a.Broker, a.Options)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (a *KafkaDrain) Execute(ctx context.Context, p Plan, progress func(Progress)) (Result, error) {
	plan, err := drainPlanOf(p)
	if err != nil {
		return nil, err
	}
	return executeKafkaDrain(ctx, a.Broker, a.Options, plan, progress)
}

// args is the drain's command line (Subject.Args).
func (o *KafkaDrainOptions) args() []string {
	a := appendCounts([]string{"drain", o.source(), "--to", o.To}, o.Limit, o.Rate)
	if o.SkipOversized {
		a = append(a, "--skip-oversized")
	}
	if o.NotDeadLetters {
		a = append(a, "--not-dead-letters")
	}
	return a
}

// executeKafkaDrain moves the records of a dead-letter topic (the safe
// move lives in the backend: own consumer group, acks=all idempotent
// producer, commits only acknowledged records), rate-limited, reporting
// progress; with a plan, exactly the records it counted. A cancelled ctx
// stops it cleanly: the result says "cancelled" and the error is ctx's.
func executeKafkaDrain(ctx context.Context, k backends.KafkaDeadLetters, o KafkaDrainOptions, plan *DrainPlan, progress func(Progress)) (*DrainResult, error) {
	start := time.Now()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	out := &DrainResult{RunID: o.RunID}
	// Before anything moves: the source exists, and so does a topic:<name>
	// target (an origin target is checked per record by the backend).
	err := checkKafkaSource(ctx, k, &o)
	if t, _ := kafkaTargetTopic(o.To); err == nil && t != "" {
		var pc map[string]int32
		if pc, err = k.PartitionCounts(ctx, []string{t}); err == nil && pc[t] == 0 {
			err = fmt.Errorf("unknown target topic %q: nothing was moved", backends.SafeText(t))
		}
	}
	if err == nil {
		lim := NewLimiter(o.Rate)
		var last backends.KafkaMoveProgress
		mo := backends.KafkaMoveOptions{
			Topic: o.Topic, Group: o.Group, Target: o.target(), Limit: o.Limit, RunID: o.RunID, Window: o.Window, Wait: lim.Wait,
			Until: planEnds(plan), SkipOversized: o.SkipOversized,
			Progress: func(p backends.KafkaMoveProgress) {
				last = p
				if progress != nil {
					progress(Progress{Done: p.Moved, Failed: p.Failed, Seen: p.Seen, Total: p.Total, Elapsed: p.Elapsed})
				}
			},
		}
		var res *backends.KafkaMoveResult
		res, err = k.MoveRecords(ctx, mo)
		if res != nil {
			out.Moved, out.Failed, out.Left, out.StoppedBecause = res.Moved, res.Failed, res.Left, res.StoppedBecause
			out.Seen = last.Seen
			out.Oversized = res.Oversized
			if o.SkipOversized {
				out.SkippedOversized = res.OversizedCount
			}
		}
	}
	if out.StoppedBecause == "" && err != nil {
		out.StoppedBecause = backends.KafkaStopError
	}
	if err != nil && ctx.Err() != nil {
		out.StoppedBecause = backends.KafkaStopCancelled
	}
	out.Seconds = time.Since(start).Seconds()
	if out.Seconds > 0 {
		out.Rate = float64(out.Moved) / out.Seconds
	}
	return out, err
}
