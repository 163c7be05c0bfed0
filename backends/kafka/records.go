package kafka

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/mqops/mqops/backends"
)

// Fetch sizes. Reads for display are small; a move reads more per request.
// A record batch larger than a partition's budget is fetched on its own
// (the broker then returns the whole first batch, KIP-74).
const (
	peekPartitionBytes   = 256 << 10
	peekRequestBytes     = 4 << 20
	samplePartitionBytes = 32 << 10
	moveRequestBytes     = 16 << 20
	movePartitionBytes   = 1 << 20
	maxPartitionBytes    = 64 << 20 // cap when an old broker keeps answering partial batches
	fetchMaxWait         = 250 * time.Millisecond
	soloMaxWait          = time.Second // a partition fetched alone after an empty answer
	maxEmptyAnswers      = 5           // empty answers alone before a partition is given up
)

// topicInfo is one topic's partitions and their leaders.
type topicInfo struct {
	name     string
	internal bool
	parts    []int32         // sorted
	leaders  map[int32]int32 // partition → leader broker id, -1 when none
}

// topicInfos asks one broker for the metadata of topics (nil: all topics).
// The request never creates a topic, whatever the broker's
// auto.create.topics.enable. Unknown topics are absent from the result.
func (c *Client) topicInfos(cl sarama.Client, topics []string) (map[string]*topicInfo, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		b := cl.LeastLoadedBroker()
		if b == nil {
			return nil, c.explain(sarama.ErrOutOfBrokers)
		}
		_ = b.Open(cl.Config())
		req := sarama.NewMetadataRequest(sarama.MaxVersion, topics)
		req.AllowAutoTopicCreation = false
		md, err := b.GetMetadata(req)
		if err != nil {
			lastErr = err
			_ = b.Close()
			continue
		}
		out := map[string]*topicInfo{}
		retry := false
		for _, t := range md.Topics {
			if errors.Is(t.Err, sarama.ErrUnknownTopicOrPartition) || errors.Is(t.Err, sarama.ErrInvalidTopic) {
				continue
			}
			if errors.Is(t.Err, sarama.ErrLeaderNotAvailable) && len(t.Partitions) == 0 {
				retry = true // a topic being created
				continue
			}
			ti := &topicInfo{name: t.Name, internal: t.IsInternal, leaders: map[int32]int32{}}
			for _, p := range t.Partitions {
				ti.parts = append(ti.parts, p.ID)
				ti.leaders[p.ID] = p.Leader
			}
			sort.Slice(ti.parts, func(i, j int) bool { return ti.parts[i] < ti.parts[j] })
			out[t.Name] = ti
		}
		if retry && attempt < 2 {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		return out, nil
	}
	return nil, &Error{Op: "fetching metadata from " + c.name, Err: lastErr}
}

// oneTopic returns the metadata of topic or a clear error when it does not
// exist.
func (c *Client) oneTopic(cl sarama.Client, topic string) (*topicInfo, error) {
	if topic == "" {
		return nil, &Error{Op: "no topic given"}
	}
	infos, err := c.topicInfos(cl, []string{topic})
	if err != nil {
		return nil, err
	}
	ti := infos[topic]
	if ti == nil {
		return nil, unknownTopic(topic)
	}
	if len(ti.parts) == 0 {
		return nil, &Error{Op: fmt.Sprintf("topic \"%s\" has no partitions", backends.SafeText(topic))}
	}
	return ti, nil
}

func unknownTopic(topic string) error {
	return &Error{Op: fmt.Sprintf("unknown topic \"%s\"", backends.SafeText(topic))}
}

// partOffsets are one partition's log start, high watermark and last stable
// offset (what a read_committed consumer can read up to).
type partOffsets struct {
	start, end, stable int64
}

// listOffsets returns the offsets of the given partitions, topic by topic,
// with one ListOffsets request per leader and kind. Partitions whose leader
// could not answer after two metadata refreshes are an error when strict,
// and absent from the result otherwise.
func (c *Client) listOffsets(cl sarama.Client, ad sarama.ClusterAdmin, parts map[string][]int32, strict bool) (map[string]map[int32]partOffsets, error) {
	out := map[string]map[int32]partOffsets{}
	todo := parts
	for attempt := 0; ; attempt++ {
		query := func(at int64) map[string]map[int32]int64 {
			q := map[string]map[int32]int64{}
			for t, ps := range todo {
				q[t] = map[int32]int64{}
				for _, p := range ps {
					q[t][p] = at
				}
			}
			return q
		}
		var (
			wg                       sync.WaitGroup
			early, latest, stable    map[string]map[int32]*sarama.OffsetResult
			errE, errL, errS         error
			rc                       = &sarama.ListOffsetsOptions{IsolationLevel: sarama.ReadCommitted}
			oldest, newest, newestRC = query(sarama.OffsetOldest), query(sarama.OffsetNewest), query(sarama.OffsetNewest)
		)
		wg.Go(func() { early, errE = ad.ListOffsets(oldest, nil) })
		wg.Go(func() { latest, errL = ad.ListOffsets(newest, nil) })
		wg.Go(func() { stable, errS = ad.ListOffsets(newestRC, rc) })
		wg.Wait()
		failed := map[string][]int32{}
		var lastErr error
		for t, ps := range todo {
			for _, p := range ps {
				var o partOffsets
				ok := true
				for _, r := range []struct {
					res map[string]map[int32]*sarama.OffsetResult
					err error
					dst *int64
				}{{early, errE, &o.start}, {latest, errL, &o.end}, {stable, errS, &o.stable}} {
					x := r.res[t][p]
					switch {
					case x == nil:
						ok, lastErr = false, r.err
					case x.Err != nil && !errors.Is(x.Err, sarama.ErrNoError):
						ok, lastErr = false, x.Err
					default:
						*r.dst = x.Offset
					}
				}
				if !ok {
					failed[t] = append(failed[t], p)
					continue
				}
				if o.stable > o.end || o.stable < 0 {
					o.stable = o.end
				}
				if out[t] == nil {
					out[t] = map[int32]partOffsets{}
				}
				out[t][p] = o
			}
		}
		if len(failed) == 0 {
			return out, nil
		}
		if attempt >= 2 {
			if !strict {
				return out, nil
			}
			for t, ps := range failed {
				return nil, &Error{Op: fmt.Sprintf("listing offsets of %s partition %d", backends.SafeText(t), ps[0]), Err: lastErr}
			}
		}
		topics := make([]string, 0, len(failed))
		for t := range failed {
			topics = append(topics, t)
		}
		_ = cl.RefreshMetadata(topics...) // the topics exist: no auto-creation
		time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
		todo = failed
	}
}

// fetchPart is the read position of one partition: next is the offset to
// fetch, stop the exclusive end of the read.
type fetchPart struct {
	topic      string
	p          int32
	next, stop int64
	maxBytes   int32
	solo       bool // fetch alone next time: its first batch is larger than maxBytes
	empty      int  // consecutive answers with nothing decodable below stop
	stuck      bool // gave up: the broker returns nothing between next and stop
	quota      int  // records still wanted in this pass (reads with a limit)
}

func (fp *fetchPart) active() bool { return !fp.stuck && fp.next < fp.stop }

// fetched is what one fetch returned for one partition: the records at or
// after the fetch offset and below stop, and end, the offset after the last
// batch decoded (past control records and aborted transactions; at most
// stop).
type fetched struct {
	fp   *fetchPart
	recs []backends.KafkaRecord
	end  int64
}

type topicPart struct {
	topic string
	p     int32
}

// fetcher reads topics with raw Fetch requests, read_committed, one request
// per leader (more when many partitions), without a consumer group.
type fetcher struct {
	c        *Client
	cl       sarama.Client
	leaders  map[topicPart]int32
	reqBytes int32
	maxWait  time.Duration
	soloWait time.Duration // for a partition alone after an empty answer
	// bare: records without their DeadLetter, header keys not copied (a
	// replay: decodeBlock)
	bare     bool
	failures int // consecutive rounds with a retriable error
}

func (c *Client) newFetcher(cl sarama.Client, tis []*topicInfo, reqBytes int32) *fetcher {
	f := &fetcher{c: c, cl: cl, leaders: map[topicPart]int32{}, reqBytes: reqBytes, maxWait: fetchMaxWait, soloWait: soloMaxWait}
	for _, ti := range tis {
		f.setLeaders(ti)
	}
	return f
}

func (f *fetcher) setLeaders(ti *topicInfo) {
	for p, l := range ti.leaders {
		f.leaders[topicPart{ti.name, p}] = l
	}
}

// maxFetchesInFlight bounds the concurrent Fetch requests of one round.
const maxFetchesInFlight = 16

// round sends one fetch for each of the given partitions (grouped per
// leader) and decodes the answers. It returns the results in partition
// order. Retriable errors (leader moved, broker unreachable) refresh the
// metadata and give no result for the partitions concerned; after a few
// rounds of them, round returns the error.
func (f *fetcher) round(ctx context.Context, parts []*fetchPart) ([]fetched, error) {
	type request struct {
		leader int32
		parts  []*fetchPart
		bytes  int64 // sum of the partitions' budgets, at most reqBytes
	}
	var reqs []*request
	byLeader := map[int32]*request{}
	var noLeader []*fetchPart
	for _, fp := range parts {
		l, ok := f.leaders[topicPart{fp.topic, fp.p}]
		if !ok || l < 0 {
			noLeader = append(noLeader, fp)
			continue
		}
		if fp.solo {
			reqs = append(reqs, &request{leader: l, parts: []*fetchPart{fp}})
			continue
		}
		// every partition of a request gets its whole budget: one that gets
		// nothing then really has nothing (see the empty answers below)
		r := byLeader[l]
		if r == nil || r.bytes+int64(fp.maxBytes) > int64(f.reqBytes) {
			r = &request{leader: l}
			byLeader[l] = r
			reqs = append(reqs, r)
		}
		r.parts = append(r.parts, fp)
		r.bytes += int64(fp.maxBytes)
	}

	type answer struct {
		req  *request
		resp *sarama.FetchResponse
		err  error
	}
	answers := make([]answer, len(reqs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxFetchesInFlight)
	for i, r := range reqs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			answers[i] = answer{req: r}
			b, err := f.cl.Broker(r.leader)
			if err != nil {
				answers[i].err = err
				return
			}
			_ = b.Open(f.cl.Config())
			wait := f.maxWait
			if len(r.parts) == 1 && r.parts[0].solo {
				wait = max(wait, f.soloWait)
			}
			// the broker holds a fetch up to its wait: well within the
			// timeout, after which a silent broker is a stall
			wait = min(wait, f.c.cfg.Timeout/2)
			req := &sarama.FetchRequest{
				Version:      12, // lowered to what the broker supports
				MaxWaitTime:  int32(wait / time.Millisecond),
				MinBytes:     1,
				MaxBytes:     f.reqBytes,
				Isolation:    sarama.ReadCommitted,
				SessionID:    0,
				SessionEpoch: -1, // no fetch session
			}
			for _, fp := range r.parts {
				req.AddBlock(fp.topic, fp.p, fp.next, fp.maxBytes, -1)
			}
			answers[i].resp, answers[i].err = b.Fetch(req)
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	var out []fetched
	var retriable error
	if len(noLeader) > 0 {
		retriable = fmt.Errorf("%s partition %d has no leader", backends.SafeText(noLeader[0].topic), noLeader[0].p)
	}
	for _, a := range answers {
		if peerGivenUp(a.err) {
			return nil, a.err // the broker stopped answering, or is hostile: no retry into a multiple of the timeout
		}
		if a.err != nil {
			retriable = a.err
			if b, err := f.cl.Broker(a.req.leader); err == nil {
				_ = b.Close() // reconnect next time
			}
			continue
		}
		for _, fp := range a.req.parts {
			blk := a.resp.GetBlock(fp.topic, fp.p)
			if blk == nil {
				retriable = sarama.ErrIncompleteResponse
				continue
			}
			switch {
			case errors.Is(blk.Err, sarama.ErrNoError):
			case errors.Is(blk.Err, sarama.ErrOffsetOutOfRange):
				return nil, &Error{Op: fmt.Sprintf("offset %d of %s partition %d is out of range (log start %d, log end %d): retention or a deletion removed records",
					fp.next, backends.SafeText(fp.topic), fp.p, blk.LogStartOffset, blk.HighWaterMarkOffset), Err: blk.Err}
			case retriableFetchErr(blk.Err):
				retriable = blk.Err
				continue
			default:
				return nil, &Error{Op: fmt.Sprintf("reading %s partition %d", backends.SafeText(fp.topic), fp.p), Err: blk.Err}
			}
			recs, end, partial, err := decodeBlock(fp.topic, fp.p, blk, fp.next, fp.stop, f.bare)
			if err != nil {
				return nil, &Error{Op: fmt.Sprintf("decoding %s partition %d at offset %d", backends.SafeText(fp.topic), fp.p, fp.next), Err: err}
			}
			switch {
			case partial && len(recs) == 0 && end == fp.next:
				// the first batch does not fit: alone, the broker sends it whole
				if fp.solo {
					if fp.maxBytes >= maxPartitionBytes {
						return nil, &Error{Op: fmt.Sprintf("record batch at offset %d of %s partition %d is larger than %d MiB", fp.next, backends.SafeText(fp.topic), fp.p, maxPartitionBytes>>20)}
					}
					fp.maxBytes *= 2
				}
				fp.solo = true
			case len(recs) == 0 && end == fp.next && !fp.solo:
				// Nothing for this partition: the partitions before it may
				// have used the response's budget. Ask for it alone.
				fp.solo = true
			case len(recs) == 0 && end == fp.next:
				// Alone and still nothing decodable below stop: data being
				// read from remote (tiered) storage, or batches emptied by
				// compaction, which sarama does not expose. Give up on this
				// partition after a few long waits.
				fp.empty++
				if fp.empty >= maxEmptyAnswers {
					fp.stuck = true
				}
			default:
				fp.solo, fp.empty = false, 0
			}
			out = append(out, fetched{fp: fp, recs: recs, end: end})
		}
	}
	if retriable != nil {
		f.failures++
		if f.failures > 5 {
			return nil, &Error{Op: "reading " + backends.SafeText(parts[0].topic), Err: retriable}
		}
		if err := f.refresh(ctx, parts); err != nil {
			return nil, err
		}
	} else {
		f.failures = 0
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].fp.topic != out[j].fp.topic {
			return out[i].fp.topic < out[j].fp.topic
		}
		return out[i].fp.p < out[j].fp.p
	})
	return out, nil
}

// aheadRound is a round of fetches started before the records of the
// round before are handled, for where each partition will then be: the
// broker's answer comes while the last one is handled. It reads copies of
// the partitions' positions (the caller goes on changing them); take
// keeps the answers of the partitions that are where the round expected.
type aheadRound struct {
	orig map[*fetchPart]*fetchPart // copy → the caller's part
	done chan struct{}
	res  []fetched
	err  error
}

// ahead starts a round for parts, each read from next[i] (at most one
// round runs at a time: call it once the round before was taken).
func (f *fetcher) ahead(ctx context.Context, parts []*fetchPart, next []int64) *aheadRound {
	a := &aheadRound{orig: make(map[*fetchPart]*fetchPart, len(parts)), done: make(chan struct{})}
	var copies []*fetchPart
	for i, fp := range parts {
		cp := *fp
		cp.next = next[i]
		if !cp.active() {
			continue
		}
		a.orig[&cp] = fp
		copies = append(copies, &cp)
	}
	if len(copies) == 0 {
		close(a.done)
		return a
	}
	go func() {
		defer close(a.done)
		a.res, a.err = f.round(ctx, copies)
	}()
	return a
}

// wait waits for the round to end (its answers are not used).
func (a *aheadRound) wait() { <-a.done }

// take waits for the round and returns its answers for the partitions
// still where it read them (same next and stop, and ok), now on the
// caller's parts, with what the round learned of them (a batch to read
// alone, a partition given up); the others are dropped.
func (a *aheadRound) take(ok func(*fetchPart) bool) ([]fetched, error) {
	<-a.done
	if a.err != nil {
		return nil, a.err
	}
	var out []fetched
	for _, r := range a.res {
		fp := a.orig[r.fp]
		if fp == nil || !fp.active() || fp.next != r.fp.next || fp.stop != r.fp.stop || !ok(fp) {
			continue
		}
		fp.maxBytes, fp.solo, fp.empty, fp.stuck = r.fp.maxBytes, r.fp.solo, r.fp.empty, r.fp.stuck
		r.fp = fp
		out = append(out, r)
	}
	return out, nil
}

// nextRound says where each of parts will be read next once res, the
// round just fetched for them, is handled whole: from the end of what
// was fetched, or where it was for a part that got no answer.
func nextRound(parts []*fetchPart, res []fetched) []int64 {
	next := make([]int64, len(parts))
	for i, fp := range parts {
		next[i] = fp.next
		for _, r := range res {
			if r.fp == fp {
				next[i] = r.end
			}
		}
	}
	return next
}

// refresh reloads the leaders of the topics read after a retriable error,
// with a short backoff.
func (f *fetcher) refresh(ctx context.Context, parts []*fetchPart) error {
	select {
	case <-time.After(time.Duration(f.failures) * 100 * time.Millisecond):
	case <-ctx.Done():
		return ctx.Err()
	}
	seen := map[string]bool{}
	var topics []string
	for _, fp := range parts {
		if !seen[fp.topic] {
			seen[fp.topic] = true
			topics = append(topics, fp.topic)
		}
	}
	infos, err := f.c.topicInfos(f.cl, topics)
	if err != nil {
		return nil // try again next round; the failure count bounds this
	}
	for _, t := range topics {
		ti := infos[t]
		if ti == nil {
			return &Error{Op: fmt.Sprintf("topic \"%s\" was deleted while being read", backends.SafeText(t))}
		}
		f.setLeaders(ti)
	}
	_ = f.cl.RefreshMetadata() // learn new brokers
	return nil
}

func retriableFetchErr(err error) bool {
	for _, e := range []sarama.KError{sarama.ErrNotLeaderForPartition, sarama.ErrLeaderNotAvailable, sarama.ErrFencedLeaderEpoch,
		sarama.ErrUnknownLeaderEpoch, sarama.ErrUnknownTopicOrPartition, sarama.ErrKafkaStorageError, sarama.ErrReplicaNotAvailable,
		sarama.ErrOffsetNotAvailable, sarama.ErrRequestTimedOut, sarama.ErrNotEnoughReplicas} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// decodeBlock turns one partition's fetch answer into records with offsets
// in [from, stop). bare (a replay) leaves DeadLetter unparsed and the
// header keys in the fetch's buffer, as keys and values always are. It skips control records and, read_committed, the records
// of aborted transactions (as sarama's consumer does). end is the offset
// after the last batch decoded, at most stop; partial reports a batch cut
// short by the size limits.
func decodeBlock(topic string, p int32, blk *sarama.FetchResponseBlock, from, stop int64, bare bool) (recs []backends.KafkaRecord, end int64, partial bool, err error) {
	end = from
	advance := func(next int64) {
		if next > end {
			end = next
		}
	}
	aborted := append([]*sarama.AbortedTransaction(nil), blk.AbortedTransactions...)
	sort.Slice(aborted, func(i, j int) bool { return aborted[i].FirstOffset < aborted[j].FirstOffset })
	abortedPIDs := map[int64]bool{}
	partial = blk.Partial
	for _, rs := range blk.RecordsSet {
		switch {
		case rs.RecordBatch != nil:
			b := rs.RecordBatch
			if b.PartialTrailingRecord {
				partial = true
				break
			}
			for len(aborted) > 0 && aborted[0].FirstOffset <= b.LastOffset() {
				abortedPIDs[aborted[0].ProducerID] = true
				aborted = aborted[1:]
			}
			if b.Control {
				if len(b.Records) > 0 && controlType(b.Records[0].Key) == 0 { // ABORT marker
					delete(abortedPIDs, b.ProducerID)
				}
				advance(b.LastOffset() + 1)
				continue
			}
			if b.IsTransactional && abortedPIDs[b.ProducerID] {
				advance(b.LastOffset() + 1)
				continue
			}
			for _, r := range b.Records {
				off := b.FirstOffset + r.OffsetDelta
				if off < from {
					continue
				}
				if off >= stop {
					break
				}
				ts := b.FirstTimestamp.Add(r.TimestampDelta)
				if b.LogAppendTime {
					ts = b.MaxTimestamp
				}
				rec := backends.KafkaRecord{Topic: topic, Partition: p, Offset: off, Timestamp: ts, Key: r.Key, Value: r.Value}
				if len(r.Headers) > 0 {
					rec.Headers = make([]backends.KafkaHeader, 0, len(r.Headers))
					for _, h := range r.Headers {
						if h != nil {
							key := unsafeString(h.Key) // as Key and Value, in the fetch's buffer
							if !bare {
								key = string(h.Key)
							}
							rec.Headers = append(rec.Headers, backends.KafkaHeader{Key: key, Value: h.Value})
						}
					}
				}
				if !bare {
					rec.DeadLetter = parseDeadLetter(rec.Headers)
				}
				if recs == nil {
					recs = make([]backends.KafkaRecord, 0, len(b.Records))
				}
				recs = append(recs, rec)
			}
			advance(b.LastOffset() + 1)
		case rs.MsgSet != nil: // message format v0/v1 (Kafka < 0.11 producers)
			if rs.MsgSet.PartialTrailingMessage && len(rs.MsgSet.Messages) == 0 {
				partial = true
				break
			}
			for _, blockMsg := range rs.MsgSet.Messages {
				inner := blockMsg.Messages()
				for _, m := range inner {
					off := m.Offset
					ts := m.Msg.Timestamp
					if m.Msg.Version >= 1 {
						off += blockMsg.Offset - inner[len(inner)-1].Offset // relative offsets in a wrapper
						if m.Msg.LogAppendTime {
							ts = blockMsg.Msg.Timestamp
						}
					}
					if off >= from && off < stop {
						recs = append(recs, backends.KafkaRecord{Topic: topic, Partition: p, Offset: off, Timestamp: ts, Key: m.Msg.Key, Value: m.Msg.Value})
					}
					advance(off + 1)
				}
			}
			if rs.MsgSet.PartialTrailingMessage {
				partial = true
			}
		}
	}
	if end > stop {
		end = stop
	}
	return recs, end, partial, nil
}

// controlType reads the type of a control record from its key (version
// int16, type int16): 0 abort, 1 commit; -1 when unreadable.
func controlType(key []byte) int16 {
	if len(key) < 4 {
		return -1
	}
	return int16(binary.BigEndian.Uint16(key[2:4]))
}

// waterFill splits limit records over partitions with avail[i] records each,
// as evenly as their sizes allow; deterministic.
func waterFill(limit int, avail []int64) []int {
	idx := make([]int, len(avail))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return avail[idx[a]] < avail[idx[b]] })
	out := make([]int, len(avail))
	rem := int64(limit)
	for k, i := range idx {
		left := int64(len(idx) - k)
		share := (rem + left - 1) / left
		give := min(share, max(avail[i], 0))
		out[i] = int(give)
		rem -= give
	}
	return out
}

// readSpread reads up to limit records of the partitions given, spread over
// them as evenly as their sizes allow (the same records for the same data),
// detached from the fetch buffers. It honours ctx between fetches.
func (f *fetcher) readSpread(ctx context.Context, parts []*fetchPart, limit int) ([]backends.KafkaRecord, error) {
	var out []backends.KafkaRecord
	for len(out) < limit {
		var active []*fetchPart
		var avail []int64
		for _, fp := range parts {
			if fp.active() {
				active = append(active, fp)
				avail = append(avail, fp.stop-fp.next)
			}
		}
		if len(active) == 0 {
			break
		}
		for i, q := range waterFill(limit-len(out), avail) {
			active[i].quota = q
		}
		for {
			var want []*fetchPart
			for _, fp := range active {
				if fp.quota > 0 && fp.active() {
					want = append(want, fp)
				}
			}
			if len(want) == 0 {
				break
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			res, err := f.round(ctx, want)
			if err != nil {
				return nil, err
			}
			for _, r := range res {
				take := r.recs
				if len(take) > r.fp.quota {
					take = take[:r.fp.quota]
				}
				for _, rec := range take {
					out = append(out, copyRecord(rec))
				}
				r.fp.quota -= len(take)
				if len(take) < len(r.recs) {
					r.fp.next = take[len(take)-1].Offset + 1
				} else {
					r.fp.next = r.end
				}
			}
		}
		// partitions that gave fewer records than their size promised
		// (transaction markers, compaction) leave room for the others
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Partition != out[j].Partition {
			return out[i].Partition < out[j].Partition
		}
		return out[i].Offset < out[j].Offset
	})
	return out, nil
}

// copyRecord detaches a record from the fetch buffer it was decoded from,
// so that keeping a few records does not keep whole responses alive.
func copyRecord(r backends.KafkaRecord) backends.KafkaRecord {
	cp := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		return append(make([]byte, 0, len(b)), b...)
	}
	r.Key, r.Value = cp(r.Key), cp(r.Value)
	if r.Headers != nil {
		hs := make([]backends.KafkaHeader, len(r.Headers))
		for i, h := range r.Headers {
			hs[i] = backends.KafkaHeader{Key: h.Key, Value: cp(h.Value)}
		}
		r.Headers = hs
		r.DeadLetter = parseDeadLetter(hs)
	}
	return r
}

// ReadRecords reads up to limit records of topic without a consumer group
// and without committing anything, read_committed. Each partition is read
// from its offset in from, or from its log start when from is nil or does
// not name it, up to its last stable offset. The limit is spread over the
// partitions as evenly as their sizes allow (the same call on the same data
// returns the same records); the result is sorted by partition and offset.
// Pass KafkaNextOffsets(from, recs) as from to read the next page. Values
// are returned whole, however large: cut them for display.
func (c *Client) ReadRecords(ctx context.Context, topic string, from map[int32]int64, limit int) ([]backends.KafkaRecord, error) {
	if limit <= 0 {
		return nil, &Error{Op: fmt.Sprintf("reading %s: the record limit must be positive, got %d", backends.SafeText(topic), limit)}
	}
	var out []backends.KafkaRecord
	err := c.withClient(ctx, func(cl sarama.Client, ad sarama.ClusterAdmin) error {
		ti, err := c.oneTopic(cl, topic)
		if err != nil {
			return err
		}
		offs, err := c.listOffsets(cl, ad, map[string][]int32{topic: ti.parts}, true)
		if err != nil {
			return err
		}
		for p := range from {
			if _, ok := offs[topic][p]; !ok {
				return &Error{Op: fmt.Sprintf("topic \"%s\" has no partition %d (it has %d)", backends.SafeText(topic), p, len(ti.parts))}
			}
		}
		parts := make([]*fetchPart, 0, len(ti.parts))
		for _, p := range ti.parts {
			o := offs[topic][p]
			start := o.start
			if at, ok := from[p]; ok {
				if at < o.start || at > o.end {
					return &Error{Op: fmt.Sprintf("offset %d is out of range for %s partition %d (log start %d, log end %d)", at, backends.SafeText(topic), p, o.start, o.end)}
				}
				start = at
			}
			parts = append(parts, &fetchPart{topic: topic, p: p, next: start, stop: o.stable, maxBytes: peekPartitionBytes})
		}
		out, err = c.newFetcher(cl, []*topicInfo{ti}, peekRequestBytes).readSpread(ctx, parts, limit)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PartitionCounts returns the number of partitions of each of the topics
// that exist; a topic that does not exist is absent from the map. It never
// creates a topic.
func (c *Client) PartitionCounts(ctx context.Context, topics []string) (map[string]int32, error) {
	out := map[string]int32{}
	if len(topics) == 0 {
		return out, nil
	}
	err := c.withClient(ctx, func(cl sarama.Client, _ sarama.ClusterAdmin) error {
		infos, err := c.topicInfos(cl, topics)
		if err != nil {
			return err
		}
		for name, ti := range infos {
			out[name] = int32(len(ti.parts))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
