package actions

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mqops/mqops/backends"
)

// Bounds of a trace.
const (
	// DefaultTraceDepth is how many records of a topic, or messages of a
	// queue, a trace reads at most in each place it looks.
	DefaultTraceDepth = 10_000
	// MaxTraceDepth bounds --depth (a RabbitMQ peek reads at most 50,000
	// messages).
	MaxTraceDepth = 50_000
	// maxTraceMessageID bounds the message id looked for.
	maxTraceMessageID = 1024
	// maxTracePlaces bounds the queues, and the dead-letter topics and
	// queues, a trace looks in.
	maxTracePlaces = 10
	// maxTraceMatches bounds the matches shown per place.
	maxTraceMatches = 10
)

// Where a trace looks (TraceStep.Place).
const (
	TraceOutbox          = "outbox"
	TraceRetry           = "retry"
	TraceTopic           = "topic"
	TraceQueue           = "queue"
	TraceDeadLetterTopic = "dead-letter topic"
	TraceDeadLetterQueue = "dead-letter queue"
	TraceIdempotency     = "consumed"
	// TraceBroker: the broker, when the destination is not known.
	TraceBroker = "broker"
)

// What a trace found in a place (TraceStep.Status).
const (
	TraceFound     = "found"
	TraceNotFound  = "not-found"
	TraceNotLooked = "not-looked"
	TraceError     = "error"
)

// TraceOptions say which message a trace looks for, and where.
type TraceOptions struct {
	MessageID string
	// Destination is where the message was sent ("": the destination of
	// its outbox row, else of its retry row).
	Destination string
	// Key is the message's Kafka key, which says its partition (nil: the
	// outbox row's key; "": no key, every partition searched).
	Key *string
	// Depth bounds what is read in each topic and queue: the last Depth
	// records of the partitions searched, the first Depth messages of a
	// queue (default DefaultTraceDepth).
	Depth int
}

// Validate checks the options and fills the defaults (no I/O).
func (o *TraceOptions) Validate() error {
	switch {
	case o.MessageID == "":
		return errors.New("no message id: want the id a message carries (its outbox row's message_id, the mqops-message-id or cap-msg-id header)")
	case len(o.MessageID) > maxTraceMessageID:
		return fmt.Errorf("a message id is 1 to %d bytes long (this one: %d)", maxTraceMessageID, len(o.MessageID))
	case len(o.Destination) > maxDestinationLength:
		return &FieldError{"destination", fmt.Sprintf("is %d bytes long: want at most %d", len(o.Destination), maxDestinationLength)}
	case o.Key != nil && len(*o.Key) > maxDestinationLength:
		return &FieldError{"key", fmt.Sprintf("is %d bytes long: want at most %d", len(*o.Key), maxDestinationLength)}
	}
	if err := CheckCount("depth", o.Depth, 1, MaxTraceDepth, true); err != nil {
		return err
	}
	if o.Depth == 0 {
		o.Depth = DefaultTraceDepth
	}
	return nil
}

// TraceResult says where a message id is now, place by place.
type TraceResult struct {
	MessageID   string `json:"message_id"`
	Destination string `json:"destination,omitempty"`
	// Key is the Kafka key searched by (HasKey: one was known).
	Key    string `json:"key,omitempty"`
	HasKey bool   `json:"has_key"`
	// Target is the destination resolved by the route ("" when unknown).
	Target string      `json:"target,omitempty"`
	Depth  int         `json:"depth"`
	Steps  []TraceStep `json:"steps"`
	// Summary says in one line where the message is now.
	Summary string `json:"summary"`
	// Errors counts the places that could not be looked in for an error:
	// the result is partial.
	Errors int `json:"errors"`
}

// TraceStep is one place a trace looked in, or could not: found (one
// step per row, record or message found), not found within Looked rows,
// records or messages, not looked (Detail says why: not configured,
// looking would change it), or an error (Err).
type TraceStep struct {
	Place  string `json:"place"`
	Where  string `json:"where"`
	Status string `json:"status"`
	Found  bool   `json:"found"`
	// State is what the message is there: "pending, 2 attempt(s)",
	// "offset 17", "message 3 of 40".
	State  string    `json:"state,omitempty"`
	Detail string    `json:"detail,omitempty"`
	At     time.Time `json:"at,omitzero"`
	Looked int       `json:"looked"`
	Err    string    `json:"error,omitempty"`
}

// Trace looks for one message id in each place mqops can see: the
// application's outbox and retry rows, the topic or the queues its
// destination reaches, their dead-letter topics or queues, and the
// idempotency table. It changes nothing: Kafka is read without a consumer
// group, RabbitMQ queues through the peek that leaves them as they were
// (which refuses a queue it would change). Any of Store, Kafka and Rabbit
// may be nil (not configured); StoreErr says why the store could not be
// opened.
type Trace struct {
	Store    backends.MessageStore
	StoreErr error
	Kafka    backends.KafkaMessageFinder
	Rabbit   backends.RabbitMessageFinder
	// Route maps the destination to a Kafka topic or a RabbitMQ exchange
	// and routing key (the context's store.route).
	Route   backends.Route
	Options TraceOptions
}

// Run traces the message. The error is only for invalid options: a place
// that fails is a step with its error (Errors counts them).
func (t *Trace) Run(ctx context.Context) (*TraceResult, error) {
	o := &t.Options
	if err := o.Validate(); err != nil {
		return nil, err
	}
	res := &TraceResult{MessageID: o.MessageID, Depth: o.Depth, Steps: []TraceStep{}}
	tr := &tracer{t: t, res: res}
	var outbox []backends.OutboxRow
	var retries []backends.RetryRow
	store := tr.storeSteps(ctx, &outbox, &retries)

	res.Destination = o.Destination
	if res.Destination == "" {
		for _, r := range outbox {
			if r.Destination != "" {
				res.Destination = r.Destination
				break
			}
		}
	}
	if res.Destination == "" {
		for _, r := range retries {
			if r.Destination != "" {
				res.Destination = r.Destination
				break
			}
		}
	}
	switch {
	case o.Key != nil:
		res.Key, res.HasKey = *o.Key, *o.Key != ""
	default:
		for _, r := range outbox {
			if r.Destination == res.Destination && r.Key != "" {
				res.Key, res.HasKey = r.Key, true
				break
			}
		}
	}

	// the brokers and the idempotency table, side by side
	var wg sync.WaitGroup
	var broker, consumed []TraceStep
	wg.Go(func() { broker = tr.brokerSteps(ctx) })
	wg.Go(func() { consumed = tr.consumedStep(ctx, store) })
	wg.Wait()
	res.Steps = append(res.Steps, broker...)
	res.Steps = append(res.Steps, consumed...)
	for _, s := range res.Steps {
		if s.Status == TraceError {
			res.Errors++
		}
	}
	res.Summary = traceSummary(res)
	return res, nil
}

// tracer is one trace's run.
type tracer struct {
	t   *Trace
	res *TraceResult
}

// stalled says err is a peer that did not answer in time: its other
// places are not asked (each would wait as long again).
func stalled(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func notLooked(place, where, why string) TraceStep {
	return TraceStep{Place: place, Where: where, Status: TraceNotLooked, Detail: why}
}

func failed(place, where string, err error) TraceStep {
	return TraceStep{Place: place, Where: where, Status: TraceError, Err: backends.Redact(err.Error())}
}

// storeState says whether the store can be asked: "" when it can, else
// why not (and whether that is an error).
type storeState struct {
	why    string
	err    error
	silent bool // the database did not answer: not asked again
}

// storeSteps looks in the outbox and the retry table, filling outbox and
// retries with the rows found. It returns the state of the store for the
// idempotency table.
func (tr *tracer) storeSteps(ctx context.Context, outbox *[]backends.OutboxRow, retries *[]backends.RetryRow) storeState {
	t, id := tr.t, tr.t.Options.MessageID
	var st storeState
	switch {
	case t.StoreErr != nil:
		st.err = t.StoreErr
	case t.Store == nil:
		st.why = "no application database configured (store: in the context, or --store, --store-dsn-env)"
	}
	add := func(s TraceStep) { tr.res.Steps = append(tr.res.Steps, s) }
	blocked := func(place string) bool {
		switch {
		case st.err != nil:
			add(failed(place, place, st.err))
		case st.why != "":
			add(notLooked(place, place, st.why))
		default:
			return false
		}
		return true
	}

	if !blocked(TraceOutbox) {
		if !t.Store.HasOutbox() {
			add(notLooked(TraceOutbox, TraceOutbox, "the store's schema has no sending table"))
		} else if rows, err := t.Store.OutboxRowsOf(ctx, id); err != nil {
			add(failed(TraceOutbox, TraceOutbox, err))
			if stalled(err) {
				st = storeState{why: "the database did not answer (see the outbox)", silent: true}
			}
		} else {
			*outbox = rows
			for _, r := range rows {
				s := TraceStep{Place: TraceOutbox, Where: "outbox row " + r.ID, Status: TraceFound, Found: true, Looked: len(rows),
					State: fmt.Sprintf("%s, %d attempt(s)", r.Status, r.Attempts), Detail: outboxDetail(&r), At: r.CreatedAt}
				if !r.LastAttemptAt.IsZero() {
					s.At = r.LastAttemptAt
				}
				add(s)
			}
			if len(rows) == 0 {
				add(TraceStep{Place: TraceOutbox, Where: TraceOutbox, Status: TraceNotFound, Detail: "no row of the sending table carries this message id"})
			}
		}
	}

	if !blocked(TraceRetry) {
		if !t.Store.HasRetry() {
			add(notLooked(TraceRetry, TraceRetry, "the store's schema has no retry table"))
		} else if page, err := t.Store.Retries(ctx, backends.RetryQuery{MessageID: id, Limit: maxTraceMatches}); errors.Is(err, backends.ErrNoMessageID) {
			add(notLooked(TraceRetry, TraceRetry, "the retry table has no message id column (store.retry.columns.message_id)"))
		} else if err != nil {
			add(failed(TraceRetry, TraceRetry, err))
			if stalled(err) {
				st = storeState{why: "the database did not answer (see the retry table)", silent: true}
			}
		} else {
			*retries = page.Rows
			for _, r := range page.Rows {
				s := TraceStep{Place: TraceRetry, Where: "retry row " + r.ID, Status: TraceFound, Found: true, Looked: len(page.Rows),
					State: retryState(&r), Detail: r.LastError, At: r.CreatedAt}
				if !r.NextRetryAt.IsZero() {
					s.At = r.NextRetryAt
				}
				add(s)
			}
			if len(page.Rows) == 0 {
				add(TraceStep{Place: TraceRetry, Where: TraceRetry, Status: TraceNotFound, Detail: "no row of the retry table carries this message id"})
			}
		}
	}
	return st
}

func outboxDetail(r *backends.OutboxRow) string {
	parts := []string{"destination " + r.Destination}
	if r.Key != "" {
		parts = append(parts, "key "+r.Key)
	}
	if r.LastError != "" {
		parts = append(parts, "last error: "+r.LastError)
	}
	return strings.Join(parts, "; ")
}

func retryState(r *backends.RetryRow) string {
	s := fmt.Sprintf("%s, %d attempt(s)", r.Status, r.Attempts)
	if r.MaxAttempts > 0 {
		s = fmt.Sprintf("%s, %d of %d attempt(s)", r.Status, r.Attempts, r.MaxAttempts)
	}
	if !r.NextRetryAt.IsZero() {
		s += ", next retry " + r.NextRetryAt.UTC().Format(time.RFC3339)
	}
	return s
}

// consumedStep looks in the idempotency table.
func (tr *tracer) consumedStep(ctx context.Context, st storeState) []TraceStep {
	t, id := tr.t, tr.t.Options.MessageID
	switch {
	case st.err != nil:
		return []TraceStep{failed(TraceIdempotency, "idempotency table", st.err)}
	case st.why != "":
		return []TraceStep{notLooked(TraceIdempotency, "idempotency table", st.why)}
	case !t.Store.HasIdempotency():
		return []TraceStep{notLooked(TraceIdempotency, "idempotency table", "the store's schema has no idempotency table")}
	}
	cs, err := t.Store.Consumed(ctx, id)
	if err != nil {
		return []TraceStep{failed(TraceIdempotency, "idempotency table", err)}
	}
	if len(cs) == 0 {
		return []TraceStep{{Place: TraceIdempotency, Where: "idempotency table", Status: TraceNotFound, Detail: "not consumed: no consumer recorded this message id"}}
	}
	var out []TraceStep
	for _, c := range cs {
		out = append(out, TraceStep{Place: TraceIdempotency, Where: "idempotency table", Status: TraceFound, Found: true, Looked: len(cs),
			State: "consumed by " + c.Consumer, At: c.ConsumedAt})
	}
	return out
}

// brokerSteps looks where the destination is published and in its dead
// letters.
func (tr *tracer) brokerSteps(ctx context.Context) []TraceStep {
	t, res := tr.t, tr.res
	if res.Destination == "" {
		return []TraceStep{notLooked(TraceBroker, TraceBroker, "no destination known: no outbox or retry row of this message names one (give --destination)")}
	}
	target, err := t.Route.Resolve(res.Destination)
	if err != nil {
		return []TraceStep{notLooked(TraceBroker, TraceBroker, err.Error())}
	}
	res.Target = target.String()
	if target.Broker == "kafka" {
		return tr.kafkaSteps(ctx, target)
	}
	return tr.rabbitSteps(ctx, target)
}

// traceHeaders are the headers a message id travels under, besides the
// store's.
var traceHeaders = []string{"mqops-message-id", "cap-msg-id", "message-id", "message_id", "messageId"}

func (tr *tracer) idHeaders() map[string]bool {
	hs := map[string]bool{}
	for _, h := range traceHeaders {
		hs[h] = true
	}
	if tr.t.Store != nil {
		if h := tr.t.Store.MessageIDHeader(); h != "" {
			hs[h] = true
		}
	}
	return hs
}

func (tr *tracer) kafkaSteps(ctx context.Context, target backends.RouteTarget) []TraceStep {
	t, res, id := tr.t, tr.res, tr.t.Options.MessageID
	where := "kafka:" + target.Topic
	if t.Kafka == nil {
		why := "no Kafka configured (kafka.brokers in the context, or --brokers)"
		return []TraceStep{notLooked(TraceTopic, where, why), notLooked(TraceDeadLetterTopic, where, why)}
	}
	hs := tr.idHeaders()
	match := func(r *backends.KafkaRecord) bool {
		for _, h := range r.Headers {
			if hs[h.Key] && string(h.Value) == id {
				return true
			}
		}
		return false
	}
	var key []byte
	if res.HasKey {
		key = []byte(res.Key)
	}
	out, err := tr.searchTopic(ctx, TraceTopic, target.Topic, key, match)
	if err != nil && stalled(err) {
		return append(out, notLooked(TraceDeadLetterTopic, where, "Kafka did not answer (see the topic)"))
	}
	dlts, err := t.Kafka.DeadLetterTopicsOf(ctx, target.Topic)
	switch {
	case err != nil:
		return append(out, failed(TraceDeadLetterTopic, where, err))
	case len(dlts) == 0:
		return append(out, notLooked(TraceDeadLetterTopic, where, "no dead-letter topic of "+target.Topic+" exists (by name: "+target.Topic+".DLT, "+target.Topic+"-dlt, dlq."+target.Topic+"…)"))
	}
	for i, d := range dlts {
		if i == maxTracePlaces {
			out = append(out, notLooked(TraceDeadLetterTopic, "kafka", fmt.Sprintf("%d more dead-letter topic(s) of %s not searched (at most %d)", len(dlts)-i, target.Topic, maxTracePlaces)))
			break
		}
		steps, err := tr.searchTopic(ctx, TraceDeadLetterTopic, d, nil, match)
		out = append(out, steps...)
		if err != nil && stalled(err) {
			break
		}
	}
	return out
}

// searchTopic searches the last records of topic (the key's partition,
// or all of them) for the message.
func (tr *tracer) searchTopic(ctx context.Context, place, topic string, key []byte, match func(*backends.KafkaRecord) bool) ([]TraceStep, error) {
	where := "kafka:" + topic
	r, err := tr.t.Kafka.FindRecords(ctx, backends.KafkaFindQuery{Topic: topic, Key: key, Depth: tr.res.Depth, Match: match, MaxMatches: maxTraceMatches})
	if err != nil {
		return []TraceStep{failed(place, where, err)}, err
	}
	var out []TraceStep
	for _, m := range r.Matches {
		s := TraceStep{Place: place, Where: fmt.Sprintf("%s partition %d", where, m.Partition), Status: TraceFound, Found: true, Looked: r.Read,
			State: fmt.Sprintf("offset %d", m.Offset), At: m.Timestamp}
		if d := m.DeadLetter; d != nil {
			s.Detail = "dead letter of " + d.OriginalTopic
			if d.ExceptionClass != "" || d.ExceptionMessage != "" {
				s.Detail += ": " + strings.TrimSpace(d.ExceptionClass+" "+d.ExceptionMessage)
			}
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		s := TraceStep{Place: place, Where: where, Status: TraceNotFound, Looked: r.Read}
		switch {
		case len(r.Searched) == 1 && key != nil:
			sp := r.Searched[0]
			s.Where = fmt.Sprintf("%s partition %d", where, sp.Partition)
			s.Detail = fmt.Sprintf("not in the last %d record(s) of partition %d, the key's (offsets %d to %d; the log starts at %d)", r.Read, sp.Partition, sp.From, sp.End, sp.LogStart)
		default:
			s.Detail = fmt.Sprintf("not in the last %d record(s) of its %d partition(s)", r.Read, r.Partitions)
		}
		out = append(out, s)
	}
	return out, nil
}

func (tr *tracer) rabbitSteps(ctx context.Context, target backends.RouteTarget) []TraceStep {
	t, id := tr.t, tr.t.Options.MessageID
	vhost := target.Vhost
	if vhost == "" {
		vhost = "/"
	}
	where := target.String()
	if t.Rabbit == nil {
		why := "no RabbitMQ configured (rabbitmq.url and management-url in the context, or --rabbitmq-url)"
		return []TraceStep{notLooked(TraceQueue, where, why), notLooked(TraceDeadLetterQueue, where, why)}
	}
	queues, predictable, err := t.Rabbit.Routes(ctx, vhost, target.Exchange, target.RoutingKey)
	if err != nil {
		why := "RabbitMQ did not answer (see the queues)"
		if !stalled(err) {
			why = "the queues the route reaches are not known (see the queues)"
		}
		return []TraceStep{failed(TraceQueue, where, err), notLooked(TraceDeadLetterQueue, where, why)}
	}
	hs := tr.idHeaders()
	match := func(m *backends.Message) bool {
		if m.MessageID == id {
			return true
		}
		for k, v := range m.Headers {
			if !hs[k] {
				continue
			}
			switch x := v.(type) {
			case string:
				if x == id {
					return true
				}
			case []byte:
				if string(x) == id {
					return true
				}
			}
		}
		return false
	}
	var out []TraceStep
	if len(queues) == 0 {
		why := "the route reaches no queue (exchange " + target.Exchange + ", routing key " + target.RoutingKey + "): a message published there is dropped"
		if !predictable {
			why = "the bindings alone do not say which queues the route reaches (a headers exchange, or a plugin's exchange type)"
		}
		out = append(out, notLooked(TraceQueue, where, why))
	}
	dead := map[string]bool{}
	var dlqs []string
	for i, q := range queues {
		if i == maxTracePlaces {
			out = append(out, notLooked(TraceQueue, where, fmt.Sprintf("%d more queue(s) the route reaches not searched (at most %d)", len(queues)-i, maxTracePlaces)))
			break
		}
		steps, err := tr.peekQueue(ctx, TraceQueue, vhost, q, match)
		out = append(out, steps...)
		if err != nil && stalled(err) {
			return append(out, notLooked(TraceDeadLetterQueue, where, "RabbitMQ did not answer (see the queues)"))
		}
		ds, err := t.Rabbit.DeadLetterQueuesOf(ctx, vhost, q, []string{target.RoutingKey})
		if err != nil {
			out = append(out, failed(TraceDeadLetterQueue, "rabbitmq:"+vhost+"/"+q, err))
			continue
		}
		for _, d := range ds {
			if !dead[d] {
				dead[d] = true
				dlqs = append(dlqs, d)
			}
		}
	}
	if len(dlqs) == 0 && len(queues) > 0 {
		out = append(out, notLooked(TraceDeadLetterQueue, where, "the queues the route reaches have no dead-letter exchange that routes to a queue"))
	}
	for i, d := range dlqs {
		if i == maxTracePlaces {
			out = append(out, notLooked(TraceDeadLetterQueue, where, fmt.Sprintf("%d more dead-letter queue(s) not searched (at most %d)", len(dlqs)-i, maxTracePlaces)))
			break
		}
		steps, err := tr.peekQueue(ctx, TraceDeadLetterQueue, vhost, d, match)
		out = append(out, steps...)
		if err != nil && stalled(err) {
			break
		}
	}
	return out
}

// peekQueue looks for the message among the first messages of a queue,
// through the peek that leaves it as it was; a queue the peek would
// change is not looked in.
func (tr *tracer) peekQueue(ctx context.Context, place, vhost, queue string, match func(*backends.Message) bool) ([]TraceStep, error) {
	where := "rabbitmq:" + vhost + "/" + queue
	r, err := tr.t.Rabbit.PeekQueue(ctx, vhost, queue, backends.PeekOptions{Limit: tr.res.Depth, Match: match})
	var risk *backends.PeekRiskError
	if errors.As(err, &risk) {
		return []TraceStep{notLooked(place, where, "peeking would change the queue, and looking is free: "+risk.Risk.Reason)}, nil
	}
	if err != nil {
		return []TraceStep{failed(place, where, err)}, err
	}
	var out []TraceStep
	for i, m := range r.Messages {
		if i == maxTraceMatches {
			break
		}
		s := TraceStep{Place: place, Where: where, Status: TraceFound, Found: true, Looked: r.Read,
			State: fmt.Sprintf("message %d of %d", m.Index+1, r.Depth), At: m.Timestamp}
		var d []string
		if len(m.Deaths) > 0 {
			dd := m.Deaths[0]
			d = append(d, fmt.Sprintf("dead-lettered from %s (%s, %d time(s))", dd.Queue, dd.Reason, dd.Count))
			if !dd.Time.IsZero() {
				s.At = dd.Time
			}
		}
		if m.Redelivered {
			d = append(d, "delivered before and requeued")
		}
		s.Detail = strings.Join(d, "; ")
		out = append(out, s)
	}
	if len(out) == 0 {
		s := TraceStep{Place: place, Where: where, Status: TraceNotFound, Looked: r.Read,
			Detail: fmt.Sprintf("not among the first %d of its %d message(s)", r.Read, r.Depth)}
		if int64(r.Read) >= r.Depth {
			s.Detail = fmt.Sprintf("not among its %d message(s)", r.Depth)
		}
		out = append(out, s)
	}
	if r.Warning != "" {
		out[len(out)-1].Detail = strings.TrimPrefix(out[len(out)-1].Detail+"; "+r.Warning, "; ")
	}
	return out, nil
}

// traceSummary says where the message is now, from the steps: consumed,
// dead-lettered, in a topic or queue, in the retry table, pending in the
// outbox, or nowhere mqops looked.
func traceSummary(r *TraceResult) string {
	first := func(places ...string) *TraceStep {
		for _, p := range places {
			for i := range r.Steps {
				if s := &r.Steps[i]; s.Found && s.Place == p {
					return s
				}
			}
		}
		return nil
	}
	count := func(place string) int {
		n := 0
		for _, s := range r.Steps {
			if s.Found && s.Place == place {
				n++
			}
		}
		return n
	}
	var s string
	switch {
	case first(TraceIdempotency) != nil:
		f := first(TraceIdempotency)
		s = f.State
		if !f.At.IsZero() {
			s += " at " + f.At.UTC().Format(time.RFC3339)
		}
	case first(TraceDeadLetterTopic, TraceDeadLetterQueue) != nil:
		f := first(TraceDeadLetterTopic, TraceDeadLetterQueue)
		s = "dead-lettered: in " + f.Where + " (" + f.State + ")"
	case first(TraceTopic, TraceQueue) != nil:
		f := first(TraceTopic, TraceQueue)
		s = "published, not known to be consumed: in " + f.Where + " (" + f.State + ")"
		if n := count(TraceTopic) + count(TraceQueue); n > 1 {
			s += fmt.Sprintf(", %d copies found", n)
		}
	case first(TraceRetry) != nil:
		f := first(TraceRetry)
		s = "in the retry table: " + f.Where + " (" + f.State + ")"
	case first(TraceOutbox) != nil:
		f := first(TraceOutbox)
		s = "in the outbox: " + f.Where + " (" + f.State + ")"
		for _, n := range r.Steps {
			if n.Status == TraceNotFound && (n.Place == TraceTopic || n.Place == TraceQueue) {
				s += "; not found in " + n.Where
				break
			}
		}
	default:
		s = "not found anywhere mqops looked"
	}
	if r.Errors > 0 {
		s += fmt.Sprintf(" — %d place(s) could not be looked in", r.Errors)
	}
	return s
}
