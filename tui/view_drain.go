package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/kafka"
	"github.com/mqops/mqops/tui/action"
)

// kafkaDrainGroup is the consumer group a Kafka drain resumes from.
var kafkaDrainGroup = kafka.DrainGroup

// The drain of a RabbitMQ dead-letter queue from the console: `D` on a
// dead-letter queue (the :dlq or :queues list, a DLQ's detail, a
// dead-letter group row, which prefills the filter) opens the action
// screen (tui/action) on the RabbitMQ drain's spec (drain_spec.go): a form
// (target, filters, limit, rate), the plan (an actions.RabbitDrain planned
// by the console's actions.Runner: a dry run that peeks and changes
// nothing) with its equivalent headless command and its confirmation
// (default No; in a red, prod-like context the operator types the queue
// name), the progress of the run (esc or ctrl+c cancels it, safely: the
// backend requeues what the target did not confirm) and its result. The
// runner writes the audit log, as for the CLI: the run, a refusal, a plan
// that failed, and a plan shown and not confirmed (a dry run, once; ctrl+c
// on it records it before the console quits).
//
// `D` on a Kafka row of :dlq or in a topic's dead-letter groups opens the
// same screen on the Kafka drain's spec (Options.KafkaDrainer): a target
// (origin or topic:<name>), a limit, a rate and what to do with records
// too large for their target, no filter; the action is an
// actions.KafkaDrain (records not yet acknowledged are not committed:
// cancelling is safe, the next drain resumes there).
//
// The drain is absent in a read-only context and without a drainer
// (Options.Drainer, Options.KafkaDrainer): no key, no help line
// (Model.canDrain). With one drainer only, `D` on a dead letter of the
// other backend says so.

// localView is a view that neither waits for the Kafka snapshot nor goes
// through the RabbitMQ refresh loop: it loads what it needs itself and draws
// its own loading state (the drain and audit views).
type localView interface {
	view
	local()
}

// localMsg is the result of a local view's command. It finds its view by
// the tag it carries and is dropped when that view is gone.
type localMsg interface{ update(m *Model) tea.Cmd }

// canDrain says whether the drain exists in this console.
func (m *Model) canDrain() bool {
	// no audit log, no drain: an action that cannot be audited does not start
	return (m.opts.Drainer != nil || m.opts.KafkaDrainer != nil) && !m.opts.ReadOnly && m.opts.Audit != nil
}

// drainHelp is the help line of the `D` key: the backends it drains.
func (o *Options) drainHelp() string {
	switch {
	case o.Drainer != nil && o.KafkaDrainer != nil:
		return "drain dead letters (RabbitMQ DLQ, Kafka DLT)"
	case o.KafkaDrainer != nil:
		return "drain dead letters (Kafka DLT)"
	}
	return "drain dead letters (RabbitMQ DLQ)"
}

// prodLike is a red context (config.Context.ProdLike): confirmations ask
// for the queue name.
func (m *Model) prodLike() bool { return strings.EqualFold(strings.TrimSpace(m.opts.Color), "red") }

func (m *Model) nextLocalSeq() uint64 {
	m.localSeq++
	return m.localSeq
}

// localKey gives the keys to the action screen when it is on top (it
// takes them all: the form is typed into), and handles `D` and the audit
// view's own keys. ok is false when the key is not theirs.
func (m *Model) localKey(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	if m.mode != modeNormal {
		return nil, false
	}
	if v, ok := m.top().(*actionView); ok {
		return m.actionUpdate(v, msg), true
	}
	if cmd, ok := m.valueViewKey(msg); ok {
		return cmd, true
	}
	if v, ok := m.top().(*peekView); ok && v.asking() {
		return m.peekAskKey(v, msg), true // the peek's question takes the next key
	}
	if key.Matches(msg, m.keys.Drain) {
		return m.openDrain(), true
	}
	if key.Matches(msg, m.keys.Reset) {
		return m.openReset(), true
	}
	if key.Matches(msg, m.keys.Replay) {
		return m.openReplay(), true
	}
	return m.auditKey(msg)
}

// queueLister is a list of queues (:queues, :dlq) with a selected queue.
type queueLister interface {
	selectedQueue() (backends.Queue, bool)
}

// drainSource finds the dead-letter queue to drain from the view on top,
// and the filter of the selected dead-letter group. why, when not empty,
// says why there is none.
func (m *Model) drainSource() (vhost, queue, origin, reason string, why string) {
	hint := "D drains a RabbitMQ dead-letter queue: select one in :dlq"
	if m.opts.KafkaDrainer != nil {
		hint = "D drains a dead-letter queue or topic: select one in :dlq"
	}
	switch v := m.top().(type) {
	case *dlqView:
		if r, ok := v.tbl.selected(); ok {
			if parts := strings.Split(r.id, "\x00"); len(parts) >= 2 {
				origin, reason = parts[0], parts[1]
			}
		}
		return v.vhost, v.name, origin, reason, ""
	case *queueView:
		// The detail does not keep the queue's DLQ flag: the list it was
		// opened from has it, on its selected row.
		for i := len(m.stack) - 2; i >= 0; i-- {
			l, ok := m.stack[i].(queueLister)
			if !ok {
				continue
			}
			if q, ok := l.selectedQueue(); ok && q.Vhost == v.vhost && q.Name == v.name {
				if !q.IsDLQ {
					return "", "", "", "", safe(v.name) + " is not a dead-letter queue; " + hint
				}
				return v.vhost, v.name, "", "", ""
			}
		}
		return "", "", "", "", safe(v.name) + " is not known as a dead-letter queue; " + hint
	case queueLister:
		q, ok := v.selectedQueue()
		switch {
		case !ok:
			return "", "", "", "", hint
		case !q.IsDLQ:
			return "", "", "", "", safe(q.Name) + " is not a dead-letter queue; " + hint
		}
		return q.Vhost, q.Name, "", "", ""
	}
	return "", "", "", "", hint
}

// kafkaDrainSource is the Kafka dead-letter topic of the view on top: the
// selected Kafka row of :dlq, or the topic of the dead-letter groups view.
func (m *Model) kafkaDrainSource() (string, bool) {
	switch v := m.top().(type) {
	case *dlqListView:
		if _, _, d, ok := v.selected(); ok {
			return d.Topic, true
		}
	case *kafkaDLTView:
		return v.topic, true
	}
	return "", false
}

// openDrain is the `D` key.
func (m *Model) openDrain() tea.Cmd {
	if !m.canDrain() {
		return nil
	}
	if topic, ok := m.kafkaDrainSource(); ok {
		if m.opts.KafkaDrainer == nil {
			return m.setFlash(flashInfo, safe(topic)+" is a Kafka dead-letter topic: only RabbitMQ dead-letter queues can be drained in this console")
		}
		return m.push(newActionView("drain/kafka/"+topic, "drain", action.New(m.actionHost(), m.kafkaDrainSpec(topic))))
	}
	vhost, queue, origin, reason, why := m.drainSource()
	if why != "" {
		return m.setFlash(flashInfo, why)
	}
	if m.opts.Drainer == nil {
		return m.setFlash(flashInfo, safe(queue)+" is a RabbitMQ dead-letter queue: only Kafka dead-letter topics can be drained in this console")
	}
	return m.push(newActionView("drain/"+queueKey(vhost, queue), "drain", action.New(m.actionHost(), m.rabbitDrainSpec(vhost, queue, origin, reason))))
}
