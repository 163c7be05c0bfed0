package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mqops/mqops/backends"
)

// decodeHeaders reads a headers column: a JSON object (order kept) or an
// array of {"key","value"} objects (order and repeats kept). Values that
// are not strings are kept as their JSON text; null is "".
func decodeHeaders(raw []byte) ([]backends.StoreHeader, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	switch raw[0] {
	case '{':
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		return readObjectHeaders(dec)
	case '[':
		var list []struct {
			Key   *string         `json:"key"`
			Value json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("not a JSON array of {key, value}: %v", err)
		}
		out := make([]backends.StoreHeader, 0, len(list))
		for i, h := range list {
			if h.Key == nil {
				return nil, fmt.Errorf("header %d has no key", i)
			}
			out = append(out, backends.StoreHeader{Key: *h.Key, Value: jsonText(h.Value)})
		}
		return out, nil
	}
	return nil, errors.New("not a JSON object or array")
}

// readObjectHeaders reads one JSON object from dec (positioned before its
// '{'), keeping the order of its members. A cut object gives the members
// read before the cut, with the error.
func readObjectHeaders(dec *json.Decoder) ([]backends.StoreHeader, error) {
	members, err := readRawObject(dec)
	out := make([]backends.StoreHeader, len(members))
	for i, m := range members {
		out[i] = backends.StoreHeader{Key: m.key, Value: jsonText(m.raw)}
	}
	return out, err
}

// rawMember is one member of a JSON object, its value as it was written.
type rawMember struct {
	key string
	raw json.RawMessage
}

// readRawObject reads one JSON object's members in order; a cut object
// gives those read before the cut, with the error.
func readRawObject(dec *json.Decoder) ([]rawMember, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	var out []rawMember
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return out, err
		}
		k, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return out, err
		}
		out = append(out, rawMember{k, v})
	}
	if _, err := dec.Token(); err != nil {
		return out, err
	}
	return out, nil
}

// jsonText is a JSON value as a header value: a string unquoted, null
// empty, anything else its compact JSON text.
func jsonText(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return ""
	}
	if v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
	}
	var b bytes.Buffer
	if json.Compact(&b, v) == nil {
		return b.String()
	}
	return string(v)
}
