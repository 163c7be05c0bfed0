package lag

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/lag/lagtest"
)

var t0 = time.Date(2025, 3, 1, 10, 32, 0, 0, time.UTC)

const noC = -1 // no committed offset, in the test tables

// part is one group partition in a synthetic snapshot: the partition's log
// end and the group's committed offset (noC: none).
type part struct{ end, committed int64 }

// groupSnap builds a snapshot with one topic "orders" whose partition i is
// parts[i], and one group "billing" in the given state positioned on it.
func groupSnap(at time.Time, state string, parts ...part) *backends.ClusterSnapshot {
	tp := backends.Topic{Name: "orders"}
	g := backends.Group{Name: "billing", State: state}
	for i, p := range parts {
		tp.Partitions = append(tp.Partitions, backends.Partition{
			Topic: "orders", Partition: int32(i), LogEnd: p.end,
		})
		gp := backends.GroupPartition{Topic: "orders", Partition: int32(i), LogEnd: p.end}
		if p.committed != noC {
			c, l := p.committed, p.end-p.committed
			gp.Committed, gp.Lag = &c, &l
		}
		g.Partitions = append(g.Partitions, gp)
	}
	return &backends.ClusterSnapshot{TakenAt: at, Topics: []backends.Topic{tp}, Groups: []backends.Group{g}}
}

// series observes one partition every 10 s from t0 and returns the last
// analysis and its partition stats.
func series(t *testing.T, o Options, state string, ends, committed []int64) (*Analysis, *PartitionStats) {
	t.Helper()
	if len(ends) != len(committed) {
		t.Fatalf("bad table: %d ends, %d commits", len(ends), len(committed))
	}
	tr := NewTracker(o)
	var a *Analysis
	for i := range ends {
		a = tr.Observe(groupSnap(t0.Add(time.Duration(i)*10*time.Second), state, part{ends[i], committed[i]}))
		checkFinite(t, a)
	}
	return a, partStats(t, a, "billing", 0)
}

func partStats(t *testing.T, a *Analysis, group string, p int32) *PartitionStats {
	t.Helper()
	g := a.Groups[group]
	if g == nil {
		t.Fatalf("group %q missing from analysis", group)
	}
	ps := g.Partition("orders", p)
	if ps == nil {
		t.Fatalf("partition orders/%d missing from group %q", p, group)
	}
	return ps
}

// checkFinite fails on any NaN, Inf or negative rate or duration.
func checkFinite(t *testing.T, a *Analysis) {
	t.Helper()
	bad := func(f float64) bool { return math.IsNaN(f) || math.IsInf(f, 0) || f < 0 }
	badD := func(d *time.Duration) bool { return d != nil && *d < 0 }
	for name, g := range a.Groups {
		if bad(g.ProduceRate) || bad(g.ConsumeRate) || badD(g.TimeLag) || badD(g.TimeToDrain) {
			t.Errorf("group %s: bad number in %+v", name, g)
		}
		for k := range g.Len() {
			p := g.At(k)
			if bad(p.ProduceRate) || bad(p.ConsumeRate) || badD(p.TimeLag) || badD(p.TimeToDrain) {
				t.Errorf("group %s %v: bad number in %+v", name, k, p)
			}
		}
	}
	for name, tp := range a.Topics {
		if bad(tp.ProduceRate) {
			t.Errorf("topic %s: bad produce rate %v", name, tp.ProduceRate)
		}
		for p, r := range tp.Partitions {
			if bad(r) {
				t.Errorf("topic %s/%d: bad produce rate %v", name, p, r)
			}
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9*math.Max(1, math.Abs(b)) }

func dur(d time.Duration) *time.Duration { return &d }

func fmtDur(d *time.Duration) string {
	if d == nil {
		return "nil"
	}
	return d.String()
}

func TestStatus(t *testing.T) {
	stable, empty, dead := backends.GroupStable, backends.GroupEmpty, backends.GroupDead
	cases := []struct {
		name      string
		opts      Options
		state     string
		ends      []int64
		committed []int64
		want      Status
	}{
		{"ok lag decreasing", Options{}, stable,
			[]int64{100, 110, 120, 130}, []int64{50, 80, 100, 125}, OK},
		{"ok no lag", Options{}, stable,
			[]int64{100, 110, 120}, []int64{100, 110, 120}, OK},
		{"ok steady lag, consumer moving", Options{}, stable,
			[]int64{100, 200, 300}, []int64{50, 150, 250}, OK},
		{"warn lag growing", Options{}, stable,
			[]int64{100, 200, 300, 400}, []int64{90, 150, 200, 250}, Warn},
		{"warn lag flat then growing", Options{}, stable,
			[]int64{100, 200, 300}, []int64{90, 190, 250}, Warn},
		{"warn needs three samples", Options{}, stable,
			[]int64{100, 200}, []int64{90, 150}, OK},
		{"warn despite a small dip (commit jitter)", Options{}, stable,
			[]int64{100, 200, 300, 400}, []int64{90, 150, 260, 300}, Warn},
		{"no warn when dips are large against growth", Options{}, stable,
			[]int64{100, 200, 300, 400}, []int64{90, 150, 280, 340}, OK},
		{"warn once the decrease left the window", Options{Window: 3}, stable,
			[]int64{100, 200, 300, 400, 500}, []int64{0, 190, 280, 360, 440}, Warn},
		{"stall offset not moving", Options{}, stable,
			[]int64{100, 110, 120}, []int64{50, 50, 50}, Stall},
		{"stall with no production", Options{}, stable,
			[]int64{100, 100}, []int64{50, 50}, Stall},
		{"stall within allowance is ok", Options{Allowance: 100}, stable,
			[]int64{100, 110, 120}, []int64{50, 50, 50}, OK},
		{"stop empty group", Options{}, empty,
			[]int64{100, 110, 120}, []int64{50, 50, 50}, Stop},
		{"stop dead group", Options{}, dead,
			[]int64{100, 110, 120}, []int64{50, 50, 50}, Stop},
		{"stop single sample empty group", Options{}, empty,
			[]int64{100}, []int64{50}, Stop},
		{"single sample empty group without lag", Options{}, empty,
			[]int64{100}, []int64{100}, OK},
		{"single sample stable group with lag", Options{}, stable,
			[]int64{100}, []int64{50}, OK},
		{"empty group still committing", Options{}, empty,
			[]int64{100, 110, 120}, []int64{50, 60, 70}, OK},
		{"rewind", Options{}, stable,
			[]int64{100, 110, 120, 130}, []int64{50, 80, 60, 70}, Rewind},
		{"rewind beats stall", Options{}, stable,
			[]int64{100, 110, 120, 130}, []int64{80, 60, 60, 60}, Rewind},
		{"rewind to no lag is still rewind", Options{}, stable,
			[]int64{100, 100}, []int64{100, 50}, Rewind},
		{"rewind out of the window", Options{Window: 3}, stable,
			[]int64{100, 110, 120, 130, 140}, []int64{50, 40, 60, 80, 120}, OK},
		{"unknown no commit", Options{}, stable,
			[]int64{100, 110, 120}, []int64{noC, noC, noC}, Unknown},
		{"unknown commit expired", Options{}, stable,
			[]int64{100, 110, 120}, []int64{50, 60, noC}, Unknown},
		{"samples without commit are skipped", Options{}, stable,
			[]int64{100, 110, 120, 130}, []int64{50, noC, 50, 50}, Stall},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, ps := series(t, c.opts, c.state, c.ends, c.committed)
			if ps.Status != c.want {
				t.Errorf("status = %s, want %s (history %v)", ps.Status, c.want, ps.LagHistory)
			}
			if g := a.Groups["billing"]; g.Status != c.want {
				t.Errorf("group status = %s, want %s", g.Status, c.want)
			}
			wantLag := c.ends[len(c.ends)-1] - c.committed[len(c.committed)-1]
			switch {
			case c.committed[len(c.committed)-1] == noC && ps.Lag != nil:
				t.Errorf("lag = %d, want nil without commit", *ps.Lag)
			case c.committed[len(c.committed)-1] != noC && (ps.Lag == nil || *ps.Lag != wantLag):
				t.Errorf("lag = %v, want %d", ps.Lag, wantLag)
			}
		})
	}
}

func TestGroupTakesWorstPartition(t *testing.T) {
	tr := NewTracker(Options{})
	// p0 drains (OK), p1 grows (WARN), p2 stalls (STALL), p3 has no commit.
	rows := [][]part{
		{{100, 50}, {100, 90}, {100, 50}, {100, noC}},
		{{110, 80}, {200, 150}, {110, 50}, {110, noC}},
		{{120, 110}, {300, 200}, {120, 50}, {120, noC}},
	}
	var a *Analysis
	for i, r := range rows {
		a = tr.Observe(groupSnap(t0.Add(time.Duration(i)*10*time.Second), backends.GroupStable, r...))
	}
	want := []Status{OK, Warn, Stall, Unknown}
	for p, w := range want {
		if got := partStats(t, a, "billing", int32(p)).Status; got != w {
			t.Errorf("p%d status = %s, want %s", p, got, w)
		}
	}
	g := a.Groups["billing"]
	if g.Len() != 4 {
		t.Fatalf("%d partitions analysed, want 4", g.Len())
	}
	for i := range g.Len() {
		p := g.At(i)
		if byKey := g.Partition("orders", int32(i)); p.Partition != int32(i) || p.Topic != "orders" || byKey == nil || !reflect.DeepEqual(*byKey, p) {
			t.Errorf("partition %d: orders/%d, and by its key %+v", i, p.Partition, byKey)
		}
	}
	if g.Status != Stall {
		t.Errorf("group status = %s, want STALL", g.Status)
	}
	if want := int64(10 + 100 + 70); g.Lag != want {
		t.Errorf("group lag = %d, want %d (partitions without commit excluded)", g.Lag, want)
	}
	if want := []int64{50 + 10 + 50, 30 + 50 + 60, 10 + 100 + 70}; !slices.Equal(g.LagHistory, want) {
		t.Errorf("group lag history = %v, want %v", g.LagHistory, want)
	}
	if g.Samples != 3 || a.Samples != 3 {
		t.Errorf("samples = %d (group), %d (analysis), want 3", g.Samples, a.Samples)
	}
	var produce, consume float64
	for i := range g.Len() {
		p := g.At(i)
		produce += p.ProduceRate
		consume += p.ConsumeRate
	}
	if !near(g.ProduceRate, produce) || !near(g.ConsumeRate, consume) {
		t.Errorf("group rates %v/%v, want sums %v/%v", g.ProduceRate, g.ConsumeRate, produce, consume)
	}
	// p2 lags and does not drain, so the group does not either.
	if g.TimeToDrain != nil {
		t.Errorf("group time to drain = %v, want nil while p2 stalls", *g.TimeToDrain)
	}

	t.Run("all partitions without commit", func(t *testing.T) {
		a := Analyze(groupSnap(t0, backends.GroupStable, part{100, noC}, part{100, noC}))
		if g := a.Groups["billing"]; g.Status != Unknown || g.Lag != 0 || len(g.LagHistory) != 0 || g.TimeToDrain != nil {
			t.Errorf("group = %+v, want Unknown, no lag, no history, no drain", g)
		}
	})
	t.Run("unknown partitions do not hide ok ones", func(t *testing.T) {
		a := Analyze(groupSnap(t0, backends.GroupStable, part{100, noC}, part{100, 100}))
		if g := a.Groups["billing"]; g.Status != OK {
			t.Errorf("group status = %s, want OK", g.Status)
		}
	})
	t.Run("group without partitions", func(t *testing.T) {
		s := &backends.ClusterSnapshot{TakenAt: t0, Groups: []backends.Group{{Name: "idle", State: backends.GroupEmpty}}}
		if g := Analyze(s).Groups["idle"]; g == nil || g.Status != Unknown {
			t.Errorf("group = %+v, want Unknown", g)
		}
	})
}

func TestTimeLag(t *testing.T) {
	cases := []struct {
		name      string
		ends      []int64
		committed []int64
		want      *time.Duration
	}{
		// Log end 0@t0, 100@t0+10s, 200@t0+20s: it was 150 at t0+15s.
		{"interpolated", []int64{0, 100, 200}, []int64{0, 0, 150}, dur(5 * time.Second)},
		{"on a sample", []int64{0, 100, 200}, []int64{0, 0, 100}, dur(10 * time.Second)},
		{"at the oldest sample", []int64{0, 100, 200}, []int64{0, 0, 0}, dur(20 * time.Second)},
		{"uneven production", []int64{0, 10, 110}, []int64{0, 0, 60}, dur(5 * time.Second)},
		{"flat log end takes the latest time it was there", []int64{100, 100, 200}, []int64{0, 0, 100}, dur(10 * time.Second)},
		{"caught up", []int64{0, 100, 200}, []int64{0, 100, 200}, dur(0)},
		// 1000@t0, 1100@t0+10s, 1200@t0+20s is 10/s: 500 was at t0−50s.
		{"extrapolated", []int64{1000, 1100, 1200}, []int64{500, 500, 500}, dur(70 * time.Second)},
		// No production over the table: the table's age is a lower bound.
		{"extrapolated without production", []int64{1000, 1000, 1000}, []int64{500, 500, 500}, dur(20 * time.Second)},
		{"one sample with lag", []int64{100}, []int64{50}, nil},
		{"one sample without lag", []int64{100}, []int64{100}, dur(0)},
		{"no commit", []int64{0, 100}, []int64{noC, noC}, nil},
		// The log end went backwards (topic recreated): the bracket is
		// found from the newest samples.
		{"log end reset", []int64{500, 0, 100, 200}, []int64{0, 0, 0, 150}, dur(5 * time.Second)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, ps := series(t, Options{}, backends.GroupStable, c.ends, c.committed)
			if (ps.TimeLag == nil) != (c.want == nil) || (ps.TimeLag != nil && *ps.TimeLag != *c.want) {
				t.Errorf("time lag = %s, want %s", fmtDur(ps.TimeLag), fmtDur(c.want))
			}
			if g := a.Groups["billing"]; fmtDur(g.TimeLag) != fmtDur(ps.TimeLag) {
				t.Errorf("group time lag = %s, want the partition's %s", fmtDur(g.TimeLag), fmtDur(ps.TimeLag))
			}
		})
	}

	t.Run("group takes the max", func(t *testing.T) {
		tr := NewTracker(Options{})
		var a *Analysis
		for i, r := range [][]part{{{0, 0}, {0, 0}}, {{100, 0}, {100, 0}}, {{200, 150}, {200, 100}}} {
			a = tr.Observe(groupSnap(t0.Add(time.Duration(i)*10*time.Second), backends.GroupStable, r...))
		}
		if g := a.Groups["billing"]; g.TimeLag == nil || *g.TimeLag != 10*time.Second {
			t.Errorf("group time lag = %s, want 10s", fmtDur(g.TimeLag))
		}
	})
	t.Run("older samples age out", func(t *testing.T) {
		tr := NewTracker(Options{MaxAge: time.Minute})
		tr.Observe(groupSnap(t0, backends.GroupStable, part{0, 0}))
		tr.Observe(groupSnap(t0.Add(10*time.Minute), backends.GroupStable, part{100, 0}))
		a := tr.Observe(groupSnap(t0.Add(10*time.Minute+10*time.Second), backends.GroupStable, part{200, 50}))
		// Only the last two samples remain: 100→200 over 10 s is 10/s, so
		// 50 was at t+10m−5s, 15 s before now.
		if ps := partStats(t, a, "billing", 0); ps.TimeLag == nil || *ps.TimeLag != 15*time.Second {
			t.Errorf("time lag = %s, want 15s", fmtDur(ps.TimeLag))
		}
		if a.Samples != 2 {
			t.Errorf("samples = %d, want 2 after aging", a.Samples)
		}
	})
}

func TestRatesAndTimeToDrain(t *testing.T) {
	cases := []struct {
		name             string
		opts             Options
		ends, committed  []int64
		produce, consume float64
		drain            *time.Duration
	}{
		// Produce 10/s, consume 30/s, lag 100: 100 / 20 = 5 s.
		{"draining", Options{}, []int64{1000, 1100, 1200}, []int64{500, 800, 1100}, 10, 30, dur(5 * time.Second)},
		{"falling behind", Options{}, []int64{1000, 1300, 1600}, []int64{900, 1000, 1100}, 30, 10, nil},
		{"keeping pace", Options{}, []int64{1000, 1100, 1200}, []int64{900, 1000, 1100}, 10, 10, nil},
		{"caught up", Options{}, []int64{1000, 1100, 1200}, []int64{1000, 1100, 1200}, 10, 10, dur(0)},
		{"single sample", Options{}, []int64{1000}, []int64{500}, 0, 0, nil},
		{"rewind has no consume rate", Options{}, []int64{1000, 1100, 1200}, []int64{900, 500, 1000}, 10, 0, nil},
		{"no commit", Options{}, []int64{1000, 1100}, []int64{noC, noC}, 10, 0, nil},
		// Only the newest Window samples count: 1000→1100 and 500→800.
		{"over the window", Options{Window: 2}, []int64{0, 1000, 1100}, []int64{0, 500, 800}, 10, 30, dur(15 * time.Second)},
		// The log end went backwards: only the increases count.
		{"log end reset", Options{}, []int64{1000, 0, 100}, []int64{0, 0, 0}, 5, 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, ps := series(t, c.opts, backends.GroupStable, c.ends, c.committed)
			if !near(ps.ProduceRate, c.produce) || !near(ps.ConsumeRate, c.consume) {
				t.Errorf("rates = %v produce, %v consume; want %v, %v", ps.ProduceRate, ps.ConsumeRate, c.produce, c.consume)
			}
			if fmtDur(ps.TimeToDrain) != fmtDur(c.drain) {
				t.Errorf("time to drain = %s, want %s", fmtDur(ps.TimeToDrain), fmtDur(c.drain))
			}
			if g := a.Groups["billing"]; fmtDur(g.TimeToDrain) != fmtDur(c.drain) {
				t.Errorf("group time to drain = %s, want %s", fmtDur(g.TimeToDrain), fmtDur(c.drain))
			}
			tp := a.Topics["orders"]
			if !near(tp.ProduceRate, c.produce) || !near(tp.Partitions[0], c.produce) {
				t.Errorf("topic produce rate = %v (p0 %v), want %v", tp.ProduceRate, tp.Partitions[0], c.produce)
			}
			if !slices.Equal(tp.EndHistory, c.ends) {
				t.Errorf("topic end history = %v, want %v", tp.EndHistory, c.ends)
			}
		})
	}

	t.Run("group drain is the slowest partition", func(t *testing.T) {
		tr := NewTracker(Options{})
		var a *Analysis
		rows := [][]part{
			{{1000, 500}, {1000, 500}, {1000, 1000}},
			{{1100, 800}, {1100, 700}, {1100, 1100}},
			{{1200, 1100}, {1200, 900}, {1200, 1200}},
		}
		for i, r := range rows {
			a = tr.Observe(groupSnap(t0.Add(time.Duration(i)*10*time.Second), backends.GroupStable, r...))
		}
		// p0: 100/(30−10) = 5 s; p1: 300/(20−10) = 30 s; p2: caught up.
		g := a.Groups["billing"]
		if g.TimeToDrain == nil || *g.TimeToDrain != 30*time.Second {
			t.Errorf("group time to drain = %s, want 30s", fmtDur(g.TimeToDrain))
		}
		if !near(g.ProduceRate, 30) || !near(g.ConsumeRate, 30+20+10) {
			t.Errorf("group rates = %v/%v, want 30/60", g.ProduceRate, g.ConsumeRate)
		}
		if tp := a.Topics["orders"]; !near(tp.ProduceRate, 30) || !slices.Equal(tp.EndHistory, []int64{3000, 3300, 3600}) {
			t.Errorf("topic = %+v, want 30/s and end history 3000,3300,3600", tp)
		}
	})
	t.Run("huge lag, tiny drain rate saturates", func(t *testing.T) {
		_, ps := series(t, Options{}, backends.GroupStable,
			[]int64{0, 0, math.MaxInt64 / 2}, []int64{0, 0, 1})
		if ps.TimeLag == nil || *ps.TimeLag < 0 {
			t.Errorf("time lag = %s, want non-negative", fmtDur(ps.TimeLag))
		}
	})
}

func TestDuplicateAndOlderTimestamps(t *testing.T) {
	tr := NewTracker(Options{})
	steps := []struct {
		at   time.Time
		p    part
		want int // samples in the window afterwards
	}{
		{t0, part{100, 50}, 1},
		{t0, part{120, 60}, 1}, // same time: replaces
		{t0.Add(10 * time.Second), part{200, 150}, 2},
		{t0.Add(10 * time.Second), part{210, 150}, 2}, // same time again
		{t0.Add(5 * time.Second), part{220, 200}, 2},  // older: replaces the newest
		{t0.Add(-time.Hour), part{230, 200}, 2},
	}
	var a *Analysis
	for i, s := range steps {
		a = tr.Observe(groupSnap(s.at, backends.GroupStable, s.p))
		checkFinite(t, a)
		if a.Samples != s.want {
			t.Errorf("step %d: samples = %d, want %d", i, a.Samples, s.want)
		}
		ps := partStats(t, a, "billing", 0)
		if ps.Lag == nil || *ps.Lag != s.p.end-s.p.committed {
			t.Errorf("step %d: lag = %v, want the newest snapshot's %d", i, ps.Lag, s.p.end-s.p.committed)
		}
	}
	if want := t0.Add(10 * time.Second); !a.TakenAt.Equal(want) {
		t.Errorf("TakenAt = %v, want the newest sample time %v", a.TakenAt, want)
	}
	ps := partStats(t, a, "billing", 0)
	// Samples: (120, 60)@t0 and (230, 200)@t0+10s.
	if !near(ps.ProduceRate, 11) || !near(ps.ConsumeRate, 14) {
		t.Errorf("rates = %v/%v, want 11/14", ps.ProduceRate, ps.ConsumeRate)
	}
	if !slices.Equal(ps.LagHistory, []int64{60, 30}) {
		t.Errorf("lag history = %v, want [60 30]", ps.LagHistory)
	}

	t.Run("all at one instant", func(t *testing.T) {
		tr := NewTracker(Options{})
		for i := range 5 {
			a := tr.Observe(groupSnap(t0, backends.GroupStable, part{int64(100 * i), 0}, part{0, 0}))
			checkFinite(t, a)
			ps := partStats(t, a, "billing", 0)
			if ps.ProduceRate != 0 || ps.ConsumeRate != 0 {
				t.Errorf("rates %v/%v from one instant, want 0", ps.ProduceRate, ps.ConsumeRate)
			}
			if i > 0 && ps.TimeLag != nil {
				t.Errorf("time lag %s from one instant, want nil", *ps.TimeLag)
			}
		}
	})
	t.Run("zero TakenAt uses the clock", func(t *testing.T) {
		tr := NewTracker(Options{Now: func() time.Time { return t0 }})
		a := tr.Observe(groupSnap(time.Time{}, backends.GroupStable, part{100, 50}))
		if !a.TakenAt.Equal(t0) {
			t.Errorf("TakenAt = %v, want the injected clock's %v", a.TakenAt, t0)
		}
	})
	t.Run("nil snapshot", func(t *testing.T) {
		a := NewTracker(Options{Now: func() time.Time { return t0 }}).Observe(nil)
		if len(a.Groups) != 0 || len(a.Topics) != 0 {
			t.Errorf("analysis of nil snapshot = %+v, want empty", a)
		}
	})
}

// manyGroups is a snapshot of n groups named prefix-i, each on parts
// partitions of one topic per group.
func manyGroups(at time.Time, prefix string, n, parts int, offset int64) *backends.ClusterSnapshot {
	s := &backends.ClusterSnapshot{TakenAt: at}
	for i := range n {
		name := fmt.Sprintf("%s-%d", prefix, i)
		tp := backends.Topic{Name: name}
		g := backends.Group{Name: name, State: backends.GroupStable}
		for p := range parts {
			end, c := offset+100, offset
			lag := end - c
			tp.Partitions = append(tp.Partitions, backends.Partition{Topic: name, Partition: int32(p), LogEnd: end})
			g.Partitions = append(g.Partitions, backends.GroupPartition{
				Topic: name, Partition: int32(p), LogEnd: end, Committed: &c, Lag: &lag,
			})
		}
		s.Topics = append(s.Topics, tp)
		s.Groups = append(s.Groups, g)
	}
	return s
}

func (t *Tracker) size() (topics, parts, groups, groupParts, samples int) {
	samples = len(t.times)
	for _, ts := range t.topics {
		topics++
		parts += ts.parts.n
		samples += len(ts.sums)
		ts.parts.keep(func(ps *partState) bool { samples += len(ps.ends); return true })
	}
	for _, gs := range t.groups {
		groups++
		samples += len(gs.totals)
		for _, gt := range gs.topics {
			groupParts += gt.parts.n
			gt.parts.each(func(cs *commitSlot) { samples += int(cs.n) })
		}
	}
	return
}

func TestBoundedMemory(t *testing.T) {
	tr := NewTracker(Options{Window: 3, History: 5})
	at := t0
	for i := range 8 {
		at = at.Add(5 * time.Second)
		tr.Observe(manyGroups(at, "a", 500, 32, int64(i*10)))
	}
	topics, parts, groups, groupParts, samples := tr.size()
	if topics != 500 || parts != 500*32 || groups != 500 || groupParts != 500*32 {
		t.Fatalf("after 500×32: %d topics, %d partitions, %d groups, %d group partitions", topics, parts, groups, groupParts)
	}
	// Every table is capped at History (5): times + per topic (sums) + per
	// partition (ends) + per group (totals); a group partition's at
	// PartitionHistory (the window, 3).
	if limit := (5+slack(5))*(1+500+500*32+500) + 3*500*32; samples > limit {
		t.Errorf("%d samples held, want at most %d", samples, limit)
	}
	for _, gs := range tr.groups {
		for _, gt := range gs.topics {
			if len(gt.parts.vals.committed) > 3*len(gt.parts.slots) || len(gt.parts.slots) > 32 || len(gt.parts.times) > 3 {
				t.Fatalf("commit table of %d slots holds %d values and %d times; want 32 partitions of at most 3", len(gt.parts.slots), len(gt.parts.vals.committed), len(gt.parts.times))
			}
		}
	}

	// The groups go away; others take their place.
	a := tr.Observe(manyGroups(at.Add(5*time.Second), "b", 10, 4, 0))
	topics, parts, groups, groupParts, _ = tr.size()
	if topics != 10 || parts != 40 || groups != 10 || groupParts != 40 {
		t.Errorf("after the groups changed: %d topics, %d partitions, %d groups, %d group partitions; want 10, 40, 10, 40",
			topics, parts, groups, groupParts)
	}
	if len(a.Groups) != 10 || len(a.Topics) != 10 {
		t.Errorf("analysis has %d groups, %d topics; want 10, 10", len(a.Groups), len(a.Topics))
	}

	// A group that comes back starts a fresh history.
	a = tr.Observe(manyGroups(at.Add(10*time.Second), "a", 1, 1, 0))
	if g := a.Groups["a-0"]; g.Samples != 1 || len(g.LagHistory) != 1 {
		t.Errorf("returning group: %d samples, history %v; want a fresh start", g.Samples, g.LagHistory)
	}
}

func TestErroredGroupKeepsHistory(t *testing.T) {
	tr := NewTracker(Options{})
	tr.Observe(groupSnap(t0, backends.GroupStable, part{100, 50}))
	tr.Observe(groupSnap(t0.Add(10*time.Second), backends.GroupStable, part{110, 50}))
	// The offset fetch failed this time: the group is listed, without partitions.
	failed := groupSnap(t0.Add(20*time.Second), backends.GroupStable, part{120, 50})
	failed.Groups[0].Partitions, failed.Groups[0].Err = nil, "offset fetch: coordinator not available"
	a := tr.Observe(failed)
	if g := a.Groups["billing"]; g.Status != Unknown || g.Len() != 0 {
		t.Errorf("errored group = %+v, want Unknown with no partitions", g)
	}
	a = tr.Observe(groupSnap(t0.Add(30*time.Second), backends.GroupStable, part{130, 50}))
	ps := partStats(t, a, "billing", 0)
	if ps.Status != Stall || !slices.Equal(ps.LagHistory, []int64{50, 60, 80}) {
		t.Errorf("after the error: %s, history %v; want STALL over [50 60 80]", ps.Status, ps.LagHistory)
	}
	if !near(ps.ProduceRate, 1) {
		t.Errorf("produce rate = %v, want 1/s over the four log ends", ps.ProduceRate)
	}
}

func TestGroupOnlyPartitions(t *testing.T) {
	// A snapshot narrowed to groups may not list the topics: the group
	// partitions' log ends feed the table.
	tr := NewTracker(Options{})
	var a *Analysis
	for i, p := range []part{{0, 0}, {100, 0}, {200, 150}} {
		s := groupSnap(t0.Add(time.Duration(i)*10*time.Second), backends.GroupStable, p)
		s.Topics = nil
		a = tr.Observe(s)
	}
	ps := partStats(t, a, "billing", 0)
	if ps.TimeLag == nil || *ps.TimeLag != 5*time.Second || !near(ps.ProduceRate, 10) {
		t.Errorf("time lag %s, produce %v; want 5s, 10/s", fmtDur(ps.TimeLag), ps.ProduceRate)
	}
	if len(a.Topics) != 0 {
		t.Errorf("topics %v reported though the snapshot listed none", a.Topics)
	}
}

func TestAnalyzeSingleSnapshot(t *testing.T) {
	s := groupSnap(t0, backends.GroupEmpty, part{100, 50}, part{100, 100}, part{100, noC})
	a := Analyze(s)
	checkFinite(t, a)
	g := a.Groups["billing"]
	if g.Status != Stop || g.Lag != 50 || g.Samples != 1 || !slices.Equal(g.LagHistory, []int64{50}) {
		t.Errorf("group = %+v, want STOP, lag 50, one sample", g)
	}
	if p := partStats(t, a, "billing", 1); p.Status != OK || fmtDur(p.TimeLag) != "0s" || fmtDur(p.TimeToDrain) != "0s" {
		t.Errorf("caught-up partition = %+v, want OK with zero time lag and drain", p)
	}
	if p := partStats(t, a, "billing", 0); p.TimeLag != nil || p.TimeToDrain != nil || p.ProduceRate != 0 {
		t.Errorf("lagging partition = %+v, want no time lag, no drain, no rate from one sample", p)
	}
	if p := partStats(t, a, "billing", 2); p.Status != Unknown || p.Lag != nil || len(p.LagHistory) != 0 {
		t.Errorf("uncommitted partition = %+v, want Unknown without lag", p)
	}
	if !a.TakenAt.Equal(t0) || a.Samples != 1 {
		t.Errorf("analysis at %v with %d samples, want %v and 1", a.TakenAt, a.Samples, t0)
	}
}

func BenchmarkObserve20000(b *testing.B) {
	const n = 20000
	s := manyGroups(t0, "big", 1, n, 1000)
	g := &s.Groups[0]
	tr := NewTracker(Options{})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		s.TakenAt = t0.Add(time.Duration(i) * 5 * time.Second)
		for j := range g.Partitions {
			end := int64(1000 + 100*i + j%7)
			s.Topics[0].Partitions[j].LogEnd = end
			g.Partitions[j].LogEnd = end
			*g.Partitions[j].Committed = int64(1000 + 90*i)
			*g.Partitions[j].Lag = end - *g.Partitions[j].Committed
		}
		if a := tr.Observe(s); a.Groups["big-0"].Len() != n {
			b.Fatalf("%d partitions analysed", a.Groups["big-0"].Len())
		}
	}
}

// TestNoNaNOrInfOnArbitraryInput feeds random snapshots — times repeating,
// going backwards or jumping, offsets at the int64 extremes, missing and
// negative values — and checks every number stays finite and non-negative.
func TestNoNaNOrInfOnArbitraryInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	offsets := []int64{0, 1, 100, 1 << 40, math.MaxInt64 / 2, math.MaxInt64 - 1, math.MaxInt64, -1}
	off := func() int64 {
		if rng.IntN(3) == 0 {
			return offsets[rng.IntN(len(offsets))]
		}
		return rng.Int64N(1000)
	}
	states := []string{backends.GroupStable, backends.GroupEmpty, backends.GroupDead, ""}
	opts := Options{Window: 4, History: 7, PartitionHistory: 5, MaxAge: time.Minute, Allowance: 5}
	tr := NewTracker(opts)
	at := t0
	for step := range 500 {
		switch rng.IntN(5) {
		case 0: // same instant
		case 1:
			at = at.Add(-time.Duration(rng.IntN(120)) * time.Second)
		case 2:
			at = at.Add(time.Duration(rng.IntN(1000)) * time.Nanosecond)
		default:
			at = at.Add(time.Duration(rng.IntN(90)) * time.Second)
		}
		s := &backends.ClusterSnapshot{TakenAt: at}
		for gi := range rng.IntN(4) {
			g := backends.Group{Name: fmt.Sprintf("g%d", gi), State: states[rng.IntN(len(states))]}
			for p := range rng.IntN(4) {
				end := off()
				gp := backends.GroupPartition{Topic: "t", Partition: int32(p), LogEnd: end}
				if rng.IntN(4) > 0 {
					c := off()
					gp.Committed = &c
					if end >= 0 && c >= 0 {
						l := max(end-c, -5) // a little negative sometimes
						gp.Lag = &l
					}
				}
				g.Partitions = append(g.Partitions, gp)
			}
			s.Groups = append(s.Groups, g)
		}
		if rng.IntN(2) == 0 {
			tp := backends.Topic{Name: "t"}
			for p := range rng.IntN(4) {
				tp.Partitions = append(tp.Partitions, backends.Partition{Topic: "t", Partition: int32(p), LogEnd: off()})
			}
			s.Topics = append(s.Topics, tp)
		}
		a := tr.Observe(s)
		checkFinite(t, a)
		if a.Samples > opts.Window {
			t.Fatalf("step %d: %d samples in a window of %d", step, a.Samples, opts.Window)
		}
		for name, g := range a.Groups {
			if g.Lag < 0 || len(g.LagHistory) > opts.History || g.Samples > opts.Window {
				t.Fatalf("step %d: group %s: lag %d, %d history, %d samples", step, name, g.Lag, len(g.LagHistory), g.Samples)
			}
			for k := range g.Len() {
				p := g.At(k)
				if (p.Lag != nil && *p.Lag < 0) || len(p.LagHistory) > opts.PartitionHistory || slices.ContainsFunc(p.LagHistory, func(v int64) bool { return v < 0 }) {
					t.Fatalf("step %d: %s %v: lag %v, history %v", step, name, k, p.Lag, p.LagHistory)
				}
			}
		}
		if t.Failed() {
			t.Fatalf("step %d: snapshot %+v", step, s)
		}
	}
}

func TestLagSumSaturates(t *testing.T) {
	a := Analyze(groupSnap(t0, backends.GroupStable, part{math.MaxInt64, 0}, part{math.MaxInt64, 0}))
	if g := a.Groups["billing"]; g.Lag != math.MaxInt64 {
		t.Errorf("group lag = %d, want saturated at MaxInt64", g.Lag)
	}
}

func TestHugeTimeToDrainSaturates(t *testing.T) {
	// 10^18 behind, draining at 0.1 record/s: far beyond what a Duration holds.
	_, ps := series(t, Options{}, backends.GroupStable, []int64{1e18, 1e18}, []int64{0, 1})
	if ps.TimeToDrain == nil || *ps.TimeToDrain != time.Duration(math.MaxInt64) {
		t.Errorf("time to drain = %s, want saturated at the largest Duration", fmtDur(ps.TimeToDrain))
	}
}

func TestOddPartitionIDs(t *testing.T) {
	// Partition ids outside the dense range still track, and are forgotten.
	ids := []int32{-3, denseLimit + 5, 2}
	snap := func(at time.Time, end, c int64) *backends.ClusterSnapshot {
		g := backends.Group{Name: "odd", State: backends.GroupStable}
		for _, id := range ids {
			cc, l := c, end-c
			g.Partitions = append(g.Partitions, backends.GroupPartition{Topic: "orders", Partition: id, LogEnd: end, Committed: &cc, Lag: &l})
		}
		return &backends.ClusterSnapshot{TakenAt: at, Groups: []backends.Group{g}}
	}
	tr := NewTracker(Options{})
	tr.Observe(snap(t0, 100, 50))
	a := tr.Observe(snap(t0.Add(10*time.Second), 200, 50))
	for _, id := range ids {
		ps := partStats(t, a, "odd", id)
		if ps.Status != Stall || !near(ps.ProduceRate, 10) || len(ps.LagHistory) != 2 {
			t.Errorf("partition %d: %s, %v/s, history %v; want STALL, 10/s, two samples", id, ps.Status, ps.ProduceRate, ps.LagHistory)
		}
	}
	tr.Observe(&backends.ClusterSnapshot{TakenAt: t0.Add(20 * time.Second)})
	if topics, parts, groups, groupParts, _ := tr.size(); topics+parts+groups+groupParts != 0 {
		t.Errorf("after an empty snapshot: %d topics, %d partitions, %d groups, %d group partitions; want none", topics, parts, groups, groupParts)
	}
}

func TestErroredTopicKeepsHistory(t *testing.T) {
	tr := NewTracker(Options{})
	tr.Observe(groupSnap(t0, backends.GroupStable, part{100, 100}))
	// Metadata for the topic failed, and the group is gone from this
	// snapshot: the topic's partitions are kept, the group's are not.
	tr.Observe(&backends.ClusterSnapshot{
		TakenAt: t0.Add(10 * time.Second),
		Topics:  []backends.Topic{{Name: "orders", Err: "leader not available"}},
	})
	a := tr.Observe(groupSnap(t0.Add(20*time.Second), backends.GroupStable, part{300, 300}))
	if tp := a.Topics["orders"]; !near(tp.ProduceRate, 10) || !slices.Equal(tp.EndHistory, []int64{100, 300}) {
		t.Errorf("topic = %+v, want 10/s over the kept log end and history [100 300]", tp)
	}
	if g := a.Groups["billing"]; g.Samples != 1 {
		t.Errorf("group samples = %d, want 1: the group vanished in between", g.Samples)
	}
}

func TestOptionDefaults(t *testing.T) {
	o := Options{Window: 20, History: 5, Allowance: -1}.withDefaults()
	if o.Window != 20 || o.History != 20 || o.PartitionHistory != 20 || o.MaxAge != DefaultMaxAge || o.Allowance != 0 || o.Now == nil {
		t.Errorf("defaults = %+v, want History and PartitionHistory raised to Window, MaxAge 15m, Allowance 0, a clock", o)
	}
	if o := (Options{}).withDefaults(); o.Window != DefaultWindow || o.History != DefaultHistory || o.PartitionHistory != DefaultWindow {
		t.Errorf("zero options = %+v, want window %d, history %d, partition history %d", o, DefaultWindow, DefaultHistory, DefaultWindow)
	}
	if o := (Options{Window: 4, History: 6, PartitionHistory: 9}).withDefaults(); o.PartitionHistory != 6 {
		t.Errorf("partition history %d, want it capped at History (6)", o.PartitionHistory)
	}
}

// TestTimeLagSources: a record time in the snapshot gives the exact time
// lag on the first sample (clamped at 0 when in the future), a lower bound
// stays one, and without a record time the interpolated estimate says so,
// with the snapshot's note on why the record time is missing.
func TestTimeLagSources(t *testing.T) {
	at := func(d time.Duration) *time.Time { x := t0.Add(-d); return &x }
	snap := func(k int, edit func(gps []backends.GroupPartition)) *backends.ClusterSnapshot {
		s := groupSnap(t0.Add(time.Duration(k)*10*time.Second), backends.GroupEmpty,
			part{1000 + 100*int64(k), 500}, part{1000 + 100*int64(k), 600}, part{1000, 1000})
		edit(s.Groups[0].Partitions)
		return s
	}
	t.Run("exact on the first sample", func(t *testing.T) {
		a := Analyze(snap(0, func(gps []backends.GroupPartition) {
			gps[0].RecordTime, gps[0].RecordTimeSource = at(time.Hour), backends.TimeLagRecord
			gps[1].RecordTime, gps[1].RecordTimeSource = at(-time.Minute), backends.TimeLagRecord // a producer's clock ahead
		}))
		p0, p1, p2 := partStats(t, a, "billing", 0), partStats(t, a, "billing", 1), partStats(t, a, "billing", 2)
		if fmtDur(p0.TimeLag) != "1h0m0s" || p0.TimeLagSource != backends.TimeLagRecord || p0.TimeLagNote != "" {
			t.Errorf("p0: %s %q %q, want 1h exact", fmtDur(p0.TimeLag), p0.TimeLagSource, p0.TimeLagNote)
		}
		if fmtDur(p1.TimeLag) != "0s" || p1.TimeLagSource != backends.TimeLagRecord {
			t.Errorf("p1 (record time in the future): %s %q, want 0s exact", fmtDur(p1.TimeLag), p1.TimeLagSource)
		}
		if fmtDur(p2.TimeLag) != "0s" || p2.TimeLagSource != backends.TimeLagRecord {
			t.Errorf("p2 (no lag): %s %q, want 0s exact", fmtDur(p2.TimeLag), p2.TimeLagSource)
		}
		if g := a.Groups["billing"]; fmtDur(g.TimeLag) != "1h0m0s" || g.TimeLagSource != backends.TimeLagRecord {
			t.Errorf("group: %s %q, want p0's 1h exact", fmtDur(g.TimeLag), g.TimeLagSource)
		}
	})
	t.Run("a lower bound makes the group's a lower bound", func(t *testing.T) {
		a := Analyze(snap(0, func(gps []backends.GroupPartition) {
			gps[0].RecordTime, gps[0].RecordTimeSource = at(time.Hour), backends.TimeLagRecord
			gps[1].RecordTime, gps[1].RecordTimeSource = at(time.Minute), backends.TimeLagLowerBound
			gps[1].RecordTimeNote = "records before offset 700 deleted by retention"
		}))
		p1 := partStats(t, a, "billing", 1)
		if fmtDur(p1.TimeLag) != "1m0s" || p1.TimeLagSource != backends.TimeLagLowerBound || p1.TimeLagNote != "records before offset 700 deleted by retention" {
			t.Errorf("p1: %s %q %q, want the 1m lower bound with its note", fmtDur(p1.TimeLag), p1.TimeLagSource, p1.TimeLagNote)
		}
		g := a.Groups["billing"]
		if fmtDur(g.TimeLag) != "1h0m0s" || g.TimeLagSource != backends.TimeLagLowerBound ||
			g.TimeLagNote != "the time lag of orders partition 1 is a lower bound: records before offset 700 deleted by retention" {
			t.Errorf("group: %s %q %q, want ≥ 1h naming partition 1", fmtDur(g.TimeLag), g.TimeLagSource, g.TimeLagNote)
		}
	})
	t.Run("interpolated without a record time", func(t *testing.T) {
		tr := NewTracker(Options{})
		const why = "record read failed: kafka kafka-1:9092 did not answer within 10s"
		var a *Analysis
		for k := range 3 {
			a = tr.Observe(snap(k, func(gps []backends.GroupPartition) {
				gps[0].RecordTimeNote = why
				gps[1].RecordTimeNote = why
			}))
		}
		p0 := partStats(t, a, "billing", 0)
		// 10/s from 1000@t0: 500 was at t0−50s, 70 s before the third sample
		if fmtDur(p0.TimeLag) != "1m10s" || p0.TimeLagSource != backends.TimeLagInterpolated || p0.TimeLagNote != why {
			t.Errorf("p0: %s %q %q, want the 70 s estimate with the note", fmtDur(p0.TimeLag), p0.TimeLagSource, p0.TimeLagNote)
		}
		if g := a.Groups["billing"]; g.TimeLagSource != backends.TimeLagInterpolated || g.TimeLagNote != why {
			t.Errorf("group: %q %q, want interpolated", g.TimeLagSource, g.TimeLagNote)
		}
		one := Analyze(snap(0, func(gps []backends.GroupPartition) { gps[0].RecordTimeNote = why }))
		if p := partStats(t, one, "billing", 0); p.TimeLag != nil || p.TimeLagSource != "" || p.TimeLagNote != why {
			t.Errorf("one sample, no record time: %s %q %q, want unknown with the note", fmtDur(p.TimeLag), p.TimeLagSource, p.TimeLagNote)
		}
	})
	t.Run("nothing produced while watched is a lower bound", func(t *testing.T) {
		_, ps := series(t, Options{}, backends.GroupStable, []int64{1000, 1000, 1000}, []int64{500, 500, 500})
		if fmtDur(ps.TimeLag) != "20s" || ps.TimeLagSource != backends.TimeLagLowerBound || ps.TimeLagNote == "" {
			t.Errorf("%s %q %q, want the 20 s watched as a lower bound, saying so", fmtDur(ps.TimeLag), ps.TimeLagSource, ps.TimeLagNote)
		}
	})
}

// BenchmarkObserveCluster measures a steady refresh of a cluster of 5,000
// groups × 32 partitions (160,000 group partitions): one snapshot observed
// after the window filled. scripts/bench kafka-scale reports it.
func BenchmarkObserveCluster(b *testing.B) {
	sc := lagtest.Cluster
	snaps := make([]*backends.ClusterSnapshot, 4)
	for i := range snaps {
		snaps[i] = sc.Snapshot(t0, i)
	}
	tr := NewTracker(Options{})
	step := 0
	observe := func() *Analysis {
		s := snaps[step%len(snaps)]
		s.TakenAt = t0.Add(time.Duration(step) * 5 * time.Second)
		step++
		return tr.Observe(s)
	}
	for range DefaultWindow {
		observe()
	}
	b.ReportAllocs()
	for b.Loop() {
		if a := observe(); len(a.Groups) != sc.Groups {
			b.Fatalf("%d groups analysed", len(a.Groups))
		}
	}
	b.ReportMetric(float64(sc.Rows()), "group-partitions")
}

// TestCommitTablesGrowWithSamples: a group partition's table holds room
// for the samples it has, up to PartitionHistory (a tracker that observes
// once holds one sample per partition), and widening keeps every sample.
func TestCommitTablesGrowWithSamples(t *testing.T) {
	tr := NewTracker(Options{Window: 5, History: 8})
	widths := func() (lo, hi int) {
		lo = math.MaxInt
		for _, gs := range tr.groups {
			for _, gt := range gs.topics {
				lo, hi = min(lo, gt.parts.width), max(hi, gt.parts.width)
			}
		}
		return lo, hi
	}
	for i, want := range []int{1, 2, 4, 4, 5, 5, 5} {
		a := tr.Observe(manyGroups(t0.Add(time.Duration(i)*5*time.Second), "g", 20, 8, int64(10*i)))
		if lo, hi := widths(); lo != want || hi != want {
			t.Errorf("after %d samples: tables %d to %d samples wide, want %d", i+1, lo, hi, want)
		}
		p := a.Groups["g-3"].Partition("g-3", 5)
		if wantHist := min(i+1, 5); len(p.LagHistory) != wantHist || p.Lag == nil || *p.Lag != 100 {
			t.Errorf("after %d samples: lag %v, history %v; want 100 over %d samples", i+1, p.Lag, p.LagHistory, wantHist)
		}
	}
}

// TestPartitionsOutOfOrder: a snapshot whose group partitions are not
// sorted (another source than Kafka's) is analysed in its order, At(i)
// being its i-th partition, and each is found by its key.
func TestPartitionsOutOfOrder(t *testing.T) {
	s := manyGroups(t0, "g", 1, 6, 100)
	g := &s.Groups[0]
	g.Partitions[0], g.Partitions[4] = g.Partitions[4], g.Partitions[0]
	g.Partitions = append(g.Partitions, backends.GroupPartition{Topic: "a-first", Partition: 2, LogEnd: 5})
	a := Analyze(s)
	gs := a.Groups["g-0"]
	if gs.Len() != len(g.Partitions) {
		t.Fatalf("%d partitions analysed, want %d", gs.Len(), len(g.Partitions))
	}
	for i, gp := range g.Partitions {
		at := gs.At(i)
		byKey := gs.Partition(gp.Topic, gp.Partition)
		if at.Topic != gp.Topic || at.Partition != gp.Partition || byKey == nil || !reflect.DeepEqual(*byKey, at) {
			t.Errorf("partition %d (%s/%d): At %s/%d, by key %+v", i, gp.Topic, gp.Partition, at.Topic, at.Partition, byKey)
		}
		if (gp.Lag == nil) != (at.Lag == nil) || gp.Lag != nil && *gp.Lag != *at.Lag {
			t.Errorf("partition %d: lag %v, want %v", i, at.Lag, gp.Lag)
		}
	}
	if gs.Partition("g-0", 99) != nil || gs.Partition("nope", 0) != nil {
		t.Error("a partition the snapshot did not list was found")
	}
	// PartitionAt and BriefAt: by position when the position holds the
	// partition, by key when not (a wrong or out-of-range position);
	// BriefAt is PartitionAt without the lag history.
	for i, gp := range g.Partitions {
		for _, at := range []int{i, (i + 1) % len(g.Partitions), -1, len(g.Partitions) + 3} {
			full, ok1 := gs.PartitionAt(at, gp.Topic, gp.Partition)
			brief, ok2 := gs.BriefAt(at, gp.Topic, gp.Partition)
			if !ok1 || !ok2 || full.Topic != gp.Topic || full.Partition != gp.Partition {
				t.Fatalf("partition %d asked at %d: %v %v %s/%d", i, at, ok1, ok2, full.Topic, full.Partition)
			}
			full.LagHistory = nil
			if !reflect.DeepEqual(full, brief) {
				t.Errorf("partition %d asked at %d: BriefAt %+v, PartitionAt %+v", i, at, brief, full)
			}
		}
	}
	if _, ok := gs.BriefAt(0, "nope", 0); ok {
		t.Error("BriefAt found a partition the snapshot did not list")
	}
}

// TestLagHistoryBeyond32Bits: lag histories are kept in 32 bits while they
// fit, and whole once one does not, before or after the others.
func TestLagHistoryBeyond32Bits(t *testing.T) {
	for _, big := range []int{0, 2} {
		tr := NewTracker(Options{})
		var a *Analysis
		for i := range 3 {
			s := manyGroups(t0.Add(time.Duration(i)*time.Second), "g", 3, 2, 0)
			huge := int64(math.MaxInt32) + 10 + int64(i)
			*s.Groups[big].Partitions[1].Lag = huge
			s.Groups[big].Partitions[1].LogEnd = huge + *s.Groups[big].Partitions[1].Committed
			a = tr.Observe(s)
		}
		for gi := range 3 {
			g := a.Groups[fmt.Sprintf("g-%d", gi)]
			for p := range g.Len() {
				want := []int64{100, 100, 100}
				if gi == big && p == 1 {
					want = []int64{int64(math.MaxInt32) + 10, int64(math.MaxInt32) + 11, int64(math.MaxInt32) + 12}
				}
				if got := g.At(p).LagHistory; !slices.Equal(got, want) {
					t.Errorf("huge lag in group %d: g-%d/%d history %v, want %v", big, gi, p, got, want)
				}
				if g.Brief(p).LagHistory != nil {
					t.Errorf("Brief has a history")
				}
			}
		}
	}
}

// TestAnalyzeIsAFirstObservation: Analyze, which keeps no tables, gives
// what a new tracker's first Observe gives, on random snapshots: partitions
// with and without commits or log ends, record times of every kind, empty
// and dead groups, errors, duplicates, partitions out of order, offsets at
// the extremes.
func TestAnalyzeIsAFirstObservation(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	offsets := []int64{0, 1, 100, math.MaxInt32, math.MaxInt32 + 1, math.MaxInt64 - 1, math.MaxInt64, -1}
	off := func() int64 {
		if rng.IntN(4) == 0 {
			return offsets[rng.IntN(len(offsets))]
		}
		return rng.Int64N(1000)
	}
	states := []string{backends.GroupStable, backends.GroupEmpty, backends.GroupDead, ""}
	for step := range 300 {
		s := &backends.ClusterSnapshot{TakenAt: t0.Add(time.Duration(step) * time.Second)}
		if step%7 == 0 {
			s.TakenAt = time.Time{} // the clock's time
		}
		for ti := range rng.IntN(4) {
			tp := backends.Topic{Name: fmt.Sprintf("t%d", ti)}
			for p := range rng.IntN(5) {
				tp.Partitions = append(tp.Partitions, backends.Partition{Topic: tp.Name, Partition: int32(p), LogStart: off(), LogEnd: off()})
			}
			if rng.IntN(6) == 0 {
				tp.Partitions, tp.Err = nil, "unknown"
			}
			s.Topics = append(s.Topics, tp)
		}
		for gi := range rng.IntN(5) {
			g := backends.Group{Name: fmt.Sprintf("g%d", gi%3), State: states[rng.IntN(len(states))]}
			for range rng.IntN(7) {
				gp := backends.GroupPartition{Topic: fmt.Sprintf("t%d", rng.IntN(4)), Partition: int32(rng.IntN(5)), LogStart: off(), LogEnd: off()}
				if rng.IntN(4) > 0 {
					c, l := off(), off()
					gp.Committed, gp.Lag = &c, &l
				}
				switch rng.IntN(5) {
				case 0:
					rt := s.TakenAt.Add(-time.Duration(rng.IntN(100)) * time.Second)
					gp.RecordTime, gp.RecordTimeSource = &rt, backends.TimeLagRecord
				case 1:
					rt := s.TakenAt.Add(time.Hour) // in the future
					gp.RecordTime, gp.RecordTimeSource, gp.RecordTimeNote = &rt, backends.TimeLagLowerBound, "records deleted"
				case 2:
					gp.NoRecordToRead, gp.RecordTimeNote = true, "only markers"
				case 3:
					gp.RecordTimeNote = "record not read"
				}
				g.Partitions = append(g.Partitions, gp)
			}
			if rng.IntN(6) == 0 {
				g.Partitions, g.Err = nil, "offset fetch failed"
			}
			s.Groups = append(s.Groups, g)
		}
		clock := func() time.Time { return t0.Add(time.Hour) }
		want := NewTracker(Options{Now: clock}).Observe(s)
		got := NewTracker(Options{Now: clock}).observe(s, true)
		if !sameAnalysis(got, want) {
			t.Fatalf("step %d: Analyze differs from a first Observe on %+v:\n got %s\nwant %s", step, s, describe(got), describe(want))
		}
	}
}

// sameAnalysis compares two analyses through what they expose.
func sameAnalysis(a, b *Analysis) bool {
	return describe(a) == describe(b)
}

func describe(a *Analysis) string {
	var out []string
	out = append(out, fmt.Sprintf("at %v samples %d", a.TakenAt, a.Samples))
	for _, name := range slices.Sorted(maps.Keys(a.Groups)) {
		g := a.Groups[name]
		out = append(out, fmt.Sprintf("group %s lag %d rates %v/%v timelag %v %q %q drain %v status %s hist %v samples %d",
			g.Group, g.Lag, g.ProduceRate, g.ConsumeRate, deref(g.TimeLag), g.TimeLagSource, g.TimeLagNote, deref(g.TimeToDrain), g.Status, g.LagHistory, g.Samples))
		for i := range g.Len() {
			p := g.At(i)
			out = append(out, fmt.Sprintf("  %s/%d lag %v rates %v/%v timelag %v %q %q drain %v status %s hist %v",
				p.Topic, p.Partition, deref(p.Lag), p.ProduceRate, p.ConsumeRate, deref(p.TimeLag), p.TimeLagSource, p.TimeLagNote, deref(p.TimeToDrain), p.Status, p.LagHistory))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(a.Topics)) {
		tp := a.Topics[name]
		out = append(out, fmt.Sprintf("topic %s rate %v parts %v ends %v", tp.Topic, tp.ProduceRate, tp.Partitions, tp.EndHistory))
	}
	return strings.Join(out, "\n")
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// BenchmarkAnalyzeCluster measures Analyze (one snapshot, no history: what
// a one-sample `mqops lag` runs) on 5,000 groups × 32 partitions.
func BenchmarkAnalyzeCluster(b *testing.B) {
	s := lagtest.Cluster.Snapshot(t0, 0)
	b.ReportAllocs()
	for b.Loop() {
		if a := Analyze(s); len(a.Groups) != lagtest.Cluster.Groups {
			b.Fatalf("%d groups analysed", len(a.Groups))
		}
	}
}

// TestAnalyzeGroupAlone: a group analysed alone is analysed as Analyze
// analyses it among the others.
func TestAnalyzeGroupAlone(t *testing.T) {
	s := lagtest.Scale{Groups: 40, Topics: 3, Partitions: 5, Members: 2}.Snapshot(t0, 3)
	all := Analyze(s)
	for i := range s.Groups {
		g := &s.Groups[i]
		alone := &Analysis{Groups: map[string]*GroupStats{g.Name: AnalyzeGroup(g, s.TakenAt)}}
		among := &Analysis{Groups: map[string]*GroupStats{g.Name: all.Groups[g.Name]}}
		if describe(alone) != describe(among) {
			t.Errorf("group %s alone:\n%s\namong the others:\n%s", g.Name, describe(alone), describe(among))
		}
	}
}

// TestAnalyzerMatchesAnalyze: an Analyzer's analyses, one snapshot after
// another in the same memory, bigger and smaller ones, one with a lag over
// 32 bits among them, are Analyze's, partition by partition.
func TestAnalyzerMatchesAnalyze(t *testing.T) {
	var z Analyzer
	sizes := []lagtest.Scale{
		{Groups: 40, Topics: 3, Partitions: 8, Members: 2},
		{Groups: 200, Topics: 5, Partitions: 32, Members: 3},
		{Groups: 7, Topics: 2, Partitions: 4},
		{Groups: 200, Topics: 5, Partitions: 32, Members: 3},
		{Groups: 33, Topics: 4, Partitions: 16, Members: 1},
	}
	for i, sc := range sizes {
		snap := sc.Snapshot(lagtest.At, i)
		if i == 3 { // a lag past 2^31-1: the histories in 64 bits
			gp := &snap.Groups[5].Partitions[2]
			big := int64(1) << 40
			gp.Lag, gp.LogEnd = &big, *gp.Committed+big
		}
		want, got := Analyze(snap), z.Analyze(snap)
		if len(got.Groups) != len(want.Groups) || got.Samples != want.Samples {
			t.Fatalf("snapshot %d: %d groups, %d samples; want %d, %d", i, len(got.Groups), got.Samples, len(want.Groups), want.Samples)
		}
		for name, w := range want.Groups {
			g := got.Groups[name]
			if g == nil {
				t.Fatalf("snapshot %d: group %s missing", i, name)
			}
			type head struct {
				Lag              int64
				Produce, Consume float64
				TimeLag, Drain   *time.Duration
				Source           backends.TimeLagSource
				Note             string
				Status           Status
				History          []int64
				Samples, Len     int
			}
			hw := head{w.Lag, w.ProduceRate, w.ConsumeRate, w.TimeLag, w.TimeToDrain, w.TimeLagSource, w.TimeLagNote, w.Status, w.LagHistory, w.Samples, w.Len()}
			hg := head{g.Lag, g.ProduceRate, g.ConsumeRate, g.TimeLag, g.TimeToDrain, g.TimeLagSource, g.TimeLagNote, g.Status, g.LagHistory, g.Samples, g.Len()}
			if !reflect.DeepEqual(hg, hw) {
				t.Fatalf("snapshot %d, group %s:\n got %+v\nwant %+v", i, name, hg, hw)
			}
			for j := range w.Len() {
				if pg, pw := g.At(j), w.At(j); !reflect.DeepEqual(pg, pw) {
					t.Fatalf("snapshot %d, group %s, partition %d:\n got %+v\nwant %+v", i, name, j, pg, pw)
				}
			}
		}
	}
}
