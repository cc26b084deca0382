package auth

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestParsePublicKeyPEM(t *testing.T) {
	block := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	tests := []struct {
		name    string
		pem     func(t *testing.T) []byte
		wantAlg string
		wantErr string // prefix of the error
	}{
		{"RSA, PKIX", func(t *testing.T) []byte { return pemOf(t, &rsaKey().PublicKey) }, RS256, ""},
		{"RSA, PKCS #1", func(*testing.T) []byte {
			return block("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsaKey().PublicKey))
		}, RS256, ""},
		{"EC P-256", func(t *testing.T) []byte { return pemOf(t, &ecKey().PublicKey) }, ES256, ""},
		{"Ed25519", func(t *testing.T) []byte { return pemOf(t, edKey().Public()) }, EdDSA, ""},
		{"certificate", func(t *testing.T) []byte {
			tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "issuer"}, NotBefore: now, NotAfter: now.Add(time.Hour)}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ecKey().PublicKey, ecKey())
			if err != nil {
				t.Fatal(err)
			}
			return block("CERTIFICATE", der)
		}, ES256, ""},
		{"with surrounding text", func(t *testing.T) []byte {
			return append([]byte("issuer key:\n"), append(pemOf(t, edKey().Public()), "\n\n"...)...)
		}, EdDSA, ""},

		{"EC P-384", func(t *testing.T) []byte {
			return pemOf(t, &must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader)).PublicKey)
		}, "", "auth: ECDSA key not on P-256"},
		{"RSA 1024", func(t *testing.T) []byte {
			return pemOf(t, &must(rsa.GenerateKey(rand.Reader, 1024)).PublicKey)
		}, "", "auth: RSA key too small (at least 2048 bits are required)"},
		{"X25519", func(t *testing.T) []byte {
			return pemOf(t, must(ecdh.X25519().GenerateKey(rand.Reader)).PublicKey())
		}, "", "auth: unsupported key type *ecdh.PublicKey"},
		{"private key, PKCS #8", func(t *testing.T) []byte {
			return block("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(ecKey())))
		}, "", "auth: the PEM block is a private key; configure the public key only"},
		{"private key, RSA", func(*testing.T) []byte { return block("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey())) },
			"", "auth: the PEM block is a private key; configure the public key only"},
		{"two keys", func(t *testing.T) []byte { return append(pemOf(t, &ecKey().PublicKey), pemOf(t, edKey().Public())...) },
			"", "auth: more than one PEM block"},
		{"not PEM", func(*testing.T) []byte { return []byte("ssh-ed25519 AAAA") }, "", "auth: no PEM block found"},
		{"other block", func(*testing.T) []byte { return block("OPENSSH PUBLIC KEY", []byte{1, 2, 3}) },
			"", `auth: unsupported PEM block type "OPENSSH PUBLIC KEY"`},
		{"corrupt", func(*testing.T) []byte { return block("PUBLIC KEY", []byte{0x30, 0x03, 1, 2, 3}) }, "", "auth: parse public key: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.pem(t)
			k, err := ParsePublicKeyPEM(in, "kid-1")
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("parsed as %s", k.Algorithm())
				}
				if !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("err = %q, want it to start with %q", err, tt.wantErr)
				}
				if b, _ := pem.Decode(in); b != nil && len(b.Bytes) >= 12 {
					if strings.Contains(err.Error(), base64.StdEncoding.EncodeToString(b.Bytes[:12])) {
						t.Fatalf("the error repeats the key: %q", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.Algorithm() != tt.wantAlg || k.KeyID != "kid-1" {
				t.Fatalf("got %s %q, want %s kid-1", k.Algorithm(), k.KeyID, tt.wantAlg)
			}
		})
	}
	if alg := (PublicKey{}).Algorithm(); alg != "" {
		t.Errorf("zero PublicKey has algorithm %q", alg)
	}
}
