package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/alecthomas/kong"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestPrecedence checks flag > env > file > default for every kind of
// setting source.
func TestPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "herald.yaml")
	if err := os.WriteFile(file, []byte("addr: 127.0.0.1:1111\nretention_count: 7\nping_interval: 3s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantAddr string
		wantPing string
	}{
		{"default", []string{"serve"}, nil, "127.0.0.1:8080", "25s"},
		{"file", []string{"serve", "--config", file}, nil, "127.0.0.1:1111", "3s"},
		{"env over file", []string{"serve", "--config", file}, map[string]string{"HERALD_ADDR": "127.0.0.1:2222"}, "127.0.0.1:2222", "3s"},
		{"flag over env", []string{"serve", "--config", file, "--addr", "127.0.0.1:3333"}, map[string]string{"HERALD_ADDR": "127.0.0.1:2222"}, "127.0.0.1:3333", "3s"},
		{"config file from env", []string{"serve"}, map[string]string{"HERALD_CONFIG": file}, "127.0.0.1:1111", "3s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var c cli
			p, err := newParser(&c)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if c.Serve.Addr != tt.wantAddr || c.Serve.PingInterval.String() != tt.wantPing {
				t.Errorf("addr %s ping %s, want %s and %s", c.Serve.Addr, c.Serve.PingInterval, tt.wantAddr, tt.wantPing)
			}
		})
	}
}

func TestConfigFileRejectsUnknownKeys(t *testing.T) {
	file := filepath.Join(t.TempDir(), "herald.yaml")
	if err := os.WriteFile(file, []byte("adress: typo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var c cli
	p, err := newParser(&c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse([]string{"serve", "--config", file}); err == nil {
		t.Fatal("a misspelt key was accepted")
	}
}

// TestServeHelp keeps `herald serve -h` in a golden file, so that a change
// to any setting shows in review. Run with -update to rewrite it.
func TestServeHelp(t *testing.T) {
	t.Setenv("COLUMNS", "80")
	var c cli
	var out bytes.Buffer
	exited := false
	p, err := newParser(&c, kong.Writers(&out, &out), kong.Exit(func(int) { exited = true }))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = p.Parse([]string{"serve", "--help"})
	if !exited {
		t.Fatal("--help did not exit")
	}
	golden := filepath.Join("testdata", "serve-help.golden")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update once)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("herald serve -h changed; if that is intended, run go test ./cmd/herald -run TestServeHelp -update\ngot:\n%s", out.Bytes())
	}
}
