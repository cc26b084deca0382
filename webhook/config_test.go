package webhook_test

import (
	"context"
	"errors"
	"testing"

	"github.com/heraldrt/herald/webhook"
)

func TestNewChecksTheURL(t *testing.T) {
	cases := []struct {
		name string
		url  string
		ok   bool
		is   error
	}{
		{name: "missing", url: "", is: webhook.ErrNoURL},
		{name: "not http", url: "ftp://example.com/x"},
		{name: "no host", url: "http:///herald"},
		{name: "not a URL", url: "http://[::1"},
		{name: "relative", url: "/herald"},
		{name: "http", url: "http://127.0.0.1:1/herald", ok: true},
		{name: "https", url: "https://app.example/herald", ok: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, err := webhook.New(webhook.Config{URL: tc.url, Secret: testSecret})
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if err := h.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				_ = h.Close(context.Background())
				t.Fatalf("New accepted %q", tc.url)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err %v, want %v", err, tc.is)
			}
		})
	}
}
