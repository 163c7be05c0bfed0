package tui

import (
	"cmp"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// column describes one table column.
type column struct {
	title string
	right bool // right-aligned (numbers)
	min   int  // narrowest the column gets when the terminal is narrow
	max   int  // widest it gets (0: as wide as its widest cell)
	flex  bool // may shrink when the terminal is narrow
	// name marks the column that names the row (a group, a topic, a
	// queue): it keeps its width (up to half the table) while the
	// secondary columns shrink and drop; it shrinks, to its min, last.
	name bool
	// shrink orders the secondary flexible columns: higher values give
	// up their width first (long member ids before the note that flags
	// data loss).
	shrink int
	// drop orders the columns that may disappear when the secondary
	// columns, shrunk to their min, still do not fit: higher values go
	// first; 0 never goes.
	drop int
	// tail: a cell too wide keeps its end (an exception's class name at
	// the end of its package), not its start.
	tail  bool
	num   bool // sorts by row.nums instead of the cell text
	desc  bool // default sort order is descending
	plain bool // not sortable nor searched (sparklines)
	// nosort: searched by the filter but not sortable (lines of a message,
	// whose order is their meaning).
	nosort bool
}

// row is one precomputed table row. Cells hold sanitized, unstyled text,
// built once when the data arrives; drawing only slices, pads and styles the
// rows on screen.
type row struct {
	id     string      // identity: keeps the cursor and marks across refreshes
	ref    string      // what enter opens (a group or topic name), if anything
	cells  []string    // one per column
	styles []cellStyle // nil, or one per column
	nums   []float64   // sort keys of numeric columns (NaN: missing), one per column
}

// filterSpec is a compiled `/` filter: a case-insensitive regular
// expression, inverted by a leading `!`.
type filterSpec struct {
	text   string
	re     *regexp.Regexp
	invert bool
}

func compileFilter(text string) (filterSpec, error) {
	f := filterSpec{text: text}
	pat := text
	if strings.HasPrefix(pat, "!") {
		f.invert = true
		pat = pat[1:]
	}
	if pat == "" {
		return filterSpec{text: text}, nil
	}
	re, err := regexp.Compile("(?i)" + pat)
	if err != nil {
		return filterSpec{}, err
	}
	f.re = re
	return f, nil
}

func (f filterSpec) active() bool { return f.re != nil }

// table is a virtualized table: it holds every row but draws only the
// window that fits on screen, so 100,000 rows scroll like 10.
type table struct {
	cols    []column
	rows    []row
	order   []int // indices of rows, sorted
	visible []int // order, filtered
	cursor  int   // position in visible
	offset  int   // first position of visible drawn

	width, height int    // height counts the header line
	natural       []int  // widest cell per column, header included
	filled        []bool // the column has a cell that is not empty
	widths        []int  // fitted to width
	laidW         int    // the width widths were fitted to; -1: to be redone

	sortCol  int
	sortDesc bool
	filter   filterSpec
	marks    map[string]bool
	empty    string // shown when there are no rows
}

const (
	// nameCap is the widest a name column is kept when the row does not
	// fit: longer names are cut rather than costing every other column.
	nameCap   = 48
	colGap    = 2
	gutter    = 2 // mark indicator
	sortArrow = 1
)

func newTable(cols []column, sortCol int, desc bool) *table {
	return &table{cols: cols, sortCol: sortCol, sortDesc: desc, marks: map[string]bool{}, laidW: -1}
}

// setRows replaces the rows, keeping the selected row, the sort, the filter
// and the marks of rows that are still there.
func (t *table) setRows(rows []row) {
	selected := t.selectedID()
	t.rows = rows
	t.natural = make([]int, len(t.cols))
	t.filled = make([]bool, len(t.cols))
	for i, c := range t.cols {
		t.natural[i] = ansi.StringWidth(c.title) + sortArrow
	}
	ids := make(map[string]struct{}, min(len(t.marks), len(rows)))
	for ri := range rows {
		r := &rows[ri]
		for i, s := range r.cells {
			if i >= len(t.natural) {
				break
			}
			if len(s) > t.natural[i] || hasWide(s) {
				t.natural[i] = max(t.natural[i], cellWidth(s))
			}
			if s != "" {
				t.filled[i] = true
			}
		}
		if len(t.marks) > 0 && t.marks[r.id] {
			ids[r.id] = struct{}{}
		}
	}
	for id := range t.marks {
		if _, ok := ids[id]; !ok {
			delete(t.marks, id)
		}
	}
	t.sortRows()
	t.applyFilter(selected)
	t.laidW = -1
	t.layout()
}

// hasWide reports whether s has non-ASCII bytes, whose display width can
// differ from their length.
func hasWide(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	return false
}

// cellWidth is the display width of plain cell text. Sparklines (block
// elements, one cell each) and ASCII are counted directly; anything else
// goes through the grapheme-aware ansi.StringWidth.
func cellWidth(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case r < 0x80 && r >= 0x20, r >= 0x2580 && r <= 0x259f:
			n++
		default:
			return ansi.StringWidth(s)
		}
	}
	return n
}

func (t *table) setSize(width, height int) {
	t.width, t.height = max(width, 0), max(height, 0)
	t.layout()
	t.scroll()
}

// layout fits the column widths into the table width. Each column is as
// wide as its widest cell (within its max). When the row is too wide, the
// columns give up their width in this order:
//
//  1. the name columns are held to half the table (at most nameCap), and
//     the secondary flexible columns with a shrink order (long free text:
//     exceptions, member ids, notes) shrink, down to their title;
//  2. the droppable columns go, in drop order (a column with nothing to
//     show first), each drop giving the others their width back;
//  3. with every droppable column gone, the secondary flexible columns
//     shrink to their min;
//  4. only then do the names shrink, to their min; what still does not
//     fit is cut at the right edge.
//
// Room left over goes to the names, up to their natural width. The result
// is kept until the width, the rows or the columns change: a keystroke
// does not redo it.
func (t *table) layout() {
	if t.laidW == t.width && len(t.widths) == len(t.cols) && len(t.natural) == len(t.cols) {
		return
	}
	t.laidW = t.width
	t.widths = make([]int, len(t.cols))
	if len(t.natural) != len(t.cols) {
		t.natural = make([]int, len(t.cols))
		for i, c := range t.cols {
			t.natural[i] = ansi.StringWidth(c.title) + sortArrow
		}
	}
	full := make([]int, len(t.cols)) // natural, within max
	for i, c := range t.cols {
		full[i] = t.natural[i]
		if c.max > 0 {
			full[i] = min(full[i], max(c.max, ansi.StringWidth(c.title)+sortArrow))
		}
	}
	copy(t.widths, full)
	if t.lineWidth() <= t.width {
		return
	}
	base := make([]int, len(t.cols))
	for i, c := range t.cols {
		base[i] = full[i]
		if c.name {
			base[i] = min(full[i], max(min(t.width/2, nameCap), c.min, 1))
		}
	}
	// droppable columns, first to go first; a column without a cell to
	// show (no note on any row) goes before them all
	var drops []int
	empty := func(i int) bool { return len(t.rows) > 0 && i < len(t.filled) && !t.filled[i] && !t.cols[i].name }
	for i, c := range t.cols {
		if c.drop > 0 || empty(i) {
			drops = append(drops, i)
		}
	}
	slices.SortStableFunc(drops, func(a, b int) int {
		if ea, eb := empty(a), empty(b); ea != eb {
			if ea {
				return -1
			}
			return 1
		}
		return cmp.Compare(t.cols[b].drop, t.cols[a].drop)
	})
	for k := 0; k <= len(drops); k++ {
		copy(t.widths, base)
		for _, i := range drops[:k] {
			t.widths[i] = 0
		}
		if t.shrinkTo(shrinkEarly) {
			t.growNames(full)
			return
		}
	}
	if !t.shrinkTo(shrinkSecondary) {
		t.shrinkTo(shrinkNames)
	}
}

// The stages of shrinkTo.
const (
	shrinkEarly     = iota // secondary columns with a shrink order, to their title
	shrinkSecondary        // every secondary flexible column, to its min
	shrinkNames            // then the names, to their min
)

// shrinkTo narrows columns until the row fits: the secondary flexible
// columns (by shrink order, then widest first), and at the last stage the
// names (widest first) once the others are at their min. The widest
// shrinks in one step to the next widest (a cell of a megabyte costs no
// more than a short one). It reports whether the row fits.
func (t *table) shrinkTo(stage int) bool {
	// floor is how narrow column i may get at this stage; ok false: it
	// does not shrink now.
	floor := func(i int, names bool) (int, bool) {
		c := &t.cols[i]
		f := max(c.min, 1)
		switch {
		case c.name != names, !c.flex && !c.name, t.widths[i] == 0:
			return 0, false
		case stage == shrinkEarly && c.shrink == 0:
			return 0, false
		case stage == shrinkEarly:
			f = max(f, min(t.natural[i], ansi.StringWidth(c.title)+sortArrow))
		}
		return f, t.widths[i] > f
	}
	for over := t.lineWidth() - t.width; over > 0; {
		victim, vf := -1, 0
		for _, names := range []bool{false, true} {
			if names && (stage != shrinkNames || victim >= 0) {
				break
			}
			for i, c := range t.cols {
				f, ok := floor(i, names)
				if !ok {
					continue
				}
				if victim < 0 || c.shrink > t.cols[victim].shrink ||
					c.shrink == t.cols[victim].shrink && t.widths[i] > t.widths[victim] {
					victim, vf = i, f
				}
			}
		}
		if victim < 0 {
			return false
		}
		next := vf // the next widest of its rank, or its floor
		for i, c := range t.cols {
			if _, ok := floor(i, t.cols[victim].name); ok && i != victim && c.shrink == t.cols[victim].shrink {
				next = max(next, t.widths[i])
			}
		}
		step := max(1, min(over, t.widths[victim]-next))
		t.widths[victim] -= step
		over -= step
	}
	return true
}

// growNames gives the room left on the row to the name columns, up to
// their natural width.
func (t *table) growNames(full []int) {
	room := t.width - t.lineWidth()
	for i, c := range t.cols {
		if room <= 0 {
			return
		}
		if c.name && t.widths[i] > 0 && t.widths[i] < full[i] {
			g := min(room, full[i]-t.widths[i])
			t.widths[i] += g
			room -= g
		}
	}
}

// lineWidth is the width of a full row with the current column widths;
// columns of width 0 are hidden, gap included.
func (t *table) lineWidth() int {
	w, n := gutter, 0
	for _, cw := range t.widths {
		if cw > 0 {
			w += cw
			n++
		}
	}
	return w + colGap*max(n-1, 0)
}

func (t *table) bodyHeight() int { return max(t.height-1, 0) }

func (t *table) len() int { return len(t.visible) }

func (t *table) selected() (*row, bool) {
	if t.cursor < 0 || t.cursor >= len(t.visible) {
		return nil, false
	}
	return &t.rows[t.visible[t.cursor]], true
}

func (t *table) selectedID() string {
	if r, ok := t.selected(); ok {
		return r.id
	}
	return ""
}

// move moves the cursor by delta rows, clamped.
func (t *table) move(delta int) {
	t.cursor = max(0, min(t.cursor+delta, len(t.visible)-1))
	t.scroll()
}

func (t *table) top()      { t.cursor = 0; t.scroll() }
func (t *table) bottom()   { t.cursor = max(len(t.visible)-1, 0); t.scroll() }
func (t *table) pageUp()   { t.move(-max(t.bodyHeight()-1, 1)) }
func (t *table) pageDown() { t.move(max(t.bodyHeight()-1, 1)) }

// scroll keeps the cursor inside the drawn window.
func (t *table) scroll() {
	h := t.bodyHeight()
	if h <= 0 || len(t.visible) == 0 {
		t.offset = 0
		return
	}
	if t.cursor < t.offset {
		t.offset = t.cursor
	}
	if t.cursor >= t.offset+h {
		t.offset = t.cursor - h + 1
	}
	t.offset = max(0, min(t.offset, len(t.visible)-h))
}

// toggleMark marks or unmarks the selected row and moves down.
func (t *table) toggleMark() {
	r, ok := t.selected()
	if !ok {
		return
	}
	if t.marks[r.id] {
		delete(t.marks, r.id)
	} else {
		t.marks[r.id] = true
	}
	t.move(1)
}

func (t *table) markedCount() int { return len(t.marks) }

// markedIDs are the ids of the marked rows, sorted.
func (t *table) markedIDs() []string {
	ids := make([]string, 0, len(t.marks))
	for id := range t.marks {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// cycleSort sorts by the next (dir > 0) or previous sortable column, in that
// column's default order.
func (t *table) cycleSort(dir int) {
	n := len(t.cols)
	for i := 1; i <= n; i++ {
		c := ((t.sortCol+dir*i)%n + n) % n
		if !t.cols[c].plain && !t.cols[c].nosort {
			t.sortCol, t.sortDesc = c, t.cols[c].desc
			break
		}
	}
	t.resort()
}

func (t *table) reverseSort() {
	t.sortDesc = !t.sortDesc
	t.resort()
}

func (t *table) resort() {
	sel := t.selectedID()
	t.sortRows()
	t.applyFilter(sel)
}

// sortRows orders the rows by the sort column; ties and missing values keep
// the order the rows were built in, and missing values go last either way.
func (t *table) sortRows() {
	if cap(t.order) >= len(t.rows) {
		t.order = t.order[:len(t.rows)]
	} else {
		t.order = make([]int, len(t.rows))
	}
	for i := range t.order {
		t.order[i] = i
	}
	c := t.sortCol
	if c < 0 || c >= len(t.cols) || t.cols[c].plain || t.cols[c].nosort {
		return
	}
	desc := t.sortDesc
	if t.cols[c].num {
		slices.SortStableFunc(t.order, func(a, b int) int {
			x, y := num(&t.rows[a], c), num(&t.rows[b], c)
			xn, yn := math.IsNaN(x), math.IsNaN(y)
			switch {
			case xn && yn:
				return 0
			case xn:
				return 1
			case yn:
				return -1
			}
			if desc {
				return cmp.Compare(y, x)
			}
			return cmp.Compare(x, y)
		})
		return
	}
	slices.SortStableFunc(t.order, func(a, b int) int {
		x, y := t.rows[a].cells[c], t.rows[b].cells[c]
		if desc {
			return strings.Compare(y, x)
		}
		return strings.Compare(x, y)
	})
}

func num(r *row, c int) float64 {
	if c < len(r.nums) {
		return r.nums[c]
	}
	return math.NaN()
}

// setFilter applies a `/` filter. An invalid expression is returned as an
// error and the previous filter stays.
func (t *table) setFilter(text string) error {
	f, err := compileFilter(text)
	if err != nil {
		return err
	}
	sel := t.selectedID()
	t.filter = f
	t.applyFilter(sel)
	return nil
}

func (t *table) clearFilter() {
	if t.filter.text == "" {
		return
	}
	sel := t.selectedID()
	t.filter = filterSpec{}
	t.applyFilter(sel)
}

// applyFilter rebuilds the visible rows and puts the cursor back on the row
// with id sel when it is still visible.
func (t *table) applyFilter(sel string) {
	if !t.filter.active() {
		t.visible = append(t.visible[:0], t.order...)
	} else {
		t.visible = t.visible[:0]
		for _, i := range t.order {
			if t.match(&t.rows[i]) != t.filter.invert {
				t.visible = append(t.visible, i)
			}
		}
	}
	t.cursor = max(0, min(t.cursor, len(t.visible)-1))
	if sel != "" {
		for p, i := range t.visible {
			if t.rows[i].id == sel {
				t.cursor = p
				break
			}
		}
	}
	t.scroll()
}

func (t *table) match(r *row) bool {
	for i, s := range r.cells {
		if i < len(t.cols) && t.cols[i].plain {
			continue
		}
		if t.filter.re.MatchString(s) {
			return true
		}
	}
	return false
}

// view draws the header and the visible window of rows: at most t.height
// lines, none wider than t.width.
func (t *table) view(st *styles, focused bool) []string {
	if t.height <= 0 || t.width <= 0 {
		return nil
	}
	lines := make([]string, 0, t.height)
	lines = append(lines, t.headerLine(st))
	if len(t.visible) == 0 {
		msg := t.empty
		if t.filter.active() && len(t.rows) > 0 {
			msg = "no rows match the filter"
		}
		if msg != "" && t.height > 1 {
			lines = append(lines, st.dim.Render(ansi.Truncate("  "+msg, t.width, "…")))
		}
		return lines
	}
	end := min(t.offset+t.bodyHeight(), len(t.visible))
	var b strings.Builder
	for p := t.offset; p < end; p++ {
		r := &t.rows[t.visible[p]]
		lines = append(lines, t.rowLine(&b, st, r, focused && p == t.cursor))
	}
	return lines
}

func (t *table) headerLine(st *styles) string {
	var b strings.Builder
	b.WriteString(spaces(gutter))
	first := true
	for i, c := range t.cols {
		if t.widths[i] == 0 {
			continue
		}
		if !first {
			b.WriteString(spaces(colGap))
		}
		first = false
		title := c.title
		if i == t.sortCol && !c.plain && !c.nosort {
			if t.sortDesc {
				title += "↓"
			} else {
				title += "↑"
			}
		}
		b.WriteString(fit(title, t.widths[i], c.right))
	}
	return st.headerInk.paint(clip(b.String(), t.width))
}

func (t *table) rowLine(b *strings.Builder, st *styles, r *row, selected bool) string {
	b.Reset()
	marked := t.marks[r.id]
	if selected {
		if marked {
			b.WriteString("● ")
		} else {
			b.WriteString(spaces(gutter))
		}
		first := true
		for i, c := range t.cols {
			if t.widths[i] == 0 {
				continue
			}
			if !first {
				b.WriteString(spaces(colGap))
			}
			first = false
			b.WriteString(fitCell(&c, cell(r, i), t.widths[i]))
		}
		return st.selectedInk.paint(padRight(clip(b.String(), t.width), t.width))
	}
	if marked {
		b.WriteString(st.markedInk.paint("●"))
		b.WriteByte(' ')
	} else {
		b.WriteString(spaces(gutter))
	}
	used := gutter
	for i, c := range t.cols {
		if used >= t.width {
			break
		}
		if t.widths[i] == 0 {
			continue
		}
		if used > gutter {
			b.WriteString(spaces(colGap))
			used += colGap
		}
		w := min(t.widths[i], max(t.width-used, 0))
		text := fitCell(&c, cell(r, i), w)
		if s := cellStyleOf(r, i); s != cellPlain {
			text = st.cellInk[s].paint(text)
		} else if marked {
			text = st.markedInk.paint(text)
		}
		b.WriteString(text)
		used += w
	}
	line := b.String()
	if used > t.width {
		line = truncate(line, t.width, "")
	}
	return line
}

func cell(r *row, i int) string {
	if i < len(r.cells) {
		return r.cells[i]
	}
	return ""
}

func cellStyleOf(r *row, i int) cellStyle {
	if i < len(r.styles) {
		return r.styles[i]
	}
	return cellPlain
}

// fitCell fits a cell of column c to w cells.
func fitCell(c *column, s string, w int) string {
	if c.tail {
		return fitTail(s, w)
	}
	return fit(s, w, c.right)
}

// fitTail pads or truncates plain text s to exactly w cells, a cut
// keeping its end.
func fitTail(s string, w int) string {
	sw := len(s)
	if hasWide(s) {
		sw = cellWidth(s)
	}
	if sw <= w || w <= 0 {
		return fit(s, w, false)
	}
	out := ansi.TruncateLeft(s, sw-w+1, "…")
	for cut := sw - w + 2; ansi.StringWidth(out) > w && cut <= sw; cut++ {
		out = ansi.TruncateLeft(s, cut, "…")
	}
	return fit(out, w, false)
}

// fit pads or truncates plain text s to exactly w cells.
func fit(s string, w int, right bool) string {
	if w <= 0 {
		return ""
	}
	sw := len(s)
	if hasWide(s) {
		sw = cellWidth(s)
	}
	if sw > w {
		s = truncate(s, w, "…")
		sw = ansi.StringWidth(s)
	}
	if sw == w {
		return s
	}
	if right {
		return spaces(w-sw) + s
	}
	return s + spaces(w-sw)
}

// clip truncates a line to w cells.
func clip(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= w {
		return s
	}
	return truncate(s, w, "…")
}

// truncate is ansi.Truncate cut until ansi.StringWidth agrees that it fits:
// Truncate counts some clusters narrower than StringWidth does (a digit
// with U+FE0F is one cell to it, two to StringWidth and the terminal), and
// a line one cell too wide wraps and breaks the frame.
func truncate(s string, w int, tail string) string {
	out := ansi.Truncate(s, w, tail)
	for cut := w - 1; cut >= 0 && ansi.StringWidth(out) > w; cut-- {
		out = ansi.Truncate(s, cut, tail)
	}
	return out
}

func padRight(s string, w int) string {
	if sw := ansi.StringWidth(s); sw < w {
		return s + spaces(w-sw)
	}
	return s
}

var spaceRun = strings.Repeat(" ", 256)

func spaces(n int) string {
	if n <= 0 {
		return ""
	}
	if n <= len(spaceRun) {
		return spaceRun[:n]
	}
	return strings.Repeat(" ", n)
}
