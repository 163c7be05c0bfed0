package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/lag"
	"github.com/mqops/mqops/backends/lag/lagtest"
	"github.com/mqops/mqops/backends/safejson"
)

// wholeLagReport is the report built whole, as `mqops lag` built it
// before it streamed: the oracle of the streamed output.
func wholeLagReport(ctxName, cluster string, snap *backends.ClusterSnapshot, an *lag.Analysis) *lagReport {
	rep := &lagReport{Context: ctxName, Cluster: cluster, TakenAt: snap.TakenAt.UTC().Format(time.RFC3339), Samples: an.Samples, Groups: []lagGroup{}}
	known := func(v int64) *int64 {
		if v < 0 {
			return nil
		}
		return &v
	}
	for _, gr := range snap.Groups {
		gs := an.Groups[gr.Name]
		lg := lagGroup{
			Group: gr.Name, State: gr.State, Protocol: gr.ProtocolType, Members: len(gr.Members),
			Type: gr.Type, GroupEpoch: gr.GroupEpoch, AssignmentEpoch: gr.AssignmentEpoch,
			Topics: gr.Topics(), Lag: gr.TotalLag(), Status: string(lag.Unknown), Error: gr.Err, Unknown: gr.Unknown,
			Partitions: []lagPartition{},
		}
		if lg.Topics == nil {
			lg.Topics = []string{}
		}
		if gs != nil {
			lg.Status = string(gs.Status)
			lg.ProduceRate, lg.ConsumeRate = round2(gs.ProduceRate), round2(gs.ConsumeRate)
			lg.TimeLagSeconds, lg.TimeToDrainSeconds = secs(gs.TimeLag), secs(gs.TimeToDrain)
			lg.TimeLagSource, lg.TimeLagNote = source(gs.TimeLagSource), gs.TimeLagNote
		}
		for _, p := range gr.Partitions {
			lp := lagPartition{
				Topic: p.Topic, Partition: p.Partition, Committed: p.Committed,
				LogStart: known(p.LogStart), LogEnd: known(p.LogEnd), Lag: p.Lag, BehindLogStart: p.BehindLogStart,
				Member: p.MemberID, ClientID: p.ClientID, Host: p.Host, Status: string(lag.Unknown),
			}
			if gs != nil {
				if ps := gs.Partition(p.Topic, p.Partition); ps != nil {
					lp.Status = string(ps.Status)
					lp.TimeLagSeconds = secs(ps.TimeLag)
					lp.TimeLagSource, lp.TimeLagNote = source(ps.TimeLagSource), ps.TimeLagNote
				}
			}
			lg.Partitions = append(lg.Partitions, lp)
		}
		rep.Groups = append(rep.Groups, lg)
	}
	sort.SliceStable(rep.Groups, func(i, j int) bool {
		if rep.Groups[i].Lag != rep.Groups[j].Lag {
			return rep.Groups[i].Lag > rep.Groups[j].Lag
		}
		return rep.Groups[i].Group < rep.Groups[j].Group
	})
	return rep
}

// tabwriterLag is the table as text/tabwriter wrote it (newTable).
func tabwriterLag(w io.Writer, rep *lagReport) error {
	t := newTable(w, lagColumns...)
	for _, gr := range rep.Groups {
		if len(gr.Partitions) == 0 {
			t.row(gr.Group, "-", "-", "-", "-", "-", "-", gr.Status, "-", "-", "-")
		}
		for _, p := range gr.Partitions {
			lagCell := i64(p.Lag)
			if p.BehindLogStart {
				lagCell += " (behind log start)"
			}
			t.row(gr.Group, p.Topic, fmt.Sprint(p.Partition), i64(p.Committed), i64(p.LogStart), i64(p.LogEnd), lagCell, p.Status, timeLagCell(p.TimeLagSeconds, p.TimeLagSource), orDash(p.ClientID), orDash(p.Host))
		}
	}
	return t.flush()
}

// sameLagOutput fails unless the streamed JSON and table are byte for
// byte the whole report's. With an nil (one sample, each group analysed
// as it is written), the whole report is of lag.Analyze's analysis.
func sameLagOutput(t *testing.T, snap *backends.ClusterSnapshot, an *lag.Analysis) {
	t.Helper()
	whole := an
	if whole == nil {
		whole = lag.Analyze(snap)
	}
	var want, got bytes.Buffer
	if err := writeJSON(&want, wholeLagReport("prod<&>", "kafka-1:9092", snap, whole)); err != nil {
		t.Fatal(err)
	}
	if err := writeLagJSON(&got, "prod<&>", "kafka-1:9092", snap, an); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Errorf("streamed JSON differs from the whole report's at byte %d:\n%s", firstDiff(got.Bytes(), want.Bytes()), diffContext(got.Bytes(), want.Bytes()))
	}
	want.Reset()
	got.Reset()
	if err := tabwriterLag(&want, wholeLagReport("c", "k", snap, whole)); err != nil {
		t.Fatal(err)
	}
	if err := printLag(&got, snap, an); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Errorf("streamed table differs from tabwriter's at byte %d:\n%s", firstDiff(got.Bytes(), want.Bytes()), diffContext(got.Bytes(), want.Bytes()))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func diffContext(got, want []byte) string {
	i := firstDiff(got, want)
	from := max(i-200, 0)
	return fmt.Sprintf("got:  %q\nwant: %q", got[from:min(i+100, len(got))], want[from:min(i+100, len(want))])
}

// TestLagStreamSameAsWholeReport: the streamed JSON is byte for byte
// what writeJSON writes of the whole report, and the streamed table what
// tabwriter aligns, over a cluster observed several times (rates,
// statuses, time lags of every source) and on the edges: no group, groups
// without partitions, with errors, unknown members, epochs, partitions
// out of order, offsets unknown, behind the log start.
func TestLagStreamSameAsWholeReport(t *testing.T) {
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	sc := lagtest.Scale{Groups: 60, Topics: 4, Partitions: 6, Members: 2}
	tr := lag.NewTracker(lag.Options{})
	var (
		snap *backends.ClusterSnapshot
		an   *lag.Analysis
	)
	for step := range 4 {
		snap = sc.Snapshot(at.Add(time.Duration(step)*5*time.Second), step)
		if step == 3 {
			edgeCases(snap)
		}
		an = tr.Observe(snap)
	}
	sameLagOutput(t, snap, an)

	t.Run("one sample", func(t *testing.T) {
		s := sc.Snapshot(at, 0)
		edgeCases(s)
		sameLagOutput(t, s, lag.Analyze(s))
		sameLagOutput(t, s, nil) // each group analysed as it is written
	})
	t.Run("several rounds of chunks", func(t *testing.T) {
		big := lagtest.Scale{Groups: 5*lagChunk + 17, Topics: 3, Partitions: 5, Members: 3}
		s := big.Snapshot(at, 2)
		edgeCases(s)
		sameLagOutput(t, s, lag.Analyze(s))
		sameLagOutput(t, s, nil)
	})
	t.Run("no group", func(t *testing.T) {
		s := &backends.ClusterSnapshot{TakenAt: at}
		sameLagOutput(t, s, lag.Analyze(s))
	})
}

// edgeCases edits a synthetic snapshot into the cases a real cluster has.
func edgeCases(s *backends.ClusterSnapshot) {
	g := &s.Groups
	(*g)[0].Partitions = nil
	(*g)[0].Err = "offset fetch: coordinator not available"
	(*g)[1].Unknown = "members: broker 1 does not support ConsumerGroupDescribe"
	(*g)[1].Type, (*g)[1].GroupEpoch, (*g)[1].AssignmentEpoch = backends.GroupConsumer, 7, 6
	ps := (*g)[2].Partitions
	ps[0], ps[len(ps)-1] = ps[len(ps)-1], ps[0] // out of order
	ps[1].Committed, ps[1].Lag = nil, nil       // no commit
	ps[2].LogStart, ps[2].LogEnd, ps[2].Lag = -1, -1, nil
	c := ps[2].LogStart - 5
	ps[3].Committed, ps[3].BehindLogStart = &c, true
	ps[3].RecordTime, ps[3].RecordTimeSource, ps[3].RecordTimeNote = nil, "", "record not read: the partition has no leader"
	ps[4].RecordTimeSource, ps[4].RecordTimeNote = backends.TimeLagLowerBound, "records deleted by retention"
}

// FuzzLagStream puts hostile text everywhere the report prints broker
// text (group, topic, member, client, host, error, notes) and checks the
// streamed output against the whole report's, JSON and table.
func FuzzLagStream(f *testing.F) {
	for _, s := range []string{"", "plain", "<script>&amp;", "a\tb\nc\x1b[31m", "\xff\xfe bytes", "é中文😀", "\u202etxt", "\u0301start", `q"uo\te`, "\x00\x7f\u0085\u2028"} {
		f.Add(s)
	}
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		snap := lagtest.Scale{Groups: 5, Topics: 2, Partitions: 3, Members: 1}.Snapshot(at, 1)
		for i := range snap.Groups {
			g := &snap.Groups[i]
			g.Name += s + strings.Repeat("x", i)
			g.State, g.Err, g.Unknown = s, s, s
			for j := range g.Partitions {
				p := &g.Partitions[j]
				p.Topic += s
				p.MemberID, p.ClientID, p.Host, p.RecordTimeNote = s, s, s, s
			}
		}
		for i := range snap.Topics {
			snap.Topics[i].Name += s
			for j := range snap.Topics[i].Partitions {
				snap.Topics[i].Partitions[j].Topic += s
			}
		}
		sameLagOutput(t, snap, lag.Analyze(snap))
		sameLagOutput(t, snap, nil)
	})
}

// BenchmarkLagOutput measures writing the report of 5,000 groups × 32
// partitions (160,000 rows) from a snapshot and its analysis, as JSON and
// as a table, to a writer that keeps nothing.
func BenchmarkLagOutput(b *testing.B) {
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	snap := lagtest.Cluster.Snapshot(at, 0)
	var an *lag.Analysis // one sample, as `mqops lag`: each group analysed as it is written
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := writeLagJSON(io.Discard, "c", "k", snap, an); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("table", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := printLag(io.Discard, snap, an); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestAppendTimeLag: the table's time lag cell is timeLagCell's, over
// every source and durations from 0 to past the largest.
func TestAppendTimeLag(t *testing.T) {
	sources := []*string{nil, source(backends.TimeLagRecord), source(backends.TimeLagInterpolated), source(backends.TimeLagLowerBound), source("other")}
	values := []float64{0, 0.2, 0.5, 0.51, 1, 59.5, 60, 61, 3599.4, 3600, 3661, 86400 * 400, -3, 9.3e9, 1e300}
	for i := range 2000 {
		values = append(values, float64(i*i)*1.37)
	}
	for _, src := range sources {
		for _, v := range append(values, -1) {
			s := &v
			if v == -1 {
				s = nil
			}
			if got, want := string(appendTimeLag(nil, s, src)), timeLagCell(s, src); got != want {
				t.Errorf("%v %v: %q, want %q", v, src, got, want)
			}
		}
	}
}

// TestDigits: digits is the length strconv.AppendInt gives, over the
// edges of every power of ten and both ends of int64.
func TestDigits(t *testing.T) {
	vs := []int64{0, math.MaxInt64, math.MinInt64, math.MinInt64 + 1}
	for p := int64(1); p <= math.MaxInt64/10; p *= 10 {
		vs = append(vs, p-1, p, p+1, -p+1, -p, -p-1, 10*p-1)
	}
	for _, v := range vs {
		if got, want := digits(v), len(strconv.AppendInt(nil, v, 10)); got != want {
			t.Errorf("digits(%d) = %d, want %d", v, got, want)
		}
	}
}

// TestAppendCents: appendCents writes what safejson.AppendFloat writes,
// over round2's values from 0 to the largest it takes, both signs, and
// refuses what is not a whole number of hundredths (or too large).
func TestAppendCents(t *testing.T) {
	vs := []float64{0, math.Copysign(0, -1), 0.01, 0.1, 0.5, 1, 9.99, 10, 12.34, 12.3, 100.05, 1e9 + 0.07, (1<<43 - 1) / 100.0, 1 << 43 / 100.0, 0.001, 1.005, 1e21, math.MaxFloat64, math.SmallestNonzeroFloat64}
	for i := range 200000 {
		x := float64(i*i) * 0.37
		vs = append(vs, round2(x), round2(x/1e4), x)
	}
	for _, v := range vs {
		for _, v := range []float64{v, -v} {
			want, err := safejson.AppendFloat(nil, v)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := appendCents(nil, v)
			if ok && string(got) != string(want) {
				t.Errorf("appendCents(%v) = %s, want %s", v, got, want)
			}
			if c := math.Round(v * 100); !ok && c/100 == v && math.Abs(c) < 1<<43 && !(v == 0 && math.Signbit(v)) {
				t.Errorf("appendCents(%v) refused a whole number of hundredths", v)
			}
		}
	}
}

// TestLineStatIndexes: keep's indexes name the texts the table writes
// for them, and a status is its own cell (the table writes it as it is).
func TestLineStatIndexes(t *testing.T) {
	for i, s := range lineStatuses[1:] {
		if got := statusIndex(s); got != uint8(i+1) {
			t.Errorf("statusIndex(%q) = %d, want %d", s, got, i+1)
		}
		if cell(string(s)) != string(s) {
			t.Errorf("status %q is not its own cell", s)
		}
	}
	for i, s := range lineSources[2:] {
		if got := sourceIndex(s); got != uint8(i+2) {
			t.Errorf("sourceIndex(%q) = %d, want %d", s, got, i+2)
		}
	}
	if statusIndex("HALTED") != lineOther || sourceIndex("guess") != lineOther || sourceIndex("") != 1 {
		t.Error("an unknown status or source, or no source, has the wrong index")
	}
}

// TestTuneGCForOneSnapshot: a one-sample report runs at GOGC 400 counted
// from a floor of heap never touched; the operator's GOGC wins, floor
// included.
func TestTuneGCForOneSnapshot(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev); gcFloor = nil })

	t.Setenv("GOGC", "")
	gcFloor = nil
	tuneGCForOneSnapshot()
	if got := debug.SetGCPercent(100); got != 400 {
		t.Errorf("GC percent %d, want 400", got)
	}
	if len(gcFloor) != gcFloorBytes {
		t.Errorf("floor of %d bytes, want %d", len(gcFloor), gcFloorBytes)
	}

	t.Setenv("GOGC", "50")
	debug.SetGCPercent(50)
	gcFloor = nil
	tuneGCForOneSnapshot()
	if got := debug.SetGCPercent(50); got != 50 || gcFloor != nil {
		t.Errorf("with GOGC=50: GC percent %d, floor of %d bytes; want 50 and none", got, len(gcFloor))
	}
}
