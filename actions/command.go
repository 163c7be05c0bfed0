package actions

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mqops/mqops/backends"
)

// commandLine joins args into one shell command line (POSIX shells;
// bash, zsh and ksh for $'…'): each argument redacted (backends.Redact),
// then quoted only when it needs it. The line is one line of printable
// characters whatever the names hold: an argument with a control or
// invisible character is written $'…' with escapes, so that it can be
// shown, copied and pasted, and runs as the same argument.
func commandLine(args []string) string {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = shellQuote(backends.Redact(a))
	}
	return strings.Join(parts, " ")
}

// shellQuote quotes one argument for a shell.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	bare, printable := true, utf8.ValidString(s)
	for _, r := range s {
		if !shellSafe(r) {
			bare = false
		}
		if !unicode.IsPrint(r) && r != ' ' || r == utf8.RuneError {
			printable = false
		}
	}
	switch {
	case bare:
		return s
	case printable:
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return ansiCQuote(s)
}

// shellSafe is a character that needs no quoting anywhere in a word.
func shellSafe(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune("_-.,:/@%+=", r)
}

// ansiCQuote writes s as $'…': printable characters as they are,
// everything else escaped (bytes that are not UTF-8 as \xHH).
func ansiCQuote(s string) string {
	var b strings.Builder
	b.WriteString("$'")
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\'' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x80 && (r < 0x20 || r == 0x7f):
			fmt.Fprintf(&b, `\x%02x`, r)
		case r != ' ' && !unicode.IsPrint(r) && r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		case r != ' ' && !unicode.IsPrint(r):
			fmt.Fprintf(&b, `\U%08x`, r)
		default:
			b.WriteRune(r)
		}
		i += n
	}
	b.WriteByte('\'')
	return b.String()
}
