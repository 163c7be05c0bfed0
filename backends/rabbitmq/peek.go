package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/mqops/mqops/backends"
)

// MaxBody is how much of a message body is kept for display.
const MaxBody = 1 << 20

// dial opens an AMQP connection to vhost with the configured credentials.
func (c *Client) dial(ctx context.Context, vhost string, name ...string) (*amqp.Connection, error) {
	connName := "mqops"
	if len(name) > 0 {
		connName = name[0]
	}
	if c.cfg.URL == "" {
		return nil, errors.New("no RabbitMQ AMQP URL configured (set rabbitmq.url, or --rabbitmq-url)")
	}
	u, err := url.Parse(c.cfg.URL)
	if err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") {
		return nil, errors.New("invalid RabbitMQ URL: want amqp://host:port/vhost or amqps://")
	}
	user := c.cfg.Username
	if user == "" && u.User != nil {
		user = u.User.Username()
	}
	u.User = url.UserPassword(user, c.cfg.Password)
	u.Path, u.RawPath = "/"+vhost, "/"+url.PathEscape(vhost)
	type res struct {
		conn *amqp.Connection
		err  error
	}
	out := make(chan res, 1)
	go func() {
		conn, err := amqp.DialConfig(u.String(), amqp.Config{
			Dial:            amqp.DefaultDial(c.cfg.Timeout),
			TLSClientConfig: c.cfg.TLS,
			Heartbeat:       10 * time.Second,
			Properties:      amqp.Table{"connection_name": connName},
		})
		out <- res{conn, err}
	}()
	select {
	case r := <-out:
		if r.err != nil {
			return nil, c.amqpErr(r.err)
		}
		return r.conn, nil
	case <-ctx.Done():
		go func() {
			if r := <-out; r.conn != nil {
				r.conn.Close()
			}
		}()
		return nil, &Error{Op: "timed out connecting to RabbitMQ at " + u.Host, Err: ctx.Err()}
	}
}

// amqpErr rewrites amqp091 errors without the URL (which holds the
// password) and with an operator's wording.
func (c *Client) amqpErr(err error) error {
	var ae *amqp.Error
	if errors.As(err, &ae) {
		switch ae.Code {
		case amqp.AccessRefused:
			return &Error{Op: fmt.Sprintf("RabbitMQ refused access for user \"%s\"", backends.SafeText(c.cfg.Username)), Err: errors.New(backends.SafeText(ae.Reason))}
		case amqp.NotFound:
			return &Error{Op: "not found", Err: errors.New(backends.SafeText(ae.Reason))}
		}
		return &Error{Op: "RabbitMQ", Err: errors.New(backends.SafeText(ae.Reason))}
	}
	msg := err.Error()
	if strings.Contains(msg, "username or password not allowed") || strings.Contains(msg, "ACCESS_REFUSED") {
		return &Error{Op: fmt.Sprintf("authentication failed for RabbitMQ user \"%s\"", backends.SafeText(c.cfg.Username))}
	}
	if c.cfg.Password != "" {
		msg = strings.ReplaceAll(msg, c.cfg.Password, "REDACTED")
	}
	return &Error{Op: "cannot connect to RabbitMQ", Err: errors.New(backends.SafeText(msg))}
}

// Peek returns messages offset..offset+limit of a queue without consuming
// anything: it gets them unacknowledged on its own channel, then rejects
// them all with requeue, so the queue keeps its depth and order and nothing
// is dead-lettered. A crash in the middle requeues them too (the broker
// requeues the unacked messages of a closed channel). The warning is set
// when peeking counts against a quorum queue's delivery limit.
func (c *Client) Peek(ctx context.Context, vhost, queue string, offset, limit int) ([]backends.Message, string, error) {
	if offset < 0 || limit <= 0 {
		return nil, "", errors.New("peek: offset must be ≥ 0 and limit > 0")
	}
	conn, err := c.dial(ctx, vhost)
	if err != nil {
		return nil, "", err
	}
	defer conn.Close()
	// the broker would block on nothing, but a dead connection would: bound it
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	ch, err := conn.Channel()
	if err != nil {
		return nil, "", c.amqpErr(err)
	}
	q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", &Error{Op: "peek cancelled", Err: ctx.Err()}
		}
		return nil, "", &Error{Op: fmt.Sprintf("queue \"%s\" not found in vhost \"%s\"", backends.SafeText(queue), backends.SafeText(vhost))}
	}
	warning := c.deliveryLimitWarning(ctx, vhost, queue)
	var (
		out  []backends.Message
		last uint64
	)
	for i := 0; i < offset+limit && i < q.Messages; i++ {
		d, ok, err := ch.Get(queue, false)
		if err != nil {
			if ctx.Err() != nil {
				return nil, "", &Error{Op: "peek cancelled", Err: ctx.Err()}
			}
			return nil, "", c.amqpErr(err)
		}
		if !ok {
			break
		}
		last = d.DeliveryTag
		if i >= offset {
			m := convert(&d)
			m.Index = i
			out = append(out, m)
		}
	}
	if last > 0 {
		if err := ch.Nack(last, true, true); err != nil {
			return nil, "", c.amqpErr(err) // the channel closes: the broker requeues them
		}
		// A synchronous call on the same channel after the nack: once it
		// answers, the queue has taken the messages back, so whatever runs
		// next (a drain measuring the depth) sees them.
		// The requeue is asynchronous inside the broker: wait (bounded) until
		// the queue shows at least the depth it had before the peek.
		for deadline := time.Now().Add(5 * time.Second); ; {
			after, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
			if err != nil {
				return nil, "", c.amqpErr(err)
			}
			if after.Messages >= q.Messages || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	_ = ch.Close()
	return out, warning, nil
}

func (c *Client) deliveryLimitWarning(ctx context.Context, vhost, queue string) string {
	var aq apiQueue
	if err := c.get(ctx, "/api/queues/"+seg(vhost)+"/"+seg(queue), url.Values{"columns": {queueColumns}}, &aq); err != nil {
		return ""
	}
	q := convertQueue(aq)
	if q.Type == "quorum" && q.DeliveryLimit != nil {
		return fmt.Sprintf("quorum queue with delivery-limit %d: each peek counts as a delivery (before RabbitMQ 4.3) and may dead-letter messages at the limit", *q.DeliveryLimit)
	}
	return ""
}

// convert copies a delivery into a backends.Message.
func convert(d *amqp.Delivery) backends.Message {
	m := backends.Message{
		Exchange: d.Exchange, RoutingKey: d.RoutingKey, Redelivered: d.Redelivered,
		ContentType: d.ContentType, Encoding: d.ContentEncoding, MessageID: d.MessageId,
		CorrelationID: d.CorrelationId, Timestamp: d.Timestamp, AppID: d.AppId, Type: d.Type,
		DeliveryMode: d.DeliveryMode, Priority: d.Priority, Expiration: d.Expiration,
		ReplyTo: d.ReplyTo, UserID: d.UserId, Size: len(d.Body),
	}
	if len(d.Body) > MaxBody {
		m.Body, m.Truncated = append([]byte(nil), d.Body[:MaxBody]...), true
	} else {
		m.Body = append([]byte(nil), d.Body...)
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

func parseDeaths(v any) []backends.Death {
	arr, ok := v.([]interface{})
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
		d.Time, _ = t["time"].(time.Time)
		switch n := t["count"].(type) {
		case int64:
			d.Count = n
		case int32:
			d.Count = int64(n)
		}
		if rks, ok := t["routing-keys"].([]interface{}); ok {
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

// plainTable turns an AMQP table into plain Go values.
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
	case []interface{}:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plainValue(e)
		}
		return out
	case amqp.Decimal:
		return fmt.Sprintf("%d/10^%d", x.Value, x.Scale)
	default:
		return x
	}
}

var exceptionHeaders = []string{"x-exception-type", "MT-Fault-ExceptionType", "x-exception-message", "MT-Fault-Message", "exception", "x-exception"}

// DeadLetters samples (by peeking, so nothing is consumed) up to sample
// messages of a dead-letter queue and groups them by origin queue, reason
// and exception.
func (c *Client) DeadLetters(ctx context.Context, vhost, queue string, sample int) (*backends.DeadLetterSummary, error) {
	if sample <= 0 {
		sample = 1000
	}
	ms, warning, err := c.Peek(ctx, vhost, queue, 0, sample)
	if err != nil {
		return nil, err
	}
	depth := int64(len(ms))
	var aq apiQueue
	if err := c.get(ctx, "/api/queues/"+seg(vhost)+"/"+seg(queue), url.Values{"columns": {queueColumns}}, &aq); err == nil {
		if n := num(aq.Messages); n > depth {
			depth = n
		}
	}
	return &backends.DeadLetterSummary{Backend: "rabbitmq", Vhost: vhost, Queue: queue, Messages: depth, Sampled: len(ms), Groups: Group(ms), Warning: warning}, nil
}

// Group groups dead letters by origin, reason and exception, most first.
func Group(ms []backends.Message) []backends.DeadLetterGroup {
	type key struct{ origin, reason, exc string }
	idx := map[key]*backends.DeadLetterGroup{}
	var order []key
	for i := range ms {
		m := &ms[i]
		origin, reason := m.Origin()
		exc := ""
		for _, h := range exceptionHeaders {
			if s, ok := m.Headers[h].(string); ok && s != "" {
				exc = s
				break
			}
		}
		when := m.Timestamp
		for _, d := range m.Deaths {
			if d.Queue == origin && !d.Time.IsZero() {
				when = d.Time
			}
		}
		k := key{origin, reason, exc}
		g := idx[k]
		if g == nil {
			g = &backends.DeadLetterGroup{Origin: origin, Reason: reason, Exception: exc}
			idx[k] = g
			order = append(order, k)
		}
		g.Count++
		if !when.IsZero() {
			if g.First.IsZero() || when.Before(g.First) {
				g.First = when
			}
			if when.After(g.Last) {
				g.Last = when
			}
		}
	}
	out := make([]backends.DeadLetterGroup, 0, len(order))
	for _, k := range order {
		out = append(out, *idx[k])
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Count > out[j].Count })
	return out
}
