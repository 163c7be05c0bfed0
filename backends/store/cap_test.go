package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mqops/mqops/backends"
)

var capDrivers = []string{"postgres", "mysql"}

// capDB creates CAP's tables from CAP's own DDL (testdata/cap_*.sql,
// rendered as CAP's storage initializer renders it) and returns the
// Options.Schema to use and the quoted table names.
func capDB(t *testing.T, db *testDB) (schema, published, received string) {
	t.Helper()
	file := map[string]string{"postgres": "testdata/cap_postgresql.sql", "mysql": "testdata/cap_mysql.sql"}[db.driver]
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	ddl := string(raw)
	switch db.driver {
	case "postgres":
		// PostgreSqlOptions.Schema: unique per test (CAP's default is "cap")
		schema = "cap_" + suffix()
		published, received = `"`+schema+`"."published"`, `"`+schema+`"."received"`
		ddl = strings.NewReplacer("{schema}", schema, "{GetPublishedTableName()}", published, "{GetReceivedTableName()}", received).Replace(ddl)
		// CAP runs the script as one batch
		if _, err := db.raw.Exec(ddl); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.raw.Exec(`DROP SCHEMA "` + schema + `" CASCADE`) })
	case "mysql":
		// MySqlOptions.TableNamePrefix "cap" (the default) in the test's own database
		published, received = "`cap.published`", "`cap.received`"
		ddl = strings.NewReplacer("{GetPublishedTableName()}", "cap.published", "{GetReceivedTableName()}", "cap.received").Replace(ddl)
		db.script(ddl)
	}
	return schema, published, received
}

// capContent is CAP's Message as System.Text.Json writes it into Content.
func capContent(headers [][2]string, value string) string {
	var b strings.Builder
	b.WriteString(`{"Headers":{`)
	for i, h := range headers {
		if i > 0 {
			b.WriteByte(',')
		}
		k := marshalNoHTML(h[0])
		v := []byte("null")
		if h[1] != "\x00" {
			v = marshalNoHTML(h[1])
		}
		fmt.Fprintf(&b, "%s:%s", k, v)
	}
	b.WriteString(`},"Value":`)
	b.WriteString(value)
	b.WriteString("}")
	return b.String()
}

func marshalNoHTML(v any) []byte {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	_ = e.Encode(v)
	return bytes.TrimRight(b.Bytes(), "\n")
}

func capHeaders(id, name string, extra ...[2]string) [][2]string {
	return append([][2]string{{"cap-msg-id", id}, {"cap-msg-name", name}, {"cap-msg-type", "Order"},
		{"cap-senttime", "2026-12-03T10:00:00.0000000+01:00"}, {"cap-corr-id", id}, {"cap-corr-seq", "0"}}, extra...)
}

func TestCAPOutbox(t *testing.T) {
	forEachDriver(t, capDrivers, func(t *testing.T, db *testDB) {
		ctx := context.Background()
		schema, published, _ := capDB(t, db)
		cols := capPublishedCols(db)
		type row struct {
			id       int64
			status   string
			age      time.Duration
			retries  int
			content  string
			expected bool
		}
		rows := []row{
			{7001, "Scheduled", 10 * time.Minute, 0, capContent(capHeaders("7001", "orders.created"), `{"OrderId":17,"Note":"caf\u00E9 \u003Cb\u003E"}`), true},
			{7002, "Failed", 20 * time.Minute, 3, capContent(capHeaders("7002", "orders.created",
				[2]string{"cap-kafka-key", "customer-9"}, [2]string{"cap-exception", "BrokerUnreachableException-->None of the specified endpoints were reachable"}), `[1, 2,  3]`), true},
			{7003, "Succeeded", 30 * time.Minute, 0, capContent(capHeaders("7003", "orders.created"), `{}`), false},
			{7004, "Scheduled", time.Minute, 0, capContent(capHeaders("7004", "orders.created"), `{}`), false},
			{7005, "Delayed", 40 * time.Minute, 0, capContent(capHeaders("7005", "orders.created"), `{}`), false},
			{7006, "Scheduled", 15 * time.Minute, 0, capContent(capHeaders("7006", "payments.done", [2]string{"x-null", "\x00"}), `null`), true},
		}
		for _, r := range rows {
			name, _, _ := strings.Cut(strings.Split(r.content, `"cap-msg-name":"`)[1], `"`)
			db.insert(published, cols, r.id, "v1", name, r.content, r.retries, sqlExpr(db.ago(r.age)), nil, r.status)
		}
		s := db.open(Options{Preset: "cap", Schema: schema})
		if !s.HasOutbox() || s.HasRetry() || !s.HasIdempotency() || s.CanRepublishRetries() || s.MessageIDHeader() != "cap-msg-id" || s.Preset() != "cap" {
			t.Fatalf("capabilities of the cap preset")
		}
		page, err := s.Pending(ctx, backends.OutboxQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := rowIDs(page.Rows), []string{"7002", "7006", "7001"}; !slices.Equal(got, want) {
			t.Fatalf("pending %v, want %v", got, want)
		}
		p2 := page.Rows[0]
		if p2.MessageID != "7002" || p2.Key != "customer-9" || p2.Destination != "orders.created" || p2.Status != "Failed" ||
			p2.Attempts != 3 || p2.LastError != "BrokerUnreachableException-->None of the specified endpoints were reachable" || p2.Payload != nil {
			t.Fatalf("row 7002: %+v", p2)
		}
		if age := p2.Age(page.Now); age < 19*time.Minute || age > 21*time.Minute {
			t.Fatalf("row 7002 is %v old (Added is a wall clock, compared with the session's)", age)
		}
		if len(page.Destinations) != 2 || page.Total != 3 {
			t.Fatalf("destinations %+v total %d", page.Destinations, page.Total)
		}

		page, err = s.Pending(ctx, backends.OutboxQuery{WithPayload: true})
		if err != nil {
			t.Fatal(err)
		}
		p1, p6 := page.Rows[2], page.Rows[1]
		if string(p1.Payload) != `{"OrderId":17,"Note":"caf\u00E9 \u003Cb\u003E"}` || p1.Key != "7001" {
			t.Fatalf("row 7001: payload %s key %q (the Value as CAP sends it; key = the message id)", p1.Payload, p1.Key)
		}
		if string(page.Rows[0].Payload) != `[1,2,3]` {
			t.Fatalf("row 7002 payload %s", page.Rows[0].Payload)
		}
		wantH := []backends.StoreHeader{{Key: "cap-msg-id", Value: "7001"}, {Key: "cap-msg-name", Value: "orders.created"}, {Key: "cap-msg-type", Value: "Order"},
			{Key: "cap-senttime", Value: "2026-12-03T10:00:00.0000000+01:00"}, {Key: "cap-corr-id", Value: "7001"}, {Key: "cap-corr-seq", Value: "0"}}
		if !slices.Equal(p1.Headers, wantH) {
			t.Fatalf("row 7001 headers %+v", p1.Headers)
		}
		if p6.Payload != nil || p6.Headers[len(p6.Headers)-1] != (backends.StoreHeader{Key: "x-null"}) {
			t.Fatalf("row 7006: payload %q headers %+v (null Value: empty body)", p6.Payload, p6.Headers)
		}

		claimed, err := s.Claim(ctx, page.Rows)
		if err != nil || len(claimed) != 3 || claimed[0].Attempts != 4 {
			t.Fatalf("claim: %+v %v", claimed, err)
		}
		if n, err := s.MarkSent(ctx, claimed[2:]); err != nil || n != 1 {
			t.Fatalf("mark sent: %d %v", n, err)
		}
		if err := s.MarkFailed(ctx, claimed[:2], `unroutable: exchange "x" <&>`); err != nil {
			t.Fatal(err)
		}
		q := func(id int64) (status string, retries int, content string, expiresIn time.Duration) {
			t.Helper()
			var exp time.Time
			var now time.Time
			nowExpr := "LOCALTIMESTAMP"
			if db.driver == "mysql" {
				nowExpr = "NOW()"
			}
			err := db.raw.QueryRow(fmt.Sprintf("SELECT %s, %s, %s, %s, %s FROM %s WHERE %s = %d", cols[7], cols[4], cols[3], cols[6], nowExpr, published, cols[0], id)).
				Scan(&status, &retries, &content, &exp, &now)
			if err != nil {
				t.Fatal(err)
			}
			return status, retries, content, exp.Sub(now)
		}
		status, retries, _, exp := q(7001)
		if status != "Succeeded" || retries != 1 || exp < 23*time.Hour || exp > 25*time.Hour {
			t.Fatalf("7001 after mark sent: %s retries %d expires in %v (CAP: 24h)", status, retries, exp)
		}
		status, retries, content, exp := q(7002)
		if status != "Failed" || retries != 4 || exp < 14*24*time.Hour || exp > 15*24*time.Hour {
			t.Fatalf("7002 after mark failed: %s retries %d expires in %v (CAP: Added + 15 days)", status, retries, exp)
		}
		want := capContent(capHeaders("7002", "orders.created", [2]string{"cap-kafka-key", "customer-9"},
			[2]string{"cap-exception", `PublisherSentFailedException-->unroutable: exchange "x" <&>`}), `[1, 2,  3]`)
		if content != want {
			t.Fatalf("7002 Content after mark failed:\n%s\nwant\n%s", content, want)
		}
		_, _, content, _ = q(7006)
		if !strings.Contains(content, `"x-null":null,"cap-exception":"PublisherSentFailedException-->`) {
			t.Fatalf("7006 Content after mark failed: %s", content)
		}
		if _, err := s.Retries(ctx, backends.RetryQuery{}); err == nil || !strings.Contains(err.Error(), "no retry table") {
			t.Fatalf("retries on cap: %v", err)
		}
	})
}

func TestCAPConcurrentClaimers(t *testing.T) {
	forEachDriver(t, capDrivers, func(t *testing.T, db *testDB) {
		schema, published, _ := capDB(t, db)
		q := func(s string) string {
			if db.driver == "mysql" {
				return strings.ReplaceAll(s, `"`, "`")
			}
			return s
		}
		const n = 200
		for i := 0; i < n; i++ {
			id := fmt.Sprint(9000 + i)
			db.insert(published, strings.Split(q(`"Id","Version","Name","Content","Retries","Added","StatusName"`), ","),
				9000+i, "v1", "orders", capContent(capHeaders(id, "orders"), `{"n":`+id+`}`), i%3, sqlExpr(db.ago(time.Hour)), []string{"Scheduled", "Failed"}[i%2])
		}
		claimRace(t, db.open(Options{Preset: "cap", Schema: schema}), db.open(Options{Preset: "cap", Schema: schema}), n, func() int {
			var total int
			if err := db.raw.QueryRow(q(`SELECT SUM("Retries") FROM `) + published).Scan(&total); err != nil {
				t.Fatal(err)
			}
			return total
		})
	})
}

func TestCAPConsumed(t *testing.T) {
	forEachDriver(t, capDrivers, func(t *testing.T, db *testDB) {
		ctx := context.Background()
		schema, _, received := capDB(t, db)
		q := func(s string) string {
			if db.driver == "mysql" {
				return strings.ReplaceAll(s, `"`, "`")
			}
			return s
		}
		cols := strings.Split(q(`"Id","Version","Name","Group","Content","Retries","Added","StatusName"`), ",")
		add := func(id int64, msgID, group, status string, content string) {
			if content == "" {
				content = capContent(capHeaders(msgID, "orders.created", [2]string{"cap-msg-group", group}), `{"a":1}`)
			}
			db.insert(received, cols, id, "v1", "orders.created", group, content, 0, sqlExpr(db.ago(time.Minute)), status)
		}
		add(1, "m1", "billing", "Succeeded", "")
		add(2, "m1", "shipping", "Succeeded", "")
		add(3, "m2", "billing", "Failed", "")
		add(4, "m3", "billing", "Succeeded", "")
		add(5, "m5", "billing", "Succeeded", `{ "Headers" : { "cap-msg-id" : "m5" }, "Value" : null }`)
		add(6, "x", "billing", "Succeeded", `not json at all "cap-msg-id"`)
		s := db.open(Options{Preset: "cap", Schema: schema})
		got, err := s.Consumed(ctx, "m1")
		if err != nil || len(got) != 2 || got[0].MessageID != "m1" {
			t.Fatalf("consumed m1: %+v %v", got, err)
		}
		groups := []string{got[0].Consumer, got[1].Consumer}
		slices.Sort(groups)
		if !slices.Equal(groups, []string{"billing", "shipping"}) || got[0].ConsumedAt.IsZero() {
			t.Fatalf("consumed m1 by %v at %v", groups, got[0].ConsumedAt)
		}
		if got, err := s.Consumed(ctx, "m2"); err != nil || len(got) != 0 {
			t.Fatalf("consumed m2 (Failed): %+v %v", got, err)
		}
		among, err := s.ConsumedAmong(ctx, []string{"m1", "m2", "m3", "m4", "m5"})
		if err != nil {
			t.Fatal(err)
		}
		if !among["m1"] || among["m2"] || !among["m3"] || among["m4"] || !among["m5"] {
			t.Fatalf("consumed among: %v", among)
		}
	})
}

func TestCAPRefusesSQLite(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(dir + "/app.db")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = Open(context.Background(), Options{Driver: "sqlite", DSN: dir + "/app.db", Preset: "cap"})
	if err == nil || !strings.Contains(err.Error(), "CAP has no SQLite storage") {
		t.Fatalf("cap on sqlite: %v", err)
	}
}

func TestCAPEnvelope(t *testing.T) {
	content := capContent(capHeaders("42", "orders", [2]string{"cap-exception", "X-->y"}), `{"b":[1, {"c":"\u003C"}]}`)
	var r backends.OutboxRow
	if err := capDecode(&r, []byte(content[:60]), false); err != nil {
		t.Fatalf("a prefix is not an error in a listing: %v", err)
	}
	if err := capDecode(&r, []byte(content), true); err != nil {
		t.Fatal(err)
	}
	if r.MessageID != "42" || r.Key != "42" || r.LastError != "X-->y" || string(r.Payload) != `{"b":[1,{"c":"\u003C"}]}` || len(r.Headers) != 7 {
		t.Fatalf("%+v payload %s", r, r.Payload)
	}
	for _, bad := range []string{"", "[]", `{"Value":1}`, `{"Headers":{"cap-msg-name":"x"},"Value":1}`, `{"Headers":{"cap-msg-id":"1"},"Value":`} {
		var r backends.OutboxRow
		if err := capDecode(&r, []byte(bad), true); err == nil {
			t.Errorf("Content %q: no error for a resend", bad)
		}
	}
	// camelCase naming policy (JsonSerializerOptions) is read too
	r = backends.OutboxRow{}
	if err := capDecode(&r, []byte(`{"headers":{"cap-msg-id":"9"},"value":"s"}`), true); err != nil || r.MessageID != "9" || string(r.Payload) != `"s"` {
		t.Fatalf("camelCase: %+v %v", r, err)
	}
}
