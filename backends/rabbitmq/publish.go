package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/mqops/mqops/backends"
)

// PublishWindow bounds the publishes of a Publish call awaiting their
// confirms: enough to keep the broker busy, few enough that a lost
// connection leaves few messages unsure.
const PublishWindow = 256

// maxShortstr is the most an AMQP short string holds (exchange, routing
// key, message id, header names).
const maxShortstr = 255

// errNotConfirmed is the result of a message the call ended without
// publishing, or before its confirm.
var errNotConfirmed = errors.New("not confirmed by RabbitMQ")

// Publish publishes msgs, each to its Target's vhost ("": "/"), exchange
// and routing key, and returns one result per message, in the order of
// msgs: Err nil only for a message the broker confirmed (a publisher
// confirm ack) and did not return as unroutable.
//
//   - Each message is published persistent (delivery mode 2), mandatory,
//     with the AMQP message_id property msg.MessageID and the headers
//     msg.Headers as AMQP strings. AMQP headers are a table: of a key given
//     twice the last value wins.
//   - A message the broker returns (mandatory, no queue bound for it) fails
//     with "unroutable: exchange X routing key Y"; one it nacks (a queue
//     full with overflow reject-publish, ...) with "nacked by the broker".
//     A message to an exchange that does not exist fails alone, unsent
//     (each exchange is looked up once a call).
//   - Up to PublishWindow publishes await their confirms at once; the
//     messages of one call are published in order on one channel.
//   - Each call to the broker (the connection, a channel, a publish, the
//     wait for the next confirm) is bounded by the client's timeout: a
//     broker that stops answering ends the call within it. A connection or
//     channel lost, a timeout or a cancelled ctx fail every message not
//     confirmed yet (it may still have been stored: a later resend is a
//     duplicate, never a loss).
func (c *Client) Publish(ctx context.Context, msgs []backends.OutgoingMessage) []backends.PublishResult {
	res := make([]backends.PublishResult, len(msgs))
	byVhost := map[string][]int{}
	var vhosts []string
	for i := range msgs {
		m := &msgs[i]
		res[i].ID = m.ID
		if res[i].Err = checkOutgoing(m); res[i].Err != nil {
			continue
		}
		res[i].Err = errNotConfirmed
		vh := m.Target.Vhost
		if vh == "" {
			vh = "/"
		}
		if byVhost[vh] == nil {
			vhosts = append(vhosts, vh)
		}
		byVhost[vh] = append(byVhost[vh], i)
	}
	for _, vh := range vhosts {
		if err := ctx.Err(); err != nil {
			failRest(res, byVhost[vh], ctxError(err))
			continue
		}
		p := &publisher{c: c, ctx: ctx, vhost: vh, msgs: msgs, res: res, inflight: map[pubKey]*pubPending{}}
		p.run(byVhost[vh])
	}
	return res
}

// checkOutgoing refuses a message that cannot be published as given.
func checkOutgoing(m *backends.OutgoingMessage) error {
	id := backends.SafeText(m.ID)
	too := func(what string, n int) error {
		return &Error{Op: fmt.Sprintf("message %s: %s is %d bytes, more than the %d AMQP allows: not published", id, what, n, maxShortstr)}
	}
	switch {
	case m.Target.Broker != "rabbitmq":
		return &Error{Op: fmt.Sprintf("message %s is routed to %s, not to RabbitMQ", id, backends.SafeText(m.Target.String()))}
	case len(m.Target.Exchange) > maxShortstr:
		return too("the exchange name", len(m.Target.Exchange))
	case len(m.Target.RoutingKey) > maxShortstr:
		return too("the routing key", len(m.Target.RoutingKey))
	case len(m.MessageID) > maxShortstr:
		return too("the message id", len(m.MessageID))
	}
	for _, h := range m.Headers {
		if len(h.Key) > maxShortstr {
			return too("a header name", len(h.Key))
		}
	}
	return nil
}

func failRest(res []backends.PublishResult, idx []int, err error) {
	for _, i := range idx {
		if res[i].Err == errNotConfirmed {
			res[i].Err = err
		}
	}
}

func ctxError(err error) error {
	if errors.Is(err, context.Canceled) {
		return &Error{Op: "cancelled", Err: context.Canceled}
	}
	return &Error{Op: "timed out", Err: context.DeadlineExceeded}
}

// pubKey identifies a publish among those awaiting their confirms: a
// basic.return carries no sequence number, only the message, so a message
// is not published while one with the same key is in flight, and a return
// names exactly one publish (no header is added to tell them apart).
type pubKey struct {
	exchange, routingKey, messageID string
	body                            uint64
}

var bodySeed = maphash.MakeSeed()

func keyOf(exchange, routingKey, messageID string, body []byte) pubKey {
	return pubKey{exchange, routingKey, messageID, maphash.Bytes(bodySeed, body)}
}

// pubPending is a publish awaiting its confirm.
type pubPending struct {
	i        int // in msgs
	key      pubKey
	conf     *amqp.DeferredConfirmation
	returned error // set when the broker returned it
}

// publisher is the publishing of one Publish call's messages to one vhost.
type publisher struct {
	c     *Client
	ctx   context.Context
	vhost string
	msgs  []backends.OutgoingMessage
	res   []backends.PublishResult

	s        *session
	ch       *amqp.Channel
	returns  chan amqp.Return
	closed   chan *amqp.Error // the channel's close, with the broker's reason
	connLost chan *amqp.Error // the connection's
	blocked  chan amqp.Blocking
	blocking string // why the broker blocks publishers, while it does
	window   []*pubPending
	inflight map[pubKey]*pubPending
	hdr      amqp.Table
}

// run publishes the messages idx (all to p.vhost) and fills their results.
func (p *publisher) run(idx []int) {
	s, err := p.c.openSession(p.ctx, p.vhost, "mqops publish")
	if err != nil {
		failRest(p.res, idx, err)
		return
	}
	p.s = s
	defer s.close()
	missing, err := p.exchanges(idx)
	if err == nil {
		err = p.confirmChannel()
	}
	if err != nil {
		failRest(p.res, idx, err)
		return
	}
	for _, i := range idx {
		m := &p.msgs[i]
		if err := missing[m.Target.Exchange]; err != nil {
			p.res[i].Err = err
			continue
		}
		if err := p.publish(i); err != nil {
			p.settleAll()
			failRest(p.res, idx, &Error{Op: "not published", Err: err})
			return
		}
	}
	p.settleAll()
}

// exchanges looks up once each exchange the messages idx go to, and
// returns the error of those that do not exist or may not be used.
func (p *publisher) exchanges(idx []int) (map[string]error, error) {
	out := map[string]error{}
	var ch *amqp.Channel
	defer func() {
		if ch != nil {
			_ = ch.Close()
		}
	}()
	for _, i := range idx {
		x := p.msgs[i].Target.Exchange
		if _, done := out[x]; done || x == "" {
			continue
		}
		if ch == nil || ch.IsClosed() {
			if err := p.s.call("opening a channel", func() (err error) { ch, err = p.s.conn.Channel(); return err }); err != nil {
				return nil, err
			}
		}
		err := p.s.call("looking up exchange "+quote(x), func() error {
			return ch.ExchangeDeclarePassive(x, amqp.ExchangeDirect, false, false, false, false, nil)
		})
		if dead := p.s.failed(); dead != nil {
			return nil, dead
		}
		out[x] = nil
		var ae *amqp.Error
		switch {
		case err == nil:
		case errors.As(err, &ae) && ae.Code == amqp.NotFound:
			out[x] = notFound("exchange %s not found in vhost %s: not published", quote(x), quote(p.vhost))
		case errors.As(err, &ae):
			out[x] = &Error{Op: fmt.Sprintf("RabbitMQ refused exchange %s in vhost %s: not published", quote(x), quote(p.vhost)), Status: ae.Code,
				Err: errors.New(backends.SafeText(ae.Reason))}
		default:
			return nil, p.c.chanErr(err, p.vhost, "")
		}
	}
	return out, nil
}

// confirmChannel opens the publishing channel in confirm mode.
func (p *publisher) confirmChannel() error {
	if err := p.s.call("opening a channel", func() (err error) { p.ch, err = p.s.conn.Channel(); return err }); err != nil {
		return err
	}
	if err := p.s.call("setting the channel to confirm mode", func() error { return p.ch.Confirm(false) }); err != nil {
		return err
	}
	// room for a return of every publish in flight: the connection's
	// reader never waits on it
	p.returns = p.ch.NotifyReturn(make(chan amqp.Return, PublishWindow+1))
	p.closed = p.ch.NotifyClose(make(chan *amqp.Error, 1))
	p.connLost = p.s.conn.NotifyClose(make(chan *amqp.Error, 1))
	p.blocked = p.s.conn.NotifyBlocked(make(chan amqp.Blocking, 4))
	return nil
}

// publish sends message i, once the window has room and no publish of the
// same key is in flight. An error ends the publishing.
func (p *publisher) publish(i int) error {
	m := &p.msgs[i]
	k := keyOf(m.Target.Exchange, m.Target.RoutingKey, m.MessageID, m.Value)
	for len(p.window) >= PublishWindow || p.inflight[k] != nil {
		if err := p.settleHead(); err != nil {
			return err
		}
	}
	if p.hdr == nil {
		p.hdr = amqp.Table{}
	}
	clear(p.hdr) // amqp091 encodes the publish before it returns: the table is reused
	for _, h := range m.Headers {
		p.hdr[h.Key] = h.Value // a key given twice: the last value wins
	}
	pub := amqp.Publishing{Headers: p.hdr, DeliveryMode: amqp.Persistent, MessageId: m.MessageID, Body: m.Value}
	if len(m.Headers) == 0 {
		pub.Headers = nil
	}
	var conf *amqp.DeferredConfirmation
	err := p.s.call(fmt.Sprintf("publishing message %s to %s", backends.SafeText(m.ID), p.where(m.Target.Exchange, m.Target.RoutingKey)), func() (err error) {
		conf, err = p.ch.PublishWithDeferredConfirm(m.Target.Exchange, m.Target.RoutingKey, true, false, pub)
		return err
	})
	if err != nil {
		p.res[i].Err = p.lost(err)
		return p.res[i].Err
	}
	pp := &pubPending{i: i, key: k, conf: conf}
	p.window = append(p.window, pp)
	p.inflight[k] = pp
	return nil
}

// settleHead waits for the confirm of the oldest publish in flight, at
// most the timeout, and records its result. An error ends the publishing
// (the connection or channel is gone, the wait timed out, ctx ended).
func (p *publisher) settleHead() error {
	head := p.window[0]
	timer := time.NewTimer(p.c.cfg.Timeout)
	defer timer.Stop()
	settle := func(err error) error {
		p.window = p.window[1:]
		delete(p.inflight, head.key)
		p.res[head.i].Err = err
		return err
	}
	for {
		select {
		case <-head.conf.Done():
			p.takeReturns() // a return comes before its confirm
			m := &p.msgs[head.i]
			switch {
			case head.returned != nil:
				settle(head.returned)
			case head.conf.Acked():
				settle(nil)
			case p.ch.IsClosed() || p.s.failed() != nil:
				return settle(p.lost(nil)) // amqp091 nacks what is in flight when the channel closes
			default:
				settle(&Error{Op: fmt.Sprintf("message %s to %s: nacked by the broker", backends.SafeText(m.ID), p.where(m.Target.Exchange, m.Target.RoutingKey))})
			}
			return nil
		case r, ok := <-p.returns:
			if !ok {
				p.returns = nil // the channel closed: its confirms are done too
				continue
			}
			p.returned(r)
		case b, ok := <-p.blocked:
			if !ok {
				p.blocked = nil
				continue
			}
			p.blocking = ""
			if b.Active {
				p.blocking = b.Reason
			}
		case <-p.ctx.Done():
			p.s.kill(nil)
			return settle(p.s.failed())
		case <-timer.C:
			op := fmt.Sprintf("timed out waiting for RabbitMQ at %s to confirm message %s (after %s)", p.c.amqp.Host, backends.SafeText(p.msgs[head.i].ID), p.c.cfg.Timeout)
			if p.blocking != "" {
				op += fmt.Sprintf(": it blocks publishers (%s: a memory or disk alarm)", backends.SafeText(p.blocking))
			}
			p.s.kill(&Error{Op: op, Err: context.DeadlineExceeded})
			return settle(p.s.failed())
		}
	}
}

// settleAll waits for the confirms of every publish in flight; once the
// connection is lost, the rest fail with why.
func (p *publisher) settleAll() {
	for len(p.window) > 0 {
		if err := p.settleHead(); err != nil {
			for _, pp := range p.window {
				p.res[pp.i].Err = err
			}
			p.window = nil
			clear(p.inflight)
		}
	}
}

// takeReturns records the returns received.
func (p *publisher) takeReturns() {
	for {
		select {
		case r, ok := <-p.returns:
			if !ok {
				p.returns = nil
				return
			}
			p.returned(r)
		default:
			return
		}
	}
}

// returned records that the broker returned r: the publish in flight with
// its key. Should none match (a broker that changed the message), every
// publish in flight is counted returned: none is reported confirmed
// unless it surely arrived.
func (p *publisher) returned(r amqp.Return) {
	err := &Error{Op: fmt.Sprintf("unroutable: %s routing key %s (%s)", exchangeName(r.Exchange), quote(r.RoutingKey), backends.SafeText(r.ReplyText)), Status: int(r.ReplyCode)}
	if pp := p.inflight[keyOf(r.Exchange, r.RoutingKey, r.MessageId, r.Body)]; pp != nil {
		pp.returned = err
		return
	}
	for _, pp := range p.window {
		if pp.returned == nil {
			pp.returned = &Error{Op: "a message in flight with it was returned and could not be told apart", Err: err}
		}
	}
}

// lost says why the publishing cannot go on (err: the failed call's).
func (p *publisher) lost(err error) error {
	if dead := p.s.failed(); dead != nil {
		return dead
	}
	// a write fails a moment before amqp091 notices the connection closed:
	// give it that moment, so the operator reads why
	for i := 0; err != nil && i < 50 && !p.s.conn.IsClosed() && !p.ch.IsClosed(); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if p.s.conn.IsClosed() {
		return &Error{Op: "the connection to RabbitMQ was lost before the broker confirmed", Err: errors.New(amqpReason(recv(p.connLost, new(*amqp.Error))))}
	}
	if p.ch.IsClosed() {
		return &Error{Op: "RabbitMQ closed the publishing channel before confirming", Err: errors.New(amqpReason(recv(p.closed, new(*amqp.Error))))}
	}
	if err == nil {
		err = errNotConfirmed
	}
	return p.c.chanErr(err, p.vhost, "")
}

func (p *publisher) where(exchange, routingKey string) string {
	return fmt.Sprintf("%s routing key %s in vhost %s", exchangeName(exchange), quote(routingKey), quote(p.vhost))
}
