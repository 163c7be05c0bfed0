package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

type yamlNode = yaml.Node

// parseYAML parses one YAML document into a node tree. It returns nil for an
// empty document. A panic inside the YAML library becomes an error: a config
// file must never crash the console.
func parseYAML(data []byte) (root *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("yaml: cannot parse the file (%s)", sanitizeMsg(fmt.Sprint(r)))
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var more yaml.Node
	switch err := dec.Decode(&more); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, err
	default:
		return nil, fmt.Errorf("yaml: line %d: the file holds more than one YAML document (remove the --- separator)", more.Line)
	}
	return &doc, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserProblems are the yaml.v3 parser (not scanner) errors: yaml.v3
// reports their line 0-based, the scanner's 1-based.
var parserProblems = []string{
	"did not find expected <stream-start>",
	"did not find expected <document start>",
	"found undefined tag handle",
	"did not find expected node content",
	"did not find expected '-' indicator",
	"did not find expected key",
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found duplicate %TAG directive",
}

var unknownAnchorRE = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)

// yamlError turns a yaml.v3 error ("yaml: line 3: mapping values ...") into
// an Error with a 1-based line and the message "yaml: mapping values ...".
// yaml.v3 leaves the line out when it is the first one, counts parser errors
// from 0, and never gives one for encoding errors or unknown anchors; this
// makes up for all of that.
func yamlError(file string, data []byte, err error) *Error {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		if contains(parserProblems, m[2]) {
			line++
		}
		return &Error{File: file, Line: line, Msg: "yaml: " + sanitizeMsg(m[2])}
	}
	e := &Error{File: file, Msg: sanitizeMsg(msg)}
	rest := strings.TrimPrefix(msg, "yaml: ")
	switch {
	case rest == msg:
	case unknownAnchorRE.MatchString(msg):
		name := unknownAnchorRE.FindStringSubmatch(msg)[1]
		e.Line = lineOf(data, bytes.Index(data, []byte("*"+name)))
	case strings.Contains(rest, "UTF-") || strings.Contains(rest, "Unicode") ||
		strings.Contains(rest, "control characters") || strings.Contains(rest, "surrogate"):
		e.Line = lineOf(data, badByte(data))
	case strings.HasPrefix(rest, "attempted to go past"), strings.HasPrefix(rest, "cannot parse the file"):
	default:
		// A scanner or parser error both of whose marks are on line 0.
		e.Line = 1
	}
	return e
}

// lineOf is the 1-based line of byte offset off, 0 when off < 0.
func lineOf(data []byte, off int) int {
	if off < 0 || off > len(data) {
		return 0
	}
	return bytes.Count(data[:off], []byte("\n")) + 1
}

// badByte is the offset of the first byte yaml refuses (invalid UTF-8, or a
// control character other than tab, CR and LF), -1 if none.
func badByte(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if (r == utf8.RuneError && size <= 1) || (unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' && r != 0x85) {
			return i
		}
		i += size
	}
	return -1
}

func sanitizeMsg(s string) string {
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return strings.ToValidUTF8(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') {
			return '?'
		}
		return r
	}, s), "?")
}

// maxVisits bounds the nodes one parse walks, aliases included, so that an
// alias bomb ("billion laughs") fails fast instead of hanging the console.
const maxVisits = 1 << 17

// decoder walks a yaml.Node tree into the config structs, strictly: unknown
// keys, wrong types, duplicate keys and inline secrets are errors that carry
// the line and the key path.
type decoder struct {
	errs    *errList
	pos     map[string]int
	visits  int
	stopped bool
	merging map[*yaml.Node]bool
}

func (d *decoder) fail(line int, key, format string, args ...any) {
	d.errs.addf(line, key, format, args...)
}

// visit counts a node against the budget; false once it is spent.
func (d *decoder) visit() bool {
	if d.stopped {
		return false
	}
	d.visits++
	if d.visits > maxVisits {
		d.stopped = true
		d.fail(0, "", "the file expands to too many values (aliases nested too deep?)")
		return false
	}
	return true
}

// resolve follows aliases to the node they name.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		if !d.visit() {
			return nil
		}
		n = n.Alias
	}
	return n
}

func (d *decoder) root(doc *yaml.Node, c *Config) {
	if doc == nil {
		return
	}
	n := doc
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		n = n.Content[0]
	}
	n = d.resolve(n)
	if n == nil || isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n.Line, "", "expected a mapping at the top level (current-context, refresh, contexts), got %s", kindOf(n))
		return
	}
	d.fields("", n, reflect.ValueOf(c).Elem())
}

type entry struct{ k, v *yaml.Node }

// entries lists a mapping's key/value pairs in order, with merge keys (<<)
// resolved (explicit keys win over merged ones, earlier merges over later
// ones), and reports duplicate and non-string keys.
func (d *decoder) entries(path string, n *yaml.Node) []entry {
	var out, merged []entry
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !d.visit() {
			return nil
		}
		k, v := d.resolve(n.Content[i]), n.Content[i+1]
		if k == nil {
			return nil
		}
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, d.mergeSource(path, k.Line, v)...)
			continue
		}
		if k.Kind != yaml.ScalarNode || isNull(k) {
			d.fail(k.Line, path, "keys must be plain strings, got %s", kindOf(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.fail(k.Line, path, "key %s is defined twice (first at line %d)", q(k.Value), first)
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, entry{k, v})
	}
	for _, e := range merged {
		if _, ok := seen[e.k.Value]; !ok {
			seen[e.k.Value] = e.k.Line
			out = append(out, e)
		}
	}
	return out
}

// mergeSource returns the entries a "<<:" value brings in: a mapping, or a
// list of mappings.
func (d *decoder) mergeSource(path string, line int, v *yaml.Node) []entry {
	v = d.resolve(v)
	if v == nil {
		return nil
	}
	switch v.Kind {
	case yaml.MappingNode:
		if d.merging[v] {
			d.fail(line, path, "merge key << refers to the mapping it is in")
			return nil
		}
		d.merging[v] = true
		defer delete(d.merging, v)
		return d.entries(path, v)
	case yaml.SequenceNode:
		var out []entry
		for _, item := range v.Content {
			item = d.resolve(item)
			if item == nil {
				return out
			}
			if item.Kind != yaml.MappingNode {
				d.fail(item.Line, path, "merge key << expects a mapping or a list of mappings, got %s", kindOf(item))
				continue
			}
			out = append(out, d.mergeSource(path, line, item)...)
		}
		return out
	}
	d.fail(line, path, "merge key << expects a mapping or a list of mappings, got %s", kindOf(v))
	return nil
}

type fieldInfo struct {
	key    string
	index  int
	expect string
}

var fieldCache sync.Map // reflect.Type → []fieldInfo

func fieldsOf(t reflect.Type) []fieldInfo {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]fieldInfo)
	}
	var out []fieldInfo
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		key := sf.Tag.Get("yaml")
		if !sf.IsExported() || key == "" || key == "-" {
			continue
		}
		out = append(out, fieldInfo{key: key, index: i, expect: sf.Tag.Get("expect")})
	}
	fieldCache.Store(t, out)
	return out
}

func keysOf(t reflect.Type) []string {
	fs := fieldsOf(t)
	keys := make([]string, len(fs))
	for i, f := range fs {
		keys[i] = f.key
	}
	return keys
}

// secretHint returns, for a key that would hold a secret inline, where the
// secret must come from instead; "" for other keys.
func secretHint(t reflect.Type, key string) string {
	k := strings.NewReplacer("_", "-", ".", "-").Replace(strings.ToLower(key))
	if t == reflect.TypeOf(Store{}) {
		switch k {
		case "dsn", "url", "uri", "connection", "connection-string", "conn", "database-url":
			return "dsn-env or dsn-file"
		}
	}
	if strings.HasSuffix(k, "-env") || strings.HasSuffix(k, "-file") {
		return "" // a misspelt reference (password-envv), not a secret
	}
	for _, w := range []string{"password", "passwd", "passphrase", "secret", "token", "credential", "api-key", "apikey"} {
		if strings.Contains(k, w) {
			return "password-env or password-file"
		}
	}
	switch k {
	case "pass", "pwd", "pw":
		return "password-env or password-file"
	}
	return ""
}

// fields decodes a mapping into the struct sv.
func (d *decoder) fields(path string, n *yaml.Node, sv reflect.Value) {
	infos := fieldsOf(sv.Type())
	for _, e := range d.entries(path, n) {
		key := e.k.Value
		var f *fieldInfo
		for i := range infos {
			if infos[i].key == key {
				f = &infos[i]
				break
			}
		}
		if f == nil {
			s := ""
			if !d.errs.full() {
				s = suggest(key, keysOf(sv.Type()))
			}
			// A misspelt password-env is a typo; any other password-ish key
			// holds a secret inline.
			ref := strings.HasSuffix(s, "-env") || strings.HasSuffix(s, "-file")
			if hint := secretHint(sv.Type(), key); hint != "" && !ref {
				d.fail(e.k.Line, path, "%s is not allowed: secrets must come from %s", q(key), hint)
				continue
			}
			msg := fmt.Sprintf("unknown key %s", q(key))
			if s != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", q(s))
			}
			d.fail(e.k.Line, path, "%s", msg)
			continue
		}
		kp := joinKey(path, key)
		d.pos[kp] = e.k.Line
		d.value(kp, e.v, sv.Field(f.index), f.expect)
	}
}

var (
	durationType   = reflect.TypeOf(Duration(0))
	contextMapType = reflect.TypeOf(map[string]*Context(nil))
)

// value decodes n into v; expect describes the wanted value in messages.
func (d *decoder) value(path string, n *yaml.Node, v reflect.Value, expect string) {
	if !d.visit() {
		return
	}
	n = d.resolve(n)
	if n == nil {
		return
	}
	null := isNull(n)
	switch {
	case v.Type() == durationType:
		if null {
			return
		}
		dur, msg := parseDurationNode(n)
		if msg != "" {
			d.fail(n.Line, path, "%s", msg)
			return
		}
		v.SetInt(int64(dur))
		return
	case v.Type() == contextMapType:
		d.contexts(path, n, v, expect)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if null {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.fail(n.Line, path, "expected a mapping, got %s", kindOf(n))
			return
		}
		p := reflect.New(v.Type().Elem())
		d.fields(path, n, p.Elem())
		v.Set(p)
	case reflect.String:
		if null {
			return
		}
		s, ok := d.str(path, n)
		if ok {
			v.SetString(s)
		}
	case reflect.Bool:
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
			v.SetBool(strings.EqualFold(n.Value, "true"))
			return
		}
		got := kindOf(n)
		if n.Kind == yaml.ScalarNode && !null {
			got = q(n.Value)
		}
		d.fail(n.Line, path, "expected true or false, got %s", got)
	case reflect.Slice:
		if null {
			return
		}
		if expect == "" {
			expect = "a list of strings"
		}
		if n.Kind != yaml.SequenceNode {
			d.fail(n.Line, path, "expected %s, got %s", expect, kindOf(n))
			return
		}
		out := make([]string, 0, len(n.Content))
		for i, item := range n.Content {
			ip := fmt.Sprintf("%s[%d]", path, i)
			item = d.resolve(item)
			if item == nil || !d.visit() {
				return
			}
			d.pos[ip] = item.Line
			if null := isNull(item); null || item.Kind != yaml.ScalarNode {
				d.fail(item.Line, ip, "expected a string, got %s", kindOf(item))
				continue
			}
			if s, ok := d.str(ip, item); ok {
				out = append(out, s)
			}
		}
		v.Set(reflect.ValueOf(out))
	case reflect.Map:
		if null {
			return
		}
		if expect == "" {
			expect = "a mapping"
		}
		if n.Kind != yaml.MappingNode {
			d.fail(n.Line, path, "expected %s, got %s", expect, kindOf(n))
			return
		}
		m := map[string]string{}
		for _, e := range d.entries(path, n) {
			kp := joinKey(path, e.k.Value)
			d.pos[kp] = e.k.Line
			if !validText(e.k.Value) {
				d.fail(e.k.Line, path, "a key contains control characters or invalid UTF-8")
				continue
			}
			val := d.resolve(e.v)
			if val == nil {
				return
			}
			if val.Kind != yaml.ScalarNode || isNull(val) {
				d.fail(val.Line, kp, "expected a string, got %s", kindOf(val))
				continue
			}
			if s, ok := d.str(kp, val); ok {
				m[e.k.Value] = s
			}
		}
		v.Set(reflect.ValueOf(m))
	default:
		panic("config: no decoder for " + v.Type().String())
	}
}

// str returns a scalar's text. It never echoes the value: a string field may
// be one that a careless hand filled with a secret.
func (d *decoder) str(path string, n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n.Line, path, "expected a string, got %s", kindOf(n))
		return "", false
	}
	if !validText(n.Value) {
		d.fail(n.Line, path, "the value contains control characters or invalid UTF-8")
		return "", false
	}
	return n.Value, true
}

func (d *decoder) contexts(path string, n *yaml.Node, v reflect.Value, expect string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		msg := fmt.Sprintf("expected %s, got %s", expect, kindOf(n))
		if n.Kind == yaml.SequenceNode {
			msg += " (write contexts: {NAME: {kafka: ...}}, not a list)"
		}
		d.fail(n.Line, path, "%s", msg)
		return
	}
	m := map[string]*Context{}
	for _, e := range d.entries(path, n) {
		name := e.k.Value
		kp := joinKey(path, name)
		d.pos[kp] = e.k.Line
		ctx := &Context{Name: name}
		m[name] = ctx
		val := d.resolve(e.v)
		if val == nil {
			return
		}
		switch {
		case isNull(val):
		case val.Kind != yaml.MappingNode:
			d.fail(val.Line, kp, "expected a mapping (color, read-only, kafka, rabbitmq, store), got %s", kindOf(val))
		default:
			d.fields(kp, val, reflect.ValueOf(ctx).Elem())
		}
	}
	v.Set(reflect.ValueOf(m))
}

func parseDurationNode(n *yaml.Node) (time.Duration, string) {
	const want = "expected a duration such as 5s, 2m or 1h30m"
	if n.Kind != yaml.ScalarNode {
		return 0, fmt.Sprintf("%s, got %s", want, kindOf(n))
	}
	s := strings.TrimSpace(n.Value)
	dur, err := time.ParseDuration(s)
	if err != nil {
		if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
			return 0, fmt.Sprintf("%s, got %s (add a unit: %s)", want, q(s), q(s+"s"))
		}
		return 0, fmt.Sprintf("%s, got %s", want, q(s))
	}
	if dur <= 0 {
		return 0, fmt.Sprintf("must be positive, got %s", q(s))
	}
	return dur, ""
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// kindOf describes a node for "got ..." in messages, without its value.
func kindOf(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.DocumentNode:
		return "a document"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.ShortTag() {
	case "!!null":
		return "nothing"
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!timestamp":
		return "a timestamp"
	case "!!binary":
		return "binary data"
	}
	return "a string"
}

var plainKeyRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// joinKey appends key to a dotted key path; a key that is not plain
// (a context named "prod.eu") is quoted so the path stays unambiguous.
func joinKey(path, key string) string {
	if !plainKeyRE.MatchString(key) {
		key = `"` + key + `"`
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// validText rejects control characters, bidi overrides and invalid UTF-8:
// nothing in a config needs them, and they could reach a terminal.
func validText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') {
			return false
		}
	}
	return true
}
