package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/config"
	kafkalag "github.com/mqops/mqops/backends/lag"
	"github.com/mqops/mqops/backends/store"
)

// pendingJSON is the -o json output of mqops pending.
type pendingJSON struct {
	Pending      []pendingRowJSON  `json:"pending"`
	Destinations []pendingDestJSON `json:"destinations"`
}

type pendingRowJSON struct {
	ID          string    `json:"id"`
	Destination string    `json:"destination"`
	Key         string    `json:"key"`
	MessageID   string    `json:"message_id"`
	Status      string    `json:"status"`
	Attempts    int       `json:"attempts"`
	CreatedAt   time.Time `json:"created_at"`
	AgeSeconds  float64   `json:"age_seconds"`
	LastError   string    `json:"last_error"`
}

// pendingDestJSON is one destination: its pending rows (all that match,
// not only those listed), the oldest's age, and beside it the broker's
// backlog where it is published (lag: a *kafkaLag or a *rabbitLag; null
// with lag_error when it could not be read).
type pendingDestJSON struct {
	Destination      string  `json:"destination"`
	Pending          int     `json:"pending"`
	OldestAgeSeconds float64 `json:"oldest_age_seconds"`
	Lag              any     `json:"lag"`
	LagError         string  `json:"lag_error,omitempty"`
}

// kafkaLag is the consumer lag of a destination's topic: per consumer
// group with offsets on it, its lag summed over the topic's partitions;
// Messages is the worst group's (null: no group has offsets there). The
// console's :pending shows the same (lag.TopicLags).
type kafkaLag struct {
	Broker string `json:"broker"`
	*kafkalag.TopicLag
}

// rabbitLag is the backlog where a destination is published on RabbitMQ:
// the queues its exchange and routing key reach, ready + unacked.
type rabbitLag struct {
	Broker string `json:"broker"`
	*backends.RouteBacklog
}

func (l *kafkaLag) text() string {
	if l.Messages == nil {
		return fmt.Sprintf("kafka:%s: no consumer group", l.Topic)
	}
	return fmt.Sprintf("kafka:%s: lag %d (worst of %d group(s): %s)", l.Topic, *l.Messages, l.Groups, l.WorstGroup)
}

func (l *rabbitLag) text() string {
	t := backends.RouteTarget{Broker: "rabbitmq", Exchange: l.Exchange, RoutingKey: l.RoutingKey}
	s := fmt.Sprintf("%s: %d message(s) in %d queue(s)", t, l.Messages, len(l.Queues))
	if len(l.Queues) == 0 {
		s = t.String() + ": reaches no queue"
	}
	if !l.Predictable {
		s += " (the exchange's type routes by content: not all queues known)"
	}
	if l.More > 0 {
		s += fmt.Sprintf(" (+%d queue(s) not read)", l.More)
	}
	return s
}

func newPendingCmd(g *globals) *cobra.Command {
	var (
		q      backends.OutboxQuery
		sortBy string
		output string
	)
	cmd := &cobra.Command{
		Use:   "pending",
		Short: "Rows of the application's sending table (outbox) still pending, next to the broker's lag where they go",
		Long: `Lists the rows of the sending table (outbox) still pending after
--older-than (default: the store's pending-after, 5m), oldest first, and per
destination how many are pending, the oldest's age and, beside it, the
backlog of the broker where that destination is published (store.route):

  kafka      the consumer lag of the destination's topic: per consumer group
             with offsets on it, summed over its partitions; the worst group's
  rabbitmq   the queues the exchange and routing key reach (their bindings,
             through the management API), ready + unacknowledged

A destination without a backlog to show (a topic that does not exist, a
destination that names no topic) has a null lag and a lag_error saying so.
One whose backlog cannot be read (no broker configured, a broker that
fails) has them too; the rows still print, and the command exits with
status 3. Nothing is
changed anywhere: to publish pending rows again, use mqops resend.`,
		Example: `  mqops pending --older-than 10m
  mqops pending --destination orders --sort age -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if err := explicitZero(cmd, "limit", "older-than"); err != nil {
				return err
			}
			if err := checkPendingQuery(q, sortBy); err != nil {
				return err
			}
			c, st, err := g.contextStore((*store.Store).HasOutbox, "no sending table")
			if err != nil {
				return err
			}
			defer st.Close()
			ctx := cmd.Context()
			done := readProgress(g, "reading the pending rows of "+storeName(st))
			page, err := st.Pending(ctx, q)
			done()
			if err != nil {
				return err
			}
			done = readProgress(g, "reading the brokers' backlog")
			lags := g.destinationLags(ctx, c, page.Destinations)
			done()
			out := pendingOutput(page, lags, sortBy)
			if output == "json" {
				if err := writeJSON(g.stdout, out); err != nil {
					return err
				}
			} else {
				printPending(g.stdout, out)
			}
			if page.More {
				fmt.Fprintf(g.stderr, "note: %d pending row(s) match; %d listed (the oldest: --limit, or the store's bound on one read)\n", page.Total, len(page.Rows))
			}
			var missing []string
			for _, d := range out.Destinations {
				if d.LagError != "" && !lags[d.Destination].answer {
					missing = append(missing, fmt.Sprintf("lag of destination %s: %s", cutName(d.Destination), backends.SafeText(d.LagError)))
				}
			}
			return partialResult("destination lags", missing)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&q.OlderThan, "older-than", 0, "only rows created at least this long ago (default: the store's pending-after, 5m)")
	f.StringVar(&q.Destination, "destination", "", "only rows of this destination")
	f.IntVar(&q.Limit, "limit", 0, "list at most N rows, oldest first (default: the store's bound on one read, 10,000)")
	f.StringVar(&sortBy, "sort", "age", "age (oldest first) or destination")
	outputFlag(cmd, &output)
	return cmd
}

// checkPendingQuery validates the flags of mqops pending.
func checkPendingQuery(q backends.OutboxQuery, sortBy string) error {
	if q.OlderThan < 0 || q.OlderThan > actions.MaxOlderThan {
		return &actions.FieldError{Field: "older-than", Msg: fmt.Sprintf("%s is out of range: want 1s to %s", q.OlderThan, actions.MaxOlderThan)}
	}
	if err := actions.CheckCount("limit", q.Limit, 1, actions.MaxLimit, true); err != nil {
		return err
	}
	switch sortBy {
	case "age", "destination":
		return nil
	}
	return &actions.FieldError{Field: "sort", Msg: fmt.Sprintf("%q: want age or destination", backends.SafeText(sortBy))}
}

// pendingOutput is the page as mqops pending prints it, sorted.
func pendingOutput(page *backends.OutboxPage, lags map[string]destLag, sortBy string) pendingJSON {
	out := pendingJSON{Pending: []pendingRowJSON{}, Destinations: []pendingDestJSON{}}
	for _, r := range page.Rows {
		out.Pending = append(out.Pending, pendingRowJSON{ID: r.ID, Destination: r.Destination, Key: r.Key, MessageID: r.MessageID, Status: r.Status,
			Attempts: r.Attempts, CreatedAt: r.CreatedAt, AgeSeconds: age(page.Now, r.CreatedAt), LastError: r.LastError})
	}
	for _, d := range page.Destinations {
		dj := pendingDestJSON{Destination: d.Destination, Pending: d.Pending, OldestAgeSeconds: age(page.Now, d.Oldest)}
		if l, ok := lags[d.Destination]; ok {
			dj.Lag, dj.LagError = l.lag, l.err
		}
		out.Destinations = append(out.Destinations, dj)
	}
	if sortBy == "destination" {
		sort.SliceStable(out.Pending, func(i, j int) bool { return out.Pending[i].Destination < out.Pending[j].Destination })
		sort.SliceStable(out.Destinations, func(i, j int) bool { return out.Destinations[i].Destination < out.Destinations[j].Destination })
	} else {
		sort.SliceStable(out.Pending, func(i, j int) bool { return out.Pending[i].AgeSeconds > out.Pending[j].AgeSeconds })
		sort.SliceStable(out.Destinations, func(i, j int) bool {
			return out.Destinations[i].OldestAgeSeconds > out.Destinations[j].OldestAgeSeconds
		})
	}
	return out
}

// age is now − t in seconds, to the millisecond (0 for an unknown time).
func age(now, t time.Time) float64 {
	if t.IsZero() || now.IsZero() {
		return 0
	}
	return math.Round(max(now.Sub(t).Seconds(), 0)*1000) / 1000
}

func ageCell(s float64) string { return actions.AgeText(time.Duration(s * float64(time.Second))) }

// printPending prints the destinations (pending, oldest age, the
// broker's backlog), then the rows.
func printPending(w io.Writer, out pendingJSON) {
	if len(out.Pending) == 0 && len(out.Destinations) == 0 {
		fmt.Fprintln(w, "no pending rows")
		return
	}
	t := newTable(w, "DESTINATION", "PENDING", "OLDEST", "LAG")
	for _, d := range out.Destinations {
		lag := "- (" + d.LagError + ")"
		switch l := d.Lag.(type) {
		case *kafkaLag:
			lag = l.text()
		case *rabbitLag:
			lag = l.text()
		}
		t.row(cutName(d.Destination), fmt.Sprint(d.Pending), ageCell(d.OldestAgeSeconds), cutText(lag, 4*maxNameShown))
	}
	_ = t.flush()
	fmt.Fprintln(w)
	t = newTable(w, "ID", "DESTINATION", "KEY", "MESSAGE ID", "STATUS", "ATTEMPTS", "AGE", "LAST ERROR")
	for _, r := range out.Pending {
		t.row(cutName(r.ID), cutName(r.Destination), cutName(r.Key), cutName(r.MessageID), cutName(r.Status), fmt.Sprint(r.Attempts), ageCell(r.AgeSeconds), cutError(r.LastError, maxNameShown))
	}
	_ = t.flush()
}

// destLag is a destination's backlog, or why it is not known. answer
// says err is what the broker answered (the topic does not exist, the
// destination names no topic): a fact shown, not a read that failed.
type destLag struct {
	lag    any // *kafkaLag or *rabbitLag
	err    string
	answer bool
}

// destinationLags reads, for each destination, the backlog of the broker
// it is published to (the context's route). Each call is bounded by
// --timeout; after a broker failed once it is not asked again (the
// command fails within --timeout, not once per destination).
func (g *globals) destinationLags(ctx context.Context, c *config.Context, dests []backends.PendingByTarget) map[string]destLag {
	out := make(map[string]destLag, len(dests))
	if len(dests) == 0 {
		return out
	}
	route := routeOf(c)
	targets := map[string]backends.RouteTarget{}
	for _, d := range dests {
		t, err := route.Resolve(d.Destination)
		if err != nil {
			out[d.Destination] = destLag{err: err.Error(), answer: true}
			continue
		}
		targets[d.Destination] = t
	}
	if len(targets) == 0 {
		return out
	}
	switch route.Broker {
	case "kafka":
		g.kafkaLags(ctx, c, targets, out)
	case "rabbitmq":
		g.rabbitLags(ctx, c, targets, out)
	}
	return out
}

// legal Kafka topic names (as actions checks them).
var kafkaTopicRE = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

func (g *globals) kafkaLags(ctx context.Context, c *config.Context, targets map[string]backends.RouteTarget, out map[string]destLag) {
	fail := func(err error) {
		for d := range targets {
			if _, done := out[d]; !done {
				out[d] = destLag{err: backends.Redact(err.Error())}
			}
		}
	}
	kc, err := g.kafkaClient(c)
	if err != nil {
		fail(err)
		return
	}
	defer kc.Close()
	var topics []string
	seen := map[string]bool{}
	for d, t := range targets {
		if !kafkaTopicRE.MatchString(t.Topic) || t.Topic == "." || t.Topic == ".." {
			out[d] = destLag{err: fmt.Sprintf("%q is not a Kafka topic name", t.Topic), answer: true}
			continue
		}
		if !seen[t.Topic] {
			seen[t.Topic] = true
			topics = append(topics, t.Topic)
		}
	}
	if len(topics) == 0 {
		return
	}
	sort.Strings(topics)
	counts, err := kc.PartitionCounts(ctx, topics)
	if err != nil {
		fail(err)
		return
	}
	var existing []string
	for _, t := range topics {
		if counts[t] > 0 {
			existing = append(existing, t)
		}
	}
	for d, t := range targets {
		if _, done := out[d]; !done && counts[t.Topic] == 0 {
			out[d] = destLag{err: fmt.Sprintf("topic %q does not exist", t.Topic), answer: true}
		}
	}
	if len(existing) == 0 {
		return
	}
	snap, err := kc.Snapshot(ctx, backends.SnapshotOptions{Topics: existing, SkipRecordTimes: true})
	if err != nil {
		fail(err)
		return
	}
	lags := kafkalag.TopicLags(snap)
	for d, t := range targets {
		if _, done := out[d]; done {
			continue
		}
		l, ok := lags[t.Topic]
		if !ok {
			l = &kafkalag.TopicLag{Topic: t.Topic}
		}
		out[d] = destLag{lag: &kafkaLag{Broker: "kafka", TopicLag: l}}
	}
}

func (g *globals) rabbitLags(ctx context.Context, c *config.Context, targets map[string]backends.RouteTarget, out map[string]destLag) {
	rc, err := g.rabbitClient(c)
	if err != nil {
		for d := range targets {
			out[d] = destLag{err: backends.Redact(err.Error())}
		}
		return
	}
	defer rc.Close()
	dests := make([]string, 0, len(targets))
	for d := range targets {
		dests = append(dests, d)
	}
	sort.Strings(dests)
	cache := map[backends.RouteTarget]destLag{}
	var broken error
	for _, d := range dests {
		t := targets[d]
		if l, ok := cache[t]; ok {
			out[d] = l
			continue
		}
		if broken != nil {
			out[d] = destLag{err: "not read: " + backends.Redact(broken.Error())}
			continue
		}
		vhost := t.Vhost
		if vhost == "" {
			vhost = "/"
		}
		b, err := rc.RouteBacklog(ctx, vhost, t.Exchange, t.RoutingKey)
		l := destLag{}
		if err != nil {
			l.err = backends.Redact(err.Error())
			broken = err // the management API failed: the others would wait for it again
		} else {
			l.lag = &rabbitLag{Broker: "rabbitmq", RouteBacklog: b}
		}
		cache[t], out[d] = l, l
	}
}
