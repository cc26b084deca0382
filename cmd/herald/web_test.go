package main

import (
	"errors"
	"testing"

	"github.com/heraldrt/herald/web"
)

func TestDemoKey(t *testing.T) {
	dev := []byte("generated-development-key-0123456789")
	tests := []struct {
		name    string
		cmd     serveCmd
		want    string
		wantErr error
	}{
		{"auto in development mode", serveCmd{Demo: "auto", devKey: dev}, string(dev), nil},
		{"auto with a configured secret", serveCmd{Demo: "auto", JWTSecret: []string{"s"}}, "", nil},
		{"on with a configured secret", serveCmd{Demo: "on", JWTSecret: []string{"first-secret", "old"}}, "first-secret", nil},
		{"on in development mode", serveCmd{Demo: "on", devKey: dev}, string(dev), nil},
		{"on with public keys only", serveCmd{Demo: "on", JWTPublicKey: []string{"k.pem"}}, "", web.ErrNoDemoKey},
		{"off in development mode", serveCmd{Demo: "off", devKey: dev}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := tt.cmd.demoKey()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if string(key) != tt.want {
				t.Fatalf("key %q, want %q", key, tt.want)
			}
		})
	}
}
