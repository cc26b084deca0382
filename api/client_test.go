package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/protocol"
)

// The tests talk to a real node over real HTTP through client, which
// checks every exchange against the OpenAPI document (api/openapi.yaml):
// the request, unless the test says the document cannot describe it, and
// always the response, its status, headers and body.

const testKey = "test-key-7f3a9c1e5b2d4a6f8e0c"

// loadDoc loads and validates the OpenAPI document once.
var loadDoc = sync.OnceValues(func() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile("openapi.yaml")
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(loader.Context, openapi3.EnableExamplesValidation()); err != nil {
		return nil, err
	}
	closeSchemas(doc)
	return doc, nil
})

// closeSchemas makes the tests stricter than the document: its response
// objects leave additionalProperties open, so that fields can be added
// without breaking clients, but the server must not send a field that
// the document does not name (a renamed "next" would otherwise pass as
// an unknown extra). Only the loaded copy is changed.
func closeSchemas(doc *openapi3.T) {
	closed := false
	seen := map[*openapi3.Schema]bool{}
	var walk func(ref *openapi3.SchemaRef)
	walk = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		if s.Type.Is(openapi3.TypeObject) && len(s.Properties) > 0 && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil {
			s.AdditionalProperties.Has = &closed
		}
		for _, p := range s.Properties {
			walk(p)
		}
		walk(s.Items)
		for _, x := range slices.Concat(s.OneOf, s.AnyOf, s.AllOf) {
			walk(x)
		}
	}
	for _, s := range doc.Components.Schemas {
		walk(s)
	}
}

// loadRouter routes requests to the document's operations.
var loadRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := loadDoc()
	if err != nil {
		return nil, err
	}
	return gorillamux.NewRouter(doc)
})

// exercised records the operations ("GET /api/info") that tests called
// and whose exchange was validated.
var exercised sync.Map

// unexercised returns the document's operations that no test exercised.
func unexercised() []string {
	doc, err := loadDoc()
	if err != nil {
		return []string{"(the document does not load: " + err.Error() + ")"}
	}
	var missing []string
	for _, op := range operations(doc) {
		if _, ok := exercised.Load(op); !ok {
			missing = append(missing, op)
		}
	}
	return missing
}

// operations lists the document's operations as "METHOD /path".
func operations(doc *openapi3.T) []string {
	var out []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, method+" "+path)
		}
	}
	slices.Sort(out)
	return out
}

// startNode starts a node with the API mounted and a client for it.
func startNode(t *testing.T, opts testserver.Options) (*testserver.Server, *client) {
	t.Helper()
	if opts.APIKeys == nil {
		opts.APIKeys = []string{testKey}
	}
	srv := testserver.Start(t, opts)
	return srv, newClient(t, srv.HTTP, opts.APIKeys[0])
}

// client makes requests with an API key and validates each exchange.
type client struct {
	base string
	key  string
	hc   *http.Client
}

func newClient(t *testing.T, base, key string) *client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &client{base: base, key: key, hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// docCheck says what the document makes of a request.
type docCheck int

const (
	// docValid: the request must satisfy the document.
	docValid docCheck = iota
	// docRejects: the document must refuse the request too, as the
	// server does: its schemas say what the server checks.
	docRejects
	// docSilent: the document cannot judge (an invalid key, a body over
	// the size limit, an unknown query parameter, an invalid channel in
	// a broadcast): the request is not checked, only the response.
	docSilent
)

// call is one request.
type call struct {
	method string
	// path is the path and query, "/api/history?channel=a".
	path string
	// body is sent as JSON; raw, when not nil, is sent as is.
	body any
	raw  []byte
	// header is added to the request; a value "" removes the header.
	header map[string]string
	// noKey sends no API key.
	noKey bool
	doc   docCheck
}

// response is what came back, already validated against the document.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (c *client) post(t *testing.T, path string, body any) response {
	t.Helper()
	return c.do(t, call{method: http.MethodPost, path: path, body: body})
}

func (c *client) get(t *testing.T, path string) response {
	t.Helper()
	return c.do(t, call{method: http.MethodGet, path: path})
}

// do sends the call and validates the exchange against the document.
func (c *client) do(t *testing.T, cl call) response {
	t.Helper()
	var body []byte
	switch {
	case cl.raw != nil:
		body = cl.raw
	case cl.body != nil:
		var err error
		if body, err = json.Marshal(cl.body); err != nil {
			t.Fatal(err)
		}
	}
	req := newRequest(t, cl.method, c.base+cl.path, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if !cl.noKey {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	for k, v := range cl.header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	res, err := c.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", cl.method, cl.path, err)
	}
	defer res.Body.Close()
	got, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the response: %v", cl.method, cl.path, err)
	}
	out := response{status: res.StatusCode, header: res.Header, body: got}
	// The request as sent, with a fresh body, for the validator.
	sent := newRequest(t, cl.method, c.base+cl.path, body)
	sent.Header = req.Header.Clone()
	validate(t, sent, cl.doc, out)
	return out
}

func newRequest(t *testing.T, method, url string, body []byte) *http.Request {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// validate checks an exchange against the document. A request that
// matches no operation (an unknown path, a method a path does not serve)
// must have been answered with an error of the Error schema: 404 or 405,
// or 401 or 429 when the key failed first.
func validate(t *testing.T, req *http.Request, check docCheck, res response) {
	t.Helper()
	doc, err := loadDoc()
	if err != nil {
		t.Fatalf("the OpenAPI document: %v", err)
	}
	router, err := loadRouter()
	if err != nil {
		t.Fatalf("router over the OpenAPI document: %v", err)
	}
	method := req.Method
	if method == http.MethodHead {
		// HEAD is GET without a body (RFC 9110, 9.3.2): route it as GET
		// and check the status only.
		req.Method = http.MethodGet
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		if !errors.Is(err, routers.ErrPathNotFound) && !errors.Is(err, routers.ErrMethodNotAllowed) {
			t.Fatalf("routing %s %s: %v", req.Method, req.URL, err)
		}
		// The key is checked before the route: without one, any path
		// gets 401 (or 429 past the key's rate).
		if !slices.Contains([]int{http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusUnauthorized, http.StatusTooManyRequests}, res.status) {
			t.Errorf("%s %s is not in the document, yet got %d %s", method, req.URL.Path, res.status, res.body)
		}
		checkErrorBody(t, doc, res)
		return
	}
	if method == http.MethodHead {
		if _, ok := route.Operation.Responses.Map()[statusKey(res.status)]; !ok {
			t.Errorf("HEAD %s: status %d not documented", req.URL.Path, res.status)
		}
		return
	}
	ctx := context.Background()
	opts := &openapi3filter.Options{AuthenticationFunc: authenticate, IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	switch reqErr := openapi3filter.ValidateRequest(ctx, in); check {
	case docValid:
		if reqErr != nil {
			t.Errorf("%s %s: the request breaks the document: %v", req.Method, req.URL, reqErr)
		}
	case docRejects:
		if reqErr == nil {
			t.Errorf("%s %s: the server refuses the request (%d %s) but the document allows it", req.Method, req.URL, res.status, res.body)
		}
	}
	rin := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 res.status,
		Header:                 res.header,
		Body:                   io.NopCloser(bytes.NewReader(res.body)),
		Options:                opts,
	}
	if err := openapi3filter.ValidateResponse(ctx, rin); err != nil {
		t.Errorf("%s %s: the response %d %.300s breaks the document: %v", req.Method, req.URL, res.status, res.body, err)
	}
	exercised.Store(route.Method+" "+route.Path, true)
}

// authenticate tells openapi3filter whether a request carries the
// credentials of a security scheme (not whether the key is valid, which
// only the server knows).
func authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header
	switch in.SecuritySchemeName {
	case "bearerAuth":
		scheme, token, _ := strings.Cut(h.Get("Authorization"), " ")
		if strings.EqualFold(scheme, "Bearer") && token != "" {
			return nil
		}
	case "apiKeyHeader":
		if h.Get("X-Api-Key") != "" {
			return nil
		}
	}
	return errors.New("no credentials for " + in.SecuritySchemeName)
}

// checkErrorBody checks an answer that no operation documents against
// the Error schema.
func checkErrorBody(t *testing.T, doc *openapi3.T, res response) {
	t.Helper()
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error answer with Content-Type %q", ct)
	}
	var v any
	if err := json.Unmarshal(res.body, &v); err != nil {
		t.Fatalf("error answer %q is not JSON: %v", res.body, err)
	}
	if err := doc.Components.Schemas["Error"].Value.VisitJSON(v); err != nil {
		t.Errorf("error answer %s breaks the Error schema: %v", res.body, err)
	}
}

func statusKey(status int) string {
	b, _ := json.Marshal(status)
	return string(b)
}

// decode unmarshals the response body into v.
func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response %d %q: %v", r.status, r.body, err)
	}
}

// fields returns the top-level object of the body.
func (r response) fields(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	r.decode(t, &m)
	return m
}

// expectError fails unless the response is the error with status and
// code.
func (r response) expectError(t *testing.T, status int, code protocol.Code) {
	t.Helper()
	var e struct {
		Code    protocol.Code `json:"code"`
		Message string        `json:"message"`
	}
	if r.status != status {
		t.Fatalf("got %d %s, want %d %s", r.status, r.body, status, code)
	}
	r.decode(t, &e)
	if e.Code != code || e.Message == "" {
		t.Fatalf("got error %q (%q), want %s with a message", e.Code, e.Message, code)
	}
}

// expectOK fails unless the status is 200.
func (r response) expectOK(t *testing.T) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("got %d %s, want 200", r.status, r.body)
	}
}
