package action

import (
	"errors"
	"strings"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/mqops/mqops/tui/components"
)

// field is a Field being edited: the input of a text field, or the chosen
// option of a choice field and the inputs of its options' arguments.
type field struct {
	Field
	input  textinput.Model   // a text field's
	chosen int               // a choice field's option
	args   []textinput.Model // an input per option (used where Arg is set)
}

func (f *field) choice() bool { return len(f.Options) > 0 }

// edited is the input the field types into: its own, that of the chosen
// option's argument, or nil (an option without one).
func (f *field) edited() *textinput.Model {
	switch {
	case !f.choice():
		return &f.input
	case f.Options[f.chosen].Arg != "":
		return &f.args[f.chosen]
	}
	return nil
}

// newInput is a text input drawn as the console draws them: a static
// cursor (no blink timer), the virtual cursor.
func newInput(st *Styles, value, placeholder string) textinput.Model {
	in := textinput.New()
	in.Prompt = ""
	in.Placeholder = placeholder
	s := in.Styles()
	s.Cursor.Blink = false
	s.Cursor.Color = st.CursorText
	s.Focused.Prompt, s.Blurred.Prompt = st.Prompt, st.Prompt
	s.Focused.Placeholder, s.Blurred.Placeholder = st.Dim, st.Dim
	in.SetStyles(s)
	in.SetVirtualCursor(true)
	in.SetValue(cleanInput(value))
	in.CursorEnd()
	return in
}

func newFields(fs []Field, st *Styles) []*field {
	out := make([]*field, len(fs))
	for i, f := range fs {
		fs := &field{Field: f}
		if fs.choice() {
			fs.chosen = min(max(f.Chosen, 0), len(f.Options)-1)
			fs.args = make([]textinput.Model, len(f.Options))
			for j := range f.Options {
				fs.args[j] = newInput(st, "", "")
			}
		} else {
			fs.input = newInput(st, f.Value, f.Placeholder)
		}
		out[i] = fs
	}
	return out
}

// focusField moves the focus to field i, blurring the others' inputs.
func (m *core) focusField(i int) {
	m.focus = i
	for j, f := range m.fields {
		in := f.edited()
		if in == nil {
			continue
		}
		if j == i {
			in.Focus()
		} else {
			in.Blur()
		}
	}
}

// values reads the form, trimmed.
func (m *core) values() Values {
	v := Values{text: map[string]string{}, choice: map[string]string{}, arg: map[string]string{}}
	for _, f := range m.fields {
		if !f.choice() {
			v.text[f.Key] = strings.TrimSpace(f.input.Value())
			continue
		}
		o := f.Options[f.chosen]
		v.choice[f.Key] = o.Value
		if o.Arg != "" {
			v.arg[f.Key] = strings.TrimSpace(f.args[f.chosen].Value())
		}
	}
	return v
}

// check validates the form: each field's Check in order, then the spec's
// Validate. The first error focuses its field.
func (m *core) check(validate func(Values) error) (Values, error) {
	for i, f := range m.fields {
		var err error
		switch {
		case !f.choice() && f.Check != nil:
			err = f.Check(strings.TrimSpace(f.input.Value()))
		case f.choice():
			if o := f.Options[f.chosen]; o.Arg != "" && o.Check != nil {
				err = o.Check(strings.TrimSpace(f.args[f.chosen].Value()))
			}
		}
		if err != nil {
			m.focusField(i)
			return Values{}, err
		}
	}
	v := m.values()
	if validate == nil {
		return v, nil
	}
	err := validate(v)
	var fe *FieldError
	if errors.As(err, &fe) {
		for i, f := range m.fields {
			if f.Key == fe.Field {
				m.focusField(i)
			}
		}
	}
	return v, err
}

// formKey handles a key of the form that is not enter, esc or ctrl+c:
// tab/↓ and shift+tab/↑ move between fields, ←/→ change a choice, the
// rest goes to the input being typed into (cleaned of control
// characters).
func (m *core) formKey(msg tea.KeyPressMsg) tea.Cmd {
	n := len(m.fields)
	if n == 0 {
		return nil
	}
	f := m.fields[m.focus]
	switch msg.String() {
	case "tab", "down":
		m.focusField((m.focus + 1) % n)
		return nil
	case "shift+tab", "up":
		m.focusField((m.focus - 1 + n) % n)
		return nil
	case "left", "right":
		if f.choice() {
			d := 1
			if msg.String() == "left" {
				d = -1
			}
			f.chosen = (f.chosen + d + len(f.Options)) % len(f.Options)
			m.focusField(m.focus)
			return nil
		}
	}
	return m.typeInto(f.edited(), msg)
}

// typeInto passes a key or a paste to a text input, its text cleaned.
func (m *core) typeInto(in *textinput.Model, msg tea.Msg) tea.Cmd {
	if in == nil {
		return nil
	}
	switch k := msg.(type) {
	case tea.KeyPressMsg:
		k.Text = cleanInput(k.Text)
		msg = k
	case tea.PasteMsg:
		k.Content = cleanInput(k.Content)
		msg = k
	}
	var cmd tea.Cmd
	*in, cmd = in.Update(msg)
	return cmd
}

// fitInputs sizes the inputs to the width: a value too long for the room
// after its label scrolls sideways, its cursor on screen.
func (m *core) fitInputs() {
	lw := m.labelWidth()
	for _, f := range m.fields {
		if !f.choice() {
			components.FitInput(&f.input, m.width-lw-3)
			continue
		}
		o := f.Options[f.chosen]
		if o.Arg == "" {
			continue
		}
		room := m.width - lw - 3 - ansi.StringWidth(m.choices(f)+"   "+o.Arg+" ")
		components.FitInput(&f.args[f.chosen], max(room, 8))
	}
	components.FitInput(&m.confirm, m.width-2)
}

func (m *core) labelWidth() int {
	w := 8
	for _, f := range m.fields {
		w = max(w, ansi.StringWidth(f.Label))
	}
	return w
}

// choices draws a choice field's options, the chosen one marked.
func (m *core) choices(f *field) string {
	parts := make([]string, len(f.Options))
	for i, o := range f.Options {
		if i == f.chosen {
			parts[i] = m.st.Choice.Render("[" + o.Label + "]")
		} else {
			parts[i] = " " + o.Label + " "
		}
	}
	return strings.Join(parts, " ")
}

// formParts adds the form's fields, one line each (wrapped when the width
// asks), the field being edited pinned. A field's hint is dropped when it
// does not fit on the field's line, except the focused field's, which goes
// on a line of its own.
func (m *core) formParts(b *textBlock) {
	editing := m.stage == StageForm
	lw := m.labelWidth()
	for i, f := range m.fields {
		value, hint, typed := "", f.Hint, false
		if f.choice() {
			o := f.Options[f.chosen]
			value = m.choices(f)
			if o.Hint != "" {
				hint = o.Hint
			}
			if o.Arg != "" {
				value += "   " + o.Arg + " " + f.args[f.chosen].View()
				typed = true
			}
		} else {
			value, typed = f.input.View(), true
		}
		focused := editing && i == m.focus
		line := "  " + m.st.Label.Render(padRight(f.Label, lw)) + " " + value
		if focused {
			line = m.st.Focus.Render("› "+padRight(f.Label, lw)) + " " + value
		}
		full := line
		if hint != "" {
			full += "   " + m.st.Dim.Render(hint)
		}
		pin := b.pin
		if typed {
			pin = b.pinEnd
		}
		switch {
		case focused && ansi.StringWidth(full) <= m.width:
			pin(full)
		case focused:
			pin(line)
			if hint != "" && m.formErr == "" { // an error says what is wanted
				b.keep(strings.Repeat(" ", lw+3) + m.st.Dim.Render(hint))
			}
		case ansi.StringWidth(full) <= m.width:
			b.add(full)
		default:
			b.add(line)
		}
	}
	if len(m.notes) > 0 {
		b.gap()
		for _, n := range m.notes {
			b.add(m.st.Dim.Render("  " + n))
		}
	}
}

func padRight(s string, w int) string {
	if sw := ansi.StringWidth(s); sw < w {
		return s + strings.Repeat(" ", w-sw)
	}
	return s
}
