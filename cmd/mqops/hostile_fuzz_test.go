package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/config"
	"github.com/mqops/mqops/backends/hostile"
	"github.com/mqops/mqops/backends/safejson"
)

// FuzzHostileText drives every renderer and encoder of the headless
// commands with one untrusted string placed in names, keys and values:
// backends.SafeText and SafeMultiline, the table writer, the errors and
// warnings printer, the JSON of -o json (through writeJSON), of the drain's
// --to file: lines and of the audit log (safejson.Marshal), and the YAML of
// `mqops config view`. Each output must be free of raw unsafe runes and
// invalid UTF-8 and keep its shape (a row stays one line); every JSON must
// be valid, read by encoding/json as encoding/json's own output would be,
// and give the exact original bytes back through safejson.Decode. The
// console's cells are fuzzed by FuzzConsoleCells in package tui with the
// same seeds (backends/hostile).
//
//	go test -run '^$' -fuzz FuzzHostileText -fuzztime 2m ./cmd/mqops
func FuzzHostileText(f *testing.F) {
	for _, s := range hostile.Strings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkText(t, s)
		checkTable(t, s)
		checkErrorLines(t, s)
		checkJSON(t, s)
		checkConfigView(t, s)
	})
}

// clean reports whether s has nothing SafeText must change.
func clean(s string) bool {
	return hostile.Check([]byte(s)) == nil
}

func checkText(t *testing.T, s string) {
	out := backends.SafeText(s)
	if err := hostile.Check([]byte(out)); err != nil {
		t.Fatalf("SafeText(%q): %v", s, err)
	}
	if clean(s) && out != s {
		// only a first rune that would join what precedes the string
		r, size := utf8.DecodeRuneInString(s)
		if out != fmt.Sprintf(`\u%04x`, r)+s[size:] {
			t.Fatalf("SafeText changed printable text %q into %q", s, out)
		}
	}
	ml := backends.SafeMultiline(s)
	if err := hostile.Check([]byte(ml), '\n'); err != nil {
		t.Fatalf("SafeMultiline(%q): %v", s, err)
	}
	if got, want := strings.Count(ml, "\n"), strings.Count(s, "\n"); got != want {
		t.Fatalf("SafeMultiline(%q) has %d line breaks, the text %d", s, got, want)
	}
}

func checkTable(t *testing.T, s string) {
	var b bytes.Buffer
	tb := newTable(&b, "NAME", "VALUE", "N")
	tb.row(s, "x"+s, "1")
	tb.row("-", s, "2")
	if err := tb.flush(); err != nil {
		t.Fatal(err)
	}
	if err := hostile.Check(b.Bytes(), '\n'); err != nil {
		t.Fatalf("table of %q: %v", s, err)
	}
	if n := strings.Count(b.String(), "\n"); n != 3 {
		t.Fatalf("table of %q has %d lines, want a header and 2 rows:\n%s", s, n, b.String())
	}
}

func checkErrorLines(t *testing.T, s string) {
	for _, l := range errorLines(errors.New("queue " + s + ": gone")) {
		if err := hostile.Check([]byte(l)); err != nil {
			t.Fatalf("error line of %q: %v", s, err)
		}
	}
}

// jsonCase is one value written as JSON and where s must come back.
type jsonCase struct {
	name  string
	v     any
	paths [][]any // each path leads from the document to a copy of s
}

func jsonCases(s string) []jsonCase {
	off, lag := int64(5), int64(7)
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	return []jsonCase{
		{"lag", &lagReport{Context: s, Cluster: s, TakenAt: at.Format(time.RFC3339), Samples: 1, Groups: []lagGroup{{
			Group: s, State: "Empty", Topics: []string{s}, Status: "OK",
			Partitions: []lagPartition{{Topic: s, Committed: &off, Lag: &lag, Member: s, ClientID: s, Host: s}},
		}}}, [][]any{{"context"}, {"groups", 0, "group"}, {"groups", 0, "topics", 0}, {"groups", 0, "partitions", 0, "client_id"}, {"groups", 0, "partitions", 0, "host"}}},
		{"queues", &queuesReport{Context: "c", Queues: []backends.Queue{{Vhost: s, Name: s, Arguments: map[string]any{s: s, "x-dead-letter-exchange": s}, Policy: s, DeadLetterExchange: s, DLQReason: s}}},
			[][]any{{"queues", 0, "vhost"}, {"queues", 0, "name"}, {"queues", 0, "arguments", s}, {"queues", 0, "dead_letter_exchange"}}},
		{"dlq", &dlqReport{Context: "c", DeadLetters: []backends.DeadLetterSummary{{Backend: "kafka", Topic: s, Messages: 1, Sampled: 1,
			Groups: []backends.DeadLetterGroup{{Origin: s, Reason: s, Exception: s, Count: 1, First: at, Last: at}}, Warning: s, LeftToDrain: &lag}}, Errors: []string{s}},
			[][]any{{"dead_letters", 0, "topic"}, {"dead_letters", 0, "groups", 0, "origin"}, {"dead_letters", 0, "groups", 0, "exception"}, {"errors", 0}}},
		{"drain --to file: line", &backends.Message{Exchange: s, RoutingKey: s, MessageID: s, Timestamp: at,
			Headers: map[string]any{s: s, "x-list": []any{s, int64(1), 2.5, true, nil, []byte(s), map[string]any{s: s}}, "x-at": at},
			Body:    []byte(s), Size: len(s), Deaths: []backends.Death{{Queue: s, Reason: "rejected", RoutingKeys: []string{s}, Count: 1, Time: at}}, FirstDeath: &backends.Death{Queue: s}},
			[][]any{{"exchange"}, {"headers", s}, {"headers", "x-list", 0}, {"headers", "x-list", 6, s}, {"deaths", 0, "routing_keys", 0}, {"first_death", "queue"}}},
		{"audit entry", &actions.AuditEntry{Time: at, User: s, Host: s, Context: s, Action: "drain", RunID: s, Source: "rabbitmq:" + s, Target: s, Command: s, Reason: s,
			Plan: &actions.AuditPlan{Summary: s, Problems: []string{s}, Details: map[string]any{s: s}}, Result: &actions.AuditResult{StoppedBecause: s, Details: map[string]any{s: s}}, Outcome: "failed", Error: s},
			[][]any{{"user"}, {"context"}, {"target"}, {"command"}, {"reason"}, {"plan", "summary"}, {"plan", "problems", 0}, {"plan", "details", s}, {"result", "stopped_because"}, {"result", "details", s}, {"error"}}},
		{"kafka record", backends.KafkaRecord{Topic: s, Headers: []backends.KafkaHeader{{Key: s, Value: []byte(s)}}, DeadLetter: &backends.KafkaDeadLetterInfo{OriginalTopic: s, ExceptionMessage: s}},
			[][]any{{"topic"}, {"headers", 0, "key"}, {"dead_letter", "original_topic"}, {"dead_letter", "exception_message"}}},
	}
}

func checkJSON(t *testing.T, s string) {
	for _, c := range jsonCases(s) {
		var b bytes.Buffer
		if err := writeJSON(&b, c.v); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		line, err := safejson.Marshal(c.v) // the drain's file lines and the audit log
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, out := range [][]byte{b.Bytes(), line} {
			if !json.Valid(out) {
				t.Fatalf("%s of %q: invalid JSON %q", c.name, s, out)
			}
			if err := hostile.Check(out, '\n'); err != nil {
				t.Fatalf("%s of %q: %v", c.name, s, err)
			}
		}
		if bytes.Contains(line, []byte("\n")) {
			t.Fatalf("%s: a JSON line holds a line break: %q", c.name, line)
		}
		// Same structure as encoding/json: it reads both the same.
		std, err := json.MarshalIndent(c.v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		var a, z any
		if err := json.Unmarshal(std, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b.Bytes(), &z); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, z) {
			t.Fatalf("%s of %q: encoding/json reads\n%v\nfrom writeJSON, and\n%v\nfrom its own output", c.name, s, z, a)
		}
		if utf8.ValidString(s) && clean(s) && !bytes.Equal(std, b.Bytes()[:b.Len()-1]) {
			t.Fatalf("%s of printable %q: writeJSON differs from encoding/json:\n%s\n%s", c.name, s, b.Bytes(), std)
		}
		// Lossless: the exact bytes come back.
		for _, out := range [][]byte{b.Bytes(), line} {
			doc, err := safejson.Decode(out)
			if err != nil {
				t.Fatalf("%s: Decode: %v", c.name, err)
			}
			for _, p := range c.paths {
				got, ok := at(doc, p)
				if !ok && s == "" {
					continue // an omitempty field
				}
				if !ok || got != s {
					t.Fatalf("%s: %v decodes to %q, want %q", c.name, p, got, s)
				}
			}
		}
	}
	// A body and a Kafka header value are base64: exact by construction.
	line, _ := safejson.Marshal(backends.KafkaHeader{Key: "k", Value: []byte(s)})
	doc, _ := safejson.Decode(line)
	if v, _ := doc.(map[string]any)["value"].(string); v != base64.StdEncoding.EncodeToString([]byte(s)) {
		t.Fatalf("header value %q as %q", s, v)
	}
}

// at follows path (object keys and array indices) in a decoded document.
func at(doc any, path []any) (any, bool) {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := doc.(map[string]any)
			if !ok {
				return nil, false
			}
			if doc, ok = m[k]; !ok {
				return nil, false
			}
		case int:
			a, ok := doc.([]any)
			if !ok || k >= len(a) {
				return nil, false
			}
			doc = a[k]
		}
	}
	return doc, true
}

func checkConfigView(t *testing.T, s string) {
	cfg := &config.Config{CurrentContext: s, Contexts: map[string]*config.Context{
		s: {Color: s,
			Kafka:    &config.Kafka{Brokers: []string{s, "kafka:9092"}, ClientID: s, SASL: &config.SASL{Mechanism: s, Username: s, PasswordEnv: s, PasswordFile: s}, TLS: &config.TLS{CAFile: s, ServerName: s}},
			RabbitMQ: &config.RabbitMQ{URL: s, ManagementURL: "http://" + s, Username: s, PasswordEnv: s, Vhosts: []string{s}},
			Store:    &config.Store{Driver: s, DSNEnv: s, DSNFile: s, Outbox: &config.TableMapping{Table: s, Columns: map[string]string{s: s}, Statuses: map[string]string{"pending": s}}},
		},
		"other": {Color: "red"},
	}}
	out, err := cfg.Redacted()
	if err != nil {
		t.Fatalf("Redacted with %q: %v", s, err)
	}
	if err := hostile.Check(out, '\n'); err != nil {
		t.Fatalf("config view of %q: %v", s, err)
	}
	var doc struct {
		Current  string `yaml:"current-context"`
		Contexts map[string]struct {
			Color string `yaml:"color"`
			Kafka struct {
				ClientID string `yaml:"client-id"`
			} `yaml:"kafka"`
		} `yaml:"contexts"`
	}
	if err := yaml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("config view of %q is not YAML: %v\n%s", s, err, out)
	}
	want := backends.SafeText(s)
	if doc.Current != want || doc.Contexts[want].Color != want || doc.Contexts[want].Kafka.ClientID != want {
		t.Fatalf("config view of %q reads back as %+v, want %q", s, doc, want)
	}
}
