package embedded

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	_ "modernc.org/sqlite" // driver "sqlite", pure Go

	"github.com/mqops/mqops/backends/store"
)

// The demo's application database: an SQLite file with the three tables of
// the mqops preset (store.Schema("sqlite")), written by the demo's
// "application" while the traffic runs, so that the console's :pending and
// :retry views and the headless pending, retries and consumed commands have
// rows that move.
//
//   - mqops_outbox: every orders and payments record the producer publishes
//     is recorded pending first (destination = its topic, key, payload and
//     headers as published, the message id also in the record's
//     mqops-message-id header); a confirmer marks most confirmed a few
//     seconds later. One in appUnconfirmedEvery is never confirmed: half of
//     them were never published at all (a crash between the insert and the
//     publish), the other half were published and consumed but their
//     confirmation got lost (a resend's plan counts them as consumed). Rows
//     for invoices, a topic that does not exist, fail to publish: a resend
//     of them reports a clear failure. Rows pending for appGiveUpAfter are
//     marked failed by the application. Rows a resend marked sent are
//     confirmed once the consumer side had them.
//   - mqops_retry: the billing consumer fails on one order in
//     appRetryEvery, with one of two errors (a payment gateway timeout that
//     a retry may cure, an invalid currency that none does); a job takes
//     the rows that are due, attempts grow with a backoff up to
//     max_attempts, then the row is dead; a cured row is done.
//   - mqops_consumed: the message id of every orders record billing
//     processed (consumer "billing").
//
// The seeding writes appHistory of that life at once (the rows of the
// seeded Kafka history, and older invoice rows), so every table and every
// view has rows from the start. Every random choice comes from the seed.

// AppPendingAfter is the age after which the demo's pending sends are
// worth a look: the demo context's store pending-after. It is short so
// that a newcomer sees pending sends in the first minute.
const AppPendingAfter = 20 * time.Second

// AppMissingDestination is the outbox destination whose topic does not
// exist: its rows never publish, and neither does a resend of them.
const AppMissingDestination = "invoices"

// AppConsumer is the consumer the idempotency table names: the billing
// group, which consumes orders.
const AppConsumer = groupBilling

// messageIDHeader is the header the mqops preset's resend puts the message
// id under (store.MessageIDHeader for preset mqops); the demo's
// application writes it the same way.
const messageIDHeader = "mqops-message-id"

// The life of the application's rows.
const (
	appTick             = 250 * time.Millisecond // the application's loop: one short transaction
	appJobEvery         = time.Second            // the retry job and the confirmer of sent rows
	appHousekeepEvery   = 10 * time.Second
	appInvoiceEvery     = 15 * time.Second // an invoice row that cannot be published
	appUnconfirmedEvery = 30               // 1 in 30 outbox rows is never confirmed
	appRetryEvery       = 100              // 1 in 100 orders fails in billing
	appConfirmMin       = time.Second      // a confirmation comes 1 to 4 s after the send
	appConfirmSpread    = 3 * time.Second
	appSentConfirm      = 2 * time.Second  // a resent row is confirmed this long after the resend
	appGiveUpAfter      = 10 * time.Minute // pending rows are marked failed after this
	appKeepConfirmed    = 5 * time.Minute  // confirmed outbox rows and done retry rows are deleted after this
	appKeepFailed       = 30 * time.Minute // failed outbox rows, dead retry rows and consumed ids: after this
	appInvoiceHistory   = 20 * time.Minute // invoice rows seeded over this much of the past
	appRetryBackoff     = 5 * time.Second  // the first retry's delay, doubled at each attempt
	appRetryMaxBackoff  = 2 * time.Minute
	appQueue            = 8192 // rows waiting for the application's loop
	appBatch            = 500  // ids per statement
)

// giveUpNote ends the last error of a row the application gave up on.
const giveUpNote = "no confirmation within 10m: given up"

// The two failures of the billing consumer.
const (
	failGateway  = iota // may be cured by a retry
	failCurrency        // never is
)

var failMaxAttempts = [...]int{failGateway: 6, failCurrency: 3}

// dbTime is how SQLite stores times in the mqops preset: UTC text, as
// strftime('%Y-%m-%d %H:%M:%f','now') writes it.
func dbTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000") }

// outboxRow is one row of the sending table to insert.
type outboxRow struct {
	messageID, destination, key string
	payload                     []byte
	headers                     string // JSON array of {"key","value"}
	created                     time.Time
	status                      string
	attempts                    int
	lastAttempt                 time.Time
	lastError                   string
	confirmAt                   time.Time // zero: never confirmed
}

// confirm is a pending row the confirmer marks confirmed at a time.
type confirm struct {
	id int64
	at time.Time
}

// app is the demo's application writing its database.
type app struct {
	db   *sql.DB
	logf func(format string, args ...any)

	// fate decides each published record's outbox life; the seeding, then
	// the producer goroutine own it.
	fate *rand.Rand
	// job drives the application's loop (retry rows, their errors,
	// invoices); the seeding, then the loop goroutine own it.
	job         *rand.Rand
	nextInvoice int
	// sample is a message id the seeding recorded consumed
	sample string

	rows     chan outboxRow   // from the producer
	consumed chan *kgo.Record // orders records billing processed

	// the loop's state
	confirms []confirm // by time
	pendRows []outboxRow
	pendCons []*kgo.Record
}

// openApp creates the database file at path (which must not exist: the
// demo never writes into a database it did not create) with the mqops
// preset's tables, in WAL mode with a busy timeout, so that the console's
// store reads and writes it while the application does.
func openApp(path string, seed int64, logf func(string, ...any)) (*app, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("application database: bad path %q", path)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("application database: %w", err)
	}
	_ = f.Close()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("application database: %w", err)
	}
	db.SetMaxOpenConns(1) // one writer: the seeding, then the loop
	ddl, err := store.Schema("sqlite")
	if err == nil {
		_, err = db.Exec(ddl)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("application database: create the tables: %w", err)
	}
	return &app{
		db:       db,
		logf:     logf,
		fate:     rand.New(rand.NewPCG(uint64(seed), 0x6f7574626f78)), // "outbox"
		job:      rand.New(rand.NewPCG(uint64(seed), 0x6170706a6f62)), // "appjob"
		rows:     make(chan outboxRow, appQueue),
		consumed: make(chan *kgo.Record, appQueue),
	}, nil
}

func (a *app) close() error {
	if a == nil {
		return nil
	}
	return a.db.Close()
}

// uuid is a random (version 4 shaped) id from r.
func uuid(r *rand.Rand) string {
	hi, lo := r.Uint64(), r.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", hi>>32, (hi>>16)&0xffff, hi&0xfff, 0x8000|(lo>>48)&0x3fff, lo&0xffffffffffff)
}

// Fates of a published record in the outbox.
const (
	fateConfirmed   = iota // confirmed a few seconds later
	fateNeverSent          // recorded, never published, never confirmed
	fateUnconfirmed        // published and consumed, never confirmed
)

// record gives r (an orders or payments record about to be published at
// now) its message id header and decides its outbox row: it returns the row
// and whether the record is published.
func (a *app) record(r *kgo.Record) (outboxRow, bool) {
	id := uuid(a.fate)
	r.Headers = append(r.Headers, kgo.RecordHeader{Key: messageIDHeader, Value: []byte(id)})
	row := outboxRow{
		messageID: id, destination: r.Topic, key: string(r.Key), payload: r.Value,
		headers: headersJSON(r.Headers), created: r.Timestamp, status: "pending",
	}
	fate := fateConfirmed
	if a.fate.IntN(appUnconfirmedEvery) == 0 {
		fate = fateNeverSent + a.fate.IntN(2)
	}
	if fate == fateConfirmed {
		row.confirmAt = r.Timestamp.Add(appConfirmMin + time.Duration(a.fate.Int64N(int64(appConfirmSpread))))
	}
	if fate != fateNeverSent {
		row.attempts, row.lastAttempt = 1, r.Timestamp
	}
	return row, fate != fateNeverSent
}

func headersJSON(hs []kgo.RecordHeader) string {
	type h struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	out := make([]h, len(hs))
	for i, x := range hs {
		out[i] = h{x.Key, string(x.Value)}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// publish is the producer's hook: it records r's outbox row and says
// whether to publish r. Without an application, every record is published.
func (a *app) publish(r *kgo.Record) bool {
	if a == nil || (r.Topic != topicOrders && r.Topic != topicPayments) {
		return true
	}
	row, send := a.record(r)
	select {
	case a.rows <- row:
	default: // the loop is far behind: the record goes out without its row
	}
	return send
}

// consume is billing's hook: the orders records it processed.
func (a *app) consume(fs kgo.Fetches) {
	if a == nil {
		return
	}
	fs.EachRecord(func(r *kgo.Record) {
		if r.Topic != topicOrders || messageID(r) == "" {
			return
		}
		select {
		case a.consumed <- r:
		default:
		}
	})
}

func messageID(r *kgo.Record) string {
	for _, h := range r.Headers {
		if h.Key == messageIDHeader {
			return string(h.Value)
		}
	}
	return ""
}

// orderNumber is the number of an order key ("ord-0004711" → 4711).
func orderNumber(key []byte) int {
	n, _ := strconv.Atoi(strings.TrimLeft(strings.TrimPrefix(string(key), "ord-"), "0"))
	return n
}

// failure is the error text of a billing failure of kind on order n.
func (a *app) failure(kind, n int) string {
	if kind == failGateway {
		return fmt.Sprintf("payment gateway timeout after %dms (order %d)", []int{3000, 5000, 10000}[a.job.IntN(3)], n)
	}
	return fmt.Sprintf("java.lang.IllegalStateException: invalid currency XYZ for order %d\n\tat com.example.billing.CurrencyValidator.check(CurrencyValidator.java:%d)", n, 40+a.job.IntN(20))
}

func failureKind(msg string) int {
	if strings.Contains(msg, "invalid currency") {
		return failCurrency
	}
	return failGateway
}

func backoff(attempts int) time.Duration {
	d := appRetryBackoff << min(attempts-1, 10)
	return min(d, appRetryMaxBackoff)
}

// retryRow is one row of the retry table to insert.
type retryRow struct {
	messageID, source, destination string
	payload                        []byte
	headers                        string
	err                            string
	attempts, maxAttempts          int
	next                           time.Time // zero: none (dead, done)
	status                         string
	created                        time.Time
}

// newRetry is the retry row of an orders record billing failed on at t.
func (a *app) newRetry(r *kgo.Record, t time.Time) retryRow {
	kind := failGateway
	if a.job.IntN(5) < 2 {
		kind = failCurrency
	}
	row := retryRow{
		messageID: messageID(r), source: topicOrders, destination: topicOrders,
		payload: r.Value, headers: headersJSON(r.Headers),
		err: a.failure(kind, orderNumber(r.Key)), attempts: 1, maxAttempts: failMaxAttempts[kind],
		next: t.Add(backoff(1)), status: "waiting", created: t,
	}
	if kind == failCurrency && a.job.IntN(5) == 0 {
		row.source, row.destination = "checkout-api", "" // came over HTTP: nothing to republish to
	}
	return row
}

// attempt is one run of the retry job on a row at t: cured (done),
// failed again, or failed for the last time (dead).
func (a *app) attempt(row *retryRow, t time.Time) {
	kind := failureKind(row.err)
	if kind == failGateway && a.job.IntN(100) < 35 {
		row.status, row.next = "done", time.Time{}
		return
	}
	row.attempts++
	row.err = a.failure(kind, orderInError(row.err))
	if row.attempts >= row.maxAttempts {
		row.status, row.next = "dead", time.Time{}
		return
	}
	row.next = t.Add(backoff(row.attempts))
}

// orderInError is the order number in a failure's text (the retry table
// has no key column).
func orderInError(msg string) int {
	i := strings.Index(msg, "order ")
	if i < 0 {
		return 0
	}
	s := msg[i+len("order "):]
	if end := strings.IndexFunc(s, func(c rune) bool { return c < '0' || c > '9' }); end >= 0 {
		s = s[:end]
	}
	n, _ := strconv.Atoi(s)
	return n
}

// invoice is the next row for the destination whose topic is missing,
// created at t.
func (a *app) invoice(t, now time.Time) outboxRow {
	a.nextInvoice++
	id := fmt.Sprintf("inv-%06d", a.nextInvoice)
	payload, _ := json.Marshal(map[string]any{
		"invoice_id": id, "order_id": orderID(1 + a.job.IntN(max(a.nextInvoice*20, 1))),
		"amount": json.Number(fmt.Sprintf("%d.%02d", 1+a.job.IntN(500), a.job.IntN(100))), "currency": "EUR",
	})
	mid := uuid(a.job)
	// The relay tried once; the application gives up on the row after
	// appGiveUpAfter.
	age := now.Sub(t)
	row := outboxRow{
		messageID: mid, destination: AppMissingDestination, key: id, payload: payload,
		headers: headersJSON([]kgo.RecordHeader{{Key: "content-type", Value: []byte("application/json")}, {Key: messageIDHeader, Value: []byte(mid)}}),
		created: t, status: "pending", attempts: 1, lastAttempt: t,
		lastError: "org.apache.kafka.common.errors.TimeoutException: Topic " + AppMissingDestination + " not present in metadata after 60000 ms.",
	}
	if age >= appGiveUpAfter {
		row.status, row.lastError = "failed", row.lastError+"; "+giveUpNote
	}
	return row
}

// history writes the application's past at now: the outbox rows of the
// seeded orders and payments records recs (given their message id header;
// the records never published are left out of what it returns), billing's
// consumed ids and retry rows for the orders, and older invoice rows.
func (a *app) history(ctx context.Context, now time.Time, recs []*kgo.Record) ([]*kgo.Record, error) {
	if a == nil {
		return recs, nil
	}
	out := recs[:0]
	var rows []outboxRow
	var retries []retryRow
	type consumption struct {
		id string
		at time.Time
	}
	var consumed []consumption
	for _, r := range recs {
		if r.Topic != topicOrders && r.Topic != topicPayments {
			out = append(out, r)
			continue
		}
		row, send := a.record(r)
		if !row.confirmAt.IsZero() && !row.confirmAt.After(now) {
			row.status = "confirmed"
		}
		rows = append(rows, row)
		if !send {
			continue
		}
		out = append(out, r)
		if r.Topic != topicOrders {
			continue
		}
		// billing processed it a little after, or failed on it
		at := r.Timestamp.Add(time.Duration(50+a.job.IntN(450)) * time.Millisecond)
		if a.job.IntN(appRetryEvery) != 0 {
			consumed = append(consumed, consumption{row.messageID, at})
			continue
		}
		rr := a.newRetry(r, at)
		for rr.status == "waiting" && !rr.next.After(now) {
			t := rr.next
			a.attempt(&rr, t)
			if rr.status == "done" {
				consumed = append(consumed, consumption{rr.messageID, t})
			}
		}
		retries = append(retries, rr)
	}
	for t := now.Add(-appInvoiceHistory); t.Before(now); t = t.Add(appInvoiceEvery) {
		rows = append(rows, a.invoice(t, now))
	}

	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	ids, err := insertOutbox(ctx, tx, rows)
	if err != nil {
		return nil, err
	}
	for i, row := range rows {
		if row.status == "pending" && !row.confirmAt.IsZero() {
			a.confirms = append(a.confirms, confirm{ids[i], row.confirmAt})
		}
	}
	if err := insertRetries(ctx, tx, retries); err != nil {
		return nil, err
	}
	st, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO mqops_consumed (message_id, consumer, consumed_at) VALUES (?, ?, ?)`)
	if err != nil {
		return nil, err
	}
	for _, c := range consumed {
		if _, err := st.ExecContext(ctx, c.id, AppConsumer, dbTime(c.at)); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	if len(consumed) > 0 {
		a.sample = consumed[len(consumed)-1].id
	}
	sortConfirms(a.confirms)
	return out, nil
}

func sortConfirms(cs []confirm) {
	// insertion order is nearly time order: an insertion sort is cheap
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && cs[j].at.Before(cs[j-1].at); j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return dbTime(t)
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// insertOutbox inserts rows and returns their ids.
func insertOutbox(ctx context.Context, tx *sql.Tx, rows []outboxRow) ([]int64, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO mqops_outbox
		(message_id, destination, message_key, payload, headers, status, attempts, created_at, last_attempt_at, last_error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	ids := make([]int64, len(rows))
	for i, r := range rows {
		res, err := st.ExecContext(ctx, r.messageID, r.destination, r.key, r.payload, r.headers, r.status, r.attempts,
			dbTime(r.created), nullTime(r.lastAttempt), nullString(r.lastError))
		if err != nil {
			return nil, err
		}
		if ids[i], err = res.LastInsertId(); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

func insertRetries(ctx context.Context, tx *sql.Tx, rows []retryRow) error {
	if len(rows) == 0 {
		return nil
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO mqops_retry
		(message_id, source, destination, payload, headers, error, attempts, max_attempts, next_retry_at, status, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, r := range rows {
		if _, err := st.ExecContext(ctx, r.messageID, r.source, nullString(r.destination), r.payload, r.headers, r.err,
			r.attempts, r.maxAttempts, nullTime(r.next), r.status, dbTime(r.created)); err != nil {
			return err
		}
	}
	return nil
}

// run is the application's loop: every appTick, one short transaction
// writes what the producer and billing sent it and runs whatever job is
// due. A failed transaction (the database busy beyond its timeout, say,
// while a resend holds it) is logged and its work kept for the next tick.
func (a *app) run(ctx context.Context, report func(ctx context.Context, format string, args ...any)) {
	tick := time.NewTicker(appTick)
	defer tick.Stop()
	var lastJob, lastHousekeep, lastInvoice time.Time
	lastInvoice = time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	drain:
		for len(a.pendRows)+len(a.pendCons) < 4*appQueue {
			select {
			case r := <-a.rows:
				a.pendRows = append(a.pendRows, r)
			case r := <-a.consumed:
				a.pendCons = append(a.pendCons, r)
			default:
				break drain
			}
		}
		now := time.Now()
		job := now.Sub(lastJob) >= appJobEvery
		housekeep := now.Sub(lastHousekeep) >= appHousekeepEvery
		invoice := now.Sub(lastInvoice) >= appInvoiceEvery
		if invoice {
			a.pendRows = append(a.pendRows, a.invoice(now, now))
			lastInvoice = now
		}
		if err := a.step(ctx, now, job, housekeep); err != nil {
			report(ctx, "application database: %v", err)
			continue
		}
		if job {
			lastJob = now
		}
		if housekeep {
			lastHousekeep = now
		}
	}
}

// step is one transaction of the loop at now.
func (a *app) step(ctx context.Context, now time.Time, job, housekeep bool) error {
	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	// the producer's new rows
	ids, err := insertOutbox(ctx, tx, a.pendRows)
	if err != nil {
		return fmt.Errorf("record sends: %w", err)
	}
	var confirms []confirm
	for i, row := range a.pendRows {
		if !row.confirmAt.IsZero() {
			confirms = append(confirms, confirm{ids[i], row.confirmAt})
		}
	}

	// billing's processed records: consumed, or a retry row
	var consumed []string
	var retries []retryRow
	for _, r := range a.pendCons {
		if a.job.IntN(appRetryEvery) == 0 {
			retries = append(retries, a.newRetry(r, now))
		} else {
			consumed = append(consumed, messageID(r))
		}
	}
	if err := insertRetries(ctx, tx, retries); err != nil {
		return fmt.Errorf("record failures: %w", err)
	}

	// the confirmer: rows whose confirmation came
	all := append(a.confirms[:len(a.confirms):len(a.confirms)], confirms...)
	sortConfirms(all)
	n := 0
	for n < len(all) && !all[n].at.After(now) {
		n++
	}
	for lo := 0; lo < n; lo += appBatch {
		hi := min(lo+appBatch, n)
		args := make([]any, 0, hi-lo)
		for _, c := range all[lo:hi] {
			args = append(args, c.id)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE mqops_outbox SET status = 'confirmed' WHERE status = 'pending' AND id IN (`+placeholders(len(args))+`)`, args...); err != nil {
			return fmt.Errorf("confirm sends: %w", err)
		}
	}

	if job {
		if err := a.jobs(ctx, tx, now, &consumed); err != nil {
			return err
		}
	}
	if err := insertConsumed(ctx, tx, consumed, now); err != nil {
		return fmt.Errorf("record consumed ids: %w", err)
	}
	if housekeep {
		if err := housekeeping(ctx, tx, now); err != nil {
			return fmt.Errorf("housekeeping: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	a.confirms = all[n:]
	a.pendRows, a.pendCons = a.pendRows[:0], a.pendCons[:0]
	return nil
}

// jobs runs the retry job on the rows due and confirms the rows a resend
// sent; cured rows' message ids are added to consumed.
func (a *app) jobs(ctx context.Context, tx *sql.Tx, now time.Time, consumed *[]string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE mqops_outbox SET status = 'confirmed'
		WHERE status = 'sent' AND COALESCE(last_attempt_at, created_at) <= ?`, dbTime(now.Add(-appSentConfirm))); err != nil {
		return fmt.Errorf("confirm resent rows: %w", err)
	}
	q, err := tx.QueryContext(ctx, `SELECT id, COALESCE(message_id, ''), error, attempts, max_attempts FROM mqops_retry
		WHERE status = 'waiting' AND next_retry_at <= ? ORDER BY next_retry_at LIMIT 200`, dbTime(now))
	if err != nil {
		return fmt.Errorf("retry job: %w", err)
	}
	type due struct {
		id  int64
		row retryRow
	}
	var rows []due
	for q.Next() {
		d := due{row: retryRow{status: "waiting"}}
		if err := q.Scan(&d.id, &d.row.messageID, &d.row.err, &d.row.attempts, &d.row.maxAttempts); err != nil {
			q.Close()
			return fmt.Errorf("retry job: %w", err)
		}
		rows = append(rows, d)
	}
	q.Close()
	if err := q.Err(); err != nil {
		return fmt.Errorf("retry job: %w", err)
	}
	for _, d := range rows {
		before := d.row.attempts
		a.attempt(&d.row, now)
		// guarded: a row an operator changed meanwhile is left alone
		if _, err := tx.ExecContext(ctx, `UPDATE mqops_retry SET status = ?, attempts = ?, error = ?, next_retry_at = ?
			WHERE id = ? AND status = 'waiting' AND attempts = ?`,
			d.row.status, d.row.attempts, d.row.err, nullTime(d.row.next), d.id, before); err != nil {
			return fmt.Errorf("retry job: %w", err)
		}
		if d.row.status == "done" && d.row.messageID != "" {
			*consumed = append(*consumed, d.row.messageID)
		}
	}
	return nil
}

func insertConsumed(ctx context.Context, tx *sql.Tx, ids []string, now time.Time) error {
	for lo := 0; lo < len(ids); lo += appBatch {
		hi := min(lo+appBatch, len(ids))
		var sb strings.Builder
		args := make([]any, 0, 3*(hi-lo))
		at := dbTime(now)
		for i, id := range ids[lo:hi] {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?)")
			args = append(args, id, AppConsumer, at)
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO mqops_consumed (message_id, consumer, consumed_at) VALUES `+sb.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// housekeeping keeps the tables the size of a few minutes of traffic, as an
// application's cleanup jobs do, and gives up on rows pending too long.
func housekeeping(ctx context.Context, tx *sql.Tx, now time.Time) error {
	stmts := []struct {
		sql string
		ago time.Duration
	}{
		{`UPDATE mqops_outbox SET status = 'failed', last_error = COALESCE(last_error || '; ', '') || '` + giveUpNote + `'
			WHERE status = 'pending' AND created_at <= ?`, appGiveUpAfter},
		{`DELETE FROM mqops_outbox WHERE status = 'confirmed' AND created_at <= ?`, appKeepConfirmed},
		{`DELETE FROM mqops_outbox WHERE status = 'failed' AND created_at <= ?`, appKeepFailed},
		{`DELETE FROM mqops_retry WHERE status = 'done' AND created_at <= ?`, appKeepConfirmed},
		{`DELETE FROM mqops_retry WHERE status = 'dead' AND created_at <= ?`, appKeepFailed},
		{`DELETE FROM mqops_consumed WHERE consumed_at <= ?`, appKeepFailed},
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s.sql, dbTime(now.Add(-s.ago))); err != nil {
			return err
		}
	}
	return nil
}

func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}
