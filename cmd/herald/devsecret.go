package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const devSecretFile = "dev-jwt-secret"

// devSecret returns the development key kept in the data directory,
// creating it on first use, so that `herald token` can mint tokens the
// running node accepts.
func devSecret(dataDir string) ([]byte, error) {
	s, err := readDevSecret(dataDir)
	if err == nil {
		return s, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	secret := hex.EncodeToString(b[:])
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dataDir, devSecretFile), []byte(secret+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write development key: %w", err)
	}
	return []byte(secret), nil
}

func readDevSecret(dataDir string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, devSecretFile))
	if err != nil {
		return nil, err
	}
	return []byte(strings.TrimSpace(string(b))), nil
}
