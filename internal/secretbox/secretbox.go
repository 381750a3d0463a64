// Package secretbox keeps webhook signing secrets encrypted at rest with
// AES-256-GCM. Each ciphertext carries the id of the key that sealed it, so the
// operator can rotate keys: new secrets are sealed with the current key while
// older ciphertexts still open with the previous keys they are configured with.
//
// Store wraps any store.Store so that both backends get the same treatment
// without knowing about it: secrets are sealed on the way in and opened on the
// way out, and the database never holds one in clear.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// prefix marks sealed values; "v1" names the format (AES-256-GCM, 12-byte
// nonce, key id) so it can change later without ambiguity.
const prefix = "enc:v1:"

// KeySize is the key length: 32 bytes, AES-256.
const KeySize = 32

// ErrUnknownKey reports a ciphertext sealed with a key that is not configured.
var ErrUnknownKey = errors.New("secretbox: ciphertext was sealed with a key that is not configured")

// Box seals and opens secrets. It is safe for concurrent use.
type Box struct {
	current string
	aeads   map[string]cipher.AEAD
}

// KeyID is the public identifier of a key: the first 8 bytes of its SHA-256,
// in hex. It reveals nothing useful about the key.
func KeyID(key []byte) string {
	h := sha256.Sum256(key)
	return hex.EncodeToString(h[:8])
}

// New returns a box sealing with current and opening with current or any of
// previous (for key rotation).
func New(current []byte, previous ...[]byte) (*Box, error) {
	b := &Box{aeads: map[string]cipher.AEAD{}}
	for i, k := range append([][]byte{current}, previous...) {
		if len(k) != KeySize {
			return nil, fmt.Errorf("secretbox: key %d is %d bytes; it must be %d (base64 of 32 random bytes)", i, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("secretbox: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("secretbox: %w", err)
		}
		id := KeyID(k)
		if i == 0 {
			b.current = id
		}
		b.aeads[id] = aead
	}
	return b, nil
}

// CurrentKeyID returns the id of the sealing key.
func (b *Box) CurrentKeyID() string { return b.current }

// Seal encrypts a secret: "enc:v1:<key id>:<base64(nonce‖ciphertext‖tag)>".
func (b *Box) Seal(plain string) (string, error) {
	if plain == "" {
		return "", nil
	}
	aead := b.aeads[b.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("secretbox: nonce: %w", err)
	}
	// The key id is authenticated data: a ciphertext cannot be relabelled.
	sealed := aead.Seal(nonce, nonce, []byte(plain), []byte(b.current))
	return prefix + b.current + ":" + base64.RawStdEncoding.EncodeToString(sealed), nil
}

// Open decrypts a value produced by Seal. A value without the sealed prefix is
// returned as it is: rows written before encryption was enabled stay readable
// (and are sealed the next time they are written).
func (b *Box) Open(v string) (string, error) {
	if !strings.HasPrefix(v, prefix) {
		return v, nil
	}
	rest := v[len(prefix):]
	id, data, ok := strings.Cut(rest, ":")
	if !ok {
		return "", errors.New("secretbox: malformed ciphertext")
	}
	aead, ok := b.aeads[id]
	if !ok {
		return "", fmt.Errorf("%w (key id %s)", ErrUnknownKey, id)
	}
	raw, err := base64.RawStdEncoding.DecodeString(data)
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return "", errors.New("secretbox: malformed ciphertext")
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(id))
	if err != nil {
		return "", errors.New("secretbox: ciphertext does not authenticate (wrong key or tampered data)")
	}
	return string(plain), nil
}

// ParseKey decodes a base64 (standard or URL alphabet, padded or not) key.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != KeySize {
				return nil, fmt.Errorf("secret key decodes to %d bytes; it must be %d", len(k), KeySize)
			}
			return k, nil
		}
	}
	return nil, errors.New("secret key is not valid base64")
}

// NewKey returns a fresh random key.
func NewKey() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("secretbox: generate key: %w", err)
	}
	return k, nil
}

// LoadOrCreateKeyFile reads the key kept in path, creating it (mode 0600,
// base64) if it does not exist. It refuses a key file others can read.
func LoadOrCreateKeyFile(path string) (key []byte, created bool, err error) {
	data, err := os.ReadFile(path)
	if err == nil {
		fi, serr := os.Stat(path)
		if serr != nil {
			return nil, false, serr
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, false, fmt.Errorf("key file %s is readable by others (mode %o); chmod 600 it", path, fi.Mode().Perm())
		}
		k, err := ParseKey(string(data))
		if err != nil {
			return nil, false, fmt.Errorf("key file %s: %w", path, err)
		}
		return k, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("read key file: %w", err)
	}
	k, err := NewKey()
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("create key directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("create key file: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n"); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("write key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, false, fmt.Errorf("write key file: %w", err)
	}
	return k, true, nil
}
