package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"time"
)

// DemoChannels is the channel pattern a demo token grants: the demo's
// rooms are demo.<room>.
const DemoChannels = "demo.>"

// DemoConfig configures the demo chat.
type DemoConfig struct {
	// Mint signs a token for user granting DemoChannels for ttl. The demo
	// hands a token to anyone who picks a name, so it is meant for a
	// development node (its generated key) or a node run for a trial.
	Mint func(user string, ttl time.Duration) (string, error)
	// TokenTTL is how long a demo token lasts. Zero means one hour. The
	// page asks for a new one when the server sends token_expiring.
	TokenTTL time.Duration
	// Logger logs failed mints; nil means slog.Default().
	Logger *slog.Logger
}

// demoName is what the demo accepts as a user name: it becomes the
// token's sub, which the server shows to other users.
var demoName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// Demo returns the demo chat's handler: the page at GET /, its service
// worker at GET /sw.js, and
// POST /demo/token, which answers {"token": "…", "expiresIn": seconds}
// for a JSON body {"name": "alice"}.
func Demo(cfg DemoConfig) http.Handler {
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) { servePage(w, "demo.html") })
	// The service worker sits at the root so that its scope covers the page.
	mux.HandleFunc("GET /sw.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		serveFile(w, r, "demo-sw.js")
	})
	mux.HandleFunc("POST /demo/token", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Name string `json:"name"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1024)).Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, "the body must be JSON: {\"name\": \"alice\"}")
			return
		}
		if !demoName.MatchString(req.Name) {
			writeError(w, http.StatusBadRequest, "a name is 1 to 32 letters, digits, _ or -")
			return
		}
		tok, err := cfg.Mint(req.Name, cfg.TokenTTL)
		if err != nil {
			cfg.Logger.Error("demo token", "err", err)
			writeError(w, http.StatusInternalServerError, "could not sign a token")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"token": tok, "expiresIn": int(cfg.TokenTTL / time.Second)})
	})
	return mux
}

// ErrNoDemoKey is returned by the wiring when the demo is asked for but
// no HS256 key is there to sign its tokens.
var ErrNoDemoKey = errors.New("web: the demo needs an HS256 key (--jwt-secret, or development mode) to sign tokens")

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
