package tui

import (
	"math"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/lag"
)

// topicsView lists the topics with their size and produce rate.
type topicsView struct {
	gen uint64
	tbl *table
}

const (
	tcTopic = iota
	tcPartitions
	tcMessages
	tcRate
	tcURP
	tcTrend
	tcNote
)

func newTopicsView() *topicsView {
	t := newTable([]column{
		tcTopic:      {title: "TOPIC", flex: true, name: true, min: 12},
		tcPartitions: {title: "PARTITIONS", right: true, num: true, desc: true, drop: 8},
		tcMessages:   {title: "MESSAGES", right: true, num: true, desc: true},
		tcRate:       {title: "MSG/S", right: true, num: true, desc: true, drop: 7},
		tcURP:        {title: "UNDER-REPL", right: true, num: true, desc: true, drop: 6},
		tcTrend:      {title: "PRODUCED", plain: true, drop: 9},
		tcNote:       {title: "NOTE", flex: true, min: 4, shrink: 1},
	}, tcTopic, false)
	t.empty = "no topics"
	return &topicsView{tbl: t}
}

func (v *topicsView) id() string           { return "topics" }
func (v *topicsView) crumb() string        { return "topics" }
func (v *topicsView) noun() string         { return "topics" }
func (v *topicsView) builtGen() uint64     { return v.gen }
func (v *topicsView) focused() *table      { return v.tbl }
func (v *topicsView) summary(int) []string { return nil }
func (v *topicsView) togglePane() bool     { return false }

func (v *topicsView) layout(width, height int) { v.tbl.setSize(width, height) }

func (v *topicsView) body(st *styles) []string { return v.tbl.view(st, true) }

func (v *topicsView) open() (view, bool) {
	r, ok := v.tbl.selected()
	if !ok {
		return nil, false
	}
	return newTopicView(r.ref), true
}

func (v *topicsView) build(d *dataset, _ *styles) {
	v.gen = d.gen
	snap := d.snap
	rows := make([]row, 0, len(snap.Topics))
	for i := range snap.Topics {
		t := &snap.Topics[i]
		var ts *lag.TopicStats
		if d.analysis != nil {
			ts = d.analysis.Topics[t.Name]
		}
		var msgs int64
		urp, errs := 0, 0
		for j := range t.Partitions {
			p := &t.Partitions[j]
			msgs += p.Messages()
			if p.UnderReplicated {
				urp++
			}
			if p.Err != "" {
				errs++
			}
		}
		rate := 0.0
		var trend string
		if ts != nil {
			rate = ts.ProduceRate
			trend = sparkline(deltas(ts.EndHistory), sparkWidth)
		}
		urpStyle, noteStyle := cellPlain, cellDim
		if urp > 0 {
			urpStyle = cellWarn
		}
		if t.Err != "" || errs > 0 {
			noteStyle = cellError
		}
		rows = append(rows, row{
			id:  t.Name,
			ref: t.Name,
			cells: []string{
				tcTopic:      safe(t.Name),
				tcPartitions: fmtInt(int64(len(t.Partitions))),
				tcMessages:   fmtInt(msgs),
				tcRate:       fmtRate(rate),
				tcURP:        fmtInt(int64(urp)),
				tcTrend:      trend,
				tcNote:       topicNote(t, errs),
			},
			styles: []cellStyle{
				tcURP:   urpStyle,
				tcTrend: cellDim,
				tcNote:  noteStyle,
			},
			nums: []float64{
				tcPartitions: float64(len(t.Partitions)),
				tcMessages:   float64(msgs),
				tcRate:       rate,
				tcURP:        float64(urp),
				tcTrend:      math.NaN(),
			},
		})
	}
	v.tbl.setRows(rows)
}

func topicNote(t *backends.Topic, partErrs int) string {
	switch {
	case t.Err != "":
		return "error: " + safe(t.Err)
	case partErrs > 0:
		return fmtInt(int64(partErrs)) + " partition(s) with errors"
	case t.Internal:
		return "internal"
	}
	return ""
}
