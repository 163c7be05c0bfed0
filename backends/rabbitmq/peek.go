package rabbitmq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/mqops/mqops/backends"
)

// MaxBody is how much of a peeked message body is kept for display;
// Message.Size is the real size.
const MaxBody = 1 << 20

// MaxPeek bounds offset+limit of a peek: that many messages are held
// unacknowledged while it runs (and it is a consumer's prefetch, at most
// 65,535 in AMQP).
const MaxPeek = 50_000

// Peek returns messages offset..offset+limit-1 of a queue without consuming
// anything: on its own channel it receives the first offset+limit messages
// without acking them (a consumer with that prefetch, or basic.get with
// noAck=false one by one where a consumer cannot) and then rejects them
// all at once with requeue, so the queue keeps its depth and order and
// nothing is dead-lettered. A crash or cancellation in between requeues
// them too: the broker requeues what a closed channel left
// unacknowledged. Peeked messages come back marked redelivered.
//
// warning is set when peeking has a side effect worth telling the operator:
// on a quorum queue with a delivery limit, before RabbitMQ 4.3, every
// requeue counts as a delivery attempt.
func (c *Client) Peek(ctx context.Context, vhost, queue string, offset, limit int) (msgs []backends.Message, warning string, err error) {
	msgs, _, warning, err = c.peek(ctx, vhost, queue, offset, limit)
	return msgs, warning, err
}

// peek also returns the queue's depth (ready messages) as the broker
// counted it at the start.
func (c *Client) peek(ctx context.Context, vhost, queue string, offset, limit int) ([]backends.Message, int, string, error) {
	if offset < 0 || limit <= 0 {
		return nil, 0, "", errors.New("peek: the offset must be ≥ 0 and the limit > 0")
	}
	if offset+limit > MaxPeek {
		return nil, 0, "", fmt.Errorf("peek: at most %d messages deep (offset %d + limit %d)", MaxPeek, offset, limit)
	}
	warning, sac := c.peekWarning(ctx, vhost, queue)
	conn, err := c.dial(ctx, vhost, "mqops peek")
	if err != nil {
		return nil, 0, "", err
	}
	defer c.closeConn(conn)
	// a dead peer would block a call: cancellation closes the connection,
	// and the broker requeues whatever was got
	stop := context.AfterFunc(ctx, func() { _ = conn.CloseDeadline(time.Now().Add(time.Second)) })
	defer stop()
	cancelled := func(err error) error {
		if ctx.Err() != nil {
			return &Error{Op: "peek cancelled; the messages got so far were requeued", Err: ctx.Err()}
		}
		return err
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil, 0, "", cancelled(c.chanErr(err, vhost, queue))
	}
	q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	if err != nil {
		return nil, 0, "", cancelled(c.chanErr(err, vhost, queue))
	}
	want := min(offset+limit, q.Messages)
	var out []backends.Message
	keep := func(d *amqp.Delivery, i int) {
		if i >= offset {
			m := convert(d, MaxBody)
			m.Index = i
			out = append(out, m)
		}
	}
	// A consumer streams the messages (one round trip, not one per
	// message); where it cannot (an exclusive or single active consumer
	// holds the queue) basic.get takes them one by one.
	n := 0
	if !sac { // a single-active-consumer queue would not deliver to it
		if n, err = c.peekConsume(ctx, ch, queue, want, keep); err != nil {
			return nil, 0, "", cancelled(err)
		}
	}
	if n == 0 && want > 0 {
		if ch.IsClosed() {
			if ch, err = conn.Channel(); err != nil {
				return nil, 0, "", cancelled(c.chanErr(err, vhost, queue))
			}
		}
		for ; n < want; n++ {
			d, ok, err := ch.Get(queue, false)
			if err != nil {
				return nil, 0, "", cancelled(c.chanErr(err, vhost, queue))
			}
			if !ok {
				break // consumed by someone else meanwhile
			}
			keep(&d, n)
		}
	}
	last := uint64(0)
	if n > 0 {
		last = 1 // any: the nack below requeues every unacked delivery
	}
	if last > 0 {
		if err := ch.Nack(0, true, true); err != nil {
			// the channel is gone, and with it the unacked messages: requeued
			return nil, 0, "", cancelled(c.chanErr(err, vhost, queue))
		}
		// The requeue is asynchronous inside the broker (quorum queues
		// apply it through their log): wait, bounded, until the queue shows
		// the depth it had, so whatever runs next (a drain measuring the
		// depth) sees the messages.
		deadline := time.Now().Add(min(c.cfg.Timeout, 3*time.Second))
		for {
			after, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
			if err != nil {
				return nil, 0, "", cancelled(c.chanErr(err, vhost, queue))
			}
			if after.Messages >= q.Messages || time.Now().After(deadline) || ctx.Err() != nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	_ = ch.Close()
	if out == nil {
		out = []backends.Message{}
	}
	return out, q.Messages, warning, nil
}

// peekIdle is how long a peek waits for the next message from its
// consumer before it takes what it got (others may consume meanwhile).
const peekIdle = time.Second

// peekConsume gets want messages through a consumer with a prefetch of
// want, keeping them unacknowledged, and cancels it. It returns how many it
// got: 0 when the consumer got nothing (or could not subscribe: the
// channel is then closed), for basic.get to try.
func (c *Client) peekConsume(ctx context.Context, ch *amqp.Channel, queue string, want int, keep func(*amqp.Delivery, int)) (int, error) {
	if want <= 0 {
		return 0, nil
	}
	if err := ch.Qos(want, 0, false); err != nil {
		return 0, nil
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	tag := "mqops-peek-" + hex.EncodeToString(b)
	ds, err := ch.Consume(queue, tag, false, false, false, false, nil)
	if err != nil {
		return 0, nil
	}
	n := 0
	first := time.NewTimer(c.cfg.Timeout) // the first message may come from disk
	defer first.Stop()
	idle := time.NewTimer(peekIdle)
	defer idle.Stop()
	var idleC <-chan time.Time
loop:
	for n < want {
		select {
		case d, ok := <-ds:
			if !ok {
				break loop
			}
			keep(&d, n)
			n++
			idle.Reset(peekIdle)
			idleC = idle.C
		case <-first.C:
			if n == 0 {
				break loop
			}
		case <-idleC:
			break loop
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	// what arrives after the cancel stays unacknowledged too: the nack
	// that follows requeues it with the rest
	_ = ch.Cancel(tag, false)
	return n, nil
}

// peekWarning warns when requeues count against a quorum queue's delivery
// limit (RabbitMQ before 4.3; from 4.0 the default limit is 20), and says
// whether the queue has a single active consumer.
func (c *Client) peekWarning(ctx context.Context, vhost, queue string) (warning string, sac bool) {
	var aq apiQueue
	if err := c.get(ctx, "/api/queues/"+seg(vhost)+"/"+seg(queue), url.Values{"columns": {"type,arguments,effective_policy_definition"}}, &aq); err != nil {
		return "", false
	}
	q := convertQueue(aq)
	sac, _ = q.Arguments["x-single-active-consumer"].(bool)
	if q.Type != "quorum" {
		return "", sac
	}
	v := c.rabbitVersion(ctx)
	if versionAtLeast(v, 4, 3) {
		return "", sac
	}
	limit := int64(-1)
	if q.DeliveryLimit != nil {
		limit = *q.DeliveryLimit
	} else if versionAtLeast(v, 4, 0) {
		limit = 20
	}
	if limit < 0 {
		return "", sac
	}
	return fmt.Sprintf("quorum queue with delivery-limit %d: before RabbitMQ 4.3 every peek counts as a delivery attempt, "+
		"and a message requeued more than %d times is dead-lettered (or dropped without a dead-letter exchange)", limit, limit), sac
}

// versionAtLeast compares a RabbitMQ version ("3.13.7", "4.1.0-rc.1").
func versionAtLeast(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
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
