package tui

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/lag"
	"github.com/mqops/mqops/tui/components"
	"github.com/mqops/mqops/tui/keys"
	"github.com/mqops/mqops/tui/styles"
)

// pendingView is :pending: the rows of the application's sending table
// (outbox) still pending after its pending-after, per destination (upper
// pane: how many, the oldest's age and, beside it, the backlog where the
// destination is published), and the rows of the destination selected
// (lower pane: oldest first, with their age, attempts, key, message id and
// last error). tab moves the focus between the panes; space marks rows,
// which E resends; enter on a row traces its message.
//
// One refresh is one read of the database (Pending: the destinations'
// counts over every matching row, and at most pendingRowsShown rows), on
// the refresh schedule, never two at once. The backlog beside comes from
// what the console reads anyway: the Kafka cluster snapshot the Kafka
// views share (taken in the same request when the one at hand is older
// than the refresh period: one snapshot a period, as the Kafka views take,
// whichever view is on top), or the RabbitMQ queues (one list a refresh,
// as :queues reads it; the queues a named exchange reaches are looked up
// from its bindings at most once a minute).
type pendingView struct {
	scopedPanes // destinations, and the rows of the one selected
	st          loadState
	dests, rows *components.Table // the panes' tables
	sum         components.Summary
	byID        map[string]backends.OutboxRow // the rows listed
	routes      map[backends.RouteTarget]routeLookup
	loaded      bool
}

// Bounds of :pending.
const (
	// pendingRowsShown bounds the rows one refresh reads (the oldest);
	// the destinations' counts are over every pending row.
	pendingRowsShown = 1000
	// routeTTL is how long the queues a named exchange reaches are kept
	// before they are looked up again; maxRouteLookups bounds the lookups
	// of one refresh.
	routeTTL        = time.Minute
	maxRouteLookups = 20
)

const (
	pdDest = iota
	pdPending
	pdOldest
	pdTarget
	pdLag
	pdBeside
)

const (
	prAge = iota
	prAttempts
	prKey
	prMessageID
	prError
	prStatus
	prID
)

func newPendingView() *pendingView {
	dests := components.NewTable([]components.Column{
		pdDest:    {Title: "DESTINATION", Flex: true, Name: true, Min: 12},
		pdPending: {Title: "PENDING", Right: true, Num: true, Desc: true},
		pdOldest:  {Title: "OLDEST", Right: true, Num: true, Desc: true},
		pdTarget:  {Title: "PUBLISHED TO", Flex: true, Min: 8, Max: 40, Shrink: 2, Drop: 3},
		pdLag:     {Title: "LAG THERE", Right: true, Num: true, Desc: true},
		pdBeside:  {Title: "BACKLOG", Flex: true, Min: 10, Shrink: 1, Drop: 2},
	}, pdOldest, true)
	dests.Empty = "no pending sends"
	rows := components.NewTable([]components.Column{
		prAge:       {Title: "AGE", Right: true, Num: true, Desc: true},
		prAttempts:  {Title: "ATTEMPTS", Right: true, Num: true, Desc: true},
		prKey:       {Title: "KEY", Flex: true, Min: 6, Max: 32, Shrink: 3, Drop: 4},
		prMessageID: {Title: "MESSAGE ID", Flex: true, Name: true, Min: 10},
		prError:     {Title: "LAST ERROR", Flex: true, Min: 10, Shrink: 1},
		prStatus:    {Title: "STATUS", Flex: true, Min: 6, Max: 16, Shrink: 2, Drop: 6},
		prID:        {Title: "ID", Flex: true, Min: 4, Max: 24, Shrink: 4, Drop: 5},
	}, prAge, true)
	rows.Empty = "no pending rows listed for this destination"
	rows.SetScope("")
	return &pendingView{scopedPanes: scopedPanes{upper: dests, lower: rows}, dests: dests, rows: rows,
		byID: map[string]backends.OutboxRow{}, routes: map[backends.RouteTarget]routeLookup{}}
}

func (v *pendingView) id() string    { return "pending" }
func (v *pendingView) crumb() string { return "pending sends" }

func (v *pendingView) noun() string {
	if v.onLower {
		return "pending rows"
	}
	return "destinations"
}

func (v *pendingView) summary(width int) []string { return v.sum.Wrap(width) }

// selectedDest is the destination the lower pane shows.
func (v *pendingView) selectedDest() (string, bool) {
	r, ok := v.dests.Selected()
	if !ok {
		return "", false
	}
	return r.Ref, true
}

// layout scopes the lower pane to the destination selected.
func (v *pendingView) layout(width, height int) {
	dest, ok := v.selectedDest()
	v.rows.SetScope(dest)
	switch n := v.rows.InScope(); {
	case !ok:
		v.lowerTop = "PENDING ROWS"
	case n > 0:
		v.lowerTop = "PENDING ROWS OF " + components.Clip(safe(dest), max(width-30, 20)) + " · " + fmtInt(int64(n)) + " listed"
	default:
		v.lowerTop = "PENDING ROWS OF " + components.Clip(safe(dest), max(width-30, 20))
	}
	v.size(width, height)
}

// keys: in the destinations, enter goes to their rows and E resends the
// destination's; in the rows, enter traces the row's message, space marks
// rows and E resends the marked (or the selected) rows.
func (v *pendingView) keys(k *keys.Map) []keys.Binding {
	pane := k.Pane.With("switch pane: destinations / their pending rows", "rows")
	if !v.onLower {
		return []keys.Binding{
			k.Open.With("the pending rows of the destination", "rows"), pane,
			k.Resend.With("resend the destination's pending rows (plan first)", "resend"),
		}
	}
	resend := k.Resend.With("resend the selected row (plan first)", "resend row")
	if n := v.rows.MarkedCount(); n > 0 {
		resend = k.Resend.With("resend the marked rows (plan first)", "resend "+fmtInt(int64(n))+" marked")
	}
	own := []keys.Binding{k.Open.With("where the row's message is now: table, topic or queue, dead letters, consumed", "trace"),
		pane.With("", "destinations"), resend}
	if k.Resend.Bound() { // marks feed the resend only
		own = append(own, k.Mark.With("mark / unmark the row (E resends the marked)", "mark"))
	}
	return own
}

// open: enter on a destination focuses its rows; on a row it traces the
// row's message.
func (v *pendingView) open() (view, bool) {
	if !v.onLower {
		v.focusLower()
		return nil, false
	}
	row, ok := v.selectedRow()
	if !ok {
		return nil, false
	}
	return newTraceView(traceOfOutbox(row), "outbox/"+row.ID), true
}

// selectedRow is the row selected in the lower pane.
func (v *pendingView) selectedRow() (backends.OutboxRow, bool) {
	r, ok := v.rows.Selected()
	if !ok {
		return backends.OutboxRow{}, false
	}
	row, ok := v.byID[r.ID]
	return row, ok
}

// routeLookup is what a RabbitMQ route reaches, looked up at some time.
type routeLookup struct {
	queues      []string
	predictable bool
	err         error
	at          time.Time
}

// routeFinder looks up which queues a RabbitMQ publish reaches (the
// management API's bindings); *rabbitmq.Client has it.
type routeFinder interface {
	Routes(ctx context.Context, vhost, exchange, routingKey string) ([]string, bool, error)
}

// pendingRead is what one refresh of :pending read.
type pendingRead struct {
	page *backends.OutboxPage
	// name, preset and pendingAfter describe the database.
	name, preset string
	pendingAfter time.Duration
	// snap is the cluster snapshot taken with the rows (tookSnap), or
	// why it failed.
	tookSnap bool
	snap     applyFunc // the snapshot with its analysis and index, ready to install
	snapErr  error
	// queues are RabbitMQ's (readQueues), or why they could not be read;
	// routes the routes looked up now.
	readQueues bool
	queues     []backends.Queue
	queuesErr  error
	routes     map[backends.RouteTarget]routeLookup
}

// pendingBeside is what a refresh reads beside the rows, decided in
// Update from the state at hand (values only).
type pendingBeside struct {
	route backends.Route
	kafka backends.KafkaSource // the snapshot is due: take it
	// tracker observes the snapshot taken, in the fetch (data.go's
	// snapTracker): its analysis comes to Update with it
	tracker *snapTracker
	rabbit  RabbitSource // the route is RabbitMQ's: read the queues
	finder  routeFinder  // and look up what named exchanges reach
	known   map[backends.RouteTarget]routeLookup
	now     time.Time
}

// source: the pending rows of the database, refreshed on the schedule,
// with the backlog beside them.
func (v *pendingView) source(m *Model) source {
	return m.storeViewSource("pending sends", &v.st, func(c *storeConn) fetchFunc {
		b := pendingBeside{route: m.opts.StoreRoute, now: m.now(), known: make(map[backends.RouteTarget]routeLookup, len(v.routes))}
		switch b.route.Broker {
		case "kafka":
			if m.opts.Kafka != nil && (!m.snap.loaded || m.now().Sub(m.snap.lastOK) >= m.opts.Refresh*9/10) {
				b.kafka, b.tracker = m.opts.Kafka, m.tracker
			}
		case "rabbitmq":
			if m.opts.Rabbit != nil {
				b.rabbit = m.opts.Rabbit
				b.finder, _ = m.opts.Rabbit.(routeFinder)
			}
		}
		for t, l := range v.routes {
			if l.err == nil && b.now.Sub(l.at) < routeTTL {
				b.known[t] = l
			}
		}
		return func(ctx context.Context) (applyFunc, error) {
			r, err := b.read(ctx, c)
			if err != nil {
				return nil, err
			}
			return func(m *Model, now time.Time) notice { return v.apply(m, r, now) }, nil
		}
	})
}

// read reads the pending rows and, at the same time, what is beside them.
func (b pendingBeside) read(ctx context.Context, c *storeConn) (*pendingRead, error) {
	st, err := c.get(ctx)
	if err != nil {
		return nil, err
	}
	if !st.HasOutbox() {
		return nil, fmt.Errorf("the application database (%s, preset %s) has no sending table: nothing is pending there", st.Name(), st.Preset())
	}
	r := &pendingRead{name: st.Name(), preset: st.Preset(), pendingAfter: st.PendingAfter(), routes: map[backends.RouteTarget]routeLookup{}}
	sub, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if b.kafka != nil {
		r.tookSnap = true
		wg.Go(func() {
			snap, err := b.kafka.Snapshot(sub, backends.SnapshotOptions{})
			if err == nil && snap == nil {
				err = errors.New("the cluster returned an empty snapshot")
			}
			var an *lag.Analysis
			if err == nil {
				an, err = b.tracker.observe(sub, snap)
			}
			if err == nil {
				r.snap = applySnapshot(snap, an)
			}
			r.snapErr = err
		})
	}
	if b.rabbit != nil {
		r.readQueues = true
		wg.Go(func() { r.queues, r.queuesErr = b.rabbit.Queues(sub) })
	}
	page, err := st.Pending(ctx, backends.OutboxQuery{Limit: pendingRowsShown})
	if err == nil && page == nil {
		err = errors.New("the database returned nothing")
	}
	if err != nil {
		cancel()
		wg.Wait()
		return nil, err
	}
	r.page = page
	if b.finder != nil {
		b.lookUpRoutes(ctx, page.Destinations, r.routes)
	}
	wg.Wait()
	return r, nil
}

// lookUpRoutes finds what the named exchanges of the destinations' targets
// reach, but for those known (at most maxRouteLookups a refresh; after a
// failure, none more).
func (b pendingBeside) lookUpRoutes(ctx context.Context, dests []backends.PendingByTarget, out map[backends.RouteTarget]routeLookup) {
	n := 0
	for _, d := range dests {
		t, err := b.route.Resolve(d.Destination)
		if err != nil || t.Exchange == "" {
			continue // the default exchange: the queue the routing key names
		}
		if _, ok := b.known[t]; ok {
			continue
		}
		if _, ok := out[t]; ok {
			continue
		}
		if n == maxRouteLookups {
			return
		}
		n++
		qs, pred, err := b.finder.Routes(ctx, vhostOr(t.Vhost), t.Exchange, t.RoutingKey)
		out[t] = routeLookup{queues: qs, predictable: pred, err: err, at: b.now}
		if err != nil {
			return
		}
	}
}

func vhostOr(v string) string {
	if v == "" {
		return "/"
	}
	return v
}

// apply installs a refresh: the snapshot taken with it into the Kafka
// views' shared dataset, then the destinations with their backlog and
// the rows.
func (v *pendingView) apply(m *Model, r *pendingRead, now time.Time) notice {
	if r.tookSnap {
		if r.snapErr == nil {
			r.snap(m, now)
			m.snap.loaded, m.snap.lastOK, m.snap.lastErr, m.snap.failures = true, now, nil, 0
		} else {
			m.snap.lastErr = r.snapErr
		}
	}
	for t, l := range r.routes {
		v.routes[t] = l
	}
	for t, l := range v.routes {
		if now.Sub(l.at) >= 2*routeTTL {
			delete(v.routes, t)
		}
	}
	v.loaded = true
	page := r.page
	beside := m.besideOf(r, v.routes, page.Destinations)
	dests := make([]components.Row, 0, len(page.Destinations))
	for _, d := range page.Destinations {
		dests = append(dests, pendingDestRow(d, page.Now, beside[d.Destination]))
	}
	v.dests.SetRows(dests)
	rows := make([]components.Row, 0, len(page.Rows))
	v.byID = make(map[string]backends.OutboxRow, len(page.Rows))
	for _, row := range page.Rows {
		v.byID[row.ID] = row
		rows = append(rows, pendingRow(&row, page.Now))
	}
	v.rows.SetRows(rows)
	v.sum = m.pendingSummary(r)
	return notice{}
}

// pendingSummary: the database, the counts, the route and where the
// backlog beside comes from.
func (m *Model) pendingSummary(r *pendingRead) components.Summary {
	p := r.page
	dim := m.st.Dim.Render
	older := fmtDuration(r.pendingAfter)
	parts := []string{
		dim("database ") + safe(backends.Redact(r.name)) + dim(" ("+safe(r.preset)+")"),
		dim("pending after ") + older,
		fmt.Sprintf("%s %s %s", fmtInt(int64(p.Total)), dim("pending rows in"), fmtInt(int64(len(p.Destinations)))) + dim(" destination(s)"),
	}
	if len(p.Destinations) > 0 {
		oldest := p.Destinations[0].Oldest
		for _, d := range p.Destinations {
			if d.Oldest.Before(oldest) {
				oldest = d.Oldest
			}
		}
		parts = append(parts, dim("oldest ")+fmtDuration(p.Now.Sub(oldest)))
	}
	route := m.opts.StoreRoute
	if t, err := route.Resolve("{destination}"); err == nil {
		parts = append(parts, dim("published to ")+safe(t.String()))
	}
	if route.Broker == "kafka" && m.snap.loaded {
		parts = append(parts, dim("lag of the snapshot of ")+m.snap.lastOK.Format("15:04:05"))
	}
	var extra []string
	if p.More {
		extra = append(extra, m.st.FlashWarn.Render(fmt.Sprintf("the %s oldest of %s pending rows are listed (one read is bounded); the counts are over all",
			fmtInt(int64(len(p.Rows))), fmtInt(int64(p.Total)))))
	}
	if _, err := route.Resolve("x"); err != nil {
		extra = append(extra, m.st.FlashWarn.Render("no backlog beside the destinations: "+errText(err)))
	}
	return components.Summary{Parts: parts, Extra: extra}
}

// besideCell is a destination's backlog where it is published.
type besideCell struct {
	target string
	lag    float64 // NaN: not known
	text   string  // the LAG THERE cell
	detail string
	style  styles.CellStyle
}

func unknownBeside(target, text, detail string, style styles.CellStyle) besideCell {
	return besideCell{target: target, lag: math.NaN(), text: text, detail: detail, style: style}
}

// besideOf is each destination's backlog: the consumer lag of its Kafka
// topic in the shared snapshot, or the depth of the RabbitMQ queues its
// exchange and routing key reach.
func (m *Model) besideOf(r *pendingRead, routes map[backends.RouteTarget]routeLookup, dests []backends.PendingByTarget) map[string]besideCell {
	out := make(map[string]besideCell, len(dests))
	route := m.opts.StoreRoute
	targets := make(map[string]backends.RouteTarget, len(dests))
	var topics []string
	for _, d := range dests {
		t, err := route.Resolve(d.Destination)
		if err != nil {
			out[d.Destination] = unknownBeside("-", "-", errText(err), styles.CellWarn)
			continue
		}
		targets[d.Destination] = t
		topics = append(topics, t.Topic)
	}
	switch route.Broker {
	case "kafka":
		m.kafkaBeside(r, targets, topics, out)
	case "rabbitmq":
		m.rabbitBeside(r, routes, targets, out)
	}
	return out
}

func (m *Model) kafkaBeside(r *pendingRead, targets map[string]backends.RouteTarget, topics []string, out map[string]besideCell) {
	snap := m.data.snap
	var lags map[string]*lag.TopicLag
	if snap != nil {
		lags = lag.TopicLags(snap, topics...)
	}
	for d, t := range targets {
		target := safe(t.String())
		switch {
		case m.opts.Kafka == nil:
			out[d] = unknownBeside(target, "-", "no Kafka configured", styles.CellDim)
		case snap == nil && r.snapErr != nil:
			out[d] = unknownBeside(target, "?", "cluster snapshot failed: "+errText(r.snapErr), styles.CellError)
		case snap == nil:
			out[d] = unknownBeside(target, "…", "waiting for the cluster snapshot", styles.CellDim)
		default:
			if _, ok := snap.Topic(t.Topic); !ok {
				out[d] = unknownBeside(target, "-", "no such topic in the cluster", styles.CellWarn)
				continue
			}
			tl := lags[t.Topic]
			switch {
			case tl == nil:
				out[d] = unknownBeside(target, "-", "no consumer group on the topic", styles.CellWarn)
			case tl.Messages == nil:
				out[d] = unknownBeside(target, "-", "consumers assigned, nothing committed yet", styles.CellDim)
			default:
				style := styles.CellOK
				if *tl.Messages > 0 {
					style = styles.CellWarn
				}
				detail := "worst group " + safe(tl.WorstGroup)
				if tl.Groups > 1 {
					detail += " of " + strconv.Itoa(tl.Groups)
				}
				out[d] = besideCell{target: target, lag: float64(*tl.Messages), text: fmtInt(*tl.Messages), detail: detail, style: style}
			}
		}
	}
}

func (m *Model) rabbitBeside(r *pendingRead, routes map[backends.RouteTarget]routeLookup, targets map[string]backends.RouteTarget, out map[string]besideCell) {
	queues := make(map[string]*backends.Queue, len(r.queues))
	for i := range r.queues {
		q := &r.queues[i]
		queues[queueKey(q.Vhost, q.Name)] = q
	}
	for d, t := range targets {
		target := safe(t.String())
		var names []string
		predictable := true
		switch {
		case m.opts.Rabbit == nil:
			out[d] = unknownBeside(target, "-", "no RabbitMQ configured", styles.CellDim)
			continue
		case r.queuesErr != nil:
			out[d] = unknownBeside(target, "?", "queues: "+errText(r.queuesErr), styles.CellError)
			continue
		case t.Exchange == "":
			names = []string{t.RoutingKey}
		default:
			l, ok := routes[t]
			switch {
			case !ok:
				out[d] = unknownBeside(target, "…", "the exchange's bindings are not read yet", styles.CellDim)
				continue
			case l.err != nil:
				out[d] = unknownBeside(target, "?", "bindings: "+errText(l.err), styles.CellError)
				continue
			}
			names, predictable = l.queues, l.predictable
		}
		var total int64
		var shown []string
		found := 0
		for _, n := range names {
			q, ok := queues[queueKey(vhostOr(t.Vhost), n)]
			if !ok {
				continue
			}
			depth, _ := q.Depth()
			total += depth
			found++
			if len(shown) < 3 {
				shown = append(shown, safe(n)+" "+fmtInt(depth))
			}
		}
		if found == 0 {
			why := "reaches no queue (unroutable)"
			if t.Exchange == "" {
				why = "no queue named " + safe(t.RoutingKey)
			}
			out[d] = unknownBeside(target, "-", why, styles.CellError)
			continue
		}
		detail := strings.Join(shown, ", ")
		if found > len(shown) {
			detail += fmt.Sprintf(" +%d queue(s)", found-len(shown))
		}
		if !predictable {
			detail += " (routed by content: not all known)"
		}
		style := styles.CellOK
		if total > 0 {
			style = styles.CellWarn
		}
		out[d] = besideCell{target: target, lag: float64(total), text: fmtInt(total), detail: detail, style: style}
	}
}

// pendingDestRow is one destination.
func pendingDestRow(d backends.PendingByTarget, now time.Time, b besideCell) components.Row {
	age := now.Sub(d.Oldest)
	if b.target == "" {
		b = unknownBeside("-", "-", "", styles.CellDim)
	}
	return components.Row{
		ID: d.Destination, Ref: d.Destination,
		Cells: []string{
			pdDest:    safe(orDash(d.Destination)),
			pdPending: fmtInt(int64(d.Pending)),
			pdOldest:  fmtDuration(age),
			pdTarget:  b.target,
			pdLag:     b.text,
			pdBeside:  b.detail,
		},
		Styles: []styles.CellStyle{pdOldest: styles.CellWarn, pdTarget: styles.CellDim, pdLag: b.style, pdBeside: styles.CellDim},
		Nums:   []float64{pdPending: float64(d.Pending), pdOldest: float64(age), pdLag: b.lag},
	}
}

// pendingRow is one pending row.
func pendingRow(r *backends.OutboxRow, now time.Time) components.Row {
	age := r.Age(now)
	errStyle := styles.CellDim
	if r.LastError != "" {
		errStyle = styles.CellError
	}
	return components.Row{
		ID: r.ID, Ref: r.ID, Group: r.Destination,
		Cells: []string{
			prAge:       fmtDuration(age),
			prAttempts:  strconv.Itoa(r.Attempts),
			prKey:       safe(orDash(r.Key)),
			prMessageID: safe(orDash(r.MessageID)),
			prError:     safe(orDash(r.LastError)),
			prStatus:    safe(r.Status),
			prID:        safe(r.ID),
		},
		Styles: []styles.CellStyle{prError: errStyle, prStatus: styles.CellDim, prID: styles.CellDim},
		Nums:   []float64{prAge: float64(age), prAttempts: float64(r.Attempts)},
	}
}
