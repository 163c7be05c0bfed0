package actions

import (
	"fmt"
	"math"
	"reflect"
	"sort"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/safejson"
)

// Bounds of an audit entry: whatever a broker's data puts into a plan or a
// result (thousands of routes, names of any length), an entry stays one
// readable line.
const (
	// MaxAuditLine is the longest line Append writes.
	MaxAuditLine = 64 << 10
	// MaxAuditReadLine is the longest line Read accepts (older or foreign
	// lines may be longer than what Append writes); longer ones are skipped.
	MaxAuditReadLine = 1 << 20
	// maxAuditString is the longest string kept in an entry; a longer one
	// is cut and says how long it was.
	maxAuditString = 1024
	// maxAuditList is the most items of a list kept in an entry; the rest
	// is summarised with a count.
	maxAuditList = 50
	// maxAuditKeys is the most keys of a map kept in an entry.
	maxAuditKeys = 100
)

// maxAuditCommand is the longest command line kept in an entry: long
// enough for every name a broker allows and a path.
const maxAuditCommand = 8 << 10

// marshalBounded encodes an entry as one line of at most MaxAuditLine
// bytes: secrets redacted, long strings cut (their length kept), long
// lists and maps summarised with counts, non-finite numbers written as
// text. If the entry is still too long, the details of its plan and
// result, then the plan's problems and the old parameters, are replaced
// by their sizes.
func marshalBounded(e AuditEntry) ([]byte, error) {
	for _, s := range []*string{&e.Context, &e.Action, &e.RunID, &e.Source, &e.Target, &e.Reason, &e.Error} {
		*s = boundString(backends.Redact(*s))
	}
	e.Command = backends.Redact(e.Command)
	if cut, ok := cutString(e.Command, maxAuditCommand); ok {
		e.Command = cut + fmt.Sprintf("…(cut: %d bytes)", len(e.Command))
	}
	e.Parameters = boundMap(e.Parameters)
	if e.Plan != nil {
		p := *e.Plan
		p.Summary = boundString(backends.Redact(p.Summary))
		p.Problems = boundStrings(p.Problems)
		p.Details = boundMap(p.Details)
		e.Plan = &p
	}
	if e.Result != nil {
		r := *e.Result
		r.StoppedBecause = boundString(backends.Redact(r.StoppedBecause))
		r.Details = boundMap(r.Details)
		e.Result = &r
	}
	line, err := safejson.Marshal(e)
	if err != nil || len(line) <= MaxAuditLine {
		return line, err
	}
	// still too long: keep what identifies the action, its counts and its
	// outcome
	omitted := func(v any) map[string]any {
		b, _ := safejson.Marshal(v)
		return map[string]any{"omitted": fmt.Sprintf("%d bytes: too large for the audit log", len(b))}
	}
	shrink := []func(){
		func() {
			if e.Plan != nil && e.Plan.Details != nil {
				e.Plan.Details = omitted(e.Plan.Details)
			}
		},
		func() {
			if e.Result != nil && e.Result.Details != nil {
				e.Result.Details = omitted(e.Result.Details)
			}
		},
		func() {
			if e.Plan != nil && len(e.Plan.Problems) > 0 {
				b, _ := safejson.Marshal(e.Plan.Problems)
				e.Plan.Problems = []string{fmt.Sprintf("%d problems (%d bytes): too large for the audit log", len(e.Plan.Problems), len(b))}
			}
		},
		func() {
			if e.Parameters != nil {
				e.Parameters = omitted(e.Parameters)
			}
		},
	}
	for _, f := range shrink {
		f()
		if line, err = safejson.Marshal(e); err != nil || len(line) <= MaxAuditLine {
			return line, err
		}
	}
	return line, nil
}

// boundStrings bounds a list of strings as boundValue bounds a list.
func boundStrings(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, 0, min(len(ss), maxAuditList+1))
	for i, s := range ss {
		if i == maxAuditList {
			out = append(out, fmt.Sprintf("… and %d more", len(ss)-maxAuditList))
			break
		}
		out = append(out, boundString(backends.Redact(s)))
	}
	return out
}

func boundMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]any, min(len(m), maxAuditKeys+1))
	for i, k := range keys {
		if i == maxAuditKeys {
			out["…"] = fmt.Sprintf("%d more keys", len(keys)-maxAuditKeys)
			break
		}
		out[boundString(k)] = boundValue(m[k])
	}
	return out
}

func boundValue(v any) any {
	switch x := v.(type) {
	case string:
		return boundString(backends.Redact(x))
	case []string:
		return boundStrings(x)
	case []any:
		out := make([]any, 0, min(len(x), maxAuditList+1))
		for i, e := range x {
			if i == maxAuditList {
				out = append(out, fmt.Sprintf("… and %d more", len(x)-maxAuditList))
				break
			}
			out = append(out, boundValue(e))
		}
		return out
	case map[string]any:
		return boundMap(x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprint(x)
		}
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Sprint(x)
		}
	case error:
		return boundString(backends.Redact(x.Error()))
	case nil, bool, int, int32, int64, uint, uint32, uint64:
		return v
	}
	// anything else (structs, typed slices and maps): bound its JSON form
	switch reflect.ValueOf(v).Kind() {
	case reflect.Slice, reflect.Array, reflect.Map, reflect.Struct, reflect.Pointer:
		b, err := safejson.Marshal(v)
		if err != nil {
			return boundString(fmt.Sprint(v))
		}
		g, err := safejson.Decode(b)
		if err != nil {
			return boundString(string(b))
		}
		return boundValue(g)
	}
	return v
}

// boundString cuts s to maxAuditString bytes (on a rune boundary) and says
// how long it was.
func boundString(s string) string {
	if cut, ok := cutString(s, maxAuditString); ok {
		return cut + fmt.Sprintf("…(cut: %d bytes)", len(s))
	}
	return s
}
