package tokens

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
)

// OpaqueTokenLen is the length of the opaque tokens (refresh tokens and the
// verification and reset tokens mailed to users): 32 random bytes in hex.
const OpaqueTokenLen = 64

// NewOpaqueToken returns a fresh opaque token and the hash under which it is
// stored; the token itself is never stored.
func NewOpaqueToken() (token, hash string, err error) {
	var b [OpaqueTokenLen / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("new opaque token: %w", err)
	}
	token = hex.EncodeToString(b[:])
	return token, HashOpaqueToken(token), nil
}

// HashOpaqueToken returns the hex SHA-256 of token, the form it is stored
// and looked up in. A fast hash suffices: the token has 256 bits of entropy.
func HashOpaqueToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// ValidOpaqueToken reports whether token is exactly 64 lowercase hex
// characters, so malformed input is refused before any lookup.
func ValidOpaqueToken(token string) bool {
	if len(token) != OpaqueTokenLen {
		return false
	}
	for i := range len(token) {
		if c := token[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// SuccessorKey derives the successor of a refresh token for the reuse grace
// window.
//
// A refresh spends token T and issues Successor(T) = HMAC-SHA256(key, T)
// instead of a random token, storing only its hash as usual. When T is
// presented again within the grace window (two tabs, a lost response), the
// server recomputes Successor(T), finds the row stored under its hash (a
// database lookup, so no secret is compared in Go) and answers with the same
// token: the family never forks, and no refresh token is ever stored in
// plaintext. Without the key the successor is as
// unpredictable as a random token; holding T within the window yields it, but
// T's holder could have refreshed anyway.
//
// The key is derived (HKDF-SHA256 with a fixed label) from the JWT private
// key, so it needs no configuration of its own. Rotating the JWT key changes
// it: a retry that straddles a rotation is treated as reuse.
type SuccessorKey struct {
	key []byte
}

const successorLabel = "apisec refresh-token successor v1"

// NewSuccessorKey derives the successor key from the JWT signing key.
func NewSuccessorKey(priv *rsa.PrivateKey) (*SuccessorKey, error) {
	if priv == nil {
		return nil, errors.New("successor key: no private key")
	}
	key, err := DeriveKey(priv, successorLabel)
	if err != nil {
		return nil, fmt.Errorf("successor key: %w", err)
	}
	return &SuccessorKey{key: key}, nil
}

// DeriveKey derives a 32-byte secret for one purpose, named by label, from
// the JWT signing key (HKDF-SHA256): a secret every instance shares and that
// needs no configuration of its own.
func DeriveKey(priv *rsa.PrivateKey, label string) ([]byte, error) {
	if priv == nil {
		return nil, errors.New("derive key: no private key")
	}
	return hkdf.Key(sha256.New, x509.MarshalPKCS1PrivateKey(priv), nil, label, sha256.Size)
}

// Successor returns the refresh token that succeeds token: 64 lowercase hex
// characters, the same for the same token.
func (k *SuccessorKey) Successor(token string) string {
	mac := hmac.New(sha256.New, k.key)
	mac.Write([]byte(token))
	return hex.EncodeToString(mac.Sum(nil))
}
