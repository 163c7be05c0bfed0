package rabbitmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/mqops/mqops/backends"
)

const testSecret = "s3cret-pw-do-not-print"

// fakeAPI is a management API serving canned answers by path, counting
// calls.
type fakeAPI struct {
	mu     sync.Mutex
	routes map[string]string // RawPath (escaped) → JSON
	calls  map[string]int
	query  map[string]url.Values // the last query of each path
	t      *testing.T
}

func newFakeAPI(t *testing.T, routes map[string]string) (*fakeAPI, *Client) {
	f := &fakeAPI{routes: routes, calls: map[string]int{}, query: map[string]url.Values{}, t: t}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != "ops" || p != testSecret {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		path := r.URL.EscapedPath()
		key := path
		if pg := r.URL.Query().Get("page"); pg != "" {
			key += "?page=" + pg
			if ps := r.URL.Query().Get("page_size"); ps != "2" {
				t.Errorf("page_size %q, want 2", ps)
			}
		}
		f.mu.Lock()
		f.calls[path]++
		f.query[path] = r.URL.Query()
		body, ok := f.routes[key]
		f.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":"Object Not Found","reason":"Not Found"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Config{ManagementURL: srv.URL, Username: "ops", Password: testSecret, PageSize: 2, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

func (f *fakeAPI) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[path]
}

// Three pages of queues: an origin with a DLX argument, one with a DLX
// from a policy (and `[]` for empty objects, as older brokers send), one
// dead-lettering through the default exchange, the DLQs, and a name-only
// DLQ.
var listing = map[string]string{
	"/api/queues?page=1": `{"items":[
	  {"vhost":"/","name":"orders","type":"classic","durable":true,"state":"running","messages":12,"messages_ready":10,"messages_unacknowledged":2,"consumers":3,
	   "arguments":{"x-dead-letter-exchange":"dlx","x-max-length":10000},"policy":null,"effective_policy_definition":[],
	   "message_stats":{"publish_details":{"rate":12.5},"deliver_get_details":{"rate":11.25},"ack_details":{"rate":11.0}}},
	  {"vhost":"/","name":"payments","type":"quorum","durable":true,"messages":0,"messages_ready":0,"messages_unacknowledged":0,"consumers":1,
	   "arguments":[],"policy":"dl","effective_policy_definition":{"dead-letter-exchange":"dlx2","dead-letter-routing-key":"pay","delivery-limit":5}}],
	 "page":1,"page_count":3,"page_size":2,"total_count":6}`,
	"/api/queues?page=2": `{"items":[
	  {"vhost":"/","name":"legacy","messages":1,"arguments":{"x-dead-letter-exchange":"","x-dead-letter-routing-key":"legacy.parked"}},
	  {"vhost":"/","name":"legacy.parked","messages":4,"arguments":{}}],
	 "page":2,"page_count":3,"page_size":2,"total_count":6}`,
	"/api/queues?page=3": `{"items":[
	  {"vhost":"/","name":"orders.dlq","type":"classic","messages":40,"arguments":{}},
	  {"vhost":"/","name":"audit_error","type":"classic","messages":2,"arguments":{}},
	  {"vhost":"/","name":"payments.failed","type":"quorum","messages":7,"arguments":{"x-queue-type":"quorum"}}],
	 "page":3,"page_count":3,"page_size":2,"total_count":6}`,
	"/api/exchanges/%2F/dlx/bindings/source": `[{"source":"dlx","vhost":"/","destination":"orders.dlq","destination_type":"queue","routing_key":"#","arguments":{}},
	  {"source":"dlx","vhost":"/","destination":"dlx.more","destination_type":"exchange","routing_key":"","arguments":{}}]`,
	"/api/exchanges/%2F/dlx.more/bindings/source": `[]`,
	"/api/exchanges/%2F/dlx2/bindings/source":     `[{"source":"dlx2","vhost":"/","destination":"payments.failed","destination_type":"queue","routing_key":"pay","arguments":[]}]`,
}

func TestQueuesPagesAndDetectsDLQs(t *testing.T) {
	f, c := newFakeAPI(t, listing)
	qs, err := c.Queues(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// the unpaged listing first (this API answers it 404), then the pages
	if f.count("/api/queues") != 4 {
		t.Errorf("%d calls, want 4 (unpaged, refused, then 3 pages)", f.count("/api/queues"))
	}
	// one bindings call per distinct DLX (and one for the exchange bound to it)
	for _, x := range []string{"dlx", "dlx2", "dlx.more"} {
		if n := f.count("/api/exchanges/%2F/" + x + "/bindings/source"); n != 1 {
			t.Errorf("%s: %d bindings calls", x, n)
		}
	}
	byName := map[string]backends.Queue{}
	var order []string
	for _, q := range qs {
		byName[q.Name] = q
		order = append(order, q.Name)
	}
	if len(qs) != 7 || order[0] != "orders.dlq" || order[1] != "orders" {
		t.Fatalf("queues (deepest first): %v", order)
	}
	o := byName["orders"]
	if o.Ready != 10 || o.Unacked != 2 || o.Messages != 12 || o.Consumers != 3 || o.PublishRate != 12.5 || o.DeliverRate != 11.25 || o.AckRate != 11 ||
		!o.HasDeadLetterExchange || o.DeadLetterExchange != "dlx" || o.IsDLQ || o.Arguments["x-max-length"] != int64(10000) || !o.Durable || o.State != "running" {
		t.Errorf("orders: %+v", o)
	}
	p := byName["payments"]
	if p.Type != "quorum" || p.Policy != "dl" || p.DeadLetterExchange != "dlx2" || p.DeadLetterRoutingKey != "pay" || p.DeliveryLimit == nil || *p.DeliveryLimit != 5 ||
		p.PolicyDefinition["delivery-limit"] != int64(5) || len(p.Arguments) != 0 {
		t.Errorf("payments (policy): %+v", p)
	}
	want := map[string]string{
		"orders.dlq":      `bound to dead-letter exchange "dlx" of queue "orders"`,
		"payments.failed": `bound to dead-letter exchange "dlx2" of queue "payments"`,
		"legacy.parked":   `dead-letter target of queue "legacy" (default exchange, routing key "legacy.parked")`,
		"audit_error":     "named like a dead-letter queue",
	}
	for name, q := range byName {
		if w, ok := want[name]; ok != q.IsDLQ || q.DLQReason != w {
			t.Errorf("%s: IsDLQ %v %q, want %q", name, q.IsDLQ, q.DLQReason, w)
		}
	}
	if byName["payments.failed"].Type != "quorum" || byName["legacy"].Type != "classic" {
		t.Errorf("types: %q %q", byName["payments.failed"].Type, byName["legacy"].Type)
	}
	b, _ := json.Marshal(o)
	for _, k := range []string{`"vhost"`, `"name"`, `"type"`, `"ready"`, `"unacked"`, `"messages"`, `"consumers"`, `"publish_rate"`, `"deliver_rate"`, `"dead_letter_exchange"`, `"is_dlq"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("queue JSON lacks %s: %s", k, b)
		}
	}
}

func TestQueuesPerVhost(t *testing.T) {
	_, c := newFakeAPI(t, map[string]string{
		"/api/queues/prod?page=1": `{"items":[{"vhost":"prod","name":"a","messages":1}],"page":1,"page_count":1}`,
	})
	c.cfg.Vhosts = []string{"prod"}
	qs, err := c.Queues(context.Background())
	if err != nil || len(qs) != 1 || qs[0].Vhost != "prod" {
		t.Fatalf("%+v %v", qs, err)
	}
	c.cfg.Vhosts = []string{"prod", "nope\x1b[2J"}
	_, err = c.Queues(context.Background())
	if err == nil || !errors.Is(err, ErrNotFound) || err.Error() != `vhost "nope\x1b[2J" not found` {
		t.Fatalf("unknown vhost: %v", err)
	}
}

func TestQueueDetail(t *testing.T) {
	routes := map[string]string{
		"/api/queues/%2F/orders.dlq": `{"vhost":"/","name":"orders.dlq","type":"classic","messages":40,"arguments":{},
		  "consumer_details":[{"consumer_tag":"ctag-1","ack_required":true,"prefetch_count":50,"exclusive":false,
		    "channel_details":{"name":"127.0.0.1:5000 -> 127.0.0.1:5672 (1)","connection_name":"127.0.0.1:5000 -> 127.0.0.1:5672","number":1}}]}`,
		"/api/queues/%2F/orders.dlq/bindings": `[{"source":"","destination":"orders.dlq","destination_type":"queue","routing_key":"orders.dlq","arguments":{}},
		  {"source":"dlx","destination":"orders.dlq","destination_type":"queue","routing_key":"#","arguments":{"x-match":"all"}}]`,
	}
	for k, v := range listing {
		if strings.HasPrefix(k, "/api/queues?") {
			routes[strings.Replace(k, "/api/queues", "/api/queues/%2F", 1)] = v
		}
	}
	_, c := newFakeAPI(t, routes)
	d, err := c.QueueDetail(context.Background(), "/", "orders.dlq")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Bindings) != 2 || d.Bindings[1].Source != "dlx" || d.Bindings[1].RoutingKey != "#" || d.Bindings[1].Arguments["x-match"] != "all" {
		t.Errorf("bindings: %+v", d.Bindings)
	}
	if len(d.Consumers) != 1 || d.Consumers[0] != (backends.QueueConsumer{Tag: "ctag-1", Connection: "127.0.0.1:5000 -> 127.0.0.1:5672",
		Channel: "127.0.0.1:5000 -> 127.0.0.1:5672 (1)", AckRequired: true, Prefetch: 50}) {
		t.Errorf("consumers: %+v", d.Consumers)
	}
	if !d.Queue.IsDLQ || d.Queue.DLQReason != `bound to dead-letter exchange "dlx" of queue "orders"` {
		t.Errorf("DLQ: %v %q", d.Queue.IsDLQ, d.Queue.DLQReason)
	}
	_, err = c.QueueDetail(context.Background(), "/", "orders")
	if err == nil || err.Error() != `queue "orders" not found in vhost "/"` || !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown queue: %v", err)
	}
}

func TestManagementErrorsNeverHoldThePassword(t *testing.T) {
	_, good := newFakeAPI(t, map[string]string{})
	bad, err := New(Config{ManagementURL: "http://" + good.Name(), Username: "ops", Password: "wrong-" + testSecret})
	if err != nil {
		t.Fatal(err)
	}
	var errs []error
	_, err = bad.Overview(context.Background())
	errs = append(errs, err)
	if err == nil || err.Error() != `authentication failed for user "ops" at the RabbitMQ management API at http://`+good.Name() {
		t.Fatalf("401: %v", err)
	}
	nopw, err := New(Config{ManagementURL: "http://" + good.Name(), Username: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nopw.Overview(context.Background()); err == nil || !strings.Contains(err.Error(), "authentication failed") || !strings.Contains(err.Error(), "no password was given") {
		t.Fatalf("401 without a password: %v", err)
	}
	c, _ := New(Config{ManagementURL: "http://127.0.0.1:1", Username: "ops", Password: testSecret, Timeout: 2 * time.Second})
	_, err = c.Queues(context.Background())
	errs = append(errs, err)
	if err == nil || err.Error() != "cannot reach the RabbitMQ management API at http://127.0.0.1:1: connection refused" {
		t.Fatalf("unreachable: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = good.Queues(ctx)
	errs = append(errs, err)
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	for _, e := range errs {
		if strings.Contains(e.Error(), testSecret) {
			t.Fatalf("password in %v", e)
		}
	}
}

func TestNewValidates(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{ManagementURL: "ftp://h"},
		{ManagementURL: "http://u:p@h:15672"},
		{ManagementURL: "http://h:15672", URL: "http://h"},
		{ManagementURL: "http://h:15672", URL: "amqp://u:" + testSecret + "@h"},
	} {
		c, err := New(cfg)
		if err == nil {
			t.Errorf("accepted %+v", cfg)
			continue
		}
		if strings.Contains(err.Error(), testSecret) {
			t.Errorf("password in %v", err)
		}
		_ = c
	}
	c, err := New(Config{ManagementURL: "https://rabbit:15671/", URL: "amqps://ops@rabbit:5671/orders"})
	if err != nil || c.Name() != "rabbit:15671" || c.cfg.Timeout != DefaultTimeout || c.cfg.PageSize != DefaultPageSize {
		t.Fatalf("%v %+v", err, c)
	}
}

func TestRoutesFromBindings(t *testing.T) {
	_, c := newFakeAPI(t, map[string]string{
		"/api/exchanges/%2F/direct":                 `{"name":"direct","type":"direct","arguments":{}}`,
		"/api/exchanges/%2F/direct/bindings/source": `[{"source":"direct","destination":"eu","destination_type":"queue","routing_key":"eu"},{"source":"direct","destination":"eu2","destination_type":"queue","routing_key":"eu"},{"source":"direct","destination":"us","destination_type":"queue","routing_key":"us"}]`,
		"/api/exchanges/%2F/fan":                    `{"name":"fan","type":"fanout","arguments":{}}`,
		"/api/exchanges/%2F/fan/bindings/source":    `[{"source":"fan","destination":"a","destination_type":"queue","routing_key":"x"},{"source":"fan","destination":"topic","destination_type":"exchange","routing_key":""}]`,
		"/api/exchanges/%2F/topic":                  `{"name":"topic","type":"topic","arguments":{"alternate-exchange":"ae"}}`,
		"/api/exchanges/%2F/topic/bindings/source":  `[{"source":"topic","destination":"all-orders","destination_type":"queue","routing_key":"orders.#"},{"source":"topic","destination":"eu-created","destination_type":"queue","routing_key":"orders.*.created"}]`,
		"/api/exchanges/%2F/ae":                     `{"name":"ae","type":"fanout","arguments":{}}`,
		"/api/exchanges/%2F/ae/bindings/source":     `[{"source":"ae","destination":"unrouted","destination_type":"queue","routing_key":""}]`,
		"/api/exchanges/%2F/hdr":                    `{"name":"hdr","type":"headers","arguments":{}}`,
		"/api/exchanges/%2F/hdr/bindings/source":    `[]`,
		"/api/exchanges/%2F/empty":                  `{"name":"empty","type":"direct","arguments":{}}`,
		"/api/exchanges/%2F/empty/bindings/source":  `[]`,
		"/api/queues/%2F/orders":                    `{"name":"orders"}`,
	})
	ctx := context.Background()
	for _, tc := range []struct {
		x, key      string
		want        []string
		predictable bool
	}{
		{"direct", "eu", []string{"eu", "eu2"}, true},
		{"direct", "EU", nil, true},
		// the fanout forwards to the topic exchange, where nothing matches
		// "anything": its alternate exchange takes it
		{"fan", "anything", []string{"a", "unrouted"}, true},
		{"topic", "orders.eu.created", []string{"all-orders", "eu-created"}, true},
		{"topic", "orders", []string{"all-orders"}, true},
		{"topic", "payments.eu", []string{"unrouted"}, true}, // alternate exchange
		{"hdr", "k", nil, false},
		{"empty", "k", nil, true},
		{"missing", "k", nil, true},
		{"", "orders", []string{"orders"}, true},
		{"", "nope", nil, true},
		{"", "", nil, true},
	} {
		got, ok, err := c.Routes(ctx, "/", tc.x, tc.key)
		if err != nil || ok != tc.predictable || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Routes(%q, %q) = %v %v %v, want %v %v", tc.x, tc.key, got, ok, err, tc.want, tc.predictable)
		}
	}
	for x, want := range map[string]bool{"direct": true, "missing": false, "": true} {
		if ok, err := c.ExchangeExists(ctx, "/", x); ok != want || err != nil {
			t.Errorf("ExchangeExists(%q) = %v %v", x, ok, err)
		}
	}
}

func TestTopicMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, key string
		want         bool
	}{
		{"#", "", true},
		{"#", "a.b.c", true},
		{"*", "", false},
		{"*", "a", true},
		{"*", "a.b", false},
		{"a.*", "a.b", true},
		{"a.*", "a", false},
		{"a.#", "a", true},
		{"a.#", "a.b.c", true},
		{"#.c", "a.b.c", true},
		{"#.c", "c", true},
		{"#.c", "a.b", false},
		{"a.#.c", "a.c", true},
		{"a.#.c", "a.x.y.c", true},
		{"a.*.c", "a.c", false},
		{"a.#.#.c", "a.c", true},
		{"*.#", "", false},
		{"", "", true},
		{"", "a", false},
		{"a..b", "a..b", true},
		{"a.*.b", "a..b", true},
		{"orders.created", "orders.created", true},
		{"orders.created", "orders.Created", false},
	} {
		if got := TopicMatch(tc.pattern, tc.key); got != tc.want {
			t.Errorf("TopicMatch(%q, %q) = %v", tc.pattern, tc.key, got)
		}
	}
}

func TestPlainHeaderValues(t *testing.T) {
	at := time.Date(2026, 11, 3, 4, 5, 6, 0, time.FixedZone("x", 3600))
	got := plainTable(amqp.Table{
		"i8": int8(-1), "u8": uint8(2), "i16": int16(-3), "u16": uint16(4), "i32": int32(-5), "u32": uint32(6), "i64": int64(7),
		"f32": float32(1.5), "f64": 2.25, "b": true, "s": "esc\x1b[31m", "t": at, "nil": nil, "bytes": []byte{0, 0xff},
		"dec":    amqp.Decimal{Scale: 2, Value: 1234},
		"nested": amqp.Table{"deep": []any{int32(1), amqp.Table{"x": int16(2)}}},
	})
	want := map[string]any{
		"i8": int64(-1), "u8": int64(2), "i16": int64(-3), "u16": int64(4), "i32": int64(-5), "u32": int64(6), "i64": int64(7),
		"f32": 1.5, "f64": 2.25, "b": true, "s": "esc\x1b[31m", "t": at.UTC(), "nil": nil, "bytes": []byte{0, 0xff},
		"dec":    "12.34",
		"nested": map[string]any{"deep": []any{int64(1), map[string]any{"x": int64(2)}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %#v\nwant %#v", got, want)
	}
}

func deathTable(queue, reason, exchange string, keys []any, count int64, at time.Time) amqp.Table {
	return amqp.Table{"queue": queue, "reason": reason, "exchange": exchange, "routing-keys": keys, "count": count, "time": at}
}

func TestConvertParsesDeathHistory(t *testing.T) {
	t1 := time.Unix(1_800_000_000, 0)
	t2 := t1.Add(time.Minute)
	body := make([]byte, MaxBody+10)
	body[0] = 0xff
	d := &amqp.Delivery{
		MessageId: "m-1", CorrelationId: "c-1", AppId: "app", Type: "order.created", ContentType: "application/json", ContentEncoding: "gzip",
		DeliveryMode: 2, Priority: 3, ReplyTo: "replies", UserId: "ops", Timestamp: t1, Exchange: "dlx", RoutingKey: "orders", Redelivered: true,
		Body: body,
		Headers: amqp.Table{
			"x-death": []any{
				deathTable("orders.retry", "expired", "retry", []any{"orders"}, 1, t2),
				deathTable("orders", "rejected", "in", []any{"orders.created", "cc-key"}, int64(3), t1),
			},
			"x-first-death-queue": "orders", "x-first-death-reason": "rejected", "x-first-death-exchange": "in",
		},
	}
	m := convert(d, MaxBody)
	if m.Size != MaxBody+10 || len(m.Body) != MaxBody || !m.Truncated || m.Body[0] != 0xff {
		t.Errorf("body: size %d len %d truncated %v", m.Size, len(m.Body), m.Truncated)
	}
	if m.MessageID != "m-1" || m.CorrelationID != "c-1" || m.AppID != "app" || m.Type != "order.created" || m.Encoding != "gzip" || m.DeliveryMode != 2 ||
		m.Priority != 3 || m.ReplyTo != "replies" || m.UserID != "ops" || !m.Timestamp.Equal(t1) || m.Timestamp.Location() != time.UTC || !m.Redelivered {
		t.Errorf("properties: %+v", m)
	}
	want := []backends.Death{
		{Queue: "orders.retry", Reason: "expired", Exchange: "retry", RoutingKeys: []string{"orders"}, Count: 1, Time: t2.UTC()},
		{Queue: "orders", Reason: "rejected", Exchange: "in", RoutingKeys: []string{"orders.created", "cc-key"}, Count: 3, Time: t1.UTC()},
	}
	if !reflect.DeepEqual(m.Deaths, want) {
		t.Errorf("deaths: %+v", m.Deaths)
	}
	if m.FirstDeath == nil || !reflect.DeepEqual(*m.FirstDeath, backends.Death{Queue: "orders", Reason: "rejected", Exchange: "in"}) {
		t.Errorf("first death: %+v", m.FirstDeath)
	}
	if q, r := m.Origin(); q != "orders" || r != "rejected" {
		t.Errorf("origin %s %s", q, r)
	}
	m.FirstDeath = nil
	if q, r := m.Origin(); q != "orders.retry" || r != "expired" {
		t.Errorf("origin without x-first-death: %s %s (want the most recent death)", q, r)
	}
	if full := convert(d, 0); len(full.Body) != MaxBody+10 || full.Truncated {
		t.Errorf("a moved message keeps its whole body")
	}
}

func TestGroupDeadLetters(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0).UTC()
	dl := func(origin, reason string, min int, headers map[string]any) backends.Message {
		return backends.Message{Headers: headers, FirstDeath: &backends.Death{Queue: origin, Reason: reason},
			Deaths: []backends.Death{{Queue: origin, Reason: reason, Time: t0.Add(time.Duration(min) * time.Minute)}}}
	}
	ms := []backends.Message{
		dl("orders", "rejected", 5, nil),
		dl("orders", "rejected", 1, nil),
		dl("orders", "rejected", 9, map[string]any{"x-exception-type": "TimeoutException", "x-exception-message": "took 31s for id 7"}),
		dl("orders", "expired", 3, nil),
		dl("payments", "rejected", 2, map[string]any{"MT-Fault-Message": "card declined"}),
		dl("payments", "rejected", 4, map[string]any{"MT-Fault-Message": "card declined"}),
		{Timestamp: t0, MessageID: "no-death"},
	}
	got := Group(ms)
	want := []backends.DeadLetterGroup{
		{Origin: "orders", Reason: "rejected", Count: 2, First: t0.Add(time.Minute), Last: t0.Add(5 * time.Minute)},
		{Origin: "payments", Reason: "rejected", Exception: "card declined", Count: 2, First: t0.Add(2 * time.Minute), Last: t0.Add(4 * time.Minute)},
		{Origin: "", Reason: "", Count: 1, First: t0, Last: t0},
		{Origin: "orders", Reason: "expired", Count: 1, First: t0.Add(3 * time.Minute), Last: t0.Add(3 * time.Minute)},
		{Origin: "orders", Reason: "rejected", Exception: "TimeoutException", Count: 1, First: t0.Add(9 * time.Minute), Last: t0.Add(9 * time.Minute)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	s := backends.DeadLetterSummary{Backend: "rabbitmq", Vhost: "/", Queue: "orders.dlq", Messages: 7, Sampled: 7, Groups: got[:1]}
	b, _ := json.Marshal(s)
	const wantJSON = `{"backend":"rabbitmq","vhost":"/","queue":"orders.dlq","messages":7,"sampled":7,"groups":[{"origin":"orders","reason":"rejected","exception":"","count":2,"first":"2027-01-15T08:01:00Z","last":"2027-01-15T08:05:00Z"}]}`
	if string(b) != wantJSON {
		t.Fatalf("JSON:\n%s\nwant\n%s", b, wantJSON)
	}
}

func TestRepublishHeaders(t *testing.T) {
	t1 := time.Unix(1_800_000_000, 0)
	d := &amqp.Delivery{
		MessageId: "m-1", ContentType: "application/json", DeliveryMode: 2, Priority: 4, Timestamp: t1, Expiration: "60000", AppId: "a", Type: "t",
		CorrelationId: "c", ReplyTo: "r", UserId: "u", ContentEncoding: "e", Body: []byte{0, 1, 2},
		Headers: amqp.Table{
			"x-death":             []any{deathTable("orders", "rejected", "", []any{"orders"}, 2, t1)},
			"x-first-death-queue": "orders", "X-Custom": "dropped", "CC": []any{"other"}, "BCC": []any{"hidden"},
			"app":              "kept\x1b",
			HeaderMoveCount:    int32(2),
			HeaderRunID:        "old-run",
			HeaderDeathHistory: `[{"queue":"orders","reason":"expired","exchange":"","routing_keys":["orders"],"count":1,"time":"2026-01-01T00:00:00Z"}]`,
		},
	}
	m := convert(d, 0)
	p := republish(d, &m, MoveOptions{Vhost: "/", Queue: "orders.dlq", RunID: "run-7"}, 42)
	for k := range p.Headers {
		if strings.HasPrefix(strings.ToLower(k), "x-") || k == "CC" || k == "BCC" {
			t.Errorf("header %q copied", k)
		}
	}
	if p.Headers["app"] != "kept\x1b" || p.Headers[HeaderMoveCount] != int64(3) || p.Headers[HeaderRunID] != "run-7" ||
		p.Headers[HeaderMovedFrom] != "//orders.dlq" || p.Headers[headerSeq] != int64(42) {
		t.Errorf("headers: %v", p.Headers)
	}
	var history []backends.Death
	if err := json.Unmarshal([]byte(p.Headers[HeaderDeathHistory].(string)), &history); err != nil {
		t.Fatal(err)
	}
	if len(history) != 2 || history[0].Reason != "rejected" || history[0].Count != 2 || history[1].Reason != "expired" {
		t.Errorf("death history (new first, then the earlier one): %+v", history)
	}
	if p.MessageId != "m-1" || p.ContentType != "application/json" || p.DeliveryMode != 2 || p.Priority != 4 || !p.Timestamp.Equal(t1) ||
		p.Expiration != "60000" || p.AppId != "a" || p.Type != "t" || p.CorrelationId != "c" || p.ReplyTo != "r" || p.UserId != "u" ||
		p.ContentEncoding != "e" || string(p.Body) != "\x00\x01\x02" {
		t.Errorf("properties: %+v", p)
	}
}

func TestSmallHelpers(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1204: "1,204", 20000: "20,000", 1234567: "1,234,567", -1204: "-1,204"} {
		if got := fmtN(n); got != want {
			t.Errorf("fmtN(%d) = %s", n, got)
		}
	}
	for v, want := range map[string][2]int{"3.10.8": {3, 10}, "4.2.1": {4, 2}, "4.10.0": {4, 10}, "4.3.0-rc.1": {4, 3}, "": {-1, -1}, "x": {-1, -1}, "4": {-1, -1}} {
		ma, mi, ok := parseVersion(v)
		if !ok {
			ma, mi = -1, -1
		}
		if [2]int{ma, mi} != want {
			t.Errorf("parseVersion(%q) = %d %d %v", v, ma, mi, ok)
		}
	}
	for name, want := range map[string]bool{"orders.dlq": true, "orders.DLQ": true, "orders-dlq": true, "orders_dlq": true, "orders.dead": true,
		"orders_error": true, "dlq.orders": true, "orders": false, "dlq": false, ".dlq": false, "deadline": false, "errors": false} {
		if got := DLQName(name); got != want {
			t.Errorf("DLQName(%q) = %v", name, got)
		}
	}
	if got := decimalString(amqp.Decimal{Scale: 0, Value: -5}); got != "-5" {
		t.Errorf("decimal %s", got)
	}
	if got := Exception(&backends.Message{Headers: map[string]any{"exception": int64(5)}}); got != "5" {
		t.Errorf("exception %q", got)
	}
}

// TestLookingNeverLosesDecision is the one decision of whether a peek
// changes a queue (issue 7, class 0): a quorum queue with an effective
// delivery limit on a RabbitMQ that counts requeues (before 4.3, with the
// default of 20 from 4.0) is not peeked implicitly; one without a limit is
// peeked by reading all of it, unless it is deeper than a peek reads.
func TestLookingNeverLosesDecision(t *testing.T) {
	lim := func(args, pol map[string]any, policy string) *backends.Queue {
		q := convertQueue(apiQueue{Name: "q.dlq", Type: "quorum", Arguments: args, EffPolicy: pol, Policy: policy, Messages: "50"})
		return &q
	}
	n := func(i int64) int64 { return i }
	for _, tc := range []struct {
		name    string
		q       *backends.Queue
		version string
		mode    peekMode
		kind    string
		limit   int64
		source  string
		shown   bool
	}{
		{"classic", &backends.Queue{Name: "c", Type: "classic", Messages: 1 << 40}, "", peekInPlace, "", 0, "", false},
		{"quorum 3.10 no limit", lim(nil, nil, ""), "3.10.8", peekCycle, "", 0, "", false},
		{"quorum 3.10 argument", lim(map[string]any{"x-delivery-limit": n(2)}, nil, ""), "3.10.8", peekFront, backends.RiskDeliveryLimit, 2, "argument x-delivery-limit", true},
		{"quorum 3.13 policy", lim(nil, map[string]any{"delivery-limit": n(7)}, "dl"), "3.13.7", peekFront, backends.RiskDeliveryLimit, 7, `policy "dl"`, true},
		{"both: the lower (policy)", lim(map[string]any{"x-delivery-limit": n(9)}, map[string]any{"delivery-limit": n(4)}, "dl"), "3.10.8", peekFront, backends.RiskDeliveryLimit, 4, `policy "dl"`, true},
		{"both: the lower (argument)", lim(map[string]any{"x-delivery-limit": n(3)}, map[string]any{"delivery-limit": n(4)}, "dl"), "4.1.0", peekFront, backends.RiskDeliveryLimit, 3, "argument x-delivery-limit", false},
		{"4.0 default 20", lim(nil, nil, ""), "4.0.9", peekFront, backends.RiskDeliveryLimit, 20, "the default of RabbitMQ 4", false},
		{"4.2 disabled by -1", lim(map[string]any{"x-delivery-limit": n(-1)}, nil, ""), "4.2.1", peekCycle, "", 0, "", false},
		{"4.2 -1 and a policy: the higher", lim(map[string]any{"x-delivery-limit": n(-1)}, map[string]any{"delivery-limit": n(5)}, "p"), "4.2.1", peekFront, backends.RiskDeliveryLimit, 5, `policy "p"`, false},
		{"4.3 counts no nack", lim(map[string]any{"x-delivery-limit": n(2)}, nil, ""), "4.3.0", peekFront, "", 0, "", false},
		{"4.3 default", lim(nil, nil, ""), "4.3.5", peekFront, "", 0, "", false},
		{"deep quorum without limit", func() *backends.Queue { q := lim(nil, nil, ""); q.Messages = MaxPeek + 1; return q }(), "3.10.8", peekCycle, backends.RiskOrder, 0, "", false},
	} {
		mode, risk, err := peekPlan(tc.q, tc.version)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		kind := ""
		if risk != nil {
			kind = risk.Kind
		}
		if mode != tc.mode || kind != tc.kind {
			t.Errorf("%s: mode %d risk %q, want %d %q", tc.name, mode, kind, tc.mode, tc.kind)
			continue
		}
		if kind == backends.RiskDeliveryLimit && (risk.DeliveryLimit != tc.limit || risk.LimitSource != tc.source || risk.CountsShown != tc.shown ||
			risk.OverLimit != "dropped (the queue has no dead-letter exchange)" || risk.Depth != 50 ||
			!strings.Contains(risk.Reason, fmt.Sprintf("delivery limit of %d", tc.limit)) || !strings.Contains(risk.Reason, "RabbitMQ "+tc.version)) {
			t.Errorf("%s: %+v", tc.name, risk)
		}
	}
	if _, _, err := peekPlan(lim(nil, nil, ""), "unknown"); err == nil || !strings.Contains(err.Error(), "cannot tell") {
		t.Errorf("unknown version: %v", err)
	}
	// where a message out of attempts goes, and the attempts a peek leaves
	q := lim(map[string]any{"x-delivery-limit": n(2), "x-dead-letter-exchange": "dlx2"}, nil, "")
	_, risk, _ := peekPlan(q, "3.10.8")
	if risk.OverLimit != `dead-lettered to exchange "dlx2"` {
		t.Errorf("over limit: %q", risk.OverLimit)
	}
	for c, want := range map[int64]int64{-1: 1, 0: 1, 1: 0, 2: -1} {
		m := &backends.Message{Headers: map[string]any{}}
		if c >= 0 {
			m.Headers["x-delivery-count"] = c
		}
		if left, ok := risk.AttemptsLeft(m); !ok || left != want {
			t.Errorf("x-delivery-count %d: %d attempts left (%v), want %d", c, left, ok, want)
		}
	}
}

// TestNumbersFromTheManagementAPIAreFlagged (issue 7, class 10): a count
// that is not an integer in [0, 2^63) or a rate that is not a finite
// number ≥ 0 is flagged with the raw text, reads as 0 and sorts last; it
// never fails the listing nor wraps.
func TestNumbersFromTheManagementAPIAreFlagged(t *testing.T) {
	_, c := newFakeAPI(t, map[string]string{
		"/api/queues?page=1": `{"items":[
		  {"vhost":"/","name":"weird","messages":1e300,"messages_ready":-5,"messages_unacknowledged":1.5,"consumers":"abc",
		   "message_stats":{"publish_details":{"rate":-1},"deliver_get_details":{"rate":1e400},"ack_details":{"rate":"x"}}},
		  {"vhost":"/","name":"edge","messages":9223372036854775807,"messages_ready":9223372036854775808,"consumers":null,
		   "message_stats":{"publish_details":{"rate":0.5}}}],"page":1,"page_count":2}`,
		"/api/queues?page=2": `{"items":[{"vhost":"/","name":"ok","messages":3,"messages_ready":3,"messages_unacknowledged":0}],"page":2,"page_count":2}`,
	})
	qs, err := c.Queues(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 3 || qs[0].Name != "edge" || qs[1].Name != "ok" || qs[2].Name != "weird" {
		t.Fatalf("order (deepest first, out-of-range depths last): %v", names(qs))
	}
	w := qs[2]
	want := map[string]string{"messages": "1e300", "ready": "-5", "unacked": "1.5", "consumers": `"abc"`,
		"publish_rate": "-1", "deliver_rate": "1e400", "ack_rate": `"x"`}
	if !reflect.DeepEqual(w.Invalid, want) || w.Messages != 0 || w.Ready != 0 || w.Unacked != 0 || w.Consumers != 0 || w.PublishRate != 0 || w.DeliverRate != 0 {
		t.Errorf("weird: %+v", w)
	}
	if _, ok := w.Depth(); ok {
		t.Error("an out-of-range depth reads as a depth")
	}
	e := qs[0]
	if e.Messages != 9223372036854775807 || !reflect.DeepEqual(e.Invalid, map[string]string{"ready": "9223372036854775808"}) || e.PublishRate != 0.5 || e.Consumers != 0 {
		t.Errorf("edge: %+v", e)
	}
	if qs[1].Invalid != nil {
		t.Errorf("ok flagged: %+v", qs[1].Invalid)
	}
	b, _ := json.Marshal(w)
	if !strings.Contains(string(b), `"invalid":{`) || !strings.Contains(string(b), `"unacked":"1.5"`) {
		t.Errorf("JSON: %s", b)
	}
	b, _ = json.Marshal(qs[1])
	if strings.Contains(string(b), "invalid") {
		t.Errorf("JSON of a sound queue: %s", b)
	}
}

func names(qs []backends.Queue) []string {
	var out []string
	for _, q := range qs {
		out = append(out, q.Name)
	}
	return out
}

// TestManagementAPIIsNeverTrusted (issue 7, class 6): a reply that never
// ends is refused past its size bound, an API that repeats a page (or
// claims 10^12 of them), lists more queues than the bound, sends a page
// count that is no number or more items than asked, stops the listing
// with a clear error; one that never answers times out.
func TestManagementAPIIsNeverTrusted(t *testing.T) {
	serve := func(h http.HandlerFunc) *Client {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		c, err := New(Config{ManagementURL: srv.URL, Username: "ops", Password: testSecret, PageSize: 2, Timeout: 2 * time.Second,
			MaxReply: 1 << 20, MaxQueues: 100})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	page := func(w http.ResponseWriter, r *http.Request, items string, count string) {
		fmt.Fprintf(w, `{"items":[%s],"page":%s,"page_count":%s}`, items, r.URL.Query().Get("page"), count)
	}
	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
		want string
	}{
		{"endless body", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"items":[{"name":"`)
			chunk := []byte(strings.Repeat("a", 64<<10))
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}, "is larger than 1 MiB: refused"},
		{"a trillion pages, one page over and over", func(w http.ResponseWriter, r *http.Request) {
			page(w, r, `{"vhost":"/","name":"a"},{"vhost":"/","name":"b"}`, "1000000000000")
		}, "page 2 of /api/queues from the RabbitMQ management API at http://127.0.0.1"},
		{"endless new queues", func(w http.ResponseWriter, r *http.Request) {
			p := r.URL.Query().Get("page")
			page(w, r, `{"vhost":"/","name":"a`+p+`"},{"vhost":"/","name":"b`+p+`"}`, "1000000000000")
		}, "listed more than 100 queues by page 51 of /api/queues"},
		{"page count not a number", func(w http.ResponseWriter, r *http.Request) {
			page(w, r, `{"vhost":"/","name":"a"}`, `"many"`)
		}, `sent page_count "many" for page 1 of /api/queues: not a page count`},
		{"a page longer than asked", func(w http.ResponseWriter, r *http.Request) {
			page(w, r, `{"name":"a"},{"name":"b"},{"name":"c"},{"name":"d"},{"name":"e"}`, "1")
		}, "the page holds more than twice the 2 queues asked for"},
		{"never answers", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
			"timed out calling the RabbitMQ management API at http://127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := serve(tc.h).Queues(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want …%s…", err, tc.want)
			}
		})
	}
}
