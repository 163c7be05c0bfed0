package tui

import (
	"testing"
	"time"
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
