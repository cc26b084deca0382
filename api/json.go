package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/heraldrt/herald/protocol"
)

// decodeJSON reads r's body, a JSON object, into v (a pointer to a
// request struct). It is strict where encoding/json is lenient, because a
// typo in a field name that is silently dropped (an "idempotencykey" that
// dedupes nothing) is worse than a 400: field names must match the json
// tags exactly (encoding/json matches them case-insensitively), and
// unknown fields are refused.
func decodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return errorf(protocol.CodeBadRequest, "Content-Type must be application/json, not %q", truncate(ct, 64))
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return err
		}
		return errorf(protocol.CodeBadRequest, "reading the request body: %v", err)
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return errorf(protocol.CodeBadRequest, "a JSON object is required as the request body")
	}
	if !json.Valid(body) {
		return errorf(protocol.CodeBadRequest, "the request body is not valid JSON")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return errorf(protocol.CodeBadRequest, "the request body is not a JSON object")
	}
	known := jsonFields(reflect.TypeOf(v).Elem())
	var unknown []string
	for name := range fields {
		if !known[name] {
			unknown = append(unknown, truncate(name, 64))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return errorf(protocol.CodeBadRequest, "unknown field %s", strings.Join(quoteAll(unknown), ", "))
	}
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return errorf(protocol.CodeBadRequest, "field %q has the wrong type", typeErr.Field)
		}
		return errorf(protocol.CodeBadRequest, "malformed JSON")
	}
	return nil
}

// writeJSON answers with status and v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Nothing here is embedded in HTML, so "<key>" in a message stays
	// readable rather than becoming "\u003ckey\u003e".
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only a stored payload that is not valid JSON could get here, and
		// the hub refuses those; answer in the documented shape anyway.
		status = http.StatusInternalServerError
		buf.Reset()
		_ = enc.Encode(errInternal)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// jsonFieldCache maps a request struct type to its set of JSON field
// names.
var jsonFieldCache sync.Map // reflect.Type -> map[string]bool

// jsonFields returns the JSON names of struct type t's fields.
func jsonFields(t reflect.Type) map[string]bool {
	if m, ok := jsonFieldCache.Load(t); ok {
		return m.(map[string]bool)
	}
	m := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = true
	}
	jsonFieldCache.Store(t, m)
	return m
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

// truncate shortens s for an error message, so that a client's junk is
// not echoed back in full.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
