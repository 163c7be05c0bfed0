package kafka

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqops/mqops/backends"
)

// TestRealRecordBatchSizeAsTheBroker: mqops measures a record as Kafka
// does: a record batch of exactly max.message.bytes is taken, one a byte
// larger refused.
func TestRealRecordBatchSizeAsTheBroker(t *testing.T) {
	env := integrationEnv(t, "KAFKA_BROKERS")
	brokers := strings.Split(env["KAFKA_BROKERS"], ",")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topic := fmt.Sprintf("hx-kafka-sized-%d", time.Now().UnixNano())
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(ctx, topic)
	})
	checkBatchSizeAsTheBroker(t, brokers, cl, topic, 10000)
}

// TestRealMoveStopsAtARefusedRecord: a record the target refuses (a
// compacted topic takes no record without a key: INVALID_RECORD, for the
// whole batch it is in) stops the move; the next run produces one record
// at a time where the first had records unconfirmed, so it stops exactly
// at the refused record, and later reruns produce nothing: no record ever
// reaches the target twice, and what the first run produced past the
// failure (its in-flight window) is all the target holds beyond the
// commit.
func TestRealMoveStopsAtARefusedRecord(t *testing.T) {
	env := integrationEnv(t, "KAFKA_BROKERS")
	brokers := strings.Split(env["KAFKA_BROKERS"], ",")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	origin := fmt.Sprintf("hx-kafka-compacted-%d", time.Now().UnixNano())
	dlt := origin + ".DLT"
	compact := "compact"
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": &compact}, origin); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, dlt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = adm.DeleteGroups(ctx, DrainGroup(dlt))
		_, _ = adm.DeleteTopics(ctx, origin, dlt)
	})
	const n, bad = 300, 150
	var recs []*kgo.Record
	for i := range n {
		r := springDLT(dlt, 0, origin, 0, int64(i), "E", true)
		if i == bad {
			r.Key = nil
		}
		recs = append(recs, r)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	k, _ := New(Config{Brokers: brokers, Timeout: 10 * time.Second})
	defer k.Close()
	noTwice := func() map[string]int {
		m := movedSources(t, brokers, origin)
		for src, c := range m {
			if c != 1 {
				t.Fatalf("%s is %d times in the target", src, c)
			}
		}
		return m
	}
	runs, stuck := 0, 0
	for stuck < 2 {
		// the first run stops at the batch that holds it, the second,
		// producing one record at a time past where the first stopped,
		// exactly at it
		if runs++; runs > 4 {
			t.Fatal("the reruns do not reach the refused record")
		}
		before := len(noTwice())
		res, err := k.MoveRecords(ctx, backends.KafkaMoveOptions{Topic: dlt, Target: OriginTarget})
		if err == nil || res.StoppedBecause != backends.KafkaStopError {
			t.Fatalf("run %d over a refused record: %+v %v", runs, res, err)
		}
		after := noTwice()
		c := committedOf(t, brokers, DrainGroup(dlt), dlt)[0]
		if c > bad || int(c) > len(after) || len(after)-int(c) > DefaultMoveWindow {
			t.Fatalf("run %d: committed at %d with %d records in the target", runs, c, len(after))
		}
		t.Logf("run %d: committed at %d, %d records in the target", runs, c, len(after))
		if c == bad {
			if !strings.Contains(err.Error(), fmt.Sprintf("partition 0 offset %d ", bad)) {
				t.Fatalf("at the refused record: %v", err)
			}
			if stuck > 0 && (res.Moved != 0 || len(after) != before) {
				t.Fatalf("a rerun at the refused record produced: %+v, %d then %d records", res, before, len(after))
			}
			stuck++
		}
	}
	t.Logf("%d runs to reach the refused record", runs)
}
