package kafka

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// A peer that stops answering must fail the operation within the timeout,
// not after sarama's retries have met the same silence again (a metadata
// retry, an admin retry, the next seed broker: a multiple of the timeout).
// Every connection of a sarama client mqops opens goes through a
// watchDialer: a dial, read or write that times out marks its broker dead
// and trips the client's watch. From then on the dead broker's connections
// are closed and new dials to it fail at once, so sarama's retries end fast,
// and the operation returns the stall as its error. Fast errors (a refused
// connection, NOT_LEADER, a coordinator that moved) are not timeouts: their
// retries stay.

// StallError says a broker stopped answering: it did not accept a
// connection, or did not answer a request, within the timeout. It is a
// net.Error whose Timeout is true, so sarama treats it as the timeout it
// replaces.
type StallError struct {
	Addr  string
	What  string // "did not answer", "did not accept a connection"
	After time.Duration
}

func (e *StallError) Error() string {
	return fmt.Sprintf("kafka %s %s within %s", e.Addr, e.What, e.After)
}

// Timeout and Temporary make it a net.Error.
func (e *StallError) Timeout() bool   { return true }
func (e *StallError) Temporary() bool { return false }

// Unwrap makes errors.Is(err, os.ErrDeadlineExceeded) hold, and with it
// net.Error's Timeout.
func (e *StallError) Unwrap() error { return os.ErrDeadlineExceeded }

type timeoutError interface{ Timeout() bool }

// peerGivenUp reports an error of a watch giving a broker up: it stopped
// answering, or announced a reply too large to read. Retrying is pointless.
func peerGivenUp(err error) bool {
	var stall *StallError
	var big *ReplyTooLargeError
	return errors.As(err, &stall) || errors.As(err, &big)
}

// isTimeout reports a dial, read or write that ran out of time.
func isTimeout(err error) bool {
	var te timeoutError
	return errors.As(err, &te) && te.Timeout()
}

// watch follows the connections of one operation's sarama clients; the
// first stall trips it.
type watch struct {
	timeout time.Duration
	// all: a stall ends the whole operation, every connection is closed
	// and no new one opened (a read-only call). Otherwise only the dead
	// broker's connections are (a move still commits through the others).
	all bool

	mu      sync.Mutex
	conns   map[*watchedConn]struct{}
	dead    map[string]error
	err     error // the first stall, or why the watch was tripped
	tripped chan struct{}
	// optional counts the calls to optionally in progress: a broker given
	// up meanwhile is given up alone, without tripping the watch.
	optional int
	// replies counts the replies read on the watched connections: the
	// requests answered, counted on the wire (tests measure a snapshot's
	// cost with it).
	replies atomic.Int64
}

func newWatch(timeout time.Duration, all bool) *watch {
	return &watch{timeout: timeout, all: all, conns: map[*watchedConn]struct{}{}, dead: map[string]error{}, tripped: make(chan struct{})}
}

// done is closed once the watch tripped.
func (w *watch) done() <-chan struct{} { return w.tripped }

// failure is the stall (or other reason) that tripped the watch, nil when
// it did not.
func (w *watch) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// stall records that addr stopped answering and returns the error saying so.
func (w *watch) stall(addr, what string) error {
	return w.refuse(addr, &StallError{Addr: addr, What: what, After: w.timeout})
}

// refuse records that addr is not to be talked to any more, because of
// err, and returns the error that says so (the first one given for addr).
// Within optionally, only addr's connections are closed and the watch is
// not tripped: the operation goes on without that broker.
func (w *watch) refuse(addr string, err error) error {
	w.mu.Lock()
	if prev := w.dead[addr]; prev != nil {
		w.mu.Unlock()
		return prev
	}
	w.dead[addr] = err
	if w.optional > 0 {
		w.closeLocked(addr)
	} else {
		w.tripLocked(err, addr)
	}
	w.mu.Unlock()
	return err
}

// optionally runs fn, a part of the operation it can do without: a broker
// that stops answering meanwhile (or announces a reply too large) fails
// fn's requests to it within the timeout, as always, and is given up for
// the rest of the operation, but the operation is not ended for it. Its
// connections are closed; the client reconnects on its next call (see
// healthy).
func (w *watch) optionally(fn func()) {
	w.mu.Lock()
	w.optional++
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.optional--
		w.mu.Unlock()
	}()
	fn()
}

// healthy reports a watch that neither tripped nor gave up a broker: its
// client's connections can serve another call.
func (w *watch) healthy() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err == nil && len(w.dead) == 0
}

// trip ends the operation for reason (its context ended): every
// connection is closed and no new one is opened.
func (w *watch) trip(reason error) {
	w.mu.Lock()
	w.all = true
	w.tripLocked(reason, "")
	w.mu.Unlock()
}

// tripLocked records reason as the watch's failure (the first one wins)
// and closes the connections concerned: those to addr, or all. w.mu is
// held.
func (w *watch) tripLocked(reason error, addr string) {
	if w.err == nil {
		w.err = reason
		close(w.tripped)
	}
	if w.all {
		addr = ""
	}
	w.closeLocked(addr)
}

// closeLocked closes the connections to addr, or all when addr is "".
// w.mu is held.
func (w *watch) closeLocked(addr string) {
	for c := range w.conns {
		if addr == "" || c.addr == addr {
			delete(w.conns, c)
			_ = c.Conn.Close()
		}
	}
}

// refused returns why addr may not be dialed any more, nil when it may.
func (w *watch) refused(addr string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.dead[addr]; err != nil {
		return err
	}
	if w.all && w.err != nil {
		return w.err
	}
	return nil
}

func (w *watch) add(c *watchedConn) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dead[c.addr] != nil || (w.all && w.err != nil) {
		return false
	}
	w.conns[c] = struct{}{}
	return true
}

func (w *watch) remove(c *watchedConn) {
	w.mu.Lock()
	delete(w.conns, c)
	w.mu.Unlock()
}

// watchDialer dials brokers for sarama (Config.Net.Proxy.Dialer), bounded
// by the timeout, and watches the connections. It also speaks TLS (sarama's
// own TLS is off), so that what it hands sarama is the Kafka byte stream,
// whose replies it bounds in size (replyLimit).
type watchDialer struct {
	w   *watch
	d   net.Dialer
	tls *tls.Config // nil: plaintext
}

func (d *watchDialer) Dial(network, addr string) (net.Conn, error) {
	if err := d.w.refused(addr); err != nil {
		return nil, err
	}
	raw, err := d.d.Dial(network, addr)
	if err != nil {
		if isTimeout(err) {
			return nil, d.w.stall(addr, "did not accept a connection")
		}
		return nil, err
	}
	wc := &watchedConn{Conn: raw, w: d.w, addr: addr}
	if !d.w.add(wc) {
		_ = raw.Close()
		return nil, d.w.refused(addr)
	}
	var conn net.Conn = wc
	if d.tls != nil {
		tc := tls.Client(wc, serverName(addr, d.tls))
		_ = tc.SetDeadline(time.Now().Add(d.w.timeout))
		if err := tc.Handshake(); err != nil {
			_ = tc.Close()
			return nil, err // a stall (the watched connection timed out), or the TLS failure
		}
		_ = tc.SetDeadline(time.Time{})
		conn = tc
	}
	return &framedConn{Conn: conn, w: d.w, addr: addr, limit: maxReplyBytes}, nil
}

// serverName is cfg with the host of addr as the name to verify, unless
// cfg names one (as sarama does).
func serverName(addr string, cfg *tls.Config) *tls.Config {
	if cfg.ServerName != "" {
		return cfg
	}
	c := cfg.Clone()
	c.ServerName, _, _ = net.SplitHostPort(addr)
	return c
}

// ReplyTooLargeError says a broker announced a reply longer than mqops
// reads: it is refused before anything is allocated for it.
type ReplyTooLargeError struct {
	Addr        string
	Size, Limit int64
}

func (e *ReplyTooLargeError) Error() string {
	return fmt.Sprintf("kafka %s announced a reply of %s, more than the %d MiB mqops reads (not a Kafka broker, or a hostile one?)", e.Addr, sizeText(e.Size), e.Limit>>20)
}

// framedConn follows the framing of the replies it reads (a 4-byte length,
// then that many bytes) and refuses a reply longer than limit as soon as
// its length is read, before sarama allocates a buffer for it (sarama
// allocates an ApiVersions reply of any announced length).
type framedConn struct {
	net.Conn
	w     *watch
	addr  string
	limit int64
	hdr   [4]byte
	have  int   // bytes of the current length read
	left  int64 // bytes of the current reply still to come
}

func (c *framedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	for i := 0; i < n; {
		if c.left > 0 {
			k := min(int64(n-i), c.left)
			c.left -= k
			i += int(k)
			continue
		}
		c.hdr[c.have] = b[i]
		c.have++
		i++
		if c.have == len(c.hdr) {
			c.have = 0
			c.w.replies.Add(1)
			c.left = int64(binary.BigEndian.Uint32(c.hdr[:]))
			if c.left > c.limit {
				return 0, c.w.refuse(c.addr, &ReplyTooLargeError{Addr: c.addr, Size: c.left, Limit: c.limit})
			}
		}
	}
	return n, err
}

// watchedConn reports its timeouts to the watch.
type watchedConn struct {
	net.Conn
	w    *watch
	addr string
}

func (c *watchedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil && isTimeout(err) {
		err = c.w.stall(c.addr, "did not answer")
	}
	return n, err
}

func (c *watchedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err != nil && isTimeout(err) {
		err = c.w.stall(c.addr, "did not answer")
	}
	return n, err
}

func (c *watchedConn) Close() error {
	c.w.remove(c)
	return c.Conn.Close()
}
