package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/config"
	"github.com/mqops/mqops/backends/store"
)

// storeOf opens the application database of context c (its store: block,
// or --store, --store-dsn-env, --store-preset): connected, pinged, and its
// tables validated against the mapping. --timeout bounds each call to the
// database. The DSN is read from its env var or file, and never printed.
func (g *globals) storeOf(c *config.Context) (*store.Store, error) {
	ctx := g.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	return g.storeIn(ctx, c)
}

// storeIn is storeOf within ctx (the console opens the database in a
// command, cancelled when its view goes).
func (g *globals) storeIn(ctx context.Context, c *config.Context) (*store.Store, error) {
	if c.Store == nil || c.Store.Driver == "" {
		return nil, fmt.Errorf("context %q has no application database (set store: in the context, or pass --store postgres|mysql|sqlite and --store-dsn-env NAME)", c.Name)
	}
	st := c.Store
	dsn, err := st.DSN()
	if err != nil {
		return nil, err
	}
	o := store.Options{Driver: st.Driver, DSN: dsn, Preset: st.Preset, Schema: st.Schema, PendingAfter: time.Duration(st.PendingAfter), Timeout: g.timeout,
		Outbox: storeTable(st.Outbox), Retry: storeTable(st.Retry), Idempotency: storeTable(st.Idempotency)}
	if m := st.Outbox; m != nil && m.PendingAfter > 0 {
		o.PendingAfter = time.Duration(m.PendingAfter)
	}
	return store.Open(ctx, o)
}

// storeTable is a table mapping of the config as the store takes it
// (nil: the preset's).
func storeTable(m *config.TableMapping) *store.Table {
	if m == nil {
		return nil
	}
	t := &store.Table{Name: m.Table, Columns: m.Columns}
	if len(m.Statuses) > 0 {
		t.Statuses = map[string][]string{}
		for k, v := range m.Statuses {
			t.Statuses[k] = config.StatusValues(v)
		}
	}
	return t
}

// contextStore loads the selected context and opens its store, which must
// have what has says (else an error saying the store has lacks).
func (g *globals) contextStore(has func(*store.Store) bool, lacks string) (*config.Context, *store.Store, error) {
	_, c, err := g.loadContext()
	if err != nil {
		return nil, nil, err
	}
	st, err := g.storeOf(c)
	if err != nil {
		return nil, nil, err
	}
	if !has(st) {
		st.Close()
		return nil, nil, fmt.Errorf("the application database (%s, preset %s) has %s", st.Name(), st.Preset(), lacks)
	}
	return c, st, nil
}

// routeOf is where context c publishes its outbox's destinations
// (store.route, or --route-broker); the zero Route when none is set. A
// RabbitMQ route's vhost is the context's AMQP URL's.
func routeOf(c *config.Context) backends.Route {
	if c.Store == nil || c.Store.Route == nil {
		return backends.Route{}
	}
	r := c.Store.Route
	out := backends.Route{Broker: r.Broker, Topic: r.Topic, Exchange: r.Exchange, RoutingKey: r.RoutingKey}
	if r.Broker == "rabbitmq" {
		out.Vhost = contextVhost(c)
	}
	return out
}

// contextVhost is where a route's exchange is: the vhost of the
// context's AMQP URL, else its one listed vhost (rabbitmq.vhosts), else
// "/".
func contextVhost(c *config.Context) string {
	if c.RabbitMQ == nil {
		return "/"
	}
	if u, err := url.Parse(c.RabbitMQ.URL); err == nil && c.RabbitMQ.URL != "" {
		if v := strings.TrimPrefix(u.Path, "/"); v != "" {
			return v
		}
	}
	if len(c.RabbitMQ.Vhosts) == 1 {
		return c.RabbitMQ.Vhosts[0]
	}
	return "/"
}

func newSchemaCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "The reference schema of the application tables (outbox, retry, idempotency)",
		Args:  cobra.NoArgs,
	}
	var driver string
	printCmd := &cobra.Command{
		Use:   "print --driver postgres|mysql|sqlite",
		Short: "Print the DDL of mqops' reference tables (preset mqops) for a database",
		Long: `Prints the DDL of the three tables of the preset mqops — the sending table
(mqops_outbox), the retry table (mqops_retry) and the idempotency table
(mqops_consumed) — with the indexes the pending query needs, for
PostgreSQL, MySQL/MariaDB or SQLite. It connects to nothing.`,
		Example: "  mqops schema print --driver postgres > outbox.sql",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ddl, err := store.Schema(driver)
			if err != nil {
				return &actions.FieldError{Field: "driver", Msg: fmt.Sprintf("%q: want postgres, mysql or sqlite", backends.SafeText(driver))}
			}
			_, err = fmt.Fprint(g.stdout, strings.TrimRight(ddl, "\n")+"\n")
			return err
		},
	}
	printCmd.Flags().StringVar(&driver, "driver", "", "postgres, mysql or sqlite")
	_ = printCmd.MarkFlagRequired("driver")
	cmd.AddCommand(printCmd)
	return cmd
}

// consumedJSON is the -o json output of mqops consumed.
type consumedJSON struct {
	MessageID    string            `json:"message_id"`
	Consumed     bool              `json:"consumed"`
	Consumptions []consumptionJSON `json:"consumptions"`
}

type consumptionJSON struct {
	Consumer   string    `json:"consumer"`
	ConsumedAt time.Time `json:"consumed_at"`
}

// maxMessageIDLength bounds a message id given on the command line.
const maxMessageIDLength = 1024

func newConsumedCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "consumed MESSAGE_ID",
		Short: "Whether a message id was consumed, when and by which consumer (the application's idempotency table)",
		Long: `Looks a message id up in the application's idempotency table (the store's
preset: mqops_consumed; cap: the received table's Succeeded rows) and says
whether, when and by which consumer it was consumed. It exits 0 whether the
id was consumed or not; -o json says which.`,
		Example: `  mqops consumed 6f1c2b9e-6d1e-4f43-9a51-5f0f0b8f1a27
  mqops consumed 6f1c2b9e-6d1e-4f43-9a51-5f0f0b8f1a27 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			id := args[0]
			if id == "" || len(id) > maxMessageIDLength {
				return fmt.Errorf("a message id is 1 to %d bytes long (this one: %d)", maxMessageIDLength, len(id))
			}
			_, st, err := g.contextStore((*store.Store).HasIdempotency, "no idempotency table: whether a message was consumed is not recorded there")
			if err != nil {
				return err
			}
			defer st.Close()
			cs, err := st.Consumed(cmd.Context(), id)
			if err != nil {
				return err
			}
			out := consumedJSON{MessageID: id, Consumed: len(cs) > 0, Consumptions: []consumptionJSON{}}
			for _, c := range cs {
				out.Consumptions = append(out.Consumptions, consumptionJSON{Consumer: c.Consumer, ConsumedAt: c.ConsumedAt})
			}
			if output == "json" {
				return writeJSON(g.stdout, out)
			}
			if !out.Consumed {
				fmt.Fprintf(g.stdout, "message %s: not consumed (not in the idempotency table of %s)\n", cutName(id), storeName(st))
				return nil
			}
			fmt.Fprintf(g.stdout, "message %s: consumed %d time(s)\n", cutName(id), len(out.Consumptions))
			t := newTable(g.stdout, "CONSUMER", "CONSUMED AT")
			for _, c := range out.Consumptions {
				t.row(cutName(c.Consumer), c.ConsumedAt.UTC().Format(time.RFC3339Nano))
			}
			return t.flush()
		},
	}
	outputFlag(cmd, &output)
	return cmd
}

// storeName names the database for the terminal: without a secret (an
// SQLite DSN is its path, registered as one), sanitized.
func storeName(st *store.Store) string { return backends.SafeText(backends.Redact(st.Name())) }
