package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mqops/mqops/backends"
)

// The cap preset: DotNetCore.CAP's `published` and `received` tables as
// CAP's storage initializers create them (github.com/dotnetcore/CAP,
// src/DotNetCore.CAP.PostgreSql/IStorageInitializer.PostgreSql.cs and
// src/DotNetCore.CAP.MySql/IStorageInitializer.MySql.cs; testdata/cap_*.sql
// hold their DDL verbatim):
//
//   - PostgreSQL: schema "cap" (PostgreSqlOptions.Schema), tables
//     "cap"."published" and "cap"."received" with quoted mixed-case
//     columns "Id","Version","Name","Content","Retries","Added",
//     "ExpiresAt","StatusName" (received also "Group").
//   - MySQL: no schema; the TableNamePrefix "cap" is part of the table
//     name: `cap.published`, `cap.received` are single names with a dot.
//     Options.Schema overrides the schema (postgres) or the prefix (mysql).
//   - CAP has no SQLite storage: the preset refuses sqlite.
//
// StatusName holds the names of CAP's StatusName enum (Failed = -1,
// Scheduled, Succeeded, Delayed, Queued). A published row Scheduled or
// Failed is a pending send (CAP's own retry job takes the same rows:
// GetMessagesOfNeedRetryAsync); Name is the destination (CAP publishes to
// the topic / routing key Name); Retries counts attempts; Added is when the
// row was written (DateTime.Now of the application: a wall clock, compared
// with the database session's LOCALTIMESTAMP / NOW()).
//
// Content is CAP's Message serialized with System.Text.Json:
// {"Headers":{"cap-msg-id":"…","cap-msg-name":"…",…},"Value":…}. What CAP's
// transports put on the wire, and so what a resend publishes:
//   - body: the Value serialized as JSON (JsonUtf8Serializer.SerializeAsync;
//     a null Value is an empty body);
//   - headers: every header of the envelope, in order (KafkaTransport and
//     RabbitMqTransport copy message.Headers; a null value is an empty one);
//   - Kafka key: the "cap-kafka-key" header when set, else the message id
//     (KafkaTransport.SendAsync); RabbitMQ: message_id property = the id.
//
// After a send CAP sets StatusName Succeeded and ExpiresAt = now +
// SucceedMessageExpiredAfter (24 h by default); after a failure it adds the
// exception to Content's headers ("cap-exception": "Type-->message"),
// increments Retries and sets StatusName Failed and ExpiresAt = Added +
// FailedMessageExpiredAfter (15 days): MarkSent and MarkFailed do the same.
//
// Idempotency: a `received` row with StatusName Succeeded whose Content's
// cap-msg-id is the id was consumed, by its "Group", when it was Added.
// CAP has no retry table (its retries are Retries/StatusName on the rows).
const (
	capMsgID                  = "cap-msg-id"
	capKafkaKey               = "cap-kafka-key"
	capException              = "cap-exception"
	capSucceedExpiredAfter    = 24 * 3600      // CapOptions.SucceedMessageExpiredAfter
	capFailedExpiredAfter     = 15 * 24 * 3600 // CapOptions.FailedMessageExpiredAfter
	capFailedExceptionTypeTag = "PublisherSentFailedException"
)

func init() {
	registerPreset(&preset{
		name:            "cap",
		drivers:         []string{"postgres", "mysql"},
		driverNote:      ": CAP has no SQLite storage",
		messageIDHeader: capMsgID,
		schemaInName:    true,
		tables:          capTables,
		validate:        capValidate,
		decodeOutbox:    capDecode,
		sentSet: func(s *Store, b *sqlb) []string {
			return []string{s.d.quote("ExpiresAt") + " = " + s.d.nowPlus(&column{class: clsTime, timeKind: timeNoTZ}, capSucceedExpiredAfter)}
		},
		markFailed:        capMarkFailed,
		idemMessageIDExpr: capMessageIDExpr,
	})
}

func capTables(driver, schema string) presetTables {
	if schema == "" {
		schema = "cap" // EFOptions.DefaultSchema, also MySQL's TableNamePrefix
	}
	name := func(t string) string {
		if driver == "mysql" {
			return "`" + schema + "." + t + "`"
		}
		return `"` + schema + `"."` + t + `"`
	}
	return presetTables{
		Outbox: &Table{
			Name: name("published"),
			Columns: map[string]string{"id": "Id", "destination": "Name", "payload": "Content",
				"status": "StatusName", "attempts": "Retries", "created_at": "Added"},
			Statuses: map[string][]string{"pending": {"Scheduled", "Failed"}, "sent": {"Succeeded"}},
		},
		Idempotency: &Table{
			Name:     name("received"),
			Columns:  map[string]string{"message_id": "Content", "consumer": "Group", "consumed_at": "Added", "status": "StatusName"},
			Statuses: map[string][]string{"consumed": {"Succeeded"}},
		},
	}
}

// capValidate checks the columns CAP's semantics need beyond the mapping.
func capValidate(ctx context.Context, s *Store) error {
	if s.outbox == nil {
		return nil
	}
	ref := s.outbox.ref
	live, err := s.liveColumns(ctx, &ref)
	if err != nil {
		return err
	}
	if findColumn(live, "ExpiresAt", s.d.driver != "postgres") == nil {
		return fmt.Errorf("store.outbox: table %s has no column ExpiresAt (CAP's published table has it)", ref)
	}
	return nil
}

// capEnvelope reads CAP's Content: its headers in order and the raw
// Value. A prefix (full false) may end anywhere: what was read is kept.
func capEnvelope(raw []byte, full bool) (headers []backends.StoreHeader, value json.RawMessage, err error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, fmt.Errorf("Content is not CAP's message JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, errors.New("Content is not CAP's message JSON (not an object)")
	}
	seen := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return headers, value, err
		}
		key, _ := tok.(string)
		switch {
		case strings.EqualFold(key, "Headers"):
			if headers, err = readObjectHeaders(dec); err != nil {
				return headers, value, fmt.Errorf("Content's Headers: %v", err)
			}
			seen = true
			if !full {
				return headers, nil, nil
			}
		case strings.EqualFold(key, "Value"):
			if err := dec.Decode(&value); err != nil {
				return headers, value, fmt.Errorf("Content's Value: %v", err)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return headers, value, err
			}
		}
	}
	if !seen {
		return nil, value, errors.New("Content has no Headers")
	}
	return headers, value, nil
}

func headerValue(hs []backends.StoreHeader, key string) string {
	for _, h := range hs {
		if h.Key == key {
			return h.Value
		}
	}
	return ""
}

// capDecode fills an outbox row from CAP's Content.
func capDecode(r *backends.OutboxRow, raw []byte, full bool) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		if full {
			return errors.New("Content is empty: nothing to resend")
		}
		return nil
	}
	hs, value, err := capEnvelope(raw, full)
	if err != nil && full {
		return err
	}
	// a listing reads a prefix of Content: what it holds is kept
	r.MessageID = headerValue(hs, capMsgID)
	r.Key = headerValue(hs, capKafkaKey)
	if r.Key == "" {
		r.Key = r.MessageID
	}
	r.LastError = truncate(headerValue(hs, capException), maxErrorText)
	r.Headers = hs
	r.Payload = nil
	if full {
		if r.MessageID == "" {
			return errors.New("Content's Headers have no cap-msg-id")
		}
		v := bytes.TrimSpace(value)
		if len(v) > 0 && string(v) != "null" {
			var b bytes.Buffer
			if err := json.Compact(&b, v); err != nil {
				return fmt.Errorf("Content's Value: %v", err)
			}
			r.Payload = b.Bytes()
		}
	}
	return nil
}

// capMessageIDExpr extracts cap-msg-id from a received row's Content in
// SQL (one scan, no JSON parse on rows that are not CAP's).
func capMessageIDExpr(s *Store, col string) string {
	const pattern = `"cap-msg-id"[[:space:]]*:[[:space:]]*"`
	if s.d.driver == "postgres" {
		return "substring(" + col + " from '" + pattern + `([^"]*)"')`
	}
	return "REGEXP_REPLACE(REGEXP_SUBSTR(" + col + ", '" + pattern + `[^"]*"'), '^` + pattern + `|"$', '')`
}

// capMarkFailed records a failed resend as CAP records a failed send: the
// exception in Content's headers, StatusName Failed, ExpiresAt = Added +
// 15 days; rows that were claimed only (same Retries, still pending).
func capMarkFailed(ctx context.Context, s *Store, rows []backends.OutboxRow, msg string) error {
	m, d := s.outbox, s.d
	ids, atts := outboxGuards(rows)
	gs := s.guard(m, ids, atts)
	exception := capFailedExceptionTypeTag + "-->" + msg
	tbl := d.table(m.ref)
	expires := d.quote("Added") + " + INTERVAL " + strconv.Itoa(capFailedExpiredAfter) + " SECOND"
	if d.driver == "postgres" {
		expires = d.quote("Added") + " + interval '" + strconv.Itoa(capFailedExpiredAfter) + " seconds'"
	}
	for _, ch := range chunks(len(gs), chunkSize) {
		err := s.inTx(ctx, "record the error", func(tx *sql.Tx) error {
			for _, g := range gs[ch[0]:ch[1]] {
				b := &sqlb{d: d}
				b.w("SELECT ", d.bounded(m.c(d, "payload", ""), m.cols["payload"], maxPayload+1), " FROM ", tbl,
					" WHERE ", m.c(d, "id", ""), " = ", b.arg(g.id), " AND COALESCE(", m.c(d, "attempts", ""), ", 0) = ", b.arg(int64(g.attempts)),
					" AND ", statusIn(b, m, "", "pending"), " FOR UPDATE")
				var content []byte
				found := false
				err := s.queryOn(ctx, tx, "record the error", b.String(), b.args, func(scan func(...any) error) error {
					var v any
					found = true
					if err := scan(&v); err != nil {
						return err
					}
					content = asBytes(v)
					return nil
				})
				if err != nil {
					return err
				}
				if !found {
					continue
				}
				b = &sqlb{d: d}
				b.w("UPDATE ", tbl, " SET ", m.c(d, "status", ""), " = ", b.arg("Failed"), ", ", d.quote("ExpiresAt"), " = ", expires)
				if len(content) <= maxPayload {
					if nc, err := capSetHeader(content, capException, exception); err == nil {
						b.w(", ", m.c(d, "payload", ""), " = ", b.arg(string(nc)))
					}
				}
				b.w(" WHERE ", m.c(d, "id", ""), " = ", b.arg(g.id), " AND COALESCE(", m.c(d, "attempts", ""), ", 0) = ", b.arg(int64(g.attempts)))
				if _, err := s.exec(ctx, tx, "record the error", b.String(), b.args); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// capSetHeader sets one header of CAP's Content, keeping every other
// member and header as it was (order and raw JSON).
func capSetHeader(content []byte, key, value string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(content))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not an object")
	}
	var out bytes.Buffer
	enc := func(v any) []byte {
		var b bytes.Buffer
		e := json.NewEncoder(&b)
		e.SetEscapeHTML(false)
		_ = e.Encode(v)
		return bytes.TrimRight(b.Bytes(), "\n")
	}
	out.WriteByte('{')
	first := true
	found := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string)
		if !first {
			out.WriteByte(',')
		}
		first = false
		out.Write(enc(name))
		out.WriteByte(':')
		if strings.EqualFold(name, "Headers") {
			found = true
			hs, err := readRawObject(dec)
			if err != nil {
				return nil, err
			}
			out.WriteByte('{')
			set := false
			for i, h := range hs {
				if i > 0 {
					out.WriteByte(',')
				}
				out.Write(enc(h.key))
				out.WriteByte(':')
				if h.key == key {
					out.Write(enc(value))
					set = true
				} else {
					out.Write(h.raw)
				}
			}
			if !set {
				if len(hs) > 0 {
					out.WriteByte(',')
				}
				out.Write(enc(key))
				out.WriteByte(':')
				out.Write(enc(value))
			}
			out.WriteByte('}')
			continue
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		out.Write(raw)
	}
	if !found {
		return nil, errors.New("no Headers")
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}
