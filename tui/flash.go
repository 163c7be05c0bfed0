package tui

import (
	tea "charm.land/bubbletea/v2"

	"github.com/mqops/mqops/backends"
)

type flashLevel int

const (
	flashInfo flashLevel = iota
	flashWarn
	flashError
)

// flash is the message line at the bottom: errors and notices that clear
// themselves after flashTTL.
type flash struct {
	text  string
	level flashLevel
	id    uint64
}

// flashExpiredMsg clears the flash it names, if it is still the one shown.
type flashExpiredMsg struct{ id uint64 }

// setFlash shows text (already sanitized; secrets are removed here, the
// one door every message of the console goes through) and schedules its
// expiry.
func (m *Model) setFlash(level flashLevel, text string) tea.Cmd {
	m.flashSeq++
	m.flash = flash{text: backends.Redact(text), level: level, id: m.flashSeq}
	return m.after(flashTTL, flashExpiredMsg{id: m.flashSeq})
}

func (m *Model) flashLine() string {
	if m.flash.text == "" {
		return ""
	}
	switch m.flash.level {
	case flashError:
		return m.st.flashError.Render("✗ " + m.flash.text)
	case flashWarn:
		return m.st.flashWarn.Render("! " + m.flash.text)
	}
	return m.st.flashInfo.Render(m.flash.text)
}
