// Package hostile holds, for tests, the strings a hostile broker can put in
// a name, a header or a body, and the check that a rendering or an encoding
// of them is safe to print. Only tests import it.
package hostile

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Strings are the seeds of the fuzz tests that drive every renderer and
// encoder: escape sequences (CSI, OSC with its BEL and ST ends, an OSC 8
// hyperlink, DCS), C1 controls both as UTF-8 (U+009B) and as the raw byte
// 0x9b, NEL, bidi controls (Trojan Source), U+2028/U+2029, U+FEFF, NUL,
// DEL, invalid UTF-8 (stray continuation bytes, truncated sequences, an
// overlong form, an encoded surrogate, a code point past U+10FFFF), text
// that looks like this package's own escapes, and long strings.
var Strings = []string{
	"",
	"orders",
	"grüße-日本 👨\u200d👩\u200d👧 ❤\ufe0f 🇫🇷",
	"\x1b[2J\x1b[H\x1b[31mred",
	"\x1b]0;pwned title\x07",
	"\x1b]52;c;cGFzdGU=\x1b\\",
	"\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",
	"\x1bP+q544e\x1b\\",
	"csi as utf-8 \u009b31m \u009d0;t\u009c",
	"csi as a raw byte \x9b31m \x9d0;t\x9c",
	"nel\u0085next",
	"bidi \u202egnp.exe\u202c \u202a\u202b\u202d",
	"isolates \u2066\u2067\u2068x\u2069",
	"marks \u200e\u200f\u061c",
	"bom\ufeffinside",
	"line\u2028separator paragraph\u2029separator",
	"nul\x00 del\x7f bell\x07 bs\x08 cr\r lf\n tab\t",
	"invalid \xff\xfe \xc0\xaf \x80\xbf",
	"truncated \xe2\x82 \xf0\x9f\x98",
	"surrogate \xed\xa0\x80 \xed\xbf\xbf",
	"past max \xf4\x90\x80\x80",
	`looks escaped \x1b \u009b \udcff "quoted" \\`,
	"<script>&amp;</script>",
	strings.Repeat("\x1b[31m\u009b\xff\u202e\u2028", 2000),
	strings.Repeat("a", 70000),
}

// Unsafe is the class of runes that must never reach a terminal raw, written
// out here apart from backends.UnsafeRune so that the tests hold that one
// to it: C0 controls, DEL, C1 controls, the bidi controls (embeddings,
// overrides, isolates, LRM, RLM, ALM), U+FEFF, U+2028 and U+2029.
func Unsafe(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	case r == 0xfeff, r == 0x2028, r == 0x2029:
		return true
	}
	return false
}

// Check returns an error naming the first raw rune of the Unsafe class or
// invalid UTF-8 byte in out, nil when there is none. allow lists runes a renderer may write itself (the newline that
// ends a table row, for instance).
func Check(out []byte, allow ...rune) error {
	for i := 0; i < len(out); {
		r, size := utf8.DecodeRune(out[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return fmt.Errorf("invalid UTF-8 byte 0x%02x at offset %d of %q", out[i], i, cut(out, i))
		case Unsafe(r) && !allowed(r, allow):
			return fmt.Errorf("raw %U at offset %d of %q", r, i, cut(out, i))
		}
		i += size
	}
	return nil
}

func allowed(r rune, allow []rune) bool {
	for _, a := range allow {
		if r == a {
			return true
		}
	}
	return false
}

func cut(b []byte, i int) []byte {
	return b[max(i-40, 0):min(i+40, len(b))]
}
