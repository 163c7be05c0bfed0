package kafkatest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Groups of Kafka 4's consumer protocol (KIP-848) on kfake, which
// implements it (ConsumerGroupHeartbeat, ConsumerGroupDescribe).

// KIP848Consumer joins group with Kafka 4's consumer protocol (KIP-848:
// the broker assigns) as client clientID, consuming topics, until the end
// of the test.
func KIP848Consumer(t testing.TB, c *kfake.Cluster, group, clientID string, topics ...string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topics...),
		kgo.ClientID(clientID), kgo.ServerSideBalancer(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.AutoCommitInterval(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	go func() { // poll, so that the client joins and heartbeats
		for {
			fs := cl.PollFetches(context.Background())
			if fs.IsClientClosed() {
				return
			}
		}
	}()
	return cl
}

// WaitKfakeSettled waits until kfake says group is Stable with n members
// holding partitions partitions between them, and returns what it says.
func WaitKfakeSettled(t testing.TB, c *kfake.Cluster, group string, n, partitions int) *kfake.GroupInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	gi, err := c.WaitGroupInfo(ctx, group, func(g *kfake.GroupInfo) bool {
		if g == nil || g.State != "Stable" || len(g.Members) != n || g.NumAssigned() != partitions {
			return false
		}
		for i := range g.Members {
			if g.Members[i].NumAssigned() == 0 {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("group %s did not settle: %+v", group, gi)
	}
	return gi
}

// WithoutConsumerGroupDescribe makes the brokers of c tell sarama (only:
// the consumers stay on the consumer protocol) that they do not speak
// ConsumerGroupDescribe, as brokers before Kafka 3.8 (or 3.7 without
// unstable APIs) do.
func WithoutConsumerGroupDescribe(t testing.TB, c *kfake.Cluster) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName, req.ClientSoftwareVersion = "mqops-test", "1"
	real, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	c.ControlKey(int16(kmsg.ApiVersions), func(r kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if r.(*kmsg.ApiVersionsRequest).ClientSoftwareName != "sarama" {
			return nil, nil, false
		}
		resp := *real
		resp.Version = r.GetVersion()
		resp.ApiKeys = slices.DeleteFunc(slices.Clone(real.ApiKeys), func(k kmsg.ApiVersionsResponseApiKey) bool {
			return k.ApiKey == int16(kmsg.ConsumerGroupDescribe)
		})
		return &resp, nil, true
	})
}

// Answer848 makes the next ConsumerGroupDescribe c gets answered, for
// every group it asks about, with what fn fills in.
func Answer848(c *kfake.Cluster, fn func(req *kmsg.ConsumerGroupDescribeRequest, g *kmsg.ConsumerGroupDescribeResponseGroup)) {
	c.ControlKey(int16(kmsg.ConsumerGroupDescribe), func(r kmsg.Request) (kmsg.Response, error, bool) {
		req := r.(*kmsg.ConsumerGroupDescribeRequest)
		resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
		resp.Version = req.Version
		for _, name := range req.Groups {
			g := kmsg.NewConsumerGroupDescribeResponseGroup()
			g.Group = name
			fn(req, &g)
			resp.Groups = append(resp.Groups, g)
		}
		return resp, nil, true
	})
}
