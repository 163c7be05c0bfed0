package components

import (
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// Summary is a detail view's header: key/value parts, wrapped to the
// width, then whole lines (warnings, errors).
type Summary struct {
	Parts []string
	Extra []string
}

func (s Summary) Wrap(width int) []string {
	const sep = "   "
	var lines []string
	cur, cw := "", 0
	for _, p := range s.Parts {
		pw := ansi.StringWidth(p)
		if cw > 0 && cw+len(sep)+pw > width {
			lines = append(lines, cur)
			cur, cw = "", 0
		}
		if cw > 0 {
			cur += sep
			cw += len(sep)
		}
		cur += p
		cw += pw
	}
	if cw > 0 {
		lines = append(lines, cur)
	}
	return append(lines, s.Extra...)
}

// LongLine is a summary line too long for one screen line (a reason, a
// question stating numbers): it is wrapped to the width when drawn, never
// cut.
type LongLine struct {
	Style lipgloss.Style
	Text  string // sanitized
}

// WrapLong draws long lines at width.
func WrapLong(width int, ls []LongLine) []string {
	var out []string
	for _, l := range ls {
		for _, part := range strings.Split(ansi.Wrap(l.Text, max(width, 20), " "), "\n") {
			out = append(out, l.Style.Render(part))
		}
	}
	return out
}
