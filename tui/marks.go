package tui

import (
	tea "charm.land/bubbletea/v2"

	"github.com/mqops/mqops/tui/components"
	"github.com/mqops/mqops/tui/keys"
)

// Marks feed the actions. In the lists whose rows an action takes (:dlq,
// :queues), `space` marks rows, and with marks `D` and `p` act on the
// marked rows instead of the selected one, one after another, in the
// list's order: each marked row's screen opens in turn (a drain has its
// own form, plan and confirmation, its name typed in a red context; a
// peek its pages), and closing it opens the next. A drain that ran to the
// end unmarks its row; one skipped (esc on its form, a plan not
// confirmed), cancelled or failed stays marked, so `D` again goes through
// what is left. A peek changes nothing: the marks stay. The groups view's
// marks feed R, which resets the marked groups on one screen
// (resetGroups); the topics view's marks and a topic's marked partitions
// feed P (replaySource). A view whose marks would feed nothing offers no
// marks.

type walkKind int

const (
	walkPeek walkKind = iota
	walkDrain
)

// walk goes through the marked rows of a list.
type walk struct {
	kind    walkKind
	list    view     // the list the marks are in
	ids     []string // the marked rows, in the list's order
	at      int      // the row whose screen is open
	current view     // that screen
	ran     int      // drains that ran to the end
	refused []string // why rows were not opened
}

// markedKeys re-describe p and D for n marked rows.
func markedKeys(k *keys.Map, n int) (peek, drain keys.Binding) {
	if n == 0 {
		return k.Peek, k.Drain
	}
	count := fmtInt(int64(n)) + " marked"
	return k.Peek.With("peek at the marked, one after another (esc goes to the next)", "peek "+count),
		k.Drain.With("drain the marked, one after another: each planned and confirmed on its own", "drain "+count)
}

// startWalk is `p` or `D` on a list with marks.
func (m *Model) startWalk(kind walkKind) tea.Cmd {
	list := m.top()
	t := list.focused()
	ids := t.MarkedIDs()
	if len(ids) == 0 {
		return nil
	}
	m.walk = &walk{kind: kind, list: list, ids: ids, at: -1}
	return m.walkOn(false)
}

// walkOn opens the screen of the next marked row, once the previous one's
// is closed (ran: its drain went to the end). A walk whose list is no
// longer on top (the operator went elsewhere) ends.
func (m *Model) walkOn(ran bool) tea.Cmd {
	w := m.walk
	if w == nil {
		return nil
	}
	if m.top() != w.list {
		m.walk = nil
		return nil
	}
	t := w.list.focused()
	if ran && w.kind == walkDrain && w.at >= 0 {
		t.Unmark(w.ids[w.at])
		w.ran++
	}
	for w.at++; w.at < len(w.ids); w.at++ {
		id := w.ids[w.at]
		if !t.Select(id) {
			t.ClearFilter() // a marked row the filter hides
			if !t.Select(id) {
				continue // gone since it was marked
			}
		}
		name := "row"
		if r, ok := t.Selected(); ok {
			name = t.NameOf(r)
		}
		flash := m.flash.ID
		var cmd tea.Cmd
		if w.kind == walkDrain {
			cmd = m.openDrain()
		} else {
			cmd = m.peekKey()
		}
		if m.top() == w.list { // refused: say why at the end
			why := name + ": not a dead-letter queue" // the only row a list cannot peek at
			if m.flash.ID != flash {
				why = m.flash.Text
			}
			w.refused = append(w.refused, why)
			continue
		}
		w.current = m.top()
		verb, next := "peek", "esc goes to the next"
		if w.kind == walkDrain {
			verb, next = "drain", "esc on its form skips it"
		}
		if w.at == len(w.ids)-1 {
			next = "the last one"
		}
		return tea.Batch(cmd, m.setFlash(components.FlashInfo,
			verb+" "+fmtInt(int64(w.at+1))+" of "+fmtInt(int64(len(w.ids)))+" marked: "+name+" · "+next))
	}
	m.walk = nil
	return m.setFlash(w.summary())
}

// summary says what the walk did; what could not be opened first (it
// is the surprise, and the flash is one line).
func (w *walk) summary() (components.FlashLevel, string) {
	level, text := components.FlashInfo, ""
	of := fmtInt(int64(len(w.ids))) + " marked"
	if w.kind == walkDrain {
		text = "drained " + fmtInt(int64(w.ran)) + " of " + of
		if left := len(w.ids) - w.ran; left > 0 {
			level = components.FlashWarn
			text += ", " + fmtInt(int64(left)) + " still marked (D goes through them again)"
		}
	} else {
		text = "peeked at " + fmtInt(int64(len(w.ids)-len(w.refused))) + " of " + of
	}
	if len(w.refused) > 0 {
		level = components.FlashWarn
		why := "not opened: " + w.refused[0]
		if more := len(w.refused) - 1; more > 0 {
			why += " (and " + fmtInt(int64(more)) + " more)"
		}
		text = why + " · " + text
	}
	return level, text
}

// walkNext says whether esc on the view on top opens the next marked row.
func (m *Model) walkNext() bool {
	w := m.walk
	return w != nil && w.current == m.top() && w.at < len(w.ids)-1
}

// walkClosed is the hook of a screen closing: when it was the walk's, the
// next marked row's opens.
func (m *Model) walkClosed(closed view, ran bool) tea.Cmd {
	if w := m.walk; w != nil && w.current == closed {
		return m.walkOn(ran)
	}
	return nil
}
