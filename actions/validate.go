package actions

import (
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// FieldError is an invalid option of an action. Field is the option's
// name as the command line spells it without the dashes ("rate"); the CLI
// shows "--rate: …", the console names its form field.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return "--" + e.Field + ": " + e.Msg }

// Ranges of the options every action shares.
const (
	MinRate  = 0.01      // messages per second
	MaxRate  = 1_000_000 // messages per second
	MaxLimit = 1_000_000_000
)

// CheckRate validates a rate in messages per second: 0 means no limit;
// anything else must be a finite number from MinRate to MaxRate.
func CheckRate(field string, v float64) error {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return &FieldError{field, fmt.Sprintf("%v is not a number of messages per second (want %s to %s)", v, fmtNum(MinRate), fmtNum(MaxRate))}
	case v == 0:
		return nil
	case v < MinRate || v > MaxRate:
		return &FieldError{field, fmt.Sprintf("%s is out of range: want %s to %s messages per second (omit it for no limit)", fmtNum(v), fmtNum(MinRate), fmtNum(MaxRate))}
	}
	return nil
}

// CheckCount validates a count option (a limit, a sample, a window): 0
// means its default when zeroOK; otherwise it must be from min to max.
func CheckCount(field string, v, min, max int, zeroOK bool) error {
	if v == 0 && zeroOK {
		return nil
	}
	if v < min || v > max {
		return &FieldError{field, fmt.Sprintf("%d is out of range: want %d to %d", v, min, max)}
	}
	return nil
}

// firstError is the first of errs that is not nil: the options are
// checked in the order the operator reads them, and the first wrong one is
// named.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// cutString cuts s to at most n bytes, on a rune boundary, and says
// whether it did.
func cutString(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], true
}

func fmtNum(v float64) string {
	if v >= 1 && v < 1e15 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
