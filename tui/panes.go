package tui

import (
	"fmt"

	"github.com/mqops/mqops/tui/components"
	"github.com/mqops/mqops/tui/styles"
)

// scopedPanes is a view of two panes: items (the upper pane: destinations,
// error groups) and the rows of the item selected (the lower pane, one
// table of every row scoped to the item's group, so that marks stay on
// the rows of every item). tab moves the focus; on a short terminal only
// the focused pane is drawn.
type scopedPanes struct {
	upper, lower *components.Table
	onLower      bool
	lowerTop     string // the lower pane's title
}

func (p *scopedPanes) focused() *components.Table {
	if p.onLower {
		return p.lower
	}
	return p.upper
}

func (p *scopedPanes) togglePane() bool {
	p.onLower = !p.onLower
	return true
}

// focusLower moves to the rows of the item selected, if it has any.
func (p *scopedPanes) focusLower() {
	if p.lower.InScope() > 0 {
		p.onLower = true
	}
}

// size gives the upper pane its rows (up to a third of the body, at least
// its header and one row) and the rest, under the title, to the rows.
func (p *scopedPanes) size(width, height int) {
	uh := min(max(p.upper.Len(), 1)+1, max(height/3, 2))
	if height < peekSplitHeight { // the focused pane only
		uh = height
		if p.onLower {
			uh = 0
		}
	}
	lh := height - uh
	if lh > 0 {
		lh-- // the pane's title
	}
	p.upper.SetSize(width, uh)
	p.lower.SetSize(width, max(lh, 0))
}

func (p *scopedPanes) body(st *styles.Styles) []string {
	var lines []string
	if p.upper.Height() > 0 {
		lines = p.upper.View(st, !p.onLower)
		for len(lines) < p.upper.Height() {
			lines = append(lines, "")
		}
	}
	if p.lower.Height() > 0 || p.onLower {
		title := st.SectionTitle.Render(p.lowerTop)
		if p.onLower {
			title = st.SectionTitle.Render("▸ " + p.lowerTop)
		}
		lines = append(lines, components.Clip(title, max(p.lower.Width(), p.upper.Width())))
		lines = append(lines, p.lower.View(st, p.onLower)...)
	}
	return lines
}

// maxMarkedActedOn bounds the rows one action screen names by id.
const maxMarkedActedOn = 1000

// actedOn is what an action acts on in the panes: the item selected in
// the upper pane (item, with itemOK), or in the lower one the rows marked,
// else the row selected (their ids). why, when not empty, says why there
// is nothing: no item (noItem), no row (noRow), too many marked (the
// item's kind says what to select instead).
func (p *scopedPanes) actedOn(item string, itemOK bool, noItem, noRow, kind string) (string, []string, string) {
	if !p.onLower {
		if !itemOK {
			return "", nil, noItem
		}
		return item, nil, ""
	}
	if ids := p.lower.MarkedIDs(); len(ids) > 0 {
		if len(ids) > maxMarkedActedOn {
			return "", nil, fmt.Sprintf("%d rows marked: at most %d by id (select their %s instead)", len(ids), maxMarkedActedOn, kind)
		}
		return "", ids, ""
	}
	if r, ok := p.lower.Selected(); ok {
		return "", []string{r.ID}, ""
	}
	return "", nil, noRow
}
