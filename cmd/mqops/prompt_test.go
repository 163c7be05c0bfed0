package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// TestReadAnswer: the answer is one line; one that never ends is read up
// to its bound (never a hang, never unbounded memory); a signal at the
// question (its context ends) returns at once, though nothing was typed.
func TestReadAnswer(t *testing.T) {
	if ans, err := readAnswer(context.Background(), strings.NewReader("yes\nmore\n")); err != nil || ans != "yes\n" {
		t.Errorf("answer %q, %v; want \"yes\\n\"", ans, err)
	}
	endless := io.MultiReader(strings.NewReader(strings.Repeat("y", 3*maxAnswer)), neverReader{})
	if ans, err := readAnswer(context.Background(), endless); err != nil || len(ans) != maxAnswer {
		t.Errorf("an endless line: %d bytes, %v; want %d", len(ans), err, maxAnswer)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := readAnswer(ctx, neverReader{}); err != errInterrupted {
		t.Errorf("interrupted: %v, want %v", err, errInterrupted)
	}
}

// neverReader is a terminal nobody types on.
type neverReader struct{}

func (neverReader) Read([]byte) (int, error) { select {} }

// TestResetOffsetsInterruptedAtQuestion: ctrl+c at reset-offsets'
// confirmation, in a real terminal, ends the command at once with status
// 130 saying nothing was changed (not after the 5 s a running action gets
// to wind down: "interrupt: stopped"), and nothing was changed.
func TestResetOffsetsInterruptedAtQuestion(t *testing.T) {
	w := newResetWorld(t)
	bin := mqopsBin(t)
	s := startTmux(t, 200, 50, "env "+strings.Join(w.env, " ")+" "+bin+" reset-offsets "+w.group+" --to-earliest --all-topics --brokers "+w.brokers+"; echo rc=$?; sleep 60")
	s.waitFor("the question", 30*time.Second, screenHas("[y/N]"))
	s.keys("C-c")
	sc := s.waitFor("the end of the command", 30*time.Second, screenHas("rc="))
	sc = strings.ReplaceAll(sc, "\n", "") // lines wrapped at the terminal's width
	if !strings.Contains(sc, "mqops: interrupted at the question: nothing was changed") || !strings.Contains(sc, "rc=130") || strings.Contains(sc, "interrupt: stopped") {
		t.Errorf("screen:\n%s\nwant the command ended at the question with status 130", sc)
	}
	if got := w.committed(); !equalOffsets(got, w.original) {
		t.Errorf("offsets %v after the interrupt, want %v", got, w.original)
	}
}
