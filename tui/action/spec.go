// Package action is the console's one action screen: a form, the plan (a
// dry run that changes nothing), its confirmation, the progress of the run
// and its result, configured for each action by a Spec.
//
// The screen knows no action and no view: a Spec gives it the fields, and
// the callbacks that validate them, plan, execute, and record a plan shown
// and not confirmed (Abandon), with the text of the equivalent headless
// command. Adding an action to the console is an actions function, a Spec
// and a cobra command.
//
// Stages: form → planning → plan (with its confirmation: y, or the typed
// name of what it acts on in a red, prod-like context) → progress → result.
// esc goes back a stage where that is safe (from the plan to the form,
// cancelling a plan in flight); in the progress stage esc and ctrl+c
// cancel the run (its context) and the screen waits for it to stop.
//
// No I/O in Update or in drawing: the plan, the run, the record of an
// abandoned plan and the clipboard are tea.Cmds; their results come back
// as messages tagged with the screen and the request (a stale one is
// dropped); the run's progress comes through a channel that a command
// drains, one report at a time, never blocking Update nor the run.
package action

import (
	"context"
	"strings"
	"time"
	"unicode"

	tea "charm.land/bubbletea/v2"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
)

// Spec configures the screen for one action. P is the action's plan (with
// whatever the run needs: its options), R its result.
type Spec[P, R any] struct {
	// Verb names the action in the screen's sentences: "Drain" gives
	// "Drain finished", "drain failed: …", "cancelling the drain".
	Verb string
	// Title is the first line (sanitized by the spec), Broker the broker
	// named in the header.
	Title, Broker string
	// Fields are the form's fields, in tab order.
	Fields []Field
	// Notes are lines under the form's fields (sanitized).
	Notes []string
	// Prod asks for a typed confirmation: the operator types Name, What
	// says what it is ("queue name", "topic name": "type the queue name
	// (orders.dlq)"). Elsewhere y confirms and any other key is No.
	Prod       bool
	Name, What string
	// NameOf, if set, is the Name of a plan, for what is only known once
	// the form is planned (a replay's target topic, typed in the form);
	// "" keeps Name.
	NameOf func(p P) string
	// Doing is the verb's progressive for the header ("resetting"); "":
	// Verb + "ing" ("draining").
	Doing string

	// Validate checks the form as a whole once every field passed its own
	// Check; a *FieldError puts the focus on its field. nil: no check.
	Validate func(v Values) error
	// Command is the equivalent headless command of a valid form: one
	// line, shell-quoted, without secrets and without --yes. "": none.
	Command func(v Values) string
	// Plan makes the plan (a dry run: it changes nothing). It runs in a
	// command, cancelled when the operator goes back.
	Plan func(ctx context.Context, v Values) (P, error)
	// PlanLines draw the plan (sanitized); the first, its head, stays on
	// the progress and result stages.
	PlanLines func(p P, st *Styles) []string
	// Question is the scope the confirmation states: "Drain <Question>?".
	Question func(p P) string
	// Blocked says why the plan cannot be confirmed ("": it can).
	Blocked func(p P) string
	// Abandon records a plan that was shown and not confirmed (a dry run
	// in the audit log; a refusal when it could not be confirmed). It runs
	// in a command, once per plan shown; its error (the log could not be
	// written) is flashed.
	Abandon func(p P) error
	// Execute runs the confirmed plan, reporting progress (from its own
	// goroutine); ctx is cancelled when the operator cancels.
	Execute func(ctx context.Context, p P, progress func(actions.Progress)) (R, error)
	// Counts are the progress counts after the seen/total ("moved 3 ·
	// failed 0"), RateUnit the unit of the rate ("msg/s").
	Counts   func(p actions.Progress) string
	RateUnit string
	// CancelSafety says why cancelling the run loses nothing.
	CancelSafety string
	// Outcome words the run's end; cancelled says the operator cancelled.
	Outcome func(r R, err error, cancelled bool) Outcome
	// CloseHint is the result stage's hint ("enter or esc closes and
	// reloads the queue").
	CloseHint string
}

// Outcome is how a run ended, as the result stage and the flash say it.
type Outcome struct {
	// Summary is one line: the counts and the run id.
	Summary string
	// Lines are the result's lines (the counts, why it stopped).
	Lines []string
	// RunID is the run's id ("" when the run did not start).
	RunID string
	// Failures: it finished, but some items failed.
	Failures bool
}

// Field is one field of the form: a text input (Options empty) or a choice
// of Options (←/→), whose option may take a typed argument.
type Field struct {
	Key, Label string
	// Hint is shown after the field (dim) when it fits; Placeholder in
	// the empty input.
	Hint, Placeholder string
	// Value is the initial text of a text field.
	Value string
	// Check validates a text field's text (trimmed): every number finite
	// and in range. Its error is shown as the form's error and focuses the
	// field.
	Check func(text string) error
	// Options make the field a choice; Chosen is the initial one.
	Options []Option
	Chosen  int
}

// Option is one choice of a choice field.
type Option struct {
	Value, Label string
	// Hint replaces the field's hint while the option is chosen.
	Hint string
	// Arg, when set, labels a text typed with this option (an exchange
	// name, a path); Check validates it (trimmed).
	Arg   string
	Check func(arg string) error
}

// FieldError is an error of one field: the form shows Msg and focuses
// the field.
type FieldError struct {
	Field, Msg string
}

func (e *FieldError) Error() string { return e.Msg }

// Values are the form's values when it was planned (trimmed).
type Values struct {
	text   map[string]string
	choice map[string]string
	arg    map[string]string
}

// Text is the text of a text field.
func (v Values) Text(key string) string { return v.text[key] }

// Choice is the value of the option chosen in a choice field.
func (v Values) Choice(key string) string { return v.choice[key] }

// Arg is the argument typed with the option chosen in a choice field.
func (v Values) Arg(key string) string { return v.arg[key] }

// Stage is where the screen is.
type Stage int

// The stages, in order.
const (
	StageForm     Stage = iota // editing the fields
	StagePlanning              // the plan is being made
	StagePlan                  // the plan is shown and waits for its confirmation
	StageRunning               // the run is going
	StageDone                  // the result is shown
)

// Level is the level of a flash.
type Level int

// Flash levels.
const (
	Info Level = iota
	Warn
	Error
)

// Event is what the screen asks of its host after a message.
type Event struct {
	// Flash, when Text is set, is a message for the flash line
	// (sanitized).
	Flash struct {
		Level Level
		Text  string
	}
	// Close: the host closes the screen; Reload: and reloads the view
	// below (the run changed it).
	Close, Reload bool
	// Quit: the operator quit (ctrl+c) outside a run.
	Quit bool
}

func flash(l Level, text string) Event {
	var e Event
	e.Flash.Level, e.Flash.Text = l, text
	return e
}

// Format formats numbers and errors as the console does.
type Format struct {
	Count    func(int64) string
	Rate     func(float64) string
	Duration func(time.Duration) string
	// Err words an error: secrets redacted, sanitized.
	Err func(error) string
}

// Host is what the screen needs from the console.
type Host struct {
	// Ctx is the parent of every plan and run (cancelled when the console
	// ends).
	Ctx    context.Context
	Styles Styles
	Format Format
	// After delivers msg after d (tests fire it by hand).
	After func(d time.Duration, msg tea.Msg) tea.Cmd
}

// cleanInput drops from typed or pasted text what must not be typed into
// a one-line field: control characters, bidi controls and the other runes
// backends.UnsafeRune names; a pasted tab or line break becomes a space
// (the values are trimmed).
func cleanInput(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return ' '
		case backends.UnsafeRune(r) || unicode.IsControl(r):
			return -1
		}
		return r
	}, s)
}
