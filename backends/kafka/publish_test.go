package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/kafka/kafkatest"
)

// publishTopic creates a topic with a unique name on the real Kafka
// (deleted at the end), and waits until its metadata shows it.
func newPublishTopic(t testing.TB, k *Client, brokers []string, parts int32, configs map[string]*string) string {
	t.Helper()
	topic := fmt.Sprintf("publish-%s-%d", strings.ToLower(t.Name()), time.Now().UnixNano())
	topic = strings.NewReplacer("/", "-", "_", "-").Replace(topic)
	kafkatest.CreateTopic(t, brokers, topic, parts, configs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		pc, err := k.PartitionCounts(ctx, []string{topic})
		if err == nil && pc[topic] == parts {
			return topic
		}
		if ctx.Err() != nil {
			t.Fatalf("topic %s not visible: %v %v", topic, pc, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// publishHeaders are the headers of message i: a repeated key, bytes that
// are not UTF-8 and a terminal escape, an empty key and value, and the
// message id header for most messages.
func publishHeaders(i int) []backends.StoreHeader {
	hs := []backends.StoreHeader{{Key: "h", Value: "first"}, {Key: "h", Value: "second-" + strconv.Itoa(i)}, {Key: "bin", Value: "\x00\xff\x1b[31m"}, {}}
	if i%7 != 0 {
		hs = append([]backends.StoreHeader{{Key: "mqops-message-id", Value: fmt.Sprintf("m-%d", i)}}, hs...)
	}
	return hs
}

// keyed is message i of a publish test: key key-(i%keys), value v-i.
func keyed(topic string, i, keys int) backends.OutgoingMessage {
	m := backends.OutgoingMessage{ID: strconv.Itoa(i), Target: backends.RouteTarget{Broker: "kafka", Topic: topic},
		Key: fmt.Appendf(nil, "key-%d", i%keys), Value: fmt.Appendf(nil, "v-%d-%s", i, strings.Repeat("x", i%200)), Headers: publishHeaders(i)}
	if i%7 != 0 {
		m.MessageID = fmt.Sprintf("m-%d", i)
	}
	return m
}

func confirmedAll(t *testing.T, res []backends.PublishResult, msgs []backends.OutgoingMessage) {
	t.Helper()
	if len(res) != len(msgs) {
		t.Fatalf("%d results for %d messages", len(res), len(msgs))
	}
	for i, r := range res {
		if r.ID != msgs[i].ID || r.Err != nil {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
}

// TestRealPublish: 10,000 messages of 50 keys into a 6-partition topic of
// the real Kafka are all confirmed; the topic holds each once, in the
// partition the Java client's murmur2 gives its key (franz-go's
// partitioner as the oracle), each key's messages in order, with their
// headers byte for byte and in order (repeats, binary, empty). A second
// call on the same client uses the same producer (its sequence numbers go
// on: the broker would refuse a gap), keeps the keys' order across calls,
// and puts messages without a key on one partition.
func TestRealPublish(t *testing.T) {
	const n, keys, parts = 10_000, 50, 6
	k, brokers := realClient(t)
	topic := newPublishTopic(t, k, brokers, parts, nil)
	msgs := make([]backends.OutgoingMessage, n)
	for i := range msgs {
		msgs[i] = keyed(topic, i, keys)
	}
	confirmedAll(t, k.Publish(context.Background(), msgs), msgs)
	first := k.pub
	if first == nil {
		t.Fatal("the producer was not kept")
	}
	more := make([]backends.OutgoingMessage, 0, 600)
	for i := n; i < n+500; i++ {
		more = append(more, keyed(topic, i, keys))
	}
	for i := range 100 {
		more = append(more, backends.OutgoingMessage{ID: "nokey-" + strconv.Itoa(i), Target: backends.RouteTarget{Broker: "kafka", Topic: topic}, Value: []byte("nokey")})
	}
	confirmedAll(t, k.Publish(context.Background(), more), more)
	if k.pub != first {
		t.Fatal("the second call started another producer")
	}

	oracle := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	last := map[string]int{}
	seen := map[int]bool{}
	noKey := map[int32]int{}
	for _, r := range readAll(t, brokers, topic) {
		if r.Key == nil {
			noKey[r.Partition]++
			continue
		}
		f := strings.SplitN(string(r.Value), "-", 3)
		i, err := strconv.Atoi(f[1])
		if err != nil || f[0] != "v" {
			t.Fatalf("record %d/%d: value %q", r.Partition, r.Offset, r.Value)
		}
		want := keyed(topic, i, keys)
		if seen[i] {
			t.Fatalf("message %d published twice", i)
		}
		seen[i] = true
		if !bytes.Equal(r.Key, want.Key) || !bytes.Equal(r.Value, want.Value) {
			t.Fatalf("message %d: key %q value %q", i, r.Key, r.Value)
		}
		if p := int32(oracle.Partition(&kgo.Record{Key: r.Key}, parts)); r.Partition != p {
			t.Fatalf("message %d (key %s) in partition %d, murmur2 gives %d", i, r.Key, r.Partition, p)
		}
		if prev, ok := last[string(r.Key)]; ok && prev > i {
			t.Fatalf("key %s: message %d after %d", r.Key, i, prev)
		}
		last[string(r.Key)] = i
		if len(r.Headers) != len(want.Headers) {
			t.Fatalf("message %d: headers %v, want %v", i, r.Headers, want.Headers)
		}
		for j, h := range r.Headers {
			if h.Key != want.Headers[j].Key || string(h.Value) != want.Headers[j].Value || h.Value == nil {
				t.Fatalf("message %d header %d: %q=%q, want %q=%q", i, j, h.Key, h.Value, want.Headers[j].Key, want.Headers[j].Value)
			}
		}
		if id, has := header(r, "mqops-message-id"); has != (i%7 != 0) || (has && id != want.MessageID) {
			t.Fatalf("message %d: message id header %q (%v)", i, id, has)
		}
	}
	if len(seen) != n+500 || len(last) != keys {
		t.Fatalf("%d messages of %d keys in the topic, want %d of %d", len(seen), len(last), n+500, keys)
	}
	if len(noKey) != 1 || noKey[firstKey(noKey)] != 100 {
		t.Fatalf("the messages without a key went to %v, want one partition", noKey)
	}
}

func firstKey(m map[int32]int) int32 {
	for p := range m {
		return p
	}
	return -1
}

// TestRealPublishRefusals: in one call on the real Kafka, a record larger
// than its topic's max.message.bytes fails alone with its size and the
// limit (one of exactly the limit is confirmed), a message to an unknown
// topic fails naming it, one routed to RabbitMQ fails, and every other is
// confirmed; none of these refusals costs the producer.
func TestRealPublishRefusals(t *testing.T) {
	const limit = 10_000
	k, brokers := realClient(t)
	lim := strconv.Itoa(limit)
	topic := newPublishTopic(t, k, brokers, 2, map[string]*string{"max.message.bytes": &lim})
	unknown := fmt.Sprintf("publish-nope-%d", time.Now().UnixNano())
	to := backends.RouteTarget{Broker: "kafka", Topic: topic}
	sized := func(id string, size int) backends.OutgoingMessage {
		m := backends.OutgoingMessage{ID: id, Target: to, Key: []byte("k")}
		for v := size; v > 0; v-- { // the largest value that makes a record of size
			m.Value = bytes.Repeat([]byte("z"), v)
			if got := replayRecordSize(publishFixedBytes(m.Key, m.Value, nil)); got == size {
				return m
			}
		}
		t.Fatalf("no record of %d bytes", size)
		return m
	}
	msgs := []backends.OutgoingMessage{
		{ID: "a", Target: to, Key: []byte("k"), Value: []byte("small")},
		sized("limit+1", limit+1),
		sized("limit", limit),
		{ID: "b", Target: backends.RouteTarget{Broker: "kafka", Topic: unknown}, Value: []byte("x")},
		{ID: "c", Target: backends.RouteTarget{Broker: "rabbitmq", RoutingKey: "q"}, Value: []byte("x")},
		{ID: "d", Target: to, Key: []byte("k"), Value: []byte("after")},
	}
	res := k.Publish(context.Background(), msgs)
	for i, want := range []string{"", fmt.Sprintf("message limit+1 is %d bytes as a record, more than topic \"%s\" takes (max.message.bytes %d): not published", limit+1, topic, limit),
		"", fmt.Sprintf("unknown topic \"%s\": message b not published", unknown), "message c is routed to rabbitmq:(default)/q, not to Kafka", ""} {
		if res[i].ID != msgs[i].ID || (want == "") != (res[i].Err == nil) || (want != "" && res[i].Err.Error() != want) {
			t.Errorf("result %d: %+v, want %q", i, res[i], want)
		}
	}
	if k.pub == nil {
		t.Fatal("a refusal dropped the producer")
	}
	var got []string
	for _, r := range readAll(t, brokers, topic) {
		got = append(got, fmt.Sprintf("%d:%.5s", len(r.Value), r.Value))
	}
	if want := fmt.Sprintf("[5:small %d:zzzzz 5:after]", len(msgs[2].Value)); fmt.Sprint(got) != want {
		t.Fatalf("topic holds %v, want %s", got, want)
	}
}

// publishFake is a kfake cluster with the 3-partition topic "orders", its
// brokers' connections passed through wrap (nil: none), and a client of
// it with a timeout of 1s.
func publishFake(t *testing.T, wrap func(net.Conn) net.Conn) (*Client, *kfake.Cluster) {
	t.Helper()
	c, _, _ := timedCluster(t, 1, 3, 0, wrap)
	k, err := New(Config{Brokers: c.ListenAddrs(), Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k, c
}

// listenThrough has a kfake cluster's brokers' connections pass through
// wrap.
func listenThrough(wrap func(net.Conn) net.Conn) kfake.Opt {
	return kfake.ListenFn(func(network, addr string) (net.Listener, error) {
		l, err := net.Listen(network, addr)
		return wrapListener{l, wrap}, err
	})
}

// refuseProduce has c refuse, with INVALID_RECORD, the produce requests
// of partition part from the nth on, while the flag it returns is set
// (it is set).
func refuseProduce(c *kfake.Cluster, part, nth int32) *atomic.Bool {
	var refusing atomic.Bool
	var seen atomic.Int32
	refusing.Store(true)
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		preq := req.(*kmsg.ProduceRequest)
		if refusing.Load() && len(preq.Topics) == 1 && preq.Topics[0].Partitions[0].Partition == part && seen.Add(1) >= nth {
			return produceAnswerWith(req, kerr.InvalidRecord.Code), nil, true
		}
		return nil, nil, false
	})
	return &refusing
}

// checkPublished reads topic "orders" and checks that it holds messages 0 to
// n-1 (of 30 keys) exactly once each, each key's in order.
func checkPublished(t *testing.T, k *Client, n int) {
	t.Helper()
	last := map[string]int{}
	seen := map[int]bool{}
	for _, r := range readAll(t, k.cfg.Brokers, "orders") {
		i, _ := strconv.Atoi(strings.SplitN(string(r.Value), "-", 3)[1])
		if seen[i] {
			t.Fatalf("message %d published twice", i)
		}
		if prev, ok := last[string(r.Key)]; ok && prev > i {
			t.Fatalf("key %s: message %d after %d", r.Key, i, prev)
		}
		seen[i], last[string(r.Key)] = true, i
	}
	if len(seen) != n {
		t.Fatalf("%d messages published, want %d", len(seen), n)
	}
}

// TestPublishRetriesTheSameBatch: a produce refused with a retriable error
// and one whose connection drops before the answer are sent again, the
// same batches: every message is confirmed and published once, in order.
func TestPublishRetriesTheSameBatch(t *testing.T) {
	const n = 3000
	k, c := publishFake(t, nil)
	var produces atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		switch produces.Add(1) {
		case 2:
			return produceAnswerWith(req, kerr.NotLeaderForPartition.Code), nil, true
		case 4:
			return nil, errors.New("connection dropped by the test"), true
		}
		return nil, nil, false
	})
	msgs := make([]backends.OutgoingMessage, n)
	for i := range msgs {
		msgs[i] = keyed("orders", i, 30)
	}
	confirmedAll(t, k.Publish(context.Background(), msgs), msgs)
	if produces.Load() < 4 {
		t.Fatalf("only %d produces: the errors were not injected", produces.Load())
	}
	checkPublished(t, k, n)
}

// TestPublishFailureStopsThePartition: a produce refused for good (the
// second of partition 1, of 3 KiB messages: a batch is 1 MiB) fails its
// messages and every later one of the partition, unsent (a key's order is
// never broken); the other partitions' are confirmed. The producer is dropped, and the next call, with a new
// one, publishes what failed.
func TestPublishFailureStopsThePartition(t *testing.T) {
	const n = 3000
	k, c := publishFake(t, nil)
	refusing := refuseProduce(c, 1, 2)
	msgs := make([]backends.OutgoingMessage, n)
	for i := range msgs {
		msgs[i] = keyed("orders", i, 30)
		msgs[i].Value = append(msgs[i].Value, make([]byte, 3<<10)...)
	}
	res := k.Publish(context.Background(), msgs)
	oracle := kgo.StickyKeyPartitioner(nil).ForTopic("orders")
	var failed []backends.OutgoingMessage
	refused, behind := 0, 0
	for i, r := range res {
		part := oracle.Partition(&kgo.Record{Key: msgs[i].Key}, 3)
		switch {
		case part != 1 && r.Err != nil:
			t.Fatalf("message %d of partition %d: %v", i, part, r.Err)
		case part == 1 && r.Err != nil:
			failed = append(failed, msgs[i])
			if errors.Is(r.Err, sarama.ErrInvalidRecord) {
				refused++
			} else if errors.Is(r.Err, errNotProduced) {
				behind++
			}
			if !strings.Contains(r.Err.Error(), "publishing message "+msgs[i].ID+" to orders partition 1: ") {
				t.Fatalf("message %d: %v", i, r.Err)
			}
		}
		if part == 1 && r.Err == nil && len(failed) > 0 {
			t.Fatalf("message %d of partition 1 confirmed after a failed one", i)
		}
	}
	if refused == 0 || behind == 0 || refused+behind != len(failed) {
		t.Fatalf("%d failed: %d refused, %d behind them", len(failed), refused, behind)
	}
	if k.pub != nil {
		t.Fatal("the producer was kept after a failure")
	}
	refusing.Store(false)
	confirmedAll(t, k.Publish(context.Background(), failed), failed)
	checkPublished(t, k, n)
}

// TestPublishStalledAtProduce: a broker that answers everything but
// produce requests fails the call within the timeout, every message with
// an error saying so, and the next call, on a new producer, fails the
// same way (not at once on a stale connection, not later).
func TestPublishStalledAtProduce(t *testing.T) {
	k, _ := publishFake(t, func(c net.Conn) net.Conn { return &fetchSilencer{Conn: c, produce: true} })
	msgs := make([]backends.OutgoingMessage, 300)
	for i := range msgs {
		msgs[i] = keyed("orders", i, 30)
	}
	for call := range 2 {
		start := time.Now()
		res := k.Publish(context.Background(), msgs)
		took := time.Since(start)
		for i, r := range res {
			if r.Err == nil || !strings.Contains(r.Err.Error(), "did not answer within 1s") {
				t.Fatalf("call %d, message %d: %v", call, i, r.Err)
			}
		}
		if took > 1500*time.Millisecond || took < 900*time.Millisecond {
			t.Fatalf("call %d took %v with a timeout of 1s", call, took)
		}
		if k.pub != nil {
			t.Fatal("the producer was kept after a stall")
		}
	}
}

// TestPublishCancelled: a call whose ctx ends while a broker holds its
// produce returns at once, every message not confirmed with the ctx's
// error.
func TestPublishCancelled(t *testing.T) {
	k, _ := publishFake(t, func(c net.Conn) net.Conn { return &fetchSilencer{Conn: c, produce: true} })
	k.cfg.Timeout = time.Minute
	msgs := make([]backends.OutgoingMessage, 30)
	for i := range msgs {
		msgs[i] = keyed("orders", i, 30)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	res := k.Publish(ctx, msgs)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("took %v", took)
	}
	for i, r := range res {
		if !errors.Is(r.Err, context.DeadlineExceeded) {
			t.Fatalf("message %d: %v", i, r.Err)
		}
	}
}
