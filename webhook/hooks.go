package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/heraldrt/herald/hub"
)

// Hooks implement hub.Hooks by asking the app backend over HTTP. Create
// them with New, give them to hub.Config.Hooks, and Close them after the
// hub has shut down.
type Hooks struct {
	// Stats are the decision and notification counters.
	Stats Stats

	cfg       Config
	send      *sender
	notify    *notifier
	ownClient bool
	closed    atomic.Bool
	closeOnce sync.Once
}

// New returns Hooks that post to cfg.URL and starts the notification
// workers. It fails if the URL is missing or not http(s).
func New(cfg Config) (*Hooks, error) {
	own, err := cfg.setDefaults()
	if err != nil {
		return nil, err
	}
	if len(cfg.Secret) == 0 {
		cfg.Logger.Warn("webhook: no secret configured; requests to the app backend are unsigned", "url", cfg.URL)
	}
	h := &Hooks{cfg: cfg, ownClient: own}
	h.send = &sender{
		url: cfg.URL, secret: cfg.Secret, client: cfg.HTTPClient,
		timeout: cfg.Timeout, clock: cfg.Clock, stats: &h.Stats,
	}
	h.notify = newNotifier(h.send, &h.cfg, &h.Stats)
	return h, nil
}

// Close stops taking notifications, sends those queued until ctx ends,
// and stops the workers; what is still queued then is dropped (and
// counted), and Close returns an error wrapping ctx's. Decisions asked
// after Close fail with ErrClosed. Close the hub first: notifications it
// reports later are dropped. Close may be called more than once.
func (h *Hooks) Close(ctx context.Context) error {
	h.closed.Store(true)
	left, err := h.notify.close(ctx)
	h.closeOnce.Do(func() {
		if h.ownClient {
			h.cfg.HTTPClient.CloseIdleConnections()
		}
	})
	if err != nil {
		return fmt.Errorf("webhook: close: %d notifications not sent: %w", left, err)
	}
	return nil
}

// Pending returns how many notifications wait to be sent.
func (h *Hooks) Pending() int { return h.notify.pending() }

// Connect asks the backend whether an authenticated client may connect.
func (h *Hooks) Connect(ctx context.Context, c hub.ClientInfo) error {
	_, err := h.decide(ctx, &Request{Event: EventConnect, Client: clientOf(c)})
	return err
}

// Subscribe asks the backend whether the client may subscribe to channel.
func (h *Hooks) Subscribe(ctx context.Context, c hub.ClientInfo, channel string) error {
	_, err := h.decide(ctx, &Request{Event: EventSubscribe, Client: clientOf(c), Channel: channel})
	return err
}

// Publish asks the backend whether the client may publish payload to
// channel, and returns the payload the backend puts in its place, if any.
func (h *Hooks) Publish(ctx context.Context, c hub.ClientInfo, channel, event string, payload json.RawMessage) (json.RawMessage, error) {
	resp, err := h.decide(ctx, &Request{
		Event: EventPublish, Client: clientOf(c), Channel: channel,
		EventName: event, Payload: payload,
	})
	if err != nil || resp.Payload == nil {
		return nil, err
	}
	h.Stats.Rewrites.Add(1)
	var buf bytes.Buffer
	if err := json.Compact(&buf, resp.Payload); err != nil {
		return resp.Payload, nil // valid JSON already: Unmarshal checked it
	}
	return buf.Bytes(), nil
}

// Disconnected queues a disconnect notification; it does not block.
func (h *Hooks) Disconnected(c hub.ClientInfo, code int) {
	h.notify.push(Request{
		Event: EventDisconnect, Timestamp: h.cfg.Clock.Now().UnixMilli(),
		Client: clientOf(c), Code: code,
	})
}

// Unsubscribed queues an unsubscribe notification; it does not block.
func (h *Hooks) Unsubscribed(c hub.ClientInfo, channel string) {
	h.notify.push(Request{
		Event: EventUnsubscribe, Timestamp: h.cfg.Clock.Now().UnixMilli(),
		Client: clientOf(c), Channel: channel,
	})
}

// decide posts a decision request and reads the backend's answer: an
// allow, a deny as a *protocol.Error, or an error wrapping ErrUnavailable,
// ErrRefused, ErrBadAnswer or ErrClosed.
func (h *Hooks) decide(ctx context.Context, req *Request) (*Response, error) {
	if h.closed.Load() {
		return nil, h.failed(req, ErrClosed)
	}
	req.ID = newDeliveryID()
	req.Timestamp = h.cfg.Clock.Now().UnixMilli()
	body, err := req.encode()
	if err != nil {
		return nil, h.failed(req, err)
	}
	answer, err := h.send.deliver(ctx, req.Event, req.ID, body, h.cfg.Retries, decisionBackoff)
	if err != nil {
		return nil, h.failed(req, err)
	}
	var resp Response
	if err := json.Unmarshal(answer, &resp); err != nil {
		return nil, h.failed(req, fmt.Errorf("%w: %v", ErrBadAnswer, err))
	}
	switch resp.Result {
	case ResultAllow:
		h.Stats.DecisionsAllowed.Add(1)
		return &resp, nil
	case ResultDeny:
		h.Stats.DecisionsDenied.Add(1)
		perr, known := resp.refusal(req.Event)
		if !known {
			h.cfg.Logger.Warn("webhook: the app backend denied with an unknown code; the client sees forbidden",
				"event", req.Event, "code", resp.Code)
		}
		return nil, perr
	default:
		return nil, h.failed(req, fmt.Errorf("%w: result %q", ErrBadAnswer, resp.Result))
	}
}

// failed counts and logs a decision that got no usable answer, and wraps
// its error.
func (h *Hooks) failed(req *Request, err error) error {
	h.Stats.DecisionsFailed.Add(1)
	h.cfg.Logger.Warn("webhook: decision failed", "event", req.Event, "user", req.Client.UserID,
		"channel", req.Channel, "err", err)
	return fmt.Errorf("webhook: %s: %w", req.Event, err)
}

var _ hub.Hooks = (*Hooks)(nil)
