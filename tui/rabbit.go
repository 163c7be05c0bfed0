package tui

import (
	"context"
	"errors"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/tui/components"
	"github.com/mqops/mqops/tui/styles"
)

// RabbitSource is what the console needs from a RabbitMQ broker;
// *rabbitmq.Client satisfies it.
type RabbitSource interface {
	Queues(ctx context.Context) ([]backends.Queue, error)
	QueueDetail(ctx context.Context, vhost, name string) (*backends.QueueDetail, error)
	// PeekQueue reads messages and leaves the queue as it was; a queue
	// that a peek would change is refused (*backends.PeekRiskError) unless
	// the operator accepted the cost (AcceptRisk).
	PeekQueue(ctx context.Context, vhost, queue string, o backends.PeekOptions) (*backends.PeekResult, error)
	// DeadLetters samples a dead-letter queue, never one that a peek
	// would change (NotSampled says why).
	DeadLetters(ctx context.Context, vhost, queue string, sample int) (*backends.DeadLetterSummary, error)
	Name() string
}

// noRabbitText is what the RabbitMQ views say when no broker is configured.
const noRabbitText = "no RabbitMQ configured: set rabbitmq.url/management-url in the context or pass --rabbitmq-url and --management-url"

// rabbitView is a view that loads its own data from RabbitMQ instead of
// being built from the Kafka snapshot. It goes through the same refresh
// machinery: one request in flight, tagged results, stale marking, backoff.
type rabbitView interface {
	view
	// rabbit is the view's load state.
	rabbit() *rabbitState
	// load returns the call that fetches the view's data. It captures
	// values, never the view.
	load(src RabbitSource) func(ctx context.Context) (any, error)
	// apply installs a successful result and returns a notice to flash.
	apply(res any, now time.Time, st *styles.Styles) notice
	// periodic views refresh on the schedule; the others (the ones that
	// read messages) load when opened and on `r`.
	periodic() bool
	// what names the data in messages: "queues", "dead letters of x".
	what() string
}

// notice is a flash a view asks for; empty text is none.
type notice struct {
	level components.FlashLevel
	text  string
}

// rabbitState is a RabbitMQ view's own refresh record: its data stays on
// screen after a failure, marked stale.
type rabbitState struct {
	loaded   bool
	failures int
	lastErr  error
	lastOK   time.Time
	nextAt   time.Time
}

// rabbitMsg carries the result of one RabbitMQ call.
type rabbitMsg struct {
	tag reqTag
	res any
	err error
}

// loadFailer is a view that wants to know its load failed (to undo a page
// turn).
type loadFailer interface{ loadFailed() }

// peeker is a view from which `p` opens a peek view.
type peeker interface{ peek() (view, bool) }

// pager is a view with pages (`]` and `[`): turn returns false and a notice
// when there is no page that way.
type pager interface{ turn(dir int) (bool, notice) }

func rabbitCmd(ctx context.Context, cancel context.CancelFunc, call func(context.Context) (any, error), tag reqTag) tea.Cmd {
	return func() tea.Msg {
		defer cancel()
		res, err := call(ctx)
		if err == nil && res == nil {
			err = errors.New("the broker returned nothing")
		}
		return rabbitMsg{tag: tag, res: res, err: err}
	}
}

// startRabbit starts the load of a view that loads its own data (the
// RabbitMQ views, the dead-letter views of both brokers).
func (m *Model) startRabbit(rv rabbitView) tea.Cmd {
	call := m.loader(rv) // nil: no source configured (kafka_dlq.go)
	if call == nil {
		m.refresh.idle = true
		return nil
	}
	tag, ctx, cancel := m.beginRequest()
	return tea.Batch(rabbitCmd(ctx, cancel, call, tag), m.startSpinner())
}

func (m *Model) handleRabbit(msg rabbitMsg) tea.Cmd {
	if !m.current(msg.tag) {
		return nil // stale: another view, another context or an older request
	}
	rv, ok := m.top().(rabbitView)
	if !ok {
		return nil
	}
	if m.refresh.cancel != nil {
		m.refresh.cancel()
		m.refresh.cancel = nil
	}
	m.refresh.inFlight = false
	st := rv.rabbit()
	now := m.now()
	if msg.err != nil {
		st.failures++
		st.lastErr = msg.err
		if f, ok := rv.(loadFailer); ok {
			f.loadFailed()
		}
		if !rv.periodic() {
			m.refresh.idle = true
			return m.setFlash(components.FlashError, "loading "+rv.what()+" failed (r retries): "+errText(msg.err))
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
	n := rv.apply(msg.res, now, &m.st)
	var cmds []tea.Cmd
	if n.text != "" {
		cmds = append(cmds, m.setFlash(n.level, n.text))
	}
	if rv.periodic() {
		d := min(m.jitter(m.opts.Refresh), max(maxBackoff, m.opts.Refresh))
		st.nextAt = now.Add(d)
		cmds = append(cmds, m.schedule(d))
	} else {
		m.refresh.idle = true
	}
	return tea.Batch(cmds...)
}

// hasData reports whether v has data to show.
func (m *Model) hasData(v view) bool {
	if _, ok := v.(localView); ok {
		return true // draws its own loading state
	}
	if rv, ok := v.(rabbitView); ok {
		return rv.rabbit().loaded
	}
	return m.data.snap != nil
}

// rabbitName is the broker shown in the header of the RabbitMQ views.
func (m *Model) rabbitName() string {
	if m.opts.Rabbit == nil {
		return ""
	}
	return m.opts.Rabbit.Name()
}

// rabbitStatus is the header's refresh state for a RabbitMQ view, from its
// longest form to its shortest (see statusVariants).
func (m *Model) rabbitStatus(rv rabbitView) []string {
	st := rv.rabbit()
	dim := m.st.Dim.Render
	switch {
	case !m.sourceConfigured(rv):
		if _, ok := rv.(sourcedView); ok {
			return []string{dim("no broker configured"), dim("no broker"), ""}
		}
		if m.opts.NoRabbit != "" {
			return []string{dim("no RabbitMQ"), ""}
		}
		return []string{dim("no RabbitMQ configured"), dim("no RabbitMQ"), ""}
	case !st.loaded && st.lastErr != nil:
		return []string{m.st.FlashError.Render("unreachable"), ""}
	case !st.loaded:
		return []string{dim("loading…"), ""}
	case st.lastErr != nil:
		return m.staleStatus(st.lastOK)
	case !rv.periodic():
		at := st.lastOK.Format("15:04:05")
		return []string{dim("loaded " + at + "; r reloads"), dim("loaded " + at), dim(at), ""}
	}
	return m.refreshedStatus(st.lastOK)
}

// rabbitPlaceholder is the body of a RabbitMQ view before its data arrives.
func (m *Model) rabbitPlaceholder(rv rabbitView) []string {
	st := rv.rabbit()
	if !m.sourceConfigured(rv) {
		lines := []string{""}
		for _, l := range strings.Split(ansi.Wrap(m.unconfiguredText(rv), max(m.width-4, 20), " "), "\n") {
			lines = append(lines, "  "+m.st.FlashWarn.Render(l))
		}
		return lines
	}
	broker := safe(orDash(m.viewBrokers(rv)))
	if st.lastErr != nil {
		lines := []string{"",
			"  " + m.st.FlashError.Render("Cannot load "+rv.what()+" from "+broker+":"),
			"  " + m.st.FlashError.Render(errText(st.lastErr)),
			"",
		}
		switch {
		case m.refresh.inFlight:
			lines = append(lines, "  "+m.spinner.View()+" "+m.st.Connecting.Render("retrying…"))
		case rv.periodic():
			wait := max(st.nextAt.Sub(m.now()), 0)
			lines = append(lines, "  "+m.st.Dim.Render("retrying in "+fmtDuration(wait)+" (attempt "+fmtInt(int64(st.failures+1))+"); r retries now"))
		default:
			lines = append(lines, "  "+m.st.Dim.Render("r retries"))
		}
		return lines
	}
	return []string{"", "  " + m.spinner.View() + " " + m.st.Connecting.Render("loading "+rv.what()+" from "+broker+"…")}
}

// peekKey is the `p` key.
func (m *Model) peekKey() tea.Cmd {
	pv, ok := m.top().(peeker)
	if !ok {
		return m.setFlash(components.FlashInfo, "p peeks at the messages of a dead-letter queue (:dlq)")
	}
	if !m.hasData(m.top()) {
		return nil
	}
	if next, ok := pv.peek(); ok {
		return m.push(next)
	}
	return nil
}

// peekAskKey answers the question of a peek view that waits for the
// operator's yes before reading a page that costs delivery attempts: y
// reads it, any other key reads nothing.
func (m *Model) peekAskKey(v *peekView, msg tea.KeyPressMsg) tea.Cmd {
	if m.keys.ForceQuit.Matches(msg) {
		return m.quit()
	}
	if k := msg.String(); k == "y" || k == "Y" {
		v.accepted()
		m.cancelRefresh()
		return tea.Batch(m.startRefresh(), m.setFlash(components.FlashWarn, "peeking at "+safe(v.name)+": each message read loses one delivery attempt"))
	}
	v.declined()
	return m.setFlash(components.FlashInfo, "not peeked: nothing was read")
}

// pageKey is the `]` and `[` keys.
func (m *Model) pageKey(dir int) tea.Cmd {
	pg, ok := m.top().(pager)
	if !ok {
		return m.setFlash(components.FlashInfo, "] and [ turn the pages of a peek view")
	}
	ok, n := pg.turn(dir)
	var cmds []tea.Cmd
	if n.text != "" {
		cmds = append(cmds, m.setFlash(n.level, n.text))
	}
	if ok {
		// The page in flight, if any, is abandoned: its result is stale.
		m.cancelRefresh()
		cmds = append(cmds, m.startRefresh())
	}
	return tea.Batch(cmds...)
}
