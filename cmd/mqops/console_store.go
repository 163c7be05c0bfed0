package main

import (
	"context"

	"github.com/mqops/mqops/backends/config"
	"github.com/mqops/mqops/backends/kafka"
	"github.com/mqops/mqops/backends/rabbitmq"
	"github.com/mqops/mqops/tui"
)

// consoleStore gives the console context c's application database (its
// store: block, or the --store flags) and what its actions publish with:
// the database is opened by the console itself, in a command, the first
// time :pending, :retry, a resend or a trace needs it (storeIn: connect,
// ping, validate the mapping, each call bounded by --timeout), so that
// the console opens at once whatever the database does, and a database
// down is a view's error, retried on its schedule. The route is the
// context's store.route; the publishers are the context's Kafka and
// RabbitMQ clients, none in a read-only context. It does no I/O.
func (g *globals) consoleStore(o *tui.Options, c *config.Context, kc *kafka.Client, rc *rabbitmq.Client) {
	o.StoreRoute = routeOf(c)
	if !c.ReadOnly { // interfaces stay nil without the client
		if kc != nil {
			o.KafkaPublisher = kc
		}
		if rc != nil {
			o.RabbitPublisher = rc
		}
	}
	if c.Store == nil || c.Store.Driver == "" {
		return // the views say how to configure one
	}
	preset := c.Store.Preset
	if preset == "" {
		preset = "mqops"
	}
	o.StoreName = c.Store.Driver + " (" + preset + ")"
	cc := *c
	o.OpenStore = func(ctx context.Context) (tui.StoreSource, error) {
		st, err := g.storeIn(ctx, &cc)
		if err != nil {
			return nil, err
		}
		return st, nil
	}
}
