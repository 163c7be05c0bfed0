package embedded

import (
	"time"
)

// Topic names of the demo.
const (
	topicOrders   = "orders"
	topicPayments = "payments"
	topicAudit    = "audit-log"
	topicDLT      = "orders.DLT"
	topicLegacy   = "legacy-events"
	topicReplay   = "orders.replay" // empty: the target of a first replay
)

// What a newcomer tries in the demo's first minute: a stopped consumer
// group to reset (no member: a reset is allowed), and a topic to replay
// into an empty topic of as many partitions (nothing produces to it, no
// group reads it).
const (
	ResetGroup   = groupAudit
	ReplaySource = topicOrders
	ReplayTarget = topicReplay
)

// Group names of the demo.
const (
	groupBilling   = "billing"
	groupShipping  = "shipping"
	groupFraud     = "fraud-check"
	groupAudit     = "audit-export"
	groupLegacy    = "legacy-reader"
	groupAnalytics = "analytics"
)

type topicSpec struct {
	name       string
	partitions int32
}

var topics = []topicSpec{
	{topicOrders, 6},
	{topicPayments, 3},
	{topicAudit, 4},
	{topicDLT, 2},
	{topicLegacy, 2},
	{topicReplay, 6},
}

var scenario = []GroupScenario{
	{Group: groupBilling, Topic: topicOrders, Expect: "OK"},
	{Group: groupShipping, Topic: topicOrders, Expect: "WARN"},
	{Group: groupFraud, Topic: topicPayments, Expect: "STALL"},
	{Group: groupAudit, Topic: topicAudit, Expect: "STOP"},
	{Group: groupLegacy, Topic: topicLegacy, Expect: "STOP"},
	{Group: groupAnalytics, Topic: topicOrders + "," + topicPayments, Expect: "OK"},
}

// Live rates, records per second.
const (
	rateOrders       = 50.0
	ratePayments     = 20.0
	rateAudit        = 10.0
	rateDLT          = 0.2  // one dead letter every five seconds
	rateShipping     = 35.0 // what the slow group processes of the 50/s of orders
	backlogSeconds   = 120  // history seeded before "now" on the live topics
	legacyPerPart    = 1500 // records per legacy-events partition
	legacyLogStart   = 1000 // DeleteRecords point on legacy-events/0
	legacyCommitted  = 250  // legacy-reader's commit on legacy-events/0, < log start
	seededDeadLetter = 200  // records seeded in orders.DLT
)

// Where each group's first commit sits, as a fraction of the seeded log end
// of each partition. 1 is "caught up".
const (
	fracCaughtUp = 1.0
	fracShipping = 0.70 // behind, and falls further behind at 35 of 50 msg/s
	fracFraud    = 0.60 // behind, and never moves again
	fracAudit    = 0.75 // behind, then the group left
)

// Commit pacing of the live consumers.
const (
	pollEvery      = 250 * time.Millisecond
	commitEvery    = time.Second
	produceEvery   = 100 * time.Millisecond
	analyticsEvery = 2 * time.Second
)
