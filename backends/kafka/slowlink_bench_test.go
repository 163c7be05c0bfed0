package kafka

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mqops/mqops/backends"
)

// slowListener delays every byte a broker sends by delay, in order, without
// holding the broker: a link with a round trip of delay (a laptop on a VPN
// to a remote cluster) rather than a slow broker.
type slowListener struct {
	net.Listener
	delay time.Duration
}

func (l slowListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	s := &slowConn{Conn: c, delay: l.delay, out: make(chan timedBytes, 1024)}
	go s.send()
	return s, nil
}

type timedBytes struct {
	at time.Time
	b  []byte
}

type slowConn struct {
	net.Conn
	delay time.Duration
	out   chan timedBytes
	once  sync.Once
}

func (c *slowConn) Write(b []byte) (int, error) {
	c.out <- timedBytes{time.Now().Add(c.delay), append([]byte(nil), b...)}
	return len(b), nil
}

func (c *slowConn) send() {
	for tb := range c.out {
		time.Sleep(time.Until(tb.at))
		if _, err := c.Conn.Write(tb.b); err != nil {
			return
		}
	}
}

func (c *slowConn) Close() error {
	c.once.Do(func() { close(c.out) })
	return c.Conn.Close()
}

// BenchmarkFirstSnapshotSlowLink measures, on a fresh client (nothing
// cached) over a 10 ms link to 3 brokers holding 200 groups: a whole
// Snapshot (coordinators placed from the metadata of __consumer_offsets),
// and, as the peer, the group part alone done as sarama's admin does it
// (DescribeConsumerGroups and ListConsumerGroupOffsetsBatch, which look
// each coordinator up in turn).
func BenchmarkFirstSnapshotSlowLink(b *testing.B) {
	const groups = 200
	c, names := slowGroups(b, groups, 10*time.Millisecond)
	b.Run("mqops-snapshot", func(b *testing.B) {
		for b.Loop() {
			k, err := New(Config{Brokers: c.ListenAddrs(), Timeout: time.Minute})
			if err != nil {
				b.Fatal(err)
			}
			snap, err := k.Snapshot(context.Background(), backends.SnapshotOptions{})
			k.Close()
			if err != nil || len(snap.Groups) != groups {
				b.Fatalf("snapshot: %v", err)
			}
			for _, g := range snap.Groups {
				if g.Err != "" || len(g.Partitions) != 1 {
					b.Fatalf("group %+v", g)
				}
			}
		}
	})
	b.Run("sarama-admin-groups-only", func(b *testing.B) {
		for b.Loop() {
			k, err := New(Config{Brokers: c.ListenAddrs(), Timeout: time.Minute})
			if err != nil {
				b.Fatal(err)
			}
			err = k.withClient(context.Background(), func(cl sarama.Client, ad sarama.ClusterAdmin) error {
				if _, err := ad.DescribeConsumerGroups(names); err != nil {
					return err
				}
				req := map[string]map[string][]int32{}
				for _, n := range names {
					req[n] = nil
				}
				_, err := ad.ListConsumerGroupOffsetsBatch(req)
				return err
			})
			k.Close()
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// slowGroups is a kfake cluster of 3 brokers with topic orders (3
// partitions) and n consumer groups committed on partition 0, listing
// __consumer_offsets in its metadata (listOffsetsTopic), whose link is
// slow (delay each way, slowListener) once the groups are made. It is
// closed at the end of the test.
func slowGroups(tb testing.TB, n int, delay time.Duration) (*kfake.Cluster, []string) {
	tb.Helper()
	var slow atomic.Bool
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(3, "orders"),
		kfake.ListenFn(func(network, addr string) (net.Listener, error) {
			l, err := net.Listen(network, addr)
			if err != nil {
				return nil, err
			}
			return switchedListener{l, &slow, delay}, nil
		}))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		tb.Fatal(err)
	}
	defer cl.Close()
	names := commitGroups(tb, cl, n, "group-%03d")
	listOffsetsTopic(tb, c, cl, names) // coordinators placed from the metadata, as on Kafka
	slow.Store(true)
	return c, names
}

// switchedListener is a slowListener whose connections are slow once
// *slow is set.
type switchedListener struct {
	net.Listener
	slow  *atomic.Bool
	delay time.Duration
}

func (l switchedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil || !l.slow.Load() {
		return c, err
	}
	s := &slowConn{Conn: c, delay: l.delay, out: make(chan timedBytes, 1024)}
	go s.send()
	return s, nil
}

// listOffsetsTopic makes kfake's metadata list a __consumer_offsets topic,
// as Kafka's does (kfake keeps groups elsewhere): 10,000 partitions, each
// led by the coordinator kfake gives the groups that hash to it (groups
// sharing a partition with another coordinator's group are placed wrongly
// and found again, as after a coordinator move).
func listOffsetsTopic(b testing.TB, c *kfake.Cluster, cl *kgo.Client, names []string) {
	b.Helper()
	ctx := context.Background()
	base, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	if err != nil {
		b.Fatal(err)
	}
	coords := kadm.NewClient(cl).FindGroupCoordinators(ctx, names...)
	const n = 10000
	leader := map[int32]int32{}
	for _, name := range names {
		if coords[name].Err != nil {
			b.Fatal(coords[name].Err)
		}
		p := offsetsPartition(name, n)
		if _, taken := leader[p]; !taken {
			leader[p] = coords[name].NodeID
		}
	}
	t := kmsg.NewMetadataResponseTopic()
	t.Topic, t.IsInternal = kmsg.StringPtr(offsetsTopic), true
	for p := range int32(n) {
		tp := kmsg.NewMetadataResponseTopicPartition()
		tp.Partition, tp.Leader = p, leader[p]
		tp.Replicas, tp.ISR = []int32{leader[p]}, []int32{leader[p]}
		t.Partitions = append(t.Partitions, tp)
	}
	base.Topics = append(base.Topics, t)
	c.ControlKey(int16(kmsg.Metadata), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		resp := *base
		resp.Version = req.GetVersion()
		return &resp, nil, true
	})
}
