package main

import (
	"bufio"
	"context"
	"errors"
	"io"
)

// maxAnswer bounds the answer read at a confirmation.
const maxAnswer = 4 << 10

// errInterrupted ends a command interrupted at its confirmation.
var errInterrupted = errors.New("interrupted at the question: nothing was changed")

// readAnswer reads the operator's answer to a question: one line of r, at
// most maxAnswer bytes. A signal at the question (ctx ends) ends it at
// once with errInterrupted — nothing has been changed, so there is
// nothing to wind down — leaving the read behind, as the process ends.
func readAnswer(ctx context.Context, r io.Reader) (string, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(io.LimitReader(r, maxAnswer)).ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		return line, nil
	case <-ctx.Done():
		return "", errInterrupted
	}
}
