package natsbroker

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldrt/herald"
)

// A request to the server whose answer is lost (the connection broke
// while it was in flight, the server restarted) is not failed by
// nats.go: it waits for its context to end. So the broker runs each
// request in an attempt: a context that ends after attemptTimeout or
// when the connection comes back, whichever is first; the operation is
// then tried again within the caller's context. Every operation may be
// repeated safely: reads, and publishes, which carry the same msg id and
// so are stored once.

const (
	// attemptTimeout bounds one request and its answer.
	attemptTimeout = 3 * time.Second
	// maxPause caps the pause between attempts after a failure that is
	// not a conflict.
	maxPause = 250 * time.Millisecond
)

var errInterrupted = errors.New("natsbroker: the connection was re-established while the request was in flight")

// attempts are the contexts of the requests in flight, which a
// reconnect cancels.
type attempts struct {
	mu   sync.Mutex
	next uint64
	live map[uint64]context.CancelCauseFunc
}

// attempt returns the context of one try at an operation of the
// caller's ctx, and the function that ends it.
func (b *Broker) attempt(ctx context.Context, timeout time.Duration) (context.Context, func()) {
	cctx, cancel := context.WithCancelCause(ctx)
	tctx, tcancel := context.WithTimeout(cctx, timeout)
	a := &b.attempts
	a.mu.Lock()
	if a.live == nil {
		a.live = make(map[uint64]context.CancelCauseFunc)
	}
	id := a.next
	a.next++
	a.live[id] = cancel
	a.mu.Unlock()
	return tctx, func() {
		a.mu.Lock()
		delete(a.live, id)
		a.mu.Unlock()
		tcancel()
		cancel(nil)
	}
}

// interruptAttempts ends the attempts in flight, for a reconnect: the
// answers to what they sent before the connection broke will not come.
// (What they sent while it was down was buffered and goes out now; ending
// those too costs a repeat, which is safe.)
func (b *Broker) interruptAttempts() {
	a := &b.attempts
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, cancel := range a.live {
		cancel(errInterrupted)
		delete(a.live, id)
	}
}

// retryable reports whether an attempt of an operation whose context is
// still live failed in a way that another attempt may not: it was cut
// short, timed out, found the connection unable to take it, or found
// nobody to answer (JetStream starting up after a server restart).
func retryable(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, errInterrupted) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrReconnectBufExceeded) || errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse)
}

// retry runs op in attempts until it succeeds, fails in a way that
// another attempt would not mend, or ctx ends.
func (b *Broker) retry(ctx context.Context, timeout time.Duration, op func(ctx context.Context) error) error {
	for try := 1; ; try++ {
		actx, end := b.attempt(ctx, timeout)
		err := op(actx)
		end()
		if err == nil || ctx.Err() != nil || !retryable(err) {
			return err
		}
		if err := b.pause(ctx, try); err != nil {
			return err
		}
	}
}

// pause waits before try number try+1: a random time up to a bound that
// doubles from 1ms to maxPause, so that contenders spread out.
func (b *Broker) pause(ctx context.Context, try int) error {
	limit := min(time.Millisecond<<min(try-1, 10), maxPause)
	t := time.NewTimer(rand.N(limit) + 1)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-b.life.Done():
		return herald.ErrClosed
	}
}
