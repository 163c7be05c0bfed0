// Package rabbitmq is mqops' RabbitMQ backend: the management HTTP API for
// listing, AMQP (amqp091-go) for peeking. No amqp091 type appears in its
// exported API.
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
	"time"

	"github.com/mqops/mqops/backends"
)

// Config configures a connection to one RabbitMQ broker or cluster.
type Config struct {
	URL           string // amqp:// or amqps://, without password
	ManagementURL string // http(s)://host:15672
	Username      string
	Password      string // resolved by the caller from its env var or file
	Vhosts        []string
	TLS           *tls.Config
	Timeout       time.Duration // bounds every HTTP call and AMQP dial (default 10s)
	PageSize      int           // /api/queues page size (default 500)
}

// Client talks to RabbitMQ. Creating it does no I/O.
type Client struct {
	cfg  Config
	base *url.URL
	http *http.Client
}

// New validates cfg.
func New(cfg Config) (*Client, error) {
	if cfg.ManagementURL == "" {
		return nil, errors.New("no RabbitMQ management URL configured (set rabbitmq.management-url, or --management-url)")
	}
	u, err := url.Parse(cfg.ManagementURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid RabbitMQ management URL: want http(s)://host:port")
	}
	if u.User != nil {
		return nil, errors.New("invalid RabbitMQ management URL: credentials must not be in the URL")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 500
	}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: cfg.Timeout}).DialContext,
		TLSClientConfig:     cfg.TLS,
		TLSHandshakeTimeout: cfg.Timeout,
		MaxIdleConnsPerHost: 4,
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &Client{cfg: cfg, base: u, http: &http.Client{Transport: tr, Timeout: cfg.Timeout}}, nil
}

// Name is the management host:port.
func (c *Client) Name() string { return c.base.Host }

// Close releases idle connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// Error is a RabbitMQ backend error; it never holds credentials.
type Error struct {
	Op     string
	Status int
	Err    error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Op
	}
	return e.Op + ": " + e.Err.Error()
}
func (e *Error) Unwrap() error { return e.Err }

// get fetches path (already escaped) into out.
func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	u := *c.base
	u.RawPath = c.base.Path + path
	u.Path, _ = url.PathUnescape(u.RawPath)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return &Error{Op: "building request", Err: err}
	}
	req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // drop the URL: keep errors short and credential-free
		}
		if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
			return &Error{Op: "timed out contacting RabbitMQ management API at " + c.base.Scheme + "://" + c.base.Host, Err: err}
		}
		return &Error{Op: "cannot reach RabbitMQ management API at " + c.base.Scheme + "://" + c.base.Host, Err: err}
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return &Error{Op: fmt.Sprintf("authentication failed for RabbitMQ user \"%s\"", backends.SafeText(c.cfg.Username)), Status: resp.StatusCode}
	case resp.StatusCode == http.StatusForbidden:
		return &Error{Op: fmt.Sprintf("RabbitMQ user \"%s\" is not allowed to read %s (needs the monitoring or management tag)", backends.SafeText(c.cfg.Username), path), Status: resp.StatusCode}
	case resp.StatusCode == http.StatusNotFound:
		return &Error{Op: "not found", Status: resp.StatusCode}
	case resp.StatusCode/100 != 2:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return &Error{Op: fmt.Sprintf("RabbitMQ management API answered %s", resp.Status), Status: resp.StatusCode, Err: errors.New(backends.SafeText(strings.TrimSpace(string(body))))}
	}
	dec := json.NewDecoder(io.LimitReader(resp.Body, 512<<20))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return &Error{Op: "decoding RabbitMQ management API response for " + path, Err: err}
	}
	return nil
}

func isNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

func seg(s string) string { return url.PathEscape(s) }
