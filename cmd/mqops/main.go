// Command mqops is a terminal operations console for message queues: the
// console by default, and a headless command for every view and action.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mqops/mqops/backends"
)

// signalGrace is how long the process winds down after SIGINT, SIGTERM or SIGHUP
// (a drain requeues its in-flight window and writes its audit entry); a
// second signal, or the end of the grace, ends it at once. Either way the
// process ends: a call blocked on a dead peer never keeps it alive.
const signalGrace = 5 * time.Second

func main() {
	backends.TuneGC()
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	// SIGHUP too: a closed terminal or ssh session winds a command down
	// like ctrl+c (a drain requeues its window, an action writes its
	// audit entry), instead of killing it where it stands.
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	var got atomic.Value // the signal that ended the run, if one did
	go func() {
		s := <-sigs
		got.Store(s)
		cancel()
		select {
		case <-sigs:
		case <-time.After(signalGrace):
		}
		fmt.Fprintln(os.Stderr, "mqops: "+s.String()+": stopped")
		os.Exit(signalStatus(s))
	}()
	err := newRootCmd().ExecuteContext(ctx)
	cancel()
	if err != nil {
		printError(os.Stderr, err)
		if s, ok := got.Load().(os.Signal); ok {
			os.Exit(signalStatus(s))
		}
		os.Exit(exitStatus(err))
	}
}

// signalStatus is the shell's status for a process ended by s.
func signalStatus(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 130
}

// printError writes an error for the operator: secrets redacted, each line
// of it on a line of its own, every line sanitized for the terminal.
func printError(w io.Writer, err error) {
	for _, l := range errorLines(err) {
		fmt.Fprintln(w, "mqops: "+l)
	}
}
