package actions

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mqops/mqops/backends"
)

// runBatches is the loop of a run over a plan's n rows in batches (a
// resend, a retry action): do handles rows [lo, hi), batch at a time —
// with a rate, about a second's worth at a time, so that rows taken do
// not wait long — and report is called before, after each batch and at
// the end. It stops when every row was handled, do fails, ctx ends, or
// the broker confirmed nothing of failedBatchesToStop batches in a row
// (failed says how many, and the first errors). It returns why it
// stopped (ResendStop*) and the error.
func runBatches(ctx context.Context, n, batch int, rate float64, do func(lo, hi int) error, report func(), failed func() (int, []string)) (string, error) {
	if rate > 0 {
		batch = max(1, min(batch, int(rate)))
	}
	report()
	var err error
	for lo := 0; lo < n; lo += batch {
		if err = ctx.Err(); err != nil {
			break
		}
		if err = do(lo, min(lo+batch, n)); err != nil {
			break
		}
		report()
		if k, errs := failed(); k >= failedBatchesToStop {
			err = fmt.Errorf("stopped: the broker confirmed none of the rows of %d batches in a row (first errors: %s)", k, strings.Join(errs, "; "))
			break
		}
	}
	why := ResendStopEnd
	switch {
	case err == nil:
	case ctx.Err() != nil:
		why, err = ResendStopCancelled, ctx.Err()
	default:
		why = ResendStopError
	}
	report()
	return why, err
}

// publishErr is the broker's answer for message i, of id, among results:
// nil when confirmed.
func publishErr(results []backends.PublishResult, i int, id string) error {
	switch {
	case i >= len(results):
		return errors.New("the broker gave no answer for it")
	case results[i].ID != id:
		return fmt.Errorf("the broker's answers are out of order (row %s answered as %s)", id, results[i].ID)
	}
	return results[i].Err
}

// missingIDs are the ids given (quoted, cut) that found says were not
// read: what a plan's note names.
func missingIDs(given []string, found func(id string) bool) []string {
	var out []string
	for _, id := range given {
		if !found(id) {
			out = append(out, strconv.Quote(cutLabel(id)))
		}
	}
	return out
}
