package lag

import (
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/mqops/mqops/backends"
)

// Options tune a Tracker. Zero values take the defaults.
type Options struct {
	// Window is the number of samples per partition over which status and
	// rates are evaluated (default 10).
	Window int
	// MaxAge drops samples older than this, measured from the newest sample
	// (default 15m).
	MaxAge time.Duration
	// History is the number of samples kept for sparklines and time-lag
	// interpolation (default 60; never less than Window): per group (its
	// total lag), per topic and per topic partition (log ends).
	History int
	// PartitionHistory is the number of samples kept per group partition:
	// its status window and its LagHistory (default Window; never less
	// than Window nor more than History). A big cluster has hundreds of
	// thousands of group partitions: what is kept per group partition
	// makes most of the tracker's memory.
	PartitionHistory int
	// Allowance is the lag at or under which a partition is always OK
	// (default 0).
	Allowance int64
	// Now stands in for a snapshot's TakenAt when that is zero (default
	// time.Now). Tests inject a clock here.
	Now func() time.Time
}

// Defaults of Options.
const (
	DefaultWindow  = 10
	DefaultMaxAge  = 15 * time.Minute
	DefaultHistory = 60
)

func (o Options) withDefaults() Options {
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.History <= 0 {
		o.History = DefaultHistory
	}
	if o.History < o.Window {
		o.History = o.Window
	}
	if o.PartitionHistory < o.Window {
		o.PartitionHistory = o.Window
	}
	if o.PartitionHistory > o.History {
		o.PartitionHistory = o.History
	}
	if o.Allowance < 0 {
		o.Allowance = 0
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Sample tables. Times are Unix nanoseconds; within one table they strictly
// increase (a snapshot at or before the newest sample replaces it).

type timed interface{ at() int64 }

type endSample struct{ t, end int64 }

func (s endSample) at() int64 { return s.t }

// noCommit marks a group-partition sample without a committed offset
// (committed offsets are never negative).
const noCommit = -1

type commitSample struct{ t, committed, lag int64 }

func (s commitSample) at() int64 { return s.t }

type totalSample struct {
	t, total int64
	valid    bool // false: nothing summed (no committed offset anywhere)
}

func (s totalSample) at() int64 { return s.t }

// slack is the room a table has beyond its limit, so that dropping the
// oldest samples costs one copy every slack appends instead of one per
// append.
func slack(limit int) int { return max(1, limit/4) }

// record appends x (or replaces the newest sample when x is not newer). The
// table holds at most limit+slack(limit) samples; read it through
// last(buf, limit).
func record[S timed](buf []S, x S, limit int) []S {
	if n := len(buf); n > 0 && buf[n-1].at() >= x.at() {
		buf[n-1] = x
		return buf
	}
	full := limit + slack(limit)
	if len(buf) >= full {
		n := copy(buf, buf[len(buf)-limit+1:])
		buf = buf[:n]
	}
	if len(buf) == cap(buf) {
		grown := make([]S, len(buf), min(max(4, 2*cap(buf)), full))
		copy(grown, buf)
		buf = grown
	}
	return append(buf, x)
}

// prune drops the samples older than oldest.
func prune[S timed](buf []S, oldest int64) []S {
	i := 0
	for i < len(buf) && buf[i].at() < oldest {
		i++
	}
	if i == 0 {
		return buf
	}
	n := copy(buf, buf[i:])
	return buf[:n]
}

// last returns the newest n samples.
func last[S any](buf []S, n int) []S {
	if len(buf) > n {
		return buf[len(buf)-n:]
	}
	return buf
}

type partState struct {
	seen    uint64 // generation of the last snapshot that listed it
	updated uint64 // generation of the last snapshot that gave a log end
	ends    []endSample
	// rate caches the produce rate over the window for generation rateGen:
	// every group on the partition and the topic stats need it.
	rate    float64
	rateGen uint64
}

func (t *Tracker) produceRate(ps *partState) float64 {
	if ps.rateGen != t.gen {
		ps.rate, ps.rateGen = rate(last(ps.ends, t.opts.Window)), t.gen
	}
	return ps.rate
}

type topicState struct {
	seen  uint64
	parts partTable[partState]
	sums  []totalSample
}

// groupTopic is a group's commit tables on one topic.
type groupTopic struct {
	seen  uint64
	parts commitTable
}

type groupState struct {
	seen   uint64
	topics map[string]*groupTopic
	totals []totalSample
}

// denseLimit bounds the partition ids kept in a slice; Kafka numbers
// partitions from 0, so anything above is odd and goes to a map.
const denseLimit = 1 << 17

// partTable holds per-partition state of one topic, indexed by partition id:
// a group may span tens of thousands of partitions, and a slice index is
// much cheaper than hashing a (topic, partition) key on every refresh.
type partTable[T any] struct {
	dense  []*T
	sparse map[int32]*T
	n      int
}

// get returns the state of partition p, creating it.
func (pt *partTable[T]) get(p int32) *T {
	if p >= 0 && p < denseLimit {
		if int(p) >= len(pt.dense) {
			pt.dense = append(pt.dense, make([]*T, int(p)+1-len(pt.dense))...)
		}
		if pt.dense[p] == nil {
			pt.dense[p] = new(T)
			pt.n++
		}
		return pt.dense[p]
	}
	x := pt.sparse[p]
	if x == nil {
		if pt.sparse == nil {
			pt.sparse = map[int32]*T{}
		}
		x = new(T)
		pt.sparse[p] = x
		pt.n++
	}
	return x
}

// lookup returns the state of partition p, or nil.
func (pt *partTable[T]) lookup(p int32) *T {
	if p >= 0 && int(p) < len(pt.dense) {
		return pt.dense[p]
	}
	return pt.sparse[p]
}

// keep drops the partitions for which f returns false.
func (pt *partTable[T]) keep(f func(*T) bool) {
	for i, x := range pt.dense {
		if x != nil && !f(x) {
			pt.dense[i] = nil
			pt.n--
		}
	}
	end := len(pt.dense)
	for end > 0 && pt.dense[end-1] == nil {
		end--
	}
	if end < len(pt.dense)/2 {
		pt.dense = slices.Clone(pt.dense[:end])
	} else {
		clear(pt.dense[end:])
		pt.dense = pt.dense[:end]
	}
	for p, x := range pt.sparse {
		if !f(x) {
			delete(pt.sparse, p)
			pt.n--
		}
	}
}

// Tracker keeps a sliding table of offsets per partition and per group
// partition across snapshots. It is not safe for concurrent use.
type Tracker struct {
	opts   Options
	gen    uint64
	lastT  int64
	times  []totalSample // one per observation, for Analysis.Samples
	topics map[string]*topicState
	groups map[string]*groupState
	// commits and scratch hold a partition's samples and window while it
	// is evaluated.
	commits, scratch []commitSample
	// reuse, when set, lends the memory of the analysis (Analyzer).
	reuse *Analyzer
}

// NewTracker returns an empty tracker.
func NewTracker(o Options) *Tracker {
	return &Tracker{
		opts:   o.withDefaults(),
		topics: map[string]*topicState{},
		groups: map[string]*groupState{},
	}
}

// Analyze is the analysis of a single snapshot with no history: no rates,
// time lag only where the lag is zero or the snapshot has the record times,
// and the single-sample status rules. It is what a new tracker's first
// Observe gives, without building the tables a next observation would use.
func Analyze(s *backends.ClusterSnapshot) *Analysis {
	return NewTracker(Options{}).observe(s, true)
}

// Analyzer gives Analyze's analysis of one snapshot after another in the
// same memory: a report of one sample analyses its groups a few at a time
// as it writes them, and a big cluster has hundreds of thousands of group
// partitions (fresh memory for each run of them costs more than the
// analysis). What its Analyze returns is valid until its next call. The
// zero Analyzer is ready; it is not safe for concurrent use.
type Analyzer struct {
	parts  []partResult
	hist32 []int32
}

// Analyze is Analyze(s), in the analyzer's memory.
func (z *Analyzer) Analyze(s *backends.ClusterSnapshot) *Analysis {
	t := NewTracker(Options{})
	t.reuse = z
	a := t.observe(s, true)
	z.hist32 = a.hist32[:0] // kept for the next call, grown if it grew
	return a
}

func (t *Tracker) topic(name string) *topicState {
	ts := t.topics[name]
	if ts == nil {
		ts = &topicState{}
		t.topics[name] = ts
	}
	ts.seen = t.gen
	return ts
}

func (ts *topicState) part(p int32, gen uint64) *partState {
	ps := ts.parts.get(p)
	ps.seen = gen
	return ps
}

func (gs *groupState) topic(name string, gen uint64, limit int) *groupTopic {
	gt := gs.topics[name]
	if gt == nil {
		gt = &groupTopic{parts: commitTable{limit: limit}}
		gs.topics[name] = gt
	}
	gt.seen = gen
	return gt
}

func (t *Tracker) addEnd(ps *partState, now, end int64) {
	if end < 0 {
		return
	}
	ps.ends = prune(record(ps.ends, endSample{t: now, end: end}, t.opts.History), now-int64(t.opts.MaxAge))
	ps.updated = t.gen
}

// Observe records the snapshot, whose TakenAt is the sample time, and
// returns the analysis. A snapshot taken at or before the previous one does
// not open a new sample: its values replace the newest sample's, so rates
// never divide by a zero or negative interval. Groups, topics and partitions
// absent from the snapshot are forgotten, except the partitions of a topic
// or group that the snapshot lists with an error and no partitions (a
// transient failure should not wipe their history).
func (t *Tracker) Observe(s *backends.ClusterSnapshot) *Analysis {
	return t.observe(s, false)
}

// AnalyzeGroup is Analyze's analysis of one group of a snapshot taken at
// at: with one sample a group's analysis depends on no other group, so a
// report can analyse its groups as it writes them, on several processors.
func AnalyzeGroup(g *backends.Group, at time.Time) *GroupStats {
	if at.IsZero() {
		at = time.Now()
	}
	return Analyze(&backends.ClusterSnapshot{TakenAt: at, Groups: []backends.Group{*g}}).Groups[g.Name]
}

// observe is Observe; once, on a new tracker, keeps no tables (Analyze).
func (t *Tracker) observe(s *backends.ClusterSnapshot, once bool) *Analysis {
	if s == nil {
		s = &backends.ClusterSnapshot{}
	}
	at := s.TakenAt
	if at.IsZero() {
		at = t.opts.Now()
	}
	now := at.UnixNano()
	if len(t.times) > 0 && now < t.lastT {
		now = t.lastT
	}
	if now != at.UnixNano() {
		at = time.Unix(0, now)
	}
	t.lastT = now
	t.gen++
	oldest := now - int64(t.opts.MaxAge)
	t.times = prune(record(t.times, totalSample{t: now, valid: true}, t.opts.History), oldest)

	a := &Analysis{
		TakenAt: at,
		Groups:  make(map[string]*GroupStats, len(s.Groups)),
		Topics:  make(map[string]*TopicStats, len(s.Topics)),
	}
	a.Samples = len(last(t.times, t.opts.Window))

	if once {
		t.observeGroups(s, now, oldest, a, true)
		for i := range s.Topics {
			tp := &s.Topics[i]
			st := &TopicStats{Topic: tp.Name, Partitions: make(map[int32]float64, len(tp.Partitions))}
			var sum int64
			valid := false
			for j := range tp.Partitions {
				st.Partitions[tp.Partitions[j].Partition] = 0
				if end := tp.Partitions[j].LogEnd; end >= 0 {
					sum, valid = addSat(sum, end), true
				}
			}
			if valid {
				st.EndHistory = []int64{sum}
			}
			a.Topics[tp.Name] = st
		}
		return a
	}

	// Produce side first, so the group partitions see this sample's log ends.
	for i := range s.Topics {
		tp := &s.Topics[i]
		ts := t.topic(tp.Name)
		if tp.Err != "" && len(tp.Partitions) == 0 {
			ts.parts.keep(func(ps *partState) bool { ps.seen = t.gen; return true })
		}
		var sum int64
		valid := false
		for j := range tp.Partitions {
			p := &tp.Partitions[j]
			ps := ts.part(p.Partition, t.gen)
			t.addEnd(ps, now, p.LogEnd)
			if p.LogEnd >= 0 {
				sum = addSat(sum, p.LogEnd)
				valid = true
			}
		}
		if valid {
			ts.sums = prune(record(ts.sums, totalSample{t: now, total: sum, valid: true}, t.opts.History), oldest)
		}
	}

	t.observeGroups(s, now, oldest, a, false)

	// Topic stats after the groups: a group may have been the only source
	// of a partition's log end this time.
	for i := range s.Topics {
		tp := &s.Topics[i]
		ts := t.topics[tp.Name]
		st := &TopicStats{Topic: tp.Name, Partitions: make(map[int32]float64, len(tp.Partitions))}
		for j := range tp.Partitions {
			ps := ts.parts.lookup(tp.Partitions[j].Partition)
			r := t.produceRate(ps)
			st.Partitions[tp.Partitions[j].Partition] = r
			st.ProduceRate += r
		}
		for _, x := range last(ts.sums, t.opts.History) {
			st.EndHistory = append(st.EndHistory, x.total)
		}
		a.Topics[tp.Name] = st
	}

	t.sweep(oldest)
	return a
}

// observeGroups records the groups and analyses them; once, it keeps no
// tables (each partition's only sample is the snapshot's).
func (t *Tracker) observeGroups(s *backends.ClusterSnapshot, now, oldest int64, a *Analysis, once bool) {
	// The per-partition results of all groups in a few arrays, without
	// pointers: a cluster may have hundreds of thousands of group
	// partitions, and this runs on every refresh.
	n := 0
	for i := range s.Groups {
		n += len(s.Groups[i].Partitions)
	}
	var parts []partResult
	hist := n * min(t.opts.PartitionHistory, len(t.times))
	if z := t.reuse; z != nil {
		if cap(z.parts) < n {
			z.parts = make([]partResult, n)
		}
		parts = z.parts[:n]
		clear(parts)
		if cap(z.hist32) < hist {
			z.hist32 = make([]int32, 0, hist)
		}
		a.hist32 = z.hist32[:0]
	} else {
		parts = make([]partResult, n)
		a.hist32 = make([]int32, 0, hist)
	}
	a.notes, a.topics = []string{""}, nil
	notes, topics := map[string]uint32{"": 0}, map[string]uint32{}
	intern := func(table *[]string, index map[string]uint32, s string) uint32 {
		i, ok := index[s]
		if !ok {
			i = uint32(len(*table))
			*table = append(*table, s)
			index[s] = i
		}
		return i
	}
	next := 0

	for i := range s.Groups {
		g := &s.Groups[i]
		var gs *groupState
		if !once {
			gs = t.groups[g.Name]
			if gs == nil {
				gs = &groupState{topics: map[string]*groupTopic{}}
				t.groups[g.Name] = gs
			}
			gs.seen = t.gen
			if g.Err != "" && len(g.Partitions) == 0 {
				for _, gt := range gs.topics {
					gt.seen = t.gen
					gt.parts.each(func(cs *commitSlot) { cs.seen = t.gen })
				}
			}
		}
		empty := g.State == backends.GroupEmpty || g.State == backends.GroupDead

		out := &GroupStats{
			Group:  g.Name,
			Status: Unknown,
			an:     a,
			parts:  parts[next : next+len(g.Partitions) : next+len(g.Partitions)],
		}
		var total int64
		anyCommit := false
		drains := true
		var maxDrain, maxTimeLag time.Duration
		haveDrain, haveTimeLag := false, false
		eldest, bound := -1, -1 // the partition with the largest time lag; the first lower bound

		// Partitions come sorted by topic: look the topic up once per run,
		// and make room for the run's partitions at once.
		var ts *topicState
		var gt *groupTopic
		var topic uint32
		sorted := true
		for j := range g.Partitions {
			gp := &g.Partitions[j]
			if j == 0 || gp.Topic != g.Partitions[j-1].Topic {
				topic = intern(&a.topics, topics, gp.Topic)
				if !once {
					ts = t.topic(gp.Topic)
					gt = gs.topic(gp.Topic, t.gen, t.opts.PartitionHistory)
					end := gp.Partition
					for k := j + 1; k < len(g.Partitions) && g.Partitions[k].Topic == gp.Topic; k++ {
						end = max(end, g.Partitions[k].Partition)
					}
					gt.parts.reserve(end + 1)
					gt.parts.advance(now, oldest)
				}
			}
			if j > 0 && sorted {
				prev := &g.Partitions[j-1]
				sorted = prev.Topic < gp.Topic || prev.Topic == gp.Topic && prev.Partition < gp.Partition
			}
			v := commitVal{committed: noCommit}
			if gp.Committed != nil && gp.Lag != nil && *gp.Committed >= 0 {
				v = commitVal{committed: *gp.Committed, lag: max(*gp.Lag, 0)}
			}
			var (
				produce float64
				ends    []endSample // one sample interpolates nothing
			)
			if once {
				t.commits = append(t.commits[:0], commitSample{t: now, committed: v.committed, lag: v.lag})
			} else {
				ps := ts.part(gp.Partition, t.gen)
				if ps.updated != t.gen {
					t.addEnd(ps, now, gp.LogEnd)
				}
				cs, vals, base := gt.parts.slot(gp.Partition)
				cs.seen = t.gen
				gt.parts.push(cs, vals, base, v)
				t.commits = gt.parts.samples(t.commits[:0], cs, vals, base)
				produce, ends = t.produceRate(ps), last(ps.ends, t.opts.History)
			}
			commits := t.commits

			r := &out.parts[j]
			next++
			r.topic, r.partition = topic, gp.Partition
			note := t.analyzePartition(r, gp, produce, ends, commits, empty, now)
			if note != "" {
				r.note = intern(&a.notes, notes, note)
			}
			r.hist = uint32(a.histLen())
			for _, x := range commits {
				if x.committed != noCommit {
					a.addHist(x.lag)
				}
			}
			r.nhist = uint32(a.histLen()) - r.hist

			out.ProduceRate += r.produce
			out.ConsumeRate += r.consume
			if st := statuses[r.status]; st.Severity() > out.Status.Severity() {
				out.Status = st
			}
			if r.has(hasTimeLag) && (!haveTimeLag || r.timeLag > maxTimeLag) {
				maxTimeLag, haveTimeLag, eldest = r.timeLag, true, j
			}
			if sources[r.source] == backends.TimeLagLowerBound && bound < 0 {
				bound = j
			}
			if r.has(hasLag) {
				anyCommit = true
				total = addSat(total, r.lag)
				switch {
				case r.has(hasDrain):
					if !haveDrain || r.drain > maxDrain {
						maxDrain, haveDrain = r.drain, true
					}
				case r.lag > 0:
					drains = false
				}
			}
		}
		if !sorted {
			out.index = make(map[PartitionKey]int, len(out.parts))
			for j := range g.Partitions {
				out.index[PartitionKey{Topic: g.Partitions[j].Topic, Partition: g.Partitions[j].Partition}] = j
			}
		}
		out.Lag = total
		if haveTimeLag {
			out.TimeLag = &maxTimeLag
			e := &out.parts[eldest]
			out.TimeLagSource, out.TimeLagNote = sources[e.source], a.notes[e.note]
			if bound >= 0 && bound != eldest {
				// that partition may be older than the oldest known
				b := &g.Partitions[bound]
				out.TimeLagSource = backends.TimeLagLowerBound
				out.TimeLagNote = "the time lag of " + b.Topic + " partition " + strconv.Itoa(int(b.Partition)) + " is a lower bound: " + a.notes[out.parts[bound].note]
			}
		}
		if anyCommit && drains && haveDrain {
			out.TimeToDrain = &maxDrain
		}
		if once {
			if anyCommit {
				out.LagHistory = []int64{total}
			}
			out.Samples = 1
			a.Groups[g.Name] = out
			continue
		}
		gs.totals = prune(record(gs.totals, totalSample{t: now, total: total, valid: anyCommit}, t.opts.History), oldest)
		for _, x := range last(gs.totals, t.opts.History) {
			if x.valid {
				out.LagHistory = append(out.LagHistory, x.total)
			}
		}
		out.Samples = len(last(gs.totals, t.opts.Window))
		a.Groups[g.Name] = out
	}
}

// analyzePartition fills r from the snapshot's group partition gp (its
// record time), the log-end table of the partition (and its produce rate
// over the window) and the commit table of the group partition, and
// returns its time lag's note.
func (t *Tracker) analyzePartition(r *partResult, gp *backends.GroupPartition, produce float64, ends []endSample, commits []commitSample, empty bool, now int64) string {
	r.produce = produce
	r.status = statusUnknown
	cur := commits[len(commits)-1]
	if cur.committed == noCommit {
		return ""
	}
	lag := cur.lag
	r.lag, r.flags = lag, r.flags|hasLag

	// Window: the newest Window samples that have a commit.
	window := last(commits, t.opts.Window)
	win := t.scratch[:0]
	for _, x := range window {
		if x.committed != noCommit {
			win = append(win, x)
		}
	}
	t.scratch = win
	rewound := false
	for i := 1; i < len(win); i++ {
		if win[i].committed < win[i-1].committed {
			rewound = true
			break
		}
	}
	if !rewound && len(win) >= 2 {
		first, lastS := win[0], win[len(win)-1]
		r.consume = perSecond(lastS.committed-first.committed, lastS.t-first.t)
	}

	note := t.timeLagOf(r, gp, ends, cur.committed, lag, now)
	switch {
	case lag == 0:
		r.drain, r.flags = 0, r.flags|hasDrain
	case r.consume > r.produce:
		r.drain, r.flags = seconds(float64(lag)/(r.consume-r.produce)), r.flags|hasDrain
	}

	r.status = statusCode(status(win, rewound, empty, t.opts.Allowance))
	return note
}

// status applies the Burrow-style rules to a window of samples with commits
// (newest last, at least one).
func status(win []commitSample, rewound, empty bool, allowance int64) Status {
	cur := win[len(win)-1]
	switch {
	case rewound:
		return Rewind
	case cur.lag <= allowance:
		return OK
	case len(win) < 2:
		if empty {
			return Stop
		}
		return OK
	}
	moved := false
	for i := 1; i < len(win); i++ {
		if win[i].committed != win[0].committed {
			moved = true
			break
		}
	}
	if !moved {
		if empty {
			return Stop
		}
		return Stall
	}
	// WARN: the lag grew across the window. Burrow's strict rule (no
	// decrease at all) is kept, and relaxed for the jitter that commit
	// batching causes: the lag still counts as growing when the decreases
	// add up to less than half of the net growth.
	if len(win) >= 3 && cur.lag > win[0].lag {
		var dec int64
		for i := 1; i < len(win); i++ {
			if d := win[i].lag - win[i-1].lag; d < 0 {
				dec -= d
			}
		}
		if net := cur.lag - win[0].lag; dec*2 < net {
			return Warn
		}
	}
	return OK
}

// rate is the produce rate over a log-end table: the sum of the increases
// (a log end that went backwards — topic recreated, unclean election —
// counts as no production) over the span of the table.
func rate(ends []endSample) float64 {
	if len(ends) < 2 {
		return 0
	}
	var grew float64 // float: a sum of int64 increases may overflow
	for i := 1; i < len(ends); i++ {
		if d := ends[i].end - ends[i-1].end; d > 0 {
			grew += float64(d)
		}
	}
	return perSecondF(grew, ends[len(ends)-1].t-ends[0].t)
}

// perSecond is n per dt nanoseconds, in per second; 0 unless both are
// positive.
func perSecond(n, dt int64) float64 { return perSecondF(float64(n), dt) }

func perSecondF(n float64, dt int64) float64 {
	if !(n > 0) || dt <= 0 {
		return 0
	}
	r := n / (float64(dt) / float64(time.Second))
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return 0
	}
	return r
}

// timeLagOf sets the time lag of r and returns its note: 0 when there is
// no lag, or no record to read (only transaction markers); from the record
// time of the snapshot when it has one (exact, or a lower bound); else
// interpolated from the log ends, with the snapshot's note on why the
// record time is missing.
func (t *Tracker) timeLagOf(r *partResult, gp *backends.GroupPartition, ends []endSample, committed, lag, now int64) string {
	set := func(d time.Duration, src backends.TimeLagSource) {
		r.timeLag, r.source, r.flags = d, sourceCode(src), r.flags|hasTimeLag
	}
	switch {
	case lag <= 0:
		set(0, backends.TimeLagRecord)
		return ""
	case gp.NoRecordToRead:
		set(0, backends.TimeLagRecord)
		return gp.RecordTimeNote
	case gp.RecordTime != nil:
		src := backends.TimeLagRecord
		if gp.RecordTimeSource == backends.TimeLagLowerBound {
			src = backends.TimeLagLowerBound
		}
		set(nanos(float64(now-gp.RecordTime.UnixNano())), src)
		return gp.RecordTimeNote
	}
	note := gp.RecordTimeNote
	tl, bound, ok := timeLag(ends, committed, lag, now)
	if !ok {
		return note
	}
	if !bound {
		set(tl, backends.TimeLagInterpolated)
		return note
	}
	set(tl, backends.TimeLagLowerBound)
	return joinNote(note, "nothing was produced to the partition while watched: at least the time watched")
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// timeLag is now minus the time at which the log end was the committed
// offset, interpolated linearly in the log-end table (kafka-lag-exporter's
// method). A committed offset older than the whole table is extrapolated
// with the table's produce rate; with no production over the table, the
// table's age is reported as a lower bound (bound).
func timeLag(ends []endSample, committed, lag, now int64) (d time.Duration, bound, ok bool) {
	if lag <= 0 {
		return 0, false, true
	}
	if len(ends) < 2 {
		return 0, false, false
	}
	n := len(ends) - 1
	if committed >= ends[n].end {
		return 0, false, true
	}
	// The newest sample whose log end is at or under the committed offset;
	// the next one is above it, so the span is never empty.
	for i := n - 1; i >= 0; i-- {
		a := ends[i]
		if a.end <= committed {
			b := ends[i+1]
			frac := float64(committed-a.end) / float64(b.end-a.end)
			when := float64(a.t) + frac*float64(b.t-a.t)
			return nanos(float64(now) - when), false, true
		}
	}
	first := ends[0]
	when := float64(first.t)
	r := rate(ends)
	if r > 0 {
		when -= float64(first.end-committed) / r * float64(time.Second)
	}
	return nanos(float64(now) - when), r <= 0, true
}

// nanos converts to a Duration, clamped into [0, max] (NaN is 0).
func nanos(ns float64) time.Duration {
	switch {
	case !(ns > 0):
		return 0
	case ns >= float64(math.MaxInt64):
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(ns)
}

// addSat adds two non-negative numbers, saturating at math.MaxInt64.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func seconds(s float64) time.Duration { return nanos(s * float64(time.Second)) }

// sweep forgets what the last snapshot did not list and ages out samples of
// what it kept without updating.
func (t *Tracker) sweep(oldest int64) {
	for name, ts := range t.topics {
		if ts.seen != t.gen {
			delete(t.topics, name)
			continue
		}
		ts.parts.keep(func(ps *partState) bool {
			ps.ends = prune(ps.ends, oldest)
			return ps.seen == t.gen
		})
		ts.sums = prune(ts.sums, oldest)
	}
	for name, gs := range t.groups {
		if gs.seen != t.gen {
			delete(t.groups, name)
			continue
		}
		for name, gt := range gs.topics {
			gt.parts.sweep(t.gen, oldest)
			if gt.seen != t.gen || gt.parts.n == 0 {
				delete(gs.topics, name)
			}
		}
		gs.totals = prune(gs.totals, oldest)
	}
}
