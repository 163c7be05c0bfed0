package actions

import (
	"context"
	"fmt"

	"github.com/mqops/mqops/backends"
)

// ReplayConsumed is what a replay's plan learnt from the application's
// idempotency table (a store is configured): of the records it read and
// the filters keep, those carrying a message id under Header (Checked),
// and of them those whose id was consumed already (Consumed). Skip says
// the run passes those over (--skip-consumed); the plan's counts then
// leave them out. Error says the lookup failed (nothing counted).
type ReplayConsumed struct {
	Header    string `json:"header"`
	Checked   int    `json:"checked"`
	Consumed  int    `json:"consumed"`
	WithoutID int    `json:"without_id"`
	Skip      bool   `json:"skip"`
	Error     string `json:"error,omitempty"`
}

// consumedCounter looks up, as a replay's plan reads the records, the
// message ids of those the filters keep, a batch at a time, and keeps the
// ids consumed (for the run to pass over) and, per partition, how many
// records and bytes they are.
type consumedCounter struct {
	ctx  context.Context
	idx  backends.ConsumedIndex
	stat ReplayConsumed
	buf  []consumedRecord
	set  map[string]bool
	adj  map[int32]*consumedAdj
	err  error
}

type consumedRecord struct {
	id    string
	part  int32
	bytes int64
}

type consumedAdj struct {
	records int
	bytes   int64
}

func newConsumedCounter(ctx context.Context, idx backends.ConsumedIndex, header string, skip bool) *consumedCounter {
	return &consumedCounter{ctx: ctx, idx: idx, stat: ReplayConsumed{Header: header, Skip: skip}, set: map[string]bool{}, adj: map[int32]*consumedAdj{}}
}

// keep wraps a replay's filter (nil: none): it keeps what base keeps, and
// notes the message id of each record kept.
func (c *consumedCounter) keep(base func(*backends.KafkaRecord) bool) func(*backends.KafkaRecord) bool {
	return func(r *backends.KafkaRecord) bool {
		if base != nil && !base(r) {
			return false
		}
		v, ok := r.Header(c.stat.Header)
		if !ok || len(v) == 0 {
			c.stat.WithoutID++
			return true
		}
		c.stat.Checked++
		if c.err == nil {
			n := int64(len(r.Key) + len(r.Value))
			for _, h := range r.Headers {
				n += int64(len(h.Key) + len(h.Value))
			}
			c.buf = append(c.buf, consumedRecord{id: string(v), part: r.Partition, bytes: n})
			if len(c.buf) >= consumedBatch {
				c.flush()
			}
		}
		return true
	}
}

// flush looks up the ids noted since the last flush.
func (c *consumedCounter) flush() {
	defer func() { c.buf = c.buf[:0] }()
	if len(c.buf) == 0 || c.err != nil {
		return
	}
	ids := make([]string, len(c.buf))
	for i, r := range c.buf {
		ids[i] = r.id
	}
	m, err := c.idx.ConsumedAmong(c.ctx, ids)
	if err != nil {
		c.err = err
		return
	}
	for _, r := range c.buf {
		if !m[r.id] {
			continue
		}
		c.set[r.id] = true
		c.stat.Consumed++
		a := c.adj[r.part]
		if a == nil {
			a = &consumedAdj{}
			c.adj[r.part] = a
		}
		a.records++
		a.bytes += r.bytes
	}
}

// finish looks up what is left and puts the counts in the plan: with
// Skip, the consumed records leave the plan's counts, and a plan that did
// not read the whole range is a problem (the ids past what it read are not
// known). A failed lookup is an error with Skip (the run could not pass
// them over), a note without.
func (c *consumedCounter) finish(p *ReplayPlan) error {
	c.flush()
	st := c.stat
	if c.err != nil {
		if st.Skip {
			return fmt.Errorf("reading the idempotency table: %w", c.err)
		}
		st.Error = backends.Redact(c.err.Error())
		st.Checked, st.Consumed = 0, 0
		c.set = nil
		p.Notes = append(p.Notes, "the message ids already consumed were not counted: the idempotency table could not be read: "+st.Error)
	}
	p.Consumed = &st
	if c.err != nil {
		return nil
	}
	if st.Skip {
		p.consumed = c.set
		for i := range p.Parts {
			if a := c.adj[p.Parts[i].Partition]; a != nil {
				p.Parts[i].Records -= a.records
				p.Parts[i].Bytes -= a.bytes
				p.Records -= a.records
				p.Bytes -= a.bytes
			}
		}
		if !p.Complete {
			p.Problems = append(p.Problems, fmt.Sprintf("--skip-consumed: the plan read %d record(s) and stopped (--plan-limit): the message ids of the records past them are not known, and those are replayed whether consumed or not (raise --plan-limit to read the whole range)", p.Read))
		}
	}
	if st.Consumed > 0 && !st.Skip {
		p.Notes = append(p.Notes, fmt.Sprintf("%d record(s) carry a message id (%s) the idempotency table says was consumed already: they are replayed too (consumers that deduplicate drop them); --skip-consumed passes them over", st.Consumed, st.Header))
	}
	if st.WithoutID > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("%d record(s) have no %s header: whether they were consumed is not known", st.WithoutID, st.Header))
	}
	return nil
}

// skipConsumed is keep (nil: every record) without the records whose
// message id (under header) is in consumed.
func skipConsumed(keep func(*backends.KafkaRecord) bool, header string, consumed map[string]bool) func(*backends.KafkaRecord) bool {
	if len(consumed) == 0 {
		return keep
	}
	return func(r *backends.KafkaRecord) bool {
		if keep != nil && !keep(r) {
			return false
		}
		v, ok := r.Header(header)
		return !ok || !consumed[string(v)]
	}
}
