package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAdminPassword(t *testing.T) {
	dev := []byte("generated-development-key-0123456789")
	log := slog.New(slog.DiscardHandler)
	tests := []struct {
		name      string
		cmd       serveCmd
		want      string // "generated": a new one, kept in the data directory
		wantFile  bool
		wantAgain bool // the same on a second start
	}{
		{"configured", serveCmd{AdminPassword: "s3cret", devKey: dev}, "s3cret", false, true},
		{"development mode", serveCmd{devKey: dev}, "generated", true, true},
		{"production without one", serveCmd{}, "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cmd.Data = t.TempDir()
			tt.cmd.AdminUser = "admin"
			got, err := tt.cmd.adminPassword(log)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.want == "generated" && len(got) != 32:
				t.Fatalf("generated %q, want 32 hex digits", got)
			case tt.want != "generated" && got != tt.want:
				t.Fatalf("password %q, want %q", got, tt.want)
			}
			fi, err := os.Stat(filepath.Join(tt.cmd.Data, devAdminPasswordFile))
			if tt.wantFile != (err == nil) {
				t.Fatalf("file: %v, want it there: %v", err, tt.wantFile)
			}
			if tt.wantFile && fi.Mode().Perm() != 0o600 {
				t.Errorf("file mode %v, want 0600", fi.Mode().Perm())
			}
			again, _ := tt.cmd.adminPassword(log)
			if again != got {
				t.Errorf("second start: %q, want %q", again, got)
			}
		})
	}
}

// adminClient logs in to a node's dashboard and returns a client holding
// the session cookie.
func adminClient(t *testing.T, addr, user, password string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	body, _ := json.Marshal(map[string]string{"user": user, "password": password})
	resp, err := c.Post("http://"+addr+"/admin/login", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	return c
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAdminServe runs herald serve with and without an admin password
// and reads the dashboard's data as the page does.
func TestAdminServe(t *testing.T) {
	t.Run("off without a password", func(t *testing.T) {
		n := startNode(t, t.TempDir())
		status, body := get(t, http.DefaultClient, "http://"+n.addr+"/admin")
		if status != http.StatusForbidden || !strings.Contains(body, "--admin-password") {
			t.Fatalf("/admin: %d %s", status, body)
		}
	})
	t.Run("with a password", func(t *testing.T) {
		n := startNode(t, t.TempDir(), "--admin-user", "ops", "--admin-password", "pw-0123456789")
		if status, _ := get(t, http.DefaultClient, "http://"+n.addr+"/admin/metrics"); status != http.StatusUnauthorized {
			t.Fatalf("metrics without a session: %d", status)
		}
		c := adminClient(t, n.addr, "ops", "pw-0123456789")
		base := "http://" + n.addr
		tests := []struct{ path, want string }{
			{"/admin", `data-testid="connections"`},
			{"/admin/metrics", "herald_nodes 1"},
			{"/admin/api/channels", `"channels":[]`},
		}
		for _, tt := range tests {
			if status, body := get(t, c, base+tt.path); status != http.StatusOK || !strings.Contains(body, tt.want) {
				t.Errorf("%s: %d %.300s, want %q", tt.path, status, body, tt.want)
			}
		}
	})
	t.Run("development mode", func(t *testing.T) {
		dir := t.TempDir()
		n := startDevNode(t, dir)
		b, err := os.ReadFile(filepath.Join(dir, devAdminPasswordFile))
		if err != nil {
			t.Fatal(err)
		}
		pw := strings.TrimSpace(string(b))
		if !strings.Contains(n.stderr.String(), "password="+pw) {
			t.Fatalf("the generated password is not in the log:\n%s", n.stderr)
		}
		c := adminClient(t, n.addr, "admin", pw)
		if status, body := get(t, c, "http://"+n.addr+"/admin/metrics"); status != http.StatusOK || !strings.Contains(body, "herald_connections") {
			t.Fatalf("metrics: %d %.300s", status, body)
		}
	})
}
