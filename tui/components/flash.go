package components

import "github.com/mqops/mqops/tui/styles"

type FlashLevel int

const (
	FlashInfo FlashLevel = iota
	FlashWarn
	FlashError
)

// Flash is the message line at the bottom: errors and notices that clear
// themselves after a while (the root model schedules the expiry).
type Flash struct {
	Text  string
	Level FlashLevel
	ID    uint64
}

// Line draws the flash: an error marked ✗, a warning !, a notice plain.
func (f Flash) Line(st *styles.Styles) string {
	if f.Text == "" {
		return ""
	}
	switch f.Level {
	case FlashError:
		return st.FlashError.Render("✗ " + f.Text)
	case FlashWarn:
		return st.FlashWarn.Render("! " + f.Text)
	}
	return st.FlashInfo.Render(f.Text)
}
