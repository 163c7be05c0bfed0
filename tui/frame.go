package tui

import (
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// View draws the frame: header, breadcrumbs, the view's summary and body,
// key hints and the flash or prompt line. It never exceeds the terminal
// size and does no work proportional to the number of rows.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeNone
	v.WindowTitle = "mqops · " + safe(m.opts.Context)
	return v
}

func (m *Model) render() string {
	if m.quitting {
		return ""
	}
	w, h := m.width, m.height
	if w <= 0 || h <= 0 {
		return ""
	}
	lines := make([]string, 0, h)
	lines = append(lines, clip(m.headerLine(w), w), clip(m.crumbLine(w), w))
	bodyH := h - chromeLines
	if bodyH > 0 {
		body := m.bodyLines(w, bodyH)
		if len(body) > bodyH {
			body = body[:bodyH]
		}
		lines = append(lines, body...)
		for i := len(body); i < bodyH; i++ {
			lines = append(lines, "")
		}
	}
	lines = append(lines, clip(m.hintLine(w), w), clip(m.bottomLine(w), w))
	if len(lines) > h {
		lines = lines[:h]
	}
	return strings.Join(lines, "\n")
}

func (m *Model) headerLine(w int) string {
	left := m.st.contextBadge.Render(safe(orDash(m.opts.Context)))
	cluster := m.cluster
	if rv, ok := m.top().(rabbitView); ok {
		cluster = m.viewBrokers(rv)
	}
	if hv, ok := m.top().(headerView); ok {
		cluster, _ = hv.header(m)
	}
	if cluster != "" {
		left += " " + m.st.cluster.Render(safe(cluster))
	}
	if m.opts.ReadOnly {
		left += " " + m.st.readOnly.Render("READ-ONLY")
	}
	return spread(left, m.statusText(), w)
}

// headerView is a view that is about neither the Kafka snapshot nor a
// RabbitMQ load (a drain, the audit log): its header names its own broker
// and state instead of the cluster's refresh state.
type headerView interface {
	header(m *Model) (cluster, status string)
}

// statusText is the refresh state at the right of the header.
func (m *Model) statusText() string {
	r := &m.refresh
	var parts []string
	if r.inFlight {
		parts = append(parts, m.spinner.View())
	}
	if rv, ok := m.top().(rabbitView); ok {
		return strings.Join(append(parts, m.rabbitStatus(rv)...), " ")
	}
	if hv, ok := m.top().(headerView); ok {
		_, status := hv.header(m)
		return status
	}
	switch {
	case m.opts.Kafka == nil:
		parts = append(parts, m.st.dim.Render("no Kafka configured"))
	case m.data.snap == nil && r.lastErr != nil:
		parts = append(parts, m.st.flashError.Render("unreachable"))
	case m.data.snap == nil:
		parts = append(parts, m.st.dim.Render("connecting…"))
	case r.lastErr != nil:
		age := fmtDuration(m.now().Sub(r.lastOK))
		parts = append(parts, m.st.stale.Render("STALE"),
			m.st.dim.Render("last refresh "+r.lastOK.Format("15:04:05")+" ("+age+" ago)"))
	default:
		parts = append(parts, m.st.dim.Render("refreshed "+r.lastOK.Format("15:04:05")))
	}
	return strings.Join(parts, " ")
}

func (m *Model) crumbLine(w int) string {
	var b strings.Builder
	for i, v := range m.stack {
		if i > 0 {
			b.WriteString(m.st.crumbSep.Render(" › "))
		}
		b.WriteString(m.st.crumb.Render(v.crumb()))
	}
	t := m.top().focused()
	if t.filter.text != "" && m.mode != modeFilter {
		b.WriteString("  " + m.st.info.Render("/"+safe(t.filter.text)))
	}
	var right []string
	if n := t.markedCount(); n > 0 {
		right = append(right, m.st.marked.Render(fmtInt(int64(n))+" marked"))
	}
	if m.hasData(m.top()) {
		count, noun := fmtInt(int64(t.len())), m.top().noun()
		if t.filter.active() {
			count += " of " + fmtInt(int64(len(t.rows)))
		} else if t.len() == 1 {
			noun = singular(noun)
		}
		right = append(right, m.st.dim.Render(count+" "+noun))
	}
	return spread(b.String(), strings.Join(right, m.st.dim.Render(" · ")), w)
}

// bodyLines is the area between the breadcrumbs and the key hints. Table
// lines come fitted to the width; everything else is clipped here.
func (m *Model) bodyLines(w, h int) []string {
	var lines []string
	switch {
	case m.mode == modeHelp:
		lines = m.helpLines(w)
		if len(lines) > h && h > 1 {
			// scroll: j/k move, the last line says there is more
			lines = lines[min(m.helpOff, len(lines)-(h-1)):]
			if len(lines) > h-1 {
				lines = append(lines[:h-1:h-1], m.st.dim.Render("… more: j/↓ scrolls, k/↑ back, esc closes"))
			}
		}
	case !m.hasData(m.top()):
		lines = m.placeholder()
	default:
		lines = m.top().summary(w)
	}
	lines = clipAll(lines, w, h)
	if m.mode == modeHelp || !m.hasData(m.top()) {
		return lines
	}
	return append(lines, m.top().body(&m.st)...)
}

// clipAll returns at most h of lines, each clipped to w, in a new slice.
func clipAll(lines []string, w, h int) []string {
	out := make([]string, 0, min(len(lines), h)+1)
	for _, l := range lines[:min(len(lines), h)] {
		out = append(out, clip(l, w))
	}
	return out
}

// placeholder is the body before the first snapshot arrives.
func (m *Model) placeholder() []string {
	if rv, ok := m.top().(rabbitView); ok {
		return m.rabbitPlaceholder(rv)
	}
	cluster := safe(orDash(m.cluster))
	switch {
	case m.opts.Kafka == nil:
		return []string{"", "  " + m.st.flashWarn.Render("No Kafka cluster is configured for context "+safe(orDash(m.opts.Context))+".")}
	case m.refresh.lastErr != nil:
		lines := []string{"",
			"  " + m.st.flashError.Render("Cannot load "+cluster+":"),
			"  " + m.st.flashError.Render(errText(m.refresh.lastErr)),
			"",
		}
		if m.refresh.inFlight {
			lines = append(lines, "  "+m.spinner.View()+" "+m.st.connecting.Render("retrying…"))
		} else {
			wait := max(m.refresh.nextAt.Sub(m.now()), 0)
			lines = append(lines, "  "+m.st.dim.Render("retrying in "+fmtDuration(wait)+" (attempt "+fmtInt(int64(m.refresh.failures+1))+"); r retries now"))
		}
		return lines
	}
	return []string{"", "  " + m.spinner.View() + " " + m.st.connecting.Render("connecting to "+cluster+"…")}
}

func (m *Model) hintLine(w int) string {
	var b strings.Builder
	used := 0
	for i, k := range m.keys.ShortHelp() {
		h := k.Help()
		part := h.Key + " " + h.Desc
		pw := ansi.StringWidth(part)
		if i > 0 {
			pw += 2
		}
		if used+pw > w {
			break
		}
		if i > 0 {
			b.WriteString("  ")
		}
		b.WriteString(m.st.hintKey.Render(h.Key) + " " + m.st.hintDesc.Render(h.Desc))
		used += pw
	}
	return b.String()
}

func (m *Model) bottomLine(w int) string {
	switch m.mode {
	case modePalette:
		return m.palette.View()
	case modeFilter:
		line := m.filter.View()
		if m.filterErr != nil {
			line += "  " + m.st.flashError.Render("✗ "+errText(m.filterErr))
		}
		return line
	}
	return m.flashLine()
}

// spread puts left and right on one line of width w, right-aligned; when
// both do not fit, right wins its place and left is cut.
func spread(left, right string, w int) string {
	lw, rw := ansi.StringWidth(left), ansi.StringWidth(right)
	if right == "" {
		return left
	}
	if lw+1+rw <= w {
		return left + spaces(w-lw-rw) + right
	}
	if rw+1 >= w {
		return clip(right, w)
	}
	return clip(left, w-rw-1) + " " + right
}

// singular is the noun of one row: "groups" → "group".
func singular(noun string) string {
	switch {
	case noun == "dead-letter queues and topics":
		return "dead-letter queue or topic"
	case strings.HasSuffix(noun, "ies"):
		return strings.TrimSuffix(noun, "ies") + "y"
	}
	return strings.TrimSuffix(noun, "s")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
