package tui

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/tui/components"
	"github.com/mqops/mqops/tui/styles"
)

// tableRows is a test double of a third kind of source (the application's
// tables of the next issue): it answers with queued rows or errors.
type tableRows struct {
	mu      sync.Mutex
	answers []tableAnswer
	calls   int
}

type tableAnswer struct {
	rows []string
	err  error
}

func (s *tableRows) read(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	a := s.answers[0]
	if len(s.answers) > 1 {
		s.answers = s.answers[1:]
	}
	return a.rows, a.err
}

// tableView is a view over such a source: all it adds to the console is
// its rows and a load function.
type tableView struct {
	src *tableRows
	st  loadState
	tbl *components.Table
}

func newTableView(src *tableRows) *tableView {
	return &tableView{src: src, tbl: components.NewTable([]components.Column{{Title: "ROW", Flex: true, Name: true}}, 0, false)}
}

func (v *tableView) id() string                      { return "table/test" }
func (v *tableView) crumb() string                   { return "table" }
func (v *tableView) noun() string                    { return "rows" }
func (v *tableView) summary(int) []string            { return nil }
func (v *tableView) layout(width, height int)        { v.tbl.SetSize(width, height) }
func (v *tableView) body(st *styles.Styles) []string { return v.tbl.View(st, true) }
func (v *tableView) focused() *components.Table      { return v.tbl }
func (v *tableView) open() (view, bool)              { return nil, false }
func (v *tableView) togglePane() bool                { return false }

func (v *tableView) source(*Model) source {
	return source{what: "the outbox rows", broker: "db-1.test:5432", state: &v.st, fetch: fetching(v.src.read, v.apply),
		unconfigured: "no database configured", noSource: []string{"no database", ""}}
}

func (v *tableView) apply(rows []string, _ time.Time, _ *styles.Styles) notice {
	out := make([]components.Row, len(rows))
	for i, r := range rows {
		out[i] = components.Row{ID: r, Cells: []string{r}}
	}
	v.tbl.SetRows(out)
	return notice{components.FlashInfo, "read " + fmtInt(int64(len(rows))) + " rows"}
}

// TestAThirdKindOfSourceIsALoadFunction: a view over a source that is
// neither Kafka nor RabbitMQ gets the console's loading for a load
// function: one request in flight, tagged, its placeholder and header
// state, its failure kept apart from the data, `r`, and a result that
// arrives after the view changed is dropped.
func TestAThirdKindOfSourceIsALoadFunction(t *testing.T) {
	src := &tableRows{answers: []tableAnswer{{err: errors.New("connection refused")}}}
	h := newHarness(t, Options{}, nil)
	v := newTableView(src)
	h.run(h.m.push(v))
	s := h.screen()
	if src.calls != 1 || !strings.Contains(s, "Cannot load the outbox rows from db-1.test:5432:") ||
		!strings.Contains(s, "connection refused") || !strings.Contains(s, "r retries") || !strings.Contains(s, "unreachable") {
		t.Fatalf("the first failure (%d calls):\n%s", src.calls, s)
	}
	// r reloads; the rows are applied, typed, and the flash asked for is shown
	src.answers = []tableAnswer{{rows: []string{"a", "b", "c"}}}
	h.keys("r")
	if src.calls != 2 || v.tbl.Len() != 3 || !v.st.loaded || v.st.lastErr != nil {
		t.Fatalf("after r: %d calls, %d rows, %+v", src.calls, v.tbl.Len(), v.st)
	}
	if s := h.screen(); !strings.Contains(s, "loaded 09:30:00; r reloads") || !strings.Contains(s, "read 3 rows") {
		t.Errorf("loaded:\n%s", s)
	}
	// a failure keeps the rows, marked stale; not periodic: no retry is
	// scheduled
	src.answers = []tableAnswer{{err: errors.New("timeout")}}
	h.keys("r")
	if v.tbl.Len() != 3 || !strings.Contains(h.screen(), "STALE") || len(h.refreshTicks()) != 0 {
		t.Fatalf("after a failure: %d rows, ticks %v:\n%s", v.tbl.Len(), h.refreshTicks(), h.screen())
	}
	// a result for the view that was left is dropped
	src.answers = []tableAnswer{{rows: []string{"x"}}}
	cmd := h.m.startRefresh()
	tag := h.m.refresh.tag
	h.keys("esc")
	var late tea.Msg
	for _, msg := range execCmd(cmd) {
		if lm, ok := msg.(loadedMsg); ok && lm.tag == tag {
			late = msg
		}
	}
	if late == nil {
		t.Fatal("the fetch did not answer")
	}
	h.send(late)
	if v.tbl.Len() != 3 {
		t.Error("a result for a view that was left was applied")
	}
}

// TestNothingFromABrokerIsAnErrorNotAPanic: a call that answers nil with
// no error fails the load with a clear error (a peek page, a queue's
// detail, a sample).
func TestNothingFromABrokerIsAnErrorNotAPanic(t *testing.T) {
	fetch := fetching(func(context.Context) (*backends.QueueDetail, error) { return nil, nil },
		func(*backends.QueueDetail, time.Time, *styles.Styles) notice {
			t.Fatal("nothing was applied")
			return notice{}
		})
	if apply, err := fetch(context.Background()); apply != nil || err == nil || !strings.Contains(err.Error(), "returned nothing") {
		t.Fatalf("apply %v, err %v", apply != nil, err)
	}
	f := newFakeRabbit()
	f.nilPeek = true
	h := newHarness(t, Options{Rabbit: f}, nil)
	h.command("dlq")
	h.selectRow(queueKey("/", "orders.dlq"))
	h.keys("p")
	if s := h.screen(); !strings.Contains(s, "the broker returned no page") {
		t.Errorf("a nil page:\n%s", s)
	}
}

// TestViewsWithoutSourceLoadNothing: an audit entry loads nothing: r
// starts no request and its header claims no broker's state.
func TestViewsWithoutSourceLoadNothing(t *testing.T) {
	h := newHarness(t, Options{Audit: auditFixture(t)}, &cannedSource{})
	h.command("audit")
	h.keys("enter")
	if _, ok := h.m.top().(*auditDetailView); !ok {
		t.Fatalf("enter opened %T", h.m.top())
	}
	before := h.m.refresh.seq
	h.keys("r")
	header := strings.SplitN(h.screen(), "\n", 2)[0]
	if h.m.refresh.seq != before || h.m.refresh.inFlight || strings.Contains(header, "Kafka") || strings.Contains(header, "kafka-1") {
		t.Errorf("r on an audit entry: seq %d→%d, header %q", before, h.m.refresh.seq, header)
	}
}
