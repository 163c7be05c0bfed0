package tui

import (
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
)

func TestFmtInt(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", -1000: "-1,000",
		123456: "123,456", 1234567: "1,234,567", -12: "-12", 9223372036854775807: "9,223,372,036,854,775,807"} {
		if got := fmtInt(n); got != want {
			t.Errorf("fmtInt(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestFmtDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0s", -time.Second: "0s", 45 * time.Second: "45s",
		192 * time.Second: "3m12s", 2*time.Hour + 5*time.Minute: "2h05m", 76 * time.Hour: "3d04h"} {
		if got := fmtDuration(d); got != want {
			t.Errorf("fmtDuration(%v) = %q, want %q", d, got, want)
		}
	}
	if fmtOptDuration(nil) != "-" || fmtOptInt(nil) != "-" {
		t.Error("missing values are not shown as -")
	}
}

func TestFmtRate(t *testing.T) {
	for r, want := range map[float64]string{0: "0", -1: "0", 8.44: "8.4", 99.94: "99.9", 1234.4: "1,234"} {
		if got := fmtRate(r); got != want {
			t.Errorf("fmtRate(%v) = %q, want %q", r, got, want)
		}
	}
}

func TestSparkline(t *testing.T) {
	cases := []struct {
		in    []int64
		width int
		want  string
	}{
		{nil, 8, ""},
		{[]int64{0, 0, 0}, 8, "▁▁▁"},
		{[]int64{0, 1, 7}, 8, "▁▂█"},
		{[]int64{1, 2, 3, 4, 5, 6, 7, 8}, 4, "▅▆▇█"}, // newest values, rescaled
		{[]int64{-5, 10}, 8, "▁█"},
		{[]int64{1000000, 1}, 8, "█▂"}, // any non-zero value rises above the floor
	}
	for _, c := range cases {
		if got := sparkline(c.in, c.width); got != c.want {
			t.Errorf("sparkline(%v, %d) = %q, want %q", c.in, c.width, got, c.want)
		}
	}
	if got := deltas([]int64{100, 150, 140, 200}); len(got) != 3 || got[0] != 50 || got[1] != 0 || got[2] != 60 {
		t.Errorf("deltas = %v", got)
	}
}

func TestCellWidth(t *testing.T) {
	for _, s := range []string{"", "abc", "▁▂█", "日本語", "café", `evil\x1b[31m`, "e\u0301"} {
		if got, want := cellWidth(s), ansi.StringWidth(s); got != want {
			t.Errorf("cellWidth(%q) = %d, want %d", s, got, want)
		}
	}
	if got := fit("日本語テキスト", 5, false); ansi.StringWidth(got) != 5 {
		t.Errorf("fit of wide text: %q (%d cells)", got, ansi.StringWidth(got))
	}
	if got := fit("42", 5, true); got != "   42" {
		t.Errorf("right-aligned fit: %q", got)
	}
}
