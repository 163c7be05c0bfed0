package embedded

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// generator makes the scenario's records. It is deterministic for a seed and
// not safe for concurrent use: the seeding code, then the one producer
// goroutine, own it in turn.
type generator struct {
	rng       *rand.Rand
	nextOrder int
	nextPay   int
	nextAudit int
	dltCount  int
}

func newGenerator(seed int64) *generator {
	return &generator{rng: rand.New(rand.NewPCG(uint64(seed), 0x6d716f7073))} // "mqops"
}

var currencies = []struct {
	code   string
	weight int
}{{"EUR", 40}, {"USD", 30}, {"GBP", 15}, {"CHF", 10}, {"JPY", 5}}

func (g *generator) currency() string {
	n := g.rng.IntN(100)
	for _, c := range currencies {
		if n < c.weight {
			return c.code
		}
		n -= c.weight
	}
	return "EUR"
}

// amount returns a price in minor units (cents), so the JSON shows exact
// decimals.
func (g *generator) amount() json.Number {
	cents := 100 + g.rng.IntN(50000)
	return json.Number(fmt.Sprintf("%d.%02d", cents/100, cents%100))
}

func (g *generator) traceID() string {
	return fmt.Sprintf("%016x%016x", g.rng.Uint64(), g.rng.Uint64())
}

func orderID(n int) string { return fmt.Sprintf("ord-%07d", n) }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only fixed struct types are marshalled here
	}
	return b
}

type orderPayload struct {
	OrderID  string      `json:"order_id"`
	Amount   json.Number `json:"amount"`
	Currency string      `json:"currency"`
}

// order makes the next record of topic orders, keyed by its order id.
func (g *generator) order(ts time.Time) *kgo.Record {
	g.nextOrder++
	id := orderID(g.nextOrder)
	return &kgo.Record{
		Topic:     topicOrders,
		Key:       []byte(id),
		Value:     mustJSON(orderPayload{OrderID: id, Amount: g.amount(), Currency: g.currency()}),
		Timestamp: ts,
		Headers: []kgo.RecordHeader{
			{Key: "content-type", Value: []byte("application/json")},
			{Key: "trace-id", Value: []byte(g.traceID())},
			{Key: "producer", Value: []byte("checkout-service")},
		},
	}
}

type paymentPayload struct {
	PaymentID string      `json:"payment_id"`
	OrderID   string      `json:"order_id"`
	Amount    json.Number `json:"amount"`
	Currency  string      `json:"currency"`
	Method    string      `json:"method"`
	Status    string      `json:"status"`
}

var (
	payMethods  = []string{"card", "card", "card", "sepa", "paypal", "apple_pay"}
	payStatuses = []string{"authorized", "authorized", "authorized", "captured", "captured", "declined"}
)

// payment makes the next record of topic payments, keyed by the order it
// pays (an order already produced, when there is one).
func (g *generator) payment(ts time.Time) *kgo.Record {
	g.nextPay++
	order := 1
	if g.nextOrder > 0 {
		order = g.nextOrder - g.rng.IntN(min(g.nextOrder, 200))
	}
	oid := orderID(order)
	return &kgo.Record{
		Topic: topicPayments,
		Key:   []byte(oid),
		Value: mustJSON(paymentPayload{
			PaymentID: fmt.Sprintf("pay-%07d", g.nextPay),
			OrderID:   oid,
			Amount:    g.amount(),
			Currency:  g.currency(),
			Method:    payMethods[g.rng.IntN(len(payMethods))],
			Status:    payStatuses[g.rng.IntN(len(payStatuses))],
		}),
		Timestamp: ts,
		Headers: []kgo.RecordHeader{
			{Key: "content-type", Value: []byte("application/json")},
			{Key: "trace-id", Value: []byte(g.traceID())},
		},
	}
}

type auditPayload struct {
	Seq      int    `json:"seq"`
	Actor    string `json:"actor"`
	Action   string `json:"action"`
	Resource string `json:"resource"`
	At       string `json:"at"`
}

var (
	auditActors  = []string{"svc-checkout", "svc-billing", "alice@ops", "bob@ops", "svc-shipping"}
	auditActions = []string{"order.create", "order.update", "refund.issue", "user.login", "config.change", "shipment.label"}
)

// audit makes the next record of topic audit-log, keyed by the resource it
// is about.
func (g *generator) audit(ts time.Time) *kgo.Record {
	g.nextAudit++
	resource := orderID(1 + g.rng.IntN(max(g.nextOrder, 1)))
	return &kgo.Record{
		Topic: topicAudit,
		Key:   []byte(resource),
		Value: mustJSON(auditPayload{
			Seq:      g.nextAudit,
			Actor:    auditActors[g.rng.IntN(len(auditActors))],
			Action:   auditActions[g.rng.IntN(len(auditActions))],
			Resource: resource,
			At:       ts.UTC().Format(time.RFC3339Nano),
		}),
		Timestamp: ts,
		Headers:   []kgo.RecordHeader{{Key: "content-type", Value: []byte("application/json")}},
	}
}

// legacy makes record i of legacy-events partition p (explicit partition).
func (g *generator) legacy(p int32, i int, ts time.Time) *kgo.Record {
	return &kgo.Record{
		Topic:     topicLegacy,
		Partition: p,
		Key:       fmt.Appendf(nil, "legacy-%d-%05d", p, i),
		Value:     fmt.Appendf(nil, "v1|event=%d|shard=%d|payload=%08x", i, p, g.rng.Uint32()),
		Timestamp: ts,
	}
}

// Exception kinds of the dead letters, as Spring Kafka names them.
const (
	fqcnIllegalState = "java.lang.IllegalStateException"
	fqcnJSONParse    = "com.fasterxml.jackson.core.JsonParseException"
)

// deadLetter makes the orders.DLT record for an orders record that a billing
// listener failed on, with the headers Spring Kafka's
// DeadLetterPublishingRecoverer writes. As in Spring, partition and offset are
// big-endian binary (int32, int64), not text; so is the original timestamp.
// The record goes to partition orig.Partition % 2 of the DLT.
//
// When hostile is set the exception message carries a terminal escape
// sequence, as an untrusted payload echoed into an exception can: the demo
// then shows that the console sanitizes headers.
func (g *generator) deadLetter(orig *kgo.Record, ts time.Time, hostile bool) *kgo.Record {
	g.dltCount++
	fqcn, msg, value := fqcnIllegalState, "", orig.Value
	oid := string(orig.Key)
	if g.rng.IntN(100) < 40 {
		fqcn = fqcnJSONParse
		// The body that failed to parse: the original cut short.
		value = append([]byte(nil), orig.Value[:len(orig.Value)*2/3]...)
		msg = fmt.Sprintf("Unexpected end-of-input: expected close marker for Object (start marker at [Source: (byte[])%q; line: 1, column: 1])\n at [Source: (byte[])%q; line: 1, column: %d]",
			value, value, len(value)+1)
	} else {
		switch g.rng.IntN(3) {
		case 0:
			msg = fmt.Sprintf("Order %s: currency not enabled for merchant account", oid)
		case 1:
			msg = fmt.Sprintf("Order %s: invoice already exists (duplicate delivery?)", oid)
		default:
			msg = fmt.Sprintf("Order %s: tax region could not be resolved", oid)
		}
	}
	if hostile {
		msg = fmt.Sprintf("Order %s: customer note rejected: \x1b]0;pwned\x07\x1b[2J\x1b[31mREFUND ALL\x1b[0m", oid)
		fqcn = fqcnIllegalState
		value = orig.Value
	}
	part := make([]byte, 4)
	binary.BigEndian.PutUint32(part, uint32(orig.Partition))
	off := make([]byte, 8)
	binary.BigEndian.PutUint64(off, uint64(orig.Offset))
	tsb := make([]byte, 8)
	binary.BigEndian.PutUint64(tsb, uint64(orig.Timestamp.UnixMilli()))
	stack := fmt.Sprintf("%s: %s\n\tat com.example.billing.OrderListener.onOrder(OrderListener.java:%d)\n\tat org.springframework.kafka.listener.KafkaMessageListenerContainer$ListenerConsumer.doInvokeOnMessage(KafkaMessageListenerContainer.java:2935)\n",
		fqcn, firstLine(msg), 40+g.rng.IntN(60))
	return &kgo.Record{
		Topic:     topicDLT,
		Partition: orig.Partition % 2,
		Key:       orig.Key,
		Value:     value,
		Timestamp: ts,
		Headers: []kgo.RecordHeader{
			{Key: "kafka_dlt-original-topic", Value: []byte(orig.Topic)},
			{Key: "kafka_dlt-original-partition", Value: part},
			{Key: "kafka_dlt-original-offset", Value: off},
			{Key: "kafka_dlt-original-timestamp", Value: tsb},
			{Key: "kafka_dlt-original-timestamp-type", Value: []byte("CreateTime")},
			{Key: "kafka_dlt-original-consumer-group", Value: []byte(groupBilling)},
			{Key: "kafka_dlt-exception-fqcn", Value: []byte(fqcn)},
			{Key: "kafka_dlt-exception-message", Value: []byte(msg)},
			{Key: "kafka_dlt-exception-stacktrace", Value: []byte(stack)},
		},
	}
}

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}

// scenarioPartitioner keeps Kafka's default key hashing (murmur2, as the Java
// client) for the keyed topics and honours Record.Partition for the two
// topics whose layout the scenario fixes.
type scenarioPartitioner struct{}

func (scenarioPartitioner) ForTopic(t string) kgo.TopicPartitioner {
	if t == topicDLT || t == topicLegacy {
		return kgo.ManualPartitioner().ForTopic(t)
	}
	return kgo.StickyKeyPartitioner(nil).ForTopic(t)
}
