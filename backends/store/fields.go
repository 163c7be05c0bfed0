package store

import (
	"errors"
	"strings"
	"time"
)

// field is one column of a row read: its select expression and where its
// value goes in the row R.
type field[R any] struct {
	key, expr string
	set       func(r *R, v any) error
}

func exprsOf[R any](fs []field[R]) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.expr
	}
	return out
}

// overError is a value over its read bound: the row is reported, not read.
type overError string

func (e overError) Error() string { return string(e) }

// readFields scans one row into r. Values over their bound are listed in
// over; another bad value is an error naming its field.
func readFields[R any](scan func(...any) error, fs []field[R], r *R) (over []string, key string, err error) {
	vals, err := scanValues(scan, len(fs))
	if err != nil {
		return nil, "", err
	}
	for i, f := range fs {
		err := f.set(r, vals[i])
		var oe overError
		switch {
		case errors.As(err, &oe):
			over = append(over, string(oe))
		case err != nil:
			return over, f.key, err
		}
	}
	return over, "", nil
}

// setters of a row's fields from a driver value
func setText[R any](get func(*R) *string) func(*R, any) error {
	return func(r *R, v any) error { *get(r) = asString(v); return nil }
}

func setCut[R any](get func(*R) *string, max *int) func(*R, any) error {
	return func(r *R, v any) error { *get(r) = truncate(asString(v), *max); return nil }
}

func setInt[R any](get func(*R) *int) func(*R, any) error {
	return func(r *R, v any) (err error) { *get(r), err = asInt(v); return err }
}

func setTime[R any](get func(*R) *time.Time) func(*R, any) error {
	return func(r *R, v any) (err error) { *get(r), err = asTime(v); return err }
}

// setBounded reads bytes that must be whole: over max is an overError.
func setBounded[R any](what string, get func(*R) *[]byte, max *int) func(*R, any) error {
	return func(r *R, v any) error {
		b := asBytes(v)
		if len(b) > *max {
			return overError(what + " over " + byteSize(*max))
		}
		*get(r) = b
		return nil
	}
}

func joinOver(id string, over []string) string {
	return "row " + id + ": " + strings.Join(over, ", ")
}
