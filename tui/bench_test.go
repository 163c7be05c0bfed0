package tui

import (
	"context"
	"testing"
	"time"
)

// BenchmarkGroupDetail20000 measures one keystroke → frame on a group with
// 20,000 partitions: Update(down) then View. It must stay well under a
// 16 ms frame.
func BenchmarkGroupDetail20000(b *testing.B) {
	src := &cannedSource{}
	src.push(bigGroup(20_000), nil)
	h := newHarness(b, Options{}, src)
	h.keys("enter")
	if h.m.top().focused().Len() != 20_000 {
		b.Fatalf("rows = %d", h.m.top().focused().Len())
	}
	m := h.m
	down := keyPress("down")
	top := keyPress("g")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		msg := down
		if i%20_000 == 19_999 {
			msg = top
		}
		m.Update(msg)
		_ = m.View()
	}
}

// BenchmarkGroupDetail20000Refresh measures what a refresh costs on that
// group: the fetch (the snapshot and its lag analysis, in the refresh's
// command) and the Update that installs it and rebuilds the rows, once
// per period.
func BenchmarkGroupDetail20000Refresh(b *testing.B) {
	src := &cannedSource{}
	snap := bigGroup(20_000)
	src.push(snap, nil)
	h := newHarness(b, Options{}, src)
	h.keys("enter")
	m := h.m
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		s := *snap
		s.TakenAt = t0.Add(time.Duration(i+1) * 5 * time.Second)
		src.set(&s, nil)
		m.startRefresh()
		apply, err := m.sourceOf(m.top()).fetch(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		m.Update(loadedMsg{tag: m.refresh.tag, apply: apply})
	}
}

// TestKeystrokeCostIndependentOfRows guards the virtualization without
// timing: a keystroke and a frame allocate the same on 500 rows as on
// 20,000 (drawing or rebuilding every row would not).
func TestKeystrokeCostIndependentOfRows(t *testing.T) {
	allocs := func(n int) float64 {
		src := &cannedSource{}
		src.push(bigGroup(n), nil)
		h := newHarness(t, Options{}, src)
		h.keys("enter")
		m := h.m
		down := keyPress("down")
		return testing.AllocsPerRun(100, func() {
			m.Update(down)
			_ = m.View()
		})
	}
	small, big := allocs(500), allocs(20_000)
	if big > small*1.1+5 {
		t.Errorf("a keystroke on 20,000 rows allocates %.0f times, on 500 rows %.0f", big, small)
	}
}
