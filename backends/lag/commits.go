package lag

// commitTable holds a group's commit samples on one topic, by partition
// id. The group's partitions of a topic are observed together, so the
// table keeps the sample times once, as columns (oldest first, a ring of
// up to the limit), and each partition its values in those columns: the
// newest n of them, n growing from its first sample (a partition missing
// from a snapshot is dropped, and a group listed with an error and no
// partitions adds no column). All of it lives in a few arrays with no
// pointers: a big cluster has hundreds of thousands of group partitions,
// and a table per group and topic costs a few allocations and nothing for
// the garbage collector to scan. Its room grows with the samples, up to
// the limit: a tracker that observes once (`mqops lag`) holds one column.
type commitTable struct {
	limit int
	width int     // columns of room: 1, 2, 4, … up to limit
	head  int     // the physical place of the oldest column in the ring
	cols  int     // columns held
	seq   uint32  // columns ever added: the newest one's number
	times []int64 // width places, in ring order
	slots []commitSlot
	vals  commitVals // width places per slot, in ring order
	// sparse holds the partitions with ids at or above denseLimit (odd:
	// Kafka numbers partitions from 0).
	sparse map[int32]*sparseCommits
	n      int // partitions held
}

// commitVal is a partition's value in a column.
type commitVal struct{ committed, lag int64 }

// commitVals holds values: the lags in 32 bits while they fit (a lag over
// 2^31-1 moves them all to 64), for the tracker's memory is mostly these.
type commitVals struct {
	committed []int64
	lag32     []int32
	lag64     []int64 // instead of lag32 once a lag did not fit
}

func makeVals(n int, wide bool) commitVals {
	v := commitVals{committed: make([]int64, n)}
	if wide {
		v.lag64 = make([]int64, n)
	} else {
		v.lag32 = make([]int32, n)
	}
	return v
}

func (v *commitVals) wide() bool { return v.lag64 != nil }

func (v *commitVals) get(i int) commitVal {
	if v.lag64 != nil {
		return commitVal{v.committed[i], v.lag64[i]}
	}
	return commitVal{v.committed[i], int64(v.lag32[i])}
}

// set stores x at i, moving the lags to 64 bits if x's does not fit.
func (v *commitVals) set(i int, x commitVal) {
	v.committed[i] = x.committed
	if v.lag64 == nil && x.lag != int64(int32(x.lag)) {
		v.lag64 = make([]int64, len(v.lag32))
		for j, l := range v.lag32 {
			v.lag64[j] = int64(l)
		}
		v.lag32 = nil
	}
	if v.lag64 != nil {
		v.lag64[i] = x.lag
	} else {
		v.lag32[i] = int32(x.lag)
	}
}

// commitSlot is a partition's place in the table.
type commitSlot struct {
	seen uint64 // generation of the last snapshot that listed it; 0: none held
	at   uint32 // the number of its newest column
	n    uint32 // columns it has values in: the newest n
}

type sparseCommits struct {
	commitSlot
	vals commitVals
}

// reserve makes room for partitions up to id below end, so that a run of
// a group's partitions of the topic allocates once.
func (ct *commitTable) reserve(end int32) {
	if end <= int32(len(ct.slots)) || end > denseLimit {
		return
	}
	ct.relayout(int(end), max(ct.width, 1))
}

// relayout moves the table to n slots and width columns of room, the
// columns held first.
func (ct *commitTable) relayout(n, width int) {
	slots := make([]commitSlot, n)
	copy(slots, ct.slots)
	times := make([]int64, width)
	vals := makeVals(n*width, ct.vals.wide())
	for c := range ct.cols {
		from := (ct.head + c) % max(ct.width, 1)
		times[c] = ct.times[from]
		for i := range min(n, len(ct.slots)) {
			vals.set(i*width+c, ct.vals.get(i*ct.width+from))
		}
	}
	for _, x := range ct.sparse {
		v := makeVals(width, x.vals.wide())
		for c := range ct.cols {
			v.set(c, x.vals.get((ct.head+c)%ct.width))
		}
		x.vals = v
	}
	ct.slots, ct.times, ct.vals, ct.width, ct.head = slots, times, vals, width, 0
}

// slot returns partition p's slot and its values' room, creating them.
func (ct *commitTable) slot(p int32) (*commitSlot, *commitVals, int) {
	if p >= 0 && p < denseLimit {
		if int(p) >= len(ct.slots) {
			ct.reserve(max(p+1, int32(min(2*len(ct.slots), denseLimit))))
		}
		s := &ct.slots[p]
		if s.seen == 0 {
			ct.n++
		}
		return s, &ct.vals, int(p) * ct.width
	}
	x := ct.sparse[p]
	if x == nil {
		if ct.sparse == nil {
			ct.sparse = map[int32]*sparseCommits{}
		}
		x = &sparseCommits{vals: makeVals(max(ct.width, 1), false)}
		ct.sparse[p] = x
	}
	if x.seen == 0 {
		ct.n++
	}
	return &x.commitSlot, &x.vals, 0
}

// advance makes a column for time now, unless the newest is at or after it
// (a snapshot not newer than the last replaces its values), first dropping
// the columns older than oldest; at the limit the oldest column goes.
func (ct *commitTable) advance(now, oldest int64) {
	if ct.cols > 0 && ct.times[(ct.head+ct.cols-1)%ct.width] >= now {
		return
	}
	ct.prune(oldest)
	if ct.cols == ct.width && ct.width < ct.limit {
		ct.relayout(len(ct.slots), min(max(2*ct.width, 1), ct.limit))
	}
	if ct.cols == ct.width {
		ct.head = (ct.head + 1) % ct.width
		ct.cols--
	}
	ct.times[(ct.head+ct.cols)%ct.width] = now
	ct.cols++
	ct.seq++
}

// push records v as the newest value of a partition (s, vals and base are
// its slot, its values and its first place in them, from slot), in the
// column of time now, after advance.
func (ct *commitTable) push(s *commitSlot, vals *commitVals, base int, v commitVal) {
	vals.set(base+(ct.head+ct.cols-1)%ct.width, v)
	if s.n == 0 || s.at != ct.seq {
		s.n = min(s.n+1, uint32(ct.cols))
		s.at = ct.seq
	}
}

// samples appends the partition's samples, oldest first, to buf.
func (ct *commitTable) samples(buf []commitSample, s *commitSlot, vals *commitVals, base int) []commitSample {
	for c := ct.cols - int(s.n); c < ct.cols; c++ {
		i := (ct.head + c) % ct.width
		v := vals.get(base + i)
		buf = append(buf, commitSample{t: ct.times[i], committed: v.committed, lag: v.lag})
	}
	return buf
}

// prune drops the columns older than oldest.
func (ct *commitTable) prune(oldest int64) {
	for ct.cols > 0 && ct.times[ct.head] < oldest {
		ct.head = (ct.head + 1) % ct.width
		ct.cols--
	}
	for i := range ct.slots {
		ct.slots[i].n = min(ct.slots[i].n, uint32(ct.cols))
	}
	for _, x := range ct.sparse {
		x.n = min(x.n, uint32(ct.cols))
	}
}

// each calls f on every partition held.
func (ct *commitTable) each(f func(*commitSlot)) {
	for i := range ct.slots {
		if ct.slots[i].seen != 0 {
			f(&ct.slots[i])
		}
	}
	for _, x := range ct.sparse {
		f(&x.commitSlot)
	}
}

// sweep ages out the columns older than oldest and drops the partitions
// the snapshot of generation gen did not list; a table left with far more
// room than partitions is shrunk.
func (ct *commitTable) sweep(gen uint64, oldest int64) {
	ct.prune(oldest)
	end := 0
	for i := range ct.slots {
		s := &ct.slots[i]
		if s.seen == 0 {
			continue
		}
		if s.seen != gen {
			*s = commitSlot{}
			ct.n--
			continue
		}
		end = i + 1
	}
	if end < len(ct.slots)/2 {
		ct.relayout(end, ct.width)
	}
	for p, x := range ct.sparse {
		if x.seen != gen {
			delete(ct.sparse, p)
			ct.n--
		}
	}
}
