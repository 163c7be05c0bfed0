package kafka

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/mqops/mqops/backends"
)

// Error codes of the KIP-848 protocol that sarama does not name.
const (
	errFencedMemberEpoch sarama.KError = 110 // FENCED_MEMBER_EPOCH
	errStaleMemberEpoch  sarama.KError = 113 // STALE_MEMBER_EPOCH
)

// Group types, as ListGroups v5 and Kafka's tools name them.
const (
	groupTypeClassic  = "classic"
	groupTypeConsumer = "consumer" // the KIP-848 protocol
)

// GroupOffsets reads what a reset of a group's offsets needs, in one
// call: the group's state and members (described at its coordinator as
// Kafka's admin client does: ConsumerGroupDescribe first, DescribeGroups
// for a group of the classic protocol), its committed offsets (one
// OffsetFetch), the partitions of the query (one Metadata request; an
// unknown topic or partition is an error naming it), their log start and
// log end (ListOffsets, one request per leader and kind, in parallel) and,
// when q.At is set, the offsets for that time (ListOffsets by timestamp).
// Each request is bounded by the client's timeout.
func (c *Client) GroupOffsets(ctx context.Context, q backends.KafkaOffsetsQuery) (*backends.KafkaGroupOffsets, error) {
	if q.Group == "" {
		return nil, &Error{Op: "no consumer group given"}
	}
	var out *backends.KafkaGroupOffsets
	err := c.withClient(ctx, func(cl sarama.Client, ad sarama.ClusterAdmin) error {
		var err error
		out, err = c.groupOffsets(cl, ad, q)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CommittedOffsets reads every offset group has committed (one
// OffsetFetch at its coordinator).
func (c *Client) CommittedOffsets(ctx context.Context, group string) (map[string]map[int32]int64, error) {
	var out map[string]map[int32]int64
	err := c.withClient(ctx, func(cl sarama.Client, ad sarama.ClusterAdmin) error {
		var err error
		out, err = c.committed(cl, ad, group)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CommitGroupOffsets commits offsets for group with one OffsetCommit at its
// coordinator, as Kafka's admin client (alterConsumerGroupOffsets) does:
// generation -1, no member id, no leader epoch, empty metadata. The
// coordinator accepts such a commit only while the group has no member.
// Every partition's error code is checked; the error names each partition
// that was not committed.
func (c *Client) CommitGroupOffsets(ctx context.Context, group string, offsets []backends.KafkaOffset) error {
	if group == "" {
		return &Error{Op: "no consumer group given"}
	}
	if len(offsets) == 0 {
		return &Error{Op: "no offsets to commit"}
	}
	req := map[string]map[int32]sarama.OffsetAndMetadata{}
	for _, o := range offsets {
		if o.Offset < 0 {
			return &Error{Op: fmt.Sprintf("refusing to commit offset %d on %s partition %d: offsets are not negative", o.Offset, backends.SafeText(o.Topic), o.Partition)}
		}
		if req[o.Topic] == nil {
			req[o.Topic] = map[int32]sarama.OffsetAndMetadata{}
		}
		req[o.Topic][o.Partition] = sarama.OffsetAndMetadata{Offset: o.Offset, LeaderEpoch: -1}
	}
	return c.withClient(ctx, func(cl sarama.Client, ad sarama.ClusterAdmin) error {
		var resp *sarama.OffsetCommitResponse
		err := untilCoordinator(cl, group, c.cfg.Timeout, func() error {
			var err error
			resp, err = ad.AlterConsumerGroupOffsets(group, req, nil)
			return err
		})
		if err != nil {
			return &Error{Op: fmt.Sprintf("committing the offsets of consumer group \"%s\" (nothing was committed)", backends.SafeText(group)), Err: err}
		}
		return commitErrors(group, req, resp)
	})
}

// commitErrors checks the answer of an OffsetCommit partition by
// partition: nil when every partition sent was committed.
func commitErrors(group string, sent map[string]map[int32]sarama.OffsetAndMetadata, resp *sarama.OffsetCommitResponse) error {
	var failed []string
	total, active := 0, false
	for _, t := range sortedKeys(sent) {
		ps := make([]int32, 0, len(sent[t]))
		for p := range sent[t] {
			ps = append(ps, p)
		}
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		for _, p := range ps {
			total++
			kerr, ok := sarama.ErrIncompleteResponse, false
			if resp != nil {
				kerr, ok = resp.Errors[t][p]
			}
			switch {
			case !ok:
				failed = append(failed, fmt.Sprintf("%s partition %d: no answer", backends.SafeText(t), p))
			case !errors.Is(kerr, sarama.ErrNoError):
				failed = append(failed, fmt.Sprintf("%s partition %d: %v", backends.SafeText(t), p, kerr))
				active = active || errors.Is(kerr, sarama.ErrUnknownMemberId) || errors.Is(kerr, sarama.ErrIllegalGeneration) ||
					errors.Is(kerr, sarama.ErrRebalanceInProgress) || errors.Is(kerr, errFencedMemberEpoch) || errors.Is(kerr, errStaleMemberEpoch)
			}
		}
	}
	if len(failed) == 0 {
		return nil
	}
	op := fmt.Sprintf("committing the offsets of consumer group \"%s\": %d of %d partitions were not committed", backends.SafeText(group), len(failed), total)
	if active {
		op += " (the group has members again: a consumer joined since the group was checked)"
	}
	return &Error{Op: op, Err: errors.New(strings.Join(failed, "; "))}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// untilCoordinator runs call until it does not fail with a coordinator
// error (the group's coordinator moved, or is not there yet on a cluster
// where no group ever committed), refreshing the coordinator between
// attempts, for at most timeout.
func untilCoordinator(cl sarama.Client, group string, timeout time.Duration, call func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := call()
		if !coordinatorPending(err) || time.Now().After(deadline) {
			return err
		}
		_ = cl.RefreshCoordinator(group)
		time.Sleep(250 * time.Millisecond)
	}
}

func (c *Client) groupOffsets(cl sarama.Client, ad sarama.ClusterAdmin, q backends.KafkaOffsetsQuery) (*backends.KafkaGroupOffsets, error) {
	out, err := c.describeGroup(cl, q.Group)
	if err != nil {
		return nil, err
	}
	committed, err := c.committed(cl, ad, q.Group)
	if err != nil {
		return nil, err
	}
	parts, err := c.queryPartitions(cl, q, committed)
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return out, nil
	}
	var (
		wg                sync.WaitGroup
		start, end, at    map[string]map[int32]int64
		errS, errE, errAt error
	)
	if q.At != nil && *q.At < 0 {
		return nil, &Error{Op: fmt.Sprintf("invalid time %d: before 1970", *q.At)}
	}
	wg.Go(func() { start, errS = listOffsetsAt(cl, ad, parts, sarama.OffsetOldest) })
	wg.Go(func() { end, errE = listOffsetsAt(cl, ad, parts, sarama.OffsetNewest) })
	if q.At != nil {
		wg.Go(func() { at, errAt = listOffsetsAt(cl, ad, parts, *q.At) })
	}
	wg.Wait()
	for _, e := range []struct {
		err  error
		what string
	}{{errS, "log-start offsets"}, {errE, "log-end offsets"}, {errAt, "offsets for the time"}} {
		if e.err != nil {
			return nil, &Error{Op: "listing " + e.what, Err: e.err}
		}
	}
	for _, t := range sortedKeys(parts) {
		for _, p := range parts[t] {
			row := backends.KafkaPartitionOffsets{Topic: t, Partition: p, LogStart: start[t][p], LogEnd: end[t][p]}
			if o, ok := committed[t][p]; ok {
				row.Committed = &o
			}
			if o, ok := at[t][p]; ok && o >= 0 {
				row.AtTime = &o
			}
			out.Partitions = append(out.Partitions, row)
		}
	}
	return out, nil
}

// queryPartitions resolves the partitions of q, checking that each topic
// and partition exists, sorted per topic.
func (c *Client) queryPartitions(cl sarama.Client, q backends.KafkaOffsetsQuery, committed map[string]map[int32]int64) (map[string][]int32, error) {
	topics := map[string]bool{}
	for _, t := range q.Topics {
		topics[t] = true
	}
	for t := range q.Partitions {
		topics[t] = true
	}
	if q.AllCommitted {
		for t := range committed {
			topics[t] = true
		}
	}
	if len(topics) == 0 {
		return nil, nil
	}
	infos, err := c.topicInfos(cl, sortedKeys(topics))
	if err != nil {
		return nil, err
	}
	want := map[string]map[int32]bool{}
	add := func(t string, p int32) {
		if want[t] == nil {
			want[t] = map[int32]bool{}
		}
		want[t][p] = true
	}
	has := func(ti *topicInfo, p int32) bool {
		i := sort.Search(len(ti.parts), func(i int) bool { return ti.parts[i] >= p })
		return i < len(ti.parts) && ti.parts[i] == p
	}
	for _, t := range q.Topics {
		ti := infos[t]
		if ti == nil {
			return nil, unknownTopic(t)
		}
		for _, p := range ti.parts {
			add(t, p)
		}
	}
	for _, t := range sortedKeys(q.Partitions) {
		ti := infos[t]
		if ti == nil {
			return nil, unknownTopic(t)
		}
		for _, p := range q.Partitions[t] {
			if !has(ti, p) {
				return nil, noPartition(ti, p)
			}
			add(t, p)
		}
	}
	if q.AllCommitted {
		for _, t := range sortedKeys(committed) {
			ti := infos[t]
			if ti == nil {
				return nil, &Error{Op: fmt.Sprintf("consumer group \"%s\" has committed offsets on topic \"%s\", which does not exist (any more)", backends.SafeText(q.Group), backends.SafeText(t))}
			}
			for p := range committed[t] {
				if !has(ti, p) {
					return nil, noPartition(ti, p)
				}
				add(t, p)
			}
		}
	}
	out := map[string][]int32{}
	for t, ps := range want {
		for p := range ps {
			out[t] = append(out[t], p)
		}
		sort.Slice(out[t], func(i, j int) bool { return out[t][i] < out[t][j] })
	}
	return out, nil
}

func noPartition(ti *topicInfo, p int32) error {
	return &Error{Op: fmt.Sprintf("topic \"%s\" has no partition %d (it has %d: 0 to %d)", backends.SafeText(ti.name), p, len(ti.parts), len(ti.parts)-1)}
}

// listOffsetsAt lists, for every partition of parts, the offset for at: a
// timestamp in milliseconds, or sarama.OffsetOldest / OffsetNewest. The
// offset is -1 where no record is at or after a timestamp. Partitions
// whose leader moved are asked again after a metadata refresh, twice at
// most; a partition that still fails is an error naming it.
func listOffsetsAt(cl sarama.Client, ad sarama.ClusterAdmin, parts map[string][]int32, at int64) (map[string]map[int32]int64, error) {
	out := map[string]map[int32]int64{}
	todo := parts
	for attempt := 0; ; attempt++ {
		q := map[string]map[int32]int64{}
		for t, ps := range todo {
			q[t] = map[int32]int64{}
			for _, p := range ps {
				q[t][p] = at
			}
		}
		res, err := ad.ListOffsets(q, nil)
		failed := map[string][]int32{}
		lastErr := err
		for t, ps := range todo {
			for _, p := range ps {
				x := res[t][p]
				switch {
				case x == nil:
					failed[t] = append(failed[t], p)
				case x.Err != nil && !errors.Is(x.Err, sarama.ErrNoError):
					failed[t], lastErr = append(failed[t], p), x.Err
				default:
					if out[t] == nil {
						out[t] = map[int32]int64{}
					}
					out[t][p] = x.Offset
				}
			}
		}
		if len(failed) == 0 {
			return out, nil
		}
		if attempt >= 2 || peerGivenUp(lastErr) {
			t := sortedKeys(failed)[0]
			if lastErr == nil {
				lastErr = sarama.ErrIncompleteResponse
			}
			return nil, fmt.Errorf("%s partition %d: %w", backends.SafeText(t), failed[t][0], lastErr)
		}
		_ = cl.RefreshMetadata(sortedKeys(failed)...) // the topics exist: no auto-creation
		time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
		todo = failed
	}
}

// committed reads every offset group has committed: -1 (none) is left
// out; a partition's error fails the read.
func (c *Client) committed(cl sarama.Client, ad sarama.ClusterAdmin, group string) (map[string]map[int32]int64, error) {
	var resp *sarama.OffsetFetchResponse
	err := untilCoordinator(cl, group, c.cfg.Timeout, func() error {
		var err error
		resp, err = ad.ListConsumerGroupOffsets(group, nil)
		return err
	})
	out := map[string]map[int32]int64{}
	if errors.Is(err, sarama.ErrGroupIDNotFound) {
		return out, nil // a group that never committed (some brokers say so; Kafka answers nothing)
	}
	if err != nil {
		return nil, &Error{Op: fmt.Sprintf("reading the committed offsets of consumer group \"%s\"", backends.SafeText(group)), Err: err}
	}
	blocks := resp.Blocks
	if resp.Version >= 8 {
		blocks = nil
		for _, g := range resp.Groups {
			if g.GroupId == group {
				blocks = g.Blocks
			}
		}
	}
	for t, ps := range blocks {
		for p, b := range ps {
			if b == nil {
				continue
			}
			if !errors.Is(b.Err, sarama.ErrNoError) {
				return nil, &Error{Op: fmt.Sprintf("reading the committed offset of consumer group \"%s\" on %s partition %d", backends.SafeText(group), backends.SafeText(t), p), Err: b.Err}
			}
			if b.Offset < 0 {
				continue
			}
			if out[t] == nil {
				out[t] = map[int32]int64{}
			}
			out[t][p] = b.Offset
		}
	}
	return out, nil
}

// describeGroup describes group at its coordinator as Kafka's admin client
// does: ConsumerGroupDescribe (a group of the KIP-848 protocol), then, for
// a group that is not one (GROUP_ID_NOT_FOUND) or a broker without that
// API, DescribeGroups (the classic protocol, which says "Dead" for a group
// the cluster does not know).
func (c *Client) describeGroup(cl sarama.Client, group string) (*backends.KafkaGroupOffsets, error) {
	var out *backends.KafkaGroupOffsets
	err := untilCoordinator(cl, group, c.cfg.Timeout, func() error {
		b, err := cl.Coordinator(group)
		if err != nil {
			return err
		}
		if out, err = describeConsumerProtocol(b, group); out != nil || err != nil {
			return err
		}
		out, err = describeClassic(b, group)
		return err
	})
	if err != nil {
		return nil, &Error{Op: fmt.Sprintf("describing consumer group \"%s\"", backends.SafeText(group)), Err: err}
	}
	return out, nil
}

// describeConsumerProtocol asks for group as a group of the KIP-848
// protocol; nil without error when it is not one, or the broker does not
// know that protocol.
func describeConsumerProtocol(b *sarama.Broker, group string) (*backends.KafkaGroupOffsets, error) {
	req := sarama.NewConsumerGroupDescribeRequest(sarama.MaxVersion) // lowered to what the broker speaks
	req.GroupIDs = []string{group}
	resp, err := b.ConsumerGroupDescribe(req)
	if errors.Is(err, sarama.ErrUnsupportedVersion) {
		return nil, nil // the broker does not have the API (before Kafka 3.7)
	}
	if err != nil {
		return nil, err
	}
	for _, d := range resp.Groups {
		if d.GroupID != group {
			continue
		}
		switch {
		case errors.Is(d.ErrorCode, sarama.ErrGroupIDNotFound), errors.Is(d.ErrorCode, sarama.ErrUnsupportedVersion):
			return nil, nil // a classic group, or none
		case !errors.Is(d.ErrorCode, sarama.ErrNoError):
			return nil, withMessage(d.ErrorCode, d.ErrorMessage)
		}
		out := &backends.KafkaGroupOffsets{Group: group, State: d.GroupState, Type: groupTypeConsumer}
		for _, m := range d.Members {
			out.Members = append(out.Members, backends.KafkaGroupMember{MemberID: m.MemberID, InstanceID: deref(m.InstanceID), ClientID: m.ClientID, Host: m.ClientHost})
		}
		sortMembers(out.Members)
		return out, nil
	}
	return nil, sarama.ErrIncompleteResponse
}

// describeClassic describes group with DescribeGroups.
func describeClassic(b *sarama.Broker, group string) (*backends.KafkaGroupOffsets, error) {
	resp, err := b.DescribeGroups(&sarama.DescribeGroupsRequest{Version: 5, Groups: []string{group}}) // lowered to what the broker speaks
	if err != nil {
		return nil, err
	}
	for _, d := range resp.Groups {
		if d.GroupId != group {
			continue
		}
		out := &backends.KafkaGroupOffsets{Group: group, State: d.State, Type: groupTypeClassic}
		switch {
		case errors.Is(d.Err, sarama.ErrGroupIDNotFound):
			out.State = backends.GroupDead // unknown to the cluster, as Kafka's tool takes it
			return out, nil
		case !errors.Is(d.Err, sarama.ErrNoError) && d.Err != 0:
			return nil, d.Err
		}
		if out.State == "" {
			out.State = backends.GroupUnknown
		}
		for _, m := range d.Members {
			out.Members = append(out.Members, backends.KafkaGroupMember{MemberID: m.MemberId, InstanceID: deref(m.GroupInstanceId), ClientID: m.ClientId, Host: m.ClientHost})
		}
		sortMembers(out.Members)
		return out, nil
	}
	return nil, sarama.ErrIncompleteResponse
}

func sortMembers(ms []backends.KafkaGroupMember) {
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].ClientID != ms[j].ClientID {
			return ms[i].ClientID < ms[j].ClientID
		}
		return ms[i].MemberID < ms[j].MemberID
	})
}

// withMessage is a broker's error code with the message it sent along.
func withMessage(kerr sarama.KError, msg *string) error {
	if msg == nil || *msg == "" {
		return kerr
	}
	return fmt.Errorf("%w: %s", kerr, backends.SafeText(*msg))
}

var _ backends.KafkaOffsetResetter = (*Client)(nil)
