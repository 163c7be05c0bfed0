package tui

import (
	"context"
	"math"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/lag"
	"github.com/mqops/mqops/backends/lag/lagtest"
	"github.com/mqops/mqops/tui/components"
)

// analyzed is how a snapshot applies once the fetch has analysed it (a
// tracker of its own: one sample).
func analyzed(s *backends.ClusterSnapshot) applyFunc { return applySnapshot(s, lag.Analyze(s)) }

// driver delivers messages to the model as the program does — every
// command run to its messages, timers kept until fired — and times each
// Update and the View after it. Commands (the refresh's fetch and its lag
// analysis among them) run outside the timed steps, as the program runs
// them outside Update.
type driver struct {
	m       *Model
	clock   *testClock
	updates []time.Duration
	views   []time.Duration
	pending []delayedMsg
}

func (d *driver) send(msg tea.Msg) {
	start := time.Now()
	_, cmd := d.m.Update(msg)
	d.updates = append(d.updates, time.Since(start))
	start = time.Now()
	_ = d.m.View()
	d.views = append(d.views, time.Since(start))
	for _, out := range execCmd(cmd) {
		switch out := out.(type) {
		case delayedMsg:
			d.pending = append(d.pending, out)
		case tea.QuitMsg:
		default:
			d.send(out)
		}
	}
}

func (d *driver) keys(ks ...string) {
	for _, k := range ks {
		d.send(keyPress(k))
	}
}

func (d *driver) command(line string) {
	d.keys(":")
	for _, r := range line {
		d.send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	d.keys("enter")
}

// refresh fires the scheduled refresh (the clock moves to it); other
// timers are dropped.
func (d *driver) refresh(tb testing.TB) {
	due := d.pending
	d.pending = nil
	fired := false
	for _, p := range due {
		if t, ok := p.msg.(refreshTickMsg); ok && t.gen == d.m.refresh.tickGen {
			d.clock.t = d.clock.t.Add(p.d)
			d.send(p.msg)
			fired = true
		}
	}
	if !fired {
		tb.Fatalf("no refresh scheduled (view %s)", d.m.top().id())
	}
}

// percentile is the p-th percentile of ds (0 < p ≤ 100).
func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p/100))]
}

// newClusterDriver opens the console on the cluster of issue 11: 5,000
// groups × 32 partitions (160,000 group partitions), whose snapshots
// src serves (the first one already applied).
func newClusterDriver(tb testing.TB) (*driver, *cannedSource, func(step int) *backends.ClusterSnapshot) {
	sc := lagtest.Cluster
	// A few steps of the cluster, served in turn with their time moved on.
	base := make([]*backends.ClusterSnapshot, 4)
	for i := range base {
		base[i] = sc.Snapshot(t0, i)
	}
	snapAt := func(step int) *backends.ClusterSnapshot {
		s := *base[step%len(base)]
		s.TakenAt = t0.Add(time.Duration(step) * DefaultRefresh)
		return &s
	}
	src := &cannedSource{}
	src.push(snapAt(0), nil)
	h := newHarness(tb, Options{}, src)
	if h.m.data.snap == nil || len(h.m.data.snap.Groups) != sc.Groups {
		tb.Fatal("the first snapshot was not applied")
	}
	return &driver{m: h.m, clock: h.clock, pending: h.pending}, src, snapAt
}

// BenchmarkConsoleCluster drives the console on 5,000 groups × 32
// partitions (160,000 group partitions): each iteration refreshes every
// Kafka view in turn — the groups list, a group, the topics, a topic —
// with keystrokes on each (move, sort, open, back, the palette). It
// reports the slowest Update step and the 99th percentile over the run
// (max-update-ms, p99-update-ms: a frame is 16 ms), the same for View,
// and the heap in use after the run (heap-MiB). The refresh's fetch and
// lag analysis run in its command, outside Update, as in the program;
// scripts/bench kafka-scale reports this benchmark.
func BenchmarkConsoleCluster(b *testing.B) {
	d, src, snapAt := newClusterDriver(b)
	step := 0
	refresh := func() {
		step++
		src.set(snapAt(step), nil)
		d.refresh(b)
	}
	d.updates, d.views = nil, nil
	b.ResetTimer()
	for b.Loop() {
		refresh()
		d.keys("down", "down", "down", "s", "S", "s")
		d.keys("enter") // the group
		refresh()
		d.keys("down", "esc")
		d.command("topics")
		refresh()
		d.keys("down", "enter") // a topic: the groups on its partitions
		refresh()
		d.keys("down", "esc")
		d.command("groups")
	}
	b.StopTimer()
	b.ReportMetric(float64(slices.Max(d.updates))/1e6, "max-update-ms")
	b.ReportMetric(float64(percentile(d.updates, 99))/1e6, "p99-update-ms")
	b.ReportMetric(float64(slices.Max(d.views))/1e6, "max-view-ms")
	b.ReportMetric(float64(len(d.updates))/float64(b.N), "updates/op")
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	runtime.KeepAlive(d.m)
}

// TestSnapshotAnalysedInTheFetch: the lag analysis of a snapshot is made
// by the refresh's fetch, in its command, and the Update that applies it
// only installs it; a fetch cancelled before it observes (the view
// changed) leaves the tracker alone, so the next refresh's snapshot is
// observed after the previous one, never a stale one after it.
func TestSnapshotAnalysedInTheFetch(t *testing.T) {
	src := &cannedSource{}
	src.push(cluster(0), nil)
	h := newHarness(t, Options{}, src)
	m := h.m
	tr := m.tracker
	first := m.data.analysis
	if first == nil || first.Samples != 1 {
		t.Fatalf("first analysis %+v", first)
	}

	next := cluster(0)
	next.TakenAt = t0.Add(5 * time.Second)
	src.set(next, nil)
	m.startRefresh()
	tag := m.refresh.tag
	apply, err := m.sourceOf(m.top()).fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The fetch observed its snapshot (the tracker has two samples: a
	// third observation makes three) and left the model alone.
	probe := cluster(0)
	probe.TakenAt = t0.Add(10 * time.Second)
	if a, err := tr.observe(context.Background(), probe); err != nil || a.Samples != 3 {
		t.Fatalf("after the fetch, one more observation gives %+v %v; want the third sample", a, err)
	}
	if m.data.analysis != first || m.data.gen != 1 {
		t.Fatal("the fetch touched the model's data")
	}
	m.Update(loadedMsg{tag: tag, apply: apply})
	if a := m.data.analysis; a == first || a.Samples != 2 || m.data.snap != next {
		t.Fatalf("applied analysis %+v, snapshot %p; want the fetch's, over 2 samples", a, m.data.snap)
	}

	// A fetch cancelled once it has its snapshot observes nothing.
	stale := cluster(0)
	stale.TakenAt = t0.Add(12 * time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tr.observe(ctx, stale); err == nil {
		t.Fatal("a cancelled fetch observed its snapshot")
	}
	newer := cluster(0)
	newer.TakenAt = t0.Add(15 * time.Second)
	a, err := tr.observe(context.Background(), newer)
	if err != nil || a.Samples != 4 || !a.TakenAt.Equal(newer.TakenAt) {
		t.Fatalf("after a cancelled fetch: %+v %v; want the fourth sample at %v", a, err, newer.TakenAt)
	}
}

// TestSnapshotFetchesRace runs fetches of the snapshot source the way the
// refresh loop can: one cancelled (the view changed) while the next runs,
// with Update applying results on its own goroutine. Run with -race: the
// tracker is the fetch side's, guarded, and Update never touches it.
func TestSnapshotFetchesRace(t *testing.T) {
	src := &cannedSource{}
	src.push(cluster(0), nil)
	h := newHarness(t, Options{}, src)
	m := h.m
	fetch := m.sourceOf(m.top()).fetch
	results := make(chan applyFunc, 16)
	var wg sync.WaitGroup
	for i := range 16 {
		ctx, cancel := context.WithCancel(context.Background())
		if i%3 == 0 {
			cancel() // superseded
		}
		wg.Go(func() {
			defer cancel()
			if apply, err := fetch(ctx); err == nil {
				results <- apply
			}
		})
	}
	go func() { wg.Wait(); close(results) }()
	applied := 0
	for apply := range results {
		m.startRefresh()
		m.Update(loadedMsg{tag: m.refresh.tag, apply: apply})
		applied++
	}
	if applied == 0 || m.data.analysis == nil {
		t.Fatalf("%d results applied", applied)
	}
}

// TestViewsBuiltFromTheFetchsRows: the fetch builds the rows of the views
// that list every group (the groups list, each topic's consumers), and
// those views, built from them in Update, show what they show building
// their own; two views sharing the rows sort them each their own way.
func TestViewsBuiltFromTheFetchsRows(t *testing.T) {
	src := &cannedSource{}
	snap := cluster(3)
	src.push(snap, nil)
	h := newHarness(t, Options{}, src)
	m := h.m
	if m.data.rows == nil {
		t.Fatal("the applied snapshot came without the fetch's rows")
	}
	own := m.data
	own.rows = nil
	sameRows(t, "groups", m.data.rows.groups, groupRows(&own))
	if len(m.data.rows.onTopic) == 0 {
		t.Fatal("no topic's consumers among the fetch's rows")
	}
	for _, tp := range snap.Topics {
		sameRows(t, "topic "+tp.Name, m.data.rows.onTopic[tp.Name], topicConsumers(&own, tp.Name))
	}

	// Two groups lists of the shared rows, one sorted the other way,
	// list what lists of their own rows list.
	a, b, c, d := newGroupsView(), newGroupsView(), newGroupsView(), newGroupsView()
	a.build(&m.data, &m.st)
	b.build(&m.data, &m.st)
	c.build(&own, &m.st)
	d.build(&own, &m.st)
	b.tbl.ReverseSort()
	d.tbl.ReverseSort()
	if got, want := a.tbl.VisibleIDs(), c.tbl.VisibleIDs(); !slices.Equal(got, want) {
		t.Errorf("shared rows list %q, own rows %q", got, want)
	}
	if got, want := b.tbl.VisibleIDs(), d.tbl.VisibleIDs(); !slices.Equal(got, want) {
		t.Errorf("reversed, shared rows list %q, own rows %q", got, want)
	}
	if slices.Equal(a.tbl.VisibleIDs(), b.tbl.VisibleIDs()) {
		t.Errorf("the lists sorted either way list the same %q", a.tbl.VisibleIDs())
	}
}

// sameRows fails unless got and want hold the same rows (NaN sort keys
// equal).
func sameRows(t *testing.T, what string, got, want []components.Row) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Ref != w.Ref || !slices.Equal(g.Cells, w.Cells) || !slices.Equal(g.Styles, w.Styles) ||
			!slices.EqualFunc(g.Nums, w.Nums, func(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) }) {
			t.Errorf("%s row %d: %+v, want %+v", what, i, g, w)
		}
	}
}
