package action

import (
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/mqops/mqops/tui/components"
)

// textBlock is free text drawn in the action screen (its form, plan,
// confirmation, progress and result): lines wrapped to the width, of
// which the window shown keeps the focus on screen however small the
// terminal. The focus is the pinned part (the field being typed into, the
// question waiting for its answer, the progress bar), then as much as
// fits of the kept parts around it (the form's error, the cancel hint).
// When the text does not fit, the spacer lines go first.
type textBlock struct {
	parts []textPart
}

type textPart struct {
	text   string
	keep   bool // on screen with the pin, as much as fits
	pin    bool // on screen whatever else is not
	end    bool // a pin taller than the screen shows its end, not its start
	spacer bool
}

// add appends lines that may scroll off.
func (b *textBlock) add(lines ...string) {
	for _, l := range lines {
		b.parts = append(b.parts, textPart{text: l})
	}
}

// keep appends lines to keep on screen with the pin, as much as fits.
func (b *textBlock) keep(lines ...string) {
	for _, l := range lines {
		b.parts = append(b.parts, textPart{text: l, keep: true})
	}
}

// pin appends the line that is always on screen (its start, when even it
// is taller than the screen: a progress bar, a title). One pin a block: a
// later pin replaces an earlier one.
func (b *textBlock) pin(line string) { b.pinAt(line, false) }

// pinEnd is pin for a line whose end matters most: a question ends with
// its [y/N], an input with its cursor.
func (b *textBlock) pinEnd(line string) { b.pinAt(line, true) }

func (b *textBlock) pinAt(line string, end bool) {
	for i := range b.parts {
		b.parts[i].pin = false
	}
	b.parts = append(b.parts, textPart{text: line, keep: true, pin: true, end: end})
}

// gap appends a blank line that goes first when the text does not fit.
func (b *textBlock) gap() { b.parts = append(b.parts, textPart{spacer: true}) }

// lines wraps the text to width and returns the window of at most height
// lines that keeps the focus on screen, each line at most width wide.
func (b *textBlock) lines(width, height int) []string {
	if width <= 0 || height <= 0 {
		return nil
	}
	out, from, to, pf, pt, end := b.wrap(width, true)
	if len(out) > height {
		out, from, to, pf, pt, end = b.wrap(width, false)
	}
	if len(out) <= height {
		return out
	}
	start := 0
	if from >= 0 {
		start = max(to-height, 0)
		start = min(start, from)
	}
	if pf >= 0 {
		switch {
		case pt-pf > height && end:
			start = pt - height
		case pt-pf > height:
			start = pf
		case pf < start:
			start = pf
		case pt > start+height:
			start = pt - height
		}
	}
	start = max(0, min(start, len(out)-height))
	return out[start : start+height]
}

// wrap lays the parts out at width, with or without the spacers, and
// returns the lines, the range of the kept ones and that of the pin (-1
// when there is none), and whether the pin's end matters most.
func (b *textBlock) wrap(width int, spacers bool) (out []string, from, to, pf, pt int, end bool) {
	from, to, pf, pt = -1, -1, -1, -1
	for _, p := range b.parts {
		if p.spacer {
			if spacers {
				out = append(out, "")
			}
			continue
		}
		start := len(out)
		for _, l := range strings.Split(ansi.Wrap(p.text, max(width, 8), " "), "\n") {
			out = append(out, components.Clip(l, width))
		}
		if p.keep {
			if from < 0 {
				from = start
			}
			to = len(out)
		}
		if p.pin {
			pf, pt, end = start, len(out), p.end
		}
	}
	return out, from, to, pf, pt, end
}
