package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// secretMarker appears in every testdata value that stands for a secret; no
// error message may ever contain it.
const secretMarker = "s3cr3t"

func TestParseErrors(t *testing.T) {
	tests := []struct {
		file string
		want string // {f} is the file's path
	}{
		{"unknown_key.yaml", `{f}:7: contexts.prod.kafka: unknown key "broker" (did you mean "brokers"?)`},
		{"brokers_string.yaml", `{f}:4: contexts.prod.kafka.brokers: expected a list of host:port, got a string`},
		{"syntax.yaml", `{f}:3: yaml: mapping values are not allowed in this context`},
		{"inline_password.yaml", `{f}:8: contexts.prod.kafka.sasl: "password" is not allowed: secrets must come from password-env or password-file`},
		{"url_password.yaml", `{f}:4: contexts.prod.rabbitmq.url: the URL contains a password: secrets must come from password-env or password-file`},
		{"url_password_unparseable.yaml", `{f}:4: contexts.prod.rabbitmq.url: the URL contains a password: secrets must come from password-env or password-file`},
		{"management_url_password.yaml", `{f}:5: contexts.prod.rabbitmq.management-url: the URL contains a password: secrets must come from password-env or password-file`},
		{"inline_dsn.yaml", `{f}:5: contexts.prod.store: "dsn" is not allowed: secrets must come from dsn-env or dsn-file`},
		{"password_env_value.yaml", `{f}:8: contexts.prod.kafka.sasl.password-env: must be the name of an environment variable (letters, digits and _), not its value`},
		{"token_key.yaml", `{f}:5: contexts.prod.rabbitmq: "api_token" is not allowed: secrets must come from password-env or password-file`},
		{"broker_port.yaml", `{f}:6: contexts.prod.kafka.brokers[1]: "kafka-2.prod:99999" is not host:port (port must be a number from 1 to 65535)`},
		{"broker_no_port.yaml", `{f}:4: contexts.prod.kafka.brokers[0]: "kafka-1.prod" is not host:port (missing port)`},
		{"broker_scheme.yaml", `{f}:4: contexts.prod.kafka.brokers[0]: "SASL_SSL://kafka-1.prod:9093" is not host:port (drop the "SASL_SSL://" prefix)`},
		{"brokers_empty.yaml", `{f}:4: contexts.prod.kafka.brokers: at least one host:port is required`},
		{"sasl_mechanism.yaml", `{f}:5: contexts.prod.kafka.sasl.mechanism: unknown mechanism "GSSAPI" (use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)`},
		{"sasl_no_username.yaml", `{f}:5: contexts.prod.kafka.sasl: username is required`},
		{"sasl_two_passwords.yaml", `{f}:5: contexts.prod.kafka.sasl: set only one of password-env or password-file`},
		{"sasl_no_password.yaml", `{f}:5: contexts.prod.kafka.sasl: set one of password-env or password-file`},
		{"cert_without_key.yaml", `{f}:5: contexts.prod.kafka.tls: cert-file is set without key-file`},
		{"tls_enabled_false.yaml", `{f}:6: contexts.prod.kafka.tls.enabled: is false but other tls settings are given (remove enabled: false, or the whole tls block)`},
		{"color.yaml", `{f}:3: contexts.prod.color: unknown color "pink" (use red, yellow, green, blue, magenta, cyan or #rrggbb)`},
		{"duration_no_unit.yaml", `{f}:1: refresh: expected a duration such as 5s, 2m or 1h30m, got "5" (add a unit: "5s")`},
		{"duration_zero.yaml", `{f}:5: contexts.prod.kafka.timeout: must be positive, got "0s"`},
		{"refresh_too_fast.yaml", `{f}:3: contexts.prod.refresh: must be at least 1s (every refresh queries the clusters), got 100ms`},
		{"current_context_unknown.yaml", `{f}:1: current-context: context "stagin" does not exist (contexts: prod, staging; did you mean "staging"?)`},
		{"duplicate_key.yaml", `{f}:6: contexts.prod: key "read-only" is defined twice (first at line 5)`},
		{"duplicate_context.yaml", `{f}:5: contexts: key "prod" is defined twice (first at line 2)`},
		{"contexts_list.yaml", `{f}:2: contexts: expected a mapping of context names to their settings, got a list (write contexts: {NAME: {kafka: ...}}, not a list)`},
		{"top_level_list.yaml", `{f}:1: expected a mapping at the top level (current-context, refresh, contexts), got a list`},
		{"bool_yes.yaml", `{f}:3: contexts.prod.read-only: expected true or false, got "yes"`},
		{"bool_empty.yaml", `{f}:3: contexts.prod.read-only: expected true or false, got nothing`},
		{"empty_context.yaml", `{f}:2: contexts.prod: the context configures nothing: add kafka, rabbitmq or store`},
		{"context_name.yaml", `{f}:2: contexts."my prod": invalid context name "my prod": use letters, digits and . _ - @ : / + (starting with a letter or digit)`},
		{"rabbit_scheme.yaml", `{f}:4: contexts.prod.rabbitmq.url: must start with amqp:// or amqps://`},
		{"rabbit_password_no_user.yaml", `{f}:3: contexts.prod.rabbitmq: a password is set but no user: set username, or put the user in url (amqps://user@host)`},
		{"rabbit_nothing.yaml", `{f}:3: contexts.prod.rabbitmq: set url (amqp:// or amqps://) or management-url (http:// or https://)`},
		{"db_driver.yaml", `{f}:4: contexts.prod.store.driver: unknown driver "oracle" (use postgres, mysql, sqlite)`},
		{"db_column_unknown.yaml", `{f}:9: contexts.prod.store.outbox.columns.mesage_id: unknown column "mesage_id" (did you mean "message_id"?)`},
		{"db_table_injection.yaml", `{f}:7: contexts.prod.store.outbox.table: "log; DROP TABLE orders" is not a table name (letters, digits, _ and $, optionally schema.table)`},
		{"store_preset.yaml", `{f}:6: contexts.prod.store.preset: unknown preset "outboxer" (use mqops, cap, river)`},
		{"store_cap_sqlite.yaml", `{f}:6: contexts.prod.store.preset: DotNetCore.CAP stores in postgres or mysql, not sqlite`},
		{"store_route.yaml", `{f}:7: contexts.prod.store.route.broker: is "nats": use kafka or rabbitmq`},
		{"store_status_list.yaml", `{f}:7: contexts.prod.store.outbox.statuses.pending: the stored value cannot be empty`},
		{"db_idempotency_statuses.yaml", `{f}:7: contexts.prod.store.idempotency.statuses: this table has no status column`},
		{"control_chars.yaml", `{f}:7: contexts.prod.kafka.sasl.username: the value contains control characters or invalid UTF-8`},
		{"invalid_utf8.yaml", `{f}:3: yaml: invalid leading UTF-8 octet`},
		{"multi_doc.yaml", `{f}:5: yaml: the file holds more than one YAML document (remove the --- separator)`},
		{"unknown_anchor.yaml", `{f}:5: yaml: unknown anchor 'shared-tls' referenced`},
		{"merge_cycle.yaml", `{f}:2: contexts: merge key << refers to the mapping it is in`},
		{"multiple_errors.yaml", `{f}:4: contexts.prod.color: unknown color "purple" (use red, yellow, green, blue, magenta, cyan or #rrggbb)
{f}:6: contexts.prod.kafka.brokers[1]: "kafka-2.prod" is not host:port (missing port)
{f}:7: contexts.prod.kafka.sasl: set one of password-env or password-file`},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.file] = true
		t.Run(strings.TrimSuffix(tt.file, ".yaml"), func(t *testing.T) {
			path := filepath.Join("testdata", "errors", tt.file)
			c, err := Load(path)
			if err == nil {
				t.Fatalf("Load(%s) = %+v, want an error", path, c)
			}
			if c != nil {
				t.Errorf("Load returned a config along with the error")
			}
			want := strings.ReplaceAll(tt.want, "{f}", path)
			if got := err.Error(); got != want {
				t.Errorf("error:\n got: %s\nwant: %s", got, want)
			}
			if strings.Contains(err.Error(), secretMarker) {
				t.Errorf("error echoes a secret: %s", err)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.File != path || ce.Line == 0 {
				t.Errorf("error is not a *config.Error with file and line: %#v", err)
			}
		})
	}
	// Every file in testdata/errors is in the table.
	files, _ := filepath.Glob(filepath.Join("testdata", "errors", "*.yaml"))
	for _, f := range files {
		if !covered[filepath.Base(f)] {
			t.Errorf("%s has no expected error in the table", f)
		}
	}
}

// TestSecretNeverEchoed parses variants that put a secret in every place a
// careless hand could, and checks no error message repeats it.
func TestSecretNeverEchoed(t *testing.T) {
	const pw = "s3cr3t:P@ss/w0rd!"
	docs := []string{
		"contexts: {p: {kafka: {brokers: [k:1], sasl: {mechanism: PLAIN, username: u, password: '" + pw + "'}}}}",
		"contexts: {p: {kafka: {brokers: [k:1], sasl: {mechanism: PLAIN, username: u, password-env: '" + pw + "'}}}}",
		"contexts: {p: {kafka: {brokers: [k:1], sasl: {mechanism: PLAIN, username: u, passwd: '" + pw + "'}}}}",
		"contexts: {p: {kafka: {brokers: [k:1], sasl: {mechanism: PLAIN, username: u, password-env: [ '" + pw + "' ]}}}}",
		"contexts: {p: {rabbitmq: {url: 'amqp://u:" + pw + "@h:5672/'}}}",
		"contexts: {p: {rabbitmq: {url: 'amqp://u:" + pw + "@h:bad/'}}}",
		"contexts: {p: {rabbitmq: {url: 'u:" + pw + "@h'}}}",
		"contexts: {p: {rabbitmq: {url: 'amqp://h', password: '" + pw + "'}}}",
		"contexts: {p: {rabbitmq: {management-url: 'https://u:" + pw + "@h'}}}",
		"contexts: {p: {rabbitmq: {url: 'amqp://u@h', password-env: '" + pw + "'}}}",
		"contexts: {p: {store: {driver: postgres, dsn: 'postgres://u:" + pw + "@h/db'}}}",
		"contexts: {p: {store: {driver: postgres, dsn-env: '" + pw + "'}}}",
		"contexts: {p: {store: {driver: postgres, connection_string: '" + pw + "'}}}",
		"contexts: {p: {kafka: {brokers: [k:1], sasl: {mechanism: PLAIN, username: u, password-env: X, token: '" + pw + "'}}}}",
		"contexts: {p: {kafka: {brokers: [k:1], sasl: {mechanism: PLAIN, username: '" + pw + "\x01', password-env: X}}}}",
	}
	for i, doc := range docs {
		_, err := Parse([]byte(doc), "c.yaml")
		if err == nil {
			t.Errorf("doc %d: no error for %q", i, doc)
			continue
		}
		for _, part := range []string{pw, "s3cr3t", "P@ss"} {
			if strings.Contains(err.Error(), part) {
				t.Errorf("doc %d: error echoes the secret: %s", i, err)
			}
		}
	}
	// Effective with a URL override that holds a password.
	c, err := Parse([]byte("contexts: {p: {rabbitmq: {url: 'amqp://h'}}}"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Effective("p", Overrides{RabbitMQURL: "amqp://u:" + pw + "@h"})
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("Effective with a password in the URL: %v", err)
	}
}

func TestLoadGood(t *testing.T) {
	t.Setenv("HOME", "/home/op")
	path := filepath.Join("testdata", "good.yaml")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	dir, _ := filepath.Abs("testdata")
	if c.Path != path || c.CurrentContext != "staging" || c.Refresh != Duration(10*time.Second) {
		t.Errorf("top level: path %q current %q refresh %v", c.Path, c.CurrentContext, c.Refresh)
	}
	if got, want := c.ContextNames(), []string{"local", "prod", "staging"}; !slices.Equal(got, want) {
		t.Errorf("ContextNames = %v, want %v", got, want)
	}

	prod := c.Contexts["prod"]
	wantProd := &Context{
		Name: "prod", Color: "red", ReadOnly: true, Refresh: Duration(30 * time.Second),
		Kafka: &Kafka{
			Brokers:  []string{"kafka-1.prod:9093", "kafka-2.prod:9093", "[2001:db8::1]:9093"},
			ClientID: "mqops-oncall",
			Timeout:  Duration(20 * time.Second),
			SASL:     &SASL{Mechanism: "SCRAM-SHA-512", Username: "ops", PasswordEnv: "KAFKA_PASSWORD"},
			TLS:      &TLS{Enabled: true, CAFile: filepath.Join(dir, "tls", "ca.pem"), ServerName: "kafka.prod.internal"},
		},
		RabbitMQ: &RabbitMQ{
			URL:           "amqps://ops@rabbit.prod:5671/orders",
			ManagementURL: "https://rabbit.prod:15671",
			PasswordEnv:   "RABBIT_PASSWORD",
			Vhosts:        []string{"orders", "billing"},
			// ca-file merged from the kafka tls block with <<, server-name overridden.
			TLS: &TLS{Enabled: true, CAFile: filepath.Join(dir, "tls", "ca.pem"), ServerName: "rabbit.prod.internal"},
		},
		Store: &Store{
			Driver: "postgres",
			DSNEnv: "ORDERS_DB_DSN",
			Outbox: &TableMapping{
				Table:        "app.message_send_log",
				PendingAfter: Duration(5 * time.Minute),
				Columns:      map[string]string{"message_id": "msg_id", "destination": "topic", "last_error": "error_text"},
				Statuses:     map[string]string{"pending": "0", "confirmed": "1", "failed": "3"},
			},
			Retry:       &TableMapping{Table: "message_retry"},
			Idempotency: &TableMapping{Table: "consumed_messages", Columns: map[string]string{"consumer": "consumer_group"}},
		},
	}
	if !reflect.DeepEqual(prod, wantProd) {
		t.Errorf("prod context:\n got %s\nwant %s", dump(prod), dump(wantProd))
	}
	if !prod.ProdLike() {
		t.Error("prod (red) is not ProdLike")
	}

	staging := c.Contexts["staging"]
	if staging.Color != "#ffaa00" || staging.ProdLike() {
		t.Errorf("staging color %q prodlike %v", staging.Color, staging.ProdLike())
	}
	k := staging.Kafka
	if k.ClientID != DefaultClientID || k.Timeout != DefaultTimeout {
		t.Errorf("kafka defaults: client-id %q timeout %v", k.ClientID, k.Timeout)
	}
	if k.SASL.PasswordFile != "/home/op/.config/mqops/staging-kafka.password" {
		t.Errorf("~ not expanded: %q", k.SASL.PasswordFile)
	}
	if !k.TLS.Enabled || k.TLS.hasSettings() {
		t.Errorf("tls {enabled: true}: %+v", k.TLS)
	}
	if staging.RabbitMQ.User() != "ops" || staging.RabbitMQ.PasswordFile != filepath.Join(dir, "secrets", "rabbit-staging") {
		t.Errorf("staging rabbitmq: %+v", staging.RabbitMQ)
	}
	if staging.Refresh != 0 {
		t.Errorf("context refresh %v, want 0 (inherit)", staging.Refresh)
	}
	local := c.Contexts["local"]
	if !local.Kafka.TLS.Enabled || !local.Kafka.TLS.InsecureSkipVerify {
		t.Errorf("tls implied by insecure-skip-verify: %+v", local.Kafka.TLS)
	}
	if local.Store.DSNFile != filepath.Join(dir, "local.dsn") {
		t.Errorf("relative dsn-file not resolved: %q", local.Store.DSNFile)
	}
	if got := prod.RabbitMQ.User(); got != "ops" {
		t.Errorf("user from url = %q", got)
	}
}

func dump(v any) string {
	b, _ := (&Config{Contexts: map[string]*Context{"x": v.(*Context)}}).Redacted()
	return "\n" + string(b)
}

func TestEmptyAndMissing(t *testing.T) {
	for _, data := range []string{"", "# nothing yet\n", "---\n", "~\n", "contexts:\n"} {
		c, err := Parse([]byte(data), "c.yaml")
		if err != nil {
			t.Errorf("Parse(%q): %v", data, err)
			continue
		}
		if len(c.Contexts) != 0 || c.Refresh != DefaultRefresh || c.Path != "c.yaml" {
			t.Errorf("Parse(%q) = %+v", data, c)
		}
	}

	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.yaml")
	if _, err := Load(missing); err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Load(missing) = %v, want an error naming %s", err, missing)
	}
	if _, err := LoadDefault(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("LoadDefault(explicit missing) = %v, want an error naming the file", err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("Load(dir) = %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, maxFileSize+10), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("Load(big) = %v", err)
	}

	// No default file: an empty config, no error.
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "xdg"))
	c, err := LoadDefault("")
	if err != nil || c.Path != "" || len(c.Contexts) != 0 || c.Refresh != DefaultRefresh {
		t.Fatalf("LoadDefault with no file = %+v, %v", c, err)
	}
	_, err = c.Context("")
	if err == nil || !strings.Contains(err.Error(), "--brokers") || !strings.Contains(err.Error(), filepath.Join(dir, "xdg", "mqops", "config.yaml")) {
		t.Errorf("Context on an empty config = %v, want advice naming --brokers and the default path", err)
	}

	// A default file is found and loaded.
	p := DefaultPath()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("contexts: {dev: {kafka: {brokers: ['localhost:9092']}}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = LoadDefault("")
	if err != nil || c.Path != p || c.Contexts["dev"] == nil {
		t.Fatalf("LoadDefault = %+v, %v", c, err)
	}
	// A broken default file is an error, not silently ignored.
	if err := os.WriteFile(p, []byte("contexts: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDefault(""); err == nil || !strings.HasPrefix(err.Error(), p+":") {
		t.Errorf("LoadDefault(broken) = %v", err)
	}
}

func TestDefaultPath(t *testing.T) {
	t.Setenv("HOME", "/home/op")
	t.Setenv("XDG_CONFIG_HOME", "/xdg")
	if got := DefaultPath(); got != "/xdg/mqops/config.yaml" {
		t.Errorf("with XDG_CONFIG_HOME: %q", got)
	}
	t.Setenv("XDG_CONFIG_HOME", "relative/dir") // the XDG spec says: ignore
	if got := DefaultPath(); got != "/home/op/.config/mqops/config.yaml" {
		t.Errorf("with a relative XDG_CONFIG_HOME: %q", got)
	}
	t.Setenv("XDG_CONFIG_HOME", "")
	if got := DefaultPath(); got != "/home/op/.config/mqops/config.yaml" {
		t.Errorf("without XDG_CONFIG_HOME: %q", got)
	}
}

func TestContextSelection(t *testing.T) {
	const two = `
current-context: staging
contexts:
  staging: {kafka: {brokers: ['kafka.staging:9092']}}
  prod: {color: red, kafka: {brokers: ['kafka.prod:9093']}}
`
	c := mustParse(t, two)
	if ctx, err := c.Context(""); err != nil || ctx.Name != "staging" {
		t.Errorf("current context: %v, %v", ctx, err)
	}
	if ctx, err := c.Context("prod"); err != nil || ctx.Name != "prod" || !ctx.ProdLike() {
		t.Errorf("named context: %v, %v", ctx, err)
	}
	_, err := c.Context("prdo")
	if err == nil || err.Error() != `context "prdo" not found in c.yaml; known contexts: prod, staging (did you mean "prod"?)` {
		t.Errorf("unknown context: %v", err)
	}

	c.CurrentContext = ""
	_, err = c.Context("")
	if err == nil || err.Error() != "no context selected: pass --context NAME or set current-context in c.yaml (contexts: prod, staging)" {
		t.Errorf("no selection: %v", err)
	}

	one := mustParse(t, "contexts: {only: {kafka: {brokers: ['k:9092']}}}")
	if ctx, err := one.Context(""); err != nil || ctx.Name != "only" {
		t.Errorf("single context is the default: %v, %v", ctx, err)
	}

	none := mustParse(t, "")
	if _, err := none.Context("prod"); err == nil || !strings.Contains(err.Error(), "defines no contexts") {
		t.Errorf("named context, empty file: %v", err)
	}
	var nilCfg *Config
	if _, err := nilCfg.Context(""); err == nil || !strings.Contains(err.Error(), "--brokers") {
		t.Errorf("nil config: %v", err)
	}
}

func mustParse(t *testing.T, doc string) *Config {
	t.Helper()
	c, err := Parse([]byte(doc), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestValidateFiles(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	doc := `contexts:
  prod:
    kafka:
      brokers: [kafka:9093]
      tls: {ca-file: ca.pem}
  staging:
    kafka:
      brokers: [kafka:9093]
      tls:
        ca-file: missing-ca.pem
`
	c, err := Parse([]byte(doc), cfgPath)
	if err != nil {
		t.Fatalf("Parse must not touch the file system: %v", err)
	}
	err = c.Validate()
	want := cfgPath + `:10: contexts.staging.kafka.tls.ca-file: cannot read "` + filepath.Join(dir, "missing-ca.pem") + `": no such file or directory`
	if err == nil || err.Error() != want {
		t.Errorf("Validate:\n got: %v\nwant: %s", err, want)
	}
	// Effective checks the files of the context it returns only.
	if _, err := c.Effective("prod", Overrides{}); err != nil {
		t.Errorf("Effective(prod): %v", err)
	}
	if _, err := c.Effective("staging", Overrides{}); err == nil || err.Error() != want {
		t.Errorf("Effective(staging):\n got: %v\nwant: %s", err, want)
	}
	// A directory is not a CA file.
	c.Contexts["prod"].Kafka.TLS.CAFile = dir
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("Validate with a directory as ca-file: %v", err)
	}
}

func TestValidateProgrammatic(t *testing.T) {
	c := &Config{
		CurrentContext: "x",
		Refresh:        -1,
		Contexts: map[string]*Context{
			"x": {Kafka: &Kafka{Brokers: []string{"a:1"}, ClientID: "bad id", Timeout: -1}},
		},
	}
	err := c.Validate()
	want := "refresh: must be positive\ncontexts.x.kafka.client-id: \"bad id\" is not a valid client id (letters, digits, '.', '_' and '-')\ncontexts.x.kafka.timeout: must be positive"
	if err == nil || err.Error() != want {
		t.Errorf("Validate:\n got: %v\nwant: %s", err, want)
	}
	var nilCfg *Config
	if err := nilCfg.Validate(); err != nil {
		t.Errorf("nil Validate: %v", err)
	}
}

func TestRedacted(t *testing.T) {
	t.Setenv("HOME", "/home/op")
	c, err := Load(filepath.Join("testdata", "good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.Abs("testdata")
	norm := strings.ReplaceAll(string(got), dir, "TESTDATA")
	golden := filepath.Join("testdata", "good.redacted.yaml")
	if *update {
		if err := os.WriteFile(golden, []byte(norm), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if norm != string(want) {
		t.Errorf("Redacted differs from %s (go test -update to accept):\n%s", golden, norm)
	}
	// The view parses back to the same config.
	back, err := Parse(got, c.Path)
	if err != nil {
		t.Fatalf("Redacted output does not parse: %v", err)
	}
	again, _ := back.Redacted()
	if string(again) != string(got) {
		t.Errorf("Redacted is not stable through Parse:\n%s\n---\n%s", got, again)
	}

	// Values that should never be in a config but got there anyway.
	bad := &Config{Contexts: map[string]*Context{"p": {
		Kafka: &Kafka{Brokers: []string{"k:1"}, SASL: &SASL{Mechanism: "PLAIN", Username: "u", PasswordEnv: "s3cr3t pasted"}},
		RabbitMQ: &RabbitMQ{
			URL:           "amqps://ops:s3cr3t@rabbit:5671/v",
			ManagementURL: "https://ops:s3cr3t@rabbit:15671",
			PasswordEnv:   "RABBIT_PASSWORD",
		},
		Store: &Store{Driver: "postgres", DSNEnv: "postgres://u:s3cr3t@db/x"},
	}}}
	out, err := bad.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if strings.Contains(s, "s3cr3t") {
		t.Errorf("Redacted leaks a secret:\n%s", s)
	}
	for _, want := range []string{
		"url: amqps://ops:REDACTED@rabbit:5671/v",
		"management-url: https://ops:REDACTED@rabbit:15671",
		"password-env: RABBIT_PASSWORD", // a variable's name is shown
		"dsn-env: REDACTED",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("Redacted lacks %q:\n%s", want, s)
		}
	}
	if strings.Count(s, "REDACTED") != 4 {
		t.Errorf("want 4 REDACTED values:\n%s", s)
	}

	var empty *Config
	if out, err := empty.Redacted(); err != nil || string(out) != "{}\n" {
		t.Errorf("nil Redacted = %q, %v", out, err)
	}
}

func TestEffective(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := `refresh: 7s
current-context: staging
contexts:
  staging:
    kafka:
      brokers: [kafka.staging:9092]
      sasl: {mechanism: SCRAM-SHA-256, username: ops, password-file: pw}
    rabbitmq: {url: 'amqp://ops@rabbit.staging', password-env: RABBIT_PASSWORD}
  prod:
    color: red
    read-only: true
    refresh: 30s
    kafka: {brokers: [kafka.prod:9093]}
`
	c, err := Parse([]byte(doc), filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("current context, no overrides", func(t *testing.T) {
		ctx, err := c.Effective("", Overrides{})
		if err != nil {
			t.Fatal(err)
		}
		if ctx.Name != "staging" || ctx.Refresh != Duration(7*time.Second) {
			t.Errorf("got %s refresh %v, want staging with the config's refresh", ctx.Name, ctx.Refresh)
		}
		if ctx == c.Contexts["staging"] || ctx.Kafka == c.Contexts["staging"].Kafka {
			t.Error("Effective must return a copy")
		}
	})

	t.Run("overrides replace fields of the context", func(t *testing.T) {
		ctx, err := c.Effective("staging", Overrides{
			Brokers:         []string{"k1:9092,k2:9092", " k3:9092 "},
			SASLMechanism:   "scram-sha-512",
			SASLPasswordEnv: "OTHER_PW",
			TLSCAFile:       ca,
			RabbitMQURL:     "amqps://ops@rabbit.other:5671",
		})
		if err != nil {
			t.Fatal(err)
		}
		k := ctx.Kafka
		if !slices.Equal(k.Brokers, []string{"k1:9092", "k2:9092", "k3:9092"}) {
			t.Errorf("brokers %v", k.Brokers)
		}
		if *k.SASL != (SASL{Mechanism: "SCRAM-SHA-512", Username: "ops", PasswordEnv: "OTHER_PW"}) {
			t.Errorf("sasl %+v (password-env must replace password-file)", *k.SASL)
		}
		if k.TLS == nil || !k.TLS.Enabled || k.TLS.CAFile != ca {
			t.Errorf("kafka tls %+v", k.TLS)
		}
		r := ctx.RabbitMQ
		if r.URL != "amqps://ops@rabbit.other:5671" || r.TLS == nil || r.TLS.CAFile != ca || r.PasswordEnv != "RABBIT_PASSWORD" {
			t.Errorf("rabbitmq %+v tls %+v", r, r.TLS)
		}
		// The config itself is untouched.
		orig := c.Contexts["staging"].Kafka
		if !slices.Equal(orig.Brokers, []string{"kafka.staging:9092"}) || orig.SASL.PasswordFile == "" || orig.TLS != nil {
			t.Errorf("Effective modified the config: %+v %+v", orig, orig.SASL)
		}
	})

	t.Run("explicit context keeps its colour and refresh", func(t *testing.T) {
		ctx, err := c.Effective("prod", Overrides{TLSInsecure: true})
		if err != nil {
			t.Fatal(err)
		}
		if !ctx.ProdLike() || !ctx.ReadOnly || ctx.Refresh != Duration(30*time.Second) {
			t.Errorf("prod: %+v", ctx)
		}
		if !ctx.Kafka.TLS.Enabled || !ctx.Kafka.TLS.InsecureSkipVerify {
			t.Errorf("tls %+v", ctx.Kafka.TLS)
		}
		if w := ctx.Warnings(); len(w) != 1 || !strings.Contains(w[0], "insecure-skip-verify") {
			t.Errorf("warnings %q", w)
		}
	})

	t.Run("ad-hoc flags context", func(t *testing.T) {
		nc := mustParse(t, "contexts: {a: {kafka: {brokers: ['a:1']}}, b: {kafka: {brokers: ['b:1']}}}")
		ctx, err := nc.Effective("", Overrides{Brokers: []string{"localhost:9092"}, SASLMechanism: "plain", SASLUsername: "me", SASLPasswordEnv: "PW"})
		if err != nil {
			t.Fatal(err)
		}
		want := &Context{
			Name:    FlagsContext,
			Refresh: DefaultRefresh,
			Kafka: &Kafka{
				Brokers: []string{"localhost:9092"}, ClientID: DefaultClientID, Timeout: DefaultTimeout,
				SASL: &SASL{Mechanism: "PLAIN", Username: "me", PasswordEnv: "PW"},
			},
		}
		if !reflect.DeepEqual(ctx, want) {
			t.Errorf("got %s\nwant %s", dump(ctx), dump(want))
		}
		// No config file at all.
		var none *Config
		ctx, err = none.Effective("", Overrides{Brokers: []string{"localhost:9092"}})
		if err != nil || ctx.Name != FlagsContext || ctx.ProdLike() || ctx.ReadOnly {
			t.Errorf("nil config: %+v, %v", ctx, err)
		}
		// A single context in the file is not used when --brokers names a cluster:
		// its credentials must not go to brokers typed on the command line.
		one := mustParse(t, "contexts: {prod: {kafka: {brokers: ['p:1'], sasl: {mechanism: PLAIN, username: u, password-env: PW}}}}")
		ctx, err = one.Effective("", Overrides{Brokers: []string{"localhost:9092"}})
		if err != nil || ctx.Name != FlagsContext || ctx.Kafka.SASL != nil {
			t.Errorf("single context with --brokers: %+v, %v", ctx, err)
		}
		// RabbitMQ alone.
		ctx, err = none.Effective("", Overrides{ManagementURL: "http://localhost:15672"})
		if err != nil || ctx.Kafka != nil || ctx.RabbitMQ.ManagementURL != "http://localhost:15672" {
			t.Errorf("management url only: %+v, %v", ctx, err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		var none *Config
		_, err := none.Effective("", Overrides{Brokers: []string{"localhost"}})
		if want := `kafka.brokers[0] (from a command-line flag): "localhost" is not host:port (missing port)`; err == nil || err.Error() != want {
			t.Errorf("bad --brokers:\n got: %v\nwant: %s", err, want)
		}
		var ce *Error
		if !errors.As(err, &ce) || !ce.FromFlag || ce.File != "" {
			t.Errorf("flag error %#v", err)
		}
		_, err = c.Effective("prod", Overrides{SASLMechanism: "GSSAPI"})
		want := `contexts.prod.kafka.sasl.mechanism (from a command-line flag): unknown mechanism "GSSAPI" (use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)
contexts.prod.kafka.sasl (from a command-line flag): username is required
contexts.prod.kafka.sasl (from a command-line flag): set one of password-env or password-file`
		if err == nil || err.Error() != want {
			t.Errorf("bad --sasl-mechanism:\n got: %v\nwant: %s", err, want)
		}
		if _, err := c.Effective("nope", Overrides{Brokers: []string{"k:1"}}); err == nil || !strings.Contains(err.Error(), `context "nope" not found`) {
			t.Errorf("unknown explicit context with --brokers: %v", err)
		}
		if _, err := none.Effective("", Overrides{}); err == nil || !strings.Contains(err.Error(), "--brokers") {
			t.Errorf("nothing at all: %v", err)
		}
		if _, err := none.Effective("", Overrides{Brokers: []string{"k:1"}, TLSCAFile: "/does/not/exist.pem"}); err == nil ||
			err.Error() != `kafka.tls.ca-file (from a command-line flag): cannot read "/does/not/exist.pem": no such file or directory` {
			t.Errorf("missing --tls-ca-file: %v", err)
		}
	})
}

func TestWarnings(t *testing.T) {
	c := mustParse(t, `contexts:
  a:
    kafka: {brokers: ['k:1'], sasl: {mechanism: PLAIN, username: u, password-env: PW}}
    rabbitmq: {url: 'amqp://u@rabbit:5672', management-url: 'http://rabbit:15672', password-env: PW, tls: {insecure-skip-verify: true}}
  b:
    kafka: {brokers: ['k:1'], sasl: {mechanism: PLAIN, username: u, password-env: PW}, tls: {enabled: true}}
    rabbitmq: {url: 'amqp://u@localhost:5672', management-url: 'http://127.0.0.1:15672', password-env: PW}
`)
	want := []string{
		"kafka: SASL PLAIN without tls sends the password in clear text",
		"rabbitmq: url uses amqp:// (no TLS): the password crosses the network in clear text",
		"rabbitmq: management-url uses http:// (no TLS): the password crosses the network in clear text",
		"rabbitmq: " + insecureWarning,
	}
	if got := c.Contexts["a"].Warnings(); !slices.Equal(got, want) {
		t.Errorf("Warnings(a):\n got %q\nwant %q", got, want)
	}
	if got := c.Contexts["b"].Warnings(); len(got) != 0 {
		t.Errorf("Warnings(b) = %q, want none (TLS on, loopback)", got)
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Second:                      "5s",
		2 * time.Minute:                      "2m",
		90 * time.Minute:                     "1h30m",
		time.Hour:                            "1h",
		1500 * time.Millisecond:              "1.5s",
		250 * time.Millisecond:               "250ms",
		time.Hour + 2*time.Second:            "1h0m2s",
		36*time.Hour + 30*time.Second:        "36h0m30s",
		2*time.Minute + 500*time.Millisecond: "2m0.5s",
	} {
		if got := Duration(d).String(); got != want {
			t.Errorf("Duration(%v).String() = %q, want %q", d, got, want)
		}
		back, err := time.ParseDuration(Duration(d).String())
		if err != nil || back != d {
			t.Errorf("%q does not parse back to %v", Duration(d).String(), d)
		}
	}
	if Duration(3*time.Second).Std() != 3*time.Second {
		t.Error("Std")
	}
}

// TestAliasBomb: aliases nested to expand to billions of values must fail
// fast, not hang the console.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("x0: &a0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, j: 10}\n")
	for i := 1; i <= 9; i++ {
		b.WriteString("x" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " {<<: [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]}\n")
	}
	b.WriteString("contexts: {p: {<<: *a9}}\n")
	start := time.Now()
	_, err := Parse([]byte(b.String()), "bomb.yaml")
	if err == nil || !strings.Contains(err.Error(), "too many values") {
		t.Errorf("alias bomb: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("alias bomb took %v", d)
	}
}

func TestUnknownKeySuggestions(t *testing.T) {
	tests := []struct{ doc, want string }{
		{"contexts: {p: {kafka: {bootstrap.servers: ['k:1']}}}", `c.yaml:1: contexts.p.kafka: unknown key "bootstrap.servers" (did you mean "brokers"?)`},
		{"contexts: {p: {readonly: true, kafka: {brokers: ['k:1']}}}", `c.yaml:1: contexts.p: unknown key "readonly" (did you mean "read-only"?)`},
		{"contexts: {p: {kafka: {Brokers: ['k:1']}}}", `c.yaml:1: contexts.p.kafka: unknown key "Brokers" (did you mean "brokers"?)`},
		{"contexts: {p: {kafka: {brokers: ['k:1'], tls: {ca: x}}}}", `c.yaml:1: contexts.p.kafka.tls: unknown key "ca" (did you mean "ca-file"?)`},
		{"contexts: {p: {kafka: {brokers: ['k:1'], sasl: {password_env: X}}}}", `c.yaml:1: contexts.p.kafka.sasl: unknown key "password_env" (did you mean "password-env"?)`},
		{"contexts: {p: {kafka: {brokers: ['k:1'], sasl: {password-envv: X}}}}", `c.yaml:1: contexts.p.kafka.sasl: unknown key "password-envv" (did you mean "password-env"?)`},
		{"current_context: p\ncontexts: {p: {kafka: {brokers: ['k:1']}}}", `c.yaml:1: unknown key "current_context" (did you mean "current-context"?)`},
		{"contexts: {p: {kafka: {brokers: ['k:1']}, zookeeper: x}}", `c.yaml:1: contexts.p: unknown key "zookeeper"`},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.doc), "c.yaml")
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%q):\n got: %v\nwant: %s", tt.doc, err, tt.want)
		}
	}
}

// TestDocExample keeps the example in docs/CONFIG.md valid.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "CONFIG.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "## Example\n\n```yaml\n")
	if !ok {
		t.Fatal("docs/CONFIG.md has no ## Example yaml block")
	}
	example, _, _ := strings.Cut(rest, "```")
	t.Setenv("HOME", "/home/op")
	c, err := Parse([]byte(example), "/home/op/.config/mqops/config.yaml")
	if err != nil {
		t.Fatalf("the documented example does not parse:\n%v", err)
	}
	if got := c.ContextNames(); !slices.Equal(got, []string{"local", "prod", "staging"}) {
		t.Errorf("contexts %v", got)
	}
	prod := c.Contexts["prod"]
	if !prod.ProdLike() || !prod.ReadOnly || prod.RabbitMQ.TLS.CAFile != "/etc/ssl/prod-ca.pem" || prod.RabbitMQ.TLS.ServerName != "rabbit.prod.internal" {
		t.Errorf("prod: %s", dump(prod))
	}
	if got := c.Contexts["staging"].RabbitMQ.PasswordFile; got != "/home/op/.config/mqops/secrets/rabbit-staging" {
		t.Errorf("relative password-file resolved to %q", got)
	}
	for _, name := range c.ContextNames() {
		if w := c.Contexts[name].Warnings(); len(w) != 0 {
			t.Errorf("the documented example draws warnings for %s: %q", name, w)
		}
	}
}

// TestStoreOverrides: --store and its flags make a context of their own
// (nothing of a file's context goes with them) or override a context's.
func TestStoreOverrides(t *testing.T) {
	ctx, err := (*Config)(nil).Effective("", Overrides{StoreDriver: "sqlite", StoreDSNEnv: "APP_DB", StorePreset: "mqops", RouteBroker: "kafka"})
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Name != FlagsContext || ctx.Store == nil || ctx.Store.Driver != "sqlite" || ctx.Store.DSNEnv != "APP_DB" || ctx.Store.Preset != "mqops" || ctx.Store.Route == nil || ctx.Store.Route.Broker != "kafka" {
		t.Fatalf("flags context %+v store %+v", ctx, ctx.Store)
	}
	if _, err := (*Config)(nil).Effective("", Overrides{StoreDriver: "oracle", StoreDSNEnv: "APP_DB"}); err == nil || !strings.Contains(err.Error(), `unknown driver "oracle"`) {
		t.Errorf("bad driver flag: %v", err)
	}
	if _, err := (*Config)(nil).Effective("", Overrides{StoreDriver: "postgres", StoreDSNEnv: "APP_DB", StorePreset: "river", RouteBroker: "sqs"}); err == nil || !strings.Contains(err.Error(), `"sqs"`) {
		t.Errorf("bad route flag: %v", err)
	}
	c, err := Parse([]byte("contexts:\n  prod:\n    store:\n      driver: postgres\n      dsn-file: /run/secrets/dsn\n      preset: cap\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, err = c.Effective("prod", Overrides{StoreDSNEnv: "OTHER"})
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Store.DSNEnv != "OTHER" || ctx.Store.DSNFile != "" || ctx.Store.Preset != "cap" {
		t.Errorf("override of a file's store: %+v", ctx.Store)
	}
}

// TestStoreNoTable: "-" says the application has no table of that kind.
func TestStoreNoTable(t *testing.T) {
	c, err := Parse([]byte("contexts:\n  p:\n    store:\n      driver: postgres\n      dsn-env: X\n      idempotency: {table: \"-\"}\n      retry: {table: \"-;\"}\n"), "f.yaml")
	if err == nil || !strings.Contains(err.Error(), `retry.table: "-;" is not a table name`) || strings.Contains(err.Error(), "idempotency") {
		t.Fatalf("got %v, %v", c, err)
	}
}
