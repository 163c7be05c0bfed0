package store

import (
	"context"
	"strconv"

	"github.com/mqops/mqops/backends"
)

// idemIDExpr is the message id of an idempotency row as SQL, for the
// WHERE clause (where) and for the select list (sel: as text).
func (s *Store) idemIDExpr() (where, sel string) {
	m := s.idem
	col := m.c(s.d, "message_id", "")
	if s.preset.idemMessageIDExpr != nil {
		e := s.preset.idemMessageIDExpr(s, col)
		return e, e
	}
	return col, s.d.text(col, m.cols["message_id"])
}

// idemCond adds the consumed-status condition, when the table has one.
func (s *Store) idemCond(b *sqlb) string {
	if len(s.idem.statuses["consumed"]) == 0 {
		return ""
	}
	return " AND " + statusIn(b, s.idem, "", "consumed")
}

// Consumed says whether, when and by which consumer a message id was
// consumed: the idempotency rows of the id (none: not consumed).
func (s *Store) Consumed(ctx context.Context, messageID string) ([]backends.Consumption, error) {
	m := s.idem
	if m == nil {
		return nil, s.noTable("idempotency")
	}
	out := []backends.Consumption{}
	arg, ok := m.idArg("message_id", messageID)
	if !ok || messageID == "" {
		return out, nil
	}
	d := s.d
	b := &sqlb{d: d}
	expr, idSel := s.idemIDExpr()
	sel := []string{idSel, "NULL", "NULL"}
	if m.has("consumer") {
		sel[1] = d.bounded(m.c(d, "consumer", ""), m.cols["consumer"], MaxShortText)
	}
	order := ""
	if m.has("consumed_at") {
		sel[2] = m.c(d, "consumed_at", "")
		order = " ORDER BY " + sel[2]
	}
	b.w("SELECT ", sel[0], ", ", sel[1], ", ", sel[2], " FROM ", d.table(m.ref), " WHERE ", expr, " = ", b.arg(arg))
	b.w(s.idemCond(b), order, " LIMIT ", strconv.Itoa(s.maxRows))
	err := s.query(ctx, "read consumed ids", b.String(), b.args, func(scan func(...any) error) error {
		var id, consumer, at any
		if err := scan(&id, &consumer, &at); err != nil {
			return err
		}
		c := backends.Consumption{MessageID: asString(id), Consumer: asString(consumer)}
		var err error
		if c.ConsumedAt, err = asTime(at); err != nil {
			return &rowError{s.name + ": consumed " + backends.SafeText(c.MessageID) + ": consumed_at: " + err.Error()}
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ConsumedAmong says which of the ids were consumed, in batched queries;
// every id asked is in the map.
func (s *Store) ConsumedAmong(ctx context.Context, ids []string) (map[string]bool, error) {
	m := s.idem
	if m == nil {
		return nil, s.noTable("idempotency")
	}
	if err := s.checkIDs(ids); err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(ids))
	var args []any
	byArg := map[string][]string{}
	for _, id := range ids {
		out[id] = false
		if v, ok := m.idArg("message_id", id); ok && id != "" {
			k := asString(v)
			if byArg[k] == nil {
				args = append(args, v)
			}
			byArg[k] = append(byArg[k], id)
		}
	}
	d := s.d
	expr, idSel := s.idemIDExpr()
	for _, ch := range chunks(len(args), chunkSize) {
		b := &sqlb{d: d}
		b.w("SELECT DISTINCT ", idSel, " FROM ", d.table(m.ref), " WHERE ", expr, " IN (", b.list(args[ch[0]:ch[1]]), ")")
		b.w(s.idemCond(b))
		err := s.query(ctx, "read consumed ids", b.String(), b.args, func(scan func(...any) error) error {
			var v any
			if err := scan(&v); err != nil {
				return err
			}
			for _, id := range byArg[asString(v)] {
				out[id] = true
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
