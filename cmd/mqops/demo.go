package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends/config"
	"github.com/mqops/mqops/backends/embedded"
	"github.com/mqops/mqops/backends/kafka"
	"github.com/mqops/mqops/backends/rabbitmq"
	"github.com/mqops/mqops/tui"
)

// demoPasswordEnv is the variable the --no-tui instructions put the demo's
// guest password in (guest/guest is RabbitMQ's well-known default).
const demoPasswordEnv = "MQOPS_DEMO_RABBITMQ_PASSWORD"

// demoStoreEnv holds the path of the demo's application database: the
// demo sets it in its own process for the console's store, and --no-tui
// prints it for the headless commands (--store-dsn-env), so that the DSN
// is never an argument.
const demoStoreEnv = "MQOPS_DEMO_STORE_DSN"

// demoStore is the demo context's store: block: the application database
// of the embedded cluster (an SQLite file, the mqops preset), its
// destinations published to the Kafka topics of the same name.
func demoStore() *config.Store {
	return &config.Store{
		Driver: "sqlite", DSNEnv: demoStoreEnv, Preset: "mqops",
		PendingAfter: config.Duration(embedded.AppPendingAfter),
		Route:        &config.Route{Broker: "kafka", Topic: "{destination}"},
	}
}

// demoStoreArgs are the global flags of a headless command on the demo's
// application database (pending-after has no flag: pending and resend
// take --older-than).
func demoStoreArgs() []string {
	return []string{"--store", "sqlite", "--store-dsn-env", demoStoreEnv, "--route-broker", "kafka"}
}

func newDemoCmd(g *globals) *cobra.Command {
	var (
		noTUI        bool
		listen       string
		seed         int64
		noRabbit     bool
		deleteQueues bool
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Open the console on an embedded Kafka (and a local RabbitMQ, if any) with live synthetic traffic",
		Long: `Starts an in-process Kafka (kfake) with live synthetic traffic — a healthy
group, one falling behind, one stalled, one stopped with lag, and a
dead-letter topic — and opens the console on it. Nothing of Kafka leaves
this process.

Two actions to try in the first minute: in :groups, R on audit-export
(stopped, no member) resets its offsets; in :topics, P on orders replays a
range of it into orders.replay (empty, as many partitions). Each shows its
plan, asks before it changes anything, and prints its headless command.

The demo's application has its own database (SQLite, mqops' reference
tables, in a temporary directory removed on exit), kept moving: its outbox
records every order and payment it publishes, most confirmed within
seconds, a few never (pending after 20s), and invoices for a topic that
does not exist; its retry table holds billing's failures (a payment gateway
timeout, an invalid currency) that a job retries until done or dead; its
idempotency table the message ids billing consumed. In :pending, the
pending sends beside each topic's lag: E on orders resends them (a resend
of the invoices fails clearly); in :retry, the rows grouped by error: T
retries now, U republishes, X gives up.

RabbitMQ cannot run in process: when a broker is reachable — --rabbitmq-url
and --management-url (env MQOPS_RABBITMQ_URL, MQOPS_MANAGEMENT_URL), else
RabbitMQ's default amqp://guest:guest@127.0.0.1:5672/ with management on
http://127.0.0.1:15672 — the demo also creates queues named demo.* on vhost
"/" and runs traffic on them (a few tens of messages per second):
  demo.orders        classic, a consumer keeping up; 1 order in 20 is invalid
                     and rejected to demo.orders.dlq (with Spring-style
                     x-exception-* headers)
  demo.payments      quorum, a slow consumer: a backlog that grows and
                     shrinks; stale authorisation holds expire (per-message
                     TTL) and declined cards are rejected, to demo.payments.dlq
  demo.emails        classic, no consumer: grows slowly (capped at 5000)
  demo.orders.dlq, demo.payments.dlq   dead letters via exchange demo.dlx,
                     capped at 5000 messages each
The check takes at most 2 s; an unreachable broker means a Kafka-only demo.
The password comes from the URL, else --rabbitmq-password-env, else guest's.
On exit the traffic stops and the demo.* queues stay (with their messages)
unless --delete-demo-queues is given. --no-rabbitmq leaves RabbitMQ alone.

With --no-tui the cluster keeps running and its address is printed, with
the application database's path to export as MQOPS_DEMO_STORE_DSN, so the
headless commands (pending, resend, retries, consumed too) can be tried
against them from another terminal.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			closeLog, err := g.openLog()
			if err != nil {
				return err
			}
			defer closeLog()
			// A closed terminal (SIGHUP) ends the demo like ctrl+c (main
			// cancels the command's context), so that its application
			// database is removed too.
			ctx := cmd.Context()

			// RabbitMQ is tried while Kafka starts: the check never delays
			// the Kafka demo by more than its own 2 s budget.
			type rabbitResult struct {
				r   *embedded.Rabbit
				err error
			}
			var target demoRabbitTarget
			rabbitDone := make(chan rabbitResult, 1)
			if noRabbit {
				rabbitDone <- rabbitResult{}
			} else if target, err = g.demoRabbitTarget(); err != nil {
				rabbitDone <- rabbitResult{err: err}
			} else {
				go func() {
					r, err := embedded.StartRabbit(ctx, embedded.RabbitOptions{
						URL: target.dialURL, Seed: seed, DeleteOnClose: deleteQueues, Logf: log.Printf,
					})
					rabbitDone <- rabbitResult{r, err}
				}()
			}

			// The application database lives in a private temporary
			// directory, removed after the cluster is closed.
			dir, err := os.MkdirTemp("", "mqops-demo-")
			if err != nil {
				<-rabbitDone
				return fmt.Errorf("a directory for the demo's application database: %w", err)
			}
			defer os.RemoveAll(dir)
			appDB := filepath.Join(dir, "app.db")
			env, err := embedded.Start(ctx, embedded.Options{Seed: seed, Traffic: true, ListenAddr: listen, Logf: log.Printf, AppDB: appDB})
			rr := <-rabbitDone
			if rr.r != nil {
				defer func() { demoRabbitClose(g.stdout, rr.r, target, deleteQueues) }()
			}
			if err != nil {
				return fmt.Errorf("starting the embedded demo cluster: %w", err)
			}
			defer env.Close()
			if err := os.Setenv(demoStoreEnv, appDB); err != nil {
				return err
			}
			if rr.err != nil {
				log.Printf("demo: RabbitMQ: %v", rr.err)
			}
			brokers := env.Brokers()
			if noTUI {
				fmt.Fprintf(g.stdout, "demo cluster running; in another terminal:\n\n  export MQOPS_BROKERS=%s\n  mqops lag\n\n", strings.Join(brokers, ","))
				for _, s := range env.Scenario() {
					fmt.Fprintf(g.stdout, "  group %-14s on %-12s expect %s\n", s.Group, s.Topic, s.Expect)
				}
				fmt.Fprintf(g.stdout, "\n  mqops reset-offsets %s --to-earliest --all-topics --dry-run\n  mqops replay %s --to %s --dry-run\n\n",
					embedded.ResetGroup, embedded.ReplaySource, embedded.ReplayTarget)
				demoStoreHelp(g.stdout, appDB, env.ConsumedID())
				switch {
				case noRabbit:
				case rr.r == nil:
					fmt.Fprintln(g.stdout, rabbitUnavailable(rr.err, target))
				default:
					demoRabbitHelp(g.stdout, rr.r, target, g.rabbitPwEnv)
				}
				fmt.Fprintln(g.stdout, "\nctrl+c to stop")
				<-ctx.Done()
				return nil
			}
			kc, err := kafka.New(kafka.Config{Brokers: brokers, Timeout: g.timeout})
			if err != nil {
				return err
			}
			defer kc.Close()
			opts := tui.Options{
				Context: "demo", Color: "green", Cluster: "embedded " + kc.Name(),
				Kafka: kc, KafkaDLQ: kc, KafkaDrainer: kc, KafkaResetter: kc, KafkaReplayer: kc, KafkaBrokers: brokers,
				Refresh: 2e9, Timeout: g.timeout, Audit: actions.NewAuditLog(""),
				// the headless command of an action: on this demo's brokers
				CommandArgs: append([]string{"--brokers", strings.Join(brokers, ",")}, demoStoreArgs()...), CommandContext: demoCommandContext(brokers),
			}
			switch {
			case noRabbit:
				opts.NoRabbit = "no RabbitMQ in this demo: it was started with --no-rabbitmq"
			case rr.r == nil:
				opts.NoRabbit = rabbitUnavailable(rr.err, target)
			}
			var rc *rabbitmq.Client
			if rr.r != nil {
				rc, err = rabbitmq.New(rabbitmq.Config{
					URL: target.url, ManagementURL: target.mgmt,
					Username: target.user, Password: target.password, Timeout: g.timeout,
				})
				if err != nil {
					return err
				}
				defer rc.Close()
				opts.Rabbit, opts.Drainer = rc, rc
				opts.CommandArgs = append(opts.CommandArgs, "--rabbitmq-url", target.url, "--management-url", target.mgmt)
				switch {
				case g.rabbitPwEnv != "":
					opts.CommandArgs = append(opts.CommandArgs, "--rabbitmq-password-env", g.rabbitPwEnv)
				case target.guest:
					opts.CommandArgs = append(opts.CommandArgs, "--rabbitmq-password-env", demoPasswordEnv)
				}
			}
			// :pending and :retry on the application database; resends
			// and republishes to the embedded Kafka
			g.consoleStore(&opts, &config.Context{Name: "demo", Store: demoStore()}, kc, rc)
			_, err = tui.Run(ctx, opts)
			return err
		},
	}
	cmd.Flags().BoolVar(&noTUI, "no-tui", false, "keep the cluster running and print its address instead of opening the console")
	cmd.Flags().StringVar(&listen, "listen", "", "address for the embedded broker (default 127.0.0.1 on a free port)")
	cmd.Flags().Int64Var(&seed, "seed", 1, "seed of the synthetic traffic")
	cmd.Flags().BoolVar(&noRabbit, "no-rabbitmq", false, "do not look for a RabbitMQ broker: Kafka only")
	cmd.Flags().BoolVar(&deleteQueues, "delete-demo-queues", false, "on exit, delete the demo.* queues and the demo.dlx exchange from RabbitMQ (default: leave them)")
	return cmd
}

// demoCommandContext is the name of the context the demo's headless
// commands (`mqops --brokers …`) run in: the config file's current context
// with its brokers replaced, else the ad-hoc one (config.FlagsContext). A
// replay's checkpoint records it, so that the `mqops replay --resume` the
// console shows is of that context. Only the name is read: the demo never
// connects to what the config file names.
func demoCommandContext(brokers []string) string {
	cfg, err := config.LoadDefault("")
	if err != nil {
		return config.FlagsContext
	}
	c, err := cfg.Effective("", config.Overrides{Brokers: brokers, StoreDriver: "sqlite", StoreDSNEnv: demoStoreEnv, RouteBroker: "kafka"})
	if err != nil {
		return config.FlagsContext
	}
	return c.Name
}

// demoStoreHelp prints the application database's part of the --no-tui
// instructions: its env var, and the headless commands on it.
func demoStoreHelp(w io.Writer, path, consumedID string) {
	flags := strings.Join(demoStoreArgs(), " ")
	older := "--older-than " + embedded.AppPendingAfter.String()
	fmt.Fprintf(w, "Application database (SQLite, mqops' reference tables; pending after %s):\n\n", embedded.AppPendingAfter)
	fmt.Fprintf(w, "  export %s=%s\n", demoStoreEnv, path)
	fmt.Fprintf(w, "  mqops pending %s %s\n", flags, older)
	fmt.Fprintf(w, "  mqops resend %s %s --destination orders --dry-run\n", flags, older)
	fmt.Fprintf(w, "  mqops retries %s\n", flags)
	if consumedID != "" {
		fmt.Fprintf(w, "  mqops consumed %s %s\n", consumedID, flags)
	}
	fmt.Fprintln(w)
}

// demoRabbitTarget is the broker the demo tries and the credentials to use.
type demoRabbitTarget struct {
	dialURL  string // with the password: for the demo's own connection only
	url      string // without it: for display and the console's client
	mgmt     string
	user     string
	password string
	guest    bool // guest/guest, the well-known default: fine to print
}

func (t demoRabbitTarget) display() string {
	if u, err := url.Parse(t.url); err == nil && u.Host != "" {
		return u.Host
	}
	return t.url
}

// demoRabbitTarget resolves the demo's broker from --rabbitmq-url and
// --management-url (or their env vars) only — never from the config file,
// whose current context may be a production broker — defaulting to guest
// on the local broker.
func (g *globals) demoRabbitTarget() (demoRabbitTarget, error) {
	raw := g.rabbitURL
	if raw == "" {
		raw = embedded.DefaultRabbitURL
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") || u.Host == "" {
		return demoRabbitTarget{url: embedded.RedactURL(raw)}, fmt.Errorf("invalid RabbitMQ URL: want amqp://host:port or amqps://host:port")
	}
	user, pw, hasPw := "guest", "", false
	if u.User != nil {
		if u.User.Username() != "" {
			user = u.User.Username()
		}
		pw, hasPw = u.User.Password()
	}
	switch {
	case g.rabbitPwEnv != "":
		v, ok := os.LookupEnv(g.rabbitPwEnv)
		if !ok {
			return demoRabbitTarget{url: embedded.RedactURL(raw)}, fmt.Errorf("--rabbitmq-password-env: %s is not set", g.rabbitPwEnv)
		}
		pw = v
	case !hasPw && user == "guest":
		pw = "guest"
	}
	t := demoRabbitTarget{user: user, password: pw, guest: user == "guest" && pw == "guest"}
	u.User = url.UserPassword(user, pw)
	t.dialURL = u.String()
	u.User = url.User(user)
	t.url = u.String()
	switch {
	case g.mgmtURL != "":
		t.mgmt = g.mgmtURL
	case g.rabbitURL == "":
		t.mgmt = embedded.DefaultRabbitManagementURL
	default:
		t.mgmt = deriveManagementURL(raw)
	}
	return t, nil
}

// rabbitUnavailable is the one line of --no-tui when RabbitMQ is not usable.
func rabbitUnavailable(err error, t demoRabbitTarget) string {
	if errors.Is(err, embedded.ErrRabbitLogin) {
		hint := "pass --rabbitmq-password-env"
		if t.guest {
			hint = "guest/guest is refused — it only works from localhost, if not removed; pass --rabbitmq-url amqp://USER@HOST:5672/ and --rabbitmq-password-env VAR"
		}
		return fmt.Sprintf("RabbitMQ: login refused at %s as %s, Kafka only (%s)", t.display(), t.user, hint)
	}
	return fmt.Sprintf("RabbitMQ: not reachable at %s (%s), Kafka only; point at a broker with --rabbitmq-url and --management-url", t.display(), rabbitReason(err))
}

// rabbitReason is the short cause of a failed check, without the prefix
// the embedded package puts on it.
func rabbitReason(err error) string {
	if err == nil {
		return "skipped"
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); strings.HasPrefix(s, "rabbitmq demo: connecting to ") && i >= 0 {
		s = s[i+2:]
	}
	return strings.TrimPrefix(s, "rabbitmq demo: ")
}

// demoRabbitHelp prints the RabbitMQ half of the --no-tui instructions.
func demoRabbitHelp(w io.Writer, r *embedded.Rabbit, t demoRabbitTarget, pwEnv string) {
	names := make([]string, 0, 5)
	for _, q := range r.Queues() {
		names = append(names, q.Name)
	}
	fmt.Fprintf(w, "RabbitMQ: demo queues on %s (vhost /): %s\n\n", t.display(), strings.Join(names, ", "))
	fmt.Fprintf(w, "  export MQOPS_RABBITMQ_URL=%s\n  export MQOPS_MANAGEMENT_URL=%s\n", t.url, t.mgmt)
	flag := "--rabbitmq-password-env "
	switch {
	case t.guest && pwEnv == "":
		fmt.Fprintf(w, "  export %s=guest   # RabbitMQ's default guest/guest, loopback only\n", demoPasswordEnv)
		flag += demoPasswordEnv
	case pwEnv != "":
		flag += pwEnv
	default:
		fmt.Fprintf(w, "  # VAR: an env var holding the password of %s\n", t.user)
		flag += "VAR"
	}
	fmt.Fprintf(w, "  mqops queues %s\n  mqops dlq %s\n", flag, flag)
}

// demoRabbitClose stops the RabbitMQ traffic and says what is left behind.
func demoRabbitClose(w io.Writer, r *embedded.Rabbit, t demoRabbitTarget, deleted bool) {
	err := r.Close()
	switch {
	case deleted && err == nil:
		fmt.Fprintf(w, "RabbitMQ: demo queues deleted from %s\n", t.display())
	case deleted:
		fmt.Fprintf(w, "RabbitMQ: deleting the demo queues from %s: %v\n", t.display(), err)
	default:
		fmt.Fprintf(w, "RabbitMQ: the demo.* queues stay on %s (vhost /) with their messages, for the next demo.\n"+
			"To delete them, quit a demo run with --delete-demo-queues, or:\n  %s\n", t.display(), r.DeleteCommand())
	}
}
