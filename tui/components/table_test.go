package components

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

func TestSparkline(t *testing.T) {
	cases := []struct {
		in    []int64
		width int
		want  string
	}{
		{nil, 8, ""},
		{[]int64{0, 0, 0}, 8, "▁▁▁"},
		{[]int64{0, 1, 7}, 8, "▁▂█"},
		{[]int64{1, 2, 3, 4, 5, 6, 7, 8}, 4, "▅▆▇█"}, // newest values, rescaled
		{[]int64{-5, 10}, 8, "▁█"},
		{[]int64{1000000, 1}, 8, "█▂"}, // any non-zero value rises above the floor
	}
	for _, c := range cases {
		if got := Sparkline(c.in, c.width); got != c.want {
			t.Errorf("sparkline(%v, %d) = %q, want %q", c.in, c.width, got, c.want)
		}
	}
	if got := Deltas([]int64{100, 150, 140, 200}); len(got) != 3 || got[0] != 50 || got[1] != 0 || got[2] != 60 {
		t.Errorf("deltas = %v", got)
	}
}

func TestCellWidth(t *testing.T) {
	for _, s := range []string{"", "abc", "▁▂█", "日本語", "café", `evil\x1b[31m`, "e\u0301"} {
		if got, want := CellWidth(s), ansi.StringWidth(s); got != want {
			t.Errorf("cellWidth(%q) = %d, want %d", s, got, want)
		}
	}
	if got := Fit("日本語テキスト", 5, false); ansi.StringWidth(got) != 5 {
		t.Errorf("fit of wide text: %q (%d cells)", got, ansi.StringWidth(got))
	}
	if got := Fit("42", 5, true); got != "   42" {
		t.Errorf("right-aligned fit: %q", got)
	}
}

// TestTableLayoutOrder checks the order in which columns give up their
// room on a table of its own: names keep theirs longest.
func TestTableLayoutOrder(t *testing.T) {
	tbl := NewTable([]Column{
		{Title: "NAME", Flex: true, Name: true, Min: 8},
		{Title: "NOTE", Flex: true, Min: 6, Shrink: 1},
		{Title: "STATE", Flex: true, Min: 5},
		{Title: "N", Right: true},
		{Title: "TREND", Drop: 2},
		{Title: "EXTRA", Drop: 1},
	}, 0, false)
	tbl.SetRows([]Row{{ID: "a", Cells: []string{strings.Repeat("n", 30), strings.Repeat("x", 20), "PreparingRebalance", "1", "▁▂▃▄", "extra"}}})
	widths := func(w int) []int {
		tbl.SetSize(w, 5)
		return append([]int(nil), tbl.widths...)
	}
	cases := []struct {
		w    int
		want string
	}{
		{200, "[30 20 18 2 6 6]"}, // all natural
		{89, "[30 15 18 2 6 6]"},  // the note shrinks first…
		{80, "[30 6 18 2 6 6]"},   // …to its title (its min here)
		{72, "[30 6 18 2 0 6]"},   // then TREND goes
		{64, "[30 6 18 2 0 0]"},   // then EXTRA; the name keeps its 30
		{60, "[30 6 14 2 0 0]"},   // then the state shrinks
		{40, "[19 6 5 2 0 0]"},    // the others at their min, the name shrinks
		{20, "[8 6 5 2 0 0]"},     // to its min; the rest is cut at the edge
	}
	for _, c := range cases {
		if got := fmt.Sprint(widths(c.w)); got != c.want {
			t.Errorf("at %d: %s, want %s", c.w, got, c.want)
		}
	}
	// a cell of a megabyte shrinks like a short one
	huge := NewTable([]Column{{Title: "F"}, {Title: "VALUE", Flex: true, Min: 10}}, -1, false)
	huge.SetRows([]Row{{ID: "a", Cells: []string{"body", strings.Repeat("x", 1<<20)}}})
	huge.SetSize(80, 5)
	if fmt.Sprint(huge.widths) != "[4 72]" {
		t.Errorf("a megabyte cell at 80: %v", huge.widths)
	}
	// a keystroke does not redo the layout
	before := &tbl.widths[0]
	tbl.SetSize(20, 5)
	if &tbl.widths[0] != before {
		t.Error("setSize at the same width laid the table out again")
	}
}

// TestTableScope: a scoped table shows the rows of one group, filters and
// sorts within it, and keeps the marks of the rows of every group.
func TestTableScope(t *testing.T) {
	tbl := NewTable([]Column{{Title: "ID"}, {Title: "AGE", Num: true, Desc: true}}, 1, true)
	row := func(id, group string, age float64) Row {
		return Row{ID: id, Group: group, Cells: []string{id, fmt.Sprint(age)}, Nums: []float64{0, age}}
	}
	tbl.SetRows([]Row{row("a1", "a", 1), row("b1", "b", 5), row("a2", "a", 3), row("b2", "b", 2)})
	tbl.SetSize(40, 10)
	if got := strings.Join(tbl.VisibleIDs(), ","); got != "b1,a2,b2,a1" {
		t.Fatalf("unscoped: %s", got)
	}
	tbl.SetScope("a")
	if got := strings.Join(tbl.VisibleIDs(), ","); got != "a2,a1" || tbl.InScope() != 2 {
		t.Fatalf("scope a: %s (%d in scope)", got, tbl.InScope())
	}
	tbl.ToggleMark() // a2
	tbl.SetScope("b")
	tbl.ToggleMark() // b1
	if got := strings.Join(tbl.MarkedIDs(), ","); got != "b1,a2" {
		t.Errorf("marks across scopes: %s", got)
	}
	if err := tbl.SetFilter("2"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tbl.VisibleIDs(), ","); got != "b2" {
		t.Errorf("filtered in scope b: %s", got)
	}
	tbl.SetScope("c")
	if tbl.Len() != 0 {
		t.Errorf("scope c shows %d rows", tbl.Len())
	}
	// the rows of every group keep their marks through a refresh
	tbl.SetRows([]Row{row("a2", "a", 4), row("b1", "b", 6)})
	if got := strings.Join(tbl.MarkedIDs(), ","); got != "b1,a2" && got != "a2,b1" {
		t.Errorf("marks after a refresh: %s", got)
	}
}
