package config

import (
	"bytes"

	"github.com/mqops/mqops/backends"
	"gopkg.in/yaml.v3"
)

// Redacted is the config as YAML for `mqops config view`. Names of
// environment variables and files are shown (they are not secrets); nothing
// read from them is. A password that somehow sits in a URL, or a *-env value
// that is not a variable name (and so may be a pasted secret), shows as
// REDACTED. Every string is passed through backends.SafeText.
func (c *Config) Redacted() ([]byte, error) {
	root := &yaml.Node{Kind: yaml.MappingNode}
	if c != nil {
		if c.CurrentContext != "" {
			put(root, "current-context", str(c.CurrentContext))
		}
		if c.Refresh != 0 {
			put(root, "refresh", str(c.Refresh.String()))
		}
		if len(c.Contexts) > 0 {
			ctxs := &yaml.Node{Kind: yaml.MappingNode}
			for _, name := range c.ContextNames() {
				put(ctxs, name, c.Contexts[name].node())
			}
			put(root, "contexts", ctxs)
		}
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

const redacted = "REDACTED"

func (ctx *Context) node() *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	if ctx == nil {
		return n
	}
	putStr(n, "color", ctx.Color)
	if ctx.ReadOnly {
		put(n, "read-only", boolNode(true))
	}
	if ctx.Refresh != 0 {
		put(n, "refresh", str(ctx.Refresh.String()))
	}
	if k := ctx.Kafka; k != nil {
		kn := &yaml.Node{Kind: yaml.MappingNode}
		if len(k.Brokers) > 0 {
			put(kn, "brokers", list(k.Brokers, yaml.FlowStyle))
		}
		putStr(kn, "client-id", k.ClientID)
		if k.Timeout != 0 {
			put(kn, "timeout", str(k.Timeout.String()))
		}
		if s := k.SASL; s != nil {
			sn := &yaml.Node{Kind: yaml.MappingNode}
			putStr(sn, "mechanism", s.Mechanism)
			putStr(sn, "username", s.Username)
			putStr(sn, "password-env", redactEnv(s.PasswordEnv))
			putStr(sn, "password-file", s.PasswordFile)
			put(kn, "sasl", sn)
		}
		if k.TLS != nil {
			put(kn, "tls", k.TLS.node())
		}
		put(n, "kafka", kn)
	}
	if r := ctx.RabbitMQ; r != nil {
		rn := &yaml.Node{Kind: yaml.MappingNode}
		putStr(rn, "url", redactURL(r.URL))
		putStr(rn, "management-url", redactURL(r.ManagementURL))
		putStr(rn, "username", r.Username)
		putStr(rn, "password-env", redactEnv(r.PasswordEnv))
		putStr(rn, "password-file", r.PasswordFile)
		if len(r.Vhosts) > 0 {
			put(rn, "vhosts", list(r.Vhosts, yaml.FlowStyle))
		}
		if r.TLS != nil {
			put(rn, "tls", r.TLS.node())
		}
		put(n, "rabbitmq", rn)
	}
	if d := ctx.Store; d != nil {
		dn := &yaml.Node{Kind: yaml.MappingNode}
		putStr(dn, "driver", d.Driver)
		putStr(dn, "dsn-env", redactEnv(d.DSNEnv))
		putStr(dn, "dsn-file", d.DSNFile)
		putStr(dn, "preset", d.Preset)
		putStr(dn, "schema", d.Schema)
		if d.PendingAfter != 0 {
			put(dn, "pending-after", str(d.PendingAfter.String()))
		}
		if r := d.Route; r != nil {
			rn := &yaml.Node{Kind: yaml.MappingNode}
			putStr(rn, "broker", r.Broker)
			putStr(rn, "topic", r.Topic)
			putStr(rn, "exchange", r.Exchange)
			putStr(rn, "routing-key", r.RoutingKey)
			put(dn, "route", rn)
		}
		for _, t := range []struct {
			key string
			m   *TableMapping
		}{{"outbox", d.Outbox}, {"retry", d.Retry}, {"idempotency", d.Idempotency}} {
			if t.m != nil {
				put(dn, t.key, t.m.node())
			}
		}
		put(n, "store", dn)
	}
	return n
}

func (t *TLS) node() *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	if t.Enabled && !t.hasSettings() {
		put(n, "enabled", boolNode(true))
	}
	if !t.Enabled && !t.hasSettings() {
		put(n, "enabled", boolNode(false))
	}
	putStr(n, "ca-file", t.CAFile)
	putStr(n, "cert-file", t.CertFile)
	putStr(n, "key-file", t.KeyFile)
	putStr(n, "server-name", t.ServerName)
	if t.InsecureSkipVerify {
		put(n, "insecure-skip-verify", boolNode(true))
	}
	return n
}

func (m *TableMapping) node() *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	putStr(n, "table", m.Table)
	if m.PendingAfter != 0 {
		put(n, "pending-after", str(m.PendingAfter.String()))
	}
	for _, f := range []struct {
		key string
		m   map[string]string
	}{{"columns", m.Columns}, {"statuses", m.Statuses}} {
		if len(f.m) == 0 {
			continue
		}
		mn := &yaml.Node{Kind: yaml.MappingNode}
		for _, k := range sortedKeys(f.m) {
			put(mn, k, str(f.m[k]))
		}
		put(n, f.key, mn)
	}
	return n
}

// redactEnv shows a *-env value only when it looks like a variable name.
func redactEnv(s string) string {
	if s == "" || envNameRE.MatchString(s) {
		return s
	}
	return redacted
}

// redactURL removes what may be a secret from a URL: the password of its
// user info and the values of secret-named parameters (backends.Redact).
func redactURL(raw string) string { return backends.Redact(raw) }

func put(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, str(key), v)
}

func putStr(m *yaml.Node, key, v string) {
	if v != "" {
		put(m, key, str(v))
	}
}

func str(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: backends.SafeText(s)}
}

func boolNode(b bool) *yaml.Node {
	v := "false"
	if b {
		v = "true"
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: v}
}

func list(items []string, style yaml.Style) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: style}
	for _, s := range items {
		n.Content = append(n.Content, str(s))
	}
	return n
}
