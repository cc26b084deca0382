package redisbroker

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"defaults", Config{}, ""},
		{"a prefix with a brace", Config{Prefix: "a{b"}, "brace"},
		{"a node id with a space", Config{NodeID: "node 1"}, "node id"},
		{"a node id too long", Config{NodeID: strings.Repeat("n", 65)}, "node id"},
		{"an unknown scheme", Config{URL: "http://127.0.0.1:6379"}, "scheme"},
		{"a bad database", Config{URL: "redis://127.0.0.1:6379/x"}, "database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			err := cfg.setDefaults()
			if err == nil {
				_, err = cfg.clientOption()
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one about %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Prefix != "herald" || cfg.RetentionCount != 100_000 || cfg.RetentionAge != 72*time.Hour ||
				cfg.DedupeWindow != 10*time.Minute || cfg.PresenceTTL != 30*time.Second || cfg.WaitTimeout != time.Second ||
				cfg.Logger == nil || cfg.RetentionFor == nil || !validNodeID(cfg.NodeID) {
				t.Fatalf("defaults not filled in: %+v", cfg)
			}
			opt, _ := cfg.clientOption()
			if opt.ClientName != ClientName(cfg.NodeID) || len(opt.InitAddress) != 1 || opt.InitAddress[0] != "127.0.0.1:6379" {
				t.Fatalf("client options: name %q, addresses %v", opt.ClientName, opt.InitAddress)
			}
		})
	}
}

func TestNewFailsWithoutServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := New(ctx, Config{URL: "redis://127.0.0.1:" + formatUint(uint64(port)) + "?dial_timeout=1s"})
	if err == nil {
		b.Close(ctx)
		t.Fatal("New succeeded with no server")
	}
}
