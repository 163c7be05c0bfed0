package tui

import (
	"context"

	tea "charm.land/bubbletea/v2"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/tui/components"
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

// notice is a flash a view asks for; empty text is none.
type notice struct {
	level components.FlashLevel
	text  string
}

// loadFailer is a view that wants to know its load failed (to undo a page
// turn).
type loadFailer interface{ loadFailed() }

// peeker is a view from which `p` opens a peek view.
type peeker interface{ peek() (view, bool) }

// pager is a view with pages (`]` and `[`): turn returns false and a notice
// when there is no page that way.
type pager interface{ turn(dir int) (bool, notice) }

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
