// Package embedded runs an in-process Kafka cluster (franz-go's kfake) with a
// fixed demo scenario and, optionally, live synthetic traffic. It backs
// `mqops demo` and the fast unit tests of the Kafka side.
//
// Nothing of franz-go appears in the exported API: callers get bootstrap
// addresses and talk to the cluster with whatever client they use (sarama in
// backends/kafka).
package embedded

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

// Options configures Start.
type Options struct {
	// Seed drives every random choice of the scenario (keys, amounts,
	// currencies, payload mix), so two runs with one seed hold the same data.
	// Partition leaders are placed by kfake and are not covered by Seed.
	Seed int64
	// Traffic starts the synthetic producers and consumers. When false, only
	// the initial state is created (topics, seeded records, the groups with
	// their first commits, the DeleteRecords on legacy-events): for tests.
	Traffic bool
	// Logf, if set, receives the errors of the traffic goroutines; it is
	// called from several goroutines at once. Nothing of this package ever
	// writes to stdout or stderr.
	Logf func(format string, args ...any)
	// ListenAddr is the address of the first broker. "" means 127.0.0.1 on
	// a port the system picks. With "host:port" (port not 0) the first
	// broker listens there and the two others on free ports of the same
	// host; bootstrapping from the first one is enough for any client. The
	// brokers advertise the address they listen on, so give a host that
	// clients can reach (a loopback address, not 0.0.0.0).
	ListenAddr string
	// KafkaVersion, if set ("2.8", "3.5.1", ...), makes the cluster advertise
	// and accept only the protocol versions of that Kafka release, to test
	// the fallbacks for older brokers (OffsetFetch v8 came with 3.0). ""
	// means every version kfake implements.
	KafkaVersion string
	// AppDB, if set, is the path of the demo application's SQLite database
	// (see store.go), created by Start: the file must not exist. It holds
	// the mqops preset's outbox, retry and idempotency tables, seeded with
	// the application's recent past and, with Traffic, kept moving. The
	// caller removes the file (and its -wal and -shm) after Close. "" means
	// no application database: the records then carry no message id.
	AppDB string
}

// GroupScenario describes one consumer group of the demo and the status a
// lag evaluation should reach for it once a few refreshes have been seen.
type GroupScenario struct {
	Group  string
	Topic  string // topics the group consumes, comma-separated when several
	Expect string // "OK", "WARN", "STALL" or "STOP"
}

// Env is a running embedded cluster. It is safe for concurrent use.
type Env struct {
	cluster *kfake.Cluster
	brokers []string
	admin   *kgo.Client // producer and admin client, owned by Env
	app     *app        // the application database; nil without one
	appDB   string

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	logf      func(format string, args ...any)
}

// numBrokers is the size of the fake cluster: three, so that the topics view
// shows leaders and replica sets spread over brokers.
const numBrokers = 3

// seedTimeout bounds the creation of the initial state (about 0.3 s when
// the machine is idle), so that Start never hangs on a context without a
// deadline.
const seedTimeout = 30 * time.Second

// Start creates the cluster, seeds the scenario's initial state and, when
// o.Traffic is set, starts the traffic goroutines. Cancelling ctx stops the
// traffic (the goroutines return and their consumers leave their groups);
// the cluster itself keeps running until Close.
func Start(ctx context.Context, o Options) (*Env, error) {
	opts, err := listenOpts(o.ListenAddr)
	if err != nil {
		return nil, err
	}
	opts = append(opts, kfake.ClusterID("mqops-demo"))
	if o.KafkaVersion != "" {
		v := kversion.FromString(o.KafkaVersion)
		if v == nil {
			return nil, fmt.Errorf("embedded: unknown Kafka version %q", o.KafkaVersion)
		}
		opts = append(opts, kfake.MaxVersions(v))
	}
	for _, t := range topics {
		opts = append(opts, kfake.SeedTopics(t.partitions, t.name))
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("embedded: start kafka: %w", err)
	}
	e := &Env{
		cluster: cluster,
		brokers: cluster.ListenAddrs(),
		logf:    o.Logf,
	}
	if e.logf == nil {
		e.logf = func(string, ...any) {}
	}
	e.admin, err = kgo.NewClient(
		kgo.SeedBrokers(e.brokers...),
		kgo.ClientID("mqops-demo-producer"),
		kgo.RecordPartitioner(scenarioPartitioner{}),
		kgo.ProducerLinger(0),
	)
	if err != nil {
		cluster.Close()
		return nil, fmt.Errorf("embedded: client: %w", err)
	}

	if o.AppDB != "" {
		if e.app, err = openApp(o.AppDB, o.Seed, e.logf); err != nil {
			e.admin.Close()
			cluster.Close()
			return nil, fmt.Errorf("embedded: %w", err)
		}
		e.appDB = o.AppDB
	}

	g := newGenerator(o.Seed)
	sctx, scancel := context.WithTimeout(ctx, seedTimeout)
	st, err := seed(sctx, e.admin, e.brokers, g, e.app)
	scancel()
	if err != nil {
		e.admin.Close()
		cluster.Close()
		_ = e.app.close()
		return nil, fmt.Errorf("embedded: seed scenario: %w", err)
	}

	tctx, cancel := context.WithCancel(ctx)
	e.cancel = cancel
	if o.Traffic {
		if err := e.startTraffic(tctx, g, st); err != nil {
			_ = e.Close()
			return nil, fmt.Errorf("embedded: start traffic: %w", err)
		}
	}
	return e, nil
}

// listenOpts turns Options.ListenAddr into kfake options.
func listenOpts(addr string) ([]kfake.Opt, error) {
	if addr == "" {
		return []kfake.Opt{kfake.NumBrokers(numBrokers)}, nil
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("embedded: listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("embedded: listen address %q: bad port", addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	ports := make([]int, numBrokers) // ports[1:] stay 0: free ports
	ports[0] = port
	listen := func(network, a string) (net.Listener, error) {
		// kfake asks for "127.0.0.1:<port>"; keep its port, use our host.
		_, p, err := net.SplitHostPort(a)
		if err != nil {
			return nil, err
		}
		return net.Listen(network, net.JoinHostPort(host, p))
	}
	return []kfake.Opt{kfake.Ports(ports...), kfake.ListenFn(listen)}, nil
}

// Brokers returns the bootstrap addresses, one per broker.
func (e *Env) Brokers() []string {
	return append([]string(nil), e.brokers...)
}

// Close stops the traffic goroutines, waits for them (their consumers leave
// their groups), then shuts the cluster down. It is idempotent and safe to
// call concurrently; it always returns nil (kfake's Close reports nothing).
func (e *Env) Close() error {
	e.closeOnce.Do(func() {
		if e.cancel != nil {
			e.cancel()
		}
		e.wg.Wait()
		e.admin.Close()
		e.cluster.Close()
		_ = e.app.close()
	})
	return nil
}

// AppDB is the path of the application database ("" without one).
func (e *Env) AppDB() string { return e.appDB }

// ConsumedID is a message id the application database records consumed
// (one of the newest seeded, kept for appKeepFailed), for a first
// `mqops consumed`; "" without an application database.
func (e *Env) ConsumedID() string {
	if e.app == nil {
		return ""
	}
	return e.app.sample
}

// Scenario describes the groups of the demo and the status each should show.
func (e *Env) Scenario() []GroupScenario {
	return append([]GroupScenario(nil), scenario...)
}
