package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/heraldrt/herald"
)

// AdminConfig configures the admin dashboard. The zero value of each
// field but Metrics and API is its documented default.
type AdminConfig struct {
	// User is the admin's user name. Empty means "admin".
	User string
	// Password is the admin's password. Empty turns the dashboard off:
	// every /admin path answers 403 and says how to turn it on, so that
	// a node never serves its numbers behind no password at all.
	Password string
	// Metrics serves the Prometheus text of /metrics; GET /admin/metrics
	// passes its requests on, so that the page reads the very numbers
	// Prometheus scrapes.
	Metrics http.Handler
	// API is the server API, and APIKey a key it accepts: the channel
	// inspector's reads (GET /admin/api/channels, presence, history) go
	// to /api/... there with that key. web imports neither api nor hub;
	// the wiring hands them over as a handler.
	API    http.Handler
	APIKey string
	// SessionTTL is how long a login lasts. Zero means 12 hours.
	SessionTTL time.Duration
	// LoginFailureRate and LoginFailureBurst bound failed logins per
	// client address: Burst failures in a row, then one per 1/Rate
	// seconds (429 meanwhile). Zero means 5 and one per 12 s. All
	// addresses together get ten times as much, which slows a guesser
	// with many addresses without locking the admin out for long.
	LoginFailureRate  float64
	LoginFailureBurst int
	// Clock tells the time, for session expiry and the limits. Nil means
	// the system clock.
	Clock herald.Clock
	// Logger logs failed logins. Nil means slog.Default().
	Logger *slog.Logger
}

// Names of the admin's cookie and of the fields of a login.
const (
	adminCookie   = "herald_admin"
	adminPath     = "/admin"
	fieldUser     = "user"
	fieldPassword = "password"
)

// admin serves /admin and the paths below it.
type admin struct {
	cfg      AdminConfig
	sessions *sessions
	limiter  *loginLimiter
	// userSum and passwordSum are the SHA-256 digests of the login, so
	// that the comparison is over fixed-length values and the timing
	// tells nothing of the length of either.
	userSum, passwordSum [sha256.Size]byte
	mux                  *http.ServeMux
}

// Admin returns the admin dashboard's handler, for the paths /admin and
// /admin/ (mount it on both):
//
//	GET  /admin               the dashboard, or its login form
//	POST /admin/login         form or JSON {"user", "password"}: sets the session cookie
//	POST /admin/logout        ends the session
//	GET  /admin/metrics       the Prometheus text of /metrics
//	GET  /admin/api/channels  GET /api/channels of the server API
//	GET  /admin/api/presence  GET /api/presence (?channel=)
//	GET  /admin/api/history   GET /api/history (?channel=&limit=&before=&after=)
//
// The data paths answer 401 JSON without a valid session. The session is
// a cookie holding its expiry and an HMAC of it under a key made when
// Admin is called, so a restart logs the admin out.
func Admin(cfg AdminConfig) http.Handler {
	if cfg.Password == "" {
		return http.HandlerFunc(adminOff)
	}
	if cfg.User == "" {
		cfg.User = "admin"
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.LoginFailureRate <= 0 {
		cfg.LoginFailureRate = 1.0 / 12
	}
	if cfg.LoginFailureBurst <= 0 {
		cfg.LoginFailureBurst = 5
	}
	if cfg.Clock == nil {
		cfg.Clock = herald.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a := &admin{
		cfg:         cfg,
		sessions:    newSessions(cfg.User),
		limiter:     newLoginLimiter(cfg.LoginFailureRate, cfg.LoginFailureBurst),
		userSum:     sha256.Sum256([]byte(cfg.User)),
		passwordSum: sha256.Sum256([]byte(cfg.Password)),
		mux:         http.NewServeMux(),
	}
	a.mux.HandleFunc("GET /admin", a.page)
	a.mux.HandleFunc("GET /admin/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, adminPath, http.StatusSeeOther)
	})
	a.mux.HandleFunc("POST /admin/login", a.login)
	a.mux.HandleFunc("POST /admin/logout", a.logout)
	a.mux.Handle("/admin/metrics", a.authed(a.metrics))
	a.mux.Handle("/admin/api/{endpoint}", a.authed(a.api))
	a.mux.HandleFunc("/admin/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "no such admin endpoint")
	})
	return a
}

// ServeHTTP implements http.Handler.
func (a *admin) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// adminOff answers every admin request while no password is set.
func adminOff(w http.ResponseWriter, r *http.Request) {
	const msg = "The admin dashboard is off: start herald with --admin-password (or HERALD_ADMIN_PASSWORD, or admin_password in the config file) to turn it on."
	if r.URL.Path != adminPath {
		writeError(w, http.StatusForbidden, msg)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write([]byte(msg + "\n"))
}

// page serves the dashboard to a logged-in admin, else the login form.
func (a *admin) page(w http.ResponseWriter, r *http.Request) {
	if a.session(r) {
		servePage(w, "admin.html")
		return
	}
	servePage(w, "admin-login.html")
}

// login checks a user and password, from a form or a JSON body. A form
// (the page without script) is answered with a redirect to /admin, with
// ?error= on failure; JSON with JSON.
func (a *admin) login(w http.ResponseWriter, r *http.Request) {
	isJSON := isJSONRequest(r)
	fail := func(status int, code, msg string) {
		if isJSON {
			writeError(w, status, msg)
			return
		}
		http.Redirect(w, r, adminPath+"?error="+code, http.StatusSeeOther)
	}
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "cross-origin request refused")
		return
	}
	now := a.cfg.Clock.Now()
	addr := clientAddr(r)
	if wait, ok := a.limiter.allow(addr, now); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())))
		fail(http.StatusTooManyRequests, "rate", "too many failed logins: try again in "+wait.String())
		return
	}
	user, password, ok := loginFields(w, r, isJSON)
	if !ok {
		fail(http.StatusBadRequest, "bad", `the body must be a form or JSON: {"user": "…", "password": "…"}`)
		return
	}
	u := sha256.Sum256([]byte(user))
	p := sha256.Sum256([]byte(password))
	// Both comparisons run whatever the first gives.
	if subtle.ConstantTimeCompare(u[:], a.userSum[:])&subtle.ConstantTimeCompare(p[:], a.passwordSum[:]) != 1 {
		a.limiter.fail(addr, now)
		a.cfg.Logger.Warn("admin login failed", "addr", addr)
		fail(http.StatusUnauthorized, "login", "wrong user or password")
		return
	}
	expires := now.Add(a.cfg.SessionTTL)
	http.SetCookie(w, &http.Cookie{
		Name:     adminCookie,
		Value:    a.sessions.issue(expires),
		Path:     adminPath,
		Expires:  expires,
		MaxAge:   int(a.cfg.SessionTTL / time.Second),
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
	a.cfg.Logger.Info("admin logged in", "addr", addr)
	if !isJSON {
		http.Redirect(w, r, adminPath, http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "expiresAt": expires.UnixMilli()})
}

// logout ends the session: its cookie is cleared, and its value refused
// until it would have expired, in case a copy of it survives.
func (a *admin) logout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "cross-origin request refused")
		return
	}
	if c, err := r.Cookie(adminCookie); err == nil {
		a.sessions.revoke(c.Value, a.cfg.Clock.Now())
	}
	http.SetCookie(w, &http.Cookie{
		Name: adminCookie, Value: "", Path: adminPath, MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
	if !isJSONRequest(r) {
		http.Redirect(w, r, adminPath, http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// authed lets only GET requests with a valid session through to next:
// the data paths only read, so that no cross-site request can change a
// thing with the admin's cookie.
func (a *admin) authed(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "the admin's data paths are read with GET")
			return
		}
		if !a.session(r) {
			writeError(w, http.StatusUnauthorized, "log in at /admin first")
			return
		}
		next(w, r)
	})
}

// session reports whether r carries a valid session cookie.
func (a *admin) session(r *http.Request) bool {
	c, err := r.Cookie(adminCookie)
	return err == nil && a.sessions.valid(c.Value, a.cfg.Clock.Now())
}

// metrics passes the request on to the /metrics handler, without the
// admin's cookie.
func (a *admin) metrics(w http.ResponseWriter, r *http.Request) {
	r2 := r.Clone(r.Context())
	r2.Header.Del("Cookie")
	w.Header().Set("Cache-Control", "no-store")
	a.cfg.Metrics.ServeHTTP(w, r2)
}

// inspectorEndpoints are the server API's reads that the channel
// inspector may make.
var inspectorEndpoints = map[string]bool{"channels": true, "presence": true, "history": true}

// api passes an inspector read on to the server API with its key, and
// nothing else of the admin's request but the query.
func (a *admin) api(w http.ResponseWriter, r *http.Request) {
	endpoint := r.PathValue("endpoint")
	if !inspectorEndpoints[endpoint] {
		writeError(w, http.StatusNotFound, "no such admin endpoint")
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL = &url.URL{Path: "/api/" + endpoint, RawQuery: r.URL.RawQuery}
	r2.RequestURI = r2.URL.RequestURI()
	r2.Header = http.Header{}
	r2.Header.Set("Authorization", "Bearer "+a.cfg.APIKey)
	r2.Header.Set("Accept", "application/json")
	r2.Body = http.NoBody
	r2.ContentLength = 0
	a.cfg.API.ServeHTTP(w, r2)
}

// loginFields reads the user and password of a login request.
func loginFields(w http.ResponseWriter, r *http.Request, isJSON bool) (user, password string, ok bool) {
	body := http.MaxBytesReader(w, r.Body, 4096)
	if isJSON {
		var req struct {
			User     string `json:"user"`
			Password string `json:"password"`
		}
		if err := json.NewDecoder(body).Decode(&req); err != nil {
			return "", "", false
		}
		return req.User, req.Password, true
	}
	r.Body = body
	if err := r.ParseForm(); err != nil {
		return "", "", false
	}
	return r.PostForm.Get(fieldUser), r.PostForm.Get(fieldPassword), true
}

func isJSONRequest(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/json"
}

// sameOrigin reports whether a state-changing request may be from this
// site: its Origin, when there is one, names the host it was sent to.
// Browsers send Origin on every cross-site POST, so a page elsewhere
// cannot log the admin in or out; clients that send none (curl) are not
// browsers riding on a cookie.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && u.Host == r.Host
}

// clientAddr is the address failed logins are counted under: the peer's
// IP. Behind a reverse proxy every login shares the proxy's address, so
// the limit then holds for all of them together.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

var _ http.Handler = (*admin)(nil)
