// Package tui is mqops' terminal console (Bubble Tea v2, k9s conventions).
//
// Rooms (imports run one way: tui → components → styles; tui → keys →
// styles; tui → action → components; nothing below tui knows a view or
// the root model):
//
//   - tui/styles: the look, in one place: the colours (the terminal's own
//     palette, and the context colour), every lipgloss style, the cell
//     styles rows store, inks for drawing rows without lipgloss.
//   - tui/keys: the keymap. A binding has its help line, its footer hint,
//     how long a narrow footer keeps it, and a Dangerous flag; the footer
//     line and the help screen's columns are generated from bindings.
//   - tui/components: reusable parts with no knowledge of the views: the
//     virtualized table (table.go), the sparkline, the flash line, the
//     summary lines, the one-line text inputs (palette, filter).
//   - tui/action: the one action screen (form → plan → confirmation →
//     progress → result), configured by a spec per action; it knows no
//     view and no action (the drains are specs: drain_spec.go; the view
//     stack holds it as an actionView: view_action.go).
//   - tui (this package): the root model, the views, the value viewer
//     (view_value.go) and the actions' specs.
//
// The root model (model.go) owns everything: the view stack (breadcrumbs),
// the refresh loop (refresh.go), the modes (palette, filter, help) and the
// flash line. Run starts it with tea.NewProgram; New returns it for tests
// and embedding. One file per view (view_*.go, kafka_dlq.go). A view turns
// its data into precomputed rows when they arrive, sanitizing every broker
// string with backends.SafeText; drawing only slices and pads the visible
// window of the table, so a frame costs the same on 20 or 20,000 rows.
//
// Loading (data.go, refresh.go): one way for every view. A view's source
// says what its data are, where they come from, whether they refresh on
// the schedule, where the outcome is kept, and a fetch function. The fetch
// runs in a tea.Cmd (no I/O in Update or View; commands capture values,
// never the model) and returns how its typed result applies; the result
// comes back tagged with the view id, a sequence number and the context,
// and one that is not the request in flight for the view on screen is
// dropped. At most one request is in flight; the next is scheduled with
// jitter, or with exponential backoff after failures, and the data of the
// last success stay on screen, marked stale. The header's state, the
// placeholder before the first data and the flash of a failure are drawn
// from the source. The Kafka views (groups, topics and their details)
// share one source, the cluster snapshot, and build their rows from the
// shared dataset; the RabbitMQ views (:queues, a queue, a dead-letter
// queue's groups, a peek), the Kafka dead-letter views, :dlq (both brokers
// in one request: one failing keeps the other's rows), :audit (the log
// file), and the application database's views (store.go: :pending, with
// the backlog beside its destinations read in the same request, :retry, a
// trace) each have their own. The database is opened lazily, in the first
// command that needs it (Options.OpenStore). The views that read messages load when
// opened, on a page turn and on `r` only, since every read gets and
// requeues; reading Kafka records commits nothing. A new kind of source
// (a database table) is a fetch function and an apply.
//
// Keys (viewkeys.go): each view declares its own keys, picked from the one
// keymap and described for it (enter opens what, tab where there are
// panes, p, D and R where they act, ] and [ in a peek, space where marks feed
// an action); only what it declares works there. The footer and `?` show
// the view's keys, then the console's that work on it; a stage that takes
// typed text (the filter, the palette, the action screen) shows its own
// keys (the action screen's are its stage's: action.Screen.Keys). A
// dangerous key (the drain, the reset) is unbound from the keymap in a read-only
// context (keys.Map.ReadOnly): no view can offer it there; so are the
// actions on the application's rows (E resend in :pending; T retry now, U
// republish, X give up in :retry: resend_spec.go, retry_spec.go).
//
// Marks (marks.go) feed the actions: in :dlq and :queues, D and p with
// rows marked go through the marked rows one after another, each with its
// own screen (a drain its own plan and confirmation); a drain that went
// through unmarks its row. In the groups view, R with groups marked
// resets them on one screen (reset_spec.go), in the order of their names. A view whose marks would feed nothing offers
// none. The README's key tables are generated from the keymap and the
// views' declarations (TestREADMEKeys).
//
// Timers go through Model.after, so tests fire them by hand; golden tests
// drive the model with direct Update calls and compare ANSI-stripped
// frames (testdata/).
package tui
