package backends

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SafeText makes an untrusted string (topic, group, client id, host, header,
// key or payload) safe to print on a terminal: every rune UnsafeRune names
// (C0, DEL, C1 — which covers ESC and CSI —, bidi controls, U+FEFF, the line
// and paragraph separators) and every invalid UTF-8 byte is replaced by a
// visible escape such as `\x1b`, `\u202e` or `\xff`. A first rune that
// would join what the terminal drew before the string (a combining mark, a
// variation selector, a joiner, an emoji modifier: " \ufe0f" is two cells
// wide, not one) is escaped too, so that text cannot change the width or
// the look of its neighbours. Printable text, including non-ASCII letters
// and emoji, passes through unchanged.
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
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case UnsafeRune(r), i == 0 && extendsPrevious(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// extendsPrevious reports whether r continues the grapheme cluster before
// it (Unicode's Extend, ZWJ and SpacingMark classes): at the start of a
// string it would combine with whatever precedes the string on the screen.
func extendsPrevious(r rune) bool {
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc, unicode.Variation_Selector, unicode.Other_Grapheme_Extend) ||
		r == 0x200c || r == 0x200d || (r >= 0x1f3fb && r <= 0x1f3ff)
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
		if (r == utf8.RuneError && size <= 1) || UnsafeRune(r) || i == 0 && extendsPrevious(r) {
			return false
		}
		i += size
	}
	return true
}

// UnsafeRune reports whether r must not reach a terminal (or a JSON consumer
// that prints what it reads) as it is. This is the one definition of the
// class; SafeText and the JSON encoder (backends/safejson) both use it:
//   - C0 controls and DEL (ESC starts every escape sequence);
//   - C1 controls U+0080–U+009F (U+009B is a one-byte CSI, U+009D an OSC,
//     U+0085 NEL a line break);
//   - bidi controls: the embeddings and overrides U+202A–U+202E, the
//     isolates U+2066–U+2069, the marks U+200E, U+200F and U+061C (Trojan
//     Source: they reorder what is shown);
//   - U+FEFF (a byte order mark in the middle of a name);
//   - U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR (Unicode Zl/Zp:
//     line breaks for JavaScript and many renderers, so a one-line cell or
//     log line can become two).
//
// Deliberately not in the class: U+200B–U+200D and U+2060 (zero width
// space, non-joiner, joiner, word joiner). They change neither the cursor's
// line nor the order of what is shown; ZWJ and ZWNJ are parts of ordinary
// text (emoji sequences such as 👨‍👩‍👧, Persian and Indic words), so escaping
// them would mangle printable names. Tag characters and variation selectors
// (emoji flags and presentation) stay for the same reason.
func UnsafeRune(r rune) bool {
	switch {
	case r < 0x20 || r == 0x7f: // C0 controls and DEL
		return true
	case r >= 0x80 && r <= 0x9f: // C1 controls, e.g. 0x9b is a one-byte CSI
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true // bidi controls (Trojan Source)
	case r == 0xfeff:
		return true
	case r == 0x2028 || r == 0x2029: // Zl, Zp
		return true
	}
	return false
}
