package tui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/tui/action"
)

// fakeResetter is a cluster's consumer groups as a reset sees them: their
// state, members and committed offsets, and the partitions' log start and
// end. Commits are accepted only while a group has no member, as Kafka
// accepts them.
type fakeResetter struct {
	mu        sync.Mutex
	logs      map[string][][2]int64 // topic → per partition [log start, log end]
	groups    map[string]*fakeResetGroup
	commits   int
	commitErr error
	// gate, when set, holds each commit until a value is sent (or it is
	// closed).
	gate chan struct{}
}

type fakeResetGroup struct {
	state     string
	members   []backends.KafkaGroupMember
	committed map[string]map[int32]int64
}

var _ backends.KafkaOffsetResetter = (*fakeResetter)(nil)

// newFakeResetter is the synthetic cluster's groups (support_test.go):
// shipping Empty, billing and analytics Stable with their members, the
// hostile group Stable with a hostile member.
func newFakeResetter() *fakeResetter {
	snap := cluster(2)
	f := &fakeResetter{logs: map[string][][2]int64{}, groups: map[string]*fakeResetGroup{}}
	for _, t := range snap.Topics {
		for _, p := range t.Partitions {
			f.logs[t.Name] = append(f.logs[t.Name], [2]int64{max(p.LogStart, 0), max(p.LogEnd, 0)})
		}
	}
	for _, g := range snap.Groups {
		fg := &fakeResetGroup{state: g.State, committed: map[string]map[int32]int64{}}
		for _, m := range g.Members {
			fg.members = append(fg.members, backends.KafkaGroupMember{MemberID: m.ID, ClientID: m.ClientID, Host: m.Host})
		}
		for _, p := range g.Partitions {
			if p.Committed != nil {
				if fg.committed[p.Topic] == nil {
					fg.committed[p.Topic] = map[int32]int64{}
				}
				fg.committed[p.Topic][p.Partition] = *p.Committed
			}
		}
		f.groups[g.Name] = fg
	}
	return f
}

func (f *fakeResetter) GroupOffsets(ctx context.Context, q backends.KafkaOffsetsQuery) (*backends.KafkaGroupOffsets, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g := f.groups[q.Group]
	if g == nil {
		g = &fakeResetGroup{state: backends.GroupDead}
	}
	want := map[string]map[int32]bool{}
	add := func(t string, p int32) {
		if want[t] == nil {
			want[t] = map[int32]bool{}
		}
		want[t][p] = true
	}
	for _, t := range q.Topics {
		if f.logs[t] == nil {
			return nil, fmt.Errorf("unknown topic %q", t)
		}
		for p := range f.logs[t] {
			add(t, int32(p))
		}
	}
	for t, ps := range q.Partitions {
		for _, p := range ps {
			if int(p) >= len(f.logs[t]) {
				return nil, fmt.Errorf("unknown partition %s/%d", t, p)
			}
			add(t, p)
		}
	}
	if q.AllCommitted {
		for t, ps := range g.committed {
			for p := range ps {
				add(t, p)
			}
		}
	}
	out := &backends.KafkaGroupOffsets{Group: q.Group, State: g.state, Type: "classic", Members: g.members}
	for t, ps := range want {
		for p := range ps {
			po := backends.KafkaPartitionOffsets{Topic: t, Partition: p, LogStart: f.logs[t][p][0], LogEnd: f.logs[t][p][1]}
			if c, ok := g.committed[t][p]; ok {
				po.Committed = &c
			}
			out.Partitions = append(out.Partitions, po)
		}
	}
	sort.Slice(out.Partitions, func(i, j int) bool {
		a, b := out.Partitions[i], out.Partitions[j]
		return a.Topic < b.Topic || a.Topic == b.Topic && a.Partition < b.Partition
	})
	return out, nil
}

func (f *fakeResetter) CommitGroupOffsets(ctx context.Context, group string, offsets []backends.KafkaOffset) error {
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.groups[group]
	switch {
	case f.commitErr != nil:
		return f.commitErr
	case g == nil:
		g = &fakeResetGroup{committed: map[string]map[int32]int64{}}
		f.groups[group] = g
	case len(g.members) > 0:
		return errors.New("UNKNOWN_MEMBER_ID: the group has members")
	}
	f.commits++
	for _, o := range offsets {
		if g.committed[o.Topic] == nil {
			g.committed[o.Topic] = map[int32]int64{}
		}
		g.committed[o.Topic][o.Partition] = o.Offset
	}
	return nil
}

func (f *fakeResetter) CommittedOffsets(ctx context.Context, group string) (map[string]map[int32]int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]map[int32]int64{}
	if g := f.groups[group]; g != nil {
		for t, ps := range g.committed {
			out[t] = map[int32]int64{}
			for p, o := range ps {
				out[t][p] = o
			}
		}
	}
	return out, nil
}

// empty makes group Empty: no member.
func (f *fakeResetter) empty(group string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.groups[group].state, f.groups[group].members = backends.GroupEmpty, nil
}

func (f *fakeResetter) offsets(group string) map[string]map[int32]int64 {
	o, _ := f.CommittedOffsets(context.Background(), group)
	return o
}

// resetScreen is the reset's action screen.
type resetScreen = action.Model[*resetBatch, *resetOutcome]

func (h *harness) resetView() *resetScreen {
	h.t.Helper()
	s, ok := h.actionView().screen.(*resetScreen)
	if !ok {
		h.t.Fatalf("the screen on top is not a reset: %T", h.actionView().screen)
	}
	return s
}

// mark marks the named rows of the view on top.
func (h *harness) mark(ids ...string) {
	h.t.Helper()
	for _, id := range ids {
		h.selectRow(id)
		h.keys("space")
	}
}

// resetHarness is the synthetic cluster loaded in the console, with a
// resetter, an audit log and a state directory (for the rollback files)
// of the test's own.
func resetHarness(t *testing.T, o Options) (*harness, *fakeResetter) {
	t.Helper()
	f := newFakeResetter()
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	if o.KafkaResetter == nil {
		o.KafkaResetter = f
	}
	if o.Audit == nil {
		o.Audit = actions.NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))
	}
	return loaded(t, o), f
}

func auditEntries(t *testing.T, h *harness) []actions.AuditEntry {
	t.Helper()
	es, bad, err := h.m.opts.Audit.Read(0)
	if err != nil || bad != 0 {
		t.Fatalf("audit log: %d bad lines, %v", bad, err)
	}
	return es
}

// TestResetAbsentWhereItCannotRun: `R` is a dangerous key: in a read-only
// context, without a resetter or without an audit log it does nothing and
// the help does not list it; where it works, the help lists it.
func TestResetAbsentWhereItCannotRun(t *testing.T) {
	for name, o := range map[string]Options{
		"read-only":    {Context: "prod", ReadOnly: true},
		"no resetter":  {KafkaResetter: nil},
		"no audit log": {},
	} {
		t.Run(name, func(t *testing.T) {
			h := loaded(t, o)
			if name == "read-only" || name == "no audit log" {
				h.m.opts.KafkaResetter = newFakeResetter() // set after New: New decided
			}
			h.selectRow("shipping")
			h.keys("R")
			if _, ok := h.m.top().(*groupsView); !ok {
				t.Fatalf("R opened %T", h.m.top())
			}
			// the groups' marks feed R only: without it, none
			h.keys("space")
			if n := h.m.top().focused().MarkedCount(); n != 0 || strings.Contains(h.screen(), "space mark") {
				t.Errorf("the groups offer marks without R: %d marked\n%s", n, h.screen())
			}
			h.keys("?")
			if strings.Contains(h.screen(), "reset offsets") {
				t.Errorf("the help lists R:\n%s", h.screen())
			}
		})
	}
	h, _ := resetHarness(t, Options{})
	h.keys("?")
	if !strings.Contains(h.screen(), "R") || !strings.Contains(h.screen(), "reset offsets (group; marked groups)") {
		t.Errorf("the help lacks R:\n%s", h.screen())
	}
}

// TestResetOpensOnGroups: R opens on the selected group of the groups
// view and on the group of a group's view; elsewhere it says where it
// works.
func TestResetOpensOnGroups(t *testing.T) {
	h, _ := resetHarness(t, Options{})
	h.selectRow("shipping")
	h.keys("R")
	if s := h.screen(); !strings.Contains(s, "Reset the offsets of consumer group shipping on kafka-1.test:9092") || !strings.Contains(s, "› Mode") {
		t.Fatalf("R on shipping:\n%s", s)
	}
	h.keys("esc")
	h.selectRow("billing")
	h.keys("enter", "R")
	if s := h.screen(); !strings.Contains(s, "Reset the offsets of consumer group billing") {
		t.Fatalf("R in billing's view:\n%s", s)
	}
	h.keys("esc", "esc", ":")
	h.typeText("topics")
	h.keys("enter", "R")
	if _, ok := h.m.top().(*topicsView); !ok || !strings.Contains(h.m.flash.Text, "R resets the offsets of a consumer group") {
		t.Fatalf("R on topics: %T, flash %q", h.m.top(), h.m.flash.Text)
	}
}

// TestResetPlanRunAndAudit: an Empty group reset to earliest: the plan
// shows per partition current → new and lag before → after, what will be
// consumed again, the rollback file and the command; y commits exactly
// the plan, the result says where the previous offsets are and how to
// roll back, and the audit log has one typed entry.
func TestResetPlanRunAndAudit(t *testing.T) {
	h, f := resetHarness(t, Options{})
	h.selectRow("shipping")
	h.keys("R", "enter")
	v := h.resetView()
	if v.Stage() != action.StagePlan {
		t.Fatalf("stage %d: %s\n%s", v.Stage(), v.FormError(), h.screen())
	}
	s := h.screen()
	for _, want := range []string{
		"plan: consumer group shipping (Empty), --to-earliest: 3 partition(s), 3 change, 0 clamped",
		"TOPIC   P  CURRENT   NEW    LAG BEFORE   AFTER",
		"orders  0  100,000 → 0          21,000 → 121,000",
		"orders  2  101,000 → 1,000      21,290 → 121,290",
		"3 partition(s), 3 change, 0 clamped: 299,000 record(s) consumed again, 0 skipped",
		"299,000 record(s) will be consumed again, 0 skipped",
		"before the commit, the previous offsets are written to a new file in " + filepath.Join(os.Getenv("XDG_STATE_HOME"), "mqops", "runs") + " (the rollback)",
		"same as: mqops --context staging reset-offsets shipping --to-earliest --all-topics",
		"Reset the offsets of consumer group shipping (Empty), --to-earliest: 3 partition(s), 3 change, 0 clamped; 299,000 record(s) consumed again, 0 skipped? [y/N]",
	} {
		if !strings.Contains(s, want) && !strings.Contains(flat(s), want) {
			t.Errorf("the plan lacks %q:\n%s", want, s)
		}
	}
	if len(auditEntries(t, h)) != 0 || f.commits != 0 {
		t.Fatal("a plan on screen was recorded or committed")
	}
	h.keys("y")
	if v.Stage() != action.StageDone {
		t.Fatalf("stage %d\n%s", v.Stage(), h.screen())
	}
	if got := f.offsets("shipping")["orders"]; f.commits != 1 || got[0] != 0 || got[1] != 0 || got[2] != 1_000 {
		t.Fatalf("committed %v (%d commits)", got, f.commits)
	}
	out, _ := v.Result()
	if out == nil || len(out.runs) != 1 || out.runs[0].res == nil {
		t.Fatalf("result %+v", out)
	}
	res := out.runs[0].res
	data, err := os.ReadFile(res.Previous)
	if err != nil || string(data) != "orders,0,100000\norders,1,99000\norders,2,101000\n" {
		t.Fatalf("rollback file %s: %q %v", res.Previous, data, err)
	}
	s = flat(h.screen())
	for _, want := range []string{"Reset finished", "committed 3 partition(s) of consumer group shipping; read back: as planned",
		"previous offsets: " + res.Previous, "roll back with: mqops --context staging reset-offsets shipping --from-file " + res.Previous} {
		if !strings.Contains(s, want) {
			t.Errorf("the result lacks %q:\n%s", want, s)
		}
	}
	es := auditEntries(t, h)
	if len(es) != 1 {
		t.Fatalf("audit: %+v", es)
	}
	e := es[0]
	if e.Action != "reset-offsets" || e.Outcome != actions.OutcomeExecuted || e.Context != "staging" || e.Source != "kafka-group:shipping" ||
		e.Target != "--to-earliest" || e.RunID != res.RunID || e.Command != "mqops --context staging reset-offsets shipping --to-earliest --all-topics" ||
		e.Plan == nil || e.Plan.Selected != 3 || e.Plan.Total != 3 || e.Result == nil || e.Result.Done != 3 || e.Result.Failed != 0 ||
		e.Result.Details["previous_offsets"] != res.Previous || e.Result.Details["verified"] != true || e.Error != "" {
		t.Errorf("audit entry %+v plan %+v result %+v", e, e.Plan, e.Result)
	}
	// Closing reloads the groups view below.
	h.keys("enter")
	if _, ok := h.m.top().(*groupsView); !ok {
		t.Fatalf("enter on the result went to %T", h.m.top())
	}
}

// TestResetRefusedActiveGroup: a Stable group is refused while planning:
// the plan screen names its state and each member (client id, host),
// sanitized, and cannot be confirmed; the refusal is recorded once.
func TestResetRefusedActiveGroup(t *testing.T) {
	h, f := resetHarness(t, Options{})
	h.selectRow("billing")
	h.keys("R", "enter")
	v := h.resetView()
	s := h.screen()
	for _, want := range []string{
		`refused: consumer group "billing" is Stable with 2 member(s): offsets can only be reset while it is Empty or Dead`,
		`client id "billing-svc" on host /10.0.4.11 (member billing-1-6f1c)`,
		`client id "billing-svc" on host /10.0.4.12 (member billing-2-93ab)`,
		"the reset is refused (above): nothing was changed",
	} {
		if v.Stage() != action.StagePlan || !strings.Contains(s, want) {
			t.Errorf("stage %d, the refusal lacks %q:\n%s", v.Stage(), want, s)
		}
	}
	h.keys("y") // blocked: any key goes back
	if v.Stage() != action.StageForm || f.commits != 0 {
		t.Fatalf("a refused reset was confirmed: stage %d, %d commits", v.Stage(), f.commits)
	}
	es := auditEntries(t, h)
	if len(es) != 1 || es[0].Outcome != actions.OutcomeRefused || !strings.Contains(es[0].Reason, "is Stable with 2 member(s)") ||
		es[0].Source != "kafka-group:billing" || es[0].Plan != nil || es[0].Command != "mqops --context staging reset-offsets billing --to-earliest --all-topics" {
		t.Fatalf("audit of the refusal: %+v", es)
	}
	// A hostile group and member: escaped, never sent to the terminal.
	h.keys("esc")
	h.selectRow("evil\x1b[31mred\u202egroup")
	h.keys("R", "enter")
	raw := h.m.View().Content
	if strings.Contains(raw, "\x1b]0;") || strings.Contains(raw, "\x1b[31mred") || strings.Contains(raw, "\u202e") || strings.Contains(raw, "\x9b") {
		t.Errorf("a hostile name reached the terminal: %q", raw)
	}
	if s := h.screen(); !strings.Contains(s, `is Stable with 1 member(s)`) || !strings.Contains(s, `evil\x1b[31mred`) {
		t.Errorf("hostile refusal:\n%s", s)
	}
}

// TestResetMarkedGroups: with groups marked, R acts on them: one plan per
// group, blocked while one is refused (the planned one then recorded as
// refused, the refused one by the runner); once both are Empty, one run
// per group, one audit entry and one rollback file each, and the command
// is each group's, joined with &&.
func TestResetMarkedGroups(t *testing.T) {
	h, f := resetHarness(t, Options{})
	h.mark("shipping", "billing")
	h.keys("R")
	s := h.screen()
	if !strings.Contains(s, "Reset the offsets of 2 consumer groups") || !strings.Contains(s, "groups (marked): billing, shipping") {
		t.Fatalf("R with marks:\n%s", s)
	}
	h.keys("down", "right") // Scope: topics
	h.typeText("orders:0,1")
	h.keys("enter")
	v := h.resetView()
	s = flat(h.screen())
	for _, want := range []string{"plan: 2 consumer groups, --to-earliest: 2 partition(s), 2 change, 0 clamped (of the 1 planned)",
		"consumer group billing", `refused: consumer group "billing" is Stable`, "consumer group shipping (Empty)",
		"1 of 2 consumer groups cannot be reset (above)"} {
		if v.Stage() != action.StagePlan || !strings.Contains(s, want) {
			t.Errorf("the batch plan lacks %q:\n%s", want, s)
		}
	}
	h.keys("n")
	es := auditEntries(t, h)
	if len(es) != 2 || es[0].Source != "kafka-group:billing" || es[0].Outcome != actions.OutcomeRefused ||
		es[1].Source != "kafka-group:shipping" || es[1].Outcome != actions.OutcomeRefused || !strings.HasPrefix(es[1].Reason, "1 of 2 consumer groups cannot be reset") {
		t.Fatalf("audit of the blocked batch: %+v", es)
	}
	f.empty("billing")
	h.keys("enter")
	if v.Stage() != action.StagePlan || !strings.Contains(v.Command(),
		"mqops --context staging reset-offsets billing --to-earliest --topic orders:0,1 && mqops --context staging reset-offsets shipping --to-earliest --topic orders:0,1") {
		t.Fatalf("batch: stage %d, command %q\n%s", v.Stage(), v.Command(), h.screen())
	}
	h.keys("y")
	out, err := v.Result()
	if v.Stage() != action.StageDone || err != nil || out == nil || len(out.runs) != 2 {
		t.Fatalf("batch run: stage %d, %+v %v\n%s", v.Stage(), out, err, h.screen())
	}
	for _, g := range []string{"billing", "shipping"} {
		if got := f.offsets(g)["orders"]; got[0] != 0 || got[1] != 0 {
			t.Errorf("%s: %v", g, got)
		}
	}
	if f.offsets("shipping")["orders"][2] != 101_000 {
		t.Error("a partition out of scope moved")
	}
	es = auditEntries(t, h)[2:]
	if len(es) != 2 || es[0].Outcome != actions.OutcomeExecuted || es[1].Outcome != actions.OutcomeExecuted || es[0].RunID == es[1].RunID ||
		es[0].Result.Details["previous_offsets"] == es[1].Result.Details["previous_offsets"] {
		t.Fatalf("audit of the batch: %+v", es)
	}
	if s := flat(h.screen()); strings.Count(s, "roll back with: mqops --context staging reset-offsets") != 2 {
		t.Errorf("the result lacks a rollback per group:\n%s", s)
	}
}

// TestResetBatchStopsAtTheFirstFailure: a group whose commit fails stops
// the groups after it, which are recorded as not run.
func TestResetBatchStopsAtTheFirstFailure(t *testing.T) {
	h, f := resetHarness(t, Options{})
	f.empty("billing")
	h.mark("shipping", "billing")
	h.keys("R", "enter")
	f.commitErr = errors.New("NOT_COORDINATOR")
	h.keys("y")
	v := h.resetView()
	if _, err := v.Result(); v.Stage() != action.StageDone || err == nil {
		t.Fatalf("stage %d, error %v", v.Stage(), err)
	}
	es := auditEntries(t, h)
	if len(es) != 2 || es[0].Source != "kafka-group:billing" || es[0].Outcome != actions.OutcomeFailed || !strings.Contains(es[0].Error, "NOT_COORDINATOR") ||
		es[1].Source != "kafka-group:shipping" || es[1].Outcome != actions.OutcomeRefused || !strings.Contains(es[1].Reason, `not run: the reset of consumer group "billing" before it failed`) {
		t.Fatalf("audit: %+v", es)
	}
	if s := flat(h.screen()); !strings.Contains(s, "Reset failed") || !strings.Contains(s, `consumer group shipping: not run`) {
		t.Errorf("result:\n%s", s)
	}
}

// TestResetFormChecks: each mode's value and the topics are checked as
// the command line checks them, in the form, before any plan.
func TestResetFormChecks(t *testing.T) {
	h, f := resetHarness(t, Options{})
	h.selectRow("shipping")
	h.keys("R")
	v := h.resetView()
	for _, c := range []struct {
		right int
		value string
		want  string
	}{
		{3, "", "Mode offset: type its value"},
		{3, "-5", "Mode offset: -5 is not an offset: offsets start at 0"},
		{4, "1e3", `Mode shift: "1e3" is not a whole number of records`},
		{5, "2024-05-01 10:00", "Mode datetime: "},
		{6, "3 days", "Mode duration: "},
		{7, "", "Mode file: type its value"},
	} {
		h.keys("esc")
		h.selectRow("shipping")
		h.keys("R")
		v = h.resetView()
		for i := 0; i < c.right; i++ {
			h.keys("right")
		}
		h.typeText(c.value)
		h.keys("enter")
		if v.Stage() != action.StageForm || !strings.HasPrefix(v.FormError(), c.want) || v.Focused() != fMode {
			t.Errorf("%q: stage %d, error %q, focus %s", c.value, v.Stage(), v.FormError(), v.Focused())
		}
	}
	h.keys("esc")
	h.selectRow("shipping")
	h.keys("R", "down", "right")
	v = h.resetView()
	h.typeText("orders:x")
	h.keys("enter")
	if v.Stage() != action.StageForm || !strings.Contains(v.FormError(), `Scope topics: "orders:x": "x" is not a partition number`) || v.Focused() != fScope {
		t.Errorf("scope: stage %d, error %q", v.Stage(), v.FormError())
	}
	if f.commits != 0 || len(auditEntries(t, h)) != 0 {
		t.Error("a form error reached the cluster or the audit log")
	}
}

// TestResetFromFile: the CSV is read by the plan's command (Validate):
// its rows are the plan, clamped into the log; a file that is not a
// regular file is refused, recorded, and the form says why.
func TestResetFromFile(t *testing.T) {
	h, f := resetHarness(t, Options{})
	dir := t.TempDir()
	csv := filepath.Join(dir, "offsets.csv")
	if err := os.WriteFile(csv, []byte("orders,1,5\norders,2,999999999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.selectRow("shipping")
	h.keys("R")
	v := h.resetView()
	for i := 0; i < 7; i++ {
		h.keys("right")
	}
	h.typeText(csv)
	h.keys("enter")
	s := flat(h.screen())
	for _, want := range []string{"--from-file " + csv + ": 2 partition(s), 2 change, 1 clamped", "orders 1 99,000 → 5",
		"orders 2 101,000 → 122,290", "clamped to log end (asked 999,999,999)", "same as: mqops --context staging reset-offsets shipping --from-file " + csv} {
		if v.Stage() != action.StagePlan || !strings.Contains(s, want) {
			t.Errorf("the plan of the file lacks %q:\n%s", want, s)
		}
	}
	h.keys("n")
	fifo := filepath.Join(dir, "fifo.csv")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFO here:", err)
	}
	h.keys("ctrl+u")
	h.typeText(fifo)
	h.keys("enter")
	if v.Stage() != action.StageForm || !strings.Contains(v.FormError(), "the plan failed: --from-file: ") || !strings.Contains(v.FormError(), "not a regular file") {
		t.Errorf("a FIFO: stage %d, %q", v.Stage(), v.FormError())
	}
	es := auditEntries(t, h)
	if len(es) != 2 || es[0].Outcome != actions.OutcomeDryRun || es[1].Outcome != actions.OutcomeRefused || !strings.Contains(es[1].Reason, "not a regular file") || f.commits != 0 {
		t.Errorf("audit: %+v, %d commits", es, f.commits)
	}
}

// TestResetRedContextTypesTheName: in a red context the group's name is
// typed to confirm; y alone does nothing.
func TestResetRedContextTypesTheName(t *testing.T) {
	h, f := resetHarness(t, Options{Context: "prod", Color: "red"})
	h.selectRow("shipping")
	h.keys("R", "enter", "y", "enter")
	v := h.resetView()
	if v.Stage() != action.StagePlan || f.commits != 0 || !strings.Contains(h.screen(), "that is not the consumer group name: nothing was changed") {
		t.Fatalf("y in a red context: stage %d, %d commits\n%s", v.Stage(), f.commits, h.screen())
	}
	h.typeText("shipping")
	h.keys("enter")
	if v.Stage() != action.StageDone || f.commits != 1 {
		t.Fatalf("typed name: stage %d, %d commits\n%s", v.Stage(), f.commits, h.screen())
	}
}

// runIDTailRe is the random part of a run id in a rollback file's name
// that wrapping put at the start of a line.
var runIDTailRe = regexp.MustCompile(`(?m)^[0-9a-f]{12}-previous`)

// TestResetGolden draws the reset screen's stages at 80×24 and 120×30
// (and checks that they fit every size).
func TestResetGolden(t *testing.T) {
	cases := []struct {
		name  string
		o     Options
		setup func(h *harness, f *fakeResetter)
	}{
		{name: "form", setup: func(h *harness, f *fakeResetter) {
			h.selectRow("shipping")
			h.keys("R", "right", "right", "right", "right")
			h.typeText("-100")
		}},
		{name: "form_error", setup: func(h *harness, f *fakeResetter) {
			h.selectRow("shipping")
			h.keys("R", "down", "right")
			h.typeText("orders:x")
			h.keys("enter")
		}},
		{name: "plan", setup: func(h *harness, f *fakeResetter) {
			h.selectRow("shipping")
			h.keys("R", "right", "right", "right", "right")
			h.typeText("-150000")
			h.keys("enter")
		}},
		{name: "plan_red", o: Options{Context: "prod", Color: "red"}, setup: func(h *harness, f *fakeResetter) {
			h.selectRow("shipping")
			h.keys("R", "enter")
			h.typeText("ship")
		}},
		{name: "refused", setup: func(h *harness, f *fakeResetter) {
			h.selectRow("billing")
			h.keys("R", "enter")
		}},
		{name: "marked", setup: func(h *harness, f *fakeResetter) {
			f.empty("analytics")
			h.mark("shipping", "analytics")
			h.keys("R", "right")
			h.keys("enter")
		}},
		{name: "progress", setup: func(h *harness, f *fakeResetter) {
			// two groups: the first committed, the second's commit held
			f.empty("analytics")
			h.mark("shipping", "analytics")
			h.keys("R", "enter")
			f.gate = make(chan struct{})
			h.t.Cleanup(func() { // let the run end (its audit entries)
				close(f.gate)
				v := h.resetView()
				for v.Stage() == action.StageRunning {
					for _, msg := range execCmd(v.Wait()) {
						v.Update(msg)
					}
				}
			})
			_, cmd := h.m.Update(keyPress("y"))
			wait := step(h, step(h, cmd)) // started, then the first report
			f.gate <- struct{}{}          // the first group's commit
			step(h, wait)
			if p, ok := h.resetView().Progress(); !ok || p.Seen != 1 || p.Total != 4 {
				h.t.Fatalf("progress %+v\n%s", p, h.screen())
			}
		}},
		{name: "result", setup: func(h *harness, f *fakeResetter) {
			h.selectRow("shipping")
			h.keys("R", "right", "enter", "y")
		}},
	}
	pkgDir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, f := resetHarness(t, c.o)
			// The rollback files' paths, as the screen shows them, are the
			// same in every run: relative to a directory of the test's own.
			t.Chdir(t.TempDir())
			t.Setenv("XDG_STATE_HOME", "state")
			c.setup(h, f)
			actionGolden(t, h, pkgDir, func(s string) string { return maskRunIDs(runIDTailRe.ReplaceAllString(s, "000000000000-previous")) })
		})
	}
}
