// Package ratelimit holds the token buckets behind Herald's rate limits:
// a tiny one for per-connection state (it costs 16 bytes inside the
// connection's struct), and a keyed one for per-IP limits.
package ratelimit

// Bucket is a token bucket refilled at a rate per second up to a burst.
// The zero value is full at first use. It is not safe for concurrent use:
// its owner serializes calls (a connection's frames are handled one at a
// time).
type Bucket struct {
	tokens float64
	last   int64 // ms of the last refill; 0 before the first use
}

// Allow takes n tokens if the bucket holds them at time nowMs and reports
// whether it did.
func (b *Bucket) Allow(nowMs int64, n int, rate float64, burst int) bool {
	if b.last == 0 {
		b.tokens = float64(burst)
	} else if d := nowMs - b.last; d > 0 {
		b.tokens = min(float64(burst), b.tokens+float64(d)*rate/1000)
	}
	b.last = nowMs
	if b.tokens < float64(n) {
		return false
	}
	b.tokens -= float64(n)
	return true
}
