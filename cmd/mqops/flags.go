package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mqops/mqops/actions"
)

// Bounds of the duration flags.
const (
	minTimeout  = 100 * time.Millisecond
	maxTimeout  = time.Hour
	minInterval = time.Second
	maxInterval = time.Hour
	maxSamples  = 10_000
)

// checkDuration validates a duration flag: in [min, max].
func checkDuration(flag string, d, min, max time.Duration) error {
	if d < min || d > max {
		return &actions.FieldError{Field: flag, Msg: fmt.Sprintf("%s is out of range: want %s to %s", d, min, max)}
	}
	return nil
}

// checkGlobals validates the persistent flags before any command runs.
func (g *globals) checkGlobals() error {
	return checkDuration("timeout", g.timeout, minTimeout, maxTimeout)
}

// explicitZero refuses a count or rate flag given as 0 on the command line,
// where 0 would otherwise silently mean "no limit": the operator omits the
// flag for that.
func explicitZero(cmd *cobra.Command, flags ...string) error {
	for _, name := range flags {
		f := cmd.Flags().Lookup(name)
		if f == nil || !f.Changed {
			continue
		}
		if v := f.Value.String(); v == "0" || v == "0s" {
			return &actions.FieldError{Field: name, Msg: "0 is not a value: omit --" + name + " for no limit"}
		}
	}
	return nil
}
