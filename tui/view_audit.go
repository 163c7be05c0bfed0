package tui

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/mqops/mqops/actions"
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
	seq     uint64 // the read in flight
	loading bool
	loaded  bool
	err     error
	bad     int    // corrupt lines skipped
	path    string // "" without an audit log
	entries map[string]actions.AuditEntry
	tbl     *table
	sum     summaryLines
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
	t := newTable([]column{
		acTime:     {title: "TIME", num: true, desc: true, drop: 1},
		acUser:     {title: "USER", flex: true, min: 6, max: 12, shrink: 3, drop: 6},
		acAction:   {title: "ACTION", drop: 10},
		acOutcome:  {title: "OUTCOME"},
		acContext:  {title: "CONTEXT", flex: true, min: 7, max: 12, shrink: 3, drop: 5},
		acRoute:    {title: "SOURCE → TARGET", flex: true, name: true, min: 16},
		acDone:     {title: "DONE", right: true, num: true, desc: true},
		acFailed:   {title: "FAILED", right: true, num: true, desc: true, drop: 8},
		acRun:      {title: "RUN ID", flex: true, min: 10, max: 28, shrink: 4, drop: 9},
		acDuration: {title: "DURATION", right: true, num: true, desc: true, drop: 4},
		acError:    {title: "ERROR / REASON", flex: true, min: 12, shrink: 2, drop: 7},
	}, acTime, true)
	t.empty = "the audit log is empty: drains are recorded here"
	return &auditView{path: path, tbl: t, entries: map[string]actions.AuditEntry{}}
}

func (v *auditView) local()        {}
func (v *auditView) id() string    { return "audit" }
func (v *auditView) crumb() string { return "audit log" }

// header shows the state of the reading (the body names the file).
func (v *auditView) header(m *Model) (string, []string) {
	switch {
	case v.path == "":
		return "", []string{m.st.dim.Render("no audit log"), ""}
	case v.loading:
		return "", []string{m.st.dim.Render("reading…"), ""}
	case v.err != nil:
		return "", []string{m.st.flashError.Render("unreadable"), ""}
	}
	return "", []string{m.st.dim.Render("read; r rereads"), m.st.dim.Render("read"), ""}
}

func (v *auditView) noun() string               { return "entries" }
func (v *auditView) build(*dataset, *styles)    {}
func (v *auditView) builtGen() uint64           { return 0 }
func (v *auditView) focused() *table            { return v.tbl }
func (v *auditView) summary(width int) []string { return v.sum.wrap(width) }
func (v *auditView) togglePane() bool           { return false }
func (v *auditView) layout(width, height int)   { v.tbl.setSize(width, height) }

func (v *auditView) body(st *styles) []string {
	if !v.loaded {
		return nil // the summary says why
	}
	return v.tbl.view(st, true)
}

func (v *auditView) open() (view, bool) {
	r, ok := v.tbl.selected()
	if !ok {
		return nil, false
	}
	e, ok := v.entries[r.id]
	if !ok {
		return nil, false
	}
	return newAuditDetailView(e), true
}

// openAudit is :audit.
func (m *Model) openAudit() tea.Cmd {
	v := m.newAuditView()
	return tea.Batch(m.replace(v), m.loadAudit(v))
}

// newAuditView is the :audit view of this console's audit log.
func (m *Model) newAuditView() *auditView {
	path := ""
	if m.opts.Audit != nil {
		path = m.opts.Audit.Path
	}
	v := newAuditView(path)
	v.setSummary(&m.st)
	return v
}

// auditKey handles `r` on the audit views (they are not refreshed by the
// refresh loop).
func (m *Model) auditKey(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	if msg.String() != "r" {
		return nil, false
	}
	switch v := m.top().(type) {
	case *auditView:
		if v.loading {
			return m.setFlash(flashInfo, "the audit log is being read"), true
		}
		return m.loadAudit(v), true
	case *auditDetailView:
		return nil, true
	}
	return nil, false
}

type auditMsg struct {
	seq     uint64
	entries []actions.AuditEntry
	bad     int
	err     error
}

// loadAudit reads the log in a command.
func (m *Model) loadAudit(v *auditView) tea.Cmd {
	if m.opts.Audit == nil {
		v.loaded = true
		v.setSummary(&m.st)
		return nil
	}
	v.seq = m.nextLocalSeq()
	v.loading = true
	v.setSummary(&m.st)
	log, seq := m.opts.Audit, v.seq
	return func() tea.Msg {
		es, bad, err := log.Read(auditLimit)
		return auditMsg{seq: seq, entries: es, bad: bad, err: err}
	}
}

func (msg auditMsg) update(m *Model) tea.Cmd {
	v, ok := m.top().(*auditView)
	if !ok || v.seq != msg.seq || !v.loading {
		return nil
	}
	v.loading = false
	v.err = msg.err
	v.bad = msg.bad
	var cmd tea.Cmd
	if msg.err != nil {
		cmd = m.setFlash(flashError, "reading the audit log failed (r retries): "+errText(msg.err))
	}
	if msg.err == nil || len(msg.entries) > 0 {
		v.setEntries(msg.entries)
		v.loaded = true
	}
	v.setSummary(&m.st)
	return cmd
}

func (v *auditView) setSummary(st *styles) {
	kv := func(k, val string) string { return st.summaryKey.Render(k+" ") + val }
	switch {
	case v.path == "":
		v.sum = summaryLines{extra: []string{st.flashWarn.Render("no audit log configured: drains are not recorded")}}
		return
	case !v.loaded && v.err != nil:
		v.sum = summaryLines{parts: []string{kv("audit log", safe(v.path))},
			extra: []string{st.flashError.Render("cannot read the audit log: " + errText(v.err)), st.dim.Render("r retries")}}
		return
	case !v.loaded:
		v.sum = summaryLines{parts: []string{kv("audit log", safe(v.path))}, extra: []string{st.connecting.Render("reading the audit log…")}}
		return
	}
	parts := []string{kv("audit log", safe(v.path)), kv("entries", fmtInt(int64(len(v.tbl.rows))))}
	if len(v.tbl.rows) >= auditLimit {
		parts = append(parts, st.dim.Render("(the newest "+fmtInt(auditLimit)+")"))
	}
	v.sum = summaryLines{parts: parts}
	if v.bad > 0 {
		v.sum.extra = append(v.sum.extra, st.flashWarn.Render("! "+fmtInt(int64(v.bad))+" corrupt line(s) skipped"))
	}
	if v.err != nil {
		v.sum.extra = append(v.sum.extra, st.flashError.Render("✗ "+errText(v.err)))
	}
	v.sum.extra = append(v.sum.extra, st.dim.Render("newest first · enter shows an entry · / filters · r reloads"))
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
	rows := make([]row, 0, len(es))
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
		rows = append(rows, row{
			id: id,
			cells: []string{
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
			styles: []cellStyle{acTime: cellDim, acOutcome: outcomeStyle(e.Outcome), acError: whyStyle(e)},
			nums:   []float64{acTime: float64(rank), acDone: doneKey, acFailed: failedKey, acDuration: durKey},
		})
	}
	v.tbl.setRows(rows)
}

func outcomeStyle(o string) cellStyle {
	switch o {
	case actions.OutcomeExecuted:
		return cellOK
	case actions.OutcomeFailed:
		return cellError
	case actions.OutcomeCancelled, actions.OutcomeRefused:
		return cellWarn
	case actions.OutcomeDryRun:
		return cellDim
	}
	return cellPlain
}

// whyStyle is the style of the error / reason cell: an error is red, a
// reason (a refusal's, a dry run's) dim.
func whyStyle(e actions.AuditEntry) cellStyle {
	if e.Error != "" {
		return cellError
	}
	return cellDim
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
	tbl    *table
	wrapW  int
}

func newAuditDetailView(e actions.AuditEntry) *auditDetailView {
	t := newTable([]column{
		{title: "FIELD", nosort: true},
		{title: "VALUE", flex: true, min: 16, nosort: true},
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
func (v *auditDetailView) id() string {
	return "audit/" + v.e.Time.UTC().Format(time.RFC3339Nano) + "/" + v.e.RunID
}
func (v *auditDetailView) noun() string            { return "lines" }
func (v *auditDetailView) build(*dataset, *styles) {}
func (v *auditDetailView) builtGen() uint64        { return 0 }
func (v *auditDetailView) focused() *table         { return v.tbl }
func (v *auditDetailView) summary(int) []string    { return nil }
func (v *auditDetailView) togglePane() bool        { return false }
func (v *auditDetailView) open() (view, bool)      { return nil, false }
func (v *auditDetailView) body(st *styles) []string {
	return v.tbl.view(st, true)
}

func (v *auditDetailView) crumb() string {
	if v.e.RunID != "" {
		return "run " + safe(v.e.RunID)
	}
	return auditTime(v.e.Time)
}

func (v *auditDetailView) layout(width, height int) {
	v.rewrap(width)
	v.tbl.setSize(width, height)
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
	valW := max(width-gutter-labelW-colGap-sortArrow-1, 16)
	var rows []row
	for i, f := range v.fields {
		style := cellPlain
		if f[0] == "error" && f[1] != "-" {
			style = cellError
		}
		parts := strings.Split(ansi.Wrap(f[1], valW, ""), "\n")
		for j, p := range parts {
			label := f[0]
			if j > 0 {
				label = ""
			}
			rows = append(rows, row{
				id:     itoa(i) + "." + itoa(j),
				cells:  []string{label, p},
				styles: []cellStyle{cellDim, style},
			})
		}
	}
	v.tbl.setRows(rows)
}
