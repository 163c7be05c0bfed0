package kafkatest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Testenv is the path of scripts/testenv, which runs Kafka's own tools
// against the test broker.
func Testenv() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "scripts", "testenv")
}

// ConsoleConsumer starts Apache Kafka's own console consumer
// (org.apache.kafka.tools.consumer.ConsoleConsumer) as a child process,
// consuming topic in group with client.id clientID and group.protocol
// protocol ("consumer" for Kafka 4's consumer protocol, KIP-848, or
// "classic"). It runs until the end of the test, which stops it (the
// death of the test process kills it too).
func ConsoleConsumer(t testing.TB, bootstrap, topic, group, clientID, protocol string) {
	t.Helper()
	cmd := exec.Command(Testenv(), "kafka-class", "org.apache.kafka.tools.consumer.ConsoleConsumer",
		"--bootstrap-server", bootstrap, "--topic", topic, "--group", group,
		"--consumer-property", "group.protocol="+protocol, "--consumer-property", "client.id="+clientID)
	cmd.Stdout = io.Discard
	stderr := &tail{max: 8 << 10}
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // testenv execs java: it dies with us
	if err := cmd.Start(); err != nil {
		t.Fatalf("console consumer %s: %v", clientID, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		// SIGTERM: the consumer leaves its group (which can then be
		// deleted at once); SIGKILL if it lingers
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("console consumer %s, its stderr's end:\n%s", clientID, stderr.String())
		}
	})
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (w *tail) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p...)
	if over := len(w.b) - w.max; over > 0 {
		w.b = append(w.b[:0], w.b[over:]...)
	}
	return len(p), nil
}

func (w *tail) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.b)
}

// OracleMember is one member of a group as `kafka-consumer-groups
// --describe --members` prints it; Assigned and the epochs are filled from
// --verbose on a group of the consumer protocol.
type OracleMember struct {
	ID, Host, ClientID         string
	Partitions                 int
	Epoch, TargetEpoch         int32
	Assigned, TargetAssignment map[string][]int32
}

// DescribeMembers runs `scripts/testenv kafka-consumer-groups --describe
// --members [--verbose] --group group` and parses its table. verbose is
// for groups of the consumer protocol only (a classic group's assignment
// column holds spaces).
func DescribeMembers(ctx context.Context, group string, verbose bool) ([]OracleMember, string, error) {
	args := []string{"kafka-consumer-groups", "--describe", "--members", "--group", group}
	if verbose {
		args = append(args, "--verbose")
	}
	cmd := exec.CommandContext(ctx, Testenv(), args...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Run(); err != nil {
		return nil, so.String() + se.String(), fmt.Errorf("kafka-consumer-groups: %v", err)
	}
	ms, err := ParseMembers(so.String(), group)
	return ms, so.String(), err
}

// ParseMembers parses the table of `kafka-consumer-groups --describe
// --members [--verbose]`: a header (GROUP CONSUMER-ID HOST CLIENT-ID
// #PARTITIONS, then with --verbose on a consumer-protocol group
// CURRENT-EPOCH CURRENT-ASSIGNMENT TARGET-EPOCH TARGET-ASSIGNMENT), then
// a row per member of group.
func ParseMembers(out, group string) ([]OracleMember, error) {
	var cols []string
	var ms []OracleMember
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if f[0] == "GROUP" {
			cols = f
			continue
		}
		if f[0] != group || cols == nil {
			continue
		}
		if len(f) != len(cols) {
			return nil, fmt.Errorf("row of %d fields under a header of %d: %q", len(f), len(cols), line)
		}
		m := OracleMember{}
		for i, c := range cols {
			var err error
			switch c {
			case "CONSUMER-ID":
				m.ID = f[i]
			case "HOST":
				m.Host = f[i]
			case "CLIENT-ID":
				m.ClientID = f[i]
			case "#PARTITIONS":
				m.Partitions, err = strconv.Atoi(f[i])
			case "CURRENT-EPOCH":
				m.Epoch, err = epoch(f[i])
			case "TARGET-EPOCH":
				m.TargetEpoch, err = epoch(f[i])
			case "CURRENT-ASSIGNMENT":
				m.Assigned, err = assignment(f[i])
			case "TARGET-ASSIGNMENT":
				m.TargetAssignment, err = assignment(f[i])
			}
			if err != nil {
				return nil, fmt.Errorf("%s of %q: %v", c, line, err)
			}
		}
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].ID < ms[j].ID })
	return ms, nil
}

func epoch(s string) (int32, error) {
	n, err := strconv.ParseInt(s, 10, 32)
	return int32(n), err
}

// assignment parses "t1:0,1;t2:2" ("-" for none).
func assignment(s string) (map[string][]int32, error) {
	m := map[string][]int32{}
	if s == "-" {
		return m, nil
	}
	for _, tp := range strings.Split(s, ";") {
		i := strings.LastIndexByte(tp, ':')
		if i < 0 {
			return nil, fmt.Errorf("no ':' in %q", tp)
		}
		for _, p := range strings.Split(tp[i+1:], ",") {
			n, err := strconv.ParseInt(p, 10, 32)
			if err != nil {
				return nil, err
			}
			m[tp[:i]] = append(m[tp[:i]], int32(n))
		}
		sort.Slice(m[tp[:i]], func(a, b int) bool { return m[tp[:i]][a] < m[tp[:i]][b] })
	}
	return m, nil
}

// WaitSettled polls DescribeMembers (verbose) until group has n members,
// each at its target assignment and epoch, and together assigned
// partitions partitions; it returns them, or fails the test at the
// deadline.
func WaitSettled(t testing.TB, group string, n, partitions int, deadline time.Duration) []OracleMember {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	var last string
	for {
		ms, out, err := DescribeMembers(ctx, group, true)
		last = out
		if err == nil && settled(ms, n, partitions) {
			return ms
		}
		select {
		case <-ctx.Done():
			t.Fatalf("group %s did not settle on %d members and %d partitions within %v: %v\n%s", group, n, partitions, deadline, err, last)
		case <-time.After(time.Second):
		}
	}
}

func settled(ms []OracleMember, n, partitions int) bool {
	if len(ms) != n {
		return false
	}
	total := 0
	for _, m := range ms {
		if m.Epoch != m.TargetEpoch || fmt.Sprint(m.Assigned) != fmt.Sprint(m.TargetAssignment) || m.Partitions == 0 {
			return false
		}
		total += m.Partitions
	}
	return total == partitions
}
