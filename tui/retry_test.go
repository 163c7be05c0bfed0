package tui

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/tui/action"
)

// The error groups of the retry fixture, as store.NormalizeError makes
// them.
const (
	gatewayGroup  = "payment gateway timeout after <n>ms (order <n>)"
	currencyGroup = "java.lang.IllegalStateException: invalid currency XYZ for order <n>"
)

// retryFixture writes the retry rows of the view tests: three timeouts of
// the payment gateway (one dead), two invalid currencies, one row with a
// hostile error and destination, one done (not listed).
func retryFixture(d *appDB, dest string) {
	d.retry(
		retryFixtureRow{id: "1", messageID: "m-r1", dest: dest, errText: "payment gateway timeout after 3000ms (order 4711)", attempts: 2, max: 5,
			next: t0.Add(2 * time.Minute), created: t0.Add(-30 * time.Minute)},
		retryFixtureRow{id: "2", messageID: "m-r2", dest: dest, errText: "payment gateway timeout after 3120ms (order 4712)", attempts: 3, max: 5,
			next: t0.Add(-time.Minute), created: t0.Add(-20 * time.Minute)},
		retryFixtureRow{id: "3", messageID: "m-r3", dest: dest, errText: "payment gateway timeout after 2990ms (order 99)", attempts: 5, max: 5,
			status: "dead", created: t0.Add(-50 * time.Minute)},
		retryFixtureRow{id: "4", messageID: "m-r4", dest: dest, errText: "java.lang.IllegalStateException: invalid currency XYZ for order 1234", attempts: 1, max: 3,
			next: t0.Add(10 * time.Minute), created: t0.Add(-10 * time.Minute)},
		retryFixtureRow{id: "5", messageID: "m-r5", dest: dest, errText: "java.lang.IllegalStateException: invalid currency XYZ for order 77", attempts: 2, max: 3,
			next: t0.Add(5 * time.Minute), created: t0.Add(-5 * time.Minute)},
		retryFixtureRow{id: "6", messageID: "m\x1b]0;pwned\x07-r6", dest: hostileDest, errText: "evil\x1b[2J\u202egroup\x9b31m", attempts: 1, max: 5,
			next: t0.Add(time.Minute), created: t0.Add(-15 * time.Minute)},
		retryFixtureRow{id: "7", messageID: "m-r7", dest: dest, errText: "payment gateway timeout after 1ms (order 1)", status: "done", created: t0.Add(-time.Hour)},
	)
}

// retryConsole is :retry on an SQLite database with the retry fixture
// (destination dest), the test's clock on its pages.
func retryConsole(t *testing.T, o Options, dest string) (*harness, *appDB) {
	t.Helper()
	return storeHarness(t, o, "retry", func(d *appDB) { retryFixture(d, dest) }, nil)
}

// retryStatus is a retry row's status and next retry (zero: none).
func (d *appDB) retryStatus(id string) (string, time.Time) {
	d.t.Helper()
	var s string
	var next *string
	if err := d.raw.QueryRow(`SELECT status, next_retry_at FROM mqops_retry WHERE id = ?`, id).Scan(&s, &next); err != nil {
		d.t.Fatal(err)
	}
	var at time.Time
	if next != nil {
		var err error
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02 15:04:05"} {
			if at, err = time.Parse(layout, *next); err == nil {
				break
			}
		}
		if err != nil {
			d.t.Fatalf("next_retry_at %q: %v", *next, err)
		}
	}
	return s, at
}

func (h *harness) retryView() *retryView {
	h.t.Helper()
	v, ok := h.m.top().(*retryView)
	if !ok {
		h.t.Fatalf("the view on top is %T", h.m.top())
	}
	return v
}

// selectGroup puts the cursor of :retry's groups on error group g.
func (h *harness) selectGroup(g string) {
	h.t.Helper()
	v := h.retryView()
	for id, e := range v.groupOf {
		if e == g {
			h.selectRow(id)
			return
		}
	}
	h.t.Fatalf("no error group %q", g)
}

// TestRetryGroupsByError: the rows waiting or dead grouped by error, with
// their counts, first and last; the rows of the group selected with
// their attempts of max, next retry and status; done rows not listed.
func TestRetryGroupsByError(t *testing.T) {
	h, _ := retryConsole(t, Options{}, "orders")
	v := h.retryView()
	if v.groups.Len() != 3 {
		t.Fatalf("%d groups:\n%s", v.groups.Len(), h.screen())
	}
	cells := func(g string) []string {
		for id, e := range v.groupOf {
			if e == g {
				for _, r := range v.groups.Rows() {
					if r.ID == id {
						return r.Cells
					}
				}
			}
		}
		t.Fatalf("no group %q", g)
		return nil
	}
	if c := cells(gatewayGroup); c[rgCount] != "3" || c[rgFirst] != "50m00s ago" || c[rgLast] != "20m00s ago" {
		t.Errorf("gateway: %q", c)
	}
	if c := cells(currencyGroup); c[rgCount] != "2" || c[rgFirst] != "10m00s ago" || c[rgLast] != "5m00s ago" {
		t.Errorf("currency: %q", c)
	}
	// largest first
	if first := v.groupOf[v.groups.VisibleIDs()[0]]; first != gatewayGroup {
		t.Errorf("first group %q", first)
	}
	h.selectGroup(gatewayGroup)
	h.keys("enter")
	if !v.onLower {
		t.Fatal("enter on a group did not focus its rows")
	}
	byID := map[string][]string{}
	for _, r := range v.rows.Rows() {
		byID[r.ID] = r.Cells
	}
	if got := strings.Join(v.rows.VisibleIDs(), ","); got != "3,1,2" {
		t.Errorf("rows of the gateway group %s, want oldest first 3,1,2", got)
	}
	if c := byID["1"]; c[rrStatus] != "waiting" || c[rrAttempts] != "2/5" || c[rrNext] != "in 2m00s" {
		t.Errorf("r1: %q", c)
	}
	if c := byID["2"]; c[rrNext] != "due" {
		t.Errorf("r2: %q", c)
	}
	if c := byID["3"]; c[rrStatus] != "dead" || c[rrAttempts] != "5/5" || c[rrNext] != "-" {
		t.Errorf("r3: %q", c)
	}
	if _, ok := v.byID["7"]; ok {
		t.Error("a done row is listed")
	}
	s := h.screen()
	for _, w := range []string{"retry rows", "6 retry rows in 3 error group(s)", "5 waiting, 1 dead", "RETRY ROWS OF " + gatewayGroup} {
		if !strings.Contains(s, w) {
			t.Errorf("%q is not on screen:\n%s", w, s)
		}
	}
	raw := h.m.View().Content
	for _, bad := range []string{"\x1b[2J", "\u202e", "\x9b", "\x1b]0;"} {
		if strings.Contains(raw, bad) {
			t.Errorf("the frame carries %q", bad)
		}
	}
}

// retryScreen is a retry action's screen.
type retryScreen = action.Model[*retryItem, *actions.RetryResult]

func (h *harness) retryScreen() *retryScreen {
	h.t.Helper()
	s, ok := h.actionView().screen.(*retryScreen)
	if !ok {
		h.t.Fatalf("the screen on top is not a retry action: %T", h.actionView().screen)
	}
	return s
}

// TestRetryNowGroupPlanConfirmRunAudit: T on an error group plans exactly
// its rows (nothing changes), y makes them due now; the result, one
// audit entry with the equivalent command.
func TestRetryNowGroupPlanConfirmRunAudit(t *testing.T) {
	h, db := retryConsole(t, Options{Audit: actions.NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))}, "orders")
	h.selectGroup(currencyGroup)
	h.keys("T")
	v := h.retryScreen()
	if s := flat(h.screen()); !strings.Contains(s, "Retry now the retry rows of an error group of sqlite app.db") || !strings.Contains(s, "error group: "+currencyGroup) {
		t.Fatalf("the form:\n%s", h.screen())
	}
	h.keys("enter")
	if v.Stage() != action.StagePlan {
		t.Fatalf("stage %d: %s\n%s", v.Stage(), v.FormError(), h.screen())
	}
	cmd := "mqops --context staging retry now --error 'java.lang.IllegalStateException: invalid currency XYZ for order <n>'"
	s := flat(h.screen())
	for _, want := range []string{
		"plan: retry now 2 retry row(s) of 1 error group(s) (due now for the application's job)",
		"2 " + currencyGroup,
		"4 waiting 1/3 10m00s m-r4",
		"5 waiting 2/3 5m00s m-r5",
		"same as: " + cmd,
		"Retry now 2 retry row(s) of 1 error group(s) (due now for the application's job)? [y/N]",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the plan lacks %q:\n%s", want, h.screen())
		}
	}
	if st, next := db.retryStatus("4"); st != "waiting" || !next.Equal(t0.Add(10*time.Minute)) || len(auditEntries(t, h)) != 0 {
		t.Fatalf("the plan changed 4 (%s %v) or was recorded", st, next)
	}
	h.keys("y")
	res, err := v.Result()
	if err != nil || res == nil || res.Changed != 2 || res.Left != 0 {
		t.Fatalf("result %+v %v\n%s", res, err, h.screen())
	}
	for _, id := range []string{"4", "5"} {
		if st, next := db.retryStatus(id); st != "waiting" || next.After(time.Now().Add(time.Minute)) || next.Before(time.Now().Add(-time.Hour)) {
			t.Errorf("%s: %s, next retry %v (want due now)", id, st, next)
		}
	}
	if st, next := db.retryStatus("1"); st != "waiting" || !next.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("a row of another group changed: %s %v", st, next)
	}
	es := auditEntries(t, h)
	if len(es) != 1 {
		t.Fatalf("audit: %+v", es)
	}
	e := es[0]
	if e.Action != "retry-now" || e.Outcome != actions.OutcomeExecuted || e.Command != cmd || e.RunID != res.RunID || e.Plan == nil || e.Plan.Selected != 2 ||
		e.Result == nil || e.Result.Done != 2 || e.Target != "due now" {
		t.Errorf("audit entry %+v plan %+v result %+v", e, e.Plan, e.Result)
	}
	h.keys("enter")
	if _, ok := h.m.top().(*retryView); !ok {
		t.Fatalf("enter on the result went to %T", h.m.top())
	}
}

// TestGiveUpMarkedRowsTypedInRed: X on the rows marked gives up exactly
// those (--id), the number of rows typed in a red context.
func TestGiveUpMarkedRowsTypedInRed(t *testing.T) {
	h, db := retryConsole(t, Options{Context: "prod", Color: "red", Audit: actions.NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))}, "orders")
	h.selectGroup(gatewayGroup)
	h.keys("tab")
	h.mark("1", "2")
	if !strings.Contains(h.screen(), "T retry now 2 marked") {
		t.Errorf("the footer does not name the marked:\n%s", h.screen())
	}
	h.keys("X", "enter")
	v := h.retryScreen()
	s := flat(h.screen())
	if v.Stage() != action.StagePlan || !strings.Contains(s, "same as: mqops --context prod retry give-up --id 1 --id 2") || !strings.Contains(s, "type the number of rows (2 rows)") {
		t.Fatalf("the plan:\n%s", h.screen())
	}
	h.typeText("2 rows")
	h.keys("enter")
	if res, err := v.Result(); err != nil || res == nil || res.Changed != 2 {
		t.Fatalf("result %+v %v\n%s", res, err, h.screen())
	}
	for id, want := range map[string]string{"1": "dead", "2": "dead", "4": "waiting", "3": "dead"} {
		if st, _ := db.retryStatus(id); st != want {
			t.Errorf("%s: %s, want %s", id, st, want)
		}
	}
}

// TestRepublishToTheRoute: U republishes a group's rows to their
// destination's topic with the broker's confirms and marks them done;
// their message ids travel in the header.
func TestRepublishToTheRoute(t *testing.T) {
	c := newKfakeCluster(t)
	topic := c.topic(t, "republish", 2)
	h, db := retryConsole(t, Options{KafkaPublisher: c.k, Kafka: c.k, Audit: actions.NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))}, topic)
	h.selectGroup(currencyGroup)
	if !strings.Contains(h.screen(), "U republish") {
		t.Fatalf("no republish where the rows carry a destination:\n%s", h.screen())
	}
	h.keys("U", "enter")
	v := h.retryScreen()
	if s := flat(h.screen()); !strings.Contains(s, "→ kafka:{destination} (marked done once the broker confirmed)") || !strings.Contains(s, "kafka:"+topic) {
		t.Fatalf("the plan:\n%s", h.screen())
	}
	h.keys("y")
	if res, err := v.Result(); err != nil || res == nil || res.Changed != 2 || res.Failed != 0 {
		t.Fatalf("result %+v %v\n%s", res, err, h.screen())
	}
	ids := c.messageIDs(t, topic, "mqops-message-id")
	if ids["m-r4"] != 1 || ids["m-r5"] != 1 || len(ids) != 2 {
		t.Errorf("published %v", ids)
	}
	for _, id := range []string{"4", "5"} {
		if st, _ := db.retryStatus(id); st != "done" {
			t.Errorf("%s: %s", id, st)
		}
	}
}

// TestRetryActionsAbsentWhereTheyCannotRun: T, U and X are dangerous: in
// a read-only context, without an audit log (and U without a publisher
// for the route) they are absent: no key, no hint, no help line, no marks.
func TestRetryActionsAbsentWhereTheyCannotRun(t *testing.T) {
	for name, o := range map[string]Options{
		"read-only":    {Context: "prod", ReadOnly: true, KafkaPublisher: nopPublisher{}, Audit: auditFixture(t)},
		"no audit log": {KafkaPublisher: nopPublisher{}},
	} {
		t.Run(name, func(t *testing.T) {
			h, db := retryConsole(t, o, "orders")
			for _, b := range []bool{h.m.keys.RetryNow.Bound(), h.m.keys.Republish.Bound(), h.m.keys.GiveUp.Bound()} {
				if b {
					t.Fatal("a retry action is bound")
				}
			}
			h.keys("T", "U", "X", "tab", "space", "T", "X")
			if _, ok := h.m.top().(*retryView); !ok {
				t.Fatalf("a key opened %T", h.m.top())
			}
			s := h.screen()
			if n := h.m.top().focused().MarkedCount(); n != 0 || strings.Contains(s, "space mark") || strings.Contains(s, "retry now") || strings.Contains(s, "give up") {
				t.Errorf("marks or actions without them: %d marked\n%s", n, s)
			}
			h.keys("?")
			if s := h.screen(); strings.Contains(s, "retry the") || strings.Contains(s, "give up the") {
				t.Errorf("the help lists them:\n%s", s)
			}
			if st, _ := db.retryStatus("1"); st != "waiting" {
				t.Errorf("r1 changed: %s", st)
			}
		})
	}
	// no publisher: T and X, not U
	h, _ := retryConsole(t, Options{Audit: auditFixture(t)}, "orders")
	if s := h.screen(); !strings.Contains(s, "T retry now") || strings.Contains(s, "U republish") {
		t.Errorf("without a publisher:\n%s", s)
	}
	h.keys("U")
	if _, ok := h.m.top().(*retryView); !ok {
		t.Fatalf("U opened %T", h.m.top())
	}
	h.command("groups")
	h.keys("T")
	if !strings.Contains(h.m.flash.Text, "open :retry") {
		t.Errorf("T elsewhere: %q", h.m.flash.Text)
	}
}
