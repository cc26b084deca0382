// Package web serves Herald's browser pages: the demo chat at / and the
// admin dashboard at /admin. Their sources live in src/<page>/: the
// TypeScript is built with esbuild (npm run build in this directory) into
// assets/, which is committed, and go:embed takes the scripts from there
// and the HTML and CSS from src/, so that `go build` needs no Node.
//
// # Concurrency
//
// The handlers are safe for concurrent use. The demo's hold no state but
// their configuration; the admin's keep the logged out sessions and the
// failed logins under a lock of their own (adminsession.go).
package web
