package tui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/tui/components"
	"github.com/mqops/mqops/tui/keys"
	"github.com/mqops/mqops/tui/styles"
)

// The value viewer: `enter` on a field of a peeked message or record (the
// detail pane of a peek) opens the field whole: a header's value, the key,
// an exception message, the body. Text is wrapped to the width with its
// real line breaks (a stack trace reads as one), tabs to the next stop of
// 4, and sanitized as backends.SafeText sanitizes, one grapheme cluster at
// a time: control characters other than newline and tab, bidi controls
// and invalid bytes are shown as escapes. A binary value is a hex dump.
//
// It is bounded whatever the size of the value: only the rows on screen
// are laid out, from the byte offset of the first one; scrolling up
// re-wraps at most valueBack bytes before it (the start of its line when
// that is nearer). A 64 MiB body opens, scrolls and jumps to its end as
// fast as a small one.
//
// `c` copies the value (the field's, in the detail pane; the selected
// row's cells elsewhere; see copyKey) with OSC 52: sanitized as shown, its
// line breaks and tabs real, the first maxCopy bytes of it.
//
// The viewer declares its keys (the scrolling ones, `c`); esc closes it
// without a reload of the peek below (a read of a queue is done when the
// operator asks for one).

// fieldValue is the whole value of a row of a peek's detail pane.
type fieldValue struct {
	name string // what it is: "header x-exception", "body"
	raw  []byte // as received; nil: the row's text is the value
	// size is the value's size when raw is only its start (a body the
	// peek cut), 0 else.
	size int
}

// fieldRows builds a detail pane: its field/value rows and, for each row,
// the whole value the value viewer opens (empty for a row of its own).
type fieldRows struct {
	rows   []components.Row
	values []fieldValue
}

// add appends one row.
func (f *fieldRows) add(field, value string, s styles.CellStyle) {
	f.rows = append(f.rows, components.Row{
		ID:     itoa(len(f.rows)),
		Cells:  []string{fcField: field, fcValue: value},
		Styles: []styles.CellStyle{fcField: styles.CellDim, fcValue: s},
	})
	f.values = append(f.values, fieldValue{})
}

// whole gives the rows added since from the value v.
func (f *fieldRows) whole(from int, v fieldValue) {
	for i := from; i < len(f.values); i++ {
		f.values[i] = v
	}
}

// rawValue is a header value as received: text and bytes as they are,
// times in RFC 3339, anything else (numbers, tables, arrays) as JSON.
func rawValue(v any) []byte {
	switch x := v.(type) {
	case string:
		return []byte(x)
	case []byte:
		return x
	case time.Time:
		return []byte(x.UTC().Format(time.RFC3339))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(fmt.Sprint(v))
	}
	return b
}

// Limits of the value viewer.
const (
	valueTab     = 4       // tab stops
	valueBack    = 8 << 10 // bytes re-wrapped to scroll up in a long line
	valueCluster = 256     // bytes a grapheme cluster is looked for in
	rowClusters  = 1024    // clusters a row takes at most (zero-width ones)
	textProbe    = 64 << 10
	maxCopy      = 256 << 10 // bytes of a value copied
)

// valueView shows one value whole, scrolled by rows.
type valueView struct {
	title string // sanitized
	raw   []byte
	size  int  // the whole value's size (≥ len(raw))
	hex   bool // binary: a hex dump
	top   int  // text: byte offset of the first row; hex: its row

	width, height int
	rows          []string          // the rows on screen, laid out in layout
	next          int               // where the row after them starts (len(raw): none)
	laidOut       [3]int            // top, width, height of rows
	work          int               // bytes laid out since opened (tests: the work is bounded)
	tbl           *components.Table // empty: the viewer scrolls itself
}

func newValueView(title string, v fieldValue, text string) *valueView {
	raw := v.raw
	if raw == nil {
		raw = []byte(text)
	}
	return &valueView{title: title, raw: raw, size: max(v.size, len(raw)), hex: binary(raw),
		laidOut: [3]int{-1}, tbl: components.NewTable([]components.Column{{Title: ""}}, -1, false)}
}

// binary says whether a value is shown as a hex dump: its first
// textProbe bytes are not text.
func binary(raw []byte) bool {
	probe := raw[:min(len(raw), textProbe)]
	for k := 0; k < utf8.UTFMax && len(probe) > 0 && !utf8.Valid(probe); k++ {
		probe = probe[:len(probe)-1] // a cut in the middle of a character
	}
	return len(raw) > 0 && !isText(probe)
}

func (v *valueView) id() string                   { return "value/" + v.title }
func (v *valueView) crumb() string                { return "value" }
func (v *valueView) noun() string                 { return "" }
func (v *valueView) local()                       {}
func (v *valueView) uncounted()                   {}
func (v *valueView) focused() *components.Table   { return v.tbl }
func (v *valueView) open() (view, bool)           { return nil, false }
func (v *valueView) togglePane() bool             { return false }
func (v *valueView) body(*styles.Styles) []string { return v.rows }

func (v *valueView) summary(width int) []string {
	what := "text"
	if v.hex {
		what = "binary: hex dump"
	}
	size := fmtBytes(v.size)
	if v.size > len(v.raw) {
		size += " (the peek read the first " + fmtBytes(len(v.raw)) + ")"
	}
	where := "start"
	if n := len(v.raw); v.next >= n && v.top > 0 {
		where = "end"
	} else if v.top > 0 && n > 0 {
		at := v.top
		if v.hex {
			at = v.top * hexDumpPerRow
		}
		where = "byte " + fmtInt(int64(at)) + " (" + strconv.Itoa(int(int64(at)*100/int64(n))) + "%)"
	}
	line := v.title + " · " + size + " · " + what + " · " + where
	return []string{components.Clip(line, width)}
}

// keys are the viewer's: it scrolls itself (the footer names j/k and c;
// the help every one), and copies the value.
func (v *valueView) keys(k *keys.Map) []keys.Binding {
	silent := func(b keys.Binding, desc string) keys.Binding { return b.With(desc, "").WithPriority(-1) }
	return []keys.Binding{
		k.Down.With("scroll down", "scroll").WithHintKeys("j/k"),
		silent(k.Up, "scroll up"),
		silent(k.PageDown, "page down"),
		silent(k.PageUp, "page up"),
		silent(k.Top, "the start"),
		silent(k.Bottom, "the end"),
		k.Copy.With("copy the value (OSC 52)", "copy value"),
	}
}

// scrollKey scrolls the viewer for its key b; false when b is not one of
// its scrolling keys.
func (v *valueView) scrollKey(k *keys.Map, b keys.Binding) bool {
	switch {
	case b.Is(k.Down):
		v.scroll(1)
	case b.Is(k.Up):
		v.scroll(-1)
	case b.Is(k.PageDown):
		v.scroll(max(v.height-1, 1))
	case b.Is(k.PageUp):
		v.scroll(-max(v.height-1, 1))
	case b.Is(k.Top):
		v.top = 0
	case b.Is(k.Bottom):
		v.toEnd()
	default:
		return false
	}
	return true
}

// layout lays out the rows on screen (only those: a frame costs the same
// for 1 KiB and 64 MiB).
func (v *valueView) layout(width, height int) {
	v.width, v.height = max(width, 1), max(height, 0)
	if v.laidOut == [3]int{v.top, v.width, v.height} {
		return
	}
	v.laidOut = [3]int{v.top, v.width, v.height}
	v.rows = v.rows[:0]
	off := v.top
	for len(v.rows) < v.height && !v.atEnd(off) {
		var r string
		r, off = v.row(off)
		v.rows = append(v.rows, r)
	}
	v.next = off
}

func (v *valueView) atEnd(off int) bool {
	if v.hex {
		return off*hexDumpPerRow >= len(v.raw)
	}
	return off >= len(v.raw)
}

// row lays out the row starting at off (a byte offset, or a hex row) and
// says where the next one starts.
func (v *valueView) row(off int) (string, int) {
	if v.hex {
		start := off * hexDumpPerRow
		v.work += hexDumpPerRow
		return components.Clip(hexRow(v.raw[start:min(start+hexDumpPerRow, len(v.raw))], start), v.width), off + 1
	}
	var b strings.Builder
	col, start := 0, off
	defer func() { v.work += off - start }()
	for n := 0; off < len(v.raw) && n < rowClusters; n++ {
		c := graphemeAt(v.raw[off:])
		switch {
		case c[0] == '\n' || len(c) == 2 && c[0] == '\r' && c[1] == '\n':
			off += len(c)
			return b.String(), off
		case c[0] == '\t':
			sp := valueTab - col%valueTab
			if col+sp > v.width {
				sp = v.width - col
			}
			b.WriteString(components.Spaces(sp))
			col += sp
		default:
			d, w := clusterText(c)
			if col+w > v.width {
				if col > 0 {
					return b.String(), off
				}
				d, w = components.Clip(d, v.width), v.width // wider than the row alone
			}
			b.WriteString(d)
			col += w
		}
		off += len(c)
		if col >= v.width {
			break
		}
	}
	// a line that ends here ends the row: the next starts after it
	if off < len(v.raw) && v.raw[off] == '\n' {
		off++
	} else if off+1 < len(v.raw) && v.raw[off] == '\r' && v.raw[off+1] == '\n' {
		off += 2
	}
	return b.String(), off
}

// graphemeAt is the grapheme cluster at the start of b (one byte for ASCII
// that is not CR LF, looked for in valueCluster bytes else).
func graphemeAt(b []byte) []byte {
	if b[0] < utf8.RuneSelf && (len(b) == 1 || b[1] < utf8.RuneSelf) && !(b[0] == '\r' && len(b) > 1 && b[1] == '\n') {
		return b[:1]
	}
	c, _ := ansi.FirstGraphemeCluster(b[:min(len(b), valueCluster)], ansi.GraphemeWidth)
	if len(c) == 0 {
		return b[:1]
	}
	return c
}

// clusterText is a cluster as it is drawn (SafeText's escapes for what
// must not reach the terminal) and its width.
func clusterText(c []byte) (string, int) {
	if len(c) == 1 && c[0] >= 0x20 && c[0] < 0x7f {
		return string(c), 1
	}
	d := backends.SafeText(string(c))
	return d, ansi.StringWidth(d)
}

// scroll moves the first row n rows down (n < 0: up), not past the rows
// of the last screen.
func (v *valueView) scroll(n int) {
	switch {
	case n > 0 && v.hex:
		last := max((len(v.raw)+hexDumpPerRow-1)/hexDumpPerRow-v.height, 0)
		v.top = min(v.top+n, last)
	case n > 0:
		// the rows from top, as many as n and a screen after them
		h := max(v.height, 1)
		starts := []int{}
		for off := v.top; len(starts) < n+h && off < len(v.raw); {
			starts = append(starts, off)
			_, off = v.row(off)
		}
		if len(starts) > h {
			v.top = starts[min(n, len(starts)-h)]
		}
	case n < 0 && v.hex:
		v.top = max(v.top+n, 0)
	case n < 0:
		if starts := v.rowsBefore(v.top, -n); len(starts) > 0 {
			v.top = starts[0]
		}
	}
}

// toEnd shows the last screen.
func (v *valueView) toEnd() {
	if v.hex {
		v.scroll(len(v.raw))
		return
	}
	if starts := v.rowsBefore(len(v.raw), max(v.height, 1)); len(starts) > 0 {
		v.top = starts[0]
	}
}

// rowsBefore returns the starts of at most n rows before off, in order.
// It lays out from the start of the line before off, or from valueBack
// bytes before it when that line is longer, and on back until it has n.
func (v *valueView) rowsBefore(off, n int) []int {
	var starts []int
	for end := off; len(starts) < n && end > 0; {
		anchor := v.lineStart(end)
		var seg []int
		for o := anchor; o < end; {
			seg = append(seg, o)
			_, o = v.row(o)
		}
		starts = append(seg, starts...)
		end = anchor
	}
	if len(starts) > n {
		starts = starts[len(starts)-n:]
	}
	return starts
}

// lineStart is the start of the line that holds the byte before end, or,
// in a line longer than valueBack, a character start valueBack bytes
// before end.
func (v *valueView) lineStart(end int) int {
	lo := max(end-1-valueBack, 0)
	if i := bytes.LastIndexByte(v.raw[lo:end-1], '\n'); i >= 0 {
		return lo + i + 1
	}
	if lo == 0 {
		return 0
	}
	for k := 0; k < utf8.UTFMax && lo < end-1 && !utf8.RuneStart(v.raw[lo]); k++ {
		lo++
	}
	return lo
}

// copyText is the value as the clipboard gets it: sanitized as shown,
// with its line breaks and tabs, the first maxCopy bytes; a binary value
// as its hex dump.
func copyText(raw []byte, hex bool) string {
	raw = raw[:min(len(raw), maxCopy)]
	if hex {
		return strings.Join(hexDump(raw), "\n")
	}
	var b strings.Builder
	for off := 0; off < len(raw); {
		c := graphemeAt(raw[off:])
		switch {
		case c[0] == '\n' || c[0] == '\t':
			b.WriteByte(c[0])
		case len(c) == 2 && c[0] == '\r' && c[1] == '\n':
			b.WriteByte('\n')
		default:
			d, _ := clusterText(c)
			b.WriteString(d)
		}
		off += len(c)
	}
	return b.String()
}

// copyCmd puts text on the clipboard, off the update loop (the value is
// sanitized there).
func (m *Model) copyCmd(what string, raw []byte, hex bool, size int) tea.Cmd {
	note := "copied " + what + " to the clipboard"
	if len(raw) > maxCopy {
		note = "copied the first " + fmtBytes(maxCopy) + " of " + what + " (" + fmtBytes(size) + ") to the clipboard"
	}
	return tea.Batch(func() tea.Msg { return tea.SetClipboard(copyText(raw, hex))() }, m.setFlash(components.FlashInfo, note))
}

// openValue opens the value viewer on the field selected in v (enter on
// a peek's detail pane); false when v has none. The viewer goes on top of
// the stack without a reload of the view below, and goes the same way
// (closeValue).
func (m *Model) openValue(v view) bool {
	o, ok := v.(valueOpener)
	if !ok || !m.hasData(v) {
		return false
	}
	next, ok := o.openValue()
	if ok {
		m.stack = append(m.stack, next)
	}
	return ok
}

// closeValue is esc in the value viewer: back to the peek as it was.
func (m *Model) closeValue() {
	m.cancelRefresh() // a snapshot asked for while the viewer was on top
	m.refresh.idle = true
	m.stack = m.stack[:len(m.stack)-1]
}

// --- opening and copying from the peek ----------------------------------------

// openValue is the value viewer of the field selected in the detail pane
// (title names the item: "message 3").
func (p *peekPanes) openValue() (view, bool) {
	v, r, ok := p.selectedValue()
	if !ok {
		return nil, false
	}
	title := p.detailTitle
	if lr, ok := p.list.Selected(); ok {
		title = p.titleOf(lr)
	}
	return newValueView(title+" · "+safe(v.name), v, r.Cells[fcValue]), true
}

// selectedValue is the whole value of the detail pane's selected row.
func (p *peekPanes) selectedValue() (fieldValue, *components.Row, bool) {
	if !p.onDetail {
		return fieldValue{}, nil, false
	}
	r, ok := p.detail.Selected()
	if !ok {
		return fieldValue{}, nil, false
	}
	v := fieldValue{name: r.Cells[fcField]}
	if i, err := strconv.Atoi(r.ID); err == nil && i < len(p.values[p.shown]) {
		if fv := p.values[p.shown][i]; fv.name != "" {
			v = fv
		}
	}
	return v, r, true
}

// setValues keeps the whole values of the page's detail rows, by list row
// id, in the order of the rows.
func (p *peekPanes) setValues(values map[string][]fieldValue) { p.values = values }

// valueOpener is a view whose selected row opens in the value viewer.
type valueOpener interface {
	openValue() (view, bool)
}

// copyKey is `c`: the value in the value viewer, the selected field's
// whole value in a peek's detail pane, the value of a detail's field (an
// audit entry's run id), the selected row's cells (tab-separated)
// elsewhere.
func (m *Model) copyKey() tea.Cmd {
	if v, ok := m.top().(*valueView); ok {
		return m.copyCmd(v.title, v.raw, v.hex, v.size)
	}
	if pp, ok := m.top().(interface {
		selectedValue() (fieldValue, *components.Row, bool)
	}); ok {
		if v, r, ok := pp.selectedValue(); ok {
			raw := v.raw
			if raw == nil {
				raw = []byte(r.Cells[fcValue])
			}
			return m.copyCmd("the "+safe(v.name), raw, binary(raw), max(v.size, len(raw)))
		}
	}
	t := m.top().focused()
	r, ok := t.Selected()
	if !ok {
		return m.setFlash(components.FlashInfo, "nothing to copy: no row selected")
	}
	if t.Columns() == 2 && t.ColumnTitle(0) == "FIELD" && len(r.Cells) == 2 {
		// a detail's field (the run id of an audit entry): its value
		return tea.Batch(tea.SetClipboard(strings.TrimSpace(r.Cells[1])), m.setFlash(components.FlashInfo, "copied the value to the clipboard"))
	}
	cells := make([]string, 0, len(r.Cells))
	for _, c := range r.Cells {
		cells = append(cells, strings.TrimSpace(c))
	}
	text := strings.Join(cells, "\t")
	return tea.Batch(tea.SetClipboard(text), m.setFlash(components.FlashInfo, "copied the row to the clipboard"))
}
