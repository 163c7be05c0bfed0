package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/mqops/mqops/backends"
)

// maxRowsOfMessage bounds the rows one message id finds in a table.
const maxRowsOfMessage = 100

// messageIDCond is the condition "the row carries message id" on table m
// (kind names it in errors): its message_id column; for CAP's published
// table, the cap-msg-id inside Content; for an outbox without a message id
// column, the row's id (a resend sends the id as the message id). ok is
// false when no row can carry id (text in an integer column); a table
// that records no message id answers backends.ErrNoMessageID.
func (s *Store) messageIDCond(b *sqlb, m *mapped, kind, id string) (cond string, ok bool, err error) {
	d := s.d
	switch {
	case m.has("message_id"):
		v, ok := m.idArg("message_id", id)
		if !ok {
			return "", false, nil
		}
		return m.c(d, "message_id", "") + " = " + b.arg(v), true, nil
	case kind == "outbox" && s.preset.decodeOutbox != nil && s.preset.idemMessageIDExpr != nil:
		// an envelope (cap's Content) holds the message id
		return s.preset.idemMessageIDExpr(s, m.c(d, "payload", "")) + " = " + b.arg(id), true, nil
	case kind == "outbox":
		v, ok := m.idArg("id", id)
		if !ok {
			return "", false, nil
		}
		return m.c(d, "id", "") + " = " + b.arg(v), true, nil
	}
	return "", false, fmt.Errorf("%s: the %s table %s: %w (store.%s.columns.message_id)", s.name, kind, m.ref, backends.ErrNoMessageID, kind)
}

// OutboxRowsOf reads the sending table's rows of a message id, whatever
// their status and age (sent and confirmed too), newest first, at most
// 100, without their payloads: where a message is in the outbox.
func (s *Store) OutboxRowsOf(ctx context.Context, messageID string) ([]backends.OutboxRow, error) {
	m := s.outbox
	if m == nil {
		return nil, s.noTable("outbox")
	}
	out := []backends.OutboxRow{}
	if messageID == "" {
		return out, nil
	}
	d := s.d
	b := &sqlb{d: d}
	cond, ok, err := s.messageIDCond(b, m, "outbox", messageID)
	if err != nil || !ok {
		return out, err
	}
	cols, read := s.outboxSelect(false)
	b.w("SELECT ", strings.Join(cols, ", "), " FROM ", d.table(m.ref), " WHERE ", cond,
		" ORDER BY ", m.c(d, "created_at", ""), " DESC, ", m.c(d, "id", ""), " DESC LIMIT ", strconv.Itoa(maxRowsOfMessage))
	err = s.query(ctx, "read the rows of a message", b.String(), b.args, func(scan func(...any) error) error {
		r, _, err := read(scan)
		if err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
