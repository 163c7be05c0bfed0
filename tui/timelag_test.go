package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/mqops/mqops/backends"
)

// TestGroupViewSaysWhichTimeLagsAreEstimates: partitions whose time lags
// are estimated for different reasons each say theirs in NOTE, marked as
// in TIME LAG; the exact one says nothing; the summary counts them.
func TestGroupViewSaysWhichTimeLagsAreEstimates(t *testing.T) {
	src := &cannedSource{}
	for k := 0; k < 3; k++ {
		s := cluster(k)
		for i := range s.Groups {
			if s.Groups[i].Name != "billing" {
				continue
			}
			gps := s.Groups[i].Partitions
			gps[0].RecordTimeNote = "record read failed: kafka kafka-1:9092 did not answer within 10s"
			gps[1].RecordTimeNote = "record not read: the partition has no leader"
			at := t0.Add(-90 * time.Second)
			gps[2].RecordTime, gps[2].RecordTimeSource, gps[2].RecordTimeNote = &at, backends.TimeLagRecord, ""
		}
		src.push(s, nil)
	}
	h := newHarness(t, Options{Cluster: "kafka-1.test:9092"}, src)
	fire[refreshTickMsg](h)
	fire[refreshTickMsg](h)
	h.selectRow("billing")
	h.keys("enter")
	screen := h.screen()
	want := map[string][2]string{
		"0": {"~18s", "~ record read failed: kafka kafka-1:9092 did not answer within 10s"},
		"1": {"~13s", "~ record not read: the partition has no leader"},
		"2": {"1m40s", ""},
	}
	tbl := h.m.top().focused()
	for _, r := range tbl.Rows() {
		p := r.Cells[pcPartition]
		w, ok := want[p]
		if !ok {
			t.Fatalf("unexpected row %v", r.Cells)
		}
		delete(want, p)
		if r.Cells[pcTimeLag] != w[0] || r.Cells[pcNote] != w[1] {
			t.Errorf("partition %s: TIME LAG %q, NOTE %q; want %q, %q", p, r.Cells[pcTimeLag], r.Cells[pcNote], w[0], w[1])
		}
	}
	if len(want) > 0 {
		t.Errorf("rows not found: %v", want)
	}
	if l := lineWith(screen, "orders   0"); !strings.Contains(l, "~18s  ~ record read failed") {
		t.Errorf("row on screen: %q", l)
	}
	if !strings.Contains(screen, "time lag ~ estimated on 2 partition(s) (NOTE says why)") {
		t.Errorf("no legend of the estimates:\n%s", screen)
	}
}
