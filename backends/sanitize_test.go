package backends

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSafeText(t *testing.T) {
	cases := map[string]string{
		"orders":                    "orders",
		"grüße-日本":                  "grüße-日本",
		"evil\x1b[2J\x1b]0;pwn\x07": `evil\x1b[2J\x1b]0;pwn\x07`,
		"a\nb\tc\rd":                `a\x0ab\x09c\x0dd`,
		"c1\u009b31m":               `c1\u009b31m`,
		"bidi\u202eabc":             `bidi\u202eabc`,
		"bad\xff\xfeutf":            `bad\xff\xfeutf`,
		"del\x7f":                   `del\x7f`,
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
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
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
