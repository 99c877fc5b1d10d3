package tokens

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"apisec/models"
)

// Device tokens are the OWASP "device cookie": proof that a client once
// logged in to an account, so the account limiter can keep strangers'
// guesses from locking its owner out. They are signed like access tokens
// (any instance can check one, no table per login) but carry another
// audience, so neither kind passes for the other. Stamp binds one to the
// account's password: a change or reset voids every device token.

// Device is a verified device token.
type Device struct {
	ID      string // jti: the key of its own failure budget
	Subject string // the user id
	Account string // DeviceAccount of the address it was issued for
	Stamp   string
}

type deviceClaims struct {
	Account string `json:"acct"`
	Stamp   string `json:"stamp"`
	jwt.RegisteredClaims
}

func (c *deviceClaims) Validate() error {
	if !models.ValidID(c.Subject) || c.ID == "" || len(c.ID) > 64 || c.Account == "" || c.Stamp == "" {
		return errBadClaims
	}
	return nil
}

// DeviceAccount and DeviceStamp digest an address and a password hash: the
// token carries neither in clear.
func DeviceAccount(email string) string      { return digest("account", email) }
func DeviceStamp(passwordHash string) string { return digest("stamp", passwordHash) }

func digest(label, v string) string {
	sum := sha256.Sum256([]byte(label + "\x00" + v))
	return b64.EncodeToString(sum[:12])
}

func (s *Service) deviceAudience() string { return s.audience + "#device" }

// IssueDevice signs a device token for user sub, its address and password
// hash, valid ttl.
func (s *Service) IssueDevice(sub, email, passwordHash string, ttl time.Duration) (string, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", fmt.Errorf("issue device token: %w", err)
	}
	now := s.clock().Truncate(time.Second)
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, &deviceClaims{
		Account: DeviceAccount(email),
		Stamp:   DeviceStamp(passwordHash),
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: s.issuer, Subject: sub, Audience: jwt.ClaimStrings{s.deviceAudience()},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			ID: b64.EncodeToString(id[:]),
		},
	})
	t.Header["kid"] = s.kid
	token, err := t.SignedString(s.priv)
	if err != nil {
		return "", fmt.Errorf("issue device token: %w", err)
	}
	return token, nil
}

var errNotDevice = errors.New("not a device token")

// VerifyDevice checks a device token's signature, audience and age; the
// caller compares Account and Stamp with the account's.
func (s *Service) VerifyDevice(token string) (Device, error) {
	if token == "" || len(token) > MaxTokenLen {
		return Device{}, errNotDevice
	}
	var dc deviceClaims
	if _, err := s.deviceParser.ParseWithClaims(token, &dc, s.keyFor); err != nil {
		return Device{}, fmt.Errorf("%w: %w", errNotDevice, err)
	}
	if !s.clock().Before(dc.ExpiresAt.Time) {
		return Device{}, errNotDevice
	}
	return Device{ID: dc.ID, Subject: dc.Subject, Account: dc.Account, Stamp: dc.Stamp}, nil
}
