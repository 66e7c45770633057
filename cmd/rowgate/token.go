package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/rowgate/rowgate/internal/auth"
	"github.com/rowgate/rowgate/internal/todo"
)

// The development key's issuer and audience. `rowgate dev` checks them like
// any other: development does not turn verification off.
const (
	devIssuer   = "rowgate-dev"
	devAudience = "rowgate-dev"
)

// devKeyDir is where `rowgate token` and `rowgate dev` keep the
// development key: $ROWGATE_DEV_DIR, else the user cache directory.
func devKeyDir() string {
	if d := os.Getenv("ROWGATE_DEV_DIR"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "rowgate")
	}
	return ".rowgate-dev"
}

func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token", stderr)
	sub := fs.String("sub", "", "the user id (the token's sub); required")
	email := fs.String("email", "", "email claim")
	name := fs.String("name", "", "name claim")
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	issuer := fs.String("issuer", devIssuer, "iss claim")
	audience := fs.String("audience", devAudience, "aud claim")
	dir := fs.String("key-dir", devKeyDir(), "folder of the development key (env ROWGATE_DEV_DIR)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *sub == "" || len(*sub) > todo.MaxUserIDLen {
		return usageError{"--sub is required: a user id of 1 to 255 characters"}
	}
	if *ttl <= 0 {
		return usageError{"--ttl must be positive"}
	}
	key, err := auth.LoadOrCreateDevKey(*dir)
	if err != nil {
		return err
	}
	token, err := key.Mint(todo.Caller{ID: *sub, Email: *email, Name: *name}, *issuer, *audience, *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, token)
	fmt.Fprintf(stderr, "signed with the development key; verify with AUTH_JWKS_FILE=%s AUTH_ISSUER=%s AUTH_AUDIENCE=%s\n",
		key.JWKSPath(), *issuer, *audience)
	return nil
}
