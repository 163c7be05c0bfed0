package rabbitmq

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/mqops/mqops/backends"
)

// The death history is encoded by hand on the move's hot path: it must be
// what json.Marshal makes of it, byte for byte.
func TestAppendDeathsJSONMatchesMarshal(t *testing.T) {
	t1 := time.Unix(1_800_000_000, 0).UTC()
	cases := [][]backends.Death{
		nil,
		{},
		{{Queue: "orders", Reason: "rejected", Exchange: "in", RoutingKeys: []string{"orders.created"}, Count: 2, Time: t1}},
		{{Queue: "q", Reason: "expired", RoutingKeys: []string{}, Count: -1, Time: t1.Add(123456789)}, {Queue: "p", Time: time.Time{}}},
		{{Queue: `a"b\c<d>&e`, Reason: "tab\there", Exchange: "é ü \u2028 \x1b", RoutingKeys: []string{"k1", "\xff bad utf-8", ""}, Count: 1 << 40,
			Time: time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("x", 3600))}},
	}
	for i, c := range cases {
		want, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendDeathsJSON([]byte("junk"[:0]), c)
		if !ok || string(got) != string(want) {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, want)
		}
	}
	if _, ok := appendDeathsJSON(nil, []backends.Death{{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}); ok {
		t.Error("a year past 9999 must fall back to json.Marshal")
	}
}
