// Package keys is the console's keymap: the bindings, the groups of the
// help screen and the footer's hints are generated from it.
package keys

import "charm.land/bubbles/v2/key"

// Map is the console's one keymap. The footer hints and the `?` help
// screen are generated from it, so a binding documented here is a binding
// that works.
type Map struct {
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

	// Table
	Filter   key.Binding
	SortNext key.Binding
	SortPrev key.Binding
	SortRev  key.Binding
	Mark     key.Binding

	// General
	Refresh   key.Binding
	Help      key.Binding
	Quit      key.Binding
	ForceQuit key.Binding
}

func Default() Map {
	return Map{
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
		Drain:    DrainBinding(),

		Filter:   key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter (regex, !inverts)")),
		SortNext: key.NewBinding(key.WithKeys("s", "shift+right"), key.WithHelp("s/shift+→", "sort by next column")),
		SortPrev: key.NewBinding(key.WithKeys("shift+left"), key.WithHelp("shift+←", "sort by previous column")),
		SortRev:  key.NewBinding(key.WithKeys("S"), key.WithHelp("S", "reverse sort order")),
		Mark:     key.NewBinding(key.WithKeys("space"), key.WithHelp("space", "mark / unmark row")),

		Refresh:   key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "refresh now")),
		Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:      key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit (top view)")),
		ForceQuit: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit")),
	}
}

// Group is a titled column of the help screen.
type Group struct {
	Title    string
	Bindings []key.Binding
}

// DrainBinding is the `D` key (shifted, not ctrl-: tmux users).
func DrainBinding() key.Binding {
	return key.NewBinding(key.WithKeys("D"), key.WithHelp("D", "drain dead letters (RabbitMQ DLQ)"))
}

// FullHelp groups every bound binding for the help screen; an unbound one
// (the drain key in a read-only context) is left out.
func (k Map) FullHelp() []Group {
	groups := []Group{
		{"Navigation", []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom}},
		{"Views", []key.Binding{k.Open, k.Back, k.Palette, k.Pane}},
		{"Table", []key.Binding{k.Filter, k.SortNext, k.SortPrev, k.SortRev, k.Mark}},
		{"Messages", []key.Binding{k.Peek, k.NextPage, k.PrevPage, k.Drain}},
		{"General", []key.Binding{k.Refresh, k.Help, k.Quit, k.ForceQuit}},
	}
	for i := range groups {
		bound := groups[i].Bindings[:0]
		for _, b := range groups[i].Bindings {
			if b.Enabled() {
				bound = append(bound, b)
			}
		}
		groups[i].Bindings = bound
	}
	return groups
}

// ShortHelp is the footer's hint line, most useful first, with shorter
// descriptions; the footer cuts it to the terminal width.
func (k Map) ShortHelp() []key.Binding {
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
