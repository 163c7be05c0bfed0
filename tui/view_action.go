package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/mqops/mqops/tui/action"
	"github.com/mqops/mqops/tui/components"
	"github.com/mqops/mqops/tui/styles"
)

// actionView puts an action screen (tui/action: form, plan, confirmation,
// progress, result) in the view stack. The screen takes every key while
// it is on top; what it asks of the console (a flash, closing, quitting)
// comes back as an action.Event. Its keys are the stage's (Screen.Keys):
// the footer shows them (keyHinter), as the help would.
type actionView struct {
	screen action.Screen
	viewID string
	name   string            // the crumb
	tbl    *components.Table // empty: the screen draws its own body
}

func newActionView(id, crumb string, s action.Screen) *actionView {
	return &actionView{screen: s, viewID: id, name: crumb, tbl: components.NewTable([]components.Column{{Title: ""}}, -1, false)}
}

func (v *actionView) id() string                       { return v.viewID }
func (v *actionView) crumb() string                    { return v.name }
func (v *actionView) noun() string                     { return "" }
func (v *actionView) local()                           {}
func (v *actionView) uncounted()                       {}
func (v *actionView) summary(int) []string             { return nil }
func (v *actionView) focused() *components.Table       { return v.tbl }
func (v *actionView) open() (view, bool)               { return nil, false }
func (v *actionView) togglePane() bool                 { return false }
func (v *actionView) layout(width, height int)         { v.screen.SetSize(width, height) }
func (v *actionView) body(*styles.Styles) []string     { return v.screen.Lines() }
func (v *actionView) hints() []key.Binding             { return v.screen.Keys() }
func (v *actionView) header(*Model) (string, []string) { return v.screen.Broker(), v.screen.Status() }

// uncounted is a view whose body is not a table of rows: the breadcrumb
// line counts nothing.
type uncounted interface{ uncounted() }

// actionHost is what an action screen needs from the console.
func (m *Model) actionHost() action.Host {
	st := &m.st
	return action.Host{
		Ctx: m.ctx,
		Styles: action.Styles{
			Title: st.SectionTitle, Label: st.FieldLabel, Focus: st.FieldFocus, Choice: st.Choice,
			Dim: st.Dim, Info: st.Connecting, Warn: st.FlashWarn, Error: st.FlashError, OK: st.Cells[styles.CellOK],
			Confirm: st.Confirm, Prompt: st.Prompt, Spinner: st.Spinner,
			BarFull: st.BarDone.GetForeground(), BarEmpty: st.BarLeft.GetForeground(), CursorText: st.FieldFocus.GetForeground(),
		},
		Format: action.Format{Count: fmtInt, Rate: fmtRate, Duration: fmtDuration, Err: errText},
		After:  m.after,
	}
}

// actionUpdate hands msg to the action screen on top and does what it
// asks.
func (m *Model) actionUpdate(v *actionView, msg tea.Msg) tea.Cmd {
	cmd, ev := v.screen.Update(msg)
	cmds := []tea.Cmd{cmd}
	if ev.Flash.Text != "" {
		level := map[action.Level]components.FlashLevel{action.Info: components.FlashInfo, action.Warn: components.FlashWarn, action.Error: components.FlashError}[ev.Flash.Level]
		cmds = append(cmds, m.setFlash(level, ev.Flash.Text))
	}
	switch {
	case ev.Quit:
		// what the screen still has to record runs before the end
		m.lastWords = cmd
		return m.quit()
	case ev.Close:
		cmds = append(cmds, m.closeAction(ev.Reload))
	}
	return tea.Batch(cmds...)
}

// actionMsg hands a message of an action screen's commands to the screen
// on top; one whose screen is gone is dropped.
func (m *Model) actionMsg(msg tea.Msg) tea.Cmd {
	if v, ok := m.top().(*actionView); ok {
		return m.actionUpdate(v, msg)
	}
	return nil
}

// closeAction pops the action screen; after a run the view below reloads
// at once. When the screen was opened for a marked row (marks.go), the
// next marked row's opens: a run that went to the end unmarks its row.
func (m *Model) closeAction(reload bool) tea.Cmd {
	var cmd tea.Cmd
	closed, ran := m.top(), false
	if v, ok := closed.(*actionView); ok {
		cmd = v.screen.Leave()
		ran = v.screen.Ran()
		if len(m.stack) > 1 {
			m.stack = m.stack[:len(m.stack)-1]
		}
	}
	if reload {
		m.cancelRefresh()
		m.refresh.idle = true // viewChanged starts a refresh of the view below
	}
	return tea.Batch(cmd, m.viewChanged(), m.walkClosed(closed, ran))
}

// actionBusy says whether an action screen in the stack has a plan or a
// run in flight.
func (m *Model) actionBusy() bool {
	for _, v := range m.stack {
		if a, ok := v.(*actionView); ok && a.screen.Busy() {
			return true
		}
	}
	return false
}
