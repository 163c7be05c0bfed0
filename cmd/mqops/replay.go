package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
)

// replayRangeFlags say what a run replays: a resumed run goes on as it
// started, so none of them goes with --resume.
var replayRangeFlags = []string{"to", "from-offset", "to-offset", "from-time", "to-time", "key", "header", "partitioning", "window", "skip-oversized", "plan-limit",
	"skip-consumed", "message-id-header"}

func newReplayCmd(g *globals) *cobra.Command {
	var (
		o              actions.ReplayOptions
		fromOff, toOff int64
		key, resume    string
		dryRun, yes    bool
		output, audit  string
	)
	cmd := &cobra.Command{
		Use:   "replay <topic>[:<partition>,...] --to <topic> | replay --resume <run-id>",
		Short: "Replay a range of a Kafka topic into another topic, safely (preview, confirm, rate limit, checkpoint, resume, audit)",
		Long: `Replays the records of a range of a Kafka topic (every partition, or those
listed: orders:0,2,5) into another topic.

  --from-offset N | --from-time T   where the range starts (inclusive; default the log start)
  --to-offset N   | --to-time T     where it ends (exclusive; default the log end when planned)
  --key K, --header k=v             only records with this key, and with each such header

A time is ISO 8601 as kafka-consumer-groups --to-datetime takes it
(2024-05-01T10:32:00Z, 2024-05-01T10:32:00.000+02:00; local time without a
zone) and selects as Kafka's offsets-for-times does: from the first record
whose timestamp is at or after it. An offset is the same on every partition:
a start past a partition's log end is an error, a start below its log start
and an end past its log end are clamped (the plan says so).

Each record keeps its key, value, headers (in order) and timestamp, and gets
two headers more: mqops-replay-run (the run id) and mqops-replay-source
(topic/partition/offset). It goes to the same partition number when the
target has as many partitions as the source, else by key with Kafka's
default partitioner (murmur2, where the Java client puts it);
--partitioning same|key says which. The source is read read_committed; the
target is produced with acks=all by an idempotent producer.

When the context has an application database (store:, or --store) with an
idempotency table, the plan reads the range and counts the records whose
message id (the header --message-id-header, by default the store's:
mqops-message-id) was consumed already; --skip-consumed passes them over.

The plan (--dry-run shows it and changes nothing) counts, per partition, the
records and bytes the run replays, reading the range: with filters there is
no other way to count. It reads at most --plan-limit records (1,000,000) and
says so when it stopped there. Records larger than the target accepts
(max.message.bytes, as they will be produced) are listed; the run stops each
partition before its first, or skips them with --skip-oversized. Without
filters, when the target's max.message.bytes is at least the source's plus
the two headers, no record can be too large, and the plan reads nothing: it
counts the range's offsets (at most the records) and estimates the bytes
from the partitions' sizes on disk. With --yes it does not read either
(no one reads that plan before the run, which stops before such records
all the same): --dry-run reads the range to list them.

A run keeps its checkpoint in $XDG_STATE_HOME/mqops/runs/<run-id>.json: per
partition, how far the target confirmed every record, written atomically as
the run goes. Ctrl-C stops it cleanly; after that or a crash, mqops replay
--resume <run-id> goes on from the checkpoint with no gap, replaying at most
--window records twice per interruption.

--dry-run also prints the equivalent command line. Every outcome — refused,
dry run (--dry-run, or a plan not confirmed at the prompt), executed,
failed, cancelled — is written to the audit log (mqops audit) with that
command, the plan's counts and the run's.`,
		Example: `  mqops replay orders --to orders-replay --from-time 2024-05-01T10:32:00Z --dry-run
  mqops replay orders:0,2 --to orders-replay --from-offset 1200 --to-offset 5000 --rate 500 --yes
  mqops replay orders --to orders-fix --header tenant=acme --partitioning key --yes
  mqops replay --resume 20240501T103500-a1b2c3d4e5f6 --yes`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if err := explicitZero(cmd, "rate", "window", "plan-limit"); err != nil {
				return err
			}
			if cmd.Flags().Changed("resume") {
				if err := resumeArgs(cmd, args, resume); err != nil {
					return err
				}
				o.Resume = resume
				return runReplayCmd(g, cmd.Context(), o, dryRun, yes, output, audit)
			}
			if len(args) != 1 {
				return errors.New("no source: want a topic (or topic:0,2,5) and --to <topic>, or --resume <run-id>")
			}
			o.Source = args[0]
			if cmd.Flags().Changed("from-offset") {
				o.FromOffset = &fromOff
			}
			if cmd.Flags().Changed("to-offset") {
				o.ToOffset = &toOff
			}
			if cmd.Flags().Changed("key") {
				o.Key = &key
			}
			return runReplayCmd(g, cmd.Context(), o, dryRun, yes, output, audit)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.To, "to", "", "the target topic (it must exist: mqops never creates one)")
	f.Int64Var(&fromOff, "from-offset", 0, "start at this offset on each partition (inclusive)")
	f.Int64Var(&toOff, "to-offset", 0, "end before this offset on each partition (exclusive)")
	f.StringVar(&o.FromTime, "from-time", "", "start at the first record at or after this time (ISO 8601)")
	f.StringVar(&o.ToTime, "to-time", "", "end before the first record at or after this time (ISO 8601)")
	f.StringVar(&key, "key", "", "only records with this key")
	f.StringArrayVar(&o.Headers, "header", nil, "only records with this header, key=value (repeatable: all of them)")
	f.StringVar(&o.Partitioning, "partitioning", "", "same (each record to its partition number) or key (Kafka's default partitioner); default same when the target has as many partitions, else key")
	f.Float64Var(&o.Rate, "rate", 0, "at most N records per second (default: unlimited)")
	f.IntVar(&o.Window, "window", 0, "records produced but not yet checkpointed: the most an interruption replays twice (default: about 16 MiB of records of the average size the plan counted, 1,000 to 10,000)")
	f.BoolVar(&o.SkipOversized, "skip-oversized", false, "skip the records the target cannot take (larger than its max.message.bytes), naming each; without it a partition stops before its first")
	f.IntVar(&o.PlanLimit, "plan-limit", 0, "records the plan reads at most to count them (default 1,000,000)")
	f.BoolVar(&o.SkipConsumed, "skip-consumed", false, "pass over the records whose message id the application's idempotency table says was consumed (needs a store)")
	f.StringVar(&o.MessageIDHeader, "message-id-header", "", "the header holding a record's message id, looked up in the idempotency table (default: the store's, mqops-message-id)")
	f.StringVar(&resume, "resume", "", "go on with the run of this id from its checkpoint")
	f.BoolVar(&dryRun, "dry-run", false, "show the plan and change nothing")
	f.BoolVar(&yes, "yes", false, "do not ask for confirmation")
	f.StringVar(&audit, "audit-file", "", "audit log (default $XDG_STATE_HOME/mqops/audit.jsonl)")
	outputFlag(cmd, &output)
	return cmd
}

// resumeArgs refuses what cannot go with --resume: a source, the flags of
// what a run replays (its checkpoint says), an empty run id.
func resumeArgs(cmd *cobra.Command, args []string, runID string) error {
	if len(args) > 0 {
		return fmt.Errorf("--resume goes on with a run as it started: give no source (%q)", backends.SafeText(args[0]))
	}
	for _, name := range replayRangeFlags {
		if cmd.Flags().Changed(name) {
			return fmt.Errorf("--%s cannot go with --resume: a run goes on as it started (its checkpoint says how); only --rate may change", name)
		}
	}
	if runID == "" {
		return &actions.FieldError{Field: "resume", Msg: "needs a run id"}
	}
	return nil
}

// runReplayCmd takes a replay, or a resume, through the action runner:
// validate, plan, the plan shown (--dry-run stops there), confirmed, run,
// the result printed; each outcome audited once.
func runReplayCmd(g *globals, ctx context.Context, o actions.ReplayOptions, dryRun, yes bool, output, audit string) error {
	defer startCPUProfile(g)()
	_, c, err := g.loadContext()
	if err != nil {
		return err
	}
	o.Context, o.ReadOnly = c.Name, c.ReadOnly
	o.Unattended = yes && !dryRun // no one reads the plan before the run
	if c.Kafka != nil {
		o.Brokers = c.Kafka.Brokers
	}
	run := g.runner(c, audit)
	a := &actions.Replay{Options: o}
	if err := startAction(run, a); err != nil {
		return err
	}
	kc, err := g.kafkaClient(c)
	if err != nil {
		return err
	}
	defer kc.Close()
	a.Broker = kc
	if c.Store != nil && o.Resume == "" {
		st, err := g.storeOf(c)
		switch {
		case err == nil:
			defer st.Close()
			a.Consumed = st
		case o.SkipConsumed:
			return err
		default:
			g.warn("the message ids already consumed are not counted: " + err.Error())
		}
	}
	what := "planning: reading " + backends.SafeText(o.Source) + " (changes nothing)"
	if o.Resume != "" {
		what = "planning: the resume of run " + o.Resume + " (changes nothing)"
	}
	done := readProgress(g, what)
	p, err := run.Plan(ctx, a) // every call to the cluster is bounded by --timeout (the client's)
	done()
	if err != nil {
		return err
	}
	plan := p.(*actions.ReplayPlan)
	if dryRun {
		return recordDryRun(g, run, a, plan, output, map[string]any{"dry_run": true, "plan": plan, "command": run.Command(a)}, func(w io.Writer) { printReplayPlan(w, plan) })
	}
	printReplayPlan(g.stderr, plan)
	verb := "replay"
	if plan.Resume {
		verb = "resume"
	}
	if nothing := nothingToReplay(plan); nothing != "" {
		fmt.Fprintln(g.stderr, nothing)
		_ = run.DryRun(a, plan, nothing)
		if output == "json" {
			return writeJSON(g.stdout, replayJSON{&actions.ReplayResult{RunID: plan.RunID, Checkpoint: a.CheckpointPath(), StoppedBecause: backends.KafkaStopEnd}, run.Command(a)})
		}
		return nil
	}
	if plan.Blocked != "" {
		return refuse(run, a, plan, fmt.Errorf("cannot %s: %s", verb, plan.Blocked))
	}
	if len(plan.Problems) > 0 && !yes {
		return refuse(run, a, plan, errors.New("the plan has problems (above): fix them, or pass --yes to replay anyway (each partition stops before its first record the target cannot take)"))
	}
	if !yes {
		question := fmt.Sprintf("Replay %s?", plan.Summary())
		if plan.Resume {
			question = fmt.Sprintf("Resume: replay %s?", plan.Summary())
		}
		if err := confirm(g, run, a, plan, c.ProdLike(), plan.Target, question); err != nil {
			return err
		}
	}
	announceRun(g, plan.RunID, a.CheckpointPath())
	bar, endBar := progressBar(g)
	r, err := run.Execute(ctx, a, plan, bar)
	endBar()
	if res, ok := r.(*actions.ReplayResult); ok {
		printReplayResult(g, output, plan.Source, res, run.Command(a))
	}
	return err
}

// cpuProfileEnv names a file to write a CPU profile of a replay to (for
// measuring it: scripts/bench, docs/BENCHMARKS.md); unset, nothing is
// profiled.
const cpuProfileEnv = "MQOPS_REPLAY_CPUPROFILE"

// startCPUProfile starts the CPU profile cpuProfileEnv asks for, and
// returns what stops it.
func startCPUProfile(g *globals) func() { return startCPUProfileOf(g, cpuProfileEnv) }

// startCPUProfileOf starts the CPU profile the environment variable env
// asks for, and returns what stops it.
func startCPUProfileOf(g *globals, env string) func() {
	path := os.Getenv(env)
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		fmt.Fprintf(g.stderr, "mqops: %s: %s\n", env, backends.SafeText(err.Error()))
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// nothingToReplay says why a plan has nothing to replay ("" when it has
// something): a resumed run that is complete; a range that is empty, or
// records none of which passes the filters (a blocked plan, a missing
// target, is refused before it is said to have nothing).
func nothingToReplay(p *actions.ReplayPlan) string {
	switch {
	case p.Resume && p.Offsets == 0:
		return fmt.Sprintf("replay run %s is complete (%s): nothing left to replay", p.RunID, backends.SafeText(p.Status))
	case p.Resume || p.Blocked != "":
		return ""
	case p.Offsets == 0:
		return "nothing to replay: the range is empty"
	case p.Complete && p.Records == 0 && !(p.SkipOversized && p.OversizedCount > 0):
		return "nothing to replay: no record of the range passes the filters"
	}
	return ""
}

// replayJSON is the -o json output of a replay's run.
type replayJSON struct {
	*actions.ReplayResult
	// Command is the equivalent headless command (without --yes).
	Command string `json:"command"`
}

// announceRun names the run and its checkpoint before anything is
// produced: what to resume after an interruption.
func announceRun(g *globals, runID, path string) {
	fmt.Fprintf(g.stderr, "run %s (checkpoint %s; after an interruption: mqops replay --resume %s)\n", runID, backends.SafeText(path), runID)
}

func printReplayPlan(w io.Writer, p *actions.ReplayPlan) {
	how := "by key (Kafka's default partitioner, murmur2)"
	if p.Partitioning == actions.PartitionSame {
		how = "to the same partition numbers"
	}
	fmt.Fprintf(w, "plan: replay %s → %s (%d partitions), %s\n", cutName(p.Source), cutName(p.Target), p.TargetPartitions, how)
	fmt.Fprintf(w, "  run %s; range: %s → %s", p.RunID, backends.SafeText(p.From), backends.SafeText(p.To))
	if len(p.Filters) > 0 {
		fmt.Fprintf(w, "; only records with %s", cutText(strings.Join(p.Filters, " and "), 4*maxNameShown))
	}
	fmt.Fprintln(w)
	t := newTable(w, "  PARTITION", "START", "END", "OFFSETS", "READ", "RECORDS", "BYTES", "TARGET", "NOTE")
	for i, pp := range p.Parts {
		if i == maxPlanLines {
			break
		}
		tp := "by key"
		if pp.TargetPartition != nil {
			tp = fmt.Sprint(*pp.TargetPartition)
		}
		read, recs, size := fmt.Sprint(pp.Read), fmt.Sprint(pp.Records), fmt.Sprint(pp.Bytes)
		switch {
		case p.Resume:
			read, recs, size = "-", "-", "-"
		case p.Estimated:
			read, recs, size = "-", "≤"+recs, "≈"+size
		}
		t.row(fmt.Sprintf("  %d", pp.Partition), fmt.Sprint(pp.Start), fmt.Sprint(pp.End), fmt.Sprint(pp.End-pp.Start), read, recs, size, tp, pp.Note)
	}
	_ = t.flush()
	if len(p.Parts) > maxPlanLines {
		fmt.Fprintf(w, "  … and %d more partitions (-o json lists them all)\n", len(p.Parts)-maxPlanLines)
	}
	switch {
	case p.Resume:
		fmt.Fprintf(w, "  total: %d offset(s) left to replay (resumed from the checkpoint, not read again)\n", p.Offsets)
	case p.Estimated:
		fmt.Fprintf(w, "  total: %d offset(s); at most %d record(s) to replay, about %d bytes (not read: see the note)\n", p.Offsets, p.Records, p.Bytes)
	case p.Complete:
		fmt.Fprintf(w, "  total: %d offset(s); %d record(s) to replay, %d bytes (every record of the range read)\n", p.Offsets, p.Records, p.Bytes)
	default:
		fmt.Fprintf(w, "  total: %d offset(s); %d record(s) to replay, %d bytes in the first %d read (--plan-limit: not all read)\n", p.Offsets, p.Records, p.Bytes, p.Read)
	}
	if p.Rate > 0 {
		fmt.Fprintf(w, "  rate: at most %g records/s\n", p.Rate)
	}
	if c := p.Consumed; c != nil && c.Error == "" {
		then := "replayed too"
		if c.Skip {
			then = "passed over (--skip-consumed)"
		}
		fmt.Fprintf(w, "  consumed already: %d of the %d record(s) with a %s header, %s\n", c.Consumed, c.Checked, cutName(c.Header), then)
	}
	for i, pr := range p.Problems {
		if i == maxPlanLines {
			fmt.Fprintf(w, "  … and %d more problems\n", len(p.Problems)-i)
			break
		}
		fmt.Fprintln(w, "  problem: "+cutText(pr, 4*maxNameShown))
	}
	for _, n := range p.Notes {
		fmt.Fprintln(w, "  note: "+cutText(n, 4*maxNameShown))
	}
	if p.OversizedCount > 0 {
		then := "each partition stops before its first (--skip-oversized skips them)"
		if p.SkipOversized {
			then = "skipped (--skip-oversized)"
		}
		fmt.Fprintf(w, "  %d record(s) too large for the target, %s:\n", p.OversizedCount, then)
		printOversizedList(w, p.Oversized, p.OversizedCount)
	}
}

func printReplayResult(g *globals, output, source string, res *actions.ReplayResult, command string) {
	if output == "json" {
		_ = writeJSON(g.stdout, replayJSON{res, command})
		return
	}
	fmt.Fprintf(g.stdout, "run %s: replayed %d, passed over by the filters %d, failed %d, left %d offsets of %s (%.1f records/s) — stopped because %s\ncheckpoint: %s\n",
		res.RunID, res.Replayed, res.Filtered, res.Failed, res.Left, cutName(source), res.Rate, actions.ReplayStopText(res.StoppedBecause), backends.SafeText(res.Checkpoint))
	switch {
	case res.SkippedOversized > 0:
		fmt.Fprintf(g.stdout, "skipped %d record(s) too large for the target:\n", res.SkippedOversized)
		printOversizedList(g.stdout, res.Oversized, res.SkippedOversized)
	case len(res.Oversized) > 0:
		fmt.Fprintf(g.stdout, "stopped before %d record(s) too large for the target:\n", len(res.Oversized))
		printOversizedList(g.stdout, res.Oversized, len(res.Oversized))
	}
}
