package actions

import (
	"strings"
	"testing"
)

// TestResetOffsetsParseFileAsSaved: a --from-file CSV as an operator's
// editor or spreadsheet saves it — a UTF-8 byte order mark first (Excel's
// "CSV UTF-8"), a trailing comma on each line — is read, or refused saying
// what the file holds; a hostile value in an error is escaped once
// ("\x1b", not "\\x1b", which reads as a backslash in the file).
func TestResetOffsetsParseFileAsSaved(t *testing.T) {
	rows, err := ParseResetFile([]byte("\ufefforders,0,5\r\norders,1,7\r\n"), "g")
	if err != nil || len(rows) != 2 || rows[0].Topic != "orders" || rows[1].Offset != 7 {
		t.Fatalf("with a byte order mark: rows %+v, %v", rows, err)
	}
	for _, c := range []struct{ in, err string }{
		{"orders,0,5,\norders,1,7,\n", `no line for consumer group "g": its lines have 4 fields, read as group,topic,partition,offset, and name other groups: "orders"`},
		{"a,orders,0,5\nb,orders,0,5\nc,orders,0,5\nd,orders,0,5\n", `name other groups: "a", "b", "c", …`},
		{"orders,0,5\x1b[2J\n", `line 1: "5\x1b[2J" is not an offset`},
		{"ord\u202eers,0,5\n", `line 1: "ord\u202eers" is not a topic name`},
		{"orders,\x1b[2J,5\n", `line 1: "\x1b[2J" is not a partition number`},
	} {
		_, err := ParseResetFile([]byte(c.in), "g")
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("ParseResetFile(%q) = %v, want %q", c.in, err, c.err)
		}
	}
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"topic", CheckTopicName("topic", "a\x1bb"), `"a\x1bb" is not a topic name`},
		{"scope", func() error { _, err := ParseTopicScope([]string{"orders:1,\u202e"}); return err }(), `"orders:1,\u202e": "\u202e" is not a partition number`},
		{"datetime", func() error { _, err := ParseDateTime("2024\x1b"); return err }(), `"2024\x1b" is not a date and time`},
		{"duration", func() error { _, err := ParseResetDuration("P\x1b"); return err }(), `"P\x1b" is not a duration`},
		{"shift", func() error { _, err := ParseShift("\x1b"); return err }(), `"\x1b" is not a whole number`},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) || strings.ContainsAny(c.err.Error(), "\x1b\u202e") {
			t.Errorf("%s: %v, want %s", c.name, c.err, c.want)
		}
	}
}
