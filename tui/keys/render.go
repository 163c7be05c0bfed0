package keys

import (
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/mqops/mqops/tui/styles"
)

// shown reports whether b has a place on a footer or a help screen: a
// bound binding, or a hint.
func (b Binding) shown() bool { return b.Bound() || b.id == "" && b.FooterHelp().Key != "" }

// FooterWidth is the width of hints laid out on one line.
func FooterWidth(hints []Binding) int {
	w := 0
	for i, b := range hints {
		if i > 0 {
			w += len(hintGap)
		}
		w += hintWidth(b)
	}
	return w
}

const hintGap = "  "

func hintWidth(b Binding) int {
	h := b.FooterHelp()
	return ansi.StringWidth(h.Key) + 1 + ansi.StringWidth(h.Desc)
}

// Fit is the hints that fit on a line of width cells, in their order:
// when they do not all fit, the hint of lowest priority goes first (the
// later of equals), then the next, until the rest fit. Unbound bindings
// and silent ones (a negative priority: in the help, not on the footer)
// are left out.
func Fit(hints []Binding, width int) []Binding {
	kept := make([]Binding, 0, len(hints))
	for _, b := range hints {
		if b.shown() && b.priority >= 0 {
			kept = append(kept, b)
		}
	}
	for len(kept) > 1 && FooterWidth(kept) > width {
		drop := len(kept) - 1
		for i := len(kept) - 1; i >= 0; i-- {
			if kept[i].priority < kept[drop].priority {
				drop = i
			}
		}
		kept = append(kept[:drop], kept[drop+1:]...)
	}
	return kept
}

// Footer draws the hints that fit in width cells (Fit), each key in the
// key style and its description in the description style. A single hint
// wider than the line is cut by the caller.
func Footer(hints []Binding, width int, st *styles.Styles) string {
	var b strings.Builder
	for i, h := range Fit(hints, width) {
		if i > 0 {
			b.WriteString(hintGap)
		}
		fh := h.FooterHelp()
		b.WriteString(st.HintKeyInk.Paint(fh.Key) + " " + st.HintDescInk.Paint(fh.Desc))
	}
	return b.String()
}

// HelpColumns lays the groups out for the help screen: as many side by
// side as width allows, each binding's keys then its description, a blank
// line under each row of groups. Unbound bindings and empty groups are
// left out.
func HelpColumns(groups []Group, width int, st *styles.Styles) []string {
	type block struct {
		lines []string
		width int
	}
	var blocks []block
	for _, g := range groups {
		g = g.Bound()
		if len(g.Bindings) == 0 {
			continue
		}
		kw := 0
		for _, b := range g.Bindings {
			kw = max(kw, ansi.StringWidth(b.Help().Key))
		}
		bl := block{lines: []string{st.HelpTitle.Render(g.Title)}, width: ansi.StringWidth(g.Title)}
		for _, b := range g.Bindings {
			h := b.Help()
			pad := strings.Repeat(" ", kw-ansi.StringWidth(h.Key))
			bl.lines = append(bl.lines, st.HelpKey.Render(h.Key+pad)+"  "+st.HelpDesc.Render(h.Desc))
			bl.width = max(bl.width, kw+2+ansi.StringWidth(h.Desc))
		}
		blocks = append(blocks, bl)
	}

	var out []string
	const gap = 4
	for i := 0; i < len(blocks); {
		// Take as many blocks as fit side by side.
		j, used := i, 0
		for j < len(blocks) && (j == i || used+gap+blocks[j].width <= width) {
			if j > i {
				used += gap
			}
			used += blocks[j].width
			j++
		}
		rows := 0
		for _, b := range blocks[i:j] {
			rows = max(rows, len(b.lines))
		}
		for r := 0; r < rows; r++ {
			var sb strings.Builder
			for k, b := range blocks[i:j] {
				if k > 0 {
					sb.WriteString(strings.Repeat(" ", gap))
				}
				cell := ""
				if r < len(b.lines) {
					cell = b.lines[r]
				}
				sb.WriteString(cell)
				if k < j-i-1 {
					sb.WriteString(strings.Repeat(" ", max(b.width-ansi.StringWidth(cell), 0)))
				}
			}
			out = append(out, sb.String())
		}
		out = append(out, "")
		i = j
	}
	return out
}
