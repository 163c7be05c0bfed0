package tui

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/charmbracelet/x/exp/golden"
)

// loaded is a console that has taken three snapshots, 5 s apart, of the
// synthetic cluster.
func loaded(t testing.TB, o Options) *harness {
	t.Helper()
	src := &cannedSource{}
	for k := 0; k < 3; k++ {
		src.push(cluster(k), nil)
	}
	if o.Cluster == "" {
		o.Cluster = "kafka-1.test:9092"
	}
	h := newHarness(t, o, src)
	fire[refreshTickMsg](h)
	fire[refreshTickMsg](h)
	if h.m.data.gen != 3 {
		t.Fatalf("expected 3 snapshots, got %d", h.m.data.gen)
	}
	return h
}

// TestGolden renders each screen at 120×30 and compares the plain text (ANSI
// stripped, so the comparison does not depend on the colour profile) with
// testdata/TestGolden/*.golden. Regenerate with `go test ./tui -update`.
func TestGolden(t *testing.T) {
	cases := []struct {
		name  string
		opts  Options
		setup func(t *testing.T, h *harness)
	}{
		{name: "groups"},
		{name: "group_detail", setup: func(t *testing.T, h *harness) {
			h.selectRow("analytics")
			h.keys("enter")
		}},
		{name: "group_detail_billing", setup: func(t *testing.T, h *harness) {
			h.selectRow("billing")
			h.keys("enter")
		}},
		{name: "topics", setup: func(t *testing.T, h *harness) {
			h.keys(":")
			h.typeText("topics")
			h.keys("enter")
		}},
		{name: "topic_detail", setup: func(t *testing.T, h *harness) {
			h.keys(":")
			h.typeText("t")
			h.keys("enter")
			h.selectRow("orders")
			h.keys("enter")
		}},
		{name: "topic_detail_groups_pane", setup: func(t *testing.T, h *harness) {
			h.keys(":")
			h.typeText("t")
			h.keys("enter")
			h.selectRow("orders")
			h.keys("enter", "tab", "j")
		}},
		{name: "help", setup: func(t *testing.T, h *harness) {
			h.keys("?")
		}},
		{name: "help_scrolled_to_the_end", setup: func(t *testing.T, h *harness) {
			h.keys("?", "j", "j", "j", "j", "j", "j", "j", "j")
			if !strings.Contains(h.screen(), "REWIND offset went back") {
				t.Errorf("scrolling the help to its end does not show the status legend:\n%s", h.screen())
			}
		}},
		{name: "filter_active", setup: func(t *testing.T, h *harness) {
			h.keys("/")
			h.typeText("bill|ship")
			h.keys("enter", "space")
		}},
		{name: "filter_typing_invalid", setup: func(t *testing.T, h *harness) {
			h.keys("/")
			h.typeText("ship[")
		}},
		{name: "filter_inverted", setup: func(t *testing.T, h *harness) {
			h.keys("/")
			h.typeText("!^(billing|shipping)$")
			h.keys("enter")
		}},
		{name: "palette", setup: func(t *testing.T, h *harness) {
			h.keys(":")
			h.typeText("to")
		}},
		{name: "stale", setup: func(t *testing.T, h *harness) {
			h.src.set(nil, errors.New("kafka: client has run out of available brokers to talk to: dial tcp 10.0.0.1:9092: connect: connection refused"))
			fire[refreshTickMsg](h)
		}},
		{name: "readonly_red", opts: Options{Context: "prod", Color: "red", ReadOnly: true, Cluster: "kafka-1.prod:9093"}},
		{name: "sorted_by_status_reversed", setup: func(t *testing.T, h *harness) {
			// LAG → TREND (skipped, not sortable) → STATUS (worst first),
			// then reversed.
			h.keys("s", "S")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := loaded(t, c.opts)
			if c.setup != nil {
				c.setup(t, h)
			}
			raw := h.m.View().Content
			checkFrame(t, raw, 120, 30)
			golden.RequireEqual(t, h.screen())
		})
	}
}

// TestGoldenStartup covers the screens before the first snapshot.
func TestGoldenStartup(t *testing.T) {
	t.Run("connecting", func(t *testing.T) {
		src := &cannedSource{}
		o := Options{Kafka: src, Context: "staging", Cluster: "kafka-1.test:9092", Now: (&testClock{t: t0}).Now}
		m := New(o)
		m.Update(teaWindow(120, 30))
		// Init asks for a refresh; deliver it but do not run the call.
		m.Update(execCmd(m.Init())[0])
		if !m.refresh.inFlight {
			t.Fatal("no refresh in flight after init")
		}
		raw := m.View().Content
		checkFrame(t, raw, 120, 30)
		golden.RequireEqual(t, stripANSI(raw))
	})
	t.Run("first_failure", func(t *testing.T) {
		src := &cannedSource{}
		src.push(nil, errors.New("dial tcp 10.0.0.1:9092: i/o timeout"))
		h := newHarness(t, Options{Cluster: "kafka-1.test:9092"}, src)
		checkFrame(t, h.m.View().Content, 120, 30)
		golden.RequireEqual(t, h.screen())
	})
	t.Run("no_kafka", func(t *testing.T) {
		h := newHarness(t, Options{Context: "dev"}, nil)
		golden.RequireEqual(t, h.screen())
	})
}

func TestReadOnlyRedHeaderIsRed(t *testing.T) {
	h := loaded(t, Options{Context: "prod", Color: "red", ReadOnly: true})
	header := strings.SplitN(h.m.View().Content, "\n", 2)[0]
	// The context badge has a red background (SGR 41) and the read-only
	// badge is there.
	if !regexp.MustCompile(`\x1b\[[0-9;]*\b41[;m][^\x1b]*prod`).MatchString(header) {
		t.Errorf("context badge is not red: %q", header)
	}
	if !strings.Contains(stripANSI(header), "READ-ONLY") {
		t.Errorf("no READ-ONLY badge: %q", stripANSI(header))
	}
	h2 := loaded(t, Options{Context: "dev", Color: "green"})
	if strings.Contains(stripANSI(strings.SplitN(h2.m.View().Content, "\n", 2)[0]), "READ-ONLY") {
		t.Error("READ-ONLY badge on a writable context")
	}
}
