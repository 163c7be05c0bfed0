package tui

import (
	"image/color"
	"strings"

	"charm.land/lipgloss/v2"

	"github.com/mqops/mqops/backends/lag"
)

// cellStyle names the style of one table cell. Rows store these small enums
// when the data arrives; the table applies the matching lipgloss style only
// to the rows it draws.
type cellStyle uint8

const (
	cellPlain cellStyle = iota
	cellDim
	cellOK
	cellWarn
	cellStall
	cellStop
	cellRewind
	cellError
	numCellStyles
)

// styles is the one place where the console's look is defined.
type styles struct {
	contextBadge lipgloss.Style // context name, background in the context colour
	readOnly     lipgloss.Style
	cluster      lipgloss.Style
	crumb        lipgloss.Style
	crumbSep     lipgloss.Style
	dim          lipgloss.Style
	stale        lipgloss.Style
	info         lipgloss.Style
	summaryKey   lipgloss.Style
	sectionTitle lipgloss.Style

	tableHeader lipgloss.Style
	sortArrow   lipgloss.Style
	selected    lipgloss.Style
	marked      lipgloss.Style
	cells       [numCellStyles]lipgloss.Style

	// Inks of the table styles, for drawing rows without lipgloss.
	cellInk     [numCellStyles]ink
	selectedInk ink
	markedInk   ink
	headerInk   ink

	hintKey  lipgloss.Style
	hintDesc lipgloss.Style

	// Inks of the styles the frame's lines are drawn with on every frame
	// (frame.go): the key hints and the breadcrumbs.
	hintKeyInk, hintDescInk ink
	crumbInk, crumbSepInk   ink
	dimInk, infoInk         ink
	markedTextInk           ink

	flashInfo  lipgloss.Style
	flashWarn  lipgloss.Style
	flashError lipgloss.Style

	prompt     lipgloss.Style
	helpTitle  lipgloss.Style
	helpKey    lipgloss.Style
	helpDesc   lipgloss.Style
	spinner    lipgloss.Style
	connecting lipgloss.Style

	// The drain form and its progress bar (view_drain.go).
	fieldLabel lipgloss.Style // a form field's label
	fieldFocus lipgloss.Style // the label of the field being edited
	choice     lipgloss.Style // the chosen value of a cycled field
	confirm    lipgloss.Style // the confirmation question
	barDone    lipgloss.Style
	barLeft    lipgloss.Style
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

func newStyles(ctxColor string) styles {
	s := styles{}
	badge := lipgloss.NewStyle().Bold(true).Padding(0, 1)
	if c, ok := contextColor(ctxColor); ok {
		badge = badge.Background(c).Foreground(badgeForeground(c))
	} else {
		badge = badge.Reverse(true)
	}
	s.contextBadge = badge
	s.readOnly = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Black).Background(colYellow).Padding(0, 1)
	s.cluster = lipgloss.NewStyle().Bold(true)
	s.crumb = lipgloss.NewStyle().Bold(true).Foreground(colCyan)
	s.crumbSep = lipgloss.NewStyle().Foreground(colGray)
	s.dim = lipgloss.NewStyle().Foreground(colGray)
	s.stale = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Black).Background(colOrange).Padding(0, 1)
	s.info = lipgloss.NewStyle().Foreground(colCyan)
	s.summaryKey = lipgloss.NewStyle().Foreground(colGray)
	s.sectionTitle = lipgloss.NewStyle().Bold(true).Foreground(colCyan)

	s.tableHeader = lipgloss.NewStyle().Bold(true).Foreground(colGray)
	s.sortArrow = lipgloss.NewStyle().Bold(true).Foreground(colCyan)
	s.selected = lipgloss.NewStyle().Reverse(true)
	s.marked = lipgloss.NewStyle().Foreground(colCyan).Bold(true)

	s.cells[cellPlain] = lipgloss.NewStyle()
	s.cells[cellDim] = s.dim
	s.cells[cellOK] = lipgloss.NewStyle().Foreground(colGreen)
	s.cells[cellWarn] = lipgloss.NewStyle().Foreground(colYellow).Bold(true)
	s.cells[cellStall] = lipgloss.NewStyle().Foreground(colOrange).Bold(true)
	s.cells[cellStop] = lipgloss.NewStyle().Foreground(colRed).Bold(true)
	s.cells[cellRewind] = lipgloss.NewStyle().Foreground(colMagenta).Bold(true)
	s.cells[cellError] = lipgloss.NewStyle().Foreground(colRed).Bold(true)

	for i := range s.cells {
		s.cellInk[i] = inkOf(s.cells[i])
	}
	s.selectedInk = inkOf(s.selected)
	s.markedInk = inkOf(s.marked)
	s.headerInk = inkOf(s.tableHeader)

	s.hintKey = lipgloss.NewStyle().Bold(true).Foreground(colCyan)
	s.hintDesc = lipgloss.NewStyle().Foreground(colGray)

	s.hintKeyInk, s.hintDescInk = inkOf(s.hintKey), inkOf(s.hintDesc)
	s.crumbInk, s.crumbSepInk = inkOf(s.crumb), inkOf(s.crumbSep)
	s.dimInk, s.infoInk, s.markedTextInk = inkOf(s.dim), inkOf(s.info), inkOf(s.marked)

	s.flashInfo = lipgloss.NewStyle().Foreground(colCyan)
	s.flashWarn = lipgloss.NewStyle().Foreground(colYellow).Bold(true)
	s.flashError = lipgloss.NewStyle().Foreground(colRed).Bold(true)

	s.prompt = lipgloss.NewStyle().Bold(true).Foreground(colCyan)
	s.helpTitle = lipgloss.NewStyle().Bold(true).Foreground(colCyan).Underline(true)
	s.helpKey = lipgloss.NewStyle().Bold(true)
	s.helpDesc = lipgloss.NewStyle().Foreground(colGray)
	s.spinner = lipgloss.NewStyle().Foreground(colCyan)
	s.connecting = lipgloss.NewStyle().Foreground(colCyan)

	s.fieldLabel = lipgloss.NewStyle().Foreground(colGray)
	s.fieldFocus = lipgloss.NewStyle().Bold(true).Foreground(colCyan)
	s.choice = lipgloss.NewStyle().Bold(true).Reverse(true)
	s.confirm = lipgloss.NewStyle().Bold(true).Foreground(colYellow)
	s.barDone = lipgloss.NewStyle().Foreground(colCyan)
	s.barLeft = lipgloss.NewStyle().Foreground(colGray)
	return s
}

// ink is a style reduced to the escape sequences around its text. Table
// rows are drawn on every frame; wrapping a cell in two precomputed strings
// costs a fraction of lipgloss.Style.Render. Only for styles without
// padding, margins, borders or width.
type ink struct{ pre, post string }

func inkOf(s lipgloss.Style) ink {
	const probe = "\ue000" // private use: never part of an escape sequence
	r := s.Render(probe)
	i := strings.Index(r, probe)
	if i < 0 {
		return ink{}
	}
	return ink{pre: r[:i], post: r[i+len(probe):]}
}

func (k ink) paint(s string) string {
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

// statusStyle picks the cell style of a lag status.
func statusStyle(st lag.Status) cellStyle {
	switch st {
	case lag.OK:
		return cellOK
	case lag.Warn:
		return cellWarn
	case lag.Stall:
		return cellStall
	case lag.Stop:
		return cellStop
	case lag.Rewind:
		return cellRewind
	}
	return cellDim
}
