package main

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
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestBenchRabbitScale measures mqops against RabbitMQ's own tools at
// cluster scale, in a vhost of its own (rscale-<random>, deleted at the
// end): 5,000 queues and 500 dead-letter queues of 5 messages each.
// Rounds of `mqops queues -o json` against `rabbitmqadmin list queues`
// and `rabbitmqctl list_queues`, and `mqops dlq -o json`, whole
// processes, counts checked against the broker's; then the broker's CPU
// over a window without and with the console idle on :queues, and how
// long `q` takes to end it. Run by `scripts/bench rabbitmq-scale`.
func TestBenchRabbitScale(t *testing.T) {
	if os.Getenv("MQOPS_BENCH_RSCALE") != "1" {
		t.Skip("benchmark: scripts/bench rabbitmq-scale")
	}
	env := requireEnv(t, "RABBITMQ_URL", "RABBITMQ_MANAGEMENT_URL", "RABBITMQ_USER", "RABBITMQ_PASSWORD", "MQOPS_BIN", "MQOPS_BENCH_OUT")
	nq, ndlq, rounds, window := 5000, 500, 3, 60*time.Second
	if v, err := strconv.Atoi(os.Getenv("MQOPS_BENCH_RSCALE_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	if v, err := time.ParseDuration(os.Getenv("MQOPS_BENCH_RSCALE_WINDOW")); err == nil && v > 0 {
		window = v
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	vhost := "rscale-" + hex.EncodeToString(b)
	mgmt := func(method, path string, body any) []byte {
		t.Helper()
		var r io.Reader
		if body != nil {
			j, _ := json.Marshal(body)
			r = bytes.NewReader(j)
		}
		req, _ := http.NewRequest(method, env["RABBITMQ_MANAGEMENT_URL"]+path, r)
		req.SetBasicAuth(env["RABBITMQ_USER"], env["RABBITMQ_PASSWORD"])
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %s %s", method, path, resp.Status, out)
		}
		return out
	}
	ev := url.PathEscape(vhost)
	mgmt("PUT", "/api/vhosts/"+ev, map[string]any{})
	t.Cleanup(func() { mgmt("DELETE", "/api/vhosts/"+ev, nil) }) // never left behind
	mgmt("PUT", "/api/permissions/"+ev+"/"+url.PathEscape(env["RABBITMQ_USER"]), map[string]string{"configure": ".*", "write": ".*", "read": ".*"})

	// seed over AMQP: the queues, then 5 dead letters in each DLQ
	u, err := url.Parse(env["RABBITMQ_URL"])
	if err != nil {
		t.Fatal(err)
	}
	u.Path, u.RawPath = "/"+vhost, "/"+ev
	conn, err := amqp.Dial(u.String())
	if err != nil {
		t.Fatal(err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	var confs []*amqp.DeferredConfirmation
	for i := range nq + ndlq {
		name := fmt.Sprintf("q-%05d", i)
		if i >= nq {
			name = fmt.Sprintf("orders-%04d.dlq", i-nq)
		}
		if _, err := ch.QueueDeclare(name, true, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
		for k := range 5 * min(i/nq, 1) {
			c, err := ch.PublishWithDeferredConfirm("", name, false, false, amqp.Publishing{MessageId: fmt.Sprint(k), Body: []byte("x"),
				Headers: amqp.Table{"x-exception-type": fmt.Sprintf("E%d", k%2)}})
			if err != nil {
				t.Fatal(err)
			}
			confs = append(confs, c)
		}
	}
	for _, c := range confs {
		if ok, err := c.WaitContext(context.Background()); !ok || err != nil {
			t.Fatalf("publish not confirmed: %v", err)
		}
	}
	conn.Close()
	// the management API's statistics catch up
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Second) {
		var pg struct {
			Filtered int `json:"filtered_count"`
		}
		_ = json.Unmarshal(mgmt("GET", "/api/queues/"+ev+"?page=1&page_size=1&columns=name&disable_stats=true", nil), &pg)
		if pg.Filtered >= nq+ndlq {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the management API lists %d queues of %d", pg.Filtered, nq+ndlq)
		}
	}
	time.Sleep(6 * time.Second) // a statistics round: the DLQs' depths are listed

	home := t.TempDir()
	amqpURL := strings.Replace(env["RABBITMQ_URL"], ":"+env["RABBITMQ_PASSWORD"]+"@", "@", 1)
	mq := func(args ...string) []string {
		return append([]string{env["MQOPS_BIN"], "--management-url", env["RABBITMQ_MANAGEMENT_URL"], "--rabbitmq-url", amqpURL,
			"--rabbitmq-password-env", "RABBITMQ_PASSWORD"}, args...)
	}
	type cmdSpec struct {
		side  string
		argv  []string
		count func(out []byte) (int, error)
	}
	inVhost := func(key string, want func(m map[string]any) bool) func([]byte) (int, error) {
		return func(out []byte) (int, error) {
			var doc map[string]json.RawMessage
			var items []map[string]any
			if err := json.Unmarshal(out, &doc); err != nil {
				return 0, err
			}
			if err := json.Unmarshal(doc[key], &items); err != nil {
				return 0, err
			}
			n := 0
			for _, q := range items {
				if q["vhost"] == vhost && want(q) {
					n++
				}
			}
			return n, nil
		}
	}
	all := func(map[string]any) bool { return true }
	specs := []cmdSpec{
		{"mqops queues -o json", mq("queues", "-o", "json"), inVhost("queues", all)},
		{"mqops dlq -o json", mq("dlq", "-o", "json"), inVhost("dead_letters", func(d map[string]any) bool { return d["sampled"] == 5.0 })},
	}
	if admin := os.Getenv("MQOPS_BENCH_RABBITMQADMIN"); admin != "" {
		mu, _ := url.Parse(env["RABBITMQ_MANAGEMENT_URL"])
		conf := filepath.Join(home, "rabbitmqadmin.conf") // the password not in its arguments
		if err := os.WriteFile(conf, []byte(fmt.Sprintf("[bench]\nhostname = %s\nport = %s\nusername = %s\npassword = %s\n",
			mu.Hostname(), mu.Port(), env["RABBITMQ_USER"], env["RABBITMQ_PASSWORD"])), 0o600); err != nil {
			t.Fatal(err)
		}
		specs = append(specs, cmdSpec{"rabbitmqadmin list queues", []string{"python3", admin, "-c", conf, "-N", "bench", "-f", "raw_json", "list", "queues"},
			func(out []byte) (int, error) {
				var qs []map[string]any
				if err := json.Unmarshal(out, &qs); err != nil {
					return 0, err
				}
				n := 0
				for _, q := range qs {
					if q["vhost"] == vhost {
						n++
					}
				}
				return n, nil
			}})
	}
	if ctl := os.Getenv("MQOPS_BENCH_RABBITMQCTL"); ctl != "" {
		specs = append(specs, cmdSpec{"rabbitmqctl list_queues", append(strings.Fields(ctl), "list_queues", "-q", "-p", vhost, "name", "--no-table-headers"),
			func(out []byte) (int, error) {
				n := 0 // the queue names (the tool adds lines of its own)
				for _, f := range strings.Fields(string(out)) {
					if strings.HasPrefix(f, "q-") || strings.HasPrefix(f, "orders-") {
						n++
					}
				}
				return n, nil
			}})
	}
	type run struct {
		Side    string  `json:"side"`
		Seconds float64 `json:"seconds"`
		CPU     float64 `json:"cpu"`
		Count   int     `json:"count"`
	}
	res := map[string]any{"queues": nq + ndlq, "dlqs": ndlq, "go": runtime.Version(), "load_before": loadAvg(), "window_seconds": window.Seconds()}
	var runs []run
	for r := range rounds {
		for i := range specs {
			s := specs[(i+r)%len(specs)] // each round starts with another side
			c := exec.Command(s.argv[0], s.argv[1:]...)
			c.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "cfg"))
			var out, errb bytes.Buffer
			c.Stdout, c.Stderr = &out, &errb
			start := time.Now()
			err := c.Run()
			took := time.Since(start)
			if err != nil {
				t.Fatalf("%s: %v: %s", s.side, err, errb.String())
			}
			n, err := s.count(out.Bytes())
			if err != nil {
				t.Fatalf("%s: %v", s.side, err)
			}
			want := nq + ndlq
			if strings.Contains(s.side, "dlq") {
				want = ndlq
			}
			if n != want {
				t.Errorf("%s: %d queues of the vhost listed, want %d", s.side, n, want)
			}
			cpu := c.ProcessState.UserTime() + c.ProcessState.SystemTime()
			runs = append(runs, run{s.side, took.Seconds(), cpu.Seconds(), n})
			t.Logf("%s: %.2f s, %.2f CPU-s, %d queues", s.side, took.Seconds(), cpu.Seconds(), n)
		}
	}
	res["rounds"] = runs

	// the console's first frame: exec to the listing on screen (every
	// queue counted), then to the statistics (the quick first look
	// lists depths only)
	if _, err := exec.LookPath("tmux"); err == nil {
		var first, stats []float64
		for r := range rounds {
			f, st := rabbitFirstFrame(t, fmt.Sprintf("mqops-rscale-%d-%d", os.Getpid(), r),
				append([]string{"env", "HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, "cfg")}, mq("console", "--view", "queues")...), nq+ndlq)
			first, stats = append(first, f), append(stats, st)
			t.Logf("console: first frame %.2f s, statistics %.2f s", f, st)
		}
		res["first_frame_seconds"], res["stats_frame_seconds"] = first, stats
	}

	// the broker's CPU without, then with the console idle on :queues
	pid, _ := strconv.Atoi(os.Getenv("MQOPS_BENCH_BROKER_PID"))
	if pid == 0 {
		pid = findProc("beam.smp")
	}
	if pid > 0 {
		before := procCPU(pid)
		time.Sleep(window)
		res["broker_cpu_idle"] = (procCPU(pid) - before) / window.Seconds()
		console := exec.Command("script", "-qfec", "stty cols 160 rows 50; exec "+shellJoin(mq("console", "--view", "queues")), "/dev/null")
		console.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "cfg"), "TERM=xterm-256color")
		keys, err := console.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		console.Stdout = io.Discard
		if err := console.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- console.Wait() }()
		time.Sleep(10 * time.Second) // the first listing is on screen
		before = procCPU(pid)
		time.Sleep(window)
		res["broker_cpu_console"] = (procCPU(pid) - before) / window.Seconds()
		start := time.Now()
		_, _ = keys.Write([]byte("q"))
		select {
		case <-done:
			res["quit_seconds"] = time.Since(start).Seconds()
		case <-time.After(10 * time.Second):
			_ = console.Process.Kill()
			t.Errorf("q did not end the console within 10 s")
		}
		t.Logf("broker CPU: %.1f%% of a core idle, %.1f%% with the console on :queues; q ended it in %v",
			100*res["broker_cpu_idle"].(float64), 100*res["broker_cpu_console"].(float64), res["quit_seconds"])
	}
	res["load_after"] = loadAvg()
	var v struct {
		Version string `json:"rabbitmq_version"`
		Erlang  string `json:"erlang_version"`
	}
	_ = json.Unmarshal(mgmt("GET", "/api/overview?columns=rabbitmq_version,erlang_version", nil), &v)
	res["rabbitmq_version"], res["erlang_version"] = v.Version, v.Erlang
	j, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(env["MQOPS_BENCH_OUT"], j, 0o644); err != nil {
		t.Fatal(err)
	}
}

// findProc is the pid of the first process whose command is comm (0: none).
func findProc(comm string) int {
	ds, _ := os.ReadDir("/proc")
	for _, d := range ds {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile("/proc/" + d.Name() + "/comm"); err == nil && strings.TrimSpace(string(b)) == comm {
			return pid
		}
	}
	return 0
}

// shellJoin quotes argv for sh -c.
func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// pendingStat is a statistic the console has not listed yet (a cell "…").
var pendingStat = regexp.MustCompile(`\s…(\s|$)`)

// queuesCount is the count of queues the :queues view shows.
var queuesCount = regexp.MustCompile(`([0-9,]+) queues`)

// rabbitFirstFrame runs the console (argv, through exec in tmux, 160×45)
// and returns the seconds from its start to a frame listing at least want
// queues, and to the first frame with every statistic listed.
func rabbitFirstFrame(t *testing.T, socket string, argv []string, want int) (first, stats float64) {
	t.Helper()
	tmux := tmuxServer(t, socket)
	defer func() { _, _ = tmux("kill-server") }() // one console at a time
	start := time.Now()
	if out, err := tmux("new-session", "-d", "-s", "c", "-x", "160", "-y", "45", "exec "+shellJoin(argv)); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	for stats == 0 {
		screen, _ := tmux("capture-pane", "-p", "-t", "c")
		if time.Since(start) > 60*time.Second {
			t.Fatalf("no frame with every queue and its statistics within 60 s:\n%s", screen)
		}
		if m := queuesCount.FindStringSubmatch(screen); m != nil {
			if n, _ := strconv.Atoi(strings.ReplaceAll(m[1], ",", "")); n >= want {
				if first == 0 {
					first = time.Since(start).Seconds()
				}
				if !pendingStat.MatchString(screen) {
					stats = time.Since(start).Seconds()
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, _ = tmux("send-keys", "-t", "c", "q")
	return first, stats
}
