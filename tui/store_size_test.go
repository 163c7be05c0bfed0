package tui

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mqops/mqops/backends"
)

// confirmingPublisher is a broker that confirms every message: the
// screens' layout at any size needs a run's result, not a broker (the
// publish itself is tested on kfake and the real brokers).
type confirmingPublisher struct{}

func (confirmingPublisher) Publish(_ context.Context, msgs []backends.OutgoingMessage) []backends.PublishResult {
	out := make([]backends.PublishResult, len(msgs))
	for i, m := range msgs {
		out[i] = backends.PublishResult{ID: m.ID}
	}
	return out
}

// withStore gives the size fixture an application database with long
// destinations (the fixture's long topic names), a hostile one, and the
// retry fixture, routed to Kafka.
func withStore(t *testing.T, o *Options) {
	t.Helper()
	db := newAppDB(t)
	d := long("orders")
	db.outbox(
		outboxRow{id: "101", messageID: "6f1c2b9e-6d1e-4f43-9a51-5f0f0b8f1a27", dest: d, key: "ord-1001", created: t0.Add(-6*time.Minute - 12*time.Second)},
		outboxRow{id: "102", messageID: "0b8f1a27-6d1e-4f43-9a51-6f1c2b9e5f0f", dest: d, key: "ord-1002", attempts: 2, created: t0.Add(-9*time.Minute - 3*time.Second),
			lastErr: "kafka: NOT_ENOUGH_REPLICAS: Messages are rejected since there are fewer in-sync replicas than required"},
		outboxRow{id: "201", messageID: "msg-201", dest: long("payments"), key: "pay-77", created: t0.Add(-5*time.Minute - 30*time.Second)},
		outboxRow{id: "401", messageID: "msg\x1b]0;pwned\x07-401", dest: hostileDest, key: "k\u202eey", attempts: 1, created: t0.Add(-11 * time.Minute),
			lastErr: "boom\x1b[2J\u2066hidden"},
	)
	retryFixture(db, d)
	o.OpenStore = opener(&clockedStore{Store: db.open(5 * time.Minute), now: func() time.Time { return t0 }}, nil)
	o.StoreRoute = backends.Route{Broker: "kafka"}
	o.KafkaPublisher = confirmingPublisher{}
}

// pinRate pins the rate of the run's result on screen (measured on the
// wall clock) for the goldens.
func pinRate(t *testing.T, h *harness) {
	t.Helper()
	switch s := h.actionView().screen.(type) {
	case *resendScreen:
		if res, _ := s.Result(); res != nil {
			res.Rate = 250
		}
	case *retryScreen:
		if res, _ := s.Result(); res != nil {
			res.Rate = 250
		}
	}
}

// storeSizeCases are :pending, :retry, their actions' stages and a
// trace, at every size.
func storeSizeCases() []sizeCase {
	pending := func(f *sizeFixture) { f.h.command("pending") }
	onOrders := func(f *sizeFixture) {
		pending(f)
		f.h.selectRow(long("orders"))
	}
	retry := func(f *sizeFixture) { f.h.command("retry") }
	onGateway := func(f *sizeFixture) {
		retry(f)
		f.h.selectGroup(gatewayGroup)
	}
	red := Options{Context: prodContext, Color: "red"}
	return []sizeCase{
		{name: "pending", prepare: withStore, setup: func(t *testing.T, f *sizeFixture) { onOrders(f) }, must: []string{"pending sends"}},
		{name: "pending_rows_marked", prepare: withStore, setup: func(t *testing.T, f *sizeFixture) {
			onOrders(f)
			f.h.keys("tab", "space")
		}, must: []string{"▸ PENDING ROWS"}},
		{name: "pending_no_store", setup: func(t *testing.T, f *sizeFixture) { pending(f) }, must: []string{"no application"}},
		{name: "pending_store_down", prepare: func(t *testing.T, o *Options) {
			o.OpenStore = func(context.Context) (StoreSource, error) {
				return nil, errors.New("store: postgres appdb@10.0.0.7:5432: dial tcp 10.0.0.7:5432: connect: connection refused")
			}
		}, setup: func(t *testing.T, f *sizeFixture) { pending(f) }, must: []string{"Cannot load"}},
		{name: "resend_form", prepare: withStore, setup: func(t *testing.T, f *sizeFixture) {
			onOrders(f)
			f.h.keys("E")
		}, must: []string{"› Older than"}},
		{name: "resend_confirm", prepare: withStore, setup: func(t *testing.T, f *sizeFixture) {
			onOrders(f)
			f.h.keys("E", "enter")
		}, must: []string{"[y/N]"}},
		{name: "resend_confirm_red", opts: red, prepare: withStore, setup: func(t *testing.T, f *sizeFixture) {
			onOrders(f)
			f.h.keys("E", "enter")
			f.h.typeText("2 ro")
		}, must: []string{"confirm:", "ro"}},
		{name: "resend_result", prepare: withStore, setup: func(t *testing.T, f *sizeFixture) {
			onOrders(f)
			f.h.keys("E", "enter", "y")
			pinRate(t, f.h)
		}, must: []string{"Resend finished"}},
		{name: "retry", prepare: withStore, setup: func(t *testing.T, f *sizeFixture) { onGateway(f) }, must: []string{"retry rows"}},
		{name: "retry_rows_marked", prepare: withStore, setup: func(t *testing.T, f *sizeFixture) {
			onGateway(f)
			f.h.keys("tab", "space")
		}, must: []string{"▸ RETRY ROWS"}},
		{name: "retry_now_confirm", prepare: withStore, setup: func(t *testing.T, f *sizeFixture) {
			onGateway(f)
			f.h.keys("T", "enter")
		}, must: []string{"[y/N]"}},
		{name: "republish_form", prepare: withStore, setup: func(t *testing.T, f *sizeFixture) {
			onGateway(f)
			f.h.keys("U")
		}, must: []string{"› Limit"}},
		{name: "giveup_result", prepare: withStore, setup: func(t *testing.T, f *sizeFixture) {
			onGateway(f)
			f.h.keys("tab", "j", "X", "enter", "y")
			pinRate(t, f.h)
		}, must: []string{"Give up finished"}},
		{name: "trace", prepare: withStore, setup: func(t *testing.T, f *sizeFixture) {
			onOrders(f)
			f.h.keys("tab", "enter")
		}, must: []string{"outbox"}},
	}
}
