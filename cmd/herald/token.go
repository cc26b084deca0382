package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/heraldrt/herald/auth"
)

type tokenCmd struct {
	Sub       string        `required:"" help:"User id (the token's sub)."`
	Channels  []string      `default:"chat.>" help:"Channel patterns the token grants (comma-separated)."`
	TTL       time.Duration `name:"ttl" default:"24h" help:"How long the token is valid."`
	JWTSecret string        `name:"jwt-secret" help:"HS256 key; without it, the development key in the data directory."`
	Data      string        `default:"./data" help:"Data directory holding the development key."`
}

func (c *tokenCmd) Run() error {
	secret := []byte(c.JWTSecret)
	if len(secret) == 0 {
		var err error
		secret, err = readDevSecret(c.Data)
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no --jwt-secret (HERALD_JWT_SECRET) and no development key in %s: run `herald serve` once, or set the secret", c.Data)
		}
		if err != nil {
			return err
		}
	}
	tok, err := auth.Mint(secret, c.Sub, c.Channels, c.TTL, time.Now())
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}
