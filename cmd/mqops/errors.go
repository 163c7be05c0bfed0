package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mqops/mqops/backends"
)

// Exit statuses.
const (
	exitFailure = 1
	// exitPartial: the command printed a result, but a part of it is
	// missing (named on stderr).
	exitPartial = 3
)

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// partialError says a result was printed without some of its parts: each
// entry of missing names one (a queue, a group, a broker) and why.
type partialError struct {
	what    string // "dead-letter queues", "groups"
	missing []string
}

func (e *partialError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "partial result: %d missing (%s):", len(e.missing), e.what)
	for _, m := range e.missing {
		b.WriteString("\n  " + m)
	}
	return b.String()
}

// partialResult is the error of a command whose output lacks the missing
// parts; nil when nothing is missing.
func partialResult(what string, missing []string) error {
	if len(missing) == 0 {
		return nil
	}
	return &partialError{what: what, missing: missing}
}

func exitStatus(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var pe *partialError
	if errors.As(err, &pe) {
		return exitPartial
	}
	return exitFailure
}

// errorLines is an error as the lines an operator reads: secrets redacted,
// one line per line of the error, each sanitized for the terminal.
func errorLines(err error) []string {
	text := backends.Redact(err.Error())
	text = strings.ReplaceAll(text, "\r\n", "\n")
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		out = append(out, backends.SafeText(strings.ReplaceAll(l, "\t", "  ")))
	}
	return out
}
