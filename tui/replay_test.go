package tui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/tui/action"
)

// fakeReplayer is a cluster's topics as a replay sees them: per partition
// its log start and end, a record at every offset (key k<offset mod 10>,
// a header tenant=acme on every fourth, 100 bytes, timestamped base + the
// offset in seconds), one record of bigSize bytes per topic where big
// says, and the targets' max.message.bytes. A run replays by steps of
// step records (each held by gate when it is set), saving the positions
// after each step, and records the source offsets it produced.
type fakeReplayer struct {
	mu       sync.Mutex
	logs     map[string][][2]int64
	limits   map[string]int
	big      map[string][2]int64 // topic → {partition, offset}
	base     time.Time
	step     int
	gate     chan struct{}
	produced map[string]map[int32][][2]int64 // target → source partition → [from, to) runs produced
	runs     int
}

const fakeRecordSize, fakeBigSize = 100, 5_000

var _ backends.KafkaReplayer = (*fakeReplayer)(nil)

// newFakeReplayer is the synthetic cluster's topics (support_test.go) as
// of its third snapshot, and three targets: orders.replay (3 partitions,
// empty), orders.one (1 partition) and orders.small (3 partitions, taking
// at most 1,000 bytes). orders/1 has a record of 5,000 bytes at 5,000.
func newFakeReplayer() *fakeReplayer {
	f := &fakeReplayer{logs: map[string][][2]int64{}, limits: map[string]int{"orders.small": 1_000},
		big: map[string][2]int64{"orders": {1, 5_000}}, base: t0.Add(-48 * time.Hour), step: 10_000, produced: map[string]map[int32][][2]int64{}}
	for _, t := range cluster(2).Topics {
		if t.Name == "audit.log" {
			continue
		}
		for _, p := range t.Partitions {
			f.logs[t.Name] = append(f.logs[t.Name], [2]int64{p.LogStart, p.LogEnd})
		}
	}
	f.logs["orders.replay"] = make([][2]int64, 3)
	f.logs["orders.one"] = make([][2]int64, 1)
	f.logs["orders.small"] = make([][2]int64, 3)
	return f
}

func (f *fakeReplayer) size(topic string, p int32, off int64) int {
	if b, ok := f.big[topic]; ok && int32(b[0]) == p && b[1] == off {
		return fakeBigSize
	}
	return fakeRecordSize
}

func (f *fakeReplayer) record(topic string, p int32, off int64) *backends.KafkaRecord {
	r := &backends.KafkaRecord{Topic: topic, Partition: p, Offset: off, Key: fmt.Appendf(nil, "k%d", off%10), Timestamp: f.base.Add(time.Duration(off) * time.Second)}
	if off%4 == 0 {
		r.Headers = []backends.KafkaHeader{{Key: "tenant", Value: []byte("acme")}}
	}
	return r
}

func (f *fakeReplayer) PartitionCounts(ctx context.Context, topics []string) (map[string]int32, error) {
	out := map[string]int32{}
	for _, t := range topics {
		out[t] = int32(len(f.logs[t]))
	}
	return out, ctx.Err()
}

// at is the first offset whose timestamp is at or after t, in [start, end].
func (f *fakeReplayer) at(t time.Time, start, end int64) int64 {
	s := t.Sub(f.base)
	off := int64(s / time.Second)
	if s%time.Second != 0 {
		off++
	}
	return min(max(off, start), end)
}

func (f *fakeReplayer) ResolveRange(ctx context.Context, q backends.KafkaRangeQuery) (*backends.KafkaRange, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	logs, ok := f.logs[q.Topic]
	if !ok {
		return nil, fmt.Errorf("topic %q does not exist", q.Topic)
	}
	parts := q.Partitions
	if parts == nil {
		for p := range logs {
			parts = append(parts, int32(p))
		}
	}
	out := &backends.KafkaRange{Topic: q.Topic, Partitions: int32(len(logs))}
	for _, p := range parts {
		if int(p) >= len(logs) {
			return nil, fmt.Errorf("topic %q has no partition %d", q.Topic, p)
		}
		ls, le := logs[p][0], logs[p][1]
		rp := backends.KafkaRangePart{Partition: p, LogStart: ls, LogEnd: le, Start: ls, End: le}
		switch {
		case q.FromOffset != nil && *q.FromOffset > le:
			return nil, fmt.Errorf("--from-offset %d is past the log end %d of partition %d", *q.FromOffset, le, p)
		case q.FromOffset != nil && *q.FromOffset < ls:
			rp.Note = "start clamped to the log start"
		case q.FromOffset != nil:
			rp.Start = *q.FromOffset
		case q.FromTime != nil:
			rp.Start = f.at(*q.FromTime, ls, le)
		}
		switch {
		case q.ToOffset != nil && *q.ToOffset > le:
			rp.Note = "end clamped to the log end"
		case q.ToOffset != nil:
			rp.End = max(*q.ToOffset, rp.Start)
		case q.ToTime != nil:
			rp.End = max(f.at(*q.ToTime, ls, le), rp.Start)
		}
		out.Parts = append(out.Parts, rp)
	}
	return out, nil
}

func (f *fakeReplayer) oversized(target string, size int) bool {
	return f.limits[target] > 0 && size > f.limits[target]
}

func (f *fakeReplayer) CountReplay(ctx context.Context, o backends.KafkaReplayCountOptions) (*backends.KafkaReplayCount, error) {
	out := &backends.KafkaReplayCount{Complete: true, Limit: f.limits[o.Target]}
	read := 0
	for _, p := range o.Parts {
		c := backends.KafkaReplayPartCount{Partition: p.Partition, ReadTo: p.Next}
		for off := p.Next; off < p.End; off++ {
			if o.MaxRecords > 0 && read >= o.MaxRecords {
				out.Complete = false
				break
			}
			read++
			c.Read++
			c.ReadTo = off + 1
			size := f.size(o.Topic, p.Partition, off)
			if f.oversized(o.Target, size) {
				out.OversizedCount++
				out.Oversized = append(out.Oversized, backends.KafkaOversized{Partition: p.Partition, Offset: off, Size: size, Limit: f.limits[o.Target], Target: o.Target, RefusedBy: backends.RefusedByTopic})
				continue
			}
			if o.Keep == nil || o.Keep(f.record(o.Topic, p.Partition, off)) {
				c.Selected++
				c.Bytes += int64(size)
			}
		}
		out.Parts = append(out.Parts, c)
	}
	return out, ctx.Err()
}

func (f *fakeReplayer) Replay(ctx context.Context, o backends.KafkaReplayOptions) (*backends.KafkaReplayResult, error) {
	f.mu.Lock()
	f.runs++
	f.mu.Unlock()
	res := &backends.KafkaReplayResult{StoppedBecause: backends.KafkaStopEnd}
	total, seen := 0, 0
	for _, p := range o.Parts {
		total += int(p.End - p.Next)
	}
	next := map[int32]int64{}
	for _, p := range o.Parts {
		next[p.Partition] = p.Next
	}
	report := func() {
		if o.Progress != nil {
			o.Progress(backends.KafkaMoveProgress{Moved: res.Replayed, Failed: res.Failed, Seen: seen, Total: total, Elapsed: time.Duration(seen) * time.Millisecond})
		}
	}
	var err error
parts:
	for _, p := range o.Parts {
		for off := p.Next; off < p.End; {
			if f.gate != nil {
				select {
				case <-f.gate:
				case <-ctx.Done():
				}
			}
			if err = ctx.Err(); err != nil {
				res.StoppedBecause = backends.KafkaStopCancelled
				break parts
			}
			end := min(off+int64(f.step), p.End)
			from := off
			stopped := false
			for ; off < end; off++ {
				if o.Wait != nil {
					if err = o.Wait(ctx); err != nil {
						break
					}
				}
				seen++
				size := f.size(o.Topic, p.Partition, off)
				if f.oversized(o.Target, size) {
					res.OversizedCount++
					res.Oversized = append(res.Oversized, backends.KafkaOversized{Partition: p.Partition, Offset: off, Size: size, Limit: f.limits[o.Target], Target: o.Target})
					if !o.SkipOversized {
						res.StoppedBecause, stopped = backends.KafkaStopOversized, true
						break
					}
					continue
				}
				if o.Keep != nil && !o.Keep(f.record(o.Topic, p.Partition, off)) {
					res.Filtered++
					continue
				}
				res.Replayed++
			}
			f.mu.Lock()
			if f.produced[o.Target] == nil {
				f.produced[o.Target] = map[int32][][2]int64{}
			}
			f.produced[o.Target][p.Partition] = append(f.produced[o.Target][p.Partition], [2]int64{from, off})
			f.mu.Unlock()
			next[p.Partition] = off
			if serr := o.Save(map[int32]backends.KafkaReplayPosition{p.Partition: {Next: off}}); serr != nil {
				return res, serr
			}
			report()
			if err != nil {
				res.StoppedBecause = backends.KafkaStopCancelled
				break parts
			}
			if stopped {
				break
			}
		}
	}
	for _, p := range o.Parts {
		res.Left += int(p.End - next[p.Partition])
	}
	return res, err
}

// covered says whether the runs produced from target cover [from, to) of
// the source partition without a gap.
func (f *fakeReplayer) covered(target string, p int32, from, to int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	runs := slices.Clone(f.produced[target][p])
	slices.SortFunc(runs, func(a, b [2]int64) int { return int(a[0] - b[0]) })
	at := from
	for _, r := range runs {
		if r[0] > at {
			return false
		}
		at = max(at, r[1])
	}
	return at >= to
}

// replayScreen is the replay's action screen.
type replayScreen = action.Model[*replayItem, *actions.ReplayResult]

func (h *harness) replayView() *replayScreen {
	h.t.Helper()
	s, ok := h.actionView().screen.(*replayScreen)
	if !ok {
		h.t.Fatalf("the screen on top is not a replay: %T", h.actionView().screen)
	}
	return s
}

// replayHarness is the synthetic cluster loaded in the console, with a
// replayer, an audit log and a state directory (the checkpoints) of the
// test's own.
func replayHarness(t *testing.T, o Options) (*harness, *fakeReplayer) {
	t.Helper()
	f := newFakeReplayer()
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	if o.KafkaReplayer == nil {
		o.KafkaReplayer = f
	}
	if o.Audit == nil {
		o.Audit = actions.NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))
	}
	return loaded(t, o), f
}

// openReplayOn opens the replay of topic from the topics view, the target
// typed.
func (h *harness) openReplayOn(topic, target string) *replayScreen {
	h.t.Helper()
	h.command("topics")
	h.selectRow(topic)
	h.keys("P")
	h.typeText(target)
	return h.replayView()
}

// field moves the form's focus to the field key.
func (h *harness) field(v *replayScreen, key string) {
	h.t.Helper()
	for i := 0; i < 12 && v.Focused() != key; i++ {
		h.keys("tab")
	}
	if v.Focused() != key {
		h.t.Fatalf("no field %s", key)
	}
}

// TestReplayAbsentWhereItCannotRun: `P` is a dangerous key: in a
// read-only context, without a replayer or without an audit log it does
// nothing and the help does not list it; where it works, the help lists
// it under Topics.
func TestReplayAbsentWhereItCannotRun(t *testing.T) {
	for name, o := range map[string]Options{
		"read-only":    {Context: "prod", ReadOnly: true},
		"no replayer":  {KafkaReplayer: nil},
		"no audit log": {},
	} {
		t.Run(name, func(t *testing.T) {
			h := loaded(t, o)
			if name == "read-only" || name == "no audit log" {
				h.m.opts.KafkaReplayer = newFakeReplayer() // set after New: New decided
			}
			if name == "read-only" {
				h.m.opts.Audit = actions.NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))
			}
			h.command("topics")
			h.selectRow("orders")
			h.keys("P")
			if _, ok := h.m.top().(*topicsView); !ok {
				t.Fatalf("P opened %T", h.m.top())
			}
			// the topics' marks feed P only: without it, none
			h.keys("space")
			if n := h.m.top().focused().MarkedCount(); n != 0 || strings.Contains(h.screen(), "space mark") || strings.Contains(h.screen(), "P replay") {
				t.Errorf("the topics offer marks or P without the replay: %d marked\n%s", n, h.screen())
			}
			h.selectRow("orders")
			h.keys("enter", "P")
			if _, ok := h.m.top().(*topicView); !ok {
				t.Fatalf("P in a topic's view opened %T", h.m.top())
			}
			h.keys("space")
			if n := h.m.top().focused().MarkedCount(); n != 0 || strings.Contains(h.screen(), "space mark") {
				t.Errorf("the partitions offer marks without P: %d marked\n%s", n, h.screen())
			}
			h.keys("?")
			if s := h.screen(); strings.Contains(s, "replay a range") {
				t.Errorf("the help lists P:\n%s", s)
			}
		})
	}
	h, _ := replayHarness(t, Options{})
	h.command("topics")
	h.keys("?")
	if s := h.screen(); !strings.Contains(s, "This view (topics)") || !strings.Contains(s, "replay a range of the selected topic") {
		t.Errorf("the help lacks P:\n%s", s)
	}
}

// TestReplayOpensOnTopics: P opens on the selected topic of the topics
// view, on the one marked there, and in a topic's view with its marked
// partitions prefilled; several marked topics and the other views say
// where it works.
func TestReplayOpensOnTopics(t *testing.T) {
	h, _ := replayHarness(t, Options{})
	h.keys("P")
	if _, ok := h.m.top().(*groupsView); !ok || !strings.Contains(h.m.flash.Text, "P replays a range of a topic into another topic: select one in :topics") {
		t.Fatalf("P on groups: %T, flash %q", h.m.top(), h.m.flash.Text)
	}
	h.command("topics")
	h.selectRow("payments")
	h.keys("P")
	v := h.replayView()
	if s := h.screen(); !strings.Contains(s, "Replay a range of Kafka topic payments into another topic on kafka-1.test:9092") ||
		!strings.Contains(s, "› Target") || !strings.Contains(s, "[log start]") || !strings.Contains(s, "[log end]") ||
		!strings.Contains(s, "every partition") || v.Focused() != fReplayTo {
		t.Fatalf("P on payments:\n%s", s)
	}
	h.keys("esc")
	h.mark("orders")
	h.selectRow("payments")
	h.keys("P")
	if s := h.screen(); !strings.Contains(s, "Replay a range of Kafka topic orders into") {
		t.Fatalf("P with orders marked:\n%s", s)
	}
	h.keys("esc")
	h.mark("payments")
	h.keys("P")
	if _, ok := h.m.top().(*topicsView); !ok || h.m.flash.Text != "2 topics marked: P replays one topic at a time (space unmarks)" {
		t.Fatalf("P with two topics marked: %T, flash %q", h.m.top(), h.m.flash.Text)
	}
	h.mark("orders", "payments") // unmarked
	h.selectRow("orders")
	h.keys("enter")
	h.mark("0", "2")
	h.keys("P")
	v = h.replayView()
	if got := v.Values().Text(fReplayParts); got != "0,2" {
		t.Fatalf("partitions prefilled with %q\n%s", got, h.screen())
	}
}

// TestReplayPlanRunAndAudit: the plan of orders into orders.replay reads
// at most replayPlanLimit records: the first partition's are counted (the
// part read) and estimated, the others estimated from them; the plan
// shows the range, the partitioning and the command; nothing is recorded
// or produced before y; y replays the whole range; the result names the
// run and its checkpoint; one typed audit entry.
func TestReplayPlanRunAndAudit(t *testing.T) {
	h, f := replayHarness(t, Options{})
	v := h.openReplayOn("orders", "orders.replay")
	h.keys("enter")
	if v.Stage() != action.StagePlan {
		t.Fatalf("stage %d: %s\n%s", v.Stage(), v.FormError(), h.screen())
	}
	s := flat(h.screen())
	for _, want := range []string{
		"plan: replay orders → orders.replay: about 361,690 record(s), about 34.5 MiB",
		"range: log start → log end · to the same partition numbers (orders.replay has 3 partition(s))",
		"P START END OFFSETS RECORDS BYTES TARGET COUNT",
		"0 0 121,000 121,000 ~121,000 ~11.5 MiB 0 estimated (100,000 read)",
		"2 1,000 122,290 121,290 ~121,290 ~11.6 MiB 2 estimated (0 read)",
		"361,690 offset(s); about 361,690 record(s), about 34.5 MiB to replay (estimated from the first 100,000 read)",
		"note: the plan read 100000 record(s) (--plan-limit) and stopped",
		"same as: mqops --context staging replay orders --to orders.replay --plan-limit 100000",
		"Replay about 361,690 record(s), about 34.5 MiB of orders (3 partition(s)) into orders.replay, to the same partition numbers? [y/N]",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the plan lacks %q:\n%s", want, h.screen())
		}
	}
	if len(auditEntries(t, h)) != 0 || f.runs != 0 {
		t.Fatal("a plan on screen was recorded or run")
	}
	plan, _ := v.Plan()
	h.keys("y")
	if v.Stage() != action.StageDone {
		t.Fatalf("stage %d\n%s", v.Stage(), h.screen())
	}
	res, err := v.Result()
	if err != nil || res == nil || res.Replayed != 361_690 || res.Left != 0 || res.RunID != plan.plan.RunID {
		t.Fatalf("result %+v %v", res, err)
	}
	for p, r := range f.logs["orders"] {
		if !f.covered("orders.replay", int32(p), r[0], r[1]) {
			t.Errorf("partition %d not replayed whole: %v", p, f.produced["orders.replay"][int32(p)])
		}
	}
	s = flat(h.screen())
	for _, want := range []string{"Replay finished", "run " + res.RunID + ": replayed 361,690, filtered out 0, failed 0, left 0 offset(s) of orders",
		"stopped because it reached the end of the range", "checkpoint: " + actions.CheckpointPath("", res.RunID)} {
		if !strings.Contains(s, want) {
			t.Errorf("the result lacks %q:\n%s", want, h.screen())
		}
	}
	if strings.Contains(s, "go on with") {
		t.Errorf("a finished run offers a resume:\n%s", h.screen())
	}
	es := auditEntries(t, h)
	if len(es) != 1 {
		t.Fatalf("audit: %+v", es)
	}
	e := es[0]
	if e.Action != "replay" || e.Outcome != actions.OutcomeExecuted || e.Context != "staging" || e.Source != "kafka:orders" || e.Target != "kafka:orders.replay" ||
		e.RunID != res.RunID || e.Command != "mqops --context staging replay orders --to orders.replay --plan-limit 100000" ||
		e.Plan == nil || e.Plan.Selected != 100_000 || e.Plan.Total != 100_000 || e.Result == nil || e.Result.Done != 361_690 || e.Result.Left != 0 ||
		e.Result.Details["checkpoint"] != res.Checkpoint || e.Error != "" {
		t.Errorf("audit entry %+v plan %+v result %+v", e, e.Plan, e.Result)
	}
	h.keys("enter")
	if _, ok := h.m.top().(*topicsView); !ok {
		t.Fatalf("enter on the result went to %T", h.m.top())
	}
}

// TestReplayFiltersAndRange: the form's range (an offset, a time), its
// partitions, key and header filters, partitioning and rate make the
// options of `mqops replay`, in the plan and in its command.
func TestReplayFiltersAndRange(t *testing.T) {
	h, f := replayHarness(t, Options{})
	v := h.openReplayOn("orders", "orders.one")
	h.keys("tab", "right") // From: offset
	h.typeText("1000")
	from := f.base.Add(3000 * time.Second).UTC().Format(time.RFC3339)
	h.keys("tab", "right", "right") // To: time
	h.typeText(from)
	h.keys("tab")
	h.typeText("1, 2")
	h.keys("tab")
	h.typeText("k4")
	h.keys("tab")
	h.typeText("tenant=acme")
	h.keys("tab", "right", "right") // Partitioning: key
	h.keys("tab")
	h.typeText("250")
	h.keys("enter")
	if v.Stage() != action.StagePlan {
		t.Fatalf("stage %d: %s\n%s", v.Stage(), v.FormError(), h.screen())
	}
	want := "mqops --context staging replay orders:1,2 --to orders.one --from-offset 1000 --to-time " + from + " --key k4 --header tenant=acme --partitioning key --rate 250 --plan-limit 100000"
	if v.Command() != want {
		t.Fatalf("command %q, want %q", v.Command(), want)
	}
	s := flat(h.screen())
	// offsets 1000..2999 on both partitions: k4 every 10, tenant=acme every 4: offsets = 4 mod 20, 100 per partition
	for _, w := range []string{"plan: replay orders → orders.one: 200 record(s), 19.5 KiB · rate 250/s",
		`range: offset 1000 → ` + from[:19], "by key (orders.one has 1 partition(s))", `only records with key "k4" and header "tenant"="acme"`,
		"1 1,000 3,000 2,000 100 9.8 KiB by key counted", "2 1,000 3,000 2,000 100 9.8 KiB by key counted",
		"4,000 offset(s); 200 record(s), 19.5 KiB to replay (every record of the range read)", "Replay 200 record(s), 19.5 KiB of orders:1,2 (2 partition(s)) into orders.one, by key, at most 250 records/s? [y/N]"} {
		if !strings.Contains(s, w) {
			t.Errorf("the plan lacks %q:\n%s", w, h.screen())
		}
	}
}

// TestReplayFormChecks: each field is checked as the command line checks
// its flag, in the form, before any plan: nothing reaches the replayer or
// the audit log.
func TestReplayFormChecks(t *testing.T) {
	h, f := replayHarness(t, Options{})
	for _, c := range []struct {
		target string
		key    string
		right  int
		value  string
		want   string
	}{
		{"", fReplayTo, 0, "", "Target: type the target topic (an existing topic)"},
		{"orders", fReplayTo, 0, "", "Target: orders is the source topic: replay into another topic"},
		{"x", fReplayFrom, 1, "", "From offset: type its value"},
		{"x", fReplayFrom, 1, "-5", "From offset: -5 is not an offset: offsets start at 0"},
		{"x", fReplayFrom, 2, "yesterday", `From time: "yesterday" is not a time: want ISO 8601`},
		{"x", fReplayEnd, 2, "1969-12-31T23:00:00Z", `To time: "1969-12-31T23:00:00Z" is before 1970-01-01T00:00:00Z`},
		{"x", fReplayParts, 0, "0,a", `Partitions: "a" is not a partition number`},
		{"x", fReplayParts, 0, "-1", `Partitions: "-1" is not a partition number`},
		{"x", fReplayHeader, 0, "tenant", `Headers: "tenant": want key=value`},
		{"x", fReplayHeader, 0, "=acme", `Headers: "=acme": want key=value`},
		{"x", fRate, 0, "NaN", `Rate "NaN": want records per second`},
		{"x", fRate, 0, "0", `Rate "0": want records per second`},
	} {
		v := h.openReplayOn("orders", c.target)
		h.field(v, c.key)
		for i := 0; i < c.right; i++ {
			h.keys("right")
		}
		h.typeText(c.value)
		h.keys("enter")
		if v.Stage() != action.StageForm || !strings.HasPrefix(v.FormError(), c.want) || v.Focused() != c.key {
			t.Errorf("%s %q: stage %d, error %q, focus %s", c.key, c.value, v.Stage(), v.FormError(), v.Focused())
		}
		h.keys("esc")
	}
	if f.runs != 0 || len(auditEntries(t, h)) != 0 {
		t.Error("a form error reached the cluster or the audit log")
	}
	// Typed or pasted control characters never reach the terminal nor the
	// command: the inputs drop them.
	v := h.openReplayOn("orders", "x")
	h.send(tea.PasteMsg{Content: "\x1b]0;pwned\x07\x1b[31mred\u202e"})
	h.field(v, fReplayHeader)
	h.send(tea.PasteMsg{Content: "a=\x1b[2J\x9b1m"})
	raw := h.m.View().Content
	if strings.Contains(raw, "\x1b]0;") || strings.Contains(raw, "\x1b[31mred") || strings.Contains(raw, "\u202e") || strings.Contains(raw, "\x9b") ||
		v.Values().Text(fReplayTo) != "x]0;pwned[31mred" || v.Values().Text(fReplayHeader) != "a=[2J1m" {
		t.Errorf("hostile input: %q %q\n%q", v.Values().Text(fReplayTo), v.Values().Text(fReplayHeader), raw)
	}
	h.keys("esc")
	// What only the options' whole check sees goes through the runner: refused, recorded.
	v = h.openReplayOn("orders", "a/b")
	h.keys("enter")
	if v.Stage() != action.StageForm || !strings.Contains(v.FormError(), `the plan failed: --to: "a/b" is not a Kafka topic name`) {
		t.Errorf("a bad topic name: stage %d, %q", v.Stage(), v.FormError())
	}
	es := auditEntries(t, h)
	if len(es) != 1 || es[0].Outcome != actions.OutcomeRefused || es[0].Command != "mqops --context staging replay orders --to a/b --plan-limit 100000" {
		t.Errorf("audit: %+v", es)
	}
}

// TestReplayBlockedPlans: a plan that cannot be confirmed says why and is
// recorded once as the command line records it: a missing target is
// refused, records the target cannot take are a problem (refused) until
// the form says to skip them, an empty range is a dry run with nothing to
// replay.
func TestReplayBlockedPlans(t *testing.T) {
	h, f := replayHarness(t, Options{})
	v := h.openReplayOn("orders", "nowhere")
	h.keys("enter")
	if s := flat(h.screen()); v.Stage() != action.StagePlan || !strings.Contains(s, `cannot replay: target topic "nowhere" does not exist (mqops never creates one): nothing can be replayed`) {
		t.Fatalf("missing target: stage %d\n%s", v.Stage(), h.screen())
	}
	h.keys("y") // blocked: any key goes back
	if v.Stage() != action.StageForm || f.runs != 0 {
		t.Fatalf("a blocked plan was confirmed: stage %d", v.Stage())
	}
	h.keys("esc")
	v = h.openReplayOn("orders", "orders.small")
	h.field(v, fReplayParts)
	h.typeText("1")
	h.keys("enter")
	s := flat(h.screen())
	for _, want := range []string{"1 record(s) too large for the target: each partition stops before its first: choose Too big: yes to skip them",
		"partition 1 offset 5000: 5,000 bytes > 1,000 (max.message.bytes of topic orders.small)",
		"the plan has problems (above): choose Too big: yes to skip the records the target cannot take, or end the range before them"} {
		if v.Stage() != action.StagePlan || !strings.Contains(s, want) {
			t.Errorf("oversized: the plan lacks %q:\n%s", want, h.screen())
		}
	}
	h.keys("n")
	h.field(v, fTooBig)
	h.keys("right", "enter")
	if s := flat(h.screen()); v.Stage() != action.StagePlan || !strings.Contains(s, "1 record(s) too large for the target: skipped") || !strings.Contains(s, "[y/N]") {
		t.Fatalf("skipping them: stage %d\n%s", v.Stage(), h.screen())
	}
	h.keys("n", "esc")
	v = h.openReplayOn("orders", "orders.replay")
	h.keys("tab", "right")
	h.typeText("500")
	h.keys("tab", "right")
	h.typeText("500")
	h.keys("enter")
	if s := flat(h.screen()); v.Stage() != action.StagePlan || !strings.Contains(s, "nothing to replay: the range is empty") {
		t.Fatalf("empty range: stage %d\n%s", v.Stage(), h.screen())
	}
	h.keys("x")
	es := auditEntries(t, h)
	if len(es) != 4 || es[0].Outcome != actions.OutcomeRefused || !strings.Contains(es[0].Reason, `target topic "nowhere" does not exist`) ||
		es[1].Outcome != actions.OutcomeRefused || !strings.Contains(es[1].Reason, "the plan has problems") || es[1].Plan == nil ||
		es[2].Outcome != actions.OutcomeDryRun || es[2].Reason != actions.DryRunNotConfirmed ||
		es[3].Outcome != actions.OutcomeDryRun || es[3].Reason != "nothing to replay: the range is empty" || f.runs != 0 {
		t.Fatalf("audit: %+v", es)
	}
}

// TestReplayRedContextTypesTheTarget: in a red context the target topic's
// name (typed in the form) is typed again to confirm; y alone, or the
// source's name, does nothing.
func TestReplayRedContextTypesTheTarget(t *testing.T) {
	h, f := replayHarness(t, Options{Context: "prod", Color: "red"})
	v := h.openReplayOn("payments", "orders.one")
	h.keys("enter", "y", "enter")
	if v.Stage() != action.StagePlan || f.runs != 0 || !strings.Contains(h.screen(), "type the target topic name (orders.one) to confirm") ||
		!strings.Contains(h.screen(), "that is not the target topic name: nothing was changed") {
		t.Fatalf("y in a red context: stage %d, %d runs\n%s", v.Stage(), f.runs, h.screen())
	}
	h.typeText("payments")
	h.keys("enter")
	if v.Stage() != action.StagePlan || f.runs != 0 {
		t.Fatalf("the source's name confirmed: stage %d", v.Stage())
	}
	h.typeText("orders.one")
	h.keys("enter")
	if v.Stage() != action.StageDone || f.runs != 1 {
		t.Fatalf("typed target: stage %d, %d runs\n%s", v.Stage(), f.runs, h.screen())
	}
}

// startHeldRun confirms the plan on screen with the replayer's gate set,
// and lets the first step through: the run has replayed one step and
// waits.
func startHeldRun(h *harness, f *fakeReplayer) tea.Cmd {
	h.t.Helper()
	gate := make(chan struct{})
	f.gate = gate
	h.t.Cleanup(func() { // let a run still held end (its audit entry)
		close(gate)
		v := h.replayView()
		for v.Stage() == action.StageRunning {
			for _, msg := range execCmd(v.Wait()) {
				v.Update(msg)
			}
		}
	})
	_, cmd := h.m.Update(keyPress("y"))
	wait := step(h, cmd) // started: its wait reads the first report
	f.gate <- struct{}{} // the first step
	return step(h, wait)
}

// TestReplayCancelLeavesResumableCheckpoint: esc during the run cancels
// it: the result shows the run id and the `mqops replay --resume` that
// goes on; the checkpoint (status cancelled) holds only the steps the
// target confirmed; the audit entry says cancelled; the resume of that
// run (through the runner, as the command does) replays the rest with no
// gap.
func TestReplayCancelLeavesResumableCheckpoint(t *testing.T) {
	h, f := replayHarness(t, Options{})
	v := h.openReplayOn("payments", "orders.replay")
	h.keys("enter")
	wait := startHeldRun(h, f)
	if p, ok := v.Progress(); !ok || p.Seen != 10_000 || p.Done != 10_000 || p.Total != 22_984 {
		t.Fatalf("progress %+v\n%s", p, h.screen())
	}
	if s := h.screen(); !strings.Contains(s, "10,000/22,984 seen · replayed 10,000 · failed 0") || !strings.Contains(s, "1,000 records/s · ETA 13s") ||
		!strings.Contains(s, "esc or ctrl+c cancels (safe: the checkpoint keeps only what the target confirmed, for mqops replay --resume)") {
		t.Fatalf("progress frame:\n%s", s)
	}
	h.keys("esc")
	for i := 0; v.Stage() == action.StageRunning && i < 10; i++ {
		wait = step(h, wait)
	}
	res, err := v.Result()
	if v.Stage() != action.StageDone || !errors.Is(err, context.Canceled) || res == nil || res.Replayed != 10_000 || res.Left != 12_984 {
		t.Fatalf("after cancel: stage %d, %+v, %v\n%s", v.Stage(), res, err, h.screen())
	}
	s := flat(h.screen())
	for _, want := range []string{"Replay cancelled", "run " + res.RunID + ": replayed 10,000", "left 12,984 offset(s) of payments",
		"stopped because it was cancelled", "go on with (the checkpoint keeps only what the target confirmed: nothing is skipped, at most the records in flight are replayed twice): mqops --context staging replay --resume " + res.RunID} {
		if !strings.Contains(s, want) {
			t.Errorf("the result lacks %q:\n%s", want, h.screen())
		}
	}
	data, err := os.ReadFile(res.Checkpoint)
	var cp actions.ReplayCheckpoint
	if err != nil || json.Unmarshal(data, &cp) != nil || cp.Status != actions.RunCancelled || cp.Context != "staging" || len(cp.Parts) != 2 ||
		cp.Parts[0].Next != 50_000 || cp.Parts[1].Next != 41_000 {
		t.Fatalf("checkpoint %v\n%s", err, data)
	}
	es := auditEntries(t, h)
	if len(es) != 1 || es[0].Outcome != actions.OutcomeCancelled || es[0].Result == nil || es[0].Result.Done != 10_000 || es[0].Result.Left != 12_984 {
		t.Fatalf("audit: %+v", es)
	}
	f.gate = nil
	run := &actions.Runner{Audit: h.m.opts.Audit, Globals: []string{"--context", "staging"}}
	a := &actions.Replay{Broker: f, Options: actions.ReplayOptions{Context: "staging", Resume: res.RunID}}
	p, err := run.Plan(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	r, err := run.Execute(context.Background(), a, p, nil)
	if rr, _ := r.(*actions.ReplayResult); err != nil || rr == nil || rr.Replayed != 12_984 || rr.Left != 0 {
		t.Fatalf("resume: %+v %v", r, err)
	}
	for p, r := range f.logs["payments"] {
		if !f.covered("orders.replay", int32(p), r[0], r[1]) {
			t.Errorf("partition %d has a gap: %v", p, f.produced["orders.replay"][int32(p)])
		}
	}
}

// TestReplayGolden draws the replay screen's stages at 80×24 and 120×30
// (and checks that they fit every size).
func TestReplayGolden(t *testing.T) {
	cases := []struct {
		name  string
		o     Options
		setup func(h *harness, f *fakeReplayer)
	}{
		{name: "form", setup: func(h *harness, f *fakeReplayer) {
			h.openReplayOn("orders", "orders.replay")
			h.keys("tab", "right")
			h.typeText("1000")
			h.keys("tab", "right", "right")
			h.typeText("2026-03-14T09:00")
			h.keys("tab")
			h.typeText("0,2")
		}},
		{name: "form_error", setup: func(h *harness, f *fakeReplayer) {
			v := h.openReplayOn("orders", "orders.replay")
			h.field(v, fReplayHeader)
			h.typeText("tenant")
			h.keys("enter")
		}},
		{name: "plan", setup: func(h *harness, f *fakeReplayer) {
			h.openReplayOn("orders", "orders.replay")
			h.keys("enter")
		}},
		{name: "plan_filters", setup: func(h *harness, f *fakeReplayer) {
			v := h.openReplayOn("payments", "orders.one")
			h.field(v, fReplayKey)
			h.typeText("k4")
			h.keys("tab")
			h.typeText("tenant=acme")
			h.keys("tab", "tab")
			h.typeText("500")
			h.keys("enter")
		}},
		{name: "plan_red", o: Options{Context: "prod", Color: "red"}, setup: func(h *harness, f *fakeReplayer) {
			h.openReplayOn("payments", "orders.replay")
			h.keys("enter")
			h.typeText("orders.re")
		}},
		{name: "problems", setup: func(h *harness, f *fakeReplayer) {
			v := h.openReplayOn("orders", "orders.small")
			h.field(v, fReplayParts)
			h.typeText("1")
			h.keys("enter")
		}},
		{name: "progress", setup: func(h *harness, f *fakeReplayer) {
			h.openReplayOn("payments", "orders.replay")
			h.keys("enter")
			startHeldRun(h, f)
		}},
		{name: "result", setup: func(h *harness, f *fakeReplayer) {
			h.openReplayOn("payments", "orders.replay")
			h.keys("enter", "y")
			res, _ := h.replayView().Result()
			res.Rate = 41_234.5 // the run's wall-clock rate: fixed for the frame
		}},
		{name: "cancelled", setup: func(h *harness, f *fakeReplayer) {
			h.openReplayOn("payments", "orders.replay")
			h.keys("enter")
			wait := startHeldRun(h, f)
			h.keys("esc")
			v := h.replayView()
			for i := 0; v.Stage() == action.StageRunning && i < 10; i++ {
				wait = step(h, wait)
			}
			res, _ := v.Result()
			res.Rate = 41_234.5
		}},
	}
	pkgDir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, f := replayHarness(t, c.o)
			// The checkpoints' paths, as the screen shows them, are the same
			// in every run: relative to a directory of the test's own.
			t.Chdir(t.TempDir())
			t.Setenv("XDG_STATE_HOME", "state")
			c.setup(h, f)
			actionGolden(t, h, pkgDir, maskRunIDs)
		})
	}
}

// actionGolden checks that the action screen on top fits every size of
// invariantSizes, and compares its frames at 80×24 and 120×30, masked,
// with the test's goldens.
func actionGolden(t *testing.T, h *harness, pkgDir string, mask func(string) string) {
	t.Helper()
	for _, size := range invariantSizes {
		h.send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		checkFrame(t, h.m.View().Content, size[0], size[1])
	}
	for _, size := range [][2]int{{80, 24}, {120, 30}} {
		h.send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			checkFrame(t, h.m.View().Content, size[0], size[1])
			requireGolden(t, pkgDir, mask(h.screen()))
		})
	}
}
