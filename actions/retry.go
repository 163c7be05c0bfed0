package actions

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mqops/mqops/backends"
)

// What a retry action does to the rows of the application's retry table
// (RetryOptions.Op).
const (
	// RetryOpNow makes the rows due now for the application's job (river:
	// as river's JobRetry).
	RetryOpNow = "now"
	// RetryOpRepublish publishes each row's payload and headers to its
	// destination with the broker's confirms, then marks it done.
	RetryOpRepublish = "republish"
	// RetryOpGiveUp marks the rows dead (river: discarded): the
	// application's job no longer takes them.
	RetryOpGiveUp = "give-up"
)

// RetryOps lists the operations, in the order they are offered.
var RetryOps = []string{RetryOpNow, RetryOpRepublish, RetryOpGiveUp}

// Bounds of a retry action.
const (
	// DefaultRetryBatch is how many rows a retry action changes at a time
	// (a republish: publishes, then marks).
	DefaultRetryBatch = 500
	// maxErrorGroupLength bounds --error: an error group is a normalised
	// error text, which the store reads up to 8 KiB.
	maxErrorGroupLength = 8 << 10
)

// RetryOptions are the parameters of an action on rows of the
// application's retry table, as the operator gave them. The rows are those
// of IDs, or of the error group ErrorGroup (a RetryRow.ErrorGroup value),
// or both (the rows of IDs in that group); at most Limit of them.
type RetryOptions struct {
	Context  string
	ReadOnly bool
	// Op is RetryOpNow, RetryOpRepublish or RetryOpGiveUp.
	Op         string
	IDs        []string
	ErrorGroup string
	// Limit is how many rows at most, oldest first (0: the store's bound
	// on one read).
	Limit int
	// Rate is rows per second (0: no limit).
	Rate float64
	// Batch is how many rows are changed at a time (default
	// DefaultRetryBatch): for a republish, at most this many rows are
	// published and not yet marked done at any moment.
	Batch int
	// Route maps a row's destination to a Kafka topic or a RabbitMQ
	// exchange and routing key (a republish only).
	Route backends.Route
	RunID string
}

// Validate checks the options (no I/O) and fills the defaults; a
// read-only context refuses retry actions.
func (o *RetryOptions) Validate() error {
	if o.ReadOnly {
		return fmt.Errorf("context %q is read-only: retry actions (now, republish, give-up) are not available", o.Context)
	}
	switch o.Op {
	case RetryOpNow, RetryOpRepublish, RetryOpGiveUp:
	default:
		return fmt.Errorf("%q is not a retry action: want %s", backends.SafeText(o.Op), strings.Join(RetryOps, ", "))
	}
	if err := firstError(
		CheckCount("limit", o.Limit, 1, MaxLimit, true),
		CheckRate("rate", o.Rate),
		CheckCount("batch", o.Batch, 1, MaxResendBatch, true),
		checkRowIDs(o.IDs),
	); err != nil {
		return err
	}
	if len(o.ErrorGroup) > maxErrorGroupLength {
		return &FieldError{"error", fmt.Sprintf("is %d bytes long: want at most %d (an error group as mqops retries lists it)", len(o.ErrorGroup), maxErrorGroupLength)}
	}
	if len(o.IDs) == 0 && o.ErrorGroup == "" {
		return errors.New("no rows selected: give --id ID (repeatable) or --error GROUP (an error group as mqops retries lists it)")
	}
	if o.Op == RetryOpRepublish {
		if _, err := o.Route.Resolve("x"); err != nil {
			return err
		}
	}
	if o.Batch == 0 {
		o.Batch = DefaultRetryBatch
	}
	if o.RunID == "" {
		o.RunID = NewRunID()
	}
	return checkRunID(o.RunID)
}

// checkRowIDs validates the --id list of an action on rows: not too many,
// none empty, too long or given twice.
func checkRowIDs(ids []string) error {
	if len(ids) > MaxResendIDs {
		return &FieldError{"id", fmt.Sprintf("%d ids: want at most %d (select the rows another way, with --limit)", len(ids), MaxResendIDs)}
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		switch {
		case id == "":
			return &FieldError{"id", "an empty id"}
		case len(id) > maxIDLength:
			return &FieldError{"id", fmt.Sprintf("%q… is %d bytes long: want at most %d", backends.SafeText(id[:32]), len(id), maxIDLength)}
		case seen[id]:
			return &FieldError{"id", fmt.Sprintf("%q is given twice", backends.SafeText(id))}
		}
		seen[id] = true
	}
	return nil
}

// commandArgs is the action's command line (Subject.Args).
func (o *RetryOptions) commandArgs() []string {
	a := []string{"retry", o.Op}
	for _, id := range o.IDs {
		a = append(a, "--id", id)
	}
	if o.ErrorGroup != "" {
		a = append(a, "--error", o.ErrorGroup)
	}
	a = appendCounts(a, o.Limit, o.Rate)
	if o.Batch != 0 && o.Batch != DefaultRetryBatch {
		a = append(a, "--batch", strconv.Itoa(o.Batch))
	}
	return a
}

// RetryPlan is the preview of an action on retry rows: exactly the rows
// it changes (Rows), and what the selection matched that it leaves alone.
type RetryPlan struct {
	RunID      string `json:"run_id"`
	Op         string `json:"op"`
	Store      string `json:"store"`
	ErrorGroup string `json:"error_group,omitempty"`
	// Route is where a republish publishes (RouteText); "" otherwise.
	Route string `json:"route,omitempty"`
	// Rows are the rows the run changes, oldest first.
	Rows     []RetryPlanRow `json:"rows"`
	Selected int            `json:"selected"`
	// Groups count the rows of Rows per error group, largest first.
	Groups []RetryPlanGroup `json:"groups"`
	// Matched counts the rows the selection matched (waiting or dead; for
	// give-up, waiting), More says some were left out by the limit or the
	// store's bound on one read.
	Matched int  `json:"matched"`
	More    bool `json:"more"`
	// NoDestination and Unroutable count the rows a republish leaves
	// alone: without a destination, or one the route cannot resolve.
	NoDestination int       `json:"no_destination,omitempty"`
	Unroutable    int       `json:"unroutable,omitempty"`
	Rate          float64   `json:"rate,omitempty"`
	Batch         int       `json:"batch"`
	Now           time.Time `json:"now"`
	// MessageIDHeader is the header a republished message carries its id
	// under.
	MessageIDHeader string   `json:"message_id_header,omitempty"`
	Problems        []string `json:"problems,omitempty"`
	Notes           []string `json:"notes,omitempty"`
}

// RetryPlanRow is one row a retry action changes, as the plan read it.
type RetryPlanRow struct {
	ID          string    `json:"id"`
	MessageID   string    `json:"message_id,omitempty"`
	Status      string    `json:"status"`
	Attempts    int       `json:"attempts"`
	MaxAttempts int       `json:"max_attempts"`
	NextRetryAt time.Time `json:"next_retry_at,omitzero"`
	LastError   string    `json:"last_error"`
	ErrorGroup  string    `json:"error_group"`
	Destination string    `json:"destination,omitempty"`
	// Target is where a republish publishes the row.
	Target    string    `json:"target,omitempty"`
	Dead      bool      `json:"dead"`
	CreatedAt time.Time `json:"created_at"`

	target backends.RouteTarget
}

// RetryPlanGroup counts the planned rows of one error group.
type RetryPlanGroup struct {
	Error string `json:"error"`
	Count int    `json:"count"`
}

// retryVerb words an operation for people.
func retryVerb(op string) string {
	switch op {
	case RetryOpNow:
		return "retry now"
	case RetryOpRepublish:
		return "republish"
	}
	return "give up"
}

// Summary is the plan in one line, for a confirmation and the audit log.
func (p *RetryPlan) Summary() string {
	s := fmt.Sprintf("%s %d retry row(s) of %d error group(s)", retryVerb(p.Op), p.Selected, len(p.Groups))
	switch p.Op {
	case RetryOpNow:
		s += " (due now for the application's job)"
	case RetryOpRepublish:
		s += " → " + cutLabel(p.Route) + " (marked done once the broker confirmed)"
	default:
		s += " (dead: the application's job no longer takes them)"
	}
	if n := p.NoDestination + p.Unroutable; n > 0 {
		s += fmt.Sprintf("; %d left alone (no destination, or unroutable)", n)
	}
	return s
}

// Audit is what the audit log keeps of the plan: the rows changed
// (selected), those matched and left alone (skipped), the rows matched
// (total), its problems, and as details the operation, the groups and the
// first ids.
func (p *RetryPlan) Audit() AuditPlan {
	if p == nil {
		return AuditPlan{}
	}
	a := AuditPlan{Summary: p.Summary(), Selected: int64(p.Selected), Skipped: int64(max(p.Matched-p.Selected, 0)), Total: int64(p.Matched), Problems: p.Problems}
	d := map[string]any{"op": p.Op, "store": p.Store, "more": p.More, "batch": p.Batch}
	if p.ErrorGroup != "" {
		d["error_group"] = cutLabel(p.ErrorGroup)
	}
	if p.Route != "" {
		d["route"], d["no_destination"], d["unroutable"] = p.Route, p.NoDestination, p.Unroutable
	}
	if p.Rate > 0 {
		d["rate"] = p.Rate
	}
	const shown = 20
	var groups []map[string]any
	for i, g := range p.Groups {
		if i == shown {
			break
		}
		groups = append(groups, map[string]any{"error": cutLabel(g.Error), "count": g.Count})
	}
	d["groups"] = groups
	var ids []string
	for i, r := range p.Rows {
		if i == shown {
			break
		}
		ids = append(ids, cutLabel(r.ID))
	}
	d["first_ids"] = ids
	a.Details = d
	return a
}

// RetryResult is how an action on retry rows ended.
type RetryResult struct {
	RunID string `json:"run_id"`
	Op    string `json:"op"`
	// Changed counts the rows made due now, given up, or republished (the
	// broker confirmed) and marked done.
	Changed int `json:"changed"`
	// Failed counts the rows a republish could not publish (the broker
	// did not confirm them): they are left as they were. Errors are the
	// first distinct errors.
	Failed int      `json:"failed"`
	Errors []string `json:"errors,omitempty"`
	// Skipped are rows of the plan left alone: SkippedChanged changed by
	// the application since the plan (status, attempts or next retry),
	// SkippedGone no longer waiting or dead (done, or deleted).
	Skipped        int `json:"skipped"`
	SkippedChanged int `json:"skipped_changed"`
	SkippedGone    int `json:"skipped_gone"`
	// Unmarked counts rows republished (the broker confirmed) that could
	// not be marked done: the row changed meanwhile, or the store failed.
	// Their message was published: the application may handle it twice.
	Unmarked int `json:"unmarked,omitempty"`
	// Left: rows of the plan not handled (the run stopped before them).
	Left           int     `json:"left"`
	StoppedBecause string  `json:"stopped_because"`
	Seconds        float64 `json:"seconds"`
	Rate           float64 `json:"rate"`
}

// Audit is what the audit log keeps of a run.
func (r *RetryResult) Audit() AuditResult {
	if r == nil {
		return AuditResult{}
	}
	a := AuditResult{Done: int64(r.Changed), Skipped: int64(r.Skipped), Failed: int64(r.Failed), Left: int64(r.Left), StoppedBecause: r.StoppedBecause,
		Seen: int64(r.Changed + r.Failed + r.Skipped + r.Unmarked)}
	d := map[string]any{"op": r.Op, "skipped_changed": r.SkippedChanged, "skipped_gone": r.SkippedGone}
	if len(r.Errors) > 0 {
		d["errors"] = r.Errors
	}
	if r.Unmarked > 0 {
		d["unmarked"] = r.Unmarked
	}
	a.Details = d
	return a
}

// RetryRows changes rows of the application's retry table — retry now,
// republish, give up — as an Action: run it through a Runner (Validate →
// Plan → the operator confirms → Execute), which audits each outcome.
// Publisher is the broker of Options.Route (a republish only).
type RetryRows struct {
	Store     backends.RetryStore
	Publisher backends.Publisher
	Options   RetryOptions
}

// Kind names the action in the audit log: retry-now, republish, give-up.
func (a *RetryRows) Kind() string {
	switch a.Options.Op {
	case RetryOpNow:
		return "retry-now"
	case RetryOpRepublish:
		return "republish"
	}
	return "give-up"
}

// Validate checks the options (no I/O).
func (a *RetryRows) Validate() error { return a.Options.Validate() }

// Describe: the retry table and what the rows become (the route, for a
// republish).
func (a *RetryRows) Describe() Subject {
	o := &a.Options
	s := Subject{Context: o.Context, RunID: o.RunID, Args: o.commandArgs(), Source: "retry"}
	if a.Store != nil {
		s.Source = "retry:" + backends.Redact(a.Store.Name())
	}
	switch o.Op {
	case RetryOpNow:
		s.Target = "due now"
	case RetryOpRepublish:
		s.Target = RouteText(o.Route)
	default:
		s.Target = "dead"
	}
	return s
}

// Plan reads the rows the action would change (without their payloads):
// those the selection matches that the operation changes. It changes
// nothing.
func (a *RetryRows) Plan(ctx context.Context) (Plan, error) {
	p, err := a.plan(ctx)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (a *RetryRows) plan(ctx context.Context) (*RetryPlan, error) {
	o := &a.Options
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if a.Store == nil {
		return nil, errors.New("no store: a retry action needs the application's database (store: in the context, or --store)")
	}
	if !a.Store.HasRetry() {
		return nil, refused(fmt.Errorf("the application database (%s) has no retry table", backends.Redact(a.Store.Name())))
	}
	if o.Op == RetryOpRepublish && !a.Store.CanRepublishRetries() {
		return nil, refused(errors.New("the retry table's rows carry no destination and payload (store.retry.columns destination, payload): they cannot be republished; retry them now for the application's job instead"))
	}
	q := backends.RetryQuery{IDs: o.IDs, ErrorGroup: o.ErrorGroup, Limit: o.Limit}
	if o.Op == RetryOpGiveUp {
		waiting := false
		q.Dead = &waiting // dead rows are given up already
	}
	page, err := a.Store.Retries(ctx, q)
	if err != nil {
		return nil, err
	}
	p := &RetryPlan{RunID: o.RunID, Op: o.Op, Store: backends.Redact(a.Store.Name()), ErrorGroup: o.ErrorGroup, Rows: []RetryPlanRow{}, Groups: []RetryPlanGroup{},
		Matched: page.Total, More: page.More, Rate: o.Rate, Batch: o.Batch, Now: page.Now}
	if o.Op == RetryOpRepublish {
		p.Route, p.MessageIDHeader = RouteText(o.Route), a.Store.MessageIDHeader()
	}
	var noDest []string
	unroutable := map[string]int{}
	var unroutableOrder []string
	groups := map[string]int{}
	for _, r := range page.Rows {
		row := RetryPlanRow{ID: r.ID, MessageID: r.MessageID, Status: r.Status, Attempts: r.Attempts, MaxAttempts: r.MaxAttempts, NextRetryAt: r.NextRetryAt,
			LastError: r.LastError, ErrorGroup: r.ErrorGroup, Destination: r.Destination, Dead: r.Dead, CreatedAt: r.CreatedAt}
		if o.Op == RetryOpRepublish {
			if r.Destination == "" {
				p.NoDestination++
				noDest = append(noDest, strconv.Quote(cutLabel(r.ID)))
				continue
			}
			t, err := o.Route.Resolve(r.Destination)
			if err != nil {
				p.Unroutable++
				msg := fmt.Sprintf("destination %q: %s", cutLabel(r.Destination), err)
				if unroutable[msg] == 0 {
					unroutableOrder = append(unroutableOrder, msg)
				}
				unroutable[msg]++
				continue
			}
			row.target, row.Target = t, t.String()
		}
		if _, ok := groups[r.ErrorGroup]; !ok {
			p.Groups = append(p.Groups, RetryPlanGroup{Error: r.ErrorGroup})
		}
		groups[r.ErrorGroup]++
		p.Rows = append(p.Rows, row)
	}
	p.Selected = len(p.Rows)
	for i := range p.Groups {
		p.Groups[i].Count = groups[p.Groups[i].Error]
	}
	sort.SliceStable(p.Groups, func(i, j int) bool { return p.Groups[i].Count > p.Groups[j].Count })
	if len(noDest) > 0 {
		p.Problems = append(p.Problems, fmt.Sprintf("%d row(s) carry no destination and cannot be republished (retry them now for the application's job instead): %s",
			len(noDest), strings.Join(firstOf(noDest, 10), ", ")))
	}
	for _, msg := range unroutableOrder {
		p.Problems = append(p.Problems, fmt.Sprintf("%s: its %d row(s) are not republished", msg, unroutable[msg]))
	}
	a.notes(p, page)
	return p, nil
}

// firstOf is the first n of list, and how many more.
func firstOf(list []string, n int) []string {
	if len(list) <= n {
		return list
	}
	return append(list[:n:n], fmt.Sprintf("and %d more", len(list)-n))
}

// notes adds what the operator should know about the plan's scope.
func (a *RetryRows) notes(p *RetryPlan, page *backends.RetryPage) {
	o := &a.Options
	if p.More {
		p.Notes = append(p.Notes, fmt.Sprintf("%d row(s) match; the plan holds the %d oldest (--limit, or the store's bound on one read): the run changes only those, run again for the others", p.Matched, len(page.Rows)))
	}
	if len(o.IDs) > 0 && len(page.Rows) < len(o.IDs) && !p.More {
		found := make(map[string]bool, len(page.Rows))
		for _, r := range page.Rows {
			found[r.ID] = true
		}
		missing := missingIDs(o.IDs, func(id string) bool { return found[id] })
		what := "waiting or dead rows"
		if o.Op == RetryOpGiveUp {
			what = "waiting rows (a dead row is given up already)"
		}
		if o.ErrorGroup != "" {
			what += " of that error group"
		}
		p.Notes = append(p.Notes, fmt.Sprintf("%d id(s) given are not %s: %s", len(missing), what, strings.Join(firstOf(missing, 10), ", ")))
	}
	if o.Op == RetryOpRepublish {
		noID := 0
		for _, r := range p.Rows {
			if r.MessageID == "" {
				noID++
			}
		}
		if noID > 0 {
			p.Notes = append(p.Notes, fmt.Sprintf("%d row(s) have no message id: they are republished without the %s header, and consumers cannot deduplicate them", noID, p.MessageIDHeader))
		}
	}
}

// Execute changes the rows of the plan the operator confirmed (nil: a
// plan made now), in batches: it reads each batch's rows again and leaves
// alone those the application changed since the plan (status, attempts,
// next retry), then makes the others due now, or gives them up, or
// republishes them — publishes each with the broker's confirms and marks
// done only those the broker confirmed, while they still have the
// attempts read; a row the broker did not confirm is left as it was, its
// error counted. Rate-limited, cancellable between and within batches
// (what the broker confirmed is still marked), reporting progress.
func (a *RetryRows) Execute(ctx context.Context, p Plan, progress func(Progress)) (Result, error) {
	o := &a.Options
	if err := o.Validate(); err != nil {
		return nil, err
	}
	var plan *RetryPlan
	if !isNil(p) {
		rp, ok := p.(*RetryPlan)
		if !ok {
			return nil, fmt.Errorf("a retry action cannot run the plan of another action (%T)", p)
		}
		plan = rp
	} else {
		var err error
		if plan, err = a.plan(ctx); err != nil {
			return nil, err
		}
	}
	if plan.RunID != o.RunID || plan.Op != o.Op {
		return nil, refused(fmt.Errorf("the plan is of run %s (%s), not of this one (run %s, %s)", plan.RunID, plan.Op, o.RunID, o.Op))
	}
	if o.Op == RetryOpRepublish && a.Publisher == nil {
		return nil, errors.New("no publisher: a republish needs the broker of the route (" + o.Route.Broker + ")")
	}
	r := &retryRun{a: a, plan: plan, lim: NewLimiter(o.Rate), progress: progress, begin: time.Now(), out: &RetryResult{RunID: o.RunID, Op: o.Op}}
	err := r.run(ctx)
	res := r.out
	res.Seconds = time.Since(r.begin).Seconds()
	if res.Seconds > 0 {
		res.Rate = float64(res.Changed) / res.Seconds
	}
	return res, err
}

// retryRun is one execution of a retry action.
type retryRun struct {
	a            *RetryRows
	plan         *RetryPlan
	lim          *Limiter
	progress     func(Progress)
	begin        time.Time
	out          *RetryResult
	done         int // rows of the plan handled
	failedInARow int
}

func (r *retryRun) run(ctx context.Context) error {
	rows := r.plan.Rows
	do := func(lo, hi int) error { return r.batch(ctx, rows[lo:hi]) }
	failed := func() (int, []string) { return r.failedInARow, r.out.Errors }
	why, err := runBatches(ctx, len(rows), r.a.Options.Batch, r.a.Options.Rate, do, func() {
		r.out.Left = len(rows) - r.done
		r.report()
	}, failed)
	r.out.StoppedBecause = why
	return err
}

func (r *retryRun) report() {
	if r.progress == nil {
		return
	}
	o := r.out
	r.progress(Progress{Done: o.Changed, Skipped: o.Skipped, Failed: o.Failed, Seen: r.done, Total: len(r.plan.Rows), Elapsed: time.Since(r.begin)})
}

func (r *retryRun) skip(kind *int, n int) {
	*kind += n
	r.out.Skipped += n
	r.done += n
}

// changedSince says whether the application changed a row since the plan
// read it: its status, attempts or next retry.
func changedSince(now *backends.RetryRow, planned *RetryPlanRow) bool {
	return now.Status != planned.Status || now.Attempts != planned.Attempts || !now.NextRetryAt.Equal(planned.NextRetryAt)
}

// batch handles rows of the plan: read again, the unchanged ones changed.
// An error of the store stops the run; a publish error is the row's.
func (r *retryRun) batch(ctx context.Context, rows []RetryPlanRow) error {
	st, op := r.a.Store, r.a.Options.Op
	ids := make([]string, len(rows))
	for i, row := range rows {
		ids[i] = row.ID
	}
	page, err := st.Retries(ctx, backends.RetryQuery{IDs: ids, Limit: len(ids), WithPayload: op == RetryOpRepublish})
	if err != nil {
		return fmt.Errorf("reading the rows again: %w", err)
	}
	fresh := make(map[string]*backends.RetryRow, len(page.Rows))
	for i := range page.Rows {
		fresh[page.Rows[i].ID] = &page.Rows[i]
	}
	var keep []backends.RetryRow
	targets := map[string]backends.RouteTarget{}
	for i := range rows {
		pr := &rows[i]
		f := fresh[pr.ID]
		switch {
		case f == nil:
			r.skip(&r.out.SkippedGone, 1)
		case changedSince(f, pr):
			r.skip(&r.out.SkippedChanged, 1)
		default:
			if err := r.lim.Wait(ctx); err != nil {
				return err
			}
			keep = append(keep, *f)
			targets[pr.ID] = pr.target
		}
	}
	if len(keep) == 0 {
		return nil
	}
	if op == RetryOpRepublish {
		return r.republish(ctx, keep, targets)
	}
	change, what := st.RetryNowRows, "making %d row(s) due now"
	if op == RetryOpGiveUp {
		change, what = st.GiveUpRows, "giving %d row(s) up"
	}
	n, err := change(ctx, keep)
	n = min(max(n, 0), len(keep))
	r.out.Changed += n
	r.done += n
	if err != nil {
		return fmt.Errorf(what+": %w", len(keep), err)
	}
	// a row the statement did not change was changed in between (its
	// attempts or its status)
	r.skip(&r.out.SkippedChanged, len(keep)-n)
	return nil
}

// republish publishes rows with the broker's confirms and marks done
// those it confirmed. What the broker confirmed is marked even when ctx
// was cancelled meanwhile (each call bounded by the store's timeout).
func (r *retryRun) republish(ctx context.Context, rows []backends.RetryRow, targets map[string]backends.RouteTarget) error {
	st := r.a.Store
	header := st.MessageIDHeader()
	msgs := make([]backends.OutgoingMessage, len(rows))
	for i := range rows {
		row := &rows[i]
		msgs[i] = outgoing(&backends.OutboxRow{ID: row.ID, MessageID: row.MessageID, Payload: row.Payload, Headers: row.Headers}, targets[row.ID], header)
	}
	results := r.a.Publisher.Publish(ctx, msgs)
	var confirmed []backends.RetryRow
	for i, row := range rows {
		perr := publishErr(results, i, row.ID)
		if perr == nil {
			confirmed = append(confirmed, row)
			continue
		}
		r.out.Failed++
		r.done++
		r.out.Errors = keepDistinctError(r.out.Errors, backends.Redact(perr.Error()))
	}
	if len(confirmed) == 0 {
		r.failedInARow++
		return nil
	}
	r.failedInARow = 0
	n, err := st.MarkRepublished(context.WithoutCancel(ctx), confirmed)
	n = min(max(n, 0), len(confirmed))
	r.out.Changed += n
	r.out.Unmarked += len(confirmed) - n
	r.done += len(confirmed)
	if err != nil {
		return fmt.Errorf("marking %d republished row(s) done: %w (their messages were published; the rows are left as they were)", len(confirmed), err)
	}
	return nil
}

// keepDistinctError adds msg to the first errors of a run unless one of
// its kind (the same text but for its numbers: a row's id) is there
// already, or maxResendErrors are.
func keepDistinctError(errs []string, msg string) []string {
	if len(errs) >= maxResendErrors {
		return errs
	}
	kind := digitsRE().ReplaceAllString(msg, "N")
	for _, e := range errs {
		if digitsRE().ReplaceAllString(e, "N") == kind {
			return errs
		}
	}
	return append(errs, msg)
}
