package store

import (
	"regexp"
	"strings"
)

// maxGroupLen bounds an error group's text.
const maxGroupLen = 200

var (
	// a Java/.NET/Python exception class leading the message:
	// "java.net.SocketTimeoutException: …", "System.TimeoutException: …",
	// CAP's "TimeoutException-->…", "ValueError: …"
	exceptionRE = regexp.MustCompile(`^((?:[A-Za-z_$][\w$]*\.)*[A-Z][\w$]*(?:Exception|Error|Fault|Throwable|Failure))(?:\s*:\s*|\s*-->\s*|$)`)
	// normalisation, in order: quoted values, timestamps, uuids, IPv4
	// addresses, hex, numbers
	quotedRE = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	timeRE   = regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b`)
	uuidRE   = regexp.MustCompile(`(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`)
	ipRE     = regexp.MustCompile(`\b\d{1,3}(?:\.\d{1,3}){3}\b`)
	hexRE    = regexp.MustCompile(`(?i)\b0x[0-9a-f]+\b|\b[0-9a-f]*\d[0-9a-f]*[a-f][0-9a-f]*\b|\b[0-9a-f]*[a-f][0-9a-f]*\d[0-9a-f]*\b`)
	numRE    = regexp.MustCompile(`\d+(?:\.\d+)?`)
	spaceRE  = regexp.MustCompile(`\s+`)
)

// NormalizeError is the error group of a message: rows that failed for one
// reason share it. Only the first line counts (stack traces follow it);
// quoted values become "…", timestamps <time>, uuids <uuid>, IPv4
// addresses <ip>, hex values (0x…, hashes of 8 or more hex digits) <hex>,
// numbers <n>. A leading exception class ("java.io.IOException: …",
// "System.TimeoutException: …", CAP's "Type-->message") is kept as it is,
// followed by the normalised message.
func NormalizeError(msg string) string {
	msg = strings.TrimSpace(msg)
	if i := strings.IndexAny(msg, "\r\n"); i >= 0 {
		msg = strings.TrimSpace(msg[:i])
	}
	if msg == "" {
		return ""
	}
	msg = truncate(msg, 4*maxGroupLen)
	class := ""
	if m := exceptionRE.FindStringSubmatchIndex(msg); m != nil {
		class = msg[m[2]:m[3]]
		msg = msg[m[1]:]
	}
	msg = quotedRE.ReplaceAllStringFunc(msg, func(q string) string { return q[:1] + "…" + q[:1] })
	msg = timeRE.ReplaceAllString(msg, "<time>")
	msg = uuidRE.ReplaceAllString(msg, "<uuid>")
	msg = ipRE.ReplaceAllString(msg, "<ip>")
	msg = hexRE.ReplaceAllStringFunc(msg, func(h string) string {
		if strings.HasPrefix(strings.ToLower(h), "0x") || len(h) >= 8 {
			return "<hex>"
		}
		return h
	})
	msg = numRE.ReplaceAllString(msg, "<n>")
	msg = strings.TrimSpace(spaceRE.ReplaceAllString(msg, " "))
	switch {
	case class != "" && msg != "":
		msg = class + ": " + msg
	case class != "":
		msg = class
	}
	return truncate(msg, maxGroupLen)
}
