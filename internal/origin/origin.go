// Package origin decides which browser pages may open a connection: the
// WebSocket and SSE transports share it.
package origin

import (
	"net/http"
	"net/url"
	"strings"
)

// Checker decides whether a browser page may connect here.
// Browsers send the page's Origin with every upgrade; another site's page
// that could connect would act with the user's network position and any
// cookies (cross-site WebSocket hijacking). Clients that are not browsers
// send no Origin and are allowed: they authenticate with a token anyway.
type Checker struct {
	any      bool
	exact    map[string]bool // scheme://host[:port]
	wildcard []string        // "https://.example.com" for https://*.example.com
}

// New reads the allow-list: exact origins
// ("https://app.example.com"), subdomain wildcards
// ("https://*.example.com"), or "*" for any. An empty list allows the
// server's own host only.
func New(allowed []string) *Checker {
	oc := &Checker{exact: map[string]bool{}}
	for _, a := range allowed {
		a = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(a), "/"))
		switch {
		case a == "*":
			oc.any = true
		case strings.Contains(a, "://*."):
			oc.wildcard = append(oc.wildcard, strings.Replace(a, "://*.", "://.", 1))
		case a != "":
			oc.exact[a] = true
		}
	}
	return oc
}

// Check reports whether r's Origin may connect. A Checker is safe for
// concurrent use.
func (oc *Checker) Check(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || oc.any {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	o := strings.ToLower(u.Scheme + "://" + u.Host)
	if oc.exact[o] {
		return true
	}
	for _, w := range oc.wildcard {
		// "https://.example.com": the origin must end with the suffix
		// after its own scheme, and have a label before it.
		scheme, suffix, _ := strings.Cut(w, "://")
		host := strings.ToLower(u.Host)
		if strings.EqualFold(u.Scheme, scheme) && strings.HasSuffix(host, suffix) && len(host) > len(suffix) {
			return true
		}
	}
	if len(oc.exact) == 0 && len(oc.wildcard) == 0 {
		return strings.EqualFold(u.Host, r.Host)
	}
	return false
}
