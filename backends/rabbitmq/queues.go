package rabbitmq

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/mqops/mqops/backends"
)

type apiOverview struct {
	ClusterName     string `json:"cluster_name"`
	RabbitMQVersion string `json:"rabbitmq_version"`
	ErlangVersion   string `json:"erlang_version"`
	QueueTotals     struct {
		Messages json.Number `json:"messages"`
		Ready    json.Number `json:"messages_ready"`
		Unacked  json.Number `json:"messages_unacknowledged"`
	} `json:"queue_totals"`
	ObjectTotals struct {
		Queues      json.Number `json:"queues"`
		Consumers   json.Number `json:"consumers"`
		Connections json.Number `json:"connections"`
	} `json:"object_totals"`
}

// Overview returns the broker-wide summary.
func (c *Client) Overview(ctx context.Context) (*backends.RabbitOverview, error) {
	var o apiOverview
	if err := c.get(ctx, "/api/overview", nil, &o); err != nil {
		return nil, err
	}
	return &backends.RabbitOverview{
		ClusterName: o.ClusterName, RabbitMQVersion: o.RabbitMQVersion, ErlangVersion: o.ErlangVersion,
		Messages: num(o.QueueTotals.Messages), Ready: num(o.QueueTotals.Ready), Unacked: num(o.QueueTotals.Unacked),
		Queues: num(o.ObjectTotals.Queues), Consumers: num(o.ObjectTotals.Consumers), Connections: num(o.ObjectTotals.Connections),
	}, nil
}

type apiQueue struct {
	Vhost      string         `json:"vhost"`
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Durable    bool           `json:"durable"`
	State      string         `json:"state"`
	Messages   json.Number    `json:"messages"`
	Ready      json.Number    `json:"messages_ready"`
	Unacked    json.Number    `json:"messages_unacknowledged"`
	Consumers  json.Number    `json:"consumers"`
	Arguments  map[string]any `json:"arguments"`
	Policy     any            `json:"policy"`
	EffPolicy  map[string]any `json:"effective_policy_definition"`
	MsgStats   *apiMsgStats   `json:"message_stats"`
	ConsumerDs []struct {
		Tag         string      `json:"consumer_tag"`
		AckRequired bool        `json:"ack_required"`
		Prefetch    json.Number `json:"prefetch_count"`
		Channel     struct {
			Name           string `json:"name"`
			ConnectionName string `json:"connection_name"`
		} `json:"channel_details"`
	} `json:"consumer_details"`
}

type apiMsgStats struct {
	Publish    struct{ Rate json.Number } `json:"publish_details"`
	DeliverGet struct{ Rate json.Number } `json:"deliver_get_details"`
	Ack        struct{ Rate json.Number } `json:"ack_details"`
}

type apiPage struct {
	Items     []apiQueue  `json:"items"`
	Page      json.Number `json:"page"`
	PageCount json.Number `json:"page_count"`
}

const queueColumns = "vhost,name,type,durable,state,messages,messages_ready,messages_unacknowledged,consumers,arguments,policy,effective_policy_definition," +
	"message_stats.publish_details.rate,message_stats.deliver_get_details.rate,message_stats.ack_details.rate"

// Queues lists every queue (of the configured vhosts), page by page, and
// marks dead-letter queues: those a dead-letter exchange routes to, and
// those named like one.
func (c *Client) Queues(ctx context.Context) ([]backends.Queue, error) {
	paths := []string{"/api/queues"}
	if len(c.cfg.Vhosts) > 0 {
		paths = nil
		for _, v := range c.cfg.Vhosts {
			paths = append(paths, "/api/queues/"+seg(v))
		}
	}
	var out []backends.Queue
	for _, p := range paths {
		for page := 1; ; page++ {
			var pg apiPage
			q := url.Values{"page": {strconv.Itoa(page)}, "page_size": {strconv.Itoa(c.cfg.PageSize)}, "columns": {queueColumns}}
			if err := c.get(ctx, p, q, &pg); err != nil {
				if isNotFound(err) && p != "/api/queues" {
					return nil, &Error{Op: fmt.Sprintf("vhost \"%s\" not found", backends.SafeText(strings.TrimPrefix(p, "/api/queues/")))}
				}
				return nil, err
			}
			for _, aq := range pg.Items {
				out = append(out, convertQueue(aq))
			}
			if num(pg.PageCount) <= int64(page) {
				break
			}
		}
	}
	if err := c.markDLQs(ctx, out); err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Messages != out[j].Messages {
			return out[i].Messages > out[j].Messages
		}
		if out[i].Vhost != out[j].Vhost {
			return out[i].Vhost < out[j].Vhost
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

func convertQueue(aq apiQueue) backends.Queue {
	q := backends.Queue{
		Vhost: aq.Vhost, Name: aq.Name, Type: aq.Type, Durable: aq.Durable, State: aq.State,
		Ready: num(aq.Ready), Unacked: num(aq.Unacked), Messages: num(aq.Messages), Consumers: num(aq.Consumers),
		Arguments: aq.Arguments, PolicyDefinition: aq.EffPolicy,
	}
	if q.Type == "" {
		q.Type = "classic"
	}
	if s, ok := aq.Policy.(string); ok {
		q.Policy = s
	}
	if q.Arguments == nil {
		q.Arguments = map[string]any{}
	}
	if aq.MsgStats != nil {
		q.PublishRate = rate(aq.MsgStats.Publish.Rate)
		q.DeliverRate = rate(aq.MsgStats.DeliverGet.Rate)
		q.AckRate = rate(aq.MsgStats.Ack.Rate)
	}
	// arguments win over policy, as in RabbitMQ itself
	if x, ok := aq.EffPolicy["dead-letter-exchange"].(string); ok {
		q.HasDeadLetterExchange, q.DeadLetterExchange = true, x
	}
	if x, ok := aq.EffPolicy["dead-letter-routing-key"].(string); ok {
		q.DeadLetterRoutingKey = x
	}
	if x, ok := q.Arguments["x-dead-letter-exchange"].(string); ok {
		q.HasDeadLetterExchange, q.DeadLetterExchange = true, x
	}
	if x, ok := q.Arguments["x-dead-letter-routing-key"].(string); ok {
		q.DeadLetterRoutingKey = x
	}
	for _, v := range []any{aq.EffPolicy["delivery-limit"], q.Arguments["x-delivery-limit"]} {
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				q.DeliveryLimit = &i
			}
		}
	}
	return q
}

// dlqNamePattern reports whether a queue name looks like a dead-letter queue.
func dlqName(name string) bool {
	l := strings.ToLower(name)
	for _, s := range []string{".dlq", "-dlq", "_dlq", ".dead", "-dead", "_error", ".error", ".dlx", ".dead-letter", ".deadletter"} {
		if strings.HasSuffix(l, s) {
			return true
		}
	}
	return strings.HasPrefix(l, "dlq.") || strings.HasPrefix(l, "dlq-")
}

// markDLQs flags queues that a dead-letter exchange routes to (one bindings
// call per distinct dead-letter exchange), then queues named like DLQs.
func (c *Client) markDLQs(ctx context.Context, qs []backends.Queue) error {
	type dlx struct{ vhost, exchange string }
	idx := map[[2]string]int{}
	for i, q := range qs {
		idx[[2]string{q.Vhost, q.Name}] = i
	}
	origins := map[dlx][]backends.Queue{}
	for _, q := range qs {
		if q.HasDeadLetterExchange {
			k := dlx{q.Vhost, q.DeadLetterExchange}
			origins[k] = append(origins[k], q)
		}
	}
	mark := func(vhost, name, why string) {
		if i, ok := idx[[2]string{vhost, name}]; ok && !qs[i].IsDLQ {
			qs[i].IsDLQ, qs[i].DLQReason = true, why
		}
	}
	for k, from := range origins {
		if k.exchange == "" {
			// default exchange: the routing key names the queue
			for _, o := range from {
				rk := o.DeadLetterRoutingKey
				if rk == "" {
					rk = o.Name // dead-lettering to "" with the original key loops back: not a DLQ
					continue
				}
				mark(k.vhost, rk, fmt.Sprintf("dead-letter target of %s (default exchange)", o.Name))
			}
			continue
		}
		var bs []backends.Binding
		err := c.get(ctx, "/api/exchanges/"+seg(k.vhost)+"/"+seg(k.exchange)+"/bindings/source", nil, &bs)
		if isNotFound(err) {
			continue // a DLX that does not exist: messages are dropped; shown on the origin queue
		}
		if err != nil {
			return err
		}
		for _, b := range bs {
			if b.DestinationType == "queue" {
				mark(k.vhost, b.Destination, fmt.Sprintf("bound to dead-letter exchange %s of %s", k.exchange, from[0].Name))
			}
		}
	}
	for i := range qs {
		if !qs[i].IsDLQ && dlqName(qs[i].Name) {
			qs[i].IsDLQ, qs[i].DLQReason = true, "named like a dead-letter queue"
		}
	}
	return nil
}

// QueueDetail returns one queue with its bindings and consumers.
func (c *Client) QueueDetail(ctx context.Context, vhost, name string) (*backends.QueueDetail, error) {
	var aq apiQueue
	if err := c.get(ctx, "/api/queues/"+seg(vhost)+"/"+seg(name), nil, &aq); err != nil {
		if isNotFound(err) {
			return nil, &Error{Op: fmt.Sprintf("queue \"%s\" not found in vhost \"%s\"", backends.SafeText(name), backends.SafeText(vhost))}
		}
		return nil, err
	}
	d := &backends.QueueDetail{Queue: convertQueue(aq), Bindings: []backends.Binding{}, Consumers: []backends.QueueConsumer{}}
	if err := c.get(ctx, "/api/queues/"+seg(vhost)+"/"+seg(name)+"/bindings", nil, &d.Bindings); err != nil {
		return nil, err
	}
	for _, cd := range aq.ConsumerDs {
		d.Consumers = append(d.Consumers, backends.QueueConsumer{Tag: cd.Tag, Connection: cd.Channel.ConnectionName, Channel: cd.Channel.Name, AckRequired: cd.AckRequired, Prefetch: num(cd.Prefetch)})
	}
	all := []backends.Queue{d.Queue}
	if err := c.markDLQs(ctx, all); err == nil {
		d.Queue = all[0]
	}
	return d, nil
}

func num(n json.Number) int64 {
	if n == "" {
		return 0
	}
	if i, err := n.Int64(); err == nil {
		return i
	}
	f, _ := n.Float64()
	return int64(f)
}

func rate(n json.Number) float64 {
	f, _ := n.Float64()
	return f
}
