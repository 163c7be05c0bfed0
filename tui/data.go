package tui

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/lag"
	"github.com/mqops/mqops/tui/components"
	"github.com/mqops/mqops/tui/styles"
)

// One way for a view to load its data. A view that shows data says where
// it comes from with a source: what it is, where from, whether it
// refreshes on the schedule, where its outcome is kept, and a fetch
// function. The refresh loop (refresh.go) runs the fetch in a command,
// one request at a time, and tags its result with the view and the
// request; a result that is not the request in flight for the view on
// screen is dropped. The fetch returns how its result applies, a function
// run in Update once the tag is checked: it installs typed data (no `any`
// on the way) and may ask for a flash.
//
// The Kafka views (groups, topics and their details) share one source,
// the cluster snapshot (snapshotSource), and build their rows from the
// shared dataset; every other view has its own (a RabbitMQ call, the
// Kafka dead-letter reader, both at once for :dlq, the audit log file).
// The header's state, the placeholder before the first data and the flash
// of a failure are drawn from the source alone (statusOf, placeholderOf).
// A view with no source (an audit entry, the value viewer, the action
// screen) loads nothing and draws everything itself.

// loadState is the record of a source's loads: its data stay on screen
// after a failure, marked stale.
type loadState struct {
	loaded   bool
	failures int // consecutive: they drive the backoff
	lastErr  error
	lastOK   time.Time
	nextAt   time.Time
	// followUp: the data loaded are a quick first look; the next load
	// (a periodic source's) follows at once.
	followUp bool
}

// source is how a view gets its data.
type source struct {
	// what names the data in messages ("queues", "dead letters of x");
	// "" for the cluster snapshot, whose messages name the cluster.
	what string
	// broker names where the data come from (the header, the messages).
	broker string
	// periodic sources refresh on the schedule, with backoff after
	// failures; the others (the ones that read messages, the audit log)
	// load when opened, on `r` and on a page turn.
	periodic bool
	// connects: before the first data the console is connecting (a
	// cluster), not loading.
	connects bool
	// paced: the next refresh waits at least loadPacing times what the
	// last load took (see paceAfter): a RabbitMQ listing costs the broker
	// about the time it takes, which grows with its queues.
	paced bool
	// state is where the outcome is kept: the view's own record, or the
	// shared snapshot's (Model.snap).
	state *loadState
	// fetch gets the data; nil when no source is configured.
	fetch fetchFunc
	// unconfigured says why there is no source and how to configure one
	// (the placeholder, the flash of `r`); noSource is the header's state
	// then, from its longest form to its shortest (drawn dim).
	unconfigured string
	noSource     []string
}

// fetchFunc gets a view's data. It runs in a command with the request's
// context and captures values only (a client, names, a page), never the
// model; what it returns is how the result applies.
type fetchFunc func(ctx context.Context) (applyFunc, error)

// applyFunc installs a result. It runs in Update, only for the request in
// flight for the view on screen, and returns a notice to flash.
type applyFunc func(m *Model, now time.Time) notice

// loader is a view with its own source (all but the Kafka views, which
// share the snapshot, and the views that load nothing).
type loader interface {
	source(m *Model) source
}

// snapshotView is a view built from the shared Kafka snapshot.
type snapshotView interface {
	// build recomputes the rows (and summary lines) from the data.
	build(d *dataset, st *styles.Styles)
	// builtGen is the dataset generation the rows were built from.
	builtGen() uint64
}

// loadedMsg carries the result of one fetch.
type loadedMsg struct {
	tag   reqTag
	apply applyFunc
	err   error
}

// fetching is the fetch of a call whose typed result apply installs.
func fetching[T any](call func(context.Context) (T, error), apply func(T, time.Time, *styles.Styles) notice) fetchFunc {
	return func(ctx context.Context) (applyFunc, error) {
		res, err := call(ctx)
		if err == nil && isNil(res) {
			err = errors.New("the broker returned nothing")
		}
		if err != nil {
			return nil, err
		}
		return applying(res, apply), nil
	}
}

// applying is how res applies through apply.
func applying[T any](res T, apply func(T, time.Time, *styles.Styles) notice) applyFunc {
	return func(m *Model, now time.Time) notice { return apply(res, now, &m.st) }
}

// isNil reports whether v is a nil pointer, slice, map or interface.
func isNil[T any](v T) bool {
	r := reflect.ValueOf(any(v))
	switch r.Kind() {
	case reflect.Invalid:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return r.IsNil()
	}
	return false
}

// localView is a view that loads nothing: it draws its own state (an
// audit entry, the value viewer, the action screen: its plans and runs
// are actions, not loads).
type localView interface {
	view
	local()
}

// sourceOf is v's source; nil when v loads nothing.
func (m *Model) sourceOf(v view) *source {
	switch v := v.(type) {
	case loader:
		s := v.source(m)
		return &s
	case localView:
		return nil
	case snapshotView:
		s := m.snapshotSource()
		return &s
	}
	return nil
}

// snapshotSource is the Kafka views' shared source: the cluster snapshot.
func (m *Model) snapshotSource() source {
	s := source{
		broker: m.cluster, periodic: true, connects: true, state: &m.snap,
		unconfigured: "No Kafka cluster is configured for context " + safe(orDash(m.opts.Context)) + ".",
		noSource:     []string{"no Kafka configured", "no Kafka", ""},
	}
	if src := m.opts.Kafka; src != nil {
		tr := m.tracker
		// No deadline on the snapshot: the Kafka client bounds each
		// request by the timeout and fails at once on a broker that stops
		// answering, so a big cluster that keeps answering is read whole
		// (the spinner turns).
		s.fetch = func(ctx context.Context) (applyFunc, error) {
			snap, err := src.Snapshot(ctx, backends.SnapshotOptions{})
			if err == nil && snap == nil {
				err = errors.New("the cluster returned an empty snapshot")
			}
			if err != nil {
				return nil, err
			}
			an, err := tr.observe(ctx, snap)
			if err != nil {
				return nil, err
			}
			return applySnapshot(snap, an), nil
		}
	}
	return s
}

// snapTracker is the lag tracker of the cluster snapshot. It belongs to
// the fetch side, not to the model: the fetch that took a snapshot
// observes it in its command, off the Update path (on a cluster of
// 160,000 group partitions Observe takes tens of milliseconds), and the
// analysis comes to Update with the snapshot. The refresh loop keeps one
// refresh in flight, but a cancelled one (the view changed) may still be
// running when the next starts: the mutex keeps their observations apart,
// and a cancelled fetch observes nothing (the refresh that superseded it
// takes a newer snapshot). Its cancellation comes before the next
// refresh starts, so the tracker sees the snapshots in the order taken.
type snapTracker struct {
	mu sync.Mutex
	t  *lag.Tracker
}

func newSnapTracker(o lag.Options) *snapTracker { return &snapTracker{t: lag.NewTracker(o)} }

// observe records snap and returns its analysis, unless ctx is done.
func (s *snapTracker) observe(ctx context.Context, snap *backends.ClusterSnapshot) (*lag.Analysis, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.t.Observe(snap), nil
}

// applySnapshot is how a snapshot and its lag analysis apply: as the
// shared dataset, the view on top rebuilt from it. It is called by the
// fetch, which also indexes the snapshot for the views (indexSnapshot)
// and builds the rows of those that list every group (buildRows); the
// function it returns runs in Update and only installs.
func applySnapshot(snap *backends.ClusterSnapshot, an *lag.Analysis) applyFunc {
	d := dataset{snap: snap, analysis: an, index: indexSnapshot(snap)}
	d.rows = buildRows(&d)
	return func(m *Model, _ time.Time) notice {
		d.gen = m.data.gen + 1
		m.data = d
		m.ensureBuilt(m.top())
		return notice{}
	}
}

// snapRows are the rows of the Kafka views that list every group — the
// groups list, and a topic's consumers for every topic — built by the
// fetch from its snapshot, off the Update path: on a cluster of 5,000
// groups building them takes milliseconds, and they are built on every
// refresh of those views and as a topic opens. The views share them
// read-only (a table sorts and filters its own index of the rows).
type snapRows struct {
	groups  []components.Row
	onTopic map[string][]components.Row // by topic; a topic without consumers has none
}

// buildRows builds d's snapRows (d indexed: the topics' consumers come
// from d.index).
func buildRows(d *dataset) *snapRows {
	r := &snapRows{groups: groupRows(d), onTopic: make(map[string][]components.Row, len(d.index.onTopic))}
	for topic := range d.index.onTopic {
		if rows := topicConsumers(d, topic); len(rows) > 0 {
			r.onTopic[topic] = rows
		}
	}
	return r
}

// snapIndex is what the Kafka views need of a snapshot beyond its lists,
// worked out by the fetch: building their rows in Update then never walks
// every group partition (160,000 on a big cluster).
type snapIndex struct {
	topics  []int                  // the number of topics of each group, by index in the snapshot's Groups
	commits []bool                 // whether each group has a committed offset
	onTopic map[string][]groupSpan // each topic's groups: the runs of their partitions on it, in group order
}

// groupSpan is a run of a group's partitions on one topic:
// Groups[group].Partitions[from:to].
type groupSpan struct{ group, from, to int }

// topicCount is the number of topics of the snapshot's i-th group.
func (d *dataset) topicCount(i int) int {
	if d.index != nil {
		return d.index.topics[i]
	}
	return len(d.snap.Groups[i].Topics())
}

// hasCommit reports whether the snapshot's i-th group has a committed
// offset.
func (d *dataset) hasCommit(i int) bool {
	if d.index != nil {
		return d.index.commits[i]
	}
	return slices.ContainsFunc(d.snap.Groups[i].Partitions, func(p backends.GroupPartition) bool { return p.Committed != nil })
}

// topicSpans are topic's groups, the runs of their partitions on it.
func (d *dataset) topicSpans(topic string) []groupSpan {
	if d.index != nil {
		return d.index.onTopic[topic]
	}
	return indexSnapshot(d.snap).onTopic[topic]
}

func indexSnapshot(snap *backends.ClusterSnapshot) *snapIndex {
	idx := &snapIndex{topics: make([]int, len(snap.Groups)), commits: make([]bool, len(snap.Groups)), onTopic: map[string][]groupSpan{}}
	for i := range snap.Groups {
		g := &snap.Groups[i]
		idx.topics[i] = len(g.Topics())
		idx.commits[i] = slices.ContainsFunc(g.Partitions, func(p backends.GroupPartition) bool { return p.Committed != nil })
		for from := 0; from < len(g.Partitions); {
			t := g.Partitions[from].Topic
			to := from + 1
			for to < len(g.Partitions) && g.Partitions[to].Topic == t {
				to++
			}
			idx.onTopic[t] = append(idx.onTopic[t], groupSpan{group: i, from: from, to: to})
			from = to
		}
	}
	return idx
}

// rabbitSource is the source of a view reading Options.Rabbit; fetch
// makes the call from the configured client.
func (m *Model) rabbitSource(what string, periodic bool, st *loadState, fetch func(RabbitSource) fetchFunc) source {
	s := source{what: what, broker: m.rabbitName(), periodic: periodic, paced: true, state: st, unconfigured: noRabbitText,
		noSource: []string{"no RabbitMQ configured", "no RabbitMQ", ""}}
	if m.opts.NoRabbit != "" {
		s.unconfigured = m.opts.NoRabbit
		s.noSource = []string{"no RabbitMQ", ""}
	}
	if m.opts.Rabbit != nil {
		s.fetch = fetch(m.opts.Rabbit)
	}
	return s
}

// kafkaDLQSource is the source of a view reading Kafka's dead-letter
// topics (Options.KafkaDLQ).
func (m *Model) kafkaDLQSource(what string, st *loadState, fetch func(backends.KafkaDeadLetters) fetchFunc) source {
	s := source{what: what, state: st, unconfigured: "no Kafka configured: set kafka.brokers in the context or pass --brokers",
		noSource: []string{"no broker configured", "no broker", ""}}
	if m.opts.KafkaDLQ != nil {
		s.broker = m.cluster
		s.fetch = fetch(m.opts.KafkaDLQ)
	}
	return s
}

// rabbitName is the broker shown in the header of the RabbitMQ views.
func (m *Model) rabbitName() string {
	if m.opts.Rabbit == nil {
		return ""
	}
	return m.opts.Rabbit.Name()
}

// hasData reports whether v has data to show.
func (m *Model) hasData(v view) bool {
	switch v.(type) {
	case loader, localView:
	case snapshotView:
		return m.snap.loaded // asked on every frame: no source to build
	}
	s := m.sourceOf(v)
	return s == nil || s.state.loaded
}

// statusOf is the header's state of a source, from its longest form to
// its shortest (see statusVariants).
func (m *Model) statusOf(s *source) []string {
	st := s.state
	dim := m.st.Dim.Render
	switch {
	case s.fetch == nil:
		out := make([]string, len(s.noSource))
		for i, v := range s.noSource {
			if v != "" {
				out[i] = dim(v)
			}
		}
		return out
	case !st.loaded && st.lastErr != nil:
		return []string{m.st.FlashError.Render("unreachable"), ""}
	case !st.loaded && s.connects:
		return []string{dim("connecting…"), ""}
	case !st.loaded:
		return []string{dim("loading…"), ""}
	case st.lastErr != nil:
		return m.staleStatus(st.lastOK)
	case !s.periodic:
		at := st.lastOK.Format("15:04:05")
		return []string{dim("loaded " + at + "; r reloads"), dim("loaded " + at), dim(at), ""}
	}
	return m.refreshedStatus(st.lastOK)
}

// placeholderOf is the body of a view whose data have not arrived: why
// there is no source, the last failure and when the next try is, or the
// load under way.
func (m *Model) placeholderOf(s *source) []string {
	st := s.state
	if s.fetch == nil {
		lines := []string{""}
		for _, l := range strings.Split(ansi.Wrap(s.unconfigured, max(m.width-4, 20), " "), "\n") {
			lines = append(lines, "  "+m.st.FlashWarn.Render(l))
		}
		return lines
	}
	broker := safe(s.broker)
	what := broker // the cluster
	switch {
	case s.what != "" && broker != "":
		what = s.what + " from " + broker
	case s.what != "":
		what = s.what // a file
	}
	if st.lastErr != nil {
		lines := []string{"",
			"  " + m.st.FlashError.Render("Cannot load "+what+":"),
			"  " + m.st.FlashError.Render(errText(st.lastErr)),
			"",
		}
		switch {
		case m.refresh.inFlight:
			lines = append(lines, "  "+m.spinner.View()+" "+m.st.Connecting.Render("retrying…"))
		case s.periodic:
			wait := max(st.nextAt.Sub(m.now()), 0)
			lines = append(lines, "  "+m.st.Dim.Render("retrying in "+fmtDuration(wait)+" (attempt "+fmtInt(int64(st.failures+1))+"); r retries now"))
		default:
			lines = append(lines, "  "+"r retries")
		}
		return lines
	}
	if s.connects {
		return []string{"", "  " + m.spinner.View() + " " + m.st.Connecting.Render("connecting to "+orDash(broker)+"…")}
	}
	return []string{"", "  " + m.spinner.View() + " " + m.st.Connecting.Render("loading "+what+"…")}
}
