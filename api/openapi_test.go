package api_test

import (
	"bytes"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/heraldrt/herald/api"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/protocol"
)

var update = flag.Bool("update", false, "rewrite docs/openapi.yaml from api/openapi.yaml")

// docsCopy is docs/openapi.yaml: a header, then api/openapi.yaml as is.
var docsCopy = filepath.Join("..", "docs", "openapi.yaml")

const docsHeader = `# Code generated from api/openapi.yaml by "go test ./api -run TestOpenAPIDocsCopy -update". DO NOT EDIT.
#
# The canonical document is api/openapi.yaml: the server embeds it and
# serves it at GET /api/openapi.yaml, and the api package's tests check
# every request and response they make against it. Edit that file, then
# run the command above to refresh this copy; a test fails while they
# differ.

`

// TestOpenAPIDocument: the document loads, validates as OpenAPI 3 (its
// examples included), and lists the error codes of the protocol.
func TestOpenAPIDocument(t *testing.T) {
	doc, err := loadDoc()
	if err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	var codes []protocol.Code
	for _, v := range doc.Components.Schemas["ErrorCode"].Value.Enum {
		codes = append(codes, protocol.Code(v.(string)))
	}
	if !slices.Equal(codes, protocol.Codes) {
		t.Errorf("ErrorCode enum %v, want the protocol's codes %v", codes, protocol.Codes)
	}
	if _, err := loadRouter(); err != nil {
		t.Fatalf("a router over the document: %v", err)
	}
}

// TestOpenAPIRoutes: the handler serves exactly the operations of the
// document, no more (an undocumented route) and no fewer.
func TestOpenAPIRoutes(t *testing.T) {
	doc, err := loadDoc()
	if err != nil {
		t.Fatal(err)
	}
	var served []string
	for _, r := range api.Routes() {
		served = append(served, r[0]+" "+r[1])
	}
	slices.Sort(served)
	if documented := operations(doc); !slices.Equal(served, documented) {
		t.Errorf("the handler serves\n\t%v\nthe document lists\n\t%v", served, documented)
	}
}

// TestOpenAPIDocsCopy: docs/openapi.yaml is the canonical document with
// its header. With -update it is rewritten.
func TestOpenAPIDocsCopy(t *testing.T) {
	canonical, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte(docsHeader), canonical...)
	if *update {
		if err := os.WriteFile(docsCopy, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(docsCopy)
	if err != nil {
		t.Fatalf("%v (run go test ./api -run TestOpenAPIDocsCopy -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("docs/openapi.yaml differs from api/openapi.yaml: edit api/openapi.yaml, then run go test ./api -run TestOpenAPIDocsCopy -update")
	}
}

// TestOpenAPIServed: the node serves the canonical document without a
// key, and nothing else at that path.
func TestOpenAPIServed(t *testing.T) {
	_, c := startNode(t, testserver.Options{})
	canonical, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		call   call
		status int
	}{
		{"without a key", call{method: http.MethodGet, path: "/api/openapi.yaml", noKey: true}, http.StatusOK},
		{"with a key", call{method: http.MethodGet, path: "/api/openapi.yaml"}, http.StatusOK},
		{"HEAD", call{method: http.MethodHead, path: "/api/openapi.yaml", noKey: true}, http.StatusOK},
		{"unknown parameter", call{method: http.MethodGet, path: "/api/openapi.yaml?format=json", noKey: true, doc: docSilent}, http.StatusBadRequest},
		{"wrong method", call{method: http.MethodPost, path: "/api/openapi.yaml", noKey: true, raw: []byte("{}")}, http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := c.do(t, tt.call)
			if res.status != tt.status {
				t.Fatalf("got %d %s, want %d", res.status, res.body, tt.status)
			}
			if tt.status == http.StatusOK && tt.call.method == http.MethodGet && !bytes.Equal(res.body, canonical) {
				t.Error("the served document differs from api/openapi.yaml")
			}
		})
	}
}
