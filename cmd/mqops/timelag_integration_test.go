package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mqops/mqops/backends/kafka/kafkatest"
)

// TestExactTimeLagLagJSON: `mqops lag -o json` (the built binary) on the
// real broker, one sample: each partition's time_lag_seconds is now minus
// the timestamp of the record at its committed offset (a day, hours old),
// bracketed by the times before and after the command ran, from source
// "record"; each group's is its oldest partition's. The table shows the
// same, without the marks of estimates and bounds.
func TestExactTimeLagLagJSON(t *testing.T) {
	env := requireEnv(t, "KAFKA_BROKERS")
	brokers := strings.Split(env["KAFKA_BROKERS"], ",")
	f := kafkatest.NewTimeLag(t, brokers, "tl-cli-")
	bin := mqopsBin(t)
	cmdEnv := []string{"XDG_CONFIG_HOME=" + t.TempDir(), "XDG_STATE_HOME=" + t.TempDir()}
	args := []string{"lag", "--brokers", env["KAFKA_BROKERS"]}
	for _, g := range f.Groups() {
		args = append(args, "--group", g)
	}

	before := time.Now()
	out, stderr, err := run(t, time.Minute, cmdEnv, bin, append(args, "-o", "json")...)
	after := time.Now()
	if err != nil {
		t.Fatalf("mqops lag: %v\n%s", err, stderr)
	}
	var rep lagReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bad json: %v\n%s", err, out)
	}
	if rep.Samples != 1 || len(rep.Groups) != len(f.Commits) {
		t.Fatalf("%d samples, %d groups: %s", rep.Samples, len(rep.Groups), out)
	}
	for _, g := range rep.Groups {
		var oldest float64
		for _, p := range g.Partitions {
			ts := f.Times[p.Partition][f.Commits[g.Group][p.Partition]]
			lo, hi := before.Sub(ts).Seconds()-0.01, after.Sub(ts).Seconds()+0.01 // rounded to 0.01 s
			if p.TimeLagSeconds == nil || p.TimeLagSource == nil || *p.TimeLagSource != "record" || *p.TimeLagSeconds < lo || *p.TimeLagSeconds > hi {
				t.Errorf("%s p%d: time lag %v s from %v (%q), want now − record time, %.2f to %.2f s, from record",
					g.Group, p.Partition, deref(p.TimeLagSeconds), derefS(p.TimeLagSource), p.TimeLagNote, lo, hi)
				continue
			}
			oldest = max(oldest, *p.TimeLagSeconds)
		}
		if g.TimeLagSeconds == nil || *g.TimeLagSeconds != oldest || g.TimeLagSource == nil || *g.TimeLagSource != "record" {
			t.Errorf("%s: group time lag %v s from %v, want its oldest partition's %v s from record", g.Group, deref(g.TimeLagSeconds), derefS(g.TimeLagSource), oldest)
		}
	}

	out, stderr, err = run(t, time.Minute, cmdEnv, bin, args...)
	if err != nil {
		t.Fatalf("mqops lag: %v\n%s", err, stderr)
	}
	dayRow := false
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		// GROUP TOPIC PARTITION COMMITTED LOG-START LOG-END LAG STATUS TIME-LAG CLIENT HOST
		cells := strings.Fields(line)
		if len(cells) != 11 {
			t.Errorf("row %q: want 11 cells (an exact time lag is one word)", line)
			continue
		}
		if strings.HasPrefix(cells[8], "~") || strings.HasPrefix(cells[8], "≥") {
			t.Errorf("an exact time lag marked as an estimate or a bound: %q", line)
		}
		if cells[0] == f.Topic+".day" && cells[2] == "0" {
			dayRow = true
			if !strings.HasPrefix(cells[8], "24h0m") {
				t.Errorf("the day-old partition's time lag is %q", cells[8])
			}
		}
	}
	if !dayRow {
		t.Errorf("no row of the day-old partition:\n%s", out)
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func derefS(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}
