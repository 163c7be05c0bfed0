package backends

import (
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	prev := debug.SetGCPercent(100)
	prevLimit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(prev); debug.SetMemoryLimit(prevLimit) })

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	TuneGC()
	if got := debug.SetGCPercent(100); got != 400 {
		t.Errorf("GC percent %d, want 400", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 1<<30 {
		t.Errorf("memory limit %d, want 1 GiB", got)
	}

	// the operator's settings win
	t.Setenv("GOGC", "50")
	t.Setenv("GOMEMLIMIT", "2GiB")
	debug.SetGCPercent(50)
	TuneGC()
	if got := debug.SetGCPercent(50); got != 50 {
		t.Errorf("GC percent %d with GOGC=50 set, want 50", got)
	}
}

func TestTuneGCForSnapshots(t *testing.T) {
	prev := debug.SetGCPercent(400)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	t.Setenv("GOGC", "")
	TuneGCForSnapshots()
	if got := debug.SetGCPercent(30); got != 100 {
		t.Errorf("GC percent %d, want 100", got)
	}
	t.Setenv("GOGC", "30") // the operator's setting wins
	TuneGCForSnapshots()
	if got := debug.SetGCPercent(30); got != 30 {
		t.Errorf("GC percent %d with GOGC=30 set, want 30", got)
	}
}
