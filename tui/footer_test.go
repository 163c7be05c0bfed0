package tui

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/mqops/mqops/tui/keys"
)

// footerCases are the views and stages whose footer is checked: every
// view, its panes, its marks, the modes, the stages of the action screen
// (the drains') and the value viewer, in writable and read-only contexts.
func footerCases() []sizeCase {
	ro := Options{Context: prodContext, Color: "red", ReadOnly: true}
	var cases []sizeCase
	for _, c := range sizeCases() {
		if c.name == "help" {
			continue
		}
		cases = append(cases, c)
	}
	cases = append(cases,
		sizeCase{name: "help_one_screen", setup: func(t *testing.T, f *sizeFixture) { f.h.keys("?") }},
		sizeCase{name: "help_scrolled", setup: func(t *testing.T, f *sizeFixture) { f.h.keys("?") }},
		sizeCase{name: "queues_plain_row", setup: func(t *testing.T, f *sizeFixture) {
			f.h.command("queues")
			f.h.selectRow(queueKey("/", long("orders")))
		}},
		sizeCase{name: "queue_dlq", setup: func(t *testing.T, f *sizeFixture) {
			f.h.command("queues")
			f.h.selectRow(queueKey("/", longOrdersDL))
			f.h.keys("enter")
		}},
		sizeCase{name: "groups_marked", setup: markTwoGroups},
		sizeCase{name: "readonly_group", opts: ro, setup: func(t *testing.T, f *sizeFixture) { f.h.keys("enter") }},
		sizeCase{name: "dlq_list_marked", setup: markTwoDeadLetters},
		sizeCase{name: "readonly_dlq_list_marked", opts: ro, setup: markTwoDeadLetters},
		sizeCase{name: "peek_of_marked", setup: func(t *testing.T, f *sizeFixture) {
			markTwoDeadLetters(t, f)
			f.h.keys("p")
		}},
		sizeCase{name: "readonly_queues", opts: ro, setup: func(t *testing.T, f *sizeFixture) {
			f.h.command("queues")
			f.h.selectRow(queueKey("/", longOrdersDL))
		}},
		sizeCase{name: "readonly_queue_dlq", opts: ro, setup: func(t *testing.T, f *sizeFixture) {
			f.h.command("queues")
			f.h.selectRow(queueKey("/", longOrdersDL))
			f.h.keys("enter")
		}},
		sizeCase{name: "readonly_dlq_list", opts: ro, setup: func(t *testing.T, f *sizeFixture) { openRabbitDLQ(f.h) }},
		sizeCase{name: "readonly_dlq_groups_rabbit", opts: ro, setup: func(t *testing.T, f *sizeFixture) {
			openRabbitDLQ(f.h)
			f.h.keys("enter")
		}},
		sizeCase{name: "readonly_dlq_groups_kafka", opts: ro, setup: func(t *testing.T, f *sizeFixture) {
			openKafkaDLT(f.h)
			f.h.keys("enter")
		}},
		sizeCase{name: "readonly_peek_kafka_list", opts: ro, setup: func(t *testing.T, f *sizeFixture) {
			openKafkaDLT(f.h)
			f.h.keys("p")
		}},
		sizeCase{name: "readonly_audit", opts: ro, setup: func(t *testing.T, f *sizeFixture) { f.h.command("audit") }},
		sizeCase{name: "readonly_pending", opts: ro, prepare: withStore, setup: func(t *testing.T, f *sizeFixture) { f.h.command("pending") }},
		sizeCase{name: "readonly_pending_rows", opts: ro, prepare: withStore, setup: func(t *testing.T, f *sizeFixture) {
			f.h.command("pending")
			f.h.keys("tab")
		}},
		sizeCase{name: "readonly_retry", opts: ro, prepare: withStore, setup: func(t *testing.T, f *sizeFixture) { f.h.command("retry") }},
		sizeCase{name: "readonly_retry_rows", opts: ro, prepare: withStore, setup: func(t *testing.T, f *sizeFixture) {
			f.h.command("retry")
			f.h.keys("tab")
		}},
	)
	return cases
}

// markTwoGroups marks the first two consumer groups (space moves down):
// R resets the marked.
func markTwoGroups(t *testing.T, f *sizeFixture) {
	f.h.keys("space", "space")
}

// markTwoDeadLetters marks the long-named orders DLQ and DLT in :dlq.
func markTwoDeadLetters(t *testing.T, f *sizeFixture) {
	openRabbitDLQ(f.h)
	f.h.keys("space")
	f.h.selectRow(kafkaRowPrefix + long("orders.DLT"))
	f.h.keys("space")
}

// TestFooterGolden records the footer of every view and stage at 80 and
// 120 columns, one line a case (testdata/TestFooterGolden/*.golden), and
// checks what every footer must do: keep `? help` where `?` opens the
// help, name no dangerous key in a read-only context, and name only keys
// the stage does not swallow.
func TestFooterGolden(t *testing.T) {
	pkgDir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	cases := footerCases()
	for _, w := range []int{80, 120} {
		t.Run(fmt.Sprint(w), func(t *testing.T) {
			var out strings.Builder
			for _, c := range cases {
				f := c.setUp(t)
				height := 24
				if c.name == "help_one_screen" {
					height = 80
				}
				f.h.send(teaWindow(w, height))
				lines := strings.Split(f.h.screen(), "\n")
				footer := strings.TrimRight(lines[len(lines)-2], " ")
				fmt.Fprintf(&out, "%-28s %s\n", c.name+":", footer)
				checkFooter(t, c.name, f.h, footer)
			}
			requireGolden(t, pkgDir, out.String())
		})
	}
}

// checkFooter: `? help` is on every footer of a stage where `?` opens the
// help; none names D in a read-only context; a stage that takes typed
// text never advertises q or ?.
func checkFooter(t *testing.T, name string, h *harness, footer string) {
	t.Helper()
	typing := h.m.mode == modeFilter || h.m.mode == modePalette
	if _, asks := h.m.top().(keyHinter); asks && h.m.top().(keyHinter).hints() != nil {
		typing = true
	}
	switch {
	case typing && (strings.Contains(footer, "? help") || strings.Contains(footer, "q quit")):
		t.Errorf("%s: the footer advertises a key the stage swallows: %q", name, footer)
	case !typing && h.m.mode == modeNormal && !strings.Contains(footer, "? help"):
		t.Errorf("%s: the footer lacks `? help`: %q", name, footer)
	}
	if h.m.opts.ReadOnly && (strings.Contains(footer, "D drain") || strings.Contains(footer, "R reset") || strings.Contains(footer, "E resend") ||
		strings.Contains(footer, "T retry") || strings.Contains(footer, "U republish") || strings.Contains(footer, "X give up")) {
		t.Errorf("%s: a read-only footer names the drain or the reset: %q", name, footer)
	}
	// the marks of the application's rows feed only their actions
	if h.m.opts.ReadOnly && (strings.HasPrefix(name, "readonly_pending") || strings.HasPrefix(name, "readonly_retry")) && strings.Contains(footer, "space mark") {
		t.Errorf("%s: a read-only footer offers marks that feed nothing: %q", name, footer)
	}
	// Every key named on a normal footer works: it is one of the view's
	// or the console's.
	if h.m.mode == modeNormal && !typing {
		known := map[string]bool{}
		for _, b := range append(h.m.viewKeys(), h.m.consoleKeys()...) {
			known[b.FooterHelp().Key] = true
		}
		for _, b := range keys.Fit(h.m.footerKeys(), 1<<10) {
			if !known[b.FooterHelp().Key] {
				t.Errorf("%s: the footer names %q, which is no key of the view", name, b.FooterHelp().Key)
			}
		}
	}
}

// TestOnlyDeclaredKeysWork: a key of another view does nothing here but
// say where it works; the view's own keys do what the footer says.
func TestOnlyDeclaredKeysWork(t *testing.T) {
	f := newSizeFixture(t, Options{})
	h := f.h
	// nothing: the keys do nothing on the view but say where they work
	nothing := func(where, say string, ks ...string) {
		t.Helper()
		for _, k := range ks {
			h.keys(k)
			if len(h.m.stack) != 1 || h.m.top().focused().MarkedCount() != 0 || h.m.mode != modeNormal {
				t.Fatalf("%s on the %s did something: %d views, %d marked", k, where, len(h.m.stack), h.m.top().focused().MarkedCount())
			}
		}
		if !strings.Contains(h.screen(), say) {
			t.Errorf("%s on the %s does not say where it works:\n%s", ks[len(ks)-1], where, h.screen())
		}
	}
	nothing("groups", "p peeks at the messages of a dead-letter queue or topic", "tab", "D", "]", "[", "p")
	nothing("groups", "P replays a range of a topic into another topic", "P")
	// the topics' marks feed P (TestReplayOpensOnTopics); R is not theirs
	h.command("topics")
	nothing("topics", "R resets the offsets of a consumer group", "R")
	// the topic's tab switches its pane, as its footer says
	h.command("topics")
	h.keys("enter")
	if !strings.Contains(h.screen(), "tab groups") {
		t.Fatalf("the topic's footer lacks tab:\n%s", h.screen())
	}
	h.keys("tab")
	if v := h.m.top().(*topicView); !v.onGroups || !strings.Contains(h.screen(), "tab partitions") {
		t.Errorf("tab did not switch the pane, or the footer did not follow")
	}
}
