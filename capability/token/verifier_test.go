package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"github.com/keyhole-go/keyhole/capability"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestVerifyRoundTrip(t *testing.T) {
	ring := vtKeys(t)
	for _, alg := range vtAlgs {
		for _, profile := range []Profile{ProfileDefault, ProfileCompact} {
			t.Run(string(alg)+"/profile="+string(rune('0'+profile)), func(t *testing.T) {
				k := ring.byAlg[alg]
				is := vtIssuerFor(t, k, profile)
				v := vtVerifierFor(t, nil, k)
				p := vtParams(5)
				p.Admin = true
				tok := vtMint(t, is, p)
				c, err := v.Verify(t.Context(), tok)
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if got, want := c.Subject(), "user-42"; got != want {
					t.Errorf("Subject: got %q, want %q", got, want)
				}
				if got, want := len(c.Grants()), 5; got != want {
					t.Errorf("grants: got %d, want %d", got, want)
				}
				if !c.Admin() {
					t.Error("Admin: got false, want true")
				}
				if got, want := c.Issuer(), vtIssuer; got != want {
					t.Errorf("Issuer: got %q, want %q", got, want)
				}
				if got, want := c.Expiry(), vtNow.Add(DefaultTTL); !got.Equal(want) {
					t.Errorf("Expiry: got %v, want %v", got, want)
				}
				if c.ID() == "" {
					t.Error("ID: got empty jti")
				}
				if !c.Has("member", capability.Int64Group(100000+7)) { // moderator includes member
					t.Error("Has(member, moderator's group): got false")
				}
			})
		}
	}
}

// TestVerifyAttacks is the attack table: every way a token is refused, each
// with its reason.
func TestVerifyAttacks(t *testing.T) {
	ring := vtKeys(t)
	ed, es, rs, hs := ring.byAlg[EdDSA], ring.byAlg[ES256], ring.byAlg[RS256], ring.byAlg[HS256]
	verifiers := map[string]*Verifier{
		"ed":    vtVerifierFor(t, nil, ed),
		"es":    vtVerifierFor(t, nil, es),
		"rs":    vtVerifierFor(t, nil, rs),
		"hs":    vtVerifierFor(t, nil, hs),
		"multi": vtVerifierFor(t, nil, ed, es),
		"max2":  vtVerifierFor(t, func(o *VerifierOptions) { o.MaxGrants = 2 }, ed),
		"small": vtVerifierFor(t, func(o *VerifierOptions) { o.MaxTokenSize = 100 }, ed),
	}
	claims := func(edit func(m map[string]any)) []byte { return vtClaims(t, vtParams(3), edit) }
	good := claims(nil)
	edHdr := vtHeader(EdDSA, ed.kid)
	signEd := func(hdr string) string { return vtSign(t, ed, []byte(hdr), good) }
	edClaims := func(edit func(m map[string]any)) string { return vtSign(t, ed, edHdr, claims(edit)) }
	edPayload := func(payload string) string { return vtSign(t, ed, edHdr, []byte(payload)) }
	valid := vtSign(t, ed, edHdr, good)
	parts := strings.Split(valid, ".")
	unsigned := func(hdr string) string { // alg none style: no signature
		return b64.EncodeToString([]byte(hdr)) + "." + parts[1] + "."
	}

	// Non-canonical base64: the last character of a part whose length is
	// not a multiple of 4 carries unused bits; set one.
	nonCanonical := func(s string) string {
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		if len(s)%4 == 0 {
			t.Fatalf("part of length %d has no unused bits", len(s))
		}
		v := strings.IndexByte(alphabet, s[len(s)-1])
		return s[:len(s)-1] + string(alphabet[v|1])
	}
	// A header whose encoding has unused bits.
	ncHdr := string(edHdr)
	for len(b64.EncodeToString([]byte(ncHdr)))%4 == 0 {
		ncHdr = " " + ncHdr
	}
	ncHdrTok := signEd(ncHdr)
	ncHdrParts := strings.Split(ncHdrTok, ".")
	ncPayload := string(good)
	for len(b64.EncodeToString([]byte(ncPayload)))%4 == 0 {
		ncPayload = " " + ncPayload
	}
	ncPayloadTok := edPayload(ncPayload)
	ncPayloadParts := strings.Split(ncPayloadTok, ".")

	// ES256 signatures in other encodings.
	esIn := b64.EncodeToString(vtHeader(ES256, es.kid)) + "." + b64.EncodeToString(good)
	esDigest := sha256.Sum256([]byte(esIn))
	esDER, err := ecdsa.SignASN1(rand.Reader, es.signer.(*ecdsa.PrivateKey), esDigest[:])
	if err != nil {
		t.Fatal(err)
	}
	esRaw := vtRawSig(t, ES256, es.signer, []byte(esIn))
	esPadded := append(append(append([]byte{0}, esRaw[:32]...), 0), esRaw[32:]...)
	esZeroR := append(make([]byte, 32), esRaw[32:]...)
	esTok := func(sig []byte) string { return esIn + "." + b64.EncodeToString(sig) }

	// HS256 keyed with the RSA public key, in the forms an attacker would try.
	rsaPub := &ring.rsaPriv.PublicKey
	pkix, err := x509.MarshalPKIXPublicKey(rsaPub)
	if err != nil {
		t.Fatal(err)
	}
	pemPub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	hsWith := func(secret []byte, kid string) string {
		in := b64.EncodeToString(vtHeader(HS256, kid)) + "." + b64.EncodeToString(good)
		return in + "." + b64.EncodeToString(vtRawSig(t, HS256, secret, []byte(in)))
	}

	flipSig := func(tok string) string {
		p := strings.Split(tok, ".")
		sig, err := b64.DecodeString(p[2])
		if err != nil {
			t.Fatal(err)
		}
		sig[len(sig)/2] ^= 0x01
		return p[0] + "." + p[1] + "." + b64.EncodeToString(sig)
	}
	truncSig := func(tok string) string {
		p := strings.Split(tok, ".")
		sig, _ := b64.DecodeString(p[2])
		return p[0] + "." + p[1] + "." + b64.EncodeToString(sig[:len(sig)-1])
	}
	mintedBy := func(k *SigningKey) string { return vtMint(t, vtIssuerFor(t, k, ProfileDefault), vtParams(3)) }

	at := func(d time.Duration) json.Number { return json.Number(itoa(vtNow.Add(d).Unix())) }
	longKID := strings.Repeat("k", MaxKeyIDLen+1)
	big := vtMint(t, vtIssuerFor(t, ed, ProfileDefault), vtParams(300)) // well over 8 KiB

	tests := []struct {
		name  string
		v     string
		token string
		want  error
	}{
		// Size, checked first.
		{"over default size", "ed", big, ErrTooLarge},
		{"over configured size", "small", valid, ErrTooLarge},
		{"huge garbage", "ed", strings.Repeat("A", 1<<20), ErrTooLarge},

		// Serialization.
		{"empty", "ed", "", ErrMalformed},
		{"JSON serialization", "ed", `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`, ErrMalformed},
		{"JWE five parts", "ed", "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d", ErrMalformed},
		{"one part", "ed", parts[0], ErrMalformed},
		{"two parts", "ed", parts[0] + "." + parts[1], ErrMalformed},
		{"four parts", "ed", valid + ".x", ErrMalformed},
		{"empty payload", "ed", parts[0] + ".." + parts[2], ErrMalformed},
		{"empty header", "ed", "." + parts[1] + "." + parts[2], ErrMalformed},
		{"non-canonical base64 signature", "ed", parts[0] + "." + parts[1] + "." + nonCanonical(parts[2]), ErrMalformed},
		{"non-canonical base64 header", "ed", nonCanonical(ncHdrParts[0]) + "." + ncHdrParts[1] + "." + ncHdrParts[2], ErrMalformed},
		{"non-canonical base64 payload", "ed", ncPayloadParts[0] + "." + nonCanonical(ncPayloadParts[1]) + "." + ncPayloadParts[2], ErrMalformed},
		{"base64 padding", "ed", valid + "==", ErrMalformed},
		{"standard alphabet", "ed", parts[0] + "." + parts[1] + ".+" + parts[2][1:], ErrMalformed},
		{"line break in payload", "ed", parts[0] + "." + parts[1][:10] + "\n" + parts[1][10:] + "." + parts[2], ErrMalformed},
		{"CR in signature", "ed", parts[0] + "." + parts[1] + "." + parts[2][:10] + "\r" + parts[2][10:], ErrMalformed},
		{"space in token", "ed", parts[0] + " ." + parts[1] + "." + parts[2], ErrMalformed},

		// Header: algorithm.
		{"alg none", "ed", unsigned(`{"alg":"none","kid":"k-eddsa"}`), ErrAlgorithm},
		{"alg None", "ed", unsigned(`{"alg":"None","kid":"k-eddsa"}`), ErrAlgorithm},
		{"alg NONE", "ed", unsigned(`{"alg":"NONE","kid":"k-eddsa"}`), ErrAlgorithm},
		{"alg nOnE", "ed", unsigned(`{"alg":"nOnE","kid":"k-eddsa"}`), ErrAlgorithm},
		{"alg none with a signature", "ed", b64.EncodeToString([]byte(`{"alg":"none","kid":"k-eddsa"}`)) + "." + parts[1] + "." + parts[2], ErrAlgorithm},
		{"alg lower case", "ed", signEd(`{"alg":"eddsa","kid":"k-eddsa"}`), ErrAlgorithm},
		{"alg missing", "ed", signEd(`{"kid":"k-eddsa"}`), ErrAlgorithm},
		{"alg empty object", "ed", signEd(`{}`), ErrAlgorithm},
		{"alg not pinned", "ed", mintedBy(es), ErrAlgorithm},
		{"alg RS256 to EdDSA verifier", "ed", mintedBy(rs), ErrAlgorithm},
		{"HS256 keyed with RSA public key DER", "rs", hsWith(pkix, rs.kid), ErrAlgorithm},
		{"HS256 keyed with RSA public key PEM", "rs", hsWith(pemPub, rs.kid), ErrAlgorithm},
		{"HS256 keyed with Ed25519 public key", "ed", hsWith([]byte(ed.pub.key.(ed25519.PublicKey)), ed.kid), ErrAlgorithm},
		{"alg of another pinned key", "multi", vtSign(t, es, vtHeader(ES256, ed.kid), good), ErrAlgorithm},
		{"alg EdDSA on ES256 key id", "multi", vtSign(t, ed, vtHeader(EdDSA, es.kid), good), ErrAlgorithm},

		// Header: key id.
		{"kid missing", "ed", signEd(`{"alg":"EdDSA"}`), ErrUnknownKey},
		{"kid empty", "ed", signEd(`{"alg":"EdDSA","kid":""}`), ErrUnknownKey},
		{"kid unknown", "ed", signEd(`{"alg":"EdDSA","kid":"nope"}`), ErrUnknownKey},
		{"kid path", "ed", signEd(`{"alg":"EdDSA","kid":"../../../etc/passwd"}`), ErrUnknownKey},
		{"kid URL", "ed", signEd(`{"alg":"EdDSA","kid":"https://evil.example/key"}`), ErrUnknownKey},
		{"kid NUL", "ed", signEd(`{"alg":"EdDSA","kid":"k-eddsa\u0000"}`), ErrUnknownKey},
		{"kid too long", "ed", signEd(`{"alg":"EdDSA","kid":"` + longKID + `"}`), ErrUnknownKey},
		{"kid of HS256 secret elsewhere", "ed", hsWith(hs.signer.([]byte), hs.kid), ErrAlgorithm},

		// Header: refused parameters.
		{"embedded jwk", "ed", signEd(`{"alg":"EdDSA","kid":"k-eddsa","jwk":{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}`), ErrMalformed},
		{"jku", "ed", signEd(`{"alg":"EdDSA","kid":"k-eddsa","jku":"https://evil.example/jwks"}`), ErrMalformed},
		{"x5u", "ed", signEd(`{"alg":"EdDSA","kid":"k-eddsa","x5u":"https://evil.example/cert"}`), ErrMalformed},
		{"x5c", "ed", signEd(`{"alg":"EdDSA","kid":"k-eddsa","x5c":["MIIB"]}`), ErrMalformed},
		{"x5t", "ed", signEd(`{"alg":"EdDSA","kid":"k-eddsa","x5t":"abc"}`), ErrMalformed},
		{"crit", "ed", signEd(`{"alg":"EdDSA","kid":"k-eddsa","crit":["exp"],"exp":1}`), ErrMalformed},
		{"crit empty", "ed", signEd(`{"alg":"EdDSA","kid":"k-eddsa","crit":[]}`), ErrMalformed},
		{"b64 false", "ed", signEd(`{"alg":"EdDSA","kid":"k-eddsa","b64":false,"crit":["b64"]}`), ErrMalformed},
		{"b64 false without crit", "ed", signEd(`{"alg":"EdDSA","kid":"k-eddsa","b64":false}`), ErrMalformed},
		{"nested token cty", "ed", signEd(`{"alg":"EdDSA","kid":"k-eddsa","cty":"JWT"}`), ErrMalformed},
		{"JWE enc", "ed", signEd(`{"alg":"EdDSA","kid":"k-eddsa","enc":"A256GCM"}`), ErrMalformed},
		{"zip", "ed", signEd(`{"alg":"EdDSA","kid":"k-eddsa","zip":"DEF"}`), ErrMalformed},
		{"typ not JWT", "ed", signEd(`{"alg":"EdDSA","kid":"k-eddsa","typ":"at+jwt"}`), ErrMalformed},
		{"typ not a string", "ed", signEd(`{"alg":"EdDSA","kid":"k-eddsa","typ":1}`), ErrMalformed},
		{"unknown parameter", "ed", signEd(`{"alg":"EdDSA","kid":"k-eddsa","foo":"bar"}`), ErrMalformed},
		{"duplicate alg", "ed", signEd(`{"alg":"EdDSA","kid":"k-eddsa","alg":"none"}`), ErrMalformed},
		{"duplicate alg escaped", "ed", signEd(`{"alg":"EdDSA","kid":"k-eddsa","\u0061lg":"EdDSA"}`), ErrMalformed},
		{"duplicate kid", "ed", signEd(`{"alg":"EdDSA","kid":"k-eddsa","kid":"other"}`), ErrMalformed},
		{"alg not a string", "ed", signEd(`{"alg":1,"kid":"k-eddsa"}`), ErrMalformed},
		{"kid not a string", "ed", signEd(`{"alg":"EdDSA","kid":["k-eddsa"]}`), ErrMalformed},
		{"header array", "ed", signEd(`["EdDSA"]`), ErrMalformed},
		{"header null", "ed", signEd(`null`), ErrMalformed},
		{"header not JSON", "ed", signEd(`alg=EdDSA`), ErrMalformed},
		{"header trailing bytes", "ed", signEd(`{"alg":"EdDSA","kid":"k-eddsa"}x`), ErrMalformed},
		{"header two objects", "ed", signEd(`{"alg":"EdDSA","kid":"k-eddsa"}{}`), ErrMalformed},
		{"header invalid UTF-8", "ed", signEd("{\"alg\":\"EdDSA\",\"kid\":\"k-eddsa\xff\"}"), ErrMalformed},

		// Signature.
		{"flipped signature EdDSA", "ed", flipSig(valid), ErrBadSignature},
		{"flipped signature ES256", "es", flipSig(mintedBy(es)), ErrBadSignature},
		{"flipped signature RS256", "rs", flipSig(mintedBy(rs)), ErrBadSignature},
		{"flipped signature HS256", "hs", flipSig(mintedBy(hs)), ErrBadSignature},
		{"truncated signature EdDSA", "ed", truncSig(valid), ErrBadSignature},
		{"truncated signature RS256", "rs", truncSig(mintedBy(rs)), ErrBadSignature},
		{"truncated signature HS256", "hs", truncSig(mintedBy(hs)), ErrBadSignature},
		{"empty signature", "ed", parts[0] + "." + parts[1] + ".", ErrBadSignature},
		{"signed by another key with the same kid", "ed", mintedBy(ring.other[EdDSA]), ErrBadSignature},
		{"HS256 other secret same kid", "hs", mintedBy(ring.other[HS256]), ErrBadSignature},
		{"payload swapped", "ed", parts[0] + "." + b64.EncodeToString(claims(func(m map[string]any) { m["admin"] = true })) + "." + parts[2], ErrBadSignature},
		{"ES256 DER signature", "es", esTok(esDER), ErrBadSignature},
		{"ES256 r||s padded to 66 bytes", "es", esTok(esPadded), ErrBadSignature},
		{"ES256 r zero", "es", esTok(esZeroR), ErrBadSignature},
		{"ES256 all zero", "es", esTok(make([]byte, 64)), ErrBadSignature},
		{"ES256 r||s truncated", "es", esTok(esRaw[:63]), ErrBadSignature},

		// Claims, strictly decoded.
		{"exp missing", "ed", edClaims(func(m map[string]any) { delete(m, "exp") }), ErrClaims},
		{"exp zero", "ed", edClaims(func(m map[string]any) { m["exp"] = 0 }), ErrClaims},
		{"exp string", "ed", edClaims(func(m map[string]any) { m["exp"] = itoa(vtNow.Add(time.Hour).Unix()) }), ErrClaims},
		{"exp null", "ed", edClaims(func(m map[string]any) { m["exp"] = nil }), ErrClaims},
		{"exp float", "ed", edClaims(func(m map[string]any) { m["exp"] = json.Number(itoa(vtNow.Add(time.Hour).Unix()) + ".5") }), ErrClaims},
		{"sub null", "ed", edClaims(func(m map[string]any) { m["sub"] = nil }), ErrClaims},
		{"admin string", "ed", edClaims(func(m map[string]any) { m["admin"] = "true" }), ErrClaims},
		{"float group", "ed", edClaims(func(m map[string]any) {
			m["permissions"] = []any{map[string]any{"group": json.Number("1.5"), "role": "member"}}
		}), ErrClaims},
		{"unknown role", "ed", edClaims(func(m map[string]any) {
			m["permissions"] = []any{map[string]any{"group": json.Number("1"), "role": "owner"}}
		}), ErrClaims},
		{"payload duplicate key", "ed", edPayload(`{"sub":"evil",` + string(good[1:])), ErrClaims},
		{"payload trailing bytes", "ed", edPayload(string(good) + "x"), ErrClaims},
		{"payload not an object", "ed", edPayload(`[1]`), ErrClaims},
		{"payload not JSON", "ed", edPayload(`hello`), ErrClaims},
		{"payload invalid UTF-8", "ed", edPayload(strings.Replace(string(good), "user-42", "user-\xff", 1)), ErrClaims},
		{"payload is a nested JWS", "ed", edPayload(valid), ErrClaims},

		// Times.
		{"expired beyond skew", "ed", edClaims(func(m map[string]any) { m["iat"], m["exp"] = at(-time.Hour), at(-DefaultSkew-time.Second) }), ErrExpired},
		{"nbf in the future", "ed", edClaims(func(m map[string]any) { m["nbf"] = at(DefaultSkew + time.Minute) }), ErrNotYetValid},
		{"iat in the future", "ed", edClaims(func(m map[string]any) { m["iat"], m["exp"] = at(DefaultSkew+time.Minute), at(time.Hour) }), ErrNotYetValid},
		{"lifetime too long", "ed", edClaims(func(m map[string]any) { m["exp"] = at(DefaultMaxLifetime + time.Hour) }), ErrLifetime},
		{"lifetime too long without iat", "ed", edClaims(func(m map[string]any) {
			delete(m, "iat")
			m["exp"] = at(DefaultMaxLifetime + time.Hour)
		}), ErrLifetime},

		// Issuer and audience.
		{"wrong issuer", "ed", edClaims(func(m map[string]any) { m["iss"] = "https://evil.example" }), ErrIssuer},
		{"issuer prefix", "ed", edClaims(func(m map[string]any) { m["iss"] = vtIssuer + "/x" }), ErrIssuer},
		{"missing issuer", "ed", edClaims(func(m map[string]any) { delete(m, "iss") }), ErrIssuer},
		{"wrong audience", "ed", edClaims(func(m map[string]any) { m["aud"] = "billing" }), ErrAudience},
		{"audience list without ours", "ed", edClaims(func(m map[string]any) { m["aud"] = []any{"billing", "wiki"} }), ErrAudience},
		{"missing audience", "ed", edClaims(func(m map[string]any) { delete(m, "aud") }), ErrAudience},

		// Grants.
		{"more grants than allowed", "max2", valid, ErrTooManyGrants},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		if seen[tt.name] {
			t.Fatalf("duplicate case %q", tt.name)
		}
		seen[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			c, err := verifiers[tt.v].Verify(t.Context(), tt.token)
			if c != nil {
				t.Errorf("got a capability for %s", c.Subject())
			}
			vtWantReason(t, err, tt.want, tt.token)
			t.Log(err)
		})
	}
}

func itoa(n int64) string { return big.NewInt(n).String() }

func TestVerifyAccepts(t *testing.T) {
	ring := vtKeys(t)
	ed := ring.byAlg[EdDSA]
	v := vtVerifierFor(t, nil, ed)
	claims := func(edit func(m map[string]any)) string {
		return vtSign(t, ed, vtHeader(EdDSA, ed.kid), vtClaims(t, vtParams(3), edit))
	}
	at := func(d time.Duration) json.Number { return json.Number(itoa(vtNow.Add(d).Unix())) }
	tests := []struct {
		name  string
		token string
	}{
		{"expired within skew", claims(func(m map[string]any) { m["exp"] = at(-DefaultSkew / 2) })},
		{"nbf within skew", claims(func(m map[string]any) { m["nbf"] = at(DefaultSkew / 2) })},
		{"iat within skew", claims(func(m map[string]any) { m["iat"], m["exp"] = at(DefaultSkew/2), at(time.Hour) })},
		{"no iat", claims(func(m map[string]any) { delete(m, "iat") })},
		{"lifetime exactly max", claims(func(m map[string]any) { m["exp"] = at(DefaultMaxLifetime) })},
		{"audience list with ours", claims(func(m map[string]any) { m["aud"] = []any{"billing", vtAudience} })},
		{"typ absent", vtSign(t, ed, []byte(`{"alg":"EdDSA","kid":"k-eddsa"}`), vtClaims(t, vtParams(3), nil))},
		{"typ lower case", vtSign(t, ed, []byte(`{"kid":"k-eddsa","typ":"jwt","alg":"EdDSA"}`), vtClaims(t, vtParams(3), nil))},
		{"header with spaces and escapes", vtSign(t, ed, []byte(` { "alg" : "EdDSA" , "kid" : "k-\u0065ddsa" } `), vtClaims(t, vtParams(3), nil))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(t.Context(), tt.token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Subject() != "user-42" {
				t.Errorf("Subject: got %q", c.Subject())
			}
		})
	}
}

// TestES256HighS pins a documented property: the high-s twin (r, n-s) of a
// valid ES256 signature verifies (as in every JOSE library). Tokens are not
// unique strings; replay detection keys on jti.
func TestES256HighS(t *testing.T) {
	ring := vtKeys(t)
	es := ring.byAlg[ES256]
	v := vtVerifierFor(t, nil, es)
	tok := vtMint(t, vtIssuerFor(t, es, ProfileDefault), vtParams(1))
	p := strings.Split(tok, ".")
	sig, _ := b64.DecodeString(p[2])
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(es.pub.key.(*ecdsa.PublicKey).Curve.Params().N, s)
	s.FillBytes(sig[32:])
	twin := p[0] + "." + p[1] + "." + b64.EncodeToString(sig)
	if _, err := v.Verify(t.Context(), twin); err != nil {
		t.Fatalf("high-s twin: %v", err)
	}
}

func TestTokenErrorFields(t *testing.T) {
	ring := vtKeys(t)
	ed := ring.byAlg[EdDSA]
	v := vtVerifierFor(t, nil, ed)
	at := func(d time.Duration) json.Number { return json.Number(itoa(vtNow.Add(d).Unix())) }
	expired := vtSign(t, ed, vtHeader(EdDSA, ed.kid), vtClaims(t, vtParams(1), func(m map[string]any) { m["iat"], m["exp"] = at(-2*time.Hour), at(-time.Hour) }))
	_, err := v.Verify(t.Context(), expired)
	var te *TokenError
	if !errors.As(err, &te) {
		t.Fatalf("got %v, want *TokenError", err)
	}
	if te.KeyID != ed.kid || te.Subject != "user-42" {
		t.Errorf("got KeyID %q Subject %q, want %q and user-42 (signature verified)", te.KeyID, te.Subject, ed.kid)
	}
	forged := vtSign(t, ring.other[EdDSA], vtHeader(EdDSA, ed.kid), vtClaims(t, vtParams(1), nil))
	_, err = v.Verify(t.Context(), forged)
	if !errors.As(err, &te) {
		t.Fatalf("got %v, want *TokenError", err)
	}
	if te.Subject != "" {
		t.Errorf("forged token: got Subject %q, want none (signature did not verify)", te.Subject)
	}
	if got := err.Error(); !strings.HasPrefix(got, "token: invalid token: bad signature") {
		t.Errorf("Error(): got %q", got)
	}
}

func TestNewVerifierOptions(t *testing.T) {
	ring := vtKeys(t)
	ed, es, hs := ring.byAlg[EdDSA], ring.byAlg[ES256], ring.byAlg[HS256]
	roles := vtRoles(t)
	base := func() VerifierOptions {
		return VerifierOptions{Issuer: vtIssuer, Audience: vtAudience, Algorithms: []Algorithm{EdDSA}, Keys: []PublicKey{ed.Public()}, Roles: roles, Kind: capability.KindInt64}
	}
	tests := []struct {
		name  string
		edit  func(o *VerifierOptions)
		field string
	}{
		{"no issuer", func(o *VerifierOptions) { o.Issuer = "" }, "Issuer"},
		{"no audience", func(o *VerifierOptions) { o.Audience = "" }, "Audience"},
		{"no algorithms", func(o *VerifierOptions) { o.Algorithms = nil }, "Algorithms"},
		{"alg none", func(o *VerifierOptions) { o.Algorithms = []Algorithm{"none"} }, "Algorithms"},
		{"HS256 with EdDSA", func(o *VerifierOptions) { o.Algorithms = []Algorithm{EdDSA, HS256} }, "Algorithms"},
		{"no roles", func(o *VerifierOptions) { o.Roles = nil }, "Roles"},
		{"no kind", func(o *VerifierOptions) { o.Kind = 0 }, "Kind"},
		{"no keys", func(o *VerifierOptions) { o.Keys = nil }, "Keys"},
		{"keys and URL", func(o *VerifierOptions) { o.JWKSURL = "https://auth.example/jwks" }, "JWKSURL"},
		{"zero key", func(o *VerifierOptions) { o.Keys = []PublicKey{{}} }, "Keys"},
		{"key alg not pinned", func(o *VerifierOptions) { o.Keys = append(o.Keys, es.Public()) }, "Keys"},
		{"duplicate kid", func(o *VerifierOptions) {
			o.Algorithms = []Algorithm{EdDSA}
			o.Keys = []PublicKey{ed.Public(), ring.other[EdDSA].Public()}
		}, "Keys"},
		{"HS256 key with EdDSA pinned", func(o *VerifierOptions) { o.Keys = []PublicKey{hs.Public()} }, "Keys"},
		{"negative skew", func(o *VerifierOptions) { o.Skew = -1 }, "Skew"},
		{"negative lifetime", func(o *VerifierOptions) { o.MaxLifetime = -1 }, "MaxLifetime"},
		{"negative size", func(o *VerifierOptions) { o.MaxTokenSize = -1 }, "MaxTokenSize"},
		{"negative grants", func(o *VerifierOptions) { o.MaxGrants = -1 }, "MaxGrants"},
		{"JWKS over http", func(o *VerifierOptions) { o.Keys = nil; o.JWKSURL = "http://auth.example/jwks" }, "JWKSURL"},
		{"JWKS relative", func(o *VerifierOptions) { o.Keys = nil; o.JWKSURL = "/jwks" }, "JWKSURL"},
		{"JWKS with HS256", func(o *VerifierOptions) {
			o.Keys = nil
			o.Algorithms = []Algorithm{HS256}
			o.JWKSURL = "https://auth.example/jwks"
		}, "JWKSURL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base()
			tt.edit(&o)
			v, err := NewVerifier(t.Context(), o)
			if err == nil {
				t.Fatalf("NewVerifier: got %v, nil; want an error naming %s", v, tt.field)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("got %q, want it to name %s", err, tt.field)
			}
		})
	}
	if _, err := NewVerifier(t.Context(), base()); err != nil {
		t.Fatalf("base options: %v", err)
	}
}

func TestVerifyConcurrent(t *testing.T) {
	ring := vtKeys(t)
	ed := ring.byAlg[EdDSA]
	v := vtVerifierFor(t, nil, ed)
	tok := vtMint(t, vtIssuerFor(t, ed, ProfileDefault), vtParams(3))
	done := make(chan error)
	for range 8 {
		go func() {
			var err error
			for range 20 {
				if _, err = v.Verify(t.Context(), tok); err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func TestNilVerifier(t *testing.T) {
	var v *Verifier
	c, err := v.Verify(t.Context(), "x.y.z")
	if c != nil || !errors.Is(err, ErrInvalidToken) {
		t.Errorf("nil verifier: got %v, %v; want nothing and ErrInvalidToken", c, err)
	}
}

// TestVerifierKeepsMappingCopy checks that NewVerifier keeps its own copy of
// VerifierOptions.Mapping: changing the caller's mapping (or its RolesPath)
// afterwards changes nothing the verifier reads.
func TestVerifierKeepsMappingCopy(t *testing.T) {
	k := vtKeys(t).byAlg[EdDSA]
	m := &ClaimMapping{GroupsClaim: "groups", DefaultRole: "member", RolesPath: []string{"realm_access", "roles"}}
	v := vtVerifierFor(t, func(o *VerifierOptions) { o.Mapping = m }, k)
	m.GroupsClaim, m.DefaultRole, m.RolesPath[0] = "other", "admin", "evil"
	payload := vtClaims(t, capability.Params{Subject: "user-42", Audience: []string{vtAudience}}, func(c map[string]any) {
		delete(c, "permissions")
		c["groups"] = []any{"7"}
		c["other"] = []any{"8"}
		c["evil"] = map[string]any{"roles": []any{"admin:9"}}
	})
	c, err := v.Verify(t.Context(), vtSign(t, k, vtHeader(EdDSA, k.KeyID()), payload))
	if err != nil {
		t.Fatal(err)
	}
	want := []capability.Grant{{Group: capability.Int64Group(7), Role: "member"}}
	if got := c.Grants(); !slices.Equal(got, want) {
		t.Errorf("Grants after changing the caller's mapping: got %v, want %v", got, want)
	}
}
