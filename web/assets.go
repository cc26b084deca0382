package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed assets
var embedded embed.FS

// assetFS is assets/ as the root of a file system.
var assetFS = func() fs.FS {
	sub, err := fs.Sub(embedded, "assets")
	if err != nil {
		panic(err)
	}
	return sub
}()

// Assets serves the built scripts and styles under /assets/. They are
// revalidated on each load (no-cache): the files carry no content hash
// in their names, and a new Herald must not run an old page's script.
func Assets() http.Handler {
	files := http.StripPrefix("/assets/", http.FileServerFS(assetFS))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// servePage writes one of the embedded HTML pages.
func servePage(w http.ResponseWriter, name string) {
	b, err := fs.ReadFile(assetFS, name)
	if err != nil {
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
