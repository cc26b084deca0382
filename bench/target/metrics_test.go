package target

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const exposition = `# HELP herald_connections Open connections.
# TYPE herald_connections gauge
herald_connections 12
herald_connections_authenticated 11
herald_messages_out_total{kind="live"} 5
herald_messages_out_total{kind="replay",x="a}b"} 2.5e+01
`

func TestParseMetric(t *testing.T) {
	tests := []struct {
		name string
		want float64
	}{
		{"herald_connections", 12},
		{"herald_connections_authenticated", 11},
		{"herald_messages_out_total", 30},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMetric(bufio.NewScanner(strings.NewReader(exposition)), tc.name)
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	if _, err := parseMetric(bufio.NewScanner(strings.NewReader(exposition)), "herald_conn"); !errors.Is(err, ErrNoMetric) {
		t.Fatalf("a prefix of a name matched: %v", err)
	}
}

func TestServerMetric(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, exposition)
	}))
	defer ts.Close()
	s := &Server{HTTP: ts.URL}
	if v, err := s.Metric(context.Background(), "herald_connections"); err != nil || v != 12 {
		t.Fatalf("Metric = %v, %v", v, err)
	}
}
