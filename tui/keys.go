package tui

import "charm.land/bubbles/v2/key"

// keyMap is the console's one keymap. The footer hints and the `?` help
// screen are generated from it, so a binding documented here is a binding
// that works.
type keyMap struct {
	// Navigation
	Up       key.Binding
	Down     key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Top      key.Binding
	Bottom   key.Binding

	// Views
	Open    key.Binding
	Back    key.Binding
	Palette key.Binding
	Pane    key.Binding

	// Messages (RabbitMQ dead-letter queues)
	Peek     key.Binding
	NextPage key.Binding
	PrevPage key.Binding
	// Drain opens the drain form of a RabbitMQ dead-letter queue or a Kafka
	// dead-letter topic. It is unbound (absent from the keymap and the help)
	// in a read-only context or without a drainer (Options.Drainer,
	// Options.KafkaDrainer): see Model.canDrain.
	Drain key.Binding
	// Reset opens the offsets reset of a consumer group (the selected
	// group, the marked groups, the group shown). Dangerous, as Drain:
	// unbound in a read-only context or without a resetter (Model.canReset).
	Reset key.Binding
	// Replay opens the replay of a range of the selected topic (or the
	// topic shown) into another topic. Dangerous, as Drain: unbound in a
	// read-only context or without a replayer (Model.canReplay).
	Replay key.Binding

	// Table
	Filter   key.Binding
	SortNext key.Binding
	SortPrev key.Binding
	SortRev  key.Binding
	Mark     key.Binding
	// Copy copies the selected row, or a field's whole value (a peek's
	// detail, the value viewer), with OSC 52.
	Copy key.Binding

	// General
	Refresh   key.Binding
	Help      key.Binding
	Quit      key.Binding
	ForceQuit key.Binding
}

func newKeyMap() keyMap {
	return keyMap{
		Up:       key.NewBinding(key.WithKeys("k", "up"), key.WithHelp("k/↑", "up")),
		Down:     key.NewBinding(key.WithKeys("j", "down"), key.WithHelp("j/↓", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+b"), key.WithHelp("pgup/ctrl+b", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+f"), key.WithHelp("pgdn/ctrl+f", "page down")),
		Top:      key.NewBinding(key.WithKeys("g", "home"), key.WithHelp("g/home", "first row")),
		Bottom:   key.NewBinding(key.WithKeys("G", "end"), key.WithHelp("G/end", "last row")),

		Open:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open")),
		Back:    key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back / clear filter / close")),
		Palette: key.NewBinding(key.WithKeys(":"), key.WithHelp(":", "command")),
		Pane:    key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "switch pane (topic detail)")),

		Peek:     key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "peek messages (dead-letter queue)")),
		NextPage: key.NewBinding(key.WithKeys("]"), key.WithHelp("]", "next page of messages")),
		PrevPage: key.NewBinding(key.WithKeys("["), key.WithHelp("[", "previous page of messages")),
		Drain:    drainBinding(),
		Reset:    key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "reset offsets (group; marked groups)")),
		Replay:   key.NewBinding(key.WithKeys("P"), key.WithHelp("P", "replay a range into another topic (topic)")),

		Filter:   key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter (regex, !inverts)")),
		SortNext: key.NewBinding(key.WithKeys("s", "shift+right"), key.WithHelp("s/shift+→", "sort by next column")),
		SortPrev: key.NewBinding(key.WithKeys("shift+left"), key.WithHelp("shift+←", "sort by previous column")),
		SortRev:  key.NewBinding(key.WithKeys("S"), key.WithHelp("S", "reverse sort order")),
		Mark:     key.NewBinding(key.WithKeys("space"), key.WithHelp("space", "mark / unmark row")),
		Copy:     key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "copy row / field value (OSC 52)")),

		Refresh:   key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "refresh now")),
		Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:      key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit (top view)")),
		ForceQuit: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit")),
	}
}

// keyGroup is a titled column of the help screen.
type keyGroup struct {
	title    string
	bindings []key.Binding
}

// drainBinding is the `D` key (shifted, not ctrl-: tmux users).
func drainBinding() key.Binding {
	return key.NewBinding(key.WithKeys("D"), key.WithHelp("D", "drain dead letters (RabbitMQ DLQ)"))
}

// FullHelp groups every bound binding for the help screen; an unbound one
// (the drain key in a read-only context) is left out.
func (k keyMap) FullHelp() []keyGroup {
	groups := []keyGroup{
		{"Navigation", []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom}},
		{"Views", []key.Binding{k.Open, k.Back, k.Palette, k.Pane}},
		{"Table", []key.Binding{k.Filter, k.SortNext, k.SortPrev, k.SortRev, k.Mark, k.Copy}},
		{"Messages", []key.Binding{k.Peek, k.NextPage, k.PrevPage, k.Drain}},
		{"Consumer groups", []key.Binding{k.Reset}},
		{"Topics", []key.Binding{k.Replay}},
		{"General", []key.Binding{k.Refresh, k.Help, k.Quit, k.ForceQuit}},
	}
	out := groups[:0]
	for _, g := range groups {
		bound := g.bindings[:0]
		for _, b := range g.bindings {
			if b.Enabled() {
				bound = append(bound, b)
			}
		}
		if g.bindings = bound; len(bound) > 0 {
			out = append(out, g)
		}
	}
	return out
}

// ShortHelp is the footer's hint line, most useful first, with shorter
// descriptions; the footer cuts it to the terminal width.
func (k keyMap) ShortHelp() []key.Binding {
	short := func(b key.Binding, keys, desc string) key.Binding {
		b.SetHelp(keys, desc)
		return b
	}
	return []key.Binding{
		k.Palette,
		short(k.Filter, "/", "filter"),
		k.Open,
		short(k.Back, "esc", "back"),
		short(k.SortNext, "s/S", "sort"),
		short(k.Mark, "space", "mark"),
		short(k.Refresh, "r", "refresh"),
		k.Help,
		short(k.Quit, "q", "quit"),
	}
}
