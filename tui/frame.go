package tui

import (
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/mqops/mqops/tui/components"
	"github.com/mqops/mqops/tui/keys"
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
	lines = append(lines, components.Clip(m.headerLine(w), w), components.Clip(m.crumbLine(w), w))
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
	lines = append(lines, components.Clip(m.hintLine(w), w), components.Clip(m.bottomLine(w), w))
	if len(lines) > h {
		lines = lines[:h]
	}
	return strings.Join(lines, "\n")
}

// headerLine is the context, the cluster, the read-only badge and the
// refresh state. When the line is narrow, they give up their room in this
// order: the state shortens (its clock last of all: "refreshed 10:32:01",
// "10:32:01", the spinner or STALE alone), then the cluster is cut and
// goes, then the READ-ONLY badge becomes RO, the state goes, and last the
// context name is cut. The context and the read-only badge are on every
// header that shows anything else.
func (m *Model) headerLine(w int) string {
	name := safe(orDash(m.opts.Context))
	cluster := ""
	if s := m.sourceOf(m.top()); s != nil {
		cluster = s.broker
	}
	var status []string
	if hv, ok := m.top().(headerView); ok {
		cluster, status = hv.header(m)
	} else {
		status = m.statusVariants()
	}
	if len(status) == 0 {
		status = []string{""}
	}
	cluster = safe(cluster)
	badge := m.st.ContextBadge.Render(name)
	ro, roShort := "", ""
	if m.opts.ReadOnly {
		ro, roShort = " "+m.st.ReadOnly.Render("READ-ONLY"), " "+m.st.ReadOnly.Render("RO")
	}
	left := badge + ro
	if cluster != "" {
		left = badge + " " + m.st.Cluster.Render(cluster) + ro
	}
	// Each form of the state is tried with the cluster whole, then cut to
	// no less than clusterKept: a long broker list gives way before the
	// clock does.
	for _, st := range status {
		if fits(left, st, w) {
			return spread(left, st, w)
		}
		if cluster == "" {
			continue
		}
		room := w - ansi.StringWidth(badge+ro) - 1
		if st != "" {
			room -= ansi.StringWidth(st) + 1
		}
		if room >= clusterKept {
			return spread(badge+" "+m.st.Cluster.Render(components.Truncate(cluster, room, "…"))+ro, st, w)
		}
	}
	last := status[len(status)-1]
	if cluster != "" {
		room := w - ansi.StringWidth(badge+ro) - 1
		if last != "" {
			room -= ansi.StringWidth(last) + 1
		}
		if room >= minClusterShown {
			return spread(badge+" "+m.st.Cluster.Render(components.Truncate(cluster, room, "…"))+ro, last, w)
		}
	}
	for _, c := range [][2]string{{badge + ro, last}, {badge + roShort, last}, {badge + roShort, ""}} {
		if fits(c[0], c[1], w) {
			return spread(c[0], c[1], w)
		}
	}
	room := w - ansi.StringWidth(roShort) - 2 // the badge's padding
	if room < 1 {
		return components.Clip(badge+roShort, w)
	}
	return components.Clip(m.st.ContextBadge.Render(components.Truncate(name, room, "…"))+roShort, w)
}

// minClusterShown is the narrowest the cluster is cut to before it goes;
// clusterKept is how much of it stays before the refresh state shortens.
const (
	minClusterShown = 8
	clusterKept     = 20
)

// fits says whether left and right fit on a line of width w (a space
// apart).
func fits(left, right string, w int) bool {
	lw := ansi.StringWidth(left)
	if right == "" {
		return lw <= w
	}
	return lw+1+ansi.StringWidth(right) <= w
}

// headerView is a view whose header says something else than the state
// of a load (a drain: its broker and its stage). The state comes from its
// longest form to its shortest, as statusVariants.
type headerView interface {
	header(m *Model) (cluster string, status []string)
}

var _ headerView = (*actionView)(nil)

// statusVariants is the refresh state at the right of the header, from
// its longest form to its shortest (which may be ""): a narrow header
// takes the first that fits. A refresh in flight puts the spinner first;
// alone, it is the shortest form.
func (m *Model) statusVariants() []string {
	r := &m.refresh
	vs := []string{""}
	if s := m.sourceOf(m.top()); s != nil {
		vs = m.statusOf(s)
	}
	if !r.inFlight {
		return vs
	}
	spin := m.spinner.View()
	out := make([]string, 0, len(vs)+1)
	for _, v := range vs {
		if v != "" {
			out = append(out, spin+" "+v)
		}
	}
	return append(out, spin)
}

// refreshedStatus is the state of data refreshed at t.
func (m *Model) refreshedStatus(t time.Time) []string {
	at := t.Format("15:04:05")
	return []string{m.st.Dim.Render("refreshed " + at), m.st.Dim.Render(at), ""}
}

// staleStatus is the state of data last refreshed at t: STALE stays to
// the end.
func (m *Model) staleStatus(t time.Time) []string {
	at := t.Format("15:04:05")
	age := fmtDuration(m.now().Sub(t))
	stale := m.st.Stale.Render("STALE")
	return []string{stale + " " + m.st.Dim.Render("last refresh "+at+" ("+age+" ago)"), stale + " " + m.st.Dim.Render(at), stale}
}

// crumbLine is the breadcrumbs and the row count. When narrow, the count
// shortens first ("3 of 10 groups", "3/10"), then the leading crumbs give
// way to "…" (the view on top stays), then the count goes.
func (m *Model) crumbLine(w int) string {
	sep := m.st.CrumbSepInk.Paint(" › ")
	crumbs := make([]string, len(m.stack))
	for i, v := range m.stack {
		crumbs[i] = m.st.CrumbInk.Paint(v.crumb())
	}
	t := m.top().focused()
	filter := ""
	if t.FilterText() != "" && m.mode != modeFilter {
		filter = "  " + m.st.InfoInk.Paint("/"+safe(t.FilterText()))
	}
	var rights []string
	marked := ""
	if n := t.MarkedCount(); n > 0 {
		marked = m.st.MarkedTextInk.Paint(fmtInt(int64(n))+" marked") + m.st.DimInk.Paint(" · ")
	}
	if _, own := m.top().(uncounted); m.hasData(m.top()) && !own {
		count, noun := fmtInt(int64(t.Len())), m.top().noun()
		short := count
		if t.Filtering() {
			count += " of " + fmtInt(int64(len(t.Rows())))
			short += "/" + fmtInt(int64(len(t.Rows())))
		} else if t.Len() == 1 {
			noun = singular(noun)
		}
		rights = append(rights, marked+m.st.DimInk.Paint(count+" "+noun), marked+m.st.DimInk.Paint(short), m.st.DimInk.Paint(short))
	} else if marked != "" {
		rights = append(rights, strings.TrimSuffix(marked, m.st.DimInk.Paint(" · ")))
	}
	rights = append(rights, "")
	for k := range crumbs {
		left := strings.Join(crumbs[k:], sep) + filter
		if k > 0 {
			left = m.st.CrumbSepInk.Paint("…") + sep + left
		}
		for _, r := range rights {
			if fits(left, r, w) {
				return spread(left, r, w)
			}
		}
	}
	return components.Clip(crumbs[len(crumbs)-1]+filter, w)
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
				lines = append(lines[:h-1:h-1], m.st.Dim.Render("… more: j/↓ scrolls, k/↑ back, esc closes"))
			}
		}
	case !m.hasData(m.top()):
		lines = m.placeholder()
	default:
		lines = m.summaryOf(m.top(), w, h)
	}
	lines = clipAll(lines, w, h)
	if m.mode == modeHelp || !m.hasData(m.top()) {
		return lines
	}
	return append(lines, m.top().body(&m.st)...)
}

// asker is a view waiting for the operator's answer to a question at
// the end of its summary (a peek that costs delivery attempts).
type asker interface {
	asking() bool
	// questionLines is how many of the summary's last lines, at width,
	// are the question.
	questionLines(width int) int
}

// summaryOf is v's summary as drawn above a body of height h: at most
// half of it, and never the table's header and selected row, which stay
// on screen. When it is longer, its first line (what the view is about)
// and its last ones (warnings and questions come last) are kept. A view
// waiting for an answer keeps its question whatever the body loses.
func (m *Model) summaryOf(v view, w, h int) []string {
	lines := v.summary(w)
	limit := max(min(h/2, h-2), 0)
	if a, ok := v.(asker); ok && a.asking() {
		// the question whole, and what comes before it as room allows;
		// taller than the body, its start (the numbers: the key hints
		// below say how to answer)
		if len(lines) <= h {
			return lines
		}
		if q := min(a.questionLines(w), len(lines)); q >= h {
			return lines[len(lines)-q : len(lines)-q+h]
		}
		return lines[len(lines)-h:]
	}
	switch {
	case len(lines) <= limit:
		return lines
	case limit <= 1:
		return lines[:limit]
	}
	return append(lines[:1:1], lines[len(lines)-limit+1:]...)
}

// clipAll returns at most h of lines, each clipped to w, in a new slice.
func clipAll(lines []string, w, h int) []string {
	out := make([]string, 0, min(len(lines), h)+1)
	for _, l := range lines[:min(len(lines), h)] {
		out = append(out, components.Clip(l, w))
	}
	return out
}

// placeholder is the body before the view's first data arrive.
func (m *Model) placeholder() []string {
	if s := m.sourceOf(m.top()); s != nil {
		return m.placeholderOf(s)
	}
	return nil
}

// keyHinter is a view that takes the keys itself (the action screen, a
// question waiting for its answer): the hint line shows its keys, nil
// when the console's are the ones that work.
type keyHinter interface {
	hints() []key.Binding
}

// hintLine is the keys of the mode and the stage on screen, as many as
// fit: when they do not all fit, the least useful go first and `? help`
// stays (keys.Fit).
func (m *Model) hintLine(w int) string {
	return keys.Footer(m.footerKeys(), w, &m.st)
}

func (m *Model) bottomLine(w int) string {
	switch m.mode {
	case modePalette:
		return m.palette.View()
	case modeFilter:
		line := m.filter.View()
		if m.filterErr != nil {
			line += "  " + m.st.FlashError.Render("✗ "+errText(m.filterErr))
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
		return left + components.Spaces(w-lw-rw) + right
	}
	if rw+1 >= w {
		return components.Clip(right, w)
	}
	return components.Clip(left, w-rw-1) + " " + right
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
