package kafka

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/mqops/mqops/backends"
)

// DefaultMoveWindow is the default bound on records produced but not yet
// committed during a move: what a crash can make the next run move twice.
const DefaultMoveWindow = 1000

// MaxMoveWindow bounds the window an operator may ask for.
const MaxMoveWindow = 100_000

// Headers a move adds to every record it produces.
const (
	HeaderReplaySource = "mqops-replay-source" // <topic>/<partition>/<offset> of the record moved
	HeaderRunID        = "mqops-run-id"
)

// progressEvery spaces the calls of KafkaMoveOptions.Progress.
const progressEvery = 100 * time.Millisecond

// DrainGroup is the consumer group a drain of topic uses by default.
func DrainGroup(topic string) string { return "mqops-drain." + topic }

// moveConfigs returns the configuration of a move's reading client: it
// reads the dead-letter topic and commits the drain group. Its producers
// (produceConfig) produce with acks=all and idempotence (which needs one
// request in flight per broker, so they get their own connections). None
// creates topics. rw and pw watch their connections: a broker that stops
// answering is given up at once (the move stops), while the others still
// take the final commit.
func (c *Client) moveConfigs(rw *watch) *sarama.Config {
	read := c.saramaConfig(rw)
	read.Metadata.AllowAutoTopicCreation = false
	read.Consumer.IsolationLevel = sarama.ReadCommitted
	// A drain reads and commits its group's offsets through the group
	// coordinator, which moves on a rebalance of __consumer_offsets and
	// does not exist yet on a cluster where no group ever committed: wait
	// for it (about 5 s) rather than fail the operator's drain.
	read.Admin.Retry.Max = 15
	read.Admin.Retry.Backoff = 300 * time.Millisecond
	return read
}

// produceConfig is the configuration of a move's producer to topics whose
// max.message.bytes gives maxBytes (producerMax): no batch it builds is
// larger than the limit.
func (c *Client) produceConfig(pw *watch, maxBytes int) *sarama.Config {
	produce := c.saramaConfig(pw)
	produce.Metadata.AllowAutoTopicCreation = false
	produce.Metadata.Retry.Max = 3
	produce.Producer.RequiredAcks = sarama.WaitForAll
	produce.Producer.Idempotent = true
	produce.Net.MaxOpenRequests = 1
	produce.Producer.Return.Successes = true
	produce.Producer.Return.Errors = true
	produce.Producer.Retry.Max = 5
	produce.Producer.Retry.Backoff = 250 * time.Millisecond
	// The broker answers a produce it cannot replicate in time with
	// REQUEST_TIMED_OUT (retried) before the read times out: only a broker
	// that does not answer at all is a stall.
	produce.Producer.Timeout = c.cfg.Timeout / 2
	produce.Producer.Partitioner = sarama.NewManualPartitioner // MoveRecords picks every partition
	produce.Producer.MaxMessageBytes = maxBytes
	return produce
}

// drainState is where a drain starts and stops on each partition.
type drainState struct {
	parts     []*fetchPart    // next = start, stop = last stable offset at start
	start     map[int32]int64 // first offset to move
	committed map[int32]int64 // the group's committed offset at start, -1 when none
	behind    int64           // records between a committed offset and a later log start
	total     int             // records to move (at most; markers count)
	// serialUntil: the previous run ended with records of the partition
	// not confirmed, handed on up to this offset (commit metadata)
	serialUntil map[int32]int64
}

// drainStart reads the drain group's committed offsets and the topic's
// offsets: each partition is moved from the committed offset (the log start
// when there is none, or when retention deleted past it) up to the last
// stable offset measured now.
func (c *Client) drainStart(cl sarama.Client, ad sarama.ClusterAdmin, ti *topicInfo, group string, partBytes int32) (*drainState, error) {
	offs, err := c.listOffsets(cl, ad, map[string][]int32{ti.name: ti.parts}, true)
	if err != nil {
		return nil, err
	}
	var resp *sarama.OffsetFetchResponse
	// The group's coordinator does not exist yet on a cluster where no
	// group ever committed (__consumer_offsets is being created), and moves
	// when its partition does: wait for it, bounded by the timeout.
	deadline := time.Now().Add(c.cfg.Timeout)
	for {
		resp, err = ad.ListConsumerGroupOffsets(group, map[string][]int32{ti.name: ti.parts})
		if !coordinatorPending(err) || time.Now().After(deadline) {
			break
		}
		_ = cl.RefreshCoordinator(group)
		time.Sleep(250 * time.Millisecond)
	}
	if errors.Is(err, sarama.ErrGroupIDNotFound) {
		resp, err = &sarama.OffsetFetchResponse{}, nil // a group never committed (kfake says so; Kafka answers -1)
	}
	if err != nil {
		return nil, &Error{Op: fmt.Sprintf("reading the committed offsets of consumer group \"%s\"", backends.SafeText(group)), Err: err}
	}
	st := &drainState{start: map[int32]int64{}, committed: map[int32]int64{}, serialUntil: map[int32]int64{}}
	for _, p := range ti.parts {
		o := offs[ti.name][p]
		committed := int64(-1)
		if blk := resp.GetBlock(ti.name, p); blk != nil {
			if !errors.Is(blk.Err, sarama.ErrNoError) {
				return nil, &Error{Op: fmt.Sprintf("reading the committed offset of consumer group \"%s\" on %s partition %d", backends.SafeText(group), backends.SafeText(ti.name), p), Err: blk.Err}
			}
			committed = blk.Offset
			if u := serialUntilOf(blk.Metadata); u > committed && committed >= 0 {
				st.serialUntil[p] = u
			}
		}
		start := o.start
		if committed >= 0 {
			if committed < o.start {
				st.behind += o.start - committed
			} else {
				start = committed
			}
		}
		st.committed[p], st.start[p] = committed, start
		st.parts = append(st.parts, &fetchPart{topic: ti.name, p: p, next: start, stop: o.stable, maxBytes: partBytes})
		st.total += int(max(0, o.stable-start))
	}
	return st, nil
}

// coordinatorPending says the group coordinator is not there yet or moved
// (the broker asked is not, or not yet, the group's coordinator).
func coordinatorPending(err error) bool {
	return errors.Is(err, sarama.ErrNotCoordinatorForConsumer) || errors.Is(err, sarama.ErrConsumerCoordinatorNotAvailable) ||
		errors.Is(err, sarama.ErrOffsetsLoadInProgress)
}

// PlanMove counts, without moving or committing anything, where the records
// a MoveRecords with the same topic, group and limit would move go: target
// topic → records, and the total. It measures each record as it will be
// produced (with the headers the move adds) against its target topic's
// max.message.bytes, and lists those the target cannot take. It stops with
// an error at the first record target refuses, saying which.
func (c *Client) PlanMove(ctx context.Context, o backends.KafkaPlanOptions) (*backends.KafkaMovePlan, error) {
	topic, group, limit, target := o.Topic, o.Group, o.Limit, o.Target
	if target == nil {
		return nil, &Error{Op: "planning a move: no target"}
	}
	if limit < 0 {
		return nil, &Error{Op: fmt.Sprintf("planning a move: negative limit %d", limit)}
	}
	if group == "" {
		group = DrainGroup(topic)
	}
	plan := &backends.KafkaMovePlan{Counts: map[string]int{}, Ends: map[int32]int64{}, OversizedByTarget: map[string]int{}}
	ends := plan.Ends
	err := c.withClient(ctx, func(cl sarama.Client, ad sarama.ClusterAdmin) error {
		ti, err := c.oneTopic(cl, topic)
		if err != nil {
			return err
		}
		st, err := c.drainStart(cl, ad, ti, group, movePartitionBytes)
		if err != nil {
			return err
		}
		for _, fp := range st.parts {
			ends[fp.p] = fp.next
		}
		lim := newLimits(ad)
		defer func() { plan.Limits, plan.Notes = lim.byName, lim.notes }()
		f := c.newFetcher(cl, []*topicInfo{ti}, moveRequestBytes)
		for {
			var active []*fetchPart
			for _, fp := range st.parts {
				if fp.active() {
					active = append(active, fp)
				}
			}
			if len(active) == 0 || (limit > 0 && plan.Total >= limit) {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			res, err := f.round(ctx, active)
			if err != nil {
				return err
			}
			for _, r := range res {
				for i := range r.recs {
					rec := &r.recs[i]
					if limit > 0 && plan.Total >= limit {
						return nil
					}
					t, _, err := target(rec)
					if err != nil {
						return &Error{Op: fmt.Sprintf("record %s partition %d offset %d has no target", backends.SafeText(topic), r.fp.p, rec.Offset), Err: err}
					}
					plan.Counts[t]++
					plan.Total++
					ends[r.fp.p] = rec.Offset + 1
					if lm, ok := lim.of(t); ok {
						if ov := sizeCheck(rec, newMessage(rec, t, o.RunID), t, lm); ov != nil {
							plan.OversizedCount++
							plan.OversizedByTarget[t]++
							if len(plan.Oversized) < maxOversizedListed {
								plan.Oversized = append(plan.Oversized, *ov)
							}
						}
					}
				}
				r.fp.next = r.end
				ends[r.fp.p] = r.end // past control records and gaps too
			}
		}
	})
	if err != nil {
		return nil, err
	}
	sortOversized(plan.Oversized)
	return plan, nil
}

// sortOversized puts records too large for their target in partition and
// offset order.
func sortOversized(list []backends.KafkaOversized) {
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i], list[j]
		return a.Partition < b.Partition || (a.Partition == b.Partition && a.Offset < b.Offset)
	})
}

// moveSource opens the reading side of a move of topic: the watches of
// its reading and producing connections, the reading client and its admin
// (closing the admin closes the client), and the topic's metadata.
func (c *Client) moveSource(topic string) (rw, pw *watch, rcl sarama.Client, ad sarama.ClusterAdmin, ti *topicInfo, err error) {
	rw, pw = newWatch(c.cfg.Timeout, false), newWatch(c.cfg.Timeout, false)
	rcl, err = sarama.NewClient(c.cfg.Brokers, c.moveConfigs(rw))
	if err != nil {
		return nil, nil, nil, nil, nil, c.explain(stalled(rw, err))
	}
	ad, err = sarama.NewClusterAdminFromClient(rcl)
	if err != nil {
		_ = rcl.Close()
		return nil, nil, nil, nil, nil, c.explain(stalled(rw, err))
	}
	if ti, err = c.oneTopic(rcl, topic); err != nil {
		_ = ad.Close()
		return nil, nil, nil, nil, nil, stalled(rw, err)
	}
	return rw, pw, rcl, ad, ti, nil
}

// MoveRecords moves the records of a dead-letter topic to the topics
// o.Target names (their original topic, or one given), safely:
//
//   - it reads read_committed from the drain group's committed offsets (the
//     log start when none) up to the last stable offset measured at start,
//     or o.Limit records;
//   - it produces with acks=all and an idempotent producer, keeping key,
//     value, headers and timestamp, adding mqops-replay-source and
//     mqops-run-id headers, to the partition Target returns, or by key with
//     Kafka's default partitioner (murmur2) for -1 or a partition the
//     target does not have;
//   - it commits the drain group on a partition only up to the records whose
//     produce was acknowledged, continuously, and never more than o.Window
//     records behind: a crash at any moment moves at most that many records
//     twice and loses none;
//   - on a produce error, an unknown target topic or a Target error it stops
//     producing, waits for what is in flight, commits what was acknowledged
//     and returns the result with an error saying how many moved and what
//     failed. A cancelled ctx stops it the same way.
//
// The result is never nil when the move started.
func (c *Client) MoveRecords(ctx context.Context, o backends.KafkaMoveOptions) (*backends.KafkaMoveResult, error) {
	switch {
	case o.Topic == "":
		return nil, &Error{Op: "moving records: no dead-letter topic given"}
	case o.Target == nil:
		return nil, &Error{Op: "moving records of " + backends.SafeText(o.Topic) + ": no target"}
	case o.Limit < 0:
		return nil, &Error{Op: fmt.Sprintf("moving records of %s: negative limit %d", backends.SafeText(o.Topic), o.Limit)}
	}
	if o.Group == "" {
		o.Group = DrainGroup(o.Topic)
	}
	if o.Window <= 0 {
		o.Window = DefaultMoveWindow
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
	if descs, err := ad.DescribeConsumerGroups([]string{o.Group}); err == nil && len(descs) == 1 && len(descs[0].Members) > 0 {
		return nil, &Error{Op: fmt.Sprintf("consumer group \"%s\" has %d active members: another drain, or a consumer, is using it", backends.SafeText(o.Group), len(descs[0].Members))}
	}
	if f := rw.failure(); f != nil {
		return nil, f
	}
	st, err := c.drainStart(rcl, ad, ti, o.Group, movePartitionBytes)
	if err != nil {
		return nil, stalled(rw, err)
	}
	lso := map[int32]int64{} // where a partition ends now: what is left is counted to there
	for _, fp := range st.parts {
		lso[fp.p] = fp.stop
		if u, ok := o.Until[fp.p]; ok && u < fp.stop {
			st.total -= int(fp.stop - max(u, fp.next))
			fp.stop = max(u, fp.next)
		}
	}
	m := c.newMover(o, ad, rcl, st, lso, begin, rw, pw)
	m.build = func(r *backends.KafkaRecord, topic string) *sarama.ProducerMessage {
		return newMessage(r, topic, o.RunID)
	}
	m.store = positions{what: fmt.Sprintf("committing consumer group \"%s\"", backends.SafeText(o.Group)), save: m.commitGroup}
	m.stopNote = func(res *backends.KafkaMoveResult) string {
		return fmt.Sprintf("consumer group \"%s\" is committed only up to acknowledged records and %d are left in %s",
			backends.SafeText(o.Group), res.Left, backends.SafeText(o.Topic))
	}
	return m.run(ctx, c.newFetcher(rcl, []*topicInfo{ti}, moveRequestBytes))
}

// newMover prepares a move of the records st says, from where each
// partition starts (st.start; committed where the move's positions stand,
// -1 when nowhere) up to its stop; end is where each partition ended when
// the move started (what is left is counted to there). The caller sets
// how records are built (build), kept (keep) and where positions are
// saved (store).
func (c *Client) newMover(o backends.KafkaMoveOptions, ad sarama.ClusterAdmin, rcl sarama.Client, st *drainState, end map[int32]int64, begin time.Time, rw, pw *watch) *mover {
	if o.Window <= 0 {
		o.Window = DefaultMoveWindow
	}
	pcfg := c.produceConfig(pw, producerMax(defaultMaxMessageBytes))
	m := &mover{
		c: c, o: o, ad: ad, rcl: rcl, st: st, begin: begin, rw: rw, pw: pw,
		parts:     map[int32]*trackPart{},
		targets:   map[string]*moveTarget{},
		producers: map[int]*producer{},
		lim:       newLimits(ad),
		dirty:     make(chan struct{}, 1),
		urgent:    make(chan struct{}, 1),
		space:     make(chan struct{}, 1),
		settled:   make(chan struct{}, 1),
		serialAck: make(chan struct{}, 1),
		// every attempt of a message is bounded by the broker's ack timeout
		// and the network timeouts; the producer gives up after Retry.Max
		settleMax: time.Duration(pcfg.Producer.Retry.Max+1) * (pcfg.Net.WriteTimeout + pcfg.Net.ReadTimeout + pcfg.Producer.Retry.Backoff),
	}
	for _, fp := range st.parts {
		m.parts[fp.p] = &trackPart{acked: map[int64]bool{}, reader: fp.next, committed: st.committed[fp.p], start: st.start[fp.p], stop: fp.stop, end: end[fp.p],
			serialFirst: true, serialUntil: st.serialUntil[fp.p], serialAt: -1}
	}
	m.total = st.total
	if o.Limit > 0 && o.Limit < m.total {
		m.total = o.Limit
	}
	return m
}

// trackPart is the state of one dead-letter partition during a move.
type trackPart struct {
	pending   []int64 // produced, not yet in the acknowledged prefix; ascending
	acked     map[int64]bool
	done      []int64 // acknowledged prefix, not yet committed
	reader    int64   // every record below was handed to the producer or skipped
	committed int64   // in the drain group; -1 when none
	start     int64
	stop      int64 // the move stops here (Until, or end)
	end       int64 // the last stable offset at the start: Left counts to it
	// Records are produced one at a time (each acknowledged before the
	// next of the partition is handed on) up to serialUntil, and the first
	// one of the run (serialFirst). serialUntil comes from the drain
	// group's commit metadata: a run that ended with records not confirmed
	// (a produce failure) writes there how far it had handed records on.
	// Produced one at a time, the record the target refuses fails alone,
	// and nothing after it is produced: reruns after a failure add no
	// duplicate. serialAt is the offset of the record in flight, -1 when
	// none.
	serialFirst bool
	serialUntil int64
	serialAt    int64
	markSerial  bool // the commit metadata must say serialUntil
}

// pos is the offset the drain group may be committed to: the first record
// not acknowledged yet.
func (t *trackPart) pos() int64 {
	if len(t.pending) > 0 {
		return t.pending[0]
	}
	return t.reader
}

type moveTarget struct {
	parts int32
	hash  sarama.Partitioner
	limit int       // max.message.bytes
	prod  *producer // the producer for topics of this limit (a drain)
	sink  *replaySink
}

// producer is one of a move's producers: one per distinct producerMax of
// the target topics (sarama's MaxMessageBytes applies to every topic of a
// producer).
type producer struct {
	maxBytes int
	cl       sarama.Client
	prod     sarama.AsyncProducer
	done     chan struct{} // closed when its acknowledgements are all read
}

// maxProducers bounds the producers of a move (distinct max.message.bytes
// among its target topics).
const maxProducers = 8

// moveMeta travels with each produced message.
type moveMeta struct {
	p      int32
	off    int64
	target string
	tp     int32
}

type mover struct {
	c      *Client
	o      backends.KafkaMoveOptions
	rw, pw *watch // the reading and the producing connections
	ad     sarama.ClusterAdmin
	rcl    sarama.Client
	st     *drainState
	begin  time.Time
	total  int

	// how records are built for their target, which are moved (nil:
	// all), where positions are saved, and what the final error says of
	// where the move stands
	build    func(r *backends.KafkaRecord, topic string) *sarama.ProducerMessage
	keep     func(r *backends.KafkaRecord) bool
	store    positions
	stopNote func(res *backends.KafkaMoveResult) string

	// used by the run goroutine only
	targets   map[string]*moveTarget
	producers map[int]*producer // by maxBytes
	// sink: records are produced through a replaySink (a replay) rather
	// than sarama's AsyncProducer (a drain)
	sink   bool
	lim    *limits
	ackers sync.WaitGroup

	mu        sync.Mutex
	parts     map[int32]*trackPart
	moved     int
	failed    int
	seen      int
	inflight  int // handed to the producer, not yet committed
	unsettled int // handed to the producer, neither acknowledged nor failed yet
	settled   chan struct{}
	settleMax time.Duration // how long the producer may take to settle what it holds
	err       error         // first produce or commit failure
	dirty     chan struct{}
	// saveEvery spaces the saves of the positions (0: each time records
	// are confirmed); urgent cuts the wait short when the confirmed
	// records not saved yet fill a quarter of the window (unsaved), or the
	// window is full
	saveEvery time.Duration
	urgent    chan struct{}
	unsaved   int
	space     chan struct{}
	serialAck chan struct{} // a record produced alone was acknowledged, or the move failed
	// the records their target cannot take, skipped or stopped before
	oversized      []backends.KafkaOversized
	oversizedCount int
	halted         int // partitions stopped before such a record
	filtered       int // records keep passed over
}

// position is where a move stands on one source partition: every record
// below next was confirmed by its target (or is not to be moved), and the
// records up to serialUntil are produced one at a time (trackPart).
type position struct {
	next, serialUntil int64
}

// positions keeps a move's positions: the drain group's commits, or a
// replay's checkpoint. save stores offs and returns the positions it
// stored (all of them, or those of the partitions that did not fail, or
// none); what names the store in errors.
type positions struct {
	what string
	save func(offs map[int32]position) (map[int32]position, error)
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (m *mover) progress() backends.KafkaMoveProgress {
	m.mu.Lock()
	defer m.mu.Unlock()
	return backends.KafkaMoveProgress{Moved: m.moved, Failed: m.failed, Seen: m.seen, Total: m.total, Elapsed: time.Since(m.begin)}
}

func (m *mover) failure() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

func (m *mover) setErr(err error) {
	m.mu.Lock()
	if m.err == nil {
		m.err = err
	}
	m.mu.Unlock()
	signal(m.space)
	signal(m.serialAck)
}

// add registers the record about to be handed to the producer, unless a
// failure was recorded: after any failure nothing more is produced (what
// is already in flight may still complete). alone says the record is to
// be produced one at a time (trackPart.serialUntil).
func (m *mover) add(p int32, off int64) (ok, alone bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return false, false
	}
	t := m.parts[p]
	t.pending = append(t.pending, off)
	t.reader = off + 1
	if t.serialFirst || off < t.serialUntil {
		t.serialAt, alone = off, true
	}
	t.serialFirst = false
	m.inflight++
	m.unsettled++
	m.seen++
	return true, alone
}

// waiting reports whether partition p waits for the acknowledgement of a
// record produced alone: nothing more of it is produced until then.
func (m *mover) waiting(p int32) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.parts[p].serialAt >= 0
}

// noteOversized records a record its target cannot take. A skipped one
// is passed over: every record of p up to it was handed on.
func (m *mover) noteOversized(ov *backends.KafkaOversized, skip bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.oversizedCount++
	if len(m.oversized) < maxOversizedListed {
		m.oversized = append(m.oversized, *ov)
	}
	if skip {
		t := m.parts[ov.Partition]
		t.reader = ov.Offset + 1
		m.seen++
	} else {
		m.halted++
	}
}

// pass records that the record at off of p is not to be moved (keep
// said so): every record of p up to it was handed on or passed over.
func (m *mover) pass(p int32, off int64) {
	m.mu.Lock()
	m.parts[p].reader = off + 1
	m.seen++
	m.filtered++
	m.mu.Unlock()
}

// unadd takes back the record add just registered, when it could not be
// handed to the producer.
func (m *mover) unadd(p int32, off int64) {
	m.mu.Lock()
	t := m.parts[p]
	t.pending = t.pending[:len(t.pending)-1]
	t.reader = off
	if t.serialAt == off {
		t.serialAt = -1
	}
	m.inflight--
	m.unsettled--
	m.seen--
	m.mu.Unlock()
}

// skipTo records that every record of p below off was handed on or is not
// to be moved (control records, aborted transactions).
func (m *mover) skipTo(p int32, off int64) {
	m.mu.Lock()
	if t := m.parts[p]; off > t.reader {
		t.reader = off
	}
	m.mu.Unlock()
}

// settle counts one message the producer is done with; m.mu is held.
func (m *mover) settle() {
	m.unsettled--
	if m.unsettled == 0 {
		signal(m.settled)
	}
}

// waitSettled waits until the producer has acknowledged or failed every
// message handed to it, at most settleMax. Closing the producer before that
// would fail the messages it is retrying (sarama returns ErrShuttingDown
// for a batch whose retry meets the close), which stops a drain that was
// going to succeed.
func (m *mover) waitSettled() {
	limit := time.NewTimer(m.settleMax)
	defer limit.Stop()
	for {
		m.mu.Lock()
		n := m.unsettled
		m.mu.Unlock()
		if n <= 0 {
			return
		}
		select {
		case <-m.settled:
		case <-limit.C:
			return
		case <-m.pw.done():
			return // a target broker stopped answering: what it holds fails
		}
	}
}

// stalled is the stall that stopped the move (a broker that stopped
// answering), nil when none did.
func (m *mover) stalled() error {
	if f := m.rw.failure(); f != nil {
		return f
	}
	return m.pw.failure()
}

func (m *mover) ack(meta *moveMeta) {
	m.mu.Lock()
	m.ackLocked(meta.p, meta.off)
	m.acked()
}

// ackRecords records the confirmation of a batch of a replay's records.
func (m *mover) ackRecords(recs []*sinkRecord) {
	m.mu.Lock()
	for _, r := range recs {
		m.ackLocked(r.p, r.off)
	}
	m.acked()
}

// ackLocked records that the record at off of p was confirmed; m.mu is
// held.
func (m *mover) ackLocked(p int32, off int64) {
	t := m.parts[p]
	if t.serialAt == off {
		t.serialAt = -1
		signal(m.serialAck)
	}
	m.moved++
	m.settle()
	if len(t.pending) > 0 && t.pending[0] == off { // in order: the usual case
		t.done = append(t.done, off)
		t.pending = t.pending[1:]
		m.unsaved++
	} else {
		t.acked[off] = true
	}
	for len(t.pending) > 0 && len(t.acked) > 0 && t.acked[t.pending[0]] {
		delete(t.acked, t.pending[0])
		t.done = append(t.done, t.pending[0])
		t.pending = t.pending[1:]
		m.unsaved++
	}
}

// acked ends an acknowledgement: it unlocks m.mu and has the positions
// saved (at once when the records confirmed and not saved fill a quarter
// of the window).
func (m *mover) acked() {
	urgent := m.unsaved >= m.o.Window/4
	m.mu.Unlock()
	signal(m.dirty)
	if urgent {
		signal(m.urgent)
	}
}

// failRecords records that a batch of a replay's records failed (the
// first failure stops the run).
func (m *mover) failRecords(recs []*sinkRecord, target string, err error) {
	if len(recs) == 0 {
		return
	}
	m.mu.Lock()
	for range recs {
		m.failed++
		m.settle()
	}
	m.mu.Unlock()
	r := recs[0]
	m.setErr(&Error{Op: fmt.Sprintf("producing %s partition %d offset %d to %s partition %d",
		backends.SafeText(m.o.Topic), r.p, r.off, backends.SafeText(target), r.tp), Err: err})
}

func (m *mover) fail(pe *sarama.ProducerError) {
	meta, _ := pe.Msg.Metadata.(*moveMeta)
	m.mu.Lock()
	m.failed++
	if meta != nil {
		m.settle()
	}
	m.mu.Unlock()
	if meta == nil {
		m.setErr(&Error{Op: "producing", Err: pe.Err})
		return
	}
	m.setErr(&Error{Op: fmt.Sprintf("producing %s partition %d offset %d to %s partition %d",
		backends.SafeText(m.o.Topic), meta.p, meta.off, backends.SafeText(meta.target), meta.tp), Err: pe.Err})
}

// commit saves each partition's position (the first record not
// acknowledged yet) where it moved since the last save.
func (m *mover) commit() error {
	m.mu.Lock()
	offs := map[int32]position{}
	for p, t := range m.parts {
		if pos := t.pos(); (pos > t.committed || t.markSerial) && pos >= 0 {
			offs[p] = position{next: pos, serialUntil: t.serialUntil}
		}
	}
	m.mu.Unlock()
	if len(offs) == 0 {
		return nil
	}
	saved, err := m.store.save(offs)
	m.mu.Lock()
	freed := 0
	for p, om := range saved {
		t := m.parts[p]
		t.committed, t.markSerial = om.next, false
		n := 0
		for n < len(t.done) && t.done[n] < om.next {
			n++
		}
		t.done = t.done[n:]
		freed += n
	}
	m.inflight -= freed
	m.unsaved -= freed
	m.mu.Unlock()
	if freed > 0 {
		signal(m.space)
	}
	if err != nil {
		m.mu.Lock()
		at := m.inflight
		m.mu.Unlock()
		return &Error{Op: fmt.Sprintf("%s (up to %d acknowledged records will be moved again by the next run)", m.store.what, at), Err: err}
	}
	return nil
}

// commitGroup commits the drain group to offs, with the run id (and
// serialUntil) as metadata; it returns the positions committed.
func (m *mover) commitGroup(offs map[int32]position) (map[int32]position, error) {
	req := make(map[int32]sarama.OffsetAndMetadata, len(offs))
	for p, o := range offs {
		req[p] = sarama.OffsetAndMetadata{Offset: o.next, LeaderEpoch: -1, Metadata: commitMetadata(m.o.RunID, o.next, o.serialUntil)}
	}
	resp, err := m.ad.AlterConsumerGroupOffsets(m.o.Group, map[string]map[int32]sarama.OffsetAndMetadata{m.o.Topic: req}, nil)
	if resp == nil {
		return nil, err
	}
	if err == nil {
		for p, kerr := range resp.Errors[m.o.Topic] {
			if !errors.Is(kerr, sarama.ErrNoError) {
				err = fmt.Errorf("partition %d: %w", p, kerr)
				delete(offs, p)
			}
		}
	}
	return offs, err
}

// waitSpace blocks while the window of uncommitted records is full.
func (m *mover) waitSpace(ctx context.Context) error {
	for {
		m.mu.Lock()
		full, err := m.inflight >= m.o.Window, m.err
		m.mu.Unlock()
		if err != nil {
			return err
		}
		if !full {
			return nil
		}
		signal(m.urgent)
		select {
		case <-m.space:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// target resolves a target topic once: its partition count, its
// max.message.bytes and the producer for it, or a clear error when it does
// not exist.
func (m *mover) target(topic string) (*moveTarget, error) {
	if t := m.targets[topic]; t != nil {
		return t, nil
	}
	if topic == m.o.Topic {
		return nil, &Error{Op: fmt.Sprintf("the target is the dead-letter topic \"%s\" itself", backends.SafeText(topic))}
	}
	infos, err := m.c.topicInfos(m.rcl, []string{topic})
	if err != nil {
		return nil, err
	}
	ti := infos[topic]
	if ti == nil || len(ti.parts) == 0 {
		return nil, &Error{Op: fmt.Sprintf("unknown target topic \"%s\" (nothing was produced to it)", backends.SafeText(topic))}
	}
	limit, ok := m.lim.of(topic)
	if !ok {
		limit = defaultMaxMessageBytes // deleted since: the produce will say
	}
	t := &moveTarget{parts: int32(len(ti.parts)), hash: sarama.NewMurmur2Partitioner(topic), limit: limit}
	if m.sink {
		t.sink, err = m.newReplaySink(topic, t.parts, limit)
	} else {
		t.prod, err = m.producer(producerMax(limit))
	}
	if err != nil {
		return nil, err
	}
	m.targets[topic] = t
	return t, nil
}

// producer returns the producer whose MaxMessageBytes is maxBytes,
// starting it (and the reading of its acknowledgements) the first time.
func (m *mover) producer(maxBytes int) (*producer, error) {
	if p := m.producers[maxBytes]; p != nil {
		return p, nil
	}
	if len(m.producers) >= maxProducers {
		return nil, &Error{Op: fmt.Sprintf("the target topics have more than %d different max.message.bytes: drain them one target at a time (--to topic:<name>)", maxProducers)}
	}
	cl, err := sarama.NewClient(m.c.cfg.Brokers, m.c.produceConfig(m.pw, maxBytes))
	if err != nil {
		return nil, m.c.explain(stalled(m.pw, err))
	}
	ap, err := sarama.NewAsyncProducerFromClient(cl)
	if err != nil {
		_ = cl.Close()
		return nil, &Error{Op: "starting the producer", Err: err}
	}
	p := &producer{maxBytes: maxBytes, cl: cl, prod: ap, done: make(chan struct{})}
	m.producers[maxBytes] = p
	m.ackers.Go(func() {
		defer close(p.done)
		succ, errs := ap.Successes(), ap.Errors()
		for succ != nil || errs != nil {
			select {
			case msg, ok := <-succ:
				if !ok {
					succ = nil
					continue
				}
				m.ack(msg.Metadata.(*moveMeta))
			case pe, ok := <-errs:
				if !ok {
					errs = nil
					continue
				}
				m.fail(pe)
			}
		}
	})
	return p, nil
}

// baseMessage is r to produce to topic: key, value and timestamp kept (a
// null key or value stays null), room for its headers and two more.
func baseMessage(r *backends.KafkaRecord, topic string) *sarama.ProducerMessage {
	msg := &sarama.ProducerMessage{Topic: topic, Timestamp: r.Timestamp}
	if r.Key != nil {
		msg.Key = sarama.ByteEncoder(r.Key)
	}
	if r.Value != nil {
		msg.Value = sarama.ByteEncoder(r.Value)
	}
	msg.Headers = make([]sarama.RecordHeader, 0, len(r.Headers)+2)
	return msg
}

// newMessage builds the record to produce to topic: key, value, headers
// and timestamp kept, mqops-replay-source and mqops-run-id set (replacing
// those of an earlier move). The partition is left to the caller.
func newMessage(r *backends.KafkaRecord, topic, runID string) *sarama.ProducerMessage {
	msg := baseMessage(r, topic)
	for _, h := range r.Headers {
		if h.Key == HeaderReplaySource || h.Key == HeaderRunID {
			continue
		}
		msg.Headers = append(msg.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
	}
	msg.Headers = append(msg.Headers, sarama.RecordHeader{Key: []byte(HeaderReplaySource), Value: fmt.Appendf(nil, "%s/%d/%d", r.Topic, r.Partition, r.Offset)})
	if runID != "" {
		msg.Headers = append(msg.Headers, sarama.RecordHeader{Key: []byte(HeaderRunID), Value: []byte(runID)})
	}
	return msg
}

// message builds the record to produce to topic (newMessage), at part, or
// by key for -1 or a partition the target does not have.
func (m *mover) message(r *backends.KafkaRecord, topic string, part int32, t *moveTarget) (*sarama.ProducerMessage, error) {
	msg := m.build(r, topic)
	if part < 0 || part >= t.parts {
		p, err := t.hash.Partition(msg, t.parts)
		if err != nil {
			return nil, err
		}
		part = p
	}
	msg.Partition = part
	msg.Metadata = &moveMeta{p: r.Partition, off: r.Offset, target: topic, tp: part}
	return msg, nil
}

func (m *mover) run(ctx context.Context, f *fetcher) (*backends.KafkaMoveResult, error) {
	// commits, continuously while records are acknowledged (the producers'
	// acknowledgements are read as each producer starts: producer)
	finish, commitDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(commitDone)
		var last time.Time
		for {
			select {
			case <-m.dirty:
			case <-finish:
				return
			}
			if wait := m.saveEvery - time.Since(last); m.saveEvery > 0 && wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-m.urgent:
				case <-finish: // run saves once more
					t.Stop()
					return
				}
				t.Stop()
			}
			last = time.Now()
			if err := m.commit(); err != nil {
				m.setErr(err)
			}
		}
	}()
	// progress
	progStop, progDone := make(chan struct{}), make(chan struct{})
	if m.o.Progress != nil {
		go func() {
			defer close(progDone)
			tick := time.NewTicker(progressEvery)
			defer tick.Stop()
			var last backends.KafkaMoveProgress
			for {
				select {
				case <-tick.C:
					p := m.progress()
					if p.Moved != last.Moved || p.Failed != last.Failed || p.Seen != last.Seen {
						m.o.Progress(p)
						last = p
					}
				case <-progStop:
					return
				}
			}
		}()
	} else {
		close(progDone)
	}

	reason, stopErr := m.feed(ctx, f)

	m.waitSettled()
	for _, p := range m.producers {
		p.prod.AsyncClose() // flushes what is still in flight; acks keep coming
	}
	m.mu.Lock()
	giveUp := m.unsettled > 0 // the wait ran out, or a target broker stopped answering
	m.mu.Unlock()
	for _, t := range m.targets {
		if t.sink != nil {
			t.sink.close(giveUp)
		}
	}
	m.ackers.Wait()
	for _, p := range m.producers {
		_ = p.cl.Close()
	}
	close(finish)
	<-commitDone
	// Records handed on that are neither confirmed nor known lost (a
	// produce failure, a producer that gave up): the next run produces the
	// partition one record at a time up to where this one handed records
	// on, so that what the target refuses fails alone and nothing is
	// produced twice past it.
	m.mu.Lock()
	for _, t := range m.parts {
		if len(t.pending) > 0 {
			t.serialUntil, t.markSerial = max(t.serialUntil, t.reader), true
		}
	}
	m.mu.Unlock()
	if err := m.commit(); err != nil { // final, whatever happened
		m.setErr(err)
	}
	close(progStop)
	<-progDone
	if m.o.Progress != nil {
		m.o.Progress(m.progress())
	}

	res := &backends.KafkaMoveResult{StoppedBecause: reason, BehindLogStart: m.st.behind}
	m.mu.Lock()
	res.Moved, res.Failed = m.moved, m.failed
	for _, t := range m.parts {
		base := max(t.committed, t.start)
		res.Left += int(max(0, t.end-base))
	}
	res.Oversized, res.OversizedCount = m.oversized, m.oversizedCount
	halted := m.halted
	asyncErr := m.err
	m.mu.Unlock()
	if stopErr == nil && asyncErr != nil {
		stopErr = asyncErr
	}
	if f := m.stalled(); f != nil && stopErr != nil {
		stopErr = f // the cause; the produce or commit errors follow from it
	}
	if stopErr != nil && reason != backends.KafkaStopCancelled {
		res.StoppedBecause = backends.KafkaStopError
	}
	if stopErr == nil && halted > 0 {
		res.StoppedBecause = backends.KafkaStopOversized
		stopErr = m.oversizedErr()
	}
	if stopErr == nil {
		return res, nil
	}
	return res, &Error{Op: fmt.Sprintf("moved %d of %d records from %s, then stopped; %s", res.Moved, m.total, backends.SafeText(m.o.Topic), m.stopNote(res)), Err: stopErr}
}

// oversizedErr says which partitions stopped before a record their target
// cannot take.
func (m *mover) oversizedErr() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var first *backends.KafkaOversized
	for i := range m.oversized {
		first = &m.oversized[i]
		break
	}
	if first == nil {
		return &Error{Op: fmt.Sprintf("%d partition(s) stopped before a record their target cannot take", m.halted)}
	}
	more := ""
	if m.halted > 1 {
		more = fmt.Sprintf(" (and %d more partition(s) stopped the same way)", m.halted-1)
	}
	return &Error{Op: fmt.Sprintf("%s%s; pass --skip-oversized to skip such records", OversizedText(m.o.Topic, first, "the partition stopped before it: nothing after it on that partition was produced"), more)}
}

// OversizedText says why a record of dlt cannot be moved, and then what.
func OversizedText(dlt string, ov *backends.KafkaOversized, then string) string {
	why := fmt.Sprintf("%d bytes, more than the %d bytes topic \"%s\" accepts (max.message.bytes)", ov.Size, ov.Limit, backends.SafeText(ov.Target))
	if ov.RefusedBy == backends.RefusedByProducer {
		why = fmt.Sprintf("%d bytes, within the %d bytes topic \"%s\" accepts by less than the producer's margin for its headers and lengths", ov.Size, ov.Limit, backends.SafeText(ov.Target))
	}
	return fmt.Sprintf("%s partition %d offset %d is %s: %s", backends.SafeText(dlt), ov.Partition, ov.Offset, why, then)
}

// feed reads the dead-letter topic and hands each record to the producer
// until the end, the limit, an error or ctx's end. A partition whose
// record produced alone is in flight is not read until it is acknowledged
// (see trackPart.serialUntil); a partition
// that reaches a record its target cannot take stops before it (or skips
// it, with SkipOversized).
func (m *mover) feed(ctx context.Context, f *fetcher) (string, error) {
	var ahead *aheadRound // the next round, fetched while this one is handled
	defer func() {
		if ahead != nil {
			ahead.wait()
		}
	}()
	for {
		var active []*fetchPart
		waiting := false
		for _, fp := range m.st.parts {
			switch {
			case !fp.active():
			case m.waiting(fp.p):
				waiting = true
			default:
				active = append(active, fp)
			}
		}
		if len(active) == 0 && !waiting {
			for _, fp := range m.st.parts {
				if fp.stuck {
					return backends.KafkaStopError, &Error{Op: fmt.Sprintf("%s partition %d: the broker returns no record between offsets %d and %d (batches emptied by compaction?); the records after them were not moved",
						backends.SafeText(fp.topic), fp.p, fp.next, fp.stop)}
				}
			}
			switch {
			case m.o.Limit > 0 && m.progress().Seen >= m.o.Limit:
				return backends.KafkaStopLimit, nil
			case m.o.Until != nil:
				return backends.KafkaStopPlan, nil
			}
			return backends.KafkaStopEnd, nil
		}
		if m.o.Limit > 0 && m.progress().Seen >= m.o.Limit {
			return backends.KafkaStopLimit, nil
		}
		if err := ctx.Err(); err != nil {
			return backends.KafkaStopCancelled, err
		}
		if err := m.failure(); err != nil {
			return backends.KafkaStopError, nil // reported by run
		}
		if err := m.stalled(); err != nil {
			return backends.KafkaStopError, err
		}
		if len(active) == 0 { // every partition left waits for an acknowledgement
			select {
			case <-m.serialAck:
			case <-m.rw.done():
			case <-m.pw.done():
			case <-ctx.Done():
			}
			continue
		}
		// the round fetched ahead while the last was handled, for the
		// partitions where it expected them; else a round now
		var res []fetched
		var err error
		if ahead != nil {
			res, err = ahead.take(func(fp *fetchPart) bool { return !m.waiting(fp.p) })
			ahead = nil
		}
		if err == nil && len(res) == 0 {
			res, err = f.round(ctx, active)
		}
		if err != nil {
			if ctx.Err() != nil {
				return backends.KafkaStopCancelled, ctx.Err()
			}
			return backends.KafkaStopError, err
		}
		ahead = f.ahead(ctx, active, nextRound(active, res))
		for _, r := range res {
			next := r.end // where the partition's next read starts
			for i := range r.recs {
				rec := &r.recs[i]
				if m.waiting(rec.Partition) {
					next = rec.Offset // the rest waits for the acknowledgement
					break
				}
				if m.o.Limit > 0 && m.progress().Seen >= m.o.Limit {
					return backends.KafkaStopLimit, nil
				}
				if err := ctx.Err(); err != nil {
					return backends.KafkaStopCancelled, err
				}
				if err := m.failure(); err != nil {
					return backends.KafkaStopError, nil
				}
				if err := m.stalled(); err != nil {
					return backends.KafkaStopError, err
				}
				if m.keep != nil && !m.keep(rec) {
					m.pass(rec.Partition, rec.Offset)
					continue
				}
				topic, part, err := m.o.Target(rec)
				if err == nil && topic == "" {
					err = errors.New("empty target topic")
				}
				if err != nil {
					m.countFailed()
					return backends.KafkaStopError, &Error{Op: "no target for " + m.where(rec), Err: err}
				}
				t, err := m.target(topic)
				if err != nil {
					m.countFailed()
					return backends.KafkaStopError, &Error{Op: "cannot move " + m.where(rec), Err: err}
				}
				var msg *sarama.ProducerMessage
				var sr *sinkRecord
				var ov *backends.KafkaOversized
				if t.sink != nil {
					sr, err = t.sink.record(rec, part)
				} else {
					msg, err = m.message(rec, topic, part, t)
				}
				if err != nil {
					m.countFailed()
					return backends.KafkaStopError, &Error{Op: "cannot move " + m.where(rec), Err: err}
				}
				if sr != nil {
					ov = t.sink.oversized(rec, sr)
				} else {
					ov = sizeCheck(rec, msg, topic, t.limit)
				}
				if ov != nil {
					m.noteOversized(ov, m.o.SkipOversized)
					if m.o.SkipOversized {
						continue
					}
					// nothing after it on this partition: it stops here
					r.fp.stop, next = rec.Offset, rec.Offset
					break
				}
				if err := m.waitSpace(ctx); err != nil {
					if ctx.Err() != nil {
						return backends.KafkaStopCancelled, ctx.Err()
					}
					return backends.KafkaStopError, nil
				}
				if m.o.Wait != nil {
					if err := m.o.Wait(ctx); err != nil {
						if ctx.Err() != nil {
							return backends.KafkaStopCancelled, ctx.Err()
						}
						return backends.KafkaStopError, &Error{Op: "rate limiter", Err: err}
					}
				}
				ok, alone := m.add(rec.Partition, rec.Offset)
				if !ok {
					return backends.KafkaStopError, nil // a failure: reported by run
				}
				if sr != nil {
					t.sink.add(sr, alone)
					continue
				}
				select {
				case t.prod.prod.Input() <- msg:
				case <-ctx.Done():
					m.unadd(rec.Partition, rec.Offset)
					return backends.KafkaStopCancelled, ctx.Err()
				}
			}
			r.fp.next = next
			m.skipTo(r.fp.p, next)
			if m.keep != nil {
				signal(m.dirty) // records passed over move the position too
			}
		}
	}
}

// where names a record of the source in errors.
func (m *mover) where(rec *backends.KafkaRecord) string {
	return fmt.Sprintf("%s partition %d offset %d", backends.SafeText(m.o.Topic), rec.Partition, rec.Offset)
}

// stalled returns the stall that tripped w in place of err, the error it
// caused; err when w did not trip.
func stalled(w *watch, err error) error {
	if f := w.failure(); f != nil && err != nil {
		return f
	}
	return err
}

// commitMetadata is the metadata committed with the drain group's offsets:
// the run id, cut to stay far below the broker's offset.metadata.max.bytes,
// and, while the commit is below it, serialUntil (trackPart).
func commitMetadata(runID string, pos, serialUntil int64) string {
	if len(runID) > 256 {
		runID = runID[:256]
	}
	if serialUntil > pos {
		return runID + serialMark + strconv.FormatInt(serialUntil, 10)
	}
	return runID
}

// serialMark ends the commit metadata of a partition whose records up to
// an offset the next run produces one at a time.
const serialMark = " serial-until="

// serialUntilOf reads the offset of serialMark in commit metadata, 0 when
// there is none.
func serialUntilOf(meta string) int64 {
	i := strings.LastIndex(meta, serialMark)
	if i < 0 {
		return 0
	}
	n, err := strconv.ParseInt(meta[i+len(serialMark):], 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func (m *mover) countFailed() {
	m.mu.Lock()
	m.failed++
	m.mu.Unlock()
}
