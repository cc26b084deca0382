package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/heraldrt/herald/api"
	"github.com/heraldrt/herald/auth"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/webhook"
)

// verifier builds the token verifier from the auth flags. With no key at
// all, Herald runs in development mode with a generated HS256 key kept in
// the data directory, and says so loudly.
func (c *serveCmd) verifier(log *slog.Logger) (*auth.Verifier, error) {
	cfg := auth.Config{
		JWKSURL:     c.JWKSURL,
		JWKSRefresh: c.JWKSRefresh,
		Algorithms:  c.JWTAlgorithms,
		Issuer:      c.JWTIssuer,
		Audience:    c.JWTAudience,
		Leeway:      c.JWTLeeway,
		Logger:      log,
	}
	for _, s := range c.JWTSecret {
		cfg.Secrets = append(cfg.Secrets, []byte(s))
	}
	for _, spec := range c.JWTPublicKey {
		file, kid, _ := strings.Cut(spec, "#")
		pemBytes, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--jwt-public-key: %w", err)
		}
		k, err := auth.ParsePublicKeyPEM(pemBytes, kid)
		if err != nil {
			return nil, fmt.Errorf("--jwt-public-key %s: %w", file, err)
		}
		cfg.PublicKeys = append(cfg.PublicKeys, k)
	}
	if len(cfg.Secrets) == 0 && len(cfg.PublicKeys) == 0 && cfg.JWKSURL == "" {
		secret, err := devSecret(c.Data)
		if err != nil {
			return nil, fmt.Errorf("development key: %w", err)
		}
		cfg.Secrets = [][]byte{secret}
		c.devKey = secret
		fmt.Fprintf(os.Stderr, `
  ************************************************************************
  *  DEVELOPMENT MODE: no --jwt-secret (HERALD_JWT_SECRET), no public key *
  *  and no JWKS URL is set. Herald uses a generated key kept in %s.
  *  Mint a token with:   herald token --sub alice --channels 'chat.>'     *
  *  Never run like this in production.                                  *
  ************************************************************************

`, c.Data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := auth.NewVerifier(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("token verification (--jwt-secret, --jwt-public-key, --jwks-url): %w", err)
	}
	return v, nil
}

// hubConfig builds the hub's configuration from the flags.
func (c *serveCmd) hubConfig(log *slog.Logger) hub.Config {
	return hub.Config{
		AuthTimeout:           c.AuthTimeout,
		PingInterval:          c.PingInterval,
		PongTimeout:           c.PongTimeout,
		TokenExpiryWarning:    c.TokenExpiryWarning,
		TokenExpiryGrace:      c.TokenExpiryGrace,
		MaxQueueBytes:         c.MaxQueueBytes,
		Namespaces:            c.Namespaces.Namespaces,
		MaxFrameRate:          c.MaxFrameRate,
		MaxFrameBurst:         c.MaxFrameBurst,
		PublishRate:           c.PublishRate,
		PublishBurst:          c.PublishBurst,
		MaxSubscriptions:      c.MaxSubscriptions,
		MaxHistoryLimit:       c.MaxHistoryLimit,
		MaxConnectionsPerUser: c.MaxConnectionsPerUser,
		ConnectHook:           c.ConnectHook,
		DisconnectHook:        c.DisconnectHook,
		HookTimeout:           c.HookTimeout,
		PresenceInterval:      c.PresenceInterval,
		PresenceMaxMembers:    c.PresenceMaxMembers,
		PresenceResync:        c.PresenceResync,
		TypingTTL:             c.TypingTTL,
		TypingInterval:        c.TypingInterval,
		ReceiptInterval:       c.ReceiptInterval,
		Logger:                log,
	}
}

// webhooks builds the app backend's webhooks, or nil without a URL.
func (c *serveCmd) webhooks(log *slog.Logger) (*webhook.Hooks, error) {
	if c.WebhookURL == "" {
		if c.ConnectHook || c.DisconnectHook {
			return nil, fmt.Errorf("--connect-hook and --disconnect-hook need --webhook-url")
		}
		return nil, nil
	}
	h, err := webhook.New(webhook.Config{
		URL:     c.WebhookURL,
		Secret:  []byte(c.WebhookSecret),
		Timeout: c.WebhookTimeout,
		Retries: c.WebhookRetries,
		Logger:  log,
	})
	if err != nil {
		return nil, fmt.Errorf("--webhook-url: %w", err)
	}
	return h, nil
}

// apiKeys gathers the server API's keys from --api-key and
// --api-keys-file.
func (c *serveCmd) apiKeys() (*api.Keys, error) {
	keys, err := c.readAPIKeys()
	if err != nil {
		return nil, err
	}
	return api.NewKeys(keys...), nil
}

func (c *serveCmd) readAPIKeys() ([]string, error) {
	keys := append([]string(nil), c.APIKey...)
	if c.APIKeysFile == "" {
		return keys, nil
	}
	b, err := os.ReadFile(c.APIKeysFile)
	if err != nil {
		return nil, fmt.Errorf("--api-keys-file: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			keys = append(keys, line)
		}
	}
	return keys, nil
}

// reloadOnHangup reads the API keys again on each SIGHUP: rotation
// without a restart.
func (c *serveCmd) reloadOnHangup(ctx context.Context, keys *api.Keys, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		fresh, err := c.readAPIKeys()
		if err != nil {
			log.Error("SIGHUP: API keys not reloaded", "err", err)
			continue
		}
		keys.Replace(fresh)
		log.Info("SIGHUP: API keys reloaded", "keys", len(fresh))
	}
}
