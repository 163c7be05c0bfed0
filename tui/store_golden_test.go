package tui

import (
	"context"
	"fmt"
	"testing"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/mqops/mqops/backends"
)

// TestStoreViewsGolden draws :pending and :retry (both panes) at 80 and
// 120 columns, on fixtures with hostile destinations, message ids and
// errors (escape sequences, bidi overrides, C1 controls), drawn as
// visible escapes: testdata/TestStoreViewsGolden/*.golden (go test ./tui
// -run TestStoreViewsGolden -update regenerates them).
func TestStoreViewsGolden(t *testing.T) {
	cases := []struct {
		name  string
		open  func(t *testing.T) *harness
		setup func(h *harness)
	}{
		{"pending", func(t *testing.T) *harness {
			h, _, _ := pendingConsole(t, Options{Audit: auditFixture(t), KafkaPublisher: nopPublisher{}})
			return h
		}, func(h *harness) {}},
		{"pending_rows", func(t *testing.T) *harness {
			h, _, _ := pendingConsole(t, Options{Audit: auditFixture(t), KafkaPublisher: nopPublisher{}})
			return h
		}, func(h *harness) { h.selectRow(hostileDest); h.keys("tab") }},
		{"pending_readonly", func(t *testing.T) *harness {
			h, _, _ := pendingConsole(t, Options{Context: "prod", Color: "red", ReadOnly: true})
			return h
		}, func(h *harness) { h.selectRow("orders"); h.keys("tab") }},
		{"pending_rabbit", func(t *testing.T) *harness {
			h, _, _ := pendingConsole(t, Options{Rabbit: newRoutedRabbit(), StoreRoute: backends.Route{Broker: "rabbitmq", Exchange: "orders.x"}})
			return h
		}, func(h *harness) {}},
		{"retry", func(t *testing.T) *harness {
			h, _ := retryConsole(t, Options{Audit: auditFixture(t), KafkaPublisher: nopPublisher{}}, "orders")
			return h
		}, func(h *harness) {}},
		{"retry_rows", func(t *testing.T) *harness {
			h, _ := retryConsole(t, Options{Audit: auditFixture(t), KafkaPublisher: nopPublisher{}}, "orders")
			return h
		}, func(h *harness) { h.selectGroup(gatewayGroup); h.keys("tab", "space") }},
		{"retry_hostile", func(t *testing.T) *harness {
			h, _ := retryConsole(t, Options{Audit: auditFixture(t)}, "orders")
			return h
		}, func(h *harness) { h.selectGroup("evil\x1b[<n>J\u202egroup\x9b<n>m"); h.keys("tab") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := c.open(t)
			c.setup(h)
			for _, size := range [][2]int{{80, 24}, {120, 30}} {
				h.send(teaWindow(size[0], size[1]))
				t.Run(fmt.Sprint(size[0]), func(t *testing.T) {
					checkFrame(t, h.m.View().Content, size[0], size[1])
					golden.RequireEqual(t, h.screen())
				})
			}
		})
	}
}

// routedRabbit is the fake RabbitMQ of the queue tests, whose exchange
// orders.x routes orders to the queues orders and orders.dlq, payments to
// payments, and nothing else anywhere; it counts the route lookups.
type routedRabbit struct {
	*fakeRabbit
	lookups int
}

func newRoutedRabbit() *routedRabbit { return &routedRabbit{fakeRabbit: newFakeRabbit()} }

func (r *routedRabbit) Routes(_ context.Context, vhost, exchange, key string) ([]string, bool, error) {
	r.lookups++
	if vhost != "/" || exchange != "orders.x" {
		return nil, true, nil
	}
	switch key {
	case "orders":
		return []string{"orders", "orders.dlq"}, true, nil
	case "payments":
		return []string{"payments"}, true, nil
	}
	return nil, true, nil
}
