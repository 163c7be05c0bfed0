package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
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
	sample = sampleSize(sample)
	res, err := c.PeekQueue(ctx, vhost, queue, backends.PeekOptions{Limit: sample})
	return summarize(vhost, queue, res, err)
}

func sampleSize(sample int) int {
	if sample <= 0 {
		sample = DefaultSample
	}
	return min(sample, MaxPeek)
}

// summarize is the summary of a dead-letter queue from its peek.
func summarize(vhost, queue string, res *backends.PeekResult, err error) (*backends.DeadLetterSummary, error) {
	sum := &backends.DeadLetterSummary{Backend: "rabbitmq", Vhost: vhost, Queue: queue, Groups: []backends.DeadLetterGroup{}}
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

// DeadLetterParallel is how many dead-letter queues DeadLettersOf reads at
// once (each on a channel of its own).
const DeadLetterParallel = 8

// DeadLetterResult is the summary of one dead-letter queue, or why it
// could not be read.
type DeadLetterResult struct {
	Summary *backends.DeadLetterSummary
	Err     error
	// NotAsked: the queue was not read (or its read was cut short)
	// because RabbitMQ had stopped answering on another; Err says so.
	NotAsked bool
}

// ErrStoppedAnswering is the error of the dead-letter queues DeadLettersOf
// did not ask for once RabbitMQ stopped answering.
var ErrStoppedAnswering = errors.New("not read (RabbitMQ stopped answering)")

// DeadLettersOf samples each of qs as DeadLetters does, DeadLetterParallel
// at a time, over one AMQP connection per vhost (opened when first needed,
// a channel per queue): what DeadLetters does queue by queue with a
// connection each. Every call is bounded by the timeout; once one times
// out (or ctx ends) the connection is closed, which requeues what any peek
// held, and the queues not read yet are not asked (ErrStoppedAnswering).
// Results are in the order of qs.
func (c *Client) DeadLettersOf(ctx context.Context, qs []backends.Queue, sample int) []DeadLetterResult {
	sample = sampleSize(sample)
	out := make([]DeadLetterResult, len(qs))
	parent := ctx
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		mu       sync.Mutex
		sessions = map[string]*session{}
		dialErrs = map[string]error{}
		stopped  bool
	)
	defer func() {
		for _, s := range sessions {
			s.close()
		}
	}()
	sessionOf := func(vhost string) (*session, error) {
		mu.Lock()
		defer mu.Unlock()
		if s := sessions[vhost]; s != nil {
			return s, nil
		}
		if err := dialErrs[vhost]; err != nil {
			return nil, err
		}
		s, err := c.openSession(ctx, vhost, "mqops dlq")
		if err != nil {
			dialErrs[vhost] = err
			return nil, err
		}
		sessions[vhost] = s
		return s, nil
	}
	gaveUp := func(err error) bool {
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			return false
		}
		mu.Lock()
		stopped = true
		mu.Unlock()
		stop()
		return true
	}
	one := func(q backends.Queue) DeadLetterResult {
		mu.Lock()
		halted := stopped
		mu.Unlock()
		if halted || ctx.Err() != nil {
			return DeadLetterResult{Err: ErrStoppedAnswering, NotAsked: true}
		}
		o := backends.PeekOptions{Limit: sample}
		target, version, err := c.peekTarget(ctx, q.Vhost, q.Name)
		if err == nil {
			_, _, err = peekPlan(target, version)
		}
		var res *backends.PeekResult
		if err == nil {
			var s *session
			if s, err = sessionOf(q.Vhost); err == nil {
				res, err = c.peekIn(s, q.Vhost, q.Name, target, version, o)
			}
		}
		sum, err := summarize(q.Vhost, q.Name, res, err)
		if err != nil {
			if errors.Is(err, context.Canceled) && parent.Err() == nil {
				// another queue's timeout closed the connection
				return DeadLetterResult{Err: ErrStoppedAnswering, NotAsked: true}
			}
			gaveUp(err)
			return DeadLetterResult{Err: err}
		}
		return DeadLetterResult{Summary: sum}
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(DeadLetterParallel, len(qs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = one(qs[i])
			}
		}()
	}
	for i := range qs {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
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

// dlqListColumns are what finding the dead-letter queues needs of every
// queue: the policy's name, not its definition (effective_policy_definition
// comes only with statistics); the definitions are read once per listing.
const dlqListColumns = "vhost,name,type,arguments,policy"

type apiPolicy struct {
	Vhost      string  `json:"vhost"`
	Name       string  `json:"name"`
	Definition jsonMap `json:"definition"`
}

// DeadLetterQueues lists the dead-letter queues (of the configured vhosts,
// or all the user sees) as Queues marks them, by vhost and name, without
// their depths or statistics: the management API is asked for the few
// columns this needs, with statistics disabled (much lighter on the
// broker), and for the policies once per vhost, whose definitions say
// which queues have a dead-letter exchange. A user who may not read the
// policies gets the listing with statistics (the effective policies come
// only with them).
func (c *Client) DeadLetterQueues(ctx context.Context) ([]backends.Queue, error) {
	vhosts := c.cfg.Vhosts
	if len(vhosts) == 0 {
		vhosts = []string{""} // all
	}
	var all []backends.Queue
	for _, v := range vhosts {
		aqs, ok, err := c.queuesWithPolicies(ctx, v, dlqListColumns, nil)
		if err == nil && !ok {
			// the user may not read policies: the queues' effective
			// policies come with statistics
			aqs, err = c.queuesPaged(ctx, v, dlxColumns, 0, nil)
		}
		if err != nil {
			return nil, err
		}
		for _, aq := range aqs {
			all = append(all, convertQueue(aq))
		}
	}
	if err := c.markDLQs(ctx, all); err != nil {
		return nil, err
	}
	out := []backends.Queue{}
	for _, q := range all {
		if q.IsDLQ {
			out = append(out, q)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Vhost != out[j].Vhost {
			return out[i].Vhost < out[j].Vhost
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}
