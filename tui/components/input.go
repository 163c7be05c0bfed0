package components

import (
	"charm.land/bubbles/v2/textinput"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// NewInput is a one-line text input (the palette, the filter) with a
// static cursor and its prompt drawn in promptStyle.
func NewInput(prompt string, promptStyle lipgloss.Style) textinput.Model {
	in := textinput.New()
	in.Prompt = prompt
	s := in.Styles()
	s.Cursor.Blink = false // a static cursor needs no timer
	s.Focused.Prompt = promptStyle
	s.Blurred.Prompt = promptStyle
	in.SetStyles(s)
	in.SetVirtualCursor(true)
	return in
}

// FitInput keeps a text input's cursor on screen in room cells: a value
// too long for them scrolls sideways.
func FitInput(in *textinput.Model, room int) {
	w := 0
	if ansi.StringWidth(in.Value())+1 > room {
		w = max(room-1, 1)
	}
	if in.Width() != w {
		in.SetWidth(w)
		in.SetCursor(in.Position())
	}
}
