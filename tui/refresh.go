package tui

import (
	"context"
	"errors"
	"time"

	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

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

// refreshTickMsg asks for the scheduled refresh of generation gen; ticks of
// an older generation (superseded by a manual refresh or a reschedule) are
// ignored.
type refreshTickMsg struct{ gen uint64 }

type spinTickMsg struct{}

// refreshState is the refresh loop: at most one request in flight and a
// schedule (each source keeps its own outcome: loadState).
type refreshState struct {
	seq      uint64
	inFlight bool
	tag      reqTag
	cancel   context.CancelFunc
	tickGen  uint64
	// idle says no refresh is scheduled: the last one was for a view that
	// loads only on demand, or there was no source. The next view change
	// starts one.
	idle bool
	// started is when the request in flight started.
	started time.Time
}

// loadPacing: a paced source's next refresh waits at least this many
// times what its last load took, so that the console keeps the broker
// busy a small part of the time (RabbitMQ 3.10 spends about 1-2 s listing
// 5,500 queues with their rates, on more than one scheduler: on a 5 s
// period that was 39% of a core; 9x measured 4.5 to 11 points more than
// without the console, 15x keeps it under 10). maxPaced caps the wait.
const (
	loadPacing = 15
	maxPaced   = 5 * time.Minute
)

// paceAfter is the delay before a paced source's next refresh, the last
// load having taken took: the period d, or longer for a slow load.
func paceAfter(d, took time.Duration) time.Duration {
	return max(d, min(loadPacing*took, maxPaced))
}

// startRefresh starts the load of the top view unless one is in flight.
// The fetch runs in the returned command; it captures only its context,
// its source's values and its tag.
func (m *Model) startRefresh() tea.Cmd {
	if m.refresh.inFlight || m.quitting {
		return nil
	}
	s := m.sourceOf(m.top())
	if s == nil || s.fetch == nil {
		m.refresh.idle = true // nothing to load, or no source configured
		return nil
	}
	tag, ctx, cancel := m.beginRequest()
	return tea.Batch(fetchCmd(ctx, cancel, s.fetch, tag), m.startSpinner())
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
	m.refresh.started = m.now()
	m.refresh.tickGen++ // a scheduled tick is superseded by this call
	return tag, ctx, cancel
}

func fetchCmd(ctx context.Context, cancel context.CancelFunc, fetch fetchFunc, tag reqTag) tea.Cmd {
	return func() tea.Msg {
		defer cancel()
		apply, err := fetch(ctx)
		if err == nil && apply == nil {
			err = errors.New("nothing was loaded")
		}
		return loadedMsg{tag: tag, apply: apply, err: err}
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
	s := m.sourceOf(m.top())
	switch {
	case s == nil:
		return nil // loads nothing
	case s.fetch == nil:
		return m.setFlash(components.FlashWarn, s.unconfigured)
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

// handleLoaded installs the result of the request in flight for the view
// on screen, or records its failure; the next load is scheduled (periodic
// sources: the refresh period, or the backoff after failures) or waits
// for `r`.
func (m *Model) handleLoaded(msg loadedMsg) tea.Cmd {
	if !m.current(msg.tag) {
		return nil // stale: another view, another context or an older request
	}
	s := m.sourceOf(m.top())
	if s == nil {
		return nil
	}
	if m.refresh.cancel != nil {
		m.refresh.cancel()
		m.refresh.cancel = nil
	}
	m.refresh.inFlight = false
	st := s.state
	now := m.now()
	if msg.err != nil {
		st.failures++
		st.lastErr = msg.err
		if f, ok := m.top().(loadFailer); ok {
			f.loadFailed()
		}
		if !s.periodic {
			m.refresh.idle = true
			return m.setFlash(components.FlashError, "loading "+s.what+" failed (r retries): "+errText(msg.err))
		}
		d := m.backoffAfter(st.failures)
		st.nextAt = now.Add(d)
		text := "refresh failed (retrying in " + fmtDuration(d)
		if st.loaded {
			text += ", showing data of " + st.lastOK.Format("15:04:05")
		}
		text += "): " + errText(msg.err)
		return tea.Batch(m.setFlash(components.FlashError, text), m.schedule(d))
	}
	st.failures = 0
	st.lastErr = nil
	st.lastOK = now
	st.loaded = true
	n := msg.apply(m, now)
	var cmds []tea.Cmd
	if n.text != "" {
		cmds = append(cmds, m.setFlash(n.level, n.text))
	}
	if s.periodic {
		d := min(m.jitter(m.opts.Refresh), max(maxBackoff, m.opts.Refresh))
		if s.paced {
			d = paceAfter(d, now.Sub(m.refresh.started))
		}
		if st.followUp {
			d, st.followUp = 0, false
		}
		st.nextAt = now.Add(d)
		cmds = append(cmds, m.schedule(d))
	} else {
		m.refresh.idle = true
	}
	return tea.Batch(cmds...)
}

// backoffAfter is the delay before the next try after failures
// consecutive failures: Refresh, 2×, 4×, … capped at 60 s (or at Refresh
// when that is longer), with jitter.
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
