package actions

import (
	"context"
	"sync"
	"time"
)

// Limiter paces operations to a rate per second. The zero rate means no
// limit. It schedules each operation at start + n/rate, so the average rate
// over any run holds even when single waits wake late.
type Limiter struct {
	mu      sync.Mutex
	rate    float64
	start   time.Time
	started bool
	n       int64
	now     func() time.Time
	sleep   func(ctx context.Context, d time.Duration) error
}

// NewLimiter returns a limiter for rate operations per second (≤ 0: none).
func NewLimiter(rate float64) *Limiter {
	return &Limiter{rate: rate, now: time.Now, sleep: sleepCtx}
}

// Wait blocks until the next operation may run, or ctx ends.
func (l *Limiter) Wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if l == nil || l.rate <= 0 {
		return nil
	}
	l.mu.Lock()
	now := l.now()
	if !l.started {
		l.start, l.started = now, true
	}
	at := l.start.Add(time.Duration(float64(l.n) / l.rate * float64(time.Second)))
	l.n++
	l.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		return l.sleep(ctx, d)
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
