package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldrt/herald"
)

// Errors of a delivery. The decision methods wrap them; none is a
// *protocol.Error, so the hub answers the client with internal.
var (
	// ErrUnavailable: no attempt got an answer (network error, timeout)
	// or a usable one (5xx, 429).
	ErrUnavailable = errors.New("webhook: the app backend did not answer")
	// ErrRefused: the backend answered with a status that is final
	// (a 4xx other than 429, or a redirect): it refused to decide.
	ErrRefused = errors.New("webhook: the app backend refused the request")
	// ErrBadAnswer: a 2xx whose body is not a Response.
	ErrBadAnswer = errors.New("webhook: the app backend's answer is malformed")
	// ErrClosed: the Hooks have been closed.
	ErrClosed = errors.New("webhook: closed")
)

// maxAnswer bounds the body read from the backend.
const maxAnswer = 1 << 20

// backoff is a retry schedule: attempt n (from 1) waits between half and
// all of base·2^(n-1), capped at max. The jitter spreads the retries of
// many nodes that saw the same outage.
type backoff struct{ base, max time.Duration }

var (
	decisionBackoff = backoff{base: 100 * time.Millisecond, max: time.Second}
	notifyBackoff   = backoff{base: 200 * time.Millisecond, max: 10 * time.Second}
)

func (b backoff) delay(n int) time.Duration {
	d := b.max
	if n < 30 {
		d = min(b.base<<(n-1), b.max)
	}
	return d/2 + rand.N(d/2+1)
}

// sender POSTs signed bodies to the backend.
type sender struct {
	url     string
	secret  []byte
	client  *http.Client
	timeout time.Duration
	clock   herald.Clock
	stats   *Stats
}

// deliver POSTs body until an attempt gets a 2xx, and returns that
// answer's body. Network errors, timeouts, 5xx and 429 are retried up to
// retries times on schedule b (stretched to a Retry-After the backend
// sends, within b.max); any other status is final. It gives up early when
// ctx would end before the next attempt could start.
func (s *sender) deliver(ctx context.Context, event, id string, body []byte, retries int, b backoff) ([]byte, error) {
	for n := 0; ; n++ {
		if n > 0 {
			s.stats.Retries.Add(1)
		}
		status, answer, retryAfter, err := s.post(ctx, event, id, n+1, body)
		switch {
		case err != nil:
			err = fmt.Errorf("%w: %w", ErrUnavailable, err)
		case status >= 200 && status < 300:
			return answer, nil
		case status == http.StatusTooManyRequests || status >= 500:
			err = fmt.Errorf("%w: HTTP %d", ErrUnavailable, status)
		default:
			return nil, fmt.Errorf("%w: HTTP %d", ErrRefused, status)
		}
		if n >= retries || ctx.Err() != nil {
			return nil, err
		}
		wait := b.delay(n + 1)
		if retryAfter > wait {
			wait = min(retryAfter, b.max)
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= wait {
			return nil, err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, err
		}
	}
}

// post makes one attempt. An error means no answer came; otherwise the
// status, a 2xx's body and any Retry-After are returned.
func (s *sender) post(ctx context.Context, event, id string, attempt int, body []byte) (int, []byte, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Herald-Webhook/1")
	req.Header.Set("Herald-Event", event)
	req.Header.Set("Herald-Delivery", id)
	req.Header.Set("Herald-Attempt", strconv.Itoa(attempt))
	if len(s.secret) > 0 {
		// Signed at each attempt, so a retry after a long backoff is not
		// taken for a replay.
		req.Header.Set(SignatureHeader, Sign(s.secret, body, s.clock.Now()))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		// Read a little so that the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return resp.StatusCode, nil, retryAfter(resp.Header.Get("Retry-After"), s.clock.Now()), nil
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return 0, nil, 0, fmt.Errorf("reading the answer: %w", err)
	}
	if len(answer) > maxAnswer {
		return resp.StatusCode, nil, 0, nil // decide reports it as malformed
	}
	return resp.StatusCode, answer, 0, nil
}

// retryAfter parses a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if sec, err := strconv.Atoi(v); err == nil && sec > 0 {
		return time.Duration(sec) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(now)
	}
	return 0
}
