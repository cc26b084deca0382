package ratelimit

import (
	"sync"
	"time"
)

// Keyed is a set of buckets by key (a client IP, say), safe for
// concurrent use. Buckets that have refilled are forgotten, so memory
// follows the keys that are active.
type Keyed struct {
	Rate  float64
	Burst int

	mu      sync.Mutex
	buckets map[string]*Bucket
	swept   int64
}

// Allow takes one token from key's bucket at time now.
func (k *Keyed) Allow(key string, now time.Time) bool {
	ms := now.UnixMilli()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.buckets == nil {
		k.buckets = make(map[string]*Bucket)
	}
	k.sweep(ms)
	b, ok := k.buckets[key]
	if !ok {
		b = &Bucket{}
		k.buckets[key] = b
	}
	return b.Allow(ms, 1, k.Rate, k.Burst)
}

// Len returns how many keys are tracked.
func (k *Keyed) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.buckets)
}

// sweep forgets buckets full again, at most once a second; k.mu held.
func (k *Keyed) sweep(ms int64) {
	if ms-k.swept < 1000 {
		return
	}
	k.swept = ms
	full := float64(k.Burst) / k.Rate * 1000 // ms to refill from empty
	for key, b := range k.buckets {
		if float64(ms-b.last) >= full {
			delete(k.buckets, key)
		}
	}
}
