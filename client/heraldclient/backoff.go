package heraldclient

import (
	"math/rand/v2"
	"time"
)

// backoff computes reconnect delays: exponential growth with full jitter
// (a uniformly random delay between 0 and the current ceiling), as in the
// AWS architecture blog's "Exponential Backoff And Jitter". Full jitter
// spreads a crowd of clients that lost the same server over the whole
// window, instead of having them return in synchronized waves.
//
// A backoff is used by one goroutine (the client's run loop).
type backoff struct {
	min, max time.Duration
	attempt  int
	// jitter returns a random duration in [0, n); tests replace it.
	jitter func(n time.Duration) time.Duration
}

func newBackoff(min, max time.Duration) *backoff {
	return &backoff{min: min, max: max, jitter: randDuration}
}

// ceiling returns the upper bound of the next delay: min doubled once per
// failed attempt, capped at max.
func (b *backoff) ceiling() time.Duration {
	d := b.min
	for i := 0; i < b.attempt && d < b.max; i++ {
		d *= 2
	}
	return min(d, b.max)
}

// next returns the delay before the next attempt and counts the attempt.
func (b *backoff) next() time.Duration {
	c := b.ceiling()
	b.attempt++
	if c <= 0 {
		return 0
	}
	return b.jitter(c)
}

// reset starts over after a connection that stayed healthy, so that one
// network blip on a long-lived connection is answered within min.
func (b *backoff) reset() { b.attempt = 0 }

func randDuration(n time.Duration) time.Duration { return rand.N(n) }
