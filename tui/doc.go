// Package tui is mqops' terminal console (Bubble Tea v2, k9s conventions).
//
// Architecture:
//
//   - One root model (model.go) owns everything: the view stack (breadcrumbs),
//     the last good dataset (snapshot + lag analysis), the refresh loop, the
//     modes (palette, filter, help) and the flash line. Run starts it with
//     tea.NewProgram; New returns it for tests and embedding.
//   - One file per view (view_groups.go, view_group.go, view_topics.go,
//     view_topic.go). A view turns the dataset into precomputed rows in build,
//     when data arrives, sanitizing every broker string with
//     backends.SafeText; drawing only slices and pads the visible window of
//     the virtualized table (table.go), so a frame costs the same on 20 or
//     20,000 rows.
//   - One keymap (keys.go): the footer hints and the `?` help screen are
//     generated from it and from the palette's command table (palette.go).
//     One styles file (styles.go).
//   - No I/O in Update or View. A refresh (refresh.go) is a tea.Cmd that calls
//     KafkaSource.Snapshot with its own timeout and returns a snapshotMsg
//     tagged with the view id, a sequence number and the context name; a
//     result that is not the request in flight for the view on screen is
//     dropped. Commands capture values, never the model. At most one refresh
//     is in flight; the next is scheduled with jitter, or with exponential
//     backoff after failures, and the data of the last success stays on
//     screen, marked stale.
//   - The RabbitMQ views (view_queues.go: :queues, view_queue.go,
//     view_dlq.go, view_peek.go; rabbit.go) load their own data from
//     Options.Rabbit through the same machinery: a rabbitMsg tagged like a
//     snapshot, one request in flight, stale marking and backoff kept per
//     view. The lists and the queue detail refresh on the schedule; the
//     views that read messages (dead-letter groups, peek) load when opened,
//     on a page turn and on `r` only, since every read gets and requeues.
//   - :dlq (view_dlq.go) lists RabbitMQ's dead-letter queues and Kafka's
//     dead-letter topics (Options.KafkaDLQ) together; its one request asks
//     both sources at once, and one failing keeps the other's rows. The
//     Kafka dead-letter groups and peek (kafka_dlq.go) go through the same
//     machinery with their own source (sourcedView); reading records
//     commits nothing.
//   - Timers go through Model.after, so tests fire them by hand; golden tests
//     drive the model with direct Update calls and compare ANSI-stripped
//     frames (testdata/).
package tui
