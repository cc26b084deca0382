package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// sessions signs and checks the admin's session cookies. A cookie is
// "<expiry, unix seconds>.<HMAC-SHA256 of the expiry and the user>":
// nothing is stored per session, so a node keeps no state for logins,
// and the key is made at start, so a restart ends every session. Logged
// out cookies are remembered until they expire.
//
// A sessions is safe for concurrent use.
type sessions struct {
	key  [32]byte
	user string

	// mu guards revoked: the values of logged out cookies, with their
	// expiry, after which they are refused anyway and forgotten.
	mu      sync.Mutex
	revoked map[string]time.Time
}

func newSessions(user string) *sessions {
	s := &sessions{user: user, revoked: make(map[string]time.Time)}
	if _, err := rand.Read(s.key[:]); err != nil {
		panic("web: no randomness for the admin session key: " + err.Error())
	}
	return s
}

// issue returns the value of a session cookie valid until expires.
func (s *sessions) issue(expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	return exp + "." + base64.RawURLEncoding.EncodeToString(s.mac(exp))
}

// valid reports whether value is a cookie issued here, unexpired at now
// and not logged out.
func (s *sessions) valid(value string, now time.Time) bool {
	exp, sig, ok := strings.Cut(value, ".")
	if !ok {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(exp)) {
		return false
	}
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !now.Before(time.Unix(unix, 0)) {
		return false
	}
	s.mu.Lock()
	_, out := s.revoked[value]
	s.mu.Unlock()
	return !out
}

// revoke refuses value from now on, if it is a valid cookie.
func (s *sessions) revoke(value string, now time.Time) {
	if !s.valid(value, now) {
		return
	}
	exp, _, _ := strings.Cut(value, ".")
	unix, _ := strconv.ParseInt(exp, 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	for v, until := range s.revoked {
		if !now.Before(until) {
			delete(s.revoked, v)
		}
	}
	s.revoked[value] = time.Unix(unix, 0)
}

func (s *sessions) mac(exp string) []byte {
	m := hmac.New(sha256.New, s.key[:])
	m.Write([]byte("herald-admin\x00" + s.user + "\x00" + exp))
	return m.Sum(nil)
}

// loginLimiter counts failed logins, per client address and for all
// addresses together, as a debt that drains at rate per second: an
// address whose debt has reached burst may not try again until it has
// drained below. Only failures add to the debt, so an admin who types
// the password right is never slowed.
//
// A loginLimiter is safe for concurrent use.
type loginLimiter struct {
	rate  float64
	burst float64

	// mu guards addrs and all.
	mu    sync.Mutex
	addrs map[string]*debt
	all   debt
}

// debt is failed logins not yet forgiven, as of last.
type debt struct {
	owed float64
	last time.Time
}

// maxAddrs is how many addresses the limiter remembers before it forgets
// those whose debt has drained.
const maxAddrs = 4096

func newLoginLimiter(rate float64, burst int) *loginLimiter {
	return &loginLimiter{rate: rate, burst: float64(burst), addrs: make(map[string]*debt)}
}

// allow reports whether addr may try to log in at now, and if not, how
// long it has to wait.
func (l *loginLimiter) allow(addr string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	wait := l.all.wait(now, l.rate*10, l.burst*10)
	if d := l.addrs[addr]; d != nil {
		wait = max(wait, d.wait(now, l.rate, l.burst))
	}
	return wait, wait == 0
}

// fail records a failed login of addr at now.
func (l *loginLimiter) fail(addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all.add(now, l.rate*10)
	d := l.addrs[addr]
	if d == nil {
		if len(l.addrs) >= maxAddrs {
			for a, d := range l.addrs {
				if d.drained(now, l.rate) == 0 {
					delete(l.addrs, a)
				}
			}
		}
		d = &debt{}
		l.addrs[addr] = d
	}
	d.add(now, l.rate)
}

// drained brings the debt up to now and returns it.
func (d *debt) drained(now time.Time, rate float64) float64 {
	if el := now.Sub(d.last).Seconds(); el > 0 {
		d.owed = max(0, d.owed-el*rate)
		d.last = now
	}
	return d.owed
}

func (d *debt) add(now time.Time, rate float64) { d.drained(now, rate); d.owed++ }

// wait is how long until the debt is below burst, rounded up to a second
// (Retry-After counts seconds); zero when it is already.
func (d *debt) wait(now time.Time, rate, burst float64) time.Duration {
	over := d.drained(now, rate) - burst
	if over < 0 {
		return 0
	}
	return time.Duration(math.Max(1, math.Ceil((over+1e-9)/rate))) * time.Second
}
