package safejson_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/hostile"
	"github.com/mqops/mqops/backends/safejson"
)

// Types that exercise encoding/json's rules one by one.

type inner struct {
	A string `json:"a"`
	B int    `json:"b,omitempty"`
}

type Embedded struct {
	E1 string
	E2 string `json:"e2"`
	// Same name as a field of the outer struct: the outer one wins.
	Shadowed string `json:"shadowed"`
}

type embeddedPtr struct {
	P1 int `json:"p1"`
}

type conflictA struct{ Same string }
type conflictB struct{ Same string }
type taggedA struct {
	T string `json:"t"`
}
type untaggedB struct{ T string }

type zeroByValue struct{ n int }

func (z zeroByValue) IsZero() bool { return z.n == 42 }

type zeroByPtr struct{ n int }

func (z *zeroByPtr) IsZero() bool { return z.n == 7 }

type textKey struct{ a, b int }

func (k textKey) MarshalText() ([]byte, error) { return fmt.Appendf(nil, "%d-%d<&>", k.a, k.b), nil }

type ptrMarshaler struct{ V string }

func (p *ptrMarshaler) MarshalJSON() ([]byte, error) {
	return []byte(` { "by" : "pointer", "v" : ` + safejson.Quote(p.V) + ` } `), nil
}

type valText int

func (v valText) MarshalText() ([]byte, error) { return fmt.Appendf(nil, "t%d", int(v)), nil }

type textByte byte

func (t *textByte) MarshalText() ([]byte, error) { return []byte{'b', byte(*t)}, nil }

type list struct {
	V    int   `json:"v"`
	Next *list `json:"next,omitempty"`
}

type kitchen struct {
	Embedded
	*embeddedPtr
	inner     `json:"inner"`
	conflictA // Same is ambiguous: dropped
	conflictB
	taggedA // t: the tagged one wins
	untaggedB

	Shadowed   string             `json:"shadowed"`
	Skip       string             `json:"-"`
	Dash       string             `json:"-,"`
	BadTag     string             `json:"\"bad"`
	HTMLName   string             `json:"a<b>&c"`
	Quoted     int64              `json:"quoted,string"`
	QuotedF    float64            `json:",string"`
	QuotedB    bool               `json:"qb,string"`
	QuotedS    string             `json:"qs,string"`
	QuotedP    *int               `json:"qp,string"`
	OmitE      string             `json:"omit_e,omitempty"`
	OmitM      map[string]int     `json:"omit_m,omitempty"`
	OmitZ      time.Time          `json:"omit_z,omitzero"`
	OmitZV     zeroByValue        `json:"omit_zv,omitzero"`
	OmitZP     zeroByPtr          `json:"omit_zp,omitzero"`
	OmitZPtr   *zeroByPtr         `json:"omit_zptr,omitzero"`
	OmitZI     any                `json:"omit_zi,omitzero"`
	Bytes      []byte             `json:"bytes"`
	NilBytes   []byte             `json:"nil_bytes"`
	Array      [3]byte            `json:"array"`
	TextBytes  []textByte         `json:"text_bytes"`
	IntKeys    map[int]string     `json:"int_keys"`
	UintKeys   map[uint8]bool     `json:"uint_keys"`
	TextKeys   map[textKey]int    `json:"text_keys"`
	ValText    valText            `json:"val_text"`
	PtrM       ptrMarshaler       `json:"ptr_m"` // addressable: MarshalJSON
	PtrMP      *ptrMarshaler      `json:"ptr_mp"`
	NilPtrM    *ptrMarshaler      `json:"nil_ptr_m"`
	Raw        json.RawMessage    `json:"raw"`
	NilRaw     json.RawMessage    `json:"nil_raw"`
	Number     json.Number        `json:"number"`
	NoNumber   json.Number        `json:"no_number"`
	Time       time.Time          `json:"time"`
	Duration   time.Duration      `json:"duration"`
	Addr       netip.Addr         `json:"addr"`
	Iface      any                `json:"iface"`
	NilIface   any                `json:"nil_iface"`
	Floats     []float64          `json:"floats"`
	Floats32   []float32          `json:"floats32"`
	Ints       []int8             `json:"ints"`
	List       *list              `json:"list"`
	Empty      struct{}           `json:"empty"`
	Anon       struct{ X, Y int } `json:"anon"`
	Nested     [][]map[string]any `json:"nested"`
	unexported int
}

func sampleKitchen() kitchen {
	one := 1
	return kitchen{
		Embedded:    Embedded{E1: "e1", E2: "e2", Shadowed: "inner"},
		embeddedPtr: &embeddedPtr{P1: 5},
		inner:       inner{A: "in"},
		conflictA:   conflictA{"a"}, conflictB: conflictB{"b"},
		taggedA: taggedA{"tagged"}, untaggedB: untaggedB{"untagged"},
		Shadowed: "outer", Skip: "no", Dash: "dash", BadTag: "bad", HTMLName: "<html>",
		Quoted: -12, QuotedF: 1.5e-7, QuotedB: true, QuotedS: `say "hi" <b>`, QuotedP: &one,
		OmitZV: zeroByValue{42}, OmitZP: zeroByPtr{7}, OmitZPtr: &zeroByPtr{8},
		Bytes: []byte("\x00\xffbin"), Array: [3]byte{1, 2, 3},
		TextBytes: []textByte{'x', 'y'},
		IntKeys:   map[int]string{-1: "m", 10: "ten", 2: "two"},
		UintKeys:  map[uint8]bool{255: true, 0: false},
		TextKeys:  map[textKey]int{{1, 2}: 3, {0, 9}: 1},
		ValText:   7,
		PtrM:      ptrMarshaler{"x"}, PtrMP: &ptrMarshaler{"y"},
		Raw:      json.RawMessage(" [1, {\"k\" : \"v\"} , null]\n"),
		Number:   "-1.25e+10",
		Time:     time.Date(2024, 2, 29, 23, 59, 58, 123456789, time.FixedZone("X", 3600)),
		Duration: 3 * time.Second,
		Addr:     netip.MustParseAddr("::1"),
		Iface:    map[string]any{"z": []any{1.0, "s", nil, true}, "a": int64(1) << 60},
		Floats:   []float64{0, -0.0, 1, -1.5, 1e20, 1e21, 1e-6, 1e-7, 123456789.125, math.MaxFloat64, math.SmallestNonzeroFloat64, 5e-324},
		Floats32: []float32{0, 1e20, 1e21, 1e-6, 1e-7, 3.4028235e38, 1.1754944e-38, 0.1},
		Ints:     []int8{-128, 127},
		List:     &list{1, &list{2, &list{3, nil}}},
		Nested:   [][]map[string]any{{{"a": "b"}}, nil, {}},
	}
}

// valid UTF-8 strings free of the runes only safejson escapes: here both
// encoders must write the same bytes.
var commonStrings = []string{
	"", "orders", "grüße-日本", "emoji 👨\u200d👩\u200d👧 ❤\ufe0f", `quote " backslash \ slash /`,
	"<script>&amp;</script>", "tab\tnl\ncr\rbs\bff\f", "nul\x00esc\x1b[31m", "ls\u2028ps\u2029",
	"\U0010ffff \ufffd", strings.Repeat("long ", 500),
}

func repoValues() []any {
	lag := int64(12)
	part := int32(3)
	off := int64(99)
	at := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	var out []any
	for _, s := range commonStrings {
		out = append(out,
			s,
			map[string]string{s: s, "k": s},
			backends.Queue{Vhost: s, Name: s, Type: "quorum", Arguments: map[string]any{s: s, "x-max-length": 10.0, "x-list": []any{s, 1.5}}, Policy: s, PolicyDefinition: map[string]any{"dead-letter-exchange": s}, DeliveryLimit: &lag, PublishRate: 0.2, DLQReason: s},
			backends.Message{Index: 1, Exchange: s, RoutingKey: s, ContentType: s, MessageID: s, Timestamp: at, Headers: map[string]any{s: s, "b": []byte(s), "t": at, "n": nil, "l": []any{int64(1), 2.5, true, map[string]any{s: s}}}, Body: []byte(s), Size: len(s), Deaths: []backends.Death{{Queue: s, Reason: "rejected", RoutingKeys: []string{s}, Count: 2, Time: at}}, FirstDeath: &backends.Death{Queue: s}},
			backends.KafkaRecord{Topic: s, Partition: 1, Offset: 2, Timestamp: at, Key: []byte(s), Value: nil, Headers: []backends.KafkaHeader{{Key: s, Value: []byte(s)}}, DeadLetter: &backends.KafkaDeadLetterInfo{Format: "spring", OriginalTopic: s, OriginalPartition: &part, OriginalOffset: &off, ExceptionMessage: s}},
			backends.DeadLetterSummary{Backend: "kafka", Topic: s, Messages: 3, Sampled: 3, Groups: []backends.DeadLetterGroup{{Origin: s, Reason: s, Exception: s, Count: 3, First: at, Last: at}}, LeftToDrain: &lag},
			backends.ClusterSnapshot{TakenAt: at, ClusterID: s, Brokers: []backends.Broker{{ID: 1, Addr: s, Rack: s}}, Topics: []backends.Topic{{Name: s, Partitions: []backends.Partition{{Topic: s, Replicas: []int32{1}, ISR: []int32{}}}}}, Groups: []backends.Group{{Name: s, Members: []backends.Member{{ID: s, ClientID: s, Host: s, Assigned: map[string][]int32{s: {0, 1}}}}, Partitions: []backends.GroupPartition{{Topic: s, Committed: &off, Lag: &lag, MemberID: s}}}}},
			actions.AuditEntry{Time: at, User: s, Host: s, Context: s, Action: "drain", RunID: s, Source: s, Target: s, Reason: s, Command: s, Plan: &actions.AuditPlan{Summary: s, Selected: 3, Problems: []string{s}, Details: map[string]any{s: s, "n": 2.5}}, Result: &actions.AuditResult{Done: 1, Left: -1, StoppedBecause: s}, Outcome: "executed", Error: s, DurationMS: 5, Parameters: map[string]any{"source": s, "limit": 10, "rate": 2.5}},
			actions.DrainResult{RunID: s, Moved: 1, StoppedBecause: s, Seconds: 0.25, Rate: 4},
			&actions.DrainPlan{Source: s, To: s, Routes: []actions.PlanRoute{{Target: s, Count: 1, Problem: s}}, Problems: []string{s}},
		)
	}
	return append(out, sampleKitchen(), &[]kitchen{sampleKitchen()}, nil, 1.5, json.Number("1"), []any{nil})
}

// TestMatchesEncodingJSON: for valid UTF-8 free of the runes only safejson
// escapes, the output is byte for byte encoding/json's, for every type the
// repository prints as JSON and every rule of encoding/json.
func TestMatchesEncodingJSON(t *testing.T) {
	for i, v := range repoValues() {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%d: encoding/json: %v", i, err)
		}
		got, err := safejson.Marshal(v)
		if err != nil {
			t.Fatalf("%d (%T): %v", i, v, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%d (%T):\n got %s\nwant %s", i, v, got, want)
		}
		want, _ = json.MarshalIndent(v, "> ", "\t")
		got, err = safejson.MarshalIndent(v, "> ", "\t")
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%d (%T) indented: %v\n got %s\nwant %s", i, v, err, got, want)
		}
		var wb, gb bytes.Buffer
		je := json.NewEncoder(&wb)
		je.SetIndent("", "  ")
		je.SetEscapeHTML(false)
		if err := je.Encode(v); err != nil {
			t.Fatal(err)
		}
		if err := safejson.NewEncoder(&gb).SetIndent("", "  ").SetEscapeHTML(false).Encode(v); err != nil {
			t.Fatal(err)
		}
		if gb.String() != wb.String() {
			t.Fatalf("%d (%T) encoder:\n got %s\nwant %s", i, v, gb.String(), wb.String())
		}
	}
}

// TestHostileStringsSameStructure: with any string, valid UTF-8 or not,
// encoding/json reads safejson's output as the same value it reads from its
// own output (a \udcXX reads as U+FFFD, as encoding/json writes invalid
// bytes), and safejson.Decode gives the original bytes back.
func TestHostileStringsSameStructure(t *testing.T) {
	for _, s := range hostile.Strings {
		for _, v := range []any{s, map[string]any{s: []any{s, map[string]string{s: s}}}, backends.Queue{Name: s, Arguments: map[string]any{s: s}}, backends.KafkaHeader{Key: s, Value: []byte(s)}} {
			want, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := safejson.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			assertSafe(t, got)
			var a, b any
			if err := json.Unmarshal(want, &a); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(got, &b); err != nil {
				t.Fatalf("%s: %v", got, err)
			}
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("%q: encoding/json reads %#v from safejson, %#v from itself", s, b, a)
			}
		}
		lit, _ := safejson.Marshal(map[string]string{s: s})
		doc, err := safejson.Decode(lit)
		if err != nil {
			t.Fatalf("%s: %v", lit, err)
		}
		if m := doc.(map[string]any); len(m) != 1 || m[s] != s {
			t.Fatalf("%q: decoded %#v", s, doc)
		}
	}
}

// assertSafe fails unless out is valid JSON without a raw unsafe rune or
// invalid UTF-8 anywhere.
func assertSafe(t testing.TB, out []byte) {
	t.Helper()
	if !json.Valid(out) {
		t.Fatalf("invalid JSON: %q", out)
	}
	if err := hostile.Check(out, '\n'); err != nil {
		t.Fatal(err)
	}
}

func TestEscapes(t *testing.T) {
	cases := map[string]string{
		"\x1b[31m":                       `"\u001b[31m"`,
		"\x7f":                           `"\u007f"`,
		"\u009b\u0085":                   `"\u009b\u0085"`,
		"\u202e\u2066\u200e\u200f\u061c": `"\u202e\u2066\u200e\u200f\u061c"`,
		"\ufeff\u2028\u2029":             `"\ufeff\u2028\u2029"`,
		"\xff\x9b":                       `"\udcff\udc9b"`,
		"\xed\xa0\x80":                   `"\udced\udca0\udc80"`,
		"\xe2\x82 x":                     `"\udce2\udc82 x"`,
		"é\u200d😀":                       "\"é\u200d😀\"",
		"a\tb\n":                         `"a\tb\n"`,
		"<>&":                            `"\u003c\u003e\u0026"`,
	}
	for in, want := range cases {
		got, err := safejson.Marshal(in)
		if err != nil || string(got) != want {
			t.Errorf("Marshal(%q) = %s, %v; want %s", in, got, err, want)
		}
		back, err := safejson.Unquote(got)
		if err != nil || back != in {
			t.Errorf("Unquote(%s) = %q, %v; want %q", got, back, err, in)
		}
		if q := safejson.Quote(in); strings.Contains(in, "<") && q != `"<>&"` {
			t.Errorf("Quote escapes HTML: %s", q)
		}
	}
}

// hostileMarshaler returns JSON with raw unsafe runes, invalid UTF-8 and
// white space inside and between its tokens.
type hostileMarshaler struct{}

func (hostileMarshaler) MarshalJSON() ([]byte, error) {
	return []byte("{ \"k\x9b\u202e\" :\n [ \"v\u2028\x7f\xff\\u001b\\\"\" , 1 ] }"), nil
}

type hostileText struct{}

func (hostileText) MarshalText() ([]byte, error) { return []byte("t\u009b\u202e\xfe"), nil }

func TestMarshalerOutputRechecked(t *testing.T) {
	got, err := safejson.Marshal(map[string]any{"m": hostileMarshaler{}, "t": hostileText{}, "k": map[hostileText]int{{}: 1}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"k":{"t\u009b\u202e\udcfe":1},"m":{"k\udc9b\u202e":["v\u2028\u007f\udcff\u001b\"",1]},"t":"t\u009b\u202e\udcfe"}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	assertSafe(t, got)
}

type badMarshaler struct{ out string }

func (b badMarshaler) MarshalJSON() ([]byte, error) {
	if b.out == "" {
		return nil, errors.New("boom")
	}
	return []byte(b.out), nil
}

type rates struct {
	Groups []struct {
		Name string  `json:"name"`
		Rate float64 `json:"produce_rate"`
	} `json:"groups"`
	Extra map[string]any `json:"extra"`
}

// TestErrorsNamePath: NaN and ±Inf, unsupported types, failing and lying
// marshalers are errors that name where the value sits, never output.
func TestErrorsNamePath(t *testing.T) {
	r := rates{}
	r.Groups = make([]struct {
		Name string  `json:"name"`
		Rate float64 `json:"produce_rate"`
	}, 2)
	r.Groups[1].Rate = math.NaN()
	_, err := safejson.Marshal(r)
	var uv *json.UnsupportedValueError
	if !errors.As(err, &uv) || err.Error() != "json: $.groups[1].produce_rate: unsupported value: NaN" {
		t.Fatalf("NaN: %v", err)
	}
	var ee *safejson.EncodeError
	if !errors.As(err, &ee) || ee.Path != "$.groups[1].produce_rate" {
		t.Fatalf("path: %#v", ee)
	}
	r.Groups[1].Rate = 0
	r.Extra = map[string]any{"ok": 1, "k\x1b\u202e": []any{1, float32(math.Inf(-1))}}
	_, err = safejson.Marshal(&r)
	if err == nil || err.Error() != `json: $.extra["k\u001b\u202e"][1]: unsupported value: -Inf` {
		t.Fatalf("-Inf: %v", err)
	}
	var b bytes.Buffer
	if err := safejson.NewEncoder(&b).Encode(math.Inf(1)); err == nil || err.Error() != "json: $: unsupported value: +Inf" || b.Len() != 0 {
		t.Fatalf("+Inf: %v, wrote %q", err, b.String())
	}
	var ut *json.UnsupportedTypeError
	if _, err := safejson.Marshal(map[string]any{"c": make(chan int)}); !errors.As(err, &ut) || !strings.Contains(err.Error(), `$["c"]`) {
		t.Fatalf("chan: %v", err)
	}
	if _, err := safejson.Marshal([]any{complex(1, 2)}); !errors.As(err, &ut) {
		t.Fatalf("complex: %v", err)
	}
	if _, err := safejson.Marshal(map[[2]int]int{{1, 2}: 3}); !errors.As(err, &ut) {
		t.Fatalf("array key: %v", err)
	}
	if _, err := safejson.Marshal([]badMarshaler{{}}); err == nil || err.Error() != "json: $[0]: error calling MarshalJSON for type safejson_test.badMarshaler: boom" {
		t.Fatalf("failing marshaler: %v", err)
	}
	for _, out := range []string{"{", `"a`, "1 2", "\"raw\x01ctl\"", "nan"} {
		if _, err := safejson.Marshal(badMarshaler{out}); err == nil {
			t.Fatalf("marshaler output %q accepted", out)
		}
	}
	if _, err := safejson.Marshal(json.Number("1e")); err == nil {
		t.Fatal("invalid json.Number accepted")
	}
}

func TestCycleIsAnError(t *testing.T) {
	l := &list{V: 1}
	l.Next = l
	_, err := safejson.Marshal(l)
	var uv *json.UnsupportedValueError
	if !errors.As(err, &uv) || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("cycle: %v", err)
	}
	m := map[string]any{}
	m["m"] = m
	if _, err := safejson.Marshal(m); !errors.As(err, &uv) {
		t.Fatalf("map cycle: %v", err)
	}
	// Deep but finite nesting is fine, as in encoding/json.
	var deep *list
	for i := range 3000 {
		deep = &list{V: i, Next: deep}
	}
	want, _ := json.Marshal(deep)
	got, err := safejson.Marshal(deep)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("deep: %v", err)
	}
}

func TestUnquoteAndDecodeRefuse(t *testing.T) {
	for _, lit := range []string{``, `"`, `x`, `"a"b`, `"\ud800"`, `"\udc7f"`, `"\udc41"`, `"\ud83d\u0041"`, `"\x"`, `"\u12"`, `"\u12g4"`, "\"ctl\x01\"", `"open`} {
		if s, err := safejson.Unquote([]byte(lit)); err == nil {
			t.Errorf("Unquote(%q) = %q, want an error", lit, s)
		}
	}
	if s, err := safejson.Unquote([]byte(`"\ud83d\ude00 \u00e9 \/ \b\f"`)); err != nil || s != "😀 é / \b\f" {
		t.Errorf("pairs and escapes: %q %v", s, err)
	}
	for _, doc := range []string{``, `{`, `[1,]`, `{"a" 1}`, `{"a":1,}`, `01`, `1.`, `-`, `tru`, `nul`, `[1] 2`, `{1:2}`, strings.Repeat("[", 10002) + strings.Repeat("]", 10002)} {
		if v, err := safejson.Decode([]byte(doc)); err == nil {
			t.Errorf("Decode(%.40q) = %v, want an error", doc, v)
		}
	}
	v, err := safejson.Decode([]byte(" {\"a\" : [ 1 , -2.5e+3, true, false, null, {} , [] , \"\\udcff\" ] } \n"))
	want := map[string]any{"a": []any{json.Number("1"), json.Number("-2.5e+3"), true, false, nil, map[string]any{}, []any{}, "\xff"}}
	if err != nil || !reflect.DeepEqual(v, want) {
		t.Fatalf("Decode = %#v, %v", v, err)
	}
}

// TestPythonSurrogateEscape proves what the README says: Python's
// json.loads and surrogateescape give the exact bytes back.
func TestPythonSurrogateEscape(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	in := map[string]string{}
	for _, s := range hostile.Strings {
		in[s] = s
	}
	out, err := safejson.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	const prog = `import json, sys
d = json.loads(sys.stdin.buffer.read())
for k, v in d.items():
    kb, vb = k.encode('utf-8', 'surrogateescape'), v.encode('utf-8', 'surrogateescape')
    assert kb == vb
    print('h:' + kb.hex())
`
	cmd := exec.Command(py, "-c", prog)
	cmd.Stdin = bytes.NewReader(out)
	res, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	got := map[string]bool{}
	for _, line := range strings.Fields(string(res)) {
		b, err := hex.DecodeString(strings.TrimPrefix(line, "h:"))
		if err != nil {
			t.Fatal(err)
		}
		got[string(b)] = true
	}
	if len(got) != len(in) {
		t.Fatalf("python recovered %d strings of %d", len(got), len(in))
	}
	for s := range in {
		if !got[s] {
			t.Errorf("python did not recover %q", s)
		}
	}
}

// Benchmarks against encoding/json: a dead letter as the drain writes it to
// a file (4 KiB body, headers, death history) and a cluster snapshot of 50
// groups of 20 partitions.
func benchValues() map[string]any {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	msg := &backends.Message{Exchange: "orders", RoutingKey: "orders.created", MessageID: "3f1c-77", Timestamp: at,
		Headers: map[string]any{"x-exception-message": "java.lang.IllegalStateException: bad order 123", "x-retries": int64(3), "x-trace": []byte("abc"), "x-first-death-queue": "orders"},
		Body:    bytes.Repeat([]byte(`{"order":1,"items":[1,2,3]} `), 4096/28), Size: 4096,
		Deaths: []backends.Death{{Queue: "orders", Reason: "rejected", Exchange: "", RoutingKeys: []string{"orders"}, Count: 1, Time: at}}}
	snap := &backends.ClusterSnapshot{TakenAt: at}
	off := int64(100)
	for g := range 50 {
		grp := backends.Group{Name: fmt.Sprintf("group-%d", g), State: "Stable", Protocol: "range"}
		for p := range 20 {
			grp.Partitions = append(grp.Partitions, backends.GroupPartition{Topic: "orders", Partition: int32(p), Committed: &off, LogEnd: 150, Lag: &off, MemberID: "consumer-1-6f0c", ClientID: "consumer-1", Host: "/10.0.0.7"})
		}
		snap.Groups = append(snap.Groups, grp)
	}
	return map[string]any{"message": msg, "snapshot": snap}
}

func BenchmarkMarshal(b *testing.B) {
	for name, v := range benchValues() {
		b.Run(name+"/safejson", func(b *testing.B) {
			for b.Loop() {
				if _, err := safejson.Marshal(v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/encoding_json", func(b *testing.B) {
			for b.Loop() {
				if _, err := json.Marshal(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzDecode: Decode never panics, accepts only valid JSON, and reads every
// valid document except those with a lone surrogate escape this form does
// not use; what it reads, Marshal writes back to a document it reads the
// same.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"a":[1,-2.5e3,true,false,null,"\udcff\u009b\ud83d\ude00"]}`, `"\ud800"`, `[`, `{"a" 1}`, "\"raw\x9b\xff\"", `0`, ` [] `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := safejson.Decode(data)
		valid := json.Valid(data)
		if err == nil && !valid {
			t.Fatalf("Decode accepted invalid JSON %q", data)
		}
		if err != nil {
			if valid && !bytes.Contains(data, []byte(`\u`)) && !bytes.Contains(data, []byte(`\U`)) && bytes.Count(data, []byte("[")) < 10000 && bytes.Count(data, []byte("{")) < 10000 {
				t.Fatalf("Decode refused valid JSON %q: %v", data, err)
			}
			return
		}
		out, err := safejson.Marshal(v)
		if err != nil {
			t.Fatalf("Marshal of what Decode read from %q: %v", data, err)
		}
		assertSafe(t, out)
		again, err := safejson.Decode(out)
		if err != nil || !reflect.DeepEqual(again, v) {
			t.Fatalf("%q → %#v → %s → %#v, %v", data, v, out, again, err)
		}
	})
}
