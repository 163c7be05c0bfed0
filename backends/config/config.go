// Package config loads, validates and resolves mqops contexts: the YAML file
// at $XDG_CONFIG_HOME/mqops/config.yaml (DESIGN.md §6) that names each
// cluster an operator works with, how to reach it, and how careful to be
// with it.
//
// The file never holds a secret: passwords and DSNs are referred to by the
// name of an environment variable or a file, read only when a backend is
// about to connect, and never written into an error or into `config view`.
//
// Every problem in a file is reported as "file:line: key.path: message"
// (see Error), so an operator can go straight to the line.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mqops/mqops/backends"
)

// Defaults applied when the file leaves a setting out.
const (
	DefaultRefresh  = Duration(5 * time.Second)
	DefaultClientID = "mqops"
	DefaultTimeout  = Duration(10 * time.Second)

	// FlagsContext is the name of the ad-hoc context Effective builds from
	// command-line flags when no context is selected.
	FlagsContext = "flags"
)

// maxFileSize bounds what Load reads: a config file is a few kilobytes; a
// megabyte is a mistake (or /dev/zero) and is refused before parsing.
const maxFileSize = 1 << 20

// Config is a parsed config file.
type Config struct {
	Path           string              `yaml:"-"` // file it came from ("" if none)
	CurrentContext string              `yaml:"current-context"`
	Refresh        Duration            `yaml:"refresh"` // default 5s
	Contexts       map[string]*Context `yaml:"contexts" expect:"a mapping of context names to their settings"`

	// pos maps a key path (contexts.prod.kafka.brokers[1]) to its line in
	// Path, so that validation errors can point at the line.
	pos map[string]int
}

// Context is one named cluster setup: Kafka, RabbitMQ and the application
// database an operator looks at together.
type Context struct {
	Name     string    `yaml:"-"`
	Color    string    `yaml:"color"` // red, yellow, green, blue, magenta, cyan, or "#rrggbb"; "" = default
	ReadOnly bool      `yaml:"read-only"`
	Refresh  Duration  `yaml:"refresh"` // 0 = Config.Refresh
	Kafka    *Kafka    `yaml:"kafka"`
	RabbitMQ *RabbitMQ `yaml:"rabbitmq"`
	Store    *Store    `yaml:"store"`
}

// ProdLike reports whether the context is marked as production (colour red):
// destructive actions then need the operator to type the context or queue
// name, not just answer y.
func (c *Context) ProdLike() bool { return c != nil && c.Color == "red" }

// Kafka says how to reach a Kafka cluster.
type Kafka struct {
	Brokers  []string `yaml:"brokers" expect:"a list of host:port"`
	ClientID string   `yaml:"client-id"` // default "mqops"
	SASL     *SASL    `yaml:"sasl"`
	TLS      *TLS     `yaml:"tls"`
	Timeout  Duration `yaml:"timeout"` // dial/request timeout, default 10s
}

// SASL is Kafka SASL authentication. The password comes from PasswordEnv or
// PasswordFile, exactly one of them.
type SASL struct {
	Mechanism    string `yaml:"mechanism"` // PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (normalized upper case)
	Username     string `yaml:"username"`
	PasswordEnv  string `yaml:"password-env"`
	PasswordFile string `yaml:"password-file"`
}

// TLS configures a TLS client. Any field other than Enabled implies Enabled.
type TLS struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca-file"`
	CertFile           string `yaml:"cert-file"`
	KeyFile            string `yaml:"key-file"`
	ServerName         string `yaml:"server-name"`
	InsecureSkipVerify bool   `yaml:"insecure-skip-verify"`
}

// RabbitMQ says how to reach a RabbitMQ cluster over AMQP and its management
// HTTP API. The user may be in URL; the password never is.
type RabbitMQ struct {
	URL           string   `yaml:"url"` // amqp:// or amqps://
	ManagementURL string   `yaml:"management-url"`
	Username      string   `yaml:"username"` // overrides the user in URL
	PasswordEnv   string   `yaml:"password-env"`
	PasswordFile  string   `yaml:"password-file"`
	Vhosts        []string `yaml:"vhosts" expect:"a list of vhost names"`
	TLS           *TLS     `yaml:"tls"`
}

// User is the user name to authenticate as: Username, or else the user in URL
// or ManagementURL.
func (r *RabbitMQ) User() string {
	if r == nil {
		return ""
	}
	if r.Username != "" {
		return r.Username
	}
	if u := urlUser(r.URL); u != "" {
		return u
	}
	return urlUser(r.ManagementURL)
}

// Store is the application database holding the outbox, retry and
// idempotency tables (DESIGN.md §5). Its schema comes from Preset (mqops,
// cap, river) with the table mappings renaming tables, columns and status
// values of the preset for an existing schema.
type Store struct {
	Driver       string        `yaml:"driver"` // postgres, mysql, sqlite
	DSNEnv       string        `yaml:"dsn-env"`
	DSNFile      string        `yaml:"dsn-file"`
	Preset       string        `yaml:"preset"` // mqops (default), cap, river
	Schema       string        `yaml:"schema"` // SQL schema of the preset's tables ("" = the preset's own)
	PendingAfter Duration      `yaml:"pending-after"`
	Route        *Route        `yaml:"route"`
	Outbox       *TableMapping `yaml:"outbox"`
	Retry        *TableMapping `yaml:"retry"`
	Idempotency  *TableMapping `yaml:"idempotency"`
}

// Route says where a row's destination is published: a Kafka topic or a
// RabbitMQ exchange and routing key ({destination} in a template is the
// row's destination).
type Route struct {
	Broker     string `yaml:"broker"` // kafka, rabbitmq
	Topic      string `yaml:"topic"`
	Exchange   string `yaml:"exchange"`
	RoutingKey string `yaml:"routing-key"`
}

// TableMapping maps one of the application's tables onto the reference
// schema: the table's name, its column names (logical name → real name) and
// its status values (logical status → value stored).
type TableMapping struct {
	Table        string            `yaml:"table"`
	PendingAfter Duration          `yaml:"pending-after"`
	Columns      map[string]string `yaml:"columns" expect:"a mapping of column names"`
	Statuses     map[string]string `yaml:"statuses" expect:"a mapping of status values"`
}

// Logical column and status names a TableMapping may rename: the reference
// schemas of DESIGN.md §5.
var (
	OutboxColumns = []string{"id", "message_id", "destination", "message_key", "payload", "headers",
		"status", "attempts", "created_at", "last_attempt_at", "last_error"}
	RetryColumns = []string{"id", "message_id", "source", "destination", "payload", "headers",
		"error", "attempts", "max_attempts", "next_retry_at", "status", "created_at"}
	IdempotencyColumns = []string{"message_id", "consumer", "consumed_at"}
	// A status may be stored as several values, comma-separated
	// ("Scheduled,Failed"): a row with any of them has that status.
	OutboxStatuses = []string{"pending", "sent", "confirmed", "failed"}
	RetryStatuses  = []string{"waiting", "dead", "done"}
	// Presets are the schemas mqops knows; RouteBrokers where a
	// destination can be published.
	Presets      = []string{"mqops", "cap", "river"}
	RouteBrokers = []string{"kafka", "rabbitmq"}
)

// DefaultPath is $XDG_CONFIG_HOME/mqops/config.yaml, or
// ~/.config/mqops/config.yaml when XDG_CONFIG_HOME is unset or not absolute
// (as the XDG spec asks). It is "" when no home directory is known.
func DefaultPath() string {
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "mqops", "config.yaml")
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return ""
	}
	return filepath.Join(home, ".config", "mqops", "config.yaml")
}

// Load reads and parses the config file at path. A missing file is an error
// that names the path; an empty file is an empty Config.
func Load(path string) (*Config, error) {
	if path == "" {
		return nil, errors.New("no config file path given")
	}
	data, err := backends.ReadRegularFile(path, maxFileSize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("config file %s does not exist", q(path))
	case errors.Is(err, backends.ErrTooLarge):
		return nil, &Error{File: path, Msg: fmt.Sprintf("config file is too large (over %d KiB)", maxFileSize>>10)}
	case err != nil:
		return nil, fmt.Errorf("config file: %w", err)
	}
	return Parse(data, path)
}

// LoadDefault loads the file named by --config (explicit), or DefaultPath()
// when explicit is "". A missing default file is not an error: the result is
// an empty Config (Path "") and the CLI can still run from flags. A missing
// explicit file is an error.
func LoadDefault(explicit string) (*Config, error) {
	if explicit != "" {
		return Load(explicit)
	}
	p := DefaultPath()
	if p == "" {
		return emptyConfig(""), nil
	}
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		return emptyConfig(""), nil
	}
	return Load(p)
}

func emptyConfig(path string) *Config {
	return &Config{Path: path, Refresh: DefaultRefresh, Contexts: map[string]*Context{}, pos: map[string]int{}}
}

// Parse parses a config file's contents; path is used in error messages and
// to resolve relative file names (ca-file, password-file, ...) against the
// file's directory. Parse checks the structure (unknown keys, types,
// duplicates, inline secrets) and every rule that needs no file system;
// Validate adds the checks that read files.
func Parse(data []byte, path string) (*Config, error) {
	errs := &errList{file: path}
	if len(data) > maxFileSize {
		errs.add(&Error{File: path, Msg: fmt.Sprintf("config file is too large (over %d KiB)", maxFileSize>>10)})
		return nil, errs.err()
	}
	root, err := parseYAML(data)
	if err != nil {
		errs.add(yamlError(path, data, err))
		return nil, errs.err()
	}
	d := &decoder{errs: errs, pos: map[string]int{}, merging: map[*yamlNode]bool{}}
	c := &Config{Path: path}
	d.root(root, c)
	if err := errs.err(); err != nil {
		return nil, err
	}
	c.pos = d.pos
	v := &validator{file: path, pos: c.pos, errs: errs}
	v.config(c)
	if err := errs.err(); err != nil {
		return nil, err
	}
	c.applyDefaults()
	c.resolvePaths(baseDir(path))
	return c, nil
}

// Validate checks everything Parse checks, on every context, plus that every
// TLS file exists and is readable. Errors name the file, line and key when
// the config came from a file.
func (c *Config) Validate() error {
	if c == nil {
		return nil
	}
	v := &validator{file: c.Path, pos: c.pos, files: true, errs: &errList{file: c.Path}}
	v.config(c)
	return v.errs.err()
}

// ContextNames returns the names of all contexts, sorted.
func (c *Config) ContextNames() []string {
	if c == nil {
		return nil
	}
	names := make([]string, 0, len(c.Contexts))
	for n := range c.Contexts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Context returns the named context, or the current one when name is "".
// With no current-context and a single context, that context is the current
// one. The error for an unknown name lists the known ones; with no context at
// all it tells how to configure one.
func (c *Config) Context(name string) (*Context, error) {
	if c == nil {
		c = emptyConfig("")
	}
	where := c.where()
	if name == "" {
		name = c.CurrentContext
	}
	if name == "" {
		switch len(c.Contexts) {
		case 0:
			return nil, fmt.Errorf("no context configured: pass --brokers host:port, or describe your clusters in %s (see docs/CONFIG.md)", where)
		case 1:
			for _, ctx := range c.Contexts {
				return ctx, nil
			}
		}
		return nil, fmt.Errorf("no context selected: pass --context NAME or set current-context in %s (contexts: %s)",
			where, quoteList(c.ContextNames()))
	}
	if ctx, ok := c.Contexts[name]; ok && ctx != nil {
		return ctx, nil
	}
	if len(c.Contexts) == 0 {
		return nil, fmt.Errorf("context %s not found: %s defines no contexts (see docs/CONFIG.md)", q(name), where)
	}
	msg := fmt.Sprintf("context %s not found in %s; known contexts: %s", q(name), where, quoteList(c.ContextNames()))
	if s := suggest(name, c.ContextNames()); s != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", q(s))
	}
	return nil, errors.New(msg)
}

// where names the config file for messages: its path, or the default path
// where one would be created.
func (c *Config) where() string {
	if c.Path != "" {
		return backends.SafeText(c.Path)
	}
	if p := DefaultPath(); p != "" {
		return backends.SafeText(p)
	}
	return "$XDG_CONFIG_HOME/mqops/config.yaml"
}

func (c *Config) applyDefaults() {
	if c.Refresh == 0 {
		c.Refresh = DefaultRefresh
	}
	if c.Contexts == nil {
		c.Contexts = map[string]*Context{}
	}
	for name, ctx := range c.Contexts {
		if ctx == nil {
			ctx = &Context{}
			c.Contexts[name] = ctx
		}
		ctx.Name = name
		ctx.applyDefaults()
	}
}

func (ctx *Context) applyDefaults() {
	if k := ctx.Kafka; k != nil {
		if k.ClientID == "" {
			k.ClientID = DefaultClientID
		}
		if k.Timeout == 0 {
			k.Timeout = DefaultTimeout
		}
		k.TLS.imply()
		if k.SASL != nil {
			k.SASL.Mechanism = strings.ToUpper(k.SASL.Mechanism)
		}
	}
	if r := ctx.RabbitMQ; r != nil {
		r.TLS.imply()
	}
	ctx.Color = normalizeColor(ctx.Color)
	if db := ctx.Store; db != nil {
		db.Driver = normalizeDriver(db.Driver)
	}
}

func (t *TLS) imply() {
	if t != nil && t.hasSettings() {
		t.Enabled = true
	}
}

// hasSettings reports whether any field other than Enabled is set.
func (t *TLS) hasSettings() bool {
	return t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" || t.InsecureSkipVerify
}

// resolvePaths makes file names absolute: "~/" is the home directory and a
// relative name is relative to the config file's directory (as kubeconfig
// does), so the file works whatever the current directory.
func (c *Config) resolvePaths(base string) {
	for _, ctx := range c.Contexts {
		ctx.resolvePaths(base)
	}
}

func (ctx *Context) resolvePaths(base string) {
	res := func(p *string) { *p = resolvePath(base, *p) }
	resTLS := func(t *TLS) {
		if t != nil {
			res(&t.CAFile)
			res(&t.CertFile)
			res(&t.KeyFile)
		}
	}
	if k := ctx.Kafka; k != nil {
		if k.SASL != nil {
			res(&k.SASL.PasswordFile)
		}
		resTLS(k.TLS)
	}
	if r := ctx.RabbitMQ; r != nil {
		res(&r.PasswordFile)
		resTLS(r.TLS)
	}
	if db := ctx.Store; db != nil {
		res(&db.DSNFile)
	}
}

func resolvePath(base, p string) string {
	if p == "" {
		return ""
	}
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil && home != "" {
			return filepath.Join(home, p[1:])
		}
		return p
	}
	if filepath.IsAbs(p) || base == "" {
		return filepath.Clean(p)
	}
	return filepath.Join(base, p)
}

func baseDir(path string) string {
	if path == "" {
		return ""
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return filepath.Dir(path)
	}
	return filepath.Dir(abs)
}

// cause strips the path from an *fs.PathError (we print the path ourselves).
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func normalizeColor(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}

func normalizeDriver(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "postgresql", "pgx":
		return "postgres"
	case "mariadb":
		return "mysql"
	case "sqlite3":
		return "sqlite"
	}
	return s
}

func quoteList(names []string) string {
	qs := make([]string, len(names))
	for i, n := range names {
		qs[i] = backends.SafeText(n)
	}
	return strings.Join(qs, ", ")
}
