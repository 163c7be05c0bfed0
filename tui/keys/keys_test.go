package keys

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
)

func TestReadOnlyUnbindsTheDangerousKeys(t *testing.T) {
	m := Default()
	if !m.Drain.Dangerous || !m.Drain.Bound() || !m.Reset.Dangerous || !m.Reset.Bound() || !m.Replay.Dangerous || !m.Replay.Bound() {
		t.Fatal("the drain, the reset or the replay is not a bound dangerous key")
	}
	m.ReadOnly()
	for _, b := range m.all() {
		if b.Dangerous && (b.Bound() || len(b.Keys()) > 0) {
			t.Errorf("%s is still bound in a read-only context", b.Help().Desc)
		}
		if !b.Dangerous && !b.Bound() {
			t.Errorf("%s was unbound in a read-only context", b.Help().Desc)
		}
	}
	d := tea.KeyPressMsg{Code: 'D', Text: "D"}
	if m.Drain.Matches(d) || m.Drain.With("drain", "drain").Matches(d) {
		t.Error("D matches the drain in a read-only context")
	}
	if r := (tea.KeyPressMsg{Code: 'R', Text: "R"}); m.Reset.Matches(r) || m.Reset.With("reset", "reset").Matches(r) {
		t.Error("R matches the reset in a read-only context")
	}
	if p := (tea.KeyPressMsg{Code: 'P', Text: "P"}); m.Replay.Matches(p) || m.Replay.With("replay", "replay").Matches(p) {
		t.Error("P matches the replay in a read-only context")
	}
	// a view that declares it gets nothing on its footer or help
	if got := Fit([]Binding{m.Drain, m.Help}, 80); len(got) != 1 || !got[0].Is(m.Help) {
		t.Errorf("the footer keeps %d hints", len(got))
	}
	if g := (Group{Title: "x", Bindings: []Binding{m.Drain}}).Bound(); len(g.Bindings) != 0 {
		t.Error("the help keeps the drain")
	}
}

func TestFitDropsTheLeastUsefulFirst(t *testing.T) {
	m := Default()
	hints := []Binding{
		m.Open.With("", "group").WithPriority(PrioView), m.Filter, m.SortNext.WithKeyText("s/S"), m.Refresh,
		m.Palette, m.Help, m.Quit,
	}
	text := func(w int) string {
		var parts []string
		for _, b := range Fit(hints, w) {
			parts = append(parts, b.FooterHelp().Key+" "+b.FooterHelp().Desc)
		}
		return strings.Join(parts, "  ")
	}
	cases := []struct {
		w    int
		want string
	}{
		{200, "enter group  / filter  s/S sort  r refresh  : command  ? help  q quit"},
		{60, "enter group  / filter  r refresh  : command  ? help  q quit"},
		{50, "enter group  / filter  : command  ? help  q quit"},
		{40, "enter group  / filter  : command  ? help"},
		{30, "enter group  / filter  ? help"},
		{20, "enter group  ? help"},
		{5, "? help"},
	}
	for _, c := range cases {
		if got := text(c.w); got != c.want {
			t.Errorf("at %d: %q, want %q", c.w, got, c.want)
		}
		if w := FooterWidth(Fit(hints, c.w)); w > c.w && c.w > 6 {
			t.Errorf("at %d: %d cells", c.w, w)
		}
	}
	// a silent binding works and is in the help, never on the footer
	silent := m.Open.WithPriority(-1)
	if got := Fit([]Binding{silent, m.Help}, 200); len(got) != 1 {
		t.Errorf("a silent binding is on the footer: %d hints", len(got))
	}
	if !silent.Matches(tea.KeyPressMsg{Code: tea.KeyEnter}) {
		t.Error("a silent binding does not match its key")
	}
}

func TestWithKeepsTheAction(t *testing.T) {
	m := Default()
	b := m.Open.With("open the group", "group")
	if !b.Is(m.Open) || b.Is(m.Peek) || b.Help().Desc != "open the group" || b.FooterHelp().Desc != "group" {
		t.Errorf("re-described binding: %+v", b.Help())
	}
	if Hint("y", "yes", 1).Is(Hint("y", "yes", 1)) {
		t.Error("hints have no action to be")
	}
}
