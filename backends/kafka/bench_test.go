package kafka

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqops/mqops/backends"
)

// BenchmarkRealSnapshot measures one in-process snapshot of the real broker
// (whatever groups it holds; scripts/bench seeds 500 groups × 32 partitions),
// a steady refresh: connected, coordinators and record times cached. It
// runs only when KAFKA_BROKERS is set.
func BenchmarkRealSnapshot(b *testing.B) {
	k, snap := realBenchClient(b)
	ctx := context.Background()
	var err error
	parts := 0
	for _, g := range snap.Groups {
		parts += len(g.Partitions)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if snap, err = k.Snapshot(ctx, backends.SnapshotOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(len(snap.Groups)), "groups")
	b.ReportMetric(float64(parts), "group-partitions")
	b.ReportMetric(float64(snap.Requests), "requests") // of a steady refresh: the record times cached
}

// BenchmarkRealTimeLag measures the extra cost of the exact time lag on
// the real broker (the record read at each lagging committed offset), in
// the same run as the snapshot without it: "without" is a snapshot with
// SkipRecordTimes; "cold" a snapshot whose cache of record times is empty
// (a console just opened: every lagging partition is read); "warm" a
// steady refresh (nothing moved: no read). Each reports the record-time
// step's own requests (timelag-requests), time (timelag-ms), partitions
// read and distinct offsets wanted. It runs only when KAFKA_BROKERS is set.
func BenchmarkRealTimeLag(b *testing.B) {
	k, _ := realBenchClient(b)
	ctx := context.Background()
	for _, mode := range []string{"without", "cold", "warm"} {
		b.Run(mode, func(b *testing.B) {
			var (
				n, requests, reads, wanted, snapRequests int
				took                                     time.Duration
			)
			for b.Loop() {
				if mode == "cold" {
					k.rt = nil
				}
				snap, err := k.Snapshot(ctx, backends.SnapshotOptions{SkipRecordTimes: mode == "without"})
				if err != nil {
					b.Fatal(err)
				}
				n++
				snapRequests += snap.Requests
				if mode != "without" {
					st := k.rt.last
					requests += st.requests
					reads += len(st.reads)
					wanted = st.wanted
					took += st.took
				}
			}
			b.ReportMetric(float64(snapRequests)/float64(n), "requests")
			b.ReportMetric(float64(requests)/float64(n), "timelag-requests")
			b.ReportMetric(float64(took)/float64(n)/1e6, "timelag-ms")
			b.ReportMetric(float64(reads)/float64(n), "partitions-read")
			b.ReportMetric(float64(wanted), "offsets")
		})
	}
}

// realBenchClient is a client of the real broker (closed at the end of the
// benchmark), connected, its coordinators and record times cached by a
// first snapshot, which it returns. It skips without KAFKA_BROKERS.
func realBenchClient(b *testing.B) (*Client, *backends.ClusterSnapshot) {
	addrs := os.Getenv("KAFKA_BROKERS")
	if addrs == "" {
		b.Skip("KAFKA_BROKERS not set")
	}
	k, err := New(Config{Brokers: strings.Split(addrs, ","), Timeout: 30 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { k.Close() })
	snap, err := k.Snapshot(context.Background(), backends.SnapshotOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return k, snap
}

// BenchmarkRealPublish measures Publish on the real broker: calls of 1,000
// messages of 1 KiB with 50 keys into a 6-partition topic (created for the
// run, deleted after), acks=all, on the producer kept between calls. It
// reports messages/s. It runs only when KAFKA_BROKERS is set.
func BenchmarkRealPublish(b *testing.B) {
	const batch, keys = 1000, 50
	addrs := os.Getenv("KAFKA_BROKERS")
	if addrs == "" {
		b.Skip("KAFKA_BROKERS not set")
	}
	brokers := strings.Split(addrs, ",")
	k, err := New(Config{Brokers: brokers, Timeout: 30 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { k.Close() })
	topic := newPublishTopic(b, k, brokers, 6, nil)
	value := bytes.Repeat([]byte("v"), 1024)
	msgs := make([]backends.OutgoingMessage, batch)
	for i := range msgs {
		msgs[i] = backends.OutgoingMessage{ID: strconv.Itoa(i), Target: backends.RouteTarget{Broker: "kafka", Topic: topic}, Key: fmt.Appendf(nil, "key-%d", i%keys),
			Value: value, MessageID: fmt.Sprintf("m-%d", i), Headers: []backends.StoreHeader{{Key: "mqops-message-id", Value: fmt.Sprintf("m-%d", i)}}}
	}
	ctx := context.Background()
	n := 0
	start := time.Now()
	for b.Loop() {
		for _, r := range k.Publish(ctx, msgs) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
		n += batch
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "msgs/s")
}
