package actions

import (
	"encoding/json"
	"math"
	"strconv"
)

// Audit logs written before entries were typed hold lines of another
// shape: the options in a "parameters" map (source, target or to, limit,
// rate…), "plan" and "result" maps (moved, not done), outcome "ok" and a
// "dry_run" flag. Read maps them into the typed fields, so `mqops audit`
// and :audit show old and new lines alike; the options stay in
// Parameters (those lines have no Command).

// UnmarshalJSON reads an entry of either shape.
func (e *AuditEntry) UnmarshalJSON(b []byte) error {
	type plain AuditEntry // without this method
	var raw struct {
		plain
		Plan   json.RawMessage `json:"plan"`
		Result json.RawMessage `json:"result"`
		DryRun *bool           `json:"dry_run"` // only in the old shape
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*e = AuditEntry(raw.plain)
	if raw.DryRun != nil || e.Outcome == "ok" {
		return e.fromLegacy(raw.DryRun != nil && *raw.DryRun, raw.Plan, raw.Result)
	}
	if isJSONValue(raw.Plan) {
		e.Plan = new(AuditPlan)
		if err := json.Unmarshal(raw.Plan, e.Plan); err != nil {
			return err
		}
	}
	if isJSONValue(raw.Result) {
		e.Result = new(AuditResult)
		if err := json.Unmarshal(raw.Result, e.Result); err != nil {
			return err
		}
	}
	return nil
}

// isJSONValue says whether a field was present and not null.
func isJSONValue(m json.RawMessage) bool {
	return len(m) > 0 && string(m) != "null"
}

// fromLegacy maps an old line's outcome, parameters, plan and result.
func (e *AuditEntry) fromLegacy(dryRun bool, plan, result json.RawMessage) error {
	switch {
	case e.Outcome == "ok" && dryRun:
		e.Outcome, e.Reason = OutcomeDryRun, DryRunFlag
	case e.Outcome == "ok":
		e.Outcome = OutcomeExecuted
	case e.Outcome == OutcomeRefused:
		e.Reason, e.Error = e.Error, ""
	case dryRun: // a dry run whose plan failed
		e.Reason = "dry run"
	}
	e.Source, _ = e.Parameters["source"].(string)
	e.Target, _ = e.Parameters["target"].(string)
	if e.Target == "" {
		e.Target, _ = e.Parameters["to"].(string)
	}
	var pm, rm map[string]any
	if isJSONValue(plan) {
		if err := json.Unmarshal(plan, &pm); err != nil {
			return err
		}
	}
	if isJSONValue(result) {
		if err := json.Unmarshal(result, &rm); err != nil {
			return err
		}
	}
	if e.Action == "reset-offsets" {
		e.legacyReset(pm, rm)
		return nil
	}
	if pm != nil {
		e.Plan = legacyPlan(pm)
	}
	if rm != nil {
		e.Result = legacyResult(rm)
	}
	return nil
}

// legacyReset maps an old reset-offsets line as ResetOffsets describes
// and audits a reset now: the group is the source, the mode the target;
// the plan's changed partitions are selected of its partitions (its
// skipped records a detail), the result's committed partitions done.
func (e *AuditEntry) legacyReset(plan, result map[string]any) {
	if g, _ := e.Parameters["group"].(string); g != "" {
		e.Source = "kafka-group:" + g
	}
	if m, _ := e.Parameters["mode"].(string); m != "" {
		e.Target = "--" + m
		if v, _ := e.Parameters["value"].(string); v != "" {
			e.Target += " " + v
		}
	}
	partitions := int64(-1)
	if plan != nil {
		p := &AuditPlan{}
		p.Summary, _ = take(plan, "summary").(string)
		p.Selected = legacyNum(take(plan, "changed"))
		partitions = legacyNum(take(plan, "partitions"))
		p.Total = partitions
		if _, ok := plan["skipped"]; ok {
			plan["skipped_records"] = take(plan, "skipped") // records, not partitions left out
		}
		if len(plan) > 0 {
			p.Details = plan
		}
		e.Plan = p
	}
	if result != nil {
		r := &AuditResult{Left: -1}
		r.Done = legacyNum(take(result, "committed"))
		if ms, ok := result["mismatches"].([]any); ok {
			r.Failed = int64(len(ms))
		}
		if partitions >= 0 && result["verified"] == true {
			r.Left = partitions - r.Done
		}
		if len(result) > 0 {
			r.Details = result
		}
		e.Result = r
	}
}

// legacyPlan maps an old plan: summary, selected, skipped, problems, and
// depth as the total; the other keys (sampled, estimate, not_sampled,
// oversized…) are its details.
func legacyPlan(m map[string]any) *AuditPlan {
	p := &AuditPlan{}
	p.Summary, _ = take(m, "summary").(string)
	p.Selected = legacyNum(take(m, "selected"))
	p.Skipped = legacyNum(take(m, "skipped"))
	p.Total = legacyNum(take(m, "depth"))
	if ps, ok := take(m, "problems").([]any); ok {
		for _, x := range ps {
			if s, ok := x.(string); ok {
				p.Problems = append(p.Problems, s)
			}
		}
	}
	if len(m) > 0 {
		p.Details = m
	}
	return p
}

// legacyResult maps an old result: moved is done; the other keys
// (oversized, skipped_oversized…) are its details.
func legacyResult(m map[string]any) *AuditResult {
	r := &AuditResult{}
	r.Done = legacyNum(take(m, "moved"))
	r.Skipped = legacyNum(take(m, "skipped"))
	r.Failed = legacyNum(take(m, "failed"))
	r.Left = legacyNum(take(m, "left"))
	r.Seen = legacyNum(take(m, "seen"))
	r.StoppedBecause, _ = take(m, "stopped_because").(string)
	if len(m) > 0 {
		r.Details = m
	}
	return r
}

// take removes and returns m[k].
func take(m map[string]any, k string) any {
	v := m[k]
	delete(m, k)
	return v
}

// legacyNum is a count of an old line: a JSON number, or 0 (a non-finite
// number was written as text).
func legacyNum(v any) int64 {
	switch x := v.(type) {
	case float64:
		if !math.IsNaN(x) && !math.IsInf(x, 0) && math.Abs(x) < 1<<62 {
			return int64(x)
		}
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}
