package api

import (
	_ "embed"
	"net/http"
	"strconv"
)

// openAPIDoc is the API's OpenAPI 3.0 document. api/openapi.yaml is its
// canonical source, embedded here so that a running node serves the
// document of its own version; docs/openapi.yaml is a copy kept for
// readers of the repository, and a test fails when the two differ.
//
//go:embed openapi.yaml
var openAPIDoc []byte

// openAPI serves GET /api/openapi.yaml.
func (a *handler) openAPI(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseQuery(r.URL.RawQuery); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/yaml") // RFC 9512
	h.Set("Content-Length", strconv.Itoa(len(openAPIDoc)))
	// The document only changes with the binary.
	h.Set("Cache-Control", "public, max-age=3600")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPIDoc)
	return nil
}
