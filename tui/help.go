package tui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
	"github.com/mqops/mqops/tui/components"
	"github.com/mqops/mqops/tui/keys"
)

// helpLines renders the `?` screen: the keys of the view on top and the
// console's (helpGroups), in columns that fit the width, then the
// palette's command table.
func (m *Model) helpLines(width int) []string {
	out := keys.HelpColumns(m.helpGroups(), width, &m.st)
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
		m.st.HelpTitle.Render("Time lag")+m.st.HelpDesc.Render("  25s exact (the time of the record at the committed offset) · ~25s estimated · ≥ 25s a lower bound"),
	)
	return out
}
