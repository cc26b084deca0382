package api

import (
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/ratelimit"
	"github.com/heraldrt/herald/protocol"
)

// handler serves the API. Its fields are set by New and read-only after,
// so requests share it without locks; Keys and the limiter guard their
// own state.
type handler struct {
	hub *hub.Hub
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
	// limiter holds a token bucket per API key (by digest); nil when
	// Config.RequestRate is zero.
	limiter *ratelimit.Keyed
}

// New returns the server API over h, to be mounted at /api/ (its routes
// are full paths: /api/publish, …).
//
// Every route is registered on a net/http ServeMux with its method, and
// every path also gets a catch-all that answers 405 with Allow, and the
// prefix /api/ one that answers 404, so that a client always gets the
// JSON error body, never ServeMux's plain text. Both catch-alls require a
// key like the routes do, so an unauthenticated client learns nothing
// about which routes exist.
func New(h *hub.Hub, cfg Config) http.Handler {
	cfg.setDefaults()
	a := &handler{hub: h, cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	if cfg.RequestRate > 0 {
		a.limiter = &ratelimit.Keyed{Rate: cfg.RequestRate, Burst: cfg.RequestBurst}
	}
	allow := map[string][]string{}
	public := map[string]bool{}
	for _, rt := range routes {
		a.mux.Handle(rt.method+" "+rt.path, a.endpoint(rt.public, rt.serve))
		allow[rt.path] = append(allow[rt.path], rt.method)
		public[rt.path] = public[rt.path] || rt.public
	}
	for path, methods := range allow {
		a.mux.Handle(path, a.endpoint(public[path], methodNotAllowed(methods)))
	}
	a.mux.Handle("/api/", a.endpoint(false, func(*handler, http.ResponseWriter, *http.Request) error {
		return errorf(protocol.CodeNotFound, "no such endpoint; GET /api/openapi.yaml lists them")
	}))
	return a
}

// ServeHTTP implements http.Handler.
func (a *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Answers are live state (presence, history as of now) and may name
	// users: no cache should keep them, and no browser should guess their
	// type.
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	a.mux.ServeHTTP(w, r)
}

// endpoint wraps serve with what every request goes through, in order:
// the API key (unless public), the key's rate limit, and the body limit.
func (a *handler) endpoint(public bool, serve serveFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !public {
			if err := a.authorize(r); err != nil {
				a.writeError(w, r, err)
				return
			}
		}
		// A declared length over the limit is refused before reading a
		// byte; MaxBytesReader catches bodies that lie or are chunked.
		if r.ContentLength > a.cfg.MaxBodyBytes {
			a.writeError(w, r, errorf(protocol.CodeTooLarge, "request body over %d bytes", a.cfg.MaxBodyBytes))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes)
		if err := serve(a, w, r); err != nil {
			a.writeError(w, r, err)
		}
	})
}

// authorize checks r's API key and the key's rate limit.
func (a *handler) authorize(r *http.Request) error {
	key, err := credentials(r)
	if err != nil {
		return err
	}
	if !a.cfg.Keys.Valid(key) {
		return errorf(protocol.CodeUnauthorized, "invalid API key")
	}
	if a.limiter != nil && !a.limiter.Allow(digest(key), a.cfg.Clock.Now()) {
		return errorf(protocol.CodeRateLimited, "more than %g requests per second with this API key", a.cfg.RequestRate)
	}
	return nil
}

// credentials returns the API key r presents: the token of a Bearer
// Authorization header or, for clients that cannot set that one, the
// X-Api-Key header.
func credentials(r *http.Request) (string, error) {
	if authz := r.Header.Get("Authorization"); authz != "" {
		scheme, token, _ := strings.Cut(authz, " ")
		// RFC 9110, section 11.1: the scheme is case-insensitive.
		if !strings.EqualFold(scheme, "Bearer") {
			return "", errorf(protocol.CodeUnauthorized, "the Authorization header must use the Bearer scheme")
		}
		return strings.TrimSpace(token), nil
	}
	if key := r.Header.Get("X-Api-Key"); key != "" {
		return key, nil
	}
	return "", errorf(protocol.CodeUnauthorized, "an API key is required: Authorization: Bearer <key>, or X-Api-Key: <key>")
}

// methodNotAllowed answers a method a path does not serve, naming those
// it does (RFC 9110, section 15.5.6, requires Allow on a 405).
func methodNotAllowed(methods []string) serveFunc {
	allowed := slices.Clone(methods)
	if slices.Contains(allowed, http.MethodGet) {
		allowed = append(allowed, http.MethodHead) // ServeMux routes HEAD to GET
	}
	slices.Sort(allowed)
	allow := strings.Join(allowed, ", ")
	return func(_ *handler, w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", allow)
		return &Error{
			Code:    protocol.CodeBadRequest,
			Message: r.Method + " is not allowed here; use " + allow,
			status:  http.StatusMethodNotAllowed,
		}
	}
}

var _ http.Handler = (*handler)(nil)
