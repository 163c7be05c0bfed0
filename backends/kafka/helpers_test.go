package kafka

import (
	"strings"
	"testing"

	"github.com/mqops/mqops/backends/kafka/kafkatest"
)

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// blackhole returns the address of a listener that accepts connections and
// never writes a byte.
func blackhole(t *testing.T) string { return kafkatest.Silent(t) }
