package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/mqops/mqops/backends"
)

// DefaultSample is how many messages DeadLetters samples by default.
const DefaultSample = 1000

// ExceptionHeaders are the headers an application or framework puts the
// failure of a dead letter in, in the order they are looked up: exception
// types group better than messages (which often hold ids).
var ExceptionHeaders = []string{
	"x-exception-type", "MT-Fault-ExceptionType", "exception-type",
	"x-exception-message", "MT-Fault-Message", "exception", "x-exception", "exception-message",
}

// DeadLetters samples up to sample messages of a dead-letter queue by
// peeking (the queue is left as it was: depth and order) and groups them
// by origin queue, reason and exception header. A queue that a peek would
// change (see PeekQueue) is not sampled: the summary gives its depth and,
// in NotSampled, why.
func (c *Client) DeadLetters(ctx context.Context, vhost, queue string, sample int) (*backends.DeadLetterSummary, error) {
	if sample <= 0 {
		sample = DefaultSample
	}
	sum := &backends.DeadLetterSummary{Backend: "rabbitmq", Vhost: vhost, Queue: queue, Groups: []backends.DeadLetterGroup{}}
	res, err := c.PeekQueue(ctx, vhost, queue, backends.PeekOptions{Limit: min(sample, MaxPeek)})
	var re *backends.PeekRiskError
	if errors.As(err, &re) {
		sum.Messages, sum.NotSampled = re.Risk.Depth, re.Risk
		return sum, nil
	}
	if err != nil {
		return nil, err
	}
	sum.Messages, sum.Sampled, sum.Groups, sum.Warning = max(res.Depth, int64(len(res.Messages))), len(res.Messages), Group(res.Messages), res.Warning
	return sum, nil
}

// Exception is the first exception header of a message, as a string.
func Exception(m *backends.Message) string {
	for _, h := range ExceptionHeaders {
		switch v := m.Headers[h].(type) {
		case string:
			if v != "" {
				return v
			}
		case []byte:
			if len(v) > 0 {
				return string(v)
			}
		case nil:
		default:
			return fmt.Sprint(v)
		}
	}
	return ""
}

// deathTime is when a dead letter died in its group: the time of the x-death
// entry of its origin and reason, else of its most recent death, else its
// timestamp.
func deathTime(m *backends.Message, origin, reason string) time.Time {
	for _, d := range m.Deaths {
		if d.Queue == origin && d.Reason == reason && !d.Time.IsZero() {
			return d.Time
		}
	}
	if len(m.Deaths) > 0 && !m.Deaths[0].Time.IsZero() {
		return m.Deaths[0].Time
	}
	return m.Timestamp
}

// Group groups dead letters by origin (first-death queue, else the most
// recent x-death queue), reason and exception, with counts and the first
// and last death time of each group; biggest groups first.
func Group(ms []backends.Message) []backends.DeadLetterGroup {
	type key struct{ origin, reason, exc string }
	idx := map[key]*backends.DeadLetterGroup{}
	var order []key
	for i := range ms {
		m := &ms[i]
		origin, reason := m.Origin()
		k := key{origin, reason, Exception(m)}
		g := idx[k]
		if g == nil {
			g = &backends.DeadLetterGroup{Origin: k.origin, Reason: k.reason, Exception: k.exc}
			idx[k] = g
			order = append(order, k)
		}
		g.Count++
		if when := deathTime(m, origin, reason); !when.IsZero() {
			if g.First.IsZero() || when.Before(g.First) {
				g.First = when
			}
			if when.After(g.Last) {
				g.Last = when
			}
		}
	}
	out := make([]backends.DeadLetterGroup, 0, len(order))
	for _, k := range order {
		out = append(out, *idx[k])
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		if out[i].Origin != out[j].Origin {
			return out[i].Origin < out[j].Origin
		}
		return out[i].Reason < out[j].Reason
	})
	return out
}
