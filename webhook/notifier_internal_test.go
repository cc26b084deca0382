package webhook

import (
	"context"
	"log/slog"
	"strconv"
	"testing"

	"github.com/heraldrt/herald"
)

// TestNotifierQueue checks the queue alone (no workers): order kept as
// it grows from a wrapped ring, and the oldest dropped at the bound.
func TestNotifierQueue(t *testing.T) {
	var stats Stats
	cfg := Config{NotifyQueue: 150, NotifyWorkers: 0, Logger: slog.New(slog.DiscardHandler)}
	q := newNotifier(&sender{clock: herald.SystemClock{}}, &cfg, &stats)
	push := func(from, to int) {
		for i := from; i < to; i++ {
			q.push(Request{Channel: strconv.Itoa(i)})
		}
	}
	pop := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			req, ok := q.next()
			if !ok || req.Channel != strconv.Itoa(i) {
				t.Fatalf("next = %q %v, want %d", req.Channel, ok, i)
			}
		}
	}

	push(0, 40)
	pop(0, 30) // head is now inside the first ring
	push(40, 140)
	if q.pending() != 110 || stats.NotificationsDropped.Load() != 0 {
		t.Fatalf("pending %d, dropped %d; want 110, 0", q.pending(), stats.NotificationsDropped.Load())
	}
	push(140, 200) // 60 more than the 40 free slots: 30..49 go
	if q.pending() != 150 || stats.NotificationsDropped.Load() != 20 {
		t.Fatalf("pending %d, dropped %d; want 150, 20", q.pending(), stats.NotificationsDropped.Load())
	}
	if len(q.ring) != 150 {
		t.Errorf("ring of %d, want it capped at 150", len(q.ring))
	}
	pop(50, 200)
	if left, err := q.close(context.Background()); left != 0 || err != nil {
		t.Fatalf("close = %d, %v", left, err)
	}
	if _, ok := q.next(); ok {
		t.Error("next after close found a notification")
	}
}
