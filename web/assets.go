package web

import (
	"bytes"
	"embed"
	"io/fs"
	"net/http"
	"path"
	"time"
)

// The built scripts come from assets/ (npm run build), the HTML and CSS
// straight from the sources: only the scripts need a build.
//
//go:embed assets/*.js src/*/*.html src/*/*.css
var embedded embed.FS

// files are the embedded files by the name they are served under.
var files = func() map[string][]byte {
	m := map[string][]byte{}
	err := fs.WalkDir(embedded, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := embedded.ReadFile(p)
		if err != nil {
			return err
		}
		if _, dup := m[path.Base(p)]; dup {
			panic("web: two embedded files are named " + path.Base(p))
		}
		m[path.Base(p)] = b
		return nil
	})
	if err != nil {
		panic(err)
	}
	return m
}()

// Assets serves the built scripts and the styles under /assets/. They are
// revalidated on each load (no-cache): the files carry no content hash
// in their names, and a new Herald must not run an old page's script.
func Assets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := path.Base(r.URL.Path)
		if path.Ext(name) == ".html" {
			http.NotFound(w, r) // pages have their own routes and headers
			return
		}
		serveFile(w, r, name)
	})
}

// serveFile writes an embedded file, its type from its name.
func serveFile(w http.ResponseWriter, r *http.Request, name string) {
	b, ok := files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}

// servePage writes one of the embedded HTML pages.
func servePage(w http.ResponseWriter, name string) {
	b, ok := files[name]
	if !ok {
		http.Error(w, "page missing from this build", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'")
	_, _ = w.Write(b)
}
