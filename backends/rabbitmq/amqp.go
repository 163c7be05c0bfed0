package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/mqops/mqops/backends"
)

// dial opens an AMQP connection to vhost with the configured credentials,
// bounded by ctx and the configured timeout (the TCP connect, TLS and AMQP
// handshakes together). name is the connection name the management UI
// shows.
func (c *Client) dial(ctx context.Context, vhost, name string) (*amqp.Connection, error) {
	if c.amqp == nil {
		return nil, errors.New("no RabbitMQ AMQP URL configured (set rabbitmq.url, or --rabbitmq-url)")
	}
	u := *c.amqp
	user := c.cfg.Username
	if user == "" && u.User != nil {
		user = u.User.Username()
	}
	u.User = url.UserPassword(user, c.cfg.Password)
	u.Path, u.RawPath = "/"+vhost, "/"+url.PathEscape(vhost)
	cfg := amqp.Config{
		Dial:       amqp.DefaultDial(c.cfg.Timeout),
		Heartbeat:  10 * time.Second,
		Properties: amqp.Table{"connection_name": name, "product": "mqops"},
	}
	if c.cfg.TLS != nil {
		cfg.TLSClientConfig = c.cfg.TLS.Clone() // amqp091 writes ServerName into it
	}
	c.dials.Add(1)
	type res struct {
		conn *amqp.Connection
		err  error
	}
	out := make(chan res, 1)
	go func() {
		conn, err := amqp.DialConfig(u.String(), cfg)
		out <- res{conn, err}
	}()
	timer := time.NewTimer(c.cfg.Timeout)
	defer timer.Stop()
	abandon := func() {
		go func() {
			if r := <-out; r.conn != nil {
				_ = r.conn.CloseDeadline(time.Now().Add(time.Second))
			}
		}()
	}
	select {
	case r := <-out:
		if r.err != nil {
			return nil, c.dialErr(r.err, vhost)
		}
		return r.conn, nil
	case <-timer.C:
		abandon()
		return nil, &Error{Op: fmt.Sprintf("timed out connecting to RabbitMQ at %s (after %s)", c.amqp.Host, c.cfg.Timeout), Err: context.DeadlineExceeded}
	case <-ctx.Done():
		abandon()
		if errors.Is(ctx.Err(), context.Canceled) {
			return nil, &Error{Op: "cancelled while connecting to RabbitMQ at " + c.amqp.Host, Err: context.Canceled}
		}
		return nil, &Error{Op: "timed out connecting to RabbitMQ at " + c.amqp.Host, Err: context.DeadlineExceeded}
	}
}

// session is one AMQP connection whose every blocking call is bounded by
// the configured timeout and by ctx: amqp091 calls take no context, so
// past either bound the connection is closed, which makes the call return.
// The session is then dead, and every later call fails at once with the
// first failure: a command never goes on calling a peer that stopped
// answering. Closing the connection requeues whatever it held unacked.
type session struct {
	c    *Client
	conn *amqp.Connection
	ctx  context.Context
	stop func() bool
	mu   sync.Mutex
	dead error
}

// openSession dials vhost (bounded as dial is) and returns the session.
func (c *Client) openSession(ctx context.Context, vhost, name string) (*session, error) {
	conn, err := c.dial(ctx, vhost, name)
	if err != nil {
		return nil, err
	}
	s := &session{c: c, conn: conn, ctx: ctx}
	s.stop = context.AfterFunc(ctx, func() { s.kill(nil) })
	return s, nil
}

// kill closes the connection at once (a dead peer gets no grace), first
// recording why when err is set.
func (s *session) kill(err error) {
	s.mu.Lock()
	if s.dead == nil && err != nil {
		s.dead = err
	}
	s.mu.Unlock()
	_ = s.conn.CloseDeadline(time.Now())
}

// failed is the error that ended the session, nil while it lives.
func (s *session) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead != nil {
		return s.dead
	}
	switch {
	case errors.Is(s.ctx.Err(), context.Canceled):
		s.dead = &Error{Op: "cancelled", Err: context.Canceled}
	case s.ctx.Err() != nil:
		s.dead = &Error{Op: "timed out", Err: context.DeadlineExceeded}
	}
	return s.dead
}

// call runs fn, a blocking amqp091 call named by what ("opening a
// channel"), bounded by the timeout and ctx.
func (s *session) call(what string, fn func() error) error {
	if err := s.failed(); err != nil {
		return err
	}
	t := time.AfterFunc(s.c.cfg.Timeout, func() {
		s.kill(&Error{Op: fmt.Sprintf("timed out %s on RabbitMQ at %s (after %s)", what, s.c.amqp.Host, s.c.cfg.Timeout),
			Err: context.DeadlineExceeded})
	})
	err := fn()
	t.Stop()
	if dead := s.failed(); dead != nil {
		return dead
	}
	return err
}

// close closes the connection, waiting little for a peer that does not
// answer (what it held unacknowledged is requeued either way).
func (s *session) close() {
	s.stop()
	if s.failed() == nil {
		_ = s.conn.CloseDeadline(time.Now().Add(min(s.c.cfg.Timeout, time.Second)))
	}
}

// closeConn closes an AMQP connection without waiting long for a dead peer.
func (c *Client) closeConn(conn *amqp.Connection) {
	_ = conn.CloseDeadline(time.Now().Add(min(c.cfg.Timeout, 5*time.Second)))
}

// dialErr words a dial failure for an operator, without the URL (which
// holds the password).
func (c *Client) dialErr(err error, vhost string) error {
	where := "RabbitMQ at " + c.amqp.Scheme + "://" + c.amqp.Host
	var ae *amqp.Error
	if errors.As(err, &ae) {
		switch {
		case strings.Contains(ae.Reason, "vhost") && strings.Contains(ae.Reason, "not found"):
			return notFound("vhost %s not found on %s", quote(vhost), where)
		case strings.Contains(ae.Reason, "vhost"):
			return &Error{Op: fmt.Sprintf("user %s has no access to vhost %s on %s", quote(c.cfg.Username), quote(vhost), where), Status: ae.Code,
				Err: errors.New(backends.SafeText(c.redact(ae.Reason)))}
		case ae.Code == amqp.AccessRefused || errors.Is(err, amqp.ErrCredentials):
			return &Error{Op: fmt.Sprintf("authentication failed for user %s on %s%s", quote(c.cfg.Username), where, c.noPasswordHint()), Status: ae.Code}
		case ae.Code == amqp.NotAllowed:
			return &Error{Op: fmt.Sprintf("%s refused the connection: %s", where, backends.SafeText(c.redact(ae.Reason))), Status: ae.Code}
		}
		return &Error{Op: "cannot connect to " + where, Status: ae.Code, Err: errors.New(backends.SafeText(c.redact(ae.Reason)))}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &Error{Op: fmt.Sprintf("timed out connecting to RabbitMQ at %s (after %s)", c.amqp.Host, c.cfg.Timeout), Err: context.DeadlineExceeded}
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return &Error{Op: "cannot reach " + where, Err: errors.New(netReason(err))}
	}
	return &Error{Op: "cannot connect to " + where, Err: errors.New(backends.SafeText(c.redact(err.Error())))}
}

// redact removes the password from a message, should a library echo it.
func (c *Client) redact(s string) string {
	if c.cfg.Password != "" {
		s = strings.ReplaceAll(s, c.cfg.Password, "REDACTED")
		s = strings.ReplaceAll(s, url.QueryEscape(c.cfg.Password), "REDACTED")
	}
	return s
}

// chanErr words a channel-level failure (a passive declare of a missing
// queue closes the channel with 404, a permission problem with 403).
func (c *Client) chanErr(err error, vhost, queue string) error {
	var ae *amqp.Error
	if errors.As(err, &ae) {
		switch ae.Code {
		case amqp.NotFound:
			return notFound("queue %s not found in vhost %s", quote(queue), quote(vhost))
		case amqp.AccessRefused:
			return &Error{Op: fmt.Sprintf("user %s may not use queue %s in vhost %s", quote(c.cfg.Username), quote(queue), quote(vhost)),
				Status: ae.Code, Err: errors.New(backends.SafeText(ae.Reason))}
		}
		return &Error{Op: fmt.Sprintf("RabbitMQ refused an operation on queue %s in vhost %s", quote(queue), quote(vhost)),
			Status: ae.Code, Err: errors.New(backends.SafeText(ae.Reason))}
	}
	if errors.Is(err, amqp.ErrClosed) {
		return &Error{Op: "the connection to RabbitMQ was closed", Err: err}
	}
	return &Error{Op: "RabbitMQ", Err: errors.New(backends.SafeText(c.redact(err.Error())))}
}

// amqpReason is the broker's reason for closing a channel or connection.
func amqpReason(e *amqp.Error) string {
	if e == nil {
		return "closed"
	}
	return backends.SafeText(e.Reason)
}
