package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/kafka/kafkatest"
)

// kafkaOps are the backend's calls to a cluster, each with its own client.
var kafkaOps = map[string]func(ctx context.Context, k *Client) error{
	"Snapshot": func(ctx context.Context, k *Client) error {
		_, err := k.Snapshot(ctx, backends.SnapshotOptions{})
		return err
	},
	"ListDeadLetterTopics": func(ctx context.Context, k *Client) error {
		_, err := k.ListDeadLetterTopics(ctx, true)
		return err
	},
	"DeadLetterSummary": func(ctx context.Context, k *Client) error {
		_, err := k.DeadLetterSummary(ctx, "orders.DLT", 10)
		return err
	},
	"PlanMove": func(ctx context.Context, k *Client) error {
		_, err := k.PlanMove(ctx, backends.KafkaPlanOptions{Topic: "orders.DLT", Target: OriginTarget})
		return err
	},
	"MoveRecords": func(ctx context.Context, k *Client) error {
		_, err := k.MoveRecords(ctx, backends.KafkaMoveOptions{Topic: "orders.DLT", Target: OriginTarget})
		return err
	},
	"Publish": func(ctx context.Context, k *Client) error {
		res := k.Publish(ctx, []backends.OutgoingMessage{{ID: "1", Target: backends.RouteTarget{Broker: "kafka", Topic: "orders"}, Value: []byte("v")}})
		return res[0].Err
	},
}

// TestStalledBrokerFailsWithinTimeout: against a broker that accepts and
// never answers, and one that answers ApiVersions and then stalls, every
// call fails within 1.5 × the timeout (never sarama's retries' multiple of
// it), with no deadline on its context, and says which broker stopped
// answering.
func TestStalledBrokerFailsWithinTimeout(t *testing.T) {
	const timeout = time.Second
	for _, peer := range []struct {
		name string
		addr func(testing.TB) string
	}{
		{"silent", kafkatest.Silent},
		{"handshake-then-silent", kafkatest.HandshakeThenSilent},
	} {
		addr := peer.addr(t)
		for name, op := range kafkaOps {
			t.Run(peer.name+"/"+name, func(t *testing.T) {
				k, err := New(Config{Brokers: []string{addr}, Timeout: timeout})
				if err != nil {
					t.Fatal(err)
				}
				defer k.Close()
				start := time.Now()
				err = op(context.Background(), k)
				wantStall(t, err, addr, timeout, time.Since(start))
			})
		}
	}
}

// TestStalledClientRecovers: after a stall the client reconnects on the
// next call (here to the same silent broker, which fails the same way
// within the timeout, not at once on a stale connection, nor later).
func TestStalledClientRecovers(t *testing.T) {
	addr := kafkatest.HandshakeThenSilent(t)
	k, _ := New(Config{Brokers: []string{addr}, Timeout: 300 * time.Millisecond})
	defer k.Close()
	for i := range 2 {
		start := time.Now()
		_, err := k.Snapshot(context.Background(), backends.SnapshotOptions{})
		if err == nil || !strings.Contains(err.Error(), "did not answer within 300ms") {
			t.Fatalf("call %d: %v", i, err)
		}
		if d := time.Since(start); d < 250*time.Millisecond {
			t.Fatalf("call %d failed after %v: on a stale connection, not on a new one", i, d)
		}
	}
}

// TestHugeReplyIsRefused: a peer that announces a 2 GB reply gets a clear
// error at once (sarama refuses the length before allocating anything).
func TestHugeReplyIsRefused(t *testing.T) {
	addr := kafkatest.HugeReplies(t)
	k, _ := New(Config{Brokers: []string{addr}, Timeout: 5 * time.Second})
	defer k.Close()
	for name, op := range kafkaOps {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			err := op(context.Background(), k)
			if err == nil || !strings.Contains(err.Error(), "announced a reply of 2.0 GiB, more than the 65 MiB mqops reads") {
				t.Fatalf("err = %v", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestSlowClusterIsReadWhole: a cluster that keeps answering, each reply
// well within the timeout, is read whole however long the whole read
// takes: 300 groups on 3 brokers over a link of 150 ms each way take round
// trips in turn, longer than the 1 s timeout altogether, and the
// snapshot (with no deadline on its context) has every group.
func TestSlowClusterIsReadWhole(t *testing.T) {
	const groups = 300
	c, _ := slowGroups(t, groups, 150*time.Millisecond)

	const timeout = time.Second
	k, _ := New(Config{Brokers: c.ListenAddrs(), Timeout: timeout})
	defer k.Close()
	start := time.Now()
	snap, err := k.Snapshot(context.Background(), backends.SnapshotOptions{})
	took := time.Since(start)
	if err != nil {
		t.Fatalf("snapshot of a slow cluster failed after %v: %v", took, err)
	}
	if len(snap.Groups) != groups {
		t.Fatalf("%d groups, want %d", len(snap.Groups), groups)
	}
	for _, g := range snap.Groups {
		if g.Err != "" || len(g.Partitions) != 1 {
			t.Fatalf("group %+v", g)
		}
	}
	t.Logf("snapshot took %v", took)
	if took <= timeout {
		t.Fatalf("the snapshot took %v: the link is not slow enough to show that no deadline covers the whole read", took)
	}
}

// TestOffsetFetchHalfStallFailsWithinTimeout: the committed offsets of a
// coordinator of splitFetchAt groups or more are asked in two halves, the
// second on a connection of its own. A broker that stops answering one
// half (the second connection's) or both is a broker that stopped
// answering: the snapshot fails within 1.5 x the timeout naming it, as
// every read-only call does (TestStalledBrokerFailsWithinTimeout), and no
// third OffsetFetch reaches the broker (the stalled half is not asked
// again on the first connection).
func TestOffsetFetchHalfStallFailsWithinTimeout(t *testing.T) {
	const timeout = time.Second
	n := splitFetchAt + 100
	for _, both := range []bool{false, true} {
		name := map[bool]string{false: "second half", true: "both halves"}[both]
		t.Run(name, func(t *testing.T) {
			c, names := clusterWithGroups(t, 1, n, "group-%05d", true)
			second := names[n/2] // the first group of the second half
			var asked atomic.Int32
			c.ControlKey(int16(kmsg.OffsetFetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				r := req.(*kmsg.OffsetFetchRequest)
				if len(r.Groups) < 2 {
					return nil, nil, false // a single group's: answered
				}
				asked.Add(1)
				if both || r.Groups[0].Group == second {
					return nil, nil, true // never answered
				}
				return nil, nil, false
			})
			wantSnapshotStall(t, c, timeout)
			if got := asked.Load(); got != 2 {
				t.Errorf("%d OffsetFetch of many groups, want 2 (the halves, each once)", got)
			}
		})
	}
}

// wantSnapshotStall fails t unless a snapshot of c, with a new client,
// fails as the stall of its (first) broker within 1.5 x timeout.
func wantSnapshotStall(t *testing.T, c *kfake.Cluster, timeout time.Duration) {
	t.Helper()
	k, err := New(Config{Brokers: c.ListenAddrs(), Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	start := time.Now()
	_, err = k.Snapshot(context.Background(), backends.SnapshotOptions{})
	wantStall(t, err, c.ListenAddrs()[0], timeout, time.Since(start))
}

// wantStall fails t unless err is the stall of the broker at addr, said
// within 1.5 x the timeout.
func wantStall(t *testing.T, err error, addr string, timeout, took time.Duration) {
	t.Helper()
	want := fmt.Sprintf("kafka %s did not answer within %v", addr, timeout)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
	var stall *StallError
	if !errors.As(err, &stall) || stall.Addr != addr {
		t.Errorf("err %T is not the stall of %s", err, addr)
	}
	if took > timeout*3/2 {
		t.Errorf("took %v with a timeout of %v", took, timeout)
	}
}

// TestSnapshotRequestStallFailsWithinTimeout: a broker that stops
// answering one kind of the snapshot's requests, those now sent side by
// side included (ListGroups beside Metadata, ListOffsets beside the
// groups' describe and fetch), fails the snapshot within 1.5 x the
// timeout, naming it: no request left waiting on another. (A stalled
// read of record times is optional: TestTimeLagFetchBoundedStalledBroker.)
func TestSnapshotRequestStallFailsWithinTimeout(t *testing.T) {
	const timeout = time.Second
	for _, key := range []kmsg.Key{kmsg.ListGroups, kmsg.ListOffsets, kmsg.DescribeGroups, kmsg.OffsetFetch} {
		t.Run(key.Name(), func(t *testing.T) {
			c, _ := clusterWithGroups(t, 1, 5, "group-%03d", true)
			classicConsumer(t, c, "live", "live-client", "orders") // described (Empty groups are not)
			k := clientOf(t, c)
			deadline := time.Now().Add(10 * time.Second)
			for { // the live group has joined: every request is sent
				snap, err := k.Snapshot(context.Background(), backends.SnapshotOptions{Groups: []string{"live"}})
				if err == nil && len(snap.Groups) == 1 && len(snap.Groups[0].Members) == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the live group did not join")
				}
				time.Sleep(50 * time.Millisecond)
			}
			k.Close()
			c.ControlKey(int16(key), func(kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				return nil, nil, true // never answered
			})
			wantSnapshotStall(t, c, timeout)
		})
	}
}

// TestIsConnLoss: a connection the broker closed (EOF, bare or wrapped as
// the snapshot wraps it) is a lost connection, after which the client is
// dropped and the next call reconnects; an error the broker answered is
// not.
func TestIsConnLoss(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{io.EOF, true},
		{&Error{Op: "fetching committed offsets", Err: fmt.Errorf("broker 0 (127.0.0.1:9092): %w", io.EOF)}, true},
		{io.ErrUnexpectedEOF, true},
		{&net.OpError{Op: "read", Err: errors.New("connection reset by peer")}, true},
		{sarama.ErrNotConnected, true},
		{sarama.ErrUnknownTopicOrPartition, false},
		{&Error{Op: "unknown consumer group \"x\""}, false},
	} {
		if got := isConnLoss(c.err); got != c.want {
			t.Errorf("isConnLoss(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
