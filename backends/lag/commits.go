package lag

// commitTable holds a group's commit samples on one topic, by partition
// id: up to a number of samples per partition (the limit), all of them in
// one array with no pointers. A big cluster has hundreds of thousands of
// group partitions; a table per group and topic costs one allocation, and
// nothing in it is for the garbage collector to scan. Its room per
// partition grows with the samples, up to the limit: a tracker that
// observes once (`mqops lag`) holds one sample per partition.
type commitTable struct {
	limit int
	width int            // samples per slot in ring: 1, 2, 4, … up to limit
	slots []commitSlot   // by partition id below denseLimit
	ring  []commitSample // width samples per slot, oldest first
	// sparse holds the partitions with ids at or above denseLimit (odd:
	// Kafka numbers partitions from 0).
	sparse map[int32]*sparseCommits
	n      int // partitions held
}

// commitSlot is a partition's place in the table.
type commitSlot struct {
	seen uint64 // generation of the last snapshot that listed it; 0: none held
	n    int    // samples held
}

type sparseCommits struct {
	commitSlot
	buf []commitSample
}

// reserve makes room for partitions up to id below end, so that a run of
// a group's partitions of the topic allocates once.
func (ct *commitTable) reserve(end int32) {
	if end <= int32(len(ct.slots)) || end > denseLimit {
		return
	}
	ct.relayout(int(end), max(ct.width, 1))
}

// relayout moves the table to n slots of width samples each.
func (ct *commitTable) relayout(n, width int) {
	slots := make([]commitSlot, n)
	copy(slots, ct.slots)
	ring := make([]commitSample, n*width)
	for i := range min(n, len(ct.slots)) {
		copy(ring[i*width:], ct.ring[i*ct.width:i*ct.width+slots[i].n])
	}
	ct.slots, ct.ring, ct.width = slots, ring, width
}

// get returns partition p's slot and its samples' buffer, creating them.
// The buffer is the slot's room: push widens the table when it is full.
func (ct *commitTable) get(p int32) (*commitSlot, []commitSample) {
	if p >= 0 && p < denseLimit {
		if int(p) >= len(ct.slots) {
			ct.reserve(max(p+1, int32(min(2*len(ct.slots), denseLimit))))
		}
		s := &ct.slots[p]
		if s.seen == 0 {
			ct.n++
		}
		return s, ct.ring[int(p)*ct.width : int(p+1)*ct.width]
	}
	x := ct.sparse[p]
	if x == nil {
		if ct.sparse == nil {
			ct.sparse = map[int32]*sparseCommits{}
		}
		x = &sparseCommits{buf: make([]commitSample, ct.limit)} // odd: at its limit at once
		ct.sparse[p] = x
	}
	if x.seen == 0 {
		ct.n++
	}
	return &x.commitSlot, x.buf
}

// push records x as partition p's newest sample (s and buf are its slot
// and buffer, from get), or replaces the newest when x is not newer; when
// the slot is full the table widens, or at the limit the oldest goes. It
// returns the partition's slot and buffer, moved if the table widened.
func (ct *commitTable) push(p int32, s *commitSlot, buf []commitSample, x commitSample) (*commitSlot, []commitSample) {
	if s.n > 0 && buf[s.n-1].t >= x.t {
		buf[s.n-1] = x
		return s, buf
	}
	if s.n == len(buf) && len(buf) < ct.limit && p >= 0 && p < denseLimit {
		ct.relayout(len(ct.slots), min(2*ct.width, ct.limit))
		s, buf = &ct.slots[p], ct.ring[int(p)*ct.width:int(p+1)*ct.width]
	}
	if s.n == len(buf) {
		copy(buf, buf[1:])
		s.n--
	}
	buf[s.n] = x
	s.n++
	return s, buf
}

// prune drops the samples older than oldest.
func (s *commitSlot) prune(buf []commitSample, oldest int64) {
	i := 0
	for i < s.n && buf[i].t < oldest {
		i++
	}
	if i > 0 {
		s.n = copy(buf, buf[i:s.n])
	}
}

// each calls f on every partition held.
func (ct *commitTable) each(f func(*commitSlot, []commitSample)) {
	for i := range ct.slots {
		if ct.slots[i].seen != 0 {
			f(&ct.slots[i], ct.ring[i*ct.width:(i+1)*ct.width])
		}
	}
	for _, x := range ct.sparse {
		f(&x.commitSlot, x.buf)
	}
}

// sweep ages out samples older than oldest and drops the partitions the
// snapshot of generation gen did not list; a table left with far more room
// than partitions is shrunk.
func (ct *commitTable) sweep(gen uint64, oldest int64) {
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
		s.prune(ct.ring[i*ct.width:(i+1)*ct.width], oldest)
		end = i + 1
	}
	if end < len(ct.slots)/2 {
		ct.slots = append([]commitSlot(nil), ct.slots[:end]...)
		ct.ring = append([]commitSample(nil), ct.ring[:end*ct.width]...)
	}
	for p, x := range ct.sparse {
		if x.seen != gen {
			delete(ct.sparse, p)
			ct.n--
			continue
		}
		x.prune(x.buf, oldest)
	}
}
