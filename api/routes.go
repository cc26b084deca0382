package api

import "net/http"

// serveFunc serves one endpoint. An error it returns becomes the error
// response (see toError); it must not have written anything then.
type serveFunc func(a *handler, w http.ResponseWriter, r *http.Request) error

// route is one endpoint: a method on a full path.
type route struct {
	method, path string
	// public routes need no API key.
	public bool
	serve  serveFunc
}

// routes are the API's endpoints. docs/openapi.yaml documents each one,
// and a test checks that the two lists are the same.
var routes = []route{
	{method: http.MethodPost, path: "/api/publish", serve: (*handler).publish},
	{method: http.MethodPost, path: "/api/broadcast", serve: (*handler).broadcast},
	{method: http.MethodGet, path: "/api/history", serve: (*handler).history},
	{method: http.MethodGet, path: "/api/presence", serve: (*handler).presence},
	{method: http.MethodGet, path: "/api/receipts", serve: (*handler).receipts},
	{method: http.MethodPost, path: "/api/unread", serve: (*handler).unread},
	{method: http.MethodGet, path: "/api/status", serve: (*handler).status},
	{method: http.MethodGet, path: "/api/state", serve: (*handler).state},
	{method: http.MethodPost, path: "/api/state", serve: (*handler).setState},
	{method: http.MethodPost, path: "/api/disconnect", serve: (*handler).disconnect},
	{method: http.MethodGet, path: "/api/channels", serve: (*handler).channels},
	{method: http.MethodGet, path: "/api/info", serve: (*handler).info},
	// The document is public: it is the one in the repository, and tools
	// (code generators, API explorers) fetch it without a secret.
	{method: http.MethodGet, path: "/api/openapi.yaml", public: true, serve: (*handler).openAPI},
}
