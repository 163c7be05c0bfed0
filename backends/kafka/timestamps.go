package kafka

import (
	"cmp"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/mqops/mqops/backends"
)

// Exact time lag. A group's time lag on a partition is now minus the
// timestamp of the next record it will read, the one at its committed
// offset. After the committed offsets are known, the snapshot reads those
// records: one Fetch per leader broker, a few KiB per partition, only for
// the (partition, offset) pairs not read before. What was read is kept in
// the Client across snapshots until the offset moves or the partition goes
// away, so a steady refresh reads nothing; groups at one offset share one
// read. The read is optional: a broker that fails it, or stops answering
// it, leaves those partitions to the interpolated estimate (backends/lag),
// and the rest of the snapshot stands.

// Bounds of the reads.
const (
	// rtPartitionBytes is what one partition's read asks for first: a batch
	// header and, in most topics, the whole batch holding the offset.
	rtPartitionBytes = 64 << 10
	// rtMaxPartitionBytes bounds a partition's read when its batch did not
	// fit: each retry (on the next refresh) asks for rtGrowth times more.
	rtMaxPartitionBytes = 4 << 20
	rtGrowth            = 16
	// rtRequestBytes bounds one Fetch: partitions beyond it come back empty
	// and are read on the next refresh.
	rtRequestBytes = 8 << 20
	// rtMaxWait is how long a broker may hold the Fetch for records still
	// on their way (tiered storage): at most half the timeout.
	rtMaxWait = 500 * time.Millisecond
	// rtMaxEntries bounds the cache.
	rtMaxEntries = 100_000
	// rtTries is how many reads that find nothing at an offset (tiered
	// storage that never answers in time, batches emptied by compaction
	// filling the read) are made before the offset is given up.
	rtTries = 3
	// rtAvoid is how long a broker that stopped answering a read, or sent
	// a reply too large, is not read from again.
	rtAvoid = time.Minute
	// rtFirstRounds bounds the reads per leader of a client's first
	// snapshot.
	rtFirstRounds = 4
	// denseRT bounds the partition ids a snapshot indexes by slice (Kafka
	// numbers partitions from 0); others are looked up by key.
	denseRT = 1 << 17
)

// rtKey names one read: the record at off of a partition of one
// incarnation of a topic (its id; zero before Kafka 2.8).
type rtKey struct {
	topic string
	id    sarama.Uuid
	p     int32
	off   int64
}

// rtEntry is what is known of the record at a key's offset.
type rtEntry struct {
	at    time.Time // the record's time; zero when not known
	found int64     // the offset of the record whose time at is
	// exact: found is the record at the key's offset, or only transaction
	// markers lie between them. Else the records between were removed by
	// compaction and at is a later record's.
	exact bool
	// none > 0: no record from the key's offset up to none, the log end
	// when it was read (only transaction markers): a group there has
	// nothing to read while the log end is at most none.
	none int64
	fail string // why no time will be read at this offset
	// budget > 0: the batch holding the offset did not fit the last read;
	// the next one asks for this many bytes.
	budget int32
	tries  int    // reads that found nothing at the offset
	gen    uint64 // the last snapshot that used the entry
}

// settled: nothing more is to be read at the entry's offset while the
// partition's log end is logEnd.
func (e *rtEntry) settled(logEnd int64) bool {
	return !e.at.IsZero() || e.fail != "" || (e.none > 0 && logEnd <= e.none)
}

// rtStats describes the reads of the last snapshot (benchmarks, tests).
type rtStats struct {
	requests int           // Fetch requests sent
	reads    []rtKey       // the partitions read, at the offsets read from
	took     time.Duration // the whole step, cache included
	wanted   int           // distinct offsets wanted
	cached   int           // of which answered from the cache
}

// recordTimes is the cache of a Client (guarded by its mutex).
type recordTimes struct {
	gen     uint64
	entries rtCache
	avoid   map[string]avoided // broker address → when to read from it again
	last    rtStats
}

func newRecordTimes() *recordTimes {
	return &recordTimes{entries: rtCache{parts: map[rtPart]*rtOffsets{}}, avoid: map[string]avoided{}}
}

// rtPart names a partition of one incarnation of a topic.
type rtPart struct {
	topic string
	id    sarama.Uuid
	p     int32
}

// rtOffsets holds the entries of a partition, by offset. New entries come
// from a chunk of the partition's (rtChunk at a time): a snapshot checks
// an entry per group partition with lag, and entries next to each other
// in memory are cheaper to reach than entries spread over the heap.
type rtOffsets struct {
	m     map[int64]rtSlot
	chunk []rtEntry
	// read is the partition's read of the round readGen (collect).
	read    *rtRead
	readGen uint64
}

// rtSlot is an offset's entry and the last snapshot that wanted it: a
// snapshot checks the generation of every group partition with lag, and
// reading it beside the key spares reaching the entry.
type rtSlot struct {
	e   *rtEntry
	gen uint64
}

const rtChunk = 64

// rtCache holds the entries by partition, then by offset: a big cluster
// has hundreds of thousands of group partitions with lag, and a snapshot
// looks each one up; an offset is a cheap key, a partition is looked up
// once per run of a group's partitions of a topic (see readRecordTimes).
type rtCache struct {
	parts map[rtPart]*rtOffsets
	n     int // entries
}

// offsets returns the partition's entries, creating its table.
func (c *rtCache) offsets(k rtPart) *rtOffsets {
	m := c.parts[k]
	if m == nil {
		m = &rtOffsets{m: map[int64]rtSlot{}}
		c.parts[k] = m
	}
	return m
}

// entry returns the entry of offset off in m, creating it.
func (c *rtCache) entry(m *rtOffsets, off int64) *rtEntry {
	s, ok := m.m[off]
	if !ok {
		s.e = m.newEntry()
		m.m[off] = s
		c.n++
	}
	return s.e
}

// newEntry returns a new entry of m's chunk, not yet in its table.
func (m *rtOffsets) newEntry() *rtEntry {
	if len(m.chunk) == cap(m.chunk) {
		m.chunk = make([]rtEntry, 0, rtChunk)
	}
	m.chunk = append(m.chunk, rtEntry{})
	return &m.chunk[len(m.chunk)-1]
}

// lookup returns the entry of k, or nil.
func (c *rtCache) lookup(k rtKey) *rtEntry {
	if m := c.parts[rtPart{k.topic, k.id, k.p}]; m != nil {
		return m.m[k.off].e
	}
	return nil
}

// put sets the entry of k.
func (c *rtCache) put(k rtKey, e *rtEntry) {
	*c.entry(c.offsets(rtPart{k.topic, k.id, k.p}), k.off) = *e
}

func (c *rtCache) len() int { return c.n }

// drop deletes the entries for which f returns true.
func (c *rtCache) drop(f func(*rtEntry) bool) {
	for k, m := range c.parts {
		for off, s := range m.m {
			if f(s.e) {
				delete(m.m, off)
				c.n--
			}
		}
		if len(m.m) == 0 {
			delete(c.parts, k)
		}
	}
}

type avoided struct {
	until time.Time
	why   string
}

// rtUse is one group partition waiting for its record time.
type rtUse struct {
	gp        *backends.GroupPartition
	e         *rtEntry // the cache's entry of the offset read
	off       int64    // the offset read: the committed offset, or the log start
	retention bool     // the committed offset is below the log start
}

// rtRead is one partition's read: from its smallest offset wanted; the
// records returned settle the other offsets wanted that they cover.
type rtRead struct {
	topic  string
	id     sarama.Uuid
	p      int32
	from   int64
	budget int32
	want   []int64 // sorted, want[0] == from
	tried  bool    // an earlier read found nothing: ask first
	offs   *rtOffsets
}

// fillRecordTimes sets RecordTime (or RecordTimeNote) on every group
// partition of snap with lag, reading what the cache does not hold, and
// returns the Fetch requests it sent: at most one per leader, or, in the
// client's first snapshot, at most rtFirstRounds per leader. ids are the
// topics' ids. With prune, entries the snapshot did not use are dropped (a
// snapshot of every group: they are of offsets no group is at any more).
//
// One read per partition cannot always give every time: it starts at the
// partition's smallest offset wanted (groups far beyond it wait), and a
// broker answers nothing for a partition whose batch at the offset is over
// the read's bound unless it is the first partition of its answer (the
// next read asks for more). Later snapshots get those on the next
// refresh; the first one, which has no earlier refresh to lean on (the
// console's first screen, a one-sample `mqops lag`), reads again at once
// what is missing, a bounded number of times.
//
// With col, the first round's group partitions were collected as the
// snapshot's groups were joined (startRecordTimes); else they are here.
func (c *Client) fillRecordTimes(cl sarama.Client, w *watch, snap *backends.ClusterSnapshot, ids map[string]sarama.Uuid, prune bool, pf *rtPrefetch, col *rtCollector) int {
	if col == nil {
		col = c.startRecordTimes(ids)
		col.collect(c.rt, snap.Groups)
	}
	start := col.start
	rounds := 1
	if col.first {
		rounds = rtFirstRounds
	}
	rt := c.rt
	for round := 0; round < rounds; round++ {
		if round > 0 {
			pf, col = nil, nil
		}
		if !c.readRecordTimes(cl, w, snap, ids, round, pf, col) {
			break
		}
	}
	if pf != nil { // the first round did not read what was sent early
		rt.last.requests += pf.unused()
	}
	rt.prune(prune)
	rt.last.took = time.Since(start)
	return rt.last.requests
}

// readRecordTimes is one round of fillRecordTimes: it reads what the cache
// does not hold, at most one Fetch per leader, and fills the group
// partitions. A round after the first reads only partitions whose read can
// still progress at once (not those that found nothing at their offset:
// those wait for the next refresh). It reports whether another round
// could settle more: every Fetch answered, and an offset wanted is still
// to be read.
func (c *Client) readRecordTimes(cl sarama.Client, w *watch, snap *backends.ClusterSnapshot, ids map[string]sarama.Uuid, round int, pf *rtPrefetch, col *rtCollector) bool {
	rt := c.rt

	type tp struct {
		topic string
		p     int32
	}
	var (
		uses  [][]rtUse
		reads []*rtRead
	)
	if col != nil { // the first round, collected already
		uses, reads = col.uses, col.reads
	} else {
		rt.gen++
		uses, reads = rt.collect(snap, ids, round)
	}
	leaders := map[tp]int32{}
	addrs := map[int32]string{}
	if len(reads) > 0 {
		for _, t := range snap.Topics {
			for _, p := range t.Partitions {
				leaders[tp{t.Name, p.Partition}] = p.Leader
			}
		}
		for _, b := range snap.Brokers {
			addrs[b.ID] = b.Addr
		}
	}

	// One read per partition, from its smallest offset wanted; one Fetch
	// per leader.
	notes := map[tp]string{} // why a partition was not read
	byLeader := map[int32][]*rtRead{}
	now := time.Now()
	for addr, a := range rt.avoid {
		if !now.Before(a.until) {
			delete(rt.avoid, addr)
		}
	}
	for _, r := range reads {
		k := tp{r.topic, r.p}
		sort.Slice(r.want, func(i, j int) bool { return r.want[i] < r.want[j] })
		r.from = r.want[0]
		r.budget = rtPartitionBytes
		e := r.offs.m[r.from].e
		r.budget = max(r.budget, e.budget)
		r.tried = e.tries > 0
		l, ok := leaders[k]
		switch {
		case round > 0 && r.tried:
			// found nothing at its offset this snapshot: the next refresh
		case !ok || l < 0:
			notes[k] = "record not read: the partition has no leader"
		case rt.avoid[addrs[l]].why != "":
			a := rt.avoid[addrs[l]]
			notes[k] = fmt.Sprintf("%s; next read after %s", a.why, a.until.Format("15:04:05"))
		default:
			byLeader[l] = append(byLeader[l], r)
		}
	}

	type answer struct {
		leader int32
		reads  []*rtRead
		resp   *sarama.FetchResponse
		err    error
		early  bool // sent early (pf)
	}
	answers := make([]answer, 0, len(byLeader))
	for l, rs := range byLeader {
		// earlier reads that found nothing first, so that the request's
		// bound never starves them; then a stable order
		sort.Slice(rs, func(i, j int) bool {
			if rs[i].tried != rs[j].tried {
				return rs[i].tried
			}
			if rs[i].topic != rs[j].topic {
				return rs[i].topic < rs[j].topic
			}
			return rs[i].p < rs[j].p
		})
		answers = append(answers, answer{leader: l, reads: rs, early: pf.sent(l, rs)})
		for _, r := range rs {
			rt.last.reads = append(rt.last.reads, rtKey{r.topic, r.id, r.p, r.from})
		}
	}
	wait := min(rtMaxWait, c.cfg.Timeout/2)
	if len(answers) > 0 {
		w.optionally(func() {
			var wg sync.WaitGroup
			sem := make(chan struct{}, maxFetchesInFlight)
			for i := range answers {
				wg.Go(func() {
					sem <- struct{}{}
					defer func() { <-sem }()
					a := &answers[i]
					if a.early {
						a.resp, a.err = pf.answer(a.leader)
						return
					}
					a.resp, a.err = fetchRecordTimes(cl, a.leader, a.reads, wait)
				})
			}
			wg.Wait()
		})
	}
	rt.last.requests += len(answers)

	more := len(answers) > 0
	type answered struct {
		r    *rtRead
		resp *sarama.FetchResponse
	}
	var toResolve []answered
	for _, a := range answers {
		if a.err != nil {
			more = false
			why := fmt.Sprintf("record read failed: %v", c.explain(a.err))
			if peerGivenUp(a.err) {
				rt.avoid[addrs[a.leader]] = avoided{until: time.Now().Add(rtAvoid), why: why}
			}
			for _, r := range a.reads {
				notes[tp{r.topic, r.p}] = why
			}
			continue
		}
		for _, r := range a.reads {
			toResolve = append(toResolve, answered{r, a.resp})
		}
	}
	// The partitions' records are resolved on the processors, each a share
	// of the partitions (an entry belongs to one partition; notes are
	// shared).
	var notesMu sync.Mutex
	note := func(k tp, why string) {
		notesMu.Lock()
		notes[k] = why
		notesMu.Unlock()
	}
	resolve := func(r *rtRead, resp *sarama.FetchResponse) {
		k := tp{r.topic, r.p}
		blk := resp.GetBlock(r.topic, r.p)
		switch {
		case blk == nil:
			note(k, "record not read: the broker's answer left the partition out")
			return
		case errors.Is(blk.Err, sarama.ErrOffsetOutOfRange):
			note(k, fmt.Sprintf("record not read: offset %d out of range (log start %d): records deleted since the offsets were listed", r.from, blk.LogStartOffset))
			return
		case !errors.Is(blk.Err, sarama.ErrNoError):
			note(k, "record read failed: "+blk.Err.Error())
			return
		}
		got := resolveTimes(blk.RecordsSet, r.want, r.budget, blk.HighWaterMarkOffset)
		for _, off := range r.want {
			e := r.offs.m[off].e
			switch x := got[off]; {
			case x != nil:
				x.gen = e.gen
				*e = *x
			case off == r.from:
				// nothing at the offset read from
				e.tries++
				if e.tries >= rtTries {
					e.fail = fmt.Sprintf("no record found at offset %d in %d reads", off, e.tries)
				}
			}
			// else not reached: read from it next time
		}
	}
	workers := 1
	if len(toResolve) >= resolveParallelAt {
		workers = min(runtime.GOMAXPROCS(0), 4)
	}
	var rwg sync.WaitGroup
	for k := range workers {
		rwg.Go(func() {
			for i := k; i < len(toResolve); i += workers {
				resolve(toResolve[i].r, toResolve[i].resp)
			}
		})
	}
	rwg.Wait()

	// The group partitions take their times, on the processors that found
	// them (one for a small cluster): each use is its own row, the entries
	// and notes are only read.
	pendings := make([]bool, len(uses))
	var wg sync.WaitGroup
	for k, us := range uses {
		wg.Go(func() {
			times := make([]time.Time, len(us)) // the record times handed out, in one allocation
			for i, u := range us {
				var note string
				if len(notes) > 0 {
					note = notes[tp{u.gp.Topic, u.gp.Partition}]
				}
				u.fill(&times[i], note)
				pendings[k] = pendings[k] || (note == "" && u.e.tries == 0 && !u.e.settled(u.gp.LogEnd))
			}
		})
	}
	wg.Wait()
	return more && slices.Contains(pendings, true)
}

// rtCollector gathers the first round of a snapshot's record times group
// by group: the snapshot's groups are collected a part at a time as they
// are joined, while their rows are in the processor's cache and the
// broker answers for the other parts, not all at once after.
type rtCollector struct {
	mu    sync.Mutex // one part at a time (collect's shards own partitions)
	ids   map[string]sarama.Uuid
	first bool // the client's first snapshot: no cache to lean on
	start time.Time
	uses  [][]rtUse
	reads []*rtRead
}

// startRecordTimes starts the record times of a snapshot (the cache made
// on the client's first) and returns its collector. c.mu must be held
// until fillRecordTimes returns.
func (c *Client) startRecordTimes(ids map[string]sarama.Uuid) *rtCollector {
	col := &rtCollector{ids: ids, start: time.Now()}
	if c.rt == nil {
		c.rt, col.first = newRecordTimes(), true
	}
	c.rt.gen++
	c.rt.last = rtStats{}
	return col
}

// collect adds the group partitions with lag of groups to the first round.
func (col *rtCollector) collect(rt *recordTimes, groups []backends.Group) {
	if len(groups) == 0 {
		return
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	uses, reads := rt.collect(&backends.ClusterSnapshot{Groups: groups}, col.ids, 0)
	col.uses = append(col.uses, uses...)
	col.reads = append(col.reads, reads...)
}

// collect walks the group partitions with lag of snap for a round of
// readRecordTimes: each one's entry (made, unsettled, when new), and the
// reads of the offsets wanted that the cache does not settle, one per
// partition. A big cluster has hundreds of thousands of group partitions
// and few distinct offsets: a group partition costs a lookup of its
// partition's table (once per run of a group's partitions of a topic) and
// one of its offset, whose slot says whether this round wanted it already.
// From collectParallelAt group partitions on, the processors share the
// walk, each the partitions of its own ids (a partition's table is only
// ever touched by one).
func (rt *recordTimes) collect(snap *backends.ClusterSnapshot, ids map[string]sarama.Uuid, round int) ([][]rtUse, []*rtRead) {
	n := 0
	for gi := range snap.Groups {
		n += len(snap.Groups[gi].Partitions)
	}
	workers := 1
	if n >= collectParallelAt {
		workers = min(runtime.GOMAXPROCS(0), 4)
	}
	return rt.collectOn(snap, ids, round, n, workers)
}

// collectOn is collect on workers processors; n is the number of group
// partitions.
func (rt *recordTimes) collectOn(snap *backends.ClusterSnapshot, ids map[string]sarama.Uuid, round, n, workers int) ([][]rtUse, []*rtRead) {
	shards := make([]rtShard, workers)
	var (
		mu sync.Mutex // guards rt.entries.parts: tables made
		wg sync.WaitGroup
	)
	for k := range shards {
		wg.Go(func() { rt.collectShard(&shards[k], snap, ids, k, workers, n/workers+1, &mu) })
	}
	wg.Wait()
	uses, reads := make([][]rtUse, len(shards)), shards[0].reads
	for k, sh := range shards {
		uses[k] = sh.uses
		if k > 0 {
			reads = append(reads, sh.reads...)
		}
		rt.entries.n += sh.made
		if round == 0 {
			rt.last.wanted += sh.wanted
			rt.last.cached += sh.cached
		}
	}
	return uses, reads
}

// collectParallelAt is the number of group partitions from which collect
// walks them on several processors.
const collectParallelAt = 1 << 14

// resolveParallelAt is the number of partitions read from which their
// records are resolved on several processors.
const resolveParallelAt = 64

// rtShard is what one processor of collect found.
type rtShard struct {
	uses                 []rtUse
	reads                []*rtRead
	made, wanted, cached int // entries made, offsets wanted, settled by the cache
}

// collectShard is collect's walk of the group partitions whose partition
// id is k modulo shards, into sh; mu guards the making of tables.
func (rt *recordTimes) collectShard(sh *rtShard, snap *backends.ClusterSnapshot, ids map[string]sarama.Uuid, k, shards, size int, mu *sync.Mutex) {
	sh.uses = make([]rtUse, 0, size)
	// The tables of this snapshot's partitions, by topic then partition
	// id: a group's partitions of a topic come in a run, each another
	// partition, and many groups share a partition.
	tables := map[string][]*rtOffsets{}
	var (
		topic string       // of the last partition (they come sorted by topic)
		id    sarama.Uuid  // its id
		parts []*rtOffsets // its tables
	)
	table := func(p int32) *rtOffsets {
		mu.Lock()
		defer mu.Unlock()
		return rt.entries.offsets(rtPart{topic, id, p})
	}
	for gi := range snap.Groups {
		g := &snap.Groups[gi]
		for pi := range g.Partitions {
			gp := &g.Partitions[pi]
			if shards > 1 && uint32(gp.Partition)%uint32(shards) != uint32(k) {
				continue
			}
			if gp.Committed == nil || gp.Lag == nil || *gp.Lag <= 0 || gp.LogEnd < 0 {
				continue
			}
			if gp.Topic != topic || parts == nil {
				topic, id, parts = gp.Topic, ids[gp.Topic], tables[gp.Topic]
			}
			var offs *rtOffsets
			if p := int(gp.Partition); p >= 0 && p < denseRT {
				if p >= len(parts) {
					parts = append(parts, make([]*rtOffsets, p+1-len(parts))...)
					tables[topic] = parts
				}
				if offs = parts[p]; offs == nil {
					offs = table(gp.Partition)
					parts[p] = offs
				}
			} else {
				offs = table(gp.Partition)
			}
			u := rtUse{gp: gp, off: *gp.Committed}
			if gp.LogStart >= 0 && u.off < gp.LogStart {
				u.off, u.retention = gp.LogStart, true
			}
			sl, ok := offs.m[u.off]
			if !ok {
				sl.e = offs.newEntry()
				sh.made++
			}
			u.e = sl.e
			sh.uses = append(sh.uses, u)
			if ok && sl.gen == rt.gen {
				continue // wanted already
			}
			sl.gen, u.e.gen = rt.gen, rt.gen
			offs.m[u.off] = sl
			sh.wanted++
			if u.e.settled(gp.LogEnd) {
				sh.cached++
				continue
			}
			if offs.readGen != rt.gen {
				offs.read, offs.readGen = &rtRead{topic: gp.Topic, id: id, p: gp.Partition, offs: offs}, rt.gen
				sh.reads = append(sh.reads, offs.read)
			}
			offs.read.want = append(offs.read.want, u.off)
		}
	}
}

// rtPrefetch holds the first round's reads of a client's first snapshot,
// sent as soon as the committed offsets are known, while the rows are
// joined. With no record time known yet, a partition's read starts at its
// smallest offset with lag (or its log start, when that is below it), at
// the first read's size: the commits and the log offsets give that before
// the rows exist. The first round takes the answer of a leader only when
// it would send that very request (the same partitions, offsets, sizes and
// order); else it sends its own, and the early one counts as sent.
type rtPrefetch struct {
	wg    sync.WaitGroup
	reads map[int32][]*rtRead // by leader, in the order sent
	resp  map[int32]*sarama.FetchResponse
	errs  map[int32]error
	mu    sync.Mutex // guards taken
	taken map[int32]bool
}

// prefetchRecordTimes starts the early reads of a client's first snapshot
// (col.first; nil when it is not the first: a cache decides what is read).
// groups are the described groups with their commits, snap's topics have
// their log offsets; wantTopic filters the rows as joinLag does.
func (c *Client) prefetchRecordTimes(cl sarama.Client, w *watch, snap *backends.ClusterSnapshot, groups []*describedGroup, wantTopic map[string]bool, col *rtCollector) *rtPrefetch {
	if !col.first {
		return nil
	}
	// the smallest offset read from, by topic then partition (-1: none)
	index := make(map[string]int, len(snap.Topics))
	from := make([][]int64, len(snap.Topics))
	for ti := range snap.Topics {
		index[snap.Topics[ti].Name] = ti
		from[ti] = make([]int64, len(snap.Topics[ti].Partitions))
		for i := range from[ti] {
			from[ti][i] = -1
		}
	}
	lastTopic, ti := "", -1
	for _, dg := range groups {
		for _, cm := range dg.committed {
			if cm.topic != lastTopic || ti < 0 {
				lastTopic = cm.topic
				var ok bool
				if ti, ok = index[cm.topic]; !ok {
					ti = -1
					continue
				}
			}
			if ti < 0 || len(wantTopic) > 0 && !wantTopic[cm.topic] {
				continue
			}
			ps := snap.Topics[ti].Partitions
			pi := int(cm.p)
			if pi < 0 || pi >= len(ps) || ps[pi].Partition != cm.p {
				i, ok := slices.BinarySearchFunc(ps, cm.p, func(x backends.Partition, p int32) int { return cmp.Compare(x.Partition, p) })
				if !ok {
					continue
				}
				pi = i
			}
			p := &ps[pi]
			if p.LogEnd < 0 || cm.off >= p.LogEnd {
				continue // no lag: nothing to read
			}
			off := cm.off
			if p.LogStart >= 0 && off < p.LogStart {
				off = p.LogStart
			}
			if f := from[ti][pi]; f < 0 || off < f {
				from[ti][pi] = off
			}
		}
	}
	pf := &rtPrefetch{reads: map[int32][]*rtRead{}, resp: map[int32]*sarama.FetchResponse{}, errs: map[int32]error{}, taken: map[int32]bool{}}
	for ti := range snap.Topics { // sorted by name, partitions by id: readRecordTimes' order
		t := &snap.Topics[ti]
		for pi := range t.Partitions {
			if l := t.Partitions[pi].Leader; from[ti][pi] >= 0 && l >= 0 {
				pf.reads[l] = append(pf.reads[l], &rtRead{topic: t.Name, p: t.Partitions[pi].Partition, from: from[ti][pi], budget: rtPartitionBytes})
			}
		}
	}
	if len(pf.reads) == 0 {
		return nil
	}
	wait := min(rtMaxWait, c.cfg.Timeout/2)
	var mu sync.Mutex
	pf.wg.Go(func() {
		w.optionally(func() {
			var wg sync.WaitGroup
			sem := make(chan struct{}, maxFetchesInFlight)
			for l, rs := range pf.reads {
				wg.Go(func() {
					sem <- struct{}{}
					defer func() { <-sem }()
					resp, err := fetchRecordTimes(cl, l, rs, wait)
					mu.Lock()
					defer mu.Unlock()
					pf.resp[l], pf.errs[l] = resp, err
				})
			}
			wg.Wait()
		})
	})
	return pf
}

// sent reports whether the request to leader for reads was sent early.
func (pf *rtPrefetch) sent(leader int32, reads []*rtRead) bool {
	if pf == nil {
		return false
	}
	early := pf.reads[leader]
	if len(early) != len(reads) {
		return false
	}
	for i, r := range reads {
		e := early[i]
		if r.tried || e.topic != r.topic || e.p != r.p || e.from != r.from || e.budget != r.budget {
			return false
		}
	}
	return true
}

// answer waits for the early answer of leader.
func (pf *rtPrefetch) answer(leader int32) (*sarama.FetchResponse, error) {
	pf.wg.Wait()
	pf.mu.Lock()
	pf.taken[leader] = true
	pf.mu.Unlock()
	return pf.resp[leader], pf.errs[leader]
}

// unused waits for the early reads and returns how many of them were sent
// and not taken.
func (pf *rtPrefetch) unused() int {
	pf.wg.Wait()
	pf.mu.Lock()
	defer pf.mu.Unlock()
	n := 0
	for l := range pf.reads {
		if !pf.taken[l] {
			n++
		}
	}
	return n
}

// fetchRecordTimes sends one Fetch to leader for reads.
func fetchRecordTimes(cl sarama.Client, leader int32, reads []*rtRead, wait time.Duration) (*sarama.FetchResponse, error) {
	b, err := cl.Broker(leader)
	if err != nil {
		return nil, err
	}
	_ = b.Open(cl.Config())
	req := &sarama.FetchRequest{
		Version:      12, // lowered to what the broker supports (record batches from v4)
		MaxWaitTime:  int32(wait / time.Millisecond),
		MinBytes:     1,
		MaxBytes:     rtRequestBytes,
		Isolation:    sarama.ReadUncommitted,
		SessionEpoch: -1, // no fetch session
	}
	for _, r := range reads {
		req.AddBlock(r.topic, r.p, r.from, r.budget, -1)
	}
	return b.Fetch(req)
}

// prune drops the entries the snapshot did not use (when all is set: it
// saw every group), then, over the bound, any it did not use, then any.
func (rt *recordTimes) prune(all bool) {
	if all || rt.entries.len() > rtMaxEntries {
		rt.entries.drop(func(e *rtEntry) bool { return e.gen != rt.gen && (all || rt.entries.len() > rtMaxEntries) })
	}
	if rt.entries.len() > rtMaxEntries {
		rt.entries.drop(func(*rtEntry) bool { return rt.entries.len() > rtMaxEntries })
	}
}

// fill sets the group partition's record time from its entry (copied to
// at), or says why there is none (note: why its partition was not read).
func (u rtUse) fill(at *time.Time, note string) {
	gp, e := u.gp, u.e
	gp.RecordTime, gp.RecordTimeSource, gp.RecordTimeNote, gp.NoRecordToRead = nil, "", "", false // an earlier round's
	switch {
	case e.none > 0 && gp.LogEnd <= e.none:
		gp.NoRecordToRead = true
		gp.RecordTimeSource = backends.TimeLagRecord
		gp.RecordTimeNote = fmt.Sprintf("no record after offset %d up to the log end, only transaction markers: nothing to read yet", u.off)
	case !e.at.IsZero():
		*at = e.at
		gp.RecordTime = at
		gp.RecordTimeSource = backends.TimeLagRecord
		var why []string
		if u.retention {
			why = append(why, fmt.Sprintf("records before offset %d deleted by retention", u.off))
		}
		if !e.exact {
			why = append(why, fmt.Sprintf("no record at offset %d (compacted): the next one's time, at %d", u.off, e.found))
		}
		if len(why) > 0 {
			gp.RecordTimeSource = backends.TimeLagLowerBound
			gp.RecordTimeNote = joinNotes(why)
		}
	case e.fail != "":
		gp.RecordTimeNote = e.fail
	case note != "":
		gp.RecordTimeNote = note
	case e.tries > 0:
		gp.RecordTimeNote = fmt.Sprintf("no record found at offset %d yet (%d read(s))", u.off, e.tries)
	case e.budget > 0:
		gp.RecordTimeNote = fmt.Sprintf("record batch at offset %d over the read's bound: read with %s next refresh", u.off, sizeText(int64(e.budget)))
	default:
		gp.RecordTimeNote = "not read yet: the read of an earlier offset of the partition came first"
	}
}

func joinNotes(s []string) string {
	out := s[0]
	for _, x := range s[1:] {
		out += "; " + x
	}
	return out
}

// resolveTimes reads, in the record sets of one partition's fetch answer,
// the time of the record at each offset of want (sorted; the fetch read
// from want[0] with budget bytes; hw is the partition's high watermark in
// the answer). It returns an entry for each offset it settles: the time
// of the record there, or of the next record when none is there (not
// exact, unless only transaction markers lie between), none (only
// transaction markers up to hw: no record to read yet), a failure, or a
// bigger budget for the next read. Offsets past the records returned are
// absent.
//
// An answer with nothing below hw means the batch at want[0] is over the
// read's bound: Kafka returns a batch over it only in the first partition
// of its answer (KIP-74), and nothing in the others.
//
// The timestamp type is the batch's: with LogAppendTime every record of a
// batch carries the broker's append time, the batch's max timestamp; with
// CreateTime each record has its own.
func resolveTimes(sets []*sarama.Records, want []int64, budget int32, hw int64) map[int64]*rtEntry {
	out := map[int64]*rtEntry{}
	if len(want) == 0 {
		return out
	}
	if len(sets) == 0 && hw > want[0] {
		if budget < rtMaxPartitionBytes {
			out[want[0]] = &rtEntry{budget: min(budget*rtGrowth, rtMaxPartitionBytes)}
		}
		return out // at the largest read: found nothing (the caller counts it)
	}
	i := 0
	whole := true // every set was read to its end
	// expect is the offset after the last record or marker seen; gapEnd
	// the end of the last run of offsets with neither (removed by
	// compaction). An offset at or after gapEnd that a later record
	// settles had only markers between it and that record.
	expect, gapEnd := want[0], want[0]
	// settle gives the offsets wanted up to upTo the time of the record at
	// found (at or after each of them); base is the batch's timestamp the
	// time derives from, zero when the producer set none (-1).
	settle := func(upTo int64, base, at time.Time, found int64) {
		for i < len(want) && want[i] <= upTo {
			e := &rtEntry{at: at, found: max(found, want[i]), exact: want[i] >= gapEnd}
			if base.IsZero() {
				e = &rtEntry{fail: fmt.Sprintf("the record at offset %d has no timestamp", e.found)}
			}
			out[want[i]] = e
			i++
		}
	}
	for _, rs := range sets {
		if i == len(want) || rs == nil {
			break
		}
		if rs.MsgSet != nil {
			for ; i < len(want); i++ {
				out[want[i]] = &rtEntry{fail: "message format v0/v1 (before Kafka 0.11): no timestamps read"}
			}
			break
		}
		b := rs.RecordBatch
		if b == nil || b.LastOffset() < expect {
			continue
		}
		whole = !b.PartialTrailingRecord
		if b.FirstOffset > expect {
			gapEnd = b.FirstOffset
		}
		if b.Control {
			expect = b.LastOffset() + 1
			continue
		}
		if b.PartialTrailingRecord {
			// Cut short by the read's bound: only its header is known.
			if b.LogAppendTime {
				// the broker's time, the same for every record of the batch
				settle(b.LastOffset(), b.MaxTimestamp, b.MaxTimestamp, b.FirstOffset)
				break
			}
			// the header holds the first record's time
			settle(b.FirstOffset, b.FirstTimestamp, b.FirstTimestamp, b.FirstOffset)
			next := min(int64(budget)*rtGrowth, rtMaxPartitionBytes)
			for ; i < len(want) && want[i] <= b.LastOffset(); i++ {
				if budget >= rtMaxPartitionBytes {
					out[want[i]] = &rtEntry{fail: fmt.Sprintf("record batch at offset %d over %s: not read", want[i], sizeText(rtMaxPartitionBytes))}
				} else {
					out[want[i]] = &rtEntry{budget: int32(next)}
				}
			}
			break
		}
		for _, r := range b.Records {
			if i == len(want) {
				break
			}
			o := b.FirstOffset + r.OffsetDelta
			if o < expect {
				continue
			}
			if o > expect {
				gapEnd = o
			}
			base, at := b.FirstTimestamp, b.FirstTimestamp.Add(r.TimestampDelta)
			if b.LogAppendTime {
				base, at = b.MaxTimestamp, b.MaxTimestamp
			}
			settle(o, base, at, o)
			expect = o + 1
		}
	}
	// Read to the high watermark and found only markers from an offset:
	// no record there yet.
	for ; whole && i < len(want) && want[i] < expect && expect >= hw; i++ {
		out[want[i]] = &rtEntry{none: expect}
	}
	return out
}

// topicUUIDs maps the topics of md to their ids (zero before Kafka 2.8).
func topicUUIDs(md *sarama.MetadataResponse) map[string]sarama.Uuid {
	ids := make(map[string]sarama.Uuid, len(md.Topics))
	for _, t := range md.Topics {
		ids[t.Name] = t.Uuid
	}
	return ids
}
