package tokens

import (
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
)

var b64 = base64.RawURLEncoding

// Thumbprint returns the RFC 7638 JWK thumbprint of key (base64url SHA-256),
// used as the `kid` so a key's id is derived from the key and never drifts.
func Thumbprint(key *rsa.PublicKey) string {
	n, e := jwkParams(key)
	// RFC 7638 §3.2: the required members in lexicographic order, no
	// whitespace. n and e are base64url, so they need no JSON escaping.
	sum := sha256.Sum256([]byte(`{"e":"` + e + `","kty":"RSA","n":"` + n + `"}`))
	return b64.EncodeToString(sum[:])
}

// jwkParams returns the RFC 7518 §6.3.1 encodings of the modulus and
// exponent: unsigned big-endian, no leading zeros, base64url.
func jwkParams(key *rsa.PublicKey) (n, e string) {
	return b64.EncodeToString(key.N.Bytes()), b64.EncodeToString(big.NewInt(int64(key.E)).Bytes())
}

type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// renderJWKS returns the JWK Set of keys, in order.
func renderJWKS(keys []*rsa.PublicKey) []byte {
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: make([]jwk, 0, len(keys))}
	for _, k := range keys {
		n, e := jwkParams(k)
		set.Keys = append(set.Keys, jwk{Kty: "RSA", Use: "sig", Alg: "RS256", Kid: Thumbprint(k), N: n, E: e})
	}
	out, err := json.Marshal(set)
	if err != nil {
		panic("tokens: marshal JWKS: " + err.Error()) // only strings: cannot fail
	}
	return out
}
