package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldrt/herald"
)

// stored is a publication as read from its stream, with where and when
// the server stored it. Reads decode the headers only; publication
// decodes the rest when it is needed.
type stored struct {
	seq  uint64    // the channel's seq (Herald-Seq)
	time int64     // publication time, ms (Herald-Time)
	sseq uint64    // the stream's sequence
	at   time.Time // when the server stored it
	raw  *jetstream.RawStreamMsg
}

func decodeStored(m *jetstream.RawStreamMsg) (stored, error) {
	seq, t, err := decodeHeader(m.Header)
	if err != nil {
		return stored{}, fmt.Errorf("%s stream seq %d: %w", m.Subject, m.Sequence, err)
	}
	return stored{seq: seq, time: t, sseq: m.Sequence, at: m.Time, raw: m}, nil
}

func (s stored) publication() (*herald.Publication, error) {
	p, err := decodePublication(s.raw.Header, s.raw.Data)
	if err != nil {
		return nil, fmt.Errorf("%s stream seq %d: %w", s.raw.Subject, s.sseq, err)
	}
	return p, nil
}

// lastMsg reads the newest publication of subject; ok is false if there
// is none.
func lastMsg(ctx context.Context, st jetstream.Stream, subject string) (m stored, ok bool, err error) {
	raw, err := st.GetLastMsgForSubject(ctx, subject)
	return found(raw, err)
}

// nextMsg reads the first publication of subject stored at stream
// sequence from or later; ok is false if there is none.
func nextMsg(ctx context.Context, st jetstream.Stream, subject string, from uint64) (m stored, ok bool, err error) {
	raw, err := st.GetMsg(ctx, max(from, 1), jetstream.WithGetMsgSubject(subject))
	return found(raw, err)
}

// msgAt reads the publication at a stream sequence, which must be on
// subject.
func msgAt(ctx context.Context, st jetstream.Stream, subject string, sseq uint64) (stored, error) {
	raw, err := st.GetMsg(ctx, sseq)
	m, ok, err := found(raw, err)
	switch {
	case err != nil:
		return stored{}, err
	case !ok:
		return stored{}, fmt.Errorf("stream seq %d: %w", sseq, jetstream.ErrMsgNotFound)
	case raw.Subject != subject:
		return stored{}, fmt.Errorf("stream seq %d is on %s, not %s", sseq, raw.Subject, subject)
	}
	return m, nil
}

func found(raw *jetstream.RawStreamMsg, err error) (stored, bool, error) {
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return stored{}, false, nil
	}
	if err != nil {
		return stored{}, false, err
	}
	m, err := decodeStored(raw)
	return m, err == nil, err
}

// search returns the first publication m of subject stored at a stream
// sequence of at least lo for which pred(m) holds. pred must be monotone
// along the subject (false, …, false, true, …, true) and hold for best,
// a publication of subject past lo. guess, when in range, is probed
// first: callers that can predict the answer's position save the
// bisection. It costs one read per probe, log2 of the stream distance at
// most.
func search(ctx context.Context, st jetstream.Stream, subject string, lo uint64, best stored, guess uint64, pred func(stored) bool) (stored, error) {
	bound := best.sseq // the answer is best or at a stream seq in [lo, bound)
	for lo < bound {
		p := lo + (bound-lo)/2
		if guess >= lo && guess < bound {
			p, guess = guess, 0
		}
		m, ok, err := nextMsg(ctx, st, subject, p)
		if err != nil {
			return stored{}, err
		}
		switch {
		case !ok || m.sseq >= bound:
			// Nothing of subject in [p, bound).
			bound = p
		case pred(m):
			best, bound = m, m.sseq
		default:
			lo = m.sseq + 1
		}
	}
	return best, nil
}
