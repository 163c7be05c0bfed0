package actions

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mqops/mqops/backends"
)

// Bounds and defaults of a resend.
const (
	// DefaultResendBatch is how many rows a resend claims, publishes and
	// marks at a time: its in-flight window, what a kill can make the
	// next run publish twice.
	DefaultResendBatch = 500
	MaxResendBatch     = 10_000
	// MaxResendIDs bounds the --id list.
	MaxResendIDs = 100_000
	// MaxOlderThan bounds --older-than and --claim-lease.
	MaxOlderThan = 10 * 365 * 24 * time.Hour
	// DefaultClaimLease: a row attempted less than this long ago may be
	// in flight in another resend (claimed, not yet marked) and is passed
	// over.
	DefaultClaimLease = time.Minute
	// maxResendErrors is how many distinct errors a result keeps.
	maxResendErrors = 10
	// maxIDLength and maxDestinationLength bound the identifiers an
	// operator gives.
	maxIDLength          = 1024
	maxDestinationLength = 4096
	// consumedBatch is how many message ids one idempotency lookup asks.
	consumedBatch = 1000
	// failedBatchesToStop: after this many batches in a row of which the
	// broker confirmed nothing, a resend stops (the broker is down, or
	// every target refuses): it does not go on claiming rows to fail them.
	failedBatchesToStop = 3
)

// Why a resend stopped (ResendResult.StoppedBecause).
const (
	ResendStopEnd       = "end"       // every row of the plan was handled
	ResendStopCancelled = "cancelled" // ctx was cancelled
	ResendStopError     = "error"     // the store failed, or the broker failed every row of several batches
)

// ResendOptions are the parameters of a resend of pending rows of the
// application's sending table (outbox), as the operator gave them.
type ResendOptions struct {
	Context  string
	ReadOnly bool
	// Route maps a row's destination to a Kafka topic or a RabbitMQ
	// exchange and routing key (the context's store.route).
	Route backends.Route
	// OlderThan selects rows created at least this long ago (0: the
	// store's pending-after, 5m by default).
	OlderThan time.Duration
	// Destination selects one destination ("": every one).
	Destination string
	// IDs selects these rows (nil: any pending row).
	IDs []string
	// Limit is how many rows at most, oldest first (0: the store's bound
	// on one read).
	Limit int
	// Rate is rows per second (0: no limit).
	Rate float64
	// SkipConsumed passes over the rows whose message id the idempotency
	// table says was consumed already (they stay pending).
	SkipConsumed bool
	// Batch is how many rows are claimed, published and marked at a time
	// (default DefaultResendBatch): at most this many rows are published
	// and not yet marked sent at any moment, what a kill can make the next
	// run publish twice.
	Batch int
	// ClaimLease: rows attempted less than this long ago (their
	// last_attempt_at) are taken as in flight in another run, claimed and
	// not yet marked, and passed over, as are the later rows of their key
	// (default DefaultClaimLease). After a run that was killed, its
	// claimed rows wait this long before another run takes them.
	ClaimLease time.Duration
	RunID      string
}

// Validate checks the options (no I/O) and fills the defaults; a
// read-only context refuses resends.
func (o *ResendOptions) Validate() error {
	if o.ReadOnly {
		return fmt.Errorf("context %q is read-only: resends are not available", o.Context)
	}
	switch {
	case o.OlderThan < 0:
		return &FieldError{"older-than", fmt.Sprintf("%s is negative: want a duration such as 5m", o.OlderThan)}
	case o.OlderThan > MaxOlderThan:
		return &FieldError{"older-than", fmt.Sprintf("%s is out of range: want at most %s", o.OlderThan, MaxOlderThan)}
	case o.ClaimLease < 0:
		return &FieldError{"claim-lease", fmt.Sprintf("%s is negative: want a duration such as 1m", o.ClaimLease)}
	case o.ClaimLease > MaxOlderThan:
		return &FieldError{"claim-lease", fmt.Sprintf("%s is out of range: want at most %s", o.ClaimLease, MaxOlderThan)}
	}
	if err := firstError(
		CheckCount("limit", o.Limit, 1, MaxLimit, true),
		CheckRate("rate", o.Rate),
		CheckCount("batch", o.Batch, 1, MaxResendBatch, true),
	); err != nil {
		return err
	}
	if len(o.Destination) > maxDestinationLength {
		return &FieldError{"destination", fmt.Sprintf("is %d bytes long: want at most %d", len(o.Destination), maxDestinationLength)}
	}
	if err := checkRowIDs(o.IDs); err != nil {
		return err
	}
	if _, err := o.Route.Resolve("x"); err != nil {
		return err
	}
	if o.Batch == 0 {
		o.Batch = DefaultResendBatch
	}
	if o.ClaimLease == 0 {
		o.ClaimLease = DefaultClaimLease
	}
	if o.RunID == "" {
		o.RunID = NewRunID()
	}
	return checkRunID(o.RunID)
}

// commandArgs is the resend's command line (Subject.Args).
// defaultPendingAfter is the store's pending-after when a context does not
// set one (store.DefaultPendingAfter).
const defaultPendingAfter = 5 * time.Minute

func (o *ResendOptions) commandArgs() []string {
	a := []string{"resend"}
	if o.OlderThan > 0 {
		a = append(a, "--older-than", o.OlderThan.String())
	}
	if o.Destination != "" {
		a = append(a, "--destination", o.Destination)
	}
	for _, id := range o.IDs {
		a = append(a, "--id", id)
	}
	a = appendCounts(a, o.Limit, o.Rate)
	if o.SkipConsumed {
		a = append(a, "--skip-consumed")
	}
	if o.Batch != 0 && o.Batch != DefaultResendBatch {
		a = append(a, "--batch", strconv.Itoa(o.Batch))
	}
	if o.ClaimLease != 0 && o.ClaimLease != DefaultClaimLease {
		a = append(a, "--claim-lease", o.ClaimLease.String())
	}
	return a
}

// RouteText names a route as a target: kafka:{destination},
// rabbitmq:orders.x/{destination}.
func RouteText(r backends.Route) string {
	t, err := r.Resolve("{destination}")
	if err != nil {
		return r.Broker
	}
	return t.String()
}

// ResendPlan is a resend's preview: the rows it resends, oldest first,
// and per destination their count and target.
type ResendPlan struct {
	RunID       string         `json:"run_id"`
	Store       string         `json:"store"`
	Route       backends.Route `json:"route"`
	OlderThan   string         `json:"older_than,omitempty"` // "": the store's pending-after
	Destination string         `json:"destination,omitempty"`
	// Rows are the pending rows read (at most the limit), oldest first;
	// those with a Problem, and the consumed ones with SkipConsumed, are
	// not resent.
	Rows         []ResendPlanRow    `json:"rows"`
	Destinations []ResendPlanTarget `json:"destinations"`
	// Selected counts the rows the run resends; Unroutable those whose
	// destination does not resolve to a target.
	Selected   int `json:"selected"`
	Unroutable int `json:"unroutable"`
	// InFlight counts the rows attempted within the claim lease (perhaps
	// in flight in another run), Held the later rows of their keys: both
	// passed over.
	InFlight   int    `json:"in_flight"`
	Held       int    `json:"held"`
	ClaimLease string `json:"claim_lease"`
	// Consumed counts the rows whose message id the idempotency table
	// says was consumed (ConsumedChecked: it was asked); SkipConsumed says
	// they are passed over, else they are resent with the others.
	Consumed        int  `json:"consumed"`
	ConsumedChecked bool `json:"consumed_checked"`
	SkipConsumed    bool `json:"skip_consumed"`
	// Pending counts every pending row that matches, More says some were
	// left out by the limit (or the store's bound on one read).
	Pending          int       `json:"pending"`
	More             bool      `json:"more"`
	OldestAgeSeconds float64   `json:"oldest_age_seconds"`
	Now              time.Time `json:"now"`
	Rate             float64   `json:"rate,omitempty"`
	Batch            int       `json:"batch"`
	// MessageIDHeader is the header each message carries its id under.
	MessageIDHeader string   `json:"message_id_header"`
	Problems        []string `json:"problems,omitempty"`
	Notes           []string `json:"notes,omitempty"`
}

// ResendPlanRow is one row of a plan.
type ResendPlanRow struct {
	ID          string    `json:"id"`
	Destination string    `json:"destination"`
	Target      string    `json:"target,omitempty"`
	Key         string    `json:"key"`
	MessageID   string    `json:"message_id"`
	Status      string    `json:"status"`
	Attempts    int       `json:"attempts"`
	CreatedAt   time.Time `json:"created_at"`
	AgeSeconds  float64   `json:"age_seconds"`
	LastError   string    `json:"last_error"`
	Consumed    bool      `json:"consumed,omitempty"`
	// Skip says why the run passes the row over ("": it resends it).
	Skip string `json:"skip,omitempty"`

	target backends.RouteTarget
}

// ResendPlanTarget is one destination of a plan.
type ResendPlanTarget struct {
	Destination string `json:"destination"`
	Target      string `json:"target,omitempty"`
	// Rows read, Selected of them resent, Consumed already consumed.
	Rows             int     `json:"rows"`
	Selected         int     `json:"selected"`
	Consumed         int     `json:"consumed"`
	OldestAgeSeconds float64 `json:"oldest_age_seconds"`
	Problem          string  `json:"problem,omitempty"`
}

// Why a planned row is passed over.
const (
	resendSkipUnroutable = "unroutable"
	resendSkipConsumed   = "consumed"
	resendSkipInFlight   = "in-flight" // attempted within the claim lease
	resendSkipHeld       = "held"      // an earlier row of its key is in flight
)

// Summary is the plan in one line, for a confirmation and the audit log.
func (p *ResendPlan) Summary() string {
	s := fmt.Sprintf("%d pending row(s) of %d destination(s)", p.Selected, len(p.Destinations))
	if p.OldestAgeSeconds > 0 {
		s += fmt.Sprintf(", oldest %s", AgeText(time.Duration(p.OldestAgeSeconds*float64(time.Second))))
	}
	s += " → " + cutLabel(RouteText(p.Route))
	var out []string
	if p.Unroutable > 0 {
		out = append(out, fmt.Sprintf("%d unroutable", p.Unroutable))
	}
	if n := p.InFlight + p.Held; n > 0 {
		out = append(out, fmt.Sprintf("%d in flight elsewhere, skipped", n))
	}
	if p.Consumed > 0 {
		if p.SkipConsumed {
			out = append(out, fmt.Sprintf("%d already consumed, skipped", p.Consumed))
		} else {
			out = append(out, fmt.Sprintf("%d already consumed, resent too", p.Consumed))
		}
	}
	if len(out) > 0 {
		s += " (" + strings.Join(out, "; ") + ")"
	}
	return s
}

// AgeText is an age for people: 6m12s, 3h05m, 2d04h.
func AgeText(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd%02dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}

// selected lists the rows the run resends, in the plan's order.
func (p *ResendPlan) selected() []ResendPlanRow {
	out := make([]ResendPlanRow, 0, p.Selected)
	for _, r := range p.Rows {
		if r.Skip == "" {
			out = append(out, r)
		}
	}
	return out
}

// Audit is what the audit log keeps of a resend's plan: the rows resent
// (selected), those passed over (skipped), the rows read (total), its
// problems, and as details the destinations (the first few), the consumed
// count and the first ids.
func (p *ResendPlan) Audit() AuditPlan {
	if p == nil {
		return AuditPlan{}
	}
	a := AuditPlan{Summary: p.Summary(), Selected: int64(p.Selected), Skipped: int64(len(p.Rows) - p.Selected), Total: int64(p.Pending), Problems: p.Problems}
	d := map[string]any{"store": p.Store, "route": RouteText(p.Route), "rows": len(p.Rows), "more": p.More, "batch": p.Batch,
		"unroutable": p.Unroutable, "in_flight": p.InFlight, "held": p.Held, "consumed_checked": p.ConsumedChecked}
	if p.ConsumedChecked {
		d["consumed"], d["skip_consumed"] = p.Consumed, p.SkipConsumed
	}
	if p.Rate > 0 {
		d["rate"] = p.Rate
	}
	const shown = 20
	var dests []map[string]any
	for i, t := range p.Destinations {
		if i == shown {
			break
		}
		dests = append(dests, map[string]any{"destination": t.Destination, "target": t.Target, "rows": t.Rows, "selected": t.Selected})
	}
	d["destinations"] = dests
	var ids []string
	for _, r := range p.Rows {
		if r.Skip == "" {
			if ids = append(ids, r.ID); len(ids) == shown {
				break
			}
		}
	}
	d["first_ids"] = ids
	a.Details = d
	return a
}

// ResendResult is how a resend ended.
type ResendResult struct {
	RunID string `json:"run_id"`
	// Resent: published, confirmed by the broker and marked sent.
	Resent int `json:"resent"`
	// Failed: claimed and published, and the broker did not confirm them:
	// they stay pending with their last error; Errors are the first
	// distinct errors.
	Failed int      `json:"failed"`
	Errors []string `json:"errors,omitempty"`
	// Skipped are rows of the plan passed over: SkippedClaimed claimed
	// or attempted by someone else since the plan (their attempts
	// changed), SkippedGone no longer pending (sent, confirmed or deleted
	// since), SkippedHeld held back because an earlier row of their key
	// failed in this run (their order is kept), SkippedConsumed already
	// consumed (with --skip-consumed: the plan left them out).
	Skipped         int `json:"skipped"`
	SkippedClaimed  int `json:"skipped_claimed"`
	SkippedGone     int `json:"skipped_gone"`
	SkippedHeld     int `json:"skipped_held"`
	SkippedConsumed int `json:"skipped_consumed"`
	// Unmarked counts rows the broker confirmed that could not be marked
	// sent (the store failed, or the row changed): they stay pending and
	// a later resend publishes them again.
	Unmarked int `json:"unmarked,omitempty"`
	// Left: rows of the plan not handled (the run stopped before them).
	Left           int     `json:"left"`
	StoppedBecause string  `json:"stopped_because"`
	Seconds        float64 `json:"seconds"`
	Rate           float64 `json:"rate"`
}

// Audit is what the audit log keeps of a resend's run.
func (r *ResendResult) Audit() AuditResult {
	if r == nil {
		return AuditResult{}
	}
	a := AuditResult{Done: int64(r.Resent), Skipped: int64(r.Skipped), Failed: int64(r.Failed), Left: int64(r.Left), StoppedBecause: r.StoppedBecause,
		Seen: int64(r.Resent + r.Failed + r.Skipped - r.SkippedConsumed)}
	d := map[string]any{"skipped_claimed": r.SkippedClaimed, "skipped_gone": r.SkippedGone, "skipped_held": r.SkippedHeld, "skipped_consumed": r.SkippedConsumed}
	if len(r.Errors) > 0 {
		d["errors"] = r.Errors
	}
	if r.Unmarked > 0 {
		d["unmarked"] = r.Unmarked
	}
	a.Details = d
	return a
}

// Resend resends pending rows of the application's sending table, as an
// Action: run it through a Runner (Validate → Plan → the operator
// confirms → Execute), which audits each outcome. Store is the sending
// table, Publisher the broker of Options.Route (a *kafka.Client for
// kafka, a *rabbitmq.Client for rabbitmq).
type Resend struct {
	Store     backends.OutboxStore
	Publisher backends.Publisher
	Options   ResendOptions
}

func (a *Resend) Kind() string { return "resend" }

// Validate checks the options (no I/O).
func (a *Resend) Validate() error { return a.Options.Validate() }

// Describe: the sending table (one destination of it) and the route.
func (a *Resend) Describe() Subject {
	o := &a.Options
	s := Subject{Context: o.Context, RunID: o.RunID, Args: o.commandArgs(), Source: "outbox", Target: RouteText(o.Route)}
	// Without --older-than the store's pending-after applies: say it when
	// the command line could not carry it otherwise (a context given by
	// flags has the default), so the command selects the same rows.
	if pa, ok := a.Store.(interface{ PendingAfter() time.Duration }); ok && o.OlderThan == 0 && pa.PendingAfter() > 0 && pa.PendingAfter() != defaultPendingAfter {
		s.Args = slices.Insert(s.Args, 1, "--older-than", pa.PendingAfter().String())
	}
	if a.Store != nil {
		s.Source = "outbox:" + backends.Redact(a.Store.Name())
	}
	if o.Destination != "" {
		s.Source += " destination " + o.Destination
	}
	return s
}

// Plan reads the pending rows the resend would publish (without their
// payloads), resolves each destination's target, and counts the message
// ids already consumed. It changes nothing.
func (a *Resend) Plan(ctx context.Context) (Plan, error) {
	p, err := a.plan(ctx)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (a *Resend) plan(ctx context.Context) (*ResendPlan, error) {
	o := &a.Options
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if a.Store == nil {
		return nil, errors.New("no store: a resend needs the application's database (store: in the context, or --store)")
	}
	page, err := a.Store.Pending(ctx, backends.OutboxQuery{OlderThan: o.OlderThan, Destination: o.Destination, IDs: o.IDs, Limit: o.Limit})
	if err != nil {
		return nil, err
	}
	p := &ResendPlan{RunID: o.RunID, Store: backends.Redact(a.Store.Name()), Route: o.Route, Destination: o.Destination, Pending: page.Total, More: page.More,
		Now: page.Now, Rate: o.Rate, Batch: o.Batch, ClaimLease: o.ClaimLease.String(), SkipConsumed: o.SkipConsumed, MessageIDHeader: a.Store.MessageIDHeader(), Rows: []ResendPlanRow{}, Destinations: []ResendPlanTarget{}}
	if o.OlderThan > 0 {
		p.OlderThan = o.OlderThan.String()
	}
	consumed, cerr := a.consumed(ctx, page.Rows)
	if cerr != nil {
		return nil, cerr
	}
	p.ConsumedChecked = consumed != nil
	byDest := map[string]int{}
	held := map[string]bool{} // destination and key of rows in flight
	for _, r := range page.Rows {
		row := ResendPlanRow{ID: r.ID, Destination: r.Destination, Key: r.Key, MessageID: r.MessageID, Status: r.Status, Attempts: r.Attempts,
			CreatedAt: r.CreatedAt, AgeSeconds: ageSeconds(page.Now, r.CreatedAt), LastError: r.LastError, Consumed: r.MessageID != "" && consumed[r.MessageID]}
		i, ok := byDest[r.Destination]
		if !ok {
			i = len(p.Destinations)
			byDest[r.Destination] = i
			t := ResendPlanTarget{Destination: r.Destination}
			if tgt, err := resolveTarget(o.Route, r.Destination); err != nil {
				t.Problem = err.Error()
			} else {
				t.Target = tgt.String()
			}
			p.Destinations = append(p.Destinations, t)
		}
		t := &p.Destinations[i]
		t.Rows++
		t.OldestAgeSeconds = max(t.OldestAgeSeconds, row.AgeSeconds)
		p.OldestAgeSeconds = max(p.OldestAgeSeconds, row.AgeSeconds)
		if row.Consumed {
			t.Consumed++
			p.Consumed++
		}
		key := r.Destination + "\x00" + r.Key
		switch {
		case t.Problem != "":
			row.Skip = resendSkipUnroutable
			p.Unroutable++
		case !r.LastAttemptAt.IsZero() && page.Now.Sub(r.LastAttemptAt) < o.ClaimLease:
			row.Skip = resendSkipInFlight
			p.InFlight++
			if r.Key != "" {
				held[key] = true
			}
		case r.Key != "" && held[key]:
			row.Skip = resendSkipHeld
			p.Held++
		case row.Consumed && o.SkipConsumed:
			row.Skip = resendSkipConsumed
		default:
			row.target, _ = resolveTarget(o.Route, r.Destination)
			row.Target = t.Target
			t.Selected++
			p.Selected++
		}
		p.Rows = append(p.Rows, row)
	}
	for _, t := range p.Destinations {
		if t.Problem != "" {
			p.Problems = append(p.Problems, fmt.Sprintf("destination %q: %s: its %d row(s) are not resent", cutLabel(t.Destination), t.Problem, t.Rows))
		}
	}
	a.notes(p, page, consumed != nil)
	return p, nil
}

// maxShortstr is the most an AMQP short string (an exchange, a routing
// key) holds.
const maxShortstr = 255

// resolveTarget is where route sends destination, or why it cannot: no
// destination, a Kafka topic name Kafka refuses, an AMQP name too long.
func resolveTarget(route backends.Route, destination string) (backends.RouteTarget, error) {
	t, err := route.Resolve(destination)
	if err != nil {
		return t, err
	}
	switch t.Broker {
	case "kafka":
		if !topicNameRE().MatchString(t.Topic) || t.Topic == "." || t.Topic == ".." {
			return t, fmt.Errorf("%q is not a Kafka topic name (at most 249 of a-z A-Z 0-9 . _ -)", cutLabel(t.Topic))
		}
	case "rabbitmq":
		if len(t.Exchange) > maxShortstr || len(t.RoutingKey) > maxShortstr {
			return t, fmt.Errorf("the exchange or routing key is longer than AMQP's %d bytes", maxShortstr)
		}
	}
	return t, nil
}

// consumed asks the idempotency table which message ids of rows were
// consumed (nil: the store has none).
func (a *Resend) consumed(ctx context.Context, rows []backends.OutboxRow) (map[string]bool, error) {
	if !a.Store.HasIdempotency() {
		return nil, nil
	}
	ids := make([]string, 0, len(rows))
	for _, r := range rows {
		if r.MessageID != "" {
			ids = append(ids, r.MessageID)
		}
	}
	out, err := consumedAmong(ctx, a.Store, ids)
	if err != nil {
		return nil, fmt.Errorf("reading the idempotency table: %w", err)
	}
	return out, nil
}

// consumedAmong asks idx about ids in batches; the answer is never nil.
func consumedAmong(ctx context.Context, idx backends.ConsumedIndex, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	for len(ids) > 0 {
		n := min(len(ids), consumedBatch)
		m, err := idx.ConsumedAmong(ctx, ids[:n])
		if err != nil {
			return nil, err
		}
		for id, c := range m {
			if c {
				out[id] = true
			}
		}
		ids = ids[n:]
	}
	return out, nil
}

// notes adds what the operator should know about the plan's scope.
func (a *Resend) notes(p *ResendPlan, page *backends.OutboxPage, checked bool) {
	o := &a.Options
	if p.More {
		p.Notes = append(p.Notes, fmt.Sprintf("%d pending row(s) match; the plan holds the %d oldest (--limit, or the store's bound on one read): the run resends only those, run again for the others", p.Pending, len(p.Rows)))
	}
	if len(o.IDs) > 0 && len(page.Rows) < len(o.IDs) {
		found := make(map[string]bool, len(page.Rows))
		for _, r := range page.Rows {
			found[r.ID] = true
		}
		missing := missingIDs(o.IDs, func(id string) bool { return found[id] })
		p.Notes = append(p.Notes, fmt.Sprintf("%d id(s) given are not pending rows older than the age selected (sent, confirmed, younger, or not in the table): %s", len(missing), strings.Join(firstOf(missing, 10), ", ")))
	}
	if !checked {
		p.Notes = append(p.Notes, "the store has no idempotency table: whether a row's message was consumed already is not known")
	}
	if p.Consumed > 0 && !o.SkipConsumed {
		p.Notes = append(p.Notes, fmt.Sprintf("%d row(s) carry a message id the idempotency table says was consumed already: they are resent too (consumers that deduplicate drop them); --skip-consumed passes them over", p.Consumed))
	}
	if p.InFlight > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("%d row(s) were attempted less than %s ago (--claim-lease): they may be in flight in another resend and are passed over, with %d later row(s) of their keys; after a run that was killed, wait or pass a shorter --claim-lease", p.InFlight, o.ClaimLease, p.Held))
	}
	noID := 0
	for _, r := range p.Rows {
		if r.Skip == "" && r.MessageID == "" {
			noID++
		}
	}
	if noID > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("%d row(s) have no message id: they are resent without the %s header, and consumers cannot deduplicate them", noID, p.MessageIDHeader))
	}
}

func ageSeconds(now, created time.Time) float64 {
	if created.IsZero() || now.IsZero() {
		return 0
	}
	return max(now.Sub(created).Seconds(), 0)
}

// Execute resends the rows of the plan the operator confirmed (nil: a plan
// made now), in batches: it reads a batch's rows with their payloads,
// claims them (only at the attempts the plan saw: a row another run
// claimed since is skipped), publishes them with the broker's confirms,
// marks sent only those the broker confirmed and records the error of the
// others, which stay pending. Rate-limited, cancellable between and within
// batches (what the broker confirmed is still marked), reporting progress.
func (a *Resend) Execute(ctx context.Context, p Plan, progress func(Progress)) (Result, error) {
	o := &a.Options
	if err := o.Validate(); err != nil {
		return nil, err
	}
	var plan *ResendPlan
	if !isNil(p) {
		rp, ok := p.(*ResendPlan)
		if !ok {
			return nil, fmt.Errorf("a resend cannot run the plan of another action (%T)", p)
		}
		plan = rp
	} else {
		var err error
		if plan, err = a.plan(ctx); err != nil {
			return nil, err
		}
	}
	if plan.RunID != o.RunID {
		return nil, refused(fmt.Errorf("the plan is of run %s, not of this resend (run %s)", plan.RunID, o.RunID))
	}
	if a.Publisher == nil {
		return nil, errors.New("no publisher: a resend needs the broker of the route (" + o.Route.Broker + ")")
	}
	r := &resendRun{a: a, plan: plan, lim: NewLimiter(o.Rate), progress: progress, begin: time.Now(), held: map[string]bool{},
		out: &ResendResult{RunID: o.RunID}}
	for _, row := range plan.Rows {
		if row.Skip == resendSkipConsumed {
			r.out.SkippedConsumed++
		}
	}
	r.out.Skipped = r.out.SkippedConsumed
	err := r.run(ctx)
	res := r.out
	res.Seconds = time.Since(r.begin).Seconds()
	if res.Seconds > 0 {
		res.Rate = float64(res.Resent) / res.Seconds
	}
	return res, err
}

// resendRun is one resend's execution.
type resendRun struct {
	a        *Resend
	plan     *ResendPlan
	lim      *Limiter
	progress func(Progress)
	begin    time.Time
	out      *ResendResult
	done     int // rows of the plan handled
	// held are the keys with a row that failed in this run: their later
	// rows are held back, to keep a key's rows in order.
	held         map[string]bool
	failedInARow int
}

func (r *resendRun) run(ctx context.Context) error {
	rows := r.plan.selected()
	report := func() { r.report(len(rows)) }
	do := func(lo, hi int) error { return r.batch(ctx, rows[lo:hi]) }
	failed := func() (int, []string) { return r.failedInARow, r.out.Errors }
	why, err := runBatches(ctx, len(rows), r.a.Options.Batch, r.a.Options.Rate, do, func() {
		r.out.Left = len(rows) - r.done
		report()
	}, failed)
	r.out.StoppedBecause = why
	return err
}

func (r *resendRun) report(total int) {
	if r.progress == nil {
		return
	}
	o := r.out
	r.progress(Progress{Done: o.Resent, Skipped: o.Skipped - o.SkippedConsumed, Failed: o.Failed, Seen: r.done, Total: total, Elapsed: time.Since(r.begin)})
}

// batch resends rows (of the plan, in its order): read, claim, publish,
// mark. An error of the store stops the run; a publish error is the
// row's, recorded on it.
func (r *resendRun) batch(ctx context.Context, rows []ResendPlanRow) error {
	st := r.a.Store
	ids := make([]string, len(rows))
	for i, row := range rows {
		ids[i] = row.ID
	}
	page, err := st.Pending(ctx, backends.OutboxQuery{IDs: ids, OlderThan: r.a.Options.OlderThan, Limit: len(ids), WithPayload: true})
	if err != nil {
		return fmt.Errorf("reading the rows to resend: %w", err)
	}
	fresh := make(map[string]*backends.OutboxRow, len(page.Rows))
	for i := range page.Rows {
		fresh[page.Rows[i].ID] = &page.Rows[i]
	}
	var claim []backends.OutboxRow
	planned := make(map[string]*ResendPlanRow, len(rows))
	for i := range rows {
		pr := &rows[i]
		f := fresh[pr.ID]
		switch {
		case f == nil:
			r.skip(&r.out.SkippedGone)
		case f.Attempts != pr.Attempts:
			r.skip(&r.out.SkippedClaimed)
		case pr.Key != "" && r.held[pr.Destination+"\x00"+pr.Key]:
			r.skip(&r.out.SkippedHeld)
		default:
			if err := r.lim.Wait(ctx); err != nil {
				return err
			}
			claim = append(claim, *f)
			planned[pr.ID] = pr
		}
	}
	if len(claim) == 0 {
		return nil
	}
	claimed, err := st.Claim(ctx, claim)
	if err != nil {
		return fmt.Errorf("claiming %d row(s): %w", len(claim), err)
	}
	for range len(claim) - len(claimed) {
		r.skip(&r.out.SkippedClaimed)
	}
	if len(claimed) == 0 {
		return nil
	}
	header := st.MessageIDHeader()
	msgs := make([]backends.OutgoingMessage, len(claimed))
	for i := range claimed {
		c := &claimed[i]
		msgs[i] = outgoing(c, planned[c.ID].target, header)
	}
	results := r.a.Publisher.Publish(ctx, msgs)
	// What the broker confirmed is marked even when ctx was cancelled in
	// the meantime (each call bounded by the store's timeout): a row
	// published and not marked is published again by the next run.
	wctx := context.WithoutCancel(ctx)
	var sent []backends.OutboxRow
	failed := map[string][]backends.OutboxRow{}
	var order []string
	for i := range claimed {
		c := claimed[i]
		perr := publishErr(results, i, c.ID)
		if perr == nil {
			sent = append(sent, c)
			continue
		}
		msg := backends.Redact(perr.Error())
		if _, ok := failed[msg]; !ok {
			order = append(order, msg)
		}
		failed[msg] = append(failed[msg], c)
		if c.Key != "" {
			r.held[c.Destination+"\x00"+c.Key] = true
		}
	}
	var markErr error
	if len(sent) > 0 {
		n, err := st.MarkSent(wctx, sent)
		r.out.Resent += n
		r.out.Unmarked += len(sent) - n
		if err != nil {
			markErr = fmt.Errorf("marking %d confirmed row(s) sent: %w (they stay pending: a later resend publishes them again)", len(sent), err)
		}
	}
	for _, msg := range order {
		fr := failed[msg]
		r.out.Failed += len(fr)
		r.addError(msg)
		if err := st.MarkFailed(wctx, fr, msg); err != nil && markErr == nil {
			markErr = fmt.Errorf("recording the error of %d row(s): %w", len(fr), err)
		}
	}
	r.done += len(claimed)
	if len(sent) == 0 {
		r.failedInARow++
	} else {
		r.failedInARow = 0
	}
	return markErr
}

// skip counts one row of the plan passed over, in its kind's counter.
func (r *resendRun) skip(kind *int) {
	*kind++
	r.out.Skipped++
	r.done++
}

// addError keeps msg among the first errors unless one of its kind (the
// same text but for its numbers: a row's id) is there already.
func (r *resendRun) addError(msg string) { r.out.Errors = keepDistinctError(r.out.Errors, msg) }

var digitsRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[0-9]+`) }) // compiled when first used: not in every command's start

// outgoing is the message of a claimed row: its key (Kafka's partitioning),
// payload and headers in order, and its message id, added under header
// unless a header of that name is there already.
func outgoing(row *backends.OutboxRow, target backends.RouteTarget, header string) backends.OutgoingMessage {
	m := backends.OutgoingMessage{ID: row.ID, Target: target, Value: row.Payload, MessageID: row.MessageID}
	if row.Key != "" {
		m.Key = []byte(row.Key)
	}
	m.Headers = row.Headers
	if row.MessageID != "" && header != "" {
		has := false
		for _, h := range row.Headers {
			if h.Key == header {
				has = true
				break
			}
		}
		if !has {
			m.Headers = append(append(make([]backends.StoreHeader, 0, len(row.Headers)+1), row.Headers...), backends.StoreHeader{Key: header, Value: row.MessageID})
		}
	}
	return m
}
