package main

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/spf13/cobra"

	"github.com/mqops/mqops/backends"
)

type queuesReport struct {
	Context string           `json:"context"`
	Cluster string           `json:"cluster"`
	TakenAt string           `json:"taken_at"`
	Queues  []backends.Queue `json:"queues"`
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
			_, c, err := g.loadContext()
			if err != nil {
				return err
			}
			rc, err := g.rabbitClient(c)
			if err != nil {
				return err
			}
			defer rc.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			qs, err := rc.Queues(ctx)
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
				t.row(q.Vhost, q.Name, q.Type, fmt.Sprint(q.Ready), fmt.Sprint(q.Unacked), fmt.Sprint(q.Consumers),
					fmt.Sprintf("%.1f", q.PublishRate), fmt.Sprintf("%.1f", q.DeliverRate), dlx, dlq)
			}
			return t.flush()
		},
	}
	outputFlag(cmd, &output)
	cmd.Flags().StringVar(&filter, "filter", "", "only queues whose vhost/name matches this regex")
	cmd.Flags().BoolVar(&dlqOnly, "dlq", false, "only dead-letter queues")
	return cmd
}
