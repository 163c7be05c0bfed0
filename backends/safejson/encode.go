// Package safejson writes JSON that is safe to print on a terminal and that
// keeps every byte of every string.
//
// The output has the structure encoding/json gives the same value (the same
// struct tags — name, omitempty, omitzero, "-", string —, embedded structs,
// maps sorted by key, []byte as base64, json.Marshaler, json.Number,
// encoding.TextMarshaler), and for a string of valid UTF-8 free of the runes
// below it is byte for byte what encoding/json writes. Strings and map keys
// differ in two ways:
//
//   - Every rune backends.UnsafeRune names is written as a \uXXXX escape:
//     C0 controls, DEL, C1 controls (U+0080–U+009F: U+009B is a one-byte
//     CSI), the bidi controls U+202A–U+202E, U+2066–U+2069, U+200E, U+200F
//     and U+061C, U+FEFF, and U+2028/U+2029. encoding/json writes DEL, C1,
//     the bidi controls and U+FEFF raw. The output of a json.Marshaler is
//     checked the same way, so no raw unsafe rune slips through it.
//   - A byte that is not part of valid UTF-8 is written as the lone low
//     surrogate \udcXX, XX being the byte (0x80–0xFF), where encoding/json
//     writes \ufffd and loses the byte. This is Python's "surrogateescape":
//     json.loads(out)[...].encode("utf-8", "surrogateescape") gives the exact
//     bytes back; in Go, Unquote and Decode do. Valid UTF-8 never encodes a
//     surrogate, and this encoder escapes no valid rune as a surrogate, so
//     the form is unambiguous. A decoder that does not know the form (such
//     as encoding/json) reads each such byte as U+FFFD, as it would have
//     read encoding/json's own output.
//
// NaN and ±Inf are refused with an *EncodeError naming the path of the value
// (for example $.groups[0].produce_rate), never written.
package safejson

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/mqops/mqops/backends"
)

// Marshal returns the JSON encoding of v, HTML characters escaped as
// encoding/json's Marshal escapes them.
func Marshal(v any) ([]byte, error) {
	e := newEncodeState()
	defer e.free()
	if err := e.marshal(v, encOpts{escapeHTML: true}); err != nil {
		return nil, err
	}
	return bytes.Clone(e.buf), nil
}

// MarshalIndent is Marshal followed by json.Indent.
func MarshalIndent(v any, prefix, indent string) ([]byte, error) {
	b, err := Marshal(v)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.Grow(2 * len(b))
	if err := json.Indent(&out, b, prefix, indent); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// An Encoder writes JSON values, each followed by a newline, to a stream,
// as encoding/json's Encoder does.
type Encoder struct {
	w                    io.Writer
	err                  error
	escapeHTML           bool
	indentPrefix, indent string
}

// NewEncoder returns an encoder that writes to w; HTML characters are
// escaped until SetEscapeHTML(false).
func NewEncoder(w io.Writer) *Encoder { return &Encoder{w: w, escapeHTML: true} }

// SetIndent makes every later value indented as json.Indent(dst, src,
// prefix, indent) would; ("", "") turns indentation off. It returns enc.
func (enc *Encoder) SetIndent(prefix, indent string) *Encoder {
	enc.indentPrefix, enc.indent = prefix, indent
	return enc
}

// SetEscapeHTML says whether <, > and & are escaped in strings. It
// returns enc.
func (enc *Encoder) SetEscapeHTML(on bool) *Encoder {
	enc.escapeHTML = on
	return enc
}

// Encode writes v and a newline. Nothing is written when v cannot be
// encoded. After a write error every later Encode returns that error.
func (enc *Encoder) Encode(v any) error {
	if enc.err != nil {
		return enc.err
	}
	e := newEncodeState()
	defer e.free()
	if err := e.marshal(v, encOpts{escapeHTML: enc.escapeHTML}); err != nil {
		return err
	}
	e.buf = append(e.buf, '\n')
	b := e.buf
	if enc.indentPrefix != "" || enc.indent != "" {
		var out bytes.Buffer
		out.Grow(2 * len(b))
		if err := json.Indent(&out, b, enc.indentPrefix, enc.indent); err != nil {
			return err
		}
		b = out.Bytes()
	}
	if _, err := enc.w.Write(b); err != nil {
		enc.err = err
		return err
	}
	return nil
}

// EncodeError says which value could not be encoded and why. Err is one of
// encoding/json's *UnsupportedValueError (NaN, ±Inf, a cycle) and
// *UnsupportedTypeError (a channel, a function, a complex number), or the
// error a MarshalJSON or MarshalText method returned, or what was wrong
// with its output.
type EncodeError struct {
	// Path locates the value from the top ($) through JSON names, array
	// indices and map keys: $.groups[0].produce_rate, $.headers["x-rate"].
	Path string
	Err  error

	rev []string // path segments, innermost first, while unwinding
}

func (e *EncodeError) Error() string {
	return "json: " + e.Path + ": " + strings.TrimPrefix(e.Err.Error(), "json: ")
}

func (e *EncodeError) Unwrap() error { return e.Err }

// at adds seg in front of the path of err, an *EncodeError.
func at(err error, seg string) error {
	if ee, ok := err.(*EncodeError); ok {
		ee.rev = append(ee.rev, seg)
	}
	return err
}

func fail(err error) error { return &EncodeError{Err: err} }

type encOpts struct {
	quoted     bool // the ",string" option: a scalar inside a JSON string
	escapeHTML bool
}

type encodeState struct {
	buf []byte

	// Cycle detection as in encoding/json: only past startDetectingCycles
	// nested pointers, maps and slices are the pointers remembered.
	ptrLevel uint
	ptrSeen  map[any]struct{}
}

const startDetectingCycles = 1000

var encodeStatePool sync.Pool

func newEncodeState() *encodeState {
	if e, ok := encodeStatePool.Get().(*encodeState); ok {
		return e
	}
	return &encodeState{}
}

// free returns e to the pool, unless its buffer grew past 1 MiB (a large
// value should not keep its memory alive).
func (e *encodeState) free() {
	if cap(e.buf) > 1<<20 {
		return
	}
	e.buf, e.ptrLevel = e.buf[:0], 0
	clear(e.ptrSeen)
	encodeStatePool.Put(e)
}

func (e *encodeState) marshal(v any, opts encOpts) error {
	err := valueEncoder(reflect.ValueOf(v))(e, reflect.ValueOf(v), opts)
	if ee, ok := err.(*EncodeError); ok {
		slices.Reverse(ee.rev)
		ee.Path = "$" + strings.Join(ee.rev, "")
		ee.rev = nil
	}
	return err
}

// enter counts one more level of nesting through a pointer, map or slice
// v and, past startDetectingCycles, remembers key(v) and refuses it when it
// is already on the path (a cycle). leave undoes it.
func (e *encodeState) enter(v reflect.Value, key func(reflect.Value) any) error {
	e.ptrLevel++
	if e.ptrLevel <= startDetectingCycles {
		return nil
	}
	if e.ptrSeen == nil {
		e.ptrSeen = map[any]struct{}{}
	}
	k := key(v)
	if _, ok := e.ptrSeen[k]; ok {
		e.ptrLevel--
		return fail(&json.UnsupportedValueError{Value: v, Str: fmt.Sprintf("encountered a cycle via %s", v.Type())})
	}
	e.ptrSeen[k] = struct{}{}
	return nil
}

func (e *encodeState) leave(v reflect.Value, key func(reflect.Value) any) {
	if e.ptrLevel > startDetectingCycles {
		delete(e.ptrSeen, key(v))
	}
	e.ptrLevel--
}

// The identities of a pointer, a map and a slice for cycle detection (a
// slice: its first element and its length).
func ptrKey(v reflect.Value) any { return v.Interface() }
func mapKey(v reflect.Value) any { return v.UnsafePointer() }
func sliceKey(v reflect.Value) any {
	return struct {
		ptr any
		len int
	}{v.UnsafePointer(), v.Len()}
}

type encoderFunc func(e *encodeState, v reflect.Value, opts encOpts) error

var encoderCache sync.Map // reflect.Type → encoderFunc

func valueEncoder(v reflect.Value) encoderFunc {
	if !v.IsValid() {
		return func(e *encodeState, _ reflect.Value, _ encOpts) error {
			e.buf = append(e.buf, "null"...)
			return nil
		}
	}
	return typeEncoder(v.Type())
}

func typeEncoder(t reflect.Type) encoderFunc {
	if f, ok := encoderCache.Load(t); ok {
		return f.(encoderFunc)
	}
	// A recursive type finds this indirection while its encoder is built.
	indirect := sync.OnceValue(func() encoderFunc { return newTypeEncoder(t, true) })
	f, loaded := encoderCache.LoadOrStore(t, encoderFunc(func(e *encodeState, v reflect.Value, o encOpts) error {
		return indirect()(e, v, o)
	}))
	if loaded {
		return f.(encoderFunc)
	}
	enc := indirect()
	encoderCache.Store(t, enc)
	return enc
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	numberType        = reflect.TypeFor[json.Number]()
	isZeroerType      = reflect.TypeFor[interface{ IsZero() bool }]()
)

// newTypeEncoder follows encoding/json's choice of encoder, in its order.
func newTypeEncoder(t reflect.Type, allowAddr bool) encoderFunc {
	if t.Kind() != reflect.Pointer && allowAddr && reflect.PointerTo(t).Implements(marshalerType) {
		return condAddr(addrMarshalerEncoder, newTypeEncoder(t, false))
	}
	if t.Implements(marshalerType) {
		return marshalerEncoder
	}
	if t.Kind() != reflect.Pointer && allowAddr && reflect.PointerTo(t).Implements(textMarshalerType) {
		return condAddr(addrTextMarshalerEncoder, newTypeEncoder(t, false))
	}
	if t.Implements(textMarshalerType) {
		return textMarshalerEncoder
	}
	switch t.Kind() {
	case reflect.Bool:
		return boolEncoder
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return intEncoder
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return uintEncoder
	case reflect.Float32:
		return floatEncoder(32)
	case reflect.Float64:
		return floatEncoder(64)
	case reflect.String:
		if t == numberType {
			return numberEncoder
		}
		return stringEncoder
	case reflect.Interface:
		return interfaceEncoder
	case reflect.Struct:
		return newStructEncoder(t)
	case reflect.Map:
		return newMapEncoder(t)
	case reflect.Slice:
		return newSliceEncoder(t)
	case reflect.Array:
		return newArrayEncoder(t)
	case reflect.Pointer:
		return newPtrEncoder(t)
	}
	return unsupportedTypeEncoder
}

func condAddr(canAddr, other encoderFunc) encoderFunc {
	return func(e *encodeState, v reflect.Value, o encOpts) error {
		if v.CanAddr() {
			return canAddr(e, v, o)
		}
		return other(e, v, o)
	}
}

func unsupportedTypeEncoder(_ *encodeState, v reflect.Value, _ encOpts) error {
	return fail(&json.UnsupportedTypeError{Type: v.Type()})
}

// Encoders of the types with a MarshalJSON or MarshalText method: a nil
// pointer is null; with a pointer receiver, only an addressable value has
// the method (as in encoding/json).
var (
	marshalerEncoder         = viaMethod((*encodeState).marshalJSON)
	addrMarshalerEncoder     = viaAddrMethod((*encodeState).marshalJSON)
	textMarshalerEncoder     = viaMethod((*encodeState).marshalText)
	addrTextMarshalerEncoder = viaAddrMethod((*encodeState).marshalText)
)

func viaMethod[M any](call func(*encodeState, M, reflect.Type, encOpts) error) encoderFunc {
	return func(e *encodeState, v reflect.Value, o encOpts) error {
		if v.Kind() == reflect.Pointer && v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		m, ok := v.Interface().(M)
		if !ok { // a nil interface
			e.buf = append(e.buf, "null"...)
			return nil
		}
		return call(e, m, v.Type(), o)
	}
}

func viaAddrMethod[M any](call func(*encodeState, M, reflect.Type, encOpts) error) encoderFunc {
	return func(e *encodeState, v reflect.Value, o encOpts) error {
		return call(e, v.Addr().Interface().(M), v.Type(), o)
	}
}

// marshalJSON writes what m.MarshalJSON returns, compacted, with every
// string in it escaped as this package escapes strings.
func (e *encodeState) marshalJSON(m json.Marshaler, t reflect.Type, o encOpts) error {
	b, err := m.MarshalJSON()
	if err != nil {
		return fail(fmt.Errorf("error calling MarshalJSON for type %s: %w", t, err))
	}
	if !json.Valid(b) {
		return fail(fmt.Errorf("MarshalJSON for type %s returned invalid JSON", t))
	}
	e.buf = appendSafeCompact(e.buf, b, o.escapeHTML)
	return nil
}

func (e *encodeState) marshalText(m encoding.TextMarshaler, t reflect.Type, o encOpts) error {
	b, err := m.MarshalText()
	if err != nil {
		return fail(fmt.Errorf("error calling MarshalText for type %s: %w", t, err))
	}
	e.buf = appendString(e.buf, b, o.escapeHTML)
	return nil
}

func quote(b []byte, quoted bool) []byte {
	if quoted {
		b = append(b, '"')
	}
	return b
}

func boolEncoder(e *encodeState, v reflect.Value, o encOpts) error {
	e.buf = quote(strconv.AppendBool(quote(e.buf, o.quoted), v.Bool()), o.quoted)
	return nil
}

func intEncoder(e *encodeState, v reflect.Value, o encOpts) error {
	e.buf = quote(strconv.AppendInt(quote(e.buf, o.quoted), v.Int(), 10), o.quoted)
	return nil
}

func uintEncoder(e *encodeState, v reflect.Value, o encOpts) error {
	e.buf = quote(strconv.AppendUint(quote(e.buf, o.quoted), v.Uint(), 10), o.quoted)
	return nil
}

// floatEncoder writes a float as encoding/json does (ES6 number to string:
// %f between 1e-6 and 1e21, else %e without a padded exponent).
func floatEncoder(bits int) encoderFunc {
	return func(e *encodeState, v reflect.Value, o encOpts) error {
		f := v.Float()
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return fail(&json.UnsupportedValueError{Value: v, Str: strconv.FormatFloat(f, 'g', -1, bits)})
		}
		e.buf = quote(appendFloat(quote(e.buf, o.quoted), f, bits), o.quoted)
		return nil
	}
}

// appendFloat appends finite f as floatEncoder writes it.
func appendFloat(b []byte, f float64, bits int) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' { // e-09 → e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

func numberEncoder(e *encodeState, v reflect.Value, o encOpts) error {
	s := v.String()
	if s == "" {
		s = "0" // json.Number's zero value, as encoding/json writes it
	}
	if !validNumber(s) {
		return fail(fmt.Errorf("invalid number literal %s", Quote(s)))
	}
	e.buf = quote(append(quote(e.buf, o.quoted), s...), o.quoted)
	return nil
}

func stringEncoder(e *encodeState, v reflect.Value, o encOpts) error {
	if o.quoted { // ",string": the JSON string of the JSON string
		e.buf = appendString(e.buf, appendString(nil, v.String(), o.escapeHTML), false)
		return nil
	}
	e.buf = appendString(e.buf, v.String(), o.escapeHTML)
	return nil
}

func interfaceEncoder(e *encodeState, v reflect.Value, o encOpts) error {
	if v.IsNil() {
		e.buf = append(e.buf, "null"...)
		return nil
	}
	elem := v.Elem()
	return valueEncoder(elem)(e, elem, encOpts{escapeHTML: o.escapeHTML})
}

// ptrEncoder: a nil pointer is null, else the value it points to.
func newPtrEncoder(t reflect.Type) encoderFunc {
	elemEnc := typeEncoder(t.Elem())
	return func(e *encodeState, v reflect.Value, o encOpts) error {
		if v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		if err := e.enter(v, ptrKey); err != nil {
			return err
		}
		err := elemEnc(e, v.Elem(), o)
		e.leave(v, ptrKey)
		return err
	}
}

func newArrayEncoder(t reflect.Type) encoderFunc {
	elemEnc := typeEncoder(t.Elem())
	return func(e *encodeState, v reflect.Value, o encOpts) error {
		e.buf = append(e.buf, '[')
		o = encOpts{escapeHTML: o.escapeHTML}
		for i, n := 0, v.Len(); i < n; i++ {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			if err := elemEnc(e, v.Index(i), o); err != nil {
				return at(err, "["+strconv.Itoa(i)+"]")
			}
		}
		e.buf = append(e.buf, ']')
		return nil
	}
}

func newSliceEncoder(t reflect.Type) encoderFunc {
	if t.Elem().Kind() == reflect.Uint8 {
		p := reflect.PointerTo(t.Elem())
		if !p.Implements(marshalerType) && !p.Implements(textMarshalerType) {
			return byteSliceEncoder
		}
	}
	arrayEnc := newArrayEncoder(t)
	return func(e *encodeState, v reflect.Value, o encOpts) error {
		if v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		if err := e.enter(v, sliceKey); err != nil {
			return err
		}
		err := arrayEnc(e, v, o)
		e.leave(v, sliceKey)
		return err
	}
}

func byteSliceEncoder(e *encodeState, v reflect.Value, _ encOpts) error {
	if v.IsNil() {
		e.buf = append(e.buf, "null"...)
		return nil
	}
	e.buf = append(e.buf, '"')
	e.buf = base64.StdEncoding.AppendEncode(e.buf, v.Bytes())
	e.buf = append(e.buf, '"')
	return nil
}

func newMapEncoder(t reflect.Type) encoderFunc {
	switch t.Key().Kind() {
	case reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
	default:
		if !t.Key().Implements(textMarshalerType) {
			return unsupportedTypeEncoder
		}
	}
	elemEnc := typeEncoder(t.Elem())
	type kv struct {
		k string
		v reflect.Value
	}
	encode := func(e *encodeState, v reflect.Value, o encOpts) error {
		kvs := make([]kv, 0, v.Len())
		for it := v.MapRange(); it.Next(); {
			k, err := keyName(it.Key())
			if err != nil {
				return fail(fmt.Errorf("encoding error for type %s: %w", t, err))
			}
			kvs = append(kvs, kv{k, it.Value()})
		}
		slices.SortFunc(kvs, func(a, b kv) int { return strings.Compare(a.k, b.k) })
		o = encOpts{escapeHTML: o.escapeHTML}
		e.buf = append(e.buf, '{')
		for i, p := range kvs {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.buf = appendString(e.buf, p.k, o.escapeHTML)
			e.buf = append(e.buf, ':')
			if err := elemEnc(e, p.v, o); err != nil {
				return at(err, "["+Quote(p.k)+"]")
			}
		}
		e.buf = append(e.buf, '}')
		return nil
	}
	return func(e *encodeState, v reflect.Value, o encOpts) error {
		if v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		if err := e.enter(v, mapKey); err != nil {
			return err
		}
		err := encode(e, v, o)
		e.leave(v, mapKey)
		return err
	}
}

// keyName is encoding/json's resolveKeyName.
func keyName(k reflect.Value) (string, error) {
	if k.Kind() == reflect.String {
		return k.String(), nil
	}
	if tm, ok := k.Interface().(encoding.TextMarshaler); ok {
		if k.Kind() == reflect.Pointer && k.IsNil() {
			return "", nil
		}
		b, err := tm.MarshalText()
		return string(b), err
	}
	switch k.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(k.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(k.Uint(), 10), nil
	}
	return "", fmt.Errorf("unexpected map key type %s", k.Type())
}

// field is one JSON member of a struct.
type field struct {
	name      string
	nameHTML  string // `"name":` with HTML characters escaped
	nameRaw   string // `"name":`
	tag       bool   // the name came from a json tag
	index     []int
	typ       reflect.Type
	omitEmpty bool
	omitZero  bool
	isZero    func(reflect.Value) bool
	quoted    bool
	encoder   encoderFunc
}

func newStructEncoder(t reflect.Type) encoderFunc {
	fields := typeFields(t)
	return func(e *encodeState, v reflect.Value, o encOpts) error {
		next := byte('{')
	fieldLoop:
		for i := range fields {
			f := &fields[i]
			fv := v
			for _, j := range f.index {
				if fv.Kind() == reflect.Pointer {
					if fv.IsNil() {
						continue fieldLoop
					}
					fv = fv.Elem()
				}
				fv = fv.Field(j)
			}
			if f.omitEmpty && isEmptyValue(fv) ||
				f.omitZero && (f.isZero == nil && fv.IsZero() || f.isZero != nil && f.isZero(fv)) {
				continue
			}
			e.buf = append(e.buf, next)
			next = ','
			if o.escapeHTML {
				e.buf = append(e.buf, f.nameHTML...)
			} else {
				e.buf = append(e.buf, f.nameRaw...)
			}
			if err := f.encoder(e, fv, encOpts{quoted: f.quoted, escapeHTML: o.escapeHTML}); err != nil {
				return at(err, "."+f.name)
			}
		}
		if next == '{' {
			e.buf = append(e.buf, '{', '}')
		} else {
			e.buf = append(e.buf, '}')
		}
		return nil
	}
}

func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64,
		reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// typeFields lists the JSON members of struct type t with encoding/json's
// rules: exported fields and the fields promoted from embedded structs,
// breadth first; of several fields of one name, the shallowest wins, a
// tagged one before an untagged one at the same depth, and two at the same
// depth with the same tagging hide each other.
func typeFields(t reflect.Type) []field {
	current := []field{}
	next := []field{{typ: t}}
	var count, nextCount map[reflect.Type]int
	visited := map[reflect.Type]bool{}
	var fields []field
	for len(next) > 0 {
		current, next = next, current[:0]
		count, nextCount = nextCount, map[reflect.Type]int{}
		for _, f := range current {
			if visited[f.typ] {
				continue
			}
			visited[f.typ] = true
			for i := 0; i < f.typ.NumField(); i++ {
				sf := f.typ.Field(i)
				if sf.Anonymous {
					st := sf.Type
					if st.Kind() == reflect.Pointer {
						st = st.Elem()
					}
					if !sf.IsExported() && st.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if !validTag(name) {
					name = ""
				}
				index := append(slices.Clip(f.index), i)
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				quoted := false
				if hasOption(opts, "string") {
					switch ft.Kind() {
					case reflect.Bool,
						reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
						reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
						reflect.Float32, reflect.Float64, reflect.String:
						quoted = true
					}
				}
				if name != "" || !sf.Anonymous || ft.Kind() != reflect.Struct {
					tagged := name != ""
					if name == "" {
						name = sf.Name
					}
					fl := field{
						name:      name,
						nameHTML:  string(appendString(nil, name, true)) + ":",
						nameRaw:   string(appendString(nil, name, false)) + ":",
						tag:       tagged,
						index:     index,
						typ:       ft,
						omitEmpty: hasOption(opts, "omitempty"),
						omitZero:  hasOption(opts, "omitzero"),
						quoted:    quoted,
					}
					if fl.omitZero {
						fl.isZero = isZeroFunc(sf.Type)
					}
					fields = append(fields, fl)
					if count[f.typ] > 1 {
						// Embedded twice at this depth: a duplicate makes
						// the name ambiguous below, as in encoding/json.
						fields = append(fields, fields[len(fields)-1])
					}
					continue
				}
				nextCount[ft]++
				if nextCount[ft] == 1 {
					next = append(next, field{name: ft.Name(), index: index, typ: ft})
				}
			}
		}
	}
	slices.SortFunc(fields, func(a, b field) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if c := len(a.index) - len(b.index); c != 0 {
			return c
		}
		if a.tag != b.tag {
			if a.tag {
				return -1
			}
			return 1
		}
		return slices.Compare(a.index, b.index)
	})
	out := fields[:0]
	for i := 0; i < len(fields); {
		j := i + 1
		for j < len(fields) && fields[j].name == fields[i].name {
			j++
		}
		// The first is dominant unless the second is as shallow and as
		// tagged: then neither is written.
		if j-i == 1 || len(fields[i].index) != len(fields[i+1].index) || fields[i].tag != fields[i+1].tag {
			out = append(out, fields[i])
		}
		i = j
	}
	fields = out
	slices.SortFunc(fields, func(a, b field) int { return slices.Compare(a.index, b.index) })
	for i := range fields {
		fields[i].encoder = typeEncoder(typeByIndex(t, fields[i].index))
	}
	return fields
}

func typeByIndex(t reflect.Type, index []int) reflect.Type {
	for _, i := range index {
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		t = t.Field(i).Type
	}
	return t
}

// isZeroFunc is how omitzero decides for a field of type t: its IsZero
// method when it has one, else nil (reflect's IsZero).
func isZeroFunc(t reflect.Type) func(reflect.Value) bool {
	type zeroer = interface{ IsZero() bool }
	switch {
	case t.Kind() == reflect.Interface && t.Implements(isZeroerType):
		return func(v reflect.Value) bool {
			return v.IsNil() || (v.Elem().Kind() == reflect.Pointer && v.Elem().IsNil()) || v.Interface().(zeroer).IsZero()
		}
	case t.Kind() == reflect.Pointer && t.Implements(isZeroerType):
		return func(v reflect.Value) bool { return v.IsNil() || v.Interface().(zeroer).IsZero() }
	case t.Implements(isZeroerType):
		return func(v reflect.Value) bool { return v.Interface().(zeroer).IsZero() }
	case reflect.PointerTo(t).Implements(isZeroerType):
		return func(v reflect.Value) bool {
			if !v.CanAddr() {
				v2 := reflect.New(v.Type()).Elem()
				v2.Set(v)
				v = v2
			}
			return v.Addr().Interface().(zeroer).IsZero()
		}
	}
	return nil
}

func hasOption(opts, name string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == name {
			return true
		}
	}
	return false
}

func validTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

// validNumber is the JSON number grammar (RFC 8259 section 6).
func validNumber(s string) bool {
	if s != "" && s[0] == '-' {
		s = s[1:]
	}
	digits := func() int {
		n := 0
		for n < len(s) && '0' <= s[n] && s[n] <= '9' {
			n++
		}
		s = s[n:]
		return n
	}
	switch {
	case s == "":
		return false
	case s[0] == '0':
		s = s[1:]
	case '1' <= s[0] && s[0] <= '9':
		digits()
	default:
		return false
	}
	if s != "" && s[0] == '.' {
		s = s[1:]
		if digits() == 0 {
			return false
		}
	}
	if s != "" && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if s != "" && (s[0] == '+' || s[0] == '-') {
			s = s[1:]
		}
		if digits() == 0 {
			return false
		}
	}
	return s == ""
}

const hex = "0123456789abcdef"

// Quote returns s as a JSON string literal in this package's form (HTML
// characters not escaped): safe to print, and Unquote gives s back.
func Quote(s string) string { return string(appendString(nil, s, false)) }

// AppendQuote appends s as a JSON string literal, as Quote writes it.
func AppendQuote(dst []byte, s string) []byte { return appendString(dst, s, false) }

// AppendString appends s as a JSON string literal exactly as an Encoder
// writes a string value: with escapeHTML, <, > and & escaped (an
// Encoder's default). For writers that stream a document an Encoder would
// write whole.
func AppendString(dst []byte, s string, escapeHTML bool) []byte {
	return appendString(dst, s, escapeHTML)
}

// AppendFloat appends f exactly as an Encoder writes a float64. NaN and
// ±Inf are refused, as Encode refuses them.
func AppendFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, fail(&json.UnsupportedValueError{Value: reflect.ValueOf(f), Str: strconv.FormatFloat(f, 'g', -1, 64)})
	}
	return appendFloat(dst, f, 64), nil
}

// appendString appends src as a JSON string: `"` and `\` escaped, every
// rune backends.UnsafeRune names as \u00XX (the short forms \b \f \n \r \t
// as encoding/json writes them), <, > and & as \u003c, \u003e, \u0026 when
// escapeHTML, and each byte that is not part of valid UTF-8 as \udcXX.
func appendString[S []byte | string](dst []byte, src S, escapeHTML bool) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, src, escapeHTML)
	return append(dst, '"')
}

// appendEscaped is appendString without the quotes.
func appendEscaped[S []byte | string](dst []byte, src S, escapeHTML bool) []byte {
	start := 0
	for i := 0; i < len(src); {
		if b := src[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != 0x7f && (!escapeHTML || b != '<' && b != '>' && b != '&') {
				i++
				continue
			}
			dst = append(dst, src[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			}
			i++
			start = i
			continue
		}
		n := min(len(src)-i, utf8.UTFMax)
		c, size := utf8.DecodeRuneInString(string(src[i : i+n]))
		switch {
		case c == utf8.RuneError && size == 1:
			b := src[i]
			dst = append(dst, src[start:i]...)
			dst = append(dst, '\\', 'u', 'd', 'c', hex[b>>4], hex[b&0xf])
		case backends.UnsafeRune(c):
			dst = append(dst, src[start:i]...)
			dst = append(dst, '\\', 'u', hex[c>>12&0xf], hex[c>>8&0xf], hex[c>>4&0xf], hex[c&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(dst, src[start:]...)
}

// appendSafeCompact appends src, valid JSON, without the white space
// between tokens and with every string's raw bytes escaped as appendString
// escapes them (the escapes already in src are kept as they are).
func appendSafeCompact(dst, src []byte, escapeHTML bool) []byte {
	for i := 0; i < len(src); {
		c := src[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			i++
		case '"':
			j := i + 1
			for src[j] != '"' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			dst = appendEscapedBody(dst, src[i:j+1], escapeHTML)
			i = j + 1
		default:
			dst = append(dst, c)
			i++
		}
	}
	return dst
}

// appendEscapedBody re-escapes lit, a valid JSON string literal with its
// quotes: its escape sequences are copied, the rest goes through
// appendString.
func appendEscapedBody(dst, lit []byte, escapeHTML bool) []byte {
	dst = append(dst, '"')
	body := lit[1 : len(lit)-1]
	for len(body) > 0 {
		k := bytes.IndexByte(body, '\\')
		if k < 0 {
			k = len(body)
		}
		dst = appendEscaped(dst, body[:k], escapeHTML)
		body = body[k:]
		if len(body) == 0 {
			break
		}
		n := 2
		if body[1] == 'u' {
			n = 6
		}
		dst = append(dst, body[:n]...)
		body = body[n:]
	}
	return append(dst, '"')
}
