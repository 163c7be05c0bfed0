package tui

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/kafka"
	"github.com/mqops/mqops/backends/kafka/kafkatest"
)

// TestExactTimeLagConsole: the console on the real broker, groups stopped
// a day and hours behind: on the FIRST frame, the groups view and the
// group view show each TIME LAG exact (now minus the timestamp of the
// record at the committed offset, as the model holds it, within the time
// the snapshot took), unmarked, with no legend of estimates.
func TestExactTimeLagConsole(t *testing.T) {
	brokers := os.Getenv("KAFKA_BROKERS")
	if brokers == "" {
		if os.Getenv("MQOPS_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("KAFKA_BROKERS is not set")
		}
		t.Skip("KAFKA_BROKERS not set: integration test skipped")
	}
	f := kafkatest.NewTimeLag(t, strings.Split(brokers, ","), "tl-console-")
	k, err := kafka.New(kafka.Config{Brokers: strings.Split(brokers, ","), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()

	before := time.Now()
	h := newHarness(t, Options{Kafka: k, Cluster: brokers}, nil)
	after := time.Now()
	if h.m.data.gen != 1 {
		t.Fatalf("no first frame: %d snapshots", h.m.data.gen)
	}
	want := map[string]string{f.Topic + ".day": "1d00h", f.Topic + ".hour": "1h30m", f.Topic + ".same": "1d00h"}
	for group, offs := range f.Commits {
		gs := h.m.data.analysis.Groups[group]
		if gs == nil {
			t.Fatalf("group %s not in the first frame's data", group)
		}
		for p, off := range offs {
			ts := f.Times[p][off]
			ps := gs.Partition(f.Topic, p)
			if ps.TimeLag == nil || ps.TimeLagSource != backends.TimeLagRecord || *ps.TimeLag < before.Sub(ts) || *ps.TimeLag > after.Sub(ts) {
				t.Errorf("%s p%d: time lag %v from %q, want now − record time (%v to %v), exact", group, p, ps.TimeLag, ps.TimeLagSource, before.Sub(ts), after.Sub(ts))
			}
		}
	}

	h.keys("/")
	h.typeText(f.Topic)
	h.keys("enter")
	screen := h.screen()
	for group, cell := range want {
		row := lineWith(screen, group)
		if row == "" {
			t.Fatalf("no row of %s on the first frame:\n%s", group, screen)
		}
		if !slices.Contains(strings.Fields(row), cell) || strings.ContainsAny(row, "~≥") {
			t.Errorf("%s: row %q, want the exact TIME LAG %s", group, row, cell)
		}
	}

	h.selectRow(f.Topic + ".hour")
	h.keys("enter")
	screen = h.screen()
	for p, cell := range map[int32]string{0: "1h00m", 1: "1h30m"} {
		row := ""
		for _, l := range strings.Split(screen, "\n") {
			if fields := strings.Fields(l); len(fields) > 2 && fields[0] == f.Topic && fields[1] == string('0'+rune(p)) {
				row = l
			}
		}
		if !slices.Contains(strings.Fields(row), cell) || strings.ContainsAny(row, "~≥") {
			t.Errorf("group view p%d: row %q, want the exact TIME LAG %s", p, row, cell)
		}
	}
	if strings.Contains(screen, "estimated on") || strings.Contains(screen, "lower bound on") || !strings.Contains(screen, "time lag 1h30m") {
		t.Errorf("group view of exact time lags:\n%s", screen)
	}
}

func lineWith(screen, s string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, s+" ") {
			return l
		}
	}
	return ""
}
