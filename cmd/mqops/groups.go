package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/lag"
)

type groupsReport struct {
	Context string      `json:"context"`
	Cluster string      `json:"cluster"`
	TakenAt string      `json:"taken_at"`
	Groups  []groupJSON `json:"groups"`
}

type groupJSON struct {
	Group       string            `json:"group"`
	State       string            `json:"state"`
	Protocol    string            `json:"protocol"`
	Assignor    string            `json:"assignor"`
	Coordinator int32             `json:"coordinator"`
	Members     []backends.Member `json:"members"`
	Topics      []string          `json:"topics"`
	Lag         int64             `json:"lag"`
	Status      string            `json:"status"`
	Error       string            `json:"error,omitempty"`
}

func newGroupsCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "groups",
		Aliases: []string{"group", "grp"},
		Short:   "Consumer groups: state, members, topics and total lag",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			snap, ctxName, cluster, err := g.snapshot(cmd.Context(), backends.SnapshotOptions{})
			if err != nil {
				return err
			}
			an := lag.Analyze(snap)
			rep := groupsReport{Context: ctxName, Cluster: cluster, TakenAt: snap.TakenAt.UTC().Format(time.RFC3339), Groups: []groupJSON{}}
			for _, gr := range snap.Groups {
				gj := groupJSON{Group: gr.Name, State: gr.State, Protocol: gr.ProtocolType, Assignor: gr.Protocol, Coordinator: gr.Coordinator,
					Members: gr.Members, Topics: gr.Topics(), Lag: gr.TotalLag(), Status: string(lag.Unknown), Error: gr.Err}
				if gj.Members == nil {
					gj.Members = []backends.Member{}
				}
				if gj.Topics == nil {
					gj.Topics = []string{}
				}
				if gs := an.Groups[gr.Name]; gs != nil {
					gj.Status = string(gs.Status)
				}
				rep.Groups = append(rep.Groups, gj)
			}
			sort.SliceStable(rep.Groups, func(i, j int) bool { return rep.Groups[i].Lag > rep.Groups[j].Lag })
			if output == "json" {
				return writeJSON(g.stdout, rep)
			}
			t := newTable(g.stdout, "GROUP", "STATE", "PROTOCOL", "MEMBERS", "TOPICS", "LAG", "STATUS")
			for _, gj := range rep.Groups {
				t.row(gj.Group, gj.State, orDash(gj.Protocol), fmt.Sprint(len(gj.Members)), orDash(strings.Join(gj.Topics, ",")), fmt.Sprint(gj.Lag), gj.Status)
			}
			return t.flush()
		},
	}
	outputFlag(cmd, &output)
	return cmd
}

// snapshot takes one snapshot on the effective context within --timeout.
func (g *globals) snapshot(ctx context.Context, opts backends.SnapshotOptions) (*backends.ClusterSnapshot, string, string, error) {
	_, c, err := g.loadContext()
	if err != nil {
		return nil, "", "", err
	}
	kc, err := g.kafkaClient(c)
	if err != nil {
		return nil, "", "", err
	}
	defer kc.Close()
	sctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	snap, err := kc.Snapshot(sctx, opts)
	if err != nil {
		return nil, "", "", err
	}
	return snap, c.Name, kc.Name(), nil
}
