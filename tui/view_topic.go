package tui

import (
	"math"
	"strconv"
	"time"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/lag"
	"github.com/mqops/mqops/tui/components"
	"github.com/mqops/mqops/tui/keys"
	"github.com/mqops/mqops/tui/styles"
)

// topicView is one topic: its partitions (upper pane) and the consumer
// groups with offsets on it (lower pane). tab moves the focus between them.
type topicView struct {
	name      string
	gen       uint64
	parts     *components.Table
	groups    *components.Table
	onGroups  bool // focus on the lower pane
	sum       components.Summary
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
	parts := components.NewTable([]components.Column{
		tpPartition: {Title: "P", Right: true, Num: true},
		tpLeader:    {Title: "LEADER", Right: true, Num: true, Drop: 5},
		tpReplicas:  {Title: "REPLICAS", Flex: true, Min: 4, Shrink: 1, Drop: 9},
		tpISR:       {Title: "ISR", Flex: true, Min: 4, Shrink: 1, Drop: 4},
		tpURP:       {Title: "UNDER-REPL"},
		tpLogStart:  {Title: "LOG-START", Right: true, Num: true, Desc: true, Drop: 8},
		tpLogEnd:    {Title: "LOG-END", Right: true, Num: true, Desc: true, Drop: 7},
		tpMessages:  {Title: "MESSAGES", Right: true, Num: true, Desc: true},
		tpRate:      {Title: "MSG/S", Right: true, Num: true, Desc: true, Drop: 6},
		tpNote:      {Title: "NOTE", Flex: true, Min: 4, Shrink: 1},
	}, tpPartition, false)
	parts.Empty = "the topic has no partitions"
	groups := components.NewTable([]components.Column{
		tgGroup:      {Title: "GROUP", Flex: true, Name: true, Min: 12},
		tgState:      {Title: "STATE", Flex: true, Min: 6, Drop: 7},
		tgPartitions: {Title: "PARTITIONS", Right: true, Num: true, Desc: true, Drop: 9},
		tgLag:        {Title: "LAG", Right: true, Num: true, Desc: true},
		tgStatus:     {Title: "STATUS", Num: true, Desc: true},
		tgTimeLag:    {Title: "TIME LAG", Right: true, Num: true, Desc: true, Drop: 8},
	}, tgLag, true)
	groups.Empty = "no consumer group has offsets on this topic"
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

func (v *topicView) focused() *components.Table {
	if v.onGroups {
		return v.groups
	}
	return v.parts
}

func (v *topicView) togglePane() bool {
	v.onGroups = !v.onGroups
	return true
}

func (v *topicView) summary(width int) []string { return v.sum.Wrap(width) }

// layout gives the lower pane up to a third of the body (at least its
// header and one row) and the rest to the partitions.
func (v *topicView) layout(width, height int) {
	want := max(v.groups.Len(), 1) + 1
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
	v.parts.SetSize(width, max(ph, 0))
	v.groups.SetSize(width, gh)
}

func (v *topicView) body(st *styles.Styles) []string {
	lines := v.parts.View(st, !v.onGroups)
	for len(lines) < v.parts.Height() {
		lines = append(lines, "")
	}
	if v.groups.Height() > 0 {
		title := st.SectionTitle.Render(v.groupsTop)
		if v.onGroups {
			title = st.SectionTitle.Render("▸ " + v.groupsTop)
		}
		lines = append(lines, components.Clip(title, v.groups.Width()))
		lines = append(lines, v.groups.View(st, v.onGroups)...)
	}
	return lines
}

// keys: tab switches the pane; enter opens a group of the lower pane; P
// replays the topic (its partitions marked with space, if any, prefill
// the replay's partitions: the partitions pane offers marks where P is
// bound).
func (v *topicView) keys(k *keys.Map) []keys.Binding {
	pane := k.Pane.With("switch pane: partitions / consumer groups", "groups")
	replay := k.Replay.With("replay a range of this topic into another topic", "")
	if n := v.parts.MarkedCount(); n > 0 {
		replay = k.Replay.With("replay a range of the marked partitions into another topic",
			"replay "+fmtInt(int64(n))+" marked")
	}
	if v.onGroups {
		return []keys.Binding{k.Open.With("open the selected consumer group", "group"), pane.With("", "partitions"), replay}
	}
	if !k.Replay.Bound() {
		return []keys.Binding{pane}
	}
	return []keys.Binding{pane, replay, k.Mark.With("mark / unmark the partition (P replays the marked)", "mark")}
}

// open goes to the selected consumer group of the lower pane.
func (v *topicView) open() (view, bool) {
	if !v.onGroups {
		return nil, false
	}
	r, ok := v.groups.Selected()
	if !ok {
		return nil, false
	}
	return newGroupView(r.Ref), true
}

func (v *topicView) build(d *dataset, st *styles.Styles) {
	v.gen = d.gen
	t, ok := d.snap.Topic(v.name)
	if !ok {
		v.sum = components.Summary{Extra: []string{st.Cells[styles.CellError].Render("topic " + safe(v.name) + " is not in the last snapshot")}}
		v.parts.SetRows(nil)
		v.groups.SetRows(nil)
		v.groupsTop = "CONSUMER GROUPS"
		return
	}
	var ts *lag.TopicStats
	if d.analysis != nil {
		ts = d.analysis.Topics[t.Name]
	}
	var msgs int64
	urp := 0
	rows := make([]components.Row, len(t.Partitions))
	for i := range t.Partitions {
		p := &t.Partitions[i]
		rate := 0.0
		if ts != nil {
			rate = ts.Partitions[p.Partition]
		}
		msgs += p.Messages()
		urpCell, urpStyle := "no", styles.CellDim
		if p.UnderReplicated {
			urp++
			urpCell, urpStyle = "YES", styles.CellWarn
		}
		note := ""
		if p.Err != "" {
			note = "error: " + safe(p.Err)
		}
		part := strconv.FormatInt(int64(p.Partition), 10)
		rows[i] = components.Row{
			ID: part,
			Cells: []string{
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
			Styles: []styles.CellStyle{
				tpLeader: leaderStyle(p.Leader),
				tpURP:    urpStyle,
				tpNote:   styles.CellError,
			},
			Nums: []float64{
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
	v.parts.SetRows(rows)
	if d.rows != nil {
		v.groups.SetRows(d.rows.onTopic[t.Name])
	} else {
		v.groups.SetRows(topicConsumers(d, t.Name))
	}
	v.groupsTop = "CONSUMER GROUPS (" + fmtInt(int64(v.groups.Len())) + ")"
	if v.groups.Len() == 0 && v.onGroups {
		v.onGroups = false
	}

	rate := 0.0
	if ts != nil {
		rate = ts.ProduceRate
	}
	kv := func(k, val string) string { return st.SummaryKey.Render(k+" ") + val }
	urpText := fmtInt(int64(urp))
	if urp > 0 {
		urpText = st.Cells[styles.CellWarn].Render(urpText)
	}
	v.sum = components.Summary{Parts: []string{
		kv("partitions", fmtInt(int64(len(t.Partitions)))),
		kv("messages", fmtInt(msgs)),
		kv("produce", fmtRate(rate)+" msg/s"),
		kv("under-replicated", urpText),
		kv("consumer groups", fmtInt(int64(v.groups.Len()))),
	}}
	if t.Internal {
		v.sum.Parts = append(v.sum.Parts, st.Dim.Render("(internal)"))
	}
	if t.Err != "" {
		v.sum.Extra = append(v.sum.Extra, st.Cells[styles.CellError].Render("error: "+safe(t.Err)))
	}
}

// topicConsumers builds one row per group with offsets on the topic: its lag
// summed over the topic's partitions and its worst status there.
func topicConsumers(d *dataset, topic string) []components.Row {
	var rows []components.Row
	spans := d.topicSpans(topic)
	for len(spans) > 0 {
		// the spans of one group (one, unless its partitions were not in order)
		i, k := spans[0].group, 1
		for k < len(spans) && spans[k].group == i {
			k++
		}
		mine := spans[:k]
		spans = spans[k:]
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
		for _, sp := range mine {
			for j := sp.from; j < sp.to; j++ {
				p := &g.Partitions[j]
				n++
				if p.Lag != nil {
					total += *p.Lag
					committed = true
				}
				if gs == nil {
					continue
				}
				ps, ok := gs.BriefAt(j, p.Topic, p.Partition)
				if !ok {
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
		rows = append(rows, components.Row{
			ID:  g.Name,
			Ref: g.Name,
			Cells: []string{
				tgGroup:      safe(g.Name),
				tgState:      state,
				tgPartitions: fmtInt(int64(n)),
				tgLag:        lagCell,
				tgStatus:     string(worst),
				tgTimeLag:    fmtTimeLag(timeLag, timeLagSrc),
			},
			Styles: []styles.CellStyle{
				tgState:  stateStyle(g.State),
				tgStatus: statusStyle(worst),
			},
			Nums: []float64{
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

func leaderStyle(id int32) styles.CellStyle {
	if id < 0 {
		return styles.CellError
	}
	return styles.CellPlain
}
