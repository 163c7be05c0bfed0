package kafka

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mqops/mqops/backends"
)

// BenchmarkRealSnapshot measures one in-process snapshot of the real broker
// (whatever groups it holds; scripts/bench seeds 500 groups × 32 partitions).
// It runs only when KAFKA_BROKERS is set.
func BenchmarkRealSnapshot(b *testing.B) {
	addrs := os.Getenv("KAFKA_BROKERS")
	if addrs == "" {
		b.Skip("KAFKA_BROKERS not set")
	}
	k, err := New(Config{Brokers: strings.Split(addrs, ","), Timeout: 30 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	ctx := context.Background()
	snap, err := k.Snapshot(ctx, backends.SnapshotOptions{}) // connect + warm coordinators
	if err != nil {
		b.Fatal(err)
	}
	parts := 0
	for _, g := range snap.Groups {
		parts += len(g.Partitions)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := k.Snapshot(ctx, backends.SnapshotOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(len(snap.Groups)), "groups")
	b.ReportMetric(float64(parts), "group-partitions")
	b.ReportMetric(float64(snap.Requests), "requests")
}
