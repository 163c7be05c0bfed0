// Package keys is the console's keymap: the bindings, with their help line,
// their footer hint, how long the footer holds on to them and whether they
// change a broker; the groups of the `?` screen and the footer line are
// generated from them, so a key shown is a key that works.
//
// A view picks the bindings it answers to from the one Map and may
// describe them for itself (enter "group", enter "topic"): a binding keeps
// its identity (Is) whatever its texts. A dangerous binding (a drain, a
// reset) is removed from the Map in a read-only context (ReadOnly), the
// one place where that rule lives: it is then absent from every view's
// keys, the footer, the help and the dispatch alike.
package keys

import (
	"fmt"

	"charm.land/bubbles/v2/key"
)

// Binding is one key of the console.
type Binding struct {
	key.Binding
	id   string   // the action; "" for a hint of keys the console does not bind
	hint key.Help // the footer's shorter text; zero: the help's
	// Dangerous: the binding changes a broker (a drain, a reset). It
	// is absent in a read-only context (Map.ReadOnly).
	Dangerous bool
	// priority: on a narrow footer the hints of lowest priority go first.
	priority int
}

// Footer priorities: Help is never left out; a view's own keys come
// before the console's.
const (
	PrioHelp    = 100
	PrioView    = 90 // the first of a view's keys; the next ones one less each
	PrioBack    = 70
	PrioFilter  = 60
	PrioPalette = 50
	PrioQuit    = 45
	PrioRefresh = 40
	PrioSort    = 30
)

func bind(id string, keys []string, helpKey, desc, hintDesc string, prio int) Binding {
	b := Binding{Binding: key.NewBinding(key.WithKeys(keys...), key.WithHelp(helpKey, desc)), id: id, priority: prio}
	if hintDesc != "" {
		b.hint = key.Help{Key: helpKey, Desc: hintDesc}
	}
	return b
}

// Hint is a footer hint of keys a stage takes itself (a form's fields, a
// question's answers): it names keys, it binds none.
func Hint(keys, desc string, prio int) Binding {
	return Binding{Binding: key.NewBinding(key.WithHelp(keys, desc)), hint: key.Help{Key: keys, Desc: desc}, priority: prio}
}

// Hints are footer hints in the order given, the first kept longest.
func Hints(pairs ...string) []Binding {
	out := make([]Binding, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, Hint(pairs[i], pairs[i+1], PrioView-len(out)))
	}
	return out
}

// FromKey is a bubbles binding as a footer hint of the given priority.
func FromKey(b key.Binding, prio int) Binding {
	h := b.Help()
	return Hint(h.Key, h.Desc, prio)
}

// Is reports whether b and o are the same action, however described.
func (b Binding) Is(o Binding) bool { return b.id != "" && b.id == o.id }

// Bound reports whether b has keys and is enabled: an unbound binding
// (ReadOnly, an action this console lacks) is in no footer, help or
// dispatch.
func (b Binding) Bound() bool { return b.Enabled() }

// Matches reports whether the key pressed is one of b's.
func (b Binding) Matches(k fmt.Stringer) bool { return b.Enabled() && key.Matches(k, b.Binding) }

// Matches reports whether the key pressed is one of the bindings'.
func Matches(k fmt.Stringer, bs ...Binding) bool {
	for _, b := range bs {
		if b.Matches(k) {
			return true
		}
	}
	return false
}

// With is b described for a view: desc for the help screen and hint for
// the footer ("" keeps what b has).
func (b Binding) With(desc, hint string) Binding {
	if !b.Enabled() {
		return b
	}
	h := b.Help()
	if desc != "" {
		b.SetHelp(h.Key, desc)
	}
	if hint != "" {
		b.hint = key.Help{Key: h.Key, Desc: hint}
	}
	return b
}

// WithKeyText is b with another text for its keys in the help and the
// footer (one key of several: "s/S" for the sort).
func (b Binding) WithKeyText(keys string) Binding {
	if !b.Enabled() {
		return b
	}
	b.SetHelp(keys, b.Help().Desc)
	if b.hint.Desc != "" {
		b.hint.Key = keys
	}
	return b
}

// WithHintKeys is b with another text for its keys on the footer only
// ("j/k" for a scroll whose help lists j/↓ and k/↑).
func (b Binding) WithHintKeys(keys string) Binding {
	if !b.Enabled() {
		return b
	}
	b.hint = key.Help{Key: keys, Desc: b.FooterHelp().Desc}
	return b
}

// WithPriority is b kept on the footer with priority p.
func (b Binding) WithPriority(p int) Binding {
	b.priority = p
	return b
}

// Priority is how long the footer keeps b's hint: higher, longer.
func (b Binding) Priority() int { return b.priority }

// FooterHelp is b's text on the footer: its hint, or its help.
func (b Binding) FooterHelp() key.Help {
	if b.hint.Desc != "" {
		return b.hint
	}
	return b.Help()
}

// Map is the console's one keymap.
type Map struct {
	// Navigation
	Up       Binding
	Down     Binding
	PageUp   Binding
	PageDown Binding
	Top      Binding
	Bottom   Binding

	// Views
	Open    Binding
	Back    Binding
	Palette Binding
	Pane    Binding

	// Messages (RabbitMQ dead-letter queues, Kafka dead-letter topics)
	Peek     Binding
	NextPage Binding
	PrevPage Binding
	// Drain opens the drain of a dead-letter queue or topic: dangerous.
	// The console unbinds it too where no drain is possible (no drainer,
	// no audit log).
	Drain Binding

	// Consumer groups
	// Reset opens the offsets reset of a consumer group (the selected
	// group, the marked groups, the group shown): dangerous. The console
	// unbinds it too where no reset is possible (no resetter, no audit
	// log).
	Reset Binding

	// Topics
	// Replay opens the replay of a range of a topic into another topic
	// (the selected or marked topic, the topic shown): dangerous. The
	// console unbinds it too where no replay is possible (no replayer, no
	// audit log).
	Replay Binding

	// The application's tables (:pending, :retry): each changes the
	// application's database, and a resend and a republish a broker:
	// dangerous. The console unbinds them too where they cannot run (no
	// database, no publisher for the route, no audit log).
	//
	// Resend publishes pending rows of the sending table again (the
	// marked rows, the selected row or the selected destination's).
	Resend Binding
	// RetryNow makes retry rows due now for the application's job;
	// Republish publishes them to their destination; GiveUp marks them
	// dead (the marked rows, the selected row or the selected error
	// group's).
	RetryNow  Binding
	Republish Binding
	GiveUp    Binding

	// Table
	Filter   Binding
	SortNext Binding
	SortPrev Binding
	SortRev  Binding
	Mark     Binding
	// Copy copies the selected row, or a field's whole value (a peek's
	// detail, the value viewer), with OSC 52.
	Copy Binding

	// General
	Refresh   Binding
	Help      Binding
	Quit      Binding
	ForceQuit Binding
}

// Default is the console's keymap, every binding bound.
func Default() Map {
	return Map{
		Up:       bind("up", []string{"k", "up"}, "k/↑", "up", "", 0),
		Down:     bind("down", []string{"j", "down"}, "j/↓", "down", "", 0),
		PageUp:   bind("pgup", []string{"pgup", "ctrl+b"}, "pgup/ctrl+b", "page up", "", 0),
		PageDown: bind("pgdown", []string{"pgdown", "ctrl+f"}, "pgdn/ctrl+f", "page down", "", 0),
		Top:      bind("top", []string{"g", "home"}, "g/home", "first row", "", 0),
		Bottom:   bind("bottom", []string{"G", "end"}, "G/end", "last row", "", 0),

		Open:    bind("open", []string{"enter"}, "enter", "open", "open", PrioView),
		Back:    bind("back", []string{"esc"}, "esc", "back / clear filter / close", "back", PrioBack),
		Palette: bind("palette", []string{":"}, ":", "command", "command", PrioPalette),
		Pane:    bind("pane", []string{"tab"}, "tab", "switch pane", "pane", PrioView),

		Peek:     bind("peek", []string{"p"}, "p", "peek messages (dead-letter queue)", "peek", PrioView),
		NextPage: bind("next", []string{"]"}, "]", "next page of messages", "next page", PrioView),
		PrevPage: bind("prev", []string{"["}, "[", "previous page of messages", "previous", PrioView),
		Drain:    DrainBinding(),
		Reset:    ResetBinding(),
		Replay:   ReplayBinding(),

		Resend:    dangerous(bind("resend", []string{"E"}, "E", "resend pending rows (outbox: destination; marked rows)", "resend", PrioView)),
		RetryNow:  dangerous(bind("retrynow", []string{"T"}, "T", "retry now (retry rows: error group; marked rows)", "retry now", PrioView)),
		Republish: dangerous(bind("republish", []string{"U"}, "U", "republish to the destination (retry rows)", "republish", PrioView)),
		GiveUp:    dangerous(bind("giveup", []string{"X"}, "X", "give up: mark dead (retry rows)", "give up", PrioView)),

		Filter:   bind("filter", []string{"/"}, "/", "filter (regex, !inverts)", "filter", PrioFilter),
		SortNext: bind("sortnext", []string{"s", "shift+right"}, "s/shift+→", "sort by next column", "sort", PrioSort),
		SortPrev: bind("sortprev", []string{"shift+left"}, "shift+←", "sort by previous column", "", PrioSort),
		SortRev:  bind("sortrev", []string{"S"}, "S", "reverse sort order", "", PrioSort),
		Mark:     bind("mark", []string{"space"}, "space", "mark / unmark row", "mark", PrioView),
		Copy:     bind("copy", []string{"c"}, "c", "copy the row (OSC 52)", "copy", PrioSort),

		Refresh:   bind("refresh", []string{"r"}, "r", "refresh now", "refresh", PrioRefresh),
		Help:      bind("help", []string{"?"}, "?", "help", "help", PrioHelp),
		Quit:      bind("quit", []string{"q"}, "q", "quit (top view)", "quit", PrioQuit),
		ForceQuit: bind("forcequit", []string{"ctrl+c"}, "ctrl+c", "quit", "", 0),
	}
}

// DrainBinding is the `D` key (shifted, not ctrl-: tmux users). It changes
// a broker: dangerous.
func DrainBinding() Binding {
	return dangerous(bind("drain", []string{"D"}, "D", "drain dead letters (RabbitMQ DLQ)", "drain", PrioView))
}

// ResetBinding is the `R` key (shifted, as D). It moves a consumer
// group's offsets: dangerous.
func ResetBinding() Binding {
	return dangerous(bind("reset", []string{"R"}, "R", "reset offsets (group; marked groups)", "reset", PrioView))
}

// ReplayBinding is the `P` key (the peek's shifted: the lower-case key
// looks, the upper-case one acts, as D and R). It writes records into a
// topic: dangerous.
func ReplayBinding() Binding {
	return dangerous(bind("replay", []string{"P"}, "P", "replay a range into another topic (topic)", "replay", PrioView))
}

// dangerous is b marked as changing a broker (Map.ReadOnly unbinds it).
func dangerous(b Binding) Binding {
	b.Dangerous = true
	return b
}

// all is every binding of the map.
func (m *Map) all() []*Binding {
	return []*Binding{
		&m.Up, &m.Down, &m.PageUp, &m.PageDown, &m.Top, &m.Bottom,
		&m.Open, &m.Back, &m.Palette, &m.Pane,
		&m.Peek, &m.NextPage, &m.PrevPage, &m.Drain,
		&m.Reset, &m.Replay,
		&m.Resend, &m.RetryNow, &m.Republish, &m.GiveUp,
		&m.Filter, &m.SortNext, &m.SortPrev, &m.SortRev, &m.Mark, &m.Copy,
		&m.Refresh, &m.Help, &m.Quit, &m.ForceQuit,
	}
}

// ReadOnly unbinds every dangerous binding: in a read-only context the
// keys that change a broker are absent, not merely disabled.
func (m *Map) ReadOnly() {
	for _, b := range m.all() {
		if b.Dangerous {
			b.Unbind()
		}
	}
}

// Navigation are the keys that move in a table or a scrolled text.
func (m *Map) Navigation() []Binding {
	return []Binding{m.Up, m.Down, m.PageUp, m.PageDown, m.Top, m.Bottom}
}

// Group is a titled column of the help screen.
type Group struct {
	Title    string
	Bindings []Binding
}

// Bound is g without its unbound bindings.
func (g Group) Bound() Group {
	out := Group{Title: g.Title}
	for _, b := range g.Bindings {
		if b.shown() {
			out.Bindings = append(out.Bindings, b)
		}
	}
	return out
}
