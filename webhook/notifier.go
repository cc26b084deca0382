package webhook

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// dropLogEvery spaces out the warnings about a full queue.
const dropLogEvery = 10 * time.Second

// notifier queues notifications and sends them from a fixed pool of
// workers, so that the hub never waits for the backend.
type notifier struct {
	send    *sender
	retries int
	max     int // the queue's bound
	stats   *Stats
	log     *slog.Logger

	// ctx ends the workers' requests when Close runs out of time.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the workers

	mu sync.Mutex
	// cond, on mu, is signalled when ring gains a request or closing is
	// set.
	cond *sync.Cond

	// The fields below are guarded by mu.

	// ring is a circular queue of n requests, head the oldest; their IDs
	// are filled in when they are sent. It grows up to max as needed, so
	// an idle node keeps a small one.
	ring    []Request
	head, n int
	closing bool
	// lastDropLog is when a drop was last logged.
	lastDropLog time.Time
}

func newNotifier(s *sender, cfg *Config, stats *Stats) *notifier {
	ctx, cancel := context.WithCancel(context.Background())
	q := &notifier{
		send: s, retries: cfg.NotifyRetries, max: cfg.NotifyQueue, stats: stats, log: cfg.Logger,
		ctx: ctx, cancel: cancel,
		ring: make([]Request, min(64, cfg.NotifyQueue)),
	}
	q.cond = sync.NewCond(&q.mu)
	q.wg.Add(cfg.NotifyWorkers)
	for range cfg.NotifyWorkers {
		go q.work()
	}
	return q
}

// push queues a notification, dropping the oldest if the queue is full.
// It never blocks beyond the queue's lock.
func (q *notifier) push(req Request) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closing {
		q.stats.NotificationsDropped.Add(1)
		return
	}
	if q.n == len(q.ring) && len(q.ring) < q.max {
		ring := make([]Request, min(2*len(q.ring), q.max))
		k := copy(ring, q.ring[q.head:])
		copy(ring[k:], q.ring[:q.head])
		q.ring, q.head = ring, 0
	}
	if q.n == len(q.ring) {
		old := q.ring[q.head]
		q.ring[q.head] = Request{}
		q.head = (q.head + 1) % len(q.ring)
		q.n--
		q.stats.NotificationsDropped.Add(1)
		if now := q.send.clock.Now(); now.Sub(q.lastDropLog) >= dropLogEvery {
			q.lastDropLog = now
			q.log.Warn("webhook: notification queue full; dropping the oldest",
				"queue", q.max, "dropped_event", old.Event,
				"dropped_total", q.stats.NotificationsDropped.Load())
		}
	}
	q.ring[(q.head+q.n)%len(q.ring)] = req
	q.n++
	q.cond.Signal()
}

// pending returns how many notifications wait to be sent.
func (q *notifier) pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// next blocks until there is a notification to send, and reports false
// once the queue is closing and empty, or aborted.
func (q *notifier) next() (Request, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.n == 0 && !q.closing {
		q.cond.Wait()
	}
	if q.n == 0 || q.ctx.Err() != nil {
		return Request{}, false
	}
	req := q.ring[q.head]
	q.ring[q.head] = Request{}
	q.head = (q.head + 1) % len(q.ring)
	q.n--
	return req, true
}

func (q *notifier) work() {
	defer q.wg.Done()
	for {
		req, ok := q.next()
		if !ok {
			return
		}
		q.deliver(&req)
	}
}

func (q *notifier) deliver(req *Request) {
	req.ID = newDeliveryID()
	body, err := req.encode()
	if err != nil {
		// Only a malformed Info could do this; the auth package checks it.
		q.stats.NotificationsFailed.Add(1)
		q.log.Error("webhook: encoding a notification", "event", req.Event, "err", err)
		return
	}
	if _, err := q.send.deliver(q.ctx, req.Event, req.ID, body, q.retries, notifyBackoff); err != nil {
		q.stats.NotificationsFailed.Add(1)
		q.log.Warn("webhook: notification not delivered", "event", req.Event, "id", req.ID,
			"user", req.Client.UserID, "channel", req.Channel, "err", err)
		return
	}
	q.stats.NotificationsSent.Add(1)
}

// close stops taking notifications and waits for the workers to send
// what is queued. When ctx ends first, it aborts the requests in flight,
// drops what is left (counted) and returns how many were dropped with
// ctx's error.
func (q *notifier) close(ctx context.Context) (int, error) {
	q.mu.Lock()
	q.closing = true
	q.cond.Broadcast()
	q.mu.Unlock()

	done := make(chan struct{})
	go func() { q.wg.Wait(); close(done) }()
	select {
	case <-done:
		q.cancel()
		return 0, nil
	case <-ctx.Done():
	}
	q.mu.Lock()
	q.cancel() // under mu, so that next sees it and stops
	left := q.n
	for q.n > 0 {
		q.ring[q.head] = Request{}
		q.head = (q.head + 1) % len(q.ring)
		q.n--
	}
	q.stats.NotificationsDropped.Add(uint64(left))
	q.mu.Unlock()
	<-done
	return left, ctx.Err()
}
