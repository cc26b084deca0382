package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/heraldrt/herald/api"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/web"
)

const devAdminPasswordFile = "dev-admin-password"

// mountAdmin adds the admin dashboard at /admin: its login, the
// Prometheus text of metricsHandler, and the channel inspector's reads,
// which go to a server API of their own with a key made here, so that
// the dashboard works whether or not --api-key is set, and that key
// never leaves the process.
func (c *serveCmd) mountAdmin(mux *http.ServeMux, h *hub.Hub, metricsHandler http.Handler, log *slog.Logger) error {
	password, err := c.adminPassword(log)
	if err != nil {
		return err
	}
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return err
	}
	apiKey := hex.EncodeToString(key[:])
	admin := web.Admin(web.AdminConfig{
		User:     c.AdminUser,
		Password: password,
		Metrics:  metricsHandler,
		API:      api.New(h, api.Config{Keys: api.NewKeys(apiKey), Version: version, Logger: log}),
		APIKey:   apiKey,
		Logger:   log,
	})
	mux.Handle("/admin", admin)
	mux.Handle("/admin/", admin)
	return nil
}

// adminPassword returns the admin's password: --admin-password, else in
// development mode one generated and kept in the data directory, else
// none (the dashboard is off).
func (c *serveCmd) adminPassword(log *slog.Logger) (string, error) {
	switch {
	case c.AdminPassword != "":
		log.Info("admin dashboard at /admin", "user", c.AdminUser)
		return c.AdminPassword, nil
	case c.devKey != nil:
		pw, err := devAdminPassword(c.Data)
		if err != nil {
			return "", err
		}
		log.Warn("DEVELOPMENT MODE: admin dashboard at /admin with a generated password; set --admin-password in production",
			"user", c.AdminUser, "password", pw, "file", filepath.Join(c.Data, devAdminPasswordFile))
		return pw, nil
	default:
		log.Info("admin dashboard off: set --admin-password to turn it on")
		return "", nil
	}
}

// devAdminPassword returns the development admin password kept in the
// data directory, creating it on first use, so that it stays the same
// across restarts like the development key (devsecret.go).
func devAdminPassword(dataDir string) (string, error) {
	path := filepath.Join(dataDir, devAdminPasswordFile)
	b, err := os.ReadFile(path)
	if err == nil && strings.TrimSpace(string(b)) != "" {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	var r [16]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	pw := hex.EncodeToString(r[:])
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write development admin password: %w", err)
	}
	return pw, nil
}
