package tui

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/kafka"
	"github.com/mqops/mqops/tui/components"
	"github.com/mqops/mqops/tui/styles"
)

// kafkaDrainGroup is the consumer group a Kafka drain resumes from.
var kafkaDrainGroup = kafka.DrainGroup

// The drain of a RabbitMQ dead-letter queue from the console: `D` on a
// dead-letter queue (the :dlq or :queues list, a DLQ's detail, a
// dead-letter group row) opens the drain view, a form (target, filters,
// limit, rate). enter plans (actions.PlanDrain in a command: a dry run that
// peeks and changes nothing), the plan is shown as the CLI shows it and the
// confirmation states its scope and defaults to No (in a red, prod-like
// context the operator types the queue name). actions.ExecuteDrain then
// runs in a goroutine started by a command; its progress comes back through
// a channel that a re-issued command reads, as messages tagged with the
// run. esc or ctrl+c cancels the run (safe: the backend requeues what the
// target did not confirm). ExecuteDrain writes the audit log, as the CLI
// does.
//
// The same view drains a Kafka dead-letter topic (Options.KafkaDrainer):
// `D` on a Kafka row of :dlq or in a topic's dead-letter groups. The form
// then has a target (origin or topic:<name>), a limit and a rate, no
// filter; the plan is actions.PlanKafkaDrain (records per target topic,
// missing target topics as problems) and the run actions.ExecuteKafkaDrain
// (records not yet acknowledged are not committed: cancelling is safe, the
// next drain resumes there). The kind switch is drainView.kafka.
//
// The drain is absent in a read-only context and without a drainer
// (Options.Drainer, Options.KafkaDrainer): no key, no help line
// (Model.canDrain). With one drainer only, `D` on a dead letter of the
// other backend says so.

// localMsg is the result of a local view's command. It finds its view by
// the tag it carries and is dropped when that view is gone.
type localMsg interface{ update(m *Model) tea.Cmd }

// canDrain says whether this console has what a drain needs (a read-only
// context has no drain key: keys.Map.ReadOnly).
func (m *Model) canDrain() bool {
	// no audit log, no drain: an action that cannot be audited does not start
	return (m.opts.Drainer != nil || m.opts.KafkaDrainer != nil) && m.opts.Audit != nil
}

// drainHelp is the help line of the `D` key: the backends it drains.
func (o *Options) drainHelp() string {
	switch {
	case o.Drainer != nil && o.KafkaDrainer != nil:
		return "drain dead letters (RabbitMQ DLQ, Kafka DLT)"
	case o.KafkaDrainer != nil:
		return "drain dead letters (Kafka DLT)"
	}
	return "drain dead letters (RabbitMQ DLQ)"
}

// prodLike is a red context (config.Context.ProdLike): confirmations ask
// for the queue name.
func (m *Model) prodLike() bool { return strings.EqualFold(strings.TrimSpace(m.opts.Color), "red") }

func (m *Model) nextLocalSeq() uint64 {
	m.localSeq++
	return m.localSeq
}

// localKey gives the keys to the drain view when it is on top (it takes
// them all: the form is typed into), and to the peek's question. ok is
// false when the key is not theirs.
func (m *Model) localKey(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	if m.mode != modeNormal {
		return nil, false
	}
	if v, ok := m.top().(*drainView); ok {
		return m.drainViewKey(v, msg), true
	}
	if v, ok := m.top().(*peekView); ok && v.asking() {
		return m.peekAskKey(v, msg), true // the peek's question takes the next key
	}
	return nil, false
}

// queueLister is a list of queues (:queues, :dlq) with a selected queue.
type queueLister interface {
	selectedQueue() (backends.Queue, bool)
}

// drainSource finds the dead-letter queue to drain from the view on top,
// and the filter of the selected dead-letter group. why, when not empty,
// says why there is none.
func (m *Model) drainSource() (vhost, queue, origin, reason string, why string) {
	hint := "D drains a RabbitMQ dead-letter queue: select one in :dlq"
	if m.opts.KafkaDrainer != nil {
		hint = "D drains a dead-letter queue or topic: select one in :dlq"
	}
	switch v := m.top().(type) {
	case *dlqView:
		if r, ok := v.tbl.Selected(); ok {
			if parts := strings.Split(r.ID, "\x00"); len(parts) >= 2 {
				origin, reason = parts[0], parts[1]
			}
		}
		return v.vhost, v.name, origin, reason, ""
	case *queueView:
		// The detail does not keep the queue's DLQ flag: the list it was
		// opened from has it, on its selected row.
		for i := len(m.stack) - 2; i >= 0; i-- {
			l, ok := m.stack[i].(queueLister)
			if !ok {
				continue
			}
			if q, ok := l.selectedQueue(); ok && q.Vhost == v.vhost && q.Name == v.name {
				if !q.IsDLQ {
					return "", "", "", "", safe(v.name) + " is not a dead-letter queue; " + hint
				}
				return v.vhost, v.name, "", "", ""
			}
		}
		return "", "", "", "", safe(v.name) + " is not known as a dead-letter queue; " + hint
	case queueLister:
		q, ok := v.selectedQueue()
		switch {
		case !ok:
			return "", "", "", "", hint
		case !q.IsDLQ:
			return "", "", "", "", safe(q.Name) + " is not a dead-letter queue; " + hint
		}
		return q.Vhost, q.Name, "", "", ""
	}
	return "", "", "", "", hint
}

// kafkaDrainSource is the Kafka dead-letter topic of the view on top: the
// selected Kafka row of :dlq, or the topic of the dead-letter groups view.
func (m *Model) kafkaDrainSource() (string, bool) {
	switch v := m.top().(type) {
	case *dlqListView:
		if _, _, d, ok := v.selected(); ok {
			return d.Topic, true
		}
	case *kafkaDLTView:
		return v.topic, true
	}
	return "", false
}

// openDrain is the `D` key.
func (m *Model) openDrain() tea.Cmd {
	if !m.canDrain() || !m.keys.Drain.Bound() {
		return nil
	}
	if topic, ok := m.kafkaDrainSource(); ok {
		if m.opts.KafkaDrainer == nil {
			return m.setFlash(components.FlashInfo, safe(topic)+" is a Kafka dead-letter topic: only RabbitMQ dead-letter queues can be drained in this console")
		}
		return m.push(newKafkaDrainView(topic, m.cluster, m.prodLike(), &m.st))
	}
	vhost, queue, origin, reason, why := m.drainSource()
	if why != "" {
		return m.setFlash(components.FlashInfo, why)
	}
	if m.opts.Drainer == nil {
		return m.setFlash(components.FlashInfo, safe(queue)+" is a RabbitMQ dead-letter queue: only Kafka dead-letter topics can be drained in this console")
	}
	return m.push(newDrainView(vhost, queue, origin, reason, m.rabbitName(), m.prodLike(), &m.st))
}

type drainStage int

const (
	drainForm     drainStage = iota // editing the options
	drainPlanning                   // PlanDrain running
	drainConfirm                    // the plan is shown; y (or the queue name) confirms
	drainRunning                    // ExecuteDrain running
	drainDone                       // the result is shown
)

// The form's fields, in tab order.
const (
	dfTarget = iota
	dfOrigin
	dfReason
	dfLimit
	dfRate
	numDrainFields
)

const (
	targetOrigin = iota
	targetExchange
	targetFile
)

// A Kafka drain's targets: targetOrigin, or targetTopic (args[targetTopic]
// is the topic name).
const targetTopic = 1

// dfSkipOversized is the Kafka form's toggle: skip the records their
// target cannot take (an id apart from the shared fields').
const dfSkipOversized = 100

var (
	drainTargets      = []string{"origin", "exchange", "file"}
	kafkaDrainTargets = []string{"origin", "topic"}
	drainReasons      = []string{"", "rejected", "expired", "maxlen", "delivery_limit"}
	// The form's fields of each kind, in tab order.
	drainFields      = []int{dfTarget, dfOrigin, dfReason, dfLimit, dfRate}
	kafkaDrainFields = []int{dfTarget, dfLimit, dfRate, dfSkipOversized}
	// the choices of dfSkipOversized
	skipOversizedChoices = []string{"no: stop before them", "yes: skip them"}
)

// drainView is the drain form, plan, confirmation, progress and result of
// one dead-letter queue, or of one Kafka dead-letter topic (kafka).
type drainView struct {
	// kafka: queue is a Kafka dead-letter topic (vhost is empty), drained
	// with kopts through Options.KafkaDrainer.
	kafka        bool
	vhost, queue string // raw, as the broker spells them
	broker       string
	prod         bool

	stage   drainStage
	focus   int
	target  int
	args    [3]string // the typed argument of each target kind
	origin  string
	reason  int // index in drainReasons
	limit   string
	rate    string
	formErr string // sanitized
	// skipOversized (Kafka): skip the records their target cannot take
	skipOversized bool

	spin   spinner.Model
	seq    uint64 // the plan or run this view waits for
	cancel context.CancelFunc
	opts   actions.DrainOptions
	kopts  actions.KafkaDrainOptions
	plan   *actions.DrainPlan

	typed      string // the queue name typed to confirm (prod-like)
	confirmErr string

	run        *drainRun
	prog       actions.Progress
	progressed bool
	cancelling bool
	res        *actions.DrainResult
	err        error

	tbl           *components.Table // the plan's routes (focused(): the row count)
	width, height int
}

func newDrainView(vhost, queue, origin, reason, broker string, prod bool, st *styles.Styles) *drainView {
	v := &drainView{vhost: vhost, queue: queue, origin: origin, broker: broker, prod: prod}
	for i, r := range drainReasons {
		if r == reason {
			v.reason = i
		}
	}
	v.spin = spinner.New(spinner.WithSpinner(spinner.MiniDot), spinner.WithStyle(st.Spinner))
	v.tbl = components.NewTable([]components.Column{{Title: "TARGET", Flex: true}, {Title: "COUNT", Right: true, Num: true}}, 1, true)
	v.tbl.Empty = "no plan yet"
	return v
}

func newKafkaDrainView(topic, cluster string, prod bool, st *styles.Styles) *drainView {
	v := newDrainView("", topic, "", "", cluster, prod, st)
	v.kafka = true
	return v
}

// targets are the target kinds of the form.
func (v *drainView) targets() []string {
	if v.kafka {
		return kafkaDrainTargets
	}
	return drainTargets
}

// fields are the form's fields, in tab order.
func (v *drainView) fields() []int {
	if v.kafka {
		return kafkaDrainFields
	}
	return drainFields
}

// nextField moves the focus d fields on, around the form.
func (v *drainView) nextField(d int) {
	fs := v.fields()
	i := 0
	for j, f := range fs {
		if f == v.focus {
			i = j
		}
	}
	v.focus = fs[(i+d+len(fs))%len(fs)]
}

// what names the drained thing in the confirmation: queue or topic.
func (v *drainView) what() string {
	if v.kafka {
		return "topic"
	}
	return "queue"
}

func (v *drainView) local()        {}
func (v *drainView) crumb() string { return "drain" }

// header names the drained broker and the drain's stage (see
// statusVariants).
func (v *drainView) header(m *Model) (string, []string) {
	dim := m.st.Dim.Render
	switch v.stage {
	case drainPlanning:
		return v.broker, []string{v.spin.View() + " " + dim("planning…"), v.spin.View()}
	case drainConfirm:
		return v.broker, []string{m.st.FlashWarn.Render("awaiting confirmation"), ""}
	case drainRunning:
		return v.broker, []string{v.spin.View() + " " + m.st.FlashWarn.Render("draining"), v.spin.View()}
	case drainDone:
		return v.broker, []string{dim("finished"), ""}
	}
	return v.broker, []string{dim("options"), ""}
}
func (v *drainView) noun() string                   { return "routes" }
func (v *drainView) build(*dataset, *styles.Styles) {}
func (v *drainView) builtGen() uint64               { return 0 }
func (v *drainView) summary(int) []string           { return nil }
func (v *drainView) focused() *components.Table     { return v.tbl }
func (v *drainView) open() (view, bool)             { return nil, false }
func (v *drainView) togglePane() bool               { return false }
func (v *drainView) layout(width, height int)       { v.width, v.height = width, height }

func (v *drainView) id() string {
	if v.kafka {
		return "drain/kafka/" + v.queue
	}
	return "drain/" + queueKey(v.vhost, v.queue)
}

// limitRate parses the form's limit and rate, validated as the CLI
// validates --limit and --rate: empty means none, zero is refused.
func (v *drainView) limitRate() (limit int, rate float64, err error) {
	what := "messages"
	if v.kafka {
		what = "records"
	}
	if s := strings.TrimSpace(v.limit); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > actions.MaxLimit {
			return 0, 0, fmt.Errorf("Limit %q: want a whole number of %s from 1 to %s (empty: no limit)", s, what, fmtInt(actions.MaxLimit))
		}
		limit = n
	}
	if s := strings.TrimSpace(v.rate); s != "" {
		r, err := strconv.ParseFloat(s, 64)
		if err == nil && r != 0 {
			if ferr := actions.CheckRate("rate", r); ferr != nil {
				err = ferr
			}
		}
		if err != nil || r == 0 {
			return 0, 0, fmt.Errorf("Rate %q: want %s per second from %v to %s (empty: unlimited)", s, what, actions.MinRate, fmtInt(actions.MaxRate))
		}
		rate = r
	}
	return limit, rate, nil
}

// kafkaOptions turns the form into the options of a Kafka drain.
func (v *drainView) kafkaOptions(m *Model) (actions.KafkaDrainOptions, error) {
	o := actions.KafkaDrainOptions{Context: m.opts.Context, ReadOnly: m.opts.ReadOnly, Topic: v.queue, To: "origin"}
	if v.target == targetTopic {
		arg := strings.TrimSpace(v.args[targetTopic])
		if arg == "" {
			return o, errors.New("type the target topic name or choose another target")
		}
		if arg == v.queue {
			return o, errors.New("the target is the dead-letter topic itself: choose another topic")
		}
		o.To = "topic:" + arg
	}
	o.SkipOversized = v.skipOversized
	var err error
	o.Limit, o.Rate, err = v.limitRate()
	return o, err
}

// options turns the form into drain options.
func (v *drainView) options(m *Model) (actions.DrainOptions, error) {
	o := actions.DrainOptions{
		Context: m.opts.Context, ReadOnly: m.opts.ReadOnly,
		Vhost: v.vhost, Queue: v.queue,
		Origin: strings.TrimSpace(v.origin), Reason: drainReasons[v.reason],
		KnownDLQ: true, // the drain is only offered on queues the lists detected as dead-letter queues
	}
	arg := strings.TrimSpace(v.args[v.target])
	switch v.target {
	case targetOrigin:
		o.To = "origin"
	case targetExchange:
		if arg == "" {
			return o, errors.New("type the exchange name (exchange[:routing-key]) or choose another target")
		}
		o.To = "exchange:" + arg
	case targetFile:
		if arg == "" {
			return o, errors.New("type the path of the file (JSON lines) or choose another target")
		}
		o.To = "file:" + arg
	}
	var err error
	o.Limit, o.Rate, err = v.limitRate()
	return o, err
}

// limitRateOpts are the limit and rate of the options planned.
func (v *drainView) limitRateOpts() (int, float64) {
	if v.kafka {
		return v.kopts.Limit, v.kopts.Rate
	}
	return v.opts.Limit, v.opts.Rate
}

// blocked says why the plan cannot be confirmed ("": it can).
func (v *drainView) blocked() string {
	switch {
	case v.plan == nil:
		return "no plan"
	case len(v.plan.Problems) > 0:
		return "the plan has problems (above): fix them first; the drain would stop at the first message it cannot deliver"
	case v.plan.Selected == 0 && v.kafka && v.plan.SkipOversized && v.plan.OversizedCount > 0:
		return "" // skipping them still commits past them
	case v.plan.Selected == 0 && v.kafka:
		return "nothing to drain: no record after the drain group's committed offsets"
	case v.plan.Selected == 0 && v.plan.NotSampled != nil && v.plan.Estimate == 0:
		return "nothing to drain: the queue is empty"
	case v.plan.Selected == 0 && v.plan.NotSampled == nil:
		return "nothing to drain: no message in the sample passes the filters"
	}
	return ""
}

// --- keys ----------------------------------------------------------------

func (m *Model) drainViewKey(v *drainView, msg tea.KeyPressMsg) tea.Cmd {
	k := msg.String()
	if v.stage == drainRunning {
		// Cancel is safe and asks nothing: the backend requeues every
		// message the target did not confirm.
		if k == "esc" || m.keys.ForceQuit.Matches(msg) {
			if v.cancelling {
				return nil
			}
			v.cancelling = true
			if v.cancel != nil {
				v.cancel()
			}
			return m.setFlash(components.FlashWarn, "cancelling the drain: "+v.cancelSafety())
		}
		return nil
	}
	if m.keys.ForceQuit.Matches(msg) {
		v.abandon()
		return m.quit()
	}
	switch v.stage {
	case drainForm:
		return m.drainFormKey(v, msg)
	case drainPlanning:
		if k == "esc" {
			v.abandon()
			v.stage = drainForm
			return m.setFlash(components.FlashInfo, "plan cancelled")
		}
	case drainConfirm:
		return m.drainConfirmKey(v, msg)
	case drainDone:
		if k == "esc" || k == "enter" || k == "q" {
			return m.closeDrain(true)
		}
	}
	return nil
}

// abandon cancels the plan in flight, if any; its result will be dropped.
func (v *drainView) abandon() {
	if v.cancel != nil {
		v.cancel()
		v.cancel = nil
	}
	v.seq = 0
}

func (m *Model) drainFormKey(v *drainView, msg tea.KeyPressMsg) tea.Cmd {
	switch msg.String() {
	case "esc":
		return m.closeDrain(false)
	case "enter":
		return m.startPlan(v)
	case "tab", "down":
		v.nextField(1)
	case "shift+tab", "up":
		v.nextField(-1)
	case "right", "left":
		d := 1
		if msg.String() == "left" {
			d = -1
		}
		switch v.focus {
		case dfTarget:
			n := len(v.targets())
			v.target = (v.target + d + n) % n
		case dfReason:
			v.reason = (v.reason + d + len(drainReasons)) % len(drainReasons)
		case dfSkipOversized:
			v.skipOversized = !v.skipOversized
		}
	case "backspace":
		if p := v.field(); p != nil {
			r := []rune(*p)
			if len(r) > 0 {
				*p = string(r[:len(r)-1])
			}
		}
	default:
		if msg.Text != "" && msg.Mod&(tea.ModCtrl|tea.ModAlt) == 0 {
			v.typeText(msg.Text)
		}
	}
	v.formErr = ""
	return nil
}

// field is the text the focused field edits; nil when it is a choice.
func (v *drainView) field() *string {
	switch v.focus {
	case dfTarget:
		if v.target == targetOrigin {
			return nil
		}
		return &v.args[v.target]
	case dfOrigin:
		return &v.origin
	case dfLimit:
		return &v.limit
	case dfRate:
		return &v.rate
	}
	return nil
}

// typeText adds typed or pasted text to the focused field; control
// characters (a pasted newline) are dropped.
func (v *drainView) typeText(s string) {
	p := v.field()
	if p == nil {
		return
	}
	*p += dropControls(s)
}

func dropControls(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
}

// drainPaste takes a paste when the drain view is on top.
func (m *Model) drainPaste(msg tea.PasteMsg) bool {
	v, ok := m.top().(*drainView)
	if !ok || m.mode != modeNormal {
		return false
	}
	switch {
	case v.stage == drainForm:
		v.typeText(msg.Content)
	case v.stage == drainConfirm && v.prod:
		v.typed += dropControls(msg.Content)
	}
	return true
}

func (m *Model) drainConfirmKey(v *drainView, msg tea.KeyPressMsg) tea.Cmd {
	k := msg.String()
	switch ok := v.blocked() == ""; {
	case ok && v.prod:
		switch {
		case k == "esc":
			// No.
		case k == "enter":
			if v.typed == v.queue {
				return m.startRun(v)
			}
			v.typed = ""
			v.confirmErr = "that is not the " + v.what() + " name: nothing was changed"
			return m.setFlash(components.FlashError, v.confirmErr)
		case k == "backspace":
			if r := []rune(v.typed); len(r) > 0 {
				v.typed = string(r[:len(r)-1])
			}
			return nil
		case msg.Text != "" && msg.Mod&(tea.ModCtrl|tea.ModAlt) == 0:
			v.typed += dropControls(msg.Text)
			v.confirmErr = ""
			return nil
		default:
			return nil
		}
	case ok && (k == "y" || k == "Y"):
		return m.startRun(v)
	}
	// Anything else is No.
	v.stage = drainForm
	v.plan = nil
	v.tbl.SetRows(nil)
	return m.setFlash(components.FlashInfo, "not confirmed: nothing was changed")
}

// closeDrain pops the drain view; after a run the queue view below
// reloads at once.
func (m *Model) closeDrain(reload bool) tea.Cmd {
	closed, ran := m.top(), false
	if v, ok := closed.(*drainView); ok {
		v.abandon()
		ran = v.stage == drainDone && v.err == nil // the drain of a marked row went through
	}
	if len(m.stack) > 1 {
		m.stack = m.stack[:len(m.stack)-1]
	}
	if reload {
		m.cancelRefresh()
		m.refresh.idle = true // viewChanged starts a refresh of the view below
	}
	return tea.Batch(m.viewChanged(), m.walkClosed(closed, ran))
}

// --- commands and their messages -------------------------------------------

type drainPlanMsg struct {
	seq  uint64
	plan *actions.DrainPlan
	err  error
}

type drainSpinMsg struct{ seq uint64 }

type drainStartedMsg struct{ seq uint64 }

type drainProgressMsg struct {
	seq uint64
	p   actions.Progress
}

type drainDoneMsg struct {
	seq uint64
	res *actions.DrainResult
	err error
}

// drainOf is the drain view waiting for seq, if it is on top.
func (m *Model) drainOf(seq uint64) (*drainView, bool) {
	v, ok := m.top().(*drainView)
	if !ok || seq == 0 || v.seq != seq {
		return nil, false
	}
	return v, true
}

func (m *Model) startPlan(v *drainView) tea.Cmd {
	var planFn func(context.Context) (*actions.DrainPlan, error)
	if v.kafka {
		o, err := v.kafkaOptions(m)
		if err != nil {
			v.formErr = errText(err)
			return nil
		}
		v.kopts = o
		k := m.opts.KafkaDrainer
		planFn = func(ctx context.Context) (*actions.DrainPlan, error) { return actions.PlanKafkaDrain(ctx, k, o) }
	} else {
		o, err := v.options(m)
		if err != nil {
			v.formErr = errText(err)
			return nil
		}
		v.opts = o
		r := m.opts.Drainer
		planFn = func(ctx context.Context) (*actions.DrainPlan, error) { return actions.PlanDrain(ctx, r, o) }
	}
	v.formErr = ""
	v.stage = drainPlanning
	v.seq = m.nextLocalSeq()
	// No deadline on the whole plan: each call to the broker is bounded by
	// the client's timeout (a big queue or topic is read whole, a peer that
	// stops answering fails within the timeout); esc cancels it.
	ctx, cancel := context.WithCancel(m.ctx)
	v.cancel = cancel
	seq := v.seq
	plan := func() tea.Msg {
		defer cancel()
		p, err := planFn(ctx)
		if err == nil && p == nil {
			err = errors.New("the plan is empty")
		}
		return drainPlanMsg{seq: seq, plan: p, err: err}
	}
	return tea.Batch(plan, m.after(v.spin.Spinner.FPS, drainSpinMsg{seq: seq}))
}

func (msg drainSpinMsg) update(m *Model) tea.Cmd {
	v, ok := m.drainOf(msg.seq)
	if !ok || v.stage != drainPlanning {
		return nil
	}
	v.spin, _ = v.spin.Update(spinner.TickMsg{ID: v.spin.ID(), Time: m.now()})
	return m.after(v.spin.Spinner.FPS, msg)
}

func (msg drainPlanMsg) update(m *Model) tea.Cmd {
	v, ok := m.drainOf(msg.seq)
	if !ok || v.stage != drainPlanning {
		return nil
	}
	v.cancel = nil
	if msg.err != nil {
		v.stage = drainForm
		v.formErr = "the plan failed: " + errText(msg.err)
		return m.setFlash(components.FlashError, v.formErr)
	}
	v.plan = msg.plan
	v.stage = drainConfirm
	v.typed, v.confirmErr = "", ""
	rows := make([]components.Row, 0, len(msg.plan.Routes))
	for i, r := range msg.plan.Routes {
		rows = append(rows, components.Row{ID: itoa(i), Cells: []string{safe(r.Target), fmtInt(int64(r.Count))}, Nums: []float64{0, float64(r.Count)}})
	}
	v.tbl.SetRows(rows)
	return nil
}

// drainRun connects the goroutine running ExecuteDrain to the model:
// progress (the latest only: a slow frame skips reports, it never blocks
// the drain) and the outcome.
type drainRun struct {
	progress chan actions.Progress
	done     chan drainDoneMsg
}

func newDrainRun() *drainRun {
	return &drainRun{progress: make(chan actions.Progress, 1), done: make(chan drainDoneMsg, 1)}
}

// report is ExecuteDrain's progress callback: it replaces a report the
// model has not read yet. Called from the drain's goroutine only.
func (r *drainRun) report(p actions.Progress) {
	select {
	case <-r.progress:
	default:
	}
	select {
	case r.progress <- p:
	default:
	}
}

// wait is the command that reads the next report or the outcome; the model
// re-issues it after each report.
func (r *drainRun) wait(seq uint64) tea.Cmd {
	return func() tea.Msg {
		select {
		case p := <-r.progress:
			return drainProgressMsg{seq: seq, p: p}
		case d := <-r.done:
			d.seq = seq
			return d
		}
	}
}

func (m *Model) startRun(v *drainView) tea.Cmd {
	v.stage = drainRunning
	v.seq = m.nextLocalSeq()
	v.progressed, v.cancelling = false, false
	v.prog = actions.Progress{}
	ctx, cancel := context.WithCancel(m.ctx)
	v.cancel = cancel
	run := newDrainRun()
	v.run = run
	audit, seq := m.opts.Audit, v.seq
	var exec func(context.Context) (*actions.DrainResult, error)
	if v.kafka {
		// The plan the operator saw goes to the audit log with the run.
		k, o := m.opts.KafkaDrainer, v.kopts
		o.Plan = v.plan
		exec = func(ctx context.Context) (*actions.DrainResult, error) {
			return actions.ExecuteKafkaDrain(ctx, k, o, audit, run.report)
		}
	} else {
		// The plan the operator saw bounds the run and goes to the audit log.
		r, o := m.opts.Drainer, v.opts
		o.Plan = v.plan
		exec = func(ctx context.Context) (*actions.DrainResult, error) {
			return actions.ExecuteDrain(ctx, r, o, audit, run.report)
		}
	}
	return func() tea.Msg {
		go func() {
			defer cancel()
			res, err := exec(ctx)
			run.done <- drainDoneMsg{res: res, err: err}
		}()
		return drainStartedMsg{seq: seq}
	}
}

func (msg drainStartedMsg) update(m *Model) tea.Cmd {
	v, ok := m.drainOf(msg.seq)
	if !ok || v.run == nil {
		return nil
	}
	return v.run.wait(msg.seq)
}

func (msg drainProgressMsg) update(m *Model) tea.Cmd {
	v, ok := m.drainOf(msg.seq)
	if !ok || v.stage != drainRunning {
		return nil
	}
	v.prog, v.progressed = msg.p, true
	return v.run.wait(msg.seq)
}

func (msg drainDoneMsg) update(m *Model) tea.Cmd {
	v, ok := m.drainOf(msg.seq)
	if !ok || v.stage != drainRunning {
		return nil
	}
	v.stage = drainDone
	v.cancel = nil
	v.res, v.err = msg.res, msg.err
	switch {
	case msg.err != nil && v.cancelling:
		return m.setFlash(components.FlashWarn, "drain cancelled: "+v.resultLine())
	case msg.err != nil:
		return m.setFlash(components.FlashError, "drain failed: "+errText(msg.err))
	}
	return m.setFlash(components.FlashInfo, "drain done: "+v.resultLine())
}

// --- drawing ----------------------------------------------------------------

// body draws the stage's text wrapped to the width (long lines, a
// reason, a note, the question, wrap: their numbers are never cut off),
// scrolled so that what the operator acts on is on screen at any size:
// the field being typed into and the form's error, the planning spinner,
// the confirmation, the progress bar and its cancel hint, the result.
func (v *drainView) body(st *styles.Styles) []string {
	var b textBlock
	title := "Drain the dead letters of " + safe(v.queue) + " (vhost " + safe(v.vhost) + ")"
	if v.kafka {
		title = "Drain the dead letters of Kafka topic " + safe(v.queue)
	}
	if v.broker != "" {
		title += " on " + safe(v.broker)
	}
	b.add(st.SectionTitle.Render(title))
	b.gap()
	switch v.stage {
	case drainForm, drainPlanning:
		v.formParts(&b, st)
		b.gap()
		if v.formErr != "" {
			b.keep("  " + st.FlashError.Render("✗ "+v.formErr))
		}
		keys := st.Dim.Render("  enter plans (a dry run, changes nothing) · tab/↓ next field · shift+tab/↑ previous · ←/→ change · esc cancels")
		switch {
		case v.stage == drainPlanning:
			b.pin("  " + v.spin.View() + " " + st.Connecting.Render("planning: peeking at the messages (changes nothing)… esc cancels"))
		case ansi.StringWidth(keys) <= v.width:
			b.add(keys) // narrower, the key hints below say it
		}
	case drainConfirm:
		plan := v.planLines(st)
		b.keep(plan[0])
		b.add(plan[1:]...)
		b.gap()
		v.confirmParts(&b, st)
	case drainRunning:
		b.add(v.planLines(st)[0])
		b.gap()
		v.progressParts(&b, st)
	case drainDone:
		b.add(v.planLines(st)[0])
		b.gap()
		v.doneParts(&b, st)
	}
	return b.lines(v.width, v.height)
}

// hints are the keys of the drain's stage: the view takes every key.
func (v *drainView) hints() []key.Binding {
	h := func(k, desc string) key.Binding { return key.NewBinding(key.WithHelp(k, desc)) }
	switch v.stage {
	case drainPlanning:
		return []key.Binding{h("esc", "cancel the plan")}
	case drainConfirm:
		switch {
		case v.blocked() != "":
			return []key.Binding{h("any key", "back to the form")}
		case v.prod:
			return []key.Binding{h("type", "the "+v.what()+" name"), h("enter", "confirm"), h("esc", "cancel")}
		}
		return []key.Binding{h("y", "drain"), h("any other key", "cancel")}
	case drainRunning:
		return []key.Binding{h("esc", "cancel (safe)")}
	case drainDone:
		return []key.Binding{h("enter/esc", "close")}
	}
	return []key.Binding{h("enter", "plan (dry run)"), h("tab/↓", "next field"), h("←/→", "change"), h("esc", "cancel")}
}

// formParts adds the form's fields, one line each (wrapped when the
// width asks), the field being edited pinned. A field's hint is dropped
// when it does not fit on the field's line, except the focused field's,
// which goes on a line of its own.
func (v *drainView) formParts(b *textBlock, st *styles.Styles) {
	editing := v.stage == drainForm
	// field adds a field's line; typed: the value is typed in (its end,
	// the cursor, is what stays on screen), else chosen (its start).
	field := func(f int, name, value, hint string, typed bool) {
		line := "  " + st.FieldLabel.Render(components.Fit(name, 8, false)) + " " + value
		focused := v.focus == f && editing
		if focused {
			line = st.FieldFocus.Render("› "+components.Fit(name, 8, false)) + " " + value
		}
		full := line
		if hint != "" {
			full += "   " + st.Dim.Render(hint)
		}
		pin := b.pin
		if typed {
			pin = b.pinEnd
		}
		switch {
		case focused && ansi.StringWidth(full) <= v.width:
			pin(full)
		case focused:
			pin(line)
			if hint != "" && v.formErr == "" { // an error says what is wanted
				b.keep(components.Spaces(11) + st.Dim.Render(hint))
			}
		case ansi.StringWidth(full) <= v.width:
			b.add(full)
		default:
			b.add(line)
		}
	}
	text := func(f int, s string) string {
		s = safe(s)
		if v.focus == f && editing {
			s += "█"
		}
		return s
	}
	choices := func(opts []string, cur int, none string) string {
		parts := make([]string, len(opts))
		for i, o := range opts {
			if o == "" {
				o = none
			}
			if i == cur {
				parts[i] = st.Choice.Render("[" + o + "]")
			} else {
				parts[i] = " " + o + " "
			}
		}
		return strings.Join(parts, " ")
	}
	if v.kafka {
		target, hint := choices(kafkaDrainTargets, v.target, ""), "back to the topic (and partition) each record died in"
		if v.target == targetTopic {
			target += "   name " + text(dfTarget, v.args[targetTopic])
			hint = "every record there, by key"
		}
		skip := 0
		if v.skipOversized {
			skip = 1
		}
		field(dfTarget, "Target", target, hint, v.target == targetTopic)
		field(dfLimit, "Limit", text(dfLimit, v.limit), "at most N records; empty: up to the log end at start", true)
		field(dfRate, "Rate", text(dfRate, v.rate), "at most N records/s; empty: unlimited", true)
		field(dfSkipOversized, "Too big", choices(skipOversizedChoices, skip, ""), "records larger than their target's max.message.bytes", false)
		b.gap()
		b.add(st.Dim.Render("  every record from where the last drain stopped (consumer group " + safe(kafkaDrainGroup(v.queue)) + "); no filter"))
		return
	}
	target, hint := choices(drainTargets, v.target, ""), ""
	switch v.target {
	case targetOrigin:
		hint = "back to the queue each message died in"
	case targetExchange:
		target += "   exchange[:routing-key] " + text(dfTarget, v.args[targetExchange])
	case targetFile:
		target += "   path " + text(dfTarget, v.args[targetFile])
		hint = "(JSON lines)"
	}
	field(dfTarget, "Target", target, hint, v.target != targetOrigin)
	field(dfOrigin, "Origin", text(dfOrigin, v.origin), "only dead letters from this origin queue; empty: all", true)
	field(dfReason, "Reason", choices(drainReasons, v.reason, "any"), "", false)
	field(dfLimit, "Limit", text(dfLimit, v.limit), "at most N messages; empty: the depth at start", true)
	field(dfRate, "Rate", text(dfRate, v.rate), "at most N messages/s; empty: unlimited", true)
}

// planLines shows the plan as `mqops drain` prints it.
func (v *drainView) planLines(st *styles.Styles) []string {
	p := v.plan
	if p == nil {
		return []string{""}
	}
	scope := fmtInt(int64(p.Sampled)) + " sampled"
	if p.Complete {
		scope = "all"
	}
	filter := ""
	if v.opts.Origin != "" {
		filter += " · origin " + safe(v.opts.Origin)
	}
	if v.opts.Reason != "" {
		filter += " · reason " + safe(v.opts.Reason)
	}
	limit, rate := v.limitRateOpts()
	if limit > 0 {
		filter += " · limit " + fmtInt(int64(limit))
	}
	if rate > 0 {
		filter += " · rate " + strconv.FormatFloat(rate, 'f', -1, 64) + "/s"
	}
	// a plan of part of a RabbitMQ queue says its depth and scales the
	// sample to it; one that could not read the queue says so
	estimated := !v.kafka && !p.Complete && p.Depth > 0 && p.NotSampled == nil
	head := fmt.Sprintf("plan: %s → %s (%s): %s to move, %s skipped by filter",
		safe(p.Source), safe(p.To), scope, fmtInt(int64(p.Selected)), fmtInt(int64(p.Skipped)))
	switch {
	case v.kafka:
		head = fmt.Sprintf("plan: %s → %s: %s record(s) to move of %s read", safe(p.Source), safe(p.To),
			fmtInt(int64(p.Selected)), fmtInt(int64(p.Sampled)))
	case p.NotSampled != nil:
		head = fmt.Sprintf("plan: %s → %s (depth %s; not sampled): up to %s to move", safe(p.Source), safe(p.To), fmtInt(p.Depth), fmtInt(p.Estimate))
	case estimated:
		head = fmt.Sprintf("plan: %s → %s (depth %s; %s sampled, %s of them pass the filters): about %s to move",
			safe(p.Source), safe(p.To), fmtInt(p.Depth), fmtInt(int64(p.Sampled)), fmtInt(int64(p.Selected)), fmtInt(p.Estimate))
	}
	lines := []string{head + st.Dim.Render(filter)}
	for _, r := range p.Routes {
		line := fmt.Sprintf("  %6s → %s", fmtInt(int64(r.Count)), safe(r.Target))
		switch {
		case p.NotSampled != nil:
			line = fmt.Sprintf("  %6s → %s", "", safe(r.Target))
		case estimated:
			line += st.Dim.Render("  (about " + fmtInt(r.Estimate) + " of the depth)")
		}
		if r.Problem != "" {
			line += "  " + st.FlashError.Render("!! "+safe(r.Problem))
		}
		lines = append(lines, line)
	}
	for _, pr := range p.Problems {
		lines = append(lines, "  "+st.FlashError.Render("problem: "+safe(pr)))
	}
	if p.NotSampled != nil {
		lines = append(lines, "  "+st.FlashWarn.Render("not sampled: "+safe(p.NotSampled.Reason)))
	}
	for _, n := range p.Notes {
		lines = append(lines, "  "+st.Dim.Render("note: "+safe(n)))
	}
	lines = append(lines, oversizedLines(p, st)...)
	if p.Warning != "" {
		lines = append(lines, "  "+st.FlashWarn.Render("warning: "+safe(p.Warning)))
	}
	if estimated {
		lines = append(lines, st.Dim.Render("  the counts are of a sample, scaled to the depth: the drain moves every message that passes the filters, up to the depth planned"))
	} else if !p.Complete && p.NotSampled == nil {
		lines = append(lines, st.Dim.Render("  the counts are of a sample: the drain moves every message that passes the filters, up to the depth at start"))
	}
	return lines
}

// maxOversizedShown bounds the oversized records the plan screen lists.
const maxOversizedShown = 5

// oversizedLines lists the records of a Kafka plan that their target
// cannot take, and what the drain does with them.
func oversizedLines(p *actions.DrainPlan, st *styles.Styles) []string {
	if p.OversizedCount == 0 {
		return nil
	}
	then := "each partition stops before its first: choose Too big: yes to skip them"
	style := st.FlashError
	if p.SkipOversized {
		then, style = "skipped, and named in the result and the audit log", st.FlashWarn
	}
	lines := []string{"  " + style.Render(fmtInt(int64(p.OversizedCount))+" record(s) too large for their target: "+then)}
	for i, ov := range p.Oversized {
		if i == maxOversizedShown {
			break
		}
		lines = append(lines, fmt.Sprintf("    partition %d offset %s: %s bytes > %s (max.message.bytes of topic %s)",
			ov.Partition, fmtInt64(ov.Offset), fmtInt(int64(ov.Size)), fmtInt(int64(ov.Limit)), safe(ov.Target)))
	}
	if more := p.OversizedCount - min(len(p.Oversized), maxOversizedShown); more > 0 {
		lines = append(lines, st.Dim.Render("    … and "+fmtInt(int64(more))+" more (mqops drain --dry-run lists the first 100)"))
	}
	return lines
}

// confirmParts adds the confirmation, its question (or the typed name)
// pinned.
func (v *drainView) confirmParts(b *textBlock, st *styles.Styles) {
	if why := v.blocked(); why != "" {
		b.pin(st.FlashError.Render(why))
		b.keep(st.Dim.Render("any key goes back to the form"))
		return
	}
	q := "Drain " + safe(v.plan.Summary()) + "?"
	if !v.prod {
		b.pinEnd(st.Confirm.Render(q + " [y/N]"))
		b.keep(st.Dim.Render("y drains · any other key cancels"))
		return
	}
	b.keep(st.Confirm.Render(q))
	b.pinEnd(st.Confirm.Render("This is a production context: type the "+v.what()+" name ("+safe(v.queue)+") to confirm: ") + safe(v.typed) + "█")
	b.keep(st.Dim.Render("enter confirms · esc cancels"))
	if v.confirmErr != "" {
		b.keep(st.FlashError.Render("✗ " + v.confirmErr))
	}
}

// progressParts adds the progress of the run, its bar pinned, and how to
// cancel it.
func (v *drainView) progressParts(b *textBlock, st *styles.Styles) {
	p := v.prog
	barW := max(min(40, v.width-40), 10)
	frac := 0.0
	if p.Total > 0 {
		frac = min(float64(p.Seen)/float64(p.Total), 1)
	}
	n := int(frac * float64(barW))
	bar := st.BarDone.Render(strings.Repeat("█", n)) + st.BarLeft.Render(strings.Repeat("░", barW-n))
	total := "?"
	if v.progressed {
		total = fmtInt(int64(p.Total))
	}
	counts := fmt.Sprintf("  %s %s/%s seen · moved %s · skipped by filter %s · failed %s",
		bar, fmtInt(int64(p.Seen)), total, fmtInt(int64(p.Done)), fmtInt(int64(p.Skipped)), fmtInt(int64(p.Failed)))
	if v.kafka {
		counts = fmt.Sprintf("  %s %s/%s seen · moved %s · failed %s",
			bar, fmtInt(int64(p.Seen)), total, fmtInt(int64(p.Done)), fmtInt(int64(p.Failed)))
	}
	b.pin(counts)
	b.keep(fmt.Sprintf("  %s msg/s · ETA %s · elapsed %s", fmtRate(p.Rate()), fmtDuration(p.ETA()), fmtDuration(p.Elapsed)))
	b.gap()
	if v.cancelling {
		b.keep(st.FlashWarn.Render("  cancelling… " + v.cancelSafety()))
	} else {
		b.keep(st.Dim.Render("  esc or ctrl+c cancels (safe: " + v.cancelSafety() + ")"))
	}
}

// cancelSafety says why cancelling a run loses nothing.
func (v *drainView) cancelSafety() string {
	if v.kafka {
		return "records not yet acknowledged by the target are not committed; the next drain resumes there"
	}
	return "messages not yet confirmed by the target are requeued"
}

// resultLine is the outcome as `mqops drain` prints it.
func (v *drainView) resultLine() string {
	r := v.res
	if r == nil {
		return "no result"
	}
	left := fmtInt(int64(r.Left))
	if r.Left < 0 {
		left = "unknown"
	}
	if v.kafka {
		skipped := ""
		if r.SkippedOversized > 0 {
			skipped = ", skipped " + fmtInt(int64(r.SkippedOversized)) + " too large"
		}
		return fmt.Sprintf("run %s: seen %s, moved %s%s, failed %s, left in %s %s (%s records/s)",
			safe(r.RunID), fmtInt(int64(r.Seen)), fmtInt(int64(r.Moved)), skipped, fmtInt(int64(r.Failed)),
			safe(v.queue), left, fmtRate(r.Rate))
	}
	return fmt.Sprintf("run %s: seen %s, moved %s, skipped by filter %s, failed %s, left in %s %s (%s msg/s)",
		safe(r.RunID), fmtInt(int64(r.Seen)), fmtInt(int64(r.Moved)), fmtInt(int64(r.Skipped)), fmtInt(int64(r.Failed)),
		safe(v.queue), left, fmtRate(r.Rate))
}

// stoppedLine says why the run stopped.
func (v *drainView) stoppedLine() string {
	if v.res == nil {
		return ""
	}
	if v.kafka {
		return "stopped because " + actions.KafkaStopText(v.res.StoppedBecause)
	}
	return "stopped: " + safe(orDash(v.res.StoppedBecause))
}

// doneParts adds the outcome, its title pinned.
func (v *drainView) doneParts(b *textBlock, st *styles.Styles) {
	title := st.Cells[styles.CellOK].Render("Drain finished")
	switch {
	case v.err != nil && v.cancelling:
		title = st.FlashWarn.Render("Drain cancelled")
	case v.err != nil:
		title = st.FlashError.Render("Drain failed")
	case v.res != nil && v.res.Failed > 0:
		title = st.FlashWarn.Render("Drain finished with failures")
	}
	b.pin(title)
	b.keep("  " + v.resultLine())
	if v.res != nil {
		b.keep("  " + v.stoppedLine())
	}
	if v.err != nil {
		b.keep("  " + st.FlashError.Render("✗ "+errText(v.err)))
	}
	b.gap()
	if v.kafka {
		b.add(st.Dim.Render("  enter or esc closes and reloads the list"))
		return
	}
	b.add(st.Dim.Render("  enter or esc closes and reloads the queue"))
}
