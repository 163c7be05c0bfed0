package tui

import (
	"math"
	"strconv"
	"time"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/lag"
)

// topicView is one topic: its partitions (upper pane) and the consumer
// groups with offsets on it (lower pane). tab moves the focus between them.
type topicView struct {
	name      string
	gen       uint64
	parts     *table
	groups    *table
	onGroups  bool // focus on the lower pane
	sum       summaryLines
	groupsTop string // title line of the lower pane
}

const (
	tpPartition = iota
	tpLeader
	tpReplicas
	tpISR
	tpURP
	tpLogStart
	tpLogEnd
	tpMessages
	tpRate
	tpNote
)

const (
	tgGroup = iota
	tgState
	tgPartitions
	tgLag
	tgStatus
	tgTimeLag
)

func newTopicView(name string) *topicView {
	parts := newTable([]column{
		tpPartition: {title: "P", right: true, num: true},
		tpLeader:    {title: "LEADER", right: true, num: true, drop: 5},
		tpReplicas:  {title: "REPLICAS", flex: true, min: 4, shrink: 1, drop: 9},
		tpISR:       {title: "ISR", flex: true, min: 4, shrink: 1, drop: 4},
		tpURP:       {title: "UNDER-REPL"},
		tpLogStart:  {title: "LOG-START", right: true, num: true, desc: true, drop: 8},
		tpLogEnd:    {title: "LOG-END", right: true, num: true, desc: true, drop: 7},
		tpMessages:  {title: "MESSAGES", right: true, num: true, desc: true},
		tpRate:      {title: "MSG/S", right: true, num: true, desc: true, drop: 6},
		tpNote:      {title: "NOTE", flex: true, min: 4, shrink: 1},
	}, tpPartition, false)
	parts.empty = "the topic has no partitions"
	groups := newTable([]column{
		tgGroup:      {title: "GROUP", flex: true, name: true, min: 12},
		tgState:      {title: "STATE", flex: true, min: 6, drop: 7},
		tgPartitions: {title: "PARTITIONS", right: true, num: true, desc: true, drop: 9},
		tgLag:        {title: "LAG", right: true, num: true, desc: true},
		tgStatus:     {title: "STATUS", num: true, desc: true},
		tgTimeLag:    {title: "TIME LAG", right: true, num: true, desc: true, drop: 8},
	}, tgLag, true)
	groups.empty = "no consumer group has offsets on this topic"
	return &topicView{name: name, parts: parts, groups: groups}
}

func (v *topicView) id() string       { return "topic/" + v.name }
func (v *topicView) crumb() string    { return safe(v.name) }
func (v *topicView) builtGen() uint64 { return v.gen }

func (v *topicView) noun() string {
	if v.onGroups {
		return "groups"
	}
	return "partitions"
}

func (v *topicView) focused() *table {
	if v.onGroups {
		return v.groups
	}
	return v.parts
}

func (v *topicView) togglePane() bool {
	v.onGroups = !v.onGroups
	return true
}

func (v *topicView) summary(width int) []string { return v.sum.wrap(width) }

// layout gives the lower pane up to a third of the body (at least its
// header and one row) and the rest to the partitions.
func (v *topicView) layout(width, height int) {
	want := max(v.groups.len(), 1) + 1
	gh := min(want, max(height/3, 2))
	if height < peekSplitHeight { // the focused pane only
		gh = 0
		if v.onGroups {
			gh = max(height-1, 0)
		}
	}
	ph := height - gh
	if gh > 0 {
		ph-- // pane title
	}
	v.parts.setSize(width, max(ph, 0))
	v.groups.setSize(width, gh)
}

func (v *topicView) body(st *styles) []string {
	lines := v.parts.view(st, !v.onGroups)
	for len(lines) < v.parts.height {
		lines = append(lines, "")
	}
	if v.groups.height > 0 {
		title := st.sectionTitle.Render(v.groupsTop)
		if v.onGroups {
			title = st.sectionTitle.Render("▸ " + v.groupsTop)
		}
		lines = append(lines, clip(title, v.groups.width))
		lines = append(lines, v.groups.view(st, v.onGroups)...)
	}
	return lines
}

// open goes to the selected consumer group of the lower pane.
func (v *topicView) open() (view, bool) {
	if !v.onGroups {
		return nil, false
	}
	r, ok := v.groups.selected()
	if !ok {
		return nil, false
	}
	return newGroupView(r.ref), true
}

func (v *topicView) build(d *dataset, st *styles) {
	v.gen = d.gen
	t, ok := d.snap.Topic(v.name)
	if !ok {
		v.sum = summaryLines{extra: []string{st.cells[cellError].Render("topic " + safe(v.name) + " is not in the last snapshot")}}
		v.parts.setRows(nil)
		v.groups.setRows(nil)
		v.groupsTop = "CONSUMER GROUPS"
		return
	}
	var ts *lag.TopicStats
	if d.analysis != nil {
		ts = d.analysis.Topics[t.Name]
	}
	var msgs int64
	urp := 0
	rows := make([]row, len(t.Partitions))
	for i := range t.Partitions {
		p := &t.Partitions[i]
		rate := 0.0
		if ts != nil {
			rate = ts.Partitions[p.Partition]
		}
		msgs += p.Messages()
		urpCell, urpStyle := "no", cellDim
		if p.UnderReplicated {
			urp++
			urpCell, urpStyle = "YES", cellWarn
		}
		note := ""
		if p.Err != "" {
			note = "error: " + safe(p.Err)
		}
		part := strconv.FormatInt(int64(p.Partition), 10)
		rows[i] = row{
			id: part,
			cells: []string{
				tpPartition: part,
				tpLeader:    leaderCell(p.Leader),
				tpReplicas:  fmtIDs(p.Replicas),
				tpISR:       fmtIDs(p.ISR),
				tpURP:       urpCell,
				tpLogStart:  fmtOffset(p.LogStart),
				tpLogEnd:    fmtOffset(p.LogEnd),
				tpMessages:  fmtInt(p.Messages()),
				tpRate:      fmtRate(rate),
				tpNote:      note,
			},
			styles: []cellStyle{
				tpLeader: leaderStyle(p.Leader),
				tpURP:    urpStyle,
				tpNote:   cellError,
			},
			nums: []float64{
				tpPartition: float64(p.Partition),
				tpLeader:    float64(p.Leader),
				tpLogStart:  offsetKey(p.LogStart),
				tpLogEnd:    offsetKey(p.LogEnd),
				tpMessages:  float64(p.Messages()),
				tpRate:      rate,
				tpNote:      math.NaN(),
			},
		}
	}
	v.parts.setRows(rows)
	v.groups.setRows(topicConsumers(d, t.Name))
	v.groupsTop = "CONSUMER GROUPS (" + fmtInt(int64(v.groups.len())) + ")"
	if v.groups.len() == 0 && v.onGroups {
		v.onGroups = false
	}

	rate := 0.0
	if ts != nil {
		rate = ts.ProduceRate
	}
	kv := func(k, val string) string { return st.summaryKey.Render(k+" ") + val }
	urpText := fmtInt(int64(urp))
	if urp > 0 {
		urpText = st.cells[cellWarn].Render(urpText)
	}
	v.sum = summaryLines{parts: []string{
		kv("partitions", fmtInt(int64(len(t.Partitions)))),
		kv("messages", fmtInt(msgs)),
		kv("produce", fmtRate(rate)+" msg/s"),
		kv("under-replicated", urpText),
		kv("consumer groups", fmtInt(int64(v.groups.len()))),
	}}
	if t.Internal {
		v.sum.parts = append(v.sum.parts, st.dim.Render("(internal)"))
	}
	if t.Err != "" {
		v.sum.extra = append(v.sum.extra, st.cells[cellError].Render("error: "+safe(t.Err)))
	}
}

// topicConsumers builds one row per group with offsets on the topic: its lag
// summed over the topic's partitions and its worst status there.
func topicConsumers(d *dataset, topic string) []row {
	var rows []row
	for i := range d.snap.Groups {
		g := &d.snap.Groups[i]
		var gs *lag.GroupStats
		if d.analysis != nil {
			gs = d.analysis.Groups[g.Name]
		}
		n := 0
		var total int64
		committed := false
		worst := lag.Unknown
		var timeLag *time.Duration
		var timeLagSrc backends.TimeLagSource
		bound := false
		for j := range g.Partitions {
			p := &g.Partitions[j]
			if p.Topic != topic {
				continue
			}
			n++
			if p.Lag != nil {
				total += *p.Lag
				committed = true
			}
			if gs == nil {
				continue
			}
			ps := gs.Partitions[lag.PartitionKey{Topic: p.Topic, Partition: p.Partition}]
			if ps == nil {
				continue
			}
			if ps.Status.Severity() > worst.Severity() {
				worst = ps.Status
			}
			if ps.TimeLag != nil && (timeLag == nil || *ps.TimeLag > *timeLag) {
				timeLag, timeLagSrc = ps.TimeLag, ps.TimeLagSource
			}
			bound = bound || ps.TimeLagSource == backends.TimeLagLowerBound
		}
		if bound && timeLag != nil {
			timeLagSrc = backends.TimeLagLowerBound // a partition may be older than the oldest known
		}
		if n == 0 {
			continue
		}
		lagCell, lagKey := "-", math.NaN()
		if committed {
			lagCell, lagKey = fmtInt(total), float64(total)
		}
		state := safe(g.State)
		if state == "" {
			state = "-"
		}
		rows = append(rows, row{
			id:  g.Name,
			ref: g.Name,
			cells: []string{
				tgGroup:      safe(g.Name),
				tgState:      state,
				tgPartitions: fmtInt(int64(n)),
				tgLag:        lagCell,
				tgStatus:     string(worst),
				tgTimeLag:    fmtTimeLag(timeLag, timeLagSrc),
			},
			styles: []cellStyle{
				tgState:  stateStyle(g.State),
				tgStatus: statusStyle(worst),
			},
			nums: []float64{
				tgPartitions: float64(n),
				tgLag:        lagKey,
				tgStatus:     float64(worst.Severity()),
				tgTimeLag:    optDurationKey(timeLag),
			},
		})
	}
	return rows
}

func leaderCell(id int32) string {
	if id < 0 {
		return "none"
	}
	return strconv.FormatInt(int64(id), 10)
}

func leaderStyle(id int32) cellStyle {
	if id < 0 {
		return cellError
	}
	return cellPlain
}
