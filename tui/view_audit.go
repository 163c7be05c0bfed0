package tui

import (
	"context"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/tui/components"
	"github.com/mqops/mqops/tui/keys"
	"github.com/mqops/mqops/tui/styles"
)

// :audit shows the audit log (Options.Audit), newest first: what was done,
// by whom, where and how it ended, from the entries' typed fields (lines
// written before entries were typed are read into them by actions). It
// reads the log in a command when opened and on `r`; enter opens one
// entry with its equivalent command line, plan and result. It changes
// nothing, so it is there in read-only contexts too.

// auditLimit is how many of the newest entries the view loads.
const auditLimit = 10_000

type auditView struct {
	st      loadState
	bad     int    // corrupt lines skipped
	readErr error  // what stopped the last read after some entries
	path    string // "" without an audit log
	entries map[string]actions.AuditEntry
	tbl     *components.Table
	sum     components.Summary
}

const (
	acTime = iota
	acUser
	acAction
	acOutcome
	acContext
	acRoute
	acDone
	acFailed
	acRun
	acDuration
	acError
)

func newAuditView(path string) *auditView {
	t := components.NewTable([]components.Column{
		acTime:     {Title: "TIME", Num: true, Desc: true, Drop: 1},
		acUser:     {Title: "USER", Flex: true, Min: 6, Max: 12, Shrink: 3, Drop: 6},
		acAction:   {Title: "ACTION", Drop: 10},
		acOutcome:  {Title: "OUTCOME"},
		acContext:  {Title: "CONTEXT", Flex: true, Min: 7, Max: 12, Shrink: 3, Drop: 5},
		acRoute:    {Title: "SOURCE → TARGET", Flex: true, Name: true, Min: 16},
		acDone:     {Title: "DONE", Right: true, Num: true, Desc: true},
		acFailed:   {Title: "FAILED", Right: true, Num: true, Desc: true, Drop: 8},
		acRun:      {Title: "RUN ID", Flex: true, Min: 10, Max: 28, Shrink: 4, Drop: 9},
		acDuration: {Title: "DURATION", Right: true, Num: true, Desc: true, Drop: 4},
		acError:    {Title: "ERROR / REASON", Flex: true, Min: 12, Shrink: 2, Drop: 7},
	}, acTime, true)
	t.Empty = "the audit log is empty: drains are recorded here"
	return &auditView{path: path, tbl: t, entries: map[string]actions.AuditEntry{}}
}

func (v *auditView) id() string    { return "audit" }
func (v *auditView) crumb() string { return "audit log" }

func (v *auditView) noun() string               { return "entries" }
func (v *auditView) focused() *components.Table { return v.tbl }
func (v *auditView) summary(width int) []string { return v.sum.Wrap(width) }
func (v *auditView) togglePane() bool           { return false }
func (v *auditView) layout(width, height int)   { v.tbl.SetSize(width, height) }

func (v *auditView) body(st *styles.Styles) []string { return v.tbl.View(st, true) }

// keys: enter opens the entry.
func (v *auditView) keys(k *keys.Map) []keys.Binding {
	return []keys.Binding{k.Open.With("open the entry: every field, its plan and result", "entry")}
}

func (v *auditView) open() (view, bool) {
	r, ok := v.tbl.Selected()
	if !ok {
		return nil, false
	}
	e, ok := v.entries[r.ID]
	if !ok {
		return nil, false
	}
	return newAuditDetailView(e), true
}

// openAudit is :audit.
func (m *Model) openAudit() tea.Cmd { return m.replace(m.newAuditView()) }

// newAuditView is the :audit view of this console's audit log.
func (m *Model) newAuditView() *auditView {
	path := ""
	if m.opts.Audit != nil {
		path = m.opts.Audit.Path
	}
	return newAuditView(path)
}

// auditRead is one read of the log: the entries, the corrupt lines
// skipped and what stopped the read after some entries, if anything.
type auditRead struct {
	entries []actions.AuditEntry
	bad     int
	err     error
}

// source: the log file, read when opened and on `r` (it is no broker: it
// changes only when this console or the CLI writes it).
func (v *auditView) source(m *Model) source {
	s := source{what: "the audit log", state: &v.st,
		unconfigured: "no audit log configured: drains are not recorded",
		noSource:     []string{"no audit log", ""}}
	if log := m.opts.Audit; log != nil {
		s.fetch = fetching(func(context.Context) (*auditRead, error) {
			es, bad, err := log.Read(auditLimit)
			if err != nil && len(es) == 0 {
				return nil, err
			}
			return &auditRead{entries: es, bad: bad, err: err}, nil
		}, v.apply)
	}
	return s
}

// apply installs a read; one that stopped after some entries shows them
// and says why.
func (v *auditView) apply(r *auditRead, _ time.Time, st *styles.Styles) notice {
	v.bad, v.readErr = r.bad, r.err
	v.setEntries(r.entries)
	v.setSummary(st)
	if r.err != nil {
		return notice{components.FlashError, "reading the audit log failed (r retries): " + errText(r.err)}
	}
	return notice{}
}

func (v *auditView) setSummary(st *styles.Styles) {
	kv := func(k, val string) string { return st.SummaryKey.Render(k+" ") + val }
	parts := []string{kv("audit log", safe(v.path)), kv("entries", fmtInt(int64(len(v.tbl.Rows()))))}
	if len(v.tbl.Rows()) >= auditLimit {
		parts = append(parts, st.Dim.Render("(the newest "+fmtInt(auditLimit)+")"))
	}
	v.sum = components.Summary{Parts: parts}
	if v.bad > 0 {
		v.sum.Extra = append(v.sum.Extra, st.FlashWarn.Render("! "+fmtInt(int64(v.bad))+" corrupt line(s) skipped"))
	}
	if v.readErr != nil {
		v.sum.Extra = append(v.sum.Extra, st.FlashError.Render("✗ "+errText(v.readErr)))
	}
	v.sum.Extra = append(v.sum.Extra, st.Dim.Render("newest first · enter shows an entry · / filters · r reloads"))
}

func (v *auditView) setEntries(es []actions.AuditEntry) {
	// The log is appended in time order; the rank keeps that order among
	// entries of the same second.
	order := make([]int, len(es))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return es[a].Time.Compare(es[b].Time) })
	v.entries = make(map[string]actions.AuditEntry, len(es))
	rows := make([]components.Row, 0, len(es))
	for rank, i := range order {
		e := es[i]
		id := e.Time.UTC().Format(time.RFC3339Nano) + "\x00" + e.RunID + "\x00" + e.Action + "\x00" + e.Outcome + "\x00" + itoa(i)
		v.entries[id] = e
		done, doneKey, failed, failedKey := "-", math.NaN(), "-", math.NaN()
		if r := e.Result; r != nil {
			done, doneKey = fmtInt(r.Done), float64(r.Done)
			failed, failedKey = fmtInt(r.Failed), float64(r.Failed)
		}
		why := e.Error
		if why == "" {
			why = e.Reason
		}
		dur := "-"
		durKey := math.NaN()
		if e.DurationMS > 0 {
			dur, durKey = fmtMillis(e.DurationMS), float64(e.DurationMS)
		}
		rows = append(rows, components.Row{
			ID: id,
			Cells: []string{
				acTime:     auditTime(e.Time),
				acUser:     safe(orDash(e.User)),
				acAction:   safe(orDash(e.Action)),
				acOutcome:  safe(orDash(e.Outcome)),
				acContext:  safe(orDash(e.Context)),
				acRoute:    auditRoute(e),
				acDone:     done,
				acFailed:   failed,
				acRun:      safe(orDash(e.RunID)),
				acDuration: dur,
				acError:    safe(orDash(oneLine(why))),
			},
			Styles: []styles.CellStyle{acTime: styles.CellDim, acOutcome: outcomeStyle(e.Outcome), acError: whyStyle(e)},
			Nums:   []float64{acTime: float64(rank), acDone: doneKey, acFailed: failedKey, acDuration: durKey},
		})
	}
	v.tbl.SetRows(rows)
}

func outcomeStyle(o string) styles.CellStyle {
	switch o {
	case actions.OutcomeExecuted:
		return styles.CellOK
	case actions.OutcomeFailed:
		return styles.CellError
	case actions.OutcomeCancelled, actions.OutcomeRefused:
		return styles.CellWarn
	case actions.OutcomeDryRun:
		return styles.CellDim
	}
	return styles.CellPlain
}

// whyStyle is the style of the error / reason cell: an error is red, a
// reason (a refusal's, a dry run's) dim.
func whyStyle(e actions.AuditEntry) styles.CellStyle {
	if e.Error != "" {
		return styles.CellError
	}
	return styles.CellDim
}

func auditTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// auditRoute is "source → target", sanitized.
func auditRoute(e actions.AuditEntry) string {
	if e.Source == "" && e.Target == "" {
		return "-"
	}
	return safe(orDash(e.Source)) + " → " + safe(orDash(e.Target))
}

// oneLine joins the lines of an error message for a table cell.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// fmtMillis formats a duration in milliseconds (the audit log's).
func fmtMillis(ms int64) string {
	if ms < 1000 {
		return strconv.FormatInt(ms, 10) + "ms"
	}
	return fmtDuration(time.Duration(ms) * time.Millisecond)
}

// --- one entry --------------------------------------------------------------

// auditDetailView shows one entry, every field on its own line(s): the
// equivalent command line, the plan and the result (and the parameters of
// a line written before entries were typed); every string sanitized.
type auditDetailView struct {
	e      actions.AuditEntry
	fields [][2]string // label, value (sanitized), before wrapping
	tbl    *components.Table
	wrapW  int
}

func newAuditDetailView(e actions.AuditEntry) *auditDetailView {
	t := components.NewTable([]components.Column{
		{Title: "FIELD", NoSort: true},
		{Title: "VALUE", Flex: true, Min: 16, NoSort: true},
	}, -1, false)
	v := &auditDetailView{e: e, tbl: t}
	add := func(k, val string) { v.fields = append(v.fields, [2]string{k, val}) }
	count := func(k string, n int64) { add("  "+k, fmtInt(n)) }
	details := func(m map[string]any) {
		for _, k := range sortedKeys(m) {
			add("  "+safe(k), fmtValue(m[k]))
		}
	}
	add("time", e.Time.UTC().Format(time.RFC3339Nano))
	add("user", safe(orDash(e.User)))
	add("host", safe(orDash(e.Host)))
	add("context", safe(orDash(e.Context)))
	add("action", safe(orDash(e.Action)))
	add("run id", safe(orDash(e.RunID)))
	add("outcome", safe(orDash(e.Outcome)))
	if e.Reason != "" {
		add("reason", safe(e.Reason))
	}
	add("source", safe(orDash(e.Source)))
	add("target", safe(orDash(e.Target)))
	add("command", safe(orDash(e.Command)))
	add("duration", fmtMillis(e.DurationMS))
	add("error", safe(orDash(e.Error)))
	if p := e.Plan; p == nil {
		add("plan", "-")
	} else {
		add("plan", "")
		add("  summary", safe(orDash(p.Summary)))
		count("selected", p.Selected)
		count("skipped", p.Skipped)
		if p.Total > 0 {
			count("total", p.Total)
		}
		if p.Bytes > 0 {
			count("bytes", p.Bytes)
		}
		for _, pr := range p.Problems {
			add("  problem", safe(pr))
		}
		details(p.Details)
	}
	if r := e.Result; r == nil {
		add("result", "-")
	} else {
		add("result", "")
		count("done", r.Done)
		count("skipped", r.Skipped)
		count("failed", r.Failed)
		if r.Left < 0 {
			add("  left", "unknown")
		} else {
			count("left", r.Left)
		}
		if r.Seen > 0 {
			count("seen", r.Seen)
		}
		add("  stopped_because", safe(orDash(r.StoppedBecause)))
		details(r.Details)
	}
	if len(e.Parameters) > 0 {
		add("parameters", "")
		details(e.Parameters)
	}
	v.rewrap(80)
	return v
}

func (v *auditDetailView) local() {}

// keys: c copies the selected field's value (the run id, the command).
func (v *auditDetailView) keys(k *keys.Map) []keys.Binding {
	return []keys.Binding{k.Copy.With("copy the selected field's value (OSC 52)", "copy value")}
}
func (v *auditDetailView) id() string {
	return "audit/" + v.e.Time.UTC().Format(time.RFC3339Nano) + "/" + v.e.RunID
}
func (v *auditDetailView) noun() string               { return "lines" }
func (v *auditDetailView) focused() *components.Table { return v.tbl }
func (v *auditDetailView) summary(int) []string       { return nil }
func (v *auditDetailView) togglePane() bool           { return false }
func (v *auditDetailView) open() (view, bool)         { return nil, false }
func (v *auditDetailView) body(st *styles.Styles) []string {
	return v.tbl.View(st, true)
}

func (v *auditDetailView) crumb() string {
	if v.e.RunID != "" {
		return "run " + safe(v.e.RunID)
	}
	return auditTime(v.e.Time)
}

func (v *auditDetailView) layout(width, height int) {
	v.rewrap(width)
	v.tbl.SetSize(width, height)
}

// rewrap splits long values over several rows to fit width.
func (v *auditDetailView) rewrap(width int) {
	if width == v.wrapW {
		return
	}
	v.wrapW = width
	labelW := 0
	for _, f := range v.fields {
		labelW = max(labelW, ansi.StringWidth(f[0]))
	}
	valW := max(width-components.Gutter-labelW-components.ColGap-components.SortArrow-1, 16)
	var rows []components.Row
	for i, f := range v.fields {
		style := styles.CellPlain
		if f[0] == "error" && f[1] != "-" {
			style = styles.CellError
		}
		parts := strings.Split(ansi.Wrap(f[1], valW, ""), "\n")
		for j, p := range parts {
			label := f[0]
			if j > 0 {
				label = ""
			}
			rows = append(rows, components.Row{
				ID:     itoa(i) + "." + itoa(j),
				Cells:  []string{label, p},
				Styles: []styles.CellStyle{styles.CellDim, style},
			})
		}
	}
	v.tbl.SetRows(rows)
}
