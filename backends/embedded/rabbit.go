package embedded

// The RabbitMQ half of the demo. Unlike Kafka, RabbitMQ cannot run in
// process: StartRabbit uses a broker that is already there (the newcomer's
// local one by default), creates a handful of queues whose names share a
// prefix ("demo." by default) on vhost "/", and runs publishers and consumers
// on them until Close.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Defaults of the RabbitMQ demo: the broker a newcomer has after installing
// RabbitMQ with its management plugin (guest is only allowed from loopback).
const (
	DefaultRabbitURL           = "amqp://guest:guest@127.0.0.1:5672/"
	DefaultRabbitManagementURL = "http://127.0.0.1:15672"
	DefaultRabbitPrefix        = "demo."
	// DefaultRabbitDialTimeout bounds the reachability check: TCP connect
	// and AMQP handshake together.
	DefaultRabbitDialTimeout = 2 * time.Second
)

// RabbitOptions configures StartRabbit.
type RabbitOptions struct {
	// URL is the AMQP URL, with its credentials (default DefaultRabbitURL).
	// Its vhost is ignored: the demo always uses "/".
	URL string
	// Prefix starts the name of every queue and exchange of the demo
	// (default "demo."); tests use a unique one.
	Prefix string
	// Seed drives the payloads (ids, amounts, which messages fail).
	Seed int64
	// DialTimeout bounds the connection (TCP and AMQP handshake) and is
	// the reachability check (default 2 s). Creating the queues once
	// connected is bounded separately (setupTimeout).
	DialTimeout time.Duration
	// DeleteOnClose makes Close delete the demo's queues and exchange.
	// Otherwise they stay, with their messages, for the next run.
	DeleteOnClose bool
	// Logf, if set, receives the errors of the traffic goroutines (called
	// from several goroutines at once). Nothing here writes to stdout or
	// stderr.
	Logf func(format string, args ...any)
}

// RabbitQueue describes one queue of the RabbitMQ demo.
type RabbitQueue struct {
	Name   string
	Type   string // classic or quorum
	Expect string // what the console should show for it
}

// Rabbit is the running RabbitMQ demo. It is safe for concurrent use.
type Rabbit struct {
	mu     sync.Mutex
	conn   *amqp.Connection // replaced on a reconnection
	prefix string
	vhost  string
	delete bool
	logf   func(format string, args ...any)

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error

	published, acked, rejected, reconnects atomic.Int64
}

// Rates and shape of the traffic: a few tens of messages per second in all.
const (
	rabbitTick        = 100 * time.Millisecond
	ordersPerSecond   = 10.0
	emailsPerSecond   = 0.5
	paymentsFast      = 6.0              // payments/s while the backlog grows
	paymentsSlow      = 2.0              // payments/s while it shrinks
	paymentsPhase     = 60 * time.Second // length of each of the two phases
	paymentWork       = 250 * time.Millisecond
	paymentsBacklog   = 60              // payments waiting when the demo starts
	paymentHoldTTL    = 5 * time.Second // per-message TTL of authorisation holds
	rejectOrderEvery  = 20              // 1 order in 20 is invalid: rejected
	declineEvery      = 25              // 1 payment in 25 is declined: rejected
	holdEvery         = 4               // 1 payment in 4 is a hold with a TTL
	dlqMaxLength      = 5000            // bound of each DLQ (oldest dropped)
	queueMaxLength    = 20000           // safety bound of the live queues
	emailsMaxLength   = 5000            // emails has no consumer
	ordersPrefetch    = 20
	setupTimeout      = 10 * time.Second
	rabbitCloseBudget = 5 * time.Second
)

func (r *Rabbit) name(s string) string { return r.prefix + s }

// Queues describes the demo's queues, live ones first, then the DLQs.
func (r *Rabbit) Queues() []RabbitQueue {
	return []RabbitQueue{
		{r.name("orders"), "classic", "a consumer keeping up; 1 in 20 rejected to " + r.name("orders.dlq")},
		{r.name("payments"), "quorum", "a slow consumer: a backlog that grows and shrinks; holds expire, declines rejected"},
		{r.name("emails"), "classic", "no consumer: grows slowly (capped at 5000)"},
		{r.name("orders.dlq"), "classic", "dead letters: rejected, two exceptions"},
		{r.name("payments.dlq"), "classic", "dead letters: rejected and expired"},
	}
}

// Vhost is the vhost of the demo's queues ("/").
func (r *Rabbit) Vhost() string { return r.vhost }

// Published is how many messages the demo has published so far.
func (r *Rabbit) Published() int64 { return r.published.Load() }

// Acked and Rejected count what the demo's consumers settled.
func (r *Rabbit) Acked() int64    { return r.acked.Load() }
func (r *Rabbit) Rejected() int64 { return r.rejected.Load() }

// StartRabbit connects to the broker (within o.DialTimeout), declares the
// demo's exchange and queues and starts the traffic. It returns an error,
// without leaving anything running, when the broker is not reachable or
// refuses the login or the declarations. Cancelling ctx stops the traffic
// as Close does, minus the clean-up.
func StartRabbit(ctx context.Context, o RabbitOptions) (*Rabbit, error) {
	if o.URL == "" {
		o.URL = DefaultRabbitURL
	}
	if o.Prefix == "" {
		o.Prefix = DefaultRabbitPrefix
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultRabbitDialTimeout
	}
	u, err := amqp.ParseURI(o.URL)
	if err != nil {
		return nil, fmt.Errorf("rabbitmq demo: %w", err)
	}
	u.Vhost = "/"
	r := &Rabbit{prefix: o.Prefix, vhost: "/", delete: o.DeleteOnClose, logf: o.Logf}
	if r.logf == nil {
		r.logf = func(string, ...any) {}
	}
	g := newGenerator(o.Seed)
	conn, err := r.connect(ctx, u, o.DialTimeout, g)
	if err != nil {
		return nil, err
	}
	r.conn = conn
	tctx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	traffic, err := r.startTraffic(tctx, conn, g)
	if err != nil {
		_ = r.Close()
		return nil, err
	}
	r.wg.Go(func() { r.supervise(tctx, u, o.DialTimeout, g, conn, traffic) })
	return r, nil
}

// connect dials the broker (within timeout) and declares the demo's
// exchange and queues.
func (r *Rabbit) connect(ctx context.Context, u amqp.URI, timeout time.Duration, g *generator) (*amqp.Connection, error) {
	var raw net.Conn
	deadline := time.Now().Add(timeout)
	dial := func(network, addr string) (net.Conn, error) {
		dctx, cancel := context.WithDeadline(ctx, deadline)
		defer cancel()
		c, err := (&net.Dialer{}).DialContext(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		// Bounds the handshake; amqp091 clears it once connected.
		if err := c.SetDeadline(deadline); err != nil {
			c.Close()
			return nil, err
		}
		raw = c
		return c, nil
	}
	conn, err := amqp.DialConfig(u.String(), amqp.Config{
		Dial:       dial,
		Heartbeat:  10 * time.Second,
		Locale:     "en_US",
		Properties: amqp.Table{"connection_name": "mqops demo " + r.prefix},
	})
	if err != nil {
		return nil, fmt.Errorf("rabbitmq demo: connecting to %s: %w", redactedHost(u), dialReason(err))
	}
	// The declarations run under a deadline too, so that a broker that
	// accepted the connection and then hangs cannot hang the demo.
	if raw != nil {
		_ = raw.SetDeadline(time.Now().Add(setupTimeout))
	}
	err = r.setup(conn, g)
	if raw != nil {
		_ = raw.SetDeadline(time.Time{})
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// Reconnection backoff of the demo after the broker closed its connection
// (a restart, a forced close in the management UI).
const (
	reconnectFirst = 500 * time.Millisecond
	reconnectMax   = 10 * time.Second
)

// supervise watches the connection; when the broker closes it, it waits for
// the traffic to stop, then reconnects with backoff and starts the traffic
// again, until ctx ends.
func (r *Rabbit) supervise(ctx context.Context, u amqp.URI, timeout time.Duration, g *generator, conn *amqp.Connection, traffic *sync.WaitGroup) {
	for {
		closed := conn.NotifyClose(make(chan *amqp.Error, 1))
		select {
		case <-ctx.Done():
			return
		case err := <-closed:
			if ctx.Err() != nil {
				return
			}
			r.logf("rabbitmq demo: connection lost (%v); reconnecting", err)
		}
		traffic.Wait()
		for wait := reconnectFirst; ; wait = min(2*wait, reconnectMax) {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			c, err := r.connect(ctx, u, timeout, g)
			if err != nil {
				r.logf("%v; retrying in %v", err, min(2*wait, reconnectMax))
				continue
			}
			tr, err := r.startTraffic(ctx, c, g)
			if err != nil {
				r.logf("%v; retrying", err)
				c.Close()
				continue
			}
			r.mu.Lock()
			r.conn = c
			r.mu.Unlock()
			conn, traffic = c, tr
			r.reconnects.Add(1)
			r.logf("rabbitmq demo: reconnected")
			break
		}
	}
}

// Reconnects counts the reconnections after the broker closed the
// connection.
func (r *Rabbit) Reconnects() int64 { return r.reconnects.Load() }

func (r *Rabbit) connection() *amqp.Connection {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conn
}

// redactedHost is host:port of the URI, for messages (never the password).
func redactedHost(u amqp.URI) string {
	return net.JoinHostPort(u.Host, strconv.Itoa(u.Port))
}

// ErrRabbitLogin is the error (errors.Is) of StartRabbit when the broker
// refuses the user or password.
var ErrRabbitLogin = errors.New("login refused")

// dialReason turns the usual connection failures into short text.
func dialReason(err error) error {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return errors.New("timed out")
	case errors.Is(err, amqp.ErrSASL), errors.Is(err, amqp.ErrCredentials):
		return ErrRabbitLogin
	}
	var ae *amqp.Error
	if errors.As(err, &ae) {
		switch {
		case ae.Code == amqp.AccessRefused:
			return ErrRabbitLogin
		case strings.Contains(ae.Reason, "i/o timeout"):
			return errors.New("timed out")
		case strings.Contains(ae.Reason, "EOF"), strings.Contains(ae.Reason, "reset by peer"):
			return errors.New("the server closed the connection (not an AMQP 0-9-1 broker, or TLS expected?)")
		}
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" && oe.Err != nil {
		return errors.New(strings.TrimPrefix(oe.Err.Error(), "connect: "))
	}
	return err
}

// setup declares the dead-letter exchange, the DLQs and the live queues,
// and puts a first backlog on the payments queue.
func (r *Rabbit) setup(conn *amqp.Connection, g *generator) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("rabbitmq demo: channel: %w", err)
	}
	defer ch.Close()
	dlx := r.name("dlx")
	if err := ch.ExchangeDeclare(dlx, amqp.ExchangeDirect, true, false, false, false, nil); err != nil {
		return declareErr("exchange", dlx, err)
	}
	for _, q := range []string{r.name("orders.dlq"), r.name("payments.dlq")} {
		if _, err := ch.QueueDeclare(q, true, false, false, false, amqp.Table{"x-max-length": int32(dlqMaxLength)}); err != nil {
			return declareErr("queue", q, err)
		}
		if err := ch.QueueBind(q, q, dlx, false, nil); err != nil {
			return declareErr("binding of", q, err)
		}
	}
	queues := []struct {
		name string
		args amqp.Table
	}{
		{r.name("orders"), amqp.Table{
			"x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": r.name("orders.dlq"),
			"x-max-length": int32(queueMaxLength),
		}},
		{r.name("payments"), amqp.Table{
			"x-queue-type":           "quorum",
			"x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": r.name("payments.dlq"),
			"x-max-length": int32(queueMaxLength),
		}},
		{r.name("emails"), amqp.Table{"x-max-length": int32(emailsMaxLength)}},
	}
	for _, q := range queues {
		if _, err := ch.QueueDeclare(q.name, true, false, false, false, q.args); err != nil {
			return declareErr("queue", q.name, err)
		}
	}
	// A first backlog on payments, so that holds start expiring (and the
	// payments DLQ shows both reasons) within seconds rather than minutes.
	q, err := ch.QueueDeclarePassive(r.name("payments"), true, false, false, false, queues[1].args)
	if err != nil {
		return declareErr("queue", r.name("payments"), err)
	}
	for i := q.Messages; i < paymentsBacklog; i++ {
		if err := r.publishPayment(context.Background(), ch, g, time.Now()); err != nil {
			return fmt.Errorf("rabbitmq demo: publish: %w", err)
		}
	}
	return nil
}

func declareErr(what, name string, err error) error {
	var ae *amqp.Error
	if errors.As(err, &ae) {
		switch ae.Code {
		case amqp.PreconditionFailed:
			return fmt.Errorf("rabbitmq demo: %s %q exists with other settings (delete it, or use another prefix): %s", what, name, ae.Reason)
		case amqp.AccessRefused:
			return fmt.Errorf("rabbitmq demo: not allowed to declare %s %q on vhost \"/\": %s", what, name, ae.Reason)
		}
	}
	return fmt.Errorf("rabbitmq demo: declaring %s %q: %w", what, name, err)
}

// startTraffic opens one channel per goroutine (channels are not safe to
// share) and starts the publisher and the two consumers; the WaitGroup
// returned ends when they have all stopped (ctx ended or the connection
// closed).
func (r *Rabbit) startTraffic(ctx context.Context, conn *amqp.Connection, g *generator) (*sync.WaitGroup, error) {
	pub, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("rabbitmq demo: channel: %w", err)
	}
	type cons struct {
		queue, tag string
		prefetch   int
		handle     func(context.Context, *amqp.Delivery)
	}
	specs := []cons{
		{r.name("orders"), "mqops-demo-order-service", ordersPrefetch, r.handleOrder},
		{r.name("payments"), "mqops-demo-payment-service", 1, r.handlePayment},
	}
	chans := []*amqp.Channel{pub}
	fail := func(err error) (*sync.WaitGroup, error) {
		for _, c := range chans {
			c.Close()
		}
		return nil, fmt.Errorf("rabbitmq demo: consumer: %w", err)
	}
	deliveries := make([]<-chan amqp.Delivery, len(specs))
	for i, s := range specs {
		ch, err := conn.Channel()
		if err != nil {
			return fail(err)
		}
		chans = append(chans, ch)
		if err := ch.Qos(s.prefetch, 0, false); err != nil {
			return fail(err)
		}
		if deliveries[i], err = ch.Consume(s.queue, s.tag, false, false, false, false, nil); err != nil {
			return fail(err)
		}
	}
	wg := &sync.WaitGroup{}
	for i, s := range specs {
		ch, ds := chans[i+1], deliveries[i]
		wg.Go(func() {
			defer ch.Close() // unacked messages go back to the queue
			for {
				select {
				case <-ctx.Done():
					return
				case d, ok := <-ds:
					if !ok {
						if ctx.Err() == nil {
							r.logf("rabbitmq demo: consumer on %s stopped: the channel closed", s.queue)
						}
						return
					}
					s.handle(ctx, &d)
				}
			}
		})
	}
	wg.Go(func() {
		defer pub.Close()
		r.publish(ctx, pub, g)
	})
	r.wg.Go(wg.Wait) // Close waits for the traffic too
	return wg, nil
}

// publish runs the producers on a fixed tick; fractional rates accumulate.
func (r *Rabbit) publish(ctx context.Context, ch *amqp.Channel, g *generator) {
	t := time.NewTicker(rabbitTick)
	defer t.Stop()
	start := time.Now()
	var orders, payments, emails float64
	dt := rabbitTick.Seconds()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			rate := paymentsFast
			if (now.Sub(start)/paymentsPhase)%2 == 1 {
				rate = paymentsSlow
			}
			orders += ordersPerSecond * dt
			payments += rate * dt
			emails += emailsPerSecond * dt
			var err error
			for ; orders >= 1 && err == nil; orders-- {
				err = r.publishOrder(ctx, ch, g, now)
			}
			for ; payments >= 1 && err == nil; payments-- {
				err = r.publishPayment(ctx, ch, g, now)
			}
			for ; emails >= 1 && err == nil; emails-- {
				err = r.publishEmail(ctx, ch, g, now)
			}
			if err != nil {
				if ctx.Err() == nil {
					r.logf("rabbitmq demo: publisher stopped: %v", err)
				}
				return
			}
		}
	}
}

func (r *Rabbit) send(ctx context.Context, ch *amqp.Channel, queue string, p amqp.Publishing) error {
	p.ContentType, p.DeliveryMode, p.AppId = "application/json", amqp.Persistent, "mqops-demo"
	if err := ch.PublishWithContext(ctx, "", queue, false, false, p); err != nil {
		return err
	}
	r.published.Add(1)
	return nil
}

// Spring AMQP's RepublishMessageRecoverer puts the failure in these headers;
// an upstream retry of the demo's "order gateway" did the same.
func springHeaders(exception, frame string) amqp.Table {
	return amqp.Table{
		"x-exception-message":    exception,
		"x-exception-stacktrace": exception + "\n\tat " + frame + "\n\tat org.springframework.amqp.rabbit.listener.AbstractMessageListenerContainer.doInvokeListener",
		"x-original-exchange":    "",
	}
}

func (r *Rabbit) publishOrder(ctx context.Context, ch *amqp.Channel, g *generator, now time.Time) error {
	g.nextOrder++
	n := g.nextOrder
	body := map[string]any{
		"order_id": orderID(n), "customer_id": fmt.Sprintf("cust-%04d", g.rng.IntN(5000)),
		"amount": g.amount(), "currency": g.currency(), "created_at": now.UTC().Format(time.RFC3339Nano),
	}
	var headers amqp.Table
	if g.rng.IntN(rejectOrderEvery) == 0 { // invalid: the consumer rejects it
		if g.rng.IntN(3) == 0 {
			delete(body, "customer_id")
			headers = springHeaders("com.example.orders.InvalidOrderException: customer_id is missing", "com.example.orders.OrderListener.onOrder(OrderListener.java:57)")
		} else {
			body["currency"] = "XXX"
			headers = springHeaders("com.example.orders.UnsupportedCurrencyException: currency XXX is not supported", "com.example.orders.Money.of(Money.java:31)")
		}
	}
	if headers == nil {
		headers = amqp.Table{}
	}
	headers["trace-id"] = g.traceID()
	return r.send(ctx, ch, r.name("orders"), amqp.Publishing{
		MessageId: orderID(n), Timestamp: now, Type: "OrderPlaced", Headers: headers, Body: mustJSON(body),
	})
}

func (r *Rabbit) publishPayment(ctx context.Context, ch *amqp.Channel, g *generator, now time.Time) error {
	g.nextPay++
	n := g.nextPay
	card := "**** 4242"
	var headers amqp.Table
	if g.rng.IntN(declineEvery) == 0 {
		card = "**** 0002" // the consumer declines it
		headers = amqp.Table{"exception": "com.example.payments.CardDeclinedException: card declined by issuer"}
	}
	p := amqp.Publishing{
		MessageId: fmt.Sprintf("pay-%07d", n), CorrelationId: orderID(max(1, g.nextOrder)),
		Timestamp: now, Type: "PaymentRequested", Headers: headers,
	}
	kind := "capture"
	if g.rng.IntN(holdEvery) == 0 { // an authorisation hold: worthless once stale
		kind = "hold"
		p.Expiration = strconv.FormatInt(paymentHoldTTL.Milliseconds(), 10)
	}
	p.Body = mustJSON(map[string]any{
		"payment_id": p.MessageId, "order_id": p.CorrelationId, "kind": kind,
		"amount": g.amount(), "currency": g.currency(), "card": card,
	})
	return r.send(ctx, ch, r.name("payments"), p)
}

func (r *Rabbit) publishEmail(ctx context.Context, ch *amqp.Channel, g *generator, now time.Time) error {
	g.nextAudit++
	n := g.nextAudit
	return r.send(ctx, ch, r.name("emails"), amqp.Publishing{
		MessageId: fmt.Sprintf("mail-%07d", n), Timestamp: now, Type: "SendEmail",
		Body: mustJSON(map[string]any{
			"order_id": orderID(max(1, g.nextOrder)), "template": "order-confirmation",
			"to": fmt.Sprintf("customer%04d@example.com", g.rng.IntN(5000)),
		}),
	})
}

// handleOrder acks valid orders and rejects (requeue=false: to the DLQ)
// those without a customer or with an unknown currency.
func (r *Rabbit) handleOrder(_ context.Context, d *amqp.Delivery) {
	var o struct {
		Customer string `json:"customer_id"`
		Currency string `json:"currency"`
	}
	ok := json.Unmarshal(d.Body, &o) == nil && o.Customer != "" && o.Currency != "XXX"
	r.settle(d, ok)
}

// handlePayment works for paymentWork per payment (the slow consumer) and
// rejects declined cards.
func (r *Rabbit) handlePayment(ctx context.Context, d *amqp.Delivery) {
	t := time.NewTimer(paymentWork)
	select {
	case <-ctx.Done():
		t.Stop()
		return // unacked: back to the queue when the channel closes
	case <-t.C:
	}
	var p struct {
		Card string `json:"card"`
	}
	ok := json.Unmarshal(d.Body, &p) == nil && !strings.HasSuffix(p.Card, "0002")
	r.settle(d, ok)
}

func (r *Rabbit) settle(d *amqp.Delivery, ok bool) {
	var err error
	if ok {
		if err = d.Ack(false); err == nil {
			r.acked.Add(1)
		}
	} else if err = d.Reject(false); err == nil {
		r.rejected.Add(1)
	}
	if err != nil && !errors.Is(err, amqp.ErrClosed) {
		r.logf("rabbitmq demo: settling %s: %v", d.MessageId, err)
	}
}

// Close stops the publisher and the consumers and waits for them, deletes
// the demo's queues and exchange when DeleteOnClose was set, and closes the
// connection. It is idempotent; its error is that of the deletion.
func (r *Rabbit) Close() error {
	r.closeOnce.Do(func() {
		if r.cancel != nil {
			r.cancel()
		}
		r.wg.Wait()
		if r.delete {
			r.closeErr = r.deleteAll()
		}
		if err := r.connection().Close(); err != nil && !errors.Is(err, amqp.ErrClosed) && r.closeErr == nil {
			r.closeErr = err
		}
	})
	return r.closeErr
}

// deleteAll deletes the live queues (which stops dead-lettering into the
// DLQs), then the DLQs and the exchange.
func (r *Rabbit) deleteAll() error {
	ch, err := r.connection().Channel()
	if err != nil {
		return fmt.Errorf("rabbitmq demo: deleting the queues: %w", err)
	}
	defer ch.Close()
	ctx, cancel := context.WithTimeout(context.Background(), rabbitCloseBudget)
	defer cancel()
	var errs []error
	for _, q := range r.Queues() {
		if ctx.Err() != nil {
			errs = append(errs, fmt.Errorf("rabbitmq demo: deleting %s: %w", q.Name, ctx.Err()))
			break
		}
		if _, err := ch.QueueDelete(q.Name, false, false, false); err != nil {
			errs = append(errs, fmt.Errorf("rabbitmq demo: deleting %s: %w", q.Name, err))
			if ch, err = r.connection().Channel(); err != nil { // an error closes the channel
				return errors.Join(errs...)
			}
			defer ch.Close()
		}
	}
	if err := ch.ExchangeDelete(r.name("dlx"), false, false); err != nil {
		errs = append(errs, fmt.Errorf("rabbitmq demo: deleting %s: %w", r.name("dlx"), err))
	}
	return errors.Join(errs...)
}

// DeleteCommand is a shell command that deletes the demo's queues and
// exchange with rabbitmqadmin, for the demo's parting words.
func (r *Rabbit) DeleteCommand() string {
	var b strings.Builder
	b.WriteString("for q in")
	for _, q := range r.Queues() {
		b.WriteString(" " + q.Name)
	}
	b.WriteString("; do rabbitmqadmin delete queue name=$q; done; rabbitmqadmin delete exchange name=" + r.name("dlx"))
	return b.String()
}

// RedactURL returns an AMQP URL without its password, for display.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(invalid URL)"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	return u.String()
}
