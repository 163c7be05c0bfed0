package rabbitmq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/mqops/mqops/backends"
)

// MoveTarget is where one message goes: an exchange ("" is the default
// exchange, whose routing key names a queue) and a routing key.
type MoveTarget struct {
	Exchange   string
	RoutingKey string
}

// MoveDecision is what Move does with one message.
type MoveDecision int

// Decision is the former name of MoveDecision.
type Decision = MoveDecision

const (
	// Move publishes the message to its target and removes it from the
	// source once the target confirmed it.
	Move MoveDecision = iota
	// Skip leaves the message in the source, in its place.
	Skip
	// Stop ends the move; the message stays in the source.
	Stop
)

// Headers mqops adds to a moved message. The death history, the move
// counter and the run id replace the x- headers, which are not copied
// (RabbitMQ 3.13+ and 4.x ignore or refuse client-set x- headers).
const (
	HeaderDeathHistory = "mqops-death-history" // JSON array of backends.Death, most recent first
	HeaderMoveCount    = "mqops-move-count"    // how many times mqops moved the message
	HeaderRunID        = "mqops-run-id"        // the run that moved it last
	HeaderMovedFrom    = "mqops-moved-from"    // vhost/queue it was moved out of
	// headerSeq correlates a basic.return with its publish.
	headerSeq = "mqops-move-seq"
)

// Move limits.
const (
	DefaultPrefetch = 1000
	MaxPrefetch     = 10_000
	// maxUnacked is the AMQP prefetch limit (a 16-bit count).
	maxUnacked = 65_535
	// maxSkipped bounds the skipped messages a run holds unacknowledged.
	maxSkipped = 1_000_000
	// DefaultIdle ends a move when no message arrives for this long.
	DefaultIdle = 5 * time.Second
)

// MoveOptions configures Move.
type MoveOptions struct {
	Vhost, Queue string
	// Prefetch bounds the messages in flight: delivered and published but
	// not yet confirmed by the target and acknowledged in the source
	// (default 1,000, at most 10,000). It is the most a crash can duplicate,
	// and what makes a move fast (1,000, the shovel's default, keeps up
	// with RabbitMQ's own shovel). The broker delivers up to as many again
	// ahead of the window; those are not published yet, so a crash only
	// redelivers them.
	Prefetch int
	// Limit stops after this many messages seen (0: the depth at start).
	Limit int
	// RunID is put in the mqops-run-id header of every moved message; a
	// message arriving with it came round again, and stops the move.
	// Empty: a random one.
	RunID string
	// Decide filters and routes each message (required). An error stops
	// the move, leaving the message in the source.
	Decide func(m *backends.Message) (MoveDecision, MoveTarget, error)
	// Sink, when set, replaces publishing: it must have stored the message
	// durably when it returns nil (the source is acknowledged then).
	Sink func(ctx context.Context, m *backends.Message) error
	// Wait is called before each publish (rate limit).
	Wait func(ctx context.Context) error
	// Progress is called at most ~10 times a second, and at the end.
	Progress func(MoveProgress)
	// Idle ends the move when no message arrives for this long while
	// messages are still expected (default 5s): someone else consumed them.
	Idle time.Duration
}

// MoveProgress is a progress report.
type MoveProgress struct {
	Moved, Skipped, Failed, Seen, Total int
	Elapsed                             time.Duration
}

// MoveResult is how a move ended.
type MoveResult struct {
	Moved   int // confirmed by the target (or stored by the sink) and acknowledged
	Skipped int // left in place by Decide
	Failed  int // returned, refused, or rejected by Decide or the sink: left in the source
	Seen    int
	Total   int // messages to see: the depth at start, or the limit
	// Left is the source's depth at the end as the broker counts it (-1:
	// unknown).
	Left           int
	StoppedBecause string
	Elapsed        time.Duration
	// Err is the error Move returned, if any.
	Err error
}

type inflight struct {
	tag    uint64 // source delivery tag
	seq    uint64 // publish sequence (headerSeq)
	conf   *amqp.DeferredConfirmation
	index  int // 0-based position in the run
	target MoveTarget
	id     string // message id
}

// mover is one run of Move.
type mover struct {
	c     *Client
	o     MoveOptions
	res   *MoveResult
	start time.Time
	depth int // ready messages at start

	src, dst   *amqp.Connection
	chC, chP   *amqp.Channel
	tag        string               // the current consumer's
	consumers  int                  // how many replaced the first
	deliveries <-chan amqp.Delivery // of the current consumer, or of one being drained
	next       <-chan amqp.Delivery // the successor's, while the previous is drained
	returns    chan amqp.Return
	srcClosed  chan *amqp.Error
	dstClosed  chan *amqp.Error
	conClosed  chan *amqp.Error // consumer channel
	pubClosed  chan *amqp.Error // publisher channel
	cancels    chan string
	blocked    chan amqp.Blocking

	srcErr, dstErr, conErr *amqp.Error // close reasons, once received
	cancelled              bool        // the broker cancelled the consumer

	pending     []inflight
	held        []uint64 // delivery tags kept unacknowledged: skipped, failed, stopped at
	skipped     int
	skippedHere int // by the newest consumer
	qos         int
	returned    map[uint64]amqp.Return
	seq         uint64
	lastProg    time.Time
	pubErr      *amqp.Error // why the publisher channel closed, once known
	hdr         amqp.Table  // the outgoing headers, reused
	scratch     []byte      // encoding the death history, reused
}

// stopError is why a move stopped early; Move words the final error.
type stopError struct{ msg string }

func (e *stopError) Error() string { return e.msg }

func stopf(format string, args ...any) error { return &stopError{fmt.Sprintf(format, args...)} }

// Move moves messages out of a queue with the safe-move recipe: it
// measures the depth (passive declare), consumes with manual acks and a
// bounded prefetch, asks Decide about each message, publishes it (body and
// properties; x- headers are not copied, the death history is kept in
// mqops-death-history) with mandatory on a confirm-mode channel of a
// separate connection, and acknowledges the source only after the target
// confirmed the publish and did not return it. Up to Prefetch publishes
// await their confirms at once. Skipped messages stay unacknowledged until
// the end, then are requeued in place.
//
// On a return, a nack, a closed channel or connection, or cancellation it
// stops, requeues every message not confirmed, and returns the result with
// an error that says what happened and how many moved. A crash at any
// moment duplicates at most the in-flight window and loses nothing.
func (c *Client) Move(ctx context.Context, o MoveOptions) (*MoveResult, error) {
	if o.Decide == nil {
		return nil, errors.New("move: no Decide function")
	}
	if o.Prefetch <= 0 {
		o.Prefetch = DefaultPrefetch
	}
	o.Prefetch = min(o.Prefetch, MaxPrefetch)
	if o.Idle <= 0 {
		o.Idle = DefaultIdle
	}
	if o.RunID == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		o.RunID = hex.EncodeToString(b)
	}
	m := &mover{c: c, o: o, start: time.Now(), res: &MoveResult{Left: -1}, returned: map[uint64]amqp.Return{}}
	err := m.run(ctx)
	m.res.Elapsed = time.Since(m.start)
	m.progress(true)
	m.res.Err = err
	return m.res, err
}

func (m *mover) run(ctx context.Context) error {
	o, c := m.o, m.c
	name := "mqops drain " + o.RunID
	var err error
	if m.src, err = c.dial(ctx, o.Vhost, name); err != nil {
		return err
	}
	defer c.closeConn(m.src)
	// The depth at start bounds the run.
	ch, err := m.src.Channel()
	if err != nil {
		return c.chanErr(err, o.Vhost, o.Queue)
	}
	q, err := ch.QueueDeclarePassive(o.Queue, false, false, false, false, nil)
	if err != nil {
		return c.chanErr(err, o.Vhost, o.Queue)
	}
	_ = ch.Close()
	m.depth = q.Messages
	m.res.Total = q.Messages
	if o.Limit > 0 && o.Limit < m.res.Total {
		m.res.Total = o.Limit
	}
	if m.res.Total == 0 {
		m.res.Left = q.Messages
		m.res.StoppedBecause = "the queue is empty"
		return nil
	}
	// Publishing gets its own connection: RabbitMQ's flow control on a
	// publishing connection must not hold back the acks of the consumer.
	if o.Sink == nil {
		if m.dst, err = c.dial(ctx, o.Vhost, name); err != nil {
			return err
		}
		defer c.closeConn(m.dst)
		if m.chP, err = m.dst.Channel(); err != nil {
			return c.chanErr(err, o.Vhost, o.Queue)
		}
		if err := m.chP.Confirm(false); err != nil {
			return c.chanErr(err, o.Vhost, o.Queue)
		}
		m.returns = m.chP.NotifyReturn(make(chan amqp.Return, o.Prefetch+1))
		m.pubClosed = m.chP.NotifyClose(make(chan *amqp.Error, 1))
		m.dstClosed = m.dst.NotifyClose(make(chan *amqp.Error, 1))
		m.blocked = m.dst.NotifyBlocked(make(chan amqp.Blocking, 4))
	}
	m.srcClosed = m.src.NotifyClose(make(chan *amqp.Error, 1))
	if m.chC, err = m.src.Channel(); err != nil {
		return c.chanErr(err, o.Vhost, o.Queue)
	}
	m.conClosed = m.chC.NotifyClose(make(chan *amqp.Error, 1))
	m.cancels = m.chC.NotifyCancel(make(chan string, 1))
	// The broker may deliver up to twice the window ahead: a delivery not
	// yet published is no duplicate after a crash (it is simply
	// redelivered), and having the next ones at hand when confirms free
	// the window keeps the publisher busy instead of waiting a round trip
	// for the broker to refill the prefetch after each ack.
	m.qos = min(maxUnacked, 2*o.Prefetch)
	if err := m.chC.Qos(m.qos, 0, false); err != nil {
		return c.chanErr(err, o.Vhost, o.Queue)
	}
	m.tag = "mqops-move-" + o.RunID
	if m.deliveries, err = m.chC.Consume(o.Queue, m.tag, false, false, false, false, nil); err != nil {
		return c.chanErr(err, o.Vhost, o.Queue)
	}

	// Cancellation is handled by the loop; should a write block on a dead
	// or blocked peer, the connections are closed a while later (the
	// broker then requeues everything unacknowledged).
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		select {
		case <-done:
		case <-time.After(finishGrace + 5*time.Second):
			c.closeConn(m.src)
			if m.dst != nil {
				c.closeConn(m.dst)
			}
		}
	}()

	fail := m.loop(ctx)
	if fail == nil || errors.Is(fail, errCameRound) || errors.Is(fail, errStoppedByFilter) {
		if err := m.settleAll(ctx); err != nil {
			fail = err
		}
	}
	if fail != nil && !errors.Is(fail, errCameRound) && !errors.Is(fail, errStoppedByFilter) {
		m.finish()
	}
	m.requeueAll()
	_ = m.chC.Close()
	m.res.Left = m.measureLeft(ctx)
	return m.wordFailure(fail)
}

// requeueAll puts back, in place, everything held or not confirmed: one by
// one in delivery order (a quorum queue takes returns in the order they
// come; a channel-wide multiple nack would group them by consumer), then
// whatever else was delivered (multiple with tag 0: every unacked
// delivery, also those prefetched but not read).
func (m *mover) requeueAll() {
	_ = m.chC.Cancel(m.tag, false)
	tags := m.held
	for _, p := range m.pending {
		tags = append(tags, p.tag)
	}
	slices.Sort(tags)
	for _, t := range tags {
		if m.chC.Nack(t, false, true) != nil {
			return // the channel is gone: the broker requeued them all
		}
	}
	_ = m.chC.Nack(0, true, true)
}

// loop consumes until Total messages were seen or something stops it.
func (m *mover) loop(ctx context.Context) error {
	idle := time.NewTimer(m.o.Idle)
	defer idle.Stop()
	var (
		blockedSince  time.Time
		blockedReason string
		blockedTimer  <-chan time.Time
	)
	blockedLimit := max(m.c.cfg.Timeout, 30*time.Second)
	for m.res.Seen < m.res.Total {
		if ctx.Err() != nil {
			return ctx.Err() // before anything else that is ready
		}
		deliveries := m.deliveries
		var idleC <-chan time.Time
		if len(m.pending) >= m.o.Prefetch {
			deliveries = nil // the window is full: wait for confirms only
		} else {
			idleC = idle.C
		}
		var oldest <-chan struct{}
		if len(m.pending) > 0 {
			oldest = m.pending[0].conf.Done()
		}
		select {
		case d, ok := <-deliveries:
			if !ok {
				if m.next != nil {
					// the previous consumer is drained: on to its successor
					m.deliveries, m.next = m.next, nil
					continue
				}
				return m.closedErr(ctx)
			}
			if err := m.handle(ctx, &d); err != nil {
				return err
			}
			idle.Reset(m.o.Idle)
		case <-oldest:
			if err := m.settleReady(); err != nil {
				return err
			}
			idle.Reset(m.o.Idle)
		case <-ctx.Done():
			return ctx.Err()
		case e := <-m.srcClosed:
			m.srcErr = orClosed(e)
			return m.closedErr(ctx)
		case e := <-m.dstClosed:
			m.dstErr = orClosed(e)
			return m.closedErr(ctx)
		case e := <-m.conClosed:
			m.conErr = orClosed(e)
			return m.closedErr(ctx)
		case e := <-m.pubClosed:
			m.pubErr = orClosed(e)
			return m.closedErr(ctx)
		case <-m.cancels:
			m.cancelled = true
			return m.closedErr(ctx)
		case b := <-m.blocked:
			if b.Active {
				blockedSince, blockedReason, blockedTimer = time.Now(), b.Reason, time.After(blockedLimit)
			} else {
				blockedTimer = nil
			}
		case <-blockedTimer:
			return stopf("RabbitMQ has been blocking publishers for %s (%s: a memory or disk alarm)",
				time.Since(blockedSince).Round(time.Second), backends.SafeText(blockedReason))
		case <-idleC:
			m.res.StoppedBecause = fmt.Sprintf("no message for %v after %s of %s: someone else consumed the rest",
				m.o.Idle, fmtN(m.res.Seen), fmtN(m.res.Total))
			return nil
		}
	}
	return nil
}

func orClosed(e *amqp.Error) *amqp.Error {
	if e == nil {
		return &amqp.Error{Reason: "closed"}
	}
	return e
}

// recv takes the close notification of a closed connection or channel,
// keeping the first: it follows the closed flag by a moment.
func recv(ch chan *amqp.Error, stored **amqp.Error) *amqp.Error {
	if *stored == nil && ch != nil {
		select {
		case e := <-ch:
			*stored = orClosed(e)
		case <-time.After(time.Second):
		}
	}
	return *stored
}

// closedErr explains why the move cannot go on after a connection,
// channel or consumer went away: the most fundamental cause first (a lost
// connection closes its channels and consumers too).
func (m *mover) closedErr(ctx context.Context) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if m.src.IsClosed() {
		return stopf("the connection to RabbitMQ was lost (%s)", amqpReason(recv(m.srcClosed, &m.srcErr)))
	}
	if m.dst != nil && m.dst.IsClosed() {
		return stopf("the publishing connection to RabbitMQ was lost (%s)", amqpReason(recv(m.dstClosed, &m.dstErr)))
	}
	if e := m.publisherClosed(); e != nil {
		return stopf("RabbitMQ closed the publishing channel (%s)", amqpReason(e))
	}
	if m.chC.IsClosed() {
		return stopf("RabbitMQ closed the consuming channel (%s)", amqpReason(recv(m.conClosed, &m.conErr)))
	}
	if !m.cancelled {
		select {
		case _, ok := <-m.cancels: // it comes before the deliveries close
			m.cancelled = ok
		default:
		}
	}
	if m.cancelled {
		return stopf("RabbitMQ cancelled the consumer of %s (was the queue deleted?)", quote(m.o.Queue))
	}
	return stopf("the connection to RabbitMQ was lost")
}

// handle decides about one delivery and moves, skips or stops.
func (m *mover) handle(ctx context.Context, d *amqp.Delivery) error {
	m.res.Seen++
	msg := convertForMove(d)
	msg.Index = m.res.Seen - 1
	label := lazyLabel{msg.Index, msg.MessageID}
	// held messages stay unacknowledged and are requeued, in order, at the end
	requeue := func() { m.held = append(m.held, d.DeliveryTag) }
	if rid, _ := d.Headers[HeaderRunID].(string); rid == m.o.RunID {
		requeue()
		m.res.Seen--
		m.res.StoppedBecause = "a message moved by this run came round again (the target routes back to the source)"
		return errCameRound
	}
	dec, target, err := m.o.Decide(&msg)
	if err != nil {
		requeue()
		m.res.Failed++
		return stopf("%s %s", label, backends.SafeText(err.Error()))
	}
	switch dec {
	case Stop:
		requeue()
		m.res.Seen--
		m.res.StoppedBecause = fmt.Sprintf("stopped by the filter at %s", label)
		return errStoppedByFilter
	case Skip:
		requeue()
		m.skipped++
		m.res.Skipped++
		// Skipped messages stay unacknowledged (in place) until the end,
		// and must take no room from the window.
		if m.next == nil {
			m.skippedHere++
		}
		if m.skipped > maxSkipped {
			return stopf("%s messages skipped and held in place, the most one run holds", fmtN(m.skipped))
		}
		if m.next == nil && m.o.Prefetch+m.skippedHere > m.qos {
			if err := m.resubscribe(); err != nil {
				return err
			}
		}
		m.progress(false)
		return nil
	case Move:
	default:
		requeue()
		return stopf("%s: Decide returned an unknown decision %d", label, dec)
	}
	if m.o.Wait != nil {
		if err := m.o.Wait(ctx); err != nil {
			requeue()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return stopf("rate limiter: %s", backends.SafeText(err.Error()))
		}
	}
	if m.o.Sink != nil {
		if err := m.o.Sink(ctx, &msg); err != nil {
			requeue()
			m.res.Failed++
			return stopf("%s could not be stored: %s", label, backends.SafeText(err.Error()))
		}
		if err := m.chC.Ack(d.DeliveryTag, false); err != nil {
			return stopf("acknowledging %s in the source failed (%s); it was stored and will be delivered again", label, backends.SafeText(err.Error()))
		}
		m.res.Moved++
		m.progress(false)
		return nil
	}
	m.seq++
	if m.hdr == nil {
		m.hdr = make(amqp.Table, len(d.Headers)+4)
	}
	pub := republishInto(m.hdr, &m.scratch, d, &msg, m.o, m.seq)
	conf, err := m.chP.PublishWithDeferredConfirm(target.Exchange, target.RoutingKey, true, false, pub)
	if err != nil {
		requeue()
		// A write can fail a moment before the library notices the
		// connection closed and why: give it that moment, so the
		// operator reads the broker's reason, not a socket error.
		for i := 0; i < 50 && m.publisherClosed() == nil && !m.src.IsClosed(); i++ {
			time.Sleep(20 * time.Millisecond)
		}
		if m.publisherClosed() != nil || m.src.IsClosed() {
			return stopf("%v while publishing %s", m.closedErr(ctx), label)
		}
		return stopf("publishing %s failed (%s)", label, backends.SafeText(err.Error()))
	}
	m.pending = append(m.pending, inflight{tag: d.DeliveryTag, seq: m.seq, conf: conf, index: msg.Index, target: target, id: msg.MessageID})
	return nil
}

// resubscribe makes room for skipped messages. A consumer's prefetch
// counts its own unacknowledged deliveries, and RabbitMQ fixes it when the
// consumer subscribes (a later basic.qos only applies to new consumers, and
// quorum queues refuse a channel-wide one). So once the consumer's skipped
// messages would crowd out the window, it is cancelled and a new one, with
// twice the prefetch, takes over. What was delivered to the old one stays
// unacknowledged on the channel and is read first: the order is kept.
func (m *mover) resubscribe() error {
	if err := m.chC.Cancel(m.tag, false); err != nil {
		return m.closedErr(context.Background())
	}
	m.qos = min(maxUnacked, 2*m.qos)
	m.skippedHere = 0
	if err := m.chC.Qos(m.qos, 0, false); err != nil {
		return m.closedErr(context.Background())
	}
	m.consumers++
	m.tag = fmt.Sprintf("mqops-move-%s-%d", m.o.RunID, m.consumers)
	next, err := m.chC.Consume(m.o.Queue, m.tag, false, false, false, false, nil)
	if err != nil {
		return m.closedErr(context.Background())
	}
	m.next = next
	return nil
}

var (
	errCameRound       = errors.New("came round")
	errStoppedByFilter = errors.New("stopped by the filter")
)

// publisherClosed returns why the publisher channel closed, or nil while it
// is open.
func (m *mover) publisherClosed() *amqp.Error {
	if m.pubErr != nil {
		return m.pubErr
	}
	if m.chP == nil || !m.chP.IsClosed() {
		return nil
	}
	if e := recv(m.pubClosed, &m.pubErr); e != nil {
		return e
	}
	if e := recv(m.dstClosed, &m.dstErr); e != nil {
		m.pubErr = e
		return e
	}
	m.pubErr = orClosed(nil)
	return m.pubErr
}

func (m *mover) drainReturns() {
	for {
		select {
		case r, ok := <-m.returns:
			if !ok {
				m.returns = nil // the channel closed
				return
			}
			if s, ok := r.Headers[headerSeq].(int64); ok {
				m.returned[uint64(s)] = r
			}
		default:
			return
		}
	}
}

// settleReady settles the confirmed head of the window: every publish
// whose confirm arrived, in order, acknowledging their sources.
func (m *mover) settleReady() error {
	var acks []uint64
	var err error
	for len(m.pending) > 0 {
		p := m.pending[0]
		select {
		case <-p.conf.Done():
		default:
			return m.ack(acks, err)
		}
		// Either way it leaves the window: acked when it arrived, else
		// requeued with the rest at the end (never acked later).
		m.pending = m.pending[1:]
		if err = m.verdict(p); err != nil {
			m.held = append(m.held, p.tag)
			break
		}
		acks = append(acks, p.tag)
	}
	return m.ack(acks, err)
}

// verdict says whether a confirmed publish arrived: acked, not returned.
func (m *mover) verdict(p inflight) error {
	m.drainReturns() // a return arrives before its confirm
	if r, ok := m.returned[p.seq]; ok {
		delete(m.returned, p.seq)
		m.res.Failed++
		return stopf("%s was returned unroutable by %s with routing key %s (%s)", lazyLabel{p.index, p.id}, exchangeName(r.Exchange),
			quote(r.RoutingKey), backends.SafeText(r.ReplyText))
	}
	if !p.conf.Acked() {
		if m.publisherClosed() != nil {
			return stopf("%v before confirming %s", m.closedErr(context.Background()), lazyLabel{p.index, p.id})
		}
		m.res.Failed++
		return stopf("%s was refused by RabbitMQ (a publisher nack) at %s", lazyLabel{p.index, p.id}, exchangeName(p.target.Exchange))
	}
	return nil
}

// ack acknowledges the sources of settled publishes (in delivery order):
// with one multiple ack when no skipped message could be caught by it.
func (m *mover) ack(tags []uint64, cause error) error {
	if len(tags) > 0 {
		var err error
		if m.skipped == 0 {
			err = m.chC.Ack(tags[len(tags)-1], true)
		} else {
			for _, t := range tags {
				if err = m.chC.Ack(t, false); err != nil {
					break
				}
			}
		}
		if err != nil {
			// The confirmed messages are in their target; the source will
			// requeue them: duplicates within the window, no loss.
			why := backends.SafeText(err.Error())
			if m.src.IsClosed() || m.chC.IsClosed() {
				why = m.closedErr(context.Background()).Error()
			}
			return stopf("%s; %d message(s) already confirmed by the target could not be acknowledged and stay in the source too", why, len(tags))
		}
		m.res.Moved += len(tags)
		m.progress(false)
	}
	return cause
}

// settleAll waits for every outstanding confirm after the last delivery.
func (m *mover) settleAll(ctx context.Context) error {
	for len(m.pending) > 0 {
		select {
		case <-m.pending[0].conf.Done():
			if err := m.settleReady(); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		case e := <-m.srcClosed:
			m.srcErr = orClosed(e)
			return m.closedErr(ctx)
		case e := <-m.dstClosed:
			m.dstErr = orClosed(e)
			return m.closedErr(ctx)
		case e := <-m.conClosed:
			m.conErr = orClosed(e)
			return m.closedErr(ctx)
		case e := <-m.pubClosed:
			m.pubErr = orClosed(e)
			return m.closedErr(ctx)
		}
	}
	return nil
}

// finishGrace bounds how long a stopping move waits for the confirms of
// what it already published.
const finishGrace = 5 * time.Second

// finish, after a failure, still acknowledges the sources of publishes the
// target confirms within a grace period (fewer duplicates); the rest is
// requeued.
func (m *mover) finish() {
	deadline := time.NewTimer(min(m.c.cfg.Timeout, finishGrace))
	defer deadline.Stop()
	for len(m.pending) > 0 {
		p := m.pending[0]
		if m.src.IsClosed() || m.chC.IsClosed() {
			return // no ack possible: the broker requeued everything
		}
		select {
		case <-p.conf.Done():
		case <-deadline.C:
			return
		}
		if m.verdict(p) == nil && m.chC.Ack(p.tag, false) == nil {
			m.res.Moved++
		} else {
			m.held = append(m.held, p.tag)
		}
		m.pending = m.pending[1:]
	}
}

// measureLeft counts the source's messages once the requeue applied
// (quorum queues apply it asynchronously).
func (m *mover) measureLeft(ctx context.Context) int {
	expect := m.depth - m.res.Moved
	count := func(conn *amqp.Connection) (int, bool) {
		if conn == nil || conn.IsClosed() {
			return 0, false
		}
		ch, err := conn.Channel()
		if err != nil {
			return 0, false
		}
		defer ch.Close()
		n := -1
		for deadline := time.Now().Add(2 * time.Second); ; {
			q, err := ch.QueueDeclarePassive(m.o.Queue, false, false, false, false, nil)
			if err != nil {
				return n, n >= 0
			}
			n = q.Messages
			if n >= expect || time.Now().After(deadline) {
				return n, true
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if n, ok := count(m.src); ok {
		return n
	}
	// The connection is gone: ask again on a new one, then the management
	// API (whose count lags by a few seconds).
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.c.cfg.Timeout)
	defer cancel()
	if conn, err := m.c.dial(mctx, m.o.Vhost, "mqops drain "+m.o.RunID+" (count)"); err == nil {
		n, ok := count(conn)
		m.c.closeConn(conn)
		if ok {
			return n
		}
	}
	var q struct {
		Ready json.Number `json:"messages_ready"`
	}
	if err := m.c.get(mctx, "/api/queues/"+seg(m.o.Vhost)+"/"+seg(m.o.Queue), url.Values{"columns": {"messages_ready"}}, &q); err == nil && q.Ready != "" {
		return int(num(q.Ready))
	}
	return -1
}

// wordFailure sets StoppedBecause and words the error Move returns.
func (m *mover) wordFailure(fail error) error {
	r := m.res
	left := "the rest left in " + quote(m.o.Queue)
	if r.Left >= 0 {
		left = fmt.Sprintf("%s left in %s", fmtN(r.Left), quote(m.o.Queue))
	}
	switch {
	case fail == nil:
		if r.StoppedBecause == "" {
			if m.o.Limit > 0 && r.Total == m.o.Limit {
				r.StoppedBecause = fmt.Sprintf("done: the limit of %s messages seen", fmtN(r.Total))
			} else {
				r.StoppedBecause = fmt.Sprintf("done: the %s messages there were at the start seen", fmtN(r.Total))
			}
		}
		return nil
	case errors.Is(fail, errCameRound), errors.Is(fail, errStoppedByFilter):
		return nil // StoppedBecause says why
	case errors.Is(fail, context.Canceled), errors.Is(fail, context.DeadlineExceeded):
		r.StoppedBecause = "cancelled"
		if errors.Is(fail, context.DeadlineExceeded) {
			r.StoppedBecause = "timed out"
		}
		return &Error{Op: fmt.Sprintf("move %s: %s moved, %s", r.StoppedBecause, fmtN(r.Moved), left), Err: fail}
	}
	r.StoppedBecause = fail.Error()
	return &Error{Op: fmt.Sprintf("%s: stopped, %s moved, %s", fail.Error(), fmtN(r.Moved), left)}
}

func (m *mover) progress(force bool) {
	if m.o.Progress == nil || (!force && time.Since(m.lastProg) < 100*time.Millisecond) {
		return
	}
	m.lastProg = time.Now()
	r := m.res
	m.o.Progress(MoveProgress{Moved: r.Moved, Skipped: r.Skipped, Failed: r.Failed, Seen: r.Seen, Total: r.Total, Elapsed: time.Since(m.start)})
}

// lazyLabel names a message in an error ("message 1,204 (id "x")"), only
// when one is worded.
type lazyLabel struct {
	index int
	id    string
}

func (l lazyLabel) String() string {
	s := "message " + fmtN(l.index+1)
	if l.id != "" {
		return s + " (id " + quote(l.id) + ")"
	}
	return s
}

// convertForMove is convert without copying the body (the delivery owns
// it, and Decide and the sink see all of it).
func convertForMove(d *amqp.Delivery) backends.Message {
	body := d.Body
	d.Body = nil
	m := convert(d, 0)
	d.Body = body
	m.Body, m.Size = body, len(body)
	return m
}

func exchangeName(x string) string {
	if x == "" {
		return "the default exchange"
	}
	return "exchange " + quote(x)
}

// republish builds the outgoing message: body and properties copied; x-
// headers (and CC/BCC, which would route copies elsewhere) dropped; the
// death history kept as JSON, with any earlier one after it; the move
// counter incremented; the run id, the source and a sequence number for
// correlating returns added.
func republish(d *amqp.Delivery, m *backends.Message, o MoveOptions, seq uint64) amqp.Publishing {
	return republishInto(nil, nil, d, m, o, seq)
}

// republishInto is republish reusing h (cleared) for the headers and scratch
// for encoding the death history: amqp091 encodes a publish before
// PublishWithDeferredConfirm returns, so a move reuses them for the next.
func republishInto(h amqp.Table, scratch *[]byte, d *amqp.Delivery, m *backends.Message, o MoveOptions, seq uint64) amqp.Publishing {
	if h == nil {
		h = make(amqp.Table, len(d.Headers)+4)
	} else {
		clear(h)
	}
	for k, v := range d.Headers {
		if strings.HasPrefix(strings.ToLower(k), "x-") || k == "CC" || k == "BCC" {
			continue
		}
		h[k] = v
	}
	if len(m.Deaths) > 0 {
		history := m.Deaths
		if prev, ok := d.Headers[HeaderDeathHistory].(string); ok {
			var older []backends.Death
			if json.Unmarshal([]byte(prev), &older) == nil {
				history = append(append([]backends.Death{}, m.Deaths...), older...)
			}
		}
		var buf []byte
		if scratch != nil {
			buf = (*scratch)[:0]
		}
		if b, ok := appendDeathsJSON(buf, history); ok {
			h[HeaderDeathHistory] = string(b)
			if scratch != nil {
				*scratch = b
			}
		} else if b, err := json.Marshal(history); err == nil {
			h[HeaderDeathHistory] = string(b)
		}
	}
	count, _ := plainValue(d.Headers[HeaderMoveCount]).(int64)
	h[HeaderMoveCount] = count + 1
	h[HeaderRunID] = o.RunID
	h[HeaderMovedFrom] = o.Vhost + "/" + o.Queue
	h[headerSeq] = int64(seq)
	return amqp.Publishing{
		Headers: h, ContentType: d.ContentType, ContentEncoding: d.ContentEncoding,
		DeliveryMode: d.DeliveryMode, Priority: d.Priority, CorrelationId: d.CorrelationId,
		ReplyTo: d.ReplyTo, Expiration: d.Expiration, MessageId: d.MessageId, Timestamp: d.Timestamp,
		Type: d.Type, UserId: d.UserId, AppId: d.AppId, Body: d.Body,
	}
}

// appendDeathsJSON appends what json.Marshal makes of deaths, without its
// reflection: the move writes one history per message. ok is false when a
// time is out of JSON's range (json.Marshal then words it).
func appendDeathsJSON(b []byte, deaths []backends.Death) ([]byte, bool) {
	if deaths == nil {
		return append(b, "null"...), true
	}
	b = append(b, '[')
	for i, d := range deaths {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"queue":`...)
		b = appendJSONString(b, d.Queue)
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, d.Reason)
		b = append(b, `,"exchange":`...)
		b = appendJSONString(b, d.Exchange)
		b = append(b, `,"routing_keys":`...)
		if d.RoutingKeys == nil {
			b = append(b, "null"...)
		} else {
			b = append(b, '[')
			for j, rk := range d.RoutingKeys {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, rk)
			}
			b = append(b, ']')
		}
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, d.Count, 10)
		b = append(b, `,"time":`...)
		if y := d.Time.Year(); y < 0 || y > 9999 {
			return b, false
		}
		b = append(b, '"')
		b = d.Time.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `"}`...)
	}
	return append(b, ']'), true
}

// appendJSONString appends s as encoding/json quotes it: plain ASCII as
// is, anything it would escape through json.Marshal itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// fmtN formats a count with thousands separators: 1,204.
func fmtN(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}
