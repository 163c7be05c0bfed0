package tui

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/mqops/mqops/backends/hostile"
)

// stackTrace is an exception header as Spring and MassTransit write them:
// lines, tabs, and a hostile escape in the message.
const stackTrace = "java.lang.IllegalStateException: order 1001 \x1b[2Jrejected \u202eevil\n" +
	"\tat com.acme.orders.OrderHandler.handle(OrderHandler.java:42)\n" +
	"\tat org.springframework.amqp.rabbit.listener.AbstractMessageListenerContainer.doInvokeListener(AbstractMessageListenerContainer.java:1662)\r\n" +
	"Caused by: java.lang.NumberFormatException: For input string: \"x\""

// peekDetail opens the peek of orders.dlq, the fields of its message msg,
// and selects the row whose field and value start as given.
func peekDetail(t *testing.T, msg, field, value string) *harness {
	t.Helper()
	f := newFakeRabbit()
	ms := f.messages[queueKey("/", "orders.dlq")]
	ms[0].Headers["x-exception-stacktrace"] = stackTrace
	h := newHarness(t, Options{Rabbit: f}, nil)
	h.command("dlq")
	h.selectRow(queueKey("/", "orders.dlq"))
	h.keys("p")
	h.selectRow(msg)
	h.keys("tab")
	tbl := h.m.top().focused()
	for i := 0; i <= tbl.Len(); i++ {
		if r, ok := tbl.Selected(); ok && r.Cells[fcField] == field && strings.HasPrefix(r.Cells[fcValue], value) {
			return h
		}
		h.keys("j")
	}
	t.Fatalf("no row %s: %s…\n%s", field, value, h.screen())
	return nil
}

// TestValueViewerShowsAStackTraceWhole: enter on a header opens its value
// whole, its lines as lines and its tabs as indents, sanitized; esc goes
// back to the peek.
func TestValueViewerShowsAStackTraceWhole(t *testing.T) {
	h := peekDetail(t, "0", "header", "x-exception-stacktrace")
	if s := h.screen(); !strings.Contains(s, `\x0a\x09at`) {
		t.Fatalf("the detail pane shows the header on one line, escaped:\n%s", s)
	}
	h.keys("enter")
	v, ok := h.m.top().(*valueView)
	if !ok {
		t.Fatalf("enter opened %T", h.m.top())
	}
	s := h.screen()
	for _, want := range []string{
		"message 0 · header x-exception-stacktrace · 332 B · text · start",
		"\njava.lang.IllegalStateException: order 1001 \\x1b[2Jrejected \\u202eevil\n",
		"\n    at com.acme.orders.OrderHandler.handle(OrderHandler.java:42)\n",
		"\n    at org.springframework.amqp.rabbit.listener.AbstractMessageListenerContainer.doInvokeListener(AbstractMessageListene\n",
		"\nrContainer.java:1662)\n",
		"\nCaused by: java.lang.NumberFormatException: For input string: \"x\"\n",
		"j/k scroll", "c copy value",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the viewer lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, `\x0a`) || strings.Contains(s, `\x09`) || strings.Contains(s, `\x0d`) {
		t.Errorf("line breaks shown as escapes:\n%s", s)
	}
	if err := hostile.Check([]byte(h.m.View().Content), '\n', '\x1b'); err != nil {
		t.Errorf("the frame: %v", err)
	}
	checkFrame(t, h.m.View().Content, 120, 30)
	if v.top != 0 || len(v.rows) != 5 {
		t.Errorf("top %d, %d rows", v.top, len(v.rows))
	}
	// c copies the value as received, sanitized, its line breaks and
	// tabs real (the CR LF a line break).
	want := "java.lang.IllegalStateException: order 1001 \\x1b[2Jrejected \\u202eevil\n" +
		"\tat com.acme.orders.OrderHandler.handle(OrderHandler.java:42)\n" +
		"\tat org.springframework.amqp.rabbit.listener.AbstractMessageListenerContainer.doInvokeListener(AbstractMessageListenerContainer.java:1662)\n" +
		"Caused by: java.lang.NumberFormatException: For input string: \"x\""
	if got := copied(h, "c"); got != want {
		t.Errorf("copied %q\nwant   %q", got, want)
	}
	h.keys("esc")
	if _, ok := h.m.top().(*peekView); !ok {
		t.Fatalf("esc went to %T", h.m.top())
	}
	// c in the detail pane copies the same value, without opening it.
	if got := copied(h, "c"); got != want {
		t.Errorf("copied from the pane %q", got)
	}
}

// copied presses k and returns what the commands it returned put on the
// clipboard ("" when nothing).
func copied(h *harness, k string) string {
	h.t.Helper()
	_, cmd := h.m.Update(keyPress(k))
	var out string
	for _, msg := range execCmd(cmd) {
		if fmt.Sprintf("%T", msg) == "tea.setClipboardMsg" {
			out = fmt.Sprint(msg)
			continue
		}
		if _, ok := msg.(delayedMsg); !ok {
			h.send(msg)
		}
	}
	return out
}

// TestValueViewerBodyAndRows: the body opens whole from any of its lines,
// a binary body as a hex dump of all of it; a list row copies as its
// cells.
func TestValueViewerBodyAndRows(t *testing.T) {
	h := peekDetail(t, "2", "", "line one")
	if _, ok := h.m.top().(*peekView); !ok {
		t.Fatalf("top %T", h.m.top())
	}
	h.keys("enter")
	s := h.screen()
	if !strings.Contains(s, "message 2 · body · ") || !strings.Contains(s, "\nline two \\u009b2J   tabbed\nend \\u202edesrever\n") {
		t.Fatalf("the body:\n%s", s)
	}
	h.keys("esc", "tab") // the list
	h.selectRow("1")
	h.keys("tab")
	for i := 0; i < 30; i++ {
		if r, ok := h.m.top().focused().Selected(); ok && r.Cells[fcField] == "body" {
			break
		}
		h.keys("j")
	}
	h.keys("enter")
	v := h.m.top().(*valueView)
	if !v.hex || v.size != 300 || !strings.Contains(h.screen(), "00000120  00 00 00 00 00 00 00 00  00 00 00 00              |............|") {
		t.Fatalf("the binary body: hex %v size %d\n%s", v.hex, v.size, h.screen())
	}
	h.keys("esc", "tab")
	if got := copied(h, "c"); !strings.HasPrefix(got, "1\tord-1002\t") {
		t.Errorf("the row copied as %q", got)
	}
}

// TestValueViewerHostile: every hostile seed, laid out at several widths
// and scrolled through, draws no raw control or bidi character and no
// invalid byte, and copies none but newline and tab.
func TestValueViewerHostile(t *testing.T) {
	for i, s := range hostile.Strings {
		for _, raw := range [][]byte{[]byte(s), []byte(s + "\n\t" + s)} {
			v := newValueView("seed", fieldValue{name: "seed", raw: raw}, "")
			for _, w := range []int{1, 7, 40, 120} {
				v.top = 0
				v.layout(w, 5)
				var all []string
				for step := 0; step < 100000; step++ {
					all = append(all, v.rows...)
					before := v.top
					v.scroll(5)
					v.layout(w, 5)
					if v.top == before {
						break
					}
				}
				out := strings.Join(all, "\n")
				if err := hostile.Check([]byte(out), '\n'); err != nil {
					t.Errorf("seed %d at %d columns: %v", i, w, err)
				}
				for _, r := range all {
					if ansi.StringWidth(r) > w {
						t.Errorf("seed %d: a row of %d cells at %d: %q", i, ansi.StringWidth(r), w, r)
					}
				}
			}
			if err := hostile.Check([]byte(copyText(raw, v.hex)), '\n', '\t'); err != nil {
				t.Errorf("seed %d copied: %v", i, err)
			}
		}
	}
}

// TestValueViewerScrollsBothWays: the rows met scrolling up from the end
// are those met scrolling down from the start.
func TestValueViewerScrollsBothWays(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&b, "%d %s\t%s\n", i, strings.Repeat("ab", i%70), strings.Repeat("日本", i%13))
	}
	v := newValueView("t", fieldValue{name: "t", raw: []byte(b.String())}, "")
	v.layout(50, 1)
	var down []string
	for {
		down = append(down, v.rows[0])
		before := v.top
		v.scroll(1)
		v.layout(50, 1)
		if v.top == before {
			break
		}
	}
	v.toEnd()
	v.layout(50, 1)
	var up []string
	for {
		up = append([]string{v.rows[0]}, up...)
		if v.top == 0 {
			break
		}
		v.scroll(-1)
		v.layout(50, 1)
	}
	if strings.Join(up, "\n") != strings.Join(down, "\n") {
		t.Fatalf("%d rows down, %d up", len(down), len(up))
	}
	if len(down) < 300 {
		t.Fatalf("%d rows for 300 lines", len(down))
	}
}

// TestValueViewerBounded: a 64 MiB body (one line, then many) opens,
// jumps to its end, pages up and back to its start laying out a few
// hundred KiB at most, whatever its size.
func TestValueViewerBounded(t *testing.T) {
	oneLine := bytes.Repeat([]byte("0123456789abcdef"), 4<<20)
	lines := bytes.Repeat([]byte("a line of a log, as long as many are: 2026-03-14T09:30:00Z INFO ok\n"), 1<<20)
	for name, raw := range map[string][]byte{"one line": oneLine, "lines": lines} {
		t.Run(name, func(t *testing.T) {
			v := newValueView("big", fieldValue{name: "body", raw: raw}, "")
			v.layout(120, 30)
			v.toEnd()
			v.layout(120, 30)
			if v.next != len(raw) || len(v.rows) != 30 {
				t.Fatalf("the end: next %d of %d, %d rows", v.next, len(raw), len(v.rows))
			}
			v.scroll(-29)
			v.scroll(-29)
			v.layout(120, 30)
			v.scroll(1)
			v.top = 0
			v.layout(120, 30)
			v.scroll(29)
			v.layout(120, 30)
			if v.work > 512<<10 {
				t.Errorf("laid out %d bytes of %d", v.work, len(raw))
			}
			t.Logf("laid out %d bytes of %d", v.work, len(raw))
			if s := v.summary(120)[0]; !strings.Contains(s, fmtBytes(len(raw))) {
				t.Errorf("summary %q", s)
			}
		})
	}
}

// TestValueViewerKafkaRecord: a record's key, exception message and
// headers open whole too.
func TestValueViewerKafkaRecord(t *testing.T) {
	k := newFakeKafkaDLQ(t)
	recs := k.records["orders.DLT"]
	recs[0].DeadLetter.ExceptionMessage = stackTrace
	h := newHarness(t, Options{KafkaDLQ: k}, nil)
	h.command("dlq")
	h.selectRow(ordersDLT)
	h.keys("p", "tab")
	tbl := h.m.top().focused()
	for i := 0; i <= tbl.Len(); i++ {
		if r, ok := tbl.Selected(); ok && r.Cells[fcField] == "" && strings.Contains(r.Cells[fcValue], "OrderHandler") {
			break
		}
		h.keys("j")
	}
	h.keys("enter")
	if s := h.screen(); !strings.Contains(s, "· exception message · 332 B") || !strings.Contains(s, "\nCaused by: java.lang.NumberFormatException") {
		t.Fatalf("the exception message:\n%s", s)
	}
	h.keys("esc", "g", "j")
	h.keys("enter")
	if _, ok := h.m.top().(*valueView); !ok || !strings.Contains(h.screen(), "· key ·") {
		t.Fatalf("the key:\n%s", h.screen())
	}
	// a late key of the console still works in the viewer: ? is help
	h.send(tea.KeyPressMsg{Code: '?', Text: "?"})
	if h.m.mode != modeHelp {
		t.Error("? does not open the help in the viewer")
	}
}

// BenchmarkValueViewer64MiB opens a 64 MiB one-line body, draws its
// first screen, jumps to its end and pages up: the cost of a keystroke on
// the biggest value the viewer shows.
func BenchmarkValueViewer64MiB(b *testing.B) {
	raw := bytes.Repeat([]byte("0123456789abcdef"), 4<<20)
	for i := 0; i < b.N; i++ {
		v := newValueView("big", fieldValue{name: "body", raw: raw}, "")
		v.layout(120, 30)
		v.toEnd()
		v.layout(120, 30)
		v.scroll(-29)
		v.layout(120, 30)
	}
}

// TestCopyRunIDFromTheAudit: c on the run id of an audit entry copies the
// run id alone.
func TestCopyRunIDFromTheAudit(t *testing.T) {
	const id = "20260314T073000-1a2b3c4d5e6f"
	h := newHarness(t, Options{Audit: auditFixture(t), StartView: "audit"}, nil)
	find := func(col int, text string) {
		t.Helper()
		tbl := h.m.top().focused()
		h.keys("g")
		for i := 0; i <= tbl.Len(); i++ {
			if r, ok := tbl.Selected(); ok && strings.TrimSpace(r.Cells[col]) == text {
				return
			}
			h.keys("j")
		}
		t.Fatalf("no %q:\n%s", text, h.screen())
	}
	find(acRun, id)
	if got := copied(h, "c"); !strings.Contains(got, "\t"+id+"\t") {
		t.Errorf("the entry's row copied as %q", got)
	}
	h.keys("enter")
	find(0, "run id")
	if got := copied(h, "c"); got != id {
		t.Errorf("the run id copied as %q", got)
	}
}
