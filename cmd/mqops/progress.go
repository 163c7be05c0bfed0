package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mqops/mqops/backends/rabbitmq"
)

// readProgressDelay is how long a read runs before its progress line
// appears: a quick answer draws nothing.
const readProgressDelay = 500 * time.Millisecond

// readProgress shows, on stderr when it is a terminal, one line saying a
// long read is under way and for how long (there is no deadline on the
// whole read: a big cluster that keeps answering is read whole). done
// clears the line; it is safe to call more than once.
func readProgress(g *globals, what string) (done func()) {
	if !isTerminal(os.Stderr) {
		return func() {}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		start := time.Now()
		select {
		case <-stop:
			return
		case <-time.After(readProgressDelay):
		}
		frames := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		width := 0
		for i := 0; ; i++ {
			line := fmt.Sprintf("%s %s… %s (ctrl+c stops)", frames[i%len(frames)], what, time.Since(start).Round(time.Second))
			width = max(width, len([]rune(line)))
			fmt.Fprint(g.stderr, "\r"+line)
			select {
			case <-stop:
				fmt.Fprint(g.stderr, "\r"+strings.Repeat(" ", width)+"\r")
				return
			case <-tick.C:
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			wg.Wait()
		})
	}
}

// listingProgress prints a progress line on stderr, when it is a terminal,
// while a listing of RabbitMQ queues takes more than a few pages; end
// clears it.
func listingProgress(g *globals, rc *rabbitmq.Client) (end func()) {
	if !isTerminal(os.Stderr) {
		return func() {}
	}
	onPage, end := listingLine(g.stderr)
	rc.SetProgress(onPage)
	return end
}

// listingLine draws "listing RabbitMQ queues: page 4 of 12 (2000 queues)"
// on w, over and over on one line, once the listing has more than 3 pages;
// end clears the line.
func listingLine(w io.Writer) (onPage func(page, pages, queues int), end func()) {
	shown := false
	onPage = func(page, pages, queues int) {
		if pages <= 3 {
			return
		}
		shown = true
		fmt.Fprintf(w, "\rlisting RabbitMQ queues: page %d of %d (%d queues) ", page, pages, queues)
	}
	end = func() {
		if shown {
			fmt.Fprint(w, "\r\x1b[K")
		}
	}
	return onPage, end
}
