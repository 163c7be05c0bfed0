package embedded

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var errNoAssignment = errors.New("no partitions assigned")

// seedState is what the traffic goroutines take over from the seeding.
type seedState struct {
	lastOrder *kgo.Record // the newest seeded orders record, with its offset
}

// seed writes the scenario's initial state: the history of the live topics
// (backlogSeconds of traffic, timestamped in the past), legacy-events and its
// DeleteRecords, the seeded dead letters, and each group's first commit made
// by a real group member that then leaves (so every group has protocol type
// "consumer" and state Empty until traffic starts). With an application,
// its database records the past of the orders and payments history first
// (see app.history): some of those records were never published.
func seed(ctx context.Context, cl *kgo.Client, brokers []string, g *generator, a *app) (*seedState, error) {
	now := time.Now()
	var recs []*kgo.Record
	spread := func(rate float64, mk func(time.Time) *kgo.Record) {
		n := int(rate * backlogSeconds)
		for i := 0; i < n; i++ {
			ago := time.Duration(float64(n-i) / rate * float64(time.Second))
			recs = append(recs, mk(now.Add(-ago)))
		}
	}
	spread(rateOrders, g.order)
	spread(ratePayments, g.payment)
	recs, err := a.history(ctx, now, recs)
	if err != nil {
		return nil, fmt.Errorf("application database: %w", err)
	}
	spread(rateAudit, g.audit)
	// legacy-events: old data, written a day ago over a few hours.
	legacyStart := now.Add(-26 * time.Hour)
	for i := 0; i < legacyPerPart; i++ {
		for p := int32(0); p < 2; p++ {
			recs = append(recs, g.legacy(p, i, legacyStart.Add(time.Duration(i)*7*time.Second)))
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return nil, fmt.Errorf("produce history: %w", err)
	}

	// Log ends as produced (offsets are filled in by ProduceSync).
	ends := map[string]map[int32]int64{}
	for _, t := range topics {
		ends[t.name] = map[int32]int64{}
		for p := int32(0); p < t.partitions; p++ {
			ends[t.name][p] = 0
		}
	}
	var orders []*kgo.Record
	for _, r := range recs {
		if r.Offset+1 > ends[r.Topic][r.Partition] {
			ends[r.Topic][r.Partition] = r.Offset + 1
		}
		if r.Topic == topicOrders {
			orders = append(orders, r)
		}
	}

	// Dead letters of orders records spread over the history, in order, each
	// a little after the record that failed.
	picks := make([]int, 0, seededDeadLetter)
	seen := map[int]bool{}
	for len(picks) < seededDeadLetter {
		i := g.rng.IntN(len(orders))
		if !seen[i] {
			seen[i] = true
			picks = append(picks, i)
		}
	}
	sort.Ints(picks)
	hostile := g.rng.IntN(seededDeadLetter)
	dlts := make([]*kgo.Record, 0, seededDeadLetter)
	for n, i := range picks {
		o := orders[i]
		dlts = append(dlts, g.deadLetter(o, o.Timestamp.Add(time.Duration(200+g.rng.IntN(800))*time.Millisecond), n == hostile))
	}
	if err := cl.ProduceSync(ctx, dlts...).FirstErr(); err != nil {
		return nil, fmt.Errorf("produce dead letters: %w", err)
	}

	adm := kadm.NewClient(cl)
	var del kadm.Offsets
	del.AddOffset(topicLegacy, 0, legacyLogStart, -1)
	dres, err := adm.DeleteRecords(ctx, del)
	if err == nil {
		if r, ok := dres.Lookup(topicLegacy, 0); !ok {
			err = errors.New("no answer for legacy-events/0")
		} else {
			err = r.Err
		}
	}
	if err != nil {
		return nil, fmt.Errorf("delete records: %w", err)
	}

	at := func(topic string, frac float64) map[int32]int64 {
		out := map[int32]int64{}
		for p, end := range ends[topic] {
			out[p] = int64(float64(end) * frac)
		}
		return out
	}
	commits := []struct {
		group, client string
		offsets       map[string]map[int32]int64
	}{
		{groupBilling, "billing-service", map[string]map[int32]int64{topicOrders: at(topicOrders, fracCaughtUp)}},
		{groupShipping, "shipping-service", map[string]map[int32]int64{topicOrders: at(topicOrders, fracShipping)}},
		{groupFraud, "fraud-detector", map[string]map[int32]int64{topicPayments: at(topicPayments, fracFraud)}},
		{groupAudit, "audit-exporter", map[string]map[int32]int64{topicAudit: at(topicAudit, fracAudit)}},
		{groupLegacy, "legacy-reader-v1", map[string]map[int32]int64{topicLegacy: {0: legacyCommitted}}},
		{groupAnalytics, "analytics-worker-a", map[string]map[int32]int64{
			topicOrders:   at(topicOrders, fracCaughtUp),
			topicPayments: at(topicPayments, fracCaughtUp),
		}},
	}
	var wg sync.WaitGroup
	errs := make([]error, len(commits))
	for i, c := range commits {
		wg.Go(func() {
			ts := make([]string, 0, len(c.offsets))
			for t := range c.offsets {
				ts = append(ts, t)
			}
			if c.group == groupLegacy {
				ts = []string{topicLegacy}
			}
			if err := commitAsMember(ctx, brokers, c.group, c.client, ts, c.offsets); err != nil {
				errs[i] = fmt.Errorf("group %s: %w", c.group, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &seedState{lastOrder: orders[len(orders)-1]}, nil
}

// commitAsMember joins group as a consumer of topics, commits offsets with
// the generation it got, and leaves: what a consumer that processed up to
// there and then shut down leaves behind.
func commitAsMember(ctx context.Context, brokers []string, group, clientID string, topics []string, offsets map[string]map[int32]int64) error {
	assigned := make(chan struct{}, 1)
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ClientID(clientID),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topics...),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
			select {
			case assigned <- struct{}{}:
			default:
			}
		}),
	)
	if err != nil {
		return err
	}
	defer cl.Close() // leaves the group
	select {
	case <-assigned:
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", errNoAssignment, ctx.Err())
	}
	eo := map[string]map[int32]kgo.EpochOffset{}
	for t, ps := range offsets {
		eo[t] = map[int32]kgo.EpochOffset{}
		for p, o := range ps {
			eo[t][p] = kgo.EpochOffset{Epoch: -1, Offset: o}
		}
	}
	var cerr error
	cl.CommitOffsetsSync(ctx, eo, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if e := kerr.ErrorForCode(p.ErrorCode); e != nil && cerr == nil {
					cerr = fmt.Errorf("%s/%d: %w", t.Topic, p.Partition, e)
				}
			}
		}
	})
	return cerr
}
