package main

import (
	"net/url"
	"strings"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/config"
)

// runner is the action runner of a command on context c, writing to the
// audit log at path (--audit-file; "": the default).
func (g *globals) runner(c *config.Context, path string) *actions.Runner {
	return &actions.Runner{Audit: actions.NewAuditLog(path), Globals: g.commandGlobals(c)}
}

// startAction is what a command does with action a before it connects to
// a cluster: it validates a (an invalid action is refused, and recorded)
// and checks that the audit log can be written (an action that cannot be
// audited does not start, dry runs included).
func startAction(run *actions.Runner, a actions.Action) error {
	if err := run.Validate(a); err != nil {
		return err
	}
	return run.Audit.Check()
}

// commandGlobals are the global flags of an action's equivalent headless
// command: those that select context c as this process selected it (its
// name, and the connection flags and their env defaults), so that the
// command runs on the same cluster. Never a secret: passwords are only
// ever named by their env var, and a URL's password is dropped.
func (g *globals) commandGlobals(c *config.Context) []string {
	var a []string
	add := func(flag, v string) {
		if v != "" {
			a = append(a, flag, v)
		}
	}
	add("--config", g.configPath)
	if c != nil && c.Name != config.FlagsContext {
		add("--context", c.Name)
	}
	add("--brokers", strings.Join(g.brokers, ","))
	add("--sasl-mechanism", g.saslMech)
	add("--sasl-username", g.saslUser)
	add("--sasl-password-env", g.saslPwEnv)
	add("--tls-ca-file", g.tlsCA)
	if g.tlsInsec {
		a = append(a, "--tls-insecure-skip-verify")
	}
	add("--rabbitmq-url", withoutPassword(g.rabbitURL))
	add("--management-url", withoutPassword(g.mgmtURL))
	add("--rabbitmq-password-env", g.rabbitPwEnv)
	add("--store", g.storeDriver)
	add("--store-dsn-env", g.storeDSNEnv)
	add("--store-preset", g.storePreset)
	add("--route-broker", g.routeBroker)
	if g.flagSet("timeout") {
		add("--timeout", g.timeout.String())
	}
	return a
}

// withoutPassword is an address without the password of its user-info
// (the user is kept: it names the account, not its secret).
func withoutPassword(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return backends.Redact(s)
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.User(u.User.Username())
		return u.String()
	}
	return s
}
