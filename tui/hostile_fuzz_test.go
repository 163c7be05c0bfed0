package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/hostile"
	"github.com/mqops/mqops/tui/components"
	"github.com/mqops/mqops/tui/styles"
)

// FuzzConsoleCells drives the console's rendering of broker text with one
// untrusted string in every name, header, key and body: safe, quoteSafe and
// fmtValue, the rows of a peeked RabbitMQ message and of a Kafka record
// (list and detail) drawn by the table in the peek panes, and an audit
// entry in the audit list and its detail. No drawn line may hold a raw
// unsafe rune, invalid UTF-8 or a line break, nor be wider than the screen.
// The styles are the zero styles, which paint nothing: every escape
// sequence in a line would then have come from the string. FuzzHostileText
// in cmd/mqops drives the headless renderers and encoders with the same
// seeds.
//
//	go test -run '^$' -fuzz FuzzConsoleCells -fuzztime 2m ./tui
func FuzzConsoleCells(f *testing.F) {
	for _, s := range hostile.Strings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		check := func(what string, lines ...string) {
			t.Helper()
			for _, l := range lines {
				if err := hostile.Check([]byte(l)); err != nil {
					t.Fatalf("%s of %q: %v", what, s, err)
				}
			}
		}
		check("safe/quoteSafe/fmtValue", safe(s), quoteSafe(s), fmtValue(s), fmtValue([]byte(s)),
			fmtValue(map[string]any{s: []any{s, int64(1)}}), fmtBinary([]byte(s), 64))

		var st styles.Styles // paints nothing: see above
		const width, height = 100, 40
		draw := func(what string, body func(*styles.Styles) []string) {
			t.Helper()
			lines := body(&st)
			check(what, lines...)
			for _, l := range lines {
				if w := ansi.StringWidth(l); w > width {
					t.Fatalf("%s of %q: a line %d cells wide on a %d-cell screen: %q", what, s, w, width, l)
				}
			}
		}

		at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
		m := &backends.Message{Index: 1, Exchange: s, RoutingKey: s, MessageID: s, CorrelationID: s, ContentType: s, AppID: s, Timestamp: at,
			Headers: map[string]any{s: s, "x-bytes": []byte(s), "x-list": []any{s, map[string]any{s: s}}, "x-exception-message": s},
			Body:    []byte(s), Size: len(s),
			Deaths:     []backends.Death{{Queue: s, Reason: s, Exchange: s, RoutingKeys: []string{s}, Count: 2, Time: at}},
			FirstDeath: &backends.Death{Queue: s, Reason: s, Exchange: s},
		}
		pv := newPeekView(s, s, 1)
		check("peek titles", pv.what(), pv.crumb())
		pv.setPage([]components.Row{messageRow("0", m, 2, true)}, map[string][]components.Row{"0": messageDetail(m, "2 of 2")})
		pv.layout(width, height)
		draw("message list and detail", pv.body)
		pv.togglePane()
		draw("message detail focused", pv.body)

		r := &backends.KafkaRecord{Topic: s, Partition: 1, Offset: 2, Timestamp: at, Key: []byte(s), Value: []byte(s),
			Headers:    []backends.KafkaHeader{{Key: s, Value: []byte(s)}, {Key: "kafka_dlt-exception-message", Value: []byte(s)}},
			DeadLetter: &backends.KafkaDeadLetterInfo{Format: "spring", OriginalTopic: s, ExceptionClass: s, ExceptionMessage: s},
		}
		kv := newKafkaPeekView(s, 1)
		check("kafka peek titles", kv.what(), kv.crumb())
		kv.setPage([]components.Row{recordRow("0", 0, r)}, map[string][]components.Row{"0": recordDetail(0, r)})
		kv.layout(width, height)
		draw("record list and detail", kv.body)

		e := actions.AuditEntry{Time: at, User: s, Host: s, Context: s, Action: "drain", RunID: s, Source: "rabbitmq:" + s, Target: s, Reason: s, Command: s,
			Parameters: map[string]any{"source": "rabbitmq:" + s, "target": s, s: s},
			Plan:       &actions.AuditPlan{Summary: s, Problems: []string{s}, Details: map[string]any{s: s}}, Result: &actions.AuditResult{Done: 1, StoppedBecause: s, Details: map[string]any{s: s}},
			Outcome: s, Error: s + "\n" + s}
		av := newAuditView("/dev/null")
		av.setEntries([]actions.AuditEntry{e})
		av.layout(width, height)
		draw("audit list", av.body)
		dv := newAuditDetailView(e)
		check("audit detail crumb", dv.crumb())
		dv.layout(width, height)
		draw("audit detail", dv.body)

		if strings.ContainsRune(safe(s), '\n') {
			t.Fatalf("safe(%q) breaks the line", s)
		}
	})
}
