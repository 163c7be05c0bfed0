package main

import (
	"fmt"
	"log"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mqops/mqops/backends/embedded"
	"github.com/mqops/mqops/backends/kafka"
	"github.com/mqops/mqops/tui"
)

func newDemoCmd(g *globals) *cobra.Command {
	var (
		noTUI  bool
		listen string
		seed   int64
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Open the console on an embedded Kafka with live synthetic traffic",
		Long: `Starts an in-process Kafka (kfake) with live synthetic traffic — a healthy
group, one falling behind, one stalled, one stopped with lag, and a
dead-letter topic — and opens the console on it. Nothing leaves this process.

With --no-tui the cluster keeps running and its address is printed, so the
headless commands can be tried against it from another terminal.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			closeLog, err := g.openLog()
			if err != nil {
				return err
			}
			defer closeLog()
			ctx := cmd.Context()
			env, err := embedded.Start(ctx, embedded.Options{Seed: seed, Traffic: true, ListenAddr: listen, Logf: log.Printf})
			if err != nil {
				return fmt.Errorf("starting the embedded demo cluster: %w", err)
			}
			defer env.Close()
			brokers := env.Brokers()
			if noTUI {
				fmt.Fprintf(g.stdout, "demo cluster running; in another terminal:\n\n  export MQOPS_BROKERS=%s\n  mqops lag\n\n", strings.Join(brokers, ","))
				for _, s := range env.Scenario() {
					fmt.Fprintf(g.stdout, "  group %-14s on %-12s expect %s\n", s.Group, s.Topic, s.Expect)
				}
				fmt.Fprintln(g.stdout, "\nctrl+c to stop")
				<-ctx.Done()
				return nil
			}
			kc, err := kafka.New(kafka.Config{Brokers: brokers, Timeout: g.timeout})
			if err != nil {
				return err
			}
			defer kc.Close()
			return tui.Run(ctx, tui.Options{
				Context: "demo", Color: "green", Cluster: "embedded " + kc.Name(),
				Kafka: kc, Refresh: 2e9, Timeout: g.timeout,
			})
		},
	}
	cmd.Flags().BoolVar(&noTUI, "no-tui", false, "keep the cluster running and print its address instead of opening the console")
	cmd.Flags().StringVar(&listen, "listen", "", "address for the embedded broker (default 127.0.0.1 on a free port)")
	cmd.Flags().Int64Var(&seed, "seed", 1, "seed of the synthetic traffic")
	return cmd
}
