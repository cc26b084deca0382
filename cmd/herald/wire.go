package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/heraldrt/herald/auth"
	"github.com/heraldrt/herald/hub"
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
		MaxConnectionsPerUser: c.MaxConnectionsPerUser,
		Logger:                log,
	}
}
