package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqops/mqops/backends/hostile"
	"github.com/mqops/mqops/backends/safejson"
)

// rawUnsafe are the byte sequences of the reproduction that must
// never reach stdout raw: CSI as one C1 byte and as UTF-8, RLO, U+2028,
// and the invalid bytes used below.
var rawUnsafe = [][]byte{{0x9b}, []byte("\u009b"), []byte("\u202e"), []byte("\u2028"), {0xff}, {0xfe}}

// checkStdout fails unless out is free of every raw unsafe rune, invalid
// UTF-8 byte and byte sequence of rawUnsafe.
func checkStdout(t *testing.T, what string, out []byte) {
	t.Helper()
	if err := hostile.Check(out, '\n'); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	for _, b := range rawUnsafe {
		if bytes.Contains(out, b) {
			t.Fatalf("%s: raw % x on stdout", what, b)
		}
	}
}

// TestHostileNamesFromBinary is the reproduction on the real
// brokers through the built binary: a RabbitMQ origin queue and DLQ whose
// names hold a C1 CSI (U+009B), an RLO (U+202E) and U+2028, with a dead
// letter whose exception header holds invalid UTF-8 and a raw 0x9b; a Kafka
// dead-letter topic whose records name an original topic of such bytes;
// a consumer group whose id holds the valid-UTF-8 ones. `mqops queues`,
// `mqops dlq` and `mqops lag` -o json never write them raw, and every name
// decodes (safejson.Decode, the README's form) to its exact bytes; the
// tables are safe too; `drain --to file:` and the audit log keep the
// bytes as well.
func TestHostileNamesFromBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the built binary against the brokers")
	}
	env := requireEnv(t, "RABBITMQ_URL", "RABBITMQ_MANAGEMENT_URL", "RABBITMQ_USER", "RABBITMQ_PASSWORD", "KAFKA_BROKERS")
	bin := mqopsBin(t)
	p := fmt.Sprintf("hxjson%d", time.Now().UnixNano()%1_000_000_000)
	cmdEnv := []string{"XDG_CONFIG_HOME=" + t.TempDir(), "XDG_STATE_HOME=" + t.TempDir()}
	mqops := func(args ...string) []byte {
		t.Helper()
		so, se, err := run(t, 60*time.Second, cmdEnv, bin, args...)
		if err != nil {
			t.Fatalf("mqops %s: %v\n%s", strings.Join(args, " "), err, se)
		}
		return []byte(so)
	}
	decode := func(what string, out []byte) map[string]any {
		t.Helper()
		doc, err := safejson.Decode(out)
		if err != nil {
			t.Fatalf("%s: %v\n%s", what, err, out)
		}
		return doc.(map[string]any)
	}

	t.Run("rabbitmq", func(t *testing.T) {
		origin := p + ".orders\u009b[2J\u202egnp\u2028x"
		dlq := p + ".dlq\u009b\u202e\u2028"
		dlx := p + ".dlx"
		exception := "Boom\x9b[31m\xff\xfe\u202e\u2028end"
		msgID := "id\x9b\xff"
		conn, err := amqp.Dial(env["RABBITMQ_URL"])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() }) // after the deletes below (cleanups run last first)
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if c, err := conn.Channel(); err == nil {
				c.QueueDelete(origin, false, false, false)
				c.QueueDelete(dlq, false, false, false)
				c.ExchangeDelete(dlx, false, false)
			}
		})
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(ch.ExchangeDeclare(dlx, "fanout", true, false, false, false, nil))
		_, err = ch.QueueDeclare(dlq, true, false, false, false, nil)
		must(err)
		must(ch.QueueBind(dlq, "", dlx, false, nil))
		_, err = ch.QueueDeclare(origin, true, false, false, false, amqp.Table{"x-dead-letter-exchange": dlx})
		must(err)
		must(ch.Confirm(false))
		c, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), "", origin, true, false, amqp.Publishing{
			MessageId: msgID, Headers: amqp.Table{"x-exception-type": exception}, Body: []byte("body\x9b\xff")})
		must(err)
		if ok, err := c.WaitContext(context.Background()); !ok || err != nil {
			t.Fatal("publish not confirmed")
		}
		ds, err := ch.Consume(origin, "", false, false, false, false, nil)
		must(err)
		must((<-ds).Reject(false))
		deadline := time.Now().Add(30 * time.Second)
		for {
			qi, err := ch.QueueDeclarePassive(dlq, true, false, false, false, nil)
			must(err)
			if qi.Messages == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the dead letter did not reach the DLQ")
			}
			time.Sleep(100 * time.Millisecond)
		}
		amqpURL := strings.Replace(env["RABBITMQ_URL"], ":"+env["RABBITMQ_PASSWORD"]+"@", "@", 1)
		cliConn := []string{"--rabbitmq-url", amqpURL, "--management-url", env["RABBITMQ_MANAGEMENT_URL"], "--rabbitmq-password-env", "RABBITMQ_PASSWORD"}

		out := mqops(append([]string{"queues", "-o", "json", "--filter", regexp.QuoteMeta(p)}, cliConn...)...)
		checkStdout(t, "queues -o json", out)
		names := map[string]bool{}
		for _, q := range decode("queues", out)["queues"].([]any) {
			names[q.(map[string]any)["name"].(string)] = true
		}
		if !names[origin] || !names[dlq] || len(names) != 2 {
			t.Fatalf("queues -o json decodes to %v, want %q and %q", names, origin, dlq)
		}
		checkStdout(t, "queues", mqops(append([]string{"queues", "--filter", regexp.QuoteMeta(p)}, cliConn...)...))

		checkDLQ(t, mqops(append([]string{"dlq", "-o", "json", "--sample", "10"}, cliConn...)...), "queue", dlq, origin, exception)
		checkStdout(t, "dlq", mqops(append([]string{"dlq", "--sample", "10"}, cliConn...)...))

		// The drain's file and the audit log keep the bytes too.
		path := filepath.Join(t.TempDir(), "dead.jsonl")
		audit := filepath.Join(t.TempDir(), "audit.jsonl")
		checkStdout(t, "drain", mqops(append([]string{"drain", "rabbitmq:" + dlq, "--to", "file:" + path, "--yes", "--audit-file", audit}, cliConn...)...))
		line, err := os.ReadFile(path)
		must(err)
		checkStdout(t, "drain file line", line)
		m := decode("drain file line", line)
		if m["message_id"] != msgID || m["headers"].(map[string]any)["x-exception-type"] != exception || m["first_death"].(map[string]any)["queue"] != origin {
			t.Fatalf("drain file line decodes to %q", m)
		}
		log, err := os.ReadFile(audit)
		must(err)
		checkStdout(t, "audit log", log)
		entries := bytes.Split(bytes.TrimSpace(log), []byte("\n"))
		if e := decode("audit entry", entries[len(entries)-1]); e["source"] != "rabbitmq:"+dlq || !strings.Contains(e["command"].(string), " drain ") {
			t.Fatalf("audit entry decodes to %q", e)
		}
	})

	t.Run("kafka", func(t *testing.T) {
		brokers := strings.Split(env["KAFKA_BROKERS"], ",")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		topic := p + ".DLT"
		originTopic := "orders\x9b[2J\xff\u202e\u2028x"
		class := "com.example.Boom\u009b\xfe"
		group := p + "-g\u009b[31m\u202e\u2028"
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		adm := kadm.NewClient(cl)
		if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
		defer adm.DeleteTopics(context.Background(), topic)
		defer adm.DeleteGroups(context.Background(), group)
		rec := &kgo.Record{Topic: topic, Value: []byte("v"), Headers: []kgo.RecordHeader{
			{Key: "kafka_dlt-original-topic", Value: []byte(originTopic)},
			{Key: "kafka_dlt-original-partition", Value: []byte("0")},
			{Key: "kafka_dlt-original-offset", Value: []byte("7")},
			{Key: "kafka_dlt-exception-fqcn", Value: []byte(class)},
			{Key: "kafka_dlt-exception-message", Value: []byte("msg\x9b\xff")},
		}}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
		offs := kadm.Offsets{}
		offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: 0, LeaderEpoch: -1})
		if _, err := adm.CommitOffsets(ctx, group, offs); err != nil {
			t.Fatal(err)
		}

		out := mqops("lag", "-o", "json", "--brokers", env["KAFKA_BROKERS"], "--group", group)
		checkStdout(t, "lag -o json", out)
		gs := decode("lag", out)["groups"].([]any)
		if len(gs) != 1 || gs[0].(map[string]any)["group"] != group {
			t.Fatalf("lag -o json decodes to %q, want the group %q", gs, group)
		}
		if ps := gs[0].(map[string]any)["partitions"].([]any); len(ps) != 1 || ps[0].(map[string]any)["topic"] != topic {
			t.Fatalf("lag partitions %q", ps)
		}
		checkStdout(t, "lag", mqops("lag", "--brokers", env["KAFKA_BROKERS"], "--group", group))

		checkDLQ(t, mqops("dlq", "-o", "json", "--sample", "10", "--brokers", env["KAFKA_BROKERS"]), "topic", topic, originTopic, class)
		checkStdout(t, "dlq (kafka)", mqops("dlq", "--sample", "10", "--brokers", env["KAFKA_BROKERS"]))
	})
}

// checkDLQ checks `mqops dlq -o json` output: safe on stdout, and the entry
// whose key ("queue" or "topic") is name has one group of exactly origin
// and exception.
func checkDLQ(t *testing.T, out []byte, key, name, origin, exception string) {
	t.Helper()
	checkStdout(t, "dlq -o json", out)
	doc, err := safejson.Decode(out)
	if err != nil {
		t.Fatalf("dlq -o json: %v\n%s", err, out)
	}
	for _, d := range doc.(map[string]any)["dead_letters"].([]any) {
		if d := d.(map[string]any); d[key] == name {
			gs := d["groups"].([]any)
			if len(gs) != 1 || gs[0].(map[string]any)["origin"] != origin || gs[0].(map[string]any)["exception"] != exception {
				t.Fatalf("dlq groups of %q decode to %q, want origin %q and exception %q", name, gs, origin, exception)
			}
			return
		}
	}
	t.Fatalf("dlq -o json has no %s %q:\n%s", key, name, out)
}
