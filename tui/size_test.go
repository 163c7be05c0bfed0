package tui

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/tui/action"
)

// The console at any size (issue 7, class 12): every view and every stage
// of both drains, on fixtures with names as long as real clusters have,
// drawn at 80×24 and 40×10 (goldens) and checked at sizes from 20×6 to
// 200×60 (invariants).

// longName renames the fixtures' queues, topics and groups as a real
// cluster names them.
var longName = map[string]string{
	"billing":              "hbscale-bulk-billing-consumer-07",
	"shipping":             "hbscale-bulk-shipping-consumer-12",
	"analytics":            "hbscale-analytics-spark-ingest-3",
	"orders":               "hbd26589.orders",
	"payments":             "hbd26589.payments",
	"audit.log":            "hbd26589.audit.log",
	"orders.dlq":           "hbd26589.orders.dlq",
	"orders.retry":         "hbd26589.orders.retry",
	"invoices":             "hbd26589.billing.invoices",
	"invoices.dead-letter": "hbd26589.billing.invoices.dead-letter",
	"orders.DLT":           "hbd26589.orders.DLT",
}

func long(s string) string {
	if l, ok := longName[s]; ok {
		return l
	}
	return s
}

const (
	longCluster  = "b-1.hbscale-prod.kafka.eu-west-1.amazonaws.com:9092"
	longContext  = "hbscale-staging-eu"
	prodContext  = "prod-eu-west-1"
	longOrdersDL = "hbd26589.orders.dlq"
)

// longSnapshot is cluster(k) with long names.
func longSnapshot(k int) *backends.ClusterSnapshot {
	s := cluster(k)
	for i := range s.Topics {
		t := &s.Topics[i]
		t.Name = long(t.Name)
		for j := range t.Partitions {
			t.Partitions[j].Topic = long(t.Partitions[j].Topic)
		}
	}
	for i := range s.Groups {
		g := &s.Groups[i]
		g.Name = long(g.Name)
		for j := range g.Partitions {
			g.Partitions[j].Topic = long(g.Partitions[j].Topic)
		}
	}
	return s
}

// longMessages renames the queues of the messages' death histories.
func longMessages(ms []backends.Message) []backends.Message {
	for i := range ms {
		for j := range ms[i].Deaths {
			ms[i].Deaths[j].Queue = long(ms[i].Deaths[j].Queue)
		}
		if fd := ms[i].FirstDeath; fd != nil {
			c := *fd
			c.Queue = long(c.Queue)
			ms[i].FirstDeath = &c
		}
	}
	return ms
}

// newLongFakeRabbit is newFakeRabbit with long names.
func newLongFakeRabbit() *fakeRabbit {
	f := newFakeRabbit()
	for _, step := range f.steps {
		for i := range step {
			step[i].Name = long(step[i].Name)
		}
	}
	d := *f.details[queueKey("/", "orders")]
	d.Queue.Name = long(d.Queue.Name)
	d.Bindings = append([]backends.Binding(nil), d.Bindings...)
	for i := range d.Bindings {
		d.Bindings[i].Destination = long(d.Bindings[i].Destination)
	}
	f.details = map[string]*backends.QueueDetail{queueKey("/", long("orders")): &d}
	f.messages = map[string][]backends.Message{queueKey("/", longOrdersDL): longMessages(deadLetters())}
	return f
}

// longRecords renames the topics of Kafka dead-letter records.
func longRecords(recs []backends.KafkaRecord) []backends.KafkaRecord {
	for i := range recs {
		r := &recs[i]
		r.Topic = long(r.Topic)
		if r.DeadLetter != nil {
			r.DeadLetter.OriginalTopic = long(r.DeadLetter.OriginalTopic)
		}
		for j := range r.Headers {
			if r.Headers[j].Key == "kafka_dlt-original-topic" {
				r.Headers[j].Value = []byte(long(string(r.Headers[j].Value)))
			}
		}
	}
	return recs
}

// newLongFakeKafkaDLQ is newFakeKafkaDLQ with long names.
func newLongFakeKafkaDLQ(t testing.TB) *fakeKafkaDLQ {
	f := newFakeKafkaDLQ(t)
	for i := range f.dlts {
		f.dlts[i].Topic = long(f.dlts[i].Topic)
	}
	f.records = map[string][]backends.KafkaRecord{long("orders.DLT"): longRecords(dltRecords())}
	return f
}

// sizeFixture is a console on the long-named fixtures: Kafka (three
// snapshots), RabbitMQ, Kafka dead-letter topics, both drainers, an audit
// log.
type sizeFixture struct {
	h      *harness
	rd     *fakeDrainer
	kd     *fakeKafkaDrainer
	cancel func() // ends a drain left running
}

func newSizeFixture(t *testing.T, o Options) *sizeFixture {
	t.Helper()
	src := &cannedSource{}
	for k := 0; k < 3; k++ {
		src.push(longSnapshot(k), nil)
	}
	rd := newFakeDrainer()
	rd.queues = map[string][]backends.Message{
		queueKey("/", longOrdersDL):     longMessages(deadLetters()),
		queueKey("/", long("orders")):   nil,
		queueKey("/", long("payments")): nil,
	}
	kd := newFakeKafkaDrainer(t)
	kd.fakeKafkaDLQ = newLongFakeKafkaDLQ(t)
	kd.records[long("orders.DLT")] = longRecords(drainRecords())
	kd.topics = map[string]int32{long("orders.DLT"): 2, long("orders"): 3, long("payments"): 1, long("orders.retry"): 1}
	if o.Context == "" {
		o.Context = longContext
	}
	o.Cluster = longCluster
	o.Rabbit = newLongFakeRabbit()
	o.KafkaDLQ = kd.fakeKafkaDLQ
	o.Drainer = rd
	o.KafkaDrainer = kd
	if o.KafkaResetter == nil { // as cmd passes it: R on the groups
		o.KafkaResetter = newFakeResetter()
	}
	if o.KafkaReplayer == nil { // as cmd passes it: P on the topics
		o.KafkaReplayer = newFakeReplayer()
	}
	// the audit log at a relative path: the same on every screen (the
	// goldens are read from the package's directory: requireGolden)
	t.Chdir(t.TempDir())
	o.Audit = auditFixtureAt(t, filepath.Join("state", "audit.jsonl"))
	h := newHarness(t, o, src)
	fire[refreshTickMsg](h)
	fire[refreshTickMsg](h)
	return &sizeFixture{h: h, rd: rd, kd: kd}
}

// sizeCase is a screen to draw at any size; must are texts that are on
// every frame of it at every size checked (the focused field, the
// question, the progress).
type sizeCase struct {
	name string
	opts Options
	// prepare, if set, completes the options with what needs the test
	// (an application database of its own).
	prepare func(t *testing.T, o *Options)
	setup   func(t *testing.T, f *sizeFixture)
	must    []string
}

// openRabbitDLQ selects the long-named orders DLQ in :dlq.
func openRabbitDLQ(h *harness) {
	h.command("dlq")
	h.selectRow(queueKey("/", longOrdersDL))
}

func openKafkaDLT(h *harness) {
	h.command("dlq")
	h.selectRow(kafkaRowPrefix + long("orders.DLT"))
}

// openDrainForm opens the drain form of the long-named orders DLQ and tabs to
// the field at index field (0: target).
func openDrainForm(h *harness, field int) {
	openRabbitDLQ(h)
	h.keys("D")
	for i := 0; i < field; i++ {
		h.keys("tab")
	}
}

func openKafkaDrainForm(h *harness, field int) {
	openKafkaDLT(h)
	h.keys("D")
	for i := 0; i < field; i++ {
		h.keys("tab")
	}
}

// running starts the confirmed drain of the view on top with a gate on
// its moves and lets one message or record through.
func running(t *testing.T, f *sizeFixture, gate *chan struct{}) {
	t.Helper()
	*gate = make(chan struct{})
	_, cmd := f.h.m.Update(keyPress("y"))
	wait := step(f.h, cmd)
	(*gate) <- struct{}{}
	step(f.h, wait)
	v := f.h.actionView().screen
	if _, progressed := v.(interface {
		Progress() (actions.Progress, bool)
	}).Progress(); v.Stage() != action.StageRunning || !progressed {
		t.Fatalf("not running:\n%s", f.h.screen())
	}
	f.cancel = func() { // and wait for the run's end (its audit entry)
		if v.Stage() != action.StageRunning {
			return
		}
		v.Update(keyPress("esc"))
		for v.Stage() == action.StageRunning {
			for _, msg := range execCmd(v.Wait()) {
				v.Update(msg)
			}
		}
	}
}

// finish runs the confirmed drain of the view on top to its end.
func finish(t *testing.T, h *harness) {
	t.Helper()
	_, cmd := h.m.Update(keyPress("y"))
	untilDone(t, h, cmd)
}

// untilDone runs cmd and the commands that follow until the run's
// outcome is delivered; the outcome's rate, measured on the wall clock,
// is pinned to 250/s for the goldens.
func untilDone(t *testing.T, h *harness, cmd tea.Cmd) {
	t.Helper()
	v := h.actionView().screen
	queue := execCmd(cmd)
	for len(queue) > 0 && v.Stage() == action.StageRunning {
		msg := queue[0]
		queue = queue[1:]
		if m, ok := msg.(delayedMsg); ok {
			h.pending = append(h.pending, m)
			continue
		}
		_, c := h.m.Update(msg)
		queue = append(queue, execCmd(c)...)
	}
	if v.Stage() != action.StageDone {
		t.Fatalf("the drain did not finish:\n%s", h.screen())
	}
	if res, _ := v.(interface {
		Result() (*actions.DrainResult, error)
	}).Result(); res != nil {
		res.Rate = 250
	}
}

// drainStages are the stages of a drain whose form open opens (prefix
// names them): planning, the plan and its confirmation, the run, its
// result and its cancellation; gate holds the run, total is its count.
func drainStages(prefix string, open func(*harness, int), gate func(*sizeFixture) *chan struct{}, total string) []sizeCase {
	plan := func(f *sizeFixture) {
		open(f.h, 0)
		f.h.keys("enter")
	}
	return []sizeCase{
		{name: prefix + "_planning", setup: func(t *testing.T, f *sizeFixture) {
			open(f.h, 0)
			f.h.m.Update(keyPress("enter")) // the plan is not run
		}, must: []string{"planning"}},
		{name: prefix + "_confirm", setup: func(t *testing.T, f *sizeFixture) { plan(f) }, must: []string{"[y/N]"}},
		{name: prefix + "_progress", setup: func(t *testing.T, f *sizeFixture) {
			plan(f)
			running(t, f, gate(f))
		}, must: []string{"1/" + total}},
		{name: prefix + "_result", setup: func(t *testing.T, f *sizeFixture) {
			plan(f)
			finish(t, f.h)
		}, must: []string{"Drain finished"}},
		{name: prefix + "_cancelled", setup: func(t *testing.T, f *sizeFixture) {
			plan(f)
			running(t, f, gate(f))
			f.h.keys("esc")
			untilDone(t, f.h, f.h.actionView().screen.Wait())
		}, must: []string{"Drain cancelled"}},
	}
}

func sizeCases() []sizeCase {
	cases := append(
		drainStages("drain", openDrainForm, func(f *sizeFixture) *chan struct{} { return &f.rd.gate }, "25"),
		drainStages("kdrain", openKafkaDrainForm, func(f *sizeFixture) *chan struct{} { return &f.kd.gate }, "24")...)
	cases = append(cases, storeSizeCases()...)
	return append(cases, []sizeCase{
		{name: "groups"},
		{name: "groups_readonly_red", opts: Options{Context: prodContext, Color: "red", ReadOnly: true}},
		{name: "groups_stale", setup: func(t *testing.T, f *sizeFixture) {
			f.h.src.set(nil, errors.New("kafka: client has run out of available brokers to talk to"))
			fire[refreshTickMsg](f.h)
		}},
		{name: "group", setup: func(t *testing.T, f *sizeFixture) {
			f.h.selectRow(long("billing"))
			f.h.keys("enter")
		}},
		{name: "topics", setup: func(t *testing.T, f *sizeFixture) { f.h.command("topics") }},
		{name: "topic", setup: func(t *testing.T, f *sizeFixture) {
			f.h.command("topics")
			f.h.selectRow(long("orders"))
			f.h.keys("enter")
		}},
		{name: "topic_groups_pane", setup: func(t *testing.T, f *sizeFixture) {
			f.h.command("topics")
			f.h.selectRow(long("orders"))
			f.h.keys("enter", "tab", "j")
		}, must: []string{"▸ CONSUMER GROUPS"}},
		{name: "queues", setup: func(t *testing.T, f *sizeFixture) {
			f.h.command("queues")
			f.h.selectRow(queueKey("/", longOrdersDL))
		}},
		{name: "queue", setup: func(t *testing.T, f *sizeFixture) {
			f.h.command("queues")
			f.h.selectRow(queueKey("/", long("orders")))
			f.h.keys("enter")
		}},
		{name: "dlq_list", setup: func(t *testing.T, f *sizeFixture) { openRabbitDLQ(f.h) }},
		{name: "dlq_groups_rabbit", setup: func(t *testing.T, f *sizeFixture) {
			openRabbitDLQ(f.h)
			f.h.keys("enter")
		}},
		{name: "dlq_groups_kafka", setup: func(t *testing.T, f *sizeFixture) {
			openKafkaDLT(f.h)
			f.h.keys("enter")
		}},
		{name: "peek_rabbit_list", setup: func(t *testing.T, f *sizeFixture) {
			openRabbitDLQ(f.h)
			f.h.keys("p", "j")
		}, must: []string{"ord-1002"}},
		{name: "peek_rabbit_detail", setup: func(t *testing.T, f *sizeFixture) {
			openRabbitDLQ(f.h)
			f.h.keys("p", "tab", "j")
		}, must: []string{"▸ message 0"}},
		{name: "peek_rabbit_asks", setup: func(t *testing.T, f *sizeFixture) {
			f.h.m.opts.Rabbit.(*fakeRabbit).costly()
			openRabbitDLQ(f.h)
			f.h.keys("p")
		}, must: []string{"Peek at page 1", "y read the page"}},
		{name: "peek_kafka_list", setup: func(t *testing.T, f *sizeFixture) {
			openKafkaDLT(f.h)
			f.h.keys("p", "j")
		}, must: []string{"0x00"}},
		{name: "peek_kafka_detail", setup: func(t *testing.T, f *sizeFixture) {
			openKafkaDLT(f.h)
			f.h.keys("p", "tab", "j")
		}, must: []string{"▸ record 0"}},
		{name: "value_rabbit_body", setup: func(t *testing.T, f *sizeFixture) {
			openRabbitDLQ(f.h)
			f.h.keys("p", "tab", "G", "enter")
		}, must: []string{"› value", `{"order":1001`}},
		{name: "value_kafka_exception", setup: func(t *testing.T, f *sizeFixture) {
			openKafkaDLT(f.h)
			f.h.keys("p", "tab", "j", "j", "j", "j", "enter")
		}, must: []string{"› value", "Listener method thre"}},
		{name: "audit", setup: func(t *testing.T, f *sizeFixture) { f.h.command("audit") }},
		{name: "audit_entry", setup: func(t *testing.T, f *sizeFixture) {
			f.h.command("audit")
			f.h.keys("j", "enter")
		}},
		{name: "help", setup: func(t *testing.T, f *sizeFixture) { f.h.keys("?") }},
		{name: "palette", setup: func(t *testing.T, f *sizeFixture) {
			f.h.keys(":")
			f.h.typeText("ctx prod-eu-west-1-with-a-much-longer-context-name")
		}, must: []string{"-name"}},
		{name: "filter_typing", setup: func(t *testing.T, f *sizeFixture) {
			f.h.keys("/")
			f.h.typeText("billing|shipping|analytics[")
		}, must: []string{"ytics["}},
		{name: "filter_active", setup: func(t *testing.T, f *sizeFixture) {
			f.h.keys("/")
			f.h.typeText("billing|shipping")
			f.h.keys("enter", "space")
		}},

		// The drain of a RabbitMQ dead-letter queue, stage by stage.
		{name: "drain_form_target", setup: func(t *testing.T, f *sizeFixture) { openDrainForm(f.h, 0) }, must: []string{"› Target"}},
		{name: "drain_form_target_exchange", setup: func(t *testing.T, f *sizeFixture) {
			openDrainForm(f.h, 0)
			f.h.keys("right")
			f.h.typeText("hbd26589.retry-exchange:order.created")
		}, must: []string{"created"}},
		{name: "drain_form_origin", setup: func(t *testing.T, f *sizeFixture) {
			openDrainForm(f.h, 1)
			f.h.typeText(long("orders"))
		}, must: []string{"› Origin"}},
		{name: "drain_form_reason", setup: func(t *testing.T, f *sizeFixture) {
			openDrainForm(f.h, 2)
			f.h.keys("right")
		}, must: []string{"› Reason"}},
		{name: "drain_form_limit", setup: func(t *testing.T, f *sizeFixture) {
			openDrainForm(f.h, 3)
			f.h.typeText("100")
		}, must: []string{"› Limit", "100"}},
		{name: "drain_form_rate", setup: func(t *testing.T, f *sizeFixture) {
			openDrainForm(f.h, 4)
			f.h.typeText("50")
		}, must: []string{"› Rate", "50"}},
		{name: "drain_form_error", setup: func(t *testing.T, f *sizeFixture) {
			openDrainForm(f.h, 4)
			f.h.typeText("fast")
			f.h.keys("enter")
		}, must: []string{"› Rate", "✗ Rate"}},
		{name: "drain_confirm_red", opts: Options{Context: prodContext, Color: "red"}, setup: func(t *testing.T, f *sizeFixture) {
			openDrainForm(f.h, 0)
			f.h.keys("enter")
			f.h.typeText("hbd26589.or")
		}, must: []string{"confirm:", "hbd26589.or"}},
		{name: "drain_confirm_red_wrong", opts: Options{Context: prodContext, Color: "red"}, setup: func(t *testing.T, f *sizeFixture) {
			openDrainForm(f.h, 0)
			f.h.keys("enter")
			f.h.typeText("orders")
			f.h.keys("enter")
		}, must: []string{"confirm:"}},
		{name: "drain_blocked", setup: func(t *testing.T, f *sizeFixture) {
			openDrainForm(f.h, 2)
			f.h.keys("left", "left") // reason maxlen: one message
			f.h.keys("up")
			f.h.typeText(long("payments")) // origin payments: none of them
			f.h.keys("enter")
		}, must: []string{"nothing to drain"}},
		{name: "drain_failed", setup: func(t *testing.T, f *sizeFixture) {
			openDrainForm(f.h, 0)
			f.h.keys("right")
			f.h.typeText("hbd26589.retry-exchange")
			f.rd.exchanges["hbd26589.retry-exchange"] = true
			f.h.keys("enter")
			finish(t, f.h)
		}, must: []string{"Drain failed"}},

		// The drain of a Kafka dead-letter topic, stage by stage.
		{name: "kdrain_form_target", setup: func(t *testing.T, f *sizeFixture) { openKafkaDrainForm(f.h, 0) }, must: []string{"› Target"}},
		{name: "kdrain_form_target_topic", setup: func(t *testing.T, f *sizeFixture) {
			openKafkaDrainForm(f.h, 0)
			f.h.keys("right")
			f.h.typeText(long("orders.retry"))
		}, must: []string{"retry"}},
		{name: "kdrain_form_limit", setup: func(t *testing.T, f *sizeFixture) {
			openKafkaDrainForm(f.h, 1)
			f.h.typeText("100")
		}, must: []string{"› Limit", "100"}},
		{name: "kdrain_form_rate", setup: func(t *testing.T, f *sizeFixture) {
			openKafkaDrainForm(f.h, 2)
			f.h.typeText("2.5")
		}, must: []string{"› Rate", "2.5"}},
		{name: "kdrain_form_too_big", setup: func(t *testing.T, f *sizeFixture) {
			openKafkaDrainForm(f.h, 3)
			f.h.keys("right")
		}, must: []string{"› Too big"}},
		{name: "kdrain_confirm_red", opts: Options{Context: prodContext, Color: "red"}, setup: func(t *testing.T, f *sizeFixture) {
			openKafkaDrainForm(f.h, 0)
			f.h.keys("enter")
			f.h.typeText("hbd26589")
		}, must: []string{"confirm:", "hbd26589"}},
		{name: "kdrain_failed", setup: func(t *testing.T, f *sizeFixture) {
			openKafkaDrainForm(f.h, 0)
			f.h.keys("enter")
			f.kd.dmu.Lock()
			delete(f.kd.topics, long("payments")) // gone since the plan
			f.kd.dmu.Unlock()
			finish(t, f.h)
		}, must: []string{"Drain failed"}},
	}...)
}

// setUp builds the case's screen at 120×30.
func (c sizeCase) setUp(t *testing.T) *sizeFixture {
	t.Helper()
	o := c.opts
	if c.prepare != nil {
		c.prepare(t, &o)
	}
	f := newSizeFixture(t, o)
	if c.setup != nil {
		c.setup(t, f)
	}
	t.Cleanup(func() {
		if f.cancel != nil {
			f.cancel()
		}
	})
	return f
}

// TestSizesGolden draws every case at 80×24 and 40×10 and compares the
// plain text with testdata/TestSizesGolden/*.golden (go test ./tui
// -update regenerates them).
func TestSizesGolden(t *testing.T) {
	pkgDir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range sizeCases() {
		t.Run(c.name, func(t *testing.T) {
			f := c.setUp(t)
			for _, size := range [][2]int{{80, 24}, {40, 10}} {
				w, h := size[0], size[1]
				f.h.send(teaWindow(w, h))
				t.Run(fmt.Sprintf("%dx%d", w, h), func(t *testing.T) {
					checkInvariants(t, c, f.h, w, h)
					requireGolden(t, pkgDir, maskRunIDs(f.h.screen()))
				})
			}
		})
	}
}

// runIDRe matches a drain's run id (its time and random part), whole or
// cut.
var runIDRe = regexp.MustCompile(`\b\d{8}T\d{6}-[0-9a-f]*`)

// maskRunIDs replaces the digits of run ids with zeros: the frame keeps
// its layout and the golden its bytes.
func maskRunIDs(s string) string {
	return runIDRe.ReplaceAllStringFunc(s, func(id string) string {
		return strings.Map(func(r rune) rune {
			if r == 'T' || r == '-' {
				return r
			}
			return '0'
		}, id)
	})
}

// requireGolden is golden.RequireEqual from the package's directory dir
// (the size fixture works in a directory of its own).
func requireGolden(t *testing.T, dir, out string) {
	t.Helper()
	cur, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := os.Chdir(cur); err != nil {
			t.Fatal(err)
		}
	}()
	golden.RequireEqual(t, out)
}

// invariantSizes go from the smallest terminal the console draws on to a
// big one.
var invariantSizes = [][2]int{
	{20, 6}, {24, 8}, {30, 9}, {36, 10}, {40, 10}, {40, 12}, {50, 14}, {60, 16}, {64, 20},
	{72, 22}, {80, 24}, {100, 30}, {120, 36}, {160, 48}, {200, 60},
}

// TestFramesAtEverySize checks every case at every size of
// invariantSizes: see checkInvariants.
func TestFramesAtEverySize(t *testing.T) {
	for _, c := range sizeCases() {
		t.Run(c.name, func(t *testing.T) {
			f := c.setUp(t)
			for _, size := range invariantSizes {
				f.h.send(teaWindow(size[0], size[1]))
				checkInvariants(t, c, f.h, size[0], size[1])
			}
		})
	}
}

var clockRe = regexp.MustCompile(`\d\d:\d\d:\d\d`)

// checkInvariants: the frame has exactly h lines, none wider than w; the
// header names the context and carries the read-only badge whenever it
// shows the clock (and from 40 columns, always); at 80 columns and less
// the key hints keep `? help` where help is a key; the case's must texts
// are on screen.
func checkInvariants(t *testing.T, c sizeCase, h *harness, w, hgt int) {
	t.Helper()
	raw := h.m.View().Content
	lines := strings.Split(raw, "\n")
	if len(lines) != hgt {
		t.Errorf("%d×%d: the frame has %d lines", w, hgt, len(lines))
	}
	for i, l := range lines {
		if lw := ansi.StringWidth(l); lw > w {
			t.Errorf("%d×%d: line %d is %d cells wide: %q", w, hgt, i, lw, ansi.Strip(l))
		}
	}
	plain := strings.Split(ansi.Strip(raw), "\n")
	header := plain[0]
	ctx := h.m.opts.Context
	hasCtx := strings.Contains(header, " "+ctx+" ")
	hasRO := strings.Contains(header, " READ-ONLY ") || strings.Contains(header, " RO ")
	if clockRe.MatchString(header) && (!hasCtx || h.m.opts.ReadOnly && !hasRO) {
		t.Errorf("%d×%d: the header shows the clock without the context or the read-only badge: %q", w, hgt, header)
	}
	if w >= 40 && (!hasCtx || h.m.opts.ReadOnly && !hasRO) {
		t.Errorf("%d×%d: the header lacks the context or the read-only badge: %q", w, hgt, header)
	}
	if !h.m.opts.ReadOnly && hasRO {
		t.Errorf("%d×%d: a read-only badge on a writable context: %q", w, hgt, header)
	}
	if hgt >= 4 && w >= 8 && h.m.mode == modeNormal {
		if _, own := h.m.top().(keyHinter); !own || h.m.top().(keyHinter).hints() == nil {
			if hints := plain[hgt-2]; !strings.Contains(hints, "? help") {
				t.Errorf("%d×%d: the key hints lack `? help`: %q", w, hgt, hints)
			}
		}
	}
	screen := ansi.Strip(raw)
	for _, m := range c.must {
		if !strings.Contains(screen, m) {
			t.Errorf("%d×%d: %q is not on screen:\n%s", w, hgt, m, screen)
		}
	}
}

// TestNarrowHeaderOrder follows the header of a read-only red context
// from wide to narrow: the refresh state shortens first, the cluster is
// cut and goes next, then READ-ONLY becomes RO, and the context name is
// the last thing cut.
func TestNarrowHeaderOrder(t *testing.T) {
	f := newSizeFixture(t, Options{Context: prodContext, Color: "red", ReadOnly: true})
	header := func(w int) string {
		f.h.send(teaWindow(w, 24))
		return strings.Split(f.h.screen(), "\n")[0]
	}
	cases := []struct {
		w             int
		want, notWant []string
	}{
		{120, []string{prodContext, longCluster, "READ-ONLY", "refreshed 09:30:10"}, nil},
		// a long broker list is cut (to no less than 20 cells) before the
		// refresh state shortens, and goes before the context and badge
		{90, []string{prodContext, "b-1.hbscale-prod.kafka.eu-west-1", "…", "READ-ONLY", "refreshed 09:30:10"}, nil},
		{80, []string{prodContext, "b-1.hbscale-prod.kafka", "…", "READ-ONLY", "refreshed 09:30:10"}, nil},
		{60, []string{prodContext, "b-1.hbscale-prod", "…", "READ-ONLY", "09:30:10"}, []string{"refreshed"}},
		{30, []string{prodContext, "READ-ONLY"}, []string{"b-1."}},
		{21, []string{prodContext, " RO "}, []string{"READ-ONLY"}},
		{20, []string{"prod-eu-west…", " RO "}, nil},
		{12, []string{"prod…", " RO "}, nil},
	}
	for _, c := range cases {
		got := header(c.w)
		for _, s := range c.want {
			if !strings.Contains(got, s) {
				t.Errorf("at %d columns the header %q lacks %q", c.w, got, s)
			}
		}
		for _, s := range c.notWant {
			if strings.Contains(got, s) {
				t.Errorf("at %d columns the header %q still has %q", c.w, got, s)
			}
		}
	}
}

// TestNamesBeforeSecondaryColumns: at 80 columns the long names read
// whole and the numbers that matter stay, in every list.
func TestNamesBeforeSecondaryColumns(t *testing.T) {
	cases := []struct {
		name  string
		setup func(h *harness)
		want  []string
	}{
		{"groups", func(*harness) {}, []string{long("billing"), long("shipping"), long("analytics"), "LAG", "STATUS", "WARN", "5,070"}},
		{"topics", func(h *harness) { h.command("topics") }, []string{long("orders"), long("payments"), "MESSAGES"}},
		{"queues", func(h *harness) { h.command("queues") }, []string{"hbd26589.billing.invoices.dead-letter", longOrdersDL, "READY", "CONSUMERS"}},
		{"dlq", func(h *harness) { h.command("dlq") }, []string{"hbd26589.billing.invoices.dead-letter", long("orders.DLT"), "DEPTH", "1,500"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newSizeFixture(t, Options{})
			c.setup(f.h)
			f.h.send(teaWindow(80, 24))
			s := f.h.screen()
			for _, w := range c.want {
				if !strings.Contains(s, w) {
					t.Errorf("at 80 columns %q is not whole:\n%s", w, s)
				}
			}
		})
	}
}

// TestDrainStagesKeepFocusOnScreen walks one drain through its stages on
// a 40×10 terminal and checks at each that what the operator acts on is
// drawn.
func TestDrainStagesKeepFocusOnScreen(t *testing.T) {
	f := newSizeFixture(t, Options{Context: prodContext, Color: "red"})
	h := f.h
	openRabbitDLQ(h)
	h.send(teaWindow(40, 10))
	h.keys("D")
	for _, want := range []string{"› Target", "› Origin", "› Reason", "› Limit", "› Rate", "› Target"} {
		if !strings.Contains(h.screen(), want) {
			t.Fatalf("%q is not on screen:\n%s", want, h.screen())
		}
		h.keys("tab")
	}
	h.keys("up", "up") // back to Rate
	h.typeText("0")
	h.keys("enter")
	if s := h.screen(); !strings.Contains(s, "✗ Rate") || !strings.Contains(s, "› Rate") {
		t.Fatalf("the form's error or its field is off screen:\n%s", s)
	}
	h.keys("backspace", "enter")
	if s := h.screen(); !strings.Contains(s, "confirm:") {
		t.Fatalf("the typed confirmation is off screen:\n%s", s)
	}
	h.typeText(longOrdersDL)
	if s := h.screen(); !strings.Contains(s, "s.dlq") || !strings.Contains(s, "enter confirm") {
		t.Fatalf("the typed name or its keys are off screen:\n%s", s)
	}
	var cmd tea.Cmd
	f.rd.gate = make(chan struct{})
	_, cmd = h.m.Update(keyPress("enter"))
	wait := step(h, cmd)
	f.rd.gate <- struct{}{}
	wait = step(h, wait)
	if s := h.screen(); !strings.Contains(s, "1/25") || !strings.Contains(s, "esc cancel") {
		t.Fatalf("the progress or its cancel key is off screen:\n%s", s)
	}
	v := h.drainView()
	h.keys("esc")
	for i := 0; v.Stage() == action.StageRunning && i < 10; i++ {
		wait = step(h, wait)
	}
	if s := h.screen(); !strings.Contains(s, "Drain cancelled") || !strings.Contains(s, "enter/esc close") {
		t.Fatalf("the result is off screen:\n%s", s)
	}
}

// TestStartupFramesAtEverySize: the screens before any data (connecting,
// a first failure, no broker configured, a long reason why there is no
// RabbitMQ) fit every size, the context named in the header from 40
// columns.
func TestStartupFramesAtEverySize(t *testing.T) {
	cases := map[string]func(t *testing.T) *harness{
		"connecting": func(t *testing.T) *harness {
			src := &cannedSource{}
			h := newHarness(t, Options{Context: longContext, Cluster: longCluster}, nil)
			h.m.opts.Kafka = src
			h.m.refresh.inFlight = true
			return h
		},
		"first_failure": func(t *testing.T) *harness {
			src := &cannedSource{}
			src.push(nil, errors.New("dial tcp 10.0.0.1:9092: i/o timeout"))
			return newHarness(t, Options{Context: longContext, Cluster: longCluster}, src)
		},
		"no_kafka": func(t *testing.T) *harness {
			return newHarness(t, Options{Context: prodContext, Color: "red", ReadOnly: true}, nil)
		},
		"no_rabbit_reason": func(t *testing.T) *harness {
			why := "RabbitMQ: login refused at 127.0.0.1:5672 as guest, Kafka only (pass --rabbitmq-url amqp://USER@HOST:5672/ and --rabbitmq-password-env VAR)"
			return newHarness(t, Options{Context: longContext, StartView: "queues", NoRabbit: why}, nil)
		},
	}
	for name, open := range cases {
		t.Run(name, func(t *testing.T) {
			h := open(t)
			for _, size := range invariantSizes {
				h.send(teaWindow(size[0], size[1]))
				checkInvariants(t, sizeCase{name: name}, h, size[0], size[1])
			}
		})
	}
}
