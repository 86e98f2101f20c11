package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"sync"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// The algorithms added for identity providers, beyond vtAlgs.
var newAlgs = []Algorithm{RS384, RS512, PS256, PS384, PS512, ES384, ES512}

// allAlgs is every supported algorithm.
var allAlgs = append(append([]Algorithm{}, vtAlgs...), newAlgs...)

var (
	algOnce sync.Once
	algRing map[Algorithm]*SigningKey
	algErr  error
)

// algKeys returns a signing key per algorithm, kid "a-<alg>". The RSA
// algorithms share vtKeys' one RSA key (RSA generation is slow under
// -race), which also shows that one RSA key pinned to RS256 is not a PS256
// key and the reverse.
func algKeys(tb testing.TB) map[Algorithm]*SigningKey {
	tb.Helper()
	ring := vtKeys(tb)
	algOnce.Do(func() {
		algRing = map[Algorithm]*SigningKey{}
		for _, alg := range allAlgs {
			var k *SigningKey
			var err error
			switch alg.family() {
			case familyRSA:
				k, err = NewSigningKey(alg, "a-"+string(alg), ring.rsaPriv)
			case familyHMAC:
				k, err = NewSigningKey(alg, "a-"+string(alg), ring.byAlg[HS256].signer)
			default:
				k, err = GenerateKey(alg, "a-"+string(alg))
			}
			if err != nil {
				algErr = err
				return
			}
			algRing[alg] = k
		}
	})
	if algErr != nil {
		tb.Fatal(algErr)
	}
	return algRing
}

// algRawSig signs in with key for alg with the standard library, for every
// supported algorithm (vtRawSig knows only the first four).
func algRawSig(tb testing.TB, alg Algorithm, key any, in []byte) []byte {
	tb.Helper()
	info := algInfos[alg]
	var buf [sha512.Size]byte
	switch info.family {
	case familyEC:
		d := digest(&buf, info.hash, in)
		r, s, err := ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), d)
		if err != nil {
			tb.Fatal(err)
		}
		sig := make([]byte, 2*info.half)
		r.FillBytes(sig[:info.half])
		s.FillBytes(sig[info.half:])
		return sig
	case familyRSA:
		d := digest(&buf, info.hash, in)
		var sig []byte
		var err error
		if info.pss {
			sig, err = rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), info.hash, d, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), info.hash, d)
		}
		if err != nil {
			tb.Fatal(err)
		}
		return sig
	}
	return vtRawSig(tb, alg, key, in)
}

// algToken builds a token with header alg/kid, the default claims and the
// signature sign returns for the signing input.
func algToken(tb testing.TB, alg Algorithm, kid string, sign func(in []byte) []byte) string {
	tb.Helper()
	in := b64.EncodeToString(vtHeader(alg, kid)) + "." + b64.EncodeToString(vtClaims(tb, vtParams(3), nil))
	return in + "." + b64.EncodeToString(sign([]byte(in)))
}

func TestAlgorithmsMintVerify(t *testing.T) {
	keys := algKeys(t)
	for _, alg := range allAlgs {
		t.Run(string(alg), func(t *testing.T) {
			k := keys[alg]
			tok := vtMint(t, vtIssuerFor(t, k, ProfileDefault), vtParams(3))
			v := vtVerifierFor(t, nil, k)
			c, err := v.Verify(context.Background(), tok)
			if err != nil {
				t.Fatalf("Verify of the issuer's token: %v", err)
			}
			if got := len(c.Grants()); got != 3 {
				t.Errorf("grants: got %d, want 3", got)
			}
			// jwx agrees that the issuer's token is a valid alg signature.
			if _, err := jws.Verify([]byte(tok), jws.WithKey(alg.jwa(), k.pub.key)); err != nil {
				t.Errorf("jws.Verify of the issuer's token: %v", err)
			}
			// A token signed by the standard library verifies too.
			std := algToken(t, alg, k.kid, func(in []byte) []byte { return algRawSig(t, alg, k.signer, in) })
			if _, err := v.Verify(context.Background(), std); err != nil {
				t.Errorf("Verify of a standard-library signature: %v", err)
			}
			if got := sigLen(k.pub); alg.family() == familyEC && got != map[Algorithm]int{ES256: 64, ES384: 96, ES512: 132}[alg] {
				t.Errorf("sigLen: got %d", got)
			}
		})
	}
}

// TestAlgorithmPinnedPerKey: a key verifies only the one algorithm it was
// made for, even where the same key material would verify another.
func TestAlgorithmPinnedPerKey(t *testing.T) {
	keys := algKeys(t)
	ctx := context.Background()
	tests := []struct {
		name     string
		key      Algorithm // the verifier's key (and its kid)
		header   Algorithm // the token's header alg, pinned by the verifier too
		signWith Algorithm // how the token is really signed, with the same key material
	}{
		{"RS256 key presented as PS256", RS256, PS256, PS256},
		{"PS256 key presented as RS256", PS256, RS256, RS256},
		{"RS256 key presented as RS512", RS256, RS512, RS512},
		{"PS384 key presented as PS256", PS384, PS256, PS256},
		{"ES384 key presented as ES256", ES384, ES256, ES384},
		{"ES512 key presented as ES384", ES512, ES384, ES512},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := keys[tt.key]
			v := vtVerifierFor(t, func(o *VerifierOptions) { o.Algorithms = append(o.Algorithms, tt.header) }, k)
			tok := algToken(t, tt.header, k.kid, func(in []byte) []byte { return algRawSig(t, tt.signWith, k.signer, in) })
			_, err := v.Verify(ctx, tok)
			vtWantReason(t, err, ErrAlgorithm, tok)
		})
	}
	// The header names the key's algorithm but the signature is the other
	// RSA scheme over the same input: the signature check refuses it.
	for _, pair := range [][2]Algorithm{{PS256, RS256}, {RS256, PS256}, {PS512, RS512}} {
		k := keys[pair[0]]
		v := vtVerifierFor(t, nil, k)
		tok := algToken(t, pair[0], k.kid, func(in []byte) []byte { return algRawSig(t, pair[1], k.signer, in) })
		_, err := v.Verify(ctx, tok)
		vtWantReason(t, err, ErrBadSignature, tok)
	}
}

func TestPSSSaltLength(t *testing.T) {
	keys := algKeys(t)
	ctx := context.Background()
	for _, alg := range []Algorithm{PS256, PS384, PS512} {
		k := keys[alg]
		v := vtVerifierFor(t, nil, k)
		h := algInfos[alg].hash
		for _, salt := range []int{0, 20, h.Size() - 1, h.Size() + 1, rsa.PSSSaltLengthAuto} {
			var signed []byte
			tok := algToken(t, alg, k.kid, func(in []byte) []byte {
				var buf [sha512.Size]byte
				d := digest(&buf, h, in)
				sig, err := rsa.SignPSS(rand.Reader, k.signer.(*rsa.PrivateKey), h, d, &rsa.PSSOptions{SaltLength: salt})
				if err != nil {
					t.Fatal(err)
				}
				signed = d
				return sig
			})
			// The signature is valid PSS for a verifier that accepts any
			// salt length (the standard library's PSSSaltLengthAuto) …
			sig, _ := b64.DecodeString(tok[len(tok)-b64.EncodedLen(k.pub.key.(*rsa.PublicKey).Size()):])
			if err := rsa.VerifyPSS(k.pub.key.(*rsa.PublicKey), h, signed, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}); err != nil {
				t.Fatalf("%s salt %d: the test signature is not valid PSS: %v", alg, salt, err)
			}
			// … but RFC 7518 fixes the salt at the hash length.
			_, err := v.Verify(ctx, tok)
			vtWantReason(t, err, ErrBadSignature, tok)
		}
		// The hash length itself is accepted.
		tok := algToken(t, alg, k.kid, func(in []byte) []byte { return algRawSig(t, alg, k.signer, in) })
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Errorf("%s with salt = hash length: %v", alg, err)
		}
	}
}

func TestAlgorithmSignatureShape(t *testing.T) {
	keys := algKeys(t)
	ctx := context.Background()
	for _, alg := range newAlgs {
		k := keys[alg]
		v := vtVerifierFor(t, nil, k)
		good := func(in []byte) []byte { return algRawSig(t, alg, k.signer, in) }
		cases := map[string]func(in []byte) []byte{
			"one byte short": func(in []byte) []byte { s := good(in); return s[:len(s)-1] },
			"one byte long":  func(in []byte) []byte { return append(good(in), 0) },
			"empty":          func([]byte) []byte { return nil },
			"flipped bit":    func(in []byte) []byte { s := good(in); s[len(s)/2] ^= 1; return s },
		}
		if alg.family() == familyEC {
			half := algInfos[alg].half
			cases["DER instead of r||s"] = func(in []byte) []byte {
				var buf [sha512.Size]byte
				der, err := ecdsa.SignASN1(rand.Reader, k.signer.(*ecdsa.PrivateKey), digest(&buf, algInfos[alg].hash, in))
				if err != nil {
					t.Fatal(err)
				}
				return der
			}
			cases["r = 0"] = func(in []byte) []byte { s := good(in); clear(s[:half]); return s }
			cases["s = 0"] = func(in []byte) []byte { s := good(in); clear(s[half:]); return s }
			cases["ES256-sized"] = func(in []byte) []byte { return good(in)[:64] }
		}
		for name, sign := range cases {
			t.Run(string(alg)+"/"+name, func(t *testing.T) {
				tok := algToken(t, alg, k.kid, sign)
				_, err := v.Verify(ctx, tok)
				vtWantReason(t, err, ErrBadSignature, tok)
			})
		}
	}
}

// TestAlgorithmKeyFamilies: keys of one family, or of the wrong curve, are
// refused for another's algorithm when loaded.
func TestAlgorithmKeyFamilies(t *testing.T) {
	keys := algKeys(t)
	rsaPub := &vtKeys(t).rsaPriv.PublicKey
	p256 := keys[ES256].pub.key.(*ecdsa.PublicKey)
	p384 := keys[ES384].pub.key.(*ecdsa.PublicKey)
	p521 := keys[ES512].pub.key.(*ecdsa.PublicKey)
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		alg  Algorithm
		key  any
	}{
		{"RSA key with ES256", ES256, rsaPub},
		{"RSA key with ES512", ES512, rsaPub},
		{"EC key with PS256", PS256, p256},
		{"EC key with RS384", RS384, p384},
		{"P-256 key with ES384", ES384, p256},
		{"P-256 key with ES512", ES512, p256},
		{"P-384 key with ES256", ES256, p384},
		{"P-521 key with ES384", ES384, p521},
		{"P-384 key with ES512", ES512, p384},
		{"P-224 key with ES256", ES256, &p224.PublicKey},
		{"RSA public key as HS256 secret", HS256, rsaPub},
		{"RSA public key DER as HS256 secret of the wrong type", HS256, string(x509.MarshalPKCS1PublicKey(rsaPub))},
		{"EC key with EdDSA", EdDSA, p256},
		{"none", "none", p256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewPublicKey(tt.alg, "k", tt.key); !errors.Is(err, ErrBadKey) {
				t.Errorf("NewPublicKey: got %v, want ErrBadKey", err)
			}
		})
	}
	signing := []struct {
		name string
		alg  Algorithm
		key  any
	}{
		{"RSA key with ES384", ES384, vtKeys(t).rsaPriv},
		{"EC key with PS512", PS512, keys[ES256].signer},
		{"P-384 key with ES512", ES512, keys[ES384].signer},
		{"P-521 key with ES256", ES256, keys[ES512].signer},
	}
	for _, tt := range signing {
		t.Run("signing/"+tt.name, func(t *testing.T) {
			if _, err := NewSigningKey(tt.alg, "k", tt.key); !errors.Is(err, ErrBadKey) {
				t.Errorf("NewSigningKey: got %v, want ErrBadKey", err)
			}
		})
	}
	// GenerateKey makes a key of the algorithm's curve (RSA generation is
	// covered by vtKeys and slow under -race).
	for _, alg := range []Algorithm{ES384, ES512} {
		k, err := GenerateKey(alg, "g")
		if err != nil {
			t.Fatalf("GenerateKey(%s): %v", alg, err)
		}
		if k.Algorithm() != alg || k.pub.key.(*ecdsa.PublicKey).Curve != algInfos[alg].curve() {
			t.Errorf("GenerateKey(%s): %v on %s", alg, k, k.pub.key.(*ecdsa.PublicKey).Curve.Params().Name)
		}
	}
}

// TestAlgorithmNoneAndConfusion: alg "none" and the HS256-with-a-public-key
// confusion are refused on every path.
func TestAlgorithmNoneAndConfusion(t *testing.T) {
	keys := algKeys(t)
	ctx := context.Background()
	if Algorithm("none").Valid() || Algorithm("").Valid() || Algorithm("ps256").Valid() {
		t.Error("Valid: none, empty or lower-case names must not be valid")
	}
	for _, algs := range [][]Algorithm{{"none"}, {PS256, "none"}, {"RS1"}} {
		_, err := NewVerifier(ctx, VerifierOptions{Issuer: vtIssuer, Audience: vtAudience, Roles: vtRoles(t), Kind: 1,
			Algorithms: algs, Keys: []PublicKey{keys[PS256].pub}})
		if err == nil {
			t.Errorf("NewVerifier with Algorithms %v: got nil error", algs)
		}
	}
	// HS256 cannot be pinned next to an RSA algorithm.
	_, err := NewVerifier(ctx, VerifierOptions{Issuer: vtIssuer, Audience: vtAudience, Roles: vtRoles(t), Kind: 1,
		Algorithms: []Algorithm{PS256, HS256}, Keys: []PublicKey{keys[PS256].pub}})
	if err == nil {
		t.Error("NewVerifier pinning PS256 and HS256: got nil error")
	}
	for _, alg := range []Algorithm{RS384, PS256, ES384, ES512} {
		k := keys[alg]
		v := vtVerifierFor(t, nil, k)
		// alg none, with and without a signature.
		for _, sig := range [][]byte{nil, []byte("x")} {
			in := b64.EncodeToString([]byte(`{"alg":"none","kid":"`+k.kid+`"}`)) + "." + b64.EncodeToString(vtClaims(t, vtParams(1), nil))
			tok := in + "." + b64.EncodeToString(sig)
			_, err := v.Verify(ctx, tok)
			vtWantReason(t, err, ErrAlgorithm, tok)
		}
		// HS256 keyed with the public key's encodings.
		var pubDER []byte
		switch pk := k.pub.key.(type) {
		case *rsa.PublicKey:
			pubDER = x509.MarshalPKCS1PublicKey(pk)
		default:
			pubDER, _ = x509.MarshalPKIXPublicKey(pk)
		}
		jk, _ := k.pub.jwk()
		pubJWK, _ := jk.(interface{ MarshalJSON() ([]byte, error) }).MarshalJSON()
		for _, secret := range [][]byte{pubDER, pubJWK} {
			tok := algToken(t, HS256, k.kid, func(in []byte) []byte {
				m := hmac.New(sha256.New, secret)
				m.Write(in)
				return m.Sum(nil)
			})
			_, err := v.Verify(ctx, tok)
			vtWantReason(t, err, ErrAlgorithm, tok)
		}
	}
}

// TestJWKSNewAlgorithms: the issuer publishes each new algorithm's key with
// its alg, and a verifier reads it back from the JWKS pinned to that alg.
func TestJWKSNewAlgorithms(t *testing.T) {
	keys := algKeys(t)
	for _, alg := range newAlgs {
		k := keys[alg]
		is := vtIssuerFor(t, k, ProfileDefault)
		doc, err := is.JWKS()
		if err != nil {
			t.Fatal(err)
		}
		set, err := jwk.Parse(doc)
		if err != nil {
			t.Fatal(err)
		}
		ks, err := keysFromSet(set, algBit(alg))
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		got, ok := ks.lookup(k.kid)
		if !ok || got.alg != alg {
			t.Errorf("%s: JWKS key %v, %v", alg, got, ok)
		}
		// Pinned to another algorithm of the same family: not usable.
		other := map[Algorithm]Algorithm{RS384: RS256, RS512: PS512, PS256: RS256, PS384: PS256, PS512: PS384, ES384: ES256, ES512: ES384}[alg]
		if _, err := keysFromSet(set, algBit(other)); !errors.Is(err, ErrJWKS) {
			t.Errorf("%s key with %s pinned: got %v, want ErrJWKS", alg, other, err)
		}
	}
}

// TestAlgBits: algBit and algInfos agree, and every bit is distinct.
func TestAlgBits(t *testing.T) {
	var all algSet
	for _, alg := range allAlgs {
		b := algBit(alg)
		if b == 0 || b != algInfos[alg].bit || all&b != 0 {
			t.Errorf("%s: bit %b, info %b, seen %b", alg, b, algInfos[alg].bit, all)
		}
		all |= b
	}
	if len(algInfos) != len(allAlgs) {
		t.Errorf("algInfos has %d algorithms, tests know %d", len(algInfos), len(allAlgs))
	}
	if algBit("none") != 0 {
		t.Error("algBit(none) != 0")
	}
}
