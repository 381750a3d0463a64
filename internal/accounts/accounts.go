// Package accounts creates tenants and their API keys. A key is shown once, at
// creation; only its SHA-256 is stored, so a leaked database does not leak keys.
package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// KeyPrefix marks account management keys, as JetEmail's do.
const KeyPrefix = "api_"

// NewAPIKey returns a fresh key ("api_" + 43 base64url characters of 32 random
// bytes) and its hash.
func NewAPIKey() (key string, hash []byte, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, fmt.Errorf("generate api key: %w", err)
	}
	key = KeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return key, HashKey(key), nil
}

// HashKey is how keys are stored and looked up. A fast hash is right here: the
// key has 256 bits of entropy, so there is nothing to brute-force.
func HashKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// Fingerprint is a short, non-secret identifier of a key for logs: never log a key.
func Fingerprint(key string) string {
	return hex.EncodeToString(HashKey(key)[:4])
}

// NewID returns a fresh account id ("acc_" + 16 hex characters).
func NewID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate account id: %w", err)
	}
	return "acc_" + hex.EncodeToString(b[:]), nil
}

var (
	userRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,254}$`)
	domainRe = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$`)
)

// Create makes an account owning the given usernames and inbound domains, and
// returns it with its API key (the only time the key is available).
func Create(ctx context.Context, st store.Store, name string, users, domains []string, now time.Time) (*store.Account, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 128 {
		return nil, "", fmt.Errorf("account name must be 1 to 128 characters")
	}
	users, err := normalise(users, userRe, false, "username")
	if err != nil {
		return nil, "", err
	}
	domains, err = normalise(domains, domainRe, true, "domain")
	if err != nil {
		return nil, "", err
	}
	id, err := NewID()
	if err != nil {
		return nil, "", err
	}
	key, hash, err := NewAPIKey()
	if err != nil {
		return nil, "", err
	}
	acc, err := st.CreateAccount(ctx, &store.CreateAccountParams{ID: id, Name: name, Users: users, Domains: domains, KeyHash: hash, Now: now})
	if err != nil {
		return nil, "", err
	}
	return acc, key, nil
}

func normalise(in []string, re *regexp.Regexp, lower bool, what string) ([]string, error) {
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for _, v := range in {
		v = strings.TrimSpace(v)
		if lower {
			v = strings.ToLower(v)
		}
		if !re.MatchString(v) {
			return nil, fmt.Errorf("%q is not a valid %s", v, what)
		}
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out, nil
}

// RotateKey gives the account a new API key and revokes the old ones, and
// returns the new key (the only time it is available).
func RotateKey(ctx context.Context, st store.Store, accountID string, now time.Time) (string, error) {
	key, hash, err := NewAPIKey()
	if err != nil {
		return "", err
	}
	if err := st.RotateAPIKey(ctx, accountID, hash, now); err != nil {
		return "", err
	}
	return key, nil
}
