package webhook

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/heraldrt/herald"
)

// ErrNoURL is returned by New when Config.URL is empty.
var ErrNoURL = errors.New("webhook: Config.URL is required")

// Config configures Hooks. The zero value of each field except URL is its
// documented default.
type Config struct {
	// URL is the app backend's endpoint, http or https. Every event is
	// POSTed to it and names itself in its "event" field. Required.
	URL string
	// Secret signs every request (header Herald-Signature; see Sign and
	// Verify). Empty sends unsigned requests, which a backend cannot tell
	// from forged ones: set it everywhere but on a developer's machine.
	Secret []byte

	// Timeout bounds one HTTP attempt, from sending the request to
	// reading the answer. Zero means 2s. A decision as a whole is also
	// bounded by the context the hub gives (hub.Config.HookTimeout).
	Timeout time.Duration
	// Retries is how many more attempts a decision (connect, subscribe,
	// publish) gets after a network error, a timeout, a 5xx or a 429.
	// Zero means 2; negative means none.
	Retries int

	// NotifyQueue bounds the notifications (disconnect, unsubscribe)
	// waiting to be sent; when it is full the oldest is dropped and
	// counted in Stats.NotificationsDropped. Zero means 10,000.
	NotifyQueue int
	// NotifyRetries is how many more attempts a notification gets, with
	// backoff growing to 10s. Zero means 5; negative means none.
	NotifyRetries int
	// NotifyWorkers is how many notifications are sent at once. Zero
	// means 4.
	NotifyWorkers int

	// HTTPClient sends the requests. Nil means a client of the package's
	// own that keeps up to 64 idle connections to the backend and does
	// not follow redirects (a redirected POST would lose its body); Close
	// closes its idle connections.
	HTTPClient *http.Client
	// Clock stamps requests and signatures. Nil means the system clock.
	Clock herald.Clock
	// Logger receives failures and drops. Nil means slog.Default().
	Logger *slog.Logger
}

// Defaults, for documentation and tests.
const (
	DefaultTimeout       = 2 * time.Second
	DefaultRetries       = 2
	DefaultNotifyQueue   = 10_000
	DefaultNotifyRetries = 5
	DefaultNotifyWorkers = 4
)

// setDefaults fills in the zero values and checks the URL.
func (c *Config) setDefaults() (ownClient bool, err error) {
	if c.URL == "" {
		return false, ErrNoURL
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return false, fmt.Errorf("webhook: URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false, fmt.Errorf("webhook: URL %q: want http(s)://host/path", c.URL)
	}
	c.Secret = bytes.Clone(c.Secret) // the caller may reuse its slice
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Retries == 0 {
		c.Retries = DefaultRetries
	} else if c.Retries < 0 {
		c.Retries = 0
	}
	if c.NotifyQueue <= 0 {
		c.NotifyQueue = DefaultNotifyQueue
	}
	if c.NotifyRetries == 0 {
		c.NotifyRetries = DefaultNotifyRetries
	} else if c.NotifyRetries < 0 {
		c.NotifyRetries = 0
	}
	if c.NotifyWorkers <= 0 {
		c.NotifyWorkers = DefaultNotifyWorkers
	}
	if c.HTTPClient == nil {
		c.HTTPClient = newHTTPClient()
		ownClient = true
	}
	if c.Clock == nil {
		c.Clock = herald.SystemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return ownClient, nil
}

// newHTTPClient returns the default client: one backend host gets many
// concurrent decisions, so it keeps more idle connections than net/http's
// default of 2 per host.
func newHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 64
	tr.MaxIdleConnsPerHost = 64
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
