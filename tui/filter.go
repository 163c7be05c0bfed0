package tui

import (
	tea "charm.land/bubbletea/v2"
	"github.com/mqops/mqops/tui/components"
)

// filterKey handles keys while the `/` prompt is open. The filter applies as
// it is typed; enter keeps it, esc clears it.
func (m *Model) filterKey(msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case m.keys.Back.Matches(msg):
		m.top().focused().ClearFilter()
		m.closeFilter()
		return nil
	case msg.String() == "enter":
		err := m.filterErr
		m.closeFilter()
		if err != nil {
			return m.setFlash(components.FlashError, "invalid filter: "+errText(err))
		}
		return nil
	}
	var cmd tea.Cmd
	m.filter, cmd = m.filter.Update(msg)
	m.applyTypedFilter()
	return cmd
}

// applyTypedFilter applies the prompt's text; an expression that does not
// compile is reported under the prompt and the previous filter stays.
func (m *Model) applyTypedFilter() {
	m.filterErr = m.top().focused().SetFilter(m.filter.Value())
}

func (m *Model) closeFilter() {
	m.filter.Blur()
	m.filterErr = nil
	m.mode = modeNormal
}
