package tui

import (
	"context"
	"io"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/mqops/mqops/backends/kafka/kafkatest"
	"github.com/mqops/mqops/backends/rabbitmq"
)

// TestQuitDoesNotWaitForHungRabbitMQ opens the console on :queues and :dlq
// against a RabbitMQ whose management API and AMQP port accept TCP and
// never answer, with calls in flight, and presses q: the program ends
// without waiting for them (or for the 10 s timeout). The ceiling is
// generous; the figure measured is logged.
func TestQuitDoesNotWaitForHungRabbitMQ(t *testing.T) {
	for _, view := range []string{"queues", "dlq"} {
		t.Run(view, func(t *testing.T) {
			addr := kafkatest.Silent(t) // accepts TCP, never answers
			rc, err := rabbitmq.New(rabbitmq.Config{ManagementURL: "http://" + addr, URL: "amqp://mqops@" + addr + "/", Timeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			in, keys := io.Pipe()
			done := make(chan error, 1)
			go func() {
				_, err := Run(context.Background(), Options{Rabbit: rc, Drainer: rc, StartView: view, Timeout: 10 * time.Second,
					programOptions: []tea.ProgramOption{tea.WithInput(in), tea.WithOutput(io.Discard), tea.WithWindowSize(120, 40)}})
				done <- err
			}()
			time.Sleep(300 * time.Millisecond) // the first refresh is in flight, hung
			select {
			case err := <-done:
				t.Fatalf("the console ended before q: %v", err)
			default:
			}
			start := time.Now()
			if _, err := keys.Write([]byte("q")); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				t.Logf("q with a hung RabbitMQ call in flight: the console ended in %s", time.Since(start))
			case <-time.After(time.Second):
				t.Fatal("q did not end the console within 1s while a RabbitMQ call hung")
			}
			keys.Close()
		})
	}
}
