package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"strings"
	"testing"
	"time"

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
	// one broker: metadata 1 + list offsets 2 + list groups 1 + describe 1 + offset fetch 1
	if snap.Requests > 6 {
		t.Fatalf("snapshot took %d requests on a one-broker cluster with %d groups", snap.Requests, len(snap.Groups))
	}
}
