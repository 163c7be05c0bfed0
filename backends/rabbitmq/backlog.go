package rabbitmq

import (
	"context"
	"net/url"

	"github.com/mqops/mqops/backends"
)

// maxBacklogQueues bounds the queues RouteBacklog reads the depth of.
const maxBacklogQueues = 100

// RouteBacklog says which queues of vhost a publish to exchange with
// routingKey reaches (Routes: the management API's bindings) and how many
// messages wait in each, ready and unacknowledged: one call per exchange
// followed and one per queue (at most maxBacklogQueues), each bounded by
// the client's timeout. A queue deleted in between is left out.
func (c *Client) RouteBacklog(ctx context.Context, vhost, exchange, routingKey string) (*backends.RouteBacklog, error) {
	queues, predictable, err := c.Routes(ctx, vhost, exchange, routingKey)
	if err != nil {
		return nil, err
	}
	out := &backends.RouteBacklog{Vhost: vhost, Exchange: exchange, RoutingKey: routingKey, Predictable: predictable, Queues: []backends.QueueBacklog{}}
	if len(queues) > maxBacklogQueues {
		out.More = len(queues) - maxBacklogQueues
		queues = queues[:maxBacklogQueues]
	}
	for _, name := range queues {
		var aq apiQueue
		err := c.get(ctx, "/api/queues/"+seg(vhost)+"/"+seg(name), url.Values{"columns": {"name,messages_ready,messages_unacknowledged"}}, &aq)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var n numbers
		q := backends.QueueBacklog{Queue: name, Ready: n.count("ready", aq.Ready), Unacked: n.count("unacked", aq.Unacked)}
		q.Invalid = n.invalid
		out.Queues = append(out.Queues, q)
		out.Messages += q.Ready + q.Unacked
	}
	return out, nil
}
