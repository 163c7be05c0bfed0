package rabbitmq

import (
	"context"
	"net/url"
	"strings"
)

type apiExchange struct {
	Name      string  `json:"name"`
	Type      string  `json:"type"`
	Internal  bool    `json:"internal"`
	Arguments jsonMap `json:"arguments"`
}

// ExchangeExists reports whether an exchange exists in vhost ("", the
// default exchange, always does).
func (c *Client) ExchangeExists(ctx context.Context, vhost, name string) (bool, error) {
	if name == "" {
		return true, nil
	}
	var x apiExchange
	err := c.get(ctx, "/api/exchanges/"+seg(vhost)+"/"+seg(name), url.Values{"columns": {"name,type"}}, &x)
	if isNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// maxRouteHops bounds exchange-to-exchange bindings followed by Routes.
const maxRouteHops = 5

// Routes says which queues a publish to exchange with routingKey would
// reach, from the exchange's bindings: direct (exact key), fanout (all),
// topic (AMQP matching, * one word, # zero or more), following
// exchange-to-exchange bindings and an alternate-exchange argument. The
// default exchange ("") reaches the queue named by the routing key if it
// exists. A missing exchange reaches nothing. predictable is false when the
// answer depends on the message (headers exchanges) or on a plugin's
// exchange type; queues then lists what could be worked out.
func (c *Client) Routes(ctx context.Context, vhost, exchange, routingKey string) (queues []string, predictable bool, err error) {
	r := &router{c: c, vhost: vhost, seen: map[string]bool{}, visited: map[string]bool{}, predictable: true}
	if err := r.route(ctx, exchange, routingKey, 0); err != nil {
		return nil, false, err
	}
	return r.queues, r.predictable, nil
}

type router struct {
	c           *Client
	vhost       string
	queues      []string
	seen        map[string]bool // queues
	visited     map[string]bool // exchanges
	predictable bool
}

func (r *router) add(q string) {
	if !r.seen[q] {
		r.seen[q] = true
		r.queues = append(r.queues, q)
	}
}

func (r *router) route(ctx context.Context, exchange, key string, hop int) error {
	if exchange == "" {
		if key == "" {
			return nil
		}
		var q struct {
			Name string `json:"name"`
		}
		err := r.c.get(ctx, "/api/queues/"+seg(r.vhost)+"/"+seg(key), url.Values{"columns": {"name"}}, &q)
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		r.add(key)
		return nil
	}
	if r.visited[exchange] {
		return nil
	}
	r.visited[exchange] = true
	if hop > maxRouteHops {
		r.predictable = false
		return nil
	}
	var x apiExchange
	if err := r.c.get(ctx, "/api/exchanges/"+seg(r.vhost)+"/"+seg(exchange), nil, &x); err != nil {
		if isNotFound(err) {
			return nil
		}
		return err
	}
	switch x.Type {
	case "direct", "fanout", "topic":
	default: // headers, x-consistent-hash, x-delayed-message, ...
		r.predictable = false
		return nil
	}
	bs, err := r.c.sourceBindings(ctx, r.vhost, exchange)
	if err != nil && !isNotFound(err) {
		return err
	}
	matched := false
	for _, b := range bs {
		var ok bool
		switch x.Type {
		case "fanout":
			ok = true
		case "direct":
			ok = b.RoutingKey == key
		case "topic":
			ok = TopicMatch(b.RoutingKey, key)
		}
		if !ok {
			continue
		}
		matched = true
		switch b.DestinationType {
		case "queue":
			r.add(b.Destination)
		case "exchange":
			if err := r.route(ctx, b.Destination, key, hop+1); err != nil {
				return err
			}
		}
	}
	if !matched {
		if ae, ok := x.Arguments["alternate-exchange"].(string); ok && ae != "" {
			return r.route(ctx, ae, key, hop+1)
		}
	}
	return nil
}

// TopicMatch reports whether a topic exchange binding pattern matches a
// routing key: words are separated by dots, * matches exactly one word, #
// zero or more. An empty key has no words.
func TopicMatch(pattern, key string) bool {
	return matchWords(words(pattern), words(key))
}

func words(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ".")
}

func matchWords(p, k []string) bool {
	for len(p) > 0 {
		switch p[0] {
		case "#":
			for len(p) > 1 && p[1] == "#" { // ## is #
				p = p[1:]
			}
			if len(p) == 1 {
				return true
			}
			for i := 0; i <= len(k); i++ {
				if matchWords(p[1:], k[i:]) {
					return true
				}
			}
			return false
		case "*":
			if len(k) == 0 {
				return false
			}
		default:
			if len(k) == 0 || p[0] != k[0] {
				return false
			}
		}
		p, k = p[1:], k[1:]
	}
	return len(k) == 0
}
