package backends

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mqops/mqops/backends/hostile"
)

func TestSafeText(t *testing.T) {
	cases := map[string]string{
		"orders":                      "orders",
		"grüße-日本":                    "grüße-日本",
		"evil\x1b[2J\x1b]0;pwn\x07":   `evil\x1b[2J\x1b]0;pwn\x07`,
		"a\nb\tc\rd":                  `a\x0ab\x09c\x0dd`,
		"c1\u009b31m":                 `c1\u009b31m`,
		"bidi\u202eabc":               `bidi\u202eabc`,
		"bad\xff\xfeutf":              `bad\xff\xfeutf`,
		"del\x7f":                     `del\x7f`,
		"ls\u2028ps\u2029":            `ls\u2028ps\u2029`,
		"nel\u0085":                   `nel\u0085`,
		"bom\ufeff":                   `bom\ufeff`,
		"lrm\u200erlm\u200falm\u061c": `lrm\u200erlm\u200falm\u061c`,
		"isolate\u2066x\u2069":        `isolate\u2066x\u2069`,
		"c1 raw \xc2":                 `c1 raw \xc2`,
		"surrogate \xed\xa0\x80":      `surrogate \xed\xa0\x80`,
		// Printable text stays: letters, emoji with joiners and variation
		// selectors, a flag, Persian with a zero width non-joiner.
		"family 👨\u200d👩\u200d👧 ok ❤\ufe0f 🇫🇷": "family 👨\u200d👩\u200d👧 ok ❤\ufe0f 🇫🇷",
		"می\u200cخواهم": "می\u200cخواهم",
	}
	for in, want := range cases {
		if got := SafeText(in); got != want {
			t.Errorf("SafeText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSafeMultiline(t *testing.T) {
	got := SafeMultiline("line1\r\n\tline2\x1b[31m")
	want := "line1\n    line2\\x1b[31m"
	if got != want {
		t.Fatalf("got %q want %q", got, want)
	}
	// Only \n breaks a line: U+2028, U+2029, NEL and a lone CR are shown
	// as escapes, so the number of lines is the number of \n.
	got = SafeMultiline("a\u2028b\u2029c\u0085d\re\nf")
	want = `a\u2028b\u2029c\u0085d\x0de` + "\nf"
	if got != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

// TestUnsafeRuneClass holds UnsafeRune, rune by rune over all of Unicode, to
// the class the tests spell out apart (backends/hostile), so that a change
// to either is a deliberate one.
func TestUnsafeRuneClass(t *testing.T) {
	for r := rune(0); r <= 0x10ffff; r++ {
		if got := UnsafeRune(r); got != hostile.Unsafe(r) {
			t.Fatalf("UnsafeRune(%U) = %v", r, got)
		}
	}
}

func FuzzSafeText(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b[31mred", "\xff", "\u202e", "\u009b", "日本\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := SafeText(s)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid utf8 out of %q", s)
		}
		for _, r := range out {
			if hostile.Unsafe(r) {
				t.Fatalf("control rune %U survived in %q (from %q)", r, out, s)
			}
		}
		if strings.ContainsRune(out, 0x1b) {
			t.Fatalf("ESC survived")
		}
		if isSafe(s) && out != s {
			t.Fatalf("safe input changed: %q -> %q", s, out)
		}
	})
}
