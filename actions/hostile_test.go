package actions

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/hostile"
	"github.com/mqops/mqops/backends/safejson"
)

// TestFileSinkAndAuditKeepBytes: a dead letter whose names and headers hold
// escape sequences, C1 and bidi controls, U+2028 and invalid UTF-8 is
// written by the drain's --to file: sink, and its queue name by the audit
// log, as lines free of every raw unsafe byte from which the exact bytes
// decode back (safejson.Decode).
func TestFileSinkAndAuditKeepBytes(t *testing.T) {
	dir := t.TempDir()
	sink, err := openFileSink(filepath.Join(dir, "dead.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	audit := NewAuditLog(filepath.Join(dir, "audit.jsonl"))
	for _, s := range hostile.Strings {
		m := &backends.Message{Exchange: s, RoutingKey: s, MessageID: s, Timestamp: time.Unix(1, 0).UTC(),
			Headers: map[string]any{s: s, "x-bytes": []byte(s)}, Body: []byte(s), Size: len(s),
			Deaths: []backends.Death{{Queue: s, Reason: "rejected", RoutingKeys: []string{s}, Count: 1}}}
		if err := sink.Write(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		if err := audit.Append(AuditEntry{Context: s, Action: "drain", Parameters: map[string]any{"source": "rabbitmq:" + s}, Outcome: "failed", Error: s}); err != nil {
			t.Fatal(err)
		}
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"dead.jsonl", "audit.jsonl"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := hostile.Check(b, '\n'); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		lines := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
		if len(lines) != len(hostile.Strings) {
			t.Fatalf("%s: %d lines for %d entries", f, len(lines), len(hostile.Strings))
		}
		for i, s := range hostile.Strings {
			doc, err := safejson.Decode(lines[i])
			if err != nil {
				t.Fatalf("%s line %d: %v", f, i, err)
			}
			d := doc.(map[string]any)
			// each pair: what decoded, what was written
			var pairs [][2]any
			if f == "dead.jsonl" {
				pairs = [][2]any{{d["exchange"], s}, {d["routing_key"], s}, {d["message_id"], s},
					{d["headers"].(map[string]any)[s], s}, {d["deaths"].([]any)[0].(map[string]any)["queue"], s}}
			} else {
				pairs = [][2]any{{d["context"], s}, {d["error"], s}, {d["parameters"].(map[string]any)["source"], "rabbitmq:" + s}}
			}
			for _, p := range pairs {
				if s == "" && p[0] == nil {
					continue // an omitempty field
				}
				if f == "audit.jsonl" {
					// the audit log keeps at most maxAuditString bytes of a string
					p[1] = boundString(p[1].(string))
				}
				if p[0] != p[1] {
					t.Fatalf("%s line %d: %q decodes back as %q", f, i, p[1], p[0])
				}
			}
		}
	}
}
