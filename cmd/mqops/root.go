package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/config"
	"github.com/mqops/mqops/backends/kafka"
	"github.com/mqops/mqops/backends/rabbitmq"
	"github.com/mqops/mqops/tui"
)

// globals holds the persistent flags shared by every command.
type globals struct {
	configPath  string
	context     string
	brokers     []string
	timeout     time.Duration
	saslMech    string
	saslUser    string
	saslPwEnv   string
	tlsCA       string
	tlsInsec    bool
	logFile     string
	rabbitURL   string
	mgmtURL     string
	rabbitPwEnv string
	storeDriver string
	storeDSNEnv string
	storePreset string
	routeBroker string

	stderr  io.Writer
	stdout  io.Writer
	ctx     context.Context // the command's: it ends at SIGINT or SIGTERM
	changed map[string]bool
	warned  []string
}

func newRootCmd() *cobra.Command { return newRootCmdWith(os.Stdout, os.Stderr) }

// newRootCmdWith builds the command tree writing to the given streams.
func newRootCmdWith(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "mqops",
		Short: "Operations console for Kafka and RabbitMQ: lag, backlog, dead letters, replays",
		Long: `mqops is a terminal operations console for message queues.

Run it without a command to open the console on the current context, or use
a headless command (every one takes -o table|json) in runbooks and scripts.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			g.ctx = cmd.Context()
			g.changed = map[string]bool{}
			cmd.Flags().Visit(func(f *pflag.Flag) { g.changed[f.Name] = true })
			return g.checkGlobals()
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.runConsole(cmd.Context(), "groups")
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.configPath, "config", "", "config file (default $XDG_CONFIG_HOME/mqops/config.yaml)")
	pf.StringVar(&g.context, "context", "", "context to use (default: current-context of the config file)")
	pf.StringSliceVar(&g.brokers, "brokers", envList("MQOPS_BROKERS"), "Kafka bootstrap brokers host:port[,host:port] (env MQOPS_BROKERS)")
	pf.DurationVar(&g.timeout, "timeout", 10*time.Second, "timeout for each cluster call")
	pf.StringVar(&g.saslMech, "sasl-mechanism", "", "Kafka SASL mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512")
	pf.StringVar(&g.saslUser, "sasl-username", "", "Kafka SASL username")
	pf.StringVar(&g.saslPwEnv, "sasl-password-env", "", "name of the env var holding the Kafka SASL password")
	pf.StringVar(&g.tlsCA, "tls-ca-file", "", "CA bundle (PEM) to verify Kafka brokers; enables TLS")
	pf.BoolVar(&g.tlsInsec, "tls-insecure-skip-verify", false, "enable TLS without verifying the broker certificate (insecure)")
	pf.StringVar(&g.rabbitURL, "rabbitmq-url", os.Getenv("MQOPS_RABBITMQ_URL"), "RabbitMQ AMQP URL amqp(s)://user@host:port/vhost, no password (env MQOPS_RABBITMQ_URL)")
	pf.StringVar(&g.mgmtURL, "management-url", os.Getenv("MQOPS_MANAGEMENT_URL"), "RabbitMQ management API URL http(s)://host:15672 (env MQOPS_MANAGEMENT_URL)")
	pf.StringVar(&g.rabbitPwEnv, "rabbitmq-password-env", "", "name of the env var holding the RabbitMQ password")
	pf.StringVar(&g.storeDriver, "store", "", "application database driver: postgres, mysql or sqlite (the outbox, retry and idempotency tables)")
	pf.StringVar(&g.storeDSNEnv, "store-dsn-env", "", "name of the env var holding the application database's DSN (for sqlite, the file's path)")
	pf.StringVar(&g.storePreset, "store-preset", "", "schema of the application tables: mqops (default), cap or river")
	pf.StringVar(&g.routeBroker, "route-broker", "", "where the outbox's destinations are published: kafka or rabbitmq")
	pf.StringVar(&g.logFile, "log-file", "", "write diagnostic logs to this file (never to the terminal)")

	root.AddCommand(
		newLagCmd(g), newGroupsCmd(g), newTopicsCmd(g),
		newConfigCmd(g), newDemoCmd(g), newConsoleCmd(g), newVersionCmd(g),
		newAuditCmd(g), newQueuesCmd(g), newDLQCmd(g), newDrainCmd(g), newPeekCmd(g),
		newResetOffsetsCmd(g), newReplayCmd(g),
		newSchemaCmd(g), newPendingCmd(g), newResendCmd(g), newConsumedCmd(g),
		newRetriesCmd(g), newRetryCmd(g), newTraceCmd(g),
	)
	return root
}

func envList(name string) []string {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return nil
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (g *globals) overrides() config.Overrides {
	return config.Overrides{
		Brokers:         g.brokers,
		SASLMechanism:   g.saslMech,
		SASLUsername:    g.saslUser,
		SASLPasswordEnv: g.saslPwEnv,
		TLSCAFile:       g.tlsCA,
		TLSInsecure:     g.tlsInsec,
		RabbitMQURL:     g.rabbitURL,
		ManagementURL:   g.mgmtURL,
		StoreDriver:     g.storeDriver,
		StoreDSNEnv:     g.storeDSNEnv,
		StorePreset:     g.storePreset,
		RouteBroker:     g.routeBroker,
	}
}

// loadContext resolves the effective context from the config file, the
// selected context and the flag overrides.
func (g *globals) loadContext() (*config.Config, *config.Context, error) {
	cfg, err := config.LoadDefault(g.configPath)
	if err != nil {
		return nil, nil, err
	}
	ctx, err := cfg.Effective(g.context, g.overrides())
	if err != nil {
		return nil, nil, err
	}
	if g.rabbitPwEnv != "" && ctx.RabbitMQ != nil {
		ctx.RabbitMQ.PasswordEnv, ctx.RabbitMQ.PasswordFile = g.rabbitPwEnv, ""
	}
	for _, w := range ctx.Warnings() {
		g.warn(w)
	}
	return cfg, ctx, nil
}

// kafkaClient builds the Kafka backend of a context; it does no I/O.
func (g *globals) kafkaClient(c *config.Context) (*kafka.Client, error) {
	if c.Kafka == nil || len(c.Kafka.Brokers) == 0 {
		return nil, fmt.Errorf("context %q has no Kafka brokers (set kafka.brokers, or pass --brokers)", c.Name)
	}
	kc := kafka.Config{Brokers: c.Kafka.Brokers, ClientID: c.Kafka.ClientID, Timeout: g.timeout}
	if d := time.Duration(c.Kafka.Timeout); d > 0 && !g.flagSet("timeout") {
		kc.Timeout = d
	}
	if s := c.Kafka.SASL; s != nil {
		pw, err := s.Password()
		if err != nil {
			return nil, err
		}
		kc.SASL = &kafka.SASL{Mechanism: s.Mechanism, Username: s.Username, Password: pw}
	}
	if t := c.Kafka.TLS; t != nil {
		tc, warnings, err := t.Build()
		if err != nil {
			return nil, err
		}
		for _, w := range warnings {
			g.warn(w)
		}
		kc.TLS = tc
	}
	return kafka.New(kc)
}

// rabbitClient builds the RabbitMQ backend of a context; it does no I/O.
func (g *globals) rabbitClient(c *config.Context) (*rabbitmq.Client, error) {
	r := c.RabbitMQ
	if r == nil || (r.ManagementURL == "" && r.URL == "") {
		return nil, fmt.Errorf("context %q has no RabbitMQ (set rabbitmq.url and rabbitmq.management-url, or pass --rabbitmq-url and --management-url)", c.Name)
	}
	pw, err := r.Password()
	if err != nil {
		return nil, err
	}
	rc := rabbitmq.Config{URL: r.URL, ManagementURL: r.ManagementURL, Username: r.User(), Password: pw, Vhosts: r.Vhosts, Timeout: g.timeout}
	if rc.ManagementURL == "" {
		rc.ManagementURL = deriveManagementURL(r.URL)
	}
	if r.TLS != nil {
		tc, warnings, err := r.TLS.Build()
		if err != nil {
			return nil, err
		}
		for _, w := range warnings {
			g.warn(w)
		}
		rc.TLS = tc
	}
	return rabbitmq.New(rc)
}

// deriveManagementURL guesses the management API from the AMQP URL: same
// host, port 15672 (15671 for amqps).
func deriveManagementURL(amqpURL string) string {
	u, err := url.Parse(amqpURL)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	if u.Scheme == "amqps" {
		return "https://" + net.JoinHostPort(u.Hostname(), "15671")
	}
	return "http://" + net.JoinHostPort(u.Hostname(), "15672")
}

// warn prints a warning once; the same advice reached through two paths
// (context validation and TLS setup) is said once.
func (g *globals) warn(w string) {
	for _, prev := range g.warned {
		if strings.HasSuffix(prev, w) || strings.HasSuffix(w, prev) {
			return
		}
	}
	g.warned = append(g.warned, w)
	for i, l := range errorLines(errors.New(w)) {
		if i == 0 {
			l = "warning: " + l
		}
		fmt.Fprintln(g.stderr, "mqops: "+l)
	}
}

func (g *globals) flagSet(name string) bool { return g.changed[name] }

// openLog directs diagnostics to --log-file, or discards them: nothing is
// ever logged to the terminal while the console runs.
func (g *globals) openLog() (func(), error) {
	if g.logFile == "" {
		log.SetOutput(io.Discard)
		return func() {}, nil
	}
	f, err := backends.OpenAppend(g.logFile, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--log-file: %w", err)
	}
	log.SetOutput(redactingWriter{f})
	return func() { f.Close() }, nil
}

// runConsole runs the console; when the operator switches contexts (:ctx)
// it reopens it on the new one, as configured in the file.
func (g *globals) runConsole(ctx context.Context, view string) error {
	closeLog, err := g.openLog()
	if err != nil {
		return err
	}
	defer closeLog()
	backends.TuneGCForSnapshots()
	for {
		exit, err := g.consoleOnce(ctx, view)
		if err != nil || exit.Context == "" {
			return err
		}
		g.switchTo(exit.Context)
		view = exit.View
	}
}

// switchTo selects context name as the config file has it: the connection
// flags and MQOPS_* variables given for the first context do not follow.
func (g *globals) switchTo(name string) {
	g.context = name
	g.brokers, g.saslMech, g.saslUser, g.saslPwEnv, g.tlsCA, g.tlsInsec = nil, "", "", "", "", false
	g.rabbitURL, g.mgmtURL, g.rabbitPwEnv = "", "", ""
	g.storeDriver, g.storeDSNEnv, g.storePreset, g.routeBroker = "", "", "", "" // its own store: block
}

// checkContext resolves context name as the console would open it (config,
// credentials, TLS files), without network I/O and without printing.
func (g *globals) checkContext(name string) error {
	g2 := *g
	g2.stderr, g2.warned = io.Discard, nil
	g2.switchTo(name)
	_, c, err := g2.loadContext()
	if err != nil {
		return err
	}
	kc, rc, err := g2.contextClients(c)
	if err != nil {
		return err
	}
	if kc != nil {
		kc.Close()
	}
	if rc != nil {
		rc.Close()
	}
	return nil
}

// contextClients builds the Kafka and RabbitMQ backends the context
// configures (nil for the one it does not); it does no I/O.
func (g *globals) contextClients(c *config.Context) (*kafka.Client, *rabbitmq.Client, error) {
	var kc *kafka.Client
	if c.Kafka != nil && len(c.Kafka.Brokers) > 0 {
		var err error
		if kc, err = g.kafkaClient(c); err != nil {
			return nil, nil, err
		}
	}
	if c.RabbitMQ != nil && (c.RabbitMQ.URL != "" || c.RabbitMQ.ManagementURL != "") {
		rc, err := g.rabbitClient(c)
		if err != nil {
			if kc != nil {
				kc.Close()
			}
			return nil, nil, err
		}
		return kc, rc, nil
	}
	return kc, nil, nil
}

// consoleOnce opens the console on the selected context until it ends.
func (g *globals) consoleOnce(ctx context.Context, view string) (tui.Exit, error) {
	cfg, c, err := g.loadContext()
	if err != nil {
		return tui.Exit{}, err
	}
	var (
		src       backends.KafkaSource
		dlts      backends.KafkaDeadLetters
		kdrainer  backends.KafkaDeadLetters
		kresetter backends.KafkaOffsetResetter
		kreplayer backends.KafkaReplayer
		kbrokers  []string
	)
	kc, rc, err := g.contextClients(c)
	if err != nil {
		return tui.Exit{}, err
	}
	cluster := ""
	if kc != nil { // interfaces stay nil without Kafka
		defer kc.Close()
		src, dlts, cluster = sizedSnapshots{kc}, kc, kc.Name()
		if !c.ReadOnly {
			kdrainer, kresetter, kreplayer = kc, kc, kc
		}
		if c.Kafka != nil {
			kbrokers = c.Kafka.Brokers // as `mqops replay` reads them (the checkpoint's)
		}
	}
	var (
		rabbit  tui.RabbitSource
		drainer actions.RabbitDrainer
	)
	if rc != nil {
		defer rc.Close()
		rabbit = rc
		if !c.ReadOnly {
			drainer = rc
		}
		if cluster == "" {
			cluster = rc.Name()
		}
	}
	refresh := time.Duration(c.Refresh)
	if refresh <= 0 {
		refresh = time.Duration(cfg.Refresh)
	}
	opts := tui.Options{
		Context:       c.Name,
		Color:         c.Color,
		ReadOnly:      c.ReadOnly,
		Cluster:       cluster,
		Kafka:         src,
		Rabbit:        rabbit,
		KafkaDLQ:      dlts,
		Drainer:       drainer,
		KafkaDrainer:  kdrainer,
		KafkaResetter: kresetter,
		KafkaReplayer: kreplayer,
		KafkaBrokers:  kbrokers,
		Audit:         actions.NewAuditLog(""),
		CommandArgs:   g.commandGlobals(c),
		Refresh:       refresh,
		Timeout:       g.timeout,
		Contexts:      cfg.ContextNames(),
		CheckContext:  g.checkContext,
		StartView:     view,
	}
	g.consoleStore(&opts, c, kc, rc)
	return tui.Run(ctx, opts)
}

func newConsoleCmd(g *globals) *cobra.Command {
	var view string
	cmd := &cobra.Command{
		Use:   "console",
		Short: "Open the console (the default when no command is given)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.runConsole(cmd.Context(), view)
		},
	}
	cmd.Flags().StringVar(&view, "view", "groups", "view to open: groups, topics, queues, dlq, pending, retry or audit")
	return cmd
}

// redactingWriter removes secrets from each log line before it reaches the
// log file.
type redactingWriter struct{ w io.Writer }

func (r redactingWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(r.w, backends.Redact(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
