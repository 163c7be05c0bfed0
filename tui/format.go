package tui

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/mqops/mqops/backends"
)

// safe is the one door through which names and messages from a broker reach
// a cell: control characters and bidi overrides become visible escapes.
func safe(s string) string { return backends.SafeText(s) }

// errText is an error as the console shows it: secrets redacted, safe for
// the terminal.
func errText(err error) string { return backends.SafeText(backends.Redact(err.Error())) }

// fmtInt formats n with thousands separators: 1,204,331.
func fmtInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	if len(s) <= 3 {
		return sign + s
	}
	var b strings.Builder
	b.Grow(len(sign) + len(s) + len(s)/3)
	b.WriteString(sign)
	first := len(s) % 3
	if first == 0 {
		first = 3
	}
	b.WriteString(s[:first])
	for i := first; i < len(s); i += 3 {
		b.WriteByte(',')
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// fmtOptInt formats a possibly missing number: "-" when nil.
func fmtOptInt(p *int64) string {
	if p == nil {
		return "-"
	}
	return fmtInt(*p)
}

// fmtRate formats records per second: one decimal under 100, whole numbers
// with separators above.
func fmtRate(r float64) string {
	switch {
	case math.IsNaN(r) || math.IsInf(r, 0) || r <= 0:
		return "0"
	case r < 100:
		return strconv.FormatFloat(r, 'f', 1, 64)
	}
	return fmtInt(int64(math.Round(r)))
}

// fmtDuration is a compact duration: 45s, 3m12s, 2h05m, 3d04h.
func fmtDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		m := int(d / time.Minute)
		s := int((d % time.Minute) / time.Second)
		return strconv.Itoa(m) + "m" + pad2(s) + "s"
	case d < 24*time.Hour:
		h := int(d / time.Hour)
		m := int((d % time.Hour) / time.Minute)
		return strconv.Itoa(h) + "h" + pad2(m) + "m"
	}
	days := int(d / (24 * time.Hour))
	h := int((d % (24 * time.Hour)) / time.Hour)
	return strconv.Itoa(days) + "d" + pad2(h) + "h"
}

// fmtOptDuration formats a possibly unknown duration: "-" when nil.
func fmtOptDuration(d *time.Duration) string {
	if d == nil {
		return "-"
	}
	return fmtDuration(*d)
}

// fmtTimeLag formats a time lag with its source: "25s" exact, "~25s" an
// estimate (interpolated), "≥ 25s" a lower bound, "-" unknown.
func fmtTimeLag(d *time.Duration, src backends.TimeLagSource) string {
	if d == nil {
		return "-"
	}
	switch src {
	case backends.TimeLagInterpolated:
		return "~" + fmtDuration(*d)
	case backends.TimeLagLowerBound:
		return "≥ " + fmtDuration(*d)
	}
	return fmtDuration(*d)
}

func pad2(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// fmtIDs formats broker ids: 1,2,3.
func fmtIDs(ids []int32) string {
	if len(ids) == 0 {
		return "-"
	}
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(int64(id), 10))
	}
	return b.String()
}

// optDurationKey is a sort key for a possibly unknown duration.
func optDurationKey(d *time.Duration) float64 {
	if d == nil {
		return math.NaN()
	}
	return float64(*d)
}

// optIntKey is a sort key for a possibly missing number.
func optIntKey(p *int64) float64 {
	if p == nil {
		return math.NaN()
	}
	return float64(*p)
}
