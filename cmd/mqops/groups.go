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
	Group    string `json:"group"`
	State    string `json:"state"`
	Protocol string `json:"protocol"`
	Assignor string `json:"assignor"`
	// Type, GroupEpoch, AssignmentEpoch: see backends.Group.
	Type            string            `json:"type"`
	GroupEpoch      int32             `json:"group_epoch,omitempty"`
	AssignmentEpoch int32             `json:"assignment_epoch,omitempty"`
	Coordinator     int32             `json:"coordinator"`
	Members         []backends.Member `json:"members"`
	Topics          []string          `json:"topics"`
	Lag             int64             `json:"lag"`
	Status          string            `json:"status"`
	Error           string            `json:"error,omitempty"`
	Unknown         string            `json:"unknown,omitempty"`
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
				gj := groupJSON{Group: gr.Name, State: gr.State, Protocol: gr.ProtocolType, Assignor: gr.Protocol,
					Type: gr.Type, GroupEpoch: gr.GroupEpoch, AssignmentEpoch: gr.AssignmentEpoch, Coordinator: gr.Coordinator,
					Members: gr.Members, Topics: gr.Topics(), Lag: gr.TotalLag(), Status: string(lag.Unknown), Error: gr.Err, Unknown: gr.Unknown}
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
				if err := writeJSON(g.stdout, rep); err != nil {
					return err
				}
			} else {
				t := newTable(g.stdout, "GROUP", "STATE", "TYPE", "ASSIGNOR", "MEMBERS", "CLIENTS", "TOPICS", "LAG", "STATUS")
				for _, gj := range rep.Groups {
					members, clients := fmt.Sprint(len(gj.Members)), memberClients(gj.Members)
					if gj.Unknown != "" {
						members, clients = "?", "?"
					}
					typ := orDash(gj.Type)
					if gj.Protocol != "" && gj.Protocol != "consumer" { // a Kafka Connect group: classic/connect
						typ += "/" + gj.Protocol
					}
					t.row(gj.Group, gj.State, typ, orDash(gj.Assignor), members, clients, orDash(strings.Join(gj.Topics, ",")), fmt.Sprint(gj.Lag), gj.Status)
				}
				if err := t.flush(); err != nil {
					return err
				}
			}
			noteUnknown(g, snap)
			return partialResult("groups", missingGroups(snap))
		},
	}
	outputFlag(cmd, &output)
	return cmd
}

// snapshot takes one snapshot on the effective context. --timeout bounds
// each request (a broker silent that long fails it at once), not the whole
// snapshot: a big cluster that keeps answering is read whole, with a
// progress line on a terminal.
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
	opts.SkipRecordTimes = true // `groups` and `topics` show no time lag
	done := readProgress(g, "reading "+backends.SafeText(kc.Name()))
	snap, err := kc.Snapshot(ctx, opts)
	done()
	if err != nil {
		return nil, "", "", err
	}
	return snap, c.Name, kc.Name(), nil
}

// missingGroups names, one per entry, the groups of snap that could not
// be read whole (described, or their offsets fetched), and why.
func missingGroups(snap *backends.ClusterSnapshot) []string {
	var out []string
	for _, gr := range snap.Groups {
		if gr.Err != "" {
			out = append(out, fmt.Sprintf("group %s: %s", backends.SafeText(gr.Name), backends.SafeText(gr.Err)))
		}
	}
	return out
}

// missingPartitions names, one per entry, the partitions of snap whose
// offsets or leader could not be read (of the topics in only, when given),
// and why; a topic whose metadata failed is named once.
func missingPartitions(snap *backends.ClusterSnapshot, only map[string]bool) []string {
	var out []string
	for _, t := range snap.Topics {
		if only != nil && !only[t.Name] {
			continue
		}
		if t.Err != "" && len(t.Partitions) == 0 {
			out = append(out, fmt.Sprintf("topic %s: %s", backends.SafeText(t.Name), backends.SafeText(t.Err)))
		}
		for _, p := range t.Partitions {
			if p.Err != "" {
				out = append(out, fmt.Sprintf("topic %s partition %d: %s", backends.SafeText(t.Name), p.Partition, backends.SafeText(p.Err)))
			}
		}
	}
	return out
}

// memberClients lists the distinct client@host of a group's members, in
// their order, the first few and how many more ("-" for none): who is
// consuming, at a glance (-o json has every member).
func memberClients(ms []backends.Member) string {
	const shown = 3
	var out []string
	seen := map[string]bool{}
	for _, m := range ms {
		c := orDash(m.ClientID) + "@" + orDash(m.Host)
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	if len(out) > shown {
		out = append(out[:shown], fmt.Sprintf("+%d more", len(out)-shown))
	}
	return orDash(strings.Join(out, ","))
}

// noteUnknown says on stderr what is unknown about groups that are not in
// error (groups of the consumer protocol on a broker that cannot describe
// them): the result is whole, these facts are not in it.
func noteUnknown(g *globals, snap *backends.ClusterSnapshot) {
	var notes []string
	for _, gr := range snap.Groups {
		if gr.Unknown != "" && gr.Err == "" {
			notes = append(notes, fmt.Sprintf("note: group %s: unknown: %s", backends.SafeText(gr.Name), backends.SafeText(gr.Unknown)))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(g.stderr, strings.Join(notes, "\n"))
	}
}
