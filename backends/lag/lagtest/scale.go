// Package lagtest builds cluster snapshots of the size of a big shared
// cluster for benchmarks and tests of the lag path (the tracker, `mqops
// lag`, the console): synthetic data, never used outside tests.
package lagtest

import (
	"fmt"
	"time"

	"github.com/mqops/mqops/backends"
)

// Scale describes a synthetic cluster: Groups consumer groups, each
// committed on every partition of one of Topics topics of Partitions
// partitions (group i on topic i % Topics), as scripts/benchseed seeds the
// real broker. Every Members-th group has one member assigned its
// partitions (0: none, every group Empty).
type Scale struct {
	Groups, Topics, Partitions int
	Members                    int
}

// Cluster is the scale of issue 11: 5,000 groups × 32 partitions.
var Cluster = Scale{Groups: 5000, Topics: 10, Partitions: 32, Members: 3}

// At is a time to take snapshots at.
var At = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

// Rows is the number of group partitions.
func (s Scale) Rows() int { return s.Groups * s.Partitions }

// Snapshot is the cluster at refresh step (0, 1, …), taken at at: every
// partition grows by 100 records a step, and each group's committed
// offsets follow at its own pace (some keep up, some fall behind, some
// stall), so that rates, trends and statuses vary.
func (s Scale) Snapshot(at time.Time, step int) *backends.ClusterSnapshot {
	snap := &backends.ClusterSnapshot{TakenAt: at, ClusterID: "lagtest", Brokers: []backends.Broker{{ID: 1, Addr: "127.0.0.1:9092", Controller: true}}}
	snap.Topics = make([]backends.Topic, s.Topics)
	for t := range snap.Topics {
		name := fmt.Sprintf("orders.events.%02d", t)
		tp := backends.Topic{Name: name, Partitions: make([]backends.Partition, s.Partitions)}
		for p := range tp.Partitions {
			tp.Partitions[p] = backends.Partition{Topic: name, Partition: int32(p), Leader: 1, Replicas: []int32{1}, ISR: []int32{1},
				LogStart: int64(p), LogEnd: logEnd(p, step)}
		}
		snap.Topics[t] = tp
	}
	snap.Groups = make([]backends.Group, s.Groups)
	offs := make([]int64, 2*s.Rows()) // committed and lag, one backing array
	for g := range snap.Groups {
		tp := &snap.Topics[g%s.Topics]
		gr := backends.Group{Name: fmt.Sprintf("svc-%04d.consumer", g), State: backends.GroupEmpty, Type: backends.GroupClassic, ProtocolType: "consumer", Coordinator: 1}
		var member backends.Member
		if s.Members > 0 && g%s.Members == 0 {
			gr.State, gr.Protocol = backends.GroupStable, "range"
			member = backends.Member{ID: fmt.Sprintf("consumer-%d-1-0f1e2d3c", g), ClientID: fmt.Sprintf("svc-%04d", g), Host: "/10.0.0.1"}
			member.Assigned = map[string][]int32{tp.Name: make([]int32, s.Partitions)}
			for p := range s.Partitions {
				member.Assigned[tp.Name][p] = int32(p)
			}
			gr.Members = []backends.Member{member}
		}
		gr.Partitions = make([]backends.GroupPartition, s.Partitions)
		for p := range gr.Partitions {
			end := tp.Partitions[p].LogEnd
			c := committed(g, p, step, end)
			i := 2 * (g*s.Partitions + p)
			offs[i], offs[i+1] = c, end-c
			gp := backends.GroupPartition{Topic: tp.Name, Partition: int32(p), Committed: &offs[i], LogStart: tp.Partitions[p].LogStart,
				LogEnd: end, Lag: &offs[i+1], MemberID: member.ID, ClientID: member.ClientID, Host: member.Host}
			if c < end {
				rt := at.Add(-time.Duration(end-c) * 50 * time.Millisecond)
				gp.RecordTime, gp.RecordTimeSource = &rt, backends.TimeLagRecord
			}
			gr.Partitions[p] = gp
		}
		snap.Groups[g] = gr
	}
	snap.Requests = 7
	return snap
}

func logEnd(p, step int) int64 { return int64(10_000 + 1000*p + 100*step) }

// committed is group g's offset on partition p at step: caught up, 40
// behind and keeping pace, falling behind, or stalled at step 0's.
func committed(g, p, step int, end int64) int64 {
	switch g % 4 {
	case 0:
		return end
	case 1:
		return end - 40
	case 2:
		return end - int64(40+60*step)
	}
	return logEnd(p, 0) - 500
}
