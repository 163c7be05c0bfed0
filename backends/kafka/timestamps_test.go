package kafka

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/lag"
)

// batch is a record batch at first with records at the given offsets,
// record i written at base + i seconds (CreateTime).
func batch(first int64, last int64, base time.Time, offsets ...int64) *sarama.Records {
	b := &sarama.RecordBatch{FirstOffset: first, LastOffsetDelta: int32(last - first), FirstTimestamp: base, MaxTimestamp: base.Add(time.Hour)}
	for _, o := range offsets {
		b.Records = append(b.Records, &sarama.Record{OffsetDelta: o - first, TimestampDelta: time.Duration(o-first) * time.Second})
	}
	return &sarama.Records{RecordBatch: b}
}

func entryText(e *rtEntry) string {
	switch {
	case e == nil:
		return "-"
	case e.fail != "":
		return "fail: " + e.fail
	case e.budget > 0:
		return fmt.Sprintf("grow to %d", e.budget)
	case e.none > 0:
		return fmt.Sprintf("nothing to read up to %d", e.none)
	}
	return fmt.Sprintf("%s at %d exact=%v", e.at.Format("15:04:05"), e.found, e.exact)
}

// TestResolveTimes reads the time of the record at each offset wanted from
// hand-made fetch answers: batches starting before the offset, records
// removed by compaction (not exact: the next record's time), transaction
// markers (exact; nothing to read when only markers lie up to the high
// watermark), LogAppendTime (the broker's time for the whole batch),
// batches cut short by the read's bound or left out for it (nothing below
// the high watermark), legacy message sets and records without a
// timestamp.
func TestResolveTimes(t *testing.T) {
	base := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	at := func(s int) string { return base.Add(time.Duration(s)*time.Second).Format("15:04:05") + " at " }
	control := &sarama.Records{RecordBatch: &sarama.RecordBatch{FirstOffset: 12, Control: true, FirstTimestamp: base,
		Records: []*sarama.Record{{Key: []byte{0, 0, 0, 1}}}}}
	logAppend := batch(10, 14, base, 10, 11, 12, 13, 14)
	logAppend.RecordBatch.LogAppendTime = true
	partial := batch(10, 14, base)
	partial.RecordBatch.PartialTrailingRecord = true
	partialLA := batch(10, 14, base)
	partialLA.RecordBatch.PartialTrailingRecord, partialLA.RecordBatch.LogAppendTime = true, true
	noTime := batch(10, 11, time.Time{}, 10, 11)
	commit := func(at int64) *sarama.Records {
		return &sarama.Records{RecordBatch: &sarama.RecordBatch{FirstOffset: at, Control: true, FirstTimestamp: base,
			Records: []*sarama.Record{{Key: []byte{0, 0, 0, 1}}}}}
	}

	cases := []struct {
		name   string
		sets   []*sarama.Records
		want   []int64
		budget int32
		expect []string
		hw     int64 // the high watermark (default 100)
	}{
		{"batch starting before the offset", []*sarama.Records{batch(5, 14, base, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14)}, []int64{9, 12},
			rtPartitionBytes, []string{at(4) + "9 exact=true", at(7) + "12 exact=true"}, 0},
		{"offsets past the answer", []*sarama.Records{batch(10, 14, base, 10, 11, 12, 13, 14)}, []int64{10, 20},
			rtPartitionBytes, []string{at(0) + "10 exact=true", "-"}, 0},
		{"compacted away: the next record, not exact", []*sarama.Records{batch(10, 14, base, 10, 11, 14)}, []int64{12, 14},
			rtPartitionBytes, []string{at(4) + "14 exact=false", at(4) + "14 exact=true"}, 0},
		{"whole batch compacted away", []*sarama.Records{batch(20, 22, base, 20, 21, 22)}, []int64{15},
			rtPartitionBytes, []string{at(0) + "20 exact=false"}, 0},
		{"trailing records of a batch compacted away", []*sarama.Records{batch(10, 14, base, 10, 11), batch(15, 16, base, 15, 16)}, []int64{13},
			rtPartitionBytes, []string{at(0) + "15 exact=false"}, 0},
		{"a transaction marker at the offset", []*sarama.Records{batch(10, 11, base, 10, 11), control, batch(13, 14, base, 13, 14)}, []int64{12},
			rtPartitionBytes, []string{at(0) + "13 exact=true"}, 0},
		{"LogAppendTime: the broker's time", []*sarama.Records{logAppend}, []int64{12},
			rtPartitionBytes, []string{base.Add(time.Hour).Format("15:04:05") + " at 12 exact=true"}, 0},
		{"cut short, CreateTime", []*sarama.Records{partial}, []int64{10, 12},
			rtPartitionBytes, []string{at(0) + "10 exact=true", "grow to 1048576"}, 0},
		{"cut short at the largest read", []*sarama.Records{partial}, []int64{12},
			rtMaxPartitionBytes, []string{"fail: record batch at offset 12 over 4.0 MiB: not read"}, 0},
		{"cut short, LogAppendTime", []*sarama.Records{partialLA}, []int64{10, 13},
			rtPartitionBytes, []string{base.Add(time.Hour).Format("15:04:05") + " at 10 exact=true", base.Add(time.Hour).Format("15:04:05") + " at 13 exact=true"}, 0},
		{"legacy message set", []*sarama.Records{{MsgSet: &sarama.MessageSet{}}}, []int64{10},
			rtPartitionBytes, []string{"fail: message format v0/v1 (before Kafka 0.11): no timestamps read"}, 0},
		{"no timestamp", []*sarama.Records{noTime}, []int64{11},
			rtPartitionBytes, []string{"fail: the record at offset 11 has no timestamp"}, 0},
		{"nothing returned below the high watermark: the batch is over the read's bound", nil, []int64{10, 40}, rtPartitionBytes,
			[]string{"grow to 1048576", "-"}, 0},
		{"nothing returned at the largest read", nil, []int64{10}, rtMaxPartitionBytes, []string{"-"}, 0},
		{"nothing returned at the high watermark", nil, []int64{10}, rtPartitionBytes, []string{"-"}, 10},
		{"only a commit marker up to the high watermark: nothing to read", []*sarama.Records{batch(10, 11, base, 10, 11), commit(12)}, []int64{10, 12},
			rtPartitionBytes, []string{at(0) + "10 exact=true", "nothing to read up to 13"}, 13},
		{"markers below the high watermark, nothing after them returned", []*sarama.Records{commit(12)}, []int64{12},
			rtPartitionBytes, []string{"-"}, 20},
		{"cut short before the high watermark", []*sarama.Records{partial}, []int64{14},
			rtPartitionBytes, []string{"grow to 1048576"}, 15},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.hw == 0 {
				c.hw = 100
			}
			got := resolveTimes(c.sets, c.want, c.budget, c.hw)
			for i, off := range c.want {
				if s := entryText(got[off]); s != c.expect[i] {
					t.Errorf("offset %d: %s, want %s", off, s, c.expect[i])
				}
			}
		})
	}
}

// timedCluster is a kfake cluster of brokers with topic orders (parts
// partitions, partition p led by broker p % brokers), n records a partition
// written a minute apart from an hour ago (record i of every partition at
// times[i]), whose listeners pass through wrap (nil: none).
func timedCluster(t *testing.T, brokers int, parts int32, n int, wrap func(net.Conn) net.Conn) (*kfake.Cluster, *kgo.Client, []time.Time) {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(brokers), kfake.SeedTopics(parts, "orders")}
	if wrap != nil {
		opts = append(opts, listenThrough(wrap))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	for p := range parts {
		if err := c.MoveTopicPartition("orders", p, p%int32(brokers)); err != nil {
			t.Fatal(err)
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	start := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	times := make([]time.Time, n)
	for i := range times {
		times[i] = start.Add(time.Duration(i) * time.Minute)
	}
	for p := range parts {
		for _, ts := range times {
			produce(t, cl, &kgo.Record{Topic: "orders", Partition: p, Timestamp: ts, Value: []byte("v")})
		}
	}
	return c, cl, times
}

type wrapListener struct {
	net.Listener
	wrap func(net.Conn) net.Conn
}

func (l wrapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.wrap(c), nil
}

func commitAt(t *testing.T, cl *kgo.Client, group string, offsets map[int32]int64) {
	t.Helper()
	o := kadm.Offsets{}
	for p, at := range offsets {
		o.Add(kadm.Offset{Topic: "orders", Partition: p, At: at, LeaderEpoch: -1})
	}
	resp, err := kadm.NewClient(cl).CommitOffsets(context.Background(), group, o)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestTimeLagFetchBoundedKfake: 30 groups at 4 offsets on each of 6
// partitions led by 3 brokers: the first snapshot reads each partition
// once (from its smallest offset: the records returned serve the other
// offsets), in one Fetch per leader, and every group partition gets its
// record's time; the next snapshot reads nothing; a commit that moves reads
// that partition alone; an offset no group is at any more leaves the cache.
func TestTimeLagFetchBoundedKfake(t *testing.T) {
	c, cl, times := timedCluster(t, 3, 6, 5, nil)
	const groups = 30
	for i := range groups {
		offs := map[int32]int64{}
		for p := range int32(6) {
			offs[p] = int64(i % 4)
		}
		commitAt(t, cl, fmt.Sprintf("g%02d", i), offs)
	}
	k, err := New(Config{Brokers: c.ListenAddrs(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	ctx := context.Background()

	without, err := k.Snapshot(ctx, backends.SnapshotOptions{SkipRecordTimes: true})
	if err != nil {
		t.Fatal(err)
	}
	if k.rt != nil {
		t.Fatal("SkipRecordTimes read record times")
	}
	first, err := k.Snapshot(ctx, backends.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := k.rt.last
	if st.requests != 3 || len(st.reads) != 6 || st.wanted != 24 || first.Requests != without.Requests+3 {
		t.Fatalf("first: %d requests (snapshot %d, %d without), %d reads, %d offsets; want 3 (one per leader), 6, 24",
			st.requests, first.Requests, without.Requests, len(st.reads), st.wanted)
	}
	for _, g := range first.Groups {
		for _, gp := range g.Partitions {
			if want := times[*gp.Committed]; gp.RecordTime == nil || !gp.RecordTime.Equal(want) || gp.RecordTimeSource != backends.TimeLagRecord {
				t.Fatalf("%s p%d at %d: record time %v (%q), want %v", g.Name, gp.Partition, *gp.Committed, gp.RecordTime, gp.RecordTimeNote, want)
			}
		}
	}
	second, err := k.Snapshot(ctx, backends.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st := k.rt.last; st.requests != 0 || st.cached != 24 || second.Requests != without.Requests {
		t.Fatalf("second: %d record-time requests, %d cached, snapshot %d requests (%d without)", st.requests, st.cached, second.Requests, without.Requests)
	}

	commitAt(t, cl, "g00", map[int32]int64{4: 4})
	if _, err := k.Snapshot(ctx, backends.SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	if st := k.rt.last; st.requests != 1 || len(st.reads) != 1 || st.reads[0].p != 4 || st.reads[0].off != 4 {
		t.Fatalf("after a commit moved: %d requests reading %v, want partition 4 from 4 alone", st.requests, st.reads)
	}
	moved := rtKey{topic: "orders", p: 4, off: 4}
	for key := range k.rt.entries.parts {
		if key.topic == "orders" && key.p == 4 {
			moved.id = key.id
		}
	}
	if k.rt.entries.lookup(moved) == nil {
		t.Fatal("the moved offset is not cached")
	}
	if _, err := kadm.NewClient(cl).DeleteGroups(ctx, "g00"); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Snapshot(ctx, backends.SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	if k.rt.entries.lookup(moved) != nil || k.rt.entries.len() != 24 {
		t.Fatalf("after the only group at %v left: %d entries, the offset still cached: %v", moved, k.rt.entries.len(), k.rt.entries.lookup(moved) != nil)
	}
}

// fetchSilencer is a broker's side of a connection that stops answering
// once it has read a Fetch request (a Produce request with produce): a
// broker that accepts and answers everything else, and never answers a
// Fetch.
type fetchSilencer struct {
	net.Conn
	huge    bool // answer the Fetch with the length of a 2 GB reply instead
	produce bool // silent from a Produce request on instead
	mu      sync.Mutex
	hdr     []byte // the request's length and API key, as read
	left    int    // bytes of the request after its length still to come
	silent  bool
	sent    bool // the huge length was sent
}

func (c *fetchSilencer) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, x := range b[:n] {
		if len(c.hdr) < 4 {
			c.hdr = append(c.hdr, x)
			if len(c.hdr) == 4 {
				c.left = int(binary.BigEndian.Uint32(c.hdr))
			}
			continue
		}
		if len(c.hdr) < 6 {
			c.hdr = append(c.hdr, x)
			if len(c.hdr) == 6 && int16(binary.BigEndian.Uint16(c.hdr[4:])) == c.silencedKey() {
				c.silent = true
			}
		}
		if c.left--; c.left <= 0 {
			c.hdr = c.hdr[:0]
		}
	}
	return n, err
}

// silencedKey is the API key of the request the connection goes silent at.
func (c *fetchSilencer) silencedKey() int16 {
	if c.produce {
		return int16(kmsg.Produce)
	}
	return int16(kmsg.Fetch)
}

func (c *fetchSilencer) Write(b []byte) (int, error) {
	c.mu.Lock()
	silent, huge := c.silent, c.huge && c.silent && !c.sent
	c.sent = c.sent || huge
	c.mu.Unlock()
	if huge {
		if _, err := c.Conn.Write([]byte{0x7f, 0xff, 0xff, 0xff}); err != nil {
			return 0, err
		}
	}
	if silent {
		return len(b), nil // never sent
	}
	return c.Conn.Write(b)
}

// TestTimeLagFetchBoundedStalledBroker: a broker that answers everything
// but the Fetch of the record times: the read fails within the timeout and
// the snapshot stands (never hangs, never fails for it), the partitions
// fall back to the interpolated estimate saying why, and the broker is not
// read from again for a while (the next snapshot reconnects and sends no
// Fetch).
func TestTimeLagFetchBoundedStalledBroker(t *testing.T) {
	c, cl, _ := timedCluster(t, 1, 2, 5, func(c net.Conn) net.Conn { return &fetchSilencer{Conn: c} })
	commitAt(t, cl, "stuck", map[int32]int64{0: 0, 1: 2})
	const timeout = time.Second
	k, err := New(Config{Brokers: c.ListenAddrs(), Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	tr := lag.NewTracker(lag.Options{})

	start := time.Now()
	snap, err := k.Snapshot(context.Background(), backends.SnapshotOptions{})
	took := time.Since(start)
	if err != nil {
		t.Fatalf("snapshot failed for its optional read: %v", err)
	}
	if took > 3*timeout {
		t.Errorf("snapshot took %v with a timeout of %v", took, timeout)
	}
	want := "did not answer within 1s"
	for _, gp := range snap.Groups[0].Partitions {
		if gp.RecordTime != nil || !strings.Contains(gp.RecordTimeNote, want) || gp.Lag == nil || *gp.Lag == 0 {
			t.Fatalf("p%d: record time %v, note %q, lag %v; want no record time, saying %q", gp.Partition, gp.RecordTime, gp.RecordTimeNote, gp.Lag, want)
		}
	}
	tr.Observe(snap)

	produce(t, cl, &kgo.Record{Topic: "orders", Partition: 0, Value: []byte("later")}, &kgo.Record{Topic: "orders", Partition: 1, Value: []byte("later")})
	snap, err = k.Snapshot(context.Background(), backends.SnapshotOptions{})
	if err != nil {
		t.Fatalf("second snapshot: %v", err)
	}
	if st := k.rt.last; st.requests != 0 {
		t.Errorf("second snapshot sent %d record-time requests to the broker that stalled", st.requests)
	}
	an := tr.Observe(snap)
	for _, gp := range snap.Groups[0].Partitions {
		if !strings.Contains(gp.RecordTimeNote, "next read after") || !strings.Contains(gp.RecordTimeNote, want) {
			t.Errorf("p%d: note %q", gp.Partition, gp.RecordTimeNote)
		}
		ps := an.Groups["stuck"].Partition("orders", gp.Partition)
		if ps.TimeLag == nil || ps.TimeLagSource != backends.TimeLagInterpolated || !strings.Contains(ps.TimeLagNote, want) {
			t.Errorf("p%d: time lag %v (%s, %q), want the interpolated estimate saying why", gp.Partition, ps.TimeLag, ps.TimeLagSource, ps.TimeLagNote)
		}
	}
}

// TestRecordTimesFromCache: with every offset in the cache, a snapshot
// reads nothing (no request, no connection needed) and every lagging
// partition gets the time of its own topic's record, the topics told apart
// by id, whatever partitions without lag come first in a group.
func TestRecordTimesFromCache(t *testing.T) {
	ids := map[string]sarama.Uuid{"a": {1}, "b": {2}}
	base := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	when := func(topic string, p int32, off int64) time.Time {
		return base.Add(time.Duration(ids[topic][0])*time.Hour + time.Duration(p)*time.Minute + time.Duration(off)*time.Second)
	}
	gp := func(topic string, p int32, committed, end int64) backends.GroupPartition {
		l := end - committed
		return backends.GroupPartition{Topic: topic, Partition: p, Committed: &committed, Lag: &l, LogStart: 0, LogEnd: end}
	}
	snap := &backends.ClusterSnapshot{Groups: []backends.Group{
		{Name: "g1", Partitions: []backends.GroupPartition{gp("a", 0, 3, 10), gp("a", 1, 4, 10)}},
		{Name: "g2", Partitions: []backends.GroupPartition{gp("b", 0, 10, 10), gp("b", 1, 4, 10)}}, // b/0 caught up
		{Name: "g3", Partitions: []backends.GroupPartition{gp("a", 1, 4, 10), gp("b", 1, 5, 10)}},
	}}
	k := &Client{rt: newRecordTimes()}
	for _, g := range snap.Groups {
		for _, p := range g.Partitions {
			key := rtKey{p.Topic, ids[p.Topic], p.Partition, *p.Committed}
			k.rt.entries.put(key, &rtEntry{at: when(p.Topic, p.Partition, *p.Committed), found: key.off, exact: true})
		}
	}
	if n := k.fillRecordTimes(nil, nil, snap, ids, true, nil, nil); n != 0 {
		t.Fatalf("%d requests with everything cached", n)
	}
	for _, g := range snap.Groups {
		for _, p := range g.Partitions {
			switch {
			case *p.Lag == 0 && p.RecordTime != nil:
				t.Errorf("%s %s/%d: record time %v without lag", g.Name, p.Topic, p.Partition, p.RecordTime)
			case *p.Lag > 0 && (p.RecordTime == nil || !p.RecordTime.Equal(when(p.Topic, p.Partition, *p.Committed))):
				t.Errorf("%s %s/%d: record time %v (%q), want %v", g.Name, p.Topic, p.Partition, p.RecordTime, p.RecordTimeNote, when(p.Topic, p.Partition, *p.Committed))
			}
		}
	}
	if st := k.rt.last; st.wanted != 4 || st.cached != 4 || k.rt.entries.len() != 4 {
		t.Errorf("wanted %d, cached %d, %d entries kept; want 4, 4, 4 (b/0 at 10 unused)", st.wanted, st.cached, k.rt.entries.len())
	}
}

// TestTimeLagFetchBoundedHugeReply: a broker that answers the Fetch of the
// record times with the length of a 2 GB reply: refused before anything is
// allocated, the snapshot stands, the partitions say why.
func TestTimeLagFetchBoundedHugeReply(t *testing.T) {
	c, cl, _ := timedCluster(t, 1, 1, 3, func(c net.Conn) net.Conn { return &fetchSilencer{Conn: c, huge: true} })
	commitAt(t, cl, "stuck", map[int32]int64{0: 0})
	k, err := New(Config{Brokers: c.ListenAddrs(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	snap, err := k.Snapshot(context.Background(), backends.SnapshotOptions{})
	if err != nil {
		t.Fatalf("snapshot failed for its optional read: %v", err)
	}
	gp := snap.Groups[0].Partitions[0]
	if want := "announced a reply of 2.0 GiB"; gp.RecordTime != nil || !strings.Contains(gp.RecordTimeNote, want) {
		t.Fatalf("record time %v, note %q; want none, saying %q", gp.RecordTime, gp.RecordTimeNote, want)
	}
}

// bigBatches writes, to each of parts partitions of orders, two batches of
// 100 records of 1 KiB, random (each batch over a read's first bound even
// compressed): record i of a partition at times[i].
func bigBatches(t *testing.T, cl *kgo.Client, parts int32, times []time.Time) {
	t.Helper()
	for p := range parts {
		for half := range 2 {
			var recs []*kgo.Record
			for i := half * 100; i < half*100+100; i++ {
				v := make([]byte, 1024)
				_, _ = crand.Read(v) // incompressible
				recs = append(recs, &kgo.Record{Topic: "orders", Partition: p, Timestamp: times[i], Value: v})
			}
			produce(t, cl, recs...) // one batch
		}
	}
}

// TestTimeLagFirstSnapshotWhole: the first snapshot of a client (the
// console's first screen, a one-sample `mqops lag`) has the exact time lag
// of every lagging partition, where one read per partition cannot give it:
// partitions whose batch at the committed offset is over the read's first
// bound (a broker answers nothing for them but for the first partition of
// its answer), and groups far apart on one partition (one read starts at
// the smallest offset). It reads again, a bounded number of times, only
// what is missing; the next snapshot reads nothing.
func TestTimeLagFirstSnapshotWhole(t *testing.T) {
	c, cl, _ := timedCluster(t, 1, 4, 0, nil)
	start := time.Now().Add(-3 * time.Hour).Truncate(time.Millisecond)
	times := make([]time.Time, 200)
	for i := range times {
		times[i] = start.Add(time.Duration(i) * time.Minute)
	}
	bigBatches(t, cl, 4, times) // offsets 5 and 150 in batches over 64 KiB
	slow, fast := map[int32]int64{}, map[int32]int64{}
	for p := range int32(4) {
		slow[p], fast[p] = 5, 150
	}
	commitAt(t, cl, "slow", slow)
	commitAt(t, cl, "fast", fast)

	k, err := New(Config{Brokers: c.ListenAddrs(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	snap, err := k.Snapshot(context.Background(), backends.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range snap.Groups {
		for _, gp := range g.Partitions {
			if want := times[*gp.Committed]; gp.RecordTime == nil || !gp.RecordTime.Equal(want) || gp.RecordTimeSource != backends.TimeLagRecord || gp.RecordTimeNote != "" {
				t.Errorf("%s p%d at %d: record time %v (%s, %q), want %v exact", g.Name, gp.Partition, *gp.Committed, gp.RecordTime, gp.RecordTimeSource, gp.RecordTimeNote, want)
			}
		}
	}
	if st := k.rt.last; st.requests < 2 || st.requests > rtFirstRounds {
		t.Errorf("first snapshot: %d record-time requests to the one leader; want 2 to %d", st.requests, rtFirstRounds)
	}
	if _, err := k.Snapshot(context.Background(), backends.SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	if st := k.rt.last; st.requests != 0 || st.cached != 8 {
		t.Errorf("second snapshot: %d requests, %d of %d offsets cached; want none, all", st.requests, st.cached, st.wanted)
	}
}
