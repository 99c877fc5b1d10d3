package tokens

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestGenerateKeyPairWritesALoadablePairWithTightPermissions(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "config", "keys")
	priv, pub, err := GenerateKeyPair(dir)
	if err != nil {
		t.Fatal(err)
	}
	if priv != filepath.Join(dir, PrivateKeyFile) || pub != filepath.Join(dir, PublicKeyFile) {
		t.Errorf("paths = %s, %s", priv, pub)
	}
	assertMode(t, dir, fs.ModeDir|0o700)
	assertMode(t, priv, 0o600)
	assertMode(t, pub, 0o644)
	key, err := LoadKeyPair(priv, pub)
	if err != nil {
		t.Fatal(err)
	}
	if key.N.BitLen() != 2048 {
		t.Errorf("key is %d bits", key.N.BitLen())
	}
}

func TestGenerateKeyPairNeverOverwrites(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pubPath := filepath.Join(dir, PublicKeyFile)
	writeFile(t, pubPath, []byte("keep me"))
	if _, _, err := GenerateKeyPair(dir); err == nil {
		t.Fatal("GenerateKeyPair overwrote an existing public key")
	}
	if data, _ := os.ReadFile(pubPath); string(data) != "keep me" {
		t.Error("existing file was changed")
	}
	if _, err := os.Stat(filepath.Join(dir, PrivateKeyFile)); !os.IsNotExist(err) {
		t.Error("a private key was left behind")
	}
}

func TestEnsureDevKeysGeneratesOnceAndRefusesAHalfPair(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	priv := filepath.Join(root, "a", "private.pem")
	pub := filepath.Join(root, "b", "public.pem")
	generated, err := EnsureDevKeys(priv, pub)
	if err != nil || !generated {
		t.Fatalf("first call: generated=%v err=%v", generated, err)
	}
	assertMode(t, filepath.Dir(priv), fs.ModeDir|0o700)
	assertMode(t, priv, 0o600)
	before, _ := os.ReadFile(priv)
	if generated, err := EnsureDevKeys(priv, pub); err != nil || generated {
		t.Fatalf("second call: generated=%v err=%v", generated, err)
	}
	if after, _ := os.ReadFile(priv); string(after) != string(before) {
		t.Fatal("second call replaced the key")
	}
	if _, err := LoadKeyPair(priv, pub); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(pub); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureDevKeys(priv, pub); err == nil {
		t.Error("a lone private key did not fail")
	}
}

func TestLoadPrivateKeyReadsPKCS1AndPKCS8(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := testKey()
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for typ, der := range map[string][]byte{"RSA PRIVATE KEY": x509.MarshalPKCS1PrivateKey(key), "PRIVATE KEY": pkcs8} {
		got, err := LoadPrivateKey(writePEMBytes(t, dir, typ+".pem", typ, der))
		if err != nil || !got.Equal(key) {
			t.Errorf("%s: %v", typ, err)
		}
	}
}

func TestLoadKeysRefusesBadFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	goodPriv := writePEMBytes(t, dir, "good.pem", "PRIVATE KEY", mustPKCS8(t, testKey()))
	foreignPub := writePEMBytes(t, dir, "foreign.pub", "PUBLIC KEY", mustPKIX(t, &foreignKey().PublicKey))
	small := mustKey(1024)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyPair(goodPriv, foreignPub); err == nil {
		t.Error("mismatched pair loaded")
	}
	privates := map[string]string{
		"missing":      filepath.Join(dir, "nope.pem"),
		"not PEM":      writeFileAt(t, dir, "junk.pem", []byte("hello")),
		"1024 bits":    writePEMBytes(t, dir, "small.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(small)),
		"EC key":       writePEMBytes(t, dir, "ec.pem", "PRIVATE KEY", mustPKCS8(t, ec)),
		"public key":   foreignPub,
		"two blocks":   writeFileAt(t, dir, "two.pem", append(mustRead(t, goodPriv), mustRead(t, goodPriv)...)),
		"encrypted":    writeFileAt(t, dir, "enc.pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: x509.MarshalPKCS1PrivateKey(testKey())})),
		"corrupt body": writePEMBytes(t, dir, "corrupt.pem", "PRIVATE KEY", []byte("corrupt")),
	}
	for name, path := range privates {
		if _, err := LoadPrivateKey(path); err == nil {
			t.Errorf("private %s: loaded", name)
		}
	}
	publics := map[string]string{
		"PKCS#1 public": writePEMBytes(t, dir, "pkcs1.pub", "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&testKey().PublicKey)),
		"1024 bits":     writePEMBytes(t, dir, "small.pub", "PUBLIC KEY", mustPKIX(t, &small.PublicKey)),
		"EC key":        writePEMBytes(t, dir, "ec.pub", "PUBLIC KEY", mustPKIX(t, &ec.PublicKey)),
		"private key":   goodPriv,
	}
	for name, path := range publics {
		if _, err := LoadPublicKey(path); err == nil {
			t.Errorf("public %s: loaded", name)
		}
	}
	if _, err := LoadPublicKeys([]string{foreignPub, publics["EC key"]}); err == nil {
		t.Error("LoadPublicKeys accepted a bad key in the list")
	}
	if keys, err := LoadPublicKeys([]string{foreignPub}); err != nil || len(keys) != 1 {
		t.Errorf("LoadPublicKeys = %d keys, %v", len(keys), err)
	}
}

func assertMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode() & (fs.ModeDir | fs.ModePerm); got != want {
		t.Errorf("%s: mode %v; want %v", path, got, want)
	}
}

func writePEMBytes(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	return writeFileAt(t, dir, name, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func writeFileAt(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	writeFile(t, path, data)
	return path
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustPKCS8(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func mustPKIX(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
