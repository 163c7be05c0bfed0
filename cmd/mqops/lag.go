package main

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/lag"
)

// lagReport is the JSON contract of `mqops lag -o json`. Scripts depend on
// it: add fields, never rename or remove them. It is written a group at a
// time (writeLagJSON, in lag_output.go), in the order and form writeJSON
// gives these types: a field added here is added there.
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
			if samples == 1 {
				tuneGCForOneSnapshot()
			} else {
				backends.TuneGCForSnapshots()
			}
			defer startCPUProfileOf(g, lagCPUProfileEnv)()
			res, err := g.lagReport(cmd.Context(), backends.SnapshotOptions{Groups: groups, Topics: topics}, samples, interval)
			if err != nil {
				return err
			}
			if output == "json" {
				err = writeLagJSON(g.stdout, res.context, res.cluster, res.snap, res.analysis)
			} else {
				err = printLag(g.stdout, res.snap, res.analysis)
			}
			if err != nil {
				return err
			}
			noteUnknown(g, res.snap)
			return partialResult("groups or partitions", lagMissing(res.snap))
		},
	}
	outputFlag(cmd, &output)
	cmd.Flags().StringArrayVarP(&groups, "group", "g", nil, "only this consumer group (repeatable)")
	cmd.Flags().StringArrayVarP(&topics, "topic", "t", nil, "only partitions of this topic (repeatable)")
	cmd.Flags().IntVar(&samples, "samples", 1, "number of snapshots to take")
	cmd.Flags().DurationVar(&interval, "interval", 5*time.Second, "time between samples")
	return cmd
}

// tuneGCForOneSnapshot sets the collector's pace for a report of one
// sample, unless GOGC is set: GOGC 400, TuneGC's, where the default is
// kept for the console and for several samples (they hold a snapshot
// while they read the next), counted from a floor of heap (gcFloor). A
// one-sample report holds one snapshot and writes it: at 5,000 groups x
// 32 partitions, against GOGC 200 (medians of 30 runs, -o json), 0.26 ->
// 0.23 CPU seconds and 0.220 -> 0.200 s, for a peak of 99 -> 105 MiB
// (115 MiB for the table), under the 150 MiB the report is held to.
func tuneGCForOneSnapshot() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
		gcFloor = make([]byte, gcFloorBytes)
	}
}

// gcFloor is a block of heap never read or written, so never given memory
// by the system: it only counts in the collector's pace, which is a
// multiple of the heap found alive. A process starts with a few MiB alive,
// and at GOGC 400 collected twice while it reads a big cluster's groups
// (at 16 and 57 MiB at 5,000 groups x 32 partitions, 12 CPU ms marking,
// writes slowed while it marks); with the floor the first collection
// comes at 180 MiB, after the report of that size is written, and a
// bigger cluster's collections come as they would without it (the floor
// is a fifth of the pace then). Medians of 30 interleaved runs at 5,000
// x 32, -o json: 0.289 -> 0.247 CPU s (as with no collection at all),
// peak 111 -> 114 MiB.
var gcFloor []byte

const gcFloorBytes = 32 << 20

// lagCPUProfileEnv names a file to write a CPU profile of `mqops lag` to
// (for measuring it: docs/BENCHMARKS.md); unset, nothing is profiled.
const lagCPUProfileEnv = "MQOPS_LAG_CPUPROFILE"

// lagResult is what the lag report is written from: the last snapshot
// and its analysis (nil for one sample: the writers analyse each group
// alone, lag.AnalyzeGroup).
type lagResult struct {
	context, cluster string
	snap             *backends.ClusterSnapshot
	analysis         *lag.Analysis
}

// lagReport takes the samples: --timeout bounds each request of a
// snapshot, not the snapshot (see snapshot).
func (g *globals) lagReport(ctx context.Context, opts backends.SnapshotOptions, samples int, interval time.Duration) (*lagResult, error) {
	_, c, err := g.loadContext()
	if err != nil {
		return nil, err
	}
	kc, err := g.kafkaClient(c)
	if err != nil {
		return nil, err
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
				return nil, ctx.Err()
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
			return nil, err
		}
		if samples > 1 {
			an = tr.Observe(snap)
		} // one sample: the report analyses each group as it writes it

	}
	return &lagResult{context: c.Name, cluster: kc.Name(), snap: snap, analysis: an}, nil
}

// lagMissing names what the lag report lacks: the groups that could not be
// read whole, and the partitions of the groups' topics whose offsets could
// not be read (their lag is unknown).
func lagMissing(snap *backends.ClusterSnapshot) []string {
	topics := map[string]bool{}
	for _, gr := range snap.Groups {
		last := ""
		for _, p := range gr.Partitions {
			if p.Topic != last || last == "" { // a group's rows come by topic
				topics[p.Topic], last = true, p.Topic
			}
		}
	}
	return append(missingGroups(snap), missingPartitions(snap, topics)...)
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
