package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/config"
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
--sample messages. Sampling peeks and leaves each queue as it was: nothing is
consumed, dead-lettered again or reordered. A queue that a peek would change
(a quorum queue with a delivery limit, on a RabbitMQ before 4.3, where every
requeue costs a delivery attempt) is not sampled: its depth is listed, with
why and the numbers (mqops peek reads it on request). Every call to a broker
is bounded by --timeout; dead-letter queues that cannot be read are named
on stderr and the command exits with status 3.`,
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
			sources := 0
			if c.RabbitMQ != nil && (c.RabbitMQ.URL != "" || c.RabbitMQ.ManagementURL != "") {
				sources++
				sums, miss, err := rabbitDeadLetters(cmd.Context(), g, c, sample)
				if err != nil {
					return err
				}
				rep.DeadLetters = append(rep.DeadLetters, sums...)
				rep.Errors = append(rep.Errors, miss...)
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
				if d.NotSampled != nil {
					notes = append(notes, "not sampled")
				} else if d.Sampled < int(d.Messages) {
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
				if d.NotSampled != nil {
					how := ""
					if d.NotSampled.Kind == backends.RiskDeliveryLimit {
						how = fmt.Sprintf(" (mqops peek rabbitmq:%s%s --accept-delivery-attempts reads messages anyway)", d.Queue, vhostFlag(d.Vhost))
					}
					fmt.Fprintln(g.stdout, backends.SafeText("not sampled: "+vhostQueue(d.Vhost, d.Queue)+": "+d.NotSampled.Reason+how))
				}
			}
			for _, d := range rep.DeadLetters {
				if d.Warning != "" && d.Backend == "rabbitmq" { // Kafka's are missing parts (rep.Errors)
					g.warn(vhostQueue(d.Vhost, d.Queue) + ": " + d.Warning)
				}
			}
			return partialResult("dead-letter queues or topics", rep.Errors)
		},
	}
	outputFlag(cmd, &output)
	cmd.Flags().IntVar(&sample, "sample", 1000, "group at most the first N messages of each dead-letter queue or topic")
	return cmd
}

// rabbitDeadLetters samples every RabbitMQ dead-letter queue of the
// context (never one that a peek would change: its depth and why come
// instead). Every call is bounded by --timeout; a queue that cannot be
// read is named in missing, with why, and once RabbitMQ stops answering
// the rest are not asked. The DLQs are read a few at a time over one AMQP
// connection per vhost.
func rabbitDeadLetters(ctx context.Context, g *globals, c *config.Context, sample int) (sums []backends.DeadLetterSummary, missing []string, err error) {
	rc, err := g.rabbitClient(c)
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	endProgress := listingProgress(g, rc)
	dlqs, err := rc.DeadLetterQueues(ctx)
	endProgress()
	if err != nil {
		return nil, nil, err
	}
	for i, r := range rc.DeadLettersOf(ctx, dlqs, sample) {
		if r.Err != nil {
			missing = append(missing, vhostQueue(dlqs[i].Vhost, dlqs[i].Name)+": "+r.Err.Error())
			continue
		}
		sums = append(sums, *r.Summary)
	}
	// deepest first, as the queues are listed
	sort.SliceStable(sums, func(i, j int) bool { return sums[i].Messages > sums[j].Messages })
	return sums, missing, nil
}

// vhostFlag is the --vhost flag naming vhost, "" for the default one.
func vhostFlag(vhost string) string {
	if vhost == "" || vhost == "/" {
		return ""
	}
	return " --vhost " + vhost
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
