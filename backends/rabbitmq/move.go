package rabbitmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/mqops/mqops/backends"
)

// MoveTarget is where one message goes.
type MoveTarget struct {
	Exchange   string
	RoutingKey string
}

// Decision is what to do with one message.
type Decision int

const (
	// Move publishes the message to its target and removes it from the source.
	Move Decision = iota
	// Skip leaves the message in the source (in its place).
	Skip
	// Stop ends the move; the message stays in the source.
	Stop
)

// Headers mqops adds to a moved message.
const (
	HeaderDeathHistory = "mqops-death-history"
	HeaderMoveCount    = "mqops-move-count"
	HeaderRunID        = "mqops-run-id"
	HeaderMovedFrom    = "mqops-moved-from"
)

// MoveOptions configures Move.
type MoveOptions struct {
	Vhost, Queue string
	// Prefetch bounds the messages in flight: delivered but not yet
	// confirmed by the target. It is the most a crash can duplicate.
	Prefetch int
	// Limit stops after this many messages seen (0: the depth at start).
	Limit int
	RunID string
	// Decide filters and routes each message.
	Decide func(m *backends.Message) (Decision, MoveTarget, error)
	// Sink, when set, replaces publishing: it must have stored the message
	// durably when it returns nil (the file target fsyncs).
	Sink func(ctx context.Context, m *backends.Message) error
	// Wait is called before each publish (rate limit).
	Wait func(ctx context.Context) error
	// Progress is called at most ~10 times a second and at the end.
	Progress func(MoveProgress)
	// Idle ends the move when no message arrives for this long (default 5s).
	Idle time.Duration
}

// MoveProgress is a progress report.
type MoveProgress struct {
	Moved, Skipped, Failed, Seen, Total int
	Elapsed                             time.Duration
}

// MoveResult is how a move ended.
type MoveResult struct {
	Moved, Skipped, Failed, Seen, Total int
	Left                                int // messages in the source at the end, as the broker counts them
	StoppedBecause                      string
	Elapsed                             time.Duration
}

type inflight struct {
	tag     uint64
	seq     uint64
	conf    *amqp.DeferredConfirmation
	index   int
	target  MoveTarget
	idLabel string
}

// Move moves messages out of a queue with the safe-move recipe: consume
// with manual acks and a bounded prefetch; publish each message (body and
// properties; x- headers are not copied, the death history is kept in
// mqops-death-history) with mandatory on a confirm channel; acknowledge the
// source only after the target confirmed it and did not return it. On a
// return, a nack, a lost connection or cancellation it stops and requeues
// every message not yet confirmed. A crash at any moment duplicates at most
// the in-flight window and loses nothing.
func (c *Client) Move(ctx context.Context, o MoveOptions) (*MoveResult, error) {
	if o.Prefetch <= 0 {
		o.Prefetch = 100
	}
	if o.Idle <= 0 {
		o.Idle = 5 * time.Second
	}
	if o.Decide == nil {
		return nil, errors.New("move: no Decide function")
	}
	start := time.Now()
	conn, err := c.dial(ctx, o.Vhost, "mqops drain "+o.RunID)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	connClosed := conn.NotifyClose(make(chan *amqp.Error, 1))
	chC, err := conn.Channel()
	if err != nil {
		return nil, c.amqpErr(err)
	}
	q, err := chC.QueueDeclarePassive(o.Queue, false, false, false, false, nil)
	if err != nil {
		return nil, &Error{Op: fmt.Sprintf("queue \"%s\" not found in vhost \"%s\"", backends.SafeText(o.Queue), backends.SafeText(o.Vhost))}
	}
	chC, err = conn.Channel() // the failed passive declare would have closed it; keep a fresh one either way
	if err != nil {
		return nil, c.amqpErr(err)
	}
	res := &MoveResult{Total: q.Messages}
	if o.Limit > 0 && o.Limit < res.Total {
		res.Total = o.Limit
	}
	if res.Total == 0 {
		res.StoppedBecause = "the queue is empty"
		return res, nil
	}
	if err := chC.Qos(o.Prefetch, 0, false); err != nil {
		return nil, c.amqpErr(err)
	}
	var chP *amqp.Channel
	var returns chan amqp.Return
	pubClosed := make(chan *amqp.Error, 1)
	if o.Sink == nil {
		if chP, err = conn.Channel(); err != nil {
			return nil, c.amqpErr(err)
		}
		if err := chP.Confirm(false); err != nil {
			return nil, c.amqpErr(err)
		}
		returns = chP.NotifyReturn(make(chan amqp.Return, o.Prefetch+1))
		pubClosed = chP.NotifyClose(make(chan *amqp.Error, 1))
	}
	tag := "mqops-move-" + o.RunID
	deliveries, err := chC.ConsumeWithContext(ctx, o.Queue, tag, false, false, false, false, nil)
	if err != nil {
		return nil, c.amqpErr(err)
	}

	var (
		pending  []inflight
		skipped  []uint64
		returned = map[uint64]amqp.Return{}
		seq      uint64
		lastProg time.Time
		fail     error
	)
	progress := func(force bool) {
		if o.Progress == nil || (!force && time.Since(lastProg) < 100*time.Millisecond) {
			return
		}
		lastProg = time.Now()
		o.Progress(MoveProgress{Moved: res.Moved, Skipped: res.Skipped, Failed: res.Failed, Seen: res.Seen, Total: res.Total, Elapsed: time.Since(start)})
	}
	drainReturns := func() {
		for {
			select {
			case r := <-returns:
				if s, ok := r.Headers["mqops-move-seq"].(int64); ok {
					returned[uint64(s)] = r
				}
			default:
				return
			}
		}
	}
	// settle waits for the oldest in-flight publish and acks its source.
	settle := func() error {
		p := pending[0]
		select {
		case <-p.conf.Done():
		case <-ctx.Done():
			return ctx.Err()
		case e := <-pubClosed:
			return fmt.Errorf("the target channel closed: %v", amqpReason(e))
		case e := <-connClosed:
			return fmt.Errorf("the connection was lost: %v", amqpReason(e))
		}
		drainReturns()
		if r, ok := returned[p.seq]; ok {
			delete(returned, p.seq)
			return fmt.Errorf("message %d (%s) was returned unroutable by exchange %q with routing key %q (%s)",
				p.index+1, p.idLabel, backends.SafeText(r.Exchange), backends.SafeText(r.RoutingKey), backends.SafeText(r.ReplyText))
		}
		if !p.conf.Acked() {
			return fmt.Errorf("message %d (%s) was refused (nack) by the broker for exchange %q", p.index+1, p.idLabel, backends.SafeText(p.target.Exchange))
		}
		if err := chC.Ack(p.tag, false); err != nil {
			return fmt.Errorf("acknowledging the source: %v", err)
		}
		pending = pending[1:]
		res.Moved++
		progress(false)
		return nil
	}

	idle := time.NewTimer(o.Idle)
	defer idle.Stop()
loop:
	for res.Seen < res.Total {
		if !idle.Stop() {
			select {
			case <-idle.C:
			default:
			}
		}
		idle.Reset(o.Idle)
		var d amqp.Delivery
		var ok bool
		select {
		case d, ok = <-deliveries:
			if !ok {
				if ctx.Err() != nil {
					fail = ctx.Err()
				} else {
					fail = errors.New("the connection to RabbitMQ was lost")
				}
				break loop
			}
		case <-ctx.Done():
			fail = ctx.Err()
			break loop
		case e := <-connClosed:
			fail = fmt.Errorf("the connection was lost: %v", amqpReason(e))
			break loop
		case <-idle.C:
			res.StoppedBecause = fmt.Sprintf("no message for %v: the queue was emptied by someone else", o.Idle)
			break loop
		}
		res.Seen++
		m := convert(&d)
		m.Body, m.Truncated = d.Body, false // the whole message: sinks store it
		m.Index = res.Seen - 1
		if rid, _ := d.Headers[HeaderRunID].(string); rid != "" && rid == o.RunID {
			_ = chC.Nack(d.DeliveryTag, false, true)
			res.StoppedBecause = "a message moved by this run came round again (the target routes back to the source)"
			break loop
		}
		dec, target, err := o.Decide(&m)
		if err != nil {
			_ = chC.Nack(d.DeliveryTag, false, true)
			fail = fmt.Errorf("message %d (%s): %v", res.Seen, idLabel(&m), err)
			break loop
		}
		switch dec {
		case Stop:
			_ = chC.Nack(d.DeliveryTag, false, true)
			res.StoppedBecause = "stopped by the filter"
			break loop
		case Skip:
			skipped = append(skipped, d.DeliveryTag)
			res.Skipped++
			// keep skipped messages unacked (so they stay in place) and
			// widen the window so they don't block the consumer
			if err := chC.Qos(o.Prefetch+len(skipped), 0, false); err != nil {
				fail = err
				break loop
			}
			progress(false)
			continue
		}
		if o.Wait != nil {
			if err := o.Wait(ctx); err != nil {
				_ = chC.Nack(d.DeliveryTag, false, true)
				fail = err
				break loop
			}
		}
		if o.Sink != nil {
			if err := o.Sink(ctx, &m); err != nil {
				_ = chC.Nack(d.DeliveryTag, false, true)
				fail = fmt.Errorf("message %d (%s): %v", res.Seen, idLabel(&m), err)
				break loop
			}
			if err := chC.Ack(d.DeliveryTag, false); err != nil {
				fail = fmt.Errorf("acknowledging the source: %v", err)
				break loop
			}
			res.Moved++
			progress(false)
			continue
		}
		seq++
		pub := republish(&d, &m, o, seq)
		conf, err := chP.PublishWithDeferredConfirmWithContext(ctx, target.Exchange, target.RoutingKey, true, false, pub)
		if err != nil {
			_ = chC.Nack(d.DeliveryTag, false, true)
			fail = fmt.Errorf("publishing message %d: %v", res.Seen, err)
			break loop
		}
		pending = append(pending, inflight{tag: d.DeliveryTag, seq: seq, conf: conf, index: res.Seen - 1, target: target, idLabel: idLabel(&m)})
		for len(pending) >= o.Prefetch {
			if err := settle(); err != nil {
				fail = err
				break loop
			}
		}
	}
	for fail == nil && len(pending) > 0 {
		if err := settle(); err != nil {
			fail = err
		}
	}
	// Requeue everything not confirmed, and the skipped messages, in place.
	_ = chC.Cancel(tag, false)
	_ = chC.Nack(0, true, true) // multiple with tag 0: every unacked delivery, prefetched ones too
	_ = chC.Close()
	res.Elapsed = time.Since(start)
	if chk, err := conn.Channel(); err == nil {
		if q, err := chk.QueueDeclarePassive(o.Queue, false, false, false, false, nil); err == nil {
			res.Left = q.Messages
		}
		chk.Close()
	}
	progress(true)
	if fail != nil {
		if errors.Is(fail, context.Canceled) || errors.Is(fail, context.DeadlineExceeded) {
			res.StoppedBecause = "cancelled"
			return res, fmt.Errorf("move cancelled: %d moved, %d left in %q", res.Moved, res.Left, backends.SafeText(o.Queue))
		}
		res.StoppedBecause = fail.Error()
		return res, fmt.Errorf("%v: stopped, %d moved, the rest left in %q", fail, res.Moved, backends.SafeText(o.Queue))
	}
	if res.StoppedBecause == "" {
		res.StoppedBecause = "done"
	}
	return res, nil
}

// republish builds the outgoing message: body and properties copied, x-
// headers dropped (RabbitMQ ignores or rejects client-set ones), the death
// history kept as JSON, a move counter, the run id and a sequence number.
func republish(d *amqp.Delivery, m *backends.Message, o MoveOptions, seq uint64) amqp.Publishing {
	h := amqp.Table{}
	for k, v := range d.Headers {
		if strings.HasPrefix(strings.ToLower(k), "x-") {
			continue
		}
		h[k] = v
	}
	if len(m.Deaths) > 0 {
		if b, err := json.Marshal(m.Deaths); err == nil {
			h[HeaderDeathHistory] = string(b)
		}
	}
	count := int64(0)
	switch n := d.Headers[HeaderMoveCount].(type) {
	case int64:
		count = n
	case int32:
		count = int64(n)
	}
	h[HeaderMoveCount] = count + 1
	h[HeaderRunID] = o.RunID
	h[HeaderMovedFrom] = o.Vhost + "/" + o.Queue
	h["mqops-move-seq"] = int64(seq)
	return amqp.Publishing{
		Headers: h, ContentType: d.ContentType, ContentEncoding: d.ContentEncoding,
		DeliveryMode: d.DeliveryMode, Priority: d.Priority, CorrelationId: d.CorrelationId,
		ReplyTo: d.ReplyTo, Expiration: d.Expiration, MessageId: d.MessageId, Timestamp: d.Timestamp,
		Type: d.Type, UserId: d.UserId, AppId: d.AppId, Body: d.Body,
	}
}

func idLabel(m *backends.Message) string {
	if m.MessageID != "" {
		return "id " + backends.SafeText(m.MessageID)
	}
	return "no message id"
}

func amqpReason(e *amqp.Error) string {
	if e == nil {
		return "closed"
	}
	return backends.SafeText(e.Reason)
}

// ExchangeExists reports whether an exchange exists ("" always does).
func (c *Client) ExchangeExists(ctx context.Context, vhost, name string) (bool, error) {
	if name == "" {
		return true, nil
	}
	var x map[string]any
	err := c.get(ctx, "/api/exchanges/"+seg(vhost)+"/"+seg(name), nil, &x)
	if isNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// Routes says which queues a publish to exchange with routingKey reaches,
// from the exchange's bindings: direct (exact key), fanout (all), topic
// (* and #). Headers exchanges cannot be predicted: ok is false.
func (c *Client) Routes(ctx context.Context, vhost, exchange, routingKey string) (queues []string, ok bool, err error) {
	if exchange == "" {
		var aq apiQueue
		err := c.get(ctx, "/api/queues/"+seg(vhost)+"/"+seg(routingKey), nil, &aq)
		if isNotFound(err) {
			return nil, true, nil
		}
		if err != nil {
			return nil, false, err
		}
		return []string{routingKey}, true, nil
	}
	var x struct {
		Type string `json:"type"`
	}
	if err := c.get(ctx, "/api/exchanges/"+seg(vhost)+"/"+seg(exchange), nil, &x); err != nil {
		if isNotFound(err) {
			return nil, true, nil
		}
		return nil, false, err
	}
	var bs []backends.Binding
	if err := c.get(ctx, "/api/exchanges/"+seg(vhost)+"/"+seg(exchange)+"/bindings/source", nil, &bs); err != nil {
		return nil, false, err
	}
	if x.Type == "headers" {
		return nil, false, nil
	}
	seen := map[string]bool{}
	for _, b := range bs {
		match := false
		switch x.Type {
		case "fanout":
			match = true
		case "direct":
			match = b.RoutingKey == routingKey
		case "topic":
			match = topicMatch(b.RoutingKey, routingKey)
		default:
			return nil, false, nil
		}
		if match && b.DestinationType == "queue" && !seen[b.Destination] {
			seen[b.Destination] = true
			queues = append(queues, b.Destination)
		}
		if match && b.DestinationType == "exchange" {
			return nil, false, nil // exchange-to-exchange: not followed
		}
	}
	return queues, true, nil
}

// topicMatch implements AMQP topic matching: * one word, # zero or more.
func topicMatch(pattern, key string) bool {
	return matchWords(strings.Split(pattern, "."), strings.Split(key, "."))
}

func matchWords(p, k []string) bool {
	if len(p) == 0 {
		return len(k) == 0
	}
	if p[0] == "#" {
		for i := 0; i <= len(k); i++ {
			if matchWords(p[1:], k[i:]) {
				return true
			}
		}
		return false
	}
	if len(k) == 0 {
		return false
	}
	if p[0] == "*" || p[0] == k[0] {
		return matchWords(p[1:], k[1:])
	}
	return false
}
