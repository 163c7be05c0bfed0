package storetest

import "strings"

// Statements splits a DDL script (store.Schema's, `mqops schema print`'s,
// CAP's initializers) into its statements, to run one at a time: MariaDB
// runs one statement per call. A statement ends at a semicolon that ends
// a line; lines that are only a comment are dropped.
func Statements(ddl string) []string {
	var out, cur []string
	for _, l := range strings.Split(ddl, "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "--") || strings.HasPrefix(t, "//") {
			continue
		}
		cur = append(cur, l)
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(strings.Join(cur, "\n")), ";"))
			cur = nil
		}
	}
	if len(cur) > 0 {
		out = append(out, strings.Join(cur, "\n"))
	}
	return out
}
