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
	"github.com/mqops/mqops/backends/rabbitmq"
	"github.com/mqops/mqops/tui/action"
)

// fakeDrainer is a test double of the RabbitMQ broker's drain side (an
// external system): in-memory queues; Move follows the contract of
// rabbitmq.Client.Move: it sees at most the depth at start (or the limit),
// asks Decide for each message, publishes to the default exchange (the
// routing key names a queue) or hands the message to the sink, leaves
// skipped and failed messages in the source, reports progress and stops on
// a cancelled context with the unconfirmed message left in place.
type fakeDrainer struct {
	mu        sync.Mutex
	queues    map[string][]backends.Message // by queueKey
	exchanges map[string]bool               // besides the default exchange
	// gate, when set, holds Move before each message until the test sends
	// a token (or the context is cancelled).
	gate        chan struct{}
	moveCalls   int
	peekCalls   int
	detailCalls int
	// risk makes the queues ones a peek would change (refused without
	// AcceptRisk); depth, when set, is the depth a peek reports (a queue
	// deeper than the messages the fake holds).
	risk      *backends.PeekRisk
	peekDepth int64
}

func newFakeDrainer() *fakeDrainer {
	return &fakeDrainer{
		queues: map[string][]backends.Message{
			queueKey("/", "orders.dlq"): deadLetters(),
			queueKey("/", "orders"):     nil,
			queueKey("/", "payments"):   nil,
		},
		exchanges: map[string]bool{},
	}
}

func (f *fakeDrainer) depth(vhost, q string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.queues[queueKey(vhost, q)])
}

func (f *fakeDrainer) PeekQueue(_ context.Context, vhost, queue string, o backends.PeekOptions) (*backends.PeekResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.peekCalls++
	ms := f.queues[queueKey(vhost, queue)]
	if f.risk != nil && !o.AcceptRisk {
		r := *f.risk
		r.Depth = int64(len(ms))
		return nil, &backends.PeekRiskError{Vhost: vhost, Queue: queue, Risk: &r}
	}
	res := &backends.PeekResult{Messages: []backends.Message{}, Depth: int64(len(ms)), Read: min(o.Offset+o.Limit, len(ms))}
	if f.peekDepth > 0 {
		res.Depth = f.peekDepth
	}
	if o.Offset < len(ms) {
		res.Messages = append(res.Messages, ms[o.Offset:min(o.Offset+o.Limit, len(ms))]...)
	}
	return res, nil
}

// QueueDetail: the console's drain never asks it (KnownDLQ).
func (f *fakeDrainer) QueueDetail(_ context.Context, vhost, name string) (*backends.QueueDetail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.detailCalls++
	return nil, errors.New("the console asked whether " + name + " is a dead-letter queue")
}

func (f *fakeDrainer) ExchangeExists(_ context.Context, _, name string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return name == "" || f.exchanges[name], nil
}

func (f *fakeDrainer) Routes(_ context.Context, vhost, exchange, rk string) ([]string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if exchange != "" {
		return nil, false, nil // unknown: the fake has no bindings
	}
	if _, ok := f.queues[queueKey(vhost, rk)]; ok {
		return []string{rk}, true, nil
	}
	return nil, true, nil
}

func (f *fakeDrainer) Move(ctx context.Context, o rabbitmq.MoveOptions) (*rabbitmq.MoveResult, error) {
	f.mu.Lock()
	f.moveCalls++
	src := append([]backends.Message(nil), f.queues[queueKey(o.Vhost, o.Queue)]...)
	gate := f.gate
	f.mu.Unlock()

	total := len(src)
	if o.Limit > 0 && o.Limit < total {
		total = o.Limit
	}
	res := &rabbitmq.MoveResult{Total: total, Left: -1}
	report := func() {
		res.Elapsed = time.Duration(res.Seen) * 100 * time.Millisecond
		if o.Progress != nil {
			o.Progress(rabbitmq.MoveProgress{Moved: res.Moved, Skipped: res.Skipped, Failed: res.Failed, Seen: res.Seen, Total: total, Elapsed: res.Elapsed})
		}
	}
	var kept []backends.Message // skipped: left in the source
	var err error
	i := 0
loop:
	for ; i < total; i++ {
		if gate != nil {
			select {
			case <-gate:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			err = ctx.Err()
			break
		}
		if o.Wait != nil {
			if err = o.Wait(ctx); err != nil {
				break
			}
		}
		m := src[i]
		dec, tgt, derr := o.Decide(&m)
		switch {
		case derr != nil:
			res.Failed++
			err = derr
			break loop
		case dec == rabbitmq.Stop:
			res.StoppedBecause = "stopped by the filter"
			break loop
		case dec == rabbitmq.Skip:
			kept = append(kept, m)
		default:
			if o.Sink != nil {
				if err = o.Sink(ctx, &m); err != nil {
					res.Failed++
					break loop
				}
			} else {
				f.mu.Lock()
				k := queueKey(o.Vhost, tgt.RoutingKey)
				_, ok := f.queues[k]
				if tgt.Exchange != "" || !ok {
					f.mu.Unlock()
					res.Failed++
					err = fmt.Errorf("message returned: %s routes nowhere", tgt.RoutingKey)
					break loop
				}
				f.queues[k] = append(f.queues[k], m)
				f.mu.Unlock()
			}
		}
		if dec == rabbitmq.Skip {
			res.Skipped++
		} else {
			res.Moved++
		}
		res.Seen++
		report()
	}
	left := append(kept, src[i:]...)
	f.mu.Lock()
	f.queues[queueKey(o.Vhost, o.Queue)] = left
	f.mu.Unlock()
	res.Left = len(left)
	switch {
	case errors.Is(err, context.Canceled):
		res.StoppedBecause = "cancelled"
		res.Err = fmt.Errorf("move cancelled: %d moved: %w", res.Moved, err)
	case err != nil:
		res.StoppedBecause = err.Error()
		res.Err = err
	case res.StoppedBecause == "":
		res.StoppedBecause = fmt.Sprintf("done: the %d messages there were at the start seen", total)
	}
	report()
	return res, res.Err
}

var _ actions.RabbitDrainer = (*fakeDrainer)(nil)

// drainHarness is a console on RabbitMQ with a drainer and an audit log in
// a temporary directory, showing :queues.
func drainHarness(t testing.TB, o Options) (*harness, *fakeDrainer) {
	t.Helper()
	d := newFakeDrainer()
	if o.Rabbit == nil {
		o.Rabbit = newFakeRabbit()
	}
	if o.Drainer == nil {
		o.Drainer = d
	}
	if o.Audit == nil {
		o.Audit = actions.NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))
	}
	h := newHarness(t, o, nil)
	h.command("queues")
	return h, d
}

// onDLQ selects orders.dlq in :queues.
func (h *harness) onDLQ() {
	h.t.Helper()
	h.selectRow(queueKey("/", "orders.dlq"))
}

// openGroups opens the dead-letter groups of orders.dlq from :dlq.
func (h *harness) openGroups() *dlqView {
	h.t.Helper()
	h.command("dlq")
	tbl := h.m.top().focused()
	h.keys("g")
	for i := 0; i < tbl.Len() && !strings.Contains(tbl.SelectedID(), "orders.dlq"); i++ {
		h.keys("j")
	}
	h.keys("enter")
	v, ok := h.m.top().(*dlqView)
	if !ok {
		h.t.Fatalf("enter on orders.dlq in :dlq opened %T", h.m.top())
	}
	return v
}

// rabbitDrainScreen and kafkaDrainScreen are the action screens of the
// two drains.
type (
	rabbitDrainScreen = action.Model[*rabbitDrain, *actions.DrainResult]
	kafkaDrainScreen  = action.Model[*kafkaDrain, *actions.DrainResult]
)

// actionView is the action screen on top.
func (h *harness) actionView() *actionView {
	h.t.Helper()
	v, ok := h.m.top().(*actionView)
	if !ok {
		h.t.Fatalf("the action screen is not on top: %T\n%s", h.m.top(), h.screen())
	}
	return v
}

// drainView is the RabbitMQ drain's screen on top.
func (h *harness) drainView() *rabbitDrainScreen {
	h.t.Helper()
	s, ok := h.actionView().screen.(*rabbitDrainScreen)
	if !ok {
		h.t.Fatalf("the screen on top is not a RabbitMQ drain: %T", h.actionView().screen)
	}
	return s
}

// kafkaDrainView is the Kafka drain's screen on top.
func (h *harness) kafkaDrainView() *kafkaDrainScreen {
	h.t.Helper()
	s, ok := h.actionView().screen.(*kafkaDrainScreen)
	if !ok {
		h.t.Fatalf("the screen on top is not a Kafka drain: %T", h.actionView().screen)
	}
	return s
}

// setField types text into the form's field key, replacing what it held.
func (h *harness) setField(key, text string) {
	h.t.Helper()
	s := h.actionView().screen.(interface{ Focused() string })
	for i := 0; i < 10 && s.Focused() != key; i++ {
		h.keys("tab")
	}
	if s.Focused() != key {
		h.t.Fatalf("no field %q", key)
	}
	h.keys("end", "ctrl+u")
	h.typeText(text)
}

// planOf is the plan a drain screen shows (nil: none).
func planOf[P interface{ *rabbitDrain | *kafkaDrain }](s *action.Model[P, *actions.DrainResult]) *actions.DrainPlan {
	p, ok := s.Plan()
	if !ok {
		return nil
	}
	switch d := any(p).(type) {
	case *rabbitDrain:
		return d.plan
	case *kafkaDrain:
		return d.plan
	}
	return nil
}

func helpText(h *harness) string {
	h.keys("?")
	s := h.screen()
	h.keys("esc")
	return s
}

func TestDrainAbsentInReadOnly(t *testing.T) {
	for _, c := range []struct {
		name string
		o    Options
	}{
		{"read-only", Options{Context: "prod", Color: "red", ReadOnly: true}},
		{"no drainer", Options{Context: "dev", Drainer: nil}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := c.o
			o.Rabbit = newFakeRabbit()
			if c.name == "read-only" {
				o.Drainer = newFakeDrainer()
			}
			h := newHarness(t, o, nil)
			h.command("queues")
			if h.m.keys.Drain.Enabled() || len(h.m.keys.Drain.Keys()) != 0 {
				t.Error("the drain key is bound")
			}
			for _, g := range h.m.helpGroups() {
				for _, b := range g.Bindings {
					if b.Help().Key == "D" || strings.Contains(b.Help().Desc, "drain") {
						t.Errorf("the keymap has %q", b.Help().Desc)
					}
				}
			}
			if s := helpText(h); strings.Contains(s, "drain dead letters") || strings.Contains(strings.ToLower(s), ":drain") {
				t.Errorf("the help mentions the drain:\n%s", s)
			}
			for _, cmd := range commands {
				if strings.Contains(cmd.name, "drain") {
					t.Errorf("palette command %q", cmd.name)
				}
			}
			h.onDLQ()
			h.keys("D")
			if _, ok := h.m.top().(*actionView); ok {
				t.Fatal("D opened the drain")
			}
			h.keys("enter", "D")
			if _, ok := h.m.top().(*actionView); ok {
				t.Fatal("D opened the drain from the queue detail")
			}
			if strings.Contains(h.screen(), "Drain the dead letters") {
				t.Errorf("the screen shows the drain:\n%s", h.screen())
			}
		})
	}
	// Writable, with a drainer: D is there.
	h, _ := drainHarness(t, Options{Context: "dev"})
	h.onDLQ()
	if s := helpText(h); !strings.Contains(s, "drain dead letters") {
		t.Errorf("the help lacks the drain:\n%s", s)
	}
	h.keys("D")
	h.drainView()
}

func TestDrainOnlyFromDLQs(t *testing.T) {
	h, _ := drainHarness(t, Options{})
	h.selectRow(queueKey("/", "orders"))
	h.keys("D")
	if _, ok := h.m.top().(*actionView); ok || !strings.Contains(h.screen(), "orders is not a dead-letter queue") {
		t.Fatalf("D on a plain queue:\n%s", h.screen())
	}
	h.keys("enter", "D")
	if _, ok := h.m.top().(*queueView); !ok {
		t.Fatalf("D on a plain queue's detail opened %T", h.m.top())
	}
	h.keys("esc")
	h.onDLQ()
	h.keys("enter", "D")
	v := h.drainView()
	if id := h.m.top().id(); id != "drain/"+queueKey("/", "orders.dlq") || v.Values().Text(fOrigin) != "" {
		t.Errorf("drain %q origin %q", id, v.Values().Text(fOrigin))
	}
	h.keys("esc")
	if _, ok := h.m.top().(*queueView); !ok {
		t.Fatalf("esc in the form went to %T", h.m.top())
	}
}

func TestDrainPlanAndDefaultNo(t *testing.T) {
	h, d := drainHarness(t, Options{Context: "staging"})
	h.onDLQ()
	h.keys("D")
	v := h.drainView()
	h.keys("enter")
	if v.Stage() != action.StagePlan || planOf(v) == nil {
		t.Fatalf("no plan: stage %d, %s\n%s", v.Stage(), v.FormError(), h.screen())
	}
	s := h.screen()
	for _, want := range []string{
		"plan: rabbitmq:orders.dlq → origin (all): 25 to move, 0 skipped by filter",
		"24 → queue orders",
		"1 → queue payments",
		"Drain 25 message(s) from rabbitmq:orders.dlq: 24 → queue orders, 1 → queue payments? [y/N]",
		"same as: mqops --context staging drain rabbitmq:orders.dlq --to origin",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the plan screen lacks %q:\n%s", want, s)
		}
	}
	if es, _, _ := h.m.opts.Audit.Read(0); len(es) != 0 {
		t.Fatalf("a plan on screen was recorded before the operator answered: %+v", es)
	}
	// Anything but y is No: enter, n, esc.
	for _, k := range []string{"enter", "n", "esc"} {
		h.keys(k)
		if v.Stage() != action.StageForm || d.moveCalls != 0 {
			t.Fatalf("%s on the confirmation: stage %d, %d moves", k, v.Stage(), d.moveCalls)
		}
		if !strings.Contains(h.screen(), "not confirmed: nothing was changed") {
			t.Errorf("%s: no notice", k)
		}
		h.keys("enter") // plan again
		if v.Stage() != action.StagePlan {
			t.Fatalf("re-plan: stage %d", v.Stage())
		}
	}
	if d.depth("/", "orders.dlq") != 25 || d.moveCalls != 0 {
		t.Fatal("something moved without confirmation")
	}
	// Each plan previewed and not confirmed is a dry run, recorded once;
	// ctrl+c on the confirmation records the plan shown, then quits.
	h.keys("ctrl+c")
	if !h.m.quitting || d.moveCalls != 0 || h.m.lastWords == nil {
		t.Fatalf("ctrl+c on the confirmation: quitting %v, %d moves", h.m.quitting, d.moveCalls)
	}
	execCmd(h.m.lastWords) // the program runs them before it ends
	es, _, err := h.m.opts.Audit.Read(0)
	if err != nil || len(es) != 4 {
		t.Fatalf("want the 4 plans shown as dry runs: %+v %v", es, err)
	}
	runs := map[string]bool{}
	for _, e := range es {
		if e.Outcome != actions.OutcomeDryRun || e.Reason != actions.DryRunNotConfirmed || e.Result != nil || e.Plan == nil || e.Plan.Selected != 25 ||
			e.Source != "rabbitmq:orders.dlq" || e.Command != "mqops --context staging drain rabbitmq:orders.dlq --to origin" || runs[e.RunID] {
			t.Errorf("dry run entry %+v", e)
		}
		runs[e.RunID] = true
	}
}

func TestDrainSampledPlanAndProblems(t *testing.T) {
	h, d := drainHarness(t, Options{})
	// A message without x-death: its origin is unknown.
	d.queues[queueKey("/", "orders.dlq")] = append(d.queues[queueKey("/", "orders.dlq")], backends.Message{MessageID: "lost\x1b[2J"})
	h.onDLQ()
	h.keys("D")
	v := h.drainView()
	// Limit 10: the plan peeks at 10.
	h.keys("down", "down", "down")
	h.typeText("10")
	h.keys("enter")
	s := h.screen()
	if v.Stage() != action.StagePlan || !strings.Contains(s, "(all): 10 to move") {
		t.Fatalf("limited plan:\n%s", s)
	}
	h.keys("n", "backspace", "backspace", "enter")
	s = h.screen()
	if !strings.Contains(s, "problem: message 26 (id lost\\x1b[2J) has no x-death header") || !strings.Contains(s, "the plan has problems") {
		t.Fatalf("the problem is not shown (sanitized):\n%s", s)
	}
	if strings.Contains(h.m.View().Content, "\x1b[2J") {
		t.Error("an escape sequence from the broker reached the terminal")
	}
	h.keys("y")
	if v.Stage() != action.StageForm || d.moveCalls != 0 {
		t.Fatalf("a plan with problems was confirmed: stage %d", v.Stage())
	}
	// The plan not confirmed is a dry run; the one that could not be
	// confirmed a refusal, with why.
	es, _, err := h.m.opts.Audit.Read(0)
	if err != nil || len(es) != 2 || es[0].Outcome != actions.OutcomeDryRun || es[0].Reason != actions.DryRunNotConfirmed ||
		es[0].Command != "mqops --context staging drain rabbitmq:orders.dlq --to origin --limit 10" ||
		es[1].Outcome != actions.OutcomeRefused || !strings.HasPrefix(es[1].Reason, "the plan has problems") || es[1].Plan == nil || len(es[1].Plan.Problems) != 1 {
		t.Errorf("audit of the plans not run: %+v %v", es, err)
	}
	// A sample smaller than the queue says so, with the depth, and scales
	// the counts to it, per route and in the confirmation (issue 7,
	// class 9: the plan used to say "1,000 to move" of 1,125).
	d.queues[queueKey("/", "orders.dlq")] = deadLetters()
	for i := 0; i < 1100; i++ {
		d.queues[queueKey("/", "orders.dlq")] = append(d.queues[queueKey("/", "orders.dlq")], deadLetters()[4])
	}
	h.keys("enter")
	s = h.screen()
	for _, want := range []string{"(depth 1,125; 1,000 sampled, 1,000 of them pass the filters): about 1,125 to move",
		"999 → queue orders  (about 1,124 of the depth)", "1 → queue payments  (about 1 of the depth)",
		"Drain about 1125 message(s) from rabbitmq:orders.dlq (depth 1125; estimated from a sample of 1000"} {
		if !strings.Contains(s, want) {
			t.Fatalf("sampled plan lacks %q:\n%s", want, s)
		}
	}
	if d.detailCalls != 0 {
		t.Error("the console asked again whether a queue its list detected as a DLQ is one")
	}
}

func TestDrainFormValidation(t *testing.T) {
	h, _ := drainHarness(t, Options{})
	h.onDLQ()
	h.keys("D")
	v := h.drainView()
	h.send(tea.KeyPressMsg{Code: tea.KeyRight}) // target: exchange
	h.keys("enter")
	if v.Stage() != action.StageForm || !strings.Contains(h.screen(), "type the exchange name") {
		t.Fatalf("exchange without a name:\n%s", h.screen())
	}
	h.typeText("retry:order.created")
	if vs := v.Values(); vs.Choice(fTarget) != "exchange" || vs.Arg(fTarget) != "retry:order.created" {
		t.Fatalf("target %q %q", vs.Choice(fTarget), vs.Arg(fTarget))
	}
	h.send(tea.KeyPressMsg{Code: tea.KeyRight}) // file
	// a pasted newline, escape sequence or bidi control is not typed
	h.send(tea.PasteMsg{Content: "/tmp/out\x1b[2J\u202e.jsonl\n"})
	if vs := v.Values(); vs.Choice(fTarget) != "file" || vs.Arg(fTarget) != "/tmp/out[2J.jsonl" {
		t.Fatalf("pasted path: %q %q", vs.Choice(fTarget), vs.Arg(fTarget))
	}
	h.keys("tab", "tab", "tab")
	h.typeText("x")
	h.keys("enter")
	if v.Stage() != action.StageForm || v.Focused() != fLimit || !strings.Contains(h.screen(), `Limit "x": want a whole number of messages from 1 to`) {
		t.Fatalf("bad limit:\n%s", h.screen())
	}
	h.keys("backspace")
	// Every number is checked before a plan is made: no NaN, no infinity,
	// no zero that would silently mean "everything" or "never".
	for _, c := range []struct{ limit, rate, want string }{
		{"0", "", `Limit "0": want a whole number`},
		{"-1", "", `Limit "-1": want a whole number`},
		{"", "NaN", `Rate "NaN": want messages per second from 0.01`},
		{"", "Inf", `Rate "Inf": want messages per second`},
		{"", "-Inf", `Rate "-Inf": want messages per second`},
		{"", "0", `Rate "0": want messages per second`},
		{"", "1e-300", `Rate "1e-300": want messages per second`},
		{"", "1e300", `Rate "1e300": want messages per second`},
	} {
		h.setField(fLimit, c.limit)
		h.setField(fRate, c.rate)
		h.keys("enter")
		if v.Stage() != action.StageForm || !strings.Contains(h.screen(), c.want) {
			t.Fatalf("limit %q rate %q: want %q:\n%s", c.limit, c.rate, c.want, h.screen())
		}
	}
}

func TestDrainTypedNameInRedContext(t *testing.T) {
	h, d := drainHarness(t, Options{Context: "prod", Color: "red"})
	h.onDLQ()
	h.keys("D", "enter")
	v := h.drainView()
	s := h.screen()
	if v.Stage() != action.StagePlan || !strings.Contains(s, "type the queue name (orders.dlq) to confirm") || strings.Contains(s, "[y/N]") {
		t.Fatalf("no typed confirmation:\n%s", s)
	}
	// y is not enough; a wrong name is refused.
	h.keys("y", "enter")
	if v.Stage() != action.StagePlan || d.moveCalls != 0 || !strings.Contains(h.screen(), "not the queue name") {
		t.Fatalf("y confirmed a prod drain: stage %d\n%s", v.Stage(), h.screen())
	}
	h.typeText("orders")
	h.keys("enter")
	if v.Stage() != action.StagePlan || d.moveCalls != 0 {
		t.Fatal("a wrong name confirmed the drain")
	}
	h.typeText("orders.dlx")
	h.keys("backspace")
	h.typeText("q")
	h.keys("enter")
	if v.Stage() != action.StageDone || d.moveCalls != 1 {
		t.Fatalf("the right name did not drain: stage %d\n%s", v.Stage(), h.screen())
	}
}

func TestDrainRunResultAndAudit(t *testing.T) {
	h, d := drainHarness(t, Options{Context: "staging"})
	f := h.m.opts.Rabbit.(*fakeRabbit)
	v := h.openGroups()
	// The group of orders/rejected: the filter is prefilled.
	h.selectRow("orders\x00rejected\x00ValidationError")
	h.keys("D")
	dv := h.drainView()
	if vs := dv.Values(); vs.Text(fOrigin) != "orders" || vs.Choice(fReason) != "rejected" {
		t.Fatalf("filter not prefilled: %q %q", vs.Text(fOrigin), vs.Choice(fReason))
	}
	h.keys("enter")
	if s := h.screen(); !strings.Contains(s, "2 to move, 23 skipped by filter") ||
		!strings.Contains(s, "same as: mqops --context staging drain rabbitmq:orders.dlq --to origin --reason rejected --origin orders") {
		t.Fatalf("filtered plan:\n%s", s)
	}
	h.keys("y")
	if dv.Stage() != action.StageDone {
		t.Fatalf("stage %d\n%s", dv.Stage(), h.screen())
	}
	s := h.screen()
	for _, want := range []string{"Drain finished", "seen 25, moved 2, skipped by filter 23, failed 0, left in orders.dlq 23", "stopped: done: the 25 messages the plan previewed seen; any that arrived since stay in the queue"} {
		if !strings.Contains(s, want) {
			t.Errorf("result lacks %q:\n%s", want, s)
		}
	}
	if d.depth("/", "orders") != 2 || d.depth("/", "orders.dlq") != 23 {
		t.Errorf("queues after the drain: orders %d, dlq %d", d.depth("/", "orders"), d.depth("/", "orders.dlq"))
	}
	// Closing reloads the groups view below.
	calls := f.dlCalls
	h.keys("enter")
	if h.m.top() != view(v) || f.dlCalls != calls+1 {
		t.Errorf("closing the result: top %T, dead-letter loads %d → %d", h.m.top(), calls, f.dlCalls)
	}
	es, _, err := h.m.opts.Audit.Read(0)
	if err != nil || len(es) != 1 {
		t.Fatalf("audit: %v %v", es, err)
	}
	e := es[0]
	if e.Action != "drain" || e.Outcome != actions.OutcomeExecuted || e.Context != "staging" || e.Result.Done != 2 || e.Result.Skipped != 23 ||
		e.Source != "rabbitmq:orders.dlq" || e.Target != "origin" || e.Plan.Selected != 2 ||
		e.Command != "mqops --context staging drain rabbitmq:orders.dlq --to origin --reason rejected --origin orders" {
		t.Errorf("audit entry %+v", e)
	}
}

// step runs cmd and delivers its messages (timers aside), returning the
// commands they produced: the test holds the drain's next read.
func step(h *harness, cmd tea.Cmd) tea.Cmd {
	h.t.Helper()
	var next []tea.Cmd
	for _, msg := range execCmd(cmd) {
		if d, ok := msg.(delayedMsg); ok {
			h.pending = append(h.pending, d)
			continue
		}
		_, c := h.m.Update(msg)
		next = append(next, c)
	}
	return tea.Batch(next...)
}

func TestDrainProgressAndCancel(t *testing.T) {
	for _, cancelKey := range []string{"esc", "ctrl+c"} {
		t.Run(cancelKey, func(t *testing.T) {
			h, d := drainHarness(t, Options{Context: "staging"})
			d.gate = make(chan struct{})
			h.onDLQ()
			h.keys("D", "enter")
			v := h.drainView()
			_, cmd := h.m.Update(keyPress("y"))
			wait := step(h, cmd) // the drain started; nothing moved yet
			if v.Stage() != action.StageRunning || !strings.Contains(h.screen(), "0/? seen") {
				t.Fatalf("not running:\n%s", h.screen())
			}
			var late []tea.Msg // a report of the run, delivered again once it is over
			for i := 1; i <= 2; i++ {
				d.gate <- struct{}{}
				late = execCmd(wait)
				wait = step(h, func() tea.Msg { return late[0] })
				s := h.screen()
				want := fmt.Sprintf("%d/25 seen · moved %d · skipped by filter 0 · failed 0", i, i)
				if !strings.Contains(s, want) || !strings.Contains(s, "10.0 msg/s") || !strings.Contains(s, "esc or ctrl+c cancels") {
					t.Fatalf("progress frame %d lacks %q:\n%s", i, want, s)
				}
				checkFrame(t, h.m.View().Content, 120, 30)
			}
			if s := h.screen(); !strings.Contains(s, "███░░░") || !strings.Contains(s, "ETA 2s") {
				t.Errorf("no bar or ETA:\n%s", s)
			}
			// Cancel: asks nothing, does not quit.
			_, c := h.m.Update(keyPress(cancelKey))
			h.run(c)
			if h.m.quitting || !v.Cancelling() || !strings.Contains(h.screen(), "cancelling") {
				t.Fatalf("cancel: quitting %v cancelling %v\n%s", h.m.quitting, v.Cancelling(), h.screen())
			}
			for i := 0; v.Stage() == action.StageRunning && i < 10; i++ {
				wait = step(h, wait) // the last report, then the outcome
			}
			if v.Stage() != action.StageDone {
				t.Fatalf("stage %d after cancel", v.Stage())
			}
			s := h.screen()
			for _, want := range []string{"Drain cancelled", "moved 2, skipped by filter 0, failed 0, left in orders.dlq 23", "stopped: cancelled"} {
				if !strings.Contains(s, want) {
					t.Errorf("result lacks %q:\n%s", want, s)
				}
			}
			if d.depth("/", "orders.dlq") != 23 || d.depth("/", "orders") != 2 {
				t.Errorf("after cancel: dlq %d, orders %d", d.depth("/", "orders.dlq"), d.depth("/", "orders"))
			}
			es, _, _ := h.m.opts.Audit.Read(0)
			if len(es) != 1 || es[0].Outcome != "cancelled" {
				t.Errorf("audit after cancel: %+v", es)
			}
			// A late message of the run is dropped once the view is closed.
			h.keys("esc")
			if _, ok := h.m.top().(*queuesView); !ok {
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

func TestDrainGolden(t *testing.T) {
	cases := []struct {
		name  string
		o     Options
		setup func(h *harness)
	}{
		{name: "form", setup: func(h *harness) {
			h.openGroups()
			h.selectRow("orders\x00rejected\x00ValidationError")
			h.keys("D", "down", "down", "down")
			h.typeText("100")
		}},
		{name: "confirm", setup: func(h *harness) {
			h.openGroups()
			h.selectRow("orders\x00expired\x00")
			h.keys("D", "enter")
		}},
		{name: "confirm_prod", o: Options{Context: "prod", Color: "red"}, setup: func(h *harness) {
			h.onDLQ()
			h.keys("D", "enter")
			h.typeText("orders.d")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, _ := drainHarness(t, c.o)
			c.setup(h)
			raw := h.m.View().Content
			checkFrame(t, raw, 120, 30)
			golden.RequireEqual(t, h.screen())
		})
	}
}

// TestDrainPlanOfAQueueNotSampled (issue 7, class 0): the console's plan
// of a queue that a peek would change reads nothing: it states the depth,
// why it does not sample, what the run finds out per message and what a
// requeue costs, and the confirmation says so.
func TestDrainPlanOfAQueueNotSampled(t *testing.T) {
	h, d := drainHarness(t, Options{})
	d.risk = &backends.PeekRisk{Kind: backends.RiskDeliveryLimit, DeliveryLimit: 2, OverLimit: "dropped (the queue has no dead-letter exchange)",
		Reason: "quorum queue with a delivery limit of 2 (argument x-delivery-limit): RabbitMQ 3.10.8 counts every requeue as a delivery attempt"}
	h.onDLQ()
	h.keys("D", "enter")
	v := h.drainView()
	s := flat(h.screen())
	for _, want := range []string{
		"plan: rabbitmq:orders.dlq → origin (depth 25; not sampled): up to 25 to move",
		"not sampled: quorum queue with a delivery limit of 2",
		"note: the target of each message (the queue it died in, from its x-death header) is resolved at run time",
		"loses one of its 2 delivery attempts",
		"Drain up to 25 message(s) from rabbitmq:orders.dlq (its depth; not sampled: a peek would cost each message a delivery attempt)? [y/N]",
	} {
		if !strings.Contains(s, want) {
			t.Fatalf("the plan lacks %q:\n%s", want, h.screen())
		}
	}
	if v.Stage() != action.StagePlan || d.moveCalls != 0 {
		t.Fatalf("stage %d, %d moves", v.Stage(), d.moveCalls)
	}
	h.keys("y")
	for v.Stage() == action.StageRunning {
		h.run(v.Wait())
	}
	if d.moveCalls != 1 || d.depth("/", "orders.dlq") != 0 || !strings.Contains(h.screen(), "moved 25") {
		t.Fatalf("the run: %d moves, %d left\n%s", d.moveCalls, d.depth("/", "orders.dlq"), h.screen())
	}
}

// TestDrainQuitOnThePlanRecordsIt: ctrl+c on a plan shown quits, and the
// plan is recorded as a dry run before the program ends.
func TestDrainQuitOnThePlanRecordsIt(t *testing.T) {
	h, d := drainHarness(t, Options{Context: "staging"})
	h.onDLQ()
	h.keys("D", "enter")
	_, cmd := h.m.Update(keyPress("ctrl+c"))
	if !h.m.quitting || cmd == nil || h.m.lastWords == nil {
		t.Fatalf("ctrl+c on the plan: quitting %v", h.m.quitting)
	}
	execCmd(h.m.lastWords)
	es, _, err := h.m.opts.Audit.Read(0)
	if err != nil || len(es) != 1 || es[0].Outcome != actions.OutcomeDryRun || es[0].Reason != actions.DryRunNotConfirmed || es[0].Plan == nil || d.moveCalls != 0 {
		t.Fatalf("audit after quitting on the plan: %+v %v", es, err)
	}
}
