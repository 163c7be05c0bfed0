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

// IsDLTName reports whether a topic is named like a dead-letter topic:
// suffix .DLT, -dlt, _dlt, .dlq, -dlq, _dlq, _error, .error or -error, or
// prefix dlq., dlq- or dlt. (case-insensitive).
func IsDLTName(topic string) bool {
	l := strings.ToLower(topic)
	for _, s := range dltSuffixes {
		if strings.HasSuffix(l, s) && len(l) > len(s) {
			return true
		}
	}
	for _, s := range dltPrefixes {
		if strings.HasPrefix(l, s) && len(l) > len(s) {
			return true
		}
	}
	return false
}

// The names of dead-letter topics, lower case: a suffix or a prefix.
var (
	dltSuffixes = []string{".dlt", "-dlt", "_dlt", ".dlq", "-dlq", "_dlq", "_error", ".error", "-error"}
	dltPrefixes = []string{"dlq.", "dlq-", "dlt."}
)

// Dead-letter headers.
const (
	springTopic        = "kafka_dlt-original-topic"
	springPartition    = "kafka_dlt-original-partition"
	springOffset       = "kafka_dlt-original-offset"
	springFQCN         = "kafka_dlt-exception-fqcn"
	springCauseFQCN    = "kafka_dlt-exception-cause-fqcn"
	springMessage      = "kafka_dlt-exception-message"
	connectTopic       = "__connect.errors.topic"
	connectPartition   = "__connect.errors.partition"
	connectOffset      = "__connect.errors.offset"
	connectClass       = "__connect.errors.exception.class.name"
	connectMessage     = "__connect.errors.exception.message"
	genericTopic       = "x-original-topic"
	genericPartition   = "x-original-partition"
	genericOffset      = "x-original-offset"
	genericClass       = "x-exception-class"
	genericMessage     = "x-exception-message"
	springListenerFail = "ListenerExecutionFailedException"
)

// ParseDeadLetterHeaders reads Spring Kafka, Kafka Connect and generic
// dead-letter headers from a header map. See parseDeadLetter.
func ParseDeadLetterHeaders(h map[string][]byte) *backends.KafkaDeadLetterInfo {
	return parseDL(func(k string) ([]byte, bool) { v, ok := h[k]; return v, ok })
}

// parseDeadLetter reads the dead-letter headers of a record; when a header
// repeats, the last one counts (Spring appends on each failure and reads the
// last). Spring writes partition and offset as big-endian binary (4 and 8
// bytes) in recent versions and as decimal text in older ones: both are
// read; Connect writes text. It returns nil when no dead-letter header is
// present.
func parseDeadLetter(hs []backends.KafkaHeader) *backends.KafkaDeadLetterInfo {
	if len(hs) == 0 {
		return nil
	}
	return parseDL(func(k string) ([]byte, bool) {
		for i := len(hs) - 1; i >= 0; i-- {
			if hs[i].Key == k {
				return hs[i].Value, true
			}
		}
		return nil, false
	})
}

func parseDL(get func(string) ([]byte, bool)) *backends.KafkaDeadLetterInfo {
	str := func(k string) string { v, _ := get(k); return strings.TrimSpace(string(v)) }
	read := func(format, topic, part, off, class, msg string) *backends.KafkaDeadLetterInfo {
		t, ok := get(topic)
		if !ok {
			return nil
		}
		d := &backends.KafkaDeadLetterInfo{Format: format, OriginalTopic: strings.TrimSpace(string(t))}
		pv, _ := get(part)
		ov, _ := get(off)
		d.OriginalPartition, d.OriginalOffset = int32Header(pv), int64Header(ov)
		d.ExceptionClass, d.ExceptionMessage = str(class), str(msg)
		return d
	}
	if d := read("spring", springTopic, springPartition, springOffset, springFQCN, springMessage); d != nil {
		// Spring wraps the listener's exception: the cause says more.
		if cause := str(springCauseFQCN); cause != "" && (d.ExceptionClass == "" || strings.HasSuffix(d.ExceptionClass, springListenerFail)) {
			d.ExceptionClass = cause
		}
		return d
	}
	if d := read("connect", connectTopic, connectPartition, connectOffset, connectClass, connectMessage); d != nil {
		return d
	}
	return read("generic", genericTopic, genericPartition, genericOffset, genericClass, genericMessage)
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

// printableDigits tells decimal text from binary: a 4-byte binary partition
// made only of the bytes '0'..'9' would be above 800 million.
func printableDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// hasDLTHeader reports whether a record of topic is a dead letter: it
// carries a dead-letter header of any of the three formats naming another
// topic as its original. A record whose header names topic itself came back
// home (a drain keeps the headers): its topic is not a dead-letter topic.
func hasDLTHeader(topic string, r *backends.KafkaRecord) bool {
	for _, h := range r.Headers {
		switch h.Key {
		case springTopic, connectTopic, genericTopic:
			return string(h.Value) != topic
		}
	}
	return false
}

// headerSampleRecords is how many records of a topic the header detection
// looks at: the first ones of its first non-empty partition.
const headerSampleRecords = 5

// ListDeadLetterTopics finds the dead-letter topics: by name (IsDLTName),
// and, when sampleHeaders is set, by the headers of the first records of
// every other non-internal topic (Spring kafka_dlt-original-topic, Kafka
// Connect __connect.errors.topic, generic x-original-topic). Sampling costs
// one Fetch per partition leader, of at most 32 KiB per topic, plus one per
// topic whose first record batch is larger. Nothing is committed. The result
// is sorted by topic name.
func (c *Client) ListDeadLetterTopics(ctx context.Context, sampleHeaders bool) ([]backends.KafkaDLT, error) {
	var out []backends.KafkaDLT
	err := c.withClient(ctx, func(cl sarama.Client, ad sarama.ClusterAdmin) error {
		infos, err := c.topicInfos(cl, nil)
		if err != nil {
			return err
		}
		query := map[string][]int32{}
		for name, ti := range infos {
			if ti.internal || len(ti.parts) == 0 || (!sampleHeaders && !IsDLTName(name)) {
				continue
			}
			query[name] = ti.parts
		}
		if len(query) == 0 {
			return nil
		}
		offs, err := c.listOffsets(cl, ad, query, false) // an offline partition does not hide the others
		if err != nil {
			return err
		}
		found := map[string]string{} // topic → detected by
		var others []string
		for name := range query {
			if IsDLTName(name) {
				found[name] = "name"
			} else {
				others = append(others, name)
			}
		}
		byHeaders, err := c.sampleHeaders(ctx, cl, infos, offs, others)
		if err != nil {
			return err
		}
		for _, name := range byHeaders {
			found[name] = "headers"
		}
		drained := c.drainCommitted(ad, found, infos)
		for name, by := range found {
			d := backends.KafkaDLT{Topic: name, Partitions: len(infos[name].parts), DetectedBy: by}
			for _, o := range offs[name] {
				d.Messages += o.end - o.start
			}
			if committed, ok := drained[name]; ok {
				left := int64(0)
				for p, o := range offs[name] {
					from := o.start
					if cm, ok := committed[p]; ok && cm > from {
						from = cm
					}
					left += max(0, o.end-from)
				}
				d.LeftToDrain = &left
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
	return out, nil
}

// sampleHeaders returns the topics among names whose first records (up to
// headerSampleRecords of their first non-empty partition) carry
// dead-letter headers naming another topic. It costs one Fetch per
// partition leader, of at most 32 KiB per topic, plus one per topic whose
// first record batch is larger.
func (c *Client) sampleHeaders(ctx context.Context, cl sarama.Client, infos map[string]*topicInfo, offs map[string]map[int32]partOffsets, names []string) ([]string, error) {
	var sample []*fetchPart
	var sampled []*topicInfo
	for _, name := range names {
		for _, p := range infos[name].parts {
			if o := offs[name][p]; o.stable > o.start {
				sample = append(sample, &fetchPart{topic: name, p: p, next: o.start, stop: o.stable, maxBytes: samplePartitionBytes})
				sampled = append(sampled, infos[name])
				break
			}
		}
	}
	if len(sample) == 0 {
		return nil, nil
	}
	found := map[string]bool{}
	f := c.newFetcher(cl, sampled, peekRequestBytes)
	f.maxWait = 100 * time.Millisecond
	pending := sample
	// two rounds: the second fetches alone the partitions whose first
	// batch did not fit
	for round := 0; round < 2 && len(pending) > 0; round++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res, err := f.round(ctx, pending)
		if err != nil {
			return nil, err
		}
		got := map[*fetchPart]bool{}
		for _, r := range res {
			if len(r.recs) == 0 {
				continue
			}
			got[r.fp] = true
			for i := range r.recs[:min(len(r.recs), headerSampleRecords)] {
				if hasDLTHeader(r.fp.topic, &r.recs[i]) {
					found[r.fp.topic] = true
					break
				}
			}
		}
		var again []*fetchPart
		for _, fp := range pending {
			if !got[fp] && fp.active() {
				again = append(again, fp)
			}
		}
		pending = again
	}
	out := make([]string, 0, len(found))
	for name := range found {
		out = append(out, name)
	}
	sort.Strings(out)
	return out, nil
}

// DeadLetterTopic says whether topic is a dead-letter topic, as
// ListDeadLetterTopics finds them (by name, else by the headers of its
// first records): how it was detected ("name" or "headers"), or "" when it
// is not one. A topic that does not exist is an error.
func (c *Client) DeadLetterTopic(ctx context.Context, topic string) (string, error) {
	by := ""
	err := c.withClient(ctx, func(cl sarama.Client, ad sarama.ClusterAdmin) error {
		ti, err := c.oneTopic(cl, topic)
		if err != nil {
			return err
		}
		if IsDLTName(topic) {
			by = "name"
			return nil
		}
		offs, err := c.listOffsets(cl, ad, map[string][]int32{topic: ti.parts}, true)
		if err != nil {
			return err
		}
		found, err := c.sampleHeaders(ctx, cl, map[string]*topicInfo{topic: ti}, offs, []string{topic})
		if len(found) == 1 {
			by = "headers"
		}
		return err
	})
	return by, err
}

// drainCommitted reads the committed offsets of each dead-letter topic's
// drain group (DrainGroup), in one OffsetFetch per coordinator (one per
// group on brokers older than 3.0). A topic is missing from the result when
// its group's offsets could not be read (no coordinator yet on a fresh
// cluster, a broker error): its records left to drain are then unknown, and
// the listing goes on without them. A group that never committed has an
// empty map: everything is left.
func (c *Client) drainCommitted(ad sarama.ClusterAdmin, found map[string]string, infos map[string]*topicInfo) map[string]map[int32]int64 {
	out := map[string]map[int32]int64{}
	if len(found) == 0 {
		return out
	}
	req := map[string]map[string][]int32{}
	for name := range found {
		req[DrainGroup(name)] = map[string][]int32{name: infos[name].parts}
	}
	put := func(name string, b map[string]map[int32]*sarama.OffsetFetchResponseBlock) {
		out[name] = blocks(b)[name]
		if out[name] == nil {
			out[name] = map[int32]int64{}
		}
	}
	res, err := ad.ListConsumerGroupOffsetsBatch(req)
	if err == nil {
		for name := range found {
			r := res[DrainGroup(name)]
			switch {
			case r == nil:
			case errors.Is(r.Err, sarama.ErrGroupIDNotFound):
				out[name] = map[int32]int64{}
			case errors.Is(r.Err, sarama.ErrNoError) || r.Err == 0:
				put(name, r.Blocks)
			}
		}
		return out
	}
	if !errors.Is(err, sarama.ErrUnsupportedVersion) {
		return out
	}
	for name := range found {
		r, err := ad.ListConsumerGroupOffsets(DrainGroup(name), req[DrainGroup(name)])
		switch {
		case errors.Is(err, sarama.ErrGroupIDNotFound):
			out[name] = map[int32]int64{}
		case err == nil:
			put(name, r.Blocks)
		}
	}
	return out
}

// DefaultSample is the number of records a dead-letter summary reads when
// not told.
const DefaultSample = 1000

// DeadLetterSummary groups the first `sample` records of a dead-letter topic
// (from the log start, spread over the partitions as ReadRecords does) by
// original topic and exception class, largest group first. Messages counts
// every record of the topic (log-end − log-start). Nothing is committed.
func (c *Client) DeadLetterSummary(ctx context.Context, topic string, sample int) (*backends.KafkaDeadLetterSummary, error) {
	if sample <= 0 {
		sample = DefaultSample
	}
	sum := &backends.KafkaDeadLetterSummary{Topic: topic, Groups: []backends.KafkaDeadLetterGroup{}}
	var recs []backends.KafkaRecord
	err := c.withClient(ctx, func(cl sarama.Client, ad sarama.ClusterAdmin) error {
		ti, err := c.oneTopic(cl, topic)
		if err != nil {
			return err
		}
		offs, err := c.listOffsets(cl, ad, map[string][]int32{topic: ti.parts}, true)
		if err != nil {
			return err
		}
		parts := make([]*fetchPart, 0, len(ti.parts))
		for _, p := range ti.parts {
			o := offs[topic][p]
			sum.Messages += o.end - o.start
			parts = append(parts, &fetchPart{topic: topic, p: p, next: o.start, stop: o.stable, maxBytes: peekPartitionBytes})
		}
		recs, err = c.newFetcher(cl, []*topicInfo{ti}, peekRequestBytes).readSpread(ctx, parts, sample)
		return err
	})
	if err != nil {
		return nil, err
	}
	sum.Sampled = len(recs)
	sum.Groups = groupDeadLetters(recs)
	return sum, nil
}

// groupDeadLetters counts records by original topic and exception class,
// with the first and last record time of each group; largest group first,
// then by origin and exception.
func groupDeadLetters(recs []backends.KafkaRecord) []backends.KafkaDeadLetterGroup {
	type key struct{ origin, exc string }
	idx := map[key]*backends.KafkaDeadLetterGroup{}
	for i := range recs {
		r := &recs[i]
		k := key{}
		if d := r.DeadLetter; d != nil {
			k = key{d.OriginalTopic, d.ExceptionClass}
		}
		g := idx[k]
		if g == nil {
			g = &backends.KafkaDeadLetterGroup{Origin: k.origin, Exception: k.exc}
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
	out := make([]backends.KafkaDeadLetterGroup, 0, len(idx))
	for _, g := range idx {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if a.Origin != b.Origin {
			return a.Origin < b.Origin
		}
		return a.Exception < b.Exception
	})
	return out
}

// DeadLetterTopics finds the dead-letter topics (by name and by headers)
// and summarises each in the form `mqops dlq` shows next to RabbitMQ's DLQs.
// A topic that cannot be sampled gets a Warning instead of failing the
// whole list; once a broker stopped answering, the topics not read yet get
// that Warning without a try each.
func (c *Client) DeadLetterTopics(ctx context.Context, sample int) ([]backends.DeadLetterSummary, error) {
	dlts, err := c.ListDeadLetterTopics(ctx, true)
	if err != nil {
		return nil, err
	}
	out := make([]backends.DeadLetterSummary, 0, len(dlts))
	var gaveUp error // a broker stopped answering: the topics left are not read
	for _, d := range dlts {
		s := backends.DeadLetterSummary{Backend: "kafka", Topic: d.Topic, Messages: d.Messages, Groups: []backends.DeadLetterGroup{}, LeftToDrain: d.LeftToDrain}
		if gaveUp != nil {
			s.Warning = "not read: " + gaveUp.Error()
			out = append(out, s)
			continue
		}
		sum, err := c.DeadLetterSummary(ctx, d.Topic, sample)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			if peerGivenUp(err) {
				gaveUp = err // never a timeout per topic: a multiple of it
			}
			s.Warning = err.Error()
			out = append(out, s)
			continue
		}
		s.Messages, s.Sampled = sum.Messages, sum.Sampled
		for _, g := range sum.Groups {
			s.Groups = append(s.Groups, backends.DeadLetterGroup{Origin: g.Origin, Exception: g.Exception, Count: g.Count, First: g.First, Last: g.Last})
		}
		out = append(out, s)
	}
	return out, nil
}

// ErrNoOrigin is returned by OriginTarget for a record without a
// dead-letter header naming its original topic.
var ErrNoOrigin = errors.New("no dead-letter header names the original topic (kafka_dlt-original-topic, __connect.errors.topic or x-original-topic)")

// OriginTarget is the Target of a move back to where each dead letter came
// from: its original topic and partition (MoveRecords falls back to the key
// when that partition does not exist there).
func OriginTarget(r *backends.KafkaRecord) (string, int32, error) {
	d := r.DeadLetter
	if d == nil || d.OriginalTopic == "" {
		return "", -1, ErrNoOrigin
	}
	p := int32(-1)
	if d.OriginalPartition != nil && *d.OriginalPartition >= 0 {
		p = *d.OriginalPartition
	}
	return d.OriginalTopic, p, nil
}

// TopicTarget is the Target of a move of every record to one topic,
// partitioned by key.
func TopicTarget(topic string) func(*backends.KafkaRecord) (string, int32, error) {
	return func(*backends.KafkaRecord) (string, int32, error) { return topic, -1, nil }
}

var _ backends.KafkaDeadLetters = (*Client)(nil)
