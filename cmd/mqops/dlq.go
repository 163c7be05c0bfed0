package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/rabbitmq"
)

type dlqReport struct {
	Context     string                       `json:"context"`
	TakenAt     string                       `json:"taken_at"`
	DeadLetters []backends.DeadLetterSummary `json:"dead_letters"`
	Errors      []string                     `json:"errors,omitempty"`
}

func newDLQCmd(g *globals) *cobra.Command {
	var (
		output string
		sample int
	)
	cmd := &cobra.Command{
		Use:     "dlq",
		Aliases: []string{"dead-letters"},
		Short:   "Dead letters: every RabbitMQ DLQ and Kafka dead-letter topic, grouped by origin and reason",
		Long: `Lists every RabbitMQ dead-letter queue and Kafka dead-letter topic of the
context with its depth, and groups its dead letters by origin and reason
(RabbitMQ: first-death queue, reason and exception header; Kafka: original
topic and exception class from the DLT headers), sampled from the first
--sample messages. Sampling peeks: nothing is consumed or dead-lettered again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if err := actions.CheckCount("sample", sample, 1, rabbitmq.MaxPeek, false); err != nil {
				return err
			}
			_, c, err := g.loadContext()
			if err != nil {
				return err
			}
			rep := dlqReport{Context: c.Name, TakenAt: time.Now().UTC().Format(time.RFC3339), DeadLetters: []backends.DeadLetterSummary{}}
			ctx, cancel := context.WithTimeout(cmd.Context(), 4*g.timeout)
			defer cancel()
			sources := 0
			if c.RabbitMQ != nil && (c.RabbitMQ.URL != "" || c.RabbitMQ.ManagementURL != "") {
				sources++
				rc, err := g.rabbitClient(c)
				if err != nil {
					return err
				}
				defer rc.Close()
				qs, err := rc.Queues(ctx)
				if err != nil {
					return err
				}
				for _, q := range qs {
					if !q.IsDLQ {
						continue
					}
					sum, err := rc.DeadLetters(ctx, q.Vhost, q.Name, sample)
					if err != nil {
						rep.Errors = append(rep.Errors, fmt.Sprintf("%s/%s: %v", q.Vhost, q.Name, err))
						continue
					}
					rep.DeadLetters = append(rep.DeadLetters, *sum)
				}
			}
			if c.Kafka != nil && len(c.Kafka.Brokers) > 0 {
				sources++
				kc, err := g.kafkaClient(c)
				if err != nil {
					return err
				}
				defer kc.Close()
				// --timeout bounds each request to Kafka, not the listing:
				// many dead-letter topics are read whole.
				done := readProgress(g, "reading the dead-letter topics of "+backends.SafeText(kc.Name()))
				sums, err := kc.DeadLetterTopics(cmd.Context(), sample)
				done()
				switch {
				case err != nil && sources > 1 && cmd.Context().Err() == nil:
					// RabbitMQ's part stands: Kafka's is missing
					rep.Errors = append(rep.Errors, fmt.Sprintf("kafka %s: %v", kc.Name(), err))
				case err != nil:
					return err
				}
				for _, s := range sums {
					if s.Warning != "" { // listed, but its records could not be read
						rep.Errors = append(rep.Errors, fmt.Sprintf("kafka topic %s: %s", s.Topic, s.Warning))
					}
				}
				rep.DeadLetters = append(rep.DeadLetters, sums...)
			}
			if sources == 0 {
				return fmt.Errorf("context %q has neither Kafka nor RabbitMQ configured", c.Name)
			}
			if output == "json" {
				if err := writeJSON(g.stdout, rep); err != nil {
					return err
				}
				return partialResult("dead-letter queues or topics", rep.Errors)
			}
			t := newTable(g.stdout, "BACKEND", "DEAD-LETTERS", "MESSAGES", "ORIGIN", "REASON", "EXCEPTION", "COUNT", "FIRST", "LAST")
			for _, d := range rep.DeadLetters {
				name := d.Topic
				if d.Backend == "rabbitmq" {
					name = vhostQueue(d.Vhost, d.Queue)
				}
				depth := fmt.Sprint(d.Messages)
				var notes []string
				if d.Sampled < int(d.Messages) {
					notes = append(notes, fmt.Sprintf("sampled %d", d.Sampled))
				}
				if d.LeftToDrain != nil && *d.LeftToDrain != d.Messages {
					notes = append(notes, fmt.Sprintf("%d left to drain", *d.LeftToDrain))
				}
				if len(notes) > 0 {
					depth += " (" + strings.Join(notes, ", ") + ")"
				}
				if len(d.Groups) == 0 {
					t.row(d.Backend, name, depth, "-", "-", "-", "0", "-", "-")
				}
				for i, gr := range d.Groups {
					if i > 0 {
						name, depth = "", ""
					}
					t.row(d.Backend, name, depth, orDash(gr.Origin), orDash(gr.Reason), orDash(truncate(gr.Exception, 60)), fmt.Sprint(gr.Count), when(gr.First), when(gr.Last))
				}
			}
			if err := t.flush(); err != nil {
				return err
			}
			for _, d := range rep.DeadLetters {
				if d.Warning != "" && d.Backend == "rabbitmq" {
					g.warn(vhostQueue(d.Vhost, d.Queue) + ": " + d.Warning)
				}
			}
			// each missing queue or topic on a line of its own; exit status 3
			return partialResult("dead-letter queues or topics", rep.Errors)
		},
	}
	outputFlag(cmd, &output)
	cmd.Flags().IntVar(&sample, "sample", 1000, "group at most the first N messages of each dead-letter queue or topic")
	return cmd
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// vhostQueue names a queue as operators write it: the default vhost is not
// spelled out.
func vhostQueue(vhost, queue string) string {
	if vhost == "" || vhost == "/" {
		return queue
	}
	return vhost + "/" + queue
}
