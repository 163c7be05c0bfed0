package backends

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SafeText makes an untrusted string (topic, group, client id, host, header,
// key or payload) safe to print on a terminal: every control character (C0,
// DEL, C1 — which covers ESC and CSI), every bidi override and every invalid
// UTF-8 byte is replaced by a visible escape such as `\x1b` or `\u202e`.
// Printable text, including non-ASCII letters, passes through unchanged.
func SafeText(s string) string {
	if isSafe(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x80 && (r < 0x20 || r == 0x7f):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// SafeMultiline is SafeText that keeps newlines and turns tabs into spaces,
// for payload bodies shown over several lines.
func SafeMultiline(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = SafeText(strings.ReplaceAll(l, "\t", "    "))
	}
	return strings.Join(lines, "\n")
}

func isSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || c >= 0x80 {
			return isSafeSlow(s)
		}
	}
	return true
}

func isSafeSlow(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size <= 1) || r < 0x20 || r == 0x7f || unsafeRune(r) {
			return false
		}
		i += size
	}
	return true
}

func unsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f: // C1 controls, e.g. 0x9b is a one-byte CSI
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true // bidi controls (Trojan Source)
	case r == 0xfeff:
		return true
	case unicode.Is(unicode.Cc, r):
		return true
	}
	return false
}
