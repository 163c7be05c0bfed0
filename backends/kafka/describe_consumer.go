package kafka

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/IBM/sarama"

	"github.com/mqops/mqops/backends"
)

// Groups of Kafka 4's consumer protocol (KIP-848, group.protocol=consumer)
// are not described by DescribeGroups: their coordinator describes them
// with ConsumerGroupDescribe (API 69, Kafka 3.8+ as stable; 4.0 is its
// general availability). Their members' assignments name topics by id.

// consumerDescribeAt sends one ConsumerGroupDescribe for groups to broker
// id, at the highest version both speak. When the broker's ApiVersions
// lacks API 69, sarama sends nothing and the error is
// sarama.ErrUnsupportedVersion. Like every request of the client, it is
// bounded by the timeout (the connection's deadlines, see watch.go).
func consumerDescribeAt(cl sarama.Client, id int32, groups []string) ([]sarama.ConsumerGroupDescription, error) {
	b, err := cl.Broker(id)
	if err != nil {
		return nil, err
	}
	req := sarama.NewConsumerGroupDescribeRequest(sarama.MaxVersion) // lowered to what the broker speaks
	req.GroupIDs = groups
	resp, err := b.ConsumerGroupDescribe(req)
	if err != nil {
		return nil, err
	}
	return resp.Groups, nil
}

// topicIDs maps the metadata's topic ids to their names (Metadata v10+).
func topicIDs(md *sarama.MetadataResponse) map[sarama.Uuid]string {
	m := make(map[sarama.Uuid]string, len(md.Topics))
	for _, t := range md.Topics {
		if t != nil && t.Uuid != (sarama.Uuid{}) {
			m[t.Uuid] = t.Name
		}
	}
	return m
}

// describeConsumer fills g from its coordinator's ConsumerGroupDescribe
// answer d: state, assignor, epochs, members with their current
// assignment (topic ids named from the metadata, else from the answer), or
// the error the coordinator gave for the group.
func describeConsumer(g *backends.Group, d *sarama.ConsumerGroupDescription, names map[sarama.Uuid]string) {
	g.Type = backends.GroupConsumer
	switch k := d.ErrorCode; {
	case errors.Is(k, sarama.ErrNoError) || k == 0:
	case errors.Is(k, sarama.ErrGroupIDNotFound):
		// gone since listed (deleted, or emptied and expired): Kafka's
		// DescribeGroups says Dead of such a group
		g.State = backends.GroupDead
		return
	case errors.Is(k, sarama.ErrUnsupportedVersion):
		g.Unknown = fmt.Sprintf(noConsumerDescribe, g.Coordinator)
		return
	default:
		g.Err = "describe: " + k.Error()
		if msg := deref(d.ErrorMessage); msg != "" && msg != k.Error() {
			g.Err += ": " + msg
		}
		return
	}
	if d.GroupState != "" {
		g.State = d.GroupState
	}
	g.Protocol = d.AssignorName
	if g.ProtocolType == "" {
		g.ProtocolType = "consumer"
	}
	g.GroupEpoch, g.AssignmentEpoch = d.GroupEpoch, d.AssignmentEpoch
	unnamed := 0
	for i := range d.Members {
		m := &d.Members[i]
		mem := backends.Member{ID: m.MemberID, InstanceID: deref(m.InstanceID), ClientID: m.ClientID, Host: m.ClientHost, Epoch: m.MemberEpoch}
		for _, tp := range m.Assignment.TopicPartitions {
			name, ok := names[tp.TopicID]
			if !ok {
				name = tp.TopicName // a topic the metadata did not list yet
			}
			if name == "" {
				unnamed++
				continue
			}
			if mem.Assigned == nil {
				mem.Assigned = map[string][]int32{}
			}
			mem.Assigned[name] = append(mem.Assigned[name], tp.Partitions...)
		}
		for t, ps := range mem.Assigned {
			slices.Sort(ps)
			mem.Assigned[t] = slices.Compact(ps)
		}
		g.Members = append(g.Members, mem)
	}
	sort.Slice(g.Members, func(i, j int) bool { return g.Members[i].ID < g.Members[j].ID })
	if unnamed > 0 {
		g.Err = fmt.Sprintf("assignment: %d topic id(s) not in the metadata and not named by the coordinator (topics created or deleted since the metadata was read)", unnamed)
	}
}
