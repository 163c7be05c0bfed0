package rabbitmq

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/mqops/mqops/backends"
)

type apiOverview struct {
	ClusterName     string `json:"cluster_name"`
	RabbitMQVersion string `json:"rabbitmq_version"`
	ErlangVersion   string `json:"erlang_version"`
	QueueTotals     struct {
		Messages apiNum `json:"messages"`
		Ready    apiNum `json:"messages_ready"`
		Unacked  apiNum `json:"messages_unacknowledged"`
	} `json:"queue_totals"`
	ObjectTotals struct {
		Queues      apiNum `json:"queues"`
		Consumers   apiNum `json:"consumers"`
		Connections apiNum `json:"connections"`
	} `json:"object_totals"`
}

// Overview returns the broker-wide summary: cluster name, versions, totals.
func (c *Client) Overview(ctx context.Context) (*backends.RabbitOverview, error) {
	var o apiOverview
	if err := c.get(ctx, "/api/overview", nil, &o); err != nil {
		return nil, err
	}
	if o.RabbitMQVersion != "" {
		c.versionMu.Lock()
		c.version = o.RabbitMQVersion
		c.versionMu.Unlock()
	}
	var n numbers
	return &backends.RabbitOverview{
		ClusterName: o.ClusterName, RabbitMQVersion: o.RabbitMQVersion, ErlangVersion: o.ErlangVersion,
		Messages: n.count("messages", o.QueueTotals.Messages), Ready: n.count("ready", o.QueueTotals.Ready),
		Unacked: n.count("unacked", o.QueueTotals.Unacked), Queues: n.count("queues", o.ObjectTotals.Queues),
		Consumers: n.count("consumers", o.ObjectTotals.Consumers), Connections: n.count("connections", o.ObjectTotals.Connections),
		Invalid: n.invalid,
	}, nil
}

// jsonMap decodes a JSON object into plain Go values (json numbers become
// int64 or float64) and takes the `[]` some RabbitMQ versions send for an
// empty object as empty.
type jsonMap map[string]any

func (m *jsonMap) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		*m = nil
		return nil
	}
	var x map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&x); err != nil {
		return err
	}
	*m = plainJSON(x).(map[string]any)
	return nil
}

// plainJSON turns json.Number into int64 (or float64) all the way down.
func plainJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = plainJSON(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = plainJSON(e)
		}
		return x
	}
	return v
}

type apiQueue struct {
	Vhost      string       `json:"vhost"`
	Name       string       `json:"name"`
	Type       string       `json:"type"`
	Durable    bool         `json:"durable"`
	State      string       `json:"state"`
	Messages   apiNum       `json:"messages"`
	Ready      apiNum       `json:"messages_ready"`
	Unacked    apiNum       `json:"messages_unacknowledged"`
	Consumers  apiNum       `json:"consumers"`
	Arguments  jsonMap      `json:"arguments"`
	Policy     any          `json:"policy"` // a name, or null
	EffPolicy  jsonMap      `json:"effective_policy_definition"`
	MsgStats   *apiMsgStats `json:"message_stats"`
	ConsumerDs []struct {
		Tag         string  `json:"consumer_tag"`
		AckRequired bool    `json:"ack_required"`
		Prefetch    apiNum  `json:"prefetch_count"`
		Channel     jsonMap `json:"channel_details"` // [] while the broker has none
	} `json:"consumer_details"`
}

type apiRate struct {
	Rate apiNum `json:"rate"`
}

type apiMsgStats struct {
	Publish    apiRate `json:"publish_details"`
	DeliverGet apiRate `json:"deliver_get_details"`
	Ack        apiRate `json:"ack_details"`
}

// queuePage is one page of /api/queues. It is read item by item, and
// holds at most twice the page size asked for: a longer page is refused
// before it fills memory.
type queuePage struct {
	Items     []apiQueue
	PageCount apiNum
	max       int
}

func (pg *queuePage) decodeFrom(dec *json.Decoder) error {
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		switch t {
		case "items":
			if err := expectDelim(dec, '['); err != nil {
				return err
			}
			for dec.More() {
				if len(pg.Items) >= 2*pg.max {
					return fmt.Errorf("the page holds more than twice the %d queues asked for", pg.max)
				}
				var aq apiQueue
				if err := dec.Decode(&aq); err != nil {
					return err
				}
				pg.Items = append(pg.Items, aq)
			}
			if err := expectDelim(dec, ']'); err != nil {
				return err
			}
		case "page_count":
			if err := dec.Decode(&pg.PageCount); err != nil {
				return err
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return err
			}
		}
	}
	return expectDelim(dec, '}')
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return fmt.Errorf("want %q, got %v", want, t)
	}
	return nil
}

// queueColumns are the fields a listing asks for (the management API drops
// the rest, which keeps big listings cheap).
const queueColumns = "vhost,name,type,durable,state,messages,messages_ready,messages_unacknowledged,consumers,arguments,policy,effective_policy_definition," +
	"message_stats.publish_details.rate,message_stats.deliver_get_details.rate,message_stats.ack_details.rate"

// dlxColumns are what DLQ detection needs of every queue.
const dlxColumns = "vhost,name,arguments,effective_policy_definition"

// DefaultMaxQueues bounds a listing: a management API that keeps sending
// new queues past it is not believed.
const DefaultMaxQueues = 1_000_000

// PageParallel bounds how many pages of a queue listing are read at once
// (after the first, which says how many there are).
const PageParallel = 4

// queuesPaged lists /api/queues (or one vhost's), page by page, until the
// page count the API gives or an empty page (maxPages > 0 stops sooner).
// The first page says how many there are; the rest are read PageParallel
// at a time, and taken in order. extra is added to each page's query
// (disable_stats, where no statistics are shown). It never trusts the API
// blindly: a page that brings no queue not seen before, a page count that
// is not a number, or more queues than MaxQueues stop the listing with an
// error.
func (c *Client) queuesPaged(ctx context.Context, vhost, columns string, maxPages int, extra url.Values) ([]apiQueue, error) {
	path := "/api/queues"
	if vhost != "" {
		path += "/" + seg(vhost)
	}
	if maxPages <= 0 {
		// The whole listing in one call: each page costs the broker a
		// scan (and sort) of every queue, so twelve pages of 500 cost it
		// about six times one unpaged call (measured on 3.10 with 5,500
		// queues). A listing too large for MaxReply, or an API that
		// refuses unpaged listings, is read page by page instead.
		if out, err := c.queuesWhole(ctx, path, columns, extra); !pageInstead(err) {
			return out, err
		}
	}
	fetch := func(ctx context.Context, page int) (*queuePage, error) {
		pg := &queuePage{max: c.cfg.PageSize}
		q := url.Values{"page": {strconv.Itoa(page)}, "page_size": {strconv.Itoa(c.cfg.PageSize)}, "columns": {columns}}
		for k, v := range extra {
			q[k] = v
		}
		if err := c.get(ctx, path, q, pg); err != nil {
			if isNotFound(err) && vhost != "" {
				return nil, notFound("vhost %s not found", quote(vhost))
			}
			return nil, err
		}
		return pg, nil
	}
	var out []apiQueue
	seen := map[[2]string]bool{}
	// take adds a page; done: the listing is whole.
	take := func(page int, pg *queuePage) (done bool, err error) {
		var n numbers
		pages := n.count("page_count", pg.PageCount)
		if n.invalid != nil || (pages < 1 && len(pg.Items) > 0) {
			return false, &Error{Op: fmt.Sprintf("the %s sent page_count %s for page %d of %s: not a page count",
				c.mgmt(), rawText(pg.PageCount), page, backends.SafeText(path))}
		}
		fresh := 0
		for _, aq := range pg.Items {
			// a queue deleted while paging shifts the pages: never count one twice
			if k := [2]string{aq.Vhost, aq.Name}; !seen[k] {
				seen[k] = true
				out = append(out, aq)
				fresh++
			}
		}
		if len(out) > c.cfg.MaxQueues {
			return false, &Error{Op: fmt.Sprintf("the %s listed more than %s queues by page %d of %s: mqops reads at most that many",
				c.mgmt(), fmtN(c.cfg.MaxQueues), page, backends.SafeText(path))}
		}
		if c.cfg.OnPage != nil {
			c.cfg.OnPage(page, int(min(pages, int64(1<<31-1))), len(out))
		}
		if pages <= int64(page) || len(pg.Items) == 0 || (maxPages > 0 && page >= maxPages) {
			return true, nil
		}
		if fresh == 0 {
			return false, &Error{Op: fmt.Sprintf("page %d of %s from the %s (which claims %s pages) brought no queue that the pages before did not: "+
				"the listing changed under mqops, or the API repeats pages; try again", page, backends.SafeText(path), c.mgmt(), fmtN64(pages))}
		}
		return false, nil
	}
	first, err := fetch(ctx, 1)
	if err != nil {
		return nil, err
	}
	if done, err := take(1, first); done || err != nil {
		return out, err
	}
	var n numbers
	pages := int(min(n.count("page_count", first.PageCount), int64(1<<31-1)))
	if maxPages > 0 {
		pages = min(pages, maxPages)
	}
	// a batch of pages at a time, taken in order: a page count the API
	// inflates costs at most one batch more than MaxQueues allows
	for from := 2; ; from += PageParallel {
		k := PageParallel
		if pages > from {
			k = min(k, pages-from+1)
		} else {
			k = 1 // the page count claims no more: ask one page (empty, or the end)
		}
		got := make([]*queuePage, k)
		errs := make([]error, k)
		bctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for i := range k {
			wg.Go(func() {
				if got[i], errs[i] = fetch(bctx, from+i); errs[i] != nil {
					cancel() // the batch fails with its first error
				}
			})
		}
		wg.Wait()
		cancel()
		for i := range k {
			if errs[i] != nil {
				return nil, firstErr(errs)
			}
			if done, err := take(from+i, got[i]); done || err != nil {
				return out, err
			}
		}
	}
}

// queueList is an unpaged /api/queues reply, read item by item and
// bounded to max queues.
type queueList struct {
	Items []apiQueue
	max   int
}

func (l *queueList) decodeFrom(dec *json.Decoder) error {
	if err := expectDelim(dec, '['); err != nil {
		return errNotAList // a page (an API that pages whatever it is asked)
	}
	for dec.More() {
		if len(l.Items) >= l.max {
			return errTooManyQueues
		}
		var aq apiQueue
		if err := dec.Decode(&aq); err != nil {
			return err
		}
		l.Items = append(l.Items, aq)
	}
	return expectDelim(dec, ']')
}

var (
	errTooManyQueues = errors.New("too many queues")
	errNotAList      = errors.New("not a list of queues")
)

// queuesWhole is the listing of path in one unpaged call.
func (c *Client) queuesWhole(ctx context.Context, path, columns string, extra url.Values) ([]apiQueue, error) {
	q := url.Values{"columns": {columns}}
	for k, v := range extra {
		q[k] = v
	}
	l := &queueList{max: c.cfg.MaxQueues}
	if err := c.get(ctx, path, q, l); err != nil {
		return nil, err
	}
	if c.cfg.OnPage != nil {
		c.cfg.OnPage(1, 1, len(l.Items))
	}
	// a queue listed twice (never seen from RabbitMQ) counts once
	seen := make(map[[2]string]bool, len(l.Items))
	out := l.Items[:0]
	for _, aq := range l.Items {
		if k := [2]string{aq.Vhost, aq.Name}; !seen[k] {
			seen[k] = true
			out = append(out, aq)
		}
	}
	return out, nil
}

// pageInstead says whether an unpaged listing that failed with err is to
// be read page by page: it was too large (for MaxReply or MaxQueues), or
// the API did not list unpaged (it refused, or answered with a page). A
// call that timed out or was refused for the credentials is not retried.
func pageInstead(err error) bool {
	var e *Error
	return err != nil && (errors.Is(err, errTooManyQueues) || errors.Is(err, errReplyTooLarge) || errors.Is(err, errNotAList) ||
		(errors.As(err, &e) && (e.Status == http.StatusBadRequest || e.Status == http.StatusNotFound)))
}

// firstErr is the first error of errs that is not the cancellation of its
// siblings by it.
func firstErr(errs []error) error {
	var first error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if first == nil {
			first = err
		}
		if !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return first
}

// Queues lists every queue (of the configured vhosts, or all the user
// sees), page by page, deepest first, and marks dead-letter queues: those a
// dead-letter exchange routes to (one bindings call per distinct
// dead-letter exchange) and those named like one.
func (c *Client) Queues(ctx context.Context) ([]backends.Queue, error) {
	vhosts := c.cfg.Vhosts
	if len(vhosts) == 0 {
		vhosts = []string{""} // all
	}
	var out []backends.Queue
	for _, v := range vhosts {
		aqs, err := c.queuesPaged(ctx, v, queueColumns, 0, nil)
		if err != nil {
			return nil, err
		}
		for _, aq := range aqs {
			out = append(out, convertQueue(aq))
		}
	}
	return c.markedDeepestFirst(ctx, out)
}

// totalsColumns are what a listing without statistics carries: the
// queues' own counts (enable_queue_totals), not their consumers or rates.
const totalsColumns = "vhost,name,type,durable,state,messages,messages_ready,messages_unacknowledged,arguments,policy"

// QueueTotals lists the queues as Queues does, without the management
// statistics: their depths come from the queues themselves
// (disable_stats with enable_queue_totals), their consumers and rates are
// unknown (NoStats). The broker answers it in about half the time of a
// listing with statistics (5,500 queues on 3.10), which makes it the
// console's first look. The effective policies come only with
// statistics: the policies are read once per vhost instead. A broker
// whose management API lists no totals, or a user who may not read the
// policies, gets backends.ErrNoQueueTotals: ask Queues.
func (c *Client) QueueTotals(ctx context.Context) ([]backends.Queue, error) {
	vhosts := c.cfg.Vhosts
	if len(vhosts) == 0 {
		vhosts = []string{""} // all
	}
	var out []backends.Queue
	for _, v := range vhosts {
		aqs, ok, err := c.queuesWithPolicies(ctx, v, totalsColumns, url.Values{"enable_queue_totals": {"true"}})
		if err != nil && !gaveUp(err) {
			// an answer, but not the listing (an API that refuses the
			// parameter, say): the listing with statistics may still be read
			return nil, fmt.Errorf("%w (%w)", backends.ErrNoQueueTotals, err)
		}
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, backends.ErrNoQueueTotals
		}
		for _, aq := range aqs {
			if aq.Messages == "" && (aq.Ready == "" || aq.Unacked == "") {
				return nil, backends.ErrNoQueueTotals // an API before queue totals
			}
			q := convertQueue(aq)
			q.NoStats = true
			out = append(out, q)
		}
	}
	return c.markedDeepestFirst(ctx, out)
}

// gaveUp says whether a call failed in a way another call would not mend
// now: it timed out or its reply was endless (a peer that stops answering,
// or never stops, fails a command within --timeout, never twice over), it
// was cancelled, or the credentials were refused.
func gaveUp(err error) bool {
	var e *Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, errReplyTooLarge) ||
		(errors.As(err, &e) && e.Status == http.StatusUnauthorized)
}

// queuesWithPolicies lists vhost's queues with statistics disabled (extra
// added to the query) and their effective policy definitions taken from
// the policies, read once. ok is false when the policies cannot be read
// (the user may not: they take the policymaker tag; or the API answers
// something else): the effective policies come only with statistics then.
func (c *Client) queuesWithPolicies(ctx context.Context, vhost, columns string, extra url.Values) (aqs []apiQueue, ok bool, err error) {
	var pols []apiPolicy
	path := "/api/policies"
	if vhost != "" {
		path += "/" + seg(vhost)
	}
	err = c.get(ctx, path, nil, &pols)
	if err != nil && !gaveUp(err) {
		// the API answered, but not with the policies (forbidden: they
		// take the policymaker tag; not found; a reply that is not the
		// list): the effective policies come with statistics
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	q := url.Values{"disable_stats": {"true"}}
	for k, v := range extra {
		q[k] = v
	}
	aqs, err = c.queuesPaged(ctx, vhost, columns, 0, q)
	if err != nil {
		return nil, false, err
	}
	defs := make(map[[2]string]jsonMap, len(pols))
	for _, p := range pols {
		defs[[2]string{p.Vhost, p.Name}] = p.Definition
	}
	for i := range aqs {
		if name, ok := aqs[i].Policy.(string); ok {
			aqs[i].EffPolicy = defs[[2]string{aqs[i].Vhost, name}]
		}
	}
	return aqs, true, nil
}

// markedDeepestFirst marks the dead-letter queues of out and sorts it
// deepest first.
func (c *Client) markedDeepestFirst(ctx context.Context, out []backends.Queue) ([]backends.Queue, error) {
	if err := c.markDLQs(ctx, out); err != nil {
		return nil, err
	}
	// Deepest first; a depth the API sent out of range sorts last, never
	// as a number.
	sort.SliceStable(out, func(i, j int) bool {
		di, oki := out[i].Depth()
		dj, okj := out[j].Depth()
		if oki != okj {
			return oki
		}
		if di != dj {
			return di > dj
		}
		if out[i].Vhost != out[j].Vhost {
			return out[i].Vhost < out[j].Vhost
		}
		return out[i].Name < out[j].Name
	})
	if out == nil {
		out = []backends.Queue{}
	}
	return out, nil
}

func convertQueue(aq apiQueue) backends.Queue {
	var n numbers
	q := backends.Queue{
		Vhost: aq.Vhost, Name: aq.Name, Type: aq.Type, Durable: aq.Durable, State: aq.State,
		Ready: n.count("ready", aq.Ready), Unacked: n.count("unacked", aq.Unacked), Messages: n.count("messages", aq.Messages),
		Consumers: n.count("consumers", aq.Consumers),
		Arguments: aq.Arguments, PolicyDefinition: aq.EffPolicy,
	}
	if q.Type == "" {
		q.Type = "classic"
		if t, ok := q.Arguments["x-queue-type"].(string); ok && t != "" {
			q.Type = t
		}
	}
	if s, ok := aq.Policy.(string); ok {
		q.Policy = s
	}
	if q.Arguments == nil {
		q.Arguments = map[string]any{}
	}
	if aq.MsgStats != nil {
		q.PublishRate = n.rate("publish_rate", aq.MsgStats.Publish.Rate)
		q.DeliverRate = n.rate("deliver_rate", aq.MsgStats.DeliverGet.Rate)
		q.AckRate = n.rate("ack_rate", aq.MsgStats.Ack.Rate)
	}
	q.Invalid = n.invalid
	// Arguments win over the policy, as in RabbitMQ itself.
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
	if l, _, ok := configuredDeliveryLimit(&q); ok {
		q.DeliveryLimit = &l
	}
	return q
}

// configuredDeliveryLimit is the delivery limit a queue's argument and
// policy set, combined as RabbitMQ does (the lower of the two; where one
// is negative, which RabbitMQ 4 reads as "no limit", the higher), and
// where it comes from. ok is false when neither sets one.
func configuredDeliveryLimit(q *backends.Queue) (limit int64, source string, ok bool) {
	arg, argOK := toInt64(q.Arguments["x-delivery-limit"])
	pol, polOK := toInt64(q.PolicyDefinition["delivery-limit"])
	polName := "policy"
	if q.Policy != "" {
		polName = "policy " + quote(q.Policy)
	}
	switch {
	case argOK && polOK:
		pick := min(arg, pol)
		if arg < 0 || pol < 0 {
			pick = max(arg, pol)
		}
		if pick == arg {
			return arg, "argument x-delivery-limit", true
		}
		return pol, polName, true
	case argOK:
		return arg, "argument x-delivery-limit", true
	case polOK:
		return pol, polName, true
	}
	return 0, "", false
}

func toInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case float64:
		if n != math.Trunc(n) || n < math.MinInt64 || n >= math.MaxInt64 {
			return 0, false
		}
		return int64(n), true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

// dlqSuffixes and dlqPrefixes are the names operators give dead-letter
// queues (compared in lower case).
var (
	dlqSuffixes = []string{".dlq", "-dlq", "_dlq", ".dead", "-dead", "_dead", "_error", ".error", "-error",
		".dlx", ".dead-letter", ".deadletter", "-deadletter", "_deadletter", ".dead-letters", ".deadletters"}
	dlqPrefixes = []string{"dlq.", "dlq-", "dlq_", "dead.", "deadletter."}
)

// DLQName reports whether a queue name looks like a dead-letter queue's.
func DLQName(name string) bool {
	l := strings.ToLower(name)
	for _, s := range dlqSuffixes {
		if strings.HasSuffix(l, s) && len(l) > len(s) {
			return true
		}
	}
	for _, p := range dlqPrefixes {
		if strings.HasPrefix(l, p) && len(l) > len(p) {
			return true
		}
	}
	return false
}

// maxDLXHops bounds how far exchange-to-exchange bindings from a
// dead-letter exchange are followed.
const maxDLXHops = 3

// markDLQs flags queues that a dead-letter exchange routes to, then queues
// named like DLQs. It makes one bindings call per distinct (vhost,
// dead-letter exchange), plus one per exchange bound to one of those.
func (c *Client) markDLQs(ctx context.Context, qs []backends.Queue) error {
	idx := make(map[[2]string]int, len(qs))
	for i, q := range qs {
		idx[[2]string{q.Vhost, q.Name}] = i
	}
	type dlx struct{ vhost, exchange string }
	origins := map[dlx][]string{}
	var order []dlx
	mark := func(vhost, name, why string) {
		if i, ok := idx[[2]string{vhost, name}]; ok && !qs[i].IsDLQ {
			qs[i].IsDLQ, qs[i].DLQReason = true, why
		}
	}
	for _, q := range qs {
		if !q.HasDeadLetterExchange {
			continue
		}
		if q.DeadLetterExchange == "" {
			// the default exchange routes by queue name: the routing key
			// names the DLQ; without one the message goes back where it
			// was published to, which is not a DLQ
			if rk := q.DeadLetterRoutingKey; rk != "" && rk != q.Name {
				mark(q.Vhost, rk, fmt.Sprintf("dead-letter target of queue %s (default exchange, routing key %s)", quote(q.Name), quote(rk)))
			}
			continue
		}
		k := dlx{q.Vhost, q.DeadLetterExchange}
		if _, ok := origins[k]; !ok {
			order = append(order, k)
		}
		origins[k] = append(origins[k], q.Name)
	}
	for _, k := range order {
		from := origins[k]
		of := "queue " + quote(from[0])
		if len(from) > 1 {
			of = fmt.Sprintf("queues %s and %d more", quote(from[0]), len(from)-1)
		}
		why := fmt.Sprintf("bound to dead-letter exchange %s of %s", quote(k.exchange), of)
		visited := map[string]bool{k.exchange: true}
		frontier := []string{k.exchange}
		for hop := 0; hop < maxDLXHops && len(frontier) > 0; hop++ {
			var next []string
			for _, x := range frontier {
				bs, err := c.sourceBindings(ctx, k.vhost, x)
				if isNotFound(err) {
					continue // a DLX that does not exist drops the dead letters
				}
				if err != nil {
					return err
				}
				for _, b := range bs {
					switch b.DestinationType {
					case "queue":
						mark(k.vhost, b.Destination, why)
					case "exchange":
						if !visited[b.Destination] {
							visited[b.Destination] = true
							next = append(next, b.Destination)
						}
					}
				}
			}
			frontier = next
		}
	}
	for i := range qs {
		if !qs[i].IsDLQ && DLQName(qs[i].Name) {
			qs[i].IsDLQ, qs[i].DLQReason = true, "named like a dead-letter queue"
		}
	}
	return nil
}

func (c *Client) sourceBindings(ctx context.Context, vhost, exchange string) ([]backends.Binding, error) {
	var bs []apiBinding
	if err := c.get(ctx, "/api/exchanges/"+seg(vhost)+"/"+seg(exchange)+"/bindings/source", nil, &bs); err != nil {
		return nil, err
	}
	return convertBindings(bs), nil
}

type apiBinding struct {
	Source          string  `json:"source"`
	Destination     string  `json:"destination"`
	DestinationType string  `json:"destination_type"`
	RoutingKey      string  `json:"routing_key"`
	Arguments       jsonMap `json:"arguments"`
}

func convertBindings(bs []apiBinding) []backends.Binding {
	out := make([]backends.Binding, 0, len(bs))
	for _, b := range bs {
		out = append(out, backends.Binding{Source: b.Source, Destination: b.Destination, DestinationType: b.DestinationType, RoutingKey: b.RoutingKey, Arguments: b.Arguments})
	}
	return out
}

// maxDetailPages bounds the scan of a vhost's queues that QueueDetail makes
// to tell whether a dead-letter exchange routes to the queue.
const maxDetailPages = 40

// QueueDetail returns one queue with its bindings and consumers.
func (c *Client) QueueDetail(ctx context.Context, vhost, name string) (*backends.QueueDetail, error) {
	var aq apiQueue
	if err := c.get(ctx, "/api/queues/"+seg(vhost)+"/"+seg(name), nil, &aq); err != nil {
		if isNotFound(err) {
			return nil, notFound("queue %s not found in vhost %s", quote(name), quote(vhost))
		}
		return nil, err
	}
	d := &backends.QueueDetail{Queue: convertQueue(aq), Bindings: []backends.Binding{}, Consumers: []backends.QueueConsumer{}}
	var bs []apiBinding
	if err := c.get(ctx, "/api/queues/"+seg(vhost)+"/"+seg(name)+"/bindings", nil, &bs); err != nil {
		if isNotFound(err) {
			return nil, notFound("queue %s not found in vhost %s", quote(name), quote(vhost))
		}
		return nil, err
	}
	d.Bindings = convertBindings(bs)
	for _, cd := range aq.ConsumerDs {
		chName, _ := cd.Channel["name"].(string)
		connName, _ := cd.Channel["connection_name"].(string)
		d.Consumers = append(d.Consumers, backends.QueueConsumer{Tag: cd.Tag, Connection: connName, Channel: chName,
			AckRequired: cd.AckRequired, Prefetch: new(numbers).count("prefetch_count", cd.Prefetch)})
	}
	if err := c.markDLQDetail(ctx, &d.Queue, d.Bindings); err != nil {
		return nil, err
	}
	return d, nil
}

// markDLQDetail tells whether some queue of the vhost dead-letters into q:
// through the default exchange with q's name as routing key, or through an
// exchange q is bound to. Without a full listing at hand it scans the
// vhost's queues (bounded), cheaply (only the columns it needs).
func (c *Client) markDLQDetail(ctx context.Context, q *backends.Queue, bindings []backends.Binding) error {
	sources := map[string]bool{}
	for _, b := range bindings {
		if b.Source != "" {
			sources[b.Source] = true
		}
	}
	aqs, err := c.queuesPaged(ctx, q.Vhost, dlxColumns, maxDetailPages, nil)
	if err != nil {
		return err
	}
	var viaDLX []string
	dlxName := ""
	for _, aq := range aqs {
		o := convertQueue(aq)
		if !o.HasDeadLetterExchange || o.Name == q.Name {
			continue
		}
		if o.DeadLetterExchange == "" && o.DeadLetterRoutingKey == q.Name {
			q.IsDLQ, q.DLQReason = true, fmt.Sprintf("dead-letter target of queue %s (default exchange, routing key %s)", quote(o.Name), quote(q.Name))
			return nil
		}
		if sources[o.DeadLetterExchange] {
			viaDLX = append(viaDLX, o.Name)
			if dlxName == "" {
				dlxName = o.DeadLetterExchange
			}
		}
	}
	if len(viaDLX) > 0 {
		sort.Strings(viaDLX)
		of := "queue " + quote(viaDLX[0])
		if len(viaDLX) > 1 {
			of = fmt.Sprintf("queues %s and %d more", quote(viaDLX[0]), len(viaDLX)-1)
		}
		q.IsDLQ, q.DLQReason = true, fmt.Sprintf("bound to dead-letter exchange %s of %s", quote(dlxName), of)
		return nil
	}
	if DLQName(q.Name) {
		q.IsDLQ, q.DLQReason = true, "named like a dead-letter queue"
	}
	return nil
}

// apiNum is a number as the management API sent it: its raw JSON text,
// checked where it is read (numbers) so that one value out of range is
// flagged instead of wrapped, or failing the whole listing.
type apiNum string

func (n *apiNum) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*n = ""
		return nil
	}
	*n = apiNum(b)
	return nil
}

// numbers reads apiNums, remembering the fields sent out of range with
// their raw text (nil while there is none).
type numbers struct{ invalid map[string]string }

func (n *numbers) flag(field string, raw apiNum) {
	if n.invalid == nil {
		n.invalid = map[string]string{}
	}
	n.invalid[field] = rawText(raw)
}

// count reads a count: an integer in [0, 2^63); anything else is flagged
// and reads as 0. An absent field is 0.
func (n *numbers) count(field string, raw apiNum) int64 {
	if raw == "" {
		return 0
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || v < 0 {
		n.flag(field, raw)
		return 0
	}
	return v
}

// rate reads a rate: a finite number ≥ 0; anything else is flagged and
// reads as 0.
func (n *numbers) rate(field string, raw apiNum) float64 {
	if raw == "" {
		return 0
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		n.flag(field, raw)
		return 0
	}
	return f
}

// rawText is a value as the API sent it, cut short and sanitized for
// display.
func rawText(raw apiNum) string {
	s := string(raw)
	if r := []rune(s); len(r) > 40 {
		s = string(r[:39]) + "…"
	}
	return backends.SafeText(s)
}

// num reads a count the way move.go needs it (0 when absent or out of
// range).
func num(n json.Number) int64 {
	return new(numbers).count("", apiNum(n))
}

func fmtN64(n int64) string { return fmtN(int(n)) }
