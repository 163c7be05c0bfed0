package actions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/kafka"
)

// stepsOf is the steps of a place.
func stepsOf(r *TraceResult, place string) []TraceStep {
	var out []TraceStep
	for _, s := range r.Steps {
		if s.Place == place {
			out = append(out, s)
		}
	}
	return out
}

func (e *resendEnv) publish(t *testing.T, topic, key string, headers ...backends.StoreHeader) {
	t.Helper()
	m := backends.OutgoingMessage{ID: "x", Target: backends.RouteTarget{Broker: "kafka", Topic: topic}, Value: []byte("v"), Headers: headers}
	if key != "" {
		m.Key = []byte(key)
	}
	if res := e.k.Publish(context.Background(), []backends.OutgoingMessage{m}); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
}

func (e *resendEnv) trace(t *testing.T, o TraceOptions) *TraceResult {
	t.Helper()
	tr := &Trace{Store: e.st, Kafka: e.k, Route: kafkaRoute, Options: o}
	r, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestTraceKafka follows one message: pending in the outbox and not in
// its key's partition; published (found at its partition, the one murmur2
// gives its key, and offset); beyond --depth (reported not found in the
// last N records read); consumed (the idempotency table says by whom and
// when). A message dead-lettered to orders.DLT is found there.
func TestTraceKafka(t *testing.T) {
	e := newResendEnv(t)
	e.insert(t, "m1", "orders", "k1", 10*time.Minute, nil)
	part, err := kafka.KeyPartition([]byte("k1"), 3)
	if err != nil {
		t.Fatal(err)
	}
	where := fmt.Sprintf("kafka:orders partition %d", part)

	r := e.trace(t, TraceOptions{MessageID: "m1"})
	ob, top, dlt, con := stepsOf(r, TraceOutbox), stepsOf(r, TraceTopic), stepsOf(r, TraceDeadLetterTopic), stepsOf(r, TraceIdempotency)
	if len(ob) != 1 || !ob[0].Found || ob[0].State != "pending, 0 attempt(s)" || ob[0].Where != "outbox row 1" ||
		len(top) != 1 || top[0].Status != TraceNotFound || top[0].Where != where || top[0].Looked != 0 ||
		len(dlt) != 1 || dlt[0].Status != TraceNotLooked || !strings.Contains(dlt[0].Detail, "no dead-letter topic of orders") ||
		len(con) != 1 || con[0].Status != TraceNotFound || stepsOf(r, TraceRetry)[0].Status != TraceNotFound ||
		r.Destination != "orders" || r.Key != "k1" || !r.HasKey || r.Target != "kafka:orders" || r.Errors != 0 {
		t.Fatalf("pending: %+v", r)
	}
	if !strings.HasPrefix(r.Summary, "in the outbox: outbox row 1 (pending, 0 attempt(s)); not found in "+where) {
		t.Fatalf("summary %q", r.Summary)
	}

	e.publish(t, "orders", "k1", backends.StoreHeader{Key: "tenant", Value: "acme"}, backends.StoreHeader{Key: "mqops-message-id", Value: "m1"})
	if _, err := e.db.Exec("UPDATE mqops_outbox SET status = 'sent', attempts = 1"); err != nil {
		t.Fatal(err)
	}
	r = e.trace(t, TraceOptions{MessageID: "m1"})
	top = stepsOf(r, TraceTopic)
	if len(top) != 1 || !top[0].Found || top[0].Where != where || top[0].State != "offset 0" || top[0].Looked != 1 || top[0].At.IsZero() ||
		!strings.HasPrefix(r.Summary, "published, not known to be consumed: in "+where+" (offset 0)") {
		t.Fatalf("published: %+v", r)
	}

	// 20 records of its key after it: 5 deep does not reach it
	for i := range 20 {
		e.publish(t, "orders", "k1", backends.StoreHeader{Key: "mqops-message-id", Value: fmt.Sprintf("other-%d", i)})
	}
	r = e.trace(t, TraceOptions{MessageID: "m1", Depth: 5})
	top = stepsOf(r, TraceTopic)
	if len(top) != 1 || top[0].Status != TraceNotFound || top[0].Looked != 5 || !strings.Contains(top[0].Detail, fmt.Sprintf("not in the last 5 record(s) of partition %d", part)) ||
		!strings.Contains(top[0].Detail, "offsets 16 to 21") {
		t.Fatalf("depth 5: %+v", top)
	}
	if r = e.trace(t, TraceOptions{MessageID: "m1", Depth: 21}); !stepsOf(r, TraceTopic)[0].Found {
		t.Fatalf("depth 21: %+v", r.Steps)
	}
	// without a key: every partition, the depth shared
	empty := ""
	if r = e.trace(t, TraceOptions{MessageID: "m1", Key: &empty}); !stepsOf(r, TraceTopic)[0].Found || r.HasKey {
		t.Fatalf("no key: %+v", r)
	}

	if _, err := e.db.Exec("INSERT INTO mqops_consumed (message_id, consumer) VALUES ('m1', 'billing')"); err != nil {
		t.Fatal(err)
	}
	r = e.trace(t, TraceOptions{MessageID: "m1"})
	if con = stepsOf(r, TraceIdempotency); len(con) != 1 || !con[0].Found || con[0].State != "consumed by billing" || con[0].At.IsZero() ||
		!strings.HasPrefix(r.Summary, "consumed by billing at ") {
		t.Fatalf("consumed: %+v", r)
	}

	// a dead letter in orders.DLT, with Spring's headers and CAP's id
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 2, 1, nil, "orders.DLT"); err != nil {
		t.Fatal(err)
	}
	e.publish(t, "orders.DLT", "", backends.StoreHeader{Key: "cap-msg-id", Value: "m2"}, backends.StoreHeader{Key: "kafka_dlt-original-topic", Value: "orders"},
		backends.StoreHeader{Key: "kafka_dlt-exception-fqcn", Value: "com.acme.StockException"})
	r = e.trace(t, TraceOptions{MessageID: "m2", Destination: "orders"})
	dlt = stepsOf(r, TraceDeadLetterTopic)
	if len(dlt) != 1 || !dlt[0].Found || !strings.HasPrefix(dlt[0].Where, "kafka:orders.DLT partition ") || dlt[0].Detail != "dead letter of orders: com.acme.StockException" ||
		stepsOf(r, TraceOutbox)[0].Status != TraceNotFound || !strings.HasPrefix(r.Summary, "dead-lettered: in kafka:orders.DLT") {
		t.Fatalf("dead letter: %+v", r)
	}
}

// TestTraceNotLooked: what is not configured is not looked in, and says
// why; a store that could not be opened is an error of each of its
// places; without a destination the brokers are not looked in; invalid
// options are refused.
func TestTraceNotLooked(t *testing.T) {
	tr := &Trace{StoreErr: errors.New("postgres app@db:5432: connect: no answer within 1s"), Options: TraceOptions{MessageID: "m1", Destination: "orders"},
		Route: backends.Route{Broker: "rabbitmq"}}
	r, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors != 3 || stepsOf(r, TraceOutbox)[0].Status != TraceError || stepsOf(r, TraceRetry)[0].Status != TraceError || stepsOf(r, TraceIdempotency)[0].Status != TraceError ||
		stepsOf(r, TraceQueue)[0].Status != TraceNotLooked || !strings.Contains(stepsOf(r, TraceQueue)[0].Detail, "no RabbitMQ configured") ||
		!strings.HasSuffix(r.Summary, "3 place(s) could not be looked in") {
		t.Fatalf("%+v", r)
	}
	r, err = (&Trace{Options: TraceOptions{MessageID: "m1"}}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Steps) != 4 || stepsOf(r, TraceOutbox)[0].Status != TraceNotLooked || stepsOf(r, TraceBroker)[0].Status != TraceNotLooked ||
		!strings.Contains(stepsOf(r, TraceBroker)[0].Detail, "give --destination") || r.Summary != "not found anywhere mqops looked" {
		t.Fatalf("%+v", r)
	}
	for _, c := range []struct {
		o    TraceOptions
		want string
	}{
		{TraceOptions{}, "no message id"},
		{TraceOptions{MessageID: strings.Repeat("x", 1025)}, "1 to 1024 bytes"},
		{TraceOptions{MessageID: "m", Depth: -1}, "--depth: -1 is out of range"},
		{TraceOptions{MessageID: "m", Depth: MaxTraceDepth + 1}, "--depth: 50001 is out of range"},
	} {
		if _, err := (&Trace{Options: c.o}).Run(context.Background()); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.o, err, c.want)
		}
	}
}
