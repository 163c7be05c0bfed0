package tui

import (
	"strings"
	"testing"
)

// TestMarksFeedTheDrain: D with two marked dead-letter queues opens the
// drain of each in turn, each planned and confirmed on its own; the one
// drained is unmarked, the one skipped (esc on its form) stays marked and
// D goes back to it.
func TestMarksFeedTheDrain(t *testing.T) {
	h, d := drainHarness(t, Options{Context: "staging"})
	invoices := queueKey("billing", "invoices.dead-letter")
	d.queues[invoices] = deadLetters()
	list := h.m.top()
	h.selectRow(queueKey("/", "orders.dlq"))
	h.keys("space")
	h.selectRow(invoices)
	h.keys("space")
	if !strings.Contains(h.screen(), "D drain 2 marked") {
		t.Fatalf("the footer does not say what the marks feed:\n%s", h.screen())
	}
	h.keys("D")
	first := h.actionView()
	h.drainView()
	if !strings.Contains(h.screen(), "drain 1 of 2 marked") {
		t.Errorf("no word of the walk:\n%s", h.screen())
	}
	h.keys("enter", "y", "enter") // plan, confirm, close the result
	second := h.actionView()
	h.drainView()
	if second == first || second.viewID == first.viewID {
		t.Fatalf("the second marked queue's drain did not open (%q then %q)", first.viewID, second.viewID)
	}
	if n := list.focused().MarkedCount(); n != 1 {
		t.Errorf("after the first drain ran: %d marked, want 1", n)
	}
	h.keys("esc") // skip the second
	if h.m.top() != list || h.m.walk != nil {
		t.Fatalf("the walk did not end on the list: %T", h.m.top())
	}
	s := h.screen()
	if !strings.Contains(s, "drained 1 of 2 marked, 1 still marked") {
		t.Errorf("no summary:\n%s", s)
	}
	if ids := list.focused().MarkedIDs(); len(ids) != 1 || "drain/"+ids[0] != second.viewID {
		t.Errorf("still marked: %q, the skipped drain was %q", ids, second.viewID)
	}
	// D goes through what is left
	h.keys("D")
	h.drainView()
	if v := h.actionView(); v.viewID != second.viewID {
		t.Errorf("D with one mark left drains %q", v.viewID)
	}
}

// TestMarksFeedThePeek: p with marks opens the peek of each marked queue
// in turn, esc goes to the next; peeking changes nothing, the marks stay.
// A marked row the action cannot take is named at the end.
func TestMarksFeedThePeek(t *testing.T) {
	f := newFakeRabbit()
	invoices := queueKey("billing", "invoices.dead-letter")
	f.messages[invoices] = deadLetters()[:3]
	h := rabbitHarness(t, f)
	list := h.m.top()
	for _, id := range []string{queueKey("/", "orders.dlq"), invoices, queueKey("/", "orders")} {
		h.selectRow(id)
		h.keys("space")
	}
	h.keys("p")
	pv, ok := h.m.top().(*peekView)
	if !ok {
		t.Fatalf("p opened %T", h.m.top())
	}
	if !strings.Contains(h.screen(), "esc next marked") {
		t.Errorf("the footer does not say esc goes to the next:\n%s", h.screen())
	}
	h.keys("esc")
	pv2, ok := h.m.top().(*peekView)
	if !ok || pv2.name == pv.name {
		t.Fatalf("esc did not open the next marked queue's peek: %T", h.m.top())
	}
	h.keys("esc")
	if h.m.top() != list {
		t.Fatalf("the walk did not end on the list: %T", h.m.top())
	}
	s := h.screen()
	if !strings.Contains(s, "not opened: orders: not a dead-letter queue · peeked at 2 of 3 marked") {
		t.Errorf("no summary:\n%s", s)
	}
	if n := list.focused().MarkedCount(); n != 3 {
		t.Errorf("a peek unmarked rows: %d marked", n)
	}
	// leaving the list another way ends the walk
	h.keys("p")
	h.command("groups")
	if h.m.walk != nil {
		t.Error("the walk outlived its list")
	}
}

// TestMarkedRowTheDrainCannotTake: with a RabbitMQ drainer only, a marked
// Kafka topic is not drained, and the summary says why.
func TestMarkedRowTheDrainCannotTake(t *testing.T) {
	h, _ := kafkaDrainHarness(t, Options{Rabbit: newFakeRabbit(), Drainer: newFakeDrainer()}, true)
	h.keys("space") // orders.DLT
	h.selectRow(queueKey("/", "orders.dlq"))
	h.keys("space", "D")
	h.drainView() // a RabbitMQ drain
	if v := h.actionView(); v.viewID != "drain/"+queueKey("/", "orders.dlq") {
		t.Fatalf("D opened %q", v.viewID)
	}
	h.keys("esc")
	if f := h.m.flash.Text; !strings.HasPrefix(f, "not opened: orders.DLT is a Kafka dead-letter topic: only RabbitMQ dead-letter queues can be drained") ||
		!strings.HasSuffix(f, "drained 0 of 2 marked, 2 still marked (D goes through them again)") {
		t.Errorf("the refusal is not said: %q", f)
	}
}
