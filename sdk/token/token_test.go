// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package token_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/credentials"

	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/fakes"
)

const (
	clientID = "spiffe://test.com/client"
	serverID = "spiffe://test.com/server"
)

type pki struct {
	ca     *fakes.SPIFFECA
	client *fakes.SVID
	server *fakes.SVID
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	ca, err := fakes.NewSPIFFECA("test.com")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ca.Issue(clientID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := ca.Issue(serverID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return &pki{ca: ca, client: c, server: s}
}

// rawClaims decodes the payload without the package under test, so that a
// claim it adds by mistake is seen.
func rawClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestJWTGeneratorGenerate(t *testing.T) {
	p := newPKI(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 500_000_000, time.UTC)
	clock := func() time.Time { return now }
	shortPeer, err := p.ca.Issue("spiffe://test.com/short", now.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	noID := &x509.Certificate{URIs: []*url.URL{{Scheme: "https", Host: "example.com"}}, NotAfter: now.Add(time.Hour)}

	tests := []struct {
		name       string
		opts       []token.GeneratorOption
		peer       credentials.AuthInfo
		wantAud    []string
		wantClaim  time.Time // exp claim
		wantExpiry time.Time // returned expiry
		wantErr    error
	}{
		{
			name:       "no peer: no audience",
			wantClaim:  now.Add(10 * time.Minute).Truncate(time.Second),
			wantExpiry: now.Add(10 * time.Minute).Truncate(time.Second),
		},
		{
			name:       "insecure peer: no audience",
			peer:       plainInfo{},
			wantClaim:  now.Add(10 * time.Minute).Truncate(time.Second),
			wantExpiry: now.Add(10 * time.Minute).Truncate(time.Second),
		},
		{
			name:       "TLS peer: audience is its SPIFFE ID",
			peer:       p.server.AuthInfo(),
			wantAud:    []string{serverID},
			wantClaim:  now.Add(10 * time.Minute).Truncate(time.Second),
			wantExpiry: now.Add(10 * time.Minute).Truncate(time.Second),
		},
		{
			name:       "own NotAfter caps claim and expiry",
			opts:       []token.GeneratorOption{token.WithNotAfter(now.Add(time.Minute))},
			wantClaim:  now.Add(time.Minute).Truncate(time.Second),
			wantExpiry: now.Add(time.Minute).Truncate(time.Second),
		},
		{
			name:       "peer NotAfter caps the returned expiry only",
			peer:       shortPeer.AuthInfo(),
			wantAud:    []string{"spiffe://test.com/short"},
			wantClaim:  now.Add(10 * time.Minute).Truncate(time.Second),
			wantExpiry: shortPeer.Cert.NotAfter,
		},
		{
			name:    "peer certificate without SPIFFE ID",
			peer:    (&fakes.SVID{Cert: noID}).AuthInfo(),
			wantErr: token.ErrPeerID,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := p.client.Generator(10*time.Minute, append([]token.GeneratorOption{token.WithClock(clock)}, tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			tok, exp, err := g.Generate(tt.peer)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if !exp.Equal(tt.wantExpiry) {
				t.Errorf("expiry = %s, want %s", exp, tt.wantExpiry)
			}
			raw := rawClaims(t, tok)
			for _, k := range []string{"iss", "iat", "nbf", "jti"} {
				if _, ok := raw[k]; ok {
					t.Errorf("token has claim %q; upstream tokens have none", k)
				}
			}
			if _, ok := raw["aud"]; ok != (len(tt.wantAud) > 0) {
				t.Errorf("aud present = %v, want %v", ok, len(tt.wantAud) > 0)
			}
			c, err := token.Verify(tok, &p.client.Key.PublicKey)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Subject != clientID {
				t.Errorf("sub = %q", c.Subject)
			}
			if !slices.Equal(c.Audience, tt.wantAud) {
				t.Errorf("aud = %v, want %v", c.Audience, tt.wantAud)
			}
			if !c.Expires.Equal(tt.wantClaim) {
				t.Errorf("exp = %s, want %s", c.Expires, tt.wantClaim)
			}
		})
	}
}

func TestNewJWTGeneratorRejects(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	tests := []struct {
		name     string
		key      *ecdsa.PrivateKey
		subject  string
		lifetime time.Duration
		opts     []token.GeneratorOption
		wantErr  error
	}{
		{name: "valid", key: p256, subject: clientID, lifetime: time.Minute},
		{name: "nil key", subject: clientID, lifetime: time.Minute, wantErr: token.ErrKey},
		{name: "P-384 key", key: p384, subject: clientID, lifetime: time.Minute, wantErr: token.ErrKey},
		{name: "subject not SPIFFE", key: p256, subject: "client", lifetime: time.Minute, wantErr: errAny},
		{name: "zero lifetime", key: p256, subject: clientID, wantErr: errAny},
		{name: "nil clock", key: p256, subject: clientID, lifetime: time.Minute, opts: []token.GeneratorOption{token.WithClock(nil)}, wantErr: errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := token.NewJWTGenerator(tt.key, tt.subject, tt.lifetime, tt.opts...)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.wantErr == nil && g == nil:
				t.Fatal("nil generator")
			case tt.wantErr == errAny && err == nil, tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// plainInfo is the AuthInfo of a connection without transport security.
type plainInfo struct{ credentials.CommonAuthInfo }

func (plainInfo) AuthType() string { return "insecure" }

// errAny stands for "some error" where the package has no sentinel.
var errAny = errors.New("any error")

func signWith(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerify(t *testing.T) {
	p := newPKI(t)
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	good, err := token.Sign(p.client.Key, token.Claims{Subject: clientID, Audience: []string{serverID}, Expires: exp})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	forged, _ := json.Marshal(map[string]any{"sub": "spiffe://test.com/admin", "exp": exp.Unix()})
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2]
	claims := jwt.MapClaims{"sub": clientID, "exp": exp.Unix()}
	none := signWith(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims)
	// An HMAC token keyed with the public key bytes is the classic alg
	// confusion attack on verifiers that take the algorithm from the header.
	pubDER, _ := x509.MarshalPKIXPublicKey(&p.client.Key.PublicKey)
	hs := signWith(t, jwt.SigningMethodHS256, pubDER, claims)
	es384key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	es384 := signWith(t, jwt.SigningMethodES384, es384key, claims)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)

	tests := []struct {
		name    string
		tok     string
		key     any
		wantErr error
	}{
		{name: "signed by key", tok: good, key: &p.client.Key.PublicKey},
		{name: "signed by another key", tok: good, key: &p.server.Key.PublicKey, wantErr: token.ErrBadSignature},
		{name: "claims changed", tok: tampered, key: &p.client.Key.PublicKey, wantErr: token.ErrBadSignature},
		{name: "signature cut", tok: parts[0] + "." + parts[1] + ".", key: &p.client.Key.PublicKey, wantErr: token.ErrBadSignature},
		{name: "alg none", tok: none, key: &p.client.Key.PublicKey, wantErr: token.ErrAlgorithm},
		{name: "alg HS256", tok: hs, key: &p.client.Key.PublicKey, wantErr: token.ErrAlgorithm},
		{name: "alg ES384", tok: es384, key: &es384key.PublicKey, wantErr: token.ErrKey},
		{name: "alg ES384 with P-256 key", tok: es384, key: &p.client.Key.PublicKey, wantErr: token.ErrAlgorithm},
		{name: "RSA key", tok: good, key: &rsaKey.PublicKey, wantErr: token.ErrKey},
		{name: "nil key", tok: good, key: nil, wantErr: token.ErrKey},
		{name: "garbage", tok: "not.a.jwt", key: &p.client.Key.PublicKey, wantErr: token.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := token.Verify(tt.tok, tt.key)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (c.Subject != clientID || !c.Expires.Equal(exp)) {
				t.Errorf("claims = %+v", c)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "token: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestParse(t *testing.T) {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	hdr := enc(map[string]any{"alg": "ES256", "typ": "JWT"})
	tests := []struct {
		name    string
		tok     string
		want    token.Claims
		wantErr error
	}{
		{
			name: "all claims, aud as array",
			tok:  hdr + "." + enc(map[string]any{"sub": "a", "aud": []string{"b", "c"}, "exp": 1_800_000_000}) + ".sig",
			want: token.Claims{Subject: "a", Audience: []string{"b", "c"}, Expires: time.Unix(1_800_000_000, 0)},
		},
		{
			name: "aud as string",
			tok:  hdr + "." + enc(map[string]any{"sub": "a", "aud": "b", "exp": 1_800_000_000}) + ".sig",
			want: token.Claims{Subject: "a", Audience: []string{"b"}, Expires: time.Unix(1_800_000_000, 0)},
		},
		{
			name: "no exp",
			tok:  hdr + "." + enc(map[string]any{"sub": "a"}) + ".sig",
			want: token.Claims{Subject: "a"},
		},
		{name: "two parts", tok: hdr + "." + enc(map[string]any{"sub": "a"}), wantErr: token.ErrMalformed},
		{name: "four parts", tok: hdr + "." + enc(map[string]any{"sub": "a"}) + ".sig.x", wantErr: token.ErrMalformed},
		{name: "header not base64", tok: "!!." + enc(map[string]any{"sub": "a"}) + ".sig", wantErr: token.ErrMalformed},
		{name: "claims not JSON", tok: hdr + "." + base64.RawURLEncoding.EncodeToString([]byte("{")) + ".sig", wantErr: token.ErrMalformed},
		{name: "exp is a string", tok: hdr + "." + enc(map[string]any{"exp": "tomorrow"}) + ".sig", wantErr: token.ErrMalformed},
		{name: "no alg", tok: enc(map[string]any{"typ": "JWT"}) + "." + enc(map[string]any{"sub": "a"}) + ".sig", wantErr: token.ErrMalformed},
		{name: "empty", tok: "", wantErr: token.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := token.Parse(tt.tok)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got.Subject != tt.want.Subject || !slices.Equal(got.Audience, tt.want.Audience) || !got.Expires.Equal(tt.want.Expires) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestClaimsCheckExpiry(t *testing.T) {
	exp := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		c       token.Claims
		now     time.Time
		wantErr error
	}{
		{name: "before", c: token.Claims{Expires: exp}, now: exp.Add(-time.Nanosecond)},
		{name: "at", c: token.Claims{Expires: exp}, now: exp, wantErr: token.ErrExpired},
		{name: "after", c: token.Claims{Expires: exp}, now: exp.Add(time.Hour), wantErr: token.ErrExpired},
		{name: "no exp", now: exp, wantErr: token.ErrNoExpiry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.c.CheckExpiry(tt.now); !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestClaimsHasAudience(t *testing.T) {
	c := token.Claims{Audience: []string{"a", "b"}}
	for _, tt := range []struct {
		id   string
		want bool
	}{{"a", true}, {"b", true}, {"c", false}, {"", false}} {
		if got := c.HasAudience(tt.id); got != tt.want {
			t.Errorf("HasAudience(%q) = %v", tt.id, got)
		}
	}
}

func TestSignRejects(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	for name, key := range map[string]*ecdsa.PrivateKey{"nil": nil, "P-384": p384} {
		if _, err := token.Sign(key, token.Claims{Subject: clientID}); !errors.Is(err, token.ErrKey) {
			t.Errorf("%s: err = %v, want ErrKey", name, err)
		}
	}
}

func TestGeneratorFunc(t *testing.T) {
	var got credentials.AuthInfo
	want := time.Unix(42, 0)
	g := token.GeneratorFunc(func(peer credentials.AuthInfo) (string, time.Time, error) {
		got = peer
		return "tok", want, nil
	})
	info := plainInfo{}
	tok, exp, err := g.Generate(info)
	if err != nil || tok != "tok" || !exp.Equal(want) || got != info {
		t.Fatalf("Generate = %q, %s, %v; peer %v", tok, exp, err, got)
	}
}

func TestPeerCertificate(t *testing.T) {
	p := newPKI(t)
	ti := p.server.AuthInfo().(credentials.TLSInfo)
	tests := []struct {
		name string
		info credentials.AuthInfo
		want *x509.Certificate
	}{
		{name: "nil"},
		{name: "insecure", info: plainInfo{}},
		{name: "TLS value", info: ti, want: p.server.Cert},
		{name: "TLS pointer", info: &ti, want: p.server.Cert},
		{name: "TLS without certificates", info: credentials.TLSInfo{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := token.PeerCertificate(tt.info); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
