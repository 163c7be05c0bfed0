package main

import (
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/config"
)

func newTraceCmd(g *globals) *cobra.Command {
	var (
		o      actions.TraceOptions
		key    string
		output string
	)
	cmd := &cobra.Command{
		Use:   "trace MESSAGE_ID",
		Short: "Where a message id is now: the outbox, the retry table, the topic or queue, a dead-letter topic or queue, consumed",
		Long: `Looks for one message id in each place mqops can see, and says for each
whether it found it there, did not find it within what it read, or did not
look (and why: not configured, looking would change a queue, an error):

  outbox             the sending table's rows of the message (status,
                     attempts, last error)
  retry              the retry table's rows of the message
  topic              the destination's Kafka topic (store.route): the last
                     --depth records of the partition the key goes to
                     (murmur2, as the Java client), or of every partition
                     without a key, matched by the message id header
                     (the store's, mqops-message-id, cap-msg-id, message-id)
  queue              the RabbitMQ queues the destination's exchange and
                     routing key reach: the first --depth messages of each,
                     matched by message_id or those headers, through the
                     peek that leaves a queue as it was (a quorum queue with
                     a delivery limit is not peeked: looking is free)
  dead-letter topic  the topic's dead-letter topics (orders.DLT, orders-dlt…)
  dead-letter queue  where the queues' dead-letter exchanges route
  consumed           the idempotency table (when, by which consumer)

The destination and the key are the outbox row's (else the retry row's);
--destination and --key say them for a message without a row. Nothing is
changed anywhere: Kafka is read without a consumer group. A place that fails
is reported with its error and the command exits with status 3.`,
		Example: `  mqops trace 6f1c2b9e-6d1e-4f43-9a51-5f0f0b8f1a27
  mqops trace 4711 --destination orders --key customer-42 --depth 50000 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if err := explicitZero(cmd, "depth"); err != nil {
				return err
			}
			o.MessageID = args[0]
			if cmd.Flags().Changed("key") {
				o.Key = &key
			}
			if err := o.Validate(); err != nil {
				return err
			}
			_, c, err := g.loadContext()
			if err != nil {
				return err
			}
			t, closeAll, err := g.traceOf(c, o)
			if err != nil {
				return err
			}
			defer closeAll()
			done := readProgress(g, "looking for message "+cutName(o.MessageID))
			res, err := t.Run(cmd.Context())
			done()
			if err != nil {
				return err
			}
			if output == "json" {
				if err := writeJSON(g.stdout, res); err != nil {
					return err
				}
			} else {
				printTrace(g.stdout, res)
			}
			var missing []string
			for _, s := range res.Steps {
				if s.Status == actions.TraceError {
					missing = append(missing, fmt.Sprintf("%s %s: %s", s.Place, cutName(s.Where), backends.SafeText(s.Err)))
				}
			}
			return partialResult("places", missing)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Destination, "destination", "", "where the message was sent (default: its outbox or retry row's destination)")
	f.StringVar(&key, "key", "", "the message's Kafka key: only its partition is searched (default: its outbox row's key; \"\": every partition)")
	f.IntVar(&o.Depth, "depth", 0, fmt.Sprintf("records or messages read at most in each topic and queue (default %d, at most %d)", actions.DefaultTraceDepth, actions.MaxTraceDepth))
	outputFlag(cmd, &output)
	return cmd
}

// traceOf is the trace of context c: its store (an error opening it is
// the store's places' error), its brokers and its route. closeAll closes
// what it opened.
func (g *globals) traceOf(c *config.Context, o actions.TraceOptions) (*actions.Trace, func(), error) {
	t := &actions.Trace{Options: o, Route: routeOf(c)}
	kc, rc, err := g.contextClients(c)
	if err != nil {
		return nil, nil, err
	}
	var closers []func() error
	if kc != nil {
		t.Kafka = kc
		closers = append(closers, kc.Close)
	}
	if rc != nil {
		t.Rabbit = rc
		closers = append(closers, rc.Close)
	}
	if c.Store != nil && c.Store.Driver != "" {
		st, err := g.storeOf(c)
		if err != nil {
			t.StoreErr = err
		} else {
			t.Store = st
			closers = append(closers, st.Close)
		}
	}
	return t, func() {
		for _, cl := range closers {
			_ = cl()
		}
	}, nil
}

func printTrace(w io.Writer, r *actions.TraceResult) {
	fmt.Fprintf(w, "message %s: %s\n", cutName(r.MessageID), cutText(r.Summary, 4*maxNameShown))
	if r.Destination != "" {
		line := "  destination " + cutName(r.Destination)
		if r.Target != "" {
			line += " → " + cutName(r.Target)
		}
		if r.HasKey {
			line += ", key " + cutName(r.Key)
		}
		fmt.Fprintln(w, line+"; looked at most "+strconv.Itoa(r.Depth)+" records or messages deep")
	}
	t := newTable(w, "PLACE", "WHERE", "STATUS", "STATE", "AT", "LOOKED", "DETAIL")
	for _, s := range r.Steps {
		status := s.Status
		detail := s.Detail
		if s.Err != "" {
			detail = s.Err
		}
		looked := "-"
		if s.Status == actions.TraceFound || s.Status == actions.TraceNotFound {
			looked = strconv.Itoa(s.Looked)
		}
		t.row(s.Place, cutName(s.Where), status, cutText(s.State, maxNameShown), timeCell(s.At), looked, cutText(detail, 2*maxNameShown))
	}
	_ = t.flush()
}
