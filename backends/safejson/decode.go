package safejson

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// Unquote decodes one JSON string literal, quotes included, into the exact
// bytes it stands for: a lone low surrogate escape \udc80–\udcff is the
// byte 0x80–0xff (the form Marshal writes for bytes that are not valid
// UTF-8), a surrogate pair is its rune, and every other escape is JSON's.
// A lone surrogate outside \udc80–\udcff, a raw control character or a
// malformed escape is an error: no encoder of this form writes them.
func Unquote(lit []byte) (string, error) {
	if len(lit) < 2 || lit[0] != '"' || lit[len(lit)-1] != '"' {
		return "", errors.New("safejson: not a JSON string literal")
	}
	s, n, err := unquote(lit, 0)
	if err != nil {
		return "", err
	}
	if n != len(lit) {
		return "", errors.New("safejson: text after the JSON string literal")
	}
	return s, nil
}

// unquote decodes the string literal that starts at data[i] (a quote) and
// returns it with the offset just past its closing quote.
func unquote(data []byte, i int) (string, int, error) {
	i++ // opening quote
	start := i
	for i < len(data) && data[i] != '"' && data[i] != '\\' && data[i] >= 0x20 {
		i++ // the common case: nothing to decode
	}
	if i < len(data) && data[i] == '"' {
		return string(data[start:i]), i + 1, nil
	}
	out := append([]byte(nil), data[start:i]...)
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			return string(out), i + 1, nil
		case c < 0x20:
			return "", 0, fmt.Errorf("safejson: raw control character 0x%02x in a string at offset %d", c, i)
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(data) {
			break
		}
		switch e := data[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(data, i+2)
			if !ok {
				return "", 0, fmt.Errorf("safejson: malformed \\u escape at offset %d", i)
			}
			switch {
			case r >= 0xdc80 && r <= 0xdcff: // a byte that is not UTF-8
				out = append(out, byte(r-0xdc00))
			case utf16.IsSurrogate(r):
				r2, ok := hex4(data, i+8)
				if r >= 0xdc00 || !ok || data[i+6] != '\\' || data[i+7] != 'u' || utf16.DecodeRune(r, r2) == utf8.RuneError {
					return "", 0, fmt.Errorf("safejson: lone surrogate \\u%04x at offset %d", r, i)
				}
				out = utf8.AppendRune(out, utf16.DecodeRune(r, r2))
				i += 6
			default:
				out = utf8.AppendRune(out, r)
			}
			i += 4
		default:
			return "", 0, fmt.Errorf("safejson: unknown escape \\%c at offset %d", e, i)
		}
		i += 2
	}
	return "", 0, errors.New("safejson: unterminated string")
}

// hex4 reads the four hex digits at data[i:].
func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// maxDepth bounds the nesting Decode accepts, as encoding/json does.
const maxDepth = 10000

// Decode parses one JSON document with every string (and object key)
// decoded by Unquote's rules, so the bytes Marshal was given come back:
// objects as map[string]any (a repeated key keeps its last value), arrays
// as []any, strings as string, numbers as json.Number, true and false as
// bool, null as nil.
func Decode(data []byte) (any, error) {
	d := decoder{data: data}
	d.space()
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.space()
	if d.i != len(d.data) {
		return nil, d.errorf("text after the JSON value")
	}
	return v, nil
}

type decoder struct {
	data []byte
	i    int
}

func (d *decoder) errorf(format string, a ...any) error {
	return fmt.Errorf("safejson: offset %d: %s", d.i, fmt.Sprintf(format, a...))
}

func (d *decoder) space() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) literal(word string, v any) (any, error) {
	if len(d.data)-d.i < len(word) || string(d.data[d.i:d.i+len(word)]) != word {
		return nil, d.errorf("invalid character")
	}
	d.i += len(word)
	return v, nil
}

func (d *decoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, d.errorf("nested deeper than %d", maxDepth)
	}
	if d.i >= len(d.data) {
		return nil, d.errorf("unexpected end of JSON")
	}
	switch c := d.data[d.i]; {
	case c == '"':
		s, n, err := unquote(d.data, d.i)
		if err != nil {
			return nil, err
		}
		d.i = n
		return s, nil
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == 't':
		return d.literal("true", true)
	case c == 'f':
		return d.literal("false", false)
	case c == 'n':
		return d.literal("null", nil)
	case c == '-' || '0' <= c && c <= '9':
		j := d.i + 1
		for j < len(d.data) && (d.data[j] >= '0' && d.data[j] <= '9' || d.data[j] == '.' || d.data[j] == 'e' || d.data[j] == 'E' || d.data[j] == '+' || d.data[j] == '-') {
			j++
		}
		if !validNumber(string(d.data[d.i:j])) {
			return nil, d.errorf("invalid number")
		}
		n := json.Number(d.data[d.i:j])
		d.i = j
		return n, nil
	}
	return nil, d.errorf("invalid character %q", d.data[d.i])
}

func (d *decoder) object(depth int) (any, error) {
	m := map[string]any{}
	d.i++
	d.space()
	if d.i < len(d.data) && d.data[d.i] == '}' {
		d.i++
		return m, nil
	}
	for {
		if d.i >= len(d.data) || d.data[d.i] != '"' {
			return nil, d.errorf("want an object key")
		}
		k, n, err := unquote(d.data, d.i)
		if err != nil {
			return nil, err
		}
		d.i = n
		d.space()
		if d.i >= len(d.data) || d.data[d.i] != ':' {
			return nil, d.errorf("want ':' after an object key")
		}
		d.i++
		d.space()
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		m[k] = v
		d.space()
		if d.i < len(d.data) && d.data[d.i] == ',' {
			d.i++
			d.space()
			continue
		}
		if d.i < len(d.data) && d.data[d.i] == '}' {
			d.i++
			return m, nil
		}
		return nil, d.errorf("want ',' or '}' in an object")
	}
}

func (d *decoder) array(depth int) (any, error) {
	a := []any{}
	d.i++
	d.space()
	if d.i < len(d.data) && d.data[d.i] == ']' {
		d.i++
		return a, nil
	}
	for {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		d.space()
		if d.i < len(d.data) && d.data[d.i] == ',' {
			d.i++
			d.space()
			continue
		}
		if d.i < len(d.data) && d.data[d.i] == ']' {
			d.i++
			return a, nil
		}
		return nil, d.errorf("want ',' or ']' in an array")
	}
}
