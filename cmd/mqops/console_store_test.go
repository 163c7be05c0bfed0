package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/kafka"
	"github.com/mqops/mqops/backends/store"
	"github.com/mqops/mqops/tui"
)

// TestConsoleStoreOptions: the console of a context with a store: block
// gets an opener (no I/O until the console calls it, in a command), the
// store's name without the DSN, the route and the publishers; a read-only
// context gets no publisher; a context without a store gets no opener
// (the views say how to configure one); an opener whose DSN variable is
// unset fails with an error that says so.
func TestConsoleStoreOptions(t *testing.T) {
	db := newAppDB(t, "sqlite")
	ddl, err := store.Schema("sqlite")
	if err != nil {
		t.Fatal(err)
	}
	db.script(ddl)
	t.Setenv("APPDB_DSN", db.dsn)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	path := storeContext(t, []string{"127.0.0.1:1"}, "", db, "{broker: kafka}", "")
	g := &globals{stderr: io.Discard, configPath: path, timeout: 10 * time.Second}
	c := mustContext(t, g)
	kc, err := kafka.New(kafka.Config{Brokers: []string{"127.0.0.1:1"}, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()

	var o tui.Options
	g.consoleStore(&o, c, kc, nil)
	if o.OpenStore == nil || o.StoreName != "sqlite (mqops)" || o.StoreRoute.Broker != "kafka" || o.KafkaPublisher == nil || o.RabbitPublisher != nil {
		t.Fatalf("options: name %q route %+v kafka %v rabbit %v", o.StoreName, o.StoreRoute, o.KafkaPublisher, o.RabbitPublisher)
	}
	st, err := o.OpenStore(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if !st.HasOutbox() || !st.HasRetry() || !st.HasIdempotency() || st.PendingAfter() != store.DefaultPendingAfter {
		t.Errorf("the store opened: outbox %v retry %v idempotency %v pending-after %s", st.HasOutbox(), st.HasRetry(), st.HasIdempotency(), st.PendingAfter())
	}
	if page, err := st.Pending(context.Background(), backends.OutboxQuery{}); err != nil || page.Total != 0 {
		t.Errorf("pending: %+v %v", page, err)
	}

	ro := *c
	ro.ReadOnly = true
	var r tui.Options
	g.consoleStore(&r, &ro, kc, nil)
	if r.KafkaPublisher != nil || r.RabbitPublisher != nil || r.OpenStore == nil {
		t.Errorf("a read-only context publishes: %+v", r)
	}

	none := *c
	none.Store = nil
	var n tui.Options
	g.consoleStore(&n, &none, kc, nil)
	if n.OpenStore != nil || n.StoreName != "" {
		t.Errorf("a context without a store has an opener: %q", n.StoreName)
	}

	os.Unsetenv("APPDB_DSN")
	if _, err := o.OpenStore(context.Background()); err == nil || !strings.Contains(err.Error(), "APPDB_DSN") {
		t.Errorf("an unset DSN variable: %v", err)
	}
	if strings.Contains(o.StoreName, filepath.Base(db.dsn)) {
		t.Errorf("the name shows the DSN: %q", o.StoreName)
	}
}
