package lag

import (
	"testing"

	"github.com/mqops/mqops/backends"
)

// TestConsumerProtocolGroupStatus: the states of Kafka 4's consumer
// protocol (KIP-848) keep the status rules: STOP is for a group with no
// members (Empty, Dead, the same names in both protocols); a group
// computing or moving to a new assignment (Assigning, Reconciling) has
// members, so an offset that does not move while lagging is STALL, and
// one sample with lag is OK.
func TestConsumerProtocolGroupStatus(t *testing.T) {
	ends, stuck := []int64{100, 110, 120}, []int64{50, 50, 50}
	for _, c := range []struct {
		state      string
		ends, cmts []int64
		want       Status
	}{
		{backends.GroupEmpty, ends, stuck, Stop},
		{backends.GroupDead, ends, stuck, Stop},
		{backends.GroupAssigning, ends, stuck, Stall},
		{backends.GroupReconciling, ends, stuck, Stall},
		{backends.GroupReconciling, []int64{100}, []int64{50}, OK},
		{backends.GroupEmpty, []int64{100}, []int64{50}, Stop},
		{backends.GroupReconciling, ends, []int64{50, 70, 120}, OK},
	} {
		if _, ps := series(t, Options{}, c.state, c.ends, c.cmts); ps.Status != c.want {
			t.Errorf("%s, log ends %v, commits %v: %s, want %s", c.state, c.ends, c.cmts, ps.Status, c.want)
		}
	}
}
