package main

import (
	"context"
	"math"
	"runtime/debug"
	"testing"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/lag/lagtest"
)

type fixedSnapshot struct{ snap *backends.ClusterSnapshot }

func (f fixedSnapshot) Snapshot(context.Context, backends.SnapshotOptions) (*backends.ClusterSnapshot, error) {
	return f.snap, nil
}
func (f fixedSnapshot) Name() string { return "fixed" }
func (f fixedSnapshot) Close() error { return nil }

// TestConsoleMemoryLimit: each snapshot the console reads sets its soft
// memory limit: the base for a cluster up to its size, more for a bigger
// one (never an overflow), and nothing when GOMEMLIMIT is set.
func TestConsoleMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	t.Setenv("GOMEMLIMIT", "")

	if got := consoleLimit(0); got != consoleMemoryBase {
		t.Errorf("empty cluster: limit %d, want the base %d", got, consoleMemoryBase)
	}
	if got := consoleLimit(1_000_000); got != 1_000_000*consoleMemoryPerRow {
		t.Errorf("1,000,000 group partitions: limit %d, want %d", got, 1_000_000*consoleMemoryPerRow)
	}
	if got := consoleLimit(math.MaxInt); got != math.MaxInt64 {
		t.Errorf("absurd cluster: limit %d, want no limit", got)
	}

	snap := lagtest.Scale{Groups: 2000, Topics: 4, Partitions: 200}.Snapshot(lagtest.At, 0) // 400,000 group partitions
	src := sizedSnapshots{fixedSnapshot{snap}}
	if got, err := src.Snapshot(context.Background(), backends.SnapshotOptions{}); err != nil || got != snap {
		t.Fatalf("the snapshot went through as %p, %v", got, err)
	}
	if got := debug.SetMemoryLimit(-1); got != 400_000*consoleMemoryPerRow {
		t.Errorf("after a snapshot of 400,000 group partitions: limit %d, want %d", got, 400_000*consoleMemoryPerRow)
	}

	t.Setenv("GOMEMLIMIT", "3GiB") // the operator's setting wins
	debug.SetMemoryLimit(3 << 30)
	if _, err := src.Snapshot(context.Background(), backends.SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != 3<<30 {
		t.Errorf("with GOMEMLIMIT set: limit %d, want it left at 3 GiB", got)
	}
}
