// Package actions holds the operations that change something on a cluster:
// drain, replay, resend, reset-offsets. Each is a plan (a dry-run preview of
// exactly what will change) → execute (cancellable, rate-limited, reporting
// progress) → result, appended to the audit log. Actions know nothing of the
// console: the TUI and the CLI both call them.
package actions
