package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mqops/mqops/backends"
)

// minRefresh is the shortest refresh period accepted: every refresh queries
// the clusters, and a production cluster should not be polled many times a
// second by each operator's console.
const minRefresh = time.Second

var (
	contextNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@:/+-]*$`)
	envNameRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	clientIDRE    = regexp.MustCompile(`^[A-Za-z0-9._-]+$`) // sarama's rule
	hexColorRE    = regexp.MustCompile(`^#[0-9a-f]{6}$`)
	identRE       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*$`)
	hostRE        = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$`)
)

// Colors are the named context colours; "#rrggbb" is accepted too.
var Colors = []string{"red", "yellow", "green", "blue", "magenta", "cyan"}

// Mechanisms are the supported Kafka SASL mechanisms.
var Mechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// Drivers are the supported database drivers.
var Drivers = []string{"postgres", "mysql", "sqlite"}

// validator checks a parsed config. Keys are full paths (contexts.prod.kafka);
// pos gives their lines. over marks keys whose value came from a flag; all
// marks every key so (the ad-hoc flags context).
type validator struct {
	file  string
	pos   map[string]int
	over  map[string]bool
	all   bool
	files bool // also check that referenced TLS files are readable
	errs  *errList
}

func (v *validator) fromFlag(key string) bool {
	if v.all {
		return true
	}
	for k := key; k != ""; k = parentKey(k) {
		if v.over[k] {
			return true
		}
	}
	return false
}

// line is the line of key, or of its nearest ancestor that has one.
func (v *validator) line(key string) int {
	for k := key; k != ""; k = parentKey(k) {
		if l, ok := v.pos[k]; ok {
			return l
		}
	}
	return 0
}

func parentKey(k string) string {
	i := strings.LastIndexAny(k, ".[")
	if i < 0 {
		return ""
	}
	return k[:i]
}

func (v *validator) add(key, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if v.fromFlag(key) {
		v.errs.add(&Error{Key: key, Msg: msg, FromFlag: true})
		return
	}
	v.errs.add(&Error{File: v.file, Line: v.line(key), Key: key, Msg: msg})
}

func (v *validator) config(c *Config) {
	if c.Refresh < 0 {
		v.add("refresh", "must be positive")
	} else if c.Refresh > 0 && time.Duration(c.Refresh) < minRefresh {
		v.add("refresh", "must be at least 1s (every refresh queries the clusters), got %s", c.Refresh)
	}
	names := c.ContextNames()
	if c.CurrentContext != "" {
		if _, ok := c.Contexts[c.CurrentContext]; !ok {
			if len(names) == 0 {
				v.add("current-context", "context %s does not exist (no contexts are defined)", q(c.CurrentContext))
			} else {
				hint := ""
				if s := suggest(c.CurrentContext, names); s != "" {
					hint = fmt.Sprintf("; did you mean %s?", q(s))
				}
				v.add("current-context", "context %s does not exist (contexts: %s%s)", q(c.CurrentContext), quoteList(names), hint)
			}
		}
	}
	for _, name := range names {
		key := joinKey("contexts", name)
		if !validContextName(name) {
			v.add(key, "invalid context name %s: use letters, digits and . _ - @ : / + (starting with a letter or digit)", q(name))
		}
		v.context(key, c.Contexts[name])
	}
}

func validContextName(name string) bool {
	return len(name) <= 253 && contextNameRE.MatchString(name)
}

func (v *validator) context(p string, ctx *Context) {
	if ctx == nil {
		ctx = &Context{}
	}
	if c := normalizeColor(ctx.Color); c != "" && !hexColorRE.MatchString(c) && !contains(Colors, c) {
		v.add(joinKey(p, "color"), "unknown color %s (use %s or #rrggbb)", q(ctx.Color), strings.Join(Colors, ", "))
	}
	if ctx.Refresh < 0 {
		v.add(joinKey(p, "refresh"), "must be positive")
	} else if ctx.Refresh > 0 && time.Duration(ctx.Refresh) < minRefresh {
		v.add(joinKey(p, "refresh"), "must be at least 1s (every refresh queries the clusters), got %s", ctx.Refresh)
	}
	if ctx.Kafka == nil && ctx.RabbitMQ == nil && ctx.Store == nil {
		v.add(p, "the context configures nothing: add kafka, rabbitmq or store")
	}
	if ctx.Kafka != nil {
		v.kafka(joinKey(p, "kafka"), ctx.Kafka)
	}
	if ctx.RabbitMQ != nil {
		v.rabbitmq(joinKey(p, "rabbitmq"), ctx.RabbitMQ)
	}
	if ctx.Store != nil {
		v.store(joinKey(p, "store"), ctx.Store)
	}
}

func (v *validator) kafka(p string, k *Kafka) {
	if len(k.Brokers) == 0 {
		v.add(joinKey(p, "brokers"), "at least one host:port is required")
	}
	for i, b := range k.Brokers {
		if problem := checkHostPort(b); problem != "" {
			v.add(fmt.Sprintf("%s[%d]", joinKey(p, "brokers"), i), "%s is not host:port (%s)", q(b), problem)
		}
	}
	if k.ClientID != "" && (len(k.ClientID) > 255 || !clientIDRE.MatchString(k.ClientID)) {
		v.add(joinKey(p, "client-id"), "%s is not a valid client id (letters, digits, '.', '_' and '-')", q(k.ClientID))
	}
	if k.Timeout < 0 {
		v.add(joinKey(p, "timeout"), "must be positive")
	}
	if s := k.SASL; s != nil {
		sp := joinKey(p, "sasl")
		switch m := strings.ToUpper(strings.TrimSpace(s.Mechanism)); {
		case m == "":
			v.add(joinKey(sp, "mechanism"), "is required (%s)", strings.Join(Mechanisms, ", "))
		case !contains(Mechanisms, m):
			v.add(joinKey(sp, "mechanism"), "unknown mechanism %s (use %s)", q(s.Mechanism), strings.Join(Mechanisms, ", "))
		}
		if s.Username == "" {
			v.add(sp, "username is required")
		}
		v.secretSource(sp, "password", s.PasswordEnv, s.PasswordFile, true)
	}
	v.tls(joinKey(p, "tls"), k.TLS)
}

// secretSource checks a NAME-env / NAME-file pair: at most one (exactly one
// when required), and an env value that is a variable's name, not a secret.
func (v *validator) secretSource(p, what, env, file string, required bool) {
	envKey, fileKey := what+"-env", what+"-file"
	switch {
	case env != "" && file != "":
		v.add(p, "set only one of %s or %s", envKey, fileKey)
	case env == "" && file == "" && required:
		v.add(p, "set one of %s or %s", envKey, fileKey)
	}
	if env != "" && (len(env) > 255 || !envNameRE.MatchString(env)) {
		// Not echoed: someone may have pasted the secret itself here.
		v.add(joinKey(p, envKey), "must be the name of an environment variable (letters, digits and _), not its value")
	}
}

func (v *validator) tls(p string, t *TLS) {
	if t == nil {
		return
	}
	if _, explicit := v.pos[joinKey(p, "enabled")]; explicit && !t.Enabled && t.hasSettings() {
		v.add(joinKey(p, "enabled"), "is false but other tls settings are given (remove enabled: false, or the whole tls block)")
	}
	if t.CertFile != "" && t.KeyFile == "" {
		v.add(p, "cert-file is set without key-file")
	}
	if t.KeyFile != "" && t.CertFile == "" {
		v.add(p, "key-file is set without cert-file")
	}
	if !v.files {
		return
	}
	for _, f := range []struct{ key, path string }{{"ca-file", t.CAFile}, {"cert-file", t.CertFile}, {"key-file", t.KeyFile}} {
		if f.path == "" {
			continue
		}
		if err := readable(f.path); err != nil {
			v.add(joinKey(p, f.key), "%v", err)
		}
	}
}

// readable checks that path is a regular file that can be opened; a FIFO
// or a device is refused (reading one could block forever or never end).
func readable(path string) error {
	f, err := backends.OpenRegularFile(path)
	if err != nil {
		return err
	}
	return f.Close()
}

func (v *validator) rabbitmq(p string, r *RabbitMQ) {
	if r.URL == "" && r.ManagementURL == "" {
		v.add(p, "set url (amqp:// or amqps://) or management-url (http:// or https://)")
	}
	if r.URL != "" {
		if msg := checkURL(r.URL, "amqp", "amqps"); msg != "" {
			v.add(joinKey(p, "url"), "%s", msg)
		}
	}
	if r.ManagementURL != "" {
		if msg := checkURL(r.ManagementURL, "http", "https"); msg != "" {
			v.add(joinKey(p, "management-url"), "%s", msg)
		}
	}
	v.secretSource(p, "password", r.PasswordEnv, r.PasswordFile, false)
	if (r.PasswordEnv != "" || r.PasswordFile != "") && r.User() == "" {
		v.add(p, "a password is set but no user: set username, or put the user in url (amqps://user@host)")
	}
	for i, vh := range r.Vhosts {
		if vh == "" {
			v.add(fmt.Sprintf("%s[%d]", joinKey(p, "vhosts"), i), "a vhost name cannot be empty (the default vhost is \"/\")")
		}
	}
	v.tls(joinKey(p, "tls"), r.TLS)
}

func (v *validator) store(p string, db *Store) {
	switch d := normalizeDriver(db.Driver); {
	case d == "":
		v.add(joinKey(p, "driver"), "is required (%s)", strings.Join(Drivers, ", "))
	case !contains(Drivers, d):
		v.add(joinKey(p, "driver"), "unknown driver %s (use %s)", q(db.Driver), strings.Join(Drivers, ", "))
	}
	v.secretSource(p, "dsn", db.DSNEnv, db.DSNFile, true)
	switch preset, d := db.Preset, normalizeDriver(db.Driver); {
	case preset != "" && !contains(Presets, preset):
		v.add(joinKey(p, "preset"), "unknown preset %s (use %s)", q(preset), strings.Join(Presets, ", "))
	case preset == "cap" && d == "sqlite":
		v.add(joinKey(p, "preset"), "DotNetCore.CAP stores in postgres or mysql, not sqlite")
	case preset == "river" && d != "" && d != "postgres":
		v.add(joinKey(p, "preset"), "river's tables live in postgres only")
	}
	if db.Schema != "" && (len(db.Schema) > 64 || !identRE.MatchString(db.Schema)) {
		v.add(joinKey(p, "schema"), "%s is not a schema name (letters, digits, _ and $)", q(db.Schema))
	}
	if db.PendingAfter < 0 {
		v.add(joinKey(p, "pending-after"), "must be positive")
	}
	if r := db.Route; r != nil && !contains(RouteBrokers, r.Broker) {
		v.add(joinKey(joinKey(p, "route"), "broker"), "is %s: use %s", q(r.Broker), strings.Join(RouteBrokers, " or "))
	}
	v.table(joinKey(p, "outbox"), db.Outbox, OutboxColumns, OutboxStatuses, true)
	v.table(joinKey(p, "retry"), db.Retry, RetryColumns, RetryStatuses, true)
	v.table(joinKey(p, "idempotency"), db.Idempotency, IdempotencyColumns, nil, false)
}

// table checks a table mapping. Names are SQL identifiers because the store
// has to put them into statements (identifiers cannot be bound parameters).
func (v *validator) table(p string, m *TableMapping, columns, statuses []string, hasStatus bool) {
	if m == nil {
		return
	}
	if m.Table != "" && m.Table != "-" && !validTableName(m.Table) {
		v.add(joinKey(p, "table"), "%s is not a table name (letters, digits, _ and $, optionally schema.table)", q(m.Table))
	}
	if m.PendingAfter < 0 {
		v.add(joinKey(p, "pending-after"), "must be positive")
	}
	for _, logical := range sortedKeys(m.Columns) {
		kp := joinKey(joinKey(p, "columns"), logical)
		if !contains(columns, logical) {
			msg := fmt.Sprintf("unknown column %s (columns: %s)", q(logical), strings.Join(columns, ", "))
			if s := suggest(logical, columns); s != "" {
				msg = fmt.Sprintf("unknown column %s (did you mean %s?)", q(logical), q(s))
			}
			v.add(kp, "%s", msg)
			continue
		}
		if real := m.Columns[logical]; len(real) > 64 || !identRE.MatchString(real) {
			v.add(kp, "%s is not a column name (letters, digits, _ and $)", q(real))
		}
	}
	if !hasStatus && len(m.Statuses) > 0 {
		v.add(joinKey(p, "statuses"), "this table has no status column")
		return
	}
	for _, logical := range sortedKeys(m.Statuses) {
		kp := joinKey(joinKey(p, "statuses"), logical)
		if statuses != nil && !contains(statuses, logical) {
			v.add(kp, "unknown status %s (statuses: %s)", q(logical), strings.Join(statuses, ", "))
			continue
		}
		if slices.Contains(StatusValues(m.Statuses[logical]), "") {
			v.add(kp, "the stored value cannot be empty")
		}
	}
}

func validTableName(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) > 2 {
		return false
	}
	for _, p := range parts {
		if len(p) > 64 || !identRE.MatchString(p) {
			return false
		}
	}
	return true
}

// checkHostPort returns what is wrong with a broker address, "" if nothing.
func checkHostPort(s string) string {
	if strings.Contains(s, "@") {
		return "credentials do not belong in a broker address: set kafka.sasl (username and password-env or password-file)"
	}
	if i := strings.Index(s, "://"); i >= 0 {
		return fmt.Sprintf("drop the %s prefix", q(s[:i+3]))
	}
	if strings.ContainsAny(s, ", ") {
		return "one broker per list item"
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) && strings.Contains(ae.Err, "missing port") {
			return "missing port"
		}
		return "malformed address"
	}
	if host == "" {
		return "missing host"
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "port must be a number from 1 to 65535"
	}
	if net.ParseIP(host) == nil && (len(host) > 253 || !hostRE.MatchString(host)) {
		return "invalid host name"
	}
	return ""
}

// hasPassword reports whether a URL carries a password in its user info. It
// is deliberately generous (anything like user:xxx@ after the scheme counts)
// because a URL it cannot parse may still hold a secret.
func hasPassword(raw string) bool {
	s := raw
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	at := strings.LastIndex(s, "@")
	return at >= 0 && strings.Contains(s[:at], ":")
}

// checkURL validates a URL with one of the given schemes. Its messages never
// contain the URL, which may hold a password.
func checkURL(raw string, schemes ...string) string {
	if hasPassword(raw) {
		return "the URL contains a password: secrets must come from password-env or password-file"
	}
	want := make([]string, len(schemes))
	for i, s := range schemes {
		want[i] = s + "://"
	}
	wantS := strings.Join(want, " or ")
	u, err := url.Parse(raw)
	if err != nil {
		return "not a valid URL (expected " + wantS + "host:port)"
	}
	for name := range u.Query() {
		if backends.SecretParam(name) {
			return "the URL has a parameter named like a secret (" + q(name) + "): secrets must come from password-env or password-file, never from the URL"
		}
	}
	if !contains(schemes, strings.ToLower(u.Scheme)) {
		return "must start with " + wantS
	}
	if u.Host == "" || u.Hostname() == "" {
		return "the URL has no host"
	}
	if port := u.Port(); port != "" {
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return "the port must be a number from 1 to 65535"
		}
	}
	if u.Opaque != "" {
		return "not a valid URL (expected " + wantS + "host:port)"
	}
	return ""
}

// urlUser is the user name in a URL's user info, "" if none or unparseable.
func urlUser(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return ""
	}
	return u.User.Username()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Warnings lists settings of the context that work but put something at
// risk (a password in clear text, an unverified server), for the CLI to show
// once at start. It does no I/O; TLS.Build adds warnings about files.
func (ctx *Context) Warnings() []string {
	if ctx == nil {
		return nil
	}
	var w []string
	if k := ctx.Kafka; k != nil {
		tlsOn := k.TLS != nil && (k.TLS.Enabled || k.TLS.hasSettings())
		if k.SASL != nil && strings.EqualFold(k.SASL.Mechanism, "PLAIN") && !tlsOn {
			w = append(w, "kafka: SASL PLAIN without tls sends the password in clear text")
		}
		if k.TLS != nil && k.TLS.InsecureSkipVerify {
			w = append(w, "kafka: "+insecureWarning)
		}
	}
	if r := ctx.RabbitMQ; r != nil {
		hasPw := r.PasswordEnv != "" || r.PasswordFile != ""
		if hasPw && r.URL != "" && strings.HasPrefix(strings.ToLower(r.URL), "amqp://") && !loopback(r.URL) {
			w = append(w, "rabbitmq: url uses amqp:// (no TLS): the password crosses the network in clear text")
		}
		if hasPw && r.ManagementURL != "" && strings.HasPrefix(strings.ToLower(r.ManagementURL), "http://") && !loopback(r.ManagementURL) {
			w = append(w, "rabbitmq: management-url uses http:// (no TLS): the password crosses the network in clear text")
		}
		if r.TLS != nil && r.TLS.InsecureSkipVerify {
			w = append(w, "rabbitmq: "+insecureWarning)
		}
	}
	return w
}

func loopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// safe is SafeText for names that go into messages unquoted.
func safe(s string) string { return backends.SafeText(s) }

// StatusValues splits a status mapping's value: one stored value, or
// several comma-separated ("Scheduled,Failed"), each trimmed.
func StatusValues(v string) []string {
	parts := strings.Split(v, ",")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return parts
}
