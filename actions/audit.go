package actions

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"sync"
	"time"

	"github.com/mqops/mqops/backends"
)

// AuditEntry is one line of the audit log: what was done, by whom, where,
// how it ended, what the plan said and what the run did, and the
// equivalent headless command. It never holds secrets or payloads. The
// Runner writes it; Read also reads the lines of earlier versions (see
// legacyEntry).
type AuditEntry struct {
	Time    time.Time `json:"time"`
	User    string    `json:"user"`
	Host    string    `json:"host"`
	Context string    `json:"context"`
	Action  string    `json:"action"`
	RunID   string    `json:"run_id,omitempty"`
	// Outcome is refused, dry-run, executed, failed or cancelled
	// (Outcome* constants).
	Outcome string `json:"outcome"`
	Source  string `json:"source,omitempty"`
	Target  string `json:"target,omitempty"`
	// Reason says why a refusal was refused and how a dry run was one
	// (--dry-run, or previewed and not confirmed).
	Reason string `json:"reason,omitempty"`
	// Command is the equivalent headless command (Runner.Command).
	Command string       `json:"command,omitempty"`
	Plan    *AuditPlan   `json:"plan,omitempty"`
	Result  *AuditResult `json:"result,omitempty"`
	Error   string       `json:"error,omitempty"`
	// DurationMS is how long the run took (0 for a plan).
	DurationMS int64 `json:"duration_ms"`
	// Parameters are the options of an entry written before entries were
	// typed (they had no Command); never written now.
	Parameters map[string]any `json:"parameters,omitempty"`
}

// AuditPlan is what the audit log keeps of a plan: its counts and one
// line that says it. The counts are of what the action acts on (messages,
// records, partitions).
type AuditPlan struct {
	Summary  string `json:"summary"`
	Selected int64  `json:"selected"`          // to act on
	Skipped  int64  `json:"skipped,omitempty"` // left out by the filters
	// Total is the scope the plan looked at: a queue's depth, the records
	// read (0: not known).
	Total    int64    `json:"total,omitempty"`
	Bytes    int64    `json:"bytes,omitempty"`
	Problems []string `json:"problems,omitempty"`
	// Details are the action's own, bounded like every value of an entry.
	Details map[string]any `json:"details,omitempty"`
}

// AuditResult is what the audit log keeps of a run.
type AuditResult struct {
	Done    int64 `json:"done"` // moved, committed, replayed
	Skipped int64 `json:"skipped,omitempty"`
	Failed  int64 `json:"failed,omitempty"`
	// Left is what is left to do at the end (-1: not known).
	Left           int64  `json:"left"`
	Seen           int64  `json:"seen,omitempty"`
	StoppedBecause string `json:"stopped_because,omitempty"`
	// Details are the action's own (records skipped as too large…).
	Details map[string]any `json:"details,omitempty"`
}

// AuditLog appends entries as JSON lines to a file, fsynced.
type AuditLog struct {
	Path string
	mu   sync.Mutex
}

// DefaultAuditPath is $XDG_STATE_HOME/mqops/audit.jsonl
// (~/.local/state/mqops/audit.jsonl).
func DefaultAuditPath() string {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "mqops", "audit.jsonl")
}

// NewAuditLog opens (lazily) the audit log at path, or the default.
func NewAuditLog(path string) *AuditLog {
	if path == "" {
		path = DefaultAuditPath()
	}
	return &AuditLog{Path: path}
}

// Check proves the audit log can be written before an action changes
// anything: its directory exists (it is created, 0700) and the log opens
// for appending as a regular file. A nil log cannot be written: an action
// that cannot be audited does not start.
func (a *AuditLog) Check() error {
	if a == nil {
		return errors.New("no audit log: an action that cannot be audited does not start")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	f, err := a.open()
	if err != nil {
		return fmt.Errorf("the audit log cannot be written, so nothing was done: %w", err)
	}
	return f.Close()
}

func (a *AuditLog) open() (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(a.Path), 0o700); err != nil {
		return nil, fmt.Errorf("audit log %s: %w", a.Path, err)
	}
	f, err := backends.OpenAppend(a.Path, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return f, nil
}

// Append writes one entry, filling time, user and host when empty.
func (a *AuditLog) Append(e AuditEntry) error {
	if a == nil {
		return errors.New("no audit log")
	}
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	if e.User == "" {
		e.User = osUser()
	}
	if e.Host == "" {
		e.Host, _ = os.Hostname()
	}
	line, err := marshalBounded(e)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	f, err := a.open()
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("audit log %s: %w", a.Path, err)
	}
	return f.Sync()
}

// Read returns the entries, oldest first; the last `limit` only when
// limit > 0 (memory stays bounded by limit however long the log is). A
// missing file is an empty log. A line that cannot be read — a crash
// mid-write, a line longer than MaxAuditReadLine, anything not JSON — is
// skipped and counted, never an error: one bad line does not hide the
// rest of the trail.
func (a *AuditLog) Read(limit int) ([]AuditEntry, int, error) {
	f, err := backends.OpenRegularFile(a.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("audit log: %w", err)
	}
	defer f.Close()
	var out []AuditEntry
	bad := 0
	rd := bufio.NewReaderSize(f, 64<<10)
	var line []byte
	tooLong := false
	for {
		chunk, isPrefix, err := rd.ReadLine()
		if err == io.EOF {
			break
		}
		if err != nil {
			return out, bad, fmt.Errorf("audit log %s: %w", backends.SafeText(a.Path), err)
		}
		if !tooLong {
			line = append(line, chunk...)
			if len(line) > MaxAuditReadLine {
				tooLong, line = true, line[:0]
			}
		}
		if isPrefix {
			continue
		}
		switch {
		case tooLong:
			bad++
		case len(bytes.TrimSpace(line)) == 0:
		default:
			var e AuditEntry
			if err := json.Unmarshal(line, &e); err != nil {
				bad++
			} else {
				out = append(out, e)
				if limit > 0 && len(out) > 2*limit {
					out = append(out[:0], out[len(out)-limit:]...)
				}
			}
		}
		line, tooLong = line[:0], false
	}
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, bad, nil
}

func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}
