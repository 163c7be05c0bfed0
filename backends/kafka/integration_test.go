package kafka

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqops/mqops/backends"
)

func integrationEnv(t *testing.T, names ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range names {
		v := os.Getenv(n)
		if v == "" {
			if os.Getenv("MQOPS_REQUIRE_INTEGRATION") == "1" {
				t.Fatalf("%s is not set: run the tests through `make test` (scripts/testenv up)", n)
			}
			t.Skipf("%s not set: integration test skipped (run `make test`)", n)
		}
		out[n] = v
	}
	return out
}

func caPool(t *testing.T, file string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", file)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// TestRealBrokerSCRAMOverTLS takes a snapshot of the real Kafka over its
// SASL_SSL listener with SCRAM-SHA-512, and checks that a wrong password
// and an untrusted certificate fail with clear errors.
func TestRealBrokerSCRAMOverTLS(t *testing.T) {
	env := integrationEnv(t, "KAFKA_SASL_BROKERS", "KAFKA_SASL_USER", "KAFKA_SASL_PASSWORD", "KAFKA_CA_FILE")
	brokers := strings.Split(env["KAFKA_SASL_BROKERS"], ",")
	ok, err := New(Config{Brokers: brokers, Timeout: 10 * time.Second, TLS: caPool(t, env["KAFKA_CA_FILE"]),
		SASL: &SASL{Mechanism: "SCRAM-SHA-512", Username: env["KAFKA_SASL_USER"], Password: env["KAFKA_SASL_PASSWORD"]}})
	if err != nil {
		t.Fatal(err)
	}
	defer ok.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	snap, err := ok.Snapshot(ctx, backends.SnapshotOptions{IncludeInternal: true})
	if err != nil {
		t.Fatalf("snapshot over SASL_SSL: %v", err)
	}
	if len(snap.Brokers) == 0 {
		t.Fatal("no brokers in snapshot")
	}

	const wrong = "definitely-wrong-password"
	bad, _ := New(Config{Brokers: brokers, Timeout: 5 * time.Second, TLS: caPool(t, env["KAFKA_CA_FILE"]),
		SASL: &SASL{Mechanism: "SCRAM-SHA-512", Username: env["KAFKA_SASL_USER"], Password: wrong}})
	defer bad.Close()
	_, err = bad.Snapshot(ctx, backends.SnapshotOptions{})
	if err == nil {
		t.Fatal("wrong password accepted")
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), env["KAFKA_SASL_PASSWORD"]) {
		t.Fatalf("error leaks a password: %v", err)
	}
	if !strings.Contains(err.Error(), "authentication failed") && !strings.Contains(err.Error(), "Authentication failed") {
		t.Fatalf("unclear error for a wrong password: %v", err)
	}

	untrusted, _ := New(Config{Brokers: brokers, Timeout: 5 * time.Second, TLS: &tls.Config{MinVersion: tls.VersionTLS12},
		SASL: &SASL{Mechanism: "SCRAM-SHA-512", Username: env["KAFKA_SASL_USER"], Password: env["KAFKA_SASL_PASSWORD"]}})
	defer untrusted.Close()
	if _, err := untrusted.Snapshot(ctx, backends.SnapshotOptions{}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted certificate: err = %v", err)
	}
}

// TestRealBrokerSnapshotRequestsDoNotGrowWithGroups checks the snapshot's
// request count on the real broker: it depends on brokers and
// coordinators, not on partitions × groups.
func TestRealBrokerSnapshotRequestsDoNotGrowWithGroups(t *testing.T) {
	env := integrationEnv(t, "KAFKA_BROKERS")
	k, err := New(Config{Brokers: strings.Split(env["KAFKA_BROKERS"], ","), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	snap, err := k.Snapshot(ctx, backends.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// one broker: metadata 1 + list offsets 2 + list groups 1 + describe 2
	// (DescribeGroups, and ConsumerGroupDescribe when groups of the
	// consumer protocol are listed) + offset fetch 1 (2 from splitFetchAt
	// groups: two halves on two connections), + 1 Fetch of the records at
	// the committed offsets of lagging groups
	most := 8
	if len(snap.Groups) >= splitFetchAt {
		most++
	}
	if snap.Requests > most {
		t.Fatalf("snapshot took %d requests on a one-broker cluster with %d groups", snap.Requests, len(snap.Groups))
	}

}

// TestRealBrokerCoordinatorPlacement checks the coordinator placement the
// snapshot computes (partition abs(hashCode(group)) % n of
// __consumer_offsets) against the broker itself: each group's commit is
// read back from __consumer_offsets, and the partition it landed in must
// be the one computed; the group's coordinator from metadata must be the
// one FindCoordinator names. Group names include non-ASCII ones (hashCode
// runs over UTF-16 code units).
func TestRealBrokerCoordinatorPlacement(t *testing.T) {
	env := integrationEnv(t, "KAFKA_BROKERS")
	brokers := strings.Split(env["KAFKA_BROKERS"], ",")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := fmt.Sprintf("%d", time.Now().UnixNano())
	names := []string{"placement-" + run, "billing-" + run, "ünïcødé-" + run, "emoji-😀-" + run, "日本語-" + run}
	for i := range 20 {
		names = append(names, fmt.Sprintf("g%d-%s", i, run))
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "ptopic."+run); err != nil {
		t.Fatal(err)
	}
	defer adm.DeleteTopics(context.Background(), "ptopic."+run)
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "ptopic." + run, Partition: 0, At: 0, LeaderEpoch: -1})
	for _, n := range names {
		if _, err := adm.CommitOffsets(ctx, n, offs); err != nil {
			t.Fatalf("commit %s: %v", n, err)
		}
	}
	defer adm.DeleteGroups(context.Background(), names...)

	// where the broker wrote each commit
	landed := map[string]int32{}
	rd, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("__consumer_offsets"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadUncommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	for len(landed) < len(names) {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("found %d of %d commits in __consumer_offsets", len(landed), len(names))
		}
		fs.EachRecord(func(r *kgo.Record) {
			for _, n := range names {
				if bytes.Contains(r.Key, []byte(n)) {
					landed[n] = r.Partition
				}
			}
		})
	}

	k, err := New(Config{Brokers: brokers, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	err = k.withClient(ctx, func(scl sarama.Client, _ sarama.ClusterAdmin) error {
		md, err := k.metadata(scl)
		if err != nil {
			return err
		}
		n := int32(0)
		for _, tp := range md.Topics {
			if tp.Name == offsetsTopic {
				n = int32(len(tp.Partitions))
			}
		}
		if n == 0 {
			t.Fatal("__consumer_offsets not in the metadata")
		}
		placed := coordinatorsFromMetadata(md, names)
		for _, name := range names {
			if p := offsetsPartition(name, n); p != landed[name] {
				t.Errorf("%s: computed partition %d, the broker wrote to %d", name, p, landed[name])
			}
			co, err := scl.Coordinator(name)
			if err != nil {
				return err
			}
			if placed[name] != co.ID() {
				t.Errorf("%s: coordinator %d from metadata, FindCoordinator says %d", name, placed[name], co.ID())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
