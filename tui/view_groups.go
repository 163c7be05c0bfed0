package tui

import (
	"math"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/lag"
)

// groupsView lists the consumer groups: the console's default view.
type groupsView struct {
	gen uint64
	tbl *table
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
	t := newTable([]column{
		gcGroup:   {title: "GROUP", flex: true, name: true, min: 12},
		gcState:   {title: "STATE", flex: true, min: 6, drop: 5},
		gcMembers: {title: "MEMBERS", right: true, num: true, desc: true, drop: 6},
		gcTopics:  {title: "TOPICS", right: true, num: true, desc: true, drop: 8},
		gcLag:     {title: "LAG", right: true, num: true, desc: true},
		gcTrend:   {title: "TREND", plain: true, drop: 9},
		gcStatus:  {title: "STATUS", num: true, desc: true},
		gcTimeLag: {title: "TIME LAG", right: true, num: true, desc: true, drop: 3},
		gcDrain:   {title: "TO DRAIN", right: true, num: true, desc: true, drop: 7},
	}, gcLag, true)
	t.empty = "no consumer groups"
	return &groupsView{tbl: t}
}

func (v *groupsView) id() string           { return "groups" }
func (v *groupsView) crumb() string        { return "groups" }
func (v *groupsView) noun() string         { return "groups" }
func (v *groupsView) builtGen() uint64     { return v.gen }
func (v *groupsView) focused() *table      { return v.tbl }
func (v *groupsView) summary(int) []string { return nil }
func (v *groupsView) togglePane() bool     { return false }

func (v *groupsView) layout(width, height int) { v.tbl.setSize(width, height) }

func (v *groupsView) body(st *styles) []string { return v.tbl.view(st, true) }

func (v *groupsView) open() (view, bool) {
	r, ok := v.tbl.selected()
	if !ok {
		return nil, false
	}
	return newGroupView(r.ref), true
}

func (v *groupsView) build(d *dataset, _ *styles) {
	v.gen = d.gen
	snap := d.snap
	rows := make([]row, 0, len(snap.Groups))
	for i := range snap.Groups {
		g := &snap.Groups[i]
		name := safe(g.Name)
		var gs *lag.GroupStats
		if d.analysis != nil {
			gs = d.analysis.Groups[g.Name]
		}
		totalLag := g.TotalLag()
		status := lag.Unknown
		var hist []int64
		var timeLag, drain = math.NaN(), math.NaN()
		timeLagCell, drainCell := "-", "-"
		if gs != nil {
			totalLag = gs.Lag
			status = gs.Status
			hist = gs.LagHistory
			timeLagCell, drainCell = fmtTimeLag(gs.TimeLag, gs.TimeLagSource), fmtOptDuration(gs.TimeToDrain)
			timeLag, drain = optDurationKey(gs.TimeLag), optDurationKey(gs.TimeToDrain)
		}
		hasCommit := false
		for j := range g.Partitions {
			if g.Partitions[j].Committed != nil {
				hasCommit = true
				break
			}
		}
		lagCell, lagKey := "-", math.NaN()
		if hasCommit {
			lagCell, lagKey = fmtInt(totalLag), float64(totalLag)
		}
		statusCell, statusSt := string(status), statusStyle(status)
		if g.Err != "" && status.Severity() == 0 {
			statusCell, statusSt = "ERROR", cellError
		}
		state := safe(g.State)
		if state == "" {
			state = "-"
		}
		topics := len(g.Topics())
		members := fmtInt(int64(len(g.Members)))
		if g.Unknown != "" { // a consumer-protocol group its broker cannot describe
			members = "?"
		}
		rows = append(rows, row{
			id:  g.Name,
			ref: g.Name,
			cells: []string{
				gcGroup:   name,
				gcState:   state,
				gcMembers: members,
				gcTopics:  fmtInt(int64(topics)),
				gcLag:     lagCell,
				gcTrend:   sparkline(hist, sparkWidth),
				gcStatus:  statusCell,
				gcTimeLag: timeLagCell,
				gcDrain:   drainCell,
			},
			styles: []cellStyle{
				gcState:  stateStyle(g.State),
				gcTrend:  cellDim,
				gcStatus: statusSt,
				gcDrain:  cellPlain,
			},
			nums: []float64{
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
	v.tbl.setRows(rows)
}

// stateStyle dims the group states that mean nobody is consuming.
func stateStyle(state string) cellStyle {
	switch state {
	case backends.GroupEmpty, backends.GroupDead:
		return cellDim
	case backends.GroupPreparingRebalance, backends.GroupCompletingRebalance, backends.GroupAssigning, backends.GroupReconciling:
		return cellWarn
	}
	return cellPlain
}
