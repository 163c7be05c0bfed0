package embedded

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// startTraffic creates the live consumers and starts one goroutine per client
// plus the producer. Every goroutine stops when ctx is done and closes the
// client it owns (a consumer leaves its group on close).
func (e *Env) startTraffic(ctx context.Context, g *generator, st *seedState) error {
	type consumer struct {
		client, group string
		topics        []string
		rate          float64 // records per second processed; 0: as fast as they come
		commit        time.Duration
		idle          bool // member that heartbeats but never polls nor commits
	}
	specs := []consumer{
		{client: "billing-service", group: groupBilling, topics: []string{topicOrders}, commit: commitEvery},
		{client: "shipping-service", group: groupShipping, topics: []string{topicOrders}, rate: rateShipping, commit: commitEvery},
		{client: "fraud-detector", group: groupFraud, topics: []string{topicPayments}, idle: true},
		{client: "analytics-worker-a", group: groupAnalytics, topics: []string{topicOrders, topicPayments}, commit: analyticsEvery},
		{client: "analytics-worker-b", group: groupAnalytics, topics: []string{topicOrders, topicPayments}, commit: analyticsEvery},
	}
	slow := &slowQueue{q: map[tp][]int64{}, processed: map[tp]int64{}, paused: map[tp]bool{}}
	clients := make([]*kgo.Client, 0, len(specs))
	for _, s := range specs {
		opts := []kgo.Opt{
			kgo.SeedBrokers(e.brokers...),
			kgo.ClientID(s.client),
			kgo.ConsumerGroup(s.group),
			kgo.ConsumeTopics(s.topics...),
			kgo.DisableAutoCommit(),
			kgo.FetchMaxWait(time.Second),
		}
		if s.rate > 0 {
			opts = append(opts, kgo.OnPartitionsRevoked(slow.drop), kgo.OnPartitionsLost(slow.drop))
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			for _, c := range clients {
				c.Close()
			}
			return fmt.Errorf("consumer %s: %w", s.client, err)
		}
		clients = append(clients, cl)
	}
	for i, s := range specs {
		cl := clients[i]
		e.wg.Go(func() {
			defer cl.Close()
			switch {
			case s.idle:
				<-ctx.Done()
			case s.rate > 0:
				e.consumeSlow(ctx, cl, slow, s.group, s.rate, s.commit)
			default:
				e.consume(ctx, cl, s.group, s.commit)
			}
		})
	}
	p := &producer{e: e, g: g, last: st.lastOrder}
	e.wg.Go(func() { p.run(ctx) })
	if e.app != nil {
		e.wg.Go(func() { e.app.run(ctx, e.report) })
	}
	return nil
}

// consume polls on a fixed cadence (which also bounds how often the client
// fetches, keeping CPU low) and commits what it polled every commitEvery: a
// consumer that keeps up.
func (e *Env) consume(ctx context.Context, cl *kgo.Client, group string, every time.Duration) {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	lastCommit := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fs.EachError(func(t string, p int32, err error) {
			e.report(ctx, "%s: fetch %s/%d: %v", group, t, p, err)
		})
		if group == AppConsumer {
			e.app.consume(fs)
		}
		if time.Since(lastCommit) >= every {
			lastCommit = time.Now()
			if err := cl.CommitUncommittedOffsets(ctx); err != nil {
				e.report(ctx, "%s: commit: %v", group, err)
			}
		}
	}
}

// slowQueue is the fetched-but-not-yet-processed backlog of a slow consumer,
// one FIFO of offsets per partition. The rebalance callbacks drop revoked
// partitions, hence the mutex.
type slowQueue struct {
	mu        sync.Mutex
	q         map[tp][]int64
	processed map[tp]int64 // next offset to commit, since the last commit
	paused    map[tp]bool
	next      int // round-robin cursor
}

type tp struct {
	t string
	p int32
}

func (s *slowQueue) drop(_ context.Context, cl *kgo.Client, lost map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, ps := range lost {
		for _, p := range ps {
			k := tp{t, p}
			delete(s.q, k)
			delete(s.processed, k)
			delete(s.paused, k)
		}
	}
	cl.ResumeFetchPartitions(lost)
}

// Pause a partition's fetching above queueHigh queued records, resume below
// queueLow: the backlog stays bounded however far behind the group is.
const (
	queueHigh = 400
	queueLow  = 100
)

// consumeSlow processes rate records per second, spread evenly over the
// partitions (one record per partition in turn), and commits what it
// processed every commitEvery: its lag grows on every partition at the same
// pace when production is faster than rate.
func (e *Env) consumeSlow(ctx context.Context, cl *kgo.Client, s *slowQueue, group string, rate float64, every time.Duration) {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	lastCommit := time.Now()
	budget := 0.0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		pctx, cancel := context.WithTimeout(ctx, pollEvery/10)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				e.report(ctx, "%s: fetch %s/%d: %v", group, t, p, err)
			}
		})
		budget = min(budget+rate*pollEvery.Seconds(), rate)
		pause, resume, commit := s.step(fs, &budget, time.Since(lastCommit) >= every)
		if len(pause) > 0 {
			cl.PauseFetchPartitions(pause)
		}
		if len(resume) > 0 {
			cl.ResumeFetchPartitions(resume)
		}
		if commit == nil {
			continue
		}
		lastCommit = time.Now()
		var cerr error
		cl.CommitOffsetsSync(ctx, commit, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, _ *kmsg.OffsetCommitResponse, err error) {
			cerr = err
		})
		if cerr != nil {
			e.report(ctx, "%s: commit: %v", group, cerr)
		}
	}
}

// step queues the fetched offsets, processes up to *budget of them round
// robin, and says which partitions to pause and resume and, when wantCommit,
// what to commit (nil when nothing was processed).
func (s *slowQueue) step(fs kgo.Fetches, budget *float64, wantCommit bool) (pause, resume map[string][]int32, commit map[string]map[int32]kgo.EpochOffset) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs.EachPartition(func(f kgo.FetchTopicPartition) {
		k := tp{f.Topic, f.Partition}
		for _, r := range f.Records {
			s.q[k] = append(s.q[k], r.Offset)
		}
	})
	keys := make([]tp, 0, len(s.q))
	for k := range s.q {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b tp) int {
		return cmp.Or(strings.Compare(a.t, b.t), cmp.Compare(a.p, b.p))
	})
	// Round robin, resuming after the partition served last, so that no
	// partition gets the remainder of the budget more often than another.
	for idle := 0; *budget >= 1 && len(keys) > 0 && idle < len(keys); {
		s.next++
		k := keys[s.next%len(keys)]
		q := s.q[k]
		if len(q) == 0 {
			idle++
			continue
		}
		idle = 0
		s.processed[k] = q[0] + 1
		s.q[k] = q[1:]
		*budget--
	}
	pause, resume = map[string][]int32{}, map[string][]int32{}
	for _, k := range keys {
		switch n := len(s.q[k]); {
		case n > queueHigh && !s.paused[k]:
			s.paused[k] = true
			pause[k.t] = append(pause[k.t], k.p)
		case n < queueLow && s.paused[k]:
			s.paused[k] = false
			resume[k.t] = append(resume[k.t], k.p)
		}
	}
	if wantCommit && len(s.processed) > 0 {
		commit = map[string]map[int32]kgo.EpochOffset{}
		for k, o := range s.processed {
			if commit[k.t] == nil {
				commit[k.t] = map[int32]kgo.EpochOffset{}
			}
			commit[k.t][k.p] = kgo.EpochOffset{Epoch: -1, Offset: o}
		}
		clear(s.processed)
	}
	return pause, resume, commit
}

// report logs an error of a traffic goroutine, unless it only says that the
// traffic is being stopped.
func (e *Env) report(ctx context.Context, format string, args ...any) {
	if ctx.Err() != nil {
		return
	}
	for _, a := range args {
		if err, ok := a.(error); ok && (errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed)) {
			return
		}
	}
	e.logf("embedded: "+format, args...)
}

// producer writes the live topics at their rates, with a little jitter, and
// a dead letter now and then for a recent order.
type producer struct {
	e *Env
	g *generator // owned by the producer goroutine from here on

	mu   sync.Mutex
	last *kgo.Record // newest acknowledged orders record
}

func (p *producer) run(ctx context.Context) {
	tick := time.NewTicker(produceEvery)
	defer tick.Stop()
	var accOrders, accPay, accAudit, accDLT float64
	dt := produceEvery.Seconds()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		jitter := func(rate float64) float64 { return rate * dt * (0.8 + 0.4*p.g.rng.Float64()) }
		accOrders += jitter(rateOrders)
		accPay += jitter(ratePayments)
		accAudit += jitter(rateAudit)
		accDLT += jitter(rateDLT)
		now := time.Now()
		// The application records each order and payment in its outbox
		// and leaves a few unpublished.
		for ; accOrders >= 1; accOrders-- {
			if r := p.g.order(now); p.e.app.publish(r) {
				p.produce(ctx, r, true)
			}
		}
		for ; accPay >= 1; accPay-- {
			if r := p.g.payment(now); p.e.app.publish(r) {
				p.produce(ctx, r, false)
			}
		}
		for ; accAudit >= 1; accAudit-- {
			p.produce(ctx, p.g.audit(now), false)
		}
		for ; accDLT >= 1; accDLT-- {
			p.mu.Lock()
			orig := p.last
			p.mu.Unlock()
			p.produce(ctx, p.g.deadLetter(orig, now, false), false)
		}
	}
}

func (p *producer) produce(ctx context.Context, r *kgo.Record, remember bool) {
	p.e.admin.Produce(ctx, r, func(r *kgo.Record, err error) {
		if err != nil {
			p.e.report(ctx, "produce %s: %v", r.Topic, err)
			return
		}
		if remember {
			p.mu.Lock()
			p.last = r
			p.mu.Unlock()
		}
	})
}
