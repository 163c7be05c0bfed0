package components

import (
	"math"
	"strings"
)

// sparkBlocks are the eight heights of a sparkline cell.
var sparkBlocks = []rune("▁▂▃▄▅▆▇█")

// Sparkline draws the newest width values of series, scaled from 0 to the
// largest value shown, so that a bar's height is proportional to the value.
// Negative values count as 0. An empty series gives "".
func Sparkline(series []int64, width int) string {
	if width <= 0 || len(series) == 0 {
		return ""
	}
	if len(series) > width {
		series = series[len(series)-width:]
	}
	var hi int64
	for _, v := range series {
		hi = max(hi, v)
	}
	var b strings.Builder
	b.Grow(len(series) * 3)
	top := float64(len(sparkBlocks) - 1)
	for _, v := range series {
		i := 0
		if hi > 0 && v > 0 {
			// Any non-zero value rises above the floor.
			i = max(int(math.Round(float64(v)/float64(hi)*top)), 1)
		}
		b.WriteRune(sparkBlocks[i])
	}
	return b.String()
}

// Deltas turns a cumulative series (such as the sum of log-end offsets at
// each sample) into per-interval increments; decreases count as 0.
func Deltas(series []int64) []int64 {
	if len(series) < 2 {
		return nil
	}
	out := make([]int64, len(series)-1)
	for i := 1; i < len(series); i++ {
		if d := series[i] - series[i-1]; d > 0 {
			out[i-1] = d
		}
	}
	return out
}
