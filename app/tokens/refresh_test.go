package tokens

import (
	"strings"
	"testing"
)

func TestNewOpaqueTokenIsRandomHexStoredByItsHash(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		tok, hash, err := NewOpaqueToken()
		if err != nil {
			t.Fatal(err)
		}
		if !ValidOpaqueToken(tok) || !ValidOpaqueToken(hash) {
			t.Fatalf("token %q or hash %q is not 64 lowercase hex", tok, hash)
		}
		if hash != HashOpaqueToken(tok) || hash == tok {
			t.Fatal("hash is not HashOpaqueToken(token)")
		}
		if seen[tok] {
			t.Fatal("duplicate refresh token")
		}
		seen[tok] = true
	}
}

func TestHashOpaqueTokenIsHexSHA256(t *testing.T) {
	t.Parallel()
	if got, want := HashOpaqueToken("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("HashOpaqueToken(abc) = %s; want %s", got, want)
	}
}

func TestValidOpaqueToken(t *testing.T) {
	t.Parallel()
	valid := strings.Repeat("0123456789abcdef", 4)
	for tok, want := range map[string]bool{
		valid:                                true,
		strings.ToUpper(valid):               false,
		valid[:63]:                           false,
		valid + "0":                          false,
		valid[:63] + "g":                     false,
		valid[:63] + " ":                     false,
		"":                                   false,
		strings.Repeat("é", 32):              false,
		strings.Repeat("0", 62) + "\x00\x00": false,
	} {
		if got := ValidOpaqueToken(tok); got != want {
			t.Errorf("ValidOpaqueToken(%q) = %v; want %v", tok, got, want)
		}
	}
}

func TestSuccessorIsDeterministicPerKeyAndToken(t *testing.T) {
	t.Parallel()
	k, err := NewSuccessorKey(testKey())
	if err != nil {
		t.Fatal(err)
	}
	again, _ := NewSuccessorKey(testKey())
	other, _ := NewSuccessorKey(oldKey())
	tok, _, _ := NewOpaqueToken()
	tok2, _, _ := NewOpaqueToken()

	s := k.Successor(tok)
	switch {
	case !ValidOpaqueToken(s):
		t.Errorf("successor %q is not a refresh token", s)
	case s != again.Successor(tok):
		t.Error("same key and token gave another successor")
	case s == tok || s == k.Successor(tok2):
		t.Error("successor does not depend on the token")
	case s == other.Successor(tok):
		t.Error("successor does not depend on the key")
	case s == HashOpaqueToken(tok):
		t.Error("successor is the token's public hash")
	}
	if _, err := NewSuccessorKey(nil); err == nil {
		t.Error("NewSuccessorKey(nil) succeeded")
	}
}
