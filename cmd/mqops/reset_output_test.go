package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mqops/mqops/actions"
)

// TestResetOffsetsResultNotReadBack: a reset that stopped before its
// commit (the group became active after the plan, the rollback file could
// not be written, the offsets moved) prints no result claiming a commit
// and a read-back that did not happen ("committed 0 partition(s) …; read
// back: 0 partition(s) differ from the plan"); -o json says not executed
// and carries no verdict. One whose state is unknown (the commit and the
// read-back failed after the rollback file was written) still gives the
// rollback file and command; one read back gives its verdict.
func TestResetOffsetsResultNotReadBack(t *testing.T) {
	cur := int64(20)
	plan := &actions.ResetPlan{Group: "billing", State: "Empty", Mode: actions.ResetToOffset, Value: "40",
		Rows: []actions.ResetRow{{Topic: "orders", Partition: 0, Current: &cur, New: 40, LogEnd: 100}}}
	o := &actions.ResetOffsetsOptions{Group: "billing"}
	cases := []struct {
		name     string
		res      *actions.ResetResult
		want     []string // in the table output
		not      []string
		executed bool
		verdict  bool // "verified" in -o json
	}{
		{"stopped before the commit", &actions.ResetResult{RunID: "r1"}, nil, []string{"committed", "read back", "roll back"}, false, false},
		{"unknown after the rollback file", &actions.ResetResult{RunID: "r2", Previous: "/tmp/r2-previous.csv"},
			[]string{"previous offsets: /tmp/r2-previous.csv", "roll back with: mqops reset-offsets billing --from-file /tmp/r2-previous.csv"},
			[]string{"committed", "read back"}, false, true},
		{"read back, differs", &actions.ResetResult{RunID: "r3", Previous: "/tmp/r3-previous.csv", Mismatches: []string{"orders partition 0: 20, the plan 40"}},
			[]string{"committed 0 partition(s)", "read back: 1 partition(s) differ from the plan", "roll back with"}, nil, false, true},
		{"read back, as planned", &actions.ResetResult{RunID: "r4", Previous: "/tmp/r4-previous.csv", Committed: 1, Verified: true},
			[]string{"committed 1 partition(s)", "read back: as planned"}, nil, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			printResetResult(&b, &actions.Runner{}, o, c.res)
			for _, w := range c.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("table output %q lacks %q", b.String(), w)
				}
			}
			for _, w := range c.not {
				if strings.Contains(b.String(), w) {
					t.Errorf("table output %q says %q", b.String(), w)
				}
			}
			js, err := json.Marshal(resetOutput(plan, c.res, ""))
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(js, &m); err != nil {
				t.Fatal(err)
			}
			if _, has := m["verified"]; m["executed"] != c.executed || has != c.verdict {
				t.Errorf("-o json %s: want executed %v, a verdict %v", js, c.executed, c.verdict)
			}
		})
	}
}
