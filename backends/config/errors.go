package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/mqops/mqops/backends"
)

// Error is one problem in a config: "file:line: key: message". File is ""
// when the config did not come from a file, Line is 0 when unknown, Key is
// the dotted path of the offending key (contexts.prod.kafka.brokers[1]), ""
// for a problem with the file as a whole. FromFlag marks a value that came
// from a command-line flag (see Config.Effective) rather than from the file.
//
// Messages never contain a secret: a value is echoed only for keys that
// cannot hold one, and every echoed string goes through backends.SafeText.
type Error struct {
	File     string
	Line     int
	Key      string
	Msg      string
	FromFlag bool
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(backends.SafeText(e.File))
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Key != "" {
		b.WriteString(backends.SafeText(e.Key))
		if e.FromFlag {
			b.WriteString(" (from a command-line flag)")
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// maxErrors bounds how many problems one parse reports.
const maxErrors = 20

// errList collects problems; err() joins them in line order.
type errList struct {
	file     string
	list     []*Error
	overflow int
}

func (l *errList) add(e *Error) {
	if len(l.list) >= maxErrors {
		l.overflow++
		return
	}
	l.list = append(l.list, e)
}

func (l *errList) full() bool { return len(l.list) >= maxErrors }

func (l *errList) addf(line int, key, format string, args ...any) {
	l.add(&Error{File: l.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (l *errList) err() error {
	if len(l.list) == 0 {
		return nil
	}
	sort.SliceStable(l.list, func(i, j int) bool {
		li, lj := l.list[i].Line, l.list[j].Line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0
		}
		return li < lj
	})
	errs := make([]error, 0, len(l.list)+1)
	for _, e := range l.list {
		errs = append(errs, e)
	}
	if l.overflow > 0 {
		errs = append(errs, &Error{File: l.file, Msg: fmt.Sprintf("... and %d more problems", l.overflow)})
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// q quotes a string for a message: secrets redacted (a value meant to be
// harmless may still carry one, e.g. a broker address with user info),
// made safe for a terminal and cut to a reasonable length.
func q(s string) string {
	const max = 80
	s = backends.Redact(s)
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return `"` + backends.SafeText(s) + `"`
}

// keyAliases maps names people carry over from other tools to ours.
var keyAliases = map[string]string{
	"bootstrap-servers": "brokers",
	"bootstrap":         "brokers",
	"servers":           "brokers",
	"broker-list":       "brokers",
	"hosts":             "brokers",
	"user":              "username",
	"login":             "username",
	"ca":                "ca-file",
	"cafile":            "ca-file",
	"ca-cert":           "ca-file",
	"ca-location":       "ca-file",
	"cert":              "cert-file",
	"certificate":       "cert-file",
	"key":               "key-file",
	"insecure":          "insecure-skip-verify",
	"skip-verify":       "insecure-skip-verify",
	"readonly":          "read-only",
	"ro":                "read-only",
	"colour":            "color",
	"vhost":             "vhosts",
	"management":        "management-url",
	"api-url":           "management-url",
	"uri":               "url",
	"amqp-url":          "url",
	"password-var":      "password-env",
	"password-path":     "password-file",
	"dsn-var":           "dsn-env",
	"dsn-path":          "dsn-file",
	"ssl":               "tls",
	"mechanisms":        "mechanism",
	"context":           "contexts",
	"current":           "current-context",
	"refresh-interval":  "refresh",
	"interval":          "refresh",
	"send":              "outbox",
	"idempotent":        "idempotency",
	"table-name":        "table",
}

// suggest returns the known name closest to s, or "" when none is close.
func suggest(s string, known []string) string {
	if len(s) > 64 {
		return ""
	}
	norm := strings.NewReplacer("_", "-", ".", "-", " ", "-").Replace(strings.ToLower(s))
	has := func(k string) bool {
		for _, x := range known {
			if x == k {
				return true
			}
		}
		return false
	}
	if norm != s && has(norm) {
		return norm
	}
	if a, ok := keyAliases[norm]; ok && has(a) {
		return a
	}
	best, bestD := "", 3
	for _, k := range known {
		d := levenshtein(norm, k)
		if d < bestD && d <= (len(k)+1)/2 {
			best, bestD = k, d
		}
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
