package rabbitmq

import (
	"context"
	"net/url"
)

// DeadLetterQueuesOf names the queues where the dead letters of queue go:
// through its dead-letter exchange (its x-dead-letter-exchange argument or
// policy), with its dead-letter routing key or, without one, each routing
// key its messages were published with (routingKeys), following the
// bindings as Routes does. A queue without a dead-letter exchange has
// none. One management API call for the queue, then Routes' calls.
func (c *Client) DeadLetterQueuesOf(ctx context.Context, vhost, queue string, routingKeys []string) ([]string, error) {
	var aq apiQueue
	if err := c.get(ctx, "/api/queues/"+seg(vhost)+"/"+seg(queue), url.Values{"columns": {dlxColumns}}, &aq); err != nil {
		if isNotFound(err) {
			return nil, c.queueNotFound(ctx, vhost, queue)
		}
		return nil, err
	}
	q := convertQueue(aq)
	if !q.HasDeadLetterExchange {
		return nil, nil
	}
	keys := routingKeys
	if q.DeadLetterRoutingKey != "" {
		keys = []string{q.DeadLetterRoutingKey}
	}
	var out []string
	seen := map[string]bool{}
	for _, k := range keys {
		qs, _, err := c.Routes(ctx, vhost, q.DeadLetterExchange, k)
		if err != nil {
			return nil, err
		}
		for _, name := range qs {
			if !seen[name] && name != queue {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	return out, nil
}
