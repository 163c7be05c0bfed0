package action

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/mqops/mqops/actions"
)

// shelf is a test double of a broker for a toy action, "move": it moves
// the items of one list to another, one at a time; a gate, when set,
// holds each move until the test sends a token (or the run is
// cancelled), and a cancelled run stops with what it moved.
type shelf struct {
	mu        sync.Mutex
	from, to  []string
	gate      chan struct{}
	planCalls int
	abandoned []movePlan
	// abandonErr is what recording an abandoned plan returns
	abandonErr error
}

type movePlan struct {
	count int
	rate  float64
	to    string
}

type moveResult struct {
	runID        string
	moved, left  int
	stoppedEarly bool
}

func newShelf(n int) *shelf {
	s := &shelf{}
	for i := 0; i < n; i++ {
		s.from = append(s.from, "item-"+strconv.Itoa(i))
	}
	return s
}

func (s *shelf) plan(_ context.Context, v Values) (movePlan, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.planCalls++
	n := len(s.from)
	if l, _ := strconv.Atoi(v.Text("limit")); l > 0 && l < n {
		n = l
	}
	r, _ := strconv.ParseFloat(v.Text("rate"), 64)
	to := v.Choice("to")
	if to == "list" {
		to = "list:" + v.Arg("to")
	}
	return movePlan{count: n, rate: r, to: to}, nil
}

func (s *shelf) execute(ctx context.Context, p movePlan, progress func(actions.Progress)) (moveResult, error) {
	res := moveResult{runID: "20260314T093000-0123456789ab"}
	var err error
	for i := 0; i < p.count; i++ {
		if s.gate != nil {
			select {
			case <-s.gate:
			case <-ctx.Done():
			}
		}
		if err = ctx.Err(); err != nil {
			res.stoppedEarly = true
			break
		}
		s.mu.Lock()
		s.to, s.from = append(s.to, s.from[0]), s.from[1:]
		s.mu.Unlock()
		res.moved++
		progress(actions.Progress{Done: res.moved, Seen: res.moved, Total: p.count, Elapsed: time.Duration(res.moved) * 200 * time.Millisecond})
	}
	s.mu.Lock()
	res.left = len(s.from)
	s.mu.Unlock()
	return res, err
}

// moveSpec is the toy action's spec; prod asks for the typed name.
func moveSpec(s *shelf, prod bool) Spec[movePlan, moveResult] {
	return Spec[movePlan, moveResult]{
		Verb: "Move", Title: "Move the items of shelf-a", Broker: "shelf-1.test",
		Fields: []Field{
			{Key: "to", Label: "Target", Options: []Option{
				{Value: "shelf-b", Label: "shelf-b", Hint: "the next shelf"},
				{Value: "list", Label: "list", Arg: "name", Check: func(a string) error {
					if a == "" {
						return errors.New("type the list's name or choose another target")
					}
					return nil
				}},
			}},
			{Key: "limit", Label: "Limit", Hint: "at most N items; empty: all", Check: func(s string) error {
				if n, err := strconv.Atoi(s); s != "" && (err != nil || n < 1 || n > 1000) {
					return fmt.Errorf("Limit %q: want a whole number from 1 to 1,000", s)
				}
				return nil
			}},
			{Key: "rate", Label: "Rate", Hint: "at most N items/s; empty: unlimited", Check: func(s string) error {
				if r, err := strconv.ParseFloat(s, 64); s != "" && (err != nil || math.IsNaN(r) || math.IsInf(r, 0) || r < 0.01 || r > 1e6) {
					return fmt.Errorf("Rate %q: want items per second from 0.01 to 1,000,000", s)
				}
				return nil
			}},
		},
		Notes: []string{"items are moved in order, one at a time"},
		Prod:  prod, Name: "shelf-a", What: "shelf name",
		Validate: func(v Values) error {
			if v.Choice("to") == "list" && v.Arg("to") == "shelf-a" {
				return &FieldError{Field: "to", Msg: "that is the shelf itself"}
			}
			return nil
		},
		Command: func(v Values) string {
			cmd := "mqops move shelf-a --to " + v.Choice("to")
			if a := v.Arg("to"); a != "" {
				cmd += ":" + a
			}
			if l := v.Text("limit"); l != "" {
				cmd += " --limit " + l
			}
			return cmd + " --context dev"
		},
		Plan: s.plan,
		PlanLines: func(p movePlan, st *Styles) []string {
			return []string{fmt.Sprintf("plan: shelf-a → %s: %d item(s) to move", p.to, p.count), "  the first: item-0"}
		},
		Question: func(p movePlan) string { return fmt.Sprintf("%d item(s) from shelf-a to %s", p.count, p.to) },
		Blocked: func(p movePlan) string {
			if p.count == 0 {
				return "nothing to move: the shelf is empty"
			}
			return ""
		},
		Abandon: func(p movePlan) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.abandoned = append(s.abandoned, p)
			return s.abandonErr
		},
		Execute:      s.execute,
		Counts:       func(p actions.Progress) string { return "moved " + strconv.Itoa(p.Done) },
		RateUnit:     "items/s",
		CancelSafety: "an item is moved whole or not at all",
		Outcome: func(r moveResult, err error, cancelled bool) Outcome {
			line := fmt.Sprintf("run %s: moved %d, left %d", r.runID, r.moved, r.left)
			stopped := "stopped: every item of the plan moved"
			if r.stoppedEarly {
				stopped = "stopped: cancelled"
			}
			return Outcome{Summary: line, Lines: []string{line, stopped}, RunID: r.runID}
		},
		CloseHint: "enter or esc closes",
	}
}

// delayed is a timer the test fires by hand, or not.
type delayed struct{ msg tea.Msg }

// rig drives a screen with direct Update calls.
type rig struct {
	t      *testing.T
	s      *Model[movePlan, moveResult]
	shelf  *shelf
	events []Event
	copied []string
	timers []delayed
}

func newRig(t *testing.T, n int, prod bool) *rig {
	t.Helper()
	r := &rig{t: t, shelf: newShelf(n)}
	host := Host{
		Ctx: context.Background(),
		Styles: Styles{
			Title: lipgloss.NewStyle().Bold(true), Error: lipgloss.NewStyle().Foreground(lipgloss.Red),
			BarFull: lipgloss.Cyan, BarEmpty: lipgloss.BrightBlack, CursorText: lipgloss.Cyan,
		},
		Format: Format{
			Count:    func(n int64) string { return strconv.FormatInt(n, 10) },
			Rate:     func(r float64) string { return strconv.FormatFloat(r, 'f', 1, 64) },
			Duration: func(d time.Duration) string { return d.Round(time.Second).String() },
			Err:      func(err error) string { return err.Error() },
		},
		After: func(_ time.Duration, msg tea.Msg) tea.Cmd { return func() tea.Msg { return delayed{msg} } },
	}
	r.s = New(host, moveSpec(r.shelf, prod))
	r.s.SetSize(120, 30)
	return r
}

// send delivers msg and runs the commands that follow, timers aside;
// run reports (the run's progress) are delivered too, so a run without a
// gate goes to its end.
func (r *rig) send(msg tea.Msg) {
	r.t.Helper()
	cmd, ev := r.s.Update(msg)
	r.events = append(r.events, ev)
	r.run(cmd)
}

func (r *rig) run(cmd tea.Cmd) {
	r.t.Helper()
	for _, msg := range execCmd(cmd) {
		switch m := msg.(type) {
		case delayed:
			r.timers = append(r.timers, m)
		case nil:
		default:
			if fmt.Sprintf("%T", msg) == "tea.setClipboardMsg" {
				r.copied = append(r.copied, fmt.Sprint(msg))
				continue
			}
			r.send(msg)
		}
	}
}

func execCmd(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	msg := cmd()
	if b, ok := msg.(tea.BatchMsg); ok {
		var out []tea.Msg
		for _, c := range b {
			out = append(out, execCmd(c)...)
		}
		return out
	}
	return []tea.Msg{msg}
}

func (r *rig) keys(ks ...string) {
	r.t.Helper()
	for _, k := range ks {
		r.send(keyPress(k))
	}
}

func (r *rig) typeText(s string) {
	r.t.Helper()
	for _, c := range s {
		r.send(tea.KeyPressMsg{Code: c, Text: string(c)})
	}
}

func keyPress(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "ctrl+c", "ctrl+o", "ctrl+u":
		return tea.KeyPressMsg{Code: rune(k[len(k)-1]), Mod: tea.ModCtrl}
	}
	return tea.KeyPressMsg{Code: []rune(k)[0], Text: k}
}

// lastFlash is the text of the last flash the screen asked for.
func (r *rig) lastFlash() string {
	for i := len(r.events) - 1; i >= 0; i-- {
		if t := r.events[i].Flash.Text; t != "" {
			return t
		}
	}
	return ""
}

// frame draws the screen at w × h, checks that it fits and returns it as
// plain text.
func (r *rig) frame(w, h int) string {
	r.t.Helper()
	r.s.SetSize(w, h)
	lines := r.s.Lines()
	if len(lines) > h {
		r.t.Errorf("%d×%d: %d lines", w, h, len(lines))
	}
	for i, l := range lines {
		if lw := ansi.StringWidth(l); lw > w {
			r.t.Errorf("%d×%d: line %d is %d cells wide: %q", w, h, i, lw, ansi.Strip(l))
		}
	}
	return ansi.Strip(strings.Join(lines, "\n"))
}

// running starts the confirmed plan with a gate and lets n items through.
func (r *rig) running(n int) (wait tea.Cmd) {
	r.t.Helper()
	r.shelf.gate = make(chan struct{})
	cmd, _ := r.s.Update(keyPress("y"))
	for _, msg := range execCmd(cmd) { // started, and the spinner's timer
		if _, ok := msg.(delayed); !ok {
			cmd, _ = r.s.Update(msg)
		}
	}
	for i := 0; i < n; i++ {
		r.shelf.gate <- struct{}{}
		for _, msg := range execCmd(cmd) {
			cmd, _ = r.s.Update(msg)
		}
	}
	if r.s.Stage() != StageRunning {
		r.t.Fatalf("not running: stage %d", r.s.Stage())
	}
	return cmd
}

// finish delivers the run's reports until its end.
func (r *rig) finish(wait tea.Cmd) {
	r.t.Helper()
	for i := 0; r.s.Stage() == StageRunning && i < 100; i++ {
		msgs := execCmd(wait)
		wait = nil
		for _, msg := range msgs {
			var ev Event
			wait, ev = r.s.Update(msg)
			r.events = append(r.events, ev)
		}
	}
	if r.s.Stage() != StageDone {
		r.t.Fatalf("the run did not end: stage %d", r.s.Stage())
	}
}

// TestGoldenStages draws each stage of the screen at 80 and 120 columns
// (testdata/TestGoldenStages; go test ./tui/action -update regenerates).
func TestGoldenStages(t *testing.T) {
	cases := []struct {
		name  string
		prod  bool
		setup func(r *rig)
	}{
		{name: "form", setup: func(r *rig) {
			r.keys("tab")
			r.typeText("10")
		}},
		{name: "form_field_error", setup: func(r *rig) {
			r.keys("tab", "tab")
			r.typeText("NaN")
			r.keys("enter")
		}},
		{name: "planning", setup: func(r *rig) {
			r.s.Update(keyPress("enter")) // the plan is not run
		}},
		{name: "plan", setup: func(r *rig) {
			r.keys("right")
			r.typeText("archive")
			r.keys("enter")
		}},
		{name: "plan_blocked", setup: func(r *rig) {
			r.shelf.from = nil
			r.keys("enter")
		}},
		{name: "confirm_red", prod: true, setup: func(r *rig) {
			r.keys("enter")
			r.typeText("shelf-")
		}},
		{name: "confirm_red_wrong", prod: true, setup: func(r *rig) {
			r.keys("enter")
			r.typeText("shelf-b")
			r.keys("enter")
		}},
		{name: "progress", setup: func(r *rig) {
			r.keys("enter")
			wait := r.running(3)
			r.t.Cleanup(func() { r.s.Update(keyPress("esc")); r.finish(wait) })
		}},
		{name: "result", setup: func(r *rig) {
			r.keys("enter", "y")
		}},
		{name: "cancelled", setup: func(r *rig) {
			r.keys("enter")
			wait := r.running(2)
			r.send(keyPress("esc"))
			r.finish(wait)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, 5, c.prod)
			c.setup(r)
			for _, w := range []int{80, 120} {
				t.Run(strconv.Itoa(w), func(st *testing.T) {
					r.t = st
					golden.RequireEqual(st, r.frame(w, 20))
				})
			}
			r.t = t
		})
	}
}

// TestFormChecksAndValues: a field's check and the spec's Validate stop
// the plan with the error shown and the field focused; the values are
// trimmed; typed and pasted text is cleaned of control characters and
// bidi controls.
func TestFormChecksAndValues(t *testing.T) {
	r := newRig(t, 5, false)
	r.keys("tab", "tab")
	r.typeText("1e300")
	r.keys("shift+tab", "shift+tab", "enter")
	if r.s.Stage() != StageForm || r.s.Focused() != "rate" || !strings.Contains(r.s.FormError(), `Rate "1e300"`) || r.shelf.planCalls != 0 {
		t.Fatalf("a rate out of range was planned: stage %d focus %s error %q", r.s.Stage(), r.s.Focused(), r.s.FormError())
	}
	r.keys("ctrl+u", "tab", "right") // the target: list
	r.keys("enter")
	if r.s.Focused() != "to" || !strings.Contains(r.s.FormError(), "type the list's name") {
		t.Fatalf("an empty argument: focus %s error %q", r.s.Focused(), r.s.FormError())
	}
	r.send(tea.PasteMsg{Content: "  shelf-a\n"})
	r.keys("enter")
	if r.s.Focused() != "to" || r.s.FormError() != "that is the shelf itself" || r.shelf.planCalls != 0 {
		t.Fatalf("Validate: focus %s error %q", r.s.Focused(), r.s.FormError())
	}
	r.keys("ctrl+u")
	r.send(tea.PasteMsg{Content: "arch\x1b[2J\u202eive\x9b\tx"})
	r.typeText("\x07")
	if got := r.s.Values().Arg("to"); got != "arch[2Jive x" {
		t.Fatalf("pasted argument %q", got)
	}
	r.keys("enter")
	if p, ok := r.s.Plan(); !ok || p.to != "list:arch[2Jive x" || r.s.Stage() != StagePlan {
		t.Fatalf("plan %+v %v, stage %d", p, ok, r.s.Stage())
	}
}

// TestStaleResultsDropped: the result of a plan the operator cancelled,
// and the messages of another screen, change nothing.
func TestStaleResultsDropped(t *testing.T) {
	r := newRig(t, 5, false)
	cmd, _ := r.s.Update(keyPress("enter"))
	msgs := execCmd(cmd) // the plan's result, and the spinner's timer
	r.keys("esc")
	if r.s.Stage() != StageForm || r.lastFlash() != "plan cancelled" {
		t.Fatalf("esc while planning: stage %d, flash %q", r.s.Stage(), r.lastFlash())
	}
	for _, m := range msgs {
		if d, ok := m.(delayed); ok {
			m = d.msg
		}
		r.s.Update(m)
	}
	if _, ok := r.s.Plan(); ok || r.s.Stage() != StageForm {
		t.Fatalf("a cancelled plan's result was shown: stage %d", r.s.Stage())
	}
	// A second screen's plan goes to it alone.
	other := newRig(t, 2, false)
	cmd, _ = other.s.Update(keyPress("enter"))
	for _, m := range execCmd(cmd) {
		if _, ok := m.(delayed); !ok {
			r.s.Update(m)
		}
	}
	if r.s.Stage() != StageForm {
		t.Fatalf("another screen's plan reached this one: stage %d", r.s.Stage())
	}
}

// TestAbandonedPlanRecordedOnce: every way out of a plan shown other
// than confirming it (No, esc, a blocked plan's any key, leaving, ctrl+c)
// records it once; a confirmed plan is not.
func TestAbandonedPlanRecordedOnce(t *testing.T) {
	r := newRig(t, 5, false)
	r.keys("enter", "n")
	r.keys("enter", "esc")
	if n := len(r.shelf.abandoned); n != 2 || r.s.Stage() != StageForm || r.lastFlash() != "not confirmed: nothing was changed" {
		t.Fatalf("%d abandoned, stage %d, flash %q", n, r.s.Stage(), r.lastFlash())
	}
	r.keys("enter")
	r.run(r.s.Leave())
	r.run(r.s.Leave()) // once
	if n := len(r.shelf.abandoned); n != 3 {
		t.Fatalf("leaving: %d abandoned", n)
	}
	q := newRig(t, 5, true)
	q.keys("enter")
	cmd, ev := q.s.Update(keyPress("ctrl+c"))
	if !ev.Quit || cmd == nil {
		t.Fatalf("ctrl+c on the plan: quit %v, record %v", ev.Quit, cmd != nil)
	}
	q.run(cmd)
	if len(q.shelf.abandoned) != 1 {
		t.Fatalf("ctrl+c: %d abandoned", len(q.shelf.abandoned))
	}
	empty := newRig(t, 0, false)
	empty.keys("enter", "y") // blocked: any key is No
	if empty.s.Stage() != StageForm || len(empty.shelf.abandoned) != 1 {
		t.Fatalf("blocked plan: stage %d, %d abandoned", empty.s.Stage(), len(empty.shelf.abandoned))
	}
	r.keys("enter", "y")
	if r.s.Stage() != StageDone || len(r.shelf.abandoned) != 3 {
		t.Fatalf("a confirmed plan: stage %d, %d abandoned", r.s.Stage(), len(r.shelf.abandoned))
	}
	// A record that cannot be written is said, not swallowed.
	bad := newRig(t, 5, false)
	bad.shelf.abandonErr = errors.New("audit log: disk full")
	bad.keys("enter", "n")
	if f := bad.lastFlash(); f != "the plan not run could not be recorded in the audit log: audit log: disk full" {
		t.Errorf("a failed record: flash %q", f)
	}
}

// TestCancelWaitsForTheRun: esc and ctrl+c cancel the run's context and
// the screen stays on the run until it has stopped; what it did is the
// result.
func TestCancelWaitsForTheRun(t *testing.T) {
	for _, k := range []string{"esc", "ctrl+c"} {
		t.Run(k, func(t *testing.T) {
			r := newRig(t, 5, false)
			r.keys("enter")
			wait := r.running(2)
			cmd, ev := r.s.Update(keyPress(k))
			if cmd != nil || ev.Quit || ev.Close || !r.s.Cancelling() || r.s.Stage() != StageRunning {
				t.Fatalf("%s: quit %v close %v cancelling %v stage %d", k, ev.Quit, ev.Close, r.s.Cancelling(), r.s.Stage())
			}
			if !strings.Contains(r.frame(80, 20), "cancelling… an item is moved whole or not at all") {
				t.Errorf("no cancelling notice:\n%s", r.frame(80, 20))
			}
			r.finish(wait)
			res, err := r.s.Result()
			if !errors.Is(err, context.Canceled) || res.moved != 2 || res.left != 3 || !res.stoppedEarly {
				t.Fatalf("result %+v %v", res, err)
			}
			if f := r.lastFlash(); !strings.HasPrefix(f, "move cancelled: run 20260314T093000-0123456789ab: moved 2") {
				t.Errorf("flash %q", f)
			}
			r.keys("esc")
			if ev := r.events[len(r.events)-1]; !ev.Close || !ev.Reload {
				t.Errorf("esc on the result: %+v", ev)
			}
		})
	}
}

// TestProgressNeverBlocksTheRun: reports nobody reads replace each other;
// the one read is the latest.
func TestProgressNeverBlocksTheRun(t *testing.T) {
	r := &run{progress: make(chan actions.Progress, 1), done: make(chan func(id, seq uint64) tea.Msg, 1)}
	for i := 1; i <= 10000; i++ {
		r.report(actions.Progress{Done: i})
	}
	msg := r.wait(1, 1)()
	if p, ok := msg.(progressMsg); !ok || p.p.Done != 10000 {
		t.Fatalf("read %#v", msg)
	}
}

// TestCopy: the command and the run id go to the clipboard (OSC 52);
// where a name is typed, c is typed and ctrl+o copies.
func TestCopy(t *testing.T) {
	r := newRig(t, 5, false)
	r.keys("tab")
	r.typeText("3")
	r.keys("enter", "c")
	if r.s.Stage() != StagePlan || len(r.copied) != 1 || r.copied[0] != "mqops move shelf-a --to shelf-b --limit 3 --context dev" {
		t.Fatalf("c on the plan: stage %d, copied %q", r.s.Stage(), r.copied)
	}
	r.keys("y", "i", "c")
	if len(r.copied) != 3 || r.copied[1] != "20260314T093000-0123456789ab" || r.copied[2] != r.copied[0] {
		t.Fatalf("copied %q", r.copied)
	}
	p := newRig(t, 5, true)
	p.keys("enter", "c")
	if len(p.copied) != 0 || p.s.Stage() != StagePlan {
		t.Fatalf("c in a typed confirmation copied %q", p.copied)
	}
	p.keys("ctrl+o")
	if len(p.copied) != 1 || !strings.HasPrefix(p.copied[0], "mqops move shelf-a") {
		t.Fatalf("ctrl+o copied %q", p.copied)
	}
}

func TestThirdPerson(t *testing.T) {
	for verb, want := range map[string]string{"drain": "drains", "replay": "replays", "reset": "resets", "resend": "resends",
		"republish": "republishes", "retry now": "retries now", "give up": "gives up", "fix": "fixes"} {
		if got := thirdPerson(verb); got != want {
			t.Errorf("thirdPerson(%q) = %q, want %q", verb, got, want)
		}
	}
}
