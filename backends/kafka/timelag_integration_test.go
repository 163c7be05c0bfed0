package kafka

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

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
			ps := an.Groups[group].Partitions[lag.PartitionKey{Topic: f.Topic, Partition: p}]
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
	ps := lag.Analyze(snap).Groups[group].Partitions[lag.PartitionKey{Topic: topic, Partition: 0}]
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
	ps := gs.Partitions[lag.PartitionKey{Topic: topic, Partition: 0}]
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
