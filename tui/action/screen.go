package action

import (
	"context"
	"strings"
	"sync/atomic"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/progress"
	"charm.land/bubbles/v2/spinner"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/mqops/mqops/actions"
)

// Screen is the action screen as its host sees it, whatever the action.
type Screen interface {
	// Update handles a key, a paste, or a message of this screen (see
	// Msg); it never blocks.
	Update(msg tea.Msg) (tea.Cmd, Event)
	// SetSize lays the screen out for a body of width × height.
	SetSize(width, height int)
	// Lines draws the body: at most the height given to SetSize, each
	// line at most its width.
	Lines() []string
	// Keys are the keys of the stage, for the footer and the help.
	Keys() []key.Binding
	// Status is the state shown in the header, longest form first.
	Status() []string
	// Broker is the broker named in the header.
	Broker() string
	// Stage is where the screen is.
	Stage() Stage
	// Busy: a plan or a run is in flight.
	Busy() bool
	// Ran: the run went to its end without an error (some items may
	// have failed).
	Ran() bool
	// Leave is called when the host closes the screen itself: a plan in
	// flight is cancelled, a plan shown is recorded as abandoned (the
	// returned command).
	Leave() tea.Cmd
	// Wait is the command that reads the run's next report or its end
	// (nil when no run is going); the screen issues it itself.
	Wait() tea.Cmd
}

// Msg is a message of a screen's commands; the host hands it to the
// screen on top, which drops it unless it is its own and still awaited.
type Msg interface{ screenID() uint64 }

var lastID atomic.Uint64

// core is the part of a screen that does not depend on the action's
// types: the form, the stage, the confirmation, the progress.
type core struct {
	id     uint64
	host   Host
	st     *Styles
	verb   string
	title  string
	broker string
	notes  []string
	prod   bool
	name   string
	what   string
	doing  string

	stage   Stage
	fields  []*field
	focus   int
	formErr string // sanitized

	spin   spinner.Model
	seq    uint64 // the plan or run awaited
	cancel context.CancelFunc

	command string // the equivalent headless command of the plan

	confirm    textinput.Model // the name typed in a prod-like context
	confirmErr string

	run        *run
	prog       actions.Progress
	progressed bool
	cancelling bool
	bar        progress.Model
	rateUnit   string
	safety     string

	err     error
	closing string

	width, height int
}

// Model is the screen of one action.
type Model[P, R any] struct {
	core
	spec    Spec[P, R]
	plan    P
	hasPlan bool
	res     R
}

var _ Screen = (*Model[int, int])(nil)

// New returns the screen of the action spec describes, on its form.
func New[P, R any](host Host, spec Spec[P, R]) *Model[P, R] {
	st := host.Styles
	m := &Model[P, R]{spec: spec}
	m.core = core{
		id: lastID.Add(1), host: host, st: &st,
		verb: spec.Verb, title: spec.Title, broker: spec.Broker, notes: spec.Notes,
		prod: spec.Prod, name: spec.Name, what: spec.What, doing: spec.Doing,
		rateUnit: spec.RateUnit, safety: spec.CancelSafety, closing: spec.CloseHint,
	}
	m.fields = newFields(spec.Fields, m.st)
	m.spin = spinner.New(spinner.WithSpinner(spinner.MiniDot), spinner.WithStyle(st.Spinner))
	m.confirm = newInput(m.st, "", "")
	m.bar = progress.New(progress.WithFillCharacters('█', '░'), progress.WithoutPercentage(),
		progress.WithColors(st.BarFull), progress.WithWidth(10))
	m.bar.EmptyColor = st.BarEmpty
	m.focusField(0)
	return m
}

func (m *core) screenID() uint64 { return m.id }

// Stage is where the screen is.
func (m *core) Stage() Stage { return m.stage }

// Busy: a plan or a run is in flight.
func (m *core) Busy() bool { return m.stage == StagePlanning || m.stage == StageRunning }

// Ran: the run went to its end without an error (some items may have
// failed).
func (m *core) Ran() bool { return m.stage == StageDone && m.err == nil }

// Broker is the broker named in the header.
func (m *core) Broker() string { return m.broker }

// Focused is the key of the field being edited.
func (m *core) Focused() string {
	if len(m.fields) == 0 {
		return ""
	}
	return m.fields[m.focus].Key
}

// FormError is the form's error, "" when there is none.
func (m *core) FormError() string { return m.formErr }

// Command is the equivalent headless command of the plan shown or run.
func (m *core) Command() string { return m.command }

// Progress is the last progress reported, and whether one was.
func (m *core) Progress() (actions.Progress, bool) { return m.prog, m.progressed }

// Cancelling: the operator cancelled the run, which has not stopped yet.
func (m *core) Cancelling() bool { return m.cancelling }

// Plan is the plan shown (or run), and whether there is one.
func (m *Model[P, R]) Plan() (P, bool) { return m.plan, m.hasPlan }

// Result is the run's result and error, once StageDone.
func (m *Model[P, R]) Result() (R, error) { return m.res, m.err }

// Values are the form's values now (trimmed).
func (m *Model[P, R]) Values() Values { return m.values() }

// SetSize lays the screen out for a body of width × height.
func (m *core) SetSize(width, height int) {
	m.width, m.height = width, height
	m.bar.SetWidth(max(min(40, width-40), 10))
	m.fitInputs()
}

// --- messages ---------------------------------------------------------------

type planMsg[P any] struct {
	id, seq uint64
	plan    P
	err     error
}

type spinMsg struct{ id, seq uint64 }

type startedMsg struct{ id, seq uint64 }

type progressMsg struct {
	id, seq uint64
	p       actions.Progress
}

type doneMsg[R any] struct {
	id, seq uint64
	res     R
	err     error
}

func (m planMsg[P]) screenID() uint64    { return m.id }
func (m spinMsg) screenID() uint64       { return m.id }
func (m startedMsg) screenID() uint64    { return m.id }
func (m progressMsg) screenID() uint64   { return m.id }
func (m doneMsg[R]) screenID() uint64    { return m.id }
func (m copiedMsg) screenID() uint64     { return m.id }
func (m abandonedMsg) screenID() uint64  { return m.id }
func (m *core) awaits(seq uint64) bool   { return seq != 0 && seq == m.seq }
func (m *core) next() uint64             { m.seq++; return m.seq }
func (m *core) noun() string             { return strings.ToLower(m.verb) }
func (m *core) errText(err error) string { return m.host.Format.Err(err) }

// copiedMsg and abandonedMsg end commands that return nothing to do.
type (
	copiedMsg    struct{ id uint64 }
	abandonedMsg struct {
		id  uint64
		err error
	}
)

// Update handles a key, a paste, or a message of this screen.
func (m *Model[P, R]) Update(msg tea.Msg) (tea.Cmd, Event) {
	if sm, ok := msg.(Msg); ok && sm.screenID() != m.id {
		return nil, Event{}
	}
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		return m.key(msg)
	case tea.PasteMsg:
		switch {
		case m.stage == StageForm && len(m.fields) > 0:
			m.formErr = ""
			return m.typeInto(m.fields[m.focus].edited(), msg), Event{}
		case m.stage == StagePlan && m.prod && m.blocked() == "":
			return m.typeInto(&m.confirm, msg), Event{}
		}
		return nil, Event{}
	case planMsg[P]:
		return m.planned(msg)
	case spinMsg:
		if !m.awaits(msg.seq) || !m.Busy() {
			return nil, Event{}
		}
		m.spin, _ = m.spin.Update(spinner.TickMsg{ID: m.spin.ID()})
		return m.host.After(m.spin.Spinner.FPS, msg), Event{}
	case startedMsg:
		if !m.awaits(msg.seq) || m.run == nil {
			return nil, Event{}
		}
		return m.run.wait(m.id, msg.seq), Event{}
	case progressMsg:
		if !m.awaits(msg.seq) || m.stage != StageRunning {
			return nil, Event{}
		}
		m.prog, m.progressed = msg.p, true
		return m.run.wait(m.id, msg.seq), Event{}
	case doneMsg[R]:
		return m.done(msg)
	case abandonedMsg:
		if msg.err != nil {
			return nil, flash(Error, "the plan not run could not be recorded in the audit log: "+m.errText(msg.err))
		}
		return nil, Event{}
	case copiedMsg:
		return nil, Event{}
	}
	// The inputs' own messages (a paste from the clipboard, ctrl+v).
	if m.stage == StageForm && len(m.fields) > 0 {
		return m.typeInto(m.fields[m.focus].edited(), msg), Event{}
	}
	return nil, Event{}
}

func (m *Model[P, R]) key(msg tea.KeyPressMsg) (tea.Cmd, Event) {
	k := msg.String()
	if m.stage == StageRunning {
		switch k {
		case "esc", "ctrl+c":
			// Cancelling asks nothing: what the target did not confirm is
			// left in the source.
			if m.cancelling {
				return nil, Event{}
			}
			m.cancelling = true
			if m.cancel != nil {
				m.cancel()
			}
			return nil, flash(Warn, "cancelling the "+m.noun()+": "+m.safety)
		case "c":
			return m.copy("the command", m.command)
		}
		return nil, Event{}
	}
	if k == "ctrl+c" {
		e := Event{Quit: true}
		return m.Leave(), e
	}
	switch m.stage {
	case StageForm:
		switch k {
		case "esc":
			return nil, Event{Close: true}
		case "enter":
			return m.startPlan()
		}
		m.formErr = ""
		return m.formKey(msg), Event{}
	case StagePlanning:
		if k == "esc" {
			m.stopPlan()
			m.stage = StageForm
			return nil, flash(Info, "plan cancelled")
		}
	case StagePlan:
		return m.planKey(msg)
	case StageDone:
		switch k {
		case "esc", "enter", "q":
			return nil, Event{Close: true, Reload: true}
		case "c":
			return m.copy("the command", m.command)
		case "i":
			return m.copy("the run id", m.outcome().RunID)
		}
	}
	return nil, Event{}
}

// planKey is the answer to the plan's confirmation: y (or the typed name,
// then enter) runs it; anything else is No and goes back to the form.
func (m *Model[P, R]) planKey(msg tea.KeyPressMsg) (tea.Cmd, Event) {
	k := msg.String()
	ok := m.blocked() == ""
	switch {
	case ok && m.prod:
		switch {
		case k == "esc":
			// No.
		case k == "enter":
			if m.confirm.Value() == m.name {
				return m.startRun()
			}
			m.confirm.SetValue("")
			m.confirmErr = "that is not the " + m.what + ": nothing was changed"
			return nil, flash(Error, m.confirmErr)
		case k == "ctrl+o":
			return m.copy("the command", m.command)
		default:
			m.confirmErr = ""
			return m.typeInto(&m.confirm, msg), Event{}
		}
	case ok && (k == "y" || k == "Y"):
		return m.startRun()
	case ok && k == "c":
		return m.copy("the command", m.command)
	}
	return m.back(), flash(Info, "not confirmed: nothing was changed")
}

// back leaves the plan shown for the form: the plan is recorded as
// abandoned.
func (m *Model[P, R]) back() tea.Cmd {
	cmd := m.abandon()
	m.stage = StageForm
	m.focusField(m.focus)
	return cmd
}

// abandon forgets the plan shown and returns the command that records it
// as not confirmed (once).
func (m *Model[P, R]) abandon() tea.Cmd {
	if !m.hasPlan {
		return nil
	}
	p, record, id := m.plan, m.spec.Abandon, m.id
	var zero P
	m.plan, m.hasPlan = zero, false
	if record == nil {
		return nil
	}
	return func() tea.Msg {
		return abandonedMsg{id: id, err: record(p)}
	}
}

// stopPlan cancels the plan in flight; its result will be dropped.
func (m *core) stopPlan() {
	if m.cancel != nil {
		m.cancel()
		m.cancel = nil
	}
	m.seq++
}

// Leave cancels a plan in flight and records a plan shown as abandoned.
func (m *Model[P, R]) Leave() tea.Cmd {
	switch m.stage {
	case StagePlanning:
		m.stopPlan()
		m.stage = StageForm
	case StagePlan:
		return m.back()
	}
	return nil
}

// copy puts text on the clipboard (OSC 52: the terminal's, through SSH
// and tmux where they pass it on).
func (m *core) copy(what, text string) (tea.Cmd, Event) {
	if text == "" {
		return nil, flash(Info, "nothing to copy: no "+strings.TrimPrefix(what, "the "))
	}
	return tea.SetClipboard(text), flash(Info, "copied "+what+" to the clipboard")
}

func (m *Model[P, R]) blocked() string {
	if !m.hasPlan {
		return "no plan"
	}
	if m.spec.Blocked == nil {
		return ""
	}
	return m.spec.Blocked(m.plan)
}

// --- plan -------------------------------------------------------------------

func (m *Model[P, R]) startPlan() (tea.Cmd, Event) {
	v, err := m.check(m.spec.Validate)
	if err != nil {
		m.formErr = m.errText(err)
		return nil, Event{}
	}
	m.formErr = ""
	m.command = ""
	if m.spec.Command != nil {
		m.command = m.spec.Command(v)
	}
	m.stage = StagePlanning
	seq := m.next()
	// No deadline on the whole plan: each call to a broker is bounded by
	// the client's timeout; esc cancels it.
	ctx, cancel := context.WithCancel(m.host.Ctx)
	m.cancel = cancel
	plan, id := m.spec.Plan, m.id
	cmd := func() tea.Msg {
		defer cancel()
		p, err := plan(ctx, v)
		return planMsg[P]{id: id, seq: seq, plan: p, err: err}
	}
	return tea.Batch(cmd, m.host.After(m.spin.Spinner.FPS, spinMsg{id: id, seq: seq})), Event{}
}

func (m *Model[P, R]) planned(msg planMsg[P]) (tea.Cmd, Event) {
	if !m.awaits(msg.seq) || m.stage != StagePlanning {
		return nil, Event{}
	}
	m.cancel = nil
	if msg.err != nil {
		m.stage = StageForm
		m.formErr = "the plan failed: " + m.errText(msg.err)
		return nil, flash(Error, m.formErr)
	}
	m.plan, m.hasPlan = msg.plan, true
	if m.spec.NameOf != nil {
		if n := m.spec.NameOf(msg.plan); n != "" {
			m.name = n
		}
	}
	m.stage = StagePlan
	m.confirm.SetValue("")
	m.confirm.Focus()
	m.confirmErr = ""
	return nil, Event{}
}

// --- run --------------------------------------------------------------------

// run connects the goroutine running the action to the screen: progress
// (the latest only: a slow frame skips reports, it never blocks the run)
// and the outcome.
type run struct {
	progress chan actions.Progress
	done     chan func(id, seq uint64) tea.Msg
}

// report is the action's progress callback: it replaces a report the
// screen has not read yet. Called from the run's goroutine only.
func (r *run) report(p actions.Progress) {
	select {
	case <-r.progress:
	default:
	}
	select {
	case r.progress <- p:
	default:
	}
}

// wait is the command that reads the next report or the outcome; the
// screen issues it again after each report.
func (r *run) wait(id, seq uint64) tea.Cmd {
	return func() tea.Msg {
		select {
		case p := <-r.progress:
			return progressMsg{id: id, seq: seq, p: p}
		case d := <-r.done:
			return d(id, seq)
		}
	}
}

// Wait is the command that reads the run's next report or its end.
func (m *core) Wait() tea.Cmd {
	if m.run == nil || m.stage != StageRunning {
		return nil
	}
	return m.run.wait(m.id, m.seq)
}

func (m *Model[P, R]) startRun() (tea.Cmd, Event) {
	m.stage = StageRunning
	seq := m.next()
	m.progressed, m.cancelling = false, false
	m.prog = actions.Progress{}
	ctx, cancel := context.WithCancel(m.host.Ctx)
	m.cancel = cancel
	r := &run{progress: make(chan actions.Progress, 1), done: make(chan func(id, seq uint64) tea.Msg, 1)}
	m.run = r
	exec, p, id := m.spec.Execute, m.plan, m.id
	start := func() tea.Msg {
		go func() {
			defer cancel()
			res, err := exec(ctx, p, r.report)
			r.done <- func(id, seq uint64) tea.Msg { return doneMsg[R]{id: id, seq: seq, res: res, err: err} }
		}()
		return startedMsg{id: id, seq: seq}
	}
	return tea.Batch(start, m.host.After(m.spin.Spinner.FPS, spinMsg{id: id, seq: seq})), Event{}
}

func (m *Model[P, R]) done(msg doneMsg[R]) (tea.Cmd, Event) {
	if !m.awaits(msg.seq) || m.stage != StageRunning {
		return nil, Event{}
	}
	m.stage = StageDone
	m.cancel = nil
	m.res, m.err = msg.res, msg.err
	switch {
	case msg.err != nil && m.cancelling:
		return nil, flash(Warn, m.noun()+" cancelled: "+m.outcome().Summary)
	case msg.err != nil:
		return nil, flash(Error, m.noun()+" failed: "+m.errText(msg.err))
	}
	return nil, flash(Info, m.noun()+" done: "+m.outcome().Summary)
}

// outcome words the run's end (StageDone).
func (m *Model[P, R]) outcome() Outcome {
	if m.spec.Outcome == nil {
		return Outcome{}
	}
	return m.spec.Outcome(m.res, m.err, m.cancelling)
}

// --- drawing ----------------------------------------------------------------

// Status is the header's state, longest form first.
func (m *core) Status() []string {
	dim := m.st.Dim.Render
	switch m.stage {
	case StagePlanning:
		return []string{m.spin.View() + " " + dim("planning…"), m.spin.View()}
	case StagePlan:
		return []string{m.st.Warn.Render("awaiting confirmation"), ""}
	case StageRunning:
		return []string{m.spin.View() + " " + m.st.Warn.Render(m.running()), m.spin.View()}
	case StageDone:
		return []string{dim("finished"), ""}
	}
	return []string{dim("options"), ""}
}

// thirdPerson is the verb's third person: "drains", "replays",
// "republishes", "retries now", "gives up" (its first word's).
func thirdPerson(verb string) string {
	first, rest, _ := strings.Cut(verb, " ")
	n := len(first)
	switch {
	case n == 0:
	case strings.HasSuffix(first, "sh"), strings.HasSuffix(first, "ch"), strings.HasSuffix(first, "s"), strings.HasSuffix(first, "x"), strings.HasSuffix(first, "z"):
		first += "es"
	case n > 1 && first[n-1] == 'y' && !strings.ContainsRune("aeiou", rune(first[n-2])):
		first = first[:n-1] + "ies"
	default:
		first += "s"
	}
	if rest != "" {
		return first + " " + rest
	}
	return first
}

// running is the verb's progressive: "draining", "replaying".
func (m *core) running() string {
	if m.doing != "" {
		return m.doing
	}
	v := m.noun()
	if strings.HasSuffix(v, "e") && !strings.HasSuffix(v, "ee") {
		v = v[:len(v)-1]
	}
	return v + "ing"
}

// Lines draws the stage's text wrapped to the width, scrolled so that what
// the operator acts on is on screen at any size: the field being typed
// into and the form's error, the planning spinner, the confirmation, the
// progress bar and its cancel hint, the result.
func (m *Model[P, R]) Lines() []string {
	var b textBlock
	b.add(m.st.Title.Render(m.title))
	b.gap()
	switch m.stage {
	case StageForm, StagePlanning:
		m.formParts(&b)
		b.gap()
		if m.formErr != "" {
			b.keep("  " + m.st.Error.Render("✗ "+m.formErr))
		}
		keys := m.st.Dim.Render("  enter plans (a dry run, changes nothing) · tab/↓ next field · shift+tab/↑ previous · ←/→ change · esc cancels")
		switch {
		case m.stage == StagePlanning:
			b.pin("  " + m.spin.View() + " " + m.st.Info.Render("planning: a dry run, nothing is changed… esc cancels"))
		case ansi.StringWidth(keys) <= m.width:
			b.add(keys) // narrower, the key hints below say it
		}
	case StagePlan:
		plan := m.planLines()
		b.keep(plan[0])
		b.add(plan[1:]...)
		m.commandPart(&b)
		b.gap()
		m.confirmParts(&b)
	case StageRunning:
		b.add(m.planLines()[0])
		b.gap()
		m.progressParts(&b)
	case StageDone:
		b.add(m.planLines()[0])
		b.gap()
		m.doneParts(&b)
	}
	return b.lines(m.width, m.height)
}

func (m *Model[P, R]) planLines() []string {
	if !m.hasPlan || m.spec.PlanLines == nil {
		return []string{""}
	}
	lines := m.spec.PlanLines(m.plan, m.st)
	if len(lines) == 0 {
		return []string{""}
	}
	return lines
}

// commandPart adds the equivalent headless command.
func (m *core) commandPart(b *textBlock) {
	if m.command == "" {
		return
	}
	b.gap()
	b.add(m.st.Dim.Render("  same as: ") + m.command)
}

// confirmParts adds the confirmation, its question (or the typed name)
// pinned.
func (m *Model[P, R]) confirmParts(b *textBlock) {
	if why := m.blocked(); why != "" {
		b.pin(m.st.Error.Render(why))
		b.keep(m.st.Dim.Render("any key goes back to the form"))
		return
	}
	q := m.verb + " " + m.spec.Question(m.plan) + "?"
	if !m.prod {
		b.pinEnd(m.st.Confirm.Render(q + " [y/N]"))
		b.keep(m.st.Dim.Render("y " + thirdPerson(m.noun()) + " · c copies the command · any other key cancels"))
		return
	}
	b.keep(m.st.Confirm.Render(q))
	b.pinEnd(m.st.Confirm.Render("This is a production context: type the "+m.what+" ("+m.name+") to confirm: ") + m.confirm.View())
	b.keep(m.st.Dim.Render("enter confirms · esc cancels · ctrl+o copies the command"))
	if m.confirmErr != "" {
		b.keep(m.st.Error.Render("✗ " + m.confirmErr))
	}
}

// progressParts adds the progress of the run, its bar pinned, and how to
// cancel it.
func (m *Model[P, R]) progressParts(b *textBlock) {
	p, f := m.prog, m.host.Format
	frac := 0.0
	if p.Total > 0 {
		frac = min(float64(p.Seen)/float64(p.Total), 1)
	}
	total := "?"
	if m.progressed {
		total = f.Count(int64(p.Total))
	}
	counts := "  " + m.bar.ViewAs(frac) + " " + f.Count(int64(p.Seen)) + "/" + total + " seen"
	if m.spec.Counts != nil {
		counts += " · " + m.spec.Counts(p)
	}
	b.pin(counts)
	b.keep("  " + f.Rate(p.Rate()) + " " + m.rateUnit + " · ETA " + f.Duration(p.ETA()) + " · elapsed " + f.Duration(p.Elapsed))
	b.gap()
	if m.cancelling {
		b.keep(m.st.Warn.Render("  cancelling… " + m.safety))
	} else {
		b.keep(m.st.Dim.Render("  esc or ctrl+c cancels (safe: " + m.safety + ")"))
	}
}

// doneParts adds the outcome, its title pinned.
func (m *Model[P, R]) doneParts(b *textBlock) {
	o := m.outcome()
	title := m.st.OK.Render(m.verb + " finished")
	switch {
	case m.err != nil && m.cancelling:
		title = m.st.Warn.Render(m.verb + " cancelled")
	case m.err != nil:
		title = m.st.Error.Render(m.verb + " failed")
	case o.Failures:
		title = m.st.Warn.Render(m.verb + " finished with failures")
	}
	b.pin(title)
	for _, l := range o.Lines {
		b.keep("  " + l)
	}
	if m.err != nil {
		b.keep("  " + m.st.Error.Render("✗ "+m.errText(m.err)))
	}
	m.commandPart(b)
	b.gap()
	b.add(m.st.Dim.Render("  " + m.closing))
}

// Keys are the keys of the stage: the screen takes every key.
func (m *Model[P, R]) Keys() []key.Binding {
	h := func(k, desc string) key.Binding { return key.NewBinding(key.WithKeys(k), key.WithHelp(k, desc)) }
	switch m.stage {
	case StagePlanning:
		return []key.Binding{h("esc", "cancel the plan")}
	case StagePlan:
		switch {
		case m.blocked() != "":
			return []key.Binding{h("any key", "back to the form")}
		case m.prod:
			return []key.Binding{h("type", "the "+m.what), h("enter", "confirm"), h("esc", "cancel"), h("ctrl+o", "copy command")}
		}
		return []key.Binding{h("y", m.noun()), h("c", "copy command"), h("any other key", "cancel")}
	case StageRunning:
		return []key.Binding{h("esc", "cancel (safe)"), h("c", "copy command")}
	case StageDone:
		return []key.Binding{h("enter/esc", "close"), h("c", "copy command"), h("i", "copy run id")}
	}
	return []key.Binding{h("enter", "plan (dry run)"), h("tab/↓", "next field"), h("←/→", "change"), h("esc", "cancel")}
}
