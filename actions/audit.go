package actions

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"sync"
	"time"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/safejson"
)

// AuditEntry is one line of the audit log: what was done, by whom, where,
// with which parameters, what the plan said and how it ended. It never holds
// secrets or payloads.
type AuditEntry struct {
	Time       time.Time      `json:"time"`
	User       string         `json:"user"`
	Host       string         `json:"host"`
	Context    string         `json:"context"`
	Action     string         `json:"action"`
	RunID      string         `json:"run_id"`
	DryRun     bool           `json:"dry_run"`
	Parameters map[string]any `json:"parameters"`
	Plan       map[string]any `json:"plan,omitempty"`
	Result     map[string]any `json:"result,omitempty"`
	Outcome    string         `json:"outcome"` // ok, failed, cancelled, refused
	Error      string         `json:"error,omitempty"`
	DurationMS int64          `json:"duration_ms"`
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
	line, err := safejson.Marshal(e)
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
// limit > 0. A missing file is an empty log. A corrupt line (a crash
// mid-write) is skipped and counted.
func (a *AuditLog) Read(limit int) ([]AuditEntry, int, error) {
	f, err := os.Open(a.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("audit log %s: %w", a.Path, err)
	}
	defer f.Close()
	var out []AuditEntry
	bad := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var e AuditEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			bad++
			continue
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return out, bad, fmt.Errorf("audit log %s: %w", a.Path, err)
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
