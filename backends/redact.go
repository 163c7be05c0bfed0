package backends

import (
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Redacted replaces a secret in any text mqops prints, logs or audits.
const Redacted = "REDACTED"

// secrets are the values read from password-env/-file and DSN sources in
// this process (RegisterSecret); Redact removes them wherever they appear.
var (
	secretsMu sync.RWMutex
	secrets   []string
)

// minSecretLen is the shortest secret removed as a plain substring: a
// one- or two-character password would mangle every message it occurs in by
// chance. Shorter secrets are still removed where they sit in a URL's user
// info or a secret-named parameter.
const minSecretLen = 4

// RegisterSecret records a secret value (a password, a DSN) so that Redact
// removes it, and its URL-escaped forms, from every message.
func RegisterSecret(s string) {
	if len(s) < minSecretLen {
		return
	}
	forms := []string{s, url.QueryEscape(s), url.PathEscape(s), url.UserPassword("", s).String()[1:]}
	secretsMu.Lock()
	defer secretsMu.Unlock()
	for _, f := range forms {
		if len(f) >= minSecretLen && !contains(secrets, f) {
			secrets = append(secrets, f)
		}
	}
	// longest first: a secret that contains another is removed whole
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var (
	// userInfoRE matches the user:password@ of an address, with or without
	// a scheme (SASL_SSL://u:pw@host:9093, ops:pw@host:9092,
	// amqp://u:pw@host/vhost). The user is kept.
	userInfoRE = regexp.MustCompile(`((?:[A-Za-z][A-Za-z0-9+.\-_]*://)?[^\s:/@'"<>\[\]{}(),;=?&#]+):([^\s@/'"<>]*)@`)
	// secretParamRE matches a URL query parameter (or key=value pair) whose
	// name says it holds a secret.
	secretParamRE = regexp.MustCompile(`(?i)((?:^|[?&;\s,("'])[A-Za-z0-9_.\-]*(?:password|passwd|pwd|passphrase|token|api[_\-]?key|secret|sig|signature|credential|auth|access[_\-]?key|private[_\-]?key|session)[A-Za-z0-9_.\-]*=)([^&;\s#"',)]*)`)
)

// Redact removes secrets from a message: the user-info password of any
// address in it, the values of secret-named URL parameters (password,
// token, api_key, secret, sig, …), and every secret registered with
// RegisterSecret. It is the one place every error, log line, warning, audit
// entry and console message goes through before it is shown or stored.
func Redact(s string) string {
	if s == "" {
		return s
	}
	secretsMu.RLock()
	for _, sec := range secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, Redacted)
		}
	}
	secretsMu.RUnlock()
	if strings.Contains(s, "@") {
		s = userInfoRE.ReplaceAllStringFunc(s, func(m string) string {
			sub := userInfoRE.FindStringSubmatch(m)
			if sub[2] == "" || sub[2] == Redacted {
				return m
			}
			return sub[1] + ":" + Redacted + "@"
		})
	}
	if strings.Contains(s, "=") {
		s = secretParamRE.ReplaceAllStringFunc(s, func(m string) string {
			sub := secretParamRE.FindStringSubmatch(m)
			if sub[2] == "" || sub[2] == Redacted {
				return m
			}
			return sub[1] + Redacted
		})
	}
	return s
}

// SecretParam reports whether a URL query parameter's name says it holds
// a secret (password, token, api_key, secret, sig, …).
func SecretParam(name string) bool {
	return secretParamRE.MatchString("?" + name + "=x")
}
