package actions

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mqops/mqops/backends"
)

func TestResetOffsetsParseDateTime(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64 // ms; -1: an error
		err  string
	}{
		{"2024-01-01T10:00:00.000", 1704103200000, ""},
		{"2024-01-01T10:00:00.999Z", 1704103200999, ""},
		{"2024-01-01T10:00:00.000+05:30", 1704083400000, ""},
		{"2024-01-01T10:00:00.000-05:00", 1704121200000, ""},
		{"2024-01-01T10:00:00.000+05", 1704085200000, ""},
		{"2024-01-01T10:00:00.000-13:00", 1704150000000, ""},
		{"2024-01-01T10:00:00.000+14:00", 1704052800000, ""},
		{"2024-1-1T1:2:3.004", 1704070923004, ""},                               // numbers of any length, as SimpleDateFormat reads them
		{"02024-001-01T010:00:00.000", 1704103200000, ""},                       // leading zeros
		{" 2024-01-01T10:00:00.000 ", 1704103200000, ""},                        // outer blanks
		{"2024-01-01T10:00:00", 1704103200000, ""},                              // mqops also takes no milliseconds
		{"1970-01-01T00:00:00.000", 0, ""},                                      // the epoch
		{"9999-12-31T23:59:59.999", 253402300799999, ""},                        // the last
		{"2024-01-01T10:00:00.5", -1, "3 digits"},                               // Kafka: 5 ms
		{"2024-01-01T10:00:00.5000", -1, "3 digits"},                            // Kafka: refused
		{"2024-01-01T10:00:00.000+0530", -1, "reads as +05:00"},                 // Kafka: +05:00
		{"2024-01-01T10:00:00.000+14:01", -1, "outside -13:00"},                 // Kafka: +14:00
		{"2024-01-01T10:00:00.000-14:00", -1, "outside -13:00"},                 // Kafka: refused
		{"2024-01-01T10:00:00.000+5:30", -1, "not ±hh:mm"},                      // Kafka: refused
		{"2024-01-01T10:00:00.000Zjunk", -1, "not a date"},                      // Kafka ignores the rest
		{"1969-12-31T23:59:59.999", -1, "before 1970"},                          // Kafka: -1, the log end
		{"1970-01-01T00:00:00.000+00:01", -1, "before 1970"},                    // Kafka: -60000
		{"2024-02-30T10:00:00.000", -1, "not a day"},                            // non-lenient
		{"2023-02-29T10:00:00.000", -1, "not a day"},                            //
		{"2024-02-29T10:00:00.000", 1709200800000, ""},                          // leap year
		{"2024-01-01T24:00:00.000", -1, "out of range"},                         //
		{"2024-01-01T10:00:60.000", -1, "out of range"},                         // no leap second
		{"2024-13-01T10:00:00.000", -1, "out of range"},                         //
		{"2024-01-01 10:00:00.000", -1, "not a date"},                           // no T
		{"2024-01-01t10:00:00.000", -1, "not a date"},                           //
		{"2024-01-01T10:00:00.000z", -1, "not a date"},                          //
		{"NaN", -1, "not a date"},                                               //
		{"", -1, "not a date"},                                                  //
		{"2024-01-01T١٠:00:00.000", -1, "not a date"},                           // Java takes other digits; mqops ASCII only
		{"99999999999-01-01T00:00:00.000", -1, "out of range"},                  //
		{"2024-01-01T10:00:00.000\x1b[2J", -1, "not a date"},                    // hostile
		{strings.Repeat("9", 5000) + "-01-01T00:00:00.000", -1, "out of range"}, //
	} {
		got, err := ParseDateTime(c.in)
		switch {
		case c.want >= 0 && (err != nil || got != c.want):
			t.Errorf("ParseDateTime(%q) = %d, %v; want %d", c.in, got, err, c.want)
		case c.want < 0 && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("ParseDateTime(%q) = %d, %v; want an error with %q", c.in, got, err, c.err)
		case err != nil && strings.ContainsAny(err.Error(), "\x1b"):
			t.Errorf("ParseDateTime(%q): error not sanitized: %q", c.in, err)
		}
	}
}

func TestResetOffsetsParseDuration(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration // -1: an error
	}{
		{"PT1H", time.Hour},
		{"pt1h", time.Hour},
		{"P1D", 24 * time.Hour},
		{"P1DT2H3M4.5S", 26*time.Hour + 3*time.Minute + 4500*time.Millisecond},
		{"PT1,5S", 1500 * time.Millisecond},
		{"PT1.S", time.Second},
		{"PT1H-30M", 30 * time.Minute},
		{"-PT-0.5S", 500 * time.Millisecond},
		{"+PT1H", time.Hour},
		{"P+1D", 24 * time.Hour},
		{"PT0S", 0},
		{"PT0.000000001S", 1},
		{"90m", 90 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"0", 0},
		{"-PT1H", -1},                  // into the future
		{"PT-1H", -1},                  //
		{"-5m", -1},                    //
		{"P-1DT2H", -1},                // -22h
		{"PT", -1},                     // Java: refused
		{"P", -1},                      //
		{"P1DT", -1},                   //
		{"P1W", -1},                    // Duration has no weeks
		{"PT1M1H", -1},                 // order
		{"PT1.5H", -1},                 // fractions of seconds only
		{"PT1.0000000001S", -1},        // 10 digits
		{"2d", -1},                     // Go has no days
		{"PT9223372036854775808S", -1}, // beyond int64 nanoseconds
		{"P106751991167300D", -1},      //
		{"NaN", -1},                    //
		{"", -1},                       //
	} {
		got, err := ParseResetDuration(c.in)
		switch {
		case c.want >= 0 && (err != nil || got != c.want):
			t.Errorf("ParseResetDuration(%q) = %v, %v; want %v", c.in, got, err, c.want)
		case c.want < 0 && err == nil:
			t.Errorf("ParseResetDuration(%q) = %v; want an error", c.in, got)
		}
	}
	if _, err := ParseResetDuration("2d"); err == nil || !strings.Contains(err.Error(), "P2D") {
		t.Errorf("2d: %v, want a hint to write P2D", err)
	}
}

func TestResetOffsetsParseNumbers(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"42", 42, true}, {"9223372036854775807", math.MaxInt64, true},
		{"-1", 0, false}, {"9223372036854775808", 0, false}, {"NaN", 0, false}, {"1e3", 0, false}, {"0x10", 0, false}, {"", 0, false}, {"1.5", 0, false},
	} {
		got, err := ParseOffset("to-offset", c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseOffset(%q) = %d, %v", c.in, got, err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "--to-offset: ") {
			t.Errorf("ParseOffset(%q): %q does not name the flag", c.in, err)
		}
	}
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"-100", -100, true}, {"+5", 5, true}, {"0", 0, true}, {"-9223372036854775808", math.MinInt64, true},
		{"-9223372036854775809", 0, false}, {"9223372036854775808", 0, false}, {"Inf", 0, false}, {"--1", 0, false},
	} {
		got, err := ParseShift(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseShift(%q) = %d, %v", c.in, got, err)
		}
	}
}

func TestResetOffsetsParseTopicScope(t *testing.T) {
	sc, err := ParseTopicScope([]string{"a", "b:2,0,2", "a:1", "c:5"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(sc.Topics, ",") != "a" || len(sc.Partitions) != 2 || len(sc.Partitions["b"]) != 2 || sc.Partitions["b"][0] != 0 || sc.Partitions["c"][0] != 5 {
		t.Fatalf("scope %+v", sc)
	}
	for _, bad := range []string{"", "a:", "a:x", "a:-1", "a:1,,2", "a:2147483648", "a b", "a:1:2", ":1", "..", strings.Repeat("x", 250), "orders\x1b[2J"} {
		if _, err := ParseTopicScope([]string{bad}); err == nil {
			t.Errorf("ParseTopicScope(%q): no error", bad)
		} else if strings.Contains(err.Error(), "\x1b") {
			t.Errorf("ParseTopicScope(%q): error not sanitized: %q", bad, err)
		}
	}
}

func TestResetOffsetsParseFile(t *testing.T) {
	rows, err := ParseResetFile([]byte("orders,0,5\r\norders,1,7\n\n \"orders\",2,0\n"), "g")
	if err != nil || len(rows) != 3 || rows[2].Partition != 2 || rows[1].Offset != 7 || rows[2].Line != 4 {
		t.Fatalf("rows %+v, %v", rows, err)
	}
	rows, err = ParseResetFile([]byte("other,orders,0,5\ng,orders,1,7\ng,orders,2,8\n"), "g")
	if err != nil || len(rows) != 2 || rows[0].Partition != 1 {
		t.Fatalf("group rows %+v, %v", rows, err)
	}
	for _, c := range []struct{ in, err string }{
		{"orders,0,5\norders,1\n", "line 2: 2 fields"},
		{"orders,0,5\norders,x,1\n", `line 2: "x" is not a partition`},
		{"orders,0,5\n\norders,1,-1\n", "line 3: -1 is not an offset"},
		{"orders,0,5\norders,1,9223372036854775808\n", "line 2: 9223372036854775808 is out of range"},
		{"orders,0,5\norders,0,6\n", "line 2: orders partition 0 again (first on line 1)"},
		{"topic,partition,offset\norders,0,1\n", `line 1: "partition" is not a partition`},
		{"or ders,0,5\n", "line 1: \"or ders\" is not a topic name"},
		{"orders,0,\"5\n", "line 1"},
		{"x,orders,0,5\n", `no line for consumer group "g": its lines have 4 fields, read as group,topic,partition,offset, and name other groups: "x" (1 lines)`},
		{"", "no offsets"},
		{"orders,0,5,1,1\n", "line 1: 5 fields"},
	} {
		if _, err := ParseResetFile([]byte(c.in), "g"); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("ParseResetFile(%q) = %v, want %q", c.in, err, c.err)
		}
	}
}

// offsetsOf builds what the cluster says of a group: rows of topic,
// partition, committed (-1: none), log start, log end, offset at time (-1:
// none).
func offsetsOf(state string, rows ...[6]int64) *backends.KafkaGroupOffsets {
	st := &backends.KafkaGroupOffsets{Group: "g", State: state, Type: "classic"}
	for _, r := range rows {
		p := backends.KafkaPartitionOffsets{Topic: "t" + string(rune('0'+r[0])), Partition: int32(r[1]), LogStart: r[3], LogEnd: r[4]}
		if r[2] >= 0 {
			c := r[2]
			p.Committed = &c
		}
		if r[5] >= 0 {
			a := r[5]
			p.AtTime = &a
		}
		st.Partitions = append(st.Partitions, p)
	}
	return st
}

func planFor(t *testing.T, st *backends.KafkaGroupOffsets, mode ResetMode, value string, file string) (*ResetPlan, error) {
	t.Helper()
	o := ResetOffsetsOptions{Group: "g", Mode: mode, Value: value, AllTopics: mode != ResetFromFile}
	if mode == ResetFromFile {
		o.Value = filepath.Join(t.TempDir(), "f.csv")
		if err := os.WriteFile(o.Value, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	return computeResetPlan(st, &o, nil)
}

// TestResetOffsetsPlanModes checks every mode's new offsets against what
// Kafka's prepareOffsetsToReset computes, with clamping both ways, a
// partition without a committed offset and one whose committed offset is
// behind its log start.
func TestResetOffsetsPlanModes(t *testing.T) {
	// t0/0: committed 5 of [2,10); t0/1: none, [0,4); t1/0: committed 1, behind log start 3, [3,8)
	st := offsetsOf(backends.GroupEmpty, [6]int64{0, 0, 5, 2, 10, 7}, [6]int64{0, 1, -1, 0, 4, -1}, [6]int64{1, 0, 1, 3, 8, 3})
	type want struct {
		new     [3]int64
		clamped [3]bool
	}
	for _, c := range []struct {
		mode  ResetMode
		value string
		file  string
		want  want
	}{
		{ResetToEarliest, "", "", want{new: [3]int64{2, 0, 3}}},
		{ResetToLatest, "", "", want{new: [3]int64{10, 4, 8}}},
		{ResetToCurrent, "", "", want{new: [3]int64{5, 4, 1}}}, // none: the log end; behind the log start: kept
		{ResetToOffset, "3", "", want{new: [3]int64{3, 3, 3}}},
		{ResetToOffset, "0", "", want{new: [3]int64{2, 0, 3}, clamped: [3]bool{true, false, true}}},
		{ResetToOffset, "100", "", want{new: [3]int64{10, 4, 8}, clamped: [3]bool{true, true, true}}},
		{ResetToDatetime, "2024-01-01T00:00:00.000", "", want{new: [3]int64{7, 4, 3}}}, // none that recent: the log end
		{ResetFromFile, "", "t0,0,1\nt0,1,2\nt1,0,99\n", want{new: [3]int64{2, 2, 8}, clamped: [3]bool{true, false, true}}},
	} {
		p, err := planFor(t, st, c.mode, c.value, c.file)
		if err != nil {
			t.Fatalf("%s %s: %v", c.mode, c.value, err)
		}
		for i, r := range p.Rows {
			if r.New != c.want.new[i] || r.Clamped != c.want.clamped[i] {
				t.Errorf("%s %s: %s/%d new %d clamped %v, want %d %v", c.mode, c.value, r.Topic, r.Partition, r.New, r.Clamped, c.want.new[i], c.want.clamped[i])
			}
			if r.Clamped && r.Requested == nil {
				t.Errorf("%s: clamped without the offset asked", c.mode)
			}
		}
	}
	// shift: refused where there is no committed offset (as Kafka's tool)
	if _, err := planFor(t, st, ResetShiftBy, "-1", ""); err == nil || !strings.Contains(err.Error(), "no committed offset") {
		t.Errorf("shift on a partition without an offset: %v", err)
	}
	st2 := offsetsOf(backends.GroupDead, [6]int64{0, 0, 5, 2, 10, -1}, [6]int64{1, 0, 1, 3, 8, -1})
	for _, c := range []struct {
		shift   string
		new     [2]int64
		clamped [2]bool
	}{
		{"-2", [2]int64{3, 3}, [2]bool{false, true}},
		{"4", [2]int64{9, 5}, [2]bool{false, false}},
		{"-9223372036854775808", [2]int64{2, 3}, [2]bool{true, true}},
		{"9223372036854775803", [2]int64{}, [2]bool{}}, // overflows from 5: refused
	} {
		p, err := planFor(t, st2, ResetShiftBy, c.shift, "")
		if c.shift == "9223372036854775803" {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "shift-by" {
				t.Errorf("overflowing shift: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range p.Rows {
			if r.New != c.new[i] || r.Clamped != c.clamped[i] {
				t.Errorf("shift %s: %s/%d new %d clamped %v, want %d %v", c.shift, r.Topic, r.Partition, r.New, r.Clamped, c.new[i], c.clamped[i])
			}
		}
	}
}

func TestResetOffsetsPlanTotals(t *testing.T) {
	// t0/0 committed 5 → 2 (3 again); t0/1 none → 0; t1/0 committed 1 (behind start 3) → 6: skips 3..6 only
	st := offsetsOf(backends.GroupEmpty, [6]int64{0, 0, 5, 2, 10, -1}, [6]int64{0, 1, -1, 0, 4, -1}, [6]int64{1, 0, 1, 3, 8, -1})
	p, err := planFor(t, st, ResetFromFile, "", "t0,0,2\nt0,1,0\nt1,0,6\n")
	if err != nil {
		t.Fatal(err)
	}
	tt := p.Totals
	if tt.Partitions != 3 || tt.Changed != 3 || tt.NoCurrent != 1 || tt.Again != 3 || tt.Skipped != 3 || tt.Clamped != 0 {
		t.Fatalf("totals %+v", tt)
	}
	r := p.Rows[0]
	if *r.LagBefore != 5 || r.LagAfter != 8 || p.Rows[1].LagBefore != nil {
		t.Fatalf("lags %+v %+v", r, p.Rows[1])
	}
	if !strings.Contains(p.Summary(), "3 record(s) consumed again, 3 skipped") {
		t.Fatalf("summary %q", p.Summary())
	}
}

func TestResetOffsetsRefusesActiveGroup(t *testing.T) {
	st := offsetsOf(backends.GroupStable, [6]int64{0, 0, 5, 2, 10, -1})
	st.Members = []backends.KafkaGroupMember{{MemberID: "m-1", ClientID: "billing-1", Host: "/10.0.0.7"}, {MemberID: "m-2", ClientID: "bill\x1b[31ming", Host: "/10.0.0.8"}}
	_, err := planFor(t, st, ResetToEarliest, "", "")
	var active *GroupActiveError
	if !errors.As(err, &active) {
		t.Fatalf("err %v", err)
	}
	msg := err.Error()
	for _, w := range []string{`"g" is Stable with 2 member(s)`, `client id "billing-1" on host /10.0.0.7`, "Empty or Dead"} {
		if !strings.Contains(msg, w) {
			t.Errorf("refusal %q lacks %q", msg, w)
		}
	}
	if strings.Contains(msg, "\x1b") {
		t.Errorf("refusal not sanitized: %q", msg)
	}
	for _, s := range []string{backends.GroupPreparingRebalance, backends.GroupCompletingRebalance, "Assigning", "Reconciling", backends.GroupUnknown} {
		st.State = s
		if _, err := planFor(t, st, ResetToEarliest, "", ""); !errors.As(err, &active) {
			t.Errorf("state %s not refused: %v", s, err)
		}
	}
}

func TestResetOffsetsValidate(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	existing := filepath.Join(dir, "old.csv")
	if err := os.WriteFile(existing, []byte("t,0,1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		o   ResetOffsetsOptions
		err string
	}{
		{ResetOffsetsOptions{Group: "g", Mode: ResetToEarliest, AllTopics: true, ReadOnly: true, Context: "prod"}, `context "prod" is read-only`},
		{ResetOffsetsOptions{Mode: ResetToEarliest, AllTopics: true}, "no consumer group"},
		{ResetOffsetsOptions{Group: "g", AllTopics: true}, "no reset mode"},
		{ResetOffsetsOptions{Group: "g", Mode: "to-nowhere", AllTopics: true}, "unknown reset mode"},
		{ResetOffsetsOptions{Group: "g", Mode: ResetToEarliest}, "no scope"},
		{ResetOffsetsOptions{Group: "g", Mode: ResetToEarliest, AllTopics: true, Topics: []string{"t"}}, "not both"},
		{ResetOffsetsOptions{Group: "g", Mode: ResetToOffset, Value: "-1", AllTopics: true}, "--to-offset: -1 is not an offset"},
		{ResetOffsetsOptions{Group: "g", Mode: ResetToOffset, Value: "NaN", AllTopics: true}, `--to-offset: "NaN" is not an offset`},
		{ResetOffsetsOptions{Group: "g", Mode: ResetShiftBy, Value: "99999999999999999999", AllTopics: true}, "--shift-by: 99999999999999999999 is out of range"},
		{ResetOffsetsOptions{Group: "g", Mode: ResetFromFile, Value: fifo}, "named pipe (FIFO)"},
		{ResetOffsetsOptions{Group: "g", Mode: ResetFromFile, Value: existing, AllTopics: true}, "neither --topic nor --all-topics"},
		{ResetOffsetsOptions{Group: "g", Mode: ResetToEarliest, AllTopics: true, Export: fifo}, "--export: \"" + fifo + "\" is a named pipe (FIFO)"},
		{ResetOffsetsOptions{Group: "g", Mode: ResetToEarliest, AllTopics: true, Export: existing}, "already exists"},
		{ResetOffsetsOptions{Group: strings.Repeat("g", 40000), Mode: ResetToEarliest, AllTopics: true}, "at most 32767"},
	} {
		err := c.o.Validate()
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%+v: %v, want %q", c.o.Mode, err, c.err)
		}
	}
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("t,0,1\nt,1,1\nt,2,x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := ResetOffsetsOptions{Group: "g", Mode: ResetFromFile, Value: bad}
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "bad.csv: line 3:") {
		t.Errorf("malformed CSV: %v", err)
	}
}

// TestResetOffsetsPreviousFile writes the rollback file as --from-file
// reads it, and refuses to write it over an existing file or into a FIFO
// swapped in after the check.
func TestResetOffsetsPreviousFile(t *testing.T) {
	dir := t.TempDir()
	o := ResetOffsetsOptions{Group: "g", Export: filepath.Join(dir, "prev.csv")}
	path, err := o.writePrevious([]backends.KafkaOffset{{Topic: "b", Partition: 1, Offset: 9}, {Topic: "a", Partition: 2, Offset: 0}, {Topic: "a", Partition: 0, Offset: 7}})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if string(data) != "a,0,7\na,2,0\nb,1,9\n" {
		t.Fatalf("file %q", data)
	}
	rows, err := ParseResetFile(data, "g")
	if err != nil || len(rows) != 3 {
		t.Fatalf("round trip: %v %+v", err, rows)
	}
	if _, err := o.writePrevious([]backends.KafkaOffset{{Topic: "a", Offset: 1}}); !errors.Is(err, backends.ErrExists) {
		t.Fatalf("written over: %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	o.Export = fifo
	if _, err := o.writePrevious([]backends.KafkaOffset{{Topic: "a", Offset: 1}}); !errors.Is(err, backends.ErrNotRegular) {
		t.Fatalf("FIFO: %v", err)
	}
	o.Export = ""
	o.RunID = "run1"
	t.Setenv("XDG_STATE_HOME", dir)
	if path, err := o.writePrevious([]backends.KafkaOffset{{Topic: "a", Offset: 1}}); err != nil || path != filepath.Join(dir, "mqops", "runs", "run1-previous.csv") {
		t.Fatalf("default path %q, %v", path, err)
	}
}

// Lines reset-offsets wrote before entries were typed (real lines of the
// previous version, the paths renamed: a run, a dry run, a run with a
// rollback file, a refusal) are read as ResetOffsets audits a reset now.
func TestAuditReadsResetLinesBeforeTyped(t *testing.T) {
	es, bad, err := NewAuditLog(filepath.Join("testdata", "audit-reset-before-typed.jsonl")).Read(0)
	if err != nil || bad != 0 || len(es) != 4 {
		t.Fatalf("%d entries, %d bad, %v", len(es), bad, err)
	}
	var outcomes []string
	for _, e := range es {
		outcomes = append(outcomes, e.Outcome)
		if e.Action != "reset-offsets" || e.Source != "kafka-group:adopt-legacy-11294.g" || e.Command != "" || e.Parameters == nil {
			t.Errorf("not mapped: %+v", e)
		}
	}
	if got := strings.Join(outcomes, ","); got != "executed,dry-run,executed,refused" {
		t.Fatalf("outcomes %s", got)
	}
	if r := es[0]; r.Target != "--to-offset 3" || r.Plan == nil || r.Plan.Selected != 2 || r.Plan.Total != 2 || r.Plan.Skipped != 0 || r.Plan.Details["no_current"] != float64(2) ||
		r.Result == nil || r.Result.Done != 2 || r.Result.Failed != 0 || r.Result.Left != 0 || r.Result.Details["verified"] != true {
		t.Errorf("run %+v %+v %+v", r, r.Plan, r.Result)
	}
	if d := es[1]; d.Target != "--to-latest" || d.Reason != DryRunFlag || d.Plan.Selected != 1 || d.Plan.Skipped != 0 || d.Plan.Details["skipped_records"] != float64(2) || d.Result != nil {
		t.Errorf("dry run %+v %+v", d, d.Plan)
	}
	if r := es[2]; r.Target != "--shift-by -1" || r.Result.Done != 2 || r.Result.Details["previous_offsets"] != "/home/ops/.local/state/mqops/runs/prev.csv" {
		t.Errorf("run with a rollback file %+v %+v", r, r.Result)
	}
	if r := es[3]; r.Reason != `context "prod" is read-only: reset-offsets is not available` || r.Error != "" || r.Target != "--to-earliest" {
		t.Errorf("refusal %+v", r)
	}
}

// A reset commits only the plan the operator saw: without one, or with
// another group's, it is refused before it asks the cluster anything (a
// nil Broker would panic), and the runner records one refused entry.
func TestResetOffsetsRunsOnlyItsPlan(t *testing.T) {
	for _, plan := range []Plan{nil, (*ResetPlan)(nil), &ResetPlan{Group: "other", Rows: []ResetRow{{Topic: "t"}}}} {
		log := testAudit(t)
		run := &Runner{Audit: log, Globals: []string{"--context", "local"}}
		a := &ResetOffsets{Options: ResetOffsetsOptions{Context: "local", Group: "g", Mode: ResetToOffset, Value: "7", Topics: []string{"t:0,2"}}}
		res, err := run.Execute(context.Background(), a, plan, nil)
		if !IsRefused(err) || res != nil {
			t.Fatalf("plan %+v: %v %+v", plan, err, res)
		}
		es, _, _ := log.Read(0)
		if len(es) != 1 || es[0].Outcome != OutcomeRefused || es[0].Reason != err.Error() || es[0].Source != "kafka-group:g" || es[0].Target != "--to-offset 7" ||
			es[0].Command != "mqops --context local reset-offsets g --to-offset 7 --topic t:0,2" || es[0].RunID == "" {
			t.Fatalf("entries %+v", es)
		}
	}
}
