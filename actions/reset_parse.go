package actions

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mqops/mqops/backends"
)

// The values of reset-offsets, parsed as Apache Kafka's
// kafka-consumer-groups (4.1) parses them, where its meaning is clear.
// Where Kafka accepts something ambiguous (a zone +0530 it reads as +05,
// ".5" read as 5 ms, trailing text it ignores, a time before 1970 it turns
// into a special offset), mqops refuses it and says why, rather than
// guess either way.

// MaxTopicName is the longest topic name Kafka accepts.
const MaxTopicName = 249

// CheckTopicName refuses what cannot be a Kafka topic name: empty, longer
// than 249, "." or "..", or with a character other than ASCII letters,
// digits, ".", "_" and "-".
func CheckTopicName(field, t string) error {
	bad := t == "" || len(t) > MaxTopicName || t == "." || t == ".."
	for i := 0; i < len(t) && !bad; i++ {
		c := t[i]
		bad = !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-')
	}
	if bad {
		return &FieldError{field, fmt.Sprintf("%s is not a topic name (Kafka's use letters, digits, \".\", \"_\" and \"-\", at most %d)", quote(t), MaxTopicName)}
	}
	return nil
}

// cutForError keeps an operator's bad value short in an error.
func cutForError(s string) string {
	if cut, ok := cutString(s, 80); ok {
		return cut + "…"
	}
	return s
}

// quote is an operator's bad value for an error: cut short, sanitized and
// between quotes. (SafeText writes what the terminal must not see as
// escapes; %q would escape those escapes again: "\\x1b".)
func quote(s string) string { return `"` + backends.SafeText(cutForError(s)) + `"` }

// ResetScope is the partitions a reset covers: every partition of Topics,
// and the Partitions named.
type ResetScope struct {
	Topics     []string           `json:"topics,omitempty"`
	Partitions map[string][]int32 `json:"partitions,omitempty"`
}

// ParseTopicScope parses --topic values: T (every partition of T) or
// T:0,2,5 (those partitions), as kafka-consumer-groups takes them. A topic
// or partition given twice counts once.
func ParseTopicScope(specs []string) (ResetScope, error) {
	var sc ResetScope
	whole := map[string]bool{}
	parts := map[string]map[int32]bool{}
	for _, spec := range specs {
		topic, list, hasParts := strings.Cut(spec, ":")
		if err := CheckTopicName("topic", topic); err != nil {
			return sc, err
		}
		if !hasParts {
			if !whole[topic] {
				whole[topic] = true
				sc.Topics = append(sc.Topics, topic)
			}
			continue
		}
		if list == "" {
			return sc, &FieldError{"topic", fmt.Sprintf("%s names no partition: want %s:0,2,5, or %s for all its partitions", quote(spec), topic, topic)}
		}
		for _, s := range strings.Split(list, ",") {
			p, err := strconv.ParseInt(s, 10, 32)
			if err != nil || p < 0 {
				return sc, &FieldError{"topic", fmt.Sprintf("%s: %s is not a partition number (want 0 to %d)", quote(spec), quote(s), math.MaxInt32)}
			}
			if parts[topic] == nil {
				parts[topic] = map[int32]bool{}
			}
			parts[topic][int32(p)] = true
		}
	}
	for t, ps := range parts {
		if whole[t] {
			continue // all its partitions already
		}
		if sc.Partitions == nil {
			sc.Partitions = map[string][]int32{}
		}
		for p := range ps {
			sc.Partitions[t] = append(sc.Partitions[t], p)
		}
		sort.Slice(sc.Partitions[t], func(i, j int) bool { return sc.Partitions[t][i] < sc.Partitions[t][j] })
	}
	return sc, nil
}

// ParseOffset parses an absolute offset: a whole number from 0 to the
// largest int64.
func ParseOffset(field, s string) (int64, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return 0, &FieldError{field, fmt.Sprintf("%s is out of range: an offset is at most %d", backends.SafeText(cutForError(s)), int64(math.MaxInt64))}
	case err != nil:
		return 0, &FieldError{field, fmt.Sprintf("%s is not an offset: want a whole number from 0 to %d", quote(s), int64(math.MaxInt64))}
	case v < 0:
		return 0, &FieldError{field, fmt.Sprintf("%d is not an offset: offsets start at 0 (to move back from the current offset, use --shift-by %d)", v, v)}
	}
	return v, nil
}

// ParseShift parses --shift-by: a whole number, negative to move back.
func ParseShift(s string) (int64, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return 0, &FieldError{"shift-by", fmt.Sprintf("%s is out of range: want %d to %d", backends.SafeText(cutForError(s)), int64(math.MinInt64), int64(math.MaxInt64))}
	case err != nil:
		return 0, &FieldError{"shift-by", fmt.Sprintf("%s is not a whole number of records (want e.g. -100 or 50)", quote(s))}
	}
	return v, nil
}

// kafkaDateTime is the datetime kafka-consumer-groups accepts
// (Utils.getDateTime: yyyy-MM-dd'T'HH:mm:ss.SSS then an optional zone, Z
// or ±hh:mm or ±hh, UTC without one), each number of any length, as Java's
// SimpleDateFormat reads them. mqops also takes the seconds without
// milliseconds (Kafka refuses those).
var kafkaDateTime = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^([0-9]+)-([0-9]+)-([0-9]+)T([0-9]+):([0-9]+):([0-9]+)(?:\.([0-9]+))?(Z|[+-][0-9]+(?::[0-9]+)?)?$`)
}) // compiled when first used: not in every command's start

// ParseDateTime parses --to-datetime as Kafka's tool does, and returns it
// in milliseconds since the epoch (what ListOffsets takes). It refuses
// what Kafka would read otherwise than an operator does: milliseconds not
// written with 3 digits (Kafka reads ".5" as 5 ms), a zone ±hhmm (Kafka
// reads +0530 as +05:00), a zone Kafka's parser refuses or misreads
// (outside -13:00..+14:00), and a time before 1970 (which Kafka sends as
// one of ListOffsets' special values, -1 meaning the log end).
func ParseDateTime(s string) (int64, error) {
	const want = "want yyyy-MM-ddTHH:mm:ss.SSS with an optional zone (Z, +hh:mm, -hh:mm or ±hh; UTC without one), e.g. 2024-05-01T10:32:00.000+02:00"
	in := strings.TrimSpace(s)
	bad := func(why string) error {
		return &FieldError{"to-datetime", fmt.Sprintf("%s %s: %s", quote(s), why, want)}
	}
	m := kafkaDateTime().FindStringSubmatch(in)
	if m == nil {
		return 0, bad("is not a date and time")
	}
	num := func(i int) int {
		v, err := strconv.Atoi(m[i])
		if err != nil || v > 1e9 {
			return -1
		}
		return v
	}
	y, mo, d, h, mi, sec := num(1), num(2), num(3), num(4), num(5), num(6)
	ms := 0
	if m[7] != "" {
		if len(m[7]) != 3 {
			return 0, bad("has milliseconds not written with 3 digits (Kafka's tool reads \".5\" as 5 ms, not 500)")
		}
		ms = num(7)
	}
	if y < 0 || y > 9999 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59 || h < 0 || mi < 0 || sec < 0 {
		return 0, bad("is out of range")
	}
	if d > daysIn(y, time.Month(mo)) {
		return 0, bad("is not a day of that month")
	}
	offset := 0 // seconds east of UTC
	switch z := m[8]; {
	case z == "" || z == "Z":
	default:
		sign := 1
		if z[0] == '-' {
			sign = -1
		}
		hh, mm, colon := z[1:], "0", false
		if i := strings.IndexByte(hh, ':'); i >= 0 {
			hh, mm, colon = hh[:i], hh[i+1:], true
		}
		switch {
		case len(hh) == 4 && !colon:
			return 0, bad(fmt.Sprintf("has the zone %s, which Kafka's tool reads as %s%s:00 (write %s%s:%s)", z, z[:1], hh[:2], z[:1], hh[:2], hh[2:]))
		case len(hh) != 2 || (colon && len(mm) != 2):
			return 0, bad("has a zone that is not ±hh:mm or ±hh")
		}
		zh, _ := strconv.Atoi(hh)
		zm, _ := strconv.Atoi(mm)
		offset = sign * (zh*3600 + zm*60)
		if zm > 59 || offset > 14*3600 || offset < -13*3600 {
			return 0, bad("has a zone outside -13:00 to +14:00 (Kafka's tool refuses or misreads those)")
		}
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, ms*int(time.Millisecond), time.FixedZone("", offset))
	if t.Before(time.Unix(0, 0)) {
		return 0, bad("is before 1970-01-01T00:00:00.000Z (Kafka's tool would send it as a special offset)")
	}
	return t.UnixMilli(), nil
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// javaDuration is the grammar of java.time.Duration.parse, which
// kafka-consumer-groups uses for --by-duration: PnDTnHnMn.nS, each part
// optional and signed, the whole optionally signed, case-insensitive.
var javaDuration = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)^([-+]?)P(?:([-+]?[0-9]+)D)?(T(?:([-+]?[0-9]+)H)?(?:([-+]?[0-9]+)M)?(?:([-+]?[0-9]+)(?:[.,]([0-9]{0,9}))?S)?)?$`)
}) // compiled when first used: not in every command's start

// ParseResetDuration parses --by-duration: ISO 8601 as Java's
// Duration.parse reads it (PnDTnHnMn.nS, e.g. PT30M, P1DT2H), or a Go
// duration (30m, 1h30m). A duration is not negative (it reaches back from
// now) and at most 290 years.
func ParseResetDuration(s string) (time.Duration, error) {
	const want = "want ISO 8601 as Kafka's tool takes it (PnDTnHnMn.nS, e.g. PT30M or P1DT2H) or a Go duration (e.g. 30m, 1h30m)"
	in := strings.TrimSpace(s)
	bad := func(why string) error {
		return &FieldError{"by-duration", fmt.Sprintf("%s %s: %s", quote(s), why, want)}
	}
	var d time.Duration
	if t := strings.TrimLeft(in, "+-"); strings.HasPrefix(t, "P") || strings.HasPrefix(t, "p") {
		m := javaDuration().FindStringSubmatch(in)
		if m == nil || (m[2] == "" && m[3] == "") || (m[3] != "" && m[4] == "" && m[5] == "" && m[6] == "") {
			return 0, bad("is not a duration")
		}
		total := new(big.Int)
		add := func(v string, unit int64) bool {
			if v == "" {
				return true
			}
			n, ok := new(big.Int).SetString(strings.TrimPrefix(v, "+"), 10)
			if !ok {
				return false
			}
			total.Add(total, n.Mul(n, big.NewInt(unit)))
			return true
		}
		ok := add(m[2], int64(24*time.Hour)) && add(m[4], int64(time.Hour)) && add(m[5], int64(time.Minute)) && add(m[6], int64(time.Second))
		if ok && m[7] != "" {
			frac, _ := strconv.ParseInt((m[7] + "000000000")[:9], 10, 64)
			if strings.HasPrefix(m[6], "-") {
				frac = -frac
			}
			total.Add(total, big.NewInt(frac))
		}
		if m[1] == "-" {
			total.Neg(total)
		}
		if !ok || !total.IsInt64() {
			return 0, bad("is out of range")
		}
		d = time.Duration(total.Int64())
	} else {
		var err error
		if d, err = time.ParseDuration(in); err != nil {
			if strings.HasSuffix(in, "d") {
				return 0, bad("is not a duration (Go durations have no days: write P" + strings.TrimSuffix(in, "d") + "D)")
			}
			return 0, bad("is not a duration")
		}
	}
	if d < 0 {
		return 0, bad("is negative (it would reach into the future)")
	}
	return d, nil
}

// MaxResetFile bounds a --from-file CSV: about 400,000 partitions.
const MaxResetFile = 16 << 20

// maxOthersShown bounds the other groups a --from-file error names.
const maxOthersShown = 3

// ResetFileRow is one line of a --from-file CSV.
type ResetFileRow struct {
	Line int
	backends.KafkaOffset
}

// ParseResetFile parses a --from-file CSV as kafka-consumer-groups writes
// it (--export) and reads it: topic,partition,offset per line, or
// group,topic,partition,offset (the rows of group are taken). No header;
// a UTF-8 byte order mark first (a spreadsheet's "CSV UTF-8") is skipped.
// Every error names its line. Blank lines are skipped; a partition given
// twice, a negative offset and a file with no row for group are errors.
func ParseResetFile(data []byte, group string) ([]ResetFileRow, error) {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff"))))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.ReuseRecord = true
	var rows []ResetFileRow
	width := 0
	seen := map[string]int{}
	var others []string // the first few other groups named
	otherLines := 0
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("line %d: %s", pe.Line, pe.Err)
		}
		if err != nil {
			return nil, err
		}
		line, _ := r.FieldPos(0)
		if width == 0 {
			width = len(rec)
		}
		if len(rec) != width || (width != 3 && width != 4) {
			return nil, fmt.Errorf("line %d: %d fields: want topic,partition,offset (or group,topic,partition,offset on every line)", line, len(rec))
		}
		if width == 4 {
			if g := strings.TrimSpace(rec[0]); g != group {
				if otherLines++; len(others) <= maxOthersShown && !slices.Contains(others, g) {
					others = append(others, g)
				}
				continue
			}
			rec = rec[1:]
		}
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		if err := CheckTopicName("topic", rec[0]); err != nil {
			return nil, fmt.Errorf("line %d: %s", line, strings.TrimPrefix(err.Error(), "--topic: "))
		}
		p, err := strconv.ParseInt(rec[1], 10, 32)
		if err != nil || p < 0 {
			return nil, fmt.Errorf("line %d: %s is not a partition number (want 0 to %d)", line, quote(rec[1]), math.MaxInt32)
		}
		off, err := ParseOffset("offset", rec[2])
		if err != nil {
			return nil, fmt.Errorf("line %d: %s", line, strings.TrimPrefix(err.Error(), "--offset: "))
		}
		key := rec[0] + "/" + rec[1]
		if first, dup := seen[key]; dup {
			return nil, fmt.Errorf("line %d: %s partition %d again (first on line %d)", line, rec[0], p, first)
		}
		seen[key] = line
		rows = append(rows, ResetFileRow{Line: line, KafkaOffset: backends.KafkaOffset{Topic: rec[0], Partition: int32(p), Offset: off}})
	}
	if len(rows) == 0 {
		if otherLines > 0 {
			names := make([]string, 0, len(others))
			for i, g := range others {
				if i == maxOthersShown {
					names = append(names, "…")
					break
				}
				names = append(names, quote(g))
			}
			return nil, fmt.Errorf("no line for consumer group %s: its lines have 4 fields, read as group,topic,partition,offset, and name other groups: %s (%d lines)",
				quote(group), strings.Join(names, ", "), otherLines)
		}
		return nil, errors.New("no offsets in the file")
	}
	return rows, nil
}

// WriteResetCSV writes offsets as --from-file (and Kafka's --export for
// one group) reads them: topic,partition,offset, one a line.
func WriteResetCSV(w io.Writer, offsets []backends.KafkaOffset) error {
	var b bytes.Buffer
	for _, o := range offsets {
		fmt.Fprintf(&b, "%s,%d,%d\n", o.Topic, o.Partition, o.Offset)
	}
	_, err := w.Write(b.Bytes())
	return err
}
