package kafka

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/mqops/mqops/backends"
)

// Snapshot takes one consistent-enough picture of the cluster: brokers,
// topics with offsets, groups with members and committed offsets, and lag.
//
// Its cost grows with brokers and coordinators, not with partitions × groups:
// one Metadata request, ListOffsets twice per partition leader, ListGroups
// per broker, DescribeGroups and one batched OffsetFetch (v8) per
// coordinator. On brokers without OffsetFetch v8 it falls back to one
// OffsetFetch per group with bounded concurrency.
func (c *Client) Snapshot(ctx context.Context, opts backends.SnapshotOptions) (*backends.ClusterSnapshot, error) {
	var snap *backends.ClusterSnapshot
	err := c.withClient(ctx, func(cl sarama.Client, ad sarama.ClusterAdmin) error {
		var err error
		snap, err = c.snapshot(cl, ad, opts)
		return err
	})
	if err != nil {
		return nil, err
	}
	return snap, nil
}

func (c *Client) snapshot(cl sarama.Client, ad sarama.ClusterAdmin, opts backends.SnapshotOptions) (*backends.ClusterSnapshot, error) {
	snap := &backends.ClusterSnapshot{}
	wantTopic := set(opts.Topics)
	wantGroup := set(opts.Groups)

	// 1. Metadata: brokers, controller, topics, partitions.
	md, err := c.metadata(cl)
	if err != nil {
		return nil, err
	}
	snap.Requests++
	snap.Controller = md.ControllerID
	if md.ClusterID != nil {
		snap.ClusterID = *md.ClusterID
	}
	for _, b := range md.Brokers {
		snap.Brokers = append(snap.Brokers, backends.Broker{ID: b.ID(), Addr: b.Addr(), Rack: b.Rack(), Controller: b.ID() == md.ControllerID})
	}
	sort.Slice(snap.Brokers, func(i, j int) bool { return snap.Brokers[i].ID < snap.Brokers[j].ID })

	for _, t := range md.Topics {
		if t.IsInternal && !opts.IncludeInternal {
			continue
		}
		if len(wantTopic) > 0 && !wantTopic[t.Name] {
			continue
		}
		topic := backends.Topic{Name: t.Name, Internal: t.IsInternal}
		if !errors.Is(t.Err, sarama.ErrNoError) {
			topic.Err = t.Err.Error()
		}
		for _, p := range t.Partitions {
			part := backends.Partition{
				Topic: t.Name, Partition: p.ID, Leader: p.Leader,
				Replicas: append([]int32(nil), p.Replicas...), ISR: append([]int32(nil), p.Isr...),
				UnderReplicated: len(p.Isr) < len(p.Replicas),
				LogStart:        -1, LogEnd: -1,
			}
			if !errors.Is(p.Err, sarama.ErrNoError) && !errors.Is(p.Err, sarama.ErrReplicaNotAvailable) {
				part.Err = p.Err.Error()
			}
			topic.Partitions = append(topic.Partitions, part)
		}
		sort.Slice(topic.Partitions, func(i, j int) bool { return topic.Partitions[i].Partition < topic.Partitions[j].Partition })
		snap.Topics = append(snap.Topics, topic)
	}
	sort.Slice(snap.Topics, func(i, j int) bool { return snap.Topics[i].Name < snap.Topics[j].Name })
	for _, name := range opts.Topics {
		if _, ok := snap.Topic(name); !ok {
			return nil, &Error{Op: fmt.Sprintf("unknown topic \"%s\"", backends.SafeText(name))}
		}
	}

	// 2. Log-start and log-end offsets, one request per leader each.
	if err := c.fillOffsets(cl, ad, snap); err != nil {
		return nil, err
	}
	snap.Requests += 2 * countLeaders(snap)

	// 3. Groups: ListGroups per broker, then describe + fetch offsets per coordinator.
	listed, n, err := c.listGroups(cl)
	if err != nil {
		return nil, err
	}
	snap.Requests += n
	var names []string
	for name := range listed {
		if len(wantGroup) > 0 && !wantGroup[name] {
			continue
		}
		names = append(names, name)
	}
	for _, name := range opts.Groups {
		if _, ok := listed[name]; !ok {
			return nil, &Error{Op: fmt.Sprintf("unknown consumer group \"%s\"", backends.SafeText(name))}
		}
	}
	sort.Strings(names)
	if len(names) > 0 {
		groups, n, err := c.describeGroups(cl, ad, names, listed)
		if err != nil {
			return nil, err
		}
		snap.Requests += n
		n, err = c.fetchCommitted(ad, groups)
		if err != nil {
			return nil, err
		}
		snap.Requests += n
		joinLag(snap, groups, wantTopic)
	}
	snap.TakenAt = time.Now()
	return snap, nil
}

func (c *Client) metadata(cl sarama.Client) (*sarama.MetadataResponse, error) {
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ {
		b := cl.LeastLoadedBroker()
		if b == nil {
			return nil, c.explain(sarama.ErrOutOfBrokers)
		}
		_ = b.Open(cl.Config())
		md, err := b.GetMetadata(sarama.NewMetadataRequest(sarama.MaxVersion, nil))
		if err == nil {
			return md, nil
		}
		lastErr = err
		_ = b.Close()
	}
	return nil, &Error{Op: "fetching metadata from " + c.name, Err: lastErr}
}

func (c *Client) fillOffsets(cl sarama.Client, ad sarama.ClusterAdmin, snap *backends.ClusterSnapshot) error {
	query := func(at int64) map[string]map[int32]int64 {
		m := map[string]map[int32]int64{}
		for _, t := range snap.Topics {
			for _, p := range t.Partitions {
				if p.Leader < 0 {
					continue
				}
				if m[t.Name] == nil {
					m[t.Name] = map[int32]int64{}
				}
				m[t.Name][p.Partition] = at
			}
		}
		return m
	}
	q := query(sarama.OffsetNewest)
	if len(q) == 0 {
		return nil
	}
	var (
		wg            sync.WaitGroup
		latest, early map[string]map[int32]*sarama.OffsetResult
		errL, errE    error
	)
	wg.Go(func() { latest, errL = ad.ListOffsets(q, nil) })
	wg.Go(func() { early, errE = ad.ListOffsets(query(sarama.OffsetOldest), nil) })
	wg.Wait()
	if latest == nil && errL != nil {
		return &Error{Op: "listing log-end offsets", Err: errL}
	}
	if early == nil && errE != nil {
		return &Error{Op: "listing log-start offsets", Err: errE}
	}
	stale := false
	for ti := range snap.Topics {
		t := &snap.Topics[ti]
		for pi := range t.Partitions {
			p := &t.Partitions[pi]
			if r := latest[t.Name][p.Partition]; r != nil {
				if r.Err == nil || errors.Is(r.Err, sarama.ErrNoError) {
					p.LogEnd = r.Offset
				} else {
					p.Err, stale = r.Err.Error(), true
				}
			}
			if r := early[t.Name][p.Partition]; r != nil {
				if r.Err == nil || errors.Is(r.Err, sarama.ErrNoError) {
					p.LogStart = r.Offset
				} else {
					p.Err, stale = r.Err.Error(), true
				}
			}
		}
	}
	if stale {
		// leaders moved: refresh the client's metadata for the next snapshot
		_ = cl.RefreshMetadata()
	}
	return nil
}

type describedGroup struct {
	g         backends.Group
	committed map[string]map[int32]int64 // -1 = none
}

func (c *Client) listGroups(cl sarama.Client) (map[string]sarama.GroupData, int, error) {
	brokers := cl.Brokers()
	type res struct {
		groups map[string]sarama.GroupData
		err    error
	}
	out := make(chan res, len(brokers))
	for _, b := range brokers {
		go func(b *sarama.Broker) {
			_ = b.Open(cl.Config())
			resp, err := b.ListGroups(&sarama.ListGroupsRequest{Version: 5})
			if err == nil && !errors.Is(resp.Err, sarama.ErrNoError) {
				err = resp.Err
			}
			if err != nil {
				out <- res{err: fmt.Errorf("broker %d (%s): %w", b.ID(), b.Addr(), err)}
				return
			}
			m := map[string]sarama.GroupData{}
			for name, ptype := range resp.Groups {
				gd := resp.GroupsData[name]
				if gd.GroupType == "" {
					gd.GroupType = ptype
				}
				m[name] = gd
			}
			out <- res{groups: m}
		}(b)
	}
	all := map[string]sarama.GroupData{}
	var errs []error
	for range brokers {
		r := <-out
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		for k, v := range r.groups {
			all[k] = v
		}
	}
	if len(errs) > 0 {
		return nil, len(brokers), &Error{Op: "listing consumer groups", Err: errors.Join(errs...)}
	}
	return all, len(brokers), nil
}

func (c *Client) describeGroups(cl sarama.Client, ad sarama.ClusterAdmin, names []string, listed map[string]sarama.GroupData) ([]*describedGroup, int, error) {
	descs, err := ad.DescribeConsumerGroups(names)
	if err != nil {
		return nil, 0, &Error{Op: "describing consumer groups", Err: err}
	}
	coords := map[int32]bool{}
	byName := map[string]*sarama.GroupDescription{}
	for _, d := range descs {
		byName[d.GroupId] = d
	}
	var out []*describedGroup
	for _, name := range names {
		dg := &describedGroup{g: backends.Group{Name: name, State: listed[name].GroupState, ProtocolType: listed[name].GroupType, Coordinator: -1}}
		if co, err := cl.Coordinator(name); err == nil {
			dg.g.Coordinator = co.ID()
			coords[co.ID()] = true
		}
		d := byName[name]
		switch {
		case d == nil:
			dg.g.Err = "not described by its coordinator"
		case !errors.Is(d.Err, sarama.ErrNoError) && d.Err != 0:
			// e.g. groups of the KIP-848 consumer protocol, which DescribeGroups
			// does not describe: their offsets still come from OffsetFetch.
			dg.g.Err = "describe: " + d.Err.Error()
		default:
			if d.State != "" {
				dg.g.State = d.State
			}
			dg.g.Protocol = d.Protocol
			if d.ProtocolType != "" {
				dg.g.ProtocolType = d.ProtocolType
			}
			for _, m := range d.Members {
				mem := backends.Member{ID: m.MemberId, ClientID: m.ClientId, Host: m.ClientHost}
				if m.GroupInstanceId != nil {
					mem.InstanceID = *m.GroupInstanceId
				}
				if dg.g.ProtocolType == "consumer" && len(m.MemberAssignment) > 0 {
					if a, err := m.GetMemberAssignment(); err == nil {
						mem.Assigned = a.Topics
					}
				}
				dg.g.Members = append(dg.g.Members, mem)
			}
			sort.Slice(dg.g.Members, func(i, j int) bool { return dg.g.Members[i].ID < dg.g.Members[j].ID })
		}
		if dg.g.State == "" {
			dg.g.State = backends.GroupUnknown
		}
		out = append(out, dg)
	}
	return out, len(coords), nil
}

// fetchCommitted fills committed offsets: one OffsetFetch v8 per
// coordinator for all its groups, or per group on older brokers.
func (c *Client) fetchCommitted(ad sarama.ClusterAdmin, groups []*describedGroup) (int, error) {
	req := map[string]map[string][]int32{}
	for _, g := range groups {
		req[g.g.Name] = nil // nil: all topics
	}
	res, err := ad.ListConsumerGroupOffsetsBatch(req)
	if err == nil {
		coords := map[int32]bool{}
		for _, g := range groups {
			coords[g.g.Coordinator] = true
			r := res[g.g.Name]
			if r == nil {
				appendErr(&g.g, "no committed offsets returned")
				continue
			}
			if !errors.Is(r.Err, sarama.ErrNoError) && r.Err != 0 {
				appendErr(&g.g, "offset fetch: "+r.Err.Error())
				continue
			}
			g.committed = blocks(r.Blocks)
		}
		return len(coords), nil
	}
	if !errors.Is(err, sarama.ErrUnsupportedVersion) {
		return 0, &Error{Op: "fetching committed offsets", Err: err}
	}
	// Older brokers: one request per group, at most 16 at a time.
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for _, g := range groups {
		wg.Add(1)
		sem <- struct{}{}
		go func(g *describedGroup) {
			defer func() { <-sem; wg.Done() }()
			r, err := ad.ListConsumerGroupOffsets(g.g.Name, nil)
			if err != nil {
				appendErr(&g.g, "offset fetch: "+err.Error())
				return
			}
			g.committed = blocks(r.Blocks)
		}(g)
	}
	wg.Wait()
	return len(groups), nil
}

func blocks(b map[string]map[int32]*sarama.OffsetFetchResponseBlock) map[string]map[int32]int64 {
	m := map[string]map[int32]int64{}
	for t, ps := range b {
		for p, blk := range ps {
			if blk == nil || (!errors.Is(blk.Err, sarama.ErrNoError) && blk.Err != 0) || blk.Offset < 0 {
				continue
			}
			if m[t] == nil {
				m[t] = map[int32]int64{}
			}
			m[t][p] = blk.Offset
		}
	}
	return m
}

// joinLag builds each group's partition rows: the union of committed
// partitions and assigned partitions, joined with the topic offsets.
func joinLag(snap *backends.ClusterSnapshot, groups []*describedGroup, wantTopic map[string]bool) {
	parts := map[string]map[int32]*backends.Partition{}
	for ti := range snap.Topics {
		t := &snap.Topics[ti]
		m := map[int32]*backends.Partition{}
		for pi := range t.Partitions {
			m[t.Partitions[pi].Partition] = &t.Partitions[pi]
		}
		parts[t.Name] = m
	}
	for _, dg := range groups {
		g := dg.g
		type key struct {
			t string
			p int32
		}
		rows := map[key]*backends.GroupPartition{}
		row := func(t string, p int32) *backends.GroupPartition {
			k := key{t, p}
			if r, ok := rows[k]; ok {
				return r
			}
			r := &backends.GroupPartition{Topic: t, Partition: p, LogStart: -1, LogEnd: -1}
			if tp := parts[t][p]; tp != nil {
				r.LogStart, r.LogEnd = tp.LogStart, tp.LogEnd
			}
			rows[k] = r
			return r
		}
		for t, ps := range dg.committed {
			if len(wantTopic) > 0 && !wantTopic[t] {
				continue
			}
			for p, off := range ps {
				r := row(t, p)
				o := off
				r.Committed = &o
			}
		}
		for _, m := range g.Members {
			for t, ps := range m.Assigned {
				if len(wantTopic) > 0 && !wantTopic[t] {
					continue
				}
				for _, p := range ps {
					r := row(t, p)
					r.MemberID, r.ClientID, r.Host = m.ID, m.ClientID, m.Host
				}
			}
		}
		for _, r := range rows {
			if r.Committed != nil && r.LogEnd >= 0 {
				lag := r.LogEnd - *r.Committed
				if lag < 0 {
					lag = 0
				}
				r.Lag = &lag
				r.BehindLogStart = r.LogStart >= 0 && *r.Committed < r.LogStart
			}
			g.Partitions = append(g.Partitions, *r)
		}
		sort.Slice(g.Partitions, func(i, j int) bool {
			a, b := g.Partitions[i], g.Partitions[j]
			if a.Topic != b.Topic {
				return a.Topic < b.Topic
			}
			return a.Partition < b.Partition
		})
		if len(wantTopic) > 0 && len(g.Partitions) == 0 {
			continue
		}
		snap.Groups = append(snap.Groups, g)
	}
}

func appendErr(g *backends.Group, msg string) {
	if g.Err != "" {
		g.Err += "; "
	}
	g.Err += msg
}

func countLeaders(s *backends.ClusterSnapshot) int {
	l := map[int32]bool{}
	for _, t := range s.Topics {
		for _, p := range t.Partitions {
			if p.Leader >= 0 {
				l[p.Leader] = true
			}
		}
	}
	return len(l)
}

func set(xs []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

var _ backends.KafkaSource = (*Client)(nil)
