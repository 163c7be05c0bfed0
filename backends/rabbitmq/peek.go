package rabbitmq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/mqops/mqops/backends"
)

// MaxBody is how much of a peeked message body is kept for display;
// Message.Size is the real size.
const MaxBody = 1 << 20

// MaxPeek bounds how many messages a peek reads: offset+limit, and the
// messages it reads beyond to keep the queue's order. That many are held
// unacknowledged while it runs (and it is a consumer's prefetch, at most
// 65,535 in AMQP).
const MaxPeek = 50_000

// Peek returns messages offset..offset+limit-1 of a queue without changing
// it (PeekQueue without AcceptRisk); warning says what it could not keep.
func (c *Client) Peek(ctx context.Context, vhost, queue string, offset, limit int) (msgs []backends.Message, warning string, err error) {
	r, err := c.PeekQueue(ctx, vhost, queue, backends.PeekOptions{Offset: offset, Limit: limit})
	if err != nil {
		return nil, "", err
	}
	return r.Messages, r.Warning, nil
}

// PeekQueue returns messages Offset..Offset+Limit-1 of a queue, and leaves
// the queue as it was: every message read is requeued, one by one in the
// order it came (basic.nack, which RabbitMQ 4.3 does not count as a failed
// delivery), so nothing is consumed, nothing dead-lettered, and the order
// holds:
//
//   - a classic queue puts a requeued message back in its place;
//   - a quorum queue with a delivery limit puts requeued messages at its
//     head, before the others: the peek also reads every message requeued
//     before that is still at the head (it came redelivered), so that the
//     head goes back whole;
//   - a quorum queue without one puts them at its back: the peek reads the
//     whole queue (up to MaxPeek), which so comes round in its order.
//
// A crash or cancellation in between requeues too (the broker requeues
// what a closed channel left unacknowledged). Peeked messages come back
// marked redelivered.
//
// Where a peek cannot leave the queue as it was (PeekRisk), it is not
// done: the error is a *backends.PeekRiskError. With AcceptRisk, a queue
// whose risk is a delivery limit is peeked anyway, and the result carries
// the risk.
//
// Every call to the broker is bounded by the timeout: the first that is
// not answered in time fails the peek at once.
func (c *Client) PeekQueue(ctx context.Context, vhost, queue string, o backends.PeekOptions) (*backends.PeekResult, error) {
	if o.Offset < 0 || o.Limit <= 0 {
		return nil, errors.New("peek: the offset must be ≥ 0 and the limit > 0")
	}
	if o.Offset+o.Limit > MaxPeek {
		return nil, fmt.Errorf("peek: at most %s messages deep (offset %s + limit %s)", fmtN(MaxPeek), fmtN(o.Offset), fmtN(o.Limit))
	}
	q, version, err := c.peekTarget(ctx, vhost, queue)
	if err != nil {
		return nil, err
	}
	if _, _, err := peekPlan(q, version); err != nil {
		return nil, err // the version says nothing: before any connection
	}
	s, err := c.openSession(ctx, vhost, "mqops peek")
	if err != nil {
		return nil, err
	}
	defer s.close()
	return c.peekIn(s, vhost, queue, q, version, o)
}

// peekIn peeks at queue (q and version as peekTarget returned them) on
// the open session s, on a channel of its own that it closes: several
// peeks may share a session. A channel closed on an error requeues what
// it held unacknowledged, as a closed connection does.
func (c *Client) peekIn(s *session, vhost, queue string, q *backends.Queue, version string, o backends.PeekOptions) (res *backends.PeekResult, err error) {
	wrap := func(err error) error {
		if errors.Is(err, context.Canceled) {
			return &Error{Op: "peek cancelled; the messages got so far were requeued", Err: context.Canceled}
		}
		if _, ok := err.(*Error); ok {
			return err
		}
		return c.chanErr(err, vhost, queue)
	}
	var ch *amqp.Channel
	if err := s.call("opening a channel", func() (err error) { ch, err = s.conn.Channel(); return err }); err != nil {
		return nil, wrap(err)
	}
	var r *reader
	defer func() {
		if r != nil {
			ch = r.ch // a reader that switched to basic.get reopened it
		}
		_ = s.call("closing the channel", ch.Close)
	}()
	// the depth as the broker counts it now (the management API's lags):
	// the risk is stated with it
	depth, err := s.depth(ch, queue)
	if err != nil {
		return nil, wrap(err)
	}
	q.Messages, q.Ready, q.Unacked, q.Invalid = int64(depth), int64(depth), 0, nil
	mode, risk, err := peekPlan(q, version)
	if err != nil {
		return nil, err
	}
	if risk != nil && (risk.Kind != backends.RiskDeliveryLimit || !o.AcceptRisk) {
		return nil, &backends.PeekRiskError{Vhost: vhost, Queue: queue, Risk: risk}
	}
	res = &backends.PeekResult{Messages: []backends.Message{}, Depth: int64(depth), Risk: risk}
	r = &reader{s: s, ch: ch, queue: queue, useGet: singleActive(q), costly: risk != nil, inPlace: q.Type == "classic", keep: func(d *amqp.Delivery, i int) {
		if i >= o.Offset && i < o.Offset+o.Limit {
			if o.Match != nil { // a search: the body is copied only for a match
				if probe := convert(d, 1); !o.Match(&probe) {
					return
				}
			}
			m := convert(d, MaxBody)
			m.Index = i
			res.Messages = append(res.Messages, m)
		}
	}}
	err = r.peek(mode, depth, min(o.Offset+o.Limit, depth))
	res.Read, res.Warning = r.n, r.warning
	if err != nil {
		return nil, wrap(err)
	}
	if err := r.requeue(depth); err != nil {
		return nil, wrap(err)
	}
	return res, nil
}

// peekTarget is the queue as the management API has it, and the broker's
// version when the queue's kind makes it matter.
func (c *Client) peekTarget(ctx context.Context, vhost, queue string) (*backends.Queue, string, error) {
	var aq apiQueue
	if err := c.get(ctx, "/api/queues/"+seg(vhost)+"/"+seg(queue), url.Values{"columns": {peekColumns}}, &aq); err != nil {
		if isNotFound(err) {
			return nil, "", c.queueNotFound(ctx, vhost, queue)
		}
		return nil, "", err
	}
	q := convertQueue(aq)
	if q.Vhost == "" {
		q.Vhost, q.Name = vhost, queue
	}
	if q.Type != "quorum" {
		return &q, "", nil
	}
	v, err := c.rabbitVersion(ctx)
	if err != nil {
		return nil, "", err
	}
	return &q, v, nil
}

// queueNotFound words a 404 for a queue: its vhost may be what is missing.
func (c *Client) queueNotFound(ctx context.Context, vhost, queue string) error {
	var v struct {
		Name string `json:"name"`
	}
	if err := c.get(ctx, "/api/vhosts/"+seg(vhost), url.Values{"columns": {"name"}}, &v); isNotFound(err) {
		return notFound("vhost %s not found", quote(vhost))
	}
	return notFound("queue %s not found in vhost %s", quote(queue), quote(vhost))
}

// peekColumns are what deciding how to peek needs of a queue.
const peekColumns = "vhost,name,type,arguments,policy,effective_policy_definition,messages,messages_ready,messages_unacknowledged"

// peekMode is where a queue puts a requeued message, which decides what a
// peek must read to leave the order as it was.
type peekMode int

const (
	peekInPlace peekMode = iota // back in its place (classic queues)
	peekFront                   // at the head, after those requeued before (quorum with a delivery limit)
	peekCycle                   // at the back (quorum without a delivery limit): read the whole queue
)

// defaultQuorumDeliveryLimit is the delivery limit of a quorum queue that
// sets none, from RabbitMQ 4.0.
const defaultQuorumDeliveryLimit = 20

// peekPlan decides how a queue is peeked and whether that would change it
// (the one place that decides): a quorum queue with a delivery limit, on a
// RabbitMQ before 4.3, counts every requeue as a delivery attempt, so each
// message a peek reads loses one (and one that has none left is dropped or
// dead-lettered); a quorum queue without a delivery limit can be peeked
// only by reading all of it, which mqops does up to MaxPeek messages.
//
// The effective delivery limit: the queue's x-delivery-limit argument and
// its policy's delivery-limit, the lower of the two (RabbitMQ 4: where one
// is negative, the higher); none set is no limit before RabbitMQ 4.0 and 20
// from 4.0; a negative limit is no limit from 4.0.
func peekPlan(q *backends.Queue, version string) (peekMode, *backends.PeekRisk, error) {
	if q.Type != "quorum" {
		return peekInPlace, nil, nil
	}
	major, minor, ok := parseVersion(version)
	if !ok {
		return 0, nil, fmt.Errorf("cannot tell whether peeking quorum queue %s leaves it as it was: RabbitMQ reports its version as %s",
			quote(q.Name), quote(version))
	}
	v4 := major >= 4
	limit, source, set := configuredDeliveryLimit(q)
	switch {
	case !set && v4:
		limit, source, set = defaultQuorumDeliveryLimit, "the default of RabbitMQ 4", true
	case set && v4 && limit < 0:
		set = false
	}
	depth := q.Messages
	if d, ok := q.Depth(); ok {
		depth = d
	}
	if !set {
		if depth <= MaxPeek {
			return peekCycle, nil, nil
		}
		return peekCycle, &backends.PeekRisk{Kind: backends.RiskOrder, Depth: depth, Version: version,
			Reason: fmt.Sprintf("quorum queue of %s messages without a delivery limit: RabbitMQ puts a requeued message at the back of such a queue, "+
				"so a peek keeps the order only by reading the whole queue, and mqops reads at most %s", fmtN64(depth), fmtN(MaxPeek))}, nil
	}
	if major > 4 || (major == 4 && minor >= 3) {
		return peekFront, nil, nil // a nack is not a failed delivery
	}
	over := "dropped (the queue has no dead-letter exchange)"
	if q.HasDeadLetterExchange {
		over = "dead-lettered to exchange " + quote(q.DeadLetterExchange)
		if q.DeadLetterExchange == "" {
			rk := q.DeadLetterRoutingKey
			if rk == "" {
				rk = q.Name
			}
			over = "dead-lettered through the default exchange to queue " + quote(rk)
		}
	}
	risk := &backends.PeekRisk{Kind: backends.RiskDeliveryLimit, Depth: depth, DeliveryLimit: limit, LimitSource: source,
		OverLimit: over, CountsShown: !v4, Version: version}
	risk.Reason = fmt.Sprintf("quorum queue with a delivery limit of %d (%s): RabbitMQ %s counts every requeue as a delivery attempt, "+
		"so a peek costs each message it reads one of its %d requeues, and one already requeued %d times is %s",
		limit, source, backends.SafeText(version), limit, max(limit, 0), over)
	if v4 {
		risk.Reason += "; RabbitMQ 4.0 to 4.2 does not show how many a message has used"
	}
	return peekFront, risk, nil
}

// parseVersion reads a RabbitMQ version ("3.13.7", "4.1.0-rc.1").
func parseVersion(v string) (major, minor int, ok bool) {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil || ma < 0 || mi < 0 {
		return 0, 0, false
	}
	return ma, mi, true
}

// singleActive says a queue delivers to one consumer at a time: a peek's
// consumer would get nothing while another is active, so it gets.
func singleActive(q *backends.Queue) bool {
	sac, _ := q.Arguments["x-single-active-consumer"].(bool)
	return sac
}

// depth is the number of messages ready in queue (a passive declare).
func (s *session) depth(ch *amqp.Channel, queue string) (int, error) {
	var q amqp.Queue
	err := s.call("reading the depth of queue "+quote(queue), func() (err error) {
		q, err = ch.QueueDeclarePassive(queue, false, false, false, false, nil)
		return err
	})
	return q.Messages, err
}

// reader reads a queue's messages in order on one channel, keeping them
// unacknowledged, and remembers every delivery tag to requeue them.
type reader struct {
	s      *session
	ch     *amqp.Channel
	queue  string
	useGet bool // basic.get one by one: a consumer gets nothing here
	costly bool // each message read costs it a delivery attempt
	// inPlace: the queue puts a requeued message back where it was (a
	// classic queue), so one nack of them all keeps the order
	inPlace bool
	keep    func(d *amqp.Delivery, i int)

	tags            []uint64
	n               int  // messages read
	lastRedelivered bool // the last message read had been requeued before
	rounds          int
	warning         string
}

func (r *reader) got(d *amqp.Delivery) {
	r.keep(d, r.n)
	r.tags = append(r.tags, d.DeliveryTag)
	r.n++
	r.lastRedelivered = d.Redelivered
}

// peek reads what mode needs: want messages, and beyond them what keeping
// the order takes.
func (r *reader) peek(mode peekMode, depth, want int) error {
	switch mode {
	case peekCycle:
		// the whole queue, and what arrived meanwhile (it is ahead of
		// where the requeued messages will go)
		if err := r.read(depth); err != nil {
			return err
		}
		for r.n < MaxPeek {
			more, err := r.s.depth(r.ch, r.queue)
			if err != nil || more == 0 {
				return err
			}
			before := r.n
			if err := r.read(min(more, MaxPeek-r.n)); err != nil || r.n == before {
				return err
			}
		}
		if more, err := r.s.depth(r.ch, r.queue); err == nil && more > 0 {
			r.warning = fmt.Sprintf("%s messages published while the peek ran are now ahead of the %s it read", fmtN(more), fmtN(r.n))
		}
		return nil
	case peekFront:
		if err := r.read(want); err != nil {
			return err
		}
		// the messages requeued before stay ahead of the fresh ones: read
		// to the first fresh one, so the head goes back whole. Where each
		// message read costs a delivery attempt, one by one (no message
		// more than needed); else in doubling rounds.
		for r.lastRedelivered && r.n < depth && r.n < MaxPeek {
			before := r.n
			var err error
			if r.costly {
				err = r.get(1)
			} else {
				err = r.read(min(max(r.n, 1), depth-r.n, MaxPeek-r.n))
			}
			if err != nil || r.n == before {
				return err
			}
		}
		if r.lastRedelivered && r.n >= MaxPeek && r.n < depth {
			r.warning = fmt.Sprintf("the first %s messages had all been requeued before: the peek could not read to their end, so their order changed", fmtN(r.n))
		}
		return nil
	}
	return r.read(want)
}

// read reads up to k more messages: through a consumer with a prefetch of
// k (one round trip, not one per message), or basic.get one by one where a
// consumer would get nothing (a single active consumer holds the queue) or
// cannot subscribe (an exclusive consumer does).
func (r *reader) read(k int) error {
	if k <= 0 {
		return nil
	}
	if !r.useGet {
		if _, err := r.consume(k); err != nil || !r.useGet {
			return err
		}
	}
	return r.get(k)
}

// get reads up to k more messages with basic.get, one round trip each.
func (r *reader) get(k int) error {
	for i := 0; i < k; i++ {
		var d amqp.Delivery
		var ok bool
		err := r.s.call("getting a message of queue "+quote(r.queue), func() (err error) {
			d, ok, err = r.ch.Get(r.queue, false)
			return err
		})
		if err != nil || !ok {
			return err // !ok: the queue is shorter than it was
		}
		r.got(&d)
	}
	return nil
}

// peekIdle is how long a peek waits for the next message from its
// consumer before it takes what it got (others may consume meanwhile).
const peekIdle = time.Second

// consume reads up to k messages through a consumer with a prefetch of k,
// then cancels it and takes what was delivered meanwhile. On the first
// round, a consumer that cannot subscribe switches the reader to
// basic.get (the channel, closed by the refusal, is reopened).
func (r *reader) consume(k int) (int, error) {
	s := r.s
	r.rounds++
	if err := s.call("setting the prefetch", func() error { return r.ch.Qos(k, 0, false) }); err != nil {
		return 0, err
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	tag := "mqops-peek-" + hex.EncodeToString(b)
	var ds <-chan amqp.Delivery
	err := s.call("subscribing to queue "+quote(r.queue), func() (err error) {
		ds, err = r.ch.Consume(r.queue, tag, false, false, false, false, nil)
		return err
	})
	if err != nil {
		var ae *amqp.Error
		if s.failed() != nil || !errors.As(err, &ae) || ae.Code != amqp.AccessRefused || r.rounds > 1 {
			return 0, err
		}
		// an exclusive consumer holds the queue: get instead, on a new
		// channel (the refusal closed this one, which held nothing)
		r.useGet = true
		return 0, s.call("opening a channel", func() (err error) { r.ch, err = s.conn.Channel(); return err })
	}
	got := 0
	first := time.NewTimer(s.c.cfg.Timeout) // the first message may come from disk
	defer first.Stop()
	idle := time.NewTimer(peekIdle)
	defer idle.Stop()
	var idleC <-chan time.Time
loop:
	for got < k {
		select {
		case d, ok := <-ds:
			if !ok {
				break loop // the connection closed: failed() says why
			}
			r.got(&d)
			got++
			idle.Reset(peekIdle)
			idleC = idle.C
		case <-first.C:
			if got == 0 {
				// the queue held messages ready and none came: the broker
				// stopped answering (a consumer that gets nothing because
				// another is active is avoided: single-active-consumer
				// queues are read with basic.get)
				s.kill(&Error{Op: fmt.Sprintf("timed out waiting for the messages of queue %s on RabbitMQ at %s (none came in %s)",
					quote(r.queue), s.c.amqp.Host, s.c.cfg.Timeout), Err: context.DeadlineExceeded})
				break loop
			}
		case <-idleC:
			break loop
		}
	}
	if err := s.failed(); err != nil {
		return got, err
	}
	if err := s.call("cancelling the peek's consumer", func() error { return r.ch.Cancel(tag, false) }); err != nil {
		return got, err
	}
	// what was delivered before the cancel took effect is unacknowledged
	// too, and next in the queue's order: take it
	for d := range ds {
		r.got(&d)
		got++
	}
	return got, s.failed()
}

// requeue requeues every message read and waits, bounded, until the queue
// shows the depth it had: the requeue is asynchronous inside the broker
// (quorum queues apply it through their log), and whatever runs next (a
// drain measuring the depth, then consuming) must find the messages where
// they were. A classic queue puts requeued messages back in their places:
// one nack of them all keeps the order, and lands at once. Other queues
// get them one by one in the order they came (a nack of many at once
// returns them to a quorum queue in no particular order before RabbitMQ
// 4.0); measured on 3.10 with 1,000 messages, the first lands in about
// 1 ms, the second in about 40.
func (r *reader) requeue(depth int) error {
	if len(r.tags) == 0 {
		return nil
	}
	err := r.s.call("requeueing the peeked messages", func() error {
		if r.inPlace {
			return r.ch.Nack(slices.Max(r.tags), true, true)
		}
		for _, t := range r.tags {
			if err := r.ch.Nack(t, false, true); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err // the channel is gone, and with it the unacked messages: requeued
	}
	deadline := time.Now().Add(min(r.s.c.cfg.Timeout, 3*time.Second))
	for pause := time.Millisecond; ; pause = min(2*pause, 20*time.Millisecond) {
		after, err := r.s.depth(r.ch, r.queue)
		if err != nil {
			return err
		}
		if after >= depth || time.Now().After(deadline) {
			return nil
		}
		time.Sleep(pause)
	}
}

// convert copies a delivery into a backends.Message, keeping at most
// maxBody bytes of the body (0: all of it).
func convert(d *amqp.Delivery, maxBody int) backends.Message {
	m := backends.Message{
		Exchange: d.Exchange, RoutingKey: d.RoutingKey, Redelivered: d.Redelivered,
		ContentType: d.ContentType, Encoding: d.ContentEncoding, MessageID: d.MessageId,
		CorrelationID: d.CorrelationId, AppID: d.AppId, Type: d.Type,
		DeliveryMode: d.DeliveryMode, Priority: d.Priority, Expiration: d.Expiration,
		ReplyTo: d.ReplyTo, UserID: d.UserId, Size: len(d.Body),
	}
	if !d.Timestamp.IsZero() {
		m.Timestamp = d.Timestamp.UTC()
	}
	if maxBody > 0 && len(d.Body) > maxBody {
		m.Body, m.Truncated = append([]byte(nil), d.Body[:maxBody]...), true
	} else {
		m.Body = append([]byte{}, d.Body...)
	}
	if d.Headers != nil {
		m.Headers = plainTable(d.Headers)
		m.Deaths = parseDeaths(d.Headers["x-death"])
		fq, _ := d.Headers["x-first-death-queue"].(string)
		fr, _ := d.Headers["x-first-death-reason"].(string)
		fx, _ := d.Headers["x-first-death-exchange"].(string)
		if fq != "" || fr != "" {
			m.FirstDeath = &backends.Death{Queue: fq, Reason: fr, Exchange: fx}
		}
	}
	return m
}

// parseDeaths reads an x-death header: an array of tables, most recent
// first.
func parseDeaths(v any) []backends.Death {
	arr, ok := v.([]any)
	if !ok {
		return nil
	}
	var out []backends.Death
	for _, e := range arr {
		t, ok := e.(amqp.Table)
		if !ok {
			continue
		}
		d := backends.Death{}
		d.Queue, _ = t["queue"].(string)
		d.Reason, _ = t["reason"].(string)
		d.Exchange, _ = t["exchange"].(string)
		if tm, ok := t["time"].(time.Time); ok {
			d.Time = tm.UTC()
		}
		if n, ok := plainValue(t["count"]).(int64); ok {
			d.Count = n
		}
		if rks, ok := t["routing-keys"].([]any); ok {
			for _, rk := range rks {
				if s, ok := rk.(string); ok {
					d.RoutingKeys = append(d.RoutingKeys, s)
				}
			}
		}
		out = append(out, d)
	}
	return out
}

// plainTable turns an AMQP table into plain Go values: string, int64,
// float64, bool, time.Time (UTC), []byte, nil, []any and map[string]any.
func plainTable(t amqp.Table) map[string]any {
	out := make(map[string]any, len(t))
	for k, v := range t {
		out[k] = plainValue(v)
	}
	return out
}

func plainValue(v any) any {
	switch x := v.(type) {
	case amqp.Table:
		return plainTable(x)
	case map[string]any:
		return plainTable(amqp.Table(x))
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plainValue(e)
		}
		return out
	case int8:
		return int64(x)
	case uint8:
		return int64(x)
	case int16:
		return int64(x)
	case uint16:
		return int64(x)
	case int32:
		return int64(x)
	case uint32:
		return int64(x)
	case int:
		return int64(x)
	case float32:
		return float64(x)
	case time.Time:
		return x.UTC()
	case amqp.Decimal:
		return decimalString(x)
	}
	return v
}

// decimalString renders an AMQP decimal exactly ("12.34").
func decimalString(d amqp.Decimal) string {
	r := new(big.Rat).SetFrac(big.NewInt(int64(d.Value)), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.Scale)), nil))
	return r.FloatString(int(d.Scale))
}
