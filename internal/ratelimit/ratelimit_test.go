package ratelimit

import (
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	var b Bucket
	steps := []struct {
		at   int64
		n    int
		want bool
	}{
		{1000, 5, true},  // full burst of 5
		{1000, 1, false}, // empty
		{1100, 1, true},  // 10/s: one token after 100 ms
		{1100, 1, false},
		{2000, 5, true}, // refilled to the burst, not beyond
		{2000, 1, false},
		{1900, 1, false}, // time going back refills nothing
	}
	for i, s := range steps {
		if got := b.Allow(s.at, s.n, 10, 5); got != s.want {
			t.Fatalf("step %d: Allow(%d, %d) = %v, want %v", i, s.at, s.n, got, s.want)
		}
	}
}

func TestKeyed(t *testing.T) {
	k := &Keyed{Rate: 1, Burst: 2}
	now := time.Unix(1_000_000, 0)
	for i, want := range []bool{true, true, false} {
		if got := k.Allow("1.2.3.4", now); got != want {
			t.Fatalf("call %d: %v, want %v", i, got, want)
		}
	}
	if !k.Allow("5.6.7.8", now) {
		t.Fatal("another key shares the first key's bucket")
	}
	later := now.Add(10 * time.Second)
	if !k.Allow("9.9.9.9", later) || k.Len() != 1 {
		t.Fatalf("refilled buckets are not forgotten: %d tracked", k.Len())
	}
}
