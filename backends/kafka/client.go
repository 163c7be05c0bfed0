// Package kafka is mqops' Kafka backend, built on IBM/sarama. No sarama type
// appears in its exported API.
package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/xdg-go/scram"
)

// SASL holds resolved SASL credentials (the password already read from its
// env var or file).
type SASL struct {
	Mechanism string // PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
	Username  string
	Password  string
}

// Config configures a connection to one Kafka cluster.
type Config struct {
	Brokers  []string
	ClientID string
	SASL     *SASL
	TLS      *tls.Config
	// Timeout bounds dialing and each request (default 10s).
	Timeout time.Duration
}

// Client is a lazily connected Kafka client. Creating it does no I/O; the
// first call connects. It is safe for concurrent use, but calls are
// serialised: one cluster call at a time per client.
type Client struct {
	cfg  Config
	name string

	mu     sync.Mutex // guards client/admin/watch, and serialises calls
	client sarama.Client
	admin  sarama.ClusterAdmin
	watch  *watch // of client's connections
	// second holds a second connection to coordinators of many groups,
	// watched by watch too (fetchCommitted).
	second map[int32]*sarama.Broker
	// rt caches the record times of committed offsets across snapshots
	// (timestamps.go).
	rt *recordTimes

	pubMu sync.Mutex // serialises Publish calls, guards pub
	pub   *publisher // Publish's producer, kept between calls (publish.go)
}

// New validates cfg and returns a client that connects on first use.
func New(cfg Config) (*Client, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("no Kafka brokers configured (set kafka.brokers in the context, or --brokers)")
	}
	for _, b := range cfg.Brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			return nil, fmt.Errorf("invalid Kafka broker address %q: want host:port", b)
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "mqops"
	}
	if cfg.SASL != nil {
		switch strings.ToUpper(cfg.SASL.Mechanism) {
		case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		default:
			return nil, fmt.Errorf("unsupported SASL mechanism %q (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", cfg.SASL.Mechanism)
		}
	}
	return &Client{cfg: cfg, name: strings.Join(cfg.Brokers, ",")}, nil
}

// Name is the bootstrap address list.
func (c *Client) Name() string { return c.name }

// Close releases the connections. It never waits for a call still in
// flight (one abandoned at its context's deadline): that call's connections
// are closed as soon as it returns.
func (c *Client) Close() error {
	c.closePublisher()
	if !c.mu.TryLock() {
		go func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.closeLocked()
		}()
		return nil
	}
	defer c.mu.Unlock()
	return c.closeLocked()
}

func (c *Client) closeLocked() error {
	var err error
	if c.admin != nil {
		err = c.admin.Close() // closes the client too
	} else if c.client != nil {
		err = c.client.Close()
	}
	for id, b := range c.second {
		_ = b.Close()
		delete(c.second, id)
	}
	c.admin, c.client = nil, nil
	return err
}

// saramaConfig is the configuration of a sarama client whose connections
// w watches: each dial, write and read is bounded by the timeout, and the
// first that runs out trips w (see watch.go).
func (c *Client) saramaConfig(w *watch) *sarama.Config {
	sc := sarama.NewConfig()
	sc.Version = sarama.MaxVersion // negotiated per request with ApiVersions
	sc.ClientID = c.cfg.ClientID
	sc.Net.DialTimeout = c.cfg.Timeout
	sc.Net.ReadTimeout = c.cfg.Timeout
	sc.Net.WriteTimeout = c.cfg.Timeout
	sc.Net.Proxy.Enable = true // not a proxy: the dialer that watches (and speaks TLS)
	dialer := &watchDialer{w: w, d: net.Dialer{Timeout: c.cfg.Timeout}}
	if c.cfg.TLS != nil {
		dialer.tls = c.cfg.TLS
	}
	sc.Net.Proxy.Dialer = dialer
	sc.Metadata.Retry.Max = 1
	sc.Metadata.Retry.Backoff = 200 * time.Millisecond
	sc.Metadata.Timeout = c.cfg.Timeout
	sc.Admin.Retry.Max = 2
	sc.Admin.Retry.Backoff = 200 * time.Millisecond
	sc.Admin.Timeout = c.cfg.Timeout
	if s := c.cfg.SASL; s != nil {
		sc.Net.SASL.Enable = true
		sc.Net.SASL.Handshake = true
		sc.Net.SASL.User = s.Username
		sc.Net.SASL.Password = s.Password
		switch strings.ToUpper(s.Mechanism) {
		case "PLAIN":
			sc.Net.SASL.Mechanism = sarama.SASLTypePlaintext
		case "SCRAM-SHA-256":
			sc.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA256
			sc.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: scram.SHA256} }
		case "SCRAM-SHA-512":
			sc.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
			sc.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: scram.SHA512} }
		}
	}
	return sc
}

// scramClient adapts xdg-go/scram to sarama.SCRAMClient.
type scramClient struct {
	hash scram.HashGeneratorFcn
	conv *scram.ClientConversation
}

func (s *scramClient) Begin(user, password, authzID string) error {
	cl, err := s.hash.NewClient(user, password, authzID)
	if err != nil {
		return err
	}
	s.conv = cl.NewConversation()
	return nil
}

func (s *scramClient) Step(challenge string) (string, error) { return s.conv.Step(challenge) }
func (s *scramClient) Done() bool                            { return s.conv.Done() }

// connection returns the watch of the client's connections, starting a
// new one (for a new client) when there is no client or its watch tripped.
// c.mu must be held.
func (c *Client) connection() *watch {
	if c.client != nil && !c.client.Closed() && c.watch != nil && c.watch.healthy() {
		return c.watch
	}
	c.closeLocked()
	c.watch = newWatch(c.cfg.Timeout, true)
	return c.watch
}

// connected returns the sarama client and admin, connecting if needed,
// its connections watched by w. c.mu must be held.
func (c *Client) connected(w *watch) (sarama.Client, sarama.ClusterAdmin, error) {
	if c.client != nil && !c.client.Closed() {
		return c.client, c.admin, nil
	}
	cl, err := sarama.NewClient(c.cfg.Brokers, c.saramaConfig(w))
	if err != nil {
		return nil, nil, c.explain(err)
	}
	ad, err := sarama.NewClusterAdminFromClient(cl)
	if err != nil {
		_ = cl.Close()
		return nil, nil, c.explain(err)
	}
	c.client, c.admin = cl, ad
	return cl, ad, nil
}

// explain turns sarama's connection errors into a message an operator can
// act on. It never includes credentials.
func (c *Client) explain(err error) error {
	if err == nil {
		return nil
	}
	var stall *StallError
	if errors.As(err, &stall) {
		return stall
	}
	var big *ReplyTooLargeError
	if errors.As(err, &big) {
		return big
	}
	if big := replyTooLarge(err); big != "" {
		return &Error{Op: "kafka " + c.name + " " + big}
	}
	var what string
	switch {
	case errors.Is(err, sarama.ErrSASLAuthenticationFailed):
		what = fmt.Sprintf("authentication failed for SASL user %q (%s): check the username and the password source", c.cfg.SASL.Username, strings.ToUpper(c.cfg.SASL.Mechanism))
	case errors.Is(err, sarama.ErrOutOfBrokers):
		what = "cannot reach any Kafka broker at " + c.name
	default:
		what = "kafka " + c.name
	}
	return &Error{Op: what, Err: err}
}

// Error is a Kafka backend error with the operator-facing context first.
type Error struct {
	Op  string
	Err error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Op
	}
	return e.Op + ": " + e.Err.Error()
}
func (e *Error) Unwrap() error { return e.Err }

// withClient runs fn holding the client lock, connecting if needed, and
// returns early with a clear error if ctx ends first or a broker stops
// answering (see watch.go): there is no deadline on the whole call, so a
// big cluster that keeps answering is read whole however many requests
// that takes, while a broker silent for the timeout ends it at once. sarama
// has no context support: an abandoned call's connections are closed, so
// that it ends in the background at once while the lock keeps later calls
// from piling up; the next call reconnects.
func (c *Client) withClient(ctx context.Context, fn func(sarama.Client, sarama.ClusterAdmin) error) error {
	if err := c.lock(ctx, &c.mu, "request"); err != nil {
		return err
	}
	w := c.connection()
	done := make(chan error, 1)
	go func() {
		defer c.mu.Unlock()
		cl, ad, err := c.connected(w)
		if err == nil {
			err = fn(cl, ad)
			if (err != nil && isConnLoss(err)) || !w.healthy() {
				// drop the client so the next call reconnects from scratch
				c.closeLocked()
			}
		}
		done <- err
	}()
	select {
	case err := <-done:
		if f := w.failure(); f != nil && err != nil {
			return c.explain(f)
		}
		return c.clear(err)
	case <-w.done():
		return c.explain(w.failure())
	case <-ctx.Done():
		err := c.ctxErr(ctx, "contacting "+c.name)
		w.trip(err)
		return err
	}
}

// lock locks mu, unless ctx ends first: then the lock is released as soon
// as it is had, and the error says the call waited for a previous what.
func (c *Client) lock(ctx context.Context, mu *sync.Mutex, what string) error {
	locked := make(chan struct{})
	go func() {
		mu.Lock()
		close(locked)
	}()
	select {
	case <-locked:
		return nil
	case <-ctx.Done():
		go func() { <-locked; mu.Unlock() }()
		return c.ctxErr(ctx, "waiting for a previous "+what+" to "+c.name+" to finish")
	}
}

// clear makes sarama's errors about replies too large to read say so.
func (c *Client) clear(err error) error {
	if big := replyTooLarge(err); big != "" {
		return &Error{Op: "kafka " + c.name + " " + big}
	}
	return err
}

func (c *Client) ctxErr(ctx context.Context, what string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &Error{Op: "timed out " + what, Err: ctx.Err()}
	}
	return &Error{Op: "cancelled " + what, Err: ctx.Err()}
}

// isConnLoss reports whether err says a connection was lost: the network
// failed, or the broker closed it (EOF: a request in flight then, or sent
// on it before sarama noticed, ends so), or sarama has no broker left.
func isConnLoss(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, sarama.ErrOutOfBrokers) || errors.Is(err, sarama.ErrNotConnected) || errors.Is(err, sarama.ErrClosedClient)
}
