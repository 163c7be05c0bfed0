package action

import (
	"image/color"

	"charm.land/lipgloss/v2"
)

// Styles are the looks the screen draws with; the console fills them from
// its own styles, so that one place defines the console's look.
type Styles struct {
	Title      lipgloss.Style // the screen's first line
	Label      lipgloss.Style // a field's label
	Focus      lipgloss.Style // the label of the field being edited
	Choice     lipgloss.Style // the chosen option of a choice field
	Dim        lipgloss.Style // hints
	Info       lipgloss.Style // the planning line
	Warn       lipgloss.Style
	Error      lipgloss.Style
	OK         lipgloss.Style // a run that finished
	Confirm    lipgloss.Style // the confirmation's question
	Prompt     lipgloss.Style // the prompt of a text input
	Spinner    lipgloss.Style
	BarFull    color.Color // the progress bar's done part
	BarEmpty   color.Color // and the part left
	CursorText color.Color // the text input's cursor
}
