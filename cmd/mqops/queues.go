package main

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/config"
	"github.com/mqops/mqops/backends/rabbitmq"
)

type queuesReport struct {
	Context string           `json:"context"`
	Cluster string           `json:"cluster"`
	TakenAt string           `json:"taken_at"`
	Queues  []backends.Queue `json:"queues"`
}

// contextRabbit resolves the context and builds its RabbitMQ client (no
// I/O).
func (g *globals) contextRabbit() (*config.Context, *rabbitmq.Client, error) {
	_, c, err := g.loadContext()
	if err != nil {
		return nil, nil, err
	}
	rc, err := g.rabbitClient(c)
	return c, rc, err
}

// numCell is a numeric cell, or the raw text the management API sent
// followed by ? when it was out of range.
func numCell(q *backends.Queue, field, formatted string) string {
	if raw, bad := q.Invalid[field]; bad {
		return raw + "?"
	}
	return formatted
}

func sortedFields(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func newQueuesCmd(g *globals) *cobra.Command {
	var (
		output  string
		filter  string
		dlqOnly bool
	)
	cmd := &cobra.Command{
		Use:     "queues",
		Aliases: []string{"queue", "q"},
		Short:   "RabbitMQ queues: depth, consumers, rates, dead-lettering, DLQ badge",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			var re *regexp.Regexp
			if filter != "" {
				var err error
				if re, err = regexp.Compile("(?i)" + filter); err != nil {
					return fmt.Errorf("invalid --filter regex: %v", err)
				}
			}
			c, rc, err := g.contextRabbit()
			if err != nil {
				return err
			}
			defer rc.Close()
			// each call is bounded by --timeout (the client's); a big
			// broker is read whole, however many pages that takes
			endProgress := listingProgress(g, rc)
			qs, err := rc.Queues(cmd.Context())
			endProgress()
			if err != nil {
				return err
			}
			rep := queuesReport{Context: c.Name, Cluster: rc.Name(), TakenAt: time.Now().UTC().Format(time.RFC3339), Queues: []backends.Queue{}}
			for _, q := range qs {
				if (dlqOnly && !q.IsDLQ) || (re != nil && !re.MatchString(q.Vhost+"/"+q.Name)) {
					continue
				}
				rep.Queues = append(rep.Queues, q)
			}
			if output == "json" {
				return writeJSON(g.stdout, rep)
			}
			t := newTable(g.stdout, "VHOST", "QUEUE", "TYPE", "READY", "UNACKED", "CONSUMERS", "PUB/S", "DELIVER/S", "DEAD-LETTER-EXCHANGE", "DLQ")
			var flagged []string
			for _, q := range rep.Queues {
				dlx := "-"
				if q.HasDeadLetterExchange {
					dlx = q.DeadLetterExchange
					if dlx == "" {
						dlx = "(default)"
					}
				}
				dlq := ""
				if q.IsDLQ {
					dlq = "DLQ"
				}
				t.row(q.Vhost, q.Name, q.Type, numCell(&q, "ready", fmt.Sprint(q.Ready)), numCell(&q, "unacked", fmt.Sprint(q.Unacked)),
					numCell(&q, "consumers", fmt.Sprint(q.Consumers)), numCell(&q, "publish_rate", fmt.Sprintf("%.1f", q.PublishRate)),
					numCell(&q, "deliver_rate", fmt.Sprintf("%.1f", q.DeliverRate)), dlx, dlq)
				for _, f := range sortedFields(q.Invalid) {
					flagged = append(flagged, fmt.Sprintf("%s %s %s", vhostQueue(q.Vhost, q.Name), f, q.Invalid[f]))
				}
			}
			if err := t.flush(); err != nil {
				return err
			}
			if len(flagged) > 0 {
				g.warn("the management API sent numbers out of range, shown with ? and left out of every count and sort: " + strings.Join(flagged, "; "))
			}
			return nil
		},
	}
	outputFlag(cmd, &output)
	cmd.Flags().StringVar(&filter, "filter", "", "only queues whose vhost/name matches this regex")
	cmd.Flags().BoolVar(&dlqOnly, "dlq", false, "only dead-letter queues")
	return cmd
}
