package main

import (
	"bufio"
	"cmp"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/lag"
	"github.com/mqops/mqops/backends/safejson"
)

// The lag report of a big cluster has hundreds of thousands of partition
// rows. It is written as it is built, one group at a time, into a buffered
// writer: the report is never held whole, nor is its text. The JSON is
// byte for byte what writeJSON writes of the whole lagReport (same keys,
// same order, same escapes); the table is what text/tabwriter aligns.

// lagRows are the groups of the report in the report's order (lag
// descending, then name), with their analyses: those of an, or, when an
// is nil (one sample), each group's own, made as it is written
// (lag.AnalyzeGroup: the processors that write the groups analyse them).
type lagRows struct {
	snap  *backends.ClusterSnapshot
	an    *lag.Analysis
	order []int     // indexes of snap.Groups
	lags  []int64   // the groups' total lags, by index in snap.Groups
	at0   time.Time // the sample's time, for a group analysed alone
}

// groupBuilder builds the report's groups one at a time into a buffer
// reused from group to group: what build returns is valid until its next
// call.
type groupBuilder struct {
	lg lagGroup
}

func newLagRows(snap *backends.ClusterSnapshot, an *lag.Analysis) *lagRows {
	r := &lagRows{snap: snap, an: an, order: make([]int, len(snap.Groups)), at0: snap.TakenAt}
	if r.at0.IsZero() {
		r.at0 = time.Now()
	}
	lags := make([]int64, len(snap.Groups))
	r.lags = lags
	for i := range snap.Groups {
		r.order[i], lags[i] = i, snap.Groups[i].TotalLag()
	}
	slices.SortStableFunc(r.order, func(a, b int) int {
		return cmp.Or(cmp.Compare(lags[b], lags[a]), strings.Compare(snap.Groups[a].Name, snap.Groups[b].Name))
	})
	return r
}

func (r *lagRows) len() int { return len(r.order) }

// at returns the i-th group of the report and its analysis (nil when
// it has none).
func (r *lagRows) at(i int) (*backends.Group, *lag.GroupStats) {
	gr := &r.snap.Groups[r.order[i]]
	if r.an != nil {
		return gr, r.an.Groups[gr.Name]
	}
	return gr, lag.AnalyzeGroup(gr, r.at0)
}

// chunkStats is a writer's analyses of a chunk of the report's groups,
// with the memory they are made in, reused from chunk to chunk.
type chunkStats struct {
	st  [lagChunk]*lag.GroupStats
	buf []backends.Group // the chunk's groups, for one sample
	z   lag.Analyzer
}

// of returns the analyses of the report's groups from to to: an's, or
// with one sample (no an) one lag.Analyze of the chunk, which gives each
// group what lag.AnalyzeGroup gives it (with one sample a group's analysis
// depends on no other group), for the tables of one analysis instead of
// one per group, made in c's memory: valid until c analyses its next
// chunk.
func (c *chunkStats) of(r *lagRows, from, to int) []*lag.GroupStats {
	out := c.st[:to-from]
	if r.an != nil {
		for i := from; i < to; i++ {
			_, out[i-from] = r.at(i)
		}
		return out
	}
	gs := c.buf[:0]
	for i := from; i < to; i++ {
		gs = append(gs, r.snap.Groups[r.order[i]])
	}
	c.buf = gs
	an := c.z.Analyze(&backends.ClusterSnapshot{TakenAt: r.at0, Groups: gs})
	for i := range gs {
		if len(an.Groups) == len(gs) {
			out[i] = an.Groups[gs[i].Name]
		} else { // a name twice (not from a broker): each alone
			out[i] = lag.AnalyzeGroup(&gs[i], r.at0)
		}
	}
	clear(gs) // no partitions kept alive by the buffer
	return out
}

// samples is the number of samples the report is of.
func (r *lagRows) samples() int {
	if r.an == nil {
		return 1
	}
	return r.an.Samples
}

// partitionStats is the analysis of gr's partition j (false when none).
func partitionStats(gr *backends.Group, gs *lag.GroupStats, j int) (lag.PartitionStats, bool) {
	if gs == nil {
		return lag.PartitionStats{}, false
	}
	p := &gr.Partitions[j]
	return gs.BriefAt(j, p.Topic, p.Partition) // the report has no use for its history
}

// build builds the i-th group of the report, whose analysis is gs, but
// for its partitions: the writer writes those straight from the snapshot
// and the analysis (jsonOut.partitionOf), as build would have made them.
func (r *groupBuilder) build(rows *lagRows, i int, gs *lag.GroupStats) (*lagGroup, *backends.Group) {
	gr := &rows.snap.Groups[rows.order[i]]
	r.lg = lagGroup{
		Group: gr.Name, State: gr.State, Protocol: gr.ProtocolType, Members: len(gr.Members),
		Type: gr.Type, GroupEpoch: gr.GroupEpoch, AssignmentEpoch: gr.AssignmentEpoch,
		Topics: gr.Topics(), Lag: rows.lags[rows.order[i]], Status: string(lag.Unknown), Error: gr.Err, Unknown: gr.Unknown,
	}
	lg := &r.lg
	if lg.Topics == nil {
		lg.Topics = []string{}
	}
	if gs != nil {
		lg.Status = string(gs.Status)
		lg.ProduceRate, lg.ConsumeRate = round2(gs.ProduceRate), round2(gs.ConsumeRate)
		lg.TimeLagSeconds, lg.TimeToDrainSeconds = secs(gs.TimeLag), secs(gs.TimeToDrain)
		lg.TimeLagSource, lg.TimeLagNote = source(gs.TimeLagSource), gs.TimeLagNote
	}
	return lg, gr
}

// The time lag sources, shared by every row that has one.
var (
	srcRecord       = string(backends.TimeLagRecord)
	srcInterpolated = string(backends.TimeLagInterpolated)
	srcLowerBound   = string(backends.TimeLagLowerBound)
)

// source is a time lag's source for JSON: null when there is no time lag.
func source(s backends.TimeLagSource) *string {
	switch s {
	case "":
		return nil
	case backends.TimeLagRecord:
		return &srcRecord
	case backends.TimeLagInterpolated:
		return &srcInterpolated
	case backends.TimeLagLowerBound:
		return &srcLowerBound
	}
	x := string(s)
	return &x
}

// lagFlushAt is how much output is gathered before it is written.
const lagFlushAt = 64 << 10

// lagChunk is how many groups a processor writes at a time.
const lagChunk = 32

// inChunks runs each(k, from, to) over the report's n groups in chunks of
// lagChunk, up to workers at a time (k is the worker, 0 ≤ k < workers,
// each running one chunk at a time), and after each round done(k) for the
// chunks of the round in order; it stops at done's first error.
func inChunks(n, workers int, each func(k, from, to int), done func(k int) error) error {
	for start := 0; start < n; start += workers * lagChunk {
		var wg sync.WaitGroup
		for k := range workers {
			if from := start + k*lagChunk; from < n {
				wg.Go(func() { each(k, from, min(from+lagChunk, n)) })
			}
		}
		wg.Wait()
		for k := range workers {
			if start+k*lagChunk < n {
				if err := done(k); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// lagWorkers is how many processors write the report of n groups.
func lagWorkers(n int) int { return max(1, min(runtime.GOMAXPROCS(0), 4, (n+lagChunk-1)/lagChunk)) }

// writeLagJSON writes the report as writeJSON writes a lagReport, a few
// groups at a time: the processors each encode a run of groups into a
// buffer of their own, and the buffers are written in order. an is the
// analysis of the snapshot; nil for one sample: each group is analysed
// alone as it is written.
func writeLagJSON(w io.Writer, ctxName, cluster string, snap *backends.ClusterSnapshot, an *lag.Analysis) error {
	bw := bufio.NewWriterSize(w, lagFlushAt)
	rows := newLagRows(snap, an)
	e := jsonOut{first: true}
	e.b = append(e.b, '{')
	e.str(kContext, ctxName)
	e.str(kCluster, cluster)
	e.str(kTakenAt, snap.TakenAt.UTC().Format(time.RFC3339))
	e.int(kSamples, int64(rows.samples()))
	e.key(kGroups)
	if n := rows.len(); n == 0 {
		e.b = append(e.b, "[]"...)
	} else {
		e.b = append(e.b, '[')
		if _, err := bw.Write(e.b); err != nil {
			return err
		}
		workers := lagWorkers(n)
		outs := make([]jsonOut, workers)
		builders := make([]groupBuilder, workers)
		chunks := make([]chunkStats, workers) // a chunk's analyses are written before the next's are made
		err := inChunks(n, workers, func(k, from, to int) {
			// the worker's writer copied to its stack while it writes the
			// chunk: a write there pays no write barrier (the collector
			// often marks while the report is written)
			out := outs[k]
			o := &out
			defer func() { outs[k] = out }()
			if o.b == nil {
				o.b = make([]byte, 0, 512<<10)
			}
			o.b = o.b[:0]
			st := chunks[k].of(rows, from, to)
			for i := from; i < to; i++ {
				if i > 0 {
					o.b = append(o.b, ',')
				}
				lg, gr := builders[k].build(rows, i, st[i-from])
				o.group(lg, gr, st[i-from])
			}
		}, func(k int) error {
			if outs[k].err != nil {
				return outs[k].err
			}
			_, err := bw.Write(outs[k].b)
			return err
		})
		if err != nil {
			return err
		}
		e.b = append(e.b[:0], "\n  ]"...)
	}
	e.b = append(e.b, "\n}\n"...)
	if _, err := bw.Write(e.b); err != nil {
		return err
	}
	return bw.Flush()
}

// jsonOut appends indented JSON (two spaces a level, as writeJSON): an
// object's first field follows its brace, every other a comma.
type jsonOut struct {
	b     []byte
	first bool // the next field is its object's first
	err   error
	// the partition fields whose text repeats from row to row (a group's
	// topic, member, client, host; the statuses), escaped once
	topic, member, client, host, status, source memo
}

const spaces = "                                " // 16 levels

// jkey is what starts a field: a new line, the field's indentation, its
// name and the colon; made once per field (jk).
type jkey string

func jk(depth int, name string) jkey { return jkey("\n" + spaces[:2*depth] + `"` + name + `": `) }

// The fields of the report: at depth 1, 3 (a group) and 5 (a partition).
var (
	kContext, kCluster, kTakenAt, kSamples, kGroups = jk(1, "context"), jk(1, "cluster"), jk(1, "taken_at"), jk(1, "samples"), jk(1, "groups")

	kGroup, kState, kProtocol, kType                 = jk(3, "group"), jk(3, "state"), jk(3, "protocol"), jk(3, "type")
	kGroupEpoch, kAssignmentEpoch, kMembers, kTopics = jk(3, "group_epoch"), jk(3, "assignment_epoch"), jk(3, "members"), jk(3, "topics")
	kLag, kStatus, kProduceRate, kConsumeRate        = jk(3, "lag"), jk(3, "status"), jk(3, "produce_rate"), jk(3, "consume_rate")
	kTimeLag, kTimeLagSource, kTimeLagNote, kToDrain = jk(3, "time_lag_seconds"), jk(3, "time_lag_source"), jk(3, "time_lag_note"), jk(3, "time_to_drain_seconds")
	kError, kUnknown, kPartitions                    = jk(3, "error"), jk(3, "unknown"), jk(3, "partitions")
	kpTopic, kpPartition, kpCommitted, kpLogStart    = jk(5, "topic"), jk(5, "partition"), jk(5, "committed"), jk(5, "log_start")
	kpLogEnd, kpLag, kpBehind, kpMember, kpClient    = jk(5, "log_end"), jk(5, "lag"), jk(5, "behind_log_start"), jk(5, "member"), jk(5, "client_id")
	kpHost, kpStatus, kpTimeLag, kpSource, kpNote    = jk(5, "host"), jk(5, "status"), jk(5, "time_lag_seconds"), jk(5, "time_lag_source"), jk(5, "time_lag_note")
)

// key starts a field.
func (e *jsonOut) key(k jkey) {
	if !e.first {
		e.b = append(e.b, ',')
	}
	e.first = false
	e.b = append(e.b, k...)
}

// open starts an object at depth d (the brace on a line of its own).
func (e *jsonOut) open(d int) {
	e.b = append(e.b, '\n')
	e.b = append(e.b, spaces[:2*d]...)
	e.b = append(e.b, '{')
	e.first = true
}

// close ends the object opened at depth d.
func (e *jsonOut) close(d int) {
	e.b = append(e.b, '\n')
	e.b = append(e.b, spaces[:2*d]...)
	e.b = append(e.b, '}')
	e.first = false
}

func (e *jsonOut) str(k jkey, v string) {
	e.key(k)
	e.b = safejson.AppendString(e.b, v, true)
}

func (e *jsonOut) strOmit(k jkey, v string) {
	if v != "" {
		e.str(k, v)
	}
}

func (e *jsonOut) int(k jkey, v int64) {
	e.key(k)
	e.b = strconv.AppendInt(e.b, v, 10)
}

func (e *jsonOut) float(k jkey, v float64) {
	e.key(k)
	var err error
	if e.b, err = appendNumber(e.b, v); err != nil && e.err == nil {
		e.err = err
	}
}

// appendNumber appends v as safejson.AppendFloat does, a whole number of
// hundredths without its float search (appendCents).
func appendNumber(b []byte, v float64) ([]byte, error) {
	if c, ok := appendCents(b, v); ok {
		return c, nil
	}
	return safejson.AppendFloat(b, v)
}

// appendCents appends v as safejson.AppendFloat does when v is a whole
// number of hundredths (round2's values) below 2^43/100 in magnitude, and
// reports whether it did. There the decimal n/100, trailing zeros dropped,
// is the shortest text that reads back as v: the doubles that near are
// less than 0.01/2^9 apart, so no shorter decimal lies within half of
// one of them. The figures of a report are mostly such: a time lag for
// every row.
func appendCents(b []byte, v float64) ([]byte, bool) {
	const most = 1 << 43
	c := math.Round(v * 100)
	if !(c > -most && c < most) || c/100 != v || v == 0 && math.Signbit(v) { // -0 is written "-0"
		return b, false
	}
	n := int64(c)
	if n < 0 {
		b, n = append(b, '-'), -n
	}
	b = strconv.AppendInt(b, n/100, 10)
	switch f := n % 100; {
	case f == 0:
	case f%10 == 0:
		b = append(b, '.', byte('0'+f/10))
	default:
		b = append(b, '.', byte('0'+f/10), byte('0'+f%10))
	}
	return b, true
}

func (e *jsonOut) floatPtr(k jkey, v *float64) {
	if v == nil {
		e.key(k)
		e.b = append(e.b, "null"...)
		return
	}
	e.float(k, *v)
}

func (e *jsonOut) strPtr(k jkey, v *string) {
	if v == nil {
		e.key(k)
		e.b = append(e.b, "null"...)
		return
	}
	e.str(k, *v)
}

// group writes a group at depth 2 (an element of "groups"), its fields in
// lagGroup's order: g's, and the partitions of gr, the snapshot's group,
// with gs, its analysis.
func (e *jsonOut) group(g *lagGroup, gr *backends.Group, gs *lag.GroupStats) {
	e.open(2)
	e.str(kGroup, g.Group)
	e.str(kState, g.State)
	e.str(kProtocol, g.Protocol)
	e.str(kType, g.Type)
	if g.GroupEpoch != 0 {
		e.int(kGroupEpoch, int64(g.GroupEpoch))
	}
	if g.AssignmentEpoch != 0 {
		e.int(kAssignmentEpoch, int64(g.AssignmentEpoch))
	}
	e.int(kMembers, int64(g.Members))
	e.key(kTopics)
	if len(g.Topics) == 0 {
		e.b = append(e.b, "[]"...)
	} else {
		e.b = append(e.b, '[')
		for i, t := range g.Topics {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.b = append(e.b, '\n')
			e.b = append(e.b, spaces[:8]...)
			e.b = safejson.AppendString(e.b, t, true)
		}
		e.b = append(e.b, '\n')
		e.b = append(e.b, spaces[:6]...)
		e.b = append(e.b, ']')
	}
	e.int(kLag, g.Lag)
	e.str(kStatus, g.Status)
	e.float(kProduceRate, g.ProduceRate)
	e.float(kConsumeRate, g.ConsumeRate)
	e.floatPtr(kTimeLag, g.TimeLagSeconds)
	e.strPtr(kTimeLagSource, g.TimeLagSource)
	e.strOmit(kTimeLagNote, g.TimeLagNote)
	e.floatPtr(kToDrain, g.TimeToDrainSeconds)
	e.strOmit(kError, g.Error)
	e.strOmit(kUnknown, g.Unknown)
	e.key(kPartitions)
	if len(gr.Partitions) == 0 {
		e.b = append(e.b, "[]"...)
	} else {
		e.b = append(e.b, '[')
		for j := range gr.Partitions {
			if j > 0 {
				e.b = append(e.b, ',')
			}
			e.partitionOf(gr, gs, j)
		}
		e.b = append(e.b, '\n')
		e.b = append(e.b, spaces[:6]...)
		e.b = append(e.b, ']')
	}
	e.close(2)
}

// partitionOf writes partition j of gr (gs its group's analysis) at
// depth 4, as the lagPartition of it would be written: its fields in
// lagPartition's order, a log offset null when unknown (negative), the
// status unknown and the time lag null without an analysis. It appends
// to a local slice, put back in e at the end, each field's comma and key
// one run of bytes.
func (e *jsonOut) partitionOf(gr *backends.Group, gs *lag.GroupStats, j int) {
	p := &gr.Partitions[j]
	ps, ok := partitionStats(gr, gs, j)
	b := append(e.b, pOpen...)
	b = e.topic.appendEsc(b, p.Topic)
	b = append(b, pcPartition...)
	b = strconv.AppendInt(b, int64(p.Partition), 10)
	b = append(b, pcCommitted...)
	b = appendIntPtr(b, p.Committed)
	b = append(b, pcLogStart...)
	b = appendOffset(b, p.LogStart)
	b = append(b, pcLogEnd...)
	b = appendOffset(b, p.LogEnd)
	b = append(b, pcLag...)
	b = appendIntPtr(b, p.Lag)
	b = append(b, pcBehind...)
	b = strconv.AppendBool(b, p.BehindLogStart)
	b = append(b, pcMember...)
	b = e.member.appendEsc(b, p.MemberID)
	b = append(b, pcClient...)
	b = e.client.appendEsc(b, p.ClientID)
	b = append(b, pcHost...)
	b = e.host.appendEsc(b, p.Host)
	status := string(lag.Unknown)
	if ok {
		status = string(ps.Status)
	}
	b = append(b, pcStatus...)
	b = e.status.appendEsc(b, status)
	b = append(b, pcTimeLag...)
	if ok && ps.TimeLag != nil {
		var err error
		if b, err = appendNumber(b, round2(ps.TimeLag.Seconds())); err != nil && e.err == nil {
			e.err = err
		}
	} else {
		b = append(b, "null"...)
	}
	var src *string
	if ok {
		src = source(ps.TimeLagSource)
	}
	b = append(b, pcSource...)
	if src == nil {
		b = append(b, "null"...)
	} else {
		b = e.source.appendEsc(b, *src)
	}
	if ok && ps.TimeLagNote != "" {
		b = append(b, pcNote...)
		b = safejson.AppendString(b, ps.TimeLagNote, true)
	}
	e.b = append(b, pClose...)
	e.first = false
}

// A partition's object: its opening and first key, each other field's
// comma and key, its closing.
var (
	pOpen                                 = "\n" + spaces[:8] + "{" + string(kpTopic)
	pcPartition, pcCommitted, pcLogStart  = "," + string(kpPartition), "," + string(kpCommitted), "," + string(kpLogStart)
	pcLogEnd, pcLag, pcBehind, pcMember   = "," + string(kpLogEnd), "," + string(kpLag), "," + string(kpBehind), "," + string(kpMember)
	pcClient, pcHost, pcStatus, pcTimeLag = "," + string(kpClient), "," + string(kpHost), "," + string(kpStatus), "," + string(kpTimeLag)
	pcSource, pcNote                      = "," + string(kpSource), "," + string(kpNote)
	pClose                                = "\n" + spaces[:8] + "}"
)

// appendEsc appends v escaped for JSON, escaping it only when it is not
// the text m holds.
func (m *memo) appendEsc(b []byte, v string) []byte {
	if v != m.in || m.esc == nil {
		m.in, m.esc = v, safejson.AppendString(m.esc[:0], v, true)
	}
	return append(b, m.esc...)
}

// appendIntPtr appends *v, null when nil.
func appendIntPtr(b []byte, v *int64) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, *v, 10)
}

// appendOffset appends a log offset: null when unknown (negative).
func appendOffset(b []byte, v int64) []byte {
	if v < 0 {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, v, 10)
}

// The lag table's columns.
var lagColumns = []string{"GROUP", "TOPIC", "PARTITION", "COMMITTED", "LOG-START", "LOG-END", "LAG", "STATUS", "TIME-LAG", "CLIENT", "HOST"}

// printLag writes the report as a table aligned as newTable aligns one
// (text/tabwriter: columns two spaces apart, widths in runes), in two
// passes over the groups: the widths, then the rows. tabwriter would hold
// every cell of every row until the end.
func printLag(w io.Writer, snap *backends.ClusterSnapshot, an *lag.Analysis) error {
	rows := newLagRows(snap, an)
	n := rows.len()
	workers := lagWorkers(n)
	// The first pass takes the groups' analyses a chunk at a time (one
	// sample: made in its worker's memory), as it measures the chunk, and
	// keeps of them what the lines take (seen); with one sample the second
	// pass analyses again only where that is too little (see below).
	chunks := make([]chunkStats, workers)
	lines := make([]tableLine, workers)
	widths := make([][]int, workers)
	for k := range widths {
		widths[k] = make([]int, len(lagColumns))
	}
	measure := func(l *tableLine, width []int) {
		for c := range width {
			width[c] = max(width[c], l.width(c))
		}
	}
	lines[0].header()
	measure(&lines[0], widths[0])
	// What each line takes of its partition's analysis, found by the first
	// pass and kept for the second (pointer-free): starts[i] is the first
	// line of group i.
	starts := make([]int, n+1)
	for i := range n {
		starts[i+1] = starts[i] + max(len(rows.snap.Groups[rows.order[i]].Partitions), 1)
	}
	seen := make([]lineStat, starts[n])
	_ = inChunks(n, workers, func(k, from, to int) {
		st := chunks[k].of(rows, from, to)
		for i := from; i < to; i++ {
			gr := &rows.snap.Groups[rows.order[i]]
			for j := range max(len(gr.Partitions), 1) {
				lines[k].measure(gr, st[i-from], j, widths[k], &seen[starts[i]+j])
			}
		}
	}, func(int) error { return nil })
	width := widths[0]
	for _, w := range widths[1:] {
		for c := range width {
			width[c] = max(width[c], w[c])
		}
	}

	bw := bufio.NewWriterSize(w, lagFlushAt)
	lines[0].header()
	if _, err := bw.Write(lines[0].appendTo(nil, width)); err != nil {
		return err
	}
	// Each line straight into its processor's buffer, padded as written.
	for k := range lines {
		lines[k].b, lines[k].pad = make([]byte, 0, 256<<10), width
	}
	err := inChunks(n, workers, func(k, from, to int) {
		l := &lines[k]
		l.b = l.b[:0]
		for i := from; i < to; i++ {
			gr := &rows.snap.Groups[rows.order[i]]
			// the analysis again (one sample: made again) only where the
			// first pass kept too little: a group without partitions (its
			// status), a text none of those kept
			var gs *lag.GroupStats
			if rows.an != nil || len(gr.Partitions) == 0 || slices.ContainsFunc(seen[starts[i]:starts[i+1]], func(st lineStat) bool {
				return st.status == lineOther || st.source == lineOther
			}) {
				_, gs = rows.at(i)
			}
			for j := range max(len(gr.Partitions), 1) {
				l.row(gr, gs, j, &seen[starts[i]+j])
			}
		}
	}, func(k int) error {
		_, err := bw.Write(lines[k].b)
		return err
	})
	if err != nil {
		return err
	}
	return bw.Flush()
} // groups in error are named by the command's partial result

// lineStat is what a line of the table takes of its partition's analysis,
// without pointers: its status and time lag (rounded seconds, source), as
// indexes in lineStatuses and lineSources; 0 when the line has not been
// measured, lineOther when the text is none of those (the line then asks
// the analysis again).
type lineStat struct {
	secs           float64
	status, source uint8
	timeLag        bool
}

const lineOther = 255

var (
	lineStatuses = []lag.Status{"", lag.Unknown, lag.OK, lag.Warn, lag.Stall, lag.Stop, lag.Rewind}
	lineSources  = []backends.TimeLagSource{"", "none", backends.TimeLagRecord, backends.TimeLagInterpolated, backends.TimeLagLowerBound}
)

// keep sets st from ps, the analysis of its line's partition.
func (st *lineStat) keep(ps *lag.PartitionStats) {
	*st = lineStat{status: statusIndex(ps.Status), source: sourceIndex(ps.TimeLagSource)}
	if ps.TimeLag != nil {
		st.secs, st.timeLag = round2(ps.TimeLag.Seconds()), true
	}
}

// statusIndex is s's index in lineStatuses, lineOther when none.
func statusIndex(s lag.Status) uint8 {
	switch s {
	case lag.Unknown:
		return 1
	case lag.OK:
		return 2
	case lag.Warn:
		return 3
	case lag.Stall:
		return 4
	case lag.Stop:
		return 5
	case lag.Rewind:
		return 6
	}
	return lineOther
}

// sourceIndex is s's index in lineSources (1 for none), lineOther when
// none of those.
func sourceIndex(s backends.TimeLagSource) uint8 {
	switch s {
	case "":
		return 1
	case backends.TimeLagRecord:
		return 2
	case backends.TimeLagInterpolated:
		return 3
	case backends.TimeLagLowerBound:
		return 4
	}
	return lineOther
}

// timeLag is the time lag cell of st (its status and source indexes
// neither 0 nor lineOther) and its width, made once for a run of lines
// with the same (a topic's partitions often share one).
func (l *tableLine) timeLag(st *lineStat) ([]byte, int) {
	m := &l.lag
	if !m.set || m.st.timeLag != st.timeLag || m.st.source != st.source || m.st.secs != st.secs {
		var src *string
		if st.source > 1 {
			src = source(lineSources[st.source])
		}
		m.b = appendTimeLag(m.b[:0], st.timeLagSecs(), src)
		m.st, m.width, m.set = *st, utf8.RuneCount(m.b), true
	}
	return m.b, m.width
}

// timeLagMemo is a line's last time lag cell: its text and width, made
// of st (its status aside).
type timeLagMemo struct {
	st    lineStat
	set   bool
	b     []byte
	width int
}

// tableLine holds the cells of one line of the lag table, sanitized.
type tableLine struct {
	b []byte
	// cell c is b[starts[c]:ends[c]]
	starts, ends [11]int
	// wide[c] is cell c's width when known as it was written (its runes),
	// -1 when it is to be counted
	wide [11]int
	n    int
	// pad, when set, is the columns' widths: the line is written straight
	// after what b holds, each cell padded as it ends (the table's second
	// pass); else b holds the line alone
	pad []int
	// the last cells of the columns whose text repeats from row to row,
	// sanitized once
	group, topic, client, host memo
	lag                        timeLagMemo
}

// memo is a text and its form in the output: sanitized for a table's
// cell (out, width runes wide), escaped for JSON (esc).
type memo struct {
	in, out string
	width   int
	esc     []byte
}

func (m *memo) cell(s string) string {
	if s != m.in || m.out == "" {
		m.in, m.out = s, cell(s)
		m.width = utf8.RuneCountInString(m.out)
	}
	return m.out
}

// cellWidth is the width of s's cell.
func (m *memo) cellWidth(s string) int {
	m.cell(s)
	return m.width
}

func (l *tableLine) reset() {
	if l.pad == nil {
		l.b = l.b[:0]
	}
	l.n, l.starts[0] = 0, len(l.b)
}

// end ends a cell whose width is to be counted.
func (l *tableLine) end() { l.endWide(-1) }

// endWide ends a cell w runes wide.
func (l *tableLine) endWide(w int) {
	c := l.n
	l.n++
	if l.pad != nil { // straight into the table: no cell kept
		if c == len(l.pad)-1 {
			l.b = append(l.b, '\n')
			return
		}
		if w < 0 {
			w = utf8.RuneCount(l.b[l.starts[c]:])
		}
		l.b = appendPad(l.b, l.pad[c]+2-w)
		l.starts[l.n] = len(l.b)
		return
	}
	l.ends[c], l.wide[c] = len(l.b), w
	if l.n < len(l.starts) {
		l.starts[l.n] = len(l.b)
	}
}

// endASCII ends a cell of ASCII only (digits, dashes): as wide as long.
func (l *tableLine) endASCII() { l.endWide(len(l.b) - l.starts[l.n]) }

func (l *tableLine) text(s string) {
	l.b = append(l.b, cell(s)...)
	l.end()
}

func (l *tableLine) int(p *int64) {
	if p == nil {
		l.b = append(l.b, '-')
	} else {
		l.b = strconv.AppendInt(l.b, *p, 10)
	}
	l.endASCII()
}

func (l *tableLine) header() {
	l.reset()
	for _, h := range lagColumns {
		l.text(h)
	}
}

// row fills the line of partition j of gr (the group's only line when it
// has no partitions), with the cells of the report's lagGroup and
// lagPartition (lagRows.group) straight from the snapshot and analysis.
func (l *tableLine) row(gr *backends.Group, gs *lag.GroupStats, j int, st *lineStat) {
	l.reset()
	l.b = append(l.b, l.group.cell(gr.Name)...)
	l.endWide(l.group.width)
	if len(gr.Partitions) == 0 {
		for range 6 {
			l.text("-")
		}
		status := lag.Unknown
		if gs != nil {
			status = gs.Status
		}
		l.text(string(status))
		for range 3 {
			l.text("-")
		}
		return
	}
	p := &gr.Partitions[j]
	l.b = append(l.b, l.topic.cell(p.Topic)...)
	l.endWide(l.topic.width)
	l.b = strconv.AppendInt(l.b, int64(p.Partition), 10)
	l.endASCII()
	l.int(p.Committed)
	l.offset(p.LogStart)
	l.offset(p.LogEnd)
	if p.Lag == nil {
		l.b = append(l.b, '-')
	} else {
		l.b = strconv.AppendInt(l.b, *p.Lag, 10)
	}
	if p.BehindLogStart {
		l.b = append(l.b, " (behind log start)"...)
	}
	l.endASCII()
	if st.status == lineOther || st.source == lineOther {
		if ps, ok := partitionStats(gr, gs, j); ok {
			st.keep(&ps)
			if st.status == lineOther || st.source == lineOther { // text of its own
				l.text(string(ps.Status))
				l.b = appendTimeLag(l.b, st.timeLagSecs(), source(ps.TimeLagSource))
				l.end()
				l.rest(p)
				return
			}
		} else {
			st.status = 0
		}
	}
	if st.status == 0 {
		l.text(string(lag.Unknown))
		l.b = append(l.b, '-')
		l.end()
		l.rest(p)
		return
	}
	status := lineStatuses[st.status] // a cell as it is: capitals
	l.b = append(l.b, status...)
	l.endWide(len(status))
	tl, w := l.timeLag(st)
	l.b = append(l.b, tl...)
	l.endWide(w)
	l.rest(p)
}

// rest writes the line's last cells, CLIENT and HOST.
func (l *tableLine) rest(p *backends.GroupPartition) {
	l.b = append(l.b, l.client.cell(orDash(p.ClientID))...)
	l.endWide(l.client.width)
	l.b = append(l.b, l.host.cell(orDash(p.Host))...)
	l.endWide(l.host.width)
}

// timeLagSecs is the time lag's seconds, nil when unknown.
func (st *lineStat) timeLagSecs() *float64 {
	if !st.timeLag {
		return nil
	}
	x := st.secs
	return &x
}

// measure widens width to the cells of row's line (gr, gs, j) without
// writing them: the first pass over the report only measures.
func (l *tableLine) measure(gr *backends.Group, gs *lag.GroupStats, j int, width []int, st *lineStat) {
	wide := func(c, w int) { width[c] = max(width[c], w) }
	var buf [24]byte
	num := digits
	ptr := func(p *int64) int {
		if p == nil {
			return 1
		}
		return num(*p)
	}
	offset := func(v int64) int {
		if v < 0 {
			return 1
		}
		return num(v)
	}
	wide(0, l.group.cellWidth(gr.Name))
	if len(gr.Partitions) == 0 {
		status := lag.Unknown
		if gs != nil {
			status = gs.Status
		}
		wide(7, utf8.RuneCountInString(cell(string(status))))
		for _, c := range []int{1, 2, 3, 4, 5, 6, 8, 9} {
			wide(c, 1)
		}
		return
	}
	p := &gr.Partitions[j]
	wide(1, l.topic.cellWidth(p.Topic))
	wide(2, num(int64(p.Partition)))
	wide(3, ptr(p.Committed))
	wide(4, offset(p.LogStart))
	wide(5, offset(p.LogEnd))
	lagW := ptr(p.Lag)
	if p.BehindLogStart {
		lagW += len(" (behind log start)")
	}
	wide(6, lagW)
	if ps, ok := partitionStats(gr, gs, j); ok {
		st.keep(&ps)
		if st.status != lineOther && st.source != lineOther {
			_, w := l.timeLag(st)
			wide(7, len(lineStatuses[st.status]))
			wide(8, w)
		} else {
			wide(7, utf8.RuneCountInString(cell(string(ps.Status))))
			wide(8, utf8.RuneCount(appendTimeLag(buf[:0], st.timeLagSecs(), source(ps.TimeLagSource))))
		}
	} else {
		wide(7, len(lag.Unknown))
		wide(8, 1)
	}
	wide(9, l.client.cellWidth(orDash(p.ClientID)))
	// HOST, the last column, is not padded: its width does not count
}

// digits is the length of v in decimal, its sign included: what
// strconv.AppendInt appends, without writing it.
func digits(v int64) int {
	n := 1
	u := uint64(v)
	if v < 0 {
		n, u = 2, -u
	}
	for ; u >= 10; u /= 10 {
		n++
	}
	return n
}

// offset appends a log offset, "-" when unknown (negative).
func (l *tableLine) offset(v int64) {
	if v < 0 {
		l.b = append(l.b, '-')
	} else {
		l.b = strconv.AppendInt(l.b, v, 10)
	}
	l.endASCII()
}

// appendTimeLag appends timeLagCell(s, src).
func appendTimeLag(b []byte, s *float64, src *string) []byte {
	if s == nil {
		return append(b, '-')
	}
	if src != nil {
		switch backends.TimeLagSource(*src) {
		case backends.TimeLagInterpolated:
			b = append(b, '~')
		case backends.TimeLagLowerBound:
			b = append(b, "≥ "...)
		}
	}
	return appendSeconds(b, time.Duration(*s*float64(time.Second)).Round(time.Second))
}

// appendSeconds appends d, whole seconds, as d.String() writes it ("0s",
// "45s", "2m5s", "1h0m0s").
func appendSeconds(b []byte, d time.Duration) []byte {
	if d < 0 || d%time.Second != 0 {
		return append(b, d.String()...) // negative, or saturated by Round
	}
	secs := int64(d / time.Second)
	if h := secs / 3600; h > 0 {
		b = strconv.AppendInt(b, h, 10)
		b = append(b, 'h')
	}
	if secs >= 60 {
		b = strconv.AppendInt(b, secs/60%60, 10)
		b = append(b, 'm')
	}
	b = strconv.AppendInt(b, secs%60, 10)
	return append(b, 's')
}

func (l *tableLine) cell(c int) []byte {
	return l.b[l.starts[c]:l.ends[c]]
}

// width is cell c's width in runes, as tabwriter counts it.
func (l *tableLine) width(c int) int {
	if w := l.wide[c]; w >= 0 {
		return w
	}
	return utf8.RuneCount(l.cell(c))
}

// appendTo appends the line, each cell but the last padded to its
// column's width and two spaces.
func (l *tableLine) appendTo(out []byte, width []int) []byte {
	last := l.n - 1
	for c := range last {
		out = append(out, l.cell(c)...)
		out = appendPad(out, width[c]+2-l.width(c))
	}
	out = append(out, l.cell(last)...)
	return append(out, '\n')
}

// appendPad appends n spaces (none when n <= 0).
func appendPad(b []byte, n int) []byte {
	for ; n > 0; n -= min(n, len(spaces)) {
		b = append(b, spaces[:min(n, len(spaces))]...)
	}
	return b
}

// cell is s as table.row writes a cell: sanitized (SafeText escapes tabs
// too: table.row's spaces for tabs have none to replace).
func cell(s string) string { return backends.SafeText(s) }
