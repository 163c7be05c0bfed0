package tui

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The README's key tables are generated from the keymap and from what
// each view declares (keysMarkdown); TestREADMEKeys fails when they
// differ, and `go test ./tui -run TestREADMEKeys -update` rewrites them.
const (
	keysBegin = "<!-- keys: generated from the keymap by TestREADMEKeys (go test ./tui -run TestREADMEKeys -update) -->"
	keysEnd   = "<!-- end of keys -->"
)

// keysMarkdown is the console's keys: the console's own, the palette's
// commands, then each view's, as a writable context with both brokers and
// drains has them.
func keysMarkdown(t *testing.T) string {
	o := Options{}
	withStore(t, &o) // :pending and :retry with a database and a publisher
	f := newSizeFixture(t, o)
	h := f.h
	var b strings.Builder
	b.WriteString("| key | action |\n|---|---|\n")
	for _, g := range h.m.helpGroups()[1:] { // the console's groups: every view's
		for _, k := range g.Bound().Bindings {
			b.WriteString("| `" + k.Help().Key + "` | " + k.Help().Desc + " |\n")
		}
	}
	b.WriteString("\n| command (`:` then enter; tab completes) | what |\n|---|---|\n")
	for _, c := range commands {
		name := "`:" + c.name
		if c.arg != "" {
			name += " " + c.arg
		}
		name += "`"
		for _, a := range c.aliases {
			name += ", `:" + a + "`"
		}
		b.WriteString("| " + name + " | " + c.help + " |\n")
	}
	b.WriteString("\n| view | its own keys |\n|---|---|\n")
	views := []struct {
		name  string
		visit func()
	}{
		{"groups", func() {}},
		{"groups, with groups marked", func() { h.keys("space") }},
		{"a group", func() { h.keys("enter") }},
		{"topics (`:topics`)", func() { h.command("topics") }},
		{"topics, with a topic marked", func() { h.command("topics"); h.keys("space") }},
		{"a topic", func() { h.command("topics"); h.keys("enter") }},
		{"a topic, with partitions marked", func() { h.command("topics"); h.keys("enter", "space") }},
		{"a topic, lower pane", func() { h.command("topics"); h.keys("enter", "tab") }},
		{"queues (`:queues`), on a dead-letter queue", func() {
			h.command("queues")
			h.selectRow(queueKey("/", longOrdersDL))
		}},
		{"a dead-letter queue's detail", func() {
			h.command("queues")
			h.selectRow(queueKey("/", longOrdersDL))
			h.keys("enter")
		}},
		{"dead letters (`:dlq`)", func() { openRabbitDLQ(h) }},
		{"dead letters, with rows marked", func() { openRabbitDLQ(h); h.keys("space") }},
		{"a DLQ's or DLT's dead-letter groups", func() { openRabbitDLQ(h); h.keys("enter") }},
		{"a peek", func() { openRabbitDLQ(h); h.keys("p") }},
		{"a peek, lower pane (the message's fields)", func() { openRabbitDLQ(h); h.keys("p", "tab") }},
		{"the value viewer (`enter` on a field)", func() { openRabbitDLQ(h); h.keys("p", "tab", "G", "enter") }},
		{"pending sends (`:pending`)", func() { h.command("pending") }},
		{"pending sends, their rows", func() { h.command("pending"); h.keys("tab") }},
		{"pending sends, with rows marked", func() { h.command("pending"); h.keys("tab", "space") }},
		{"retry rows (`:retry`)", func() { h.command("retry") }},
		{"retry rows, the rows of a group", func() { h.command("retry"); h.keys("tab") }},
		{"retry rows, with rows marked", func() { h.command("retry"); h.keys("tab", "space") }},
		{"the audit log (`:audit`)", func() { h.command("audit") }},
		{"an audit entry", func() { h.command("audit"); h.keys("enter") }},
	}
	for _, v := range views {
		h.command("groups")
		v.visit()
		var own []string
		for _, k := range h.m.viewKeys() {
			own = append(own, "`"+k.Help().Key+"` "+k.Help().Desc)
		}
		b.WriteString("| " + v.name + " | " + strings.Join(own, "; ") + " |\n")
	}
	return b.String()
}

func TestREADMEKeys(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(wd, "..", "README.md")
	want := keysMarkdown(t) // (the fixture moves to a temporary directory)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	i, j := strings.Index(readme, keysBegin), strings.Index(readme, keysEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the markers of the key tables")
	}
	got := readme[i+len(keysBegin)+1 : j]
	if got == want {
		return
	}
	if u := flag.Lookup("update"); u != nil && u.Value.String() == "true" {
		readme = readme[:i+len(keysBegin)+1] + want + readme[j:]
		if err := os.WriteFile(path, []byte(readme), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's key tables are not the keymap's; run go test ./tui -run TestREADMEKeys -update\nwant:\n%s", want)
}
