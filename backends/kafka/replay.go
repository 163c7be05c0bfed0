package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/IBM/sarama"

	"github.com/mqops/mqops/backends"
)

// replaySaveEvery spaces the saves of a replay's checkpoint (each one a
// file written and fsynced): sooner when the records confirmed and not
// saved fill a quarter of the window.
const replaySaveEvery = 100 * time.Millisecond

// HeaderReplayRun is the header a replay adds to every record with its run
// id (next to HeaderReplaySource).
const HeaderReplayRun = "mqops-replay-run"

// ResolveRange resolves a replay's range into offsets, partition by
// partition: the log start and the last stable offset (one ListOffsets
// request per leader and kind), and for a time the offset Kafka's
// offsets-for-times gives (ListOffsets with the timestamp, read_committed).
// A start past the log end is an error; a start below the log start, and
// an end past the log end, are clamped into the log, with a note.
func (c *Client) ResolveRange(ctx context.Context, q backends.KafkaRangeQuery) (*backends.KafkaRange, error) {
	var out *backends.KafkaRange
	err := c.withClient(ctx, func(cl sarama.Client, ad sarama.ClusterAdmin) error {
		ti, err := c.oneTopic(cl, q.Topic)
		if err != nil {
			return err
		}
		parts := ti.parts
		if q.Partitions != nil {
			have := map[int32]bool{}
			for _, p := range ti.parts {
				have[p] = true
			}
			for _, p := range q.Partitions {
				if !have[p] {
					return &Error{Op: fmt.Sprintf("topic \"%s\" has no partition %d (it has %d: 0 to %d)", backends.SafeText(q.Topic), p, len(ti.parts), len(ti.parts)-1)}
				}
			}
			parts = q.Partitions
		}
		offs, err := c.listOffsets(cl, ad, map[string][]int32{q.Topic: parts}, true)
		if err != nil {
			return err
		}
		var from, to map[int32]int64
		if q.FromTime != nil {
			if from, err = offsetsForTime(ad, q.Topic, parts, *q.FromTime); err != nil {
				return err
			}
		}
		if q.ToTime != nil {
			if to, err = offsetsForTime(ad, q.Topic, parts, *q.ToTime); err != nil {
				return err
			}
		}
		out = &backends.KafkaRange{Topic: q.Topic, Partitions: int32(len(ti.parts))}
		for _, p := range parts {
			o := offs[q.Topic][p]
			rp, err := rangePart(q, p, o, from, to)
			if err != nil {
				return err
			}
			out.Parts = append(out.Parts, rp)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// rangePart resolves one partition's range from its offsets o and the
// offsets for the query's times (-1: no record at or after the time).
func rangePart(q backends.KafkaRangeQuery, p int32, o partOffsets, from, to map[int32]int64) (backends.KafkaRangePart, error) {
	rp := backends.KafkaRangePart{Partition: p, LogStart: o.start, LogEnd: o.stable, Start: o.start, End: o.stable}
	where := fmt.Sprintf("%s partition %d (log start %d, log end %d)", backends.SafeText(q.Topic), p, o.start, o.stable)
	var notes []string
	switch {
	case q.FromOffset != nil:
		rp.Start = *q.FromOffset
		if rp.Start > o.stable {
			return rp, &Error{Op: fmt.Sprintf("--from-offset %d is past the log end of %s: there is nothing to replay there", rp.Start, where)}
		}
		if rp.Start < o.start {
			notes = append(notes, fmt.Sprintf("--from-offset %d is below the log start %d (retention deleted the records before it): starts at %d", rp.Start, o.start, o.start))
			rp.Start = o.start
		}
	case q.FromTime != nil:
		rp.Start = timeOffset(from[p], o)
	}
	switch {
	case q.ToOffset != nil:
		rp.End = *q.ToOffset
		if rp.End > o.stable {
			notes = append(notes, fmt.Sprintf("--to-offset %d is past the log end %d measured now: ends there", rp.End, o.stable))
			rp.End = o.stable
		}
	case q.ToTime != nil:
		rp.End = timeOffset(to[p], o)
	}
	if rp.End < rp.Start {
		notes = append(notes, fmt.Sprintf("the range ends (%d) before it starts (%d): nothing to replay", rp.End, rp.Start))
		rp.End = rp.Start
	}
	for i, n := range notes {
		if i > 0 {
			rp.Note += "; "
		}
		rp.Note += n
	}
	return rp, nil
}

// timeOffset is the offset offsets-for-times gave (-1: no record at or
// after the time, so the log end), within the partition's log.
func timeOffset(at int64, o partOffsets) int64 {
	if at < 0 || at > o.stable {
		return o.stable
	}
	return max(at, o.start)
}

// offsetsForTime asks each partition's leader for the first offset whose
// timestamp is at or after t (-1 when there is none), read_committed.
func offsetsForTime(ad sarama.ClusterAdmin, topic string, parts []int32, t time.Time) (map[int32]int64, error) {
	q := map[int32]int64{}
	for _, p := range parts {
		q[p] = t.UnixMilli()
	}
	res, err := ad.ListOffsets(map[string]map[int32]int64{topic: q}, &sarama.ListOffsetsOptions{IsolationLevel: sarama.ReadCommitted})
	if err != nil && res == nil {
		return nil, &Error{Op: fmt.Sprintf("listing the offsets of %s for %s", backends.SafeText(topic), t.UTC().Format(time.RFC3339Nano)), Err: err}
	}
	out := map[int32]int64{}
	for _, p := range parts {
		r := res[topic][p]
		switch {
		case r == nil:
			return nil, &Error{Op: fmt.Sprintf("listing the offset of %s partition %d for %s: no answer", backends.SafeText(topic), p, t.UTC().Format(time.RFC3339Nano)), Err: err}
		case r.Err != nil && !errors.Is(r.Err, sarama.ErrNoError):
			return nil, &Error{Op: fmt.Sprintf("listing the offset of %s partition %d for %s", backends.SafeText(topic), p, t.UTC().Format(time.RFC3339Nano)), Err: r.Err}
		}
		out[p] = r.Offset
	}
	return out, nil
}

// CountReplay counts, without producing anything, the records a replay
// would produce: per partition the records read, those the filters keep
// and their bytes (keys, values and headers), read_committed, up to
// MaxRecords records in all. It measures each kept record as it will be
// produced (with the two headers a replay adds) against the target's
// max.message.bytes and lists those the target cannot take.
//
// Without filters (Keep nil) it reads nothing when it can show that every
// record fits the target (replayFitsByLimits), or when no one reads the
// count before the run (Unattended): the counts are then the range's
// offsets and the bytes its share of the partitions' sizes on disk
// (Estimated).
func (c *Client) CountReplay(ctx context.Context, o backends.KafkaReplayCountOptions) (*backends.KafkaReplayCount, error) {
	out := &backends.KafkaReplayCount{Complete: true}
	err := c.withClient(ctx, func(cl sarama.Client, ad sarama.ClusterAdmin) error {
		ti, err := c.oneTopic(cl, o.Topic)
		if err != nil {
			return err
		}
		if o.Keep == nil {
			if est := c.estimateReplay(cl, ad, ti, o); est != nil {
				out = est
				return nil
			}
		}
		lim := newLimits(ad)
		limit, haveLimit := lim.of(o.Target)
		if haveLimit {
			out.Limit = limit
		}
		defer func() { out.Notes = append(out.Notes, lim.notes...) }()
		out.Parts = make([]backends.KafkaReplayPartCount, len(o.Parts))
		counts := map[int32]*backends.KafkaReplayPartCount{}
		var parts []*fetchPart
		for i, rp := range o.Parts {
			out.Parts[i] = backends.KafkaReplayPartCount{Partition: rp.Partition, ReadTo: rp.Next}
			counts[rp.Partition] = &out.Parts[i]
			parts = append(parts, &fetchPart{topic: o.Topic, p: rp.Partition, next: rp.Next, stop: rp.End, maxBytes: movePartitionBytes})
		}
		read := 0
		f := c.newFetcher(cl, []*topicInfo{ti}, moveRequestBytes)
		f.bare = true
		var ahead *aheadRound // the next round, fetched while this one is counted
		defer func() {
			if ahead != nil {
				ahead.wait()
			}
		}()
		for {
			var active []*fetchPart
			for _, fp := range parts {
				if fp.active() {
					active = append(active, fp)
				}
			}
			if len(active) == 0 {
				for _, fp := range parts {
					if fp.stuck {
						return &Error{Op: fmt.Sprintf("%s partition %d: the broker returns no record between offsets %d and %d", backends.SafeText(fp.topic), fp.p, fp.next, fp.stop)}
					}
				}
				return nil
			}
			if o.MaxRecords > 0 && read >= o.MaxRecords {
				out.Complete = false
				return nil
			}
			var res []fetched
			if ahead != nil {
				res, err = ahead.take(func(*fetchPart) bool { return true })
				ahead = nil
			}
			if err == nil && len(res) == 0 {
				res, err = f.round(ctx, active)
			}
			if err != nil {
				return err
			}
			ahead = f.ahead(ctx, active, nextRound(active, res))
			for _, r := range res {
				pc := counts[r.fp.p]
				next := r.end
				for i := range r.recs {
					rec := &r.recs[i]
					if o.MaxRecords > 0 && read >= o.MaxRecords {
						next = rec.Offset
						break
					}
					read++
					pc.Read++
					if o.Keep != nil && !o.Keep(rec) {
						continue
					}
					pc.Selected++
					pc.Bytes += int64(len(rec.Key) + len(rec.Value))
					for _, h := range rec.Headers {
						pc.Bytes += int64(len(h.Key) + len(h.Value))
					}
					if haveLimit {
						if ov := replayOversized(rec, replayFixedBytes(rec, o.RunID), o.Target, limit); ov != nil {
							out.OversizedCount++
							if len(out.Oversized) < maxOversizedListed {
								out.Oversized = append(out.Oversized, *ov)
							}
						}
					}
				}
				r.fp.next, pc.ReadTo = next, next
			}
			if o.Progress != nil {
				o.Progress(read)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	sortOversized(out.Oversized)
	return out, nil
}

// replayAllowance covers, in replayFitsByLimits, what a record stored in
// the legacy message format (v0/v1, a 34-byte header of its own) and
// header counts and lengths that need one byte more can add when the
// record is produced alone in a batch of magic v2.
const replayAllowance = 64

// replayFitsByLimits says whether every record of the range fits the
// target as replayed, from the topics' limits alone: a record is stored in
// a batch no larger than the source's max.message.bytes, and replayed
// alone in a batch it is at most the two headers a replay adds larger
// (with offset and timestamp deltas of 0, never longer than in the
// original batch), so a source limit, plus the headers, within the
// target's shows it. It returns the headers' bound. What it cannot show:
// a compressed batch holds records larger than the limit, and a limit
// lowered since may have let larger records in; the run measures every
// record anyway.
func replayFitsByLimits(topic, runID string, parts []backends.KafkaReplayPart, sourceLimit, targetLimit int) (int, bool) {
	maxPart, maxOff := int32(0), int64(0)
	for _, rp := range parts {
		maxPart, maxOff = max(maxPart, rp.Partition), max(maxOff, rp.End)
	}
	var buf [24]byte
	source := len(topic) + 2 + len(strconv.AppendInt(buf[:0], int64(maxPart), 10)) + len(strconv.AppendInt(buf[:0], maxOff, 10))
	headers := varintLen(int64(len(HeaderReplayRun))) + len(HeaderReplayRun) + varintLen(int64(len(runID))) + len(runID) +
		varintLen(int64(len(HeaderReplaySource))) + len(HeaderReplaySource) + varintLen(int64(source)) + source
	return headers, sourceLimit+headers+replayAllowance <= targetLimit
}

// estimateReplay is the count of a replay without filters that reads
// nothing: nil when replayFitsByLimits cannot show that every record fits
// and the count is not Unattended, or when a limit or the partitions'
// sizes cannot be read: then the range is read.
func (c *Client) estimateReplay(cl sarama.Client, ad sarama.ClusterAdmin, ti *topicInfo, o backends.KafkaReplayCountOptions) *backends.KafkaReplayCount {
	source, err := readLimit(ad, o.Topic)
	if err != nil {
		return nil
	}
	target, err := readLimit(ad, o.Target)
	if err != nil {
		return nil
	}
	headers, ok := replayFitsByLimits(o.Topic, o.RunID, o.Parts, source, target)
	if !ok && !o.Unattended {
		return nil
	}
	var parts []int32
	for _, rp := range o.Parts {
		parts = append(parts, rp.Partition)
	}
	sizes, err := c.logSizes(cl, ti, parts)
	if err != nil {
		return nil
	}
	offs, err := c.listOffsets(cl, ad, map[string][]int32{o.Topic: parts}, true)
	if err != nil {
		return nil
	}
	out := &backends.KafkaReplayCount{Estimated: true, Limit: target}
	for _, rp := range o.Parts {
		pc := backends.KafkaReplayPartCount{Partition: rp.Partition, ReadTo: rp.Next, Selected: int(rp.End - rp.Next)}
		if po := offs[o.Topic][rp.Partition]; po.end > po.start && rp.End > rp.Next {
			pc.Bytes = int64(float64(sizes[rp.Partition]) * float64(rp.End-rp.Next) / float64(po.end-po.start))
		}
		out.Parts = append(out.Parts, pc)
	}
	counts := "records are the range's offsets (at most: transaction markers included), bytes its share of the partitions' sizes on disk"
	if ok {
		out.Notes = append(out.Notes, fmt.Sprintf("not read: every record fits \"%s\" (the source's max.message.bytes, %d, plus the two headers a replay adds, at most %d bytes, is within its %d); %s; the run still measures each record and stops a partition before one too large (a compressed batch can hold one)",
			backends.SafeText(o.Target), source, headers, target, counts))
	} else {
		out.Notes = append(out.Notes, fmt.Sprintf("not read (--yes): a record of more than %d bytes might not fit \"%s\" (max.message.bytes %d) once it carries the two headers; the run measures each record and stops a partition before the first that does not fit (--skip-oversized: skips them), and --dry-run reads the range to list them; %s",
			max(0, target-headers-replayAllowance), backends.SafeText(o.Target), target, counts))
	}
	return out
}

// logSizes returns the size on disk of each of parts (its leader's
// replica), asking each leader about this topic's partitions only.
func (c *Client) logSizes(cl sarama.Client, ti *topicInfo, parts []int32) (map[int32]int64, error) {
	byLeader := map[int32][]int32{}
	for _, p := range parts {
		l, ok := ti.leaders[p]
		if !ok || l < 0 {
			return nil, fmt.Errorf("partition %d has no leader", p)
		}
		byLeader[l] = append(byLeader[l], p)
	}
	out := map[int32]int64{}
	for leader, ps := range byLeader {
		b, err := cl.Broker(leader)
		if err != nil {
			return nil, err
		}
		_ = b.Open(cl.Config())
		// version lowered to what the broker supports
		res, err := b.DescribeLogDirs(&sarama.DescribeLogDirsRequest{Version: 4, DescribeTopics: []sarama.DescribeLogDirsRequestTopic{{Topic: ti.name, PartitionIDs: ps}}})
		if err != nil {
			return nil, err
		}
		if !errors.Is(res.ErrorCode, sarama.ErrNoError) {
			return nil, res.ErrorCode
		}
		for _, d := range res.LogDirs {
			if !errors.Is(d.ErrorCode, sarama.ErrNoError) {
				continue
			}
			for _, t := range d.Topics {
				if t.Topic != ti.name {
					continue
				}
				for _, p := range t.Partitions {
					if !p.IsTemporary {
						out[p.PartitionID] += p.Size
					}
				}
			}
		}
	}
	for _, p := range parts {
		if _, ok := out[p]; !ok {
			return nil, fmt.Errorf("no size for partition %d", p)
		}
	}
	return out, nil
}

// Replay produces the records of o.Parts (each partition from Next up to
// End) to o.Target, safely, on the mover of the drains:
//
//   - it reads read_committed, without a consumer group;
//   - it produces with acks=all and an idempotent producer, keeping key,
//     value, headers (in order) and timestamp, adding mqops-replay-run and
//     mqops-replay-source, to the same partition number (SamePartition) or
//     by key with Kafka's default partitioner (murmur2);
//   - it saves, continuously through o.Save, each partition's position up to
//     the records the target confirmed, never more than o.Window records
//     behind: a crash at any moment replays at most that many twice when
//     the run resumes from the saved positions, and loses none;
//   - a record the target cannot take (larger than its max.message.bytes as
//     it will be produced) stops its partition before it, or is skipped
//     (SkipOversized);
//   - on a produce or save error, or a cancelled ctx, it stops producing,
//     waits for what is in flight, saves what was confirmed and returns the
//     result with the error.
//
// The result is never nil when the replay started.
func (c *Client) Replay(ctx context.Context, o backends.KafkaReplayOptions) (*backends.KafkaReplayResult, error) {
	switch {
	case o.Topic == "":
		return nil, &Error{Op: "replaying: no source topic given"}
	case o.Target == "":
		return nil, &Error{Op: "replaying " + backends.SafeText(o.Topic) + ": no target topic given"}
	case o.Target == o.Topic:
		return nil, &Error{Op: fmt.Sprintf("replaying \"%s\" into itself: choose another target topic", backends.SafeText(o.Topic))}
	case o.Save == nil:
		return nil, &Error{Op: "replaying " + backends.SafeText(o.Topic) + ": nowhere to save the positions"}
	}
	begin := time.Now()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rw, pw, rcl, ad, ti, err := c.moveSource(o.Topic)
	if err != nil {
		return nil, err
	}
	defer ad.Close() // closes rcl too
	infos, err := c.topicInfos(rcl, []string{o.Target})
	if err != nil {
		return nil, stalled(rw, err)
	}
	target := infos[o.Target]
	if target == nil || len(target.parts) == 0 {
		return nil, &Error{Op: fmt.Sprintf("unknown target topic \"%s\": nothing was replayed", backends.SafeText(o.Target))}
	}
	have := map[int32]bool{}
	for _, p := range ti.parts {
		have[p] = true
	}
	st := &drainState{start: map[int32]int64{}, committed: map[int32]int64{}, serialUntil: map[int32]int64{}}
	ends := map[int32]int64{}
	for _, rp := range o.Parts {
		switch {
		case !have[rp.Partition]:
			return nil, &Error{Op: fmt.Sprintf("topic \"%s\" has no partition %d", backends.SafeText(o.Topic), rp.Partition)}
		case o.SamePartition && rp.Partition >= int32(len(target.parts)):
			return nil, &Error{Op: fmt.Sprintf("target topic \"%s\" has %d partitions: partition %d of \"%s\" cannot go to the same partition (partition by key instead)",
				backends.SafeText(o.Target), len(target.parts), rp.Partition, backends.SafeText(o.Topic))}
		case rp.Next < 0 || rp.End < rp.Next:
			return nil, &Error{Op: fmt.Sprintf("invalid range of %s partition %d: %d to %d", backends.SafeText(o.Topic), rp.Partition, rp.Next, rp.End)}
		}
		st.parts = append(st.parts, &fetchPart{topic: o.Topic, p: rp.Partition, next: rp.Next, stop: rp.End, maxBytes: movePartitionBytes})
		st.start[rp.Partition], st.committed[rp.Partition], ends[rp.Partition] = rp.Next, rp.Next, rp.End
		if rp.SerialUntil > rp.Next {
			st.serialUntil[rp.Partition] = rp.SerialUntil
		}
		st.total += int(rp.End - rp.Next)
	}
	mo := backends.KafkaMoveOptions{Topic: o.Topic, RunID: o.RunID, Window: o.Window, Wait: o.Wait, Progress: o.Progress, SkipOversized: o.SkipOversized,
		Target: func(r *backends.KafkaRecord) (string, int32, error) {
			if o.SamePartition {
				return o.Target, r.Partition, nil
			}
			return o.Target, -1, nil
		}}
	m := c.newMover(mo, ad, rcl, st, ends, begin, rw, pw)
	m.sink = true
	m.keep = o.Keep
	m.saveEvery = replaySaveEvery
	m.store = positions{what: "saving the replay's positions", save: func(offs map[int32]position) (map[int32]position, error) {
		changed := make(map[int32]backends.KafkaReplayPosition, len(offs))
		for p, pos := range offs {
			changed[p] = backends.KafkaReplayPosition{Next: pos.next, SerialUntil: pos.serialUntil}
		}
		if err := o.Save(changed); err != nil {
			return nil, err
		}
		return offs, nil
	}}
	m.stopNote = func(res *backends.KafkaMoveResult) string {
		return fmt.Sprintf("the saved positions hold only records the target confirmed, and %d offsets are left to replay", res.Left)
	}
	f := c.newFetcher(rcl, []*topicInfo{ti}, moveRequestBytes)
	f.bare = true
	res, err := m.run(ctx, f)
	if res == nil {
		return nil, err
	}
	m.mu.Lock()
	filtered := m.filtered
	m.mu.Unlock()
	return &backends.KafkaReplayResult{Replayed: res.Moved, Filtered: filtered, Failed: res.Failed, Left: res.Left, StoppedBecause: res.StoppedBecause,
		Oversized: res.Oversized, OversizedCount: res.OversizedCount}, err
}
