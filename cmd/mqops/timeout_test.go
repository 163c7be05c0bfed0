package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mqops/mqops/backends/kafka/kafkatest"
)

// exitCode is the exit status of a finished command (0 without error).
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// isolatedEnv is the environment of a binary run that reads no config
// file of the machine and writes its audit log in a temp dir.
func isolatedEnv(t *testing.T) []string {
	dir := t.TempDir()
	return []string{"XDG_CONFIG_HOME=" + dir, "XDG_STATE_HOME=" + dir, "MQOPS_BROKERS=", "MQOPS_RABBITMQ_URL=", "MQOPS_MANAGEMENT_URL="}
}

// TestTimeoutMeansOneThingKafka runs the built binary against a
// broker that accepts and never answers, and one that answers ApiVersions
// and then stalls: lag, groups, topics, dlq and a drain's dry run each
// fail within 1.5 × --timeout (a correctness bound: sarama's retries would
// make it a multiple), with one error line naming the broker.
func TestTimeoutMeansOneThingKafka(t *testing.T) {
	bin := mqopsBin(t)
	for _, peer := range []struct {
		name string
		addr func(testing.TB) string
	}{
		{"silent", kafkatest.Silent},
		{"handshake-then-silent", kafkatest.HandshakeThenSilent},
	} {
		addr := peer.addr(t)
		for _, args := range [][]string{
			{"lag"}, {"groups"}, {"topics"}, {"dlq"},
			{"drain", "kafka:orders.DLT", "--to", "origin", "--dry-run"},
		} {
			t.Run(peer.name+"/"+args[0], func(t *testing.T) {
				start := time.Now()
				_, stderr, err := run(t, 20*time.Second, isolatedEnv(t), bin, append(args, "--brokers", addr, "--timeout", "1s")...)
				took := time.Since(start)
				want := fmt.Sprintf("mqops: kafka %s did not answer within 1s\n", addr)
				if exitCode(err) != 1 || stderr != want {
					t.Fatalf("exit %d (%v), stderr %q, want %q", exitCode(err), err, stderr, want)
				}
				if took > 1500*time.Millisecond {
					t.Fatalf("took %v with --timeout 1s", took)
				}
			})
		}
	}
}

// partialCluster is a kfake cluster whose coordinator cannot describe the
// group "broken" (GROUP_AUTHORIZATION_FAILED), next to the group "fine",
// and whose dead-letter topic broken.DLT cannot be read; fine.DLT can.
func partialCluster(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "orders", "broken.DLT", "fine.DLT"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	for _, topic := range []string{"orders", "broken.DLT", "fine.DLT"} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "orders", Partition: 0, At: 0, LeaderEpoch: -1})
	for _, g := range []string{"fine", "broken"} {
		if _, err := kadm.NewClient(cl).CommitOffsets(ctx, g, offs); err != nil {
			t.Fatal(err)
		}
	}
	c.ControlKey(int16(kmsg.DescribeGroups), func(r kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := r.(*kmsg.DescribeGroupsRequest)
		resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
		for _, name := range req.Groups {
			g := kmsg.NewDescribeGroupsResponseGroup()
			g.Group, g.State, g.ProtocolType = name, "Empty", "consumer"
			if name == "broken" {
				g.ErrorCode = 30 // GROUP_AUTHORIZATION_FAILED
			}
			resp.Groups = append(resp.Groups, g)
		}
		return resp, nil, true
	})
	c.ControlKey(int16(kmsg.Fetch), func(r kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := r.(*kmsg.FetchRequest)
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		for _, rt := range req.Topics {
			if rt.Topic != "broken.DLT" {
				return nil, nil, false
			}
			t := kmsg.NewFetchResponseTopic()
			t.Topic, t.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				p := kmsg.NewFetchResponseTopicPartition()
				p.Partition, p.ErrorCode = rp.Partition, 29 // TOPIC_AUTHORIZATION_FAILED
				t.Partitions = append(t.Partitions, p)
			}
			resp.Topics = append(resp.Topics, t)
		}
		return resp, nil, true
	})
	return strings.Join(c.ListenAddrs(), ",")
}

// TestPartialResultExitsThree: groups, lag and dlq print what they have,
// name each missing group or topic on its own stderr line, and exit 3.
func TestPartialResultExitsThree(t *testing.T) {
	bin := mqopsBin(t)
	brokers := partialCluster(t)
	for _, tc := range []struct {
		args         []string
		out, missing string
	}{
		{[]string{"groups"}, "fine", "mqops:   group broken: describe: kafka server: The client is not authorized to access this group"},
		{[]string{"lag", "-o", "json"}, `"group": "fine"`, "mqops:   group broken: describe: "},
		{[]string{"dlq"}, "fine.DLT", "mqops:   kafka topic broken.DLT: reading broken.DLT partition 0: "},
	} {
		t.Run(tc.args[0], func(t *testing.T) {
			stdout, stderr, err := run(t, 30*time.Second, isolatedEnv(t), bin, append(tc.args, "--brokers", brokers)...)
			if exitCode(err) != 3 {
				t.Fatalf("exit %d (%v), want 3\nstdout:\n%s\nstderr:\n%s", exitCode(err), err, stdout, stderr)
			}
			if !strings.Contains(stdout, tc.out) {
				t.Errorf("stdout lacks %q:\n%s", tc.out, stdout)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], "mqops: partial result: 1 ") || !strings.HasPrefix(lines[1], tc.missing) {
				t.Errorf("stderr:\n%s\nwant the partial result naming %q", stderr, tc.missing)
			}
		})
	}
}

// TestDLQStallIsNotAMultiple: when a broker stops answering while dlq
// reads the dead-letter topics one by one, the topics not read yet are not
// each given the timeout again: the command ends within 1.5 × --timeout,
// prints what it has and names every topic it could not read (exit 3).
func TestDLQStallIsNotAMultiple(t *testing.T) {
	bin := mqopsBin(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "a.DLT", "b.DLT", "c.DLT"))
	if err != nil {
		t.Fatal(err)
	}
	wake := make(chan struct{})
	t.Cleanup(func() { close(wake); c.Close() })
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"a.DLT", "b.DLT", "c.DLT"} {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	c.ControlKey(int16(kmsg.Fetch), func(r kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		for _, rt := range r.(*kmsg.FetchRequest).Topics {
			if rt.Topic == "a.DLT" {
				c.SleepControl(func() { <-wake }) // never answered while the test runs
			}
		}
		return nil, nil, false
	})
	start := time.Now()
	stdout, stderr, err := run(t, 20*time.Second, isolatedEnv(t), bin, "dlq", "--brokers", strings.Join(c.ListenAddrs(), ","), "--timeout", "1s")
	took := time.Since(start)
	if exitCode(err) != 3 || !strings.Contains(stdout, "a.DLT") || !strings.Contains(stdout, "c.DLT") {
		t.Fatalf("exit %d (%v)\nstdout:\n%s\nstderr:\n%s", exitCode(err), err, stdout, stderr)
	}
	for _, want := range []string{"partial result: 3 missing (dead-letter queues or topics):", "kafka topic a.DLT: kafka 127.0.0.1:", "kafka topic b.DLT: not read: kafka 127.0.0.1:", "kafka topic c.DLT: not read: "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if took > 1500*time.Millisecond {
		t.Fatalf("took %v with --timeout 1s", took)
	}
}
