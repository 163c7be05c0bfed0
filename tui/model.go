package tui

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"time"

	"charm.land/bubbles/v2/spinner"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/lag"
	"github.com/mqops/mqops/tui/action"
	"github.com/mqops/mqops/tui/components"
	"github.com/mqops/mqops/tui/keys"
	"github.com/mqops/mqops/tui/styles"
)

// Options configure the console.
type Options struct {
	Context  string               // context name shown in the header
	Color    string               // context colour: red/yellow/green/blue/magenta/cyan/#rrggbb/""
	ReadOnly bool                 // shows a READ-ONLY badge
	Cluster  string               // cluster name (bootstrap) for the header
	Kafka    backends.KafkaSource // may be nil: the views then say no Kafka is configured
	// Rabbit is the RabbitMQ broker of the :queues and :dlq views; nil: the
	// views say no RabbitMQ is configured.
	Rabbit RabbitSource
	// NoRabbit, with Rabbit nil, says why there is no RabbitMQ (the demo
	// names the broker it tried and what to pass); the RabbitMQ views show
	// it instead of the configuration advice.
	NoRabbit string
	// KafkaDLQ finds and reads the Kafka dead-letter topics of :dlq (next to
	// RabbitMQ's DLQs); *kafka.Client satisfies it. nil: :dlq lists only
	// RabbitMQ's DLQs.
	KafkaDLQ backends.KafkaDeadLetters
	// Refresh is the period between snapshots (default 5s), with ±10%
	// jitter; a view never has two refreshes in flight.
	Refresh time.Duration
	// Timeout bounds each snapshot call (default 10s).
	Timeout time.Duration
	// Contexts are the context names offered by :ctx.
	Contexts []string
	// CheckContext says whether the console can reopen on the named
	// context (its configuration and credentials resolve; no network I/O).
	// It runs in a command; when it returns nil the console ends with
	// Exit.Context set, and the caller reopens it there. nil: :ctx tells
	// the operator to restart with --context.
	CheckContext func(name string) error
	// StartView is "groups" (default), "topics", "queues", "dlq" or "audit".
	StartView string
	// Now is the clock (default time.Now); tests inject a fixed one.
	Now func() time.Time
	// programOptions are added to the program's (tests give it their
	// input and output instead of the terminal).
	programOptions []tea.ProgramOption
	// Drainer moves RabbitMQ dead letters (view_drain.go); cmd passes the
	// same *rabbitmq.Client as Rabbit. nil: no drain. In a ReadOnly context
	// the drain is absent (no `D` key, no help line) whatever Drainer is.
	// A context whose Color is "red" is prod-like: the operator types the
	// queue name to confirm a drain.
	Drainer actions.RabbitDrainer
	// KafkaDrainer moves the records of Kafka dead-letter topics (`D` on a
	// Kafka row of :dlq or in a topic's dead-letter groups); cmd passes the
	// same *kafka.Client as KafkaDLQ. nil: no Kafka drain. Absent in a
	// ReadOnly context whatever is set, as Drainer.
	KafkaDrainer backends.KafkaDeadLetters
	// KafkaResetter moves consumer groups' offsets (`R` in the groups and
	// group views, reset_spec.go); cmd passes the same *kafka.Client as
	// Kafka. nil: no reset. Absent in a ReadOnly context whatever is set,
	// as the drains.
	KafkaResetter backends.KafkaOffsetResetter
	// KafkaReplayer replays ranges of topics into other topics (`P` in the
	// topics and topic views, replay_spec.go); cmd passes the same
	// *kafka.Client as Kafka. nil: no replay. Absent in a ReadOnly context
	// whatever is set, as the drains. KafkaBrokers are the context's
	// bootstrap brokers as `mqops replay` reads them: a run's checkpoint
	// keeps them, and `mqops replay --resume` goes on only there.
	KafkaReplayer backends.KafkaReplayer
	KafkaBrokers  []string
	// Audit is the audit log: drains append to it, :audit shows it. cmd
	// passes actions.NewAuditLog(path) (path: --audit-file or the default).
	// nil: drains are not recorded and :audit says there is no log.
	Audit *actions.AuditLog
	// CommandArgs are the global flags that select this context on a
	// command line ("--context", "prod"; the --brokers… of a context given
	// by flags): the start of an action's equivalent headless command,
	// shown on its screen and recorded in the audit log. Never a secret.
	CommandArgs []string
	// OpenStore opens the application's database (its sending, retry and
	// idempotency tables) of :pending and :retry; cmd passes storeOf. It
	// runs in a command, the first time a view or an action needs the
	// database (the console starts at once whatever the database does),
	// and again after a failure; the console closes what it opened when
	// it ends. nil: the views say how to configure one (NoStore, when
	// set, says why there is none).
	OpenStore func(ctx context.Context) (StoreSource, error)
	// StoreName names the database before it is open ("postgres, preset
	// mqops"); never a secret.
	StoreName string
	NoStore   string
	// StoreRoute is where the rows' destinations are published (the
	// context's store.route): a Kafka topic, or a RabbitMQ exchange and
	// routing key. :pending shows the backlog there beside each
	// destination; a resend and a republish publish there.
	StoreRoute backends.Route
	// KafkaPublisher and RabbitPublisher publish with the broker's
	// confirms (a resend, a republish), the one of StoreRoute's broker;
	// cmd passes the *kafka.Client and the *rabbitmq.Client. nil: no
	// resend nor republish. Absent in a ReadOnly context whatever is
	// set, as the drains.
	KafkaPublisher  backends.Publisher
	RabbitPublisher backends.Publisher
	// CommandContext is the name of the context CommandArgs select, when
	// it is not Context (the demo's --brokers select the config's current
	// context, else "flags"): a replay's checkpoint records it, so that
	// its `mqops replay --resume` is of the same context. "": Context.
	CommandContext string
}

var _ tea.Model = (*Model)(nil)

// Defaults and limits.
const (
	DefaultRefresh = 5 * time.Second
	DefaultTimeout = 10 * time.Second
	maxBackoff     = 60 * time.Second
	flashTTL       = 5 * time.Second
	chromeLines    = 4 // header, breadcrumb line, key hints, flash/prompt
)

// view is one screen of the console. A view owns its table(s) and turns
// its data into rows when they arrive (a Kafka view from the shared
// snapshot in build, the others in the apply of their source: data.go);
// it never does I/O.
type view interface {
	// id identifies the view in refresh tags, e.g. "groups", "group/billing".
	id() string
	// crumb is the view's breadcrumb segment (sanitized).
	crumb() string
	// noun names the focused table's rows ("groups", "partitions").
	noun() string
	// summary lines shown above the body, built with the rows and
	// wrapped to width here.
	summary(width int) []string
	// layout sizes the table(s) to the body area.
	layout(width, height int)
	// body draws at most the height given to layout.
	body(st *styles.Styles) []string
	// focused is the table that navigation, filter, sort and marks act on.
	focused() *components.Table
	// open returns the detail view of the selected row.
	open() (view, bool)
	// togglePane moves the focus to the view's other pane, if it has one.
	togglePane() bool
}

// dataset is the last good snapshot and its lag analysis; every view is
// built from it.
type dataset struct {
	gen      uint64
	snap     *backends.ClusterSnapshot
	analysis *lag.Analysis
	index    *snapIndex // made by the fetch (data.go)
	rows     *snapRows  // made by the fetch (data.go); nil: the views build their own
}

type mode int

const (
	modeNormal mode = iota
	modePalette
	modeFilter
	modeHelp
)

// Model is the console's root model. It implements tea.Model; all state
// changes happen in Update, all broker calls run in tea.Cmds that return
// tagged messages.
type Model struct {
	opts    Options
	cluster string
	ctx     context.Context // cancelled when the program ends; parent of every snapshot call
	now     func() time.Time
	keys    keys.Map
	st      styles.Styles

	width, height int

	tracker *snapTracker // the fetch side's (data.go)
	data    dataset
	store   *storeConn // the application's database (nil: none configured)
	snap    loadState  // the snapshot's loads (the Kafka views' shared source)

	refresh  refreshState
	spinner  spinner.Model
	spinning bool

	stack []view // breadcrumbs: stack[0] is the top view
	walk  *walk  // the marked rows an action goes through (marks.go)

	mode      mode
	helpOff   int // first help line shown: help scrolls on small terminals
	palette   textinput.Model
	filter    textinput.Model
	filterErr error // the filter being typed does not compile

	flash     components.Flash
	flashSeq  uint64
	quitting  bool
	exit      Exit   // how the console ended (a :ctx switch)
	switching string // the context :ctx is checking

	// lastWords run before the program ends: the record of a plan shown
	// and not confirmed when the operator quits on it.
	lastWords tea.Cmd

	// after schedules msg after d; tests replace it to observe delays.
	after func(d time.Duration, msg tea.Msg) tea.Cmd
	// jitter spreads refresh periods by ±10%.
	jitter func(time.Duration) time.Duration
}

// New returns the console's root model.
func New(o Options) *Model {
	if o.Refresh <= 0 {
		o.Refresh = DefaultRefresh
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	m := &Model{
		opts:    o,
		cluster: o.Cluster,
		ctx:     context.Background(),
		now:     o.Now,
		keys:    keys.Default(),
		st:      styles.New(o.Color),
		width:   80,
		height:  24,
		tracker: newSnapTracker(lag.Options{Now: o.Now}),
		after: func(d time.Duration, msg tea.Msg) tea.Cmd {
			return tea.Tick(d, func(time.Time) tea.Msg { return msg })
		},
		jitter: jitter10,
	}
	if o.OpenStore != nil {
		name := o.StoreName
		if name == "" {
			name = "application database"
		}
		m.store = newStoreConn(o.OpenStore, name)
	}
	if m.cluster == "" && o.Kafka != nil {
		m.cluster = o.Kafka.Name()
	}
	m.spinner = spinner.New(spinner.WithSpinner(spinner.MiniDot), spinner.WithStyle(m.st.Spinner))
	m.palette = components.NewInput(":", m.st.Prompt)
	m.palette.ShowSuggestions = true
	m.palette.SetSuggestions(paletteSuggestions(o.Contexts))
	m.filter = components.NewInput("/", m.st.Prompt)
	// The dangerous bindings (actions that change a cluster) are absent,
	// not merely disabled: in a read-only context (keys.Map.ReadOnly, the
	// one place), and where their action cannot run (no audit log, no
	// backend for it). No key, no help line.
	if o.ReadOnly {
		m.keys.ReadOnly()
	}
	if !m.canDrain() {
		m.keys.Drain.Unbind()
	} else {
		m.keys.Drain = m.keys.Drain.With(o.drainHelp(), "")
	}
	if !m.canReset() {
		m.keys.Reset.Unbind()
	}
	if !m.canReplay() {
		m.keys.Replay.Unbind()
	}
	if !m.canResend() {
		m.keys.Resend.Unbind()
	}
	if !m.canRetry() {
		m.keys.RetryNow.Unbind()
		m.keys.GiveUp.Unbind()
	}
	if !m.canRetry() || m.publisherFor(o.StoreRoute.Broker) == nil {
		m.keys.Republish.Unbind()
	}
	switch o.StartView {
	case "topics", "topic", "t":
		m.stack = []view{newTopicsView()}
	case "queues", "queue", "rabbit":
		m.stack = []view{newQueuesView()}
	case "dlq", "dead":
		m.stack = []view{m.newDLQsView()}
	case "audit":
		m.stack = []view{m.newAuditView()}
	case "pending", "outbox":
		m.stack = []view{newPendingView()}
	case "retry", "retries":
		m.stack = []view{newRetryView()}
	default:
		m.stack = []view{newGroupsView()}
	}
	m.relayout()
	return m
}

func jitter10(d time.Duration) time.Duration {
	f := 0.9 + 0.2*rand.Float64() //nolint:gosec // jitter, not security
	return time.Duration(float64(d) * f)
}

// Exit is how the console ended.
type Exit struct {
	// Context is set when the operator switched contexts (:ctx NAME): the
	// caller reopens the console there, on View.
	Context string
	View    string
}

// Exit says how the console ended (after Run's program returned).
func (m *Model) Exit() Exit { return m.exit }

// Run runs the console until the operator quits, switches contexts (see
// Exit) or ctx is cancelled.
func Run(ctx context.Context, o Options) (Exit, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends any snapshot call still running
	m := New(o)
	m.ctx = ctx
	if m.store != nil {
		defer func() {
			cancel() // a call still running ends first
			m.store.close()
		}()
	}
	_, err := tea.NewProgram(m, append([]tea.ProgramOption{tea.WithContext(ctx)}, o.programOptions...)...).Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return Exit{}, ctx.Err()
	}
	return m.exit, err
}

// Init starts the first load.
func (m *Model) Init() tea.Cmd {
	if s := m.sourceOf(m.top()); s == nil || s.fetch == nil {
		m.refresh.idle = true
		return nil
	}
	// The refresh starts in Update, where the model may change.
	gen := m.refresh.tickGen
	return func() tea.Msg { return refreshTickMsg{gen: gen} }
}

func (m *Model) top() view { return m.stack[len(m.stack)-1] }

// Update handles one message. It never blocks: broker calls are returned as
// commands.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if m.quitting {
		return m, nil
	}
	var cmd tea.Cmd
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.KeyPressMsg:
		cmd = m.handleKey(msg)
	case tea.PasteMsg:
		if v, ok := m.top().(*actionView); ok && m.mode == modeNormal {
			cmd = m.actionUpdate(v, msg)
		} else {
			cmd = m.handleInputMsg(msg)
		}
	case action.Msg:
		cmd = m.actionMsg(msg)
	case loadedMsg:
		cmd = m.handleLoaded(msg)
	case refreshTickMsg:
		if msg.gen == m.refresh.tickGen {
			cmd = m.startRefresh()
		}
	case spinTickMsg:
		cmd = m.spin()
	case contextCheckedMsg:
		cmd = m.contextChecked(msg)
	case flashExpiredMsg:
		if msg.id == m.flash.ID {
			m.flash = components.Flash{}
		}
	default:
		// Messages of the text inputs (paste from the clipboard).
		if v, ok := m.top().(*actionView); ok && m.mode == modeNormal {
			cmd = m.actionUpdate(v, msg)
		} else {
			cmd = m.handleInputMsg(msg)
		}
	}
	if m.quitting {
		return m, tea.Sequence(m.lastWords, tea.Quit)
	}
	m.relayout()
	return m, cmd
}

func (m *Model) handleInputMsg(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	switch m.mode {
	case modePalette:
		m.palette, cmd = m.palette.Update(msg)
	case modeFilter:
		m.filter, cmd = m.filter.Update(msg)
		m.applyTypedFilter()
	}
	return cmd
}

func (m *Model) handleKey(msg tea.KeyPressMsg) tea.Cmd {
	if cmd, ok := m.localKey(msg); ok {
		return cmd // the action screen and the peek's question (view_drain.go)
	}
	if m.keys.ForceQuit.Matches(msg) {
		return m.quit()
	}
	switch m.mode {
	case modePalette:
		return m.paletteKey(msg)
	case modeFilter:
		return m.filterKey(msg)
	case modeHelp:
		switch {
		case keys.Matches(msg, m.keys.Back, m.keys.Help, m.keys.Quit):
			m.mode = modeNormal
		case keys.Matches(msg, m.keys.Down, m.keys.PageDown):
			// the last line of a scrolled help says there is more
			m.helpOff = min(m.helpOff+1, max(0, len(m.helpLines(m.width))-(m.height-chromeLines-1)))
		case keys.Matches(msg, m.keys.Up, m.keys.PageUp):
			m.helpOff = max(0, m.helpOff-1)
		case m.keys.Top.Matches(msg):
			m.helpOff = 0
		}
		return nil
	}

	// The view's own keys first: only what it declares works there.
	for _, b := range m.viewKeys() {
		if b.Matches(msg) {
			return m.viewKey(b)
		}
	}
	k := &m.keys
	t := m.top().focused()
	switch {
	case k.Quit.Matches(msg):
		if len(m.stack) == 1 {
			return m.quit()
		}
		return m.setFlash(components.FlashInfo, "q quits from the top view; esc goes back")
	case k.Help.Matches(msg):
		m.mode, m.helpOff = modeHelp, 0
	case k.Palette.Matches(msg):
		m.mode = modePalette
		m.palette.Reset()
		return m.palette.Focus()
	case k.Filter.Matches(msg) && !m.untabled():
		m.mode = modeFilter
		m.filter.SetValue(t.FilterText())
		m.filter.CursorEnd()
		m.filterErr = nil
		return m.filter.Focus()
	case k.Back.Matches(msg):
		return m.back()
	case k.Refresh.Matches(msg):
		return m.refreshNow()
	case k.Up.Matches(msg):
		t.Move(-1)
	case k.Down.Matches(msg):
		t.Move(1)
	case k.PageUp.Matches(msg):
		t.PageUp()
	case k.PageDown.Matches(msg):
		t.PageDown()
	case k.Top.Matches(msg):
		t.Top()
	case k.Bottom.Matches(msg):
		t.Bottom()
	case k.SortNext.Matches(msg):
		t.CycleSort(1)
	case k.SortPrev.Matches(msg):
		t.CycleSort(-1)
	case k.SortRev.Matches(msg):
		t.ReverseSort()
	case k.Copy.Matches(msg):
		return m.copyKey()
	default:
		return m.elsewhere(msg)
	}
	return nil
}

// back clears the focused table's filter first, then pops the view.
func (m *Model) back() tea.Cmd {
	if _, ok := m.top().(*valueView); ok {
		m.closeValue()
		return nil
	}
	if t := m.top().focused(); t.FilterText() != "" {
		t.ClearFilter()
		return nil
	}
	if len(m.stack) > 1 {
		closed := m.top()
		m.stack = m.stack[:len(m.stack)-1]
		return tea.Batch(m.viewChanged(), m.walkClosed(closed, false))
	}
	return nil
}

func (m *Model) push(v view) tea.Cmd {
	m.stack = append(m.stack, v)
	return m.viewChanged()
}

// replace makes v the only view (a palette jump such as :topics).
func (m *Model) replace(v view) tea.Cmd {
	m.walk = nil
	m.stack = []view{v}
	return m.viewChanged()
}

// viewChanged brings the new top view up to date with the data at hand and
// re-aims the refresh at it: a refresh in flight for the previous view is
// cancelled (its result will be dropped as stale) and one starts for the new
// view, so that a view never has two refreshes in flight.
//
// A view with a source of its own and no data loads at once (the Kafka
// views share the snapshot: they wait for the schedule, and its backoff);
// after a view that loads only on demand (no refresh scheduled), the
// refresh loop restarts.
func (m *Model) viewChanged() tea.Cmd {
	m.ensureBuilt(m.top())
	s := m.sourceOf(m.top())
	if m.refresh.inFlight || m.refresh.idle || s != nil && s.state != &m.snap && !s.state.loaded {
		m.cancelRefresh()
		return m.startRefresh()
	}
	return nil
}

// ensureBuilt builds a Kafka view from the snapshot at hand, unless it is
// built from it already.
func (m *Model) ensureBuilt(v view) {
	if sv, ok := v.(snapshotView); ok && m.data.snap != nil && sv.builtGen() != m.data.gen {
		sv.build(&m.data, &m.st)
	}
}

func (m *Model) quit() tea.Cmd {
	m.cancelRefresh()
	m.quitting = true
	return nil
}

// relayout sizes the top view's body to the terminal. It runs after every
// message; it only recomputes column widths and the scroll window.
func (m *Model) relayout() {
	v := m.top()
	bodyH := max(m.height-chromeLines, 0)
	v.layout(m.width, bodyH-len(m.summaryOf(v, m.width, bodyH)))
	components.FitInput(&m.palette, m.width-1)
	room := m.width - 1
	if m.filterErr != nil {
		room -= min(ansi.StringWidth(errText(m.filterErr))+4, m.width/2)
	}
	components.FitInput(&m.filter, room)
}

// contextNames returns the known context names, the current one included.
func (m *Model) contextNames() []string {
	names := slices.Clone(m.opts.Contexts)
	if m.opts.Context != "" && !slices.Contains(names, m.opts.Context) {
		names = append(names, m.opts.Context)
	}
	return names
}
