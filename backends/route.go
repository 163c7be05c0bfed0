package backends

import (
	"errors"
	"fmt"
	"strings"
)

// Route says where a row of the application's tables is published: its
// destination (a column of the row: a topic name, an event name) mapped to
// a Kafka topic, or to a RabbitMQ exchange and routing key. Templates may
// use {destination}.
type Route struct {
	Broker     string `json:"broker"`                // "kafka" or "rabbitmq"
	Topic      string `json:"topic,omitempty"`       // kafka; default "{destination}"
	Exchange   string `json:"exchange,omitempty"`    // rabbitmq; "" is the default exchange
	RoutingKey string `json:"routing_key,omitempty"` // rabbitmq; default "{destination}"
	Vhost      string `json:"vhost,omitempty"`       // rabbitmq; "" is the default vhost, "/"
}

// RouteTarget is a route resolved for one destination.
type RouteTarget struct {
	Broker     string `json:"broker"`
	Topic      string `json:"topic,omitempty"`
	Exchange   string `json:"exchange,omitempty"`
	RoutingKey string `json:"routing_key,omitempty"`
	Vhost      string `json:"vhost,omitempty"` // rabbitmq; "": "/"
}

// String names the target as the audit log and plans do:
// kafka:orders, rabbitmq:orders.x/order.created ("(default)" for the
// default exchange).
func (t RouteTarget) String() string {
	if t.Broker == "kafka" {
		return "kafka:" + t.Topic
	}
	ex := t.Exchange
	if ex == "" {
		ex = "(default)"
	}
	return "rabbitmq:" + ex + "/" + t.RoutingKey
}

// Resolve maps destination onto the route's broker.
func (r Route) Resolve(destination string) (RouteTarget, error) {
	if destination == "" {
		return RouteTarget{}, errors.New("the row has no destination")
	}
	fill := func(tpl, def string) string {
		if tpl == "" {
			tpl = def
		}
		return strings.ReplaceAll(tpl, "{destination}", destination)
	}
	switch r.Broker {
	case "kafka":
		return RouteTarget{Broker: "kafka", Topic: fill(r.Topic, "{destination}")}, nil
	case "rabbitmq":
		return RouteTarget{Broker: "rabbitmq", Exchange: fill(r.Exchange, ""), RoutingKey: fill(r.RoutingKey, "{destination}"), Vhost: r.Vhost}, nil
	case "":
		return RouteTarget{}, errors.New("no route: say which broker the destinations are on (store.route.broker: kafka or rabbitmq)")
	default:
		return RouteTarget{}, fmt.Errorf("unknown route broker %q (kafka or rabbitmq)", r.Broker)
	}
}

// OutgoingMessage is one message a resend or a republish publishes.
type OutgoingMessage struct {
	ID        string // the row's id, to match results
	Target    RouteTarget
	Key       []byte // the Kafka key (partitioning); nil: none
	Value     []byte
	Headers   []StoreHeader
	MessageID string // also sent as the AMQP message_id property
}

// PublishResult is the broker's answer for one OutgoingMessage: Err nil
// means the broker confirmed it (Kafka: acks=all on an idempotent
// producer; RabbitMQ: a publisher confirm, and not returned as
// unroutable).
type PublishResult struct {
	ID  string
	Err error
}
