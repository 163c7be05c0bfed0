package kafka

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/IBM/sarama"

	"github.com/mqops/mqops/backends"
)

// Snapshot takes one consistent-enough picture of the cluster: brokers,
// topics with offsets, groups with members and committed offsets, and lag.
//
// Its cost grows with brokers and coordinators, not with partitions × groups:
// one Metadata request, ListOffsets twice per partition leader, ListGroups
// per broker, DescribeGroups (and ConsumerGroupDescribe for groups of the
// consumer protocol; not for a classic group listed Empty, of which it
// would say nothing more) and one batched OffsetFetch (v8) per coordinator.
// On brokers without OffsetFetch v8 it falls back to one OffsetFetch per
// group with bounded concurrency.
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

	// ListGroups asks the brokers the client knows: it is sent at once,
	// and answered while the metadata and the topics' offsets are read.
	listing := goResult(func() (listResult, error) {
		groups, n, err := c.listGroups(cl)
		return listResult{groups, n}, err
	})
	defer listing.wait() // never left running on the client

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

	// 2. Log-start and log-end offsets, one request per leader each, read
	// while the groups are described and their offsets fetched: the join
	// waits for them.
	offsets := goResult(func() (struct{}, error) { return struct{}{}, c.fillOffsets(cl, ad, snap) })
	defer offsets.wait()

	// 3. Groups: ListGroups per broker, then describe + fetch offsets per coordinator.
	lr, err := listing.wait()
	if err != nil {
		if _, oerr := offsets.wait(); oerr != nil {
			return nil, oerr // what failed first in turn: the offsets
		}
		return nil, err
	}
	listed := lr.groups
	snap.Requests += lr.requests
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
	c.openSecondConns(cl, md, names)
	var (
		groups []*describedGroup
		pf     *rtPrefetch
		topics func() map[string]*backends.Topic
		col    *rtCollector // the record times' first round
		ids    map[string]sarama.Uuid
	)
	if len(names) > 0 {
		topics = sync.OnceValue(func() map[string]*backends.Topic { return topicIndex(snap) })
		if !opts.SkipRecordTimes {
			ids = topicUUIDs(md)
			col = c.startRecordTimes(ids)
			if col.first {
				defer func() {
					if snap.TakenAt.IsZero() { // failed: the next one is still the first
						c.rt = nil
					}
				}()
			}
		}
		// each part of the groups is joined, and its partitions with lag
		// collected for the record times, as soon as its offsets are
		// fetched, while the broker answers the other parts; the records
		// at the committed offsets are asked for once every part is in.
		settled := func(part []*describedGroup, last bool) {
			if _, oerr := offsets.wait(); oerr != nil {
				return // the snapshot fails
			}
			if last && col != nil {
				pf = c.prefetchRecordTimes(cl, c.watch, snap, groups, wantTopic, col)
			}
			joinLag(topics(), part, wantTopic)
			if col != nil {
				col.collect(c.rt, keptGroups(part))
			}
		}
		var n int
		groups, n, err = c.describeGroups(cl, md, names, listed)
		if err == nil {
			snap.Requests += n
			n, err = c.fetchCommitted(cl, ad, groups, settled)
			snap.Requests += n
		}
	}
	if _, oerr := offsets.wait(); oerr != nil {
		return nil, oerr
	}
	snap.Requests += 2 * countLeaders(snap)
	if err != nil {
		return nil, err
	}
	if len(names) > 0 {
		// the groups no part settled: without a coordinator, fetched
		// again from the coordinator they moved to, or whose fetch failed
		// (they carry the error)
		var rest []*describedGroup
		for _, dg := range groups {
			if !dg.joined {
				rest = append(rest, dg)
			}
		}
		joinLag(topics(), rest, wantTopic)
		collectGroups(snap, groups)
		if col != nil {
			col.collect(c.rt, keptGroups(rest))
			snap.Requests += c.fillRecordTimes(cl, c.watch, snap, ids, len(wantGroup) == 0 && len(wantTopic) == 0, pf, col)
		}
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

// listResult is what listGroups returns: the groups, and the requests sent.
type listResult struct {
	groups   map[string]listedGroup
	requests int
}

// pending is the result of a call run on its own goroutine (goResult).
type pending[T any] struct {
	done chan struct{}
	v    T
	err  error
}

// goResult runs f on a goroutine of its own; wait returns its result.
func goResult[T any](f func() (T, error)) *pending[T] {
	p := &pending[T]{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.v, p.err = f()
	}()
	return p
}

// wait waits for the call to return, and returns what it returned: each
// time it is called.
func (p *pending[T]) wait() (T, error) {
	<-p.done
	return p.v, p.err
}

type describedGroup struct {
	g         backends.Group
	committed []commit // the partitions with a committed offset, by topic and partition (commits)
	// joined: g has its partition rows (joinLag); kept: it has a place in
	// the snapshot (with a topic filter, a group with no row of the topics
	// has none).
	joined, kept bool
}

// commit is a group's committed offset on a partition.
type commit struct {
	topic string
	p     int32
	off   int64
}

// commits lists the committed offsets of an OffsetFetch answer (those
// with an error or no offset are left out), sorted by topic and
// partition: the topics' names sorted (a group has few), and each topic's
// partitions put in place by number when they are numbered from 0 without
// a gap, as a group's commits on a topic mostly are (sorted otherwise).
// The answer's maps come in no order; sorting the commits by comparison
// took a quarter of the join (11 of 44 ms of CPU at 160,000 commits).
func commits(b map[string]map[int32]*sarama.OffsetFetchResponseBlock) []commit {
	n := 0
	var one [1]string
	names := one[:0]
	for t, ps := range b {
		n += len(ps)
		names = append(names, t)
	}
	if len(names) > 1 {
		slices.Sort(names)
	}
	out := make([]commit, 0, n)
	for _, t := range names {
		ps := b[t]
		base := len(out)
		// partitions 0 to len-1, each put in its place as the map is
		// walked (distinct, they fill every place); one out of that range
		// sends the topic the slow way
		out = out[:base+len(ps)]
		dense := true
		for p, blk := range ps {
			if p < 0 || int(p) >= len(ps) {
				dense = false
				break
			}
			c := commit{topic: t, p: p, off: -1}
			if blk != nil && blk.Err == sarama.ErrNoError && blk.Offset >= 0 {
				c.off = blk.Offset
			}
			out[base+int(p)] = c
		}
		if dense {
			kept := base // the partitions without a usable commit left out
			for _, c := range out[base:] {
				if c.off >= 0 {
					out[kept] = c
					kept++
				}
			}
			out = out[:kept]
			continue
		}
		out = out[:base]
		for p, blk := range ps {
			if blk == nil || blk.Err != sarama.ErrNoError || blk.Offset < 0 {
				continue
			}
			out = append(out, commit{topic: t, p: p, off: blk.Offset})
		}
		slices.SortFunc(out[base:], func(a, b commit) int { return cmp.Compare(a.p, b.p) })
	}
	return out
}

// listedGroup is what ListGroups says of a group.
type listedGroup struct {
	state string
	// groupType is "classic" or "consumer" (ListGroups v5+, Kafka 3.8+),
	// "" from older brokers (whose groups are all classic). A group of
	// the consumer protocol (KIP-848) is described with
	// ConsumerGroupDescribe: DescribeGroups does not describe it.
	groupType string
	// protocolType is "consumer" for a consumer group.
	protocolType string
}

func (c *Client) listGroups(cl sarama.Client) (map[string]listedGroup, int, error) {
	brokers := cl.Brokers()
	type res struct {
		groups map[string]listedGroup
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
			m := map[string]listedGroup{}
			for name, ptype := range resp.Groups {
				gd := resp.GroupsData[name]
				m[name] = listedGroup{state: gd.GroupState, groupType: gd.GroupType, protocolType: ptype}
			}
			out <- res{groups: m}
		}(b)
	}
	all := map[string]listedGroup{}
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

// offsetsTopic holds the groups' state; a group's coordinator is the
// leader of its partition of this topic.
const offsetsTopic = "__consumer_offsets"

// javaHash is Java's String.hashCode of s, over its UTF-16 code units.
func javaHash(s string) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(s)) {
		h = 31*h + int32(u)
	}
	return h
}

// coordinatorsFromMetadata maps each group to the leader of partition
// abs(hashCode(group)) % partitions of __consumer_offsets, which is where
// Kafka places its coordinator: no request per group. (sarama finds
// coordinators with one FindCoordinator per group, in turn and holding the
// broker's connection: hundreds of round trips on a first snapshot over a
// slow link.) Groups it cannot map are left out; a wrong guess is caught by
// the coordinator's answer (see describeGroups).
func coordinatorsFromMetadata(md *sarama.MetadataResponse, names []string) map[string]int32 {
	out := make(map[string]int32, len(names))
	leaders := map[int32]int32{}
	n := int32(0)
	for _, t := range md.Topics {
		if t.Name != offsetsTopic || !errors.Is(t.Err, sarama.ErrNoError) {
			continue
		}
		n = int32(len(t.Partitions))
		for _, p := range t.Partitions {
			leaders[p.ID] = p.Leader
		}
	}
	if n == 0 {
		return out
	}
	for _, name := range names {
		if l, ok := leaders[offsetsPartition(name, n)]; ok && l >= 0 {
			out[name] = l
		}
	}
	return out
}

// offsetsPartition is the partition of __consumer_offsets (of n) that holds
// group: abs(hashCode(group)) % n, with Kafka's Utils.abs.
func offsetsPartition(group string, n int32) int32 {
	h := javaHash(group)
	switch {
	case h == math.MinInt32:
		h = 0
	case h < 0:
		h = -h
	}
	return h % n
}

// describeAt sends one DescribeGroups for groups to broker id.
func describeAt(cl sarama.Client, id int32, groups []string) ([]*sarama.GroupDescription, error) {
	b, err := cl.Broker(id)
	if err != nil {
		return nil, err
	}
	resp, err := b.DescribeGroups(&sarama.DescribeGroupsRequest{Version: 5, Groups: groups}) // lowered to what the broker speaks
	if err != nil {
		return nil, err
	}
	return resp.Groups, nil
}

// groupAnswer is what a group's coordinator said of it: a classic
// description (DescribeGroups), a consumer-protocol one
// (ConsumerGroupDescribe), or that it does not speak ConsumerGroupDescribe.
type groupAnswer struct {
	classic     *sarama.GroupDescription
	consumer    *sarama.ConsumerGroupDescription
	unsupported bool
}

func (a groupAnswer) kerr() sarama.KError {
	switch {
	case a.classic != nil:
		return a.classic.Err
	case a.consumer != nil:
		return a.consumer.ErrorCode
	}
	return sarama.ErrNoError
}

// describeRound is one round of describe requests: the groups to describe
// by coordinator, which of them are of the consumer protocol, and what
// the answers were.
type describeRound struct {
	retry    bool                   // set moved and flipped groups apart, to ask again
	consumer map[string]bool        // described with ConsumerGroupDescribe
	other    map[string]bool        // neither classic nor consumer (share, streams): never flipped
	mu       sync.Mutex             // guards the rest during describeAll
	byName   map[string]groupAnswer // the answers
	batchErr map[string]error       // the request's error, for its groups
	moved    []string               // its broker is not (yet) its coordinator
	flip     []string               // not found as the type it was asked as
	firstErr error                  // the first request's error
	requests int                    // requests sent
}

// describeAll sends, to each coordinator in parallel, one DescribeGroups
// for its classic groups and one ConsumerGroupDescribe for its groups of
// the consumer protocol (KIP-848): at most two requests per coordinator,
// however many groups. With r.retry, the groups a broker says it does not
// coordinate (or not yet: loading), and those it does not know as the type
// asked (a group that changed protocol since it was listed), are set apart
// in r.moved and r.flip instead of filed.
func describeAll(cl sarama.Client, byCoord map[int32][]string, r *describeRound) {
	var wg sync.WaitGroup
	file := func(name string, a groupAnswer) {
		k := a.kerr()
		switch {
		case r.retry && coordinatorPending(k):
			r.moved = append(r.moved, name)
		case r.retry && errors.Is(k, sarama.ErrGroupIDNotFound) && !r.other[name]:
			r.flip = append(r.flip, name)
		default:
			r.byName[name] = a
		}
	}
	fail := func(batch []string, err error) {
		r.firstErr = cmp.Or(r.firstErr, err)
		for _, name := range batch {
			r.batchErr[name] = err
		}
	}
	for id, batch := range byCoord {
		var classic, consumer []string
		for _, name := range batch {
			if r.consumer[name] {
				consumer = append(consumer, name)
			} else {
				classic = append(classic, name)
			}
		}
		if len(classic) > 0 {
			wg.Go(func() {
				descs, err := describeAt(cl, id, classic)
				r.mu.Lock()
				defer r.mu.Unlock()
				r.requests++
				if err != nil {
					fail(classic, err)
					return
				}
				asked := set(classic)
				for _, d := range descs {
					if d != nil && asked[d.GroupId] {
						delete(asked, d.GroupId) // once each, whatever the broker repeats
						file(d.GroupId, groupAnswer{classic: d})
					}
				}
			})
		}
		if len(consumer) > 0 {
			wg.Go(func() {
				descs, err := consumerDescribeAt(cl, id, consumer)
				r.mu.Lock()
				defer r.mu.Unlock()
				if errors.Is(err, sarama.ErrUnsupportedVersion) {
					// the broker's ApiVersions lacks API 69: nothing was sent
					for _, name := range consumer {
						r.byName[name] = groupAnswer{unsupported: true}
					}
					return
				}
				r.requests++
				if err != nil {
					fail(consumer, err)
					return
				}
				asked := set(consumer)
				for i := range descs {
					if d := &descs[i]; asked[d.GroupID] {
						delete(asked, d.GroupID)
						file(d.GroupID, groupAnswer{consumer: d})
					}
				}
			})
		}
	}
	wg.Wait()
}

// describeGroups describes the groups: at most one DescribeGroups (classic
// groups) and one ConsumerGroupDescribe (groups of the consumer protocol,
// KIP-848) per coordinator, in parallel, the coordinators taken from the
// metadata. Groups the metadata does not place, or placed wrongly (the
// broker says it is not their coordinator), are looked up with
// FindCoordinator and described again; a group its coordinator does not
// know as the type ListGroups gave (it changed protocol since) is
// described again as the other type. A group whose coordinator cannot be
// found, or whose coordinator fails, carries the error; the snapshot fails
// only when no group could be described.
func (c *Client) describeGroups(cl sarama.Client, md *sarama.MetadataResponse, names []string, listed map[string]listedGroup) ([]*describedGroup, int, error) {
	coordOf := coordinatorsFromMetadata(md, names)
	coordErr := map[string]error{}
	r := &describeRound{consumer: map[string]bool{}, other: map[string]bool{}, byName: map[string]groupAnswer{}, batchErr: map[string]error{}, retry: true}
	var retry []string // not placed by the metadata
	byCoord := map[int32][]string{}
	empty := map[string]bool{} // classic groups listed Empty, placed: not described
	for _, name := range names {
		lg := listed[name]
		switch lg.groupType {
		case backends.GroupConsumer:
			r.consumer[name] = true
		case "", backends.GroupClassic:
			if _, placed := coordOf[name]; placed && lg.state == backends.GroupEmpty {
				empty[name] = true
				continue
			}
		default:
			r.other[name] = true
		}
		if id, ok := coordOf[name]; ok {
			byCoord[id] = append(byCoord[id], name)
		} else {
			retry = append(retry, name)
		}
	}
	describeAll(cl, byCoord, r)
	retry = append(retry, r.moved...)
	// The groups the metadata did not place, or placed wrongly: sarama's
	// lookup (with its retries and cache), then one request per
	// coordinator and type for them, with the groups that changed type.
	sort.Strings(retry)
	again := map[int32][]string{}
	for _, name := range r.flip {
		r.consumer[name] = !r.consumer[name]
		again[coordOf[name]] = append(again[coordOf[name]], name)
	}
	requests := r.requests
	for _, name := range retry {
		_, placed := coordOf[name]
		delete(coordOf, name)
		requests++ // at most one FindCoordinator: sarama caches them
		if placed {
			if err := cl.RefreshCoordinator(name); err != nil { // retries within sarama's bounds
				coordErr[name] = err
				continue
			}
		}
		co, err := cl.Coordinator(name)
		if err != nil {
			coordErr[name] = err
			continue
		}
		coordOf[name] = co.ID()
		again[co.ID()] = append(again[co.ID()], name)
	}
	r.retry, r.requests = false, 0
	describeAll(cl, again, r)
	requests += r.requests
	if len(names) > len(empty) && len(r.byName) == 0 {
		err := r.firstErr
		for _, e := range coordErr {
			err = cmp.Or(err, e)
		}
		return nil, 0, &Error{Op: "describing consumer groups", Err: cmp.Or(err, error(sarama.ErrConsumerCoordinatorNotAvailable))}
	}
	var topicNames map[sarama.Uuid]string // for consumer-protocol assignments
	var out []*describedGroup
	for _, name := range names {
		lg := listed[name]
		dg := &describedGroup{g: backends.Group{Name: name, State: lg.state, Type: lg.groupType, ProtocolType: lg.protocolType, Coordinator: -1}}
		if dg.g.Type == "" { // before ListGroups v5: classic groups only
			dg.g.Type = backends.GroupClassic
		}
		if id, ok := coordOf[name]; ok {
			dg.g.Coordinator = id
		}
		a, ok := r.byName[name]
		switch {
		case empty[name]:
			// what DescribeGroups says of an Empty classic group, ListGroups
			// said: no members, no protocol chosen (Kafka's GroupSummary);
			// a wrong placement is caught by OffsetFetch (fetchCommitted)
		case coordErr[name] != nil:
			dg.g.Err = "no coordinator: " + coordErr[name].Error()
		case r.batchErr[name] != nil:
			dg.g.Err = "describe: " + r.batchErr[name].Error()
		case !ok:
			dg.g.Err = "not described by its coordinator"
		case a.unsupported && lg.groupType != backends.GroupConsumer:
			// a classic group its coordinator no longer knew, asked again
			// as a consumer-protocol group of a broker without them
			dg.g.Type, dg.g.State = backends.GroupClassic, backends.GroupDead
		case a.unsupported:
			// a broker before ConsumerGroupDescribe: state from ListGroups,
			// offsets from OffsetFetch, and what is unknown said
			dg.g.Type = backends.GroupConsumer
			dg.g.Unknown = fmt.Sprintf(noConsumerDescribe, dg.g.Coordinator)
		case a.consumer != nil:
			if topicNames == nil {
				topicNames = topicIDs(md)
			}
			describeConsumer(&dg.g, a.consumer, topicNames)
		case errors.Is(a.classic.Err, sarama.ErrGroupIDNotFound):
			// gone since listed (Kafka's DescribeGroups says Dead of it)
			dg.g.Type, dg.g.State = backends.GroupClassic, backends.GroupDead
		case !errors.Is(a.classic.Err, sarama.ErrNoError) && a.classic.Err != 0:
			dg.g.Err = "describe: " + a.classic.Err.Error()
		default:
			d := a.classic
			if lg.groupType == backends.GroupConsumer { // it turned classic since listed
				dg.g.Type = backends.GroupClassic
			}
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
	return out, requests, nil
}

// noConsumerDescribe is what is unknown about a group of the consumer
// protocol whose coordinator (%d) does not speak ConsumerGroupDescribe.
const noConsumerDescribe = "members: broker %d (the coordinator) does not support ConsumerGroupDescribe (API 69) for KIP-848 groups; state and lag are known"

// fetchCommitted fills committed offsets: one OffsetFetch v8 per
// coordinator for all its groups, in parallel (one per group on brokers
// older than 3.0); two, on two connections, for a coordinator of many
// groups (splitFetchAt). A group its broker says it does not coordinate
// (it moved) is fetched again through sarama's lookup.
//
// settled is called with the groups of each request whose answer came,
// on the request's goroutine, once their offsets are set; last is true
// for the request answered last (every other request's groups are
// settled by then), which makes the call even if its fetch failed (with
// no groups). The groups fetched again, and those whose fetch failed, are
// not passed to it.
func (c *Client) fetchCommitted(cl sarama.Client, ad sarama.ClusterAdmin, all []*describedGroup, settled func(groups []*describedGroup, last bool)) (int, error) {
	byCoord := map[int32][]*describedGroup{}
	for _, g := range all {
		if g.g.Coordinator < 0 {
			continue // no coordinator: the group carries the error
		}
		byCoord[g.g.Coordinator] = append(byCoord[g.g.Coordinator], g)
	}
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		requests int
		moved    []*describedGroup
		failed   []error
		dropped  []int32 // coordinators whose second connection failed
	)
	type part struct {
		id     int32
		second bool // on the second connection to the coordinator
		groups []*describedGroup
	}
	var parts []part
	for id, batch := range byCoord {
		if x := c.second[id]; x != nil && len(batch) >= splitFetchAt {
			parts = append(parts, part{id, false, batch[:len(batch)/2]}, part{id, true, batch[len(batch)/2:]})
		} else {
			parts = append(parts, part{id, false, batch})
		}
	}
	left := len(parts) // the parts not yet settled, guarded by mu
	done := func(groups []*describedGroup) {
		mu.Lock()
		left--
		last := left == 0
		mu.Unlock()
		if groups != nil || last {
			settled(groups, last)
		}
	}
	for _, pt := range parts {
		id, half := pt.id, pt.groups
		wg.Go(func() {
			b, err := cl.Broker(id)
			if err != nil {
				mu.Lock()
				failed = append(failed, err)
				for _, g := range half {
					appendErr(&g.g, "offset fetch: "+err.Error())
				}
				mu.Unlock()
				done(nil)
				return
			}
			n, again := 0, []*describedGroup(nil)
			if pt.second {
				n, again, err = fetchAt(c.second[id], half)
				if err != nil && !peerGivenUp(err) {
					// the second connection failed (closed by the broker
					// while idle, say): the half on the first one
					mu.Lock()
					dropped = append(dropped, id)
					mu.Unlock()
					var m int
					m, again, err = fetchAt(b, half)
					n += m
				}
			} else {
				n, again, err = fetchAt(b, half)
			}
			mu.Lock()
			requests += n
			moved = append(moved, again...)
			if err != nil {
				failed = append(failed, err)
				for _, g := range half {
					appendErr(&g.g, "offset fetch: "+err.Error())
				}
			}
			mu.Unlock()
			if err != nil {
				done(nil)
				return
			}
			if len(again) > 0 { // those are settled below
				isAgain := make(map[*describedGroup]bool, len(again))
				for _, g := range again {
					isAgain[g] = true
				}
				half = slices.DeleteFunc(slices.Clone(half), func(g *describedGroup) bool { return isAgain[g] })
			}
			done(half)
		})
	}
	wg.Wait()
	for _, id := range dropped {
		c.dropSecondConn(id)
	}
	if len(parts) > 0 && len(failed) == len(parts) {
		return 0, &Error{Op: "fetching committed offsets", Err: failed[0]}
	}
	for _, g := range moved {
		requests++
		r, err := ad.ListConsumerGroupOffsets(g.g.Name, nil)
		if err != nil {
			appendErr(&g.g, "offset fetch: "+err.Error())
			continue
		}
		g.committed = commits(r.Blocks)
		if co, err := cl.Coordinator(g.g.Name); err == nil { // sarama's, found for the fetch
			g.g.Coordinator = co.ID()
		}
	}
	return requests, nil
}

// splitFetchAt is the number of groups of a coordinator from which its
// OffsetFetch is sent in two halves, on two connections: a broker handles
// the requests of one connection one at a time, so the halves are answered
// in parallel, and one is decoded while the other is read. Below it, one
// request is as fast.
const splitFetchAt = 1024

// openSecondConns opens, without waiting (sarama dials in the background),
// a second connection to each coordinator that will be asked for the
// offsets of at least splitFetchAt groups, unless it has one: it is ready
// by the time the groups are described. The connections are kept for the
// next snapshots and closed with the client. c.mu must be held.
func (c *Client) openSecondConns(cl sarama.Client, md *sarama.MetadataResponse, names []string) {
	if len(names) < splitFetchAt {
		return
	}
	count := map[int32]int{}
	for _, id := range coordinatorsFromMetadata(md, names) {
		count[id]++
	}
	for id, n := range count {
		if n < splitFetchAt {
			continue
		}
		b, err := cl.Broker(id)
		if err != nil {
			continue
		}
		if x := c.second[id]; x != nil {
			if x.Addr() == b.Addr() {
				continue
			}
			_ = x.Close()
		}
		x := sarama.NewBroker(b.Addr())
		if err := x.Open(cl.Config()); err != nil {
			continue
		}
		if c.second == nil {
			c.second = map[int32]*sarama.Broker{}
		}
		c.second[id] = x
	}
}

// dropSecondConn closes the second connection to broker id (it failed:
// the next snapshot opens another). c.mu must be held.
func (c *Client) dropSecondConn(id int32) {
	if x := c.second[id]; x != nil {
		_ = x.Close()
		delete(c.second, id)
	}
}

// fetchAt fetches the committed offsets of groups from their coordinator
// b: one request for all of them where the broker speaks OffsetFetch v8,
// else one per group. It returns the requests sent and the groups the
// broker says it does not coordinate.
func fetchAt(b *sarama.Broker, groups []*describedGroup) (int, []*describedGroup, error) {
	var again []*describedGroup
	settle := func(g *describedGroup, kerr sarama.KError, bl map[string]map[int32]*sarama.OffsetFetchResponseBlock) {
		switch {
		case coordinatorPending(kerr):
			again = append(again, g)
		case !errors.Is(kerr, sarama.ErrNoError) && kerr != 0:
			appendErr(&g.g, "offset fetch: "+kerr.Error())
		default:
			g.committed = commits(bl)
		}
	}
	req := sarama.NewOffsetFetchRequest(sarama.MaxVersion, groups[0].g.Name, nil) // v8, or the group's own on older brokers
	for _, g := range groups[1:] {
		req.Groups = append(req.Groups, sarama.OffsetFetchRequestGroup{GroupId: g.g.Name})
	}
	resp, err := b.FetchOffset(req)
	if err != nil {
		return 1, nil, err
	}
	if req.Version >= 8 {
		got := map[string]*sarama.OffsetFetchResponseGroup{}
		for i := range resp.Groups {
			got[resp.Groups[i].GroupId] = &resp.Groups[i]
		}
		for _, g := range groups {
			if r := got[g.g.Name]; r != nil {
				settle(g, r.Err, r.Blocks)
			} else {
				appendErr(&g.g, "no committed offsets returned")
			}
		}
		return 1, again, nil
	}
	// an older broker answered for the first group only
	settle(groups[0], resp.Err, resp.Blocks)
	n := 1
	for _, g := range groups[1:] {
		n++
		r, err := b.FetchOffset(sarama.NewOffsetFetchRequest(sarama.MaxVersion, g.g.Name, nil))
		if err != nil {
			appendErr(&g.g, "offset fetch: "+err.Error())
			continue
		}
		settle(g, r.Err, r.Blocks)
	}
	return n, again, nil
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

// topicIndex maps the snapshot's topics by name.
func topicIndex(snap *backends.ClusterSnapshot) map[string]*backends.Topic {
	topics := make(map[string]*backends.Topic, len(snap.Topics))
	for ti := range snap.Topics {
		topics[snap.Topics[ti].Name] = &snap.Topics[ti]
	}
	return topics
}

// keptGroups returns the groups kept by the join (their rows shared).
func keptGroups(groups []*describedGroup) []backends.Group {
	out := make([]backends.Group, 0, len(groups))
	for _, dg := range groups {
		if dg.kept {
			out = append(out, dg.g)
		}
	}
	return out
}

// collectGroups puts the groups kept by the join in the snapshot, in
// order.
func collectGroups(snap *backends.ClusterSnapshot, groups []*describedGroup) {
	if snap.Groups == nil {
		snap.Groups = make([]backends.Group, 0, len(groups))
	}
	for _, dg := range groups {
		if dg.kept {
			snap.Groups = append(snap.Groups, dg.g)
		}
	}
}

// joinLag builds each group's partition rows, sorted by topic and
// partition: the union of committed partitions and assigned partitions,
// joined with the topics' offsets (which must be in). Many groups are
// joined on several processors, each a run of them (joinGroups).
func joinLag(topics map[string]*backends.Topic, groups []*describedGroup, wantTopic map[string]bool) {
	rows := 0
	for _, dg := range groups {
		rows += len(dg.committed)
	}
	workers := 1
	if rows >= joinParallelAt {
		workers = min(runtime.GOMAXPROCS(0), 4)
	}
	if workers == 1 {
		joinGroups(topics, groups, wantTopic)
		return
	}
	per := (len(groups) + workers - 1) / workers
	var wg sync.WaitGroup
	for from := 0; from < len(groups); from += per {
		to := min(from+per, len(groups))
		wg.Go(func() { joinGroups(topics, groups[from:to], wantTopic) })
	}
	wg.Wait()
}

// joinParallelAt is the number of committed offsets from which joinLag
// joins on several processors.
const joinParallelAt = 1 << 14

// joinGroups joins groups, setting their rows, joined, and kept for those
// that have a place in the snapshot (with a topic filter, a group with no
// row of the topics has none). It allocates the rows of a group at once and the
// offsets of all its groups in one array: a big cluster has hundreds of
// thousands of group partitions, and this runs on every refresh.
func joinGroups(topics map[string]*backends.Topic, groups []*describedGroup, wantTopic map[string]bool) {
	n := 0
	for _, dg := range groups {
		n += len(dg.committed)
		for _, m := range dg.g.Members {
			for _, ps := range m.Assigned {
				n += len(ps)
			}
		}
	}
	offsets := make([]int64, 0, 2*n) // committed offsets and lags; pointers into it stay valid
	keep := func(v int64) *int64 {
		offsets = append(offsets, v)
		return &offsets[len(offsets)-1]
	}
	var (
		lastTopic string
		lastT     *backends.Topic
	)
	partition := func(t string, p int32) *backends.Partition {
		if t != lastTopic || lastT == nil {
			lastTopic, lastT = t, topics[t]
		}
		if lastT == nil {
			return nil
		}
		ps := lastT.Partitions
		if p >= 0 && int(p) < len(ps) && ps[p].Partition == p { // partitions are numbered from 0
			return &ps[p]
		}
		i, ok := slices.BinarySearchFunc(ps, p, func(x backends.Partition, p int32) int { return cmp.Compare(x.Partition, p) })
		if !ok {
			return nil
		}
		return &ps[i]
	}
	byTopicPartition := func(a, b backends.GroupPartition) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	}
	for _, dg := range groups {
		g := &dg.g
		dg.joined = true
		assigned := 0
		for _, m := range g.Members {
			for _, ps := range m.Assigned {
				assigned += len(ps)
			}
		}
		rows := make([]backends.GroupPartition, 0, len(dg.committed)+assigned)
		for _, c := range dg.committed {
			if len(wantTopic) > 0 && !wantTopic[c.topic] {
				continue
			}
			rows = append(rows, backends.GroupPartition{Topic: c.topic, Partition: c.p, Committed: keep(c.off), LogStart: -1, LogEnd: -1})
		}
		committed := len(rows)
		// Assigned partitions: their member on the committed row, or a
		// row of their own (no commit yet). A partition assigned twice
		// takes the later member, in member order.
		var extra map[backends.GroupPartition]int // by topic and partition: index in rows
		for _, m := range g.Members {
			for t, ps := range m.Assigned {
				if len(wantTopic) > 0 && !wantTopic[t] {
					continue
				}
				for _, p := range ps {
					key := backends.GroupPartition{Topic: t, Partition: p}
					i, ok := slices.BinarySearchFunc(rows[:committed], key, byTopicPartition)
					if !ok {
						if i, ok = extra[key]; !ok {
							if extra == nil {
								extra = map[backends.GroupPartition]int{}
							}
							i = len(rows)
							extra[key] = i
							rows = append(rows, backends.GroupPartition{Topic: t, Partition: p, LogStart: -1, LogEnd: -1})
						}
					}
					r := &rows[i]
					r.MemberID, r.ClientID, r.Host = m.ID, m.ClientID, m.Host
				}
			}
		}
		if len(rows) > committed {
			slices.SortFunc(rows, byTopicPartition)
		}
		for i := range rows {
			r := &rows[i]
			if tp := partition(r.Topic, r.Partition); tp != nil {
				r.LogStart, r.LogEnd = tp.LogStart, tp.LogEnd
			}
			if r.Committed != nil && r.LogEnd >= 0 {
				r.Lag = keep(max(r.LogEnd-*r.Committed, 0))
				r.BehindLogStart = r.LogStart >= 0 && *r.Committed < r.LogStart
			}
		}
		if len(wantTopic) > 0 && len(rows) == 0 {
			continue
		}
		g.Partitions = rows
		dg.kept = true
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
