package main

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/rabbitmq"
)

type peekReport struct {
	Context  string             `json:"context"`
	TakenAt  string             `json:"taken_at"`
	Source   string             `json:"source"`
	Vhost    string             `json:"vhost"`
	Queue    string             `json:"queue"`
	Offset   int                `json:"offset"`
	Depth    int64              `json:"depth"`
	Read     int                `json:"read"`
	Risk     *backends.PeekRisk `json:"risk,omitempty"`
	Warning  string             `json:"warning,omitempty"`
	Messages []backends.Message `json:"messages"`
}

func newPeekCmd(g *globals) *cobra.Command {
	var (
		output string
		vhost  string
		offset int
		limit  int
		accept bool
	)
	cmd := &cobra.Command{
		Use:   "peek rabbitmq:<queue>",
		Short: "The messages of a RabbitMQ queue, read and requeued: the queue is left as it was",
		Long: `Shows messages --offset.. of a RabbitMQ queue (--limit of them): properties,
headers, death history and the start of the body (-o json: everything, the
body in base64). Every message read is requeued in the order it came, and
as much of the queue is read as keeping its order takes, so the queue is
left as it was: nothing consumed, dead-lettered again or reordered.

A quorum queue with a delivery limit, on a RabbitMQ before 4.3, counts
every requeue as a delivery attempt: a peek would cost each message it reads
one attempt (and drop or dead-letter one that has none left). Such a queue
is not peeked unless --accept-delivery-attempts is given; the refusal says
why in numbers. After such a peek, each message shows its requeues and the
attempts it has left.`,
		Example: `  mqops peek rabbitmq:orders.dlq
  mqops peek rabbitmq:orders.dlq --offset 20 --limit 20 -o json
  mqops peek rabbitmq:payments.dlq --vhost billing --accept-delivery-attempts`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			queue, ok := strings.CutPrefix(args[0], "rabbitmq:")
			if !ok || queue == "" {
				return fmt.Errorf("invalid source %q: want rabbitmq:<queue>", args[0])
			}
			for _, err := range []error{
				actions.CheckCount("offset", offset, 0, rabbitmq.MaxPeek-1, true),
				actions.CheckCount("limit", limit, 1, rabbitmq.MaxPeek, false),
			} {
				if err != nil {
					return err
				}
			}
			if offset+limit > rabbitmq.MaxPeek {
				return &actions.FieldError{Field: "limit", Msg: fmt.Sprintf("--offset %d + --limit %d is deeper than a peek reads (%d)", offset, limit, rabbitmq.MaxPeek)}
			}
			c, rc, err := g.contextRabbit()
			if err != nil {
				return err
			}
			defer rc.Close()
			src := "rabbitmq:" + vhostQueue(vhost, queue)
			res, err := rc.PeekQueue(cmd.Context(), vhost, queue, backends.PeekOptions{Offset: offset, Limit: limit, AcceptRisk: accept})
			var re *backends.PeekRiskError
			if errors.As(err, &re) {
				return peekRefusal(src, re.Risk, offset, limit)
			}
			if err != nil {
				return err
			}
			rep := peekReport{Context: c.Name, TakenAt: time.Now().UTC().Format(time.RFC3339), Source: src, Vhost: vhost, Queue: queue,
				Offset: offset, Depth: res.Depth, Read: res.Read, Risk: res.Risk, Warning: res.Warning, Messages: res.Messages}
			if output == "json" {
				return writeJSON(g.stdout, rep)
			}
			printPeek(g, &rep)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&vhost, "vhost", "/", "vhost of the queue")
	f.IntVar(&offset, "offset", 0, "first message shown (0 is the head of the queue)")
	f.IntVar(&limit, "limit", 20, "messages shown")
	f.BoolVar(&accept, "accept-delivery-attempts", false, "peek a quorum queue even where each message read loses one of its delivery attempts")
	outputFlag(cmd, &output)
	return cmd
}

// peekRefusal says why a queue was not peeked, with the numbers of what a
// peek would cost and how to accept it.
func peekRefusal(src string, r *backends.PeekRisk, offset, limit int) error {
	reads := min(int64(offset+limit), r.Depth)
	if r.Kind != backends.RiskDeliveryLimit {
		return fmt.Errorf("%s not peeked: %s", src, r.Reason)
	}
	return fmt.Errorf("%s not peeked: %s.\nThis peek would read %d of its %d messages (and any already requeued ahead of them, to keep the order): "+
		"pass --accept-delivery-attempts to read them anyway", src, r.Reason, reads, r.Depth)
}

func printPeek(g *globals, rep *peekReport) {
	span := "none"
	if n := len(rep.Messages); n > 0 {
		span = fmt.Sprintf("#%d–#%d", rep.Offset, rep.Offset+n-1)
	}
	fmt.Fprintf(g.stdout, "%s: messages %s of %d; %d read and requeued in their order\n", backends.SafeText(rep.Source), span, rep.Depth, rep.Read)
	header := []string{"#", "MESSAGE-ID", "EXCHANGE", "ROUTING-KEY", "ORIGIN", "REASON", "DEATHS", "SIZE"}
	risky := rep.Risk != nil && rep.Risk.Kind == backends.RiskDeliveryLimit
	if risky {
		header = append(header, "REQUEUED", "ATTEMPTS-LEFT")
	}
	t := newTable(g.stdout, append(header, "BODY")...)
	for i := range rep.Messages {
		m := &rep.Messages[i]
		origin, reason := m.Origin()
		var deaths int64
		for _, d := range m.Deaths {
			deaths += d.Count
		}
		cells := []string{fmt.Sprint(m.Index), orDash(m.MessageID), orDash(m.Exchange), m.RoutingKey, orDash(origin), orDash(reason),
			fmt.Sprint(deaths), fmt.Sprint(max(m.Size, len(m.Body)))}
		if risky {
			cells = append(cells, attemptCells(rep.Risk, m)...)
		}
		t.row(append(cells, bodyPreview(m))...)
	}
	_ = t.flush()
	if risky {
		fmt.Fprintln(g.stdout, "cost: "+backends.SafeText(rep.Risk.Reason))
	}
	if rep.Warning != "" {
		g.warn(rep.Warning)
	}
}

// attemptCells are the requeues of a message of a queue with a delivery
// limit (this peek's included) and the attempts it has left.
func attemptCells(r *backends.PeekRisk, m *backends.Message) []string {
	left, ok := r.AttemptsLeft(m)
	if !ok {
		return []string{"?", "?"}
	}
	requeued := fmt.Sprint(max(m.DeliveryCount(), 0) + 1)
	if left < 0 {
		return []string{requeued, "none: " + r.OverLimit}
	}
	return []string{requeued, fmt.Sprint(left)}
}

// bodyPreview is the start of a body on one line: text, or its size when
// it is binary.
func bodyPreview(m *backends.Message) string {
	b := m.Body
	if len(b) > 200 {
		b = b[:200]
	}
	for len(b) > 0 && !utf8.Valid(b) && len(m.Body) > 200 {
		b = b[:len(b)-1]
	}
	if !utf8.Valid(b) || strings.ContainsRune(string(b), 0) {
		return fmt.Sprintf("(binary, %d bytes)", max(m.Size, len(m.Body)))
	}
	s := strings.Join(strings.Fields(string(b)), " ")
	return truncate(s, 60)
}
