package backends

import (
	"os"
	"runtime/debug"
)

// TuneGC makes the garbage collector lazier for the mqops process: GOGC
// 400 within a 1 GiB soft memory limit, unless GOGC or GOMEMLIMIT is set.
// mqops allocates per message moved and keeps little alive (a window of
// messages, a snapshot), so the default collector spends a fifth of a
// drain's CPU, CPU that a drain shares with the broker when both run on one
// machine. cmd/mqops calls it at start; the drain benchmark too, so that it
// measures the drain as the binary runs it.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(1 << 30)
	}
}

// TuneGCForSnapshots sets the collector's pace back to the default (GOGC
// 100) unless GOGC is set, for the commands that hold a cluster snapshot
// and its analysis while they read the next (the console, mqops lag): on a
// big cluster that is a hundred MB and more alive, and TuneGC's lazier pace
// would let the heap grow to five times it.
func TuneGCForSnapshots() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(100)
	}
}
