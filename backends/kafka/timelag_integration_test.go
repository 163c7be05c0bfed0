package kafka

import (
	"context"
	crand "crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/kafka/kafkatest"
	"github.com/mqops/mqops/backends/lag"
)

func realClient(t *testing.T) (*Client, []string) {
	t.Helper()
	env := integrationEnv(t, "KAFKA_BROKERS")
	brokers := strings.Split(env["KAFKA_BROKERS"], ",")
	k, err := New(Config{Brokers: brokers, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k, brokers
}

func groupPart(t *testing.T, snap *backends.ClusterSnapshot, group, topic string, p int32) *backends.GroupPartition {
	t.Helper()
	g, ok := snap.Group(group)
	if !ok {
		t.Fatalf("group %s not in the snapshot", group)
	}
	for i := range g.Partitions {
		if g.Partitions[i].Topic == topic && g.Partitions[i].Partition == p {
			return &g.Partitions[i]
		}
	}
	t.Fatalf("group %s has no partition %s/%d: %+v", group, topic, p, g.Partitions)
	return nil
}

// TestExactTimeLagFirstSnapshot: on the real broker, records written a
// day, hours and minutes ago, groups committed at known offsets with no
// members: the first snapshot's time lag of each partition is exactly now
// (the snapshot's time) minus the timestamp of the record at the committed
// offset, within the time the snapshot took, through the backend and the
// lag API; a group's is its oldest partition's. One read served the
// groups at the same offset, one Fetch the leader.
func TestExactTimeLagFirstSnapshot(t *testing.T) {
	k, brokers := realClient(t)
	f := kafkatest.NewTimeLag(t, brokers, "tl-exact-")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	before := time.Now()
	snap, err := k.Snapshot(ctx, backends.SnapshotOptions{Groups: f.Groups()})
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	an := lag.Analyze(snap)
	for group, offs := range f.Commits {
		var oldest time.Duration
		for p, off := range offs {
			want := f.Times[p][off]
			gp := groupPart(t, snap, group, f.Topic, p)
			if gp.RecordTime == nil || !gp.RecordTime.Equal(want) || gp.RecordTimeSource != backends.TimeLagRecord || gp.RecordTimeNote != "" {
				t.Errorf("%s p%d: record time %v (%s, %q), want %v exact", group, p, gp.RecordTime, gp.RecordTimeSource, gp.RecordTimeNote, want)
				continue
			}
			ps := an.Groups[group].Partition(f.Topic, p)
			if ps.TimeLag == nil || ps.TimeLagSource != backends.TimeLagRecord {
				t.Errorf("%s p%d: time lag %v from %q, want exact", group, p, ps.TimeLag, ps.TimeLagSource)
				continue
			}
			if *ps.TimeLag != snap.TakenAt.Sub(want) || *ps.TimeLag < before.Sub(want) || *ps.TimeLag > after.Sub(want) {
				t.Errorf("%s p%d: time lag %v, want now − record time: %v (between %v and %v)", group, p, *ps.TimeLag, snap.TakenAt.Sub(want), before.Sub(want), after.Sub(want))
			}
			oldest = max(oldest, *ps.TimeLag)
		}
		if gs := an.Groups[group]; gs.TimeLag == nil || *gs.TimeLag != oldest || gs.TimeLagSource != backends.TimeLagRecord {
			t.Errorf("%s: group time lag %v (%s), want its oldest partition's %v", group, gs.TimeLag, gs.TimeLagSource, oldest)
		}
	}
	if d := *an.Groups[f.Topic+".day"].TimeLag; d < 24*time.Hour || d > 24*time.Hour+time.Minute {
		t.Errorf("the day-old group's time lag is %v", d)
	}
	// three distinct offsets (the .same group shares .day's), two
	// partitions read, one Fetch for the one leader
	st := k.rt.last
	if st.wanted != 3 || len(st.reads) != 2 || st.requests != 1 {
		t.Errorf("wanted %d offsets, read %v in %d requests; want 3 offsets, 2 partitions, 1 request", st.wanted, st.reads, st.requests)
	}
}

// TestTimeLagLogAppendTime: on a topic with
// message.timestamp.type=LogAppendTime the time lag counts from the
// broker's append time, not from the producer's (a day old).
func TestTimeLagLogAppendTime(t *testing.T) {
	k, brokers := realClient(t)
	topic := "tl-append-" + time.Now().Format("150405.000000")
	logAppend := "LogAppendTime"
	cl, adm := kafkatest.CreateTopic(t, brokers, topic, 1, map[string]*string{"message.timestamp.type": &logAppend})
	dayOld := time.Now().Add(-24 * time.Hour).Truncate(time.Millisecond)
	before := time.Now().Truncate(time.Millisecond)
	kafkatest.Produce(t, cl, topic, 0, dayOld, dayOld, dayOld)
	after := time.Now()
	group := topic + ".g"
	kafkatest.Commit(t, adm, group, topic, map[int32]int64{0: 1})

	snap, err := k.Snapshot(context.Background(), backends.SnapshotOptions{Groups: []string{group}})
	if err != nil {
		t.Fatal(err)
	}
	gp := groupPart(t, snap, group, topic, 0)
	if gp.RecordTime == nil || gp.RecordTime.Before(before) || gp.RecordTime.After(after) || gp.RecordTimeSource != backends.TimeLagRecord {
		t.Fatalf("record time %v (%s, %q), want the broker's append time, between %v and %v (the producer said %v)",
			gp.RecordTime, gp.RecordTimeSource, gp.RecordTimeNote, before, after, dayOld)
	}
	ps := lag.Analyze(snap).Groups[group].Partition(topic, 0)
	if ps.TimeLag == nil || *ps.TimeLag != snap.TakenAt.Sub(*gp.RecordTime) || *ps.TimeLag > time.Since(before) {
		t.Errorf("time lag %v, want %v (from the append time)", ps.TimeLag, snap.TakenAt.Sub(*gp.RecordTime))
	}
}

// TestTimeLagLowerBoundAfterDeleteRecords: a group committed below the log
// start (records deleted, here by DeleteRecords as retention would) gets a
// lower bound: now minus the time of the oldest record kept, saying why.
func TestTimeLagLowerBoundAfterDeleteRecords(t *testing.T) {
	k, brokers := realClient(t)
	topic := "tl-bound-" + time.Now().Format("150405.000000")
	cl, adm := kafkatest.CreateTopic(t, brokers, topic, 1, nil)
	now := time.Now().Truncate(time.Millisecond)
	times := []time.Time{now.Add(-5 * time.Hour), now.Add(-4 * time.Hour), now.Add(-3 * time.Hour), now.Add(-2 * time.Hour), now.Add(-time.Hour)}
	kafkatest.Produce(t, cl, topic, 0, times...)
	group := topic + ".g"
	kafkatest.Commit(t, adm, group, topic, map[int32]int64{0: 1})
	del := kadm.Offsets{}
	del.Add(kadm.Offset{Topic: topic, Partition: 0, At: 3})
	if resp, err := adm.DeleteRecords(context.Background(), del); err != nil || resp.Error() != nil {
		t.Fatalf("delete records: %v %v", err, resp.Error())
	}

	snap, err := k.Snapshot(context.Background(), backends.SnapshotOptions{Groups: []string{group}})
	if err != nil {
		t.Fatal(err)
	}
	gp := groupPart(t, snap, group, topic, 0)
	if !gp.BehindLogStart || gp.LogStart != 3 {
		t.Fatalf("partition %+v, want committed 1 behind log start 3", gp)
	}
	const why = "records before offset 3 deleted by retention"
	if gp.RecordTime == nil || !gp.RecordTime.Equal(times[3]) || gp.RecordTimeSource != backends.TimeLagLowerBound || !strings.Contains(gp.RecordTimeNote, why) {
		t.Fatalf("record time %v (%s, %q), want %v as a lower bound saying %q", gp.RecordTime, gp.RecordTimeSource, gp.RecordTimeNote, times[3], why)
	}
	gs := lag.Analyze(snap).Groups[group]
	ps := gs.Partition(topic, 0)
	if ps.TimeLag == nil || *ps.TimeLag != snap.TakenAt.Sub(times[3]) || ps.TimeLagSource != backends.TimeLagLowerBound || !strings.Contains(ps.TimeLagNote, why) {
		t.Errorf("time lag %v (%s, %q), want ≥ %v", ps.TimeLag, ps.TimeLagSource, ps.TimeLagNote, snap.TakenAt.Sub(times[3]))
	}
	if gs.TimeLagSource != backends.TimeLagLowerBound {
		t.Errorf("group time lag source %q, want lower_bound", gs.TimeLagSource)
	}
}

// TestTimeLagFetchBoundedRealBroker: the reads are bounded. First refresh:
// one Fetch for the leader, one read per partition; second, nothing moved:
// no Fetch at all, every offset from the cache, and the snapshot's
// request count back to what it was without record times; after one
// group's commit moves on one partition: that partition alone is read.
func TestTimeLagFetchBoundedRealBroker(t *testing.T) {
	k, brokers := realClient(t)
	f := kafkatest.NewTimeLag(t, brokers, "tl-bounded-")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts := backends.SnapshotOptions{Groups: f.Groups()}

	first, err := k.Snapshot(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if st := k.rt.last; st.requests != 1 || len(st.reads) != 2 {
		t.Fatalf("first refresh: %d requests reading %v, want 1 request reading both partitions", st.requests, st.reads)
	}
	second, err := k.Snapshot(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if st := k.rt.last; st.requests != 0 || len(st.reads) != 0 || st.cached != st.wanted || st.wanted != 3 {
		t.Fatalf("second refresh: %d requests reading %v, %d of %d from the cache; want none, all 3", st.requests, st.reads, st.cached, st.wanted)
	}
	without, err := k.Snapshot(ctx, backends.SnapshotOptions{Groups: f.Groups(), SkipRecordTimes: true})
	if err != nil {
		t.Fatal(err)
	}
	if second.Requests != without.Requests || first.Requests != without.Requests+1 {
		t.Errorf("requests: %d, then %d cached, %d without record times; want one more on the first only", first.Requests, second.Requests, without.Requests)
	}
	if gp := groupPart(t, second, f.Topic+".day", f.Topic, 0); gp.RecordTime == nil || !gp.RecordTime.Equal(f.Times[0][0]) {
		t.Errorf("cached record time %v, want %v", gp.RecordTime, f.Times[0][0])
	}

	kafkatest.Commit(t, f.Admin, f.Topic+".hour", f.Topic, map[int32]int64{0: 2})
	third, err := k.Snapshot(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	st := k.rt.last
	if st.requests != 1 || len(st.reads) != 1 || st.reads[0].topic != f.Topic || st.reads[0].p != 0 || st.reads[0].off != 2 {
		t.Fatalf("after one commit moved: %d requests reading %v, want partition 0 from offset 2 alone", st.requests, st.reads)
	}
	if gp := groupPart(t, third, f.Topic+".hour", f.Topic, 0); gp.RecordTime == nil || !gp.RecordTime.Equal(f.Times[0][2]) {
		t.Errorf("moved group's record time %v, want %v", gp.RecordTime, f.Times[0][2])
	}
	if gp := groupPart(t, third, f.Topic+".day", f.Topic, 0); gp.RecordTime == nil || !gp.RecordTime.Equal(f.Times[0][0]) {
		t.Errorf("unmoved group's record time %v, want %v", gp.RecordTime, f.Times[0][0])
	}
}

// TestTimeLagFirstSnapshotWholeRealBroker: on the real broker, which
// answers nothing for a partition whose batch at the offset is over the
// read's bound unless it comes first in its answer, partitions of big
// batches (librdkafka's producers write batches of up to 1 MB) and groups
// far apart on one partition all have their exact time lag in the first
// snapshot, within a few Fetches of the one leader.
func TestTimeLagFirstSnapshotWholeRealBroker(t *testing.T) {
	k, brokers := realClient(t)
	topic := "tl-whole-" + time.Now().Format("150405.000000")
	cl, adm := kafkatest.CreateTopic(t, brokers, topic, 3, nil)
	start := time.Now().Add(-3 * time.Hour).Truncate(time.Millisecond)
	at := func(i int) time.Time { return start.Add(time.Duration(i) * time.Minute) }
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for p := range int32(3) {
		for half := range 2 {
			var recs []*kgo.Record
			for i := half * 100; i < half*100+100; i++ {
				v := make([]byte, 1024)
				_, _ = crand.Read(v)
				recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Timestamp: at(i), Value: v})
			}
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil { // one batch of 100 KiB
				t.Fatal(err)
			}
		}
	}
	groups := map[string]int64{topic + ".slow": 5, topic + ".fast": 150}
	for g, off := range groups {
		kafkatest.Commit(t, adm, g, topic, map[int32]int64{0: off, 1: off, 2: off})
	}

	snap, err := k.Snapshot(ctx, backends.SnapshotOptions{Groups: []string{topic + ".slow", topic + ".fast"}})
	if err != nil {
		t.Fatal(err)
	}
	an := lag.Analyze(snap)
	for g, off := range groups {
		for p := range int32(3) {
			gp := groupPart(t, snap, g, topic, p)
			ps := an.Groups[g].Partition(topic, p)
			if gp.RecordTime == nil || !gp.RecordTime.Equal(at(int(off))) || ps.TimeLagSource != backends.TimeLagRecord || ps.TimeLagNote != "" {
				t.Errorf("%s p%d at %d: record time %v, time lag %v (%s, %q); want %v exact", g, p, off, gp.RecordTime, ps.TimeLag, ps.TimeLagSource, ps.TimeLagNote, at(int(off)))
			}
		}
	}
	if st := k.rt.last; st.requests > rtFirstRounds {
		t.Errorf("%d record-time requests to the one leader, want at most %d", st.requests, rtFirstRounds)
	}
}

// TestTimeLagTransactionMarkerRealBroker: a group that committed the
// offset of a transaction's commit marker, the last entry of the log (as
// consumers that commit their last record + 1 do), has lag 1 and nothing
// to read: its time lag is 0, exact, and says why; a group before the
// transaction's records gets the first one's time.
func TestTimeLagTransactionMarkerRealBroker(t *testing.T) {
	k, brokers := realClient(t)
	topic := "tl-txn-" + time.Now().Format("150405.000000")
	_, adm := kafkatest.CreateTopic(t, brokers, topic, 1, nil)
	txn, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hourAgo := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := txn.ProduceSync(ctx, &kgo.Record{Topic: topic, Timestamp: hourAgo.Add(time.Duration(i) * time.Second), Value: []byte("in a transaction")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := txn.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	// records 0 and 1, the commit marker at 2, the log end 3
	marker, before := topic+".marker", topic+".before"
	kafkatest.Commit(t, adm, marker, topic, map[int32]int64{0: 2})
	kafkatest.Commit(t, adm, before, topic, map[int32]int64{0: 0})

	// the coordinator writes the commit marker after EndTransaction has
	// returned: wait until the log end is past it
	var snap *backends.ClusterSnapshot
	for {
		snap, err = k.Snapshot(ctx, backends.SnapshotOptions{Groups: []string{marker, before}})
		if err != nil {
			t.Fatal(err)
		}
		if gp := groupPart(t, snap, marker, topic, 0); gp.LogEnd >= 3 || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	an := lag.Analyze(snap)
	gp := groupPart(t, snap, marker, topic, 0)
	ps := an.Groups[marker].Partition(topic, 0)
	const why = "only transaction markers"
	if gp.Lag == nil || *gp.Lag != 1 || gp.LogEnd != 3 {
		t.Fatalf("partition %+v, want lag 1 (the marker) to log end 3", gp)
	}
	if ps.TimeLag == nil || *ps.TimeLag != 0 || ps.TimeLagSource != backends.TimeLagRecord || !strings.Contains(ps.TimeLagNote, why) {
		t.Errorf("at the marker: time lag %v (%s, %q), want 0, exact, saying %q", ps.TimeLag, ps.TimeLagSource, ps.TimeLagNote, why)
	}
	if gs := an.Groups[marker]; gs.TimeLag == nil || *gs.TimeLag != 0 {
		t.Errorf("at the marker: group time lag %v, want 0", gs.TimeLag)
	}
	if gp := groupPart(t, snap, before, topic, 0); gp.RecordTime == nil || !gp.RecordTime.Equal(hourAgo) || gp.RecordTimeSource != backends.TimeLagRecord {
		t.Errorf("before the transaction: record time %v (%s, %q), want %v", gp.RecordTime, gp.RecordTimeSource, gp.RecordTimeNote, hourAgo)
	}
}
