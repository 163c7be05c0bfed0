package tui

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/tui/components"
)

func TestStaleResultsAreDropped(t *testing.T) {
	src := &cannedSource{}
	src.push(cluster(0), nil)
	h := newHarness(t, Options{}, src)
	m := h.m
	if m.data.gen != 1 {
		t.Fatalf("first snapshot not applied: gen %d", m.data.gen)
	}

	// Start a refresh by hand but keep its command: the result is ours to
	// deliver.
	cmd := m.startRefresh()
	if cmd == nil || !m.refresh.inFlight {
		t.Fatal("refresh did not start")
	}
	cur := m.refresh.tag

	// A result from an older request is dropped.
	old := cur
	old.seq--
	m.Update(loadedMsg{tag: old, apply: analyzed(cluster(5))})
	// One for another view, or another context, too.
	other := cur
	other.view = "topics"
	m.Update(loadedMsg{tag: other, apply: analyzed(cluster(5))})
	other = cur
	other.context = "prod"
	m.Update(loadedMsg{tag: other, apply: analyzed(cluster(5))})
	// Failures that are stale do not count either.
	m.Update(loadedMsg{tag: old, err: errors.New("late failure")})
	if m.data.gen != 1 || !m.refresh.inFlight || m.snap.failures != 0 || m.snap.lastErr != nil {
		t.Fatalf("a stale result was applied: gen %d inFlight %v failures %d", m.data.gen, m.refresh.inFlight, m.snap.failures)
	}

	// The current one is applied.
	m.Update(loadedMsg{tag: cur, apply: analyzed(cluster(1))})
	if m.data.gen != 2 || m.refresh.inFlight {
		t.Fatalf("current result not applied: gen %d inFlight %v", m.data.gen, m.refresh.inFlight)
	}
	_ = cmd
}

func TestViewSwitchRetargetsRefreshInFlight(t *testing.T) {
	src := &cannedSource{}
	src.push(cluster(0), nil)
	h := newHarness(t, Options{}, src)
	m := h.m

	m.startRefresh()
	groupsTag := m.refresh.tag
	if groupsTag.view != "groups" {
		t.Fatalf("tag view = %q", groupsTag.view)
	}
	// Open a group while the refresh is in flight: the old call is
	// cancelled and one for the new view starts.
	h.selectRow("billing")
	_, cmd := m.Update(keyPress("enter"))
	if m.top().id() != "group/billing" {
		t.Fatalf("top view = %q", m.top().id())
	}
	if !m.refresh.inFlight || m.refresh.tag.view != "group/billing" || m.refresh.tag.seq <= groupsTag.seq {
		t.Fatalf("refresh not re-aimed: %+v", m.refresh.tag)
	}
	// The groups view's result arrives late: dropped.
	m.Update(loadedMsg{tag: groupsTag, apply: analyzed(cluster(9))})
	if m.data.gen != 1 {
		t.Fatal("result for the previous view was applied")
	}
	// The new view's call runs and is applied.
	before := src.callCount()
	h.run(cmd)
	if src.callCount() != before+1 || m.data.gen != 2 {
		t.Fatalf("new view's refresh: calls %d→%d gen %d", before, src.callCount(), m.data.gen)
	}
}

func TestNoSecondRefreshInFlight(t *testing.T) {
	src := &cannedSource{}
	src.push(cluster(0), nil)
	h := newHarness(t, Options{}, src)
	m := h.m
	if src.callCount() != 1 {
		t.Fatalf("calls after init = %d", src.callCount())
	}
	first := m.startRefresh()
	if first == nil {
		t.Fatal("no refresh started")
	}
	// r, a due tick and another start: none starts a second call.
	_, cmd := m.Update(keyPress("r"))
	for _, msg := range execCmd(cmd) {
		if _, ok := msg.(loadedMsg); ok {
			t.Fatal("r started a second snapshot while one is in flight")
		}
	}
	if !strings.Contains(m.flash.Text, "already in progress") {
		t.Errorf("flash = %q", m.flash.Text)
	}
	_, cmd = m.Update(refreshTickMsg{gen: m.refresh.tickGen})
	if cmd != nil {
		t.Fatal("a tick started a refresh while one is in flight")
	}
	if m.startRefresh() != nil {
		t.Fatal("startRefresh started a second call")
	}
	if src.callCount() != 1 {
		t.Fatalf("calls = %d, want 1", src.callCount())
	}
	h.run(first)
	if src.callCount() != 2 || m.refresh.inFlight {
		t.Fatalf("calls = %d inFlight %v", src.callCount(), m.refresh.inFlight)
	}
	// Only one refresh is scheduled.
	if n := len(h.refreshTicks()); n != 2 { // one from init's result, one from this one
		t.Fatalf("pending refresh ticks = %d", n)
	}
	// The older scheduled tick is superseded: firing both starts one call.
	fire[refreshTickMsg](h)
	if src.callCount() != 3 {
		t.Fatalf("calls after ticks = %d, want 3", src.callCount())
	}
}

func TestBackoffGrowsAndResets(t *testing.T) {
	src := &cannedSource{}
	src.set(nil, errors.New("connection refused"))
	h := newHarness(t, Options{Refresh: 5 * time.Second}, src)
	var delays []time.Duration
	delays = append(delays, h.refreshTicks()...)
	for range 6 {
		delays = append(delays, fire[refreshTickMsg](h)...)
		// fire returns the delay it waited; what matters is what is pending.
		delays = delays[:len(delays)-1]
		delays = append(delays, h.refreshTicks()...)
	}
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, 60 * time.Second, 60 * time.Second, 60 * time.Second}
	if !slices.Equal(delays, want) {
		t.Fatalf("backoff delays = %v, want %v", delays, want)
	}
	if h.m.snap.failures != 7 || h.m.data.snap != nil {
		t.Fatalf("failures = %d", h.m.snap.failures)
	}
	// Success resets the period.
	src.set(cluster(0), nil)
	fire[refreshTickMsg](h)
	if got := h.refreshTicks(); !slices.Equal(got, []time.Duration{5 * time.Second}) {
		t.Fatalf("after success: %v", got)
	}
	if h.m.snap.failures != 0 || h.m.snap.lastErr != nil || h.m.data.snap == nil {
		t.Fatal("success did not reset the failure state")
	}
	// A failure after data keeps the data and marks it stale.
	src.set(nil, errors.New("timeout"))
	fire[refreshTickMsg](h)
	if h.m.data.snap == nil || h.m.snap.lastErr == nil {
		t.Fatal("data dropped on failure")
	}
	if !strings.Contains(h.screen(), "STALE") {
		t.Error("no STALE marker")
	}
	if h.m.flash.Level != components.FlashError || !strings.Contains(h.m.flash.Text, "timeout") {
		t.Errorf("flash = %+v", h.m.flash)
	}
}

func TestBackoffRespectsLongRefresh(t *testing.T) {
	m := New(Options{Refresh: 2 * time.Minute})
	m.jitter = func(d time.Duration) time.Duration { return d }
	for f := 1; f < 5; f++ {
		if d := m.backoffAfter(f); d != 2*time.Minute {
			t.Fatalf("failures %d: backoff %v", f, d)
		}
	}
}

func TestJitterWithinTenPercent(t *testing.T) {
	for range 1000 {
		d := jitter10(5 * time.Second)
		if d < 4500*time.Millisecond || d > 5500*time.Millisecond {
			t.Fatalf("jitter %v out of ±10%%", d)
		}
	}
}

// TestSnapshotCallHasNoDeadline: the Kafka client bounds each request by
// the timeout (and gives up at once on a broker that stops answering), so
// the snapshot as a whole has no deadline: a big cluster is read whole.
func TestSnapshotCallHasNoDeadline(t *testing.T) {
	src := &cannedSource{}
	src.push(cluster(0), nil)
	newHarness(t, Options{Timeout: 3 * time.Second}, src)
	if len(src.deadlines) != 1 || src.deadlines[0] != -1 {
		t.Fatalf("deadlines = %v, want none", src.deadlines)
	}
}

func TestFlashExpires(t *testing.T) {
	h := loaded(t, Options{})
	h.keys(":")
	h.typeText("nope")
	h.keys("enter")
	if h.m.flash.Level != components.FlashError || !strings.Contains(h.m.flash.Text, "unknown command :nope") {
		t.Fatalf("flash = %+v", h.m.flash)
	}
	var ttl []time.Duration
	for _, p := range h.pending {
		if _, ok := p.msg.(flashExpiredMsg); ok {
			ttl = append(ttl, p.d)
		}
	}
	if len(ttl) == 0 || ttl[len(ttl)-1] != flashTTL {
		t.Fatalf("flash expiry timers = %v", ttl)
	}
	// A newer flash survives the older one's expiry.
	h.keys(":")
	h.typeText("nope2")
	h.keys("enter")
	h.send(flashExpiredMsg{id: h.m.flash.ID - 1})
	if h.m.flash.Text == "" {
		t.Fatal("older expiry cleared the newer flash")
	}
	fire[flashExpiredMsg](h)
	if h.m.flash.Text != "" {
		t.Fatalf("flash not cleared: %q", h.m.flash.Text)
	}
}

func TestFilter(t *testing.T) {
	h := loaded(t, Options{})
	h.keys("/")
	h.typeText("BILL")
	h.keys("enter")
	if got := h.visibleIDs(); !slices.Equal(got, []string{"billing"}) {
		t.Fatalf("case-insensitive filter: %v", got)
	}
	// Inverted.
	h.keys("/")
	for range 4 {
		h.keys("backspace")
	}
	h.typeText("!^(billing|shipping)$")
	h.keys("enter")
	got := h.visibleIDs()
	if slices.Contains(got, "billing") || slices.Contains(got, "shipping") || !slices.Contains(got, "analytics") || len(got) != 2 {
		t.Fatalf("inverted filter: %v", got)
	}
	// Invalid regex: reported, no crash, the last valid filter stays.
	h.keys("/")
	h.typeText("(")
	if h.m.filterErr == nil {
		t.Fatal("invalid regex not reported")
	}
	if !strings.Contains(h.screen(), "missing closing )") {
		t.Errorf("error not shown:\n%s", h.screen())
	}
	if got2 := h.visibleIDs(); !slices.Equal(got2, got) {
		t.Fatalf("invalid regex changed the rows: %v", got2)
	}
	h.keys("enter")
	if h.m.mode != modeNormal || h.m.flash.Level != components.FlashError || !strings.Contains(h.m.flash.Text, "invalid filter") {
		t.Fatalf("enter on invalid regex: mode %v flash %+v", h.m.mode, h.m.flash)
	}
	// esc in the prompt clears the filter.
	h.keys("/", "esc")
	if len(h.visibleIDs()) != 4 || h.m.top().focused().FilterText() != "" {
		t.Fatalf("esc did not clear: %v", h.visibleIDs())
	}
	// esc in the view clears an applied filter before going back.
	h.selectRow("billing")
	h.keys("enter", "/")
	h.typeText("zzz")
	h.keys("enter")
	if h.m.top().focused().Len() != 0 {
		t.Fatal("filter did not hide every partition")
	}
	if !strings.Contains(h.screen(), "no rows match the filter") {
		t.Error("no empty-filter message")
	}
	h.keys("esc")
	if h.m.top().id() != "group/billing" || h.m.top().focused().Len() != 3 {
		t.Fatalf("first esc: view %s rows %d", h.m.top().id(), h.m.top().focused().Len())
	}
	h.keys("esc")
	if h.m.top().id() != "groups" {
		t.Fatalf("second esc: view %s", h.m.top().id())
	}
}

func TestSort(t *testing.T) {
	h := loaded(t, Options{})
	if got := h.visibleIDs(); !slices.Equal(got, []string{"shipping", "analytics", "billing", "evil\x1b[31mred\u202egroup"}) {
		t.Fatalf("default sort (lag desc): %q", got)
	}
	h.keys("S")
	if got := h.visibleIDs(); got[0] != "evil\x1b[31mred\u202egroup" || got[3] != "shipping" {
		t.Fatalf("reversed: %q", got)
	}
	// s from LAG: TREND is skipped, STATUS sorts worst first.
	h.keys("s")
	tbl := h.m.top().focused()
	if title, desc := tbl.SortedBy(); title != "STATUS" || !desc {
		t.Fatalf("sort column %s desc %v", title, desc)
	}
	// shift+left goes back to LAG, shift+right forward again.
	h.keys("shift+left")
	if sortTitle(tbl) != "LAG" {
		t.Fatalf("shift+left: %s", sortTitle(tbl))
	}
	h.keys("shift+right")
	if sortTitle(tbl) != "STATUS" {
		t.Fatalf("shift+right: %s", sortTitle(tbl))
	}
	// Cycle to GROUP (text, ascending).
	for sortTitle(tbl) != "GROUP" {
		h.keys("s")
	}
	if got := h.visibleIDs(); !slices.Equal(got, []string{"analytics", "billing", "evil\x1b[31mred\u202egroup", "shipping"}) {
		t.Fatalf("by name: %q", got)
	}
	// The cursor stays on its row across a re-sort.
	h.selectRow("billing")
	h.keys("S")
	if tbl.SelectedID() != "billing" {
		t.Fatalf("cursor moved to %q", tbl.SelectedID())
	}
}

// sortTitle is the title of the column tbl sorts by.
func sortTitle(tbl *components.Table) string {
	title, _ := tbl.SortedBy()
	return title
}

func TestMissingValuesSortLast(t *testing.T) {
	h := loaded(t, Options{})
	h.selectRow("analytics")
	h.keys("enter")
	tbl := h.m.top().focused()
	for sortTitle(tbl) != "LAG" {
		h.keys("s")
	}
	for _, order := range []string{"desc", "asc"} {
		ids := h.visibleIDs()
		if ids[len(ids)-1] != "payments\x001" {
			t.Fatalf("%s: partition without a commit is not last: %q", order, ids)
		}
		h.keys("S")
	}
}

// TestMarks: the lists whose marks feed an action (:queues, :dlq: p and D)
// offer space; the others do not.
func TestMarks(t *testing.T) {
	h := rabbitHarness(t, newFakeRabbit())
	dlq, invoices := queueKey("/", "orders.dlq"), queueKey("billing", "invoices.dead-letter")
	h.selectRow(dlq)
	h.keys("space")
	h.selectRow(invoices)
	h.keys("space")
	tbl := h.m.top().focused()
	if tbl.MarkedCount() != 2 {
		t.Fatalf("marked = %d", tbl.MarkedCount())
	}
	if !strings.Contains(h.screen(), "2 marked") {
		t.Error("marked count not shown")
	}
	// Marks survive a refresh.
	fire[refreshTickMsg](h)
	if tbl.MarkedCount() != 2 {
		t.Fatalf("marks after refresh = %d", tbl.MarkedCount())
	}
	h.selectRow(dlq)
	h.keys("space")
	if tbl.MarkedCount() != 1 {
		t.Fatalf("unmark: %d", tbl.MarkedCount())
	}
	// The groups' marks would feed nothing (yet): no marks there.
	g := loaded(t, Options{})
	g.selectRow("billing")
	g.keys("space")
	if n := g.m.top().focused().MarkedCount(); n != 0 || strings.Contains(g.screen(), "mark") {
		t.Errorf("the groups view offers marks (%d marked):\n%s", n, g.screen())
	}
}

func TestNavigation(t *testing.T) {
	h := loaded(t, Options{})
	tbl := h.m.top().focused()
	h.keys("G")
	if tbl.Cursor() != 3 {
		t.Fatalf("G: %d", tbl.Cursor())
	}
	h.keys("j")
	if tbl.Cursor() != 3 {
		t.Fatal("cursor moved past the end")
	}
	h.keys("g", "k")
	if tbl.Cursor() != 0 {
		t.Fatal("cursor moved before the start")
	}
	h.keys("end", "home", "down", "down", "up")
	if tbl.Cursor() != 1 {
		t.Fatalf("arrows: %d", tbl.Cursor())
	}
	h.keys("pgdown")
	if tbl.Cursor() != 3 {
		t.Fatalf("pgdown: %d", tbl.Cursor())
	}
	h.keys("pgup")
	if tbl.Cursor() != 0 {
		t.Fatalf("pgup: %d", tbl.Cursor())
	}

	// groups › billing › orders, then back.
	h.selectRow("billing")
	h.keys("enter")
	if h.m.top().id() != "group/billing" {
		t.Fatalf("enter: %s", h.m.top().id())
	}
	h.keys("enter")
	if h.m.top().id() != "topic/orders" {
		t.Fatalf("enter on a partition: %s", h.m.top().id())
	}
	if !strings.Contains(h.screen(), "groups › billing › orders") {
		t.Errorf("breadcrumbs:\n%s", h.screen())
	}
	// tab to the consumers pane, enter opens a group.
	h.keys("tab")
	h.selectRow("shipping")
	h.keys("enter")
	if h.m.top().id() != "group/shipping" || len(h.m.stack) != 4 {
		t.Fatalf("consumer pane enter: %s depth %d", h.m.top().id(), len(h.m.stack))
	}
	h.keys("esc", "esc", "esc")
	if h.m.top().id() != "groups" || len(h.m.stack) != 1 {
		t.Fatalf("esc: %s depth %d", h.m.top().id(), len(h.m.stack))
	}
	if h.m.top().focused().SelectedID() != "billing" {
		t.Fatalf("cursor lost going back: %q", h.m.top().focused().SelectedID())
	}
	h.keys("esc")
	if h.quit {
		t.Fatal("esc at the top quit")
	}
}

func TestViewsRebuildAfterRefreshWhenBack(t *testing.T) {
	h := loaded(t, Options{})
	h.selectRow("billing")
	h.keys("enter")
	fire[refreshTickMsg](h) // only the group view is rebuilt now
	groups := h.m.stack[0].(snapshotView)
	if groups.builtGen() == h.m.data.gen {
		t.Fatal("hidden view was rebuilt eagerly")
	}
	h.keys("esc")
	if groups.builtGen() != h.m.data.gen {
		t.Fatal("view not rebuilt when shown again")
	}
}

func TestDetailOfVanishedGroup(t *testing.T) {
	h := loaded(t, Options{})
	h.selectRow("billing")
	h.keys("enter")
	snap := cluster(3)
	snap.Groups = slices.DeleteFunc(snap.Groups, func(g backends.Group) bool { return g.Name == "billing" })
	h.src.set(snap, nil)
	fire[refreshTickMsg](h)
	if !strings.Contains(h.screen(), "group billing is not in the last snapshot") {
		t.Errorf("vanished group not reported:\n%s", h.screen())
	}
}

func TestPaletteCommands(t *testing.T) {
	h := loaded(t, Options{Contexts: []string{"staging", "prod"}})
	run := func(line string) {
		t.Helper()
		h.keys(":")
		h.typeText(line)
		h.keys("enter")
		if h.m.mode != modeNormal {
			t.Fatalf(":%s left mode %v", line, h.m.mode)
		}
	}
	for _, c := range []struct{ line, view string }{
		{"topics", "topics"}, {"groups", "groups"}, {"t", "topics"}, {"g", "groups"},
		{"top", "topics"}, {"grp", "groups"}, {"TOPICS", "topics"}, {" groups ", "groups"},
	} {
		run(c.line)
		if h.m.top().id() != c.view || len(h.m.stack) != 1 {
			t.Fatalf(":%s → %s (depth %d)", c.line, h.m.top().id(), len(h.m.stack))
		}
	}
	run("bogus")
	if h.m.flash.Level != components.FlashError || !strings.Contains(h.m.flash.Text, "unknown command :bogus") {
		t.Fatalf("unknown: %+v", h.m.flash)
	}
	run("topics extra")
	if h.m.flash.Level != components.FlashError {
		t.Fatalf("extra argument: %+v", h.m.flash)
	}
	run("ctx prod")
	if h.m.flash.Level != components.FlashWarn || !strings.Contains(h.m.flash.Text, "restart with --context prod") {
		t.Fatalf(":ctx prod: %+v", h.m.flash)
	}
	run("ctx staging")
	if !strings.Contains(h.m.flash.Text, "already on context staging") {
		t.Fatalf(":ctx staging: %+v", h.m.flash)
	}
	run("ctx nowhere")
	if h.m.flash.Level != components.FlashError || !strings.Contains(h.m.flash.Text, "unknown context nowhere") {
		t.Fatalf(":ctx nowhere: %+v", h.m.flash)
	}
	run("ctx")
	if !strings.Contains(h.m.flash.Text, "usage: :ctx NAME") {
		t.Fatalf(":ctx: %+v", h.m.flash)
	}
	h.keys(":")
	h.typeText("help")
	h.keys("enter")
	if h.m.mode != modeHelp {
		t.Fatalf(":help: mode %v", h.m.mode)
	}
}

func TestPaletteEscAndTabCompletion(t *testing.T) {
	h := loaded(t, Options{})
	h.keys(":")
	h.typeText("top")
	h.keys("esc")
	if h.m.mode != modeNormal || h.m.top().id() != "groups" {
		t.Fatal("esc did not close the palette")
	}
	h.keys(":")
	if h.m.palette.Value() != "" {
		t.Fatal("palette kept the old text")
	}
	h.typeText("to")
	h.keys("tab", "enter")
	if h.m.top().id() != "topics" {
		t.Fatalf("tab completion: %s", h.m.top().id())
	}
	// Keys typed into the palette are not commands: q does not quit.
	h.keys(":", "q")
	if h.quit {
		t.Fatal("q typed in the palette quit")
	}
	h.keys("enter")
	if !h.quit {
		t.Fatal(":q did not quit")
	}
}

func TestHelp(t *testing.T) {
	h := loaded(t, Options{})
	h.keys("?")
	if h.m.mode != modeHelp || !strings.Contains(h.screen(), "reverse sort order") {
		t.Fatal("help not shown")
	}
	h.keys("j") // ignored in help
	h.keys("esc")
	if h.m.mode != modeNormal {
		t.Fatal("esc did not close help")
	}
	h.keys("?", "q")
	if h.m.mode != modeNormal || h.quit {
		t.Fatal("q should close help, not quit")
	}
	// Every binding of the keymap is in the help screen.
	h.keys("?")
	screen := h.screen()
	for _, g := range h.m.helpGroups() {
		for _, b := range g.Bindings {
			if !strings.Contains(screen, b.Help().Desc) {
				t.Errorf("help lacks %q", b.Help().Desc)
			}
		}
	}
}

func TestQuit(t *testing.T) {
	t.Run("q at the top", func(t *testing.T) {
		h := loaded(t, Options{})
		_, cmd := h.m.Update(keyPress("q"))
		if !isQuit(cmd) {
			t.Fatal("q did not return tea.Quit")
		}
		// Nothing runs after quitting.
		_, cmd = h.m.Update(refreshTickMsg{gen: h.m.refresh.tickGen})
		if cmd != nil {
			t.Fatal("a command was queued after quit")
		}
		if h.m.View().Content != "" {
			t.Fatal("frame drawn after quit")
		}
	})
	t.Run("q in a detail view goes nowhere", func(t *testing.T) {
		h := loaded(t, Options{})
		h.keys("enter", "q")
		if h.quit || h.m.top().id() == "groups" {
			t.Fatal("q in a detail view quit or went back")
		}
		if !strings.Contains(h.m.flash.Text, "esc goes back") {
			t.Fatalf("flash = %q", h.m.flash.Text)
		}
	})
	t.Run("ctrl+c anywhere", func(t *testing.T) {
		for _, prep := range [][]string{{}, {"enter"}, {":"}, {"/"}, {"?"}} {
			h := loaded(t, Options{})
			h.keys(prep...)
			_, cmd := h.m.Update(keyPress("ctrl+c"))
			if !isQuit(cmd) {
				t.Fatalf("ctrl+c after %v did not quit", prep)
			}
		}
	})
	t.Run("quit cancels the call in flight", func(t *testing.T) {
		h := loaded(t, Options{})
		cmd := h.m.startRefresh()
		h.m.Update(keyPress("q"))
		msgs := execCmd(cmd)
		if len(msgs) == 0 {
			t.Fatal("no result")
		}
		if h.m.refresh.inFlight {
			t.Fatal("still in flight after quit")
		}
	})
}

func isQuit(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	_, ok := cmd().(tea.QuitMsg)
	return ok
}

// TestKeysDoNoIO checks that Update never calls the broker itself: keys only
// return commands, and the one that refreshes calls the source only when the
// runtime executes it.
func TestKeysDoNoIO(t *testing.T) {
	h := loaded(t, Options{})
	m := h.m
	calls := h.src.callCount()
	all := []string{"j", "k", "down", "up", "pgdown", "pgup", "g", "G", "home", "end",
		"s", "S", "shift+left", "shift+right", "space", "tab", "enter", "esc", "r", "?", "esc", "/", "x", "esc", ":", "t", "esc", "q"}
	var cmds []tea.Cmd
	for _, k := range all {
		_, cmd := m.Update(keyPress(k))
		if h.src.callCount() != calls {
			t.Fatalf("key %q called the broker inside Update", k)
		}
		if cmd != nil {
			cmds = append(cmds, cmd)
		}
	}
	if len(cmds) == 0 {
		t.Fatal("no command at all (r should refresh)")
	}
}

// blockingSource never answers until its context ends: a stand-in for an
// unreachable broker.
type blockingSource struct{ started chan struct{} }

func (s *blockingSource) Snapshot(ctx context.Context, _ backends.SnapshotOptions) (*backends.ClusterSnapshot, error) {
	s.started <- struct{}{}
	<-ctx.Done()
	return nil, ctx.Err()
}
func (s *blockingSource) Name() string { return "blackhole:9092" }
func (s *blockingSource) Close() error { return nil }

// TestHungBrokerNeverBlocksUpdate runs the refresh command the way the
// runtime does, on another goroutine, against a broker that never answers:
// keys keep being handled, and quitting cancels the call.
func TestHungBrokerNeverBlocksUpdate(t *testing.T) {
	src := &blockingSource{started: make(chan struct{}, 1)}
	m := New(Options{Kafka: src, Timeout: time.Hour, Now: (&testClock{t: t0}).Now})
	m.after = func(time.Duration, tea.Msg) tea.Cmd { return nil }
	_, cmd := m.Update(execCmd(m.Init())[0])
	results := make(chan []tea.Msg, 1)
	go func() { results <- execCmd(cmd) }()
	<-src.started // the call is in flight and hangs

	m.Update(keyPress("j"))
	m.Update(keyPress("r"))
	if !strings.Contains(m.flash.Text, "already in progress") {
		t.Fatalf("r during a hung call: flash %q", m.flash.Text)
	}
	for _, k := range []string{"/", "x", "esc", ":", "t", "enter", "?", "esc", "s", "space"} {
		m.Update(keyPress(k))
	}
	if m.top().id() != "topics" {
		t.Fatalf("keys were not handled: view %s", m.top().id())
	}
	// :t re-aimed the refresh at the topics view: the first call was
	// cancelled and has returned; a new one is in flight.
	var first []tea.Msg
	select {
	case first = <-results:
	case <-time.After(10 * time.Second):
		t.Fatal("the cancelled call did not return")
	}
	if len(first) != 1 {
		t.Fatalf("first call: %v", first)
	}
	m.Update(first[0]) // stale: dropped
	if !m.refresh.inFlight || m.snap.failures != 0 {
		t.Fatalf("stale cancellation counted: %+v", m.refresh)
	}
	_, cmd = m.Update(keyPress("q"))
	if !isQuit(cmd) {
		t.Fatal("q did not quit")
	}
}

func TestNoKafka(t *testing.T) {
	h := newHarness(t, Options{Context: "dev"}, nil)
	if cmd := h.m.Init(); cmd != nil {
		t.Fatal("Init scheduled a refresh without Kafka")
	}
	h.keys("r")
	if h.m.flash.Level != components.FlashWarn {
		t.Fatalf("r without Kafka: %+v", h.m.flash)
	}
	h.keys("enter", "j", "s", "space", "/")
	h.typeText("x")
	h.keys("enter", "esc")
	if !strings.Contains(h.screen(), "No Kafka cluster is configured") {
		t.Error(h.screen())
	}
}

func TestStartView(t *testing.T) {
	if id := New(Options{StartView: "topics"}).top().id(); id != "topics" {
		t.Fatalf("StartView topics: %s", id)
	}
	if id := New(Options{}).top().id(); id != "groups" {
		t.Fatalf("default start view: %s", id)
	}
}

func TestSanitized(t *testing.T) {
	h := loaded(t, Options{})
	for _, prep := range [][]string{{}, {"enter"}} {
		if len(prep) > 0 {
			h.selectRow("evil\x1b[31mred\u202egroup")
			h.keys(prep...)
		}
		raw, plain := h.m.View().Content, h.screen()
		// Our own styling uses CSI SGR sequences only; the payloads of the
		// names (OSC title, BEL, 8-bit CSI, bidi override) must not appear.
		for _, bad := range []string{"\x1b]", "\x07", "\u009b", "\u202e", "\x1b[31mred"} {
			if strings.Contains(raw, bad) {
				t.Fatalf("%q reached the terminal:\n%q", bad, raw)
			}
		}
		if !strings.Contains(plain, `evil\x1b[31mred\u202egroup`) {
			t.Fatalf("group name not shown escaped:\n%s", plain)
		}
	}
	if !strings.Contains(h.screen(), `m\x1b]0;pwned\x07`) {
		t.Errorf("member id not escaped:\n%s", h.screen())
	}
}

func TestFrameFitsAnySize(t *testing.T) {
	for _, size := range [][2]int{{120, 30}, {80, 24}, {40, 10}, {20, 5}, {3, 2}, {1, 1}, {250, 60}} {
		for _, prep := range [][]string{{}, {"enter"}, {"?"}, {":"}, {"/", "("}} {
			h := loaded(t, Options{Context: "a-very-long-context-name", Color: "#ff00ff", ReadOnly: true})
			h.send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
			h.keys(prep...)
			checkFrame(t, h.m.View().Content, size[0], size[1])
		}
	}
	// Before the first size message the model draws at a default size.
	m := New(Options{})
	checkFrame(t, m.View().Content, 80, 24)
}

func TestScrollKeepsCursorVisible(t *testing.T) {
	src := &cannedSource{}
	src.push(bigGroup(500), nil)
	h := newHarness(t, Options{}, src)
	h.keys("enter")
	tbl := h.m.top().focused()
	for range 100 {
		h.keys("j")
	}
	if tbl.Cursor() != 100 {
		t.Fatalf("cursor %d", tbl.Cursor())
	}
	if tbl.Cursor() < tbl.Offset() || tbl.Cursor() >= tbl.Offset()+tbl.BodyHeight() {
		t.Fatalf("cursor %d outside window [%d,%d)", tbl.Cursor(), tbl.Offset(), tbl.Offset()+tbl.BodyHeight())
	}
	screen := h.screen()
	if !strings.Contains(screen, "events.000") || strings.Count(screen, "\n") != 29 {
		t.Fatalf("screen:\n%s", screen)
	}
	// Shrinking the terminal keeps the cursor on screen.
	h.send(tea.WindowSizeMsg{Width: 100, Height: 12})
	if tbl.Cursor() < tbl.Offset() || tbl.Cursor() >= tbl.Offset()+tbl.BodyHeight() {
		t.Fatalf("after resize: cursor %d outside window [%d,%d)", tbl.Cursor(), tbl.Offset(), tbl.Offset()+tbl.BodyHeight())
	}
}

// TestSecretsNeverOnScreen: an error that carries a secret (a library
// echoing an address with its password, a URL with a token) reaches the
// screen — placeholder and flash — redacted.
func TestSecretsNeverOnScreen(t *testing.T) {
	src := &cannedSource{}
	src.set(nil, errors.New("dial SASL_SSL://ops:hunter2-pw@kafka-1:9093: i/o timeout; see https://h/x?token=tok-123"))
	h := newHarness(t, Options{}, src)
	s := h.screen()
	if strings.Contains(s, "hunter2-pw") || strings.Contains(s, "tok-123") {
		t.Fatalf("a secret is on screen:\n%s", s)
	}
	if !strings.Contains(s, "ops:REDACTED@kafka-1:9093") {
		t.Fatalf("the error is not shown:\n%s", s)
	}
	src.set(cluster(0), nil)
	fire[refreshTickMsg](h)
	src.set(nil, errors.New("auth failed for amqp://u:hunter2-pw@rabbit:5672"))
	fire[refreshTickMsg](h)
	if s := h.screen(); strings.Contains(s, "hunter2-pw") || !strings.Contains(s, "REDACTED") {
		t.Fatalf("flash:\n%s", s)
	}
}
