package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/config"
)

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the configuration and its contexts",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "view",
		Short: "Print the configuration with secrets redacted",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := config.LoadDefault(g.configPath)
			if err != nil {
				return err
			}
			out, err := cfg.Redacted()
			if err != nil {
				return err
			}
			if cfg.Path != "" {
				fmt.Fprintf(g.stdout, "# %s\n", backends.SafeText(cfg.Path))
			} else {
				fmt.Fprintf(g.stdout, "# no config file (looked at %s)\n", config.DefaultPath())
			}
			_, err = g.stdout.Write(out)
			return err
		},
	})
	var output string
	ctxs := &cobra.Command{
		Use:   "contexts",
		Short: "List the contexts",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			cfg, err := config.LoadDefault(g.configPath)
			if err != nil {
				return err
			}
			type row struct {
				Name     string   `json:"name"`
				Current  bool     `json:"current"`
				Color    string   `json:"color"`
				ReadOnly bool     `json:"read_only"`
				Brokers  []string `json:"kafka_brokers"`
				RabbitMQ string   `json:"rabbitmq_management_url"`
			}
			rows := []row{}
			for _, n := range cfg.ContextNames() {
				c := cfg.Contexts[n]
				r := row{Name: n, Current: n == cfg.CurrentContext, Color: c.Color, ReadOnly: c.ReadOnly, Brokers: []string{}}
				if c.Kafka != nil {
					r.Brokers = append(r.Brokers, c.Kafka.Brokers...)
				}
				if c.RabbitMQ != nil {
					r.RabbitMQ = c.RabbitMQ.ManagementURL
				}
				rows = append(rows, r)
			}
			if output == "json" {
				return writeJSON(g.stdout, rows)
			}
			t := newTable(g.stdout, "CURRENT", "NAME", "COLOR", "READ-ONLY", "KAFKA")
			for _, r := range rows {
				cur := ""
				if r.Current {
					cur = "*"
				}
				ro := "no"
				if r.ReadOnly {
					ro = "yes"
				}
				t.row(cur, r.Name, orDash(r.Color), ro, orDash(fmt.Sprint(len(r.Brokers), " broker(s)")))
			}
			return t.flush()
		},
	}
	outputFlag(ctxs, &output)
	cmd.AddCommand(ctxs)
	return cmd
}
