package tui

import (
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/mqops/mqops/tui/components"
)

// command is one `:` palette command.
type command struct {
	name    string
	aliases []string
	arg     string // argument placeholder, "" when it takes none
	help    string
}

var commands = []command{
	{name: "groups", aliases: []string{"g", "grp", "group", "cg"}, help: "consumer groups view"},
	{name: "topics", aliases: []string{"t", "top", "topic"}, help: "topics view"},
	{name: "queues", aliases: []string{"qu", "rabbit"}, help: "RabbitMQ queues view"},
	{name: "dlq", aliases: []string{"dead"}, help: "dead letters: RabbitMQ DLQs and Kafka DLTs"},
	{name: "pending", aliases: []string{"pend", "outbox"}, help: "pending sends of the application's outbox, beside the lag where they go"},
	{name: "retry", aliases: []string{"retries", "rt"}, help: "the application's retry rows, grouped by error"},
	{name: "audit", aliases: []string{"log"}, help: "audit log of drains (newest first)"},
	{name: "ctx", aliases: []string{"context"}, arg: "NAME", help: "switch context"},
	{name: "help", aliases: []string{"h", "?"}, help: "key bindings"},
	{name: "quit", aliases: []string{"q", "q!", "exit"}, help: "quit"},
}

func lookupCommand(name string) (command, bool) {
	name = strings.ToLower(name)
	for _, c := range commands {
		if c.name == name || slices.Contains(c.aliases, name) {
			return c, true
		}
	}
	return command{}, false
}

// paletteSuggestions are the completions offered with tab.
func paletteSuggestions(contexts []string) []string {
	var out []string
	for _, c := range commands {
		if c.arg == "" {
			out = append(out, c.name)
		}
	}
	for _, ctx := range contexts {
		out = append(out, "ctx "+ctx)
	}
	return out
}

func (m *Model) paletteKey(msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case m.keys.Back.Matches(msg):
		m.closePalette()
		return nil
	case msg.String() == "enter":
		line := m.palette.Value()
		m.closePalette()
		return m.runCommand(line)
	}
	var cmd tea.Cmd
	m.palette, cmd = m.palette.Update(msg)
	return cmd
}

func (m *Model) closePalette() {
	m.palette.Blur()
	m.palette.Reset()
	m.mode = modeNormal
}

// runCommand executes a palette line such as "topics" or "ctx prod".
func (m *Model) runCommand(line string) tea.Cmd {
	fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), ":"))
	if len(fields) == 0 {
		return nil
	}
	c, ok := lookupCommand(fields[0])
	if !ok {
		return m.setFlash(components.FlashError, "unknown command :"+safe(fields[0])+" (try :groups, :topics, :queues, :dlq, :pending, :retry, :audit, :ctx NAME, :quit)")
	}
	args := fields[1:]
	if c.arg == "" && len(args) > 0 {
		return m.setFlash(components.FlashError, ":"+c.name+" takes no argument")
	}
	switch c.name {
	case "groups":
		return m.replace(newGroupsView())
	case "topics":
		return m.replace(newTopicsView())
	case "queues":
		return m.replace(newQueuesView())
	case "dlq":
		return m.replace(m.newDLQsView())
	case "pending":
		return m.replace(newPendingView())
	case "retry":
		return m.replace(newRetryView())
	case "audit":
		return m.openAudit()
	case "help":
		m.mode = modeHelp
		return nil
	case "quit":
		return m.quit()
	case "ctx":
		return m.switchContext(args)
	}
	return nil
}

// switchContext handles :ctx NAME: Options.CheckContext runs in a command
// and, when the context resolves, the console ends with Exit.Context set so
// that the caller reopens it there, on the same top-level view. Nothing of
// the old context (data, clients, requests in flight) carries over. A drain
// in progress keeps the console where it is.
func (m *Model) switchContext(args []string) tea.Cmd {
	names := m.contextNames()
	if len(args) != 1 {
		return m.setFlash(components.FlashError, "usage: :ctx NAME (contexts: "+safe(strings.Join(names, ", "))+")")
	}
	name := args[0]
	switch {
	case name == m.opts.Context:
		return m.setFlash(components.FlashInfo, "already on context "+safe(name))
	case !slices.Contains(names, name):
		return m.setFlash(components.FlashError, "unknown context "+safe(name))
	}
	if m.opts.CheckContext == nil {
		return m.setFlash(components.FlashWarn, "this console cannot switch contexts: restart with --context "+safe(name))
	}
	if m.actionBusy() {
		return m.setFlash(components.FlashError, "a drain is in progress on this context: let it finish or cancel it before switching")
	}
	check := m.opts.CheckContext
	m.switching = name
	return tea.Batch(m.setFlash(components.FlashInfo, "opening context "+safe(name)+"…"), func() tea.Msg {
		return contextCheckedMsg{name: name, err: check(name)}
	})
}

// contextCheckedMsg is the answer of Options.CheckContext for :ctx name.
type contextCheckedMsg struct {
	name string
	err  error
}

func (m *Model) contextChecked(msg contextCheckedMsg) tea.Cmd {
	if msg.name != m.switching {
		return nil // an earlier :ctx, superseded
	}
	m.switching = ""
	if msg.err != nil {
		return m.setFlash(components.FlashError, "cannot open context "+safe(msg.name)+": "+errText(msg.err))
	}
	m.exit = Exit{Context: msg.name, View: m.stack[0].id()} // a top-level view: New opens it
	return m.quit()
}
