package rabbitmq_test

// The "Drain vs dynamic shovel" benchmarks of docs/BENCHMARKS.md. They need
// the broker of scripts/testenv and run only when asked:
//
//	eval "$(scripts/testenv env)"
//	go build -o bin/mqops ./cmd/mqops
//	MQOPS_BENCH_PROCESS=1 MQOPS_BIN=$PWD/bin/mqops go test -count=1 -run TestBenchDrainProcessVsShovel -v ./backends/rabbitmq/
//	MQOPS_BENCH_SHOVEL=1 go test -count=1 -run TestBenchDrainVsShovel -v ./backends/rabbitmq/
//
// TestBenchDrainProcessVsShovel (what `scripts/bench rabbitmq` runs) times
// the built binary, `mqops drain rabbitmq:<dlq> --to origin --yes`, from
// exec to exit; TestBenchDrainVsShovel times the drain (actions.Runner) in this
// process (for profiling: MQOPS_BENCH_CPUPROFILE). Each round builds N
// persistent dead letters (spread over the origin queues, rejected into a
// classic DLQ through a fanout DLX), drains them to their origins the way
// `mqops drain --to origin` does, then builds the same N again and moves
// them with a dynamic shovel (ack-mode on-confirm, src-delete-after
// queue-length: what the management UI's "Move messages" creates) into the
// first origin until the DLQ is empty and the shovel deleted itself.
// Rounds alternate which side goes first.
//
// Environment: MQOPS_BENCH_N (20000), MQOPS_BENCH_ROUNDS (3),
// MQOPS_BENCH_PREFETCH (the drain's --prefetch, default 0: the CLI's),
// MQOPS_BENCH_ORIGINS (queue types of the origins, default classic,quorum),
// MQOPS_BENCH_BODY (body bytes: 1,024 for the whole process, ~300 in
// process), MQOPS_BENCH_BROKER_PID (the broker's process, for its CPU),
// MQOPS_BENCH_OUT (a JSON file for the results).

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/rabbitmq"
)

type benchRound struct {
	Side    string  `json:"side"`
	Seconds float64 `json:"seconds"`
	Rate    float64 `json:"rate"`
	// CPU seconds used meanwhile by the broker (when MQOPS_BENCH_BROKER_PID
	// names its process) and by this process (the drain's client side).
	BrokerCPU float64 `json:"broker_cpu"`
	ClientCPU float64 `json:"client_cpu"`
}

type benchResult struct {
	N             int          `json:"n"`
	Rounds        []benchRound `json:"rounds"`
	DrainMedian   float64      `json:"drain_median"`
	ShovelMedian  float64      `json:"shovel_median"`
	Ratio         float64      `json:"ratio"`
	Prefetch      int          `json:"prefetch"`
	Origins       []string     `json:"origins"`
	BodyBytes     int          `json:"body_bytes"`
	RabbitVersion string       `json:"rabbitmq_version"`
	ErlangVersion string       `json:"erlang_version"`
	BuildSeconds  float64      `json:"build_seconds_median"`
	// medians of the CPU seconds per side
	DrainBrokerCPU  float64 `json:"drain_broker_cpu"`
	ShovelBrokerCPU float64 `json:"shovel_broker_cpu"`
	DrainClientCPU  float64 `json:"drain_client_cpu"`
	// the machine's load average (1, 5, 15 minutes) before and after
	LoadBefore string `json:"load_before"`
	LoadAfter  string `json:"load_after"`
	// Whole is true for the whole-process comparison (the built binary)
	Whole bool `json:"whole_process"`
}

// loadAvg is the 1, 5 and 15 minute load averages of the machine.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return ""
}

// cpuSeconds returns the user+system CPU seconds of a process (0: self).
func cpuSeconds(pid int) float64 {
	if pid == 0 {
		var ru syscall.Rusage
		if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
			return 0
		}
		return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

type benchEnv struct {
	t          *testing.T
	amqpURL    string
	mgmt, user string
	pass       string
	conn       *amqp.Connection
	ch         *amqp.Channel
	dlx, dlq   string
	origins    []string
	n          int
	body       []byte
	audit      *actions.AuditLog
	whole      bool // the drain is the built binary
}

func benchEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// newBenchEnv reads the broker's addresses and the workload from the
// environment.
func newBenchEnv(t *testing.T) *benchEnv {
	e := &benchEnv{t: t, amqpURL: os.Getenv("RABBITMQ_URL"), mgmt: os.Getenv("RABBITMQ_MANAGEMENT_URL"),
		user: os.Getenv("RABBITMQ_USER"), pass: os.Getenv("RABBITMQ_PASSWORD"),
		n: benchEnvInt("MQOPS_BENCH_N", 20000)}
	if e.amqpURL == "" || e.mgmt == "" {
		t.Fatal("RABBITMQ_URL and RABBITMQ_MANAGEMENT_URL must be set (eval \"$(scripts/testenv env)\")")
	}
	return e
}

// benchOrigins is MQOPS_BENCH_ORIGINS as a list of queue types.
func benchOrigins() []string {
	if v := os.Getenv("MQOPS_BENCH_ORIGINS"); v != "" {
		return strings.Split(v, ",")
	}
	return []string{"classic", "quorum"}
}

func TestBenchDrainVsShovel(t *testing.T) {
	if os.Getenv("MQOPS_BENCH_SHOVEL") != "1" {
		t.Skip("set MQOPS_BENCH_SHOVEL=1 to run the drain vs shovel benchmark")
	}
	backends.TuneGC() // as cmd/mqops runs, on one processor (see oneProcessor in cmd/mqops)
	if os.Getenv("GOMAXPROCS") == "" {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	}
	e := newBenchEnv(t)
	prefetch, _ := strconv.Atoi(os.Getenv("MQOPS_BENCH_PREFETCH"))
	e.body = benchBody(benchEnvInt("MQOPS_BENCH_BODY", 0))
	e.setUp(benchOrigins())
	cfg := rabbitmq.Config{URL: strings.Replace(e.amqpURL, ":"+e.pass+"@", "@", 1), ManagementURL: e.mgmt, Username: e.user, Password: e.pass}
	client, err := rabbitmq.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var prof *os.File
	if p := os.Getenv("MQOPS_BENCH_CPUPROFILE"); p != "" {
		if prof, err = os.Create(p); err != nil {
			t.Fatal(err)
		}
		defer prof.Close()
	}
	e.compare(prefetch, func(round int) (float64, float64) {
		c0 := cpuSeconds(0)
		if prof != nil && round == 0 {
			must(t, pprof.StartCPUProfile(prof))
		}
		secs := e.drain(client, prefetch)
		if prof != nil && round == 0 {
			pprof.StopCPUProfile()
		}
		return secs, cpuSeconds(0) - c0
	})
}

// TestBenchDrainProcessVsShovel is the whole-process comparison of
// docs/BENCHMARKS.md: the built binary, `mqops drain rabbitmq:<dlq> --to
// origin --yes`, timed from exec to exit (process start, plan, move,
// final count, audit, exit), against the dynamic shovel in the same run.
// It runs with MQOPS_BENCH_PROCESS=1 and MQOPS_BIN (the binary); the
// bodies are MQOPS_BENCH_BODY bytes (default 1,024); the other settings
// are TestBenchDrainVsShovel's (MQOPS_BENCH_PREFETCH adds --prefetch).
func TestBenchDrainProcessVsShovel(t *testing.T) {
	if os.Getenv("MQOPS_BENCH_PROCESS") != "1" {
		t.Skip("set MQOPS_BENCH_PROCESS=1 and MQOPS_BIN to run the whole-process drain vs shovel benchmark")
	}
	bin := os.Getenv("MQOPS_BIN")
	if bin == "" {
		t.Fatal("MQOPS_BIN must name the mqops binary (go build -o bin/mqops ./cmd/mqops)")
	}
	e := newBenchEnv(t)
	prefetch, _ := strconv.Atoi(os.Getenv("MQOPS_BENCH_PREFETCH"))
	e.body = benchBody(benchEnvInt("MQOPS_BENCH_BODY", 1024))
	e.setUp(benchOrigins())
	e.whole = true
	dir := t.TempDir()
	e.compare(prefetch, func(int) (float64, float64) { return e.drainProcess(bin, prefetch, dir) })
}

var drainOutput = regexp.MustCompile(`moved (\d+), .* left in \S+ (\S+) `)

// drainProcess runs the binary as an operator would and returns its wall
// and CPU (user + system) seconds, after checking that it moved every
// message to its origin.
func (e *benchEnv) drainProcess(bin string, prefetch int, dir string) (float64, float64) {
	args := []string{"drain", "rabbitmq:" + e.dlq, "--to", "origin", "--yes",
		"--rabbitmq-url", strings.Replace(e.amqpURL, ":"+e.pass+"@", "@", 1), "--management-url", e.mgmt,
		"--rabbitmq-password-env", "MQOPS_BENCH_PASSWORD", "--audit-file", filepath.Join(dir, "audit.jsonl")}
	if prefetch > 0 {
		args = append(args, "--prefetch", strconv.Itoa(prefetch))
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+dir, "XDG_STATE_HOME="+dir, "MQOPS_BENCH_PASSWORD="+e.pass)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	secs := time.Since(start).Seconds()
	if err != nil {
		e.t.Fatalf("%s: %v\n%s%s", bin, err, stdout.String(), stderr.String())
	}
	cpu := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	m := drainOutput.FindStringSubmatch(stdout.String())
	if m == nil || m[1] != strconv.Itoa(e.n) || m[2] != "0" {
		e.t.Fatalf("the drain did not move all %d messages:\n%s%s", e.n, stdout.String(), stderr.String())
	}
	e.checkOrigins()
	return secs, cpu
}

// checkOrigins waits until every origin holds its share of the messages.
func (e *benchEnv) checkOrigins() {
	per := e.n / len(e.origins)
	for i, q := range e.origins {
		want := per
		if i == len(e.origins)-1 {
			want = e.n - per*(len(e.origins)-1)
		}
		e.waitDepth(q, want, 10*time.Second)
	}
}

// compare runs MQOPS_BENCH_ROUNDS rounds of drain and shovel, alternating
// which goes first, each on N freshly built dead letters, and writes the
// medians to MQOPS_BENCH_OUT. drain returns its seconds and the client's
// CPU seconds.
func (e *benchEnv) compare(prefetch int, drain func(round int) (secs, clientCPU float64)) benchResult {
	t := e.t
	rounds := benchEnvInt("MQOPS_BENCH_ROUNDS", 3)
	var ov struct {
		Rabbit string `json:"rabbitmq_version"`
		Erlang string `json:"erlang_version"`
	}
	e.mgmtJSON("GET", "/api/overview", nil, &ov)
	res := benchResult{N: e.n, Prefetch: prefetch, Origins: benchOrigins(), BodyBytes: len(e.body), RabbitVersion: ov.Rabbit, ErlangVersion: ov.Erlang,
		LoadBefore: loadAvg(), Whole: e.whole}
	var drains, shovels, builds, dBroker, sBroker, dClient []float64
	brokerPID := benchEnvInt("MQOPS_BENCH_BROKER_PID", -1)
	for r := 0; r < rounds; r++ {
		sides := []string{"drain", "shovel"}
		if r%2 == 1 {
			sides = []string{"shovel", "drain"}
		}
		for _, side := range sides {
			builds = append(builds, e.build())
			var secs, bcpu, ccpu float64
			b0 := cpuSeconds(brokerPID)
			if side == "drain" {
				secs, ccpu = drain(r)
				bcpu = cpuSeconds(brokerPID) - b0
				drains = append(drains, float64(e.n)/secs)
				dBroker, dClient = append(dBroker, bcpu), append(dClient, ccpu)
			} else {
				secs = e.shovel(fmt.Sprintf("%s-shovel-%d", e.dlq, r))
				bcpu = cpuSeconds(brokerPID) - b0
				shovels = append(shovels, float64(e.n)/secs)
				sBroker = append(sBroker, bcpu)
			}
			rate := float64(e.n) / secs
			res.Rounds = append(res.Rounds, benchRound{Side: side, Seconds: secs, Rate: rate, BrokerCPU: bcpu, ClientCPU: ccpu})
			t.Logf("round %d %-6s %d messages in %.3fs: %.0f msg/s (CPU s: broker %.2f, mqops %.2f)", r+1, side, e.n, secs, rate, bcpu, ccpu)
			for _, q := range e.origins {
				_, err := e.ch.QueuePurge(q, false)
				must(t, err)
			}
		}
	}
	res.LoadAfter = loadAvg()
	res.DrainMedian, res.ShovelMedian, res.BuildSeconds = median(drains), median(shovels), median(builds)
	res.Ratio = res.DrainMedian / res.ShovelMedian
	res.DrainBrokerCPU, res.ShovelBrokerCPU, res.DrainClientCPU = median(dBroker), median(sBroker), median(dClient)
	t.Logf("drain median %.0f msg/s, shovel median %.0f msg/s, ratio %.2f×", res.DrainMedian, res.ShovelMedian, res.Ratio)
	fmt.Printf("BENCH drain-vs-shovel origins=%s n=%d prefetch=%d drain=%.0f shovel=%.0f ratio=%.2f\n",
		strings.Join(res.Origins, ","), e.n, prefetch, res.DrainMedian, res.ShovelMedian, res.Ratio)
	if out := os.Getenv("MQOPS_BENCH_OUT"); out != "" {
		j, _ := json.MarshalIndent(res, "", "  ")
		must(t, os.WriteFile(out, j, 0o644))
	}
	return res
}

// benchBody is a typical event as JSON: the ~300-byte order of the first
// benchmark, padded to size bytes when size is larger.
func benchBody(size int) []byte {
	b := []byte(`{"type":"order.created","order_id":"00000000-0000-0000-0000-000000000000","customer":"c-123456",` +
		`"lines":[{"sku":"SKU-0001","qty":2,"price":"19.99"},{"sku":"SKU-0002","qty":1,"price":"5.00"}],` +
		`"total":"44.98","currency":"EUR","created_at":"2026-11-28T12:00:00Z","source":"checkout-service"}`)
	if pad := size - len(b) - len(`,"note":""`); pad > 0 {
		b = append(b[:len(b)-1], `,"note":"`...)
		b = append(b, strings.Repeat("lorem ipsum ", pad/12+1)[:pad]...)
		b = append(b, `"}`...)
	}
	return b
}

// setUp connects, declares a classic DLQ behind a fanout dead-letter
// exchange and one origin queue per type (dead-lettering into it), and
// registers their deletion.
func (e *benchEnv) setUp(types []string) {
	t := e.t
	var err error
	if e.conn, err = amqp.Dial(e.amqpURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.conn.Close() })
	if e.ch, err = e.conn.Channel(); err != nil {
		t.Fatal(err)
	}
	if err := e.ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	prefix := "mqbench-" + hex.EncodeToString(b)
	e.dlx, e.dlq = prefix+".dlx", prefix+".dlq"
	must(t, e.ch.ExchangeDeclare(e.dlx, "fanout", true, false, false, false, nil))
	e.declare(e.dlq, amqp.Table{"x-queue-type": "classic"})
	must(t, e.ch.QueueBind(e.dlq, "", e.dlx, false, nil))
	for i, typ := range types {
		q := fmt.Sprintf("%s.origin%d-%s", prefix, i+1, typ)
		e.declare(q, amqp.Table{"x-queue-type": typ, "x-dead-letter-exchange": e.dlx})
		e.origins = append(e.origins, q)
	}
	t.Cleanup(func() {
		ch, err := e.conn.Channel()
		if err != nil {
			return
		}
		for _, q := range append([]string{e.dlq}, e.origins...) {
			_, _ = ch.QueueDelete(q, false, false, false)
		}
		_ = ch.ExchangeDelete(e.dlx, false, false)
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (e *benchEnv) declare(q string, args amqp.Table) {
	_, err := e.ch.QueueDeclare(q, true, false, false, false, args)
	must(e.t, err)
}

func (e *benchEnv) depth(q string) int {
	ch, err := e.conn.Channel()
	must(e.t, err)
	defer ch.Close()
	d, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
	must(e.t, err)
	return d.Messages
}

func (e *benchEnv) waitDepth(q string, n int, within time.Duration) {
	deadline := time.Now().Add(within)
	for {
		d := e.depth(q)
		if d == n {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s holds %d messages, want %d", q, d, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// build publishes N persistent messages to the origins (confirmed), then
// rejects them all into the DLQ; it returns how long that took.
func (e *benchEnv) build() float64 {
	start := time.Now()
	per := e.n / len(e.origins)
	for oi, q := range e.origins {
		cnt := per
		if oi == len(e.origins)-1 {
			cnt = e.n - per*(len(e.origins)-1)
		}
		var confs []*amqp.DeferredConfirmation
		for i := 0; i < cnt; i++ {
			c, err := e.ch.PublishWithDeferredConfirm("", q, true, false, amqp.Publishing{
				DeliveryMode: amqp.Persistent, ContentType: "application/json", MessageId: fmt.Sprintf("%s-%d", q, i),
				Timestamp: time.Now(), AppId: "checkout-service",
				Headers: amqp.Table{"tenant": "eu", "trace-id": fmt.Sprintf("%016x", i), "x-retry-count": int32(3)}, Body: e.body})
			must(e.t, err)
			confs = append(confs, c)
			if len(confs) == 2000 {
				for _, c := range confs {
					if !c.Wait() {
						e.t.Fatal("publish nacked")
					}
				}
				confs = confs[:0]
			}
		}
		for _, c := range confs {
			if !c.Wait() {
				e.t.Fatal("publish nacked")
			}
		}
		// reject everything into the DLQ
		ch, err := e.conn.Channel()
		must(e.t, err)
		must(e.t, ch.Qos(1000, 0, false))
		ds, err := ch.Consume(q, "", false, false, false, false, nil)
		must(e.t, err)
		for i := 0; i < cnt; i++ {
			d := <-ds
			if i%500 == 499 || i == cnt-1 {
				must(e.t, d.Nack(true, false))
			}
		}
		must(e.t, ch.Close())
	}
	e.waitDepth(e.dlq, e.n, time.Minute)
	for _, q := range e.origins {
		e.waitDepth(q, 0, time.Minute)
	}
	return time.Since(start).Seconds()
}

// drain moves the DLQ to the origins the way `mqops drain --to origin`
// does, and checks that every message arrived where it came from.
func (e *benchEnv) drain(c *rabbitmq.Client, prefetch int) float64 {
	start := time.Now()
	if e.audit == nil { // as the CLI, the drain writes its audit entry
		e.audit = actions.NewAuditLog(filepath.Join(e.t.TempDir(), "audit.jsonl"))
	}
	r, err := (&actions.Runner{Audit: e.audit}).Execute(context.Background(), &actions.RabbitDrain{Broker: c, Options: actions.DrainOptions{Vhost: "/", Queue: e.dlq, To: "origin", Prefetch: prefetch}}, nil, nil)
	secs := time.Since(start).Seconds()
	if err != nil {
		e.t.Fatal(err)
	}
	res := r.(*actions.DrainResult)
	if res.Moved != e.n || res.Left != 0 {
		e.t.Fatalf("drain: %+v", res)
	}
	e.checkOrigins()
	return secs
}

// shovel moves the DLQ to the first origin with a dynamic shovel, as the
// management UI's "Move messages" does, and times it until the DLQ is
// empty, the destination holds every message and the shovel is gone.
func (e *benchEnv) shovel(name string) float64 {
	path := "/api/parameters/shovel/%2F/" + url.PathEscape(name)
	def := map[string]any{"value": map[string]any{
		"src-uri": "amqp:///%2F", "src-queue": e.dlq, "src-protocol": "amqp091",
		"dest-uri": "amqp:///%2F", "dest-queue": e.origins[0], "dest-protocol": "amqp091",
		"ack-mode": "on-confirm", "src-delete-after": "queue-length", "dest-add-forward-headers": false,
	}}
	start := time.Now()
	e.mgmtJSON("PUT", path, def, nil)
	deadline := start.Add(5 * time.Minute)
	for {
		if e.mgmtStatus(path) == http.StatusNotFound && e.depth(e.dlq) == 0 && e.depth(e.origins[0]) == e.n {
			break
		}
		if time.Now().After(deadline) {
			e.mgmtJSON("DELETE", path, nil, nil)
			e.t.Fatalf("shovel did not finish: DLQ %d, destination %d", e.depth(e.dlq), e.depth(e.origins[0]))
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start).Seconds()
}

func (e *benchEnv) mgmtReq(method, path string, body any) *http.Response {
	var r io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		r = strings.NewReader(string(j))
	}
	req, err := http.NewRequest(method, strings.TrimSuffix(e.mgmt, "/")+path, r)
	must(e.t, err)
	req.URL.RawPath = path // keep %2F
	req.SetBasicAuth(e.user, e.pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	must(e.t, err)
	return resp
}

func (e *benchEnv) mgmtJSON(method, path string, body, out any) {
	resp := e.mgmtReq(method, path, body)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		e.t.Fatalf("%s %s: %s %s", method, path, resp.Status, b)
	}
	if out != nil {
		must(e.t, json.Unmarshal(b, out))
	}
}

func (e *benchEnv) mgmtStatus(path string) int {
	resp := e.mgmtReq("GET", path, nil)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// BenchmarkPublish measures Publish on the broker of scripts/testenv: calls
// of 1,000 persistent messages of 1 KiB to a classic queue through the
// default exchange (publisher confirms, mandatory, up to PublishWindow in
// flight), the queue purged between calls. It reports messages/s. It runs
// only when RABBITMQ_URL is set.
func BenchmarkPublish(b *testing.B) {
	const batch = 1000
	amqpURL, pass := os.Getenv("RABBITMQ_URL"), os.Getenv("RABBITMQ_PASSWORD")
	if amqpURL == "" {
		b.Skip("RABBITMQ_URL not set")
	}
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	rnd := make([]byte, 4)
	_, _ = rand.Read(rnd)
	q := "publish-bench-" + hex.EncodeToString(rnd)
	if _, err := ch.QueueDeclare(q, true, false, false, false, nil); err != nil {
		b.Fatal(err)
	}
	defer ch.QueueDelete(q, false, false, false)
	c, err := rabbitmq.New(rabbitmq.Config{URL: strings.Replace(amqpURL, ":"+pass+"@", "@", 1), ManagementURL: os.Getenv("RABBITMQ_MANAGEMENT_URL"),
		Username: os.Getenv("RABBITMQ_USER"), Password: pass, Timeout: 30 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	body := bytes.Repeat([]byte("v"), 1024)
	msgs := make([]backends.OutgoingMessage, batch)
	for i := range msgs {
		id := "m-" + strconv.Itoa(i)
		msgs[i] = backends.OutgoingMessage{ID: id, MessageID: id, Target: backends.RouteTarget{Broker: "rabbitmq", RoutingKey: q}, Value: body,
			Headers: []backends.StoreHeader{{Key: "mqops-message-id", Value: id}}}
	}
	ctx := context.Background()
	var took time.Duration
	n := 0
	for i := 0; i < b.N; i++ {
		start := time.Now()
		for _, r := range c.Publish(ctx, msgs) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
		took += time.Since(start)
		n += batch
		b.StopTimer()
		if _, err := ch.QueuePurge(q, false); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n)/took.Seconds(), "msgs/s")
}
