package actions

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mqops/mqops/backends"
)

// lostAnswer is a cluster whose answer to the commit is lost (the
// connection dropped, the coordinator moved, --timeout passed) after the
// coordinator applied it, or that refuses it: what it reads back is what
// it holds.
type lostAnswer struct {
	committed map[string]map[int32]int64
	apply     bool // the commit is applied, its answer lost
}

func (f *lostAnswer) GroupOffsets(_ context.Context, q backends.KafkaOffsetsQuery) (*backends.KafkaGroupOffsets, error) {
	st := &backends.KafkaGroupOffsets{Group: q.Group, State: backends.GroupEmpty, Type: "classic"}
	for _, p := range []int32{0, 1} {
		row := backends.KafkaPartitionOffsets{Topic: "orders", Partition: p, LogEnd: 100}
		if o, ok := f.committed["orders"][p]; ok {
			row.Committed = &o
		}
		st.Partitions = append(st.Partitions, row)
	}
	return st, nil
}

func (f *lostAnswer) CommitGroupOffsets(_ context.Context, _ string, offs []backends.KafkaOffset) error {
	if f.apply {
		for _, o := range offs {
			f.committed[o.Topic][o.Partition] = o.Offset
		}
	}
	return errors.New("kafka 10.0.0.7:9092 did not answer within 10s")
}

func (f *lostAnswer) CommittedOffsets(context.Context, string) (map[string]map[int32]int64, error) {
	return f.committed, nil
}

// TestResetOffsetsCommitAnswerLost: a commit whose answer was lost, but
// whose offsets read back are every one the plan's, is a reset done: it
// succeeds (re-running it would write a rollback file of the new offsets,
// and lose the way back) and says the answer was lost; one whose offsets
// read back are not the plan's fails with the commit's error.
func TestResetOffsetsCommitAnswerLost(t *testing.T) {
	for _, apply := range []bool{true, false} {
		dir := t.TempDir()
		k := &lostAnswer{committed: map[string]map[int32]int64{"orders": {0: 10, 1: 20}}, apply: apply}
		o := ResetOffsetsOptions{Group: "g", Mode: ResetToOffset, Value: "50", Topics: []string{"orders"}, Export: filepath.Join(dir, "prev.csv")}
		run := &Runner{Audit: NewAuditLog(filepath.Join(dir, "audit.jsonl"))}
		a := &ResetOffsets{Broker: k, Options: o}
		plan, err := run.Plan(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		r, err := run.Execute(context.Background(), a, plan, nil)
		res, _ := r.(*ResetResult)
		log, _ := os.ReadFile(filepath.Join(dir, "audit.jsonl"))
		switch {
		case apply && (err != nil || !res.Verified || res.Committed != 2 || !strings.Contains(res.CommitAnswer, "did not answer")):
			t.Errorf("applied, answer lost: %v, result %+v; want done, saying the answer was lost", err, res)
		case apply && !strings.Contains(string(log), `"outcome":"executed"`):
			t.Errorf("applied, answer lost: audit %s", log)
		case !apply && (err == nil || !strings.Contains(err.Error(), "did not answer") || res.Verified):
			t.Errorf("not applied: %v, result %+v; want the commit's error", err, res)
		}
	}
}
