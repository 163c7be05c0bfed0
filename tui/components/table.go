// Package components holds the console's reusable parts: the virtualized
// table, the sparkline, the flash line, the summary lines and the one-line
// text inputs. They know nothing of the views or the root model (tui):
// they draw what they are given with the styles they are given.
package components

import (
	"cmp"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/charmbracelet/x/ansi"
	"github.com/mqops/mqops/tui/styles"
)

// Column describes one table column.
type Column struct {
	Title string
	Right bool // right-aligned (numbers)
	Min   int  // narrowest the column gets when the terminal is narrow
	Max   int  // widest it gets (0: as wide as its widest cell)
	Flex  bool // may shrink when the terminal is narrow
	// name marks the column that names the row (a group, a topic, a
	// queue): it keeps its width (up to half the table) while the
	// secondary columns shrink and drop; it shrinks, to its min, last.
	Name bool
	// shrink orders the secondary flexible columns: higher values give
	// up their width first (long member ids before the note that flags
	// data loss).
	Shrink int
	// drop orders the columns that may disappear when the secondary
	// columns, shrunk to their min, still do not fit: higher values go
	// first; 0 never goes.
	Drop int
	// tail: a cell too wide keeps its end (an exception's class name at
	// the end of its package), not its start.
	Tail  bool
	Num   bool // sorts by row.nums instead of the cell text
	Desc  bool // default sort order is descending
	Plain bool // not sortable nor searched (sparklines)
	// nosort: searched by the filter but not sortable (lines of a message,
	// whose order is their meaning).
	NoSort bool
}

// Row is one precomputed table row. Cells hold sanitized, unstyled text,
// built once when the data arrives; drawing only slices, pads and styles the
// rows on screen.
type Row struct {
	ID     string             // identity: keeps the cursor and marks across refreshes
	Ref    string             // what enter opens (a group or topic name), if anything
	Cells  []string           // one per column
	Styles []styles.CellStyle // nil, or one per column
	Nums   []float64          // sort keys of numeric columns (NaN: missing), one per column
	// Group is the scope the row belongs to: a scoped table (SetScope)
	// shows only the rows of one group, and keeps the marks of all.
	Group string
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

// Table is a virtualized table: it holds every row but draws only the
// window that fits on screen, so 100,000 rows scroll like 10.
type Table struct {
	cols    []Column
	rows    []Row
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
	scoped   bool   // only the rows of group scope are shown
	scope    string // the group shown when scoped
	Empty    string // shown when there are no rows
}

const (
	// nameCap is the widest a name column is kept when the row does not
	// fit: longer names are cut rather than costing every other column.
	nameCap   = 48
	ColGap    = 2
	Gutter    = 2 // mark indicator
	SortArrow = 1
)

func NewTable(cols []Column, sortCol int, desc bool) *Table {
	return &Table{cols: cols, sortCol: sortCol, sortDesc: desc, marks: map[string]bool{}, laidW: -1}
}

// SetRows replaces the rows, keeping the selected row, the sort, the filter
// and the marks of rows that are still there.
func (t *Table) SetRows(rows []Row) {
	selected := t.SelectedID()
	t.rows = rows
	t.natural = make([]int, len(t.cols))
	t.filled = make([]bool, len(t.cols))
	for i, c := range t.cols {
		t.natural[i] = ansi.StringWidth(c.Title) + SortArrow
	}
	ids := make(map[string]struct{}, min(len(t.marks), len(rows)))
	for ri := range rows {
		r := &rows[ri]
		for i, s := range r.Cells {
			if i >= len(t.natural) {
				break
			}
			if len(s) > t.natural[i] || hasWide(s) {
				t.natural[i] = max(t.natural[i], CellWidth(s))
			}
			if s != "" {
				t.filled[i] = true
			}
		}
		if len(t.marks) > 0 && t.marks[r.ID] {
			ids[r.ID] = struct{}{}
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

// CellWidth is the display width of plain cell text. Sparklines (block
// elements, one cell each) and ASCII are counted directly; anything else
// goes through the grapheme-aware ansi.StringWidth.
func CellWidth(s string) int {
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

func (t *Table) SetSize(width, height int) {
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
func (t *Table) layout() {
	if t.laidW == t.width && len(t.widths) == len(t.cols) && len(t.natural) == len(t.cols) {
		return
	}
	t.laidW = t.width
	t.widths = make([]int, len(t.cols))
	if len(t.natural) != len(t.cols) {
		t.natural = make([]int, len(t.cols))
		for i, c := range t.cols {
			t.natural[i] = ansi.StringWidth(c.Title) + SortArrow
		}
	}
	full := make([]int, len(t.cols)) // natural, within max
	for i, c := range t.cols {
		full[i] = t.natural[i]
		if c.Max > 0 {
			full[i] = min(full[i], max(c.Max, ansi.StringWidth(c.Title)+SortArrow))
		}
	}
	copy(t.widths, full)
	if t.lineWidth() <= t.width {
		return
	}
	base := make([]int, len(t.cols))
	for i, c := range t.cols {
		base[i] = full[i]
		if c.Name {
			base[i] = min(full[i], max(min(t.width/2, nameCap), c.Min, 1))
		}
	}
	// droppable columns, first to go first; a column without a cell to
	// show (no note on any row) goes before them all
	var drops []int
	empty := func(i int) bool { return len(t.rows) > 0 && i < len(t.filled) && !t.filled[i] && !t.cols[i].Name }
	for i, c := range t.cols {
		if c.Drop > 0 || empty(i) {
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
		return cmp.Compare(t.cols[b].Drop, t.cols[a].Drop)
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
func (t *Table) shrinkTo(stage int) bool {
	// floor is how narrow column i may get at this stage; ok false: it
	// does not shrink now.
	floor := func(i int, names bool) (int, bool) {
		c := &t.cols[i]
		f := max(c.Min, 1)
		switch {
		case c.Name != names, !c.Flex && !c.Name, t.widths[i] == 0:
			return 0, false
		case stage == shrinkEarly && c.Shrink == 0:
			return 0, false
		case stage == shrinkEarly:
			f = max(f, min(t.natural[i], ansi.StringWidth(c.Title)+SortArrow))
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
				if victim < 0 || c.Shrink > t.cols[victim].Shrink ||
					c.Shrink == t.cols[victim].Shrink && t.widths[i] > t.widths[victim] {
					victim, vf = i, f
				}
			}
		}
		if victim < 0 {
			return false
		}
		next := vf // the next widest of its rank, or its floor
		for i, c := range t.cols {
			if _, ok := floor(i, t.cols[victim].Name); ok && i != victim && c.Shrink == t.cols[victim].Shrink {
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
func (t *Table) growNames(full []int) {
	room := t.width - t.lineWidth()
	for i, c := range t.cols {
		if room <= 0 {
			return
		}
		if c.Name && t.widths[i] > 0 && t.widths[i] < full[i] {
			g := min(room, full[i]-t.widths[i])
			t.widths[i] += g
			room -= g
		}
	}
}

// lineWidth is the width of a full row with the current column widths;
// columns of width 0 are hidden, gap included.
func (t *Table) lineWidth() int {
	w, n := Gutter, 0
	for _, cw := range t.widths {
		if cw > 0 {
			w += cw
			n++
		}
	}
	return w + ColGap*max(n-1, 0)
}

// Rows are every row, filtered out or not, in the order they were set.
func (t *Table) Rows() []Row { return t.rows }

// VisibleIDs are the ids of the rows shown (sorted, filtered), in order.
func (t *Table) VisibleIDs() []string {
	ids := make([]string, 0, len(t.visible))
	for _, i := range t.visible {
		ids = append(ids, t.rows[i].ID)
	}
	return ids
}

// FilterText is the `/` filter as typed; "" when there is none.
func (t *Table) FilterText() string { return t.filter.text }

// Filtering reports whether a filter hides the rows that do not match.
func (t *Table) Filtering() bool { return t.filter.active() }

// Cursor is the position of the selected row among the rows shown.
func (t *Table) Cursor() int { return t.cursor }

// Offset is the position of the first row drawn.
func (t *Table) Offset() int { return t.offset }

// Width and Height are the table's size, its header line included.
func (t *Table) Width() int  { return t.width }
func (t *Table) Height() int { return t.height }

// Widths are the column widths fitted to the width (0: a column dropped).
func (t *Table) Widths() []int { return t.widths }

// AddColumn appends a column; the rows set next may fill it.
func (t *Table) AddColumn(c Column) {
	t.cols = append(t.cols, c)
	t.laidW = -1
}

// Sortable reports whether a column sorts (s, S).
func (t *Table) Sortable() bool {
	for _, c := range t.cols {
		if !c.Plain && !c.NoSort {
			return true
		}
	}
	return false
}

// Columns is how many columns the table has.
func (t *Table) Columns() int { return len(t.cols) }

// ColumnTitle is the title of column i ("" when there is none).
func (t *Table) ColumnTitle(i int) string {
	if i < 0 || i >= len(t.cols) {
		return ""
	}
	return t.cols[i].Title
}

// SortedBy is the title of the sort column and whether it sorts
// descending ("" when the table is not sorted).
func (t *Table) SortedBy() (string, bool) {
	if t.sortCol < 0 || t.sortCol >= len(t.cols) {
		return "", t.sortDesc
	}
	return t.cols[t.sortCol].Title, t.sortDesc
}

func (t *Table) BodyHeight() int { return max(t.height-1, 0) }

func (t *Table) Len() int { return len(t.visible) }

func (t *Table) Selected() (*Row, bool) {
	if t.cursor < 0 || t.cursor >= len(t.visible) {
		return nil, false
	}
	return &t.rows[t.visible[t.cursor]], true
}

func (t *Table) SelectedID() string {
	if r, ok := t.Selected(); ok {
		return r.ID
	}
	return ""
}

// Move moves the cursor by delta rows, clamped.
func (t *Table) Move(delta int) {
	t.cursor = max(0, min(t.cursor+delta, len(t.visible)-1))
	t.scroll()
}

func (t *Table) Top()      { t.cursor = 0; t.scroll() }
func (t *Table) Bottom()   { t.cursor = max(len(t.visible)-1, 0); t.scroll() }
func (t *Table) PageUp()   { t.Move(-max(t.BodyHeight()-1, 1)) }
func (t *Table) PageDown() { t.Move(max(t.BodyHeight()-1, 1)) }

// scroll keeps the cursor inside the drawn window.
func (t *Table) scroll() {
	h := t.BodyHeight()
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

// ToggleMark marks or unmarks the selected row and moves down.
func (t *Table) ToggleMark() {
	r, ok := t.Selected()
	if !ok {
		return
	}
	if t.marks[r.ID] {
		delete(t.marks, r.ID)
	} else {
		t.marks[r.ID] = true
	}
	t.Move(1)
}

// MarkedCount is how many rows are marked.
func (t *Table) MarkedCount() int { return len(t.marks) }

// MarkedIDs are the ids of the marked rows: the ones shown in their order
// on screen, then those the filter hides.
func (t *Table) MarkedIDs() []string {
	if len(t.marks) == 0 {
		return nil
	}
	ids := make([]string, 0, len(t.marks))
	shown := make(map[string]bool, len(t.marks))
	for _, i := range t.visible {
		if id := t.rows[i].ID; t.marks[id] {
			ids = append(ids, id)
			shown[id] = true
		}
	}
	for _, i := range t.order {
		if id := t.rows[i].ID; t.marks[id] && !shown[id] {
			ids = append(ids, id)
		}
	}
	return ids
}

// Unmark removes the mark of row id, if it has one.
func (t *Table) Unmark(id string) { delete(t.marks, id) }

// Select puts the cursor on row id; false when no row shown has that id.
func (t *Table) Select(id string) bool {
	for p, i := range t.visible {
		if t.rows[i].ID == id {
			t.cursor = p
			t.scroll()
			return true
		}
	}
	return false
}

// NameOf is the cell of r's first name column ("" without one).
func (t *Table) NameOf(r *Row) string {
	for i, c := range t.cols {
		if c.Name && i < len(r.Cells) {
			return r.Cells[i]
		}
	}
	return ""
}

// CycleSort sorts by the next (dir > 0) or previous sortable column, in that
// column's default order.
func (t *Table) CycleSort(dir int) {
	n := len(t.cols)
	for i := 1; i <= n; i++ {
		c := ((t.sortCol+dir*i)%n + n) % n
		if !t.cols[c].Plain && !t.cols[c].NoSort {
			t.sortCol, t.sortDesc = c, t.cols[c].Desc
			break
		}
	}
	t.resort()
}

func (t *Table) ReverseSort() {
	t.sortDesc = !t.sortDesc
	t.resort()
}

func (t *Table) resort() {
	sel := t.SelectedID()
	t.sortRows()
	t.applyFilter(sel)
}

// sortRows orders the rows by the sort column; ties and missing values keep
// the order the rows were built in, and missing values go last either way.
func (t *Table) sortRows() {
	if cap(t.order) >= len(t.rows) {
		t.order = t.order[:len(t.rows)]
	} else {
		t.order = make([]int, len(t.rows))
	}
	for i := range t.order {
		t.order[i] = i
	}
	c := t.sortCol
	if c < 0 || c >= len(t.cols) || t.cols[c].Plain || t.cols[c].NoSort {
		return
	}
	desc := t.sortDesc
	if t.cols[c].Num {
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
		x, y := t.rows[a].Cells[c], t.rows[b].Cells[c]
		if desc {
			return strings.Compare(y, x)
		}
		return strings.Compare(x, y)
	})
}

func num(r *Row, c int) float64 {
	if c < len(r.Nums) {
		return r.Nums[c]
	}
	return math.NaN()
}

// SetFilter applies a `/` filter. An invalid expression is returned as an
// error and the previous filter stays.
func (t *Table) SetFilter(text string) error {
	f, err := compileFilter(text)
	if err != nil {
		return err
	}
	sel := t.SelectedID()
	t.filter = f
	t.applyFilter(sel)
	return nil
}

func (t *Table) ClearFilter() {
	if t.filter.text == "" {
		return
	}
	sel := t.SelectedID()
	t.filter = filterSpec{}
	t.applyFilter(sel)
}

// SetScope shows only the rows of group (Row.Group), as a pane of the
// rows of the item selected in another; the rows of the other groups keep
// their marks (MarkedIDs names them after the ones shown).
func (t *Table) SetScope(group string) {
	if t.scoped && t.scope == group {
		return
	}
	t.scoped, t.scope = true, group
	t.cursor, t.offset = 0, 0 // another group's rows: from the first
	t.applyFilter("")
}

// Scope is the group shown, and whether the table is scoped.
func (t *Table) Scope() (string, bool) { return t.scope, t.scoped }

// InScope counts the rows of the group shown (every row when the table
// is not scoped), before the filter.
func (t *Table) InScope() int {
	if !t.scoped {
		return len(t.rows)
	}
	n := 0
	for i := range t.rows {
		if t.rows[i].Group == t.scope {
			n++
		}
	}
	return n
}

// applyFilter rebuilds the visible rows and puts the cursor back on the row
// with id sel when it is still visible.
func (t *Table) applyFilter(sel string) {
	if !t.filter.active() && !t.scoped {
		t.visible = append(t.visible[:0], t.order...)
	} else {
		t.visible = t.visible[:0]
		for _, i := range t.order {
			r := &t.rows[i]
			if t.scoped && r.Group != t.scope {
				continue
			}
			if !t.filter.active() || t.match(r) != t.filter.invert {
				t.visible = append(t.visible, i)
			}
		}
	}
	t.cursor = max(0, min(t.cursor, len(t.visible)-1))
	if sel != "" {
		for p, i := range t.visible {
			if t.rows[i].ID == sel {
				t.cursor = p
				break
			}
		}
	}
	t.scroll()
}

func (t *Table) match(r *Row) bool {
	for i, s := range r.Cells {
		if i < len(t.cols) && t.cols[i].Plain {
			continue
		}
		if t.filter.re.MatchString(s) {
			return true
		}
	}
	return false
}

// View draws the header and the visible window of rows: at most t.height
// lines, none wider than t.width.
func (t *Table) View(st *styles.Styles, focused bool) []string {
	if t.height <= 0 || t.width <= 0 {
		return nil
	}
	lines := make([]string, 0, t.height)
	lines = append(lines, t.headerLine(st))
	if len(t.visible) == 0 {
		msg := t.Empty
		if t.filter.active() && t.InScope() > 0 {
			msg = "no rows match the filter"
		}
		if msg != "" && t.height > 1 {
			lines = append(lines, st.Dim.Render(ansi.Truncate("  "+msg, t.width, "…")))
		}
		return lines
	}
	end := min(t.offset+t.BodyHeight(), len(t.visible))
	var b strings.Builder
	for p := t.offset; p < end; p++ {
		r := &t.rows[t.visible[p]]
		lines = append(lines, t.rowLine(&b, st, r, focused && p == t.cursor))
	}
	return lines
}

func (t *Table) headerLine(st *styles.Styles) string {
	var b strings.Builder
	b.WriteString(Spaces(Gutter))
	first := true
	for i, c := range t.cols {
		if t.widths[i] == 0 {
			continue
		}
		if !first {
			b.WriteString(Spaces(ColGap))
		}
		first = false
		title := c.Title
		if i == t.sortCol && !c.Plain && !c.NoSort {
			if t.sortDesc {
				title += "↓"
			} else {
				title += "↑"
			}
		}
		b.WriteString(Fit(title, t.widths[i], c.Right))
	}
	return st.HeaderInk.Paint(Clip(b.String(), t.width))
}

func (t *Table) rowLine(b *strings.Builder, st *styles.Styles, r *Row, selected bool) string {
	b.Reset()
	marked := t.marks[r.ID]
	if selected {
		if marked {
			b.WriteString("● ")
		} else {
			b.WriteString(Spaces(Gutter))
		}
		first := true
		for i, c := range t.cols {
			if t.widths[i] == 0 {
				continue
			}
			if !first {
				b.WriteString(Spaces(ColGap))
			}
			first = false
			b.WriteString(fitCell(&c, cell(r, i), t.widths[i]))
		}
		return st.SelectedInk.Paint(PadRight(Clip(b.String(), t.width), t.width))
	}
	if marked {
		b.WriteString(st.MarkedInk.Paint("●"))
		b.WriteByte(' ')
	} else {
		b.WriteString(Spaces(Gutter))
	}
	used := Gutter
	for i, c := range t.cols {
		if used >= t.width {
			break
		}
		if t.widths[i] == 0 {
			continue
		}
		if used > Gutter {
			b.WriteString(Spaces(ColGap))
			used += ColGap
		}
		w := min(t.widths[i], max(t.width-used, 0))
		text := fitCell(&c, cell(r, i), w)
		if s := cellStyleOf(r, i); s != styles.CellPlain {
			text = st.CellInk[s].Paint(text)
		} else if marked {
			text = st.MarkedInk.Paint(text)
		}
		b.WriteString(text)
		used += w
	}
	line := b.String()
	if used > t.width {
		line = Truncate(line, t.width, "")
	}
	return line
}

func cell(r *Row, i int) string {
	if i < len(r.Cells) {
		return r.Cells[i]
	}
	return ""
}

func cellStyleOf(r *Row, i int) styles.CellStyle {
	if i < len(r.Styles) {
		return r.Styles[i]
	}
	return styles.CellPlain
}

// fitCell fits a cell of column c to w cells.
func fitCell(c *Column, s string, w int) string {
	if c.Tail {
		return fitTail(s, w)
	}
	return Fit(s, w, c.Right)
}

// fitTail pads or truncates plain text s to exactly w cells, a cut
// keeping its end.
func fitTail(s string, w int) string {
	sw := len(s)
	if hasWide(s) {
		sw = CellWidth(s)
	}
	if sw <= w || w <= 0 {
		return Fit(s, w, false)
	}
	out := ansi.TruncateLeft(s, sw-w+1, "…")
	for cut := sw - w + 2; ansi.StringWidth(out) > w && cut <= sw; cut++ {
		out = ansi.TruncateLeft(s, cut, "…")
	}
	return Fit(out, w, false)
}

// Fit pads or truncates plain text s to exactly w cells.
func Fit(s string, w int, right bool) string {
	if w <= 0 {
		return ""
	}
	sw := len(s)
	if hasWide(s) {
		sw = CellWidth(s)
	}
	if sw > w {
		s = Truncate(s, w, "…")
		sw = ansi.StringWidth(s)
	}
	if sw == w {
		return s
	}
	if right {
		return Spaces(w-sw) + s
	}
	return s + Spaces(w-sw)
}

// Clip truncates a line to w cells.
func Clip(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= w {
		return s
	}
	return Truncate(s, w, "…")
}

// Truncate is ansi.Truncate cut until ansi.StringWidth agrees that it fits:
// Truncate counts some clusters narrower than StringWidth does (a digit
// with U+FE0F is one cell to it, two to StringWidth and the terminal), and
// a line one cell too wide wraps and breaks the frame.
func Truncate(s string, w int, tail string) string {
	out := ansi.Truncate(s, w, tail)
	for cut := w - 1; cut >= 0 && ansi.StringWidth(out) > w; cut-- {
		out = ansi.Truncate(s, cut, tail)
	}
	return out
}

func PadRight(s string, w int) string {
	if sw := ansi.StringWidth(s); sw < w {
		return s + Spaces(w-sw)
	}
	return s
}

var spaceRun = strings.Repeat(" ", 256)

func Spaces(n int) string {
	if n <= 0 {
		return ""
	}
	if n <= len(spaceRun) {
		return spaceRun[:n]
	}
	return strings.Repeat(" ", n)
}
