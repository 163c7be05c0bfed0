package tui

import (
	"math"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/lag"
	"github.com/mqops/mqops/tui/components"
	"github.com/mqops/mqops/tui/keys"
	"github.com/mqops/mqops/tui/styles"
)

// groupsView lists the consumer groups: the console's default view.
type groupsView struct {
	gen uint64
	tbl *components.Table
}

// Sparkline widths: samples shown in the list and in the detail views.
const (
	sparkWidth       = 12
	detailSparkWidth = 8
)

const (
	gcGroup = iota
	gcState
	gcMembers
	gcTopics
	gcLag
	gcTrend
	gcStatus
	gcTimeLag
	gcDrain
)

func newGroupsView() *groupsView {
	t := components.NewTable([]components.Column{
		gcGroup:   {Title: "GROUP", Flex: true, Name: true, Min: 12},
		gcState:   {Title: "STATE", Flex: true, Min: 6, Drop: 5},
		gcMembers: {Title: "MEMBERS", Right: true, Num: true, Desc: true, Drop: 6},
		gcTopics:  {Title: "TOPICS", Right: true, Num: true, Desc: true, Drop: 8},
		gcLag:     {Title: "LAG", Right: true, Num: true, Desc: true},
		gcTrend:   {Title: "TREND", Plain: true, Drop: 9},
		gcStatus:  {Title: "STATUS", Num: true, Desc: true},
		gcTimeLag: {Title: "TIME LAG", Right: true, Num: true, Desc: true, Drop: 3},
		gcDrain:   {Title: "TO DRAIN", Right: true, Num: true, Desc: true, Drop: 7},
	}, gcLag, true)
	t.Empty = "no consumer groups"
	return &groupsView{tbl: t}
}

func (v *groupsView) id() string                 { return "groups" }
func (v *groupsView) crumb() string              { return "groups" }
func (v *groupsView) noun() string               { return "groups" }
func (v *groupsView) builtGen() uint64           { return v.gen }
func (v *groupsView) focused() *components.Table { return v.tbl }
func (v *groupsView) summary(int) []string       { return nil }
func (v *groupsView) togglePane() bool           { return false }

func (v *groupsView) layout(width, height int) { v.tbl.SetSize(width, height) }

func (v *groupsView) body(st *styles.Styles) []string { return v.tbl.View(st, true) }

// keys: enter opens the group; R resets the offsets of the selected
// group, or of the marked ones. Marks feed the reset only: where R is
// absent (read-only, no resetter) the view offers no marks.
func (v *groupsView) keys(k *keys.Map) []keys.Binding {
	own := []keys.Binding{k.Open.With("open the group: its partitions, lag and members", "group")}
	if !k.Reset.Bound() {
		return own
	}
	reset := k.Reset
	if n := v.tbl.MarkedCount(); n > 0 {
		reset = k.Reset.With("reset the offsets of the marked groups: one plan, each group its own audit entry and rollback file",
			"reset "+fmtInt(int64(n))+" marked")
	}
	return append(own, reset, k.Mark.With("mark / unmark the group (R resets the marked)", "mark"))
}

func (v *groupsView) open() (view, bool) {
	r, ok := v.tbl.Selected()
	if !ok {
		return nil, false
	}
	return newGroupView(r.Ref), true
}

func (v *groupsView) build(d *dataset, _ *styles.Styles) {
	v.gen = d.gen
	if d.rows != nil {
		v.tbl.SetRows(d.rows.groups)
		return
	}
	v.tbl.SetRows(groupRows(d))
}

// groupRows are the groups list's rows of d, one per group.
func groupRows(d *dataset) []components.Row {
	snap := d.snap
	rows := make([]components.Row, 0, len(snap.Groups))
	for i := range snap.Groups {
		g := &snap.Groups[i]
		name := safe(g.Name)
		var gs *lag.GroupStats
		if d.analysis != nil {
			gs = d.analysis.Groups[g.Name]
		}
		var totalLag int64
		status := lag.Unknown
		var hist []int64
		var timeLag, drain = math.NaN(), math.NaN()
		timeLagCell, drainCell := "-", "-"
		if gs == nil {
			totalLag = g.TotalLag()
		} else {
			totalLag = gs.Lag
			status = gs.Status
			hist = gs.LagHistory
			timeLagCell, drainCell = fmtTimeLag(gs.TimeLag, gs.TimeLagSource), fmtOptDuration(gs.TimeToDrain)
			timeLag, drain = optDurationKey(gs.TimeLag), optDurationKey(gs.TimeToDrain)
		}
		lagCell, lagKey := "-", math.NaN()
		if d.hasCommit(i) {
			lagCell, lagKey = fmtInt(totalLag), float64(totalLag)
		}
		statusCell, statusSt := string(status), statusStyle(status)
		if g.Err != "" && status.Severity() == 0 {
			statusCell, statusSt = "ERROR", styles.CellError
		}
		state := safe(g.State)
		if state == "" {
			state = "-"
		}
		topics := d.topicCount(i)
		members := fmtInt(int64(len(g.Members)))
		if g.Unknown != "" { // a consumer-protocol group its broker cannot describe
			members = "?"
		}
		rows = append(rows, components.Row{
			ID:  g.Name,
			Ref: g.Name,
			Cells: []string{
				gcGroup:   name,
				gcState:   state,
				gcMembers: members,
				gcTopics:  fmtInt(int64(topics)),
				gcLag:     lagCell,
				gcTrend:   components.Sparkline(hist, sparkWidth),
				gcStatus:  statusCell,
				gcTimeLag: timeLagCell,
				gcDrain:   drainCell,
			},
			Styles: []styles.CellStyle{
				gcState:  stateStyle(g.State),
				gcTrend:  styles.CellDim,
				gcStatus: statusSt,
				gcDrain:  styles.CellPlain,
			},
			Nums: []float64{
				gcMembers: float64(len(g.Members)),
				gcTopics:  float64(topics),
				gcLag:     lagKey,
				gcTrend:   math.NaN(),
				gcStatus:  float64(status.Severity()),
				gcTimeLag: timeLag,
				gcDrain:   drain,
			},
		})
	}
	return rows
}

// stateStyle dims the group states that mean nobody is consuming.
func stateStyle(state string) styles.CellStyle {
	switch state {
	case backends.GroupEmpty, backends.GroupDead:
		return styles.CellDim
	case backends.GroupPreparingRebalance, backends.GroupCompletingRebalance, backends.GroupAssigning, backends.GroupReconciling:
		return styles.CellWarn
	}
	return styles.CellPlain
}

// statusStyle picks the cell style of a lag status.
func statusStyle(st lag.Status) styles.CellStyle {
	switch st {
	case lag.OK:
		return styles.CellOK
	case lag.Warn:
		return styles.CellWarn
	case lag.Stall:
		return styles.CellStall
	case lag.Stop:
		return styles.CellStop
	case lag.Rewind:
		return styles.CellRewind
	}
	return styles.CellDim
}
