package actions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/kafka"
)

// A replay's checkpoint is a JSON file, $XDG_STATE_HOME/mqops/runs/<run-id>.json,
// that says what the run replays (source, target, partitioning, filters),
// where (the context and its brokers) and, per source partition, how far
// the target confirmed every record (next). It is written before anything
// is produced, then each time the target confirmed more, and at the end,
// always whole and atomically (a temporary file, fsynced, renamed over it,
// the directory fsynced): a crash leaves the previous or the new one, never
// a torn one. It holds no secret and no record.

// Status of a replay run, in its checkpoint.
const (
	RunRunning   = "running"   // or crashed: resume it
	RunDone      = "done"      // the whole range was replayed
	RunCancelled = "cancelled" // stopped by the operator: resume it
	RunFailed    = "failed"    // stopped by an error: resume it once fixed
	RunStopped   = "stopped"   // a partition stopped before a record the target cannot take
)

// checkpointVersion is the version of the checkpoint's format.
const checkpointVersion = 1

// maxCheckpointBytes bounds the checkpoint a resume reads.
const maxCheckpointBytes = 16 << 20

// ReplayCheckpoint is a replay run's checkpoint.
type ReplayCheckpoint struct {
	Version       int            `json:"version"`
	RunID         string         `json:"run_id"`
	Context       string         `json:"context"`
	Brokers       []string       `json:"brokers"`
	Source        string         `json:"source"`
	Target        string         `json:"target"`
	Partitioning  string         `json:"partitioning"`
	Key           *string        `json:"key,omitempty"`
	Headers       []HeaderFilter `json:"headers,omitempty"`
	SkipOversized bool           `json:"skip_oversized"`
	// SkipConsumed: the run passed over the records whose message id was
	// consumed, as its plan read them (a resume does not know them).
	SkipConsumed   bool             `json:"skip_consumed,omitempty"`
	Window         int              `json:"window"`
	Status         string           `json:"status"`
	StoppedBecause string           `json:"stopped_because,omitempty"`
	Created        time.Time        `json:"created"`
	Updated        time.Time        `json:"updated"`
	Parts          []CheckpointPart `json:"partitions"`
}

// CheckpointPart is one source partition of a run: its range [Start, End)
// and Next, below which the target confirmed every record (or the filters
// passed over it). SerialUntil > Next: the records below it are produced
// one at a time when the run resumes (the run ended with records not
// confirmed).
type CheckpointPart struct {
	Partition   int32 `json:"partition"`
	Start       int64 `json:"start"`
	End         int64 `json:"end"`
	Next        int64 `json:"next"`
	SerialUntil int64 `json:"serial_until,omitempty"`
}

// newCheckpoint is the checkpoint of a new run of plan.
func newCheckpoint(o *ReplayOptions, plan *ReplayPlan) *ReplayCheckpoint {
	now := time.Now().UTC()
	cp := &ReplayCheckpoint{Version: checkpointVersion, RunID: o.RunID, Context: o.Context, Brokers: o.Brokers, Source: plan.Source, Target: plan.Target,
		Partitioning: plan.Partitioning, Key: o.filter.key, Headers: o.filter.headers, SkipOversized: o.SkipOversized, Window: plan.Window,
		Status: RunRunning, Created: now, Updated: now, SkipConsumed: plan.Consumed != nil && plan.Consumed.Skip}
	for _, pp := range plan.Parts {
		cp.Parts = append(cp.Parts, CheckpointPart{Partition: pp.Partition, Start: pp.Start, End: pp.End, Next: pp.Start})
	}
	return cp
}

// left is what the run still has to replay, per partition.
func (cp *ReplayCheckpoint) left() []backends.KafkaReplayPart {
	var out []backends.KafkaReplayPart
	for _, p := range cp.Parts {
		out = append(out, backends.KafkaReplayPart{Partition: p.Partition, Next: p.Next, End: p.End, SerialUntil: p.SerialUntil})
	}
	return out
}

// offsetsLeft sums the offsets left to replay.
func (cp *ReplayCheckpoint) offsetsLeft() int64 {
	var n int64
	for _, p := range cp.Parts {
		n += p.End - p.Next
	}
	return n
}

func (cp *ReplayCheckpoint) filter() replayFilter {
	return replayFilter{key: cp.Key, headers: cp.Headers}
}

// runIDRE: a run id names a file: letters, digits, . _ -, not starting
// with a dot.
var runIDRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`) }) // compiled when first used: not in every command's start

func checkRunID(id string) error {
	if !runIDRE().MatchString(id) {
		return &FieldError{"run-id", fmt.Sprintf("%q is not a run id (letters, digits, . _ -, at most 128, e.g. 20240501T103200-a1b2c3d4e5f6)", backends.SafeText(id))}
	}
	return nil
}

// RunsDir is where runs keep their files (replay checkpoints, the
// previous offsets of a reset): <stateDir>/runs, by default
// $XDG_STATE_HOME/mqops/runs (~/.local/state/mqops/runs).
func RunsDir(stateDir string) string {
	if stateDir == "" {
		stateDir = filepath.Dir(DefaultAuditPath())
	}
	return filepath.Join(stateDir, "runs")
}

// CheckpointPath is the checkpoint file of run id.
func CheckpointPath(stateDir, id string) string {
	return filepath.Join(RunsDir(stateDir), id+".json")
}

// LoadReplayRun reads the checkpoint of run id. A missing run, a file that
// is not a regular file (a FIFO is refused, never waited on), a malformed
// file (named with the line of the fault) and a checkpoint that does not
// hold together are errors.
func LoadReplayRun(stateDir, id string) (*ReplayCheckpoint, error) {
	if err := checkRunID(id); err != nil {
		return nil, err
	}
	path := CheckpointPath(stateDir, id)
	data, err := backends.ReadRegularFile(path, maxCheckpointBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no replay run %q: there is no checkpoint %s", id, backends.SafeText(path))
	}
	if err != nil {
		return nil, fmt.Errorf("replay run %q: %w", id, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var cp ReplayCheckpoint
	if err := dec.Decode(&cp); err != nil {
		return nil, fmt.Errorf("%s:%d: not a replay checkpoint: %s", backends.SafeText(path), jsonErrorLine(data, err, dec.InputOffset()), backends.SafeText(err.Error()))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s:%d: not a replay checkpoint: data after its end", backends.SafeText(path), lineAt(data, dec.InputOffset()))
	}
	if err := cp.check(id); err != nil {
		return nil, fmt.Errorf("%s: not a valid replay checkpoint: %w", backends.SafeText(path), err)
	}
	return &cp, nil
}

// jsonErrorLine is the line of a decoding error: where the syntax or the
// type went wrong, else where the decoder stopped.
func jsonErrorLine(data []byte, err error, at int64) int {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		at = se.Offset
	case errors.As(err, &te):
		at = te.Offset
	}
	return lineAt(data, at)
}

func lineAt(data []byte, off int64) int {
	off = min(max(off, 0), int64(len(data)))
	return bytes.Count(data[:off], []byte("\n")) + 1
}

// check validates a checkpoint read from its file.
func (cp *ReplayCheckpoint) check(id string) error {
	switch {
	case cp.Version != checkpointVersion:
		return fmt.Errorf("version %d (this mqops reads version %d)", cp.Version, checkpointVersion)
	case cp.RunID != id:
		return fmt.Errorf("it is the checkpoint of run %q, not of %q", backends.SafeText(cp.RunID), id)
	case cp.Partitioning != PartitionSame && cp.Partitioning != PartitionKey:
		return fmt.Errorf("partitioning %q: want same or key", backends.SafeText(cp.Partitioning))
	case len(cp.Parts) == 0:
		return errors.New("no partitions")
	}
	if err := firstError(checkTopicName("source", cp.Source), checkTopicName("target", cp.Target),
		CheckCount("window", cp.Window, 1, kafka.MaxMoveWindow, false)); err != nil {
		return err
	}
	switch cp.Status {
	case RunRunning, RunDone, RunCancelled, RunFailed, RunStopped:
	default:
		return fmt.Errorf("status %q", backends.SafeText(cp.Status))
	}
	for _, h := range cp.Headers {
		if h.Key == "" {
			return errors.New("a header filter without a key")
		}
	}
	seen := map[int32]bool{}
	for _, p := range cp.Parts {
		switch {
		case p.Partition < 0 || seen[p.Partition]:
			return fmt.Errorf("partition %d is negative or listed twice", p.Partition)
		case p.Start < 0 || p.Next < p.Start || p.End < p.Next:
			return fmt.Errorf("partition %d: want 0 ≤ start (%d) ≤ next (%d) ≤ end (%d)", p.Partition, p.Start, p.Next, p.End)
		case p.SerialUntil < 0:
			return fmt.Errorf("partition %d: negative serial_until", p.Partition)
		}
		seen[p.Partition] = true
	}
	return nil
}

// runStore keeps a running replay's checkpoint: locked for the run (one
// process at a time per run), written whole and atomically each time.
type runStore struct {
	path string
	lock *os.File
	mu   sync.Mutex
	cp   *ReplayCheckpoint
}

// openRun locks run cp and writes its checkpoint, status running, before
// anything is produced.
func openRun(stateDir string, cp *ReplayCheckpoint) (*runStore, error) {
	dir := RunsDir(stateDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("replay checkpoints: %w", err)
	}
	lockPath := filepath.Join(dir, cp.RunID+".lock")
	lock, err := backends.OpenAppend(lockPath, 0o600)
	if err != nil {
		return nil, fmt.Errorf("replay run %s: %w", cp.RunID, err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("replay run %s is being run by another mqops process right now (%s is locked)", cp.RunID, backends.SafeText(lockPath))
		}
		return nil, fmt.Errorf("replay run %s: locking %s: %w", cp.RunID, backends.SafeText(lockPath), err)
	}
	s := &runStore{path: CheckpointPath(stateDir, cp.RunID), lock: lock, cp: cp}
	cp.Status, cp.StoppedBecause = RunRunning, ""
	if err := s.write(); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// save records the positions the target confirmed (the backend's Save).
func (s *runStore) save(changed map[int32]backends.KafkaReplayPosition) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.cp.Parts {
		p := &s.cp.Parts[i]
		if pos, ok := changed[p.Partition]; ok {
			p.Next, p.SerialUntil = min(max(pos.Next, p.Start), p.End), pos.SerialUntil
			if p.SerialUntil <= p.Next {
				p.SerialUntil = 0
			}
		}
	}
	return s.writeLocked()
}

// finish writes the final checkpoint: the run's status from why it stopped.
func (s *runStore) finish(stopped string, runErr error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := s.cp
	cp.StoppedBecause = stopped
	switch {
	case stopped == backends.KafkaStopCancelled:
		cp.Status = RunCancelled
	case runErr != nil || stopped == backends.KafkaStopError:
		cp.Status = RunFailed
	case stopped == backends.KafkaStopOversized:
		cp.Status = RunStopped
	case cp.offsetsLeft() == 0:
		cp.Status = RunDone
	default:
		cp.Status = RunFailed
	}
	return s.writeLocked()
}

func (s *runStore) write() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writeLocked()
}

func (s *runStore) writeLocked() error {
	s.cp.Updated = time.Now().UTC()
	data, err := json.MarshalIndent(s.cp, "", "  ")
	if err != nil {
		return err
	}
	if err := writeAtomic(s.path, append(data, '\n')); err != nil {
		return fmt.Errorf("writing the checkpoint of replay run %s: %w", s.cp.RunID, err)
	}
	return nil
}

func (s *runStore) close() {
	if s.lock != nil {
		_ = syscall.Flock(int(s.lock.Fd()), syscall.LOCK_UN)
		s.lock.Close()
	}
}

// writeAtomic replaces the regular file at path with data: a temporary
// file in the same directory, fsynced, renamed over it, the directory
// fsynced. Anything but a regular file at path (a FIFO, a directory, a
// symbolic link) is refused and left alone.
func writeAtomic(path string, data []byte) error {
	if st, err := os.Lstat(path); err == nil && !st.Mode().IsRegular() {
		if st.Mode()&fs.ModeSymlink != 0 {
			return &backends.FileError{Path: path, Msg: fmt.Sprintf("%q is a symbolic link, not a regular file", backends.SafeText(path)), Err: backends.ErrNotRegular}
		}
		_, err := backends.OpenRegularFile(path) // says what it is instead
		if err == nil {
			err = &backends.FileError{Path: path, Msg: fmt.Sprintf("%q is not a regular file", backends.SafeText(path)), Err: backends.ErrNotRegular}
		}
		return err
	}
	dir, base := filepath.Split(path)
	tmp, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, path)
	}
	if err != nil {
		_ = os.Remove(name)
		return err
	}
	d, err := os.Open(filepath.Clean(dir))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// planResume loads run o.Resume and says what its resume would replay:
// the offsets left on each partition (nothing is read). The run must be
// of this context and cluster (else a refusal), and its positions still
// in the log: records retention deleted since would be a gap, so such a
// resume is blocked.
func planResume(ctx context.Context, k backends.KafkaReplayer, o *ReplayOptions) (*ReplayCheckpoint, *ReplayPlan, error) {
	if err := o.Validate(); err != nil {
		return nil, nil, err
	}
	cp, err := LoadReplayRun(o.StateDir, o.Resume)
	if err != nil {
		return nil, nil, err
	}
	if cp.Context != o.Context || !sameBrokers(cp.Brokers, o.Brokers) {
		return cp, nil, refused(fmt.Errorf("replay run %s ran in context %q (brokers %v), not in this one (%q, brokers %v): resume it there",
			cp.RunID, backends.SafeText(cp.Context), cp.Brokers, o.Context, o.Brokers))
	}
	p := &ReplayPlan{RunID: cp.RunID, Source: cp.Source, Target: cp.Target, Partitioning: cp.Partitioning, Filters: cp.filter().texts(),
		SkipOversized: cp.SkipOversized, Rate: o.Rate, Window: cp.Window, Resume: true, Status: cp.Status, From: "checkpoint", To: "end of the run's range"}
	if cp.SkipConsumed {
		p.Notes = append(p.Notes, "the run passed over the records whose message id was consumed (--skip-consumed), as its plan read them; a resume does not read the range again: it replays those too (consumers that deduplicate drop them)")
	}
	var parts []int32
	for _, cpp := range cp.Parts {
		parts = append(parts, cpp.Partition)
	}
	rng, err := k.ResolveRange(ctx, backends.KafkaRangeQuery{Topic: cp.Source, Partitions: parts})
	if err != nil {
		return cp, nil, err
	}
	pc, err := k.PartitionCounts(ctx, []string{cp.Target})
	if err != nil {
		return cp, nil, err
	}
	p.TargetPartitions = pc[cp.Target]
	if p.TargetPartitions == 0 {
		p.Blocked = fmt.Sprintf("target topic %q does not exist (any more): nothing can be replayed", backends.SafeText(cp.Target))
		p.Problems = append(p.Problems, p.Blocked)
	}
	for i, cpp := range cp.Parts {
		rp := rng.Parts[i]
		pp := ReplayPlanPart{Partition: cpp.Partition, LogStart: rp.LogStart, LogEnd: rp.LogEnd, Start: cpp.Next, End: cpp.End, ReadTo: cpp.Next}
		if cp.Partitioning == PartitionSame {
			tp := cpp.Partition
			pp.TargetPartition = &tp
			if p.TargetPartitions > 0 && tp >= p.TargetPartitions && p.Blocked == "" {
				p.Blocked = fmt.Sprintf("target topic %q has %d partition(s) now: partition %d cannot go to the same partition", backends.SafeText(cp.Target), p.TargetPartitions, tp)
				p.Problems = append(p.Problems, p.Blocked)
			}
		}
		if cpp.Next < cpp.End && rp.LogStart > cpp.Next && p.Blocked == "" {
			p.Blocked = fmt.Sprintf("%s partition %d: retention deleted records %d to %d since the run stopped (the log starts at %d): resuming would leave a gap",
				backends.SafeText(cp.Source), cpp.Partition, cpp.Next, min(rp.LogStart, cpp.End)-1, rp.LogStart)
			p.Problems = append(p.Problems, p.Blocked)
		}
		p.Parts = append(p.Parts, pp)
		p.Offsets += cpp.End - cpp.Next
	}
	return cp, p, nil
}

func sameBrokers(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// executeResume goes on with the resumed run from its checkpoint (loaded
// by the plan the operator confirmed; without one, read now): no gap,
// and at most the in-flight window of the interrupted run replayed
// twice. A blocked plan is refused.
func (a *Replay) executeResume(ctx context.Context, plan *ReplayPlan, progress func(Progress)) (*ReplayResult, error) {
	o := &a.Options
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if plan != nil && (!plan.Resume || plan.RunID != o.Resume) {
		return nil, refused(fmt.Errorf("the plan is of run %s, not of the resume of run %s", plan.RunID, o.Resume))
	}
	if plan == nil || a.cp == nil || a.cp.RunID != o.Resume {
		cp, p, err := planResume(ctx, a.Broker, o)
		if err != nil {
			return nil, err
		}
		a.cp, plan = cp, p
	}
	if plan.Blocked != "" {
		return nil, refused(errors.New("cannot resume: " + plan.Blocked))
	}
	return runReplay(ctx, a.Broker, o.StateDir, a.cp, a.cp.filter().keep(), o.Rate, progress)
}
