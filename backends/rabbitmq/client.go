// Package rabbitmq is mqops' RabbitMQ backend: the management HTTP API for
// observing (overview, queues, bindings, consumers, routes), AMQP 0-9-1
// (amqp091-go) for peeking at and moving messages. No amqp091 type appears
// in its exported API, and no error it returns holds the password.
package rabbitmq

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqops/mqops/backends"
)

// DefaultTimeout bounds every HTTP call and AMQP dial when Config.Timeout
// is zero.
const DefaultTimeout = 10 * time.Second

// DefaultPageSize is the /api/queues page size.
const DefaultPageSize = 500

// DefaultMaxReply bounds the size of one management API reply.
const DefaultMaxReply = 64 << 20

// Config configures a connection to one RabbitMQ broker or cluster.
type Config struct {
	URL           string // amqp:// or amqps://, without password; its vhost is ignored (each call names one)
	ManagementURL string // http(s)://host:15672
	Username      string
	Password      string // resolved by the caller from its env var or file
	// Vhosts limits listings to these vhosts; empty: every vhost the user sees.
	Vhosts []string
	TLS    *tls.Config // for amqps:// and https:// (cloned per connection)
	// Timeout bounds every HTTP call and AMQP dial (default 10s).
	Timeout time.Duration
	// PageSize is the /api/queues page size (default 500; tests use less).
	PageSize int
	// MaxReply bounds each management API reply in bytes (default 64 MiB);
	// a longer one fails the call with an error that says so.
	MaxReply int64
	// MaxQueues bounds a queue listing (default DefaultMaxQueues).
	MaxQueues int
	// OnPage, when set, is told of each page of a queue listing: the page
	// read, the page count the API claims, the queues so far (for a
	// progress line). It is called from the listing's goroutine.
	OnPage func(page, pages, queues int)
}

// Client talks to one RabbitMQ. Creating it does no I/O; it is safe for
// concurrent use.
type Client struct {
	cfg  Config
	base *url.URL
	amqp *url.URL // nil when no AMQP URL is configured
	http *http.Client

	versionMu sync.Mutex
	version   string // RabbitMQ version, fetched once (whether a peek is safe depends on it)

	dials atomic.Int64 // AMQP connections opened (tests count them)
}

// New validates cfg. It does no I/O.
func New(cfg Config) (*Client, error) {
	if cfg.ManagementURL == "" {
		return nil, errors.New("no RabbitMQ management URL configured (set rabbitmq.management-url, or --management-url)")
	}
	u, err := url.Parse(cfg.ManagementURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("invalid RabbitMQ management URL: want http(s)://host:port")
	}
	if u.User != nil {
		return nil, errors.New("invalid RabbitMQ management URL: credentials must not be in the URL (use username and password-env or password-file)")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	c := &Client{cfg: cfg, base: u}
	if cfg.URL != "" {
		a, err := url.Parse(cfg.URL)
		if err != nil || (a.Scheme != "amqp" && a.Scheme != "amqps") || a.Host == "" {
			return nil, errors.New("invalid RabbitMQ URL: want amqp://host:port or amqps://host:port")
		}
		if _, has := a.User.Password(); has {
			return nil, errors.New("invalid RabbitMQ URL: it contains a password (use password-env or password-file)")
		}
		c.amqp = a
	}
	if c.cfg.Timeout <= 0 {
		c.cfg.Timeout = DefaultTimeout
	}
	if c.cfg.PageSize <= 0 {
		c.cfg.PageSize = DefaultPageSize
	}
	if c.cfg.MaxReply <= 0 {
		c.cfg.MaxReply = DefaultMaxReply
	}
	if c.cfg.MaxQueues <= 0 {
		c.cfg.MaxQueues = DefaultMaxQueues
	}
	var tc *tls.Config
	if cfg.TLS != nil {
		tc = cfg.TLS.Clone()
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: c.cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   c.cfg.Timeout,
		ResponseHeaderTimeout: c.cfg.Timeout,
		MaxIdleConnsPerHost:   max(PageParallel, DeadLetterParallel), // kept alive for the parallel calls
		IdleConnTimeout:       60 * time.Second,
	}
	c.http = &http.Client{Transport: tr, Timeout: c.cfg.Timeout}
	return c, nil
}

// SetProgress sets Config.OnPage; call it before the client is used.
func (c *Client) SetProgress(f func(page, pages, queues int)) { c.cfg.OnPage = f }

// Name is the management API's host:port.
func (c *Client) Name() string { return c.base.Host }

// Close releases idle HTTP connections. AMQP connections live only for the
// duration of a call.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// ErrNotFound matches (errors.Is) the errors for an unknown queue, vhost or
// exchange.
var ErrNotFound = errors.New("not found")

// Error is a RabbitMQ backend error. Its text is meant for an operator and
// never holds credentials; untrusted names in it are sanitized.
type Error struct {
	Op     string // what failed, in an operator's words
	Status int    // HTTP status, or AMQP reply code, when there was one
	Err    error
}

func (e *Error) Error() string {
	if e.Err == nil || e.Err == context.DeadlineExceeded || e.Err == context.Canceled || e.Err == errReplyTooLarge {
		return e.Op // it says "timed out", "cancelled" or "larger than" already
	}
	return e.Op + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNotFound) true for 404s.
func (e *Error) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

func notFound(format string, args ...any) error {
	return &Error{Op: fmt.Sprintf(format, args...), Status: http.StatusNotFound}
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// quote is "s" with s sanitized, for names in error messages.
func quote(s string) string { return `"` + backends.SafeText(s) + `"` }

// mgmt is how errors name the management API.
func (c *Client) mgmt() string {
	return "RabbitMQ management API at " + c.base.Scheme + "://" + c.base.Host
}

// get fetches path (its segments already escaped with seg) into out.
func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	u := *c.base
	u.RawPath = c.base.Path + path
	u.Path, _ = url.PathUnescape(u.RawPath)
	if q != nil {
		u.RawQuery = q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return &Error{Op: "building a request to the " + c.mgmt(), Err: err}
	}
	req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // drop the URL: short, and credential-free whatever happens
		}
		switch {
		case errors.Is(ctx.Err(), context.Canceled):
			return &Error{Op: "cancelled while calling the " + c.mgmt(), Err: context.Canceled}
		case ctx.Err() != nil || isTimeout(err):
			return &Error{Op: fmt.Sprintf("timed out calling the %s for %s (after %s)", c.mgmt(), backends.SafeText(u.Path), c.cfg.Timeout),
				Err: context.DeadlineExceeded}
		}
		return &Error{Op: "cannot reach the " + c.mgmt(), Err: errors.New(netReason(err))}
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return &Error{Op: fmt.Sprintf("authentication failed for user %s at the %s%s", quote(c.cfg.Username), c.mgmt(), c.noPasswordHint()), Status: resp.StatusCode}
	case resp.StatusCode == http.StatusForbidden:
		return &Error{Op: fmt.Sprintf("user %s may not read %s from the %s (it needs the monitoring or management tag, and access to the vhost)",
			quote(c.cfg.Username), backends.SafeText(u.Path), c.mgmt()), Status: resp.StatusCode}
	case resp.StatusCode == http.StatusNotFound:
		return &Error{Op: "not found: " + backends.SafeText(u.Path), Status: resp.StatusCode}
	case resp.StatusCode/100 != 2:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return &Error{Op: fmt.Sprintf("the %s answered %s for %s", c.mgmt(), resp.Status, backends.SafeText(u.Path)), Status: resp.StatusCode,
			Err: errors.New(backends.SafeText(strings.TrimSpace(string(body))))}
	}
	dec := json.NewDecoder(&boundedReader{r: resp.Body, n: c.cfg.MaxReply})
	dec.UseNumber()
	decode := dec.Decode
	if sd, ok := out.(streamDecoder); ok {
		decode = func(any) error { return sd.decodeFrom(dec) }
	}
	if err := decode(out); err != nil {
		switch {
		case errors.Is(ctx.Err(), context.Canceled):
			return &Error{Op: "cancelled while reading from the " + c.mgmt(), Err: context.Canceled}
		case ctx.Err() != nil || isTimeout(err):
			return &Error{Op: fmt.Sprintf("timed out reading the answer of the %s for %s (after %s)", c.mgmt(), backends.SafeText(u.Path), c.cfg.Timeout),
				Err: context.DeadlineExceeded}
		case errors.Is(err, errReplyTooLarge):
			return &Error{Op: fmt.Sprintf("the answer of the %s for %s is larger than %s: refused", c.mgmt(), backends.SafeText(u.Path), fmtBytes(c.cfg.MaxReply)),
				Err: errReplyTooLarge}
		}
		return &Error{Op: "cannot decode the answer of the " + c.mgmt() + " for " + backends.SafeText(u.Path), Err: err}
	}
	return nil
}

// streamDecoder is a reply read piece by piece (a page of queues, whose
// item count is checked as it is read).
type streamDecoder interface {
	decodeFrom(dec *json.Decoder) error
}

// errReplyTooLarge is a management API reply longer than MaxReply.
var errReplyTooLarge = errors.New("reply too large")

// boundedReader reads at most n bytes of r; a byte more is
// errReplyTooLarge (the end of r at exactly n is not).
type boundedReader struct {
	r io.Reader
	n int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.n <= 0 {
		var one [1]byte
		if k, err := b.r.Read(one[:]); k > 0 {
			return 0, errReplyTooLarge
		} else if err != nil {
			return 0, err
		}
		return 0, nil
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	k, err := b.r.Read(p)
	b.n -= int64(k)
	return k, err
}

// fmtBytes is a size in MiB or KiB.
func fmtBytes(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	if n >= 1<<10 && n%(1<<10) == 0 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// netReason shortens a dial error to its cause ("connection refused").
func netReason(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		err = oe.Err
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.HasPrefix(s, "connect: ") {
		s = s[i+2:]
	}
	return backends.SafeText(strings.TrimPrefix(s, "connect: "))
}

// seg escapes one path segment (a vhost, queue or exchange name).
func seg(s string) string { return url.PathEscape(s) }

// rabbitVersion is the broker's version, asked once.
func (c *Client) rabbitVersion(ctx context.Context) (string, error) {
	c.versionMu.Lock()
	defer c.versionMu.Unlock()
	if c.version == "" {
		var o struct {
			Version string `json:"rabbitmq_version"`
		}
		if err := c.get(ctx, "/api/overview", url.Values{"columns": {"rabbitmq_version"}}, &o); err != nil {
			return "", err
		}
		c.version = o.Version
	}
	return c.version, nil
}

// noPasswordHint says, after an authentication failure, that no password
// was given at all (the usual cause when trying a context or flags).
func (c *Client) noPasswordHint() string {
	if c.cfg.Password != "" {
		return ""
	}
	return " (no password was given: set password-env or password-file in the context, or pass --rabbitmq-password-env)"
}
