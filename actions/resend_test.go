package actions

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mqops/mqops/backends"
)

var kafkaRoute = backends.Route{Broker: "kafka"}

// TestResendOptionsRefuseBadInput: every wrong option is named before
// anything is read; NaN, negative and huge numbers included.
func TestResendOptionsRefuseBadInput(t *testing.T) {
	for _, c := range []struct {
		o    ResendOptions
		want string
	}{
		{ResendOptions{Route: kafkaRoute, ReadOnly: true, Context: "prod"}, `context "prod" is read-only: resends are not available`},
		{ResendOptions{Route: kafkaRoute, Rate: nan()}, "--rate: NaN is not a number"},
		{ResendOptions{Route: kafkaRoute, Rate: math.Inf(1)}, "--rate: +Inf is not a number"},
		{ResendOptions{Route: kafkaRoute, Rate: -1}, "--rate: -1 is out of range"},
		{ResendOptions{Route: kafkaRoute, Rate: 1e300}, "--rate: 1e+300 is out of range"},
		{ResendOptions{Route: kafkaRoute, Limit: -1}, "--limit: -1 is out of range"},
		{ResendOptions{Route: kafkaRoute, Limit: MaxLimit + 1}, "--limit: 1000000001 is out of range"},
		{ResendOptions{Route: kafkaRoute, Batch: -5}, "--batch: -5 is out of range"},
		{ResendOptions{Route: kafkaRoute, Batch: MaxResendBatch + 1}, "--batch: 10001 is out of range"},
		{ResendOptions{Route: kafkaRoute, OlderThan: -time.Second}, "--older-than: -1s is negative"},
		{ResendOptions{Route: kafkaRoute, OlderThan: MaxOlderThan + 1}, "--older-than"},
		{ResendOptions{Route: kafkaRoute, ClaimLease: -time.Second}, "--claim-lease: -1s is negative"},
		{ResendOptions{Route: kafkaRoute, IDs: []string{"1", ""}}, "--id: an empty id"},
		{ResendOptions{Route: kafkaRoute, IDs: []string{"1", "1"}}, `--id: "1" is given twice`},
		{ResendOptions{Route: kafkaRoute, IDs: []string{strings.Repeat("x", 2000)}}, "--id:"},
		{ResendOptions{Route: kafkaRoute, Destination: strings.Repeat("d", 5000)}, "--destination: is 5000 bytes long"},
		{ResendOptions{}, "no route"},
		{ResendOptions{Route: backends.Route{Broker: "nats"}}, `unknown route broker "nats"`},
		{ResendOptions{Route: kafkaRoute, RunID: "../x"}, "is not a run id"},
	} {
		o := c.o
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.o.IDs, err, c.want)
		}
	}
	o := ResendOptions{Route: kafkaRoute}
	if err := o.Validate(); err != nil || o.Batch != DefaultResendBatch || o.ClaimLease != DefaultClaimLease || o.RunID == "" {
		t.Fatalf("%+v %v", o, err)
	}
}

// TestResendCommandArgs: the equivalent command has every flag the
// operator set, and the defaults left out.
func TestResendCommandArgs(t *testing.T) {
	a := &Resend{Options: ResendOptions{Context: "c", Route: kafkaRoute, OlderThan: 10 * time.Minute, Destination: "orders", IDs: []string{"4", "7"},
		Limit: 100, Rate: 50, SkipConsumed: true, Batch: 200, ClaimLease: 5 * time.Second}}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	s := a.Describe()
	want := []string{"resend", "--older-than", "10m0s", "--destination", "orders", "--id", "4", "--id", "7", "--limit", "100", "--rate", "50", "--skip-consumed", "--batch", "200", "--claim-lease", "5s"}
	if !reflect.DeepEqual(s.Args, want) || s.Target != "kafka:{destination}" || s.Source != "outbox destination orders" {
		t.Fatalf("%+v", s)
	}
	b := &Resend{Options: ResendOptions{Route: backends.Route{Broker: "rabbitmq", Exchange: "events"}}}
	_ = b.Validate()
	if s := b.Describe(); !reflect.DeepEqual(s.Args, []string{"resend"}) || s.Target != "rabbitmq:events/{destination}" {
		t.Fatalf("%+v", s)
	}
}

// TestResendOutgoing: a row's message keeps its headers in order, gets
// the message id header once (not when it has one), and its key.
func TestResendOutgoing(t *testing.T) {
	tgt := backends.RouteTarget{Broker: "kafka", Topic: "orders"}
	row := backends.OutboxRow{ID: "1", MessageID: "m-1", Key: "k", Payload: []byte("v"), Headers: []backends.StoreHeader{{Key: "a", Value: "1"}, {Key: "a", Value: "2"}}}
	m := outgoing(&row, tgt, "mqops-message-id")
	want := []backends.StoreHeader{{Key: "a", Value: "1"}, {Key: "a", Value: "2"}, {Key: "mqops-message-id", Value: "m-1"}}
	if !reflect.DeepEqual(m.Headers, want) || string(m.Key) != "k" || string(m.Value) != "v" || m.MessageID != "m-1" || m.ID != "1" || m.Target != tgt {
		t.Fatalf("%+v", m)
	}
	if len(row.Headers) != 2 {
		t.Fatal("the row's headers were changed")
	}
	row.Headers = append(row.Headers, backends.StoreHeader{Key: "mqops-message-id", Value: "other"})
	if m := outgoing(&row, tgt, "mqops-message-id"); len(m.Headers) != 3 || m.Headers[2].Value != "other" {
		t.Fatalf("%+v", m.Headers)
	}
	row = backends.OutboxRow{ID: "2"}
	if m := outgoing(&row, tgt, "mqops-message-id"); m.Key != nil || len(m.Headers) != 0 {
		t.Fatalf("%+v", m)
	}
}

func TestAgeText(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second:                   "0s",
		42 * time.Second:               "42s",
		6*time.Minute + 12*time.Second: "6m12s",
		3*time.Hour + 5*time.Minute:    "3h05m",
		50 * time.Hour:                 "2d02h",
	} {
		if got := AgeText(d); got != want {
			t.Errorf("%s: %q, want %q", d, got, want)
		}
	}
}
