// Package web serves Herald's browser pages: the demo chat at / and the
// admin dashboard at /admin. Their TypeScript sources live in src/ and
// are built with esbuild (npm run build in this directory) into assets/,
// which is committed and embedded with go:embed, so that `go build`
// needs no Node.
//
// # Concurrency
//
// The handlers are safe for concurrent use. The demo's hold no state but
// their configuration; the admin's keep the logged out sessions and the
// failed logins under a lock of their own (adminsession.go).
package web
