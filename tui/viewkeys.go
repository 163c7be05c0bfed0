package tui

import (
	tea "charm.land/bubbletea/v2"

	"github.com/mqops/mqops/actions"

	"github.com/mqops/mqops/tui/components"
	"github.com/mqops/mqops/tui/keys"
)

// Keys per view. A view declares the keys of its own (enter, tab, p, D,
// R, P, ], [, space) by picking them from the console's keymap (keyed); only
// what it declares works there, and the footer and the `?` screen show
// its keys and then the console's that work on it (consoleKeys). A stage
// that takes the keys itself (a form, a question) names them instead
// (keyHinter). Dangerous keys are gone from the keymap in a read-only
// context (keys.Map.ReadOnly), so no view can declare them there.

// keyed is a view with keys of its own, most useful first. They may
// depend on the view's state (a pane, the selected row, the marks).
type keyed interface {
	keys(k *keys.Map) []keys.Binding
}

// viewKeys are the top view's own bound keys, with their footer priority.
func (m *Model) viewKeys() []keys.Binding {
	kv, ok := m.top().(keyed)
	if !ok {
		return nil
	}
	var out []keys.Binding
	for _, b := range kv.keys(&m.keys) {
		if b.Bound() {
			if b.Priority() >= 0 {
				b = b.WithPriority(keys.PrioView - len(out))
			}
			out = append(out, b)
		}
	}
	return out
}

// consoleKeys are the console's keys that work on the top view, in the
// footer's order.
func (m *Model) consoleKeys() []keys.Binding {
	k := &m.keys
	t := m.top().focused()
	var out []keys.Binding
	if !m.untabled() {
		out = append(out, k.Filter)
		if t.Sortable() {
			out = append(out, k.SortNext.WithKeyText("s/S"))
		}
	}
	switch {
	case t.FilterText() != "":
		out = append(out, k.Back.With("", "clear filter"))
	case m.walkNext():
		out = append(out, k.Back.With("", "next marked"))
	case len(m.stack) > 1:
		out = append(out, k.Back)
	}
	if m.loads(m.top()) {
		out = append(out, k.Refresh)
	}
	out = append(out, k.Palette, k.Help)
	if len(m.stack) == 1 {
		out = append(out, k.Quit)
	}
	return out
}

// footerKeys are the hints of the footer for the mode and the stage on
// screen: never a key that the stage swallows.
func (m *Model) footerKeys() []keys.Binding {
	switch m.mode {
	case modePalette:
		return keys.Hints("enter", "run", "tab", "complete", "esc", "close")
	case modeFilter:
		return keys.Hints("enter", "keep the filter", "esc", "clear it", "!…", "inverts")
	case modeHelp:
		if len(m.helpLines(m.width)) > m.height-chromeLines {
			return keys.Hints("j/k", "scroll", "esc", "close")
		}
		return keys.Hints("esc", "close")
	}
	if sk := m.stageKeys(); sk != nil {
		return sk
	}
	return append(m.viewKeys(), m.consoleKeys()...)
}

// untabled says whether the view on top draws no table (the action
// screen, the value viewer): the table's keys (filter, sort) are not its.
func (m *Model) untabled() bool {
	_, own := m.top().(uncounted)
	return own
}

// stageKeys are the keys of a stage that takes the keys itself (the
// action screen's, a question's), as footer hints; nil when the console's
// work there.
func (m *Model) stageKeys() []keys.Binding {
	kh, ok := m.top().(keyHinter)
	if !ok {
		return nil
	}
	hs := kh.hints()
	if hs == nil {
		return nil
	}
	out := make([]keys.Binding, len(hs))
	for i, h := range hs {
		out[i] = keys.FromKey(h, keys.PrioView-i)
	}
	return out
}

// helpGroups are the `?` screen's key groups: the view's own keys first
// (a stage's that takes the keys itself).
func (m *Model) helpGroups() []keys.Group {
	k := &m.keys
	var groups []keys.Group
	own := m.viewKeys()
	if sk := m.stageKeys(); sk != nil {
		own = sk
	}
	if len(own) > 0 {
		groups = append(groups, keys.Group{Title: "This view (" + m.top().crumb() + ")", Bindings: own})
	}
	groups = append(groups,
		keys.Group{Title: "Navigation", Bindings: k.Navigation()},
		keys.Group{Title: "Table", Bindings: []keys.Binding{k.Filter, k.SortNext, k.SortPrev, k.SortRev, k.Copy}},
		keys.Group{Title: "General", Bindings: []keys.Binding{k.Palette, k.Back, k.Refresh, k.Help, k.Quit, k.ForceQuit}},
	)
	return groups
}

// viewKey runs the top view's key b.
func (m *Model) viewKey(b keys.Binding) tea.Cmd {
	k := &m.keys
	v := m.top()
	if vv, ok := v.(*valueView); ok && vv.scrollKey(k, b) {
		return nil
	}
	switch {
	case b.Is(k.Open):
		if !m.hasData(v) || m.openValue(v) {
			return nil
		}
		if next, ok := v.open(); ok {
			return m.push(next)
		}
	case b.Is(k.Copy):
		return m.copyKey()
	case b.Is(k.Pane):
		v.togglePane()
	case b.Is(k.Peek) && v.focused().MarkedCount() > 0:
		return m.startWalk(walkPeek)
	case b.Is(k.Drain) && v.focused().MarkedCount() > 0:
		return m.startWalk(walkDrain)
	case b.Is(k.Peek):
		return m.peekKey()
	case b.Is(k.NextPage):
		return m.pageKey(1)
	case b.Is(k.PrevPage):
		return m.pageKey(-1)
	case b.Is(k.Drain):
		return m.openDrain()
	case b.Is(k.Reset):
		return m.openReset() // the marked groups, or the selected one
	case b.Is(k.Replay):
		return m.openReplay() // the marked or selected topic; a topic's marked partitions
	case b.Is(k.Resend):
		return m.openResend() // the marked or selected rows; the selected destination
	case b.Is(k.RetryNow):
		return m.openRetry(actions.RetryOpNow) // the marked or selected rows; the selected error group
	case b.Is(k.Republish):
		return m.openRetry(actions.RetryOpRepublish)
	case b.Is(k.GiveUp):
		return m.openRetry(actions.RetryOpGiveUp)
	case b.Is(k.Mark):
		v.focused().ToggleMark()
	}
	return nil
}

// elsewhere answers a key of another view with where it works.
func (m *Model) elsewhere(msg tea.KeyPressMsg) tea.Cmd {
	k := &m.keys
	switch {
	case k.Peek.Matches(msg):
		return m.setFlash(components.FlashInfo, "p peeks at the messages of a dead-letter queue or topic (:dlq)")
	case k.NextPage.Matches(msg), k.PrevPage.Matches(msg):
		return m.setFlash(components.FlashInfo, "] and [ turn the pages of a peek view")
	case k.Drain.Matches(msg):
		return m.openDrain() // says where the drain is
	case k.Reset.Matches(msg):
		return m.openReset() // says where the reset is
	case k.Replay.Matches(msg):
		return m.openReplay() // says where the replay is
	case k.Resend.Matches(msg):
		return m.openResend() // says where the resend is
	case k.RetryNow.Matches(msg), k.Republish.Matches(msg), k.GiveUp.Matches(msg):
		return m.openRetry(actions.RetryOpNow) // says where the retry actions are
	}
	return nil
}

// loads reports whether r reloads v: every view but an audit entry and
// the value viewer (they show what was read) and the action screen (it
// takes its keys).
func (m *Model) loads(v view) bool {
	switch v.(type) {
	case *auditDetailView, *valueView, *actionView:
		return false
	}
	return true
}
