package auth

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/httprc/v3/errsink"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/heraldrt/herald"
)

// How long an Authenticate call waits for a refresh caused by an unknown
// kid, and how long Close waits for the refresh goroutines to stop.
const (
	refreshWait  = 10 * time.Second
	shutdownWait = 30 * time.Second
)

// jwksSource keeps the keys of one JWKS URL. httprc fetches the set in
// the background every interval; refreshUnknownKid fetches it at once
// when a token names a kid the set lacks, at most once per minGap.
type jwksSource struct {
	url    string
	res    *httprc.ResourceBase[keySet]
	ctrl   httprc.Controller
	log    *slog.Logger
	clock  herald.Clock
	minGap time.Duration

	// done is cancelled by close; a refresh in flight gives up then.
	done      context.Context
	cancel    context.CancelFunc
	closeOnce sync.Once
	closeErr  error

	// refreshing is a one-slot semaphore: whoever holds it may fetch on
	// an unknown kid. Others wait for it and then find the fetch done.
	refreshing chan struct{}
	// lastRefresh is when the last unknown-kid fetch started. It is read
	// and written only while holding refreshing.
	lastRefresh time.Time
}

// newJWKSSource fetches the set at cfg.JWKSURL once, failing if that
// fails or yields no usable key, and then starts refreshing it.
func newJWKSSource(ctx context.Context, cfg *Config) (*jwksSource, error) {
	u, err := url.Parse(cfg.JWKSURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("auth: JWKS URL %q is not an http(s) URL", cfg.JWKSURL)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		cfg.Logger.Warn("auth: the JWKS URL is not https; anyone on the path to it can forge tokens", "url", cfg.JWKSURL)
	}
	var hc *http.Client
	if cfg.HTTPClient == nil {
		hc = jwk.DefaultHTTPClient() // 30 s timeout, no redirect to http
	} else {
		hc = jwk.WrapHTTPClientDefaults(cfg.HTTPClient)
	}
	res, err := httprc.NewResource[keySet](cfg.JWKSURL, jwksTransformer{log: cfg.Logger, url: cfg.JWKSURL},
		httprc.WithHTTPClient(hc),
		// A constant interval ignores Cache-Control; MinInterval is
		// also when httprc retries after a failed fetch, which would
		// otherwise wait its 15-minute default.
		httprc.WithConstantInterval(cfg.JWKSRefresh),
		httprc.WithMinInterval(cfg.JWKSRefresh),
	)
	if err != nil {
		return nil, fmt.Errorf("auth: JWKS URL: %w", err)
	}
	// The first fetch runs here, not in httprc's workers, so that its
	// error reaches the caller instead of a log.
	if err := res.Sync(ctx); err != nil {
		return nil, fmt.Errorf("auth: fetch JWKS from %s: %w", cfg.JWKSURL, err)
	}
	if len(res.Resource()) == 0 {
		return nil, fmt.Errorf("auth: the JWKS at %s holds no usable signing key (RSA of 2048 bits or more, EC P-256 or Ed25519)", cfg.JWKSURL)
	}

	log := cfg.Logger
	client := httprc.NewClient(
		httprc.WithWorkers(1),
		httprc.WithHTTPClient(hc),
		httprc.WithWhitelist(httprc.NewMapWhitelist().Add(cfg.JWKSURL)),
		httprc.WithErrorSink(errsink.NewFunc(func(_ context.Context, err error) {
			log.Warn("auth: JWKS refresh failed; the keys fetched before stay in use", "url", cfg.JWKSURL, "err", err)
		})),
	)
	// The refresh goroutines outlive ctx, which may only bound startup;
	// Close stops them.
	ctrl, err := client.Start(context.WithoutCancel(ctx))
	if err != nil {
		return nil, fmt.Errorf("auth: start JWKS refresh: %w", err)
	}
	// res is ready, so Add does not wait for a fetch; httprc schedules the
	// next one JWKSRefresh after the one above.
	if err := ctrl.Add(ctx, res); err != nil {
		_ = ctrl.Shutdown(shutdownWait)
		return nil, fmt.Errorf("auth: start JWKS refresh: %w", err)
	}
	done, cancel := context.WithCancel(context.Background())
	return &jwksSource{
		url:        cfg.JWKSURL,
		res:        res,
		ctrl:       ctrl,
		log:        log,
		clock:      cfg.Clock,
		minGap:     cfg.JWKSMinRefreshInterval,
		done:       done,
		cancel:     cancel,
		refreshing: make(chan struct{}, 1),
	}, nil
}

// keys returns the keys of the last successful fetch.
func (s *jwksSource) keys() keySet { return s.res.Resource() }

// refreshUnknownKid fetches the set now, unless an unknown-kid fetch
// started less than minGap ago: a client spraying made-up kids costs the
// JWKS server one request per minGap. Concurrent callers wait for the
// fetch in flight rather than start their own. A failed fetch keeps the
// old keys.
func (s *jwksSource) refreshUnknownKid(ctx context.Context) {
	select {
	case s.refreshing <- struct{}{}:
	case <-ctx.Done():
		return
	case <-s.done.Done():
		return
	}
	defer func() { <-s.refreshing }()
	if s.done.Err() != nil {
		return
	}
	now := s.clock.Now()
	if !s.lastRefresh.IsZero() && now.Sub(s.lastRefresh) < s.minGap {
		return
	}
	s.lastRefresh = now

	ctx, cancel := context.WithTimeout(ctx, refreshWait)
	defer cancel()
	// After Close the controller no longer answers; stop waiting for it.
	stop := context.AfterFunc(s.done, cancel)
	defer stop()
	if err := s.ctrl.Refresh(ctx, s.url); err != nil {
		s.log.Warn("auth: JWKS refresh for an unknown kid failed; the keys fetched before stay in use", "url", s.url, "err", err)
	}
}

// close stops the background refresh and waits for its goroutines.
func (s *jwksSource) close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		ctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
		defer cancel()
		if err := s.ctrl.ShutdownContext(ctx); err != nil {
			s.closeErr = fmt.Errorf("auth: stop JWKS refresh: %w", err)
		}
	})
	return s.closeErr
}

// jwksTransformer turns a JWKS response into the keys Herald will use.
// jwk.Transformer reads the body (with jwx's size limit) and parses it.
type jwksTransformer struct {
	log *slog.Logger
	url string
}

// Transform implements httprc.Transformer. An error keeps the previous
// keys; a set without usable keys replaces them (the issuer withdrew
// them) and is logged.
func (t jwksTransformer) Transform(ctx context.Context, res *http.Response) (keySet, error) {
	set, err := jwk.Transformer{}.Transform(ctx, res)
	if err != nil {
		return nil, err
	}
	keys := make(keySet, 0, set.Len())
	for i := range set.Len() {
		key, _ := set.Key(i)
		k, err := fromJWK(key)
		if err != nil {
			kid, _ := key.KeyID()
			t.log.Debug("auth: JWKS key skipped", "url", t.url, "kid", kid, "reason", err)
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		t.log.Warn("auth: the JWKS holds no usable signing key; tokens it signed are refused", "url", t.url, "keys", set.Len())
	}
	t.log.Debug("auth: JWKS loaded", "url", t.url, "keys", len(keys))
	return keys, nil
}

// fromJWK returns the verification key of a JWKS entry, or why it is not
// used. Only public signature keys of the supported kinds qualify; an
// "alg" member must be the algorithm the key's type implies. Symmetric
// keys are never taken from a JWKS: anyone who can read it could sign.
func fromJWK(key jwk.Key) (verificationKey, error) {
	if jwk.IsUnsupportedKey(key) {
		return verificationKey{}, fmt.Errorf("unsupported key type %q", key.KeyType().String())
	}
	if use, ok := key.KeyUsage(); ok && use != "" && use != jwk.ForSignature.String() {
		return verificationKey{}, fmt.Errorf("use is %q, not sig", use)
	}
	if ops, ok := key.KeyOps(); ok && len(ops) > 0 && !slices.Contains(ops, jwk.KeyOpVerify) {
		return verificationKey{}, fmt.Errorf("key_ops lacks verify")
	}
	switch key.KeyType().String() {
	case "RSA", "EC", "OKP":
	default:
		return verificationKey{}, fmt.Errorf("key type %q is not accepted from a JWKS", key.KeyType().String())
	}
	pub, err := key.PublicKey()
	if err != nil {
		return verificationKey{}, err
	}
	var raw any
	if err := jwk.Export(pub, &raw); err != nil {
		return verificationKey{}, err
	}
	alg, err := algorithmFor(raw)
	if err != nil {
		return verificationKey{}, err
	}
	if a, ok := key.Algorithm(); ok && a.String() != alg.String() {
		return verificationKey{}, fmt.Errorf("alg %q is not the supported algorithm of this key (%s)", a.String(), alg.String())
	}
	kid, _ := key.KeyID()
	return verificationKey{kid: kid, alg: alg, key: raw}, nil
}

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
