package tui

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/embedded"
	"github.com/mqops/mqops/backends/kafka"
	"github.com/mqops/mqops/tui/action"
)

// resendScreen is the resend's action screen.
type resendScreen = action.Model[*resendItem, *actions.ResendResult]

func (h *harness) resendView() *resendScreen {
	h.t.Helper()
	s, ok := h.actionView().screen.(*resendScreen)
	if !ok {
		h.t.Fatalf("the screen on top is not a resend: %T", h.actionView().screen)
	}
	return s
}

// kfakeCluster is the demo's embedded cluster (kfake: the Kafka protocol
// in process, no traffic), a kafka.Client on it and an admin client.
type kfakeCluster struct {
	brokers []string
	k       *kafka.Client
	adm     *kadm.Client
	cl      *kgo.Client
}

func newKfakeCluster(t *testing.T) *kfakeCluster {
	t.Helper()
	env, err := embedded.Start(context.Background(), embedded.Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	k, err := kafka.New(kafka.Config{Brokers: env.Brokers(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	cl, err := kgo.NewClient(kgo.SeedBrokers(env.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &kfakeCluster{brokers: env.Brokers(), k: k, adm: kadm.NewClient(cl), cl: cl}
}

// topic creates a topic of its own (a unique name) with n partitions.
func (c *kfakeCluster) topic(t *testing.T, prefix string, n int32) string {
	t.Helper()
	name := fmt.Sprintf("console-%s-%08x", prefix, rand.Uint32())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.adm.CreateTopic(ctx, n, 1, nil, name); err != nil {
		t.Fatal(err)
	}
	return name
}

// messageIDs reads topic whole and counts its records by their value of
// header (the message id).
func (c *kfakeCluster) messageIDs(t *testing.T, topic, header string) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ends, err := c.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	parts := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		total += o.Offset
		parts[o.Partition] = kgo.NewOffset().AtStart()
	})
	out := map[string]int{}
	if total == 0 {
		return out
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.brokers...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for read := int64(0); read < total; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s", read, total, topic)
		}
		fs.EachRecord(func(r *kgo.Record) {
			read++
			for _, h := range r.Headers {
				if h.Key == header {
					out[string(h.Value)]++
				}
			}
		})
	}
	return out
}

// resendConsole is :pending on an SQLite database whose rows go to the
// embedded cluster, with the cluster's client as the console's Kafka, its
// publisher and the audit log of the test's own.
func resendConsole(t *testing.T, c *kfakeCluster, fill func(*appDB), o Options) (*harness, *appDB) {
	t.Helper()
	o.Kafka, o.KafkaPublisher = c.k, c.k
	if o.Audit == nil {
		o.Audit = actions.NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))
	}
	return storeHarness(t, o, "pending", fill, nil)
}

// TestResendFromPendingPlanConfirmRunAudit: E on a destination opens the
// resend's form with the destination; enter plans (nothing changes, the
// equivalent command shown); y claims, publishes with the broker's
// confirms and marks sent; the result, one audit entry with the command;
// the view reloads on close.
func TestResendFromPendingPlanConfirmRunAudit(t *testing.T) {
	c := newKfakeCluster(t)
	topic := c.topic(t, "resend", 3)
	h, db := resendConsole(t, c, func(db *appDB) {
		db.outbox(
			outboxRow{id: "1", messageID: "m-1", dest: topic, key: "a", created: t0.Add(-10 * time.Minute)},
			outboxRow{id: "2", messageID: "m-2", dest: topic, key: "b", attempts: 1, created: t0.Add(-9 * time.Minute), lastErr: "timeout"},
			outboxRow{id: "3", messageID: "m-3", dest: topic, key: "a", created: t0.Add(-8 * time.Minute)},
			outboxRow{id: "9", messageID: "m-9", dest: "ghost-topic", created: t0.Add(-20 * time.Minute)},
		)
		db.consumed("billing", t0, "m-2")
	}, Options{})
	h.selectRow(topic)
	h.keys("E")
	v := h.resendView()
	if got := v.Values().Text(fDestination); got != topic {
		t.Fatalf("destination prefilled with %q\n%s", got, h.screen())
	}
	cmd := "mqops --context staging resend --destination " + topic
	if s := flat(h.screen()); !strings.Contains(s, "Resend the pending rows of destination "+topic+" of sqlite app.db → kafka:{destination}") {
		t.Fatalf("the form:\n%s", h.screen())
	}
	h.keys("enter")
	if v.Stage() != action.StagePlan {
		t.Fatalf("stage %d: %s\n%s", v.Stage(), v.FormError(), h.screen())
	}
	s := flat(h.screen())
	for _, want := range []string{
		"plan: resend 3 of 3 pending row(s) (older than the store's pending-after) → kafka:{destination}",
		topic + " kafka:" + topic + " 3 3 1 10m00s",
		"1 10m00s 0 a m-1 " + topic,
		"2 9m00s 1 b m-2 " + topic + " consumed",
		"note: 1 row(s) carry a message id the idempotency table says was consumed already",
		"Resend 3 pending row(s) of 1 destination(s), oldest 10m00s → kafka:{destination} (1 already consumed, resent too)? [y/N]",
		"same as: " + cmd,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the plan lacks %q:\n%s", want, h.screen())
		}
	}
	if n := len(c.messageIDs(t, topic, "mqops-message-id")); n != 0 || len(auditEntries(t, h)) != 0 {
		t.Fatalf("the plan published %d or was recorded", n)
	}
	if st, n := db.status("1"); st != "pending" || n != 0 {
		t.Fatalf("the plan changed row 1: %s %d", st, n)
	}
	plan, _ := v.Plan()
	h.keys("y")
	if v.Stage() != action.StageDone {
		t.Fatalf("stage %d\n%s", v.Stage(), h.screen())
	}
	res, err := v.Result()
	if err != nil || res == nil || res.Resent != 3 || res.Failed != 0 || res.Left != 0 || res.RunID != plan.plan.RunID {
		t.Fatalf("result %+v %v\n%s", res, err, h.screen())
	}
	ids := c.messageIDs(t, topic, "mqops-message-id")
	for _, id := range []string{"m-1", "m-2", "m-3"} {
		if ids[id] != 1 {
			t.Errorf("%s published %d time(s): %v", id, ids[id], ids)
		}
	}
	for id, attempts := range map[string]int{"1": 1, "2": 2, "3": 1} {
		if st, n := db.status(id); st != "sent" || n != attempts {
			t.Errorf("row %s: %s, %d attempts", id, st, n)
		}
	}
	if st, _ := db.status("9"); st != "pending" {
		t.Errorf("a row of another destination changed: %s", st)
	}
	if s := flat(h.screen()); !strings.Contains(s, "Resend finished") || !strings.Contains(s, "resent 3 (published, confirmed by the broker and marked sent), failed 0, left 0") {
		t.Errorf("the result:\n%s", h.screen())
	}
	es := auditEntries(t, h)
	if len(es) != 1 {
		t.Fatalf("audit: %+v", es)
	}
	e := es[0]
	if e.Action != "resend" || e.Outcome != actions.OutcomeExecuted || e.Context != "staging" || e.RunID != res.RunID || e.Command != cmd ||
		e.Plan == nil || e.Plan.Selected != 3 || e.Result == nil || e.Result.Done != 3 || e.Target != "kafka:{destination}" {
		t.Errorf("audit entry %+v plan %+v result %+v", e, e.Plan, e.Result)
	}
	h.keys("enter")
	pv, ok := h.m.top().(*pendingView)
	if !ok {
		t.Fatalf("enter on the result went to %T", h.m.top())
	}
	if _, listed := pv.byID["1"]; listed || pv.dests.Len() != 1 {
		t.Errorf("the view did not reload: %d destinations\n%s", pv.dests.Len(), h.screen())
	}
}

// TestResendMarkedRowsByID: the rows marked are the command's --id, in a
// red context the number of rows is typed to confirm, a plan shown and
// not confirmed is recorded as a dry run.
func TestResendMarkedRowsByID(t *testing.T) {
	c := newKfakeCluster(t)
	topic := c.topic(t, "marked", 1)
	h, db := resendConsole(t, c, func(db *appDB) {
		db.outbox(
			outboxRow{id: "11", messageID: "m-11", dest: topic, created: t0.Add(-10 * time.Minute)},
			outboxRow{id: "12", messageID: "m-12", dest: topic, created: t0.Add(-9 * time.Minute)},
			outboxRow{id: "13", messageID: "m-13", dest: topic, created: t0.Add(-8 * time.Minute)},
		)
	}, Options{Context: "prod", Color: "red"})
	h.keys("tab")
	if !strings.Contains(h.screen(), "space mark") {
		t.Fatalf("the rows offer no marks:\n%s", h.screen())
	}
	h.mark("11", "13")
	if !strings.Contains(h.screen(), "E resend 2 marked") {
		t.Errorf("the footer does not offer the resend of the marked:\n%s", h.screen())
	}
	h.keys("E")
	v := h.resendView()
	cmd := "mqops --context prod resend --id 11 --id 13"
	if s := flat(h.screen()); !strings.Contains(s, "Resend 2 marked pending rows") || !strings.Contains(s, "rows (marked): 11, 13") {
		t.Fatalf("the form:\n%s", h.screen())
	}
	h.keys("enter")
	if s := flat(h.screen()); v.Stage() != action.StagePlan || !strings.Contains(s, "type the number of rows (2 rows)") || !strings.Contains(s, "same as: "+cmd) {
		t.Fatalf("no typed confirmation:\n%s", h.screen())
	}
	h.typeText("3 rows")
	h.keys("enter")
	if v.Stage() == action.StageDone || v.Stage() == action.StageRunning {
		t.Fatal("a wrong name confirmed the resend")
	}
	// esc: the plan shown and not confirmed is recorded as a dry run
	h.keys("esc", "esc")
	es := auditEntries(t, h)
	if len(es) != 1 || es[0].Outcome != actions.OutcomeDryRun || es[0].Command != cmd || es[0].Plan == nil || es[0].Plan.Selected != 2 {
		t.Fatalf("audit: %+v", es)
	}
	h.keys("E", "enter")
	h.typeText("2 rows")
	h.keys("enter")
	v = h.resendView()
	if res, err := v.Result(); err != nil || res == nil || res.Resent != 2 {
		t.Fatalf("result %+v %v\n%s", res, err, h.screen())
	}
	if st, _ := db.status("12"); st != "pending" {
		t.Errorf("an unmarked row was resent: %s", st)
	}
	for _, id := range []string{"11", "13"} {
		if st, _ := db.status(id); st != "sent" {
			t.Errorf("row %s: %s", id, st)
		}
	}
}

// TestResendAbsentWhereItCannotRun: E is dangerous: in a read-only
// context, without a publisher for the route or an audit log it is absent
// (no key, no hint, no help line, no marks); where it works, the help
// lists it.
func TestResendAbsentWhereItCannotRun(t *testing.T) {
	db := newAppDB(t)
	pendingFixture(db)
	base := func(o Options) Options {
		o.StartView = "pending"
		o.OpenStore = opener(&clockedStore{Store: db.open(5 * time.Minute), now: func() time.Time { return t0 }}, nil)
		o.StoreRoute = backends.Route{Broker: "kafka"}
		return o
	}
	for name, o := range map[string]Options{
		"read-only":       {Context: "prod", ReadOnly: true, KafkaPublisher: nopPublisher{}, Audit: auditFixture(t)},
		"no publisher":    {Audit: auditFixture(t), RabbitPublisher: nopPublisher{}},
		"no audit log":    {KafkaPublisher: nopPublisher{}},
		"no route broker": {KafkaPublisher: nopPublisher{}, Audit: auditFixture(t), StoreRoute: backends.Route{Broker: "rabbitmq"}},
	} {
		t.Run(name, func(t *testing.T) {
			o = base(o)
			if name == "no route broker" {
				o.StoreRoute = backends.Route{Broker: "rabbitmq"}
			}
			h := newHarness(t, o, nil)
			if h.m.keys.Resend.Bound() {
				t.Fatal("E is bound")
			}
			h.keys("E")
			if _, ok := h.m.top().(*pendingView); !ok {
				t.Fatalf("E opened %T", h.m.top())
			}
			h.keys("tab", "space")
			if n := h.m.top().focused().MarkedCount(); n != 0 || strings.Contains(h.screen(), "space mark") || strings.Contains(h.screen(), "resend") {
				t.Errorf("marks or the resend without it: %d marked\n%s", n, h.screen())
			}
			h.keys("?")
			if s := h.screen(); strings.Contains(s, "resend") {
				t.Errorf("the help lists E:\n%s", s)
			}
		})
	}
	h := newHarness(t, base(Options{KafkaPublisher: nopPublisher{}, Audit: auditFixture(t)}), nil)
	h.keys("?")
	if s := h.screen(); !strings.Contains(s, "This view (pending sends)") || !strings.Contains(s, "resend the destination's pending rows") {
		t.Errorf("the help lacks E:\n%s", s)
	}
	h.keys("esc")
	h.command("groups")
	h.keys("E")
	if !strings.Contains(h.m.flash.Text, "E resends pending rows of the application's sending table: open :pending") {
		t.Errorf("E elsewhere: %q", h.m.flash.Text)
	}
}

// nopPublisher is a publisher that is never reached (the tests of where
// the resend is offered plan nothing).
type nopPublisher struct{}

func (nopPublisher) Publish(context.Context, []backends.OutgoingMessage) []backends.PublishResult {
	panic("published")
}

// TestPendingLagOnEmbeddedCluster: with the embedded cluster (kfake, the
// demo's groups on orders and payments) as the console's Kafka, each
// destination's lag beside it is its worst group's, as kadm computes it
// from the groups' commits and the log ends.
func TestPendingLagOnEmbeddedCluster(t *testing.T) {
	c := newKfakeCluster(t)
	h, _ := resendConsole(t, c, func(db *appDB) {
		db.outbox(
			outboxRow{id: "1", messageID: "m-1", dest: "orders", created: t0.Add(-10 * time.Minute)},
			outboxRow{id: "2", messageID: "m-2", dest: "payments", created: t0.Add(-7 * time.Minute)},
		)
	}, Options{})
	v := h.m.top().(*pendingView)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lags, err := c.adm.Lag(ctx)
	if err != nil {
		t.Fatal(err)
	}
	worst := map[string]int64{}
	groupOf := map[string]string{}
	for _, g := range lags.Sorted() {
		for topic, parts := range g.Lag {
			var sum int64
			committed := false
			for _, p := range parts {
				if p.Commit.At >= 0 && p.Err == nil {
					sum += p.Lag
					committed = true
				}
			}
			if committed && (sum > worst[topic] || groupOf[topic] == "") {
				worst[topic], groupOf[topic] = sum, g.Group
			}
		}
	}
	for _, topic := range []string{"orders", "payments"} {
		var cells []string
		for _, r := range v.dests.Rows() {
			if r.ID == topic {
				cells = r.Cells
			}
		}
		if groupOf[topic] == "" {
			t.Fatalf("no group commits on %s in the embedded cluster", topic)
		}
		if cells == nil || cells[pdLag] != fmtInt(worst[topic]) || !strings.HasPrefix(cells[pdBeside], "worst group "+groupOf[topic]) {
			t.Errorf("%s: %q, want lag %d of %s\n%s", topic, cells, worst[topic], groupOf[topic], h.screen())
		}
	}
}

// gatedPublisher confirms a batch when the test lets it through, and
// fails it when the run is cancelled first.
type gatedPublisher struct{ gate chan struct{} }

func (p *gatedPublisher) Publish(ctx context.Context, msgs []backends.OutgoingMessage) []backends.PublishResult {
	out := make([]backends.PublishResult, len(msgs))
	select {
	case <-p.gate:
		for i, m := range msgs {
			out[i] = backends.PublishResult{ID: m.ID}
		}
	case <-ctx.Done():
		for i, m := range msgs {
			out[i] = backends.PublishResult{ID: m.ID, Err: ctx.Err()}
		}
	}
	return out
}

// TestResendProgressAndCancel: the run's progress is drawn as the broker
// confirms (a row a second: one at a time); esc cancels, the rows
// confirmed are marked sent and the others stay pending; the audit entry
// says cancelled.
func TestResendProgressAndCancel(t *testing.T) {
	pub := &gatedPublisher{gate: make(chan struct{})}
	h, db := storeHarness(t, Options{KafkaPublisher: pub, Audit: actions.NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))}, "pending", func(db *appDB) {
		db.outbox(
			outboxRow{id: "1", messageID: "m-1", dest: "orders", created: t0.Add(-10 * time.Minute)},
			outboxRow{id: "2", messageID: "m-2", dest: "orders", created: t0.Add(-9 * time.Minute)},
			outboxRow{id: "3", messageID: "m-3", dest: "orders", created: t0.Add(-8 * time.Minute)},
		)
	}, nil)
	h.keys("E", "tab", "tab", "tab")
	h.typeText("1") // rate: one row a second, a batch of one
	h.keys("enter")
	v := h.resendView()
	if v.Stage() != action.StagePlan {
		t.Fatalf("stage %d: %s\n%s", v.Stage(), v.FormError(), h.screen())
	}
	_, cmd := h.m.Update(keyPress("y"))
	wait := step(h, cmd)
	if v.Stage() != action.StageRunning {
		t.Fatalf("not running:\n%s", h.screen())
	}
	pub.gate <- struct{}{} // the first row is confirmed
	for i := 0; i < 10 && !strings.Contains(h.screen(), "resent 1"); i++ {
		late := execCmd(wait)
		wait = step(h, func() tea.Msg { return late[0] })
	}
	if s := h.screen(); !strings.Contains(s, "1/3") || !strings.Contains(s, "resent 1 · failed 0 · skipped 0") || !strings.Contains(s, "esc or ctrl+c cancels") {
		t.Fatalf("progress:\n%s", s)
	}
	_, c := h.m.Update(keyPress("esc"))
	h.run(c)
	for i := 0; v.Stage() == action.StageRunning && i < 20; i++ {
		wait = step(h, wait)
	}
	if v.Stage() != action.StageDone {
		t.Fatalf("stage %d after cancel\n%s", v.Stage(), h.screen())
	}
	if s := flat(h.screen()); !strings.Contains(s, "Resend cancelled") || !strings.Contains(s, "stopped: cancelled") {
		t.Errorf("the result:\n%s", h.screen())
	}
	if st, _ := db.status("1"); st != "sent" {
		t.Errorf("row 1 confirmed: %s", st)
	}
	for _, id := range []string{"2", "3"} {
		if st, _ := db.status(id); st != "pending" {
			t.Errorf("row %s not confirmed: %s", id, st)
		}
	}
	if es := auditEntries(t, h); len(es) != 1 || es[0].Outcome != actions.OutcomeCancelled || es[0].Result == nil || es[0].Result.Done != 1 {
		t.Errorf("audit: %+v", es)
	}
}

// TestResendCommandSaysPendingAfter: with the Older than field empty, the
// plan's equivalent command carries the store's pending-after when it is
// not the default (run headless with --store flags, it would select with
// 5m: other rows than the console planned).
func TestResendCommandSaysPendingAfter(t *testing.T) {
	c := newKfakeCluster(t)
	topic := c.topic(t, "pending-after", 1)
	db := newAppDB(t)
	db.outbox(outboxRow{id: "1", messageID: "m-1", dest: topic, key: "a", created: t0.Add(-time.Minute)})
	var h *harness
	now := func() time.Time {
		if h == nil {
			return t0
		}
		return h.clock.t
	}
	o := Options{StartView: "pending", Kafka: c.k, KafkaPublisher: c.k, StoreRoute: backends.Route{Broker: "kafka"},
		Audit: actions.NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))}
	o.OpenStore = opener(&clockedStore{Store: db.open(20 * time.Second), now: now}, nil)
	h = newHarness(t, o, nil)
	h.selectRow(topic)
	h.keys("E")
	h.keys("enter")
	if s := flat(h.screen()); !strings.Contains(s, "same as: mqops --context staging resend --older-than 20s --destination "+topic) {
		t.Fatalf("the plan's command:\n%s", h.screen())
	}
}
