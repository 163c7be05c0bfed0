package main

import (
	"context"
	"math"
	"os"
	"runtime/debug"

	"github.com/mqops/mqops/backends"
)

// The console holds the last snapshot of the cluster and its lag analysis
// while it reads the next: on a cluster of 5,000 groups × 32 partitions,
// about 100 MB alive, and twice that for the moment both are. With the
// collector's default pace its heap would grow to twice the peak. Its soft
// memory limit is sized to the cluster instead (unless GOMEMLIMIT is set):
// consoleMemoryBase, or consoleMemoryPerRow per group partition of the last
// snapshot when that is more, so that a bigger cluster raises it rather
// than have the collector run without pause.
const (
	consoleMemoryBase   = 168 << 20
	consoleMemoryPerRow = 900
)

// sizedSnapshots is the console's cluster snapshot source: after each
// snapshot it fits the soft memory limit to the cluster (fitMemoryLimit).
type sizedSnapshots struct{ backends.KafkaSource }

func (s sizedSnapshots) Snapshot(ctx context.Context, opts backends.SnapshotOptions) (*backends.ClusterSnapshot, error) {
	snap, err := s.KafkaSource.Snapshot(ctx, opts)
	if err == nil && snap != nil {
		rows := 0
		for i := range snap.Groups {
			rows += len(snap.Groups[i].Partitions)
		}
		fitMemoryLimit(rows)
	}
	return snap, err
}

// fitMemoryLimit sets the soft memory limit for a snapshot of rows group
// partitions, unless GOMEMLIMIT is set.
func fitMemoryLimit(rows int) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(consoleLimit(rows))
}

func consoleLimit(rows int) int64 {
	if rows > (math.MaxInt64-consoleMemoryBase)/consoleMemoryPerRow {
		return math.MaxInt64
	}
	return max(consoleMemoryBase, int64(rows)*consoleMemoryPerRow)
}
