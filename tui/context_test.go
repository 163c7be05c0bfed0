package tui

import (
	"errors"
	"strings"
	"testing"

	"github.com/mqops/mqops/tui/components"
)

// TestSwitchContext: :ctx NAME checks the context in a command, then ends
// the console with Exit naming it and the top-level view to reopen; a
// context that does not resolve is an error flash and the console stays.
func TestSwitchContext(t *testing.T) {
	var checked []string
	o := Options{Contexts: []string{"staging", "prod", "broken"}, CheckContext: func(name string) error {
		checked = append(checked, name)
		if name == "broken" {
			return errors.New(`config.yaml:12: kafka.sasl.password-env: env var "X" is empty`)
		}
		return nil
	}}
	h := newHarness(t, o, cannedOne())
	h.keys(":")
	h.typeText("topics")
	h.keys("enter")

	h.keys(":")
	h.typeText("ctx broken")
	h.keys("enter")
	if h.quit || h.m.flash.Level != components.FlashError || !strings.Contains(h.m.flash.Text, "cannot open context broken") ||
		!strings.Contains(h.m.flash.Text, "config.yaml:12") {
		t.Fatalf("broken context: quit=%v flash %q", h.quit, h.m.flash.Text)
	}
	h.keys(":")
	h.typeText("ctx staging")
	h.keys("enter")
	if h.quit || !strings.Contains(h.m.flash.Text, "already on context staging") {
		t.Fatalf("same context: quit=%v flash %q", h.quit, h.m.flash.Text)
	}
	h.keys(":")
	h.typeText("ctx nope")
	h.keys("enter")
	if h.quit || !strings.Contains(h.m.flash.Text, "unknown context nope") {
		t.Fatalf("unknown context: quit=%v flash %q", h.quit, h.m.flash.Text)
	}
	h.keys(":")
	h.typeText("ctx prod")
	h.keys("enter")
	if !h.quit || h.m.Exit() != (Exit{Context: "prod", View: "topics"}) {
		t.Fatalf("switch: quit=%v exit %+v flash %q", h.quit, h.m.Exit(), h.m.flash.Text)
	}
	if strings.Join(checked, ",") != "broken,prod" {
		t.Fatalf("checked %v", checked)
	}
}

// TestSwitchContextWithoutCheck: a console that cannot reopen itself (the
// demo) says how to switch instead.
func TestSwitchContextWithoutCheck(t *testing.T) {
	h := newHarness(t, Options{Contexts: []string{"staging", "prod"}}, cannedOne())
	h.keys(":")
	h.typeText("ctx prod")
	h.keys("enter")
	if h.quit || !strings.Contains(h.m.flash.Text, "restart with --context prod") {
		t.Fatalf("quit=%v flash %q", h.quit, h.m.flash.Text)
	}
}

func cannedOne() *cannedSource {
	src := &cannedSource{}
	src.set(cluster(1), nil)
	return src
}
