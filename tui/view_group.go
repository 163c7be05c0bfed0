package tui

import (
	"math"
	"strconv"
	"strings"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/lag"
	"github.com/mqops/mqops/tui/components"
	"github.com/mqops/mqops/tui/keys"
	"github.com/mqops/mqops/tui/styles"
)

// groupView is one consumer group: its position on every partition.
type groupView struct {
	name string // raw group name, as the broker spells it
	gen  uint64
	tbl  *components.Table
	sum  components.Summary
}

const (
	pcTopic = iota
	pcPartition
	pcCommitted
	pcLogEnd
	pcLag
	pcMember
	pcClient
	pcHost
	pcTrend
	pcStatus
	pcTimeLag
	pcNote
)

func newGroupView(name string) *groupView {
	t := components.NewTable([]components.Column{
		pcTopic:     {Title: "TOPIC", Flex: true, Name: true, Min: 10},
		pcPartition: {Title: "P", Right: true, Num: true},
		pcCommitted: {Title: "COMMITTED", Right: true, Num: true, Desc: true, Drop: 4},
		pcLogEnd:    {Title: "LOG-END", Right: true, Num: true, Desc: true, Drop: 6},
		pcLag:       {Title: "LAG", Right: true, Num: true, Desc: true},
		pcMember:    {Title: "MEMBER", Flex: true, Min: 6, Max: 40, Shrink: 3, Drop: 10},
		pcClient:    {Title: "CLIENT", Flex: true, Min: 6, Max: 24, Shrink: 2, Drop: 8},
		pcHost:      {Title: "HOST", Flex: true, Min: 6, Max: 24, Shrink: 2, Drop: 9},
		pcTrend:     {Title: "TREND", Plain: true, Drop: 7},
		pcStatus:    {Title: "STATUS", Num: true, Desc: true},
		pcTimeLag:   {Title: "TIME LAG", Right: true, Num: true, Desc: true, Drop: 5},
		pcNote:      {Title: "NOTE", Flex: true, Min: 6, Max: 40, Shrink: 1},
	}, pcTopic, false)
	t.Empty = "the group has no committed offsets and no assignment"
	return &groupView{name: name, tbl: t}
}

func (v *groupView) id() string                 { return "group/" + v.name }
func (v *groupView) crumb() string              { return safe(v.name) }
func (v *groupView) noun() string               { return "partitions" }
func (v *groupView) builtGen() uint64           { return v.gen }
func (v *groupView) focused() *components.Table { return v.tbl }
func (v *groupView) togglePane() bool           { return false }

func (v *groupView) summary(width int) []string { return v.sum.Wrap(width) }

func (v *groupView) layout(width, height int) { v.tbl.SetSize(width, height) }

func (v *groupView) body(st *styles.Styles) []string { return v.tbl.View(st, true) }

// keys: enter opens the topic of the selected partition.
func (v *groupView) keys(k *keys.Map) []keys.Binding {
	return []keys.Binding{
		k.Open.With("open the topic of the selected partition", "topic"),
		k.Reset.With("reset the offsets of this group", ""),
	}
}

// open goes to the topic of the selected partition.
func (v *groupView) open() (view, bool) {
	r, ok := v.tbl.Selected()
	if !ok {
		return nil, false
	}
	return newTopicView(r.Ref), true
}

func (v *groupView) build(d *dataset, st *styles.Styles) {
	v.gen = d.gen
	g, ok := d.snap.Group(v.name)
	if !ok {
		v.sum = components.Summary{Extra: []string{st.Cells[styles.CellError].Render("group " + safe(v.name) + " is not in the last snapshot")}}
		v.tbl.SetRows(nil)
		return
	}
	var gs *lag.GroupStats
	if d.analysis != nil {
		gs = d.analysis.Groups[g.Name]
	}

	// Names repeat across partitions: sanitize each once.
	names := map[string]string{}
	clean := func(s string) string {
		if s == "" {
			return "-"
		}
		c, ok := names[s]
		if !ok {
			c = safe(s)
			names[s] = c
		}
		return c
	}

	rows := make([]components.Row, len(g.Partitions))
	cells := make([]string, len(g.Partitions)*(pcNote+1))
	cellStyles := make([]styles.CellStyle, len(g.Partitions)*(pcNote+1))
	nums := make([]float64, len(g.Partitions)*(pcNote+1))
	behind, noCommit := 0, 0
	var lost int64
	var inexact timeLagCounts
	var psv lag.PartitionStats // the row's analysis, read within its iteration
	for i := range g.Partitions {
		p := &g.Partitions[i]
		var ps *lag.PartitionStats
		if gs != nil {
			var ok bool
			if psv, ok = gs.PartitionAt(i, p.Topic, p.Partition); ok {
				ps = &psv
			}
		}
		c := cells[i*(pcNote+1) : (i+1)*(pcNote+1) : (i+1)*(pcNote+1)]
		s := cellStyles[i*(pcNote+1) : (i+1)*(pcNote+1) : (i+1)*(pcNote+1)]
		n := nums[i*(pcNote+1) : (i+1)*(pcNote+1) : (i+1)*(pcNote+1)]

		part := strconv.FormatInt(int64(p.Partition), 10)
		c[pcTopic] = clean(p.Topic)
		c[pcPartition] = part
		n[pcPartition] = float64(p.Partition)
		c[pcCommitted] = fmtOptInt(p.Committed)
		n[pcCommitted] = optIntKey(p.Committed)
		c[pcLogEnd] = fmtOffset(p.LogEnd)
		n[pcLogEnd] = offsetKey(p.LogEnd)
		c[pcLag] = fmtOptInt(p.Lag)
		n[pcLag] = optIntKey(p.Lag)
		c[pcMember] = clean(p.MemberID)
		c[pcClient] = clean(p.ClientID)
		c[pcHost] = clean(p.Host)
		status := lag.Unknown
		n[pcTimeLag] = math.NaN()
		c[pcTimeLag] = "-"
		if ps != nil {
			status = ps.Status
			c[pcTrend] = components.Sparkline(ps.LagHistory, detailSparkWidth)
			c[pcTimeLag] = fmtTimeLag(ps.TimeLag, ps.TimeLagSource)
			n[pcTimeLag] = optDurationKey(ps.TimeLag)
			c[pcNote], s[pcNote] = inexact.add(i, ps, clean)
		}
		s[pcTrend] = styles.CellDim
		c[pcStatus] = string(status)
		s[pcStatus] = statusStyle(status)
		n[pcStatus] = float64(status.Severity())
		if p.Committed == nil {
			noCommit++
			s[pcCommitted], s[pcLag] = styles.CellDim, styles.CellDim
		}
		if p.BehindLogStart {
			behind++
			c[pcNote] = "BEHIND LOG-START"
			if p.Committed != nil && p.LogStart > *p.Committed {
				lost += p.LogStart - *p.Committed
			}
			s[pcNote], s[pcCommitted] = styles.CellError, styles.CellError
		}
		rows[i] = components.Row{
			ID:     p.Topic + "\x00" + part,
			Ref:    p.Topic,
			Cells:  c,
			Styles: s,
			Nums:   n,
		}
	}
	v.sum = groupSummary(g, gs, behind, lost, noCommit, st)
	if line := inexact.line(); line != "" {
		v.sum.Extra = append(v.sum.Extra, st.Dim.Render(line))
	}
	if inexact.whys == 1 {
		// one reason for all, said above (TIME LAG marks them): no note
		for _, i := range inexact.rows {
			if c := rows[i].Cells; c[pcNote] != "BEHIND LOG-START" {
				c[pcNote] = ""
			}
		}
	}
	v.tbl.SetRows(rows)
}

// timeLagCounts counts a group's partitions whose time lag is not exact,
// and the reason they give when they all give one.
type timeLagCounts struct {
	estimated, bounded, unknown int
	why                         string // the reason given, "" when none or several
	whys                        int    // distinct reasons seen (counting stops at 2)
	rows                        []int  // the rows counted
}

// add counts ps, the partition of row i, and returns its NOTE cell: why
// its time lag is not exact (marked as in the TIME LAG column), or unknown
// while it has lag.
func (c *timeLagCounts) add(i int, ps *lag.PartitionStats, clean func(string) string) (string, styles.CellStyle) {
	note := ps.TimeLagNote
	if ps.TimeLagSource != backends.TimeLagRecord && (ps.TimeLag != nil || (ps.Lag != nil && *ps.Lag > 0)) {
		c.rows = append(c.rows, i)
		switch {
		case c.whys == 0:
			c.why, c.whys = note, 1
		case c.whys == 1 && note != c.why:
			c.why, c.whys = "", 2
		}
	}
	switch {
	case ps.TimeLag == nil:
		if ps.Lag == nil || *ps.Lag == 0 {
			return "", styles.CellPlain
		}
		c.unknown++
		if note == "" {
			note = "time lag unknown until a second refresh"
		}
		return clean(note), styles.CellDim
	case ps.TimeLagSource == backends.TimeLagInterpolated:
		c.estimated++
		if note == "" {
			return "~ estimated from the log ends seen", styles.CellDim
		}
		return "~ " + clean(note), styles.CellDim
	case ps.TimeLagSource == backends.TimeLagLowerBound:
		c.bounded++
		return "≥ " + clean(note), styles.CellWarn
	}
	return "", styles.CellPlain
}

// line says which partitions' time lags are not exact (the others are
// from the record at the committed offset), "" when all are.
func (c timeLagCounts) line() string {
	var parts []string
	if c.estimated > 0 {
		parts = append(parts, "~ estimated on "+fmtInt(int64(c.estimated)))
	}
	if c.bounded > 0 {
		parts = append(parts, "≥ a lower bound on "+fmtInt(int64(c.bounded)))
	}
	if c.unknown > 0 {
		parts = append(parts, "unknown on "+fmtInt(int64(c.unknown)))
	}
	if len(parts) == 0 {
		return ""
	}
	line := "time lag " + strings.Join(parts, ", ") + " partition(s)"
	if c.why != "" {
		return line + ": " + safe(c.why)
	}
	return line + " (NOTE says why)"
}

func groupSummary(g *backends.Group, gs *lag.GroupStats, behind int, lost int64, noCommit int, st *styles.Styles) components.Summary {
	status := lag.Unknown
	totalLag := g.TotalLag()
	timeLag, drain := "-", "-"
	if gs != nil {
		status, totalLag = gs.Status, gs.Lag
		timeLag, drain = fmtTimeLag(gs.TimeLag, gs.TimeLagSource), fmtOptDuration(gs.TimeToDrain)
	}
	state := safe(g.State)
	if state == "" {
		state = "-"
	}
	members := fmtInt(int64(len(g.Members)))
	if g.Unknown != "" {
		members = "?"
	}
	kv := func(k, v string) string { return st.SummaryKey.Render(k+" ") + v }
	sum := components.Summary{Parts: []string{
		kv("state", st.Cells[stateStyle(g.State)].Render(state)),
		kv("protocol", groupProtocol(g, st)),
		kv("members", members),
		kv("partitions", fmtInt(int64(len(g.Partitions)))),
		kv("lag", fmtInt(totalLag)),
		kv("status", st.Cells[statusStyle(status)].Render(string(status))),
		kv("time lag", timeLag),
		kv("drain", drain),
	}}
	if behind > 0 {
		sum.Extra = append(sum.Extra, st.Cells[styles.CellError].Render(
			"⚠ "+fmtInt(int64(behind))+" partition(s) committed behind log-start: "+fmtInt(lost)+" records lost to retention"))
	}
	if noCommit > 0 {
		sum.Extra = append(sum.Extra, st.Dim.Render(fmtInt(int64(noCommit))+" partition(s) without a committed offset (lag \"-\")"))
	}
	if g.Err != "" {
		sum.Extra = append(sum.Extra, st.Cells[styles.CellError].Render("error: "+safe(g.Err)))
	}
	if g.Unknown != "" {
		sum.Extra = append(sum.Extra, st.Dim.Render("unknown: "+safe(g.Unknown)))
	}
	return sum
}

// groupProtocol is the header's word on the rebalance protocol a group
// uses: "classic range" (a Kafka Connect group: "classic (connect)
// sessioned"), or "consumer (KIP-848) uniform, epoch 7" with the
// assignment's epoch when it lags the group's (members still move to a
// new assignment). A source that does not name the type (before Kafka
// 3.8) has classic groups only.
func groupProtocol(g *backends.Group, st *styles.Styles) string {
	p := "classic"
	switch g.Type {
	case "", backends.GroupClassic:
		if g.ProtocolType != "" && g.ProtocolType != "consumer" {
			p += " (" + safe(g.ProtocolType) + ")"
		}
	case backends.GroupConsumer:
		p = "consumer (KIP-848)"
	default:
		p = safe(g.Type)
	}
	if g.Protocol != "" {
		p += " " + safe(g.Protocol)
	}
	if g.GroupEpoch != 0 || g.AssignmentEpoch != 0 {
		e := ", epoch " + strconv.FormatInt(int64(g.GroupEpoch), 10)
		if g.AssignmentEpoch != g.GroupEpoch {
			e = st.Cells[styles.CellWarn].Render(e + " (assignment " + strconv.FormatInt(int64(g.AssignmentEpoch), 10) + ")")
		}
		p += e
	}
	return p
}

// fmtOffset formats an offset that is -1 when the leader did not answer.
func fmtOffset(o int64) string {
	if o < 0 {
		return "-"
	}
	return fmtInt(o)
}

func offsetKey(o int64) float64 {
	if o < 0 {
		return math.NaN()
	}
	return float64(o)
}
