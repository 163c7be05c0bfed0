package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqops/mqops/actions"
)

// TestHostileDeadLettersCannotBreakTheAuditLog is the issue's
// reproduction: 600 Kafka dead letters naming 600 distinct 10 KB origins.
// A dry run used to print 12 MB and write a 12 MB audit line, after which
// `mqops audit` failed. Now the printout and the audit line are bounded,
// and the log reads on.
func TestHostileDeadLettersCannotBreakTheAuditLog(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "a.DLT"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := 0; i < 600; i++ {
		origin := strings.Repeat(string(rune('a'+i%26)), 10_000) + strconv.Itoa(i)
		recs = append(recs, &kgo.Record{Topic: "a.DLT", Partition: int32(i % 2), Value: []byte("x"),
			Headers: []kgo.RecordHeader{{Key: "kafka_dlt-original-topic", Value: []byte(origin)}}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	out, _, err := runCLI(t, "drain", "kafka:a.DLT", "--to", "origin", "--dry-run", "--brokers", strings.Join(c.ListenAddrs(), ","), "--audit-file", auditPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) > 64<<10 || !strings.Contains(out, "… and 580 more routes (580 messages") || !strings.Contains(out, " characters)  !! topic does not exist") {
		t.Fatalf("printout of %d bytes:\n...%s", len(out), out[max(0, len(out)-2000):])
	}
	data, err := os.ReadFile(auditPath)
	if err != nil || len(data) > actions.MaxAuditLine+1 {
		t.Fatalf("audit line of %d bytes, %v", len(data), err)
	}
	out, errOut, err := runCLI(t, "audit", "--file", auditPath)
	if err != nil || errOut != "" || !strings.Contains(out, "kafka:a.DLT") {
		t.Fatalf("audit: %v %s\n%s", err, errOut, out)
	}
}
