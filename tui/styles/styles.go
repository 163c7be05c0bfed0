// Package styles is the console's look: the colours (the terminal's own
// palette, so they follow its theme, and the context colour), every
// lipgloss style, and the cell styles table rows store.
package styles

import (
	"image/color"
	"strings"

	"charm.land/lipgloss/v2"
)

// CellStyle names the style of one table cell. Rows store these small enums
// when the data arrives; the table applies the matching lipgloss style only
// to the rows it draws.
type CellStyle uint8

const (
	CellPlain CellStyle = iota
	CellDim
	CellOK
	CellWarn
	CellStall
	CellStop
	CellRewind
	CellError
	NumCellStyles
)

// Styles is the one place where the console's look is defined.
type Styles struct {
	ContextBadge lipgloss.Style // context name, background in the context colour
	ReadOnly     lipgloss.Style
	Cluster      lipgloss.Style
	Crumb        lipgloss.Style
	CrumbSep     lipgloss.Style
	Dim          lipgloss.Style
	Stale        lipgloss.Style
	Info         lipgloss.Style
	SummaryKey   lipgloss.Style
	SectionTitle lipgloss.Style

	TableHeader lipgloss.Style
	SortArrow   lipgloss.Style
	Selected    lipgloss.Style
	Marked      lipgloss.Style
	Cells       [NumCellStyles]lipgloss.Style

	// Inks of the table styles, for drawing rows without lipgloss.
	CellInk     [NumCellStyles]Ink
	SelectedInk Ink
	MarkedInk   Ink
	HeaderInk   Ink

	HintKey  lipgloss.Style
	HintDesc lipgloss.Style

	// Inks of the styles the frame's lines are drawn with on every frame
	// (tui/frame.go): the key hints and the breadcrumbs.
	HintKeyInk, HintDescInk Ink
	CrumbInk, CrumbSepInk   Ink
	DimInk, InfoInk         Ink
	MarkedTextInk           Ink

	FlashInfo  lipgloss.Style
	FlashWarn  lipgloss.Style
	FlashError lipgloss.Style

	Prompt     lipgloss.Style
	HelpTitle  lipgloss.Style
	HelpKey    lipgloss.Style
	HelpDesc   lipgloss.Style
	Spinner    lipgloss.Style
	Connecting lipgloss.Style

	// The action screen's form and progress bar (tui/action, given them by
	// tui/view_action.go).
	FieldLabel lipgloss.Style // a form field's label
	FieldFocus lipgloss.Style // the label of the field being edited
	Choice     lipgloss.Style // the chosen value of a cycled field
	Confirm    lipgloss.Style // the confirmation question
	BarDone    lipgloss.Style
	BarLeft    lipgloss.Style
}

var (
	colRed     = lipgloss.Red
	colGreen   = lipgloss.Green
	colYellow  = lipgloss.Yellow
	colBlue    = lipgloss.Blue
	colMagenta = lipgloss.Magenta
	colCyan    = lipgloss.Cyan
	colGray    = lipgloss.BrightBlack
	colOrange  = lipgloss.Color("208")
)

// contextColor maps the configured context colour to a terminal colour.
// Names use the terminal's own palette so they follow its theme. An empty
// or unknown value means no colour.
func contextColor(name string) (color.Color, bool) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "red":
		return colRed, true
	case "yellow":
		return colYellow, true
	case "green":
		return colGreen, true
	case "blue":
		return colBlue, true
	case "magenta":
		return colMagenta, true
	case "cyan":
		return colCyan, true
	}
	if strings.HasPrefix(name, "#") && (len(name) == 7 || len(name) == 4) {
		c := lipgloss.Color(name)
		if _, none := c.(lipgloss.NoColor); !none {
			return c, true
		}
	}
	return nil, false
}

func New(ctxColor string) Styles {
	s := Styles{}
	badge := lipgloss.NewStyle().Bold(true).Padding(0, 1)
	if c, ok := contextColor(ctxColor); ok {
		badge = badge.Background(c).Foreground(badgeForeground(c))
	} else {
		badge = badge.Reverse(true)
	}
	s.ContextBadge = badge
	s.ReadOnly = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Black).Background(colYellow).Padding(0, 1)
	s.Cluster = lipgloss.NewStyle().Bold(true)
	s.Crumb = lipgloss.NewStyle().Bold(true).Foreground(colCyan)
	s.CrumbSep = lipgloss.NewStyle().Foreground(colGray)
	s.Dim = lipgloss.NewStyle().Foreground(colGray)
	s.Stale = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Black).Background(colOrange).Padding(0, 1)
	s.Info = lipgloss.NewStyle().Foreground(colCyan)
	s.SummaryKey = lipgloss.NewStyle().Foreground(colGray)
	s.SectionTitle = lipgloss.NewStyle().Bold(true).Foreground(colCyan)

	s.TableHeader = lipgloss.NewStyle().Bold(true).Foreground(colGray)
	s.SortArrow = lipgloss.NewStyle().Bold(true).Foreground(colCyan)
	s.Selected = lipgloss.NewStyle().Reverse(true)
	s.Marked = lipgloss.NewStyle().Foreground(colCyan).Bold(true)

	s.Cells[CellPlain] = lipgloss.NewStyle()
	s.Cells[CellDim] = s.Dim
	s.Cells[CellOK] = lipgloss.NewStyle().Foreground(colGreen)
	s.Cells[CellWarn] = lipgloss.NewStyle().Foreground(colYellow).Bold(true)
	s.Cells[CellStall] = lipgloss.NewStyle().Foreground(colOrange).Bold(true)
	s.Cells[CellStop] = lipgloss.NewStyle().Foreground(colRed).Bold(true)
	s.Cells[CellRewind] = lipgloss.NewStyle().Foreground(colMagenta).Bold(true)
	s.Cells[CellError] = lipgloss.NewStyle().Foreground(colRed).Bold(true)

	for i := range s.Cells {
		s.CellInk[i] = InkOf(s.Cells[i])
	}
	s.SelectedInk = InkOf(s.Selected)
	s.MarkedInk = InkOf(s.Marked)
	s.HeaderInk = InkOf(s.TableHeader)

	s.HintKey = lipgloss.NewStyle().Bold(true).Foreground(colCyan)
	s.HintDesc = lipgloss.NewStyle().Foreground(colGray)

	s.HintKeyInk, s.HintDescInk = InkOf(s.HintKey), InkOf(s.HintDesc)
	s.CrumbInk, s.CrumbSepInk = InkOf(s.Crumb), InkOf(s.CrumbSep)
	s.DimInk, s.InfoInk, s.MarkedTextInk = InkOf(s.Dim), InkOf(s.Info), InkOf(s.Marked)

	s.FlashInfo = lipgloss.NewStyle().Foreground(colCyan)
	s.FlashWarn = lipgloss.NewStyle().Foreground(colYellow).Bold(true)
	s.FlashError = lipgloss.NewStyle().Foreground(colRed).Bold(true)

	s.Prompt = lipgloss.NewStyle().Bold(true).Foreground(colCyan)
	s.HelpTitle = lipgloss.NewStyle().Bold(true).Foreground(colCyan).Underline(true)
	s.HelpKey = lipgloss.NewStyle().Bold(true)
	s.HelpDesc = lipgloss.NewStyle().Foreground(colGray)
	s.Spinner = lipgloss.NewStyle().Foreground(colCyan)
	s.Connecting = lipgloss.NewStyle().Foreground(colCyan)

	s.FieldLabel = lipgloss.NewStyle().Foreground(colGray)
	s.FieldFocus = lipgloss.NewStyle().Bold(true).Foreground(colCyan)
	s.Choice = lipgloss.NewStyle().Bold(true).Reverse(true)
	s.Confirm = lipgloss.NewStyle().Bold(true).Foreground(colYellow)
	s.BarDone = lipgloss.NewStyle().Foreground(colCyan)
	s.BarLeft = lipgloss.NewStyle().Foreground(colGray)
	return s
}

// Ink is a style reduced to the escape sequences around its text. Table
// rows are drawn on every frame; wrapping a cell in two precomputed strings
// costs a fraction of lipgloss.Style.Render. Only for styles without
// padding, margins, borders or width.
type Ink struct{ pre, post string }

func InkOf(s lipgloss.Style) Ink {
	const probe = "\ue000" // private use: never part of an escape sequence
	r := s.Render(probe)
	i := strings.Index(r, probe)
	if i < 0 {
		return Ink{}
	}
	return Ink{pre: r[:i], post: r[i+len(probe):]}
}

func (k Ink) Paint(s string) string {
	if k.pre == "" && k.post == "" {
		return s
	}
	return k.pre + s + k.post
}

// badgeForeground picks black or white text for a badge of background c.
func badgeForeground(c color.Color) color.Color {
	switch c {
	case colYellow, colGreen, colCyan:
		return lipgloss.Black
	case colRed, colBlue, colMagenta:
		return lipgloss.BrightWhite
	}
	r, g, b, _ := c.RGBA()
	// Perceived luminance on 16-bit channels.
	if 299*r+587*g+114*b > 1000*0x8000 {
		return lipgloss.Black
	}
	return lipgloss.BrightWhite
}
