package lag

import "github.com/mqops/mqops/backends"

// TopicLag is the consumer lag of one topic, as the application's pending
// sends are shown beside it (mqops pending, the console's :pending): per
// consumer group with committed offsets on the topic, its lag summed over
// the topic's partitions; Messages is the worst group's (nil: no group
// has committed offsets there), Groups how many groups have.
type TopicLag struct {
	Topic      string `json:"topic"`
	Messages   *int64 `json:"messages"`
	Groups     int    `json:"groups"`
	WorstGroup string `json:"worst_group"`
}

// TopicLags is, per topic of snap (only those named, or every topic when
// topics is empty), the lag of the consumer groups with offsets on it. A
// topic that groups are assigned to without any committed offset has an
// entry with no lag; a topic no group consumes has none. Ties between
// groups go to the first name.
func TopicLags(snap *backends.ClusterSnapshot, topics ...string) map[string]*TopicLag {
	out := map[string]*TopicLag{}
	if snap == nil {
		return out
	}
	var want map[string]bool
	if len(topics) > 0 {
		want = make(map[string]bool, len(topics))
		for _, t := range topics {
			want[t] = true
		}
	}
	for gi := range snap.Groups {
		gr := &snap.Groups[gi]
		per := map[string]*int64{}
		for _, p := range gr.Partitions {
			if want != nil && !want[p.Topic] {
				continue
			}
			v, seen := per[p.Topic]
			if p.Lag == nil {
				if !seen {
					per[p.Topic] = nil
				}
				continue
			}
			if v == nil {
				v = new(int64)
				per[p.Topic] = v
			}
			*v += *p.Lag
		}
		for topic, l := range per {
			tl := out[topic]
			if tl == nil {
				tl = &TopicLag{Topic: topic}
				out[topic] = tl
			}
			if l == nil {
				continue // assigned, nothing committed yet
			}
			tl.Groups++
			if tl.Messages == nil || *l > *tl.Messages || (*l == *tl.Messages && gr.Name < tl.WorstGroup) {
				n := *l
				tl.Messages, tl.WorstGroup = &n, gr.Name
			}
		}
	}
	return out
}
