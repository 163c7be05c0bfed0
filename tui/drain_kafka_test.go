package tui

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/kafka"
	"github.com/mqops/mqops/tui/action"
)

// fakeKafkaDrainer is a test double of the Kafka backend's drain side (an
// external system) over the records of a fakeKafkaDLQ: the drain group's
// committed position is an index into a topic's records; MoveRecords
// follows the contract of kafka.Client.MoveRecords: it moves at most the
// records up to the log end at start (or the limit), asks Target for each,
// stops at the first record it cannot deliver (a missing topic), commits
// only what was delivered, reports progress and stops on a cancelled
// context.
type fakeKafkaDrainer struct {
	*fakeKafkaDLQ
	dmu       sync.Mutex
	topics    map[string]int32 // existing topics and their partitions
	committed map[string]int   // the drain group's position, by topic
	moved     map[string][]backends.KafkaRecord
	groups    []string // the group of each move
	// gate, when set, holds MoveRecords before each record until the test
	// sends a token (or the context is cancelled).
	gate      chan struct{}
	planCalls int
	moveCalls int
	// tooBig, when set, says which records their target cannot take
	tooBig func(*backends.KafkaRecord) bool
}

// oversized is the record r as a record its target topic t cannot take.
func oversized(r *backends.KafkaRecord, t string) backends.KafkaOversized {
	return backends.KafkaOversized{Partition: r.Partition, Offset: r.Offset, Size: 1048700, Limit: 1048588, Target: t, RefusedBy: backends.RefusedByTopic}
}

func newFakeKafkaDrainer(t testing.TB) *fakeKafkaDrainer {
	k := newFakeKafkaDLQ(t)
	k.records["orders.DLT"] = drainRecords()
	return &fakeKafkaDrainer{
		fakeKafkaDLQ: k,
		topics:       map[string]int32{"orders.DLT": 2, "orders": 3, "payments": 1, "orders.retry": 1},
		committed:    map[string]int{},
		moved:        map[string][]backends.KafkaRecord{},
	}
}

// drainRecords are the records of orders.DLT without the one lacking
// dead-letter headers: 24, every fourth from payments, the others from
// orders.
func drainRecords() []backends.KafkaRecord {
	all := dltRecords()
	recs := append(all[:3:3], all[4:]...)
	for i := range recs {
		if i%4 == 3 {
			recs[i].DeadLetter.OriginalTopic = "payments"
			recs[i].Headers[0].Value = []byte("payments")
		}
	}
	return recs
}

func (f *fakeKafkaDrainer) pending(topic string) []backends.KafkaRecord {
	f.fakeKafkaDLQ.mu.Lock()
	recs := f.records[topic]
	f.fakeKafkaDLQ.mu.Unlock()
	f.dmu.Lock()
	defer f.dmu.Unlock()
	return recs[min(f.committed[topic], len(recs)):]
}

func (f *fakeKafkaDrainer) movedTo(topic string) int {
	f.dmu.Lock()
	defer f.dmu.Unlock()
	return len(f.moved[topic])
}

func (f *fakeKafkaDrainer) PartitionCounts(_ context.Context, topics []string) (map[string]int32, error) {
	f.dmu.Lock()
	defer f.dmu.Unlock()
	out := map[string]int32{}
	for _, t := range topics {
		if n, ok := f.topics[t]; ok {
			out[t] = n
		}
	}
	return out, nil
}

// DeadLetterTopic detects by name, as the real client does first.
func (f *fakeKafkaDrainer) DeadLetterTopic(_ context.Context, topic string) (string, error) {
	f.dmu.Lock()
	defer f.dmu.Unlock()
	if _, ok := f.topics[topic]; !ok {
		return "", fmt.Errorf("unknown topic %q", topic)
	}
	if kafka.IsDLTName(topic) {
		return "name", nil
	}
	return "", nil
}

func (f *fakeKafkaDrainer) PlanMove(_ context.Context, o backends.KafkaPlanOptions) (*backends.KafkaMovePlan, error) {
	limit, target := o.Limit, o.Target
	recs := f.pending(o.Topic)
	f.dmu.Lock()
	f.planCalls++
	f.dmu.Unlock()
	if limit > 0 && limit < len(recs) {
		recs = recs[:limit]
	}
	p := &backends.KafkaMovePlan{Counts: map[string]int{}, Total: len(recs), OversizedByTarget: map[string]int{}}
	for i := range recs {
		t, _, err := target(&recs[i])
		if err != nil {
			return nil, err
		}
		p.Counts[t]++
		if f.tooBig != nil && f.tooBig(&recs[i]) {
			p.Oversized = append(p.Oversized, oversized(&recs[i], t))
			p.OversizedCount++
			p.OversizedByTarget[t]++
		}
	}
	return p, nil
}

func (f *fakeKafkaDrainer) MoveRecords(ctx context.Context, o backends.KafkaMoveOptions) (*backends.KafkaMoveResult, error) {
	recs := f.pending(o.Topic)
	f.dmu.Lock()
	f.moveCalls++
	f.groups = append(f.groups, o.Group)
	gate := f.gate
	f.dmu.Unlock()
	all := len(recs)
	if o.Limit > 0 && o.Limit < len(recs) {
		recs = recs[:o.Limit]
	}
	res := &backends.KafkaMoveResult{}
	p := backends.KafkaMoveProgress{Total: len(recs)}
	report := func() {
		if o.Progress != nil {
			p.Moved, p.Failed, p.Elapsed = res.Moved, res.Failed, time.Duration(p.Seen)*100*time.Millisecond
			o.Progress(p)
		}
	}
	var err error
	for i := range recs {
		if gate != nil {
			select {
			case <-gate:
			case <-ctx.Done():
			}
		}
		if err = ctx.Err(); err != nil {
			break
		}
		if o.Wait != nil {
			if err = o.Wait(ctx); err != nil {
				break
			}
		}
		t, _, terr := o.Target(&recs[i])
		p.Seen++
		if f.tooBig != nil && f.tooBig(&recs[i]) {
			res.Oversized = append(res.Oversized, oversized(&recs[i], t))
			res.OversizedCount++
			if !o.SkipOversized {
				res.StoppedBecause = backends.KafkaStopOversized
				err = errors.New("too large")
				break
			}
			f.dmu.Lock()
			f.committed[o.Topic]++ // past it
			f.dmu.Unlock()
			all--
			continue
		}
		f.dmu.Lock()
		_, ok := f.topics[t]
		if terr == nil && ok {
			f.moved[t] = append(f.moved[t], recs[i])
			f.committed[o.Topic]++
		}
		f.dmu.Unlock()
		if terr != nil || !ok {
			res.Failed++
			err = terr
			if err == nil {
				err = fmt.Errorf("topic %s does not exist", t)
			}
			break
		}
		res.Moved++
		report()
	}
	res.Left = all - res.Moved
	switch {
	case res.StoppedBecause != "":
	case ctx.Err() != nil:
		res.StoppedBecause = backends.KafkaStopCancelled
	case err != nil:
		res.StoppedBecause = backends.KafkaStopError
	case o.Limit > 0 && res.Moved == o.Limit:
		res.StoppedBecause = backends.KafkaStopLimit
	default:
		res.StoppedBecause = backends.KafkaStopEnd
	}
	report()
	return res, err
}

var _ backends.KafkaDeadLetters = (*fakeKafkaDrainer)(nil)

// kafkaDrainHarness is a console on :dlq with Kafka dead-letter topics, a
// Kafka drainer (unless noDrainer) and an audit log in a temporary
// directory, orders.DLT selected.
func kafkaDrainHarness(t testing.TB, o Options, noDrainer bool) (*harness, *fakeKafkaDrainer) {
	t.Helper()
	d := newFakeKafkaDrainer(t)
	o.Cluster = "kafka-1.test:9092"
	o.KafkaDLQ = d.fakeKafkaDLQ
	if !noDrainer {
		o.KafkaDrainer = d
	}
	if o.Audit == nil {
		o.Audit = actions.NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))
	}
	h := newHarness(t, o, nil)
	h.command("dlq")
	h.selectRow(ordersDLT)
	return h, d
}

func TestKafkaDrainAbsentOrHinted(t *testing.T) {
	t.Run("read-only", func(t *testing.T) {
		h, d := kafkaDrainHarness(t, Options{Context: "prod", Color: "red", ReadOnly: true, Rabbit: newFakeRabbit(), Drainer: newFakeDrainer()}, false)
		if h.m.keys.Drain.Enabled() || len(h.m.keys.Drain.Keys()) != 0 {
			t.Error("the drain key is bound")
		}
		if s := helpText(h); strings.Contains(s, "drain dead letters") {
			t.Errorf("the help mentions the drain:\n%s", s)
		}
		h.selectRow(ordersDLT)
		h.keys("D")
		if _, ok := h.m.top().(*actionView); ok {
			t.Fatal("D opened the drain")
		}
		h.keys("enter", "D")
		if _, ok := h.m.top().(*kafkaDLTView); !ok {
			t.Fatalf("D in the groups view: %T", h.m.top())
		}
		if d.planCalls+d.moveCalls != 0 {
			t.Error("the backend was asked to plan or move")
		}
	})
	t.Run("no Kafka drainer", func(t *testing.T) {
		h, _ := kafkaDrainHarness(t, Options{Rabbit: newFakeRabbit(), Drainer: newFakeDrainer()}, true)
		if s := helpText(h); !strings.Contains(s, "drain dead letters (RabbitMQ DLQ)") {
			t.Errorf("help:\n%s", s)
		}
		h.selectRow(ordersDLT)
		h.keys("D")
		if _, ok := h.m.top().(*actionView); ok || !strings.Contains(h.screen(), "orders.DLT is a Kafka dead-letter topic: only RabbitMQ dead-letter queues can be drained") {
			t.Fatalf("D on a Kafka row without a Kafka drainer:\n%s", h.screen())
		}
		h.keys("enter", "D")
		if _, ok := h.m.top().(*kafkaDLTView); !ok {
			t.Fatalf("D in the groups view opened %T", h.m.top())
		}
		// The RabbitMQ drain is still there.
		h.keys("esc")
		h.selectRow(queueKey("/", "orders.dlq"))
		h.keys("D")
		h.drainView() // a RabbitMQ drain
	})
	t.Run("Kafka drainer only", func(t *testing.T) {
		h, _ := kafkaDrainHarness(t, Options{Rabbit: newFakeRabbit()}, false)
		if s := helpText(h); !strings.Contains(s, "drain dead letters (Kafka DLT)") {
			t.Errorf("help:\n%s", s)
		}
		h.selectRow(queueKey("/", "orders.dlq"))
		h.keys("D")
		if _, ok := h.m.top().(*actionView); ok || !strings.Contains(h.screen(), "orders.dlq is a RabbitMQ dead-letter queue: only Kafka dead-letter topics can be drained") {
			t.Fatalf("D on a RabbitMQ row without a RabbitMQ drainer:\n%s", h.screen())
		}
		h.selectRow(ordersDLT)
		h.keys("D")
		if h.kafkaDrainView(); h.m.top().id() != "drain/kafka/orders.DLT" {
			t.Fatalf("D on orders.DLT: %q", h.m.top().id())
		}
	})
}

func TestKafkaDrainFormAndDefaultNo(t *testing.T) {
	h, d := kafkaDrainHarness(t, Options{Context: "staging"}, false)
	h.keys("D")
	v := h.kafkaDrainView()
	s := h.screen()
	for _, want := range []string{"Drain the dead letters of Kafka topic orders.DLT", "Target", "[origin]", "topic", "Limit", "Rate", "consumer group mqops-drain.orders.DLT"} {
		if !strings.Contains(s, want) {
			t.Errorf("the form lacks %q:\n%s", want, s)
		}
	}
	for _, no := range []string{"Origin", "Reason", "vhost", "exchange"} {
		if strings.Contains(s, no) {
			t.Errorf("the Kafka form has %q:\n%s", no, s)
		}
	}
	// Four fields: tab goes round them.
	for _, want := range []string{fLimit, fRate, fTooBig, fTarget} {
		h.keys("tab")
		if v.Focused() != want {
			t.Fatalf("focus %s, want %s", v.Focused(), want)
		}
	}
	h.keys("enter")
	if v.Stage() != action.StagePlan || planOf(v) == nil {
		t.Fatalf("no plan: stage %d, %s\n%s", v.Stage(), v.FormError(), h.screen())
	}
	s = h.screen()
	for _, want := range []string{
		"plan: kafka:orders.DLT → origin: 24 record(s) to move of 24 read",
		"18 → topic orders",
		"6 → topic payments",
		"Drain 24 message(s) from kafka:orders.DLT: 18 → topic orders, 6 → topic payments? [y/N]",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the plan screen lacks %q:\n%s", want, s)
		}
	}
	for _, k := range []string{"enter", "n", "esc"} {
		h.keys(k)
		if v.Stage() != action.StageForm || d.moveCalls != 0 {
			t.Fatalf("%s on the confirmation: stage %d, %d moves", k, v.Stage(), d.moveCalls)
		}
		h.keys("enter")
	}
	// Each plan shown and not confirmed is in the audit log as a dry run,
	// once, with its typed fields and its command.
	es, _, err := h.m.opts.Audit.Read(0)
	if err != nil || len(es) != 3 {
		t.Fatalf("audit of the abandoned plans: %+v %v", es, err)
	}
	runs := map[string]bool{}
	for _, e := range es {
		if e.Action != "drain" || e.Outcome != actions.OutcomeDryRun || e.Reason != actions.DryRunNotConfirmed || e.Result != nil ||
			e.Plan == nil || e.Plan.Selected != 24 || e.Source != "kafka:orders.DLT" || e.Target != "origin" || e.Context != "staging" ||
			e.Command != "mqops --context staging drain kafka:orders.DLT --to origin" || e.RunID == "" || runs[e.RunID] {
			t.Errorf("abandoned plan recorded as %+v", e)
		}
		runs[e.RunID] = true
	}
	if len(d.pending("orders.DLT")) != 24 || d.moveCalls != 0 {
		t.Fatal("something moved without confirmation")
	}
}

func TestKafkaDrainTargetsAndProblems(t *testing.T) {
	h, d := kafkaDrainHarness(t, Options{}, false)
	h.keys("D")
	v := h.kafkaDrainView()
	h.send(tea.KeyPressMsg{Code: tea.KeyRight}) // target: topic
	h.keys("enter")
	if v.Stage() != action.StageForm || !strings.Contains(h.screen(), "type the target topic name") {
		t.Fatalf("topic without a name:\n%s", h.screen())
	}
	h.typeText("orders.DLT")
	h.keys("enter")
	if v.Stage() != action.StageForm || !strings.Contains(h.screen(), "the target is the dead-letter topic itself") {
		t.Fatalf("the dead-letter topic as its own target:\n%s", h.screen())
	}
	h.keys("ctrl+u")
	h.typeText("missing")
	h.keys("enter")
	s := h.screen()
	if v.Stage() != action.StagePlan || !strings.Contains(s, "24 → topic missing  !! topic does not exist") || !strings.Contains(s, "the plan has problems") {
		t.Fatalf("a missing target topic is not a problem:\n%s", s)
	}
	h.keys("y")
	if v.Stage() != action.StageForm || d.moveCalls != 0 {
		t.Fatalf("a plan with problems was confirmed: stage %d", v.Stage())
	}
	// A plan that cannot be confirmed is recorded as refused, with why.
	es, _, err := h.m.opts.Audit.Read(0)
	if err != nil || len(es) != 1 || es[0].Outcome != actions.OutcomeRefused || es[0].Plan == nil || len(es[0].Plan.Problems) != 1 ||
		!strings.HasPrefix(es[0].Reason, "the plan has problems") || es[0].Target != "topic:missing" ||
		es[0].Command != "mqops --context staging drain kafka:orders.DLT --to topic:missing" {
		t.Errorf("the refused plan recorded as %+v %v", es, err)
	}
	for range "missing" {
		h.keys("backspace")
	}
	h.send(tea.PasteMsg{Content: "orders.retry\n"})
	h.keys("tab")
	h.typeText("10")
	h.keys("enter")
	if s := flat(h.screen()); v.Stage() != action.StagePlan || !strings.Contains(s, "plan: kafka:orders.DLT → topic:orders.retry: 10 record(s) to move") || !strings.Contains(s, "· limit 10") ||
		!strings.Contains(s, "same as: mqops --context staging drain kafka:orders.DLT --to topic:orders.retry --limit 10") {
		t.Fatalf("limited plan to a topic:\n%s", s)
	}
	h.keys("n", "tab")
	h.typeText("x")
	h.keys("enter")
	if v.Stage() != action.StageForm || !strings.Contains(h.screen(), `Rate "x": want records per second from 0.01 to 1,000,000`) {
		t.Fatalf("bad rate:\n%s", h.screen())
	}
	// Records without an original topic cannot go back to it.
	d.records["orders.DLT"] = dltRecords()
	h.keys("backspace", "tab", "tab", "left", "enter") // past Too big, to Target
	if s := h.screen(); !strings.Contains(s, "problem: 1 record(s) have no original-topic header (first: partition 0 offset 3)") {
		t.Fatalf("the record without origin is not a problem:\n%s", s)
	}
}

func TestKafkaDrainTypedNameInRedContext(t *testing.T) {
	h, d := kafkaDrainHarness(t, Options{Context: "prod", Color: "red"}, false)
	h.keys("D", "enter")
	v := h.kafkaDrainView()
	s := h.screen()
	if v.Stage() != action.StagePlan || !strings.Contains(s, "type the topic name (orders.DLT) to confirm") || strings.Contains(s, "[y/N]") {
		t.Fatalf("no typed confirmation:\n%s", s)
	}
	h.keys("y", "enter")
	if v.Stage() != action.StagePlan || d.moveCalls != 0 || !strings.Contains(h.screen(), "not the topic name") {
		t.Fatalf("y confirmed a prod drain: stage %d\n%s", v.Stage(), h.screen())
	}
	h.typeText("orders.dlt")
	h.keys("enter")
	if v.Stage() != action.StagePlan || d.moveCalls != 0 {
		t.Fatal("a wrong name confirmed the drain")
	}
	h.typeText("orders.DLT")
	h.keys("enter")
	if v.Stage() != action.StageDone || d.moveCalls != 1 {
		t.Fatalf("the right name did not drain: stage %d\n%s", v.Stage(), h.screen())
	}
}

func TestKafkaDrainRunResultAndAudit(t *testing.T) {
	h, d := kafkaDrainHarness(t, Options{Context: "staging"}, false)
	h.keys("enter") // the dead-letter groups of orders.DLT
	groups, ok := h.m.top().(*kafkaDLTView)
	if !ok {
		t.Fatalf("enter opened %T", h.m.top())
	}
	h.keys("D")
	v := h.kafkaDrainView()
	if id := h.m.top().id(); id != "drain/kafka/orders.DLT" {
		t.Fatalf("D in the groups view: %q", id)
	}
	h.keys("enter", "y")
	if v.Stage() != action.StageDone {
		t.Fatalf("stage %d\n%s", v.Stage(), h.screen())
	}
	s := h.screen()
	for _, want := range []string{"Drain finished", "seen 24, moved 24, failed 0, left in orders.DLT 0", "stopped because it reached the log end measured at start"} {
		if !strings.Contains(s, want) {
			t.Errorf("result lacks %q:\n%s", want, s)
		}
	}
	if d.movedTo("orders") != 18 || d.movedTo("payments") != 6 || len(d.pending("orders.DLT")) != 0 {
		t.Errorf("after the drain: orders %d, payments %d, left %d", d.movedTo("orders"), d.movedTo("payments"), len(d.pending("orders.DLT")))
	}
	if len(d.groups) != 1 || d.groups[0] != "mqops-drain.orders.DLT" {
		t.Errorf("move groups %v", d.groups)
	}
	h.keys("enter")
	if h.m.top() != view(groups) {
		t.Errorf("closing the result went to %T", h.m.top())
	}
	es, _, err := h.m.opts.Audit.Read(0)
	if err != nil || len(es) != 1 {
		t.Fatalf("audit: %v %v", es, err)
	}
	e := es[0]
	if e.Action != "drain" || e.Outcome != actions.OutcomeExecuted || e.Context != "staging" || e.Result.Done != 24 ||
		e.Source != "kafka:orders.DLT" || e.Target != "origin" || e.Command != "mqops --context staging drain kafka:orders.DLT --to origin" ||
		!strings.Contains(e.Plan.Summary, "18 → topic orders, 6 → topic payments") {
		t.Errorf("audit entry %+v", e)
	}
}

func TestKafkaDrainProgressAndCancel(t *testing.T) {
	for _, cancelKey := range []string{"esc", "ctrl+c"} {
		t.Run(cancelKey, func(t *testing.T) {
			h, d := kafkaDrainHarness(t, Options{Context: "staging"}, false)
			d.gate = make(chan struct{})
			h.keys("D", "enter")
			v := h.kafkaDrainView()
			_, cmd := h.m.Update(keyPress("y"))
			wait := step(h, cmd)
			if v.Stage() != action.StageRunning || !strings.Contains(h.screen(), "0/? seen") {
				t.Fatalf("not running:\n%s", h.screen())
			}
			var late []tea.Msg // a report of the run, delivered again once it is over
			for i := 1; i <= 2; i++ {
				d.gate <- struct{}{}
				late = execCmd(wait)
				wait = step(h, func() tea.Msg { return late[0] })
				s := h.screen()
				want := fmt.Sprintf("%d/24 seen · moved %d · failed 0", i, i)
				if !strings.Contains(s, want) || !strings.Contains(s, "10.0 records/s") || !strings.Contains(s, "esc or ctrl+c cancels (safe: records not yet acknowledged") {
					t.Fatalf("progress frame %d lacks %q:\n%s", i, want, s)
				}
				checkFrame(t, h.m.View().Content, 120, 30)
			}
			_, c := h.m.Update(keyPress(cancelKey))
			h.run(c)
			if h.m.quitting || !v.Cancelling() || !strings.Contains(h.screen(), "cancelling") {
				t.Fatalf("cancel: quitting %v cancelling %v\n%s", h.m.quitting, v.Cancelling(), h.screen())
			}
			for i := 0; v.Stage() == action.StageRunning && i < 10; i++ {
				wait = step(h, wait)
			}
			if v.Stage() != action.StageDone {
				t.Fatalf("stage %d after cancel", v.Stage())
			}
			s := h.screen()
			for _, want := range []string{"Drain cancelled", "moved 2, failed 0, left in orders.DLT 22", "stopped because it was cancelled"} {
				if !strings.Contains(s, want) {
					t.Errorf("result lacks %q:\n%s", want, s)
				}
			}
			if len(d.pending("orders.DLT")) != 22 {
				t.Errorf("after cancel: %d left", len(d.pending("orders.DLT")))
			}
			es, _, _ := h.m.opts.Audit.Read(0)
			if len(es) != 1 || es[0].Outcome != "cancelled" {
				t.Errorf("audit after cancel: %+v", es)
			}
			h.keys("esc")
			if _, ok := h.m.top().(*dlqListView); !ok {
				t.Fatalf("esc on the result went to %T", h.m.top())
			}
			before := h.screen()
			h.send(late[0])
			if h.screen() != before {
				t.Errorf("a late report of the run changed the screen:\n%s", h.screen())
			}
		})
	}
}

func TestKafkaDrainGolden(t *testing.T) {
	cases := []struct {
		name  string
		o     Options
		setup func(h *harness)
	}{
		{name: "form", setup: func(h *harness) {
			h.keys("D", "right")
			h.typeText("orders.retry")
			h.keys("tab")
			h.typeText("100")
		}},
		{name: "confirm", setup: func(h *harness) {
			h.keys("D", "enter")
		}},
		{name: "confirm_prod", o: Options{Context: "prod", Color: "red"}, setup: func(h *harness) {
			h.keys("D", "enter")
			h.typeText("orders.D")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, _ := kafkaDrainHarness(t, c.o, false)
			c.setup(h)
			raw := h.m.View().Content
			checkFrame(t, raw, 120, 30)
			golden.RequireEqual(t, h.screen())
		})
	}
}

// TestKafkaDrainSkipOversizedToggle: the plan lists the records their
// target cannot take and, unless the form's "Too big" says to skip them,
// counts them as a problem that blocks the confirmation; skipping, the run
// passes them over and its result says how many it skipped.
func TestKafkaDrainSkipOversizedToggle(t *testing.T) {
	h, d := kafkaDrainHarness(t, Options{}, false)
	d.tooBig = func(r *backends.KafkaRecord) bool { return r.Partition == 1 && r.Offset == 2 }
	h.keys("D", "enter")
	v := h.kafkaDrainView()
	s := h.screen()
	if v.Stage() != action.StagePlan || !strings.Contains(s, "1 record(s) too large for their target: each partition stops before its first") ||
		!strings.Contains(s, "partition 1 offset 2: 1,048,700 bytes > 1,048,588 (max.message.bytes of topic orders)") ||
		!strings.Contains(s, "the plan has problems") {
		t.Fatalf("the plan does not show the oversized record as a problem:\n%s", s)
	}
	h.keys("y") // blocked: back to the form
	if v.Stage() != action.StageForm || d.moveCalls != 0 {
		t.Fatalf("a plan with an oversized record was confirmed: stage %d", v.Stage())
	}
	h.keys("up", "right") // Too big (the last field): yes
	if v.Values().Choice(fTooBig) != skipThem || !strings.Contains(h.screen(), "[yes: skip them]") {
		t.Fatalf("the toggle did not turn:\n%s", h.screen())
	}
	h.keys("enter")
	if s := h.screen(); v.Stage() != action.StagePlan || !strings.Contains(s, "skipped, and named in the result and the audit log") || strings.Contains(s, "the plan has problems") {
		t.Fatalf("skipping: plan\n%s", s)
	}
	h.keys("y")
	res, _ := v.Result()
	if s := h.screen(); v.Stage() != action.StageDone || res == nil || res.SkippedOversized != 1 || !strings.Contains(s, "skipped 1 too large") ||
		!strings.Contains(flat(s), "same as: mqops --context staging drain kafka:orders.DLT --to origin --skip-oversized") {
		t.Fatalf("run: %+v\n%s", res, s)
	}
}
