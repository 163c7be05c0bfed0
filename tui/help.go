package tui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
	"github.com/mqops/mqops/tui/components"
)

// helpLines renders the `?` screen from the keymap and the palette's
// command table, in columns that fit the width.
func (m *Model) helpLines(width int) []string {
	type block struct {
		lines []string
		width int
	}
	var blocks []block
	for _, g := range m.keys.FullHelp() {
		kw := 0
		for _, b := range g.Bindings {
			kw = max(kw, ansi.StringWidth(b.Help().Key))
		}
		bl := block{lines: []string{m.st.HelpTitle.Render(g.Title)}}
		bl.width = ansi.StringWidth(g.Title)
		for _, b := range g.Bindings {
			h := b.Help()
			line := m.st.HelpKey.Render(components.Fit(h.Key, kw, false)) + "  " + m.st.HelpDesc.Render(h.Desc)
			bl.lines = append(bl.lines, line)
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
					sb.WriteString(components.Spaces(gap))
				}
				cell := ""
				if r < len(b.lines) {
					cell = b.lines[r]
				}
				sb.WriteString(cell)
				if k < j-i-1 {
					sb.WriteString(components.Spaces(b.width - ansi.StringWidth(cell)))
				}
			}
			out = append(out, sb.String())
		}
		out = append(out, "")
		i = j
	}

	out = append(out, m.st.HelpTitle.Render("Commands")+m.st.HelpDesc.Render("  (: then enter; tab completes; esc closes)"))
	cw := 0
	names := make([]string, len(commands))
	for i, c := range commands {
		n := ":" + c.name
		if c.arg != "" {
			n += " " + c.arg
		}
		names[i] = n
		cw = max(cw, ansi.StringWidth(n))
	}
	for i, c := range commands {
		alias := ""
		if len(c.aliases) > 0 {
			alias = " (:" + strings.Join(c.aliases, ", :") + ")"
		}
		out = append(out, m.st.HelpKey.Render(components.Fit(names[i], cw, false))+"  "+m.st.HelpDesc.Render(c.help+alias))
	}
	out = append(out, "",
		m.st.HelpTitle.Render("Filter")+m.st.HelpDesc.Render("  / regex, case-insensitive; a leading ! inverts; enter keeps it, esc clears it"),
		m.st.HelpTitle.Render("Sort")+m.st.HelpDesc.Render("  s or shift+→ next column, shift+← previous, S reverses; ↑/↓ in the header"),
		m.st.HelpTitle.Render("Status")+m.st.HelpDesc.Render("  OK lag steady or shrinking · WARN lag growing · STALL commits stuck · STOP no commits · REWIND offset went back"),
	)
	return out
}
