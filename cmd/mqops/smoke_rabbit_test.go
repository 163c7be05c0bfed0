package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestSmokeRabbitConsoleInTmux runs the built binary in tmux against the
// real RabbitMQ of scripts/testenv: the queues view, the dead-letter queues,
// their groups by origin and reason, and a peek that leaves the DLQ as it
// was, then a drain back to the origins with its plan, confirmation,
// progress and result, and the audit entry it left.
func TestSmokeRabbitConsoleInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("smoke test builds and runs the binary")
	}
	p := fmt.Sprintf("sm%d", time.Now().UnixNano()%1000000)
	w := newNamedWorld(t, p, 30)
	bin := mqopsBin(t)
	state := t.TempDir()
	// the password reaches the binary through the environment tmux inherits
	// (RABBITMQ_PASSWORD), never through its arguments
	cmd := fmt.Sprintf("env XDG_STATE_HOME=%s %s console --view queues --timeout 5s %s", state, bin, strings.Join(w.cliArgs, " "))
	s := startTmux(t, 160, 40, cmd)
	s.keys("/")
	s.typeText(p)
	s.keys("Enter")
	s.waitFor("the queues view with our queues", 30*time.Second, screenHas("queues", p+".orders", p+".payments", p+".dlq", "quorum"))

	s.keys(":")
	s.typeText("dlq")
	s.keys("Enter")
	s.keys("/")
	s.typeText(p)
	s.keys("Enter")
	s.waitFor("our DLQ in the dead-letter view", 30*time.Second, screenHas("dead-letter", p+".dlq", "60"))
	s.keys("Enter")
	s.waitFor("dead letters grouped by origin and reason", 30*time.Second, screenHas(p+".orders", p+".payments", "rejected", "30"))
	s.keys("p")
	s.waitFor("a peek at the messages", 30*time.Second, screenHas("peek", "nothing is consumed", "0-0", "rejected"))
	// the message's fields, and the first opened whole in the value viewer
	s.keys("Tab", "Enter")
	s.waitFor("the value viewer", 15*time.Second, screenHas("peek › value", "message 0 · message", "c copy value"))
	s.keys("Escape")
	s.waitFor("the peek again", 15*time.Second, screenHas("peek", "nothing is consumed"))
	s.keys("Escape", "Escape")
	w.waitDepth(w.dlq, 60, 10*time.Second)
	if d := w.depth(w.origins[0]) + w.depth(w.origins[1]); d != 0 {
		t.Fatalf("peeking moved %d messages to the origins", d)
	}

	// drain from the dead-letter list: D, the form (origin by default,
	// rate 20/s), enter plans, y confirms; progress, then the result
	s.keys(":")
	s.typeText("dlq")
	s.keys("Enter")
	s.waitFor("our DLQ again", 30*time.Second, screenHas(p+".dlq", "60"))
	s.keys("/") // the list is new: only our DLQ, whatever else the broker holds
	s.typeText(p)
	s.keys("Enter")
	s.waitFor("only our DLQ", 15*time.Second, screenHas("1 of "))
	s.keys("D")
	s.waitFor("the drain form", 15*time.Second, screenHas("Drain the dead letters of "+p+".dlq"))
	s.keys("Tab", "Tab", "Tab", "Tab") // to the rate: 20 msg/s, so the run lasts long enough to watch
	s.typeText("20")
	s.keys("Enter")
	s.waitFor("the plan and its confirmation", 30*time.Second, screenHas("60 to move", "[y/N]"))
	if d := w.depth(w.dlq); d != 60 {
		t.Fatalf("planning moved messages: DLQ holds %d", d)
	}
	s.keys("y")
	s.waitFor("the progress bar", 30*time.Second, screenHas("msg/s · ETA"))
	s.waitFor("the drain result", 60*time.Second, screenHas("moved 60", "left in"))
	w.waitDepth(w.dlq, 0, 10*time.Second)
	w.waitDepth(w.origins[0], 30, 10*time.Second)
	w.waitDepth(w.origins[1], 30, 10*time.Second)
	s.keys("Escape", ":")
	s.typeText("audit")
	s.keys("Enter")
	s.waitFor("the drain in the audit view", 15*time.Second, screenHas("drain", "rabbitmq:"+p+".dlq"))

	s.keys("q")
	s.waitExit()
}
