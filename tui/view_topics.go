package tui

import (
	"math"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/lag"
	"github.com/mqops/mqops/tui/components"
	"github.com/mqops/mqops/tui/keys"
	"github.com/mqops/mqops/tui/styles"
)

// topicsView lists the topics with their size and produce rate.
type topicsView struct {
	gen uint64
	tbl *components.Table
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
	t := components.NewTable([]components.Column{
		tcTopic:      {Title: "TOPIC", Flex: true, Name: true, Min: 12},
		tcPartitions: {Title: "PARTITIONS", Right: true, Num: true, Desc: true, Drop: 8},
		tcMessages:   {Title: "MESSAGES", Right: true, Num: true, Desc: true},
		tcRate:       {Title: "MSG/S", Right: true, Num: true, Desc: true, Drop: 7},
		tcURP:        {Title: "UNDER-REPL", Right: true, Num: true, Desc: true, Drop: 6},
		tcTrend:      {Title: "PRODUCED", Plain: true, Drop: 9},
		tcNote:       {Title: "NOTE", Flex: true, Min: 4, Shrink: 1},
	}, tcTopic, false)
	t.Empty = "no topics"
	return &topicsView{tbl: t}
}

func (v *topicsView) id() string                 { return "topics" }
func (v *topicsView) crumb() string              { return "topics" }
func (v *topicsView) noun() string               { return "topics" }
func (v *topicsView) builtGen() uint64           { return v.gen }
func (v *topicsView) focused() *components.Table { return v.tbl }
func (v *topicsView) summary(int) []string       { return nil }
func (v *topicsView) togglePane() bool           { return false }

func (v *topicsView) layout(width, height int) { v.tbl.SetSize(width, height) }

func (v *topicsView) body(st *styles.Styles) []string { return v.tbl.View(st, true) }

// keys: enter opens the topic; P replays the selected topic (or the one
// marked), and space marks topics where P is bound (the marks feed it).
func (v *topicsView) keys(k *keys.Map) []keys.Binding {
	own := []keys.Binding{k.Open.With("open the topic: its partitions and consumer groups", "topic")}
	if !k.Replay.Bound() {
		return own
	}
	replay := k.Replay.With("replay a range of the selected topic (or the one marked) into another topic", "")
	if n := v.tbl.MarkedCount(); n > 0 {
		replay = k.Replay.With("replay a range of the marked topic into another topic (one topic at a time)",
			"replay "+fmtInt(int64(n))+" marked")
	}
	return append(own, replay, k.Mark.With("mark / unmark the topic (P replays the marked)", "mark"))
}

func (v *topicsView) open() (view, bool) {
	r, ok := v.tbl.Selected()
	if !ok {
		return nil, false
	}
	return newTopicView(r.Ref), true
}

func (v *topicsView) build(d *dataset, _ *styles.Styles) {
	v.gen = d.gen
	snap := d.snap
	rows := make([]components.Row, 0, len(snap.Topics))
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
			trend = components.Sparkline(components.Deltas(ts.EndHistory), sparkWidth)
		}
		urpStyle, noteStyle := styles.CellPlain, styles.CellDim
		if urp > 0 {
			urpStyle = styles.CellWarn
		}
		if t.Err != "" || errs > 0 {
			noteStyle = styles.CellError
		}
		rows = append(rows, components.Row{
			ID:  t.Name,
			Ref: t.Name,
			Cells: []string{
				tcTopic:      safe(t.Name),
				tcPartitions: fmtInt(int64(len(t.Partitions))),
				tcMessages:   fmtInt(msgs),
				tcRate:       fmtRate(rate),
				tcURP:        fmtInt(int64(urp)),
				tcTrend:      trend,
				tcNote:       topicNote(t, errs),
			},
			Styles: []styles.CellStyle{
				tcURP:   urpStyle,
				tcTrend: styles.CellDim,
				tcNote:  noteStyle,
			},
			Nums: []float64{
				tcPartitions: float64(len(t.Partitions)),
				tcMessages:   float64(msgs),
				tcRate:       rate,
				tcURP:        float64(urp),
				tcTrend:      math.NaN(),
			},
		})
	}
	v.tbl.SetRows(rows)
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
