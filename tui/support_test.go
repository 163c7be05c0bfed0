package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/mqops/mqops/backends"
)

// cannedSource is a test double of the Kafka cluster (an external system):
// it answers Snapshot with queued results, the last one repeating.
type cannedSource struct {
	mu        sync.Mutex
	results   []cannedResult
	calls     int
	deadlines []time.Duration // time left on each call's context
}

type cannedResult struct {
	snap *backends.ClusterSnapshot
	err  error
}

func (s *cannedSource) push(snap *backends.ClusterSnapshot, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.results = append(s.results, cannedResult{snap, err})
}

// set replaces the queue with one repeating result.
func (s *cannedSource) set(snap *backends.ClusterSnapshot, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.results = []cannedResult{{snap, err}}
}

func (s *cannedSource) Snapshot(ctx context.Context, _ backends.SnapshotOptions) (*backends.ClusterSnapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if dl, ok := ctx.Deadline(); ok {
		s.deadlines = append(s.deadlines, time.Until(dl))
	} else {
		s.deadlines = append(s.deadlines, -1)
	}
	if len(s.results) == 0 {
		return nil, errors.New("no canned result")
	}
	r := s.results[0]
	if len(s.results) > 1 {
		s.results = s.results[1:]
	}
	return r.snap, r.err
}

func (s *cannedSource) Name() string { return "kafka-1.test:9092" }
func (s *cannedSource) Close() error { return nil }

func (s *cannedSource) callCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// delayedMsg is what the test scheduler returns instead of sleeping: the
// test decides when (and whether) a timer fires.
type delayedMsg struct {
	d   time.Duration
	msg tea.Msg
}

type testClock struct{ t time.Time }

func (c *testClock) Now() time.Time { return c.t }

var t0 = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)

// harness drives a Model with direct Update calls.
type harness struct {
	t       testing.TB
	m       *Model
	src     *cannedSource
	clock   *testClock
	pending []delayedMsg // timers scheduled and not yet fired
	quit    bool
}

func newHarness(t testing.TB, o Options, src *cannedSource) *harness {
	t.Helper()
	clock := &testClock{t: t0}
	if o.Now == nil {
		o.Now = clock.Now
	}
	if o.Context == "" {
		o.Context = "staging"
	}
	if o.CommandArgs == nil { // as cmd passes them
		o.CommandArgs = []string{"--context", o.Context}
	}
	if src != nil {
		o.Kafka = src
	}
	m := New(o)
	m.after = func(d time.Duration, msg tea.Msg) tea.Cmd {
		return func() tea.Msg { return delayedMsg{d: d, msg: msg} }
	}
	m.jitter = func(d time.Duration) time.Duration { return d }
	h := &harness{t: t, m: m, src: src, clock: clock}
	h.send(tea.WindowSizeMsg{Width: 120, Height: 30})
	h.run(m.Init())
	return h
}

// send delivers msg and settles: every command returned is executed and its
// messages delivered in turn, except timers, which are kept in pending.
func (h *harness) send(msg tea.Msg) {
	h.t.Helper()
	_, cmd := h.m.Update(msg)
	h.run(cmd)
}

func (h *harness) run(cmd tea.Cmd) {
	h.t.Helper()
	for _, msg := range execCmd(cmd) {
		switch msg := msg.(type) {
		case delayedMsg:
			h.pending = append(h.pending, msg)
		case tea.QuitMsg:
			h.quit = true
		default:
			h.send(msg)
		}
	}
}

// execCmd runs a command and flattens batches.
func execCmd(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	msg := cmd()
	if b, ok := msg.(tea.BatchMsg); ok {
		var out []tea.Msg
		for _, c := range b {
			out = append(out, execCmd(c)...)
		}
		return out
	}
	if msg == nil {
		return nil
	}
	return []tea.Msg{msg}
}

// fire delivers the pending timers whose message is of type T, after
// advancing the clock by their delay, and returns the delays.
func fire[T tea.Msg](h *harness) []time.Duration {
	h.t.Helper()
	var ds []time.Duration
	var keep, due []delayedMsg
	for _, p := range h.pending {
		if _, ok := p.msg.(T); ok {
			due = append(due, p)
		} else {
			keep = append(keep, p)
		}
	}
	h.pending = keep
	for _, p := range due {
		h.clock.t = h.clock.t.Add(p.d)
		ds = append(ds, p.d)
		h.send(p.msg)
	}
	return ds
}

// refreshTicks returns the delays of the pending refresh timers.
func (h *harness) refreshTicks() []time.Duration {
	var ds []time.Duration
	for _, p := range h.pending {
		if _, ok := p.msg.(refreshTickMsg); ok {
			ds = append(ds, p.d)
		}
	}
	return ds
}

func (h *harness) keys(ks ...string) {
	h.t.Helper()
	for _, k := range ks {
		h.send(keyPress(k))
	}
}

func (h *harness) typeText(s string) {
	h.t.Helper()
	for _, r := range s {
		h.send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func keyPress(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "pgup":
		return tea.KeyPressMsg{Code: tea.KeyPgUp}
	case "home":
		return tea.KeyPressMsg{Code: tea.KeyHome}
	case "end":
		return tea.KeyPressMsg{Code: tea.KeyEnd}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "ctrl+c", "ctrl+u", "ctrl+o":
		return tea.KeyPressMsg{Code: rune(k[len(k)-1]), Mod: tea.ModCtrl}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	case "shift+right":
		return tea.KeyPressMsg{Code: tea.KeyRight, Mod: tea.ModShift}
	case "shift+left":
		return tea.KeyPressMsg{Code: tea.KeyLeft, Mod: tea.ModShift}
	}
	r := []rune(k)
	if len(r) != 1 {
		panic("unknown key " + k)
	}
	return tea.KeyPressMsg{Code: r[0], Text: k}
}

// screen is the frame as plain text.
func (h *harness) screen() string {
	return ansi.Strip(h.m.View().Content)
}

// checkFrame asserts the frame fits the terminal.
func checkFrame(t testing.TB, content string, w, hgt int) {
	t.Helper()
	lines := strings.Split(content, "\n")
	if len(lines) > hgt {
		t.Errorf("frame has %d lines, terminal has %d", len(lines), hgt)
	}
	for i, l := range lines {
		if lw := ansi.StringWidth(l); lw > w {
			t.Errorf("line %d is %d cells wide, terminal is %d: %q", i, lw, w, ansi.Strip(l))
		}
	}
}

// selectRow moves the cursor with j until the row id is selected.
func (h *harness) selectRow(id string) {
	h.t.Helper()
	tbl := h.m.top().focused()
	h.keys("g")
	for i := 0; i <= tbl.Len(); i++ {
		if tbl.SelectedID() == id {
			return
		}
		h.keys("j")
	}
	h.t.Fatalf("row %q not found in %s", id, h.m.top().id())
}

func (h *harness) visibleIDs() []string {
	return h.m.top().focused().VisibleIDs()
}

func teaWindow(w, h int) tea.WindowSizeMsg { return tea.WindowSizeMsg{Width: w, Height: h} }

func stripANSI(s string) string { return ansi.Strip(s) }

func i64(n int64) *int64 { return &n }

// --- synthetic cluster -------------------------------------------------

// cluster builds a synthetic snapshot at step k (0, 1, 2, …): producers
// write steadily, billing falls behind, shipping has stopped, analytics is
// caught up but lost records to retention on one partition.
func cluster(k int) *backends.ClusterSnapshot {
	at := t0.Add(time.Duration(k) * 5 * time.Second)
	kk := int64(k)
	orders := []backends.Partition{
		{Topic: "orders", Partition: 0, Leader: 1, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}, LogStart: 0, LogEnd: 120_000 + 500*kk},
		{Topic: "orders", Partition: 1, Leader: 2, Replicas: []int32{2, 3, 1}, ISR: []int32{2, 3, 1}, LogStart: 0, LogEnd: 118_500 + 450*kk},
		{Topic: "orders", Partition: 2, Leader: 3, Replicas: []int32{3, 1, 2}, ISR: []int32{3, 1}, UnderReplicated: true, LogStart: 1_000, LogEnd: 121_250 + 520*kk},
	}
	payments := []backends.Partition{
		{Topic: "payments", Partition: 0, Leader: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}, LogStart: 40_000, LogEnd: 52_000 + 20*kk},
		{Topic: "payments", Partition: 1, Leader: 2, Replicas: []int32{2, 1}, ISR: []int32{2, 1}, LogStart: 41_000, LogEnd: 51_900 + 22*kk},
	}
	audit := []backends.Partition{
		{Topic: "audit.log", Partition: 0, Leader: -1, Replicas: []int32{3}, ISR: nil, LogStart: -1, LogEnd: -1, Err: "LEADER_NOT_AVAILABLE"},
	}
	gp := func(p backends.Partition, committed *int64, member, client, host string) backends.GroupPartition {
		g := backends.GroupPartition{Topic: p.Topic, Partition: p.Partition, Committed: committed, LogStart: p.LogStart, LogEnd: p.LogEnd, MemberID: member, ClientID: client, Host: host}
		if committed != nil {
			l := p.LogEnd - *committed
			g.Lag = &l
			g.BehindLogStart = *committed < p.LogStart
		}
		return g
	}
	billing := backends.Group{
		Name: "billing", State: backends.GroupStable, Protocol: "range", ProtocolType: "consumer", Coordinator: 1,
		Members: []backends.Member{
			{ID: "billing-1-6f1c", ClientID: "billing-svc", Host: "/10.0.4.11"},
			{ID: "billing-2-93ab", ClientID: "billing-svc", Host: "/10.0.4.12"},
		},
		Partitions: []backends.GroupPartition{
			gp(orders[0], i64(119_000+100*kk), "billing-1-6f1c", "billing-svc", "/10.0.4.11"),
			gp(orders[1], i64(118_000+120*kk), "billing-1-6f1c", "billing-svc", "/10.0.4.11"),
			gp(orders[2], i64(120_000+90*kk), "billing-2-93ab", "billing-svc", "/10.0.4.12"),
		},
	}
	// Record times (the snapshot's reads of the records at the committed
	// offsets): billing's read failed (its time lag is estimated); shipping
	// stopped an hour ago (exact); analytics committed behind the log start
	// (a lower bound: the oldest record kept is 6 hours old).
	recordAt := func(gp *backends.GroupPartition, ago time.Duration, src backends.TimeLagSource, note string) {
		when := t0.Add(-ago)
		gp.RecordTime, gp.RecordTimeSource, gp.RecordTimeNote = &when, src, note
	}
	for i := range billing.Partitions {
		billing.Partitions[i].RecordTimeNote = "record read failed: kafka kafka-3:9092 did not answer within 10s; next read after 09:31:10"
	}
	shipping := backends.Group{
		Name: "shipping", State: backends.GroupEmpty, Protocol: "", ProtocolType: "consumer", Coordinator: 2,
		Partitions: []backends.GroupPartition{
			gp(orders[0], i64(100_000), "", "", ""),
			gp(orders[1], i64(99_000), "", "", ""),
			gp(orders[2], i64(101_000), "", "", ""),
		},
	}
	for i, ago := range []time.Duration{time.Hour, time.Hour + 5*time.Minute, 58 * time.Minute} {
		recordAt(&shipping.Partitions[i], ago, backends.TimeLagRecord, "")
	}
	analytics := backends.Group{
		Name: "analytics", State: backends.GroupStable, Protocol: "cooperative-sticky", ProtocolType: "consumer", Coordinator: 3,
		Members: []backends.Member{{ID: "analytics-1-0c2d", ClientID: "spark-ingest", Host: "/10.0.7.3"}},
		Partitions: []backends.GroupPartition{
			gp(payments[0], i64(39_000), "analytics-1-0c2d", "spark-ingest", "/10.0.7.3"),
			gp(payments[1], nil, "analytics-1-0c2d", "spark-ingest", "/10.0.7.3"),
		},
	}
	recordAt(&analytics.Partitions[0], 6*time.Hour, backends.TimeLagLowerBound, "records before offset 40000 deleted by retention")
	evil := backends.Group{
		Name: "evil\x1b[31mred\u202egroup", State: backends.GroupStable, Protocol: "range", ProtocolType: "consumer",
		Members: []backends.Member{{ID: "m\x1b]0;pwned\x07", ClientID: "c\x9b1m", Host: "/10.0.9.9"}},
		Partitions: []backends.GroupPartition{
			gp(payments[0], i64(52_000+20*kk), "m\x1b]0;pwned\x07", "c\x9b1m", "/10.0.9.9"),
		},
	}
	return &backends.ClusterSnapshot{
		TakenAt:    at,
		ClusterID:  "test-cluster",
		Brokers:    []backends.Broker{{ID: 1, Addr: "kafka-1:9092", Controller: true}, {ID: 2, Addr: "kafka-2:9092"}, {ID: 3, Addr: "kafka-3:9092"}},
		Controller: 1,
		Topics: []backends.Topic{
			{Name: "audit.log", Partitions: audit},
			{Name: "orders", Partitions: orders},
			{Name: "payments", Partitions: payments},
		},
		Groups: []backends.Group{analytics, billing, evil, shipping},
	}
}

// bigGroup is a snapshot with one group on n partitions.
func bigGroup(n int) *backends.ClusterSnapshot {
	topics := make([]backends.Topic, 0, n/1000+1)
	g := backends.Group{Name: "bulk", State: backends.GroupStable, Protocol: "range", ProtocolType: "consumer",
		Members: []backends.Member{{ID: "bulk-1", ClientID: "bulk", Host: "/10.1.1.1"}}}
	g.Partitions = make([]backends.GroupPartition, 0, n)
	for i := 0; i < n; i++ {
		ti, p := i/1000, int32(i%1000)
		if p == 0 {
			topics = append(topics, backends.Topic{Name: fmt.Sprintf("events.%03d", ti)})
		}
		end := int64(1_000_000 + i)
		topics[ti].Partitions = append(topics[ti].Partitions, backends.Partition{Topic: topics[ti].Name, Partition: p, Leader: 1, Replicas: []int32{1}, ISR: []int32{1}, LogEnd: end})
		c := end - int64(i%97)
		l := end - c
		g.Partitions = append(g.Partitions, backends.GroupPartition{Topic: topics[ti].Name, Partition: p, Committed: &c, LogEnd: end, Lag: &l, MemberID: "bulk-1", ClientID: "bulk", Host: "/10.1.1.1"})
	}
	return &backends.ClusterSnapshot{TakenAt: t0, Topics: topics, Groups: []backends.Group{g}}
}
