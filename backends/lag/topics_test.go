package lag

import (
	"testing"

	"github.com/mqops/mqops/backends"
)

func TestTopicLags(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	gp := func(topic string, p int32, lag *int64) backends.GroupPartition {
		return backends.GroupPartition{Topic: topic, Partition: p, Lag: lag}
	}
	snap := &backends.ClusterSnapshot{Groups: []backends.Group{
		{Name: "billing", Partitions: []backends.GroupPartition{gp("orders", 0, n(10)), gp("orders", 1, n(5)), gp("payments", 0, n(1))}},
		{Name: "audit", Partitions: []backends.GroupPartition{gp("orders", 0, n(15)), gp("orders", 1, nil)}},
		{Name: "shipping", Partitions: []backends.GroupPartition{gp("orders", 0, n(3))}},
		{Name: "fresh", Partitions: []backends.GroupPartition{gp("invoices", 0, nil)}},
	}}
	got := TopicLags(snap)
	o := got["orders"]
	if o == nil || o.Messages == nil || *o.Messages != 15 || o.Groups != 3 || o.WorstGroup != "audit" {
		t.Errorf("orders: %+v", o)
	}
	if i := got["invoices"]; i == nil || i.Messages != nil || i.Groups != 0 {
		t.Errorf("invoices (assigned, nothing committed): %+v", i)
	}
	if _, ok := got["nothing"]; ok {
		t.Error("a topic nobody consumes has an entry")
	}
	only := TopicLags(snap, "payments")
	if len(only) != 1 || only["payments"] == nil || *only["payments"].Messages != 1 || only["payments"].WorstGroup != "billing" {
		t.Errorf("payments only: %+v", only)
	}
	if len(TopicLags(nil)) != 0 {
		t.Error("a nil snapshot has lags")
	}
}
