package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/mqops/mqops/backends"
)

// TestDeadLettersOfManyOnOneConnection samples 24 dead-letter queues at
// once on the real RabbitMQ: one AMQP connection for them all; each
// summary is what DeadLetters gives queue by queue; a quorum DLQ with a
// delivery limit is not sampled (its depth and why, as today); a queue
// deleted since it was listed is named with why and the others are read;
// every queue keeps its depth and order.
func TestDeadLettersOfManyOnOneConnection(t *testing.T) {
	f := newFixture(t)
	var qs []backends.Queue
	depth := map[string]int{}
	for i := range 24 {
		name := f.name(fmt.Sprintf("d%02d.dlq", i))
		f.queue(name, nil)
		f.publish("", name, i%7+1, func(k int) amqp.Publishing {
			p := numbered(k)
			p.Headers = amqp.Table{"x-exception-type": fmt.Sprintf("E%d", k%2)}
			return p
		})
		depth[name] = i%7 + 1
		qs = append(qs, backends.Queue{Vhost: "/", Name: name, Type: "classic", IsDLQ: true})
	}
	limited := f.name("limited.dlq")
	f.queue(limited, amqp.Table{"x-queue-type": "quorum", "x-delivery-limit": int32(2)})
	f.publish("", limited, 3, numbered)
	f.waitDepth(limited, 3)
	qs = append(qs, backends.Queue{Vhost: "/", Name: limited, Type: "quorum", IsDLQ: true})
	gone := f.name("gone.dlq")
	qs = append(qs, backends.Queue{Vhost: "/", Name: gone, Type: "classic", IsDLQ: true})

	c := f.client(Config{Timeout: 10 * time.Second})
	res := c.DeadLettersOf(context.Background(), qs, 1000)
	if len(res) != len(qs) {
		t.Fatalf("%d results for %d queues", len(res), len(qs))
	}
	if n := c.dials.Load(); n != 1 {
		t.Errorf("%d AMQP connections, want 1 for every DLQ of the vhost", n)
	}
	for i, r := range res[:24] {
		one, err := f.c.DeadLetters(context.Background(), "/", qs[i].Name, 1000)
		if r.Err != nil || err != nil {
			t.Fatalf("%s: %v / %v", qs[i].Name, r.Err, err)
		}
		s := r.Summary
		if s.Queue != qs[i].Name || s.Messages != int64(depth[s.Queue]) || s.Sampled != depth[s.Queue] || len(s.Groups) != len(one.Groups) || s.NotSampled != nil {
			t.Errorf("%s: %+v, queue by queue %+v", qs[i].Name, s, one)
		}
		for g := range s.Groups {
			if s.Groups[g].Exception != one.Groups[g].Exception || s.Groups[g].Count != one.Groups[g].Count {
				t.Errorf("%s group %d: %+v, queue by queue %+v", s.Queue, g, s.Groups[g], one.Groups[g])
			}
		}
	}
	if r := res[24]; r.Err != nil || r.Summary.NotSampled == nil || r.Summary.NotSampled.Kind != backends.RiskDeliveryLimit || r.Summary.Messages != 3 {
		t.Errorf("quorum DLQ with a delivery limit: %+v %v, want not sampled, with its depth", r.Summary, r.Err)
	}
	if r := res[25]; r.Err == nil || !errors.Is(r.Err, ErrNotFound) || r.NotAsked {
		t.Errorf("deleted DLQ: %v, want not found", r.Err)
	}
	for name, n := range depth {
		f.inOrder(name, n)
	}
	f.inOrder(limited, 3)
}

// TestDeadLettersOfStopsWhenRabbitMQStopsAnswering: the broker stops
// answering at the fifth peek's subscription, with other peeks in
// flight on the same connection: DeadLettersOf ends within about one
// timeout (never one per queue), names the queue that timed out, says the
// rest were not read, and every queue keeps its messages in order.
func TestDeadLettersOfStopsWhenRabbitMQStopsAnswering(t *testing.T) {
	f := newFixture(t)
	u, err := amqp.ParseURI(f.env["RABBITMQ_URL"])
	if err != nil {
		t.Fatal(err)
	}
	var qs []backends.Queue
	for i := range 30 {
		name := f.name(fmt.Sprintf("s%02d.dlq", i))
		f.queue(name, nil)
		f.publish("", name, 4, numbered)
		qs = append(qs, backends.Queue{Vhost: "/", Name: name, Type: "classic", IsDLQ: true})
	}
	const timeout = time.Second
	p := newFreezingProxy(t, fmt.Sprintf("%s:%d", u.Host, u.Port), true, false, 60, 20, 5)
	defer p.close()
	c := f.proxied(p, Config{Timeout: timeout})
	start := time.Now()
	res := c.DeadLettersOf(context.Background(), qs, 1000)
	took := time.Since(start)
	timedOut, notAsked, read := 0, 0, 0
	for i, r := range res {
		switch {
		case r.Err == nil && r.Summary != nil:
			read++
		case r.NotAsked && errors.Is(r.Err, ErrStoppedAnswering):
			notAsked++
		case errors.Is(r.Err, context.DeadlineExceeded):
			timedOut++
		default:
			t.Errorf("%s: %+v", qs[i].Name, r)
		}
	}
	t.Logf("read %d, timed out %d, not read %d, in %v (timeout %v)", read, timedOut, notAsked, took, timeout)
	if timedOut == 0 || notAsked == 0 || read+timedOut+notAsked != len(qs) {
		t.Errorf("read %d, timed out %d, not read %d: want a timeout, then the rest not asked", read, timedOut, notAsked)
	}
	if took > 2*timeout {
		t.Errorf("took %v with a timeout of %v: RabbitMQ was waited for more than once", took, timeout)
	}
	p.close()
	for _, q := range qs {
		f.inOrder(q.Name, 4)
	}
}
