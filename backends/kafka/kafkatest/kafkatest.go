// Package kafkatest has hostile Kafka peers for tests: a listener that
// accepts and never answers, one that answers ApiVersions and then stalls,
// and one that announces replies of 2 GB. It also starts groups of Kafka
// 4's consumer protocol, on kfake (kip848.go) and on the real broker with
// Apache Kafka's own console consumer, whose kafka-consumer-groups is the
// oracle (consoleconsumer.go, scenario.go).
package kafkatest

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Silent is the address of a peer that accepts connections and never
// writes a byte.
func Silent(t testing.TB) string { return Peer(t, func(net.Conn) {}) }

// HandshakeThenSilent is the address of a peer that answers ApiVersions as
// a Kafka broker would (every API kmsg knows), then reads every other
// request and never answers.
func HandshakeThenSilent(t testing.TB) string { return Peer(t, apiVersionsThenSilence) }

// HugeReplies is the address of a peer that answers every request with a
// reply announced as 2 GB, and nothing after its header.
func HugeReplies(t testing.TB) string { return Peer(t, hugeReplies) }

// Peer listens on loopback and hands each connection to serve; the
// listener and every connection are closed at the end of the test.
func Peer(t testing.TB, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go serve(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// request is the start of one Kafka request read off a connection.
type request struct {
	key, version int16
	correlation  int32
}

// readRequest reads one whole request frame (at most 1 MiB).
func readRequest(c net.Conn) (request, error) {
	var n [4]byte
	if _, err := io.ReadFull(c, n[:]); err != nil {
		return request{}, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size < 8 || size > 1<<20 {
		return request{}, errors.New("bad request size")
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(c, body); err != nil {
		return request{}, err
	}
	return request{key: int16(binary.BigEndian.Uint16(body)), version: int16(binary.BigEndian.Uint16(body[2:])), correlation: int32(binary.BigEndian.Uint32(body[4:]))}, nil
}

func apiVersionsThenSilence(c net.Conn) {
	for {
		req, err := readRequest(c)
		if err != nil {
			return
		}
		if req.key != int16(kmsg.ApiVersions) {
			continue // silence
		}
		resp := kmsg.NewApiVersionsResponse()
		resp.Version = min(req.version, 3)
		for key := int16(0); key < 100; key++ {
			if r := kmsg.RequestForKey(key); r != nil {
				k := kmsg.NewApiVersionsResponseApiKey()
				k.ApiKey, k.MaxVersion = key, r.MaxVersion()
				resp.ApiKeys = append(resp.ApiKeys, k)
			}
		}
		body := binary.BigEndian.AppendUint32(nil, uint32(req.correlation)) // ApiVersions answers with header v0
		body = resp.AppendTo(body)
		frame := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
		if _, err := c.Write(append(frame, body...)); err != nil {
			return
		}
	}
}

func hugeReplies(c net.Conn) {
	for {
		req, err := readRequest(c)
		if err != nil {
			return
		}
		hdr := binary.BigEndian.AppendUint32(nil, 0x7fffffff)
		hdr = binary.BigEndian.AppendUint32(hdr, uint32(req.correlation))
		if _, err := c.Write(hdr); err != nil {
			return
		}
	}
}
