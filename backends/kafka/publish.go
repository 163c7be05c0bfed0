package kafka

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/mqops/mqops/backends"
)

// Publish (a resend of the application's pending rows, a republish of its
// retry rows) produces on the replay's idempotent producer (replay_sink.go):
// acks=all, one producer id, per partition one batch in flight at a time,
// numbered, and a batch that failed with a retriable error sent again with
// the same sequence numbers. The producer is kept between calls (a resend
// publishes batch after batch), so a run of calls uses one producer id;
// any failure, a broker given up, or publisherIdle without a call drops it,
// and the next call starts a new one.

// publisherIdle is how long Publish's producer is kept without a call:
// far below the broker's connections.max.idle.ms (10 minutes) and its
// producer.id.expiration.ms (a day), so the broker still knows the
// producer's sequence numbers when the next call comes.
const publisherIdle = time.Minute

// errNotConfirmed is the result of a message the broker did not confirm
// before the call ended (cancelled, or a broker given up).
var errNotConfirmed = errors.New("not confirmed by the broker")

// publisher is Publish's producer, kept between calls.
type publisher struct {
	*sinkProducer
	ad   sarama.ClusterAdmin // on the producer's client (closing it closes the client)
	seqs map[string]map[int32]int32
	idle *time.Timer // drops the publisher publisherIdle after its last call
}

func (p *publisher) close() {
	p.idle.Stop()
	_ = p.ad.Close()
}

// Publish produces msgs, each to its Target.Topic, and returns one result
// per message, in the order of msgs: Err nil only for a record the broker
// acknowledged (acks=all, idempotent producer).
//
//   - A message with a key goes to the partition the Java client's
//     murmur2 gives (toPositive(murmur2(key)) % partitions); messages of one
//     key stay in the order of msgs (a failed record fails every later one
//     of its partition unsent). Messages without a key stick to one random
//     partition per topic until a batch's worth went there.
//   - Headers are msg.Headers, in order, repeats kept. A Kafka record has no
//     message-id property: the caller puts the message id in a header
//     (store.MessageIDHeader). An empty value is sent empty, never null (a
//     null value would be a tombstone on a compacted topic).
//   - An unknown topic fails its messages ("unknown topic"); a record larger
//     than its topic's max.message.bytes fails alone, naming both sizes,
//     and is not sent.
//   - Each request to a broker is bounded by the client's timeout: a broker
//     that stops answering fails what it was to store within it. A
//     cancelled ctx ends the call at once; what was not confirmed then is an
//     error (it may still have been stored: a later resend is a duplicate,
//     never a loss).
//
// Calls on one client run one at a time.
func (c *Client) Publish(ctx context.Context, msgs []backends.OutgoingMessage) []backends.PublishResult {
	res := make([]backends.PublishResult, len(msgs))
	todo := 0
	for i := range msgs {
		m := &msgs[i]
		res[i].ID = m.ID
		switch {
		case m.Target.Broker != "kafka":
			res[i].Err = &Error{Op: fmt.Sprintf("message %s is routed to %s, not to Kafka", backends.SafeText(m.ID), backends.SafeText(m.Target.String()))}
		case m.Target.Topic == "":
			res[i].Err = &Error{Op: fmt.Sprintf("message %s has no topic", backends.SafeText(m.ID))}
		default:
			res[i].Err = errNotConfirmed
			todo++
		}
	}
	if todo == 0 {
		return res
	}
	failAll := func(err error) []backends.PublishResult {
		for i := range res {
			if res[i].Err == errNotConfirmed {
				res[i].Err = err
			}
		}
		return res
	}
	if ctx.Err() != nil {
		return failAll(c.ctxErr(ctx, "publishing to "+c.name))
	}
	// one call at a time, and none waits past its ctx for another
	if err := c.lock(ctx, &c.pubMu, "publish"); err != nil {
		return failAll(err)
	}
	defer c.pubMu.Unlock()
	p, err := c.publisherFor(ctx)
	if err != nil {
		return failAll(err)
	}
	if ok := c.publish(ctx, p, msgs, res); !ok || !p.pw.healthy() {
		p.close()
		c.pub = nil
		return res
	}
	p.idle.Reset(publisherIdle)
	return res
}

// publisherFor returns the kept publisher, or starts one; c.pubMu is held.
func (c *Client) publisherFor(ctx context.Context) (*publisher, error) {
	if p := c.pub; p != nil {
		if p.idle.Stop() && p.pw.healthy() && !p.cl.Closed() {
			return p, nil
		}
		p.close() // dropped for idleness meanwhile (or about to be)
		c.pub = nil
	}
	pw := newWatch(c.cfg.Timeout, false)
	type started struct {
		p   *sinkProducer
		ad  sarama.ClusterAdmin
		err error
	}
	done := make(chan started, 1)
	go func() {
		sp, err := c.startProducer(pw)
		if err != nil {
			done <- started{err: err}
			return
		}
		ad, err := sarama.NewClusterAdminFromClient(sp.cl)
		if err != nil {
			_ = sp.cl.Close()
			done <- started{err: c.explain(stalled(pw, err))}
			return
		}
		done <- started{p: sp, ad: ad}
	}()
	var s started
	select {
	case s = <-done:
	case <-ctx.Done():
		err := c.ctxErr(ctx, "starting a producer on "+c.name)
		pw.trip(err) // its connections closed: the start ends at once
		go func() {
			if s := <-done; s.ad != nil {
				_ = s.ad.Close()
			}
		}()
		return nil, err
	}
	if s.err != nil {
		return nil, s.err
	}
	p := &publisher{sinkProducer: s.p, ad: s.ad, seqs: map[string]map[int32]int32{}}
	p.idle = time.AfterFunc(publisherIdle, func() { c.dropIdlePublisher(p) })
	c.pub = p
	return p, nil
}

// dropIdlePublisher closes p when it is still the kept publisher and no
// call is using it (one that is resets its timer when it ends).
func (c *Client) dropIdlePublisher(p *publisher) {
	if !c.pubMu.TryLock() {
		return
	}
	defer c.pubMu.Unlock()
	if c.pub == p {
		p.close()
		c.pub = nil
	}
}

// closePublisher closes the kept publisher (Close), without waiting for a
// call in progress: that call's end closes it then.
func (c *Client) closePublisher() {
	if !c.pubMu.TryLock() {
		go func() {
			c.pubMu.Lock()
			defer c.pubMu.Unlock()
			if c.pub != nil {
				c.pub.close()
				c.pub = nil
			}
		}()
		return
	}
	defer c.pubMu.Unlock()
	if c.pub != nil {
		c.pub.close()
		c.pub = nil
	}
}

// publishTopic is one topic of a Publish call.
type publishTopic struct {
	sink   *replaySink
	hash   sarama.Partitioner
	keyMsg sarama.ProducerMessage
	sticky int32 // the partition of messages without a key, -1: none yet
	filled int   // bytes sent to sticky
}

// publish produces msgs (those whose res is errNotConfirmed) through p and
// fills res. It returns false when anything failed: p is not to be used
// again (a partition's sequence numbers are unsure after a failure).
func (c *Client) publish(ctx context.Context, p *publisher, msgs []backends.OutgoingMessage, res []backends.PublishResult) bool {
	var mu sync.Mutex // res is written by the partitions' sending goroutines
	failed := false
	onAck := func(recs []*sinkRecord) {
		mu.Lock()
		for _, r := range recs {
			res[r.off].Err = nil
		}
		mu.Unlock()
	}
	onFail := func(recs []*sinkRecord, topic string, err error) {
		mu.Lock()
		failed = true
		for _, r := range recs {
			res[r.off].Err = &Error{Op: fmt.Sprintf("publishing message %s to %s partition %d", backends.SafeText(msgs[r.off].ID), backends.SafeText(topic), r.tp),
				Err: stalled(p.pw, err)}
		}
		mu.Unlock()
	}
	// a message refused before it is sent (unknown topic, too large)
	// leaves the producer as it was
	refuse := func(i int, err error) {
		mu.Lock()
		res[i].Err = err
		mu.Unlock()
	}

	// the topics' partitions and limits, read now (a topic may have grown)
	var names []string
	seen := map[string]bool{}
	for i := range msgs {
		if t := msgs[i].Target.Topic; res[i].Err == errNotConfirmed && !seen[t] {
			seen[t] = true
			names = append(names, t)
		}
	}
	var infos map[string]*topicInfo
	lim := newLimits(p.ad)
	if err := c.bounded(ctx, p.pw, func() (err error) {
		if infos, err = c.topicInfos(p.cl, names); err != nil {
			return err
		}
		for _, t := range names {
			if ti := infos[t]; ti != nil && len(ti.parts) > 0 {
				lim.of(t)
			}
		}
		return nil
	}); err != nil {
		for i := range res {
			if res[i].Err == errNotConfirmed {
				res[i].Err = err
			}
		}
		return false
	}

	topics := map[string]*publishTopic{}
	var sinks []*replaySink
	for _, t := range names {
		ti := infos[t]
		if ti == nil || len(ti.parts) == 0 {
			continue
		}
		limit, ok := lim.of(t)
		if !ok {
			continue // deleted meanwhile: unknown
		}
		seqs := p.seqs[t]
		if seqs == nil {
			seqs = map[int32]int32{}
			p.seqs[t] = seqs
		}
		pt := &publishTopic{sink: newSink(p.sinkProducer, t, int32(len(ti.parts)), limit, seqs, onAck, onFail), hash: sarama.NewMurmur2Partitioner(t), sticky: -1}
		topics[t] = pt
		sinks = append(sinks, pt.sink)
	}

	now := time.Now()
	for i := range msgs {
		m := &msgs[i]
		if res[i].Err != errNotConfirmed {
			continue
		}
		pt := topics[m.Target.Topic]
		if pt == nil {
			refuse(i, &Error{Op: fmt.Sprintf("unknown topic \"%s\": message %s not published", backends.SafeText(m.Target.Topic), backends.SafeText(m.ID))})
			continue
		}
		sr := pt.record(m, i, now)
		if size := replayRecordSize(sr.fixed); size > pt.sink.limit {
			refuse(i, &Error{Op: fmt.Sprintf("message %s is %d bytes as a record, more than topic \"%s\" takes (max.message.bytes %d): not published",
				backends.SafeText(m.ID), size, backends.SafeText(m.Target.Topic), pt.sink.limit)})
			continue
		}
		if err := pt.partition(m, sr); err != nil {
			refuse(i, &Error{Op: "partitioning message " + backends.SafeText(m.ID), Err: err})
			continue
		}
		pt.sink.add(sr, false)
	}

	// wait for the answers; a cancelled ctx cuts off what is in flight
	done := make(chan struct{})
	go func() {
		for _, s := range sinks {
			s.finish(false)
		}
		for _, s := range sinks {
			s.wg.Wait()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		err := c.ctxErr(ctx, "publishing to "+c.name)
		for _, s := range sinks {
			s.finish(true)
		}
		p.pw.trip(err) // in-flight requests end with an error at once
		<-done
		mu.Lock()
		for i := range res {
			if res[i].Err == errNotConfirmed {
				res[i].Err = err
			}
		}
		failed = true
		mu.Unlock()
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range res {
		if res[i].Err == errNotConfirmed { // never sent (a partition given up)
			failed = true
		}
	}
	if failed {
		return false
	}
	// the next call goes on from each partition's next sequence number
	for _, pt := range topics {
		s := pt.sink
		s.mu.Lock()
		for part, sp := range s.byPart {
			s.seqs[part] = sp.seq
		}
		s.mu.Unlock()
	}
	return true
}

// record builds message m (index i of the call) as a record, timestamped
// now.
func (pt *publishTopic) record(m *backends.OutgoingMessage, i int, now time.Time) *sinkRecord {
	value := m.Value
	if value == nil {
		value = emptyBytes
	}
	sr := &sinkRecord{off: int64(i), ts: now.Truncate(time.Millisecond), fixed: publishFixedBytes(m.Key, value, m.Headers)}
	if n := len(m.Headers); n > 0 {
		hs := make([]*sarama.RecordHeader, n)
		vals := make([]sarama.RecordHeader, n)
		for j, h := range m.Headers {
			vals[j] = sarama.RecordHeader{Key: unsafeBytes(h.Key), Value: unsafeBytes(h.Value)}
			hs[j] = &vals[j]
		}
		sr.rec.Headers = hs
	}
	sr.rec.Key, sr.rec.Value = m.Key, value
	return sr
}

// partition sets sr's partition: by murmur2 of the key, or the sticky
// partition for a message without one.
func (pt *publishTopic) partition(m *backends.OutgoingMessage, sr *sinkRecord) error {
	if m.Key == nil {
		if pt.sticky < 0 || pt.filled >= sinkBatchBytes {
			pt.sticky, pt.filled = rand.Int32N(pt.sink.parts), 0
		}
		pt.filled += sr.fixed
		sr.tp = pt.sticky
		return nil
	}
	pt.keyMsg.Key = sarama.ByteEncoder(m.Key)
	part, err := pt.hash.Partition(&pt.keyMsg, pt.sink.parts)
	sr.tp = part
	return err
}

// publishFixedBytes is what the body of a record holds besides its
// attributes and its offset and timestamp deltas (see replayFixedBytes).
func publishFixedBytes(key, value []byte, headers []backends.StoreHeader) int {
	n := bytesLen(key) + bytesLen(value) + varintLen(int64(len(headers)))
	for _, h := range headers {
		n += varintLen(int64(len(h.Key))) + len(h.Key) + varintLen(int64(len(h.Value))) + len(h.Value)
	}
	return n
}

// bounded runs fn, requests on connections w watches, and returns early
// when ctx ends (w is tripped: fn's requests end at once) or a broker
// stops answering.
func (c *Client) bounded(ctx context.Context, w *watch, fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		if err != nil {
			return c.explain(stalled(w, err))
		}
		return nil
	case <-ctx.Done():
		err := c.ctxErr(ctx, "contacting "+c.name)
		w.trip(err)
		<-done
		return err
	}
}
