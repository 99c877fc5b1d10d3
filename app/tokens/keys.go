package tokens

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// MinRSABits is the smallest RSA modulus accepted for signing or verifying.
const MinRSABits = 2048

// File names written by GenerateKeyPair.
const (
	PrivateKeyFile = "jwt-private.pem"
	PublicKeyFile  = "jwt-public.pem"
)

// LoadKeyPair reads the signing key and its public half and checks that they
// belong together, so a deployment cannot publish a JWKS that does not verify
// its own tokens.
func LoadKeyPair(privPath, pubPath string) (*rsa.PrivateKey, error) {
	priv, err := LoadPrivateKey(privPath)
	if err != nil {
		return nil, err
	}
	pub, err := LoadPublicKey(pubPath)
	if err != nil {
		return nil, err
	}
	if !priv.PublicKey.Equal(pub) {
		return nil, fmt.Errorf("jwt keys: %s does not match the private key in %s", pubPath, privPath)
	}
	return priv, nil
}

// LoadPrivateKey reads an RSA private key from a PEM file (PKCS#1 or PKCS#8).
func LoadPrivateKey(path string) (*rsa.PrivateKey, error) {
	block, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	var key *rsa.PrivateKey
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		var k any
		if k, err = x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
			var ok bool
			if key, ok = k.(*rsa.PrivateKey); !ok {
				return nil, fmt.Errorf("jwt key %s: %T is not an RSA key", path, k)
			}
		}
	default:
		return nil, fmt.Errorf("jwt key %s: PEM type %q is not an RSA private key", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("jwt key %s: %w", path, err)
	}
	if err := checkSize(path, &key.PublicKey); err != nil {
		return nil, err
	}
	if err := key.Validate(); err != nil {
		return nil, fmt.Errorf("jwt key %s: %w", path, err)
	}
	return key, nil
}

// LoadPublicKey reads an RSA public key from a PKIX ("PUBLIC KEY") PEM file.
func LoadPublicKey(path string) (*rsa.PublicKey, error) {
	block, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("jwt key %s: PEM type %q is not a PKIX public key", path, block.Type)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("jwt key %s: %w", path, err)
	}
	key, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("jwt key %s: %T is not an RSA key", path, k)
	}
	if err := checkSize(path, key); err != nil {
		return nil, err
	}
	return key, nil
}

// LoadPublicKeys reads retired public keys that still verify tokens during a
// key rotation.
func LoadPublicKeys(paths []string) ([]*rsa.PublicKey, error) {
	keys := make([]*rsa.PublicKey, 0, len(paths))
	for _, p := range paths {
		k, err := LoadPublicKey(p)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// GenerateKeyPair writes a new RSA 2048 pair to dir (created 0700 if missing)
// as jwt-private.pem (0600) and jwt-public.pem (0644). It never overwrites a
// file, and leaves nothing behind when it fails.
func GenerateKeyPair(dir string) (privPath, pubPath string, err error) {
	privPath, pubPath = filepath.Join(dir, PrivateKeyFile), filepath.Join(dir, PublicKeyFile)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("generate jwt keys: %w", err)
	}
	if err := writeKeyPair(privPath, pubPath); err != nil {
		return "", "", err
	}
	return privPath, pubPath, nil
}

// EnsureDevKeys generates the pair once when both files are missing (for
// development; production must provide its keys). Exactly one missing file is
// an error rather than a silent new pair, which would invalidate every token
// and hide a broken deployment.
func EnsureDevKeys(privPath, pubPath string) (generated bool, err error) {
	havePriv, err := exists(privPath)
	if err != nil {
		return false, err
	}
	havePub, err := exists(pubPath)
	if err != nil {
		return false, err
	}
	switch {
	case havePriv && havePub:
		return false, nil
	case havePriv != havePub:
		return false, fmt.Errorf("jwt keys: only one of %s and %s exists; restore the other or remove both", privPath, pubPath)
	}
	for _, dir := range []string{filepath.Dir(privPath), filepath.Dir(pubPath)} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return false, fmt.Errorf("generate jwt keys: %w", err)
		}
	}
	if err := writeKeyPair(privPath, pubPath); err != nil {
		return false, err
	}
	return true, nil
}

func writeKeyPair(privPath, pubPath string) error {
	if filepath.Clean(privPath) == filepath.Clean(pubPath) {
		return fmt.Errorf("generate jwt keys: private and public key paths are both %s", privPath)
	}
	// Checked up front so the common refusal costs no key generation;
	// O_EXCL in writeNew still guards against a concurrent writer.
	for _, p := range []string{privPath, pubPath} {
		if ok, err := exists(p); err != nil {
			return err
		} else if ok {
			return fmt.Errorf("generate jwt keys: %s already exists; refusing to overwrite", p)
		}
	}
	key, err := rsa.GenerateKey(rand.Reader, MinRSABits)
	if err != nil {
		return fmt.Errorf("generate jwt keys: %w", err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("generate jwt keys: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return fmt.Errorf("generate jwt keys: %w", err)
	}
	if err := writeNew(privPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), 0o600); err != nil {
		return err
	}
	if err := writeNew(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		_ = os.Remove(privPath)
		return err
	}
	return nil
}

// writeNew creates path with exactly perm (not narrowed by the umask) and
// removes it again if anything fails.
func writeNew(path string, data []byte, perm fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("generate jwt keys: %s already exists; refusing to overwrite", path)
	}
	if err != nil {
		return fmt.Errorf("generate jwt keys: %w", err)
	}
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("generate jwt keys: write %s: %w", path, err)
	}
	return nil
}

// readPEM returns the single unencrypted PEM block of path; trailing blocks
// are refused so a bundle is never half-read.
func readPEM(path string) (*pem.Block, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("jwt key: %w", err)
	}
	block, rest := pem.Decode(data)
	switch {
	case block == nil:
		return nil, fmt.Errorf("jwt key %s: no PEM block", path)
	case len(bytes.TrimSpace(rest)) != 0:
		return nil, fmt.Errorf("jwt key %s: more than one PEM block", path)
	case len(block.Headers) != 0:
		return nil, fmt.Errorf("jwt key %s: encrypted or annotated PEM is not supported", path)
	}
	return block, nil
}

func checkSize(path string, key *rsa.PublicKey) error {
	if bits := key.N.BitLen(); bits < MinRSABits {
		return fmt.Errorf("jwt key %s: RSA key is %d bits; at least %d required", path, bits, MinRSABits)
	}
	return nil
}

func exists(path string) (bool, error) {
	_, err := os.Lstat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("jwt keys: %w", err)
}
