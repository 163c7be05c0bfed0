package actions

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mqops/mqops/backends"
)

// ResetMode is how a reset chooses the new offsets, named as
// kafka-consumer-groups --reset-offsets names it, with its meaning.
type ResetMode string

// The modes of a reset.
const (
	ResetToEarliest ResetMode = "to-earliest" // the log start
	ResetToLatest   ResetMode = "to-latest"   // the log end
	ResetToCurrent  ResetMode = "to-current"  // the committed offset; the log end where there is none
	ResetToOffset   ResetMode = "to-offset"   // an offset, clamped into [log start, log end]
	ResetShiftBy    ResetMode = "shift-by"    // the committed offset ± n, clamped; refused where there is none
	ResetToDatetime ResetMode = "to-datetime" // the first record at or after a time; the log end when none is
	ResetByDuration ResetMode = "by-duration" // as to-datetime, for now − a duration
	ResetFromFile   ResetMode = "from-file"   // the offsets of a CSV (topic,partition,offset), clamped
)

// ResetModes lists the modes, in the order the help gives them.
var ResetModes = []ResetMode{ResetToEarliest, ResetToLatest, ResetToCurrent, ResetToOffset, ResetShiftBy, ResetToDatetime, ResetByDuration, ResetFromFile}

// takesValue says whether the mode has a value (an offset, a shift, a
// time, a duration, a file).
func (m ResetMode) takesValue() bool {
	return m != ResetToEarliest && m != ResetToLatest && m != ResetToCurrent
}

// clamps says whether the mode's offsets are clamped into [log start, log
// end], as Kafka's tool clamps them (checkOffsetsRange).
func (m ResetMode) clamps() bool {
	return m == ResetToOffset || m == ResetShiftBy || m == ResetFromFile
}

// maxGroupName is the longest string the Kafka protocol carries.
const maxGroupName = math.MaxInt16

// ResetOffsetsOptions are the parameters of a reset of a consumer group's
// offsets, as the operator gave them.
type ResetOffsetsOptions struct {
	Context  string
	ReadOnly bool
	Group    string
	Mode     ResetMode
	// Value is the mode's value as given: an offset, a shift, a datetime,
	// a duration or a file path; empty for to-earliest, to-latest and
	// to-current.
	Value string
	// Topics are the --topic values (T, or T:0,2,5); AllTopics is every
	// partition the group has a committed offset on. A --from-file reset
	// takes its partitions from the file and has neither.
	Topics    []string
	AllTopics bool
	// Export is where the previous offsets are written before the reset
	// (default $XDG_STATE_HOME/mqops/runs/<run id>-previous.csv).
	Export string
	RunID  string
	// Now is the clock of --by-duration (default time.Now).
	Now func() time.Time

	args *resetArgs // parsed by Validate
}

// resetArgs are the options' values, parsed.
type resetArgs struct {
	scope  ResetScope
	offset int64
	shift  int64
	at     int64 // --to-datetime, ms since the epoch
	dur    time.Duration
	file   []ResetFileRow
}

// Validate checks the options and parses their values (reading a
// --from-file CSV: a regular file, at most MaxResetFile bytes, read once);
// a read-only context refuses resets.
func (o *ResetOffsetsOptions) Validate() error {
	if o.ReadOnly {
		return fmt.Errorf("context %q is read-only: reset-offsets is not available", o.Context)
	}
	switch {
	case o.Group == "":
		return errors.New("no consumer group given")
	case len(o.Group) > maxGroupName:
		return fmt.Errorf("the consumer group name is %d bytes long: Kafka's are at most %d", len(o.Group), maxGroupName)
	}
	if o.RunID == "" {
		o.RunID = NewRunID()
	}
	if o.Export != "" {
		if err := backends.CheckNewFile(o.Export); err != nil {
			return &FieldError{"export", err.Error()}
		}
	}
	if o.args != nil {
		return nil // parsed already (the plan did)
	}
	a, err := o.parse()
	if err != nil {
		return err
	}
	o.args = a
	return nil
}

func (o *ResetOffsetsOptions) parse() (*resetArgs, error) {
	known := false
	for _, m := range ResetModes {
		known = known || m == o.Mode
	}
	switch {
	case o.Mode == "":
		return nil, errors.New("no reset mode: give one of --" + joinModes(", --"))
	case !known:
		return nil, fmt.Errorf("unknown reset mode %q: want one of --%s", backends.SafeText(string(o.Mode)), joinModes(", --"))
	case o.Mode.takesValue() && strings.TrimSpace(o.Value) == "":
		return nil, &FieldError{string(o.Mode), "needs a value"}
	case !o.Mode.takesValue() && o.Value != "":
		return nil, &FieldError{string(o.Mode), "takes no value"}
	}
	a := &resetArgs{}
	if o.Mode == ResetFromFile {
		if len(o.Topics) > 0 || o.AllTopics {
			return nil, errors.New("--from-file names the partitions to reset: give neither --topic nor --all-topics with it")
		}
	} else {
		switch {
		case len(o.Topics) == 0 && !o.AllTopics:
			return nil, errors.New("no scope: give --topic T (or T:0,2,5; repeatable) or --all-topics (every partition the group has an offset on)")
		case len(o.Topics) > 0 && o.AllTopics:
			return nil, errors.New("give --topic or --all-topics, not both")
		}
		var err error
		if a.scope, err = ParseTopicScope(o.Topics); err != nil {
			return nil, err
		}
	}
	var err error
	switch o.Mode {
	case ResetToOffset:
		a.offset, err = ParseOffset("to-offset", o.Value)
	case ResetShiftBy:
		a.shift, err = ParseShift(o.Value)
	case ResetToDatetime:
		a.at, err = ParseDateTime(o.Value)
	case ResetByDuration:
		a.dur, err = ParseResetDuration(o.Value)
	case ResetFromFile:
		var data []byte
		if data, err = backends.ReadRegularFile(o.Value, MaxResetFile); err != nil {
			return nil, &FieldError{"from-file", err.Error()}
		}
		if a.file, err = ParseResetFile(data, o.Group); err != nil {
			return nil, &FieldError{"from-file", backends.SafeText(o.Value) + ": " + err.Error()}
		}
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

func joinModes(sep string) string {
	s := make([]string, len(ResetModes))
	for i, m := range ResetModes {
		s[i] = string(m)
	}
	return strings.Join(s, sep)
}

// query is what the plan reads from the cluster; at is the time of a
// --to-datetime or --by-duration (nil otherwise).
func (o *ResetOffsetsOptions) query() (backends.KafkaOffsetsQuery, *int64, error) {
	q := backends.KafkaOffsetsQuery{Group: o.Group, Topics: o.args.scope.Topics, Partitions: o.args.scope.Partitions, AllCommitted: o.AllTopics}
	if o.Mode == ResetFromFile {
		q.Partitions = map[string][]int32{}
		for _, r := range o.args.file {
			q.Partitions[r.Topic] = append(q.Partitions[r.Topic], r.Partition)
		}
	}
	var at *int64
	switch o.Mode {
	case ResetToDatetime:
		at = &o.args.at
	case ResetByDuration:
		now := time.Now
		if o.Now != nil {
			now = o.Now
		}
		t := now().Add(-o.args.dur)
		if t.Before(time.Unix(0, 0)) {
			return q, nil, &FieldError{"by-duration", fmt.Sprintf("%s reaches back before 1970", backends.SafeText(o.Value))}
		}
		ms := t.UnixMilli()
		at = &ms
	}
	q.At = at
	return q, at, nil
}

// ResetRow is one partition of a reset's plan. Current and LagBefore are
// nil where the group has no committed offset. Clamped says the offset
// asked for (Requested) was outside [LogStart, LogEnd] and New is the
// bound, as Kafka's tool clamps it.
type ResetRow struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Current   *int64 `json:"current"`
	New       int64  `json:"new"`
	LogStart  int64  `json:"log_start"`
	LogEnd    int64  `json:"log_end"`
	LagBefore *int64 `json:"lag_before"`
	LagAfter  int64  `json:"lag_after"`
	Clamped   bool   `json:"clamped"`
	Requested *int64 `json:"requested,omitempty"`
}

// ResetTotals sums a plan up. Again counts the retained records the group
// will consume again (its offset moves back over them), Skipped those it
// will not consume (its offset moves forward past them); NoCurrent counts
// the partitions without a committed offset, where neither is known.
type ResetTotals struct {
	Partitions int   `json:"partitions"`
	Changed    int   `json:"changed"`
	Clamped    int   `json:"clamped"`
	NoCurrent  int   `json:"no_current"`
	Again      int64 `json:"consumed_again"`
	Skipped    int64 `json:"skipped"`
}

// ResetPlan is the preview of a reset: per partition the current and the
// new offset, lag before and after.
type ResetPlan struct {
	Group string    `json:"group"`
	State string    `json:"state"`
	Type  string    `json:"type,omitempty"`
	Mode  ResetMode `json:"mode"`
	Value string    `json:"value,omitempty"`
	// At is the time a --to-datetime or --by-duration looked offsets up
	// for, in milliseconds since the epoch.
	At     *int64      `json:"at_ms,omitempty"`
	Rows   []ResetRow  `json:"rows"`
	Totals ResetTotals `json:"totals"`
}

// Summary is the plan in one line, for the confirmation and the audit log.
func (p *ResetPlan) Summary() string {
	mode := "--" + string(p.Mode)
	if p.Value != "" {
		mode += " " + p.Value
	}
	s := fmt.Sprintf("consumer group %s (%s): %d partition(s) %s, %d change, %d clamped", p.Group, p.State, p.Totals.Partitions, mode, p.Totals.Changed, p.Totals.Clamped)
	s += fmt.Sprintf("; %d record(s) consumed again, %d skipped", p.Totals.Again, p.Totals.Skipped)
	if p.Totals.NoCurrent > 0 {
		s += fmt.Sprintf("; %d partition(s) without a committed offset", p.Totals.NoCurrent)
	}
	s, _ = cutString(s, 1024)
	return s
}

// Offsets are the offsets the plan commits.
func (p *ResetPlan) Offsets() []backends.KafkaOffset {
	out := make([]backends.KafkaOffset, len(p.Rows))
	for i, r := range p.Rows {
		out[i] = backends.KafkaOffset{Topic: r.Topic, Partition: r.Partition, Offset: r.New}
	}
	return out
}

// GroupActiveError refuses to reset a group that has members or is
// rebalancing: Kafka lets offsets be reset only when a group is Empty or
// Dead.
type GroupActiveError struct {
	Group   string
	State   string
	Members []backends.KafkaGroupMember
}

// maxMembersShown bounds the members a refusal lists.
const maxMembersShown = 20

func (e *GroupActiveError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "consumer group %q is %s with %d member(s): offsets can only be reset while it is Empty or Dead (stop its consumers first); nothing was changed",
		backends.SafeText(e.Group), backends.SafeText(e.State), len(e.Members))
	for i, m := range e.Members {
		if i == maxMembersShown {
			fmt.Fprintf(&b, "\n  … and %d more", len(e.Members)-i)
			break
		}
		fmt.Fprintf(&b, "\n  client id %q on host %s (member %s)", backends.SafeText(cutForError(m.ClientID)), backends.SafeText(cutForError(m.Host)), backends.SafeText(cutForError(m.MemberID)))
	}
	return b.String()
}

// resettable says whether offsets of a group in state may be reset.
func resettable(state string) bool {
	return state == backends.GroupEmpty || state == backends.GroupDead
}

// planResetOffsets previews a reset without changing anything: it reads
// the group's state, members and offsets (refusing a group that is not
// Empty or Dead with a *GroupActiveError, a refusal) and computes each
// partition's new offset as kafka-consumer-groups --reset-offsets
// computes it.
func planResetOffsets(ctx context.Context, k backends.KafkaOffsetResetter, o *ResetOffsetsOptions) (*ResetPlan, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	q, at, err := o.query()
	if err != nil {
		return nil, err
	}
	st, err := k.GroupOffsets(ctx, q)
	if err != nil {
		return nil, err
	}
	return computeResetPlan(st, o, at)
}

// computeResetPlan computes the plan from what the cluster said, mode by
// mode as Kafka's ConsumerGroupCommand.prepareOffsetsToReset does.
func computeResetPlan(st *backends.KafkaGroupOffsets, o *ResetOffsetsOptions, at *int64) (*ResetPlan, error) {
	if !resettable(st.State) {
		return nil, refused(&GroupActiveError{Group: st.Group, State: st.State, Members: st.Members})
	}
	p := &ResetPlan{Group: o.Group, State: st.State, Type: st.Type, Mode: o.Mode, Value: o.Value, At: at}
	fromFile := map[string]int64{}
	for _, r := range o.args.file {
		fromFile[fmt.Sprintf("%s/%d", r.Topic, r.Partition)] = r.Offset
	}
	for _, part := range st.Partitions {
		row := ResetRow{Topic: part.Topic, Partition: part.Partition, Current: part.Committed, LogStart: part.LogStart, LogEnd: part.LogEnd}
		var want int64
		switch o.Mode {
		case ResetToEarliest:
			want = part.LogStart
		case ResetToLatest:
			want = part.LogEnd
		case ResetToCurrent:
			want = part.LogEnd // Kafka: the log end where the group has no offset
			if part.Committed != nil {
				want = *part.Committed
			}
		case ResetToOffset:
			want = o.args.offset
		case ResetShiftBy:
			if part.Committed == nil {
				return nil, fmt.Errorf("cannot shift %s partition %d: consumer group %q has no committed offset there (leave it out of --topic, or use another mode)",
					backends.SafeText(part.Topic), part.Partition, backends.SafeText(o.Group))
			}
			cur, n := *part.Committed, o.args.shift
			if n > 0 && cur > math.MaxInt64-n {
				return nil, &FieldError{"shift-by", fmt.Sprintf("%d from offset %d of %s partition %d is beyond the largest offset", n, cur, backends.SafeText(part.Topic), part.Partition)}
			}
			want = cur + n
		case ResetToDatetime, ResetByDuration:
			want = part.LogEnd // Kafka: no record that recent, the log end
			if part.AtTime != nil {
				want = *part.AtTime
			}
		case ResetFromFile:
			want = fromFile[fmt.Sprintf("%s/%d", part.Topic, part.Partition)]
		}
		row.New = want
		if o.Mode.clamps() && (want > part.LogEnd || want < part.LogStart) {
			row.New = min(max(want, part.LogStart), part.LogEnd) // above the end: the end, else below the start: the start
			row.Clamped, row.Requested = true, &want
			p.Totals.Clamped++
		}
		row.LagAfter = max(0, part.LogEnd-row.New)
		if c := part.Committed; c != nil {
			lag := max(0, part.LogEnd-*c)
			row.LagBefore = &lag
			lo, hi := max(part.LogStart, min(row.New, *c)), min(part.LogEnd, max(row.New, *c))
			if n := max(0, hi-lo); row.New < *c {
				p.Totals.Again += n
			} else {
				p.Totals.Skipped += n
			}
			if *c != row.New {
				p.Totals.Changed++
			}
		} else {
			p.Totals.NoCurrent++
			p.Totals.Changed++
		}
		p.Rows = append(p.Rows, row)
	}
	p.Totals.Partitions = len(p.Rows)
	return p, nil
}

// ResetResult is what an executed reset did.
type ResetResult struct {
	RunID string `json:"run_id"`
	// Previous is the CSV of the offsets before the reset, for
	// --from-file: the rollback.
	Previous string `json:"previous_offsets,omitempty"`
	// NoPrevious lists the partitions that had no committed offset: the
	// CSV cannot give them "none" back.
	NoPrevious []string `json:"no_previous_offset,omitempty"`
	Committed  int      `json:"committed"`
	// Verified: the offsets read back after the commit are the plan's.
	Verified   bool     `json:"verified"`
	Mismatches []string `json:"mismatches,omitempty"`
	// CommitAnswer is the commit's error when its answer was lost or
	// refused, yet every offset read back is the plan's: the reset is done.
	CommitAnswer string `json:"commit_answer,omitempty"`

	// left is how many of the plan's partitions do not have their new
	// offset at the end (-1: not known, the offsets could not be read back).
	left int
}

// ResetChangedError refuses to execute a plan whose group's offsets moved
// since it was made.
type ResetChangedError struct {
	Group   string
	Changed []string
}

func (e *ResetChangedError) Error() string {
	s := fmt.Sprintf("the offsets of consumer group %q changed since the plan was made (%s): nothing was changed; plan again", backends.SafeText(e.Group), strings.Join(e.Changed, "; "))
	s, _ = cutString(s, 4096)
	return s
}

// executeReset commits the confirmed plan: it checks again that the
// group is Empty or Dead and that its offsets are those the plan showed
// (else a refusal: nothing changed), writes the previous offsets as a CSV
// usable with --from-file (o.Export, or under $XDG_STATE_HOME/mqops/runs/),
// commits the new offsets, reads them back and compares them with the
// plan (a mismatch is an error). It returns what it did even when it
// fails; the Runner audits it.
func executeReset(ctx context.Context, k backends.KafkaOffsetResetter, o *ResetOffsetsOptions, plan *ResetPlan, progress func(Progress)) (*ResetResult, error) {
	start := time.Now()
	if plan == nil {
		return nil, refused(errors.New("no plan: a reset commits only the plan the operator saw"))
	}
	if plan.Group != o.Group {
		return nil, refused(fmt.Errorf("the plan is of consumer group %q, not %q", backends.SafeText(plan.Group), backends.SafeText(o.Group)))
	}
	res := &ResetResult{RunID: o.RunID, left: len(plan.Rows)}
	report := func() {
		if progress != nil {
			progress(Progress{Done: res.Committed, Failed: len(res.Mismatches), Seen: len(plan.Rows) - max(res.left, 0), Total: len(plan.Rows), Elapsed: time.Since(start)})
		}
	}
	report()
	err := o.execute(ctx, k, plan, res)
	report()
	return res, err
}

func (o *ResetOffsetsOptions) execute(ctx context.Context, k backends.KafkaOffsetResetter, plan *ResetPlan, res *ResetResult) error {
	if len(plan.Rows) == 0 {
		return refused(errors.New("nothing to reset: the plan has no partition"))
	}
	// 1. The group is still inactive, its offsets still those of the plan.
	parts := map[string][]int32{}
	for _, r := range plan.Rows {
		parts[r.Topic] = append(parts[r.Topic], r.Partition)
	}
	st, err := k.GroupOffsets(ctx, backends.KafkaOffsetsQuery{Group: o.Group, Partitions: parts})
	if err != nil {
		return err
	}
	if !resettable(st.State) {
		return refused(&GroupActiveError{Group: st.Group, State: st.State, Members: st.Members})
	}
	now := map[string]*int64{}
	for _, p := range st.Partitions {
		now[fmt.Sprintf("%s/%d", p.Topic, p.Partition)] = p.Committed
	}
	var changed []string
	for _, r := range plan.Rows {
		c := now[fmt.Sprintf("%s/%d", r.Topic, r.Partition)]
		if (c == nil) != (r.Current == nil) || (c != nil && *c != *r.Current) {
			changed = append(changed, fmt.Sprintf("%s partition %d: %s → %s", backends.SafeText(r.Topic), r.Partition, offsetText(r.Current), offsetText(c)))
		}
	}
	if len(changed) > 0 {
		return refused(&ResetChangedError{Group: o.Group, Changed: changed})
	}
	// 2. The previous offsets, for the rollback, before anything changes.
	var previous []backends.KafkaOffset
	for _, r := range plan.Rows {
		if r.Current == nil {
			res.NoPrevious = append(res.NoPrevious, fmt.Sprintf("%s/%d", r.Topic, r.Partition))
			continue
		}
		previous = append(previous, backends.KafkaOffset{Topic: r.Topic, Partition: r.Partition, Offset: *r.Current})
	}
	if len(previous) > 0 {
		if res.Previous, err = o.writePrevious(previous); err != nil {
			return fmt.Errorf("the previous offsets could not be written, so nothing was changed: %w", err)
		}
	}
	// 3. The commit.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cancelled before the commit: nothing was changed: %w", err)
	}
	commitErr := k.CommitGroupOffsets(ctx, o.Group, plan.Offsets())
	// 4. Read back, whatever the commit said, to tell what is now there.
	res.left = -1 // committed, perhaps: only the offsets read back tell
	got, err := k.CommittedOffsets(ctx, o.Group)
	if err != nil {
		if commitErr != nil {
			return fmt.Errorf("%w\n(and reading the offsets back failed: %v)", commitErr, err)
		}
		return fmt.Errorf("offsets committed, but reading them back failed: %w", err)
	}
	for _, r := range plan.Rows {
		g, ok := got[r.Topic][r.Partition]
		if ok && g == r.New {
			res.Committed++
			continue
		}
		have := "none"
		if ok {
			have = fmt.Sprint(g)
		}
		res.Mismatches = append(res.Mismatches, fmt.Sprintf("%s partition %d: %s, the plan %d", backends.SafeText(r.Topic), r.Partition, have, r.New))
	}
	res.Verified = len(res.Mismatches) == 0
	res.left = len(plan.Rows) - res.Committed
	switch {
	case commitErr != nil && res.Verified:
		// Applied (the answer was lost after the coordinator applied it:
		// a dropped connection, a timeout), or there already: done. Failing
		// would have the operator run it again, whose rollback file would
		// hold the new offsets.
		res.CommitAnswer = backends.Redact(commitErr.Error())
	case commitErr != nil:
		return commitErr
	case !res.Verified:
		s := fmt.Sprintf("the offsets read back differ from the plan on %d partition(s): %s", len(res.Mismatches), strings.Join(res.Mismatches, "; "))
		s, _ = cutString(s, 4096)
		return errors.New(s)
	}
	return nil
}

func offsetText(p *int64) string {
	if p == nil {
		return "none"
	}
	return fmt.Sprint(*p)
}

// ExportPath is where the previous offsets go.
func (o *ResetOffsetsOptions) ExportPath() string {
	if o.Export != "" {
		return o.Export
	}
	return filepath.Join(RunsDir(""), o.RunID+"-previous.csv")
}

// writePrevious writes the previous offsets to a new regular file (never
// over an existing one, never into a FIFO), fsynced, and returns its path.
func (o *ResetOffsetsOptions) writePrevious(offsets []backends.KafkaOffset) (string, error) {
	path := o.ExportPath()
	if o.Export == "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return "", err
		}
	}
	sort.Slice(offsets, func(i, j int) bool {
		if offsets[i].Topic != offsets[j].Topic {
			return offsets[i].Topic < offsets[j].Topic
		}
		return offsets[i].Partition < offsets[j].Partition
	})
	f, err := backends.CreateNewFile(path, 0o600)
	if err != nil {
		return "", err
	}
	err = WriteResetCSV(f, offsets)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path) // a partial rollback file would mislead
		return "", err
	}
	return path, nil
}

// ResetOffsets is the reset of a consumer group's offsets as an Action:
// run it through a Runner (Validate → Plan → the operator confirms →
// Execute), which audits each outcome.
type ResetOffsets struct {
	Broker  backends.KafkaOffsetResetter
	Options ResetOffsetsOptions
}

func (a *ResetOffsets) Kind() string { return "reset-offsets" }

// Validate checks the options; it reads a --from-file CSV (once).
func (a *ResetOffsets) Validate() error { return a.Options.Validate() }

// Describe: the consumer group is the source, the mode and its value the
// target; Args are the command line (mode, scope, --export).
func (a *ResetOffsets) Describe() Subject {
	o := &a.Options
	return Subject{Context: o.Context, Source: "kafka-group:" + o.Group, Target: strings.Join(o.modeArgs(), " "), RunID: o.RunID, Args: o.commandArgs()}
}

// Plan previews the reset; a group that is not Empty or Dead is refused.
func (a *ResetOffsets) Plan(ctx context.Context) (Plan, error) {
	p, err := planResetOffsets(ctx, a.Broker, &a.Options)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Execute commits the plan the operator confirmed (a reset never runs
// without one), reporting one progress before and one after the commit.
func (a *ResetOffsets) Execute(ctx context.Context, p Plan, progress func(Progress)) (Result, error) {
	var plan *ResetPlan
	if !isNil(p) {
		rp, ok := p.(*ResetPlan)
		if !ok {
			return nil, fmt.Errorf("a reset cannot run the plan of another action (%T)", p)
		}
		plan = rp
	}
	res, err := executeReset(ctx, a.Broker, &a.Options, plan, progress)
	if res == nil {
		return nil, err
	}
	return res, err
}

// modeArgs are the mode and its value as flags: --to-offset 42.
func (o *ResetOffsetsOptions) modeArgs() []string {
	if o.Mode == "" {
		return nil
	}
	a := []string{"--" + string(o.Mode)}
	if o.Value != "" {
		a = append(a, o.Value)
	}
	return a
}

// commandArgs is the reset's command line (Subject.Args): the group, the
// mode, the scope and --export when given.
func (o *ResetOffsetsOptions) commandArgs() []string {
	a := append([]string{"reset-offsets", o.Group}, o.modeArgs()...)
	for _, t := range o.Topics {
		a = append(a, "--topic", t)
	}
	if o.AllTopics {
		a = append(a, "--all-topics")
	}
	if o.Export != "" {
		a = append(a, "--export", o.Export)
	}
	return a
}

// Audit is what the audit log keeps of a reset's plan: the partitions
// whose offset changes (selected) of those in scope (total), the summary,
// and as details the group's state, the totals and, per partition (the
// first ones: the entry is bounded), current → new.
func (p *ResetPlan) Audit() AuditPlan {
	if p == nil {
		return AuditPlan{}
	}
	rows := make([]string, 0, min(len(p.Rows), maxAuditList))
	for i, r := range p.Rows {
		if i == maxAuditList {
			break
		}
		s := fmt.Sprintf("%s/%d: %s → %d", r.Topic, r.Partition, offsetText(r.Current), r.New)
		if r.Clamped {
			s += fmt.Sprintf(" (clamped from %d)", *r.Requested)
		}
		rows = append(rows, s)
	}
	d := map[string]any{"group": p.Group, "state": p.State, "mode": string(p.Mode), "clamped": p.Totals.Clamped, "no_current": p.Totals.NoCurrent,
		"consumed_again": p.Totals.Again, "skipped_records": p.Totals.Skipped, "offsets": rows}
	if p.Value != "" {
		d["value"] = p.Value
	}
	if p.At != nil {
		d["at"] = time.UnixMilli(*p.At).UTC().Format("2006-01-02T15:04:05.000Z")
	}
	if len(p.Rows) > maxAuditList {
		d["offsets_not_shown"] = len(p.Rows) - maxAuditList
	}
	return AuditPlan{Summary: p.Summary(), Selected: int64(p.Totals.Changed), Total: int64(p.Totals.Partitions), Details: d}
}

// Audit is what the audit log keeps of a reset: the partitions committed
// and read back as planned (done), those read back otherwise (failed),
// those without their new offset (left; -1 when the offsets could not be
// read back) and as details the rollback file, the partitions it cannot
// give back, the read-back verdict and its mismatches.
func (r *ResetResult) Audit() AuditResult {
	if r == nil {
		return AuditResult{}
	}
	d := map[string]any{"verified": r.Verified}
	if r.Previous != "" {
		d["previous_offsets"] = r.Previous
	}
	if len(r.NoPrevious) > 0 {
		d["no_previous_offset"] = r.NoPrevious
	}
	if len(r.Mismatches) > 0 {
		d["mismatches"] = r.Mismatches
	}
	if r.CommitAnswer != "" {
		d["commit_answer"] = r.CommitAnswer
	}
	return AuditResult{Done: int64(r.Committed), Failed: int64(len(r.Mismatches)), Left: int64(r.left), Details: d}
}
