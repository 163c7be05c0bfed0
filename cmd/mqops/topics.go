package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mqops/mqops/backends"
)

type topicsReport struct {
	Context string            `json:"context"`
	Cluster string            `json:"cluster"`
	TakenAt string            `json:"taken_at"`
	Brokers []backends.Broker `json:"brokers"`
	Topics  []topicJSON       `json:"topics"`
}

type topicJSON struct {
	Topic           string               `json:"topic"`
	Internal        bool                 `json:"internal"`
	PartitionCount  int                  `json:"partition_count"`
	Messages        int64                `json:"messages"`
	UnderReplicated int                  `json:"under_replicated"`
	Error           string               `json:"error,omitempty"`
	Partitions      []backends.Partition `json:"partitions"`
}

func newTopicsCmd(g *globals) *cobra.Command {
	var (
		output   string
		topics   []string
		internal bool
	)
	cmd := &cobra.Command{
		Use:     "topics",
		Aliases: []string{"topic", "top"},
		Short:   "Topics: partitions, offsets, retained messages, under-replicated partitions",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			snap, ctxName, cluster, err := g.snapshot(cmd.Context(), backends.SnapshotOptions{Topics: topics, IncludeInternal: internal})
			if err != nil {
				return err
			}
			rep := topicsReport{Context: ctxName, Cluster: cluster, TakenAt: snap.TakenAt.UTC().Format(time.RFC3339), Brokers: snap.Brokers, Topics: []topicJSON{}}
			for _, t := range snap.Topics {
				tj := topicJSON{Topic: t.Name, Internal: t.Internal, PartitionCount: len(t.Partitions), Error: t.Err, Partitions: t.Partitions}
				if tj.Partitions == nil {
					tj.Partitions = []backends.Partition{}
				}
				for _, p := range t.Partitions {
					tj.Messages += p.Messages()
					if p.UnderReplicated {
						tj.UnderReplicated++
					}
				}
				rep.Topics = append(rep.Topics, tj)
			}
			if output == "json" {
				if err := writeJSON(g.stdout, rep); err != nil {
					return err
				}
			} else {
				tb := newTable(g.stdout, "TOPIC", "PARTITIONS", "MESSAGES", "UNDER-REPLICATED", "ERROR")
				for _, tj := range rep.Topics {
					tb.row(tj.Topic, fmt.Sprint(tj.PartitionCount), fmt.Sprint(tj.Messages), fmt.Sprint(tj.UnderReplicated), orDash(tj.Error))
				}
				if err := tb.flush(); err != nil {
					return err
				}
			}
			// a partition whose offsets could not be read counts no messages
			return partialResult("topics or partitions", missingPartitions(snap, nil))
		},
	}
	outputFlag(cmd, &output)
	cmd.Flags().StringArrayVarP(&topics, "topic", "t", nil, "only this topic (repeatable)")
	cmd.Flags().BoolVar(&internal, "internal", false, "include internal topics (__consumer_offsets, ...)")
	return cmd
}
