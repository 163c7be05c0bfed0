package tui

import (
	tea "charm.land/bubbletea/v2"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/tui/components"
)

// flashExpiredMsg clears the flash it names, if it is still the one shown.
type flashExpiredMsg struct{ id uint64 }

// setFlash shows text (already sanitized; secrets are removed here, the
// one door every message of the console goes through) and schedules its
// expiry.
func (m *Model) setFlash(level components.FlashLevel, text string) tea.Cmd {
	m.flashSeq++
	m.flash = components.Flash{Text: backends.Redact(text), Level: level, ID: m.flashSeq}
	return m.after(flashTTL, flashExpiredMsg{id: m.flashSeq})
}

func (m *Model) flashLine() string { return m.flash.Line(&m.st) }
