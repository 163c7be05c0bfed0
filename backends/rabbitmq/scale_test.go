package rabbitmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/mqops/mqops/backends"
)

// unpaged is the listing of the fake API as one unpaged reply (a JSON
// array of every page's items).
func unpaged(t *testing.T) map[string]string {
	t.Helper()
	routes := maps.Clone(listing)
	var all []json.RawMessage
	for p := 1; p <= 3; p++ {
		var pg struct{ Items []json.RawMessage }
		if err := json.Unmarshal([]byte(listing[fmt.Sprintf("/api/queues?page=%d", p)]), &pg); err != nil {
			t.Fatal(err)
		}
		all = append(all, pg.Items...)
	}
	b, _ := json.Marshal(all)
	routes["/api/queues"] = string(b)
	return routes
}

// TestQueuesListsInOneCall: where the management API lists unpaged, the
// listing is one call (a page costs the broker a scan of every queue), and
// it is the same as page by page.
func TestQueuesListsInOneCall(t *testing.T) {
	f, c := newFakeAPI(t, unpaged(t))
	qs, err := c.Queues(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := f.count("/api/queues"); n != 1 {
		t.Errorf("%d calls to /api/queues, want 1", n)
	}
	if q := f.query["/api/queues"]; q.Get("page") != "" || !strings.Contains(q.Get("columns"), "messages") {
		t.Errorf("query %v: want unpaged, with the listing's columns", q)
	}
	_, pc := newFakeAPI(t, listing)
	want, err := pc.Queues(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(qs)
	exp, _ := json.Marshal(want)
	if string(got) != string(exp) {
		t.Errorf("unpaged listing\n%v\nwant (paged)\n%v", qs, want)
	}
}

// TestQueuesTooManyForOneCallArePaged: an unpaged reply over MaxQueues (or
// MaxReply) is not kept: the listing is read page by page, and its bounds
// hold there.
func TestQueuesTooManyForOneCallArePaged(t *testing.T) {
	f, c := newFakeAPI(t, unpaged(t))
	c.cfg.MaxQueues = 4 // the unpaged reply has 7
	_, err := c.Queues(context.Background())
	if err == nil || !strings.Contains(err.Error(), "listed more than 4 queues") {
		t.Errorf("err = %v, want the paged listing's bound", err)
	}
	if n := f.count("/api/queues"); n < 2 {
		t.Errorf("%d calls, want the unpaged one then pages", n)
	}
	routes := unpaged(t)
	longest := 0
	for p := 1; p <= 3; p++ {
		longest = max(longest, len(routes[fmt.Sprintf("/api/queues?page=%d", p)]))
	}
	if len(routes["/api/queues"]) <= longest {
		t.Fatal("the unpaged reply is not the longest")
	}
	f, c = newFakeAPI(t, routes)
	c.cfg.MaxReply = int64(longest) // the unpaged reply is longer, each page not
	qs, err := c.Queues(context.Background())
	if err != nil || len(qs) != 7 {
		t.Fatalf("%d queues, %v", len(qs), err)
	}
	if n := f.count("/api/queues"); n != 4 {
		t.Errorf("%d calls, want 4 (unpaged, too long, then 3 pages)", n)
	}
}

// TestDeadLetterQueuesWithoutStatistics: the DLQ listing asks for no
// statistics (the policy's name only, and the policies once), and finds
// the same DLQs as the full listing, a policy's dead-letter exchange
// included.
func TestDeadLetterQueuesWithoutStatistics(t *testing.T) {
	routes := unpaged(t)
	// without statistics the API sends no effective_policy_definition
	routes["/api/queues"] = strings.ReplaceAll(routes["/api/queues"],
		`"effective_policy_definition":{"dead-letter-exchange":"dlx2","dead-letter-routing-key":"pay","delivery-limit":5}`, `"messages":0`)
	routes["/api/policies"] = `[{"vhost":"/","name":"dl","pattern":"^pay","apply-to":"queues","priority":0,
	  "definition":{"dead-letter-exchange":"dlx2","dead-letter-routing-key":"pay","delivery-limit":5}},
	  {"vhost":"other","name":"dl","definition":{"dead-letter-exchange":"elsewhere"}}]`
	f, c := newFakeAPI(t, routes)
	dlqs, err := c.DeadLetterQueues(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	q := f.query["/api/queues"]
	if q.Get("disable_stats") != "true" || strings.Contains(q.Get("columns"), "message") || strings.Contains(q.Get("columns"), "effective") {
		t.Errorf("query %v: want disable_stats and no statistics columns", q)
	}
	if f.count("/api/policies") != 1 {
		t.Errorf("%d policy calls, want 1", f.count("/api/policies"))
	}
	var names []string
	for _, d := range dlqs {
		names = append(names, d.Name)
	}
	want := []string{"audit_error", "legacy.parked", "orders.dlq", "payments.failed"}
	if !slices.Equal(names, want) {
		t.Errorf("DLQs %v, want %v (payments.failed only through the policy's dead-letter exchange)", names, want)
	}
}

// TestDeadLetterQueuesWhenPoliciesAreForbidden: a user who may not read
// the policies (no policymaker tag) still gets every DLQ, a policy's
// included: from the listing with statistics, where the effective policy
// comes.
func TestDeadLetterQueuesWhenPoliciesAreForbidden(t *testing.T) {
	f, c := newFakeAPI(t, unpaged(t)) // no /api/policies: 404
	dlqs, err := c.DeadLetterQueues(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if q := f.query["/api/queues"]; q.Get("disable_stats") != "" || !strings.Contains(q.Get("columns"), "effective_policy_definition") {
		t.Errorf("query %v: want the listing with statistics and effective policies", q)
	}
	var names []string
	for _, d := range dlqs {
		names = append(names, d.Name)
	}
	if want := []string{"audit_error", "legacy.parked", "orders.dlq", "payments.failed"}; !slices.Equal(names, want) {
		t.Errorf("DLQs %v, want %v", names, want)
	}
}

// TestQueueTotalsAsksNoStatistics: the quick listing asks the management
// API for the queues' own totals without statistics (and the policies
// once); an API that sends no totals (before enable_queue_totals) and a
// user who may not read the policies get ErrNoQueueTotals, never depths
// of 0.
func TestQueueTotalsAsksNoStatistics(t *testing.T) {
	routes := unpaged(t)
	routes["/api/policies"] = `[]`
	f, c := newFakeAPI(t, routes)
	qs, err := c.QueueTotals(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	q := f.query["/api/queues"]
	if q.Get("disable_stats") != "true" || q.Get("enable_queue_totals") != "true" || strings.Contains(q.Get("columns"), "message_stats") ||
		strings.Contains(q.Get("columns"), "consumers") || !strings.Contains(q.Get("columns"), "messages_ready") {
		t.Errorf("query %v: want disable_stats, enable_queue_totals and only the totals' columns", q)
	}
	full, err := c.Queues(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != len(full) {
		t.Fatalf("%d queues, want %d", len(qs), len(full))
	}
	for i := range qs {
		if !qs[i].NoStats || qs[i].Name != full[i].Name || qs[i].Messages != full[i].Messages {
			t.Errorf("queue %d: %+v, want %s with %d messages, NoStats", i, qs[i], full[i].Name, full[i].Messages)
		}
	}

	// an API before queue totals: the listing comes without depths
	var items []map[string]any
	if err := json.Unmarshal([]byte(routes["/api/queues"]), &items); err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		delete(it, "messages")
		delete(it, "messages_ready")
		delete(it, "messages_unacknowledged")
	}
	b, _ := json.Marshal(items)
	routes["/api/queues"] = string(b)
	_, c = newFakeAPI(t, routes)
	if _, err := c.QueueTotals(context.Background()); !errors.Is(err, backends.ErrNoQueueTotals) {
		t.Errorf("an API without totals: %v, want ErrNoQueueTotals", err)
	}
	_, c = newFakeAPI(t, unpaged(t)) // no /api/policies: 404
	if _, err := c.QueueTotals(context.Background()); !errors.Is(err, backends.ErrNoQueueTotals) {
		t.Errorf("policies not readable: %v, want ErrNoQueueTotals", err)
	}
	// a proxy answering the policies with a page of its own: the quick
	// listing gives way, and dlq finds the DLQs from the listing with
	// statistics
	routes = unpaged(t)
	routes["/api/policies"] = `<html>maintenance</html>`
	f, c = newFakeAPI(t, routes)
	if _, err := c.QueueTotals(context.Background()); !errors.Is(err, backends.ErrNoQueueTotals) {
		t.Errorf("policies not JSON: %v, want ErrNoQueueTotals", err)
	}
	dlqs, err := c.DeadLetterQueues(context.Background())
	if err != nil || len(dlqs) != 4 {
		t.Errorf("dlq with the policies not JSON: %d DLQs, %v; want the 4 of the listing with statistics", len(dlqs), err)
	}
	if q := f.query["/api/queues"]; q.Get("disable_stats") != "" {
		t.Errorf("dlq with the policies not JSON asked %v, want the listing with statistics", q)
	}
	// refused credentials are the answer: no second listing
	c.cfg.Password = "wrong"
	f.calls = map[string]int{}
	if _, err := c.QueueTotals(context.Background()); err == nil || errors.Is(err, backends.ErrNoQueueTotals) || !strings.Contains(err.Error(), "authentication failed") {
		t.Errorf("credentials refused: %v, want the authentication error", err)
	}
	if n := f.count("/api/queues"); n != 0 {
		t.Errorf("credentials refused: %d listings asked after the policies, want 0", n)
	}
}
