package kafka

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/IBM/sarama"

	"github.com/mqops/mqops/backends"
)

// A replay produces through its own idempotent producer, built on sarama's
// wire types (InitProducerId, Produce with record batches of magic v2),
// rather than through sarama's AsyncProducer: a replay hands on hundreds
// of thousands of records a second, and the AsyncProducer moves each one
// through five goroutines and back, and builds it twice (a ProducerMessage,
// then a Record). The replay sink builds each record once, batches them per
// target partition up to the target's max.message.bytes (measured exactly,
// as the broker measures a batch), and acknowledges a whole batch at once.
//
// Its guarantees are those of Kafka's idempotent producer with acks=all:
//
//   - one producer id for the run; per target partition, each batch carries
//     the sequence number of its first record, and one batch at a time is in
//     flight, so the broker appends them in order, once each;
//   - a batch that failed with a retriable error (a leader that moved, a
//     request timed out, a connection lost, not enough replicas) is sent
//     again, the same batch with the same sequence numbers, after a metadata
//     refresh and a backoff: the broker recognizes a batch it already
//     appended (DUPLICATE_SEQUENCE_NUMBER, or its earlier answer) and does
//     not append it twice;
//   - any other error (a record refused, an unknown producer id, an
//     authorization failure), or the retries running out, fails the batch,
//     and every batch of that partition after it: none of them is
//     confirmed, so the checkpoint never passes them;
//   - a broker that stops answering fails the run within the timeout (the
//     connections are watched, as all of mqops' are).

// sinkBatchBytes bounds a batch (within the target's max.message.bytes):
// large enough that a request carries many records, small enough that a
// batch does not wait long to fill.
const sinkBatchBytes = 1 << 20

// sinkOpenRequests is the number of requests a replay's producer keeps in
// flight on one broker connection (one per target partition at most).
const sinkOpenRequests = 8

// errNotProduced fails the batches of a partition queued behind a batch
// that failed: they were never sent.
var errNotProduced = errors.New("not produced: an earlier batch of the partition failed")

// Header keys as bytes, and an empty key that stays empty (a nil one is
// encoded as null).
var (
	replayRunKey    = []byte(HeaderReplayRun)
	replaySourceKey = []byte(HeaderReplaySource)
	emptyBytes      = []byte{}
)

// sinkProducer is an idempotent producer on sarama's wire types: its own
// client, whose connections pw watches, and a producer id. A replay has one
// for its run; Publish keeps one between calls (publish.go), shared by the
// sinks of its topics (sequence numbers are per topic partition).
type sinkProducer struct {
	cl      sarama.Client
	pw      *watch
	pid     int64
	epoch   int16
	timeout int32 // the broker's wait for the replicas, ms
	retries int
	backoff time.Duration
}

// startProducer connects a sinkProducer's client (the connections watched
// by pw) and asks for its producer id.
func (c *Client) startProducer(pw *watch) (*sinkProducer, error) {
	cfg := c.sinkConfig(pw)
	cl, err := sarama.NewClient(c.cfg.Brokers, cfg)
	if err != nil {
		return nil, c.explain(stalled(pw, err))
	}
	p := &sinkProducer{cl: cl, pw: pw, timeout: int32(cfg.Producer.Timeout / time.Millisecond), retries: cfg.Producer.Retry.Max, backoff: cfg.Producer.Retry.Backoff}
	if p.pid, p.epoch, err = initProducerID(cl, p.retries, p.backoff); err != nil {
		_ = cl.Close()
		return nil, stalled(pw, &Error{Op: "starting the producer (InitProducerId)", Err: err})
	}
	return p, nil
}

// replaySink produces records to one topic through a sinkProducer: a
// replay's records to its target topic, or the messages of a Publish call
// to one of their topics. It tells onAck of the records the broker
// confirmed and onFail of those that failed, a batch at a time, from the
// partition's sending goroutine.
type replaySink struct {
	*sinkProducer
	onAck   func(recs []*sinkRecord)
	onFail  func(recs []*sinkRecord, topic string, err error)
	topic   string
	parts   int32
	limit   int // the target's max.message.bytes
	maxSize int // of a batch: min(limit, sinkBatchBytes)
	// seqs are the first sequence numbers of the partitions (a producer id
	// used before, by an earlier Publish call); nil: 0.
	seqs   map[int32]int32
	run    *sarama.RecordHeader // mqops-replay-run, shared by every record (a replay)
	runID  string
	hash   sarama.Partitioner
	keyMsg sarama.ProducerMessage // what the partitioner reads (feed's goroutine only)

	mu      sync.Mutex
	byPart  map[int32]*sinkPart
	closing bool
	quit    chan struct{} // closed when the run gives up on what is left
	wg      sync.WaitGroup
}

// sinkPart is one target partition: the batch being filled, the batches
// full and waiting, and whether one is being sent.
type sinkPart struct {
	p       int32
	open    *sinkBatch
	ready   []*sinkBatch
	sending bool
	failed  bool
	seq     int32
	wake    chan struct{}
}

type sinkBatch struct {
	recs  []*sinkRecord
	size  int       // as the broker measures it: header and records
	first time.Time // the first record's timestamp
	maxTs time.Duration
	seq   int32
}

// sinkRecord is a record as it is produced, with where it comes from.
type sinkRecord struct {
	rec   sarama.Record
	src   sarama.RecordHeader
	ts    time.Time
	fixed int // body bytes besides attributes and deltas (replayFixedBytes)
	p     int32
	off   int64
	tp    int32
}

// newReplaySink starts the producer of a replay to topic (parts
// partitions, max.message.bytes limit): its own client, on the producing
// watch, and a producer id.
func (m *mover) newReplaySink(topic string, parts int32, limit int) (*replaySink, error) {
	p, err := m.c.startProducer(m.pw)
	if err != nil {
		return nil, err
	}
	s := newSink(p, topic, parts, limit, nil, m.ackRecords, m.failRecords)
	s.runID = m.o.RunID
	s.run = &sarama.RecordHeader{Key: replayRunKey, Value: []byte(m.o.RunID)}
	return s, nil
}

// newSink is a sink producing to topic (parts partitions, max.message.bytes
// limit) through p, each partition's sequence numbers starting at seqs.
func newSink(p *sinkProducer, topic string, parts int32, limit int, seqs map[int32]int32,
	onAck func([]*sinkRecord), onFail func([]*sinkRecord, string, error)) *replaySink {
	return &replaySink{sinkProducer: p, onAck: onAck, onFail: onFail, topic: topic, parts: parts, limit: limit, maxSize: max(1, min(limit, sinkBatchBytes)),
		seqs: seqs, hash: sarama.NewMurmur2Partitioner(topic), byPart: map[int32]*sinkPart{}, quit: make(chan struct{})}
}

// sinkConfig is the configuration of a replay sink's client: the
// connections watched, acks=all within half the timeout (the broker answers
// a produce it cannot replicate in time with REQUEST_TIMED_OUT, retried,
// before the read times out), the retries of produceConfig.
func (c *Client) sinkConfig(pw *watch) *sarama.Config {
	cfg := c.saramaConfig(pw)
	cfg.Metadata.AllowAutoTopicCreation = false
	cfg.Metadata.Retry.Max = 3
	cfg.Net.MaxOpenRequests = sinkOpenRequests
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Timeout = c.cfg.Timeout / 2
	cfg.Producer.Retry.Max = 5
	cfg.Producer.Retry.Backoff = 250 * time.Millisecond
	return cfg
}

// initProducerID asks a broker for a producer id (idempotence without
// transactions), retrying errors the broker says are passing.
func initProducerID(cl sarama.Client, retries int, backoff time.Duration) (int64, int16, error) {
	var last error
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			time.Sleep(backoff)
		}
		b := cl.LeastLoadedBroker()
		if b == nil {
			return 0, 0, sarama.ErrOutOfBrokers
		}
		_ = b.Open(cl.Config())
		// version lowered to what the broker supports; -1, -1: a new id
		res, err := b.InitProducerID(&sarama.InitProducerIDRequest{Version: 4, ProducerID: -1, ProducerEpoch: -1})
		switch {
		case err != nil:
			if peerGivenUp(err) {
				return 0, 0, err
			}
			_ = b.Close()
			last = err
		case errors.Is(res.Err, sarama.ErrNoError):
			return res.ProducerID, res.ProducerEpoch, nil
		case errors.Is(res.Err, sarama.ErrConsumerCoordinatorNotAvailable) || errors.Is(res.Err, sarama.ErrNotCoordinatorForConsumer) ||
			errors.Is(res.Err, sarama.ErrOffsetsLoadInProgress) || errors.Is(res.Err, sarama.ErrRequestTimedOut):
			last = res.Err
		default:
			return 0, 0, res.Err
		}
	}
	return 0, 0, last
}

// unsafeBytes is s as bytes, without a copy: only read (encoded), never
// written. An empty s gives an empty slice, not nil (a header key is never
// null).
func unsafeBytes(s string) []byte {
	if s == "" {
		return emptyBytes
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// unsafeString is b as a string, without a copy: b is never written
// (a fetch's buffer).
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// replaySourceValue is the value of the mqops-replay-source header of r:
// topic/partition/offset.
func replaySourceValue(buf []byte, r *backends.KafkaRecord) []byte {
	buf = append(buf, r.Topic...)
	buf = append(buf, '/')
	buf = strconv.AppendInt(buf, int64(r.Partition), 10)
	buf = append(buf, '/')
	return strconv.AppendInt(buf, r.Offset, 10)
}

// replayFixedBytes is what the body of r as replayed holds besides its
// attributes and its offset and timestamp deltas: key, value, the header
// count, its headers and the two a replay adds (run id runID).
func replayFixedBytes(r *backends.KafkaRecord, runID string) int {
	var buf [24]byte
	digits := len(strconv.AppendInt(buf[:0], int64(r.Partition), 10)) + len(strconv.AppendInt(buf[:0], r.Offset, 10))
	n := bytesLen(r.Key) + bytesLen(r.Value) + varintLen(int64(len(r.Headers)+2)) +
		varintLen(int64(len(HeaderReplayRun))) + len(HeaderReplayRun) + varintLen(int64(len(runID))) + len(runID) +
		varintLen(int64(len(HeaderReplaySource))) + len(HeaderReplaySource) + varintLen(int64(len(r.Topic)+2+digits)) + len(r.Topic) + 2 + digits
	for _, h := range r.Headers {
		n += varintLen(int64(len(h.Key))) + len(h.Key) + bytesLen(h.Value)
	}
	return n
}

// replayRecordSize is the size of a record batch holding only r as
// replayed (what the broker measures against max.message.bytes), from its
// replayFixedBytes.
func replayRecordSize(fixed int) int {
	body := 1 + 1 + 1 + fixed // attributes, timestamp and offset deltas 0
	return batchHeaderBytes + varintLen(int64(body)) + body
}

// replayOversized says whether r as replayed is larger than the target's
// limit, nil when it fits.
func replayOversized(r *backends.KafkaRecord, fixed int, target string, limit int) *backends.KafkaOversized {
	size := replayRecordSize(fixed)
	if size <= limit {
		return nil
	}
	return &backends.KafkaOversized{Partition: r.Partition, Offset: r.Offset, Size: size, Limit: limit, Target: target, RefusedBy: backends.RefusedByTopic}
}

// record builds r as it is produced, to partition part of the target, or
// by key (Kafka's default partitioner) for -1 or a partition the target
// does not have. Called from the feeding goroutine only.
func (s *replaySink) record(r *backends.KafkaRecord, part int32) (*sinkRecord, error) {
	if part < 0 || part >= s.parts {
		s.keyMsg.Key = nil
		if r.Key != nil {
			s.keyMsg.Key = sarama.ByteEncoder(r.Key)
		}
		p, err := s.hash.Partition(&s.keyMsg, s.parts)
		if err != nil {
			return nil, err
		}
		part = p
	}
	sr := &sinkRecord{p: r.Partition, off: r.Offset, tp: part, ts: r.Timestamp, fixed: replayFixedBytes(r, s.runID)}
	if sr.ts.IsZero() {
		sr.ts = time.Now() // as sarama's producer does
	}
	sr.ts = sr.ts.Truncate(time.Millisecond)
	n := len(r.Headers)
	hs := make([]*sarama.RecordHeader, n+2)
	if n > 0 {
		vals := make([]sarama.RecordHeader, n)
		for i, h := range r.Headers {
			vals[i] = sarama.RecordHeader{Key: unsafeBytes(h.Key), Value: h.Value}
			hs[i] = &vals[i]
		}
	}
	sr.src = sarama.RecordHeader{Key: replaySourceKey, Value: replaySourceValue(make([]byte, 0, len(r.Topic)+24), r)}
	hs[n], hs[n+1] = s.run, &sr.src
	sr.rec = sarama.Record{Key: r.Key, Value: r.Value, Headers: hs}
	return sr, nil
}

// oversized says whether sr, the record r as produced, is larger than the
// target takes.
func (s *replaySink) oversized(r *backends.KafkaRecord, sr *sinkRecord) *backends.KafkaOversized {
	return replayOversized(r, sr.fixed, s.topic, s.limit)
}

// add hands sr on: into its partition's batch, or alone in a batch of its
// own (a record produced one at a time, see trackPart.serialUntil). The
// mover registered it (add) before.
func (s *replaySink) add(sr *sinkRecord, alone bool) {
	s.mu.Lock()
	sp := s.byPart[sr.tp]
	if sp == nil {
		sp = &sinkPart{p: sr.tp, wake: make(chan struct{}, 1), seq: s.seqs[sr.tp]}
		s.byPart[sr.tp] = sp
		s.wg.Go(func() { s.send(sp) })
	}
	if sp.failed {
		s.mu.Unlock()
		s.onFail([]*sinkRecord{sr}, s.topic, errNotProduced)
		return
	}
	if alone && sp.open != nil {
		sp.ready, sp.open = append(sp.ready, sp.open), nil
	}
	b := sp.open
	var size int
	if b != nil {
		size = b.recordSize(sr)
		if b.size+size > s.maxSize {
			sp.ready, b = append(sp.ready, b), nil
		}
	}
	if b == nil {
		b = &sinkBatch{first: sr.ts, size: batchHeaderBytes}
		size = b.recordSize(sr)
		sp.open = b
	}
	sr.rec.OffsetDelta = int64(len(b.recs))
	sr.rec.TimestampDelta = sr.ts.Sub(b.first)
	b.maxTs = max(b.maxTs, sr.rec.TimestampDelta)
	b.recs = append(b.recs, sr)
	b.size += size
	if alone {
		sp.ready, sp.open = append(sp.ready, b), nil
	}
	idle := !sp.sending
	s.mu.Unlock()
	if idle {
		signal(sp.wake)
	}
}

// recordSize is the size of sr as the next record of b.
func (b *sinkBatch) recordSize(sr *sinkRecord) int {
	body := 1 + varintLen(int64(sr.ts.Sub(b.first)/time.Millisecond)) + varintLen(int64(len(b.recs))) + sr.fixed
	return varintLen(int64(body)) + body
}

// send produces partition sp's batches, one at a time, in order, until the
// sink closes.
func (s *replaySink) send(sp *sinkPart) {
	for {
		b := s.take(sp)
		if b == nil {
			return
		}
		if err := s.produce(sp.p, b); err != nil {
			// the batch's own error said first, before the partition is
			// failed: a record added meanwhile queues behind it and fails
			// after it, as not produced (the run's error is the cause)
			s.onFail(b.recs, s.topic, err)
			s.mu.Lock()
			sp.failed = true
			rest := sp.ready
			if sp.open != nil {
				rest = append(rest, sp.open)
			}
			sp.ready, sp.open = nil, nil
			s.mu.Unlock()
			for _, r := range rest {
				s.onFail(r.recs, s.topic, errNotProduced)
			}
			continue
		}
		s.onAck(b.recs)
	}
}

// take waits for sp's next batch (a full one, else the one being filled)
// and numbers its records; nil once the sink closes with nothing left, or
// gives up.
func (s *replaySink) take(sp *sinkPart) *sinkBatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp.sending = false
	for {
		var b *sinkBatch
		switch {
		case len(sp.ready) > 0:
			b, sp.ready = sp.ready[0], sp.ready[1:]
		case sp.open != nil:
			b, sp.open = sp.open, nil
		case s.closing:
			return nil
		}
		if b != nil {
			b.seq = sp.seq
			sp.seq = nextSequence(sp.seq, len(b.recs))
			sp.sending = true
			return b
		}
		s.mu.Unlock()
		select {
		case <-sp.wake:
		case <-s.quit:
		}
		s.mu.Lock()
		select {
		case <-s.quit:
			return nil
		default:
		}
	}
}

// nextSequence is the sequence number after n records from seq: Kafka's
// sequence numbers wrap to 0 after MaxInt32.
func nextSequence(seq int32, n int) int32 {
	return int32((int64(seq) + int64(n)) % (math.MaxInt32 + 1))
}

// produce sends batch b to partition p and waits for the broker's answer,
// sending it again on a retriable error. nil: the broker has it (now or
// from an earlier attempt).
func (s *replaySink) produce(p int32, b *sinkBatch) error {
	recs := make([]*sarama.Record, len(b.recs))
	for i, sr := range b.recs {
		recs[i] = &sr.rec
	}
	req := &sarama.ProduceRequest{RequiredAcks: sarama.WaitForAll, Timeout: s.timeout, Version: 10} // lowered to what the broker supports
	req.AddBatch(s.topic, p, &sarama.RecordBatch{Version: 2, ProducerID: s.pid, ProducerEpoch: s.epoch, FirstSequence: b.seq,
		FirstTimestamp: b.first, MaxTimestamp: b.first.Add(b.maxTs), LastOffsetDelta: int32(len(recs) - 1), Records: recs})
	for attempt := 0; ; attempt++ {
		err := s.produceOnce(p, req)
		if err == nil {
			return nil
		}
		if !retriableProduceErr(err) || attempt >= s.retries || s.pw.failure() != nil {
			return err
		}
		select {
		case <-time.After(s.backoff):
		case <-s.quit:
			return err
		}
		_ = s.cl.RefreshMetadata(s.topic)
	}
}

type produceAnswer struct {
	res *sarama.ProduceResponse
	err error
}

// produceOnce sends req to p's leader and reads the answer for p.
func (s *replaySink) produceOnce(p int32, req *sarama.ProduceRequest) error {
	b, err := s.cl.Leader(s.topic, p)
	if err != nil {
		return err
	}
	answer := make(chan produceAnswer, 1)
	// the callback runs on the connection's reading goroutine: hand the
	// answer over, nothing more
	if err := b.AsyncProduce(req, func(res *sarama.ProduceResponse, err error) { answer <- produceAnswer{res, err} }); err != nil {
		_ = b.Close() // reconnect next time
		return err
	}
	a := <-answer // the connection's read timeout bounds the wait
	if a.err != nil {
		_ = b.Close()
		return a.err
	}
	blk := a.res.GetBlock(s.topic, p)
	switch {
	case blk == nil:
		return sarama.ErrIncompleteResponse
	case errors.Is(blk.Err, sarama.ErrNoError), errors.Is(blk.Err, sarama.ErrDuplicateSequenceNumber):
		return nil // appended now, or by an earlier attempt
	case blk.ErrorMessage != nil && *blk.ErrorMessage != "":
		return fmt.Errorf("%w: %s", blk.Err, backends.SafeText(*blk.ErrorMessage))
	}
	return blk.Err
}

// retriableProduceErr says whether a batch that failed with err is sent
// again: the errors sarama's producer retries, and a connection lost (not a
// broker that stopped answering: the watch gave it up).
func retriableProduceErr(err error) bool {
	var kerr sarama.KError
	if errors.As(err, &kerr) {
		switch kerr {
		case sarama.ErrInvalidMessage, sarama.ErrUnknownTopicOrPartition, sarama.ErrLeaderNotAvailable, sarama.ErrNotLeaderForPartition,
			sarama.ErrRequestTimedOut, sarama.ErrNotEnoughReplicas, sarama.ErrNotEnoughReplicasAfterAppend, sarama.ErrKafkaStorageError:
			return true
		}
		return false
	}
	return !peerGivenUp(err) && !errors.Is(err, sarama.ErrClosedClient)
}

// close sends what is left and waits for the answers, then closes the
// client. With giveUp, what is not sent yet stays unsent and what is in
// flight is cut off (its records are neither confirmed nor saved).
func (s *replaySink) close(giveUp bool) {
	s.finish(giveUp)
	if giveUp {
		_ = s.cl.Close() // in-flight requests end with an error
		s.wg.Wait()
		return
	}
	s.wg.Wait()
	_ = s.cl.Close()
}

// finish tells the sending goroutines that nothing more comes: they send
// what is left and end, or with giveUp end without sending what is not
// sent yet. Wait for them with s.wg.
func (s *replaySink) finish(giveUp bool) {
	s.mu.Lock()
	s.closing = true
	for _, sp := range s.byPart {
		signal(sp.wake)
	}
	if giveUp {
		select {
		case <-s.quit:
		default:
			close(s.quit)
		}
	}
	s.mu.Unlock()
}
