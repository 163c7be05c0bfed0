package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzParse: Parse never panics or hangs, whatever the input; its errors are
// safe to print on a terminal; and what it accepts can be shown with
// Redacted and parsed back to the same view.
//
//	go test ./backends/config -run '^$' -fuzz FuzzParse -fuzztime 60s
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/*.yaml", "testdata/errors/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range files {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("a: &a [*a, *a]\ncontexts: {p: {kafka: {brokers: *a}}}\n"))
	f.Add([]byte("contexts: {p: {<<: [{kafka: {brokers: ['k:1']}}, {color: red}]}}\n"))
	f.Add([]byte("contexts: {\"\\u202e\": {kafka: {brokers: ['k:1']}}}\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		// A watchdog far above any real parse time (microseconds; the alias
		// budget bounds the worst case to milliseconds), to name the input
		// if Parse ever loops instead of leaving a bare "worker hung".
		watchdog := time.AfterFunc(30*time.Second, func() { panic(fmt.Sprintf("Parse hangs on %q", data)) })
		defer watchdog.Stop()
		c, err := Parse(data, "fuzz.yaml")
		if err != nil {
			if c != nil {
				t.Fatal("config returned with an error")
			}
			checkPrintable(t, err.Error())
			return
		}
		out, err := c.Redacted()
		if err != nil {
			t.Fatalf("Redacted: %v", err)
		}
		checkPrintable(t, string(out))
		back, err := Parse(out, "fuzz.yaml")
		if err != nil {
			t.Fatalf("Redacted output does not parse: %v\n%s", err, out)
		}
		again, err := back.Redacted()
		if err != nil || string(again) != string(out) {
			t.Fatalf("Redacted not stable: %v\n%s\n---\n%s", err, out, again)
		}
		for _, name := range c.ContextNames() {
			if _, err := c.Context(name); err != nil {
				t.Fatalf("Context(%q): %v", name, err)
			}
		}
	})
}

// checkPrintable fails on control characters (other than newline) and
// invalid UTF-8: an error or a view must not be able to drive the terminal.
func checkPrintable(t *testing.T, s string) {
	t.Helper()
	if !strings.Contains(s, "\x00") && validText(strings.ReplaceAll(s, "\n", "")) {
		return
	}
	t.Fatalf("unsafe text: %q", s)
}
