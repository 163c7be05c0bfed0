package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/safejson"
)

// outputFlag registers -o/--output on cmd.
func outputFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVarP(p, "output", "o", "table", "output format: table or json")
}

func checkOutput(o string) error {
	switch o {
	case "table", "json":
		return nil
	}
	return fmt.Errorf("unknown output format %q: want table or json", o)
}

// writeJSON writes v indented, for -o json: with the structure
// encoding/json gives it, every unsafe rune escaped and bytes that are not
// UTF-8 kept as \udcXX (see backends/safejson).
func writeJSON(w io.Writer, v any) error {
	return safejson.NewEncoder(w).SetIndent("", "  ").Encode(v)
}

// table writes aligned columns; every cell is sanitized for the terminal.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	fmt.Fprintln(t.tw, strings.Join(header, "\t"))
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = strings.ReplaceAll(backends.SafeText(c), "\t", " ")
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

func i64(p *int64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}
