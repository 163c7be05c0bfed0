package actions

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/rabbitmq"
	"github.com/mqops/mqops/backends/safejson"
)

// RabbitDrainer is what a RabbitMQ drain needs from the broker.
type RabbitDrainer interface {
	// PeekQueue reads messages without changing the queue; a queue that a
	// peek would change is refused with a *backends.PeekRiskError.
	PeekQueue(ctx context.Context, vhost, queue string, o backends.PeekOptions) (*backends.PeekResult, error)
	// QueueDetail tells whether the queue is a dead-letter queue.
	QueueDetail(ctx context.Context, vhost, name string) (*backends.QueueDetail, error)
	Move(ctx context.Context, o rabbitmq.MoveOptions) (*rabbitmq.MoveResult, error)
	ExchangeExists(ctx context.Context, vhost, name string) (bool, error)
	Routes(ctx context.Context, vhost, exchange, routingKey string) ([]string, bool, error)
}

// DrainOptions are the parameters of a drain, as the operator gave them.
type DrainOptions struct {
	Context  string
	ReadOnly bool
	Vhost    string
	Queue    string // the dead-letter queue
	// To is origin, exchange:<name>[:<routing-key>] or file:<path.jsonl>.
	To     string
	Reason string // only dead letters of this reason
	Origin string // only dead letters from this origin queue
	Limit  int
	Rate   float64 // messages per second, 0: unlimited
	// Prefetch bounds the in-flight window (default 100).
	Prefetch int
	// Sample bounds how many messages the plan peeks at (default 1000).
	Sample int
	// NotDeadLetters: the operator says the source is not a dead-letter
	// queue and drains it anyway; without it, a queue that is not detected
	// as one (a dead-letter exchange routes to it, or its name) is refused.
	NotDeadLetters bool
	// KnownDLQ: the caller's own listing detected the source as a
	// dead-letter queue (the console offers the drain on those only), so
	// the plan does not ask again.
	KnownDLQ bool
	RunID    string
}

// limit is the number of messages the drain may see (0: the depth at its
// start), and whether it comes from the plan the operator confirmed: when
// the plan covered the whole queue and no Limit was given, the drain sees
// at most the messages the plan saw (else the depth it counted), so dead
// letters that arrive after the preview stay for another drain instead of
// being moved unseen.
func (o *DrainOptions) limit(plan *DrainPlan) (int, bool) {
	switch {
	case o.Limit != 0 || plan == nil:
	case plan.Complete && plan.Sampled > 0:
		return plan.Sampled, true
	case !plan.Complete && plan.Depth > 0:
		return int(min(plan.Depth, MaxLimit)), true
	}
	return o.Limit, false
}

// target kinds
const (
	toOrigin   = "origin"
	toExchange = "exchange"
	toFile     = "file"
)

type drainTarget struct {
	kind, exchange, routingKey, path string
}

func parseTarget(to string) (drainTarget, error) {
	switch {
	case to == toOrigin:
		return drainTarget{kind: toOrigin}, nil
	case strings.HasPrefix(to, "exchange:"):
		rest := strings.TrimPrefix(to, "exchange:")
		x, rk, _ := strings.Cut(rest, ":")
		return drainTarget{kind: toExchange, exchange: x, routingKey: rk}, nil
	case strings.HasPrefix(to, "file:"):
		p := strings.TrimPrefix(to, "file:")
		if p == "" {
			return drainTarget{}, errors.New("--to file: needs a path")
		}
		return drainTarget{kind: toFile, path: p}, nil
	}
	return drainTarget{}, fmt.Errorf("invalid --to %q: want origin, exchange:<name>[:<routing-key>] or file:<path.jsonl>", to)
}

// Validate checks the options; a read-only context refuses drains.
func (o *DrainOptions) Validate() error {
	if o.ReadOnly {
		return fmt.Errorf("context %q is read-only: drains are not available", o.Context)
	}
	if o.Queue == "" {
		return errors.New("no source queue")
	}
	if o.Vhost == "" {
		o.Vhost = "/"
	}
	if err := o.checkNumbers(); err != nil {
		return err
	}
	switch o.Reason {
	case "", "rejected", "expired", "maxlen", "delivery_limit":
	default:
		return fmt.Errorf("invalid --reason %q: want rejected, expired, maxlen or delivery_limit", o.Reason)
	}
	if _, err := parseTarget(o.To); err != nil {
		return err
	}
	if o.Prefetch <= 0 {
		o.Prefetch = rabbitmq.DefaultPrefetch
	}
	if o.Sample <= 0 {
		o.Sample = DefaultSample
	}
	if o.RunID == "" {
		o.RunID = NewRunID()
	}
	return nil
}

// checkNumbers validates every numeric option: finite and in range.
func (o *DrainOptions) checkNumbers() error {
	return firstError(
		CheckCount("limit", o.Limit, 1, MaxLimit, true),
		CheckRate("rate", o.Rate),
		CheckCount("prefetch", o.Prefetch, 1, rabbitmq.MaxPrefetch, true),
		CheckCount("sample", o.Sample, 1, rabbitmq.MaxPeek, true),
	)
}

// DefaultSample is how many messages a RabbitMQ drain's plan peeks at.
const DefaultSample = 1000

// NewRunID returns a short random run id.
func NewRunID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b)
}

// PlanRoute is one target of a plan with its message count.
type PlanRoute struct {
	Target  string `json:"target"`            // exchange/routing-key, queue or file
	Count   int    `json:"count"`             // in the sample
	Problem string `json:"problem,omitempty"` // e.g. exchange missing, routes nowhere
	// Estimate (RabbitMQ) is how many messages of the whole queue are
	// expected to go there: Count scaled from the sample to the depth
	// (rounded), Count itself when the sample is the whole queue, and
	// every message (an upper bound) where the queue was not sampled.
	Estimate int64 `json:"estimate,omitempty"`
}

// DrainPlan is the dry-run preview.
type DrainPlan struct {
	Source   string      `json:"source"`
	To       string      `json:"to"`
	Sampled  int         `json:"sampled"`
	Selected int         `json:"selected"` // pass the filters
	Skipped  int         `json:"skipped"`  // filtered out
	Routes   []PlanRoute `json:"routes"`
	Problems []string    `json:"problems,omitempty"`
	Warning  string      `json:"warning,omitempty"`
	// Complete is false when the queue holds more than was sampled: the
	// counts describe the sample.
	Complete bool `json:"complete"`
	// Depth (RabbitMQ) is the number of messages in the queue when
	// planned (the run sees at most these), Estimate how many of them the
	// run is expected to move: Selected scaled from the sample to the
	// depth (or to --limit), exact when Complete.
	Depth    int64 `json:"depth,omitempty"`
	Estimate int64 `json:"estimate,omitempty"`
	// NotSampled (RabbitMQ) says why the plan did not read the queue: a
	// peek would have changed it. Counts are then unknown; Notes say what
	// was checked without reading and what the run will find out.
	NotSampled *backends.PeekRisk `json:"not_sampled,omitempty"`
	Notes      []string           `json:"notes,omitempty"`
	// ends (Kafka) is where the plan stopped on each partition: a run
	// given this plan moves exactly the records it counted.
	ends map[int32]int64

	// Oversized (Kafka) lists the first records (at most 100) that their
	// target cannot take: as they would be produced, larger than the
	// target topic's max.message.bytes. OversizedCount counts them all.
	// With SkipOversized the drain skips them (and names them in its
	// result), else each partition stops before its first.
	Oversized      []backends.KafkaOversized `json:"oversized,omitempty"`
	OversizedCount int                       `json:"oversized_count,omitempty"`
	SkipOversized  bool                      `json:"skip_oversized,omitempty"`
}

// A summary names at most maxSummaryRoutes routes, each cut to
// maxSummaryName bytes: it is one line of a confirmation and of the audit
// log, whatever the dead letters name.
const (
	maxSummaryRoutes = 5
	maxSummaryName   = 120
)

// cutLabel is a route's target for a summary, cut with its length said.
func cutLabel(s string) string {
	if cut, ok := cutString(s, maxSummaryName); ok {
		return cut + fmt.Sprintf("…(%d bytes)", len(s))
	}
	return s
}

// Summary is a one-line scope for confirmations and the audit log: the
// depth, the sample and what it scales to, per route.

func (p *DrainPlan) Summary() string {
	estimated := !p.Complete && p.Depth > 0 && p.NotSampled == nil
	var parts []string
	for i, r := range p.Routes {
		if i == maxSummaryRoutes {
			parts = append(parts, fmt.Sprintf("and %d more routes", len(p.Routes)-i))
			break
		}
		r.Target = cutLabel(r.Target)
		switch {
		case p.NotSampled != nil:
			parts = append(parts, "→ "+r.Target)
		case estimated:
			parts = append(parts, fmt.Sprintf("about %d → %s", r.Estimate, r.Target))
		default:
			parts = append(parts, fmt.Sprintf("%d → %s", r.Count, r.Target))
		}
	}
	var s string
	switch {
	case p.NotSampled != nil:
		why := "a peek would cost each message a delivery attempt"
		if p.NotSampled.Kind != backends.RiskDeliveryLimit {
			why = "a peek would reorder the queue"
		}
		s = fmt.Sprintf("up to %d message(s) from %s (its depth; not sampled: %s)", p.Estimate, p.Source, why)
	case estimated:
		s = fmt.Sprintf("about %d message(s) from %s (depth %d; estimated from a sample of %d, of which %d pass the filters)",
			p.Estimate, p.Source, p.Depth, p.Sampled, p.Selected)
	default:
		s = fmt.Sprintf("%d message(s) from %s", p.Selected, p.Source)
	}
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, ", ")
	}
	if !p.Complete && p.Depth == 0 && p.NotSampled == nil {
		s += fmt.Sprintf(" (from a sample of %d)", p.Sampled)
	}
	return s
}

// scale is n of the sampled messages scaled to the messages the run will
// see, rounded (n itself when the plan saw them all).
func (p *DrainPlan) scale(n int, base int64) int64 {
	if p.Complete || p.Sampled == 0 {
		return int64(n)
	}
	return int64(math.Round(float64(n) * float64(base) / float64(p.Sampled)))
}

// decide applies filters and resolves the target of one message.
func (o *DrainOptions) decide(t drainTarget, m *backends.Message) (rabbitmq.Decision, rabbitmq.MoveTarget, error) {
	origin, reason := m.Origin()
	if o.Reason != "" && reason != o.Reason {
		return rabbitmq.Skip, rabbitmq.MoveTarget{}, nil
	}
	if o.Origin != "" && origin != o.Origin {
		return rabbitmq.Skip, rabbitmq.MoveTarget{}, nil
	}
	switch t.kind {
	case toExchange:
		rk := t.routingKey
		if rk == "" {
			rk = m.RoutingKey
		}
		return rabbitmq.Move, rabbitmq.MoveTarget{Exchange: t.exchange, RoutingKey: rk}, nil
	case toFile:
		return rabbitmq.Move, rabbitmq.MoveTarget{}, nil
	}
	if origin == "" {
		return rabbitmq.Stop, rabbitmq.MoveTarget{}, errors.New("has no x-death header: its origin is unknown (use --to exchange:...)")
	}
	// Back to the origin queue itself, through the default exchange: the
	// original exchange could also route a copy to sibling queues that
	// processed the message already.
	return rabbitmq.Move, rabbitmq.MoveTarget{Exchange: "", RoutingKey: origin}, nil
}

func targetLabel(t rabbitmq.MoveTarget) string {
	if t.Exchange == "" {
		return "queue " + t.RoutingKey
	}
	return "exchange " + t.Exchange + " key " + t.RoutingKey
}

// NotDLQError refuses to drain a queue that is not detected as a
// dead-letter queue (DrainOptions.NotDeadLetters overrides).
type NotDLQError struct{ Source string }

func (e *NotDLQError) Error() string {
	return backends.SafeText(e.Source) + " is not a dead-letter queue (no dead-letter exchange routes to it and its name is not a DLQ's): " +
		"pass --not-dead-letters to drain it anyway"
}

// planDrain previews a drain: it checks that the source is a dead-letter
// queue, peeks (never consumes, never reorders) at up to Sample messages
// (or Limit), applies the filters, resolves every target and checks that
// each exists and routes somewhere, and scales the counts to the depth.
// A queue that a peek would change is not read: the plan then gives the
// depth, why it did not sample, and what it could check without reading.
func planDrain(ctx context.Context, r RabbitDrainer, o DrainOptions) (*DrainPlan, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if !o.NotDeadLetters && !o.KnownDLQ {
		d, err := r.QueueDetail(ctx, o.Vhost, o.Queue)
		if err != nil {
			return nil, err
		}
		if !d.Queue.IsDLQ {
			return nil, refused(&NotDLQError{Source: o.source()})
		}
	}
	t, _ := parseTarget(o.To)
	n := o.Sample
	if o.Limit > 0 && o.Limit < n {
		n = o.Limit
	}
	res, err := r.PeekQueue(ctx, o.Vhost, o.Queue, backends.PeekOptions{Limit: n})
	var re *backends.PeekRiskError
	if errors.As(err, &re) {
		return planUnsampled(ctx, r, o, t, re.Risk)
	}
	if err != nil {
		return nil, err
	}
	ms := res.Messages
	p := &DrainPlan{Source: o.source(), To: o.To, Sampled: len(ms), Warning: res.Warning, Depth: max(res.Depth, int64(len(ms))),
		Complete: len(ms) < n || (o.Limit > 0 && len(ms) == o.Limit)}
	base := p.Depth // what the run will see
	if o.Limit > 0 {
		base = min(base, int64(o.Limit))
	}
	counts := map[rabbitmq.MoveTarget]int{}
	for i := range ms {
		dec, tgt, err := o.decide(t, &ms[i])
		if err != nil {
			p.Problems = append(p.Problems, fmt.Sprintf("message %d (%s) %v", i+1, msgLabel(&ms[i]), err))
			continue
		}
		if dec == rabbitmq.Skip {
			p.Skipped++
			continue
		}
		p.Selected++
		counts[tgt]++
	}
	p.Estimate = p.scale(p.Selected, base)
	for tgt, c := range counts {
		route := PlanRoute{Target: targetLabel(tgt), Count: c, Estimate: p.scale(c, base)}
		if t.kind == toFile {
			route.Target = "file " + t.path
		} else if route.Problem, err = checkTarget(ctx, r, o.Vhost, tgt.Exchange, tgt.RoutingKey, true); err != nil {
			return nil, err
		}
		if route.Problem != "" {
			p.Problems = append(p.Problems, route.Target+": "+route.Problem)
		}
		p.Routes = append(p.Routes, route)
	}
	sort.Slice(p.Routes, func(i, j int) bool {
		if p.Routes[i].Count != p.Routes[j].Count {
			return p.Routes[i].Count > p.Routes[j].Count
		}
		return p.Routes[i].Target < p.Routes[j].Target
	})
	return p, nil
}

// checkTarget says what is wrong with a target, "" when nothing: the
// exchange does not exist, or (routing known) it routes to no queue.
func checkTarget(ctx context.Context, r RabbitDrainer, vhost, exchange, key string, routing bool) (string, error) {
	ok, err := r.ExchangeExists(ctx, vhost, exchange)
	switch {
	case err != nil:
		return "", err
	case !ok:
		return "exchange does not exist", nil
	case !routing:
		return "", nil
	}
	qs, known, err := r.Routes(ctx, vhost, exchange, key)
	if err != nil {
		return "", err
	}
	if known && len(qs) == 0 {
		return "routes to no queue: the drain would stop at the first message", nil
	}
	return "", nil
}

// planUnsampled is the plan of a queue that a peek would change: its depth,
// why it is not read, what can be checked without reading (the target
// exchange and its routing), and what the run will find out per message.
func planUnsampled(ctx context.Context, r RabbitDrainer, o DrainOptions, t drainTarget, risk *backends.PeekRisk) (*DrainPlan, error) {
	p := &DrainPlan{Source: o.source(), To: o.To, Depth: risk.Depth, NotSampled: risk, Estimate: risk.Depth}
	if o.Limit > 0 {
		p.Estimate = min(p.Estimate, int64(o.Limit))
	}
	if o.Reason != "" || o.Origin != "" {
		p.Notes = append(p.Notes, "how many messages pass the filters is unknown until the run reads them (the estimate counts them all)")
	}
	route := PlanRoute{Estimate: p.Estimate}
	switch t.kind {
	case toExchange:
		route.Target = targetLabel(rabbitmq.MoveTarget{Exchange: t.exchange, RoutingKey: t.routingKey})
		if t.routingKey == "" {
			route.Target = "exchange " + t.exchange + " (each message's own routing key)"
			p.Notes = append(p.Notes, "checked without reading: the exchange exists; where each message's routing key routes is found at run time (an unroutable message stops the drain)")
		} else {
			p.Notes = append(p.Notes, "checked without reading: the exchange exists and routes the key to a queue")
		}
		var err error
		if route.Problem, err = checkTarget(ctx, r, o.Vhost, t.exchange, t.routingKey, t.routingKey != ""); err != nil {
			return nil, err
		}
		if route.Problem != "" {
			p.Problems = append(p.Problems, route.Target+": "+route.Problem)
		}
		p.Routes = append(p.Routes, route)
	case toFile:
		route.Target = "file " + t.path
		p.Routes = append(p.Routes, route)
	default:
		p.Notes = append(p.Notes, "the target of each message (the queue it died in, from its x-death header) is resolved at run time: "+
			"a message whose origin is unknown or routes nowhere stops the drain there")
	}
	if risk.Kind == backends.RiskDeliveryLimit {
		p.Notes = append(p.Notes, fmt.Sprintf("the run acknowledges each message only after the target confirmed it; a message it must requeue "+
			"(the target refused it, or the drain stopped) loses one of its %d delivery attempts, and one out of attempts is %s", risk.DeliveryLimit, risk.OverLimit))
	}
	return p, nil
}

// Progress of a running action.
type Progress struct {
	Done, Skipped, Failed, Seen, Total int
	Elapsed                            time.Duration
}

// Rate is messages per second so far.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Done) / p.Elapsed.Seconds()
}

// ETA estimates the time left.
func (p Progress) ETA() time.Duration {
	r := p.Rate()
	if r <= 0 || p.Total <= p.Seen {
		return 0
	}
	return time.Duration(float64(p.Total-p.Seen) / r * float64(time.Second))
}

// DrainResult is how a drain ended.
type DrainResult struct {
	RunID          string  `json:"run_id"`
	Moved          int     `json:"moved"`
	Skipped        int     `json:"skipped"`
	Failed         int     `json:"failed"`
	Left           int     `json:"left"`
	Seen           int     `json:"seen"`
	StoppedBecause string  `json:"stopped_because"`
	Seconds        float64 `json:"seconds"`
	Rate           float64 `json:"rate"`

	// Oversized (Kafka) names the records their target cannot take that
	// the drain skipped (SkippedOversized of them, with SkipOversized) or
	// stopped before (one per partition), the first 100.
	Oversized        []backends.KafkaOversized `json:"oversized,omitempty"`
	SkippedOversized int                       `json:"skipped_oversized,omitempty"`

	// limitFromPlan is the limit the confirmed plan set (0: none).
	limitFromPlan int
}

// Audit is what the audit log keeps of a drain's run.
func (r *DrainResult) Audit() AuditResult {
	if r == nil {
		return AuditResult{}
	}
	a := AuditResult{Done: int64(r.Moved), Skipped: int64(r.Skipped), Failed: int64(r.Failed), Left: int64(r.Left), Seen: int64(r.Seen),
		StoppedBecause: r.StoppedBecause}
	d := map[string]any{}
	if r.limitFromPlan > 0 {
		d["limit_from_plan"] = r.limitFromPlan
	}
	if len(r.Oversized) > 0 {
		// every record skipped or stopped before, by position and size
		// (never its contents); the first 100, and the count
		d["oversized"], d["skipped_oversized"] = r.Oversized, r.SkippedOversized
	}
	if len(d) > 0 {
		a.Details = d
	}
	return a
}

// Audit is what the audit log keeps of a drain's plan: its counts (of the
// sample, for part of a queue; the depth, or the records read, as its
// total) and summary; the estimate, why a queue was not sampled and the
// records too large for their target as details.
func (p *DrainPlan) Audit() AuditPlan {
	if p == nil {
		return AuditPlan{}
	}
	a := AuditPlan{Summary: p.Summary(), Selected: int64(p.Selected), Skipped: int64(p.Skipped), Total: p.Depth, Problems: p.Problems}
	if a.Total == 0 && p.Complete {
		a.Total = int64(p.Sampled)
	}
	d := map[string]any{}
	if p.Depth > 0 || p.NotSampled != nil {
		d["sampled"], d["estimate"] = p.Sampled, p.Estimate
	}
	if p.NotSampled != nil {
		d["not_sampled"] = p.NotSampled.Reason
	}
	if p.OversizedCount > 0 {
		d["oversized_count"], d["oversized"], d["skip_oversized"] = p.OversizedCount, p.Oversized, p.SkipOversized
	}
	if len(d) > 0 {
		a.Details = d
	}
	return a
}

// RabbitDrain is the drain of a RabbitMQ dead-letter queue as an Action:
// run it through a Runner.
type RabbitDrain struct {
	Broker  RabbitDrainer
	Options DrainOptions
}

func (a *RabbitDrain) Kind() string    { return "drain" }
func (a *RabbitDrain) Validate() error { return a.Options.Validate() }

func (a *RabbitDrain) Describe() Subject {
	o := &a.Options
	return Subject{Context: o.Context, Source: o.source(), Target: o.To, RunID: o.RunID, Args: o.args()}
}

func (a *RabbitDrain) Plan(ctx context.Context) (Plan, error) {
	p, err := planDrain(ctx, a.Broker, a.Options)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (a *RabbitDrain) Execute(ctx context.Context, p Plan, progress func(Progress)) (Result, error) {
	plan, err := drainPlanOf(p)
	if err != nil {
		return nil, err
	}
	res, err := executeDrain(ctx, a.Broker, a.Options, plan, progress)
	if res == nil {
		return nil, err
	}
	return res, err
}

// drainPlanOf is the plan a drain was given (nil: none).
func drainPlanOf(p Plan) (*DrainPlan, error) {
	if isNil(p) {
		return nil, nil
	}
	dp, ok := p.(*DrainPlan)
	if !ok {
		return nil, fmt.Errorf("a drain cannot run the plan of another action (%T)", p)
	}
	return dp, nil
}

// args is the drain's command line (Subject.Args): the flags the
// operator set, defaults left out.
func (o *DrainOptions) args() []string {
	a := []string{"drain", "rabbitmq:" + o.Queue, "--to", o.To}
	if o.Vhost != "" && o.Vhost != "/" {
		a = append(a, "--vhost", o.Vhost)
	}
	if o.Reason != "" {
		a = append(a, "--reason", o.Reason)
	}
	if o.Origin != "" {
		a = append(a, "--origin", o.Origin)
	}
	a = appendCounts(a, o.Limit, o.Rate)
	if o.Prefetch != 0 && o.Prefetch != rabbitmq.DefaultPrefetch {
		a = append(a, "--prefetch", strconv.Itoa(o.Prefetch))
	}
	if o.Sample != 0 && o.Sample != DefaultSample {
		a = append(a, "--sample", strconv.Itoa(o.Sample))
	}
	if o.NotDeadLetters {
		a = append(a, "--not-dead-letters")
	}
	return a
}

// appendCounts adds --limit and --rate when set.
func appendCounts(a []string, limit int, rate float64) []string {
	if limit != 0 {
		a = append(a, "--limit", strconv.Itoa(limit))
	}
	if rate != 0 {
		a = append(a, "--rate", strconv.FormatFloat(rate, 'f', -1, 64))
	}
	return a
}

// executeDrain moves the dead letters (the safe-move recipe lives in the
// backend), rate-limited, reporting progress; plan, when set, bounds the
// run (DrainOptions.limit).
func executeDrain(ctx context.Context, r RabbitDrainer, o DrainOptions, plan *DrainPlan, progress func(Progress)) (*DrainResult, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	t, _ := parseTarget(o.To)
	lim := NewLimiter(o.Rate)
	limit, fromPlan := o.limit(plan)
	mo := rabbitmq.MoveOptions{
		Vhost: o.Vhost, Queue: o.Queue, Prefetch: o.Prefetch, Limit: limit, RunID: o.RunID,
		Decide: func(m *backends.Message) (rabbitmq.Decision, rabbitmq.MoveTarget, error) { return o.decide(t, m) },
		Wait:   lim.Wait,
	}
	if progress != nil {
		mo.Progress = func(p rabbitmq.MoveProgress) {
			progress(Progress{Done: p.Moved, Skipped: p.Skipped, Failed: p.Failed, Seen: p.Seen, Total: p.Total, Elapsed: p.Elapsed})
		}
	}
	var sink *fileSink
	if t.kind == toFile { // opened before anything moves: a bad path stops here
		var err error
		if sink, err = openFileSink(t.path); err != nil {
			return nil, err
		}
		defer sink.Close()
		mo.Sink = sink.Write
	}
	start := time.Now()
	res, err := r.Move(ctx, mo)
	out := &DrainResult{RunID: o.RunID, Seconds: time.Since(start).Seconds()}
	if res != nil {
		out.Moved, out.Skipped, out.Failed, out.Left, out.Seen, out.StoppedBecause = res.Moved, res.Skipped, res.Failed, res.Left, res.Seen, res.StoppedBecause
	}
	if fromPlan {
		out.limitFromPlan = limit
		if err == nil && out.Seen >= limit {
			what := "previewed"
			if !plan.Complete {
				what = "counted"
			}
			out.StoppedBecause = fmt.Sprintf("done: the %d messages the plan %s seen; any that arrived since stay in the queue", limit, what)
		}
	}
	if out.Seconds > 0 {
		out.Rate = float64(out.Moved) / out.Seconds
	}
	return out, err
}

func msgLabel(m *backends.Message) string {
	if m.MessageID != "" {
		return "id " + backends.SafeText(m.MessageID)
	}
	return "without message id"
}

// fileSink appends messages as JSON lines and fsyncs each before the
// source is acknowledged.
type fileSink struct{ f *os.File }

func openFileSink(path string) (*fileSink, error) {
	f, err := backends.OpenAppend(path, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--to file: %w", err)
	}
	return &fileSink{f: f}, nil
}

func (s *fileSink) Write(_ context.Context, m *backends.Message) error {
	b, err := safejson.Marshal(m) // body as base64, headers and death history kept, strings byte for byte
	if err != nil {
		return err
	}
	if _, err := s.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("writing %s: %w", s.f.Name(), err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", s.f.Name(), err)
	}
	return nil
}

func (s *fileSink) Close() error { return s.f.Close() }

// source names the queue as the operator knows it: the vhost is only
// spelled out when it is not the default one.
func (o *DrainOptions) source() string {
	if o.Vhost == "" || o.Vhost == "/" {
		return "rabbitmq:" + o.Queue
	}
	return "rabbitmq:" + o.Vhost + "/" + o.Queue
}
