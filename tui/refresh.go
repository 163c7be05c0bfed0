package tui

import (
	"context"
	"errors"
	"time"

	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/tui/components"
)

// reqTag names the request a result answers: the view that asked, the
// request's sequence number and the context. A result whose tag is not the
// request in flight is stale and dropped.
type reqTag struct {
	view    string
	seq     uint64
	context string
}

// snapshotMsg carries the result of one snapshot call.
type snapshotMsg struct {
	tag  reqTag
	snap *backends.ClusterSnapshot
	err  error
}

// refreshTickMsg asks for the scheduled refresh of generation gen; ticks of
// an older generation (superseded by a manual refresh or a reschedule) are
// ignored.
type refreshTickMsg struct{ gen uint64 }

type spinTickMsg struct{}

// refreshState is the refresh loop: at most one request in flight, a
// schedule, and the failure count that drives the backoff.
type refreshState struct {
	seq      uint64
	inFlight bool
	tag      reqTag
	cancel   context.CancelFunc
	tickGen  uint64
	failures int
	lastErr  error     // the last failure; nil after a success
	lastOK   time.Time // when the last good snapshot arrived
	nextAt   time.Time // when the next refresh is due
	// idle says no refresh is scheduled: the last one was for a view that
	// loads only on demand, or there was no source. The next view change
	// starts one.
	idle bool
}

// startRefresh starts a snapshot call for the top view unless one is in
// flight. The call runs in the returned command, with its own timeout; it
// captures only its context, the source and its tag.
func (m *Model) startRefresh() tea.Cmd {
	if m.refresh.inFlight || m.quitting {
		return nil
	}
	if rv, ok := m.top().(rabbitView); ok {
		return m.startRabbit(rv)
	}
	if m.opts.Kafka == nil {
		m.refresh.idle = true
		return nil
	}
	// No deadline on the snapshot: the Kafka client bounds each request by
	// the timeout and fails at once on a broker that stops answering, so a
	// big cluster that keeps answering is read whole (the spinner turns).
	tag, ctx, cancel := m.beginRequest()
	return tea.Batch(snapshotCmd(ctx, cancel, m.opts.Kafka, tag), m.startSpinner())
}

// beginRequest records a new request for the top view as the one in
// flight. The request has no deadline of its own: every call the backends
// make is bounded by the timeout (a broker that stops answering fails the
// load within it; a big one that keeps answering is read whole, however
// many calls that takes). Its context ends when the request is superseded,
// the view changes or the console quits.
func (m *Model) beginRequest() (reqTag, context.Context, context.CancelFunc) {
	m.refresh.seq++
	tag := reqTag{view: m.top().id(), seq: m.refresh.seq, context: m.opts.Context}
	ctx, cancel := context.WithCancel(m.ctx)
	m.refresh.inFlight = true
	m.refresh.idle = false
	m.refresh.tag = tag
	m.refresh.cancel = cancel
	m.refresh.tickGen++ // a scheduled tick is superseded by this call
	return tag, ctx, cancel
}

func snapshotCmd(ctx context.Context, cancel context.CancelFunc, src backends.KafkaSource, tag reqTag) tea.Cmd {
	return func() tea.Msg {
		defer cancel()
		snap, err := src.Snapshot(ctx, backends.SnapshotOptions{})
		if err == nil && snap == nil {
			err = errors.New("the cluster returned an empty snapshot")
		}
		return snapshotMsg{tag: tag, snap: snap, err: err}
	}
}

// cancelRefresh abandons the call in flight; its result will be stale.
func (m *Model) cancelRefresh() {
	if m.refresh.cancel != nil {
		m.refresh.cancel()
		m.refresh.cancel = nil
	}
	m.refresh.inFlight = false
	m.refresh.tag = reqTag{}
}

// refreshNow is the `r` key.
func (m *Model) refreshNow() tea.Cmd {
	rv, onRabbit := m.top().(rabbitView)
	switch {
	case onRabbit && !m.sourceConfigured(rv):
		return m.setFlash(components.FlashWarn, m.unconfiguredText(rv))
	case !onRabbit && m.opts.Kafka == nil:
		return m.setFlash(components.FlashWarn, "no Kafka cluster is configured for this context")
	case m.refresh.inFlight:
		return m.setFlash(components.FlashInfo, "a refresh is already in progress")
	}
	return m.startRefresh()
}

// current reports whether a result answers the request in flight for the
// view on screen in the current context.
func (m *Model) current(tag reqTag) bool {
	return m.refresh.inFlight && tag == m.refresh.tag &&
		tag.view == m.top().id() && tag.context == m.opts.Context
}

func (m *Model) handleSnapshot(msg snapshotMsg) tea.Cmd {
	if !m.current(msg.tag) {
		return nil // stale: another view, another context or an older request
	}
	if m.refresh.cancel != nil {
		m.refresh.cancel()
		m.refresh.cancel = nil
	}
	m.refresh.inFlight = false
	now := m.now()
	if msg.err != nil {
		m.refresh.failures++
		m.refresh.lastErr = msg.err
		d := m.backoff()
		m.refresh.nextAt = now.Add(d)
		text := "refresh failed (retrying in " + fmtDuration(d)
		if m.data.snap != nil {
			text += ", showing data of " + m.refresh.lastOK.Format("15:04:05")
		}
		text += "): " + errText(msg.err)
		return tea.Batch(m.setFlash(components.FlashError, text), m.schedule(d))
	}
	m.refresh.failures = 0
	m.refresh.lastErr = nil
	m.refresh.lastOK = now
	m.data = dataset{gen: m.data.gen + 1, snap: msg.snap, analysis: m.tracker.Observe(msg.snap)}
	m.top().build(&m.data, &m.st)
	d := min(m.jitter(m.opts.Refresh), max(maxBackoff, m.opts.Refresh))
	m.refresh.nextAt = now.Add(d)
	return m.schedule(d)
}

// backoff is the delay before the next try after m.refresh.failures
// consecutive failures: Refresh, 2×, 4×, … capped at 60 s (or at Refresh
// when that is longer), with jitter.
func (m *Model) backoff() time.Duration { return m.backoffAfter(m.refresh.failures) }

// backoffAfter is the delay before the next try after failures consecutive
// failures.
func (m *Model) backoffAfter(failures int) time.Duration {
	limit := max(maxBackoff, m.opts.Refresh)
	d := m.opts.Refresh
	for i := 1; i < failures && d < limit; i++ {
		d *= 2
	}
	return min(m.jitter(min(d, limit)), limit)
}

func (m *Model) schedule(d time.Duration) tea.Cmd {
	m.refresh.idle = false
	m.refresh.tickGen++
	return m.after(d, refreshTickMsg{gen: m.refresh.tickGen})
}

// startSpinner starts the spinner's tick loop unless it runs already; the
// loop stops by itself once no refresh is in flight.
func (m *Model) startSpinner() tea.Cmd {
	if m.spinning {
		return nil
	}
	m.spinning = true
	return m.after(m.spinner.Spinner.FPS, spinTickMsg{})
}

func (m *Model) spin() tea.Cmd {
	if !m.refresh.inFlight {
		m.spinning = false
		return nil
	}
	// Advance the bubbles spinner by hand: its own tick command would run a
	// second timer loop next to ours.
	m.spinner, _ = m.spinner.Update(spinner.TickMsg{ID: m.spinner.ID(), Time: m.now()})
	return m.after(m.spinner.Spinner.FPS, spinTickMsg{})
}
