package kafka

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/IBM/sarama"
)

// Bounds on what mqops reads from a broker. sarama reads a reply's length
// first and refuses one longer than MaxResponseSize before allocating it,
// so a broker that announces 2 GB gets a clear error, not 2 GB of memory.
// The largest reply mqops asks for is a fetch of one partition alone
// (maxPartitionBytes); the rest (metadata of a big cluster, thousands of
// groups) is far smaller.
const (
	maxReplyBytes = maxPartitionBytes + 1<<20
	// maxInflatedBatch bounds what one compressed record batch may inflate
	// to (a compression bomb): sarama stops and fails the read past it.
	maxInflatedBatch = maxPartitionBytes
)

func init() {
	// sarama's own bounds are package variables; mqops is their only user
	// in the process.
	sarama.MaxResponseSize = maxReplyBytes
	sarama.MaxDecompressedBatchSize = maxInflatedBatch
}

var tooLargeRE = regexp.MustCompile(`length (-?\d+) too large`)

// replyTooLarge says, for an error of sarama refusing a reply larger than
// the bounds, what the broker sent ("" for any other error).
func replyTooLarge(err error) string {
	if err == nil {
		return ""
	}
	if errors.Is(err, sarama.ErrDecompressedBatchTooLarge) {
		return fmt.Sprintf("sent a compressed record batch that inflates to more than %d MiB, the most mqops reads", maxInflatedBatch>>20)
	}
	var pde sarama.PacketDecodingError
	if !errors.As(err, &pde) {
		return ""
	}
	m := tooLargeRE.FindStringSubmatch(pde.Info)
	if m == nil {
		return ""
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	if n < 0 {
		n += 1 << 32 // an unsigned length read as a signed int32
	}
	if n <= 4 {
		return fmt.Sprintf("sent a malformed reply (length %d)", n)
	}
	return fmt.Sprintf("announced a reply of %s, more than the %d MiB mqops reads (not a Kafka broker, or a hostile one?)", sizeText(n), maxReplyBytes>>20)
}

// sizeText is a byte count for an error message.
func sizeText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}
