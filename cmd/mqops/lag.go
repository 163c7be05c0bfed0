package main

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/lag"
)

// lagReport is the JSON contract of `mqops lag -o json`. Scripts depend on
// it: add fields, never rename or remove them.
type lagReport struct {
	Context string     `json:"context"`
	Cluster string     `json:"cluster"`
	TakenAt string     `json:"taken_at"`
	Samples int        `json:"samples"`
	Groups  []lagGroup `json:"groups"`
}

type lagGroup struct {
	Group              string         `json:"group"`
	State              string         `json:"state"`
	Protocol           string         `json:"protocol"`
	Type               string         `json:"type"`
	GroupEpoch         int32          `json:"group_epoch,omitempty"`
	AssignmentEpoch    int32          `json:"assignment_epoch,omitempty"`
	Members            int            `json:"members"`
	Topics             []string       `json:"topics"`
	Lag                int64          `json:"lag"`
	Status             string         `json:"status"`
	ProduceRate        float64        `json:"produce_rate"`
	ConsumeRate        float64        `json:"consume_rate"`
	TimeLagSeconds     *float64       `json:"time_lag_seconds"`
	TimeLagSource      *string        `json:"time_lag_source"`
	TimeLagNote        string         `json:"time_lag_note,omitempty"`
	TimeToDrainSeconds *float64       `json:"time_to_drain_seconds"`
	Error              string         `json:"error,omitempty"`
	Unknown            string         `json:"unknown,omitempty"`
	Partitions         []lagPartition `json:"partitions"`
}

type lagPartition struct {
	Topic          string   `json:"topic"`
	Partition      int32    `json:"partition"`
	Committed      *int64   `json:"committed"`
	LogStart       *int64   `json:"log_start"`
	LogEnd         *int64   `json:"log_end"`
	Lag            *int64   `json:"lag"`
	BehindLogStart bool     `json:"behind_log_start"`
	Member         string   `json:"member"`
	ClientID       string   `json:"client_id"`
	Host           string   `json:"host"`
	Status         string   `json:"status"`
	TimeLagSeconds *float64 `json:"time_lag_seconds"`
	TimeLagSource  *string  `json:"time_lag_source"`
	TimeLagNote    string   `json:"time_lag_note,omitempty"`
}

func newLagCmd(g *globals) *cobra.Command {
	var (
		output   string
		groups   []string
		topics   []string
		samples  int
		interval time.Duration
	)
	cmd := &cobra.Command{
		Use:   "lag",
		Short: "Consumer lag per group and partition",
		Long: `Consumer lag per group and partition: committed offset, log start and end,
lag in messages, and a status (OK, WARN, STALL, STOP, REWIND).

Time lag is exact from the first sample: now minus the timestamp of the
record at the committed offset. Where that record cannot be read it is
estimated (~, interpolated from the log ends of several samples) or a lower
bound (≥, records deleted by retention), and time_lag_note says why.
With one sample (the default) rates are unknown and the status only tells
OK from STOP (a group with no members and lag). Take several samples
(--samples 3 --interval 5s) for rates and the full status.`,
		Example: `  mqops lag --group billing -o json
  mqops lag --topic orders --samples 3 --interval 5s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if samples < 1 || samples > maxSamples {
				return &actions.FieldError{Field: "samples", Msg: fmt.Sprintf("%d is out of range: want 1 to %d", samples, maxSamples)}
			}
			if samples > 1 || cmd.Flags().Changed("interval") {
				if err := checkDuration("interval", interval, minInterval, maxInterval); err != nil {
					return err
				}
			}
			rep, snap, err := g.lagReport(cmd.Context(), backends.SnapshotOptions{Groups: groups, Topics: topics}, samples, interval)
			if err != nil {
				return err
			}
			if output == "json" {
				err = writeJSON(g.stdout, rep)
			} else {
				err = printLag(g, rep)
			}
			if err != nil {
				return err
			}
			noteUnknown(g, snap)
			return partialResult("groups or partitions", lagMissing(snap))
		},
	}
	outputFlag(cmd, &output)
	cmd.Flags().StringArrayVarP(&groups, "group", "g", nil, "only this consumer group (repeatable)")
	cmd.Flags().StringArrayVarP(&topics, "topic", "t", nil, "only partitions of this topic (repeatable)")
	cmd.Flags().IntVar(&samples, "samples", 1, "number of snapshots to take")
	cmd.Flags().DurationVar(&interval, "interval", 5*time.Second, "time between samples")
	return cmd
}

// lagReport takes the samples: --timeout bounds each request of a
// snapshot, not the snapshot (see snapshot). It returns the report and the
// last snapshot.
func (g *globals) lagReport(ctx context.Context, opts backends.SnapshotOptions, samples int, interval time.Duration) (*lagReport, *backends.ClusterSnapshot, error) {
	_, c, err := g.loadContext()
	if err != nil {
		return nil, nil, err
	}
	kc, err := g.kafkaClient(c)
	if err != nil {
		return nil, nil, err
	}
	defer kc.Close()
	tr := lag.NewTracker(lag.Options{})
	var (
		snap *backends.ClusterSnapshot
		an   *lag.Analysis
	)
	for i := 0; i < samples; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			case <-time.After(interval):
			}
		}
		what := "reading " + backends.SafeText(kc.Name())
		if samples > 1 {
			what = fmt.Sprintf("sample %d of %d: %s", i+1, samples, what)
		}
		done := readProgress(g, what)
		snap, err = kc.Snapshot(ctx, opts)
		done()
		if err != nil {
			return nil, nil, err
		}
		an = tr.Observe(snap)
	}
	return buildLagReport(c.Name, kc.Name(), snap, an), snap, nil
}

// lagMissing names what the lag report lacks: the groups that could not be
// read whole, and the partitions of the groups' topics whose offsets could
// not be read (their lag is unknown).
func lagMissing(snap *backends.ClusterSnapshot) []string {
	topics := map[string]bool{}
	for _, gr := range snap.Groups {
		for _, p := range gr.Partitions {
			topics[p.Topic] = true
		}
	}
	return append(missingGroups(snap), missingPartitions(snap, topics)...)
}

func buildLagReport(ctxName, cluster string, snap *backends.ClusterSnapshot, an *lag.Analysis) *lagReport {
	rep := &lagReport{Context: ctxName, Cluster: cluster, TakenAt: snap.TakenAt.UTC().Format(time.RFC3339), Samples: an.Samples, Groups: []lagGroup{}}
	for _, gr := range snap.Groups {
		gs := an.Groups[gr.Name]
		lg := lagGroup{
			Group: gr.Name, State: gr.State, Protocol: gr.ProtocolType, Members: len(gr.Members),
			Type: gr.Type, GroupEpoch: gr.GroupEpoch, AssignmentEpoch: gr.AssignmentEpoch,
			Topics: gr.Topics(), Lag: gr.TotalLag(), Status: string(lag.Unknown), Error: gr.Err, Unknown: gr.Unknown,
			Partitions: []lagPartition{},
		}
		if lg.Topics == nil {
			lg.Topics = []string{}
		}
		if gs != nil {
			lg.Status = string(gs.Status)
			lg.ProduceRate, lg.ConsumeRate = round2(gs.ProduceRate), round2(gs.ConsumeRate)
			lg.TimeLagSeconds, lg.TimeToDrainSeconds = secs(gs.TimeLag), secs(gs.TimeToDrain)
			lg.TimeLagSource, lg.TimeLagNote = source(gs.TimeLagSource), gs.TimeLagNote
		}
		for _, p := range gr.Partitions {
			lp := lagPartition{
				Topic: p.Topic, Partition: p.Partition, Committed: p.Committed,
				LogStart: known(p.LogStart), LogEnd: known(p.LogEnd), Lag: p.Lag, BehindLogStart: p.BehindLogStart,
				Member: p.MemberID, ClientID: p.ClientID, Host: p.Host, Status: string(lag.Unknown),
			}
			if gs != nil {
				if ps := gs.Partition(p.Topic, p.Partition); ps != nil {
					lp.Status = string(ps.Status)
					lp.TimeLagSeconds = secs(ps.TimeLag)
					lp.TimeLagSource, lp.TimeLagNote = source(ps.TimeLagSource), ps.TimeLagNote
				}
			}
			lg.Partitions = append(lg.Partitions, lp)
		}
		rep.Groups = append(rep.Groups, lg)
	}
	sort.SliceStable(rep.Groups, func(i, j int) bool {
		if rep.Groups[i].Lag != rep.Groups[j].Lag {
			return rep.Groups[i].Lag > rep.Groups[j].Lag
		}
		return rep.Groups[i].Group < rep.Groups[j].Group
	})
	return rep
}

func printLag(g *globals, rep *lagReport) error {
	t := newTable(g.stdout, "GROUP", "TOPIC", "PARTITION", "COMMITTED", "LOG-START", "LOG-END", "LAG", "STATUS", "TIME-LAG", "CLIENT", "HOST")
	for _, gr := range rep.Groups {
		if len(gr.Partitions) == 0 {
			t.row(gr.Group, "-", "-", "-", "-", "-", "-", gr.Status, "-", "-", "-")
		}
		for _, p := range gr.Partitions {
			lagCell := i64(p.Lag)
			if p.BehindLogStart {
				lagCell += " (behind log start)"
			}
			t.row(gr.Group, p.Topic, fmt.Sprint(p.Partition), i64(p.Committed), i64(p.LogStart), i64(p.LogEnd), lagCell, p.Status, timeLagCell(p.TimeLagSeconds, p.TimeLagSource), orDash(p.ClientID), orDash(p.Host))
		}
	}
	return t.flush() // groups in error are named by the command's partial result
}

func known(v int64) *int64 {
	if v < 0 {
		return nil
	}
	return &v
}

func secs(d *time.Duration) *float64 {
	if d == nil {
		return nil
	}
	s := round2(d.Seconds())
	return &s
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

func dur(s *float64) string {
	if s == nil {
		return "-"
	}
	return (time.Duration(*s * float64(time.Second))).Round(time.Second).String()
}

// source is a time lag's source for JSON: null when there is no time lag.
func source(s backends.TimeLagSource) *string {
	if s == "" {
		return nil
	}
	x := string(s)
	return &x
}

// timeLagCell is a time lag for the table: "25s" exact, "~25s" an
// estimate, "≥ 25s" a lower bound, "-" unknown.
func timeLagCell(s *float64, src *string) string {
	d := dur(s)
	if s == nil || src == nil {
		return d
	}
	switch backends.TimeLagSource(*src) {
	case backends.TimeLagInterpolated:
		return "~" + d
	case backends.TimeLagLowerBound:
		return "≥ " + d
	}
	return d
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
