package config

import (
	"maps"
	"slices"
	"strings"
)

// Overrides are connection settings given on the command line (or through
// the environment) that take precedence over the selected context. A zero
// field overrides nothing.
type Overrides struct {
	Brokers                                      []string
	RabbitMQURL, ManagementURL                   string
	SASLMechanism, SASLUsername, SASLPasswordEnv string
	TLSCAFile                                    string
	TLSInsecure                                  bool
	// The application database (--store, --store-dsn-env, --store-preset,
	// --route-broker).
	StoreDriver, StoreDSNEnv, StorePreset, RouteBroker string
}

// endpoint reports whether the overrides name a cluster by themselves.
func (o Overrides) endpoint() bool {
	return len(o.Brokers) > 0 || o.RabbitMQURL != "" || o.ManagementURL != "" || o.StoreDriver != ""
}

// Effective returns the context to work with: a copy of the selected one
// with the overrides applied, defaults filled in (Refresh included) and
// validated, TLS files included.
//
// Selection: name if given, else current-context. When neither names a
// context and the overrides name a cluster (--brokers, a RabbitMQ URL), the
// result is an ad-hoc context called "flags" built from the overrides alone
// (so credentials of a context in the file never go to a cluster typed on
// the command line by accident). Otherwise the single context of the file,
// or an error telling how to pick or configure one.
//
// With a context, each override replaces the matching field; TLS overrides
// apply to Kafka and to RabbitMQ when the context has them. Note that the
// context keeps its credentials: --brokers on a context with SASL sends that
// context's password to the given brokers.
func (c *Config) Effective(name string, o Overrides) (*Context, error) {
	if c == nil {
		c = emptyConfig("")
	}
	var base *Context
	if name != "" || c.CurrentContext != "" || !o.endpoint() {
		var err error
		if base, err = c.Context(name); err != nil {
			return nil, err
		}
	}
	v := &validator{over: map[string]bool{}, files: true, errs: &errList{}}
	var ctx *Context
	prefix := ""
	if base == nil {
		ctx = &Context{Name: FlagsContext}
		v.all = true
	} else {
		ctx = base.clone()
		prefix = joinKey("contexts", base.Name)
		v.file, v.pos = c.Path, c.pos
		v.errs.file = c.Path
	}
	o.apply(ctx, prefix, v.over)
	ctx.applyDefaults()
	if ctx.Refresh == 0 {
		ctx.Refresh = c.Refresh
		if ctx.Refresh == 0 {
			ctx.Refresh = DefaultRefresh
		}
	}
	v.context(prefix, ctx)
	if err := v.errs.err(); err != nil {
		return nil, err
	}
	return ctx, nil
}

// apply writes the overrides into ctx and marks in over the keys they set
// (a whole block when the override created it).
func (o Overrides) apply(ctx *Context, prefix string, over map[string]bool) {
	mark := func(k string) { // k is a plain dotted path
		if prefix != "" {
			k = prefix + "." + k
		}
		over[k] = true
	}
	needKafka := len(o.Brokers) > 0 || o.SASLMechanism != "" || o.SASLUsername != "" || o.SASLPasswordEnv != ""
	if needKafka && ctx.Kafka == nil {
		ctx.Kafka = &Kafka{}
		mark("kafka")
	}
	if len(o.Brokers) > 0 {
		var bs []string
		for _, b := range o.Brokers {
			for _, s := range strings.Split(b, ",") {
				if s = strings.TrimSpace(s); s != "" {
					bs = append(bs, s)
				}
			}
		}
		ctx.Kafka.Brokers = bs
		mark("kafka.brokers")
	}
	if o.SASLMechanism != "" || o.SASLUsername != "" || o.SASLPasswordEnv != "" {
		if ctx.Kafka.SASL == nil {
			ctx.Kafka.SASL = &SASL{}
			mark("kafka.sasl")
		}
		s := ctx.Kafka.SASL
		if o.SASLMechanism != "" {
			s.Mechanism = o.SASLMechanism
			mark("kafka.sasl.mechanism")
		}
		if o.SASLUsername != "" {
			s.Username = o.SASLUsername
			mark("kafka.sasl.username")
		}
		if o.SASLPasswordEnv != "" {
			s.PasswordEnv, s.PasswordFile = o.SASLPasswordEnv, ""
			mark("kafka.sasl.password-env")
		}
	}
	if o.RabbitMQURL != "" || o.ManagementURL != "" {
		if ctx.RabbitMQ == nil {
			ctx.RabbitMQ = &RabbitMQ{}
			mark("rabbitmq")
		}
		if o.RabbitMQURL != "" {
			ctx.RabbitMQ.URL = o.RabbitMQURL
			mark("rabbitmq.url")
		}
		if o.ManagementURL != "" {
			ctx.RabbitMQ.ManagementURL = o.ManagementURL
			mark("rabbitmq.management-url")
		}
	}
	if o.StoreDriver != "" || o.StoreDSNEnv != "" || o.StorePreset != "" || o.RouteBroker != "" {
		if ctx.Store == nil {
			ctx.Store = &Store{}
			mark("store")
		}
		st := ctx.Store
		if o.StoreDriver != "" {
			st.Driver = o.StoreDriver
			mark("store.driver")
		}
		if o.StoreDSNEnv != "" {
			st.DSNEnv, st.DSNFile = o.StoreDSNEnv, ""
			mark("store.dsn-env")
		}
		if o.StorePreset != "" {
			st.Preset = o.StorePreset
			mark("store.preset")
		}
		if o.RouteBroker != "" {
			if st.Route == nil {
				st.Route = &Route{}
				mark("store.route")
			}
			st.Route.Broker = o.RouteBroker
			mark("store.route.broker")
		}
	}
	if o.TLSCAFile != "" || o.TLSInsecure {
		tlsOf := func(block string, t **TLS) {
			if *t == nil {
				*t = &TLS{}
				mark(block + ".tls")
			}
			if o.TLSCAFile != "" {
				(*t).CAFile = o.TLSCAFile
				mark(block + ".tls.ca-file")
			}
			if o.TLSInsecure {
				(*t).InsecureSkipVerify = true
				mark(block + ".tls.insecure-skip-verify")
			}
			(*t).Enabled = true
		}
		if ctx.Kafka != nil {
			tlsOf("kafka", &ctx.Kafka.TLS)
		}
		if ctx.RabbitMQ != nil {
			tlsOf("rabbitmq", &ctx.RabbitMQ.TLS)
		}
	}
}

// clone returns a deep copy of ctx.
func (ctx *Context) clone() *Context {
	if ctx == nil {
		return &Context{}
	}
	c := *ctx
	if k := ctx.Kafka; k != nil {
		kc := *k
		kc.Brokers = slices.Clone(k.Brokers)
		if k.SASL != nil {
			s := *k.SASL
			kc.SASL = &s
		}
		kc.TLS = k.TLS.clone()
		c.Kafka = &kc
	}
	if r := ctx.RabbitMQ; r != nil {
		rc := *r
		rc.Vhosts = slices.Clone(r.Vhosts)
		rc.TLS = r.TLS.clone()
		c.RabbitMQ = &rc
	}
	if d := ctx.Store; d != nil {
		dc := *d
		dc.Outbox, dc.Retry, dc.Idempotency = d.Outbox.clone(), d.Retry.clone(), d.Idempotency.clone()
		if d.Route != nil {
			r := *d.Route
			dc.Route = &r
		}
		c.Store = &dc
	}
	return &c
}

func (t *TLS) clone() *TLS {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

func (m *TableMapping) clone() *TableMapping {
	if m == nil {
		return nil
	}
	c := *m
	c.Columns = maps.Clone(m.Columns)
	c.Statuses = maps.Clone(m.Statuses)
	return &c
}
