package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/captest"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzVerify feeds arbitrary tokens to two verifiers (one pinning the three
// asymmetric algorithms, one HS256) that share the fixture keys. Verify must
// never panic, and it must never accept a token that is not signed by the
// key set: every accepted token is checked by an independent oracle that
// re-splits it with the standard library, finds the key by the kid that
// encoding/json reads from the header, and verifies the signature with
// big-integer ECDSA, ed25519, rsa and hmac directly. A forged token that
// Verify accepted fails the fuzz.
//
//	go test -run '^$' -fuzz '^FuzzVerify$' -fuzztime 60s ./capability/
func FuzzVerify(f *testing.F) {
	ring := vtKeys(f)
	asym := vtVerifierFor(f, nil, ring.byAlg[EdDSA], ring.byAlg[ES256], ring.byAlg[RS256])
	sym := vtVerifierFor(f, nil, ring.byAlg[HS256])
	keys := map[string]*SigningKey{}
	for _, k := range ring.byAlg {
		keys[k.kid] = k
	}
	for _, alg := range vtAlgs {
		for _, profile := range []Profile{ProfileDefault, ProfileCompact} {
			tok := vtMint(f, vtIssuerFor(f, ring.byAlg[alg], profile), vtParams(3))
			f.Add(tok)
			f.Add(tok[:len(tok)-5])
			p := strings.Split(tok, ".")
			f.Add(p[0] + "." + p[1] + ".")
			f.Add(b64.EncodeToString([]byte(`{"alg":"none","kid":"`+ring.byAlg[alg].kid+`"}`)) + "." + p[1] + ".")
			f.Add(b64.EncodeToString([]byte(`{"alg":"HS256","kid":"`+ring.byAlg[alg].kid+`"}`)) + "." + p[1] + "." + p[2])
			f.Add(b64.EncodeToString([]byte(`{"alg":"`+string(alg)+`","kid":"`+ring.byAlg[alg].kid+`","crit":["b64"],"b64":false}`)) + "." + p[1] + "." + p[2])
			f.Add(b64.EncodeToString([]byte(`{"alg":"`+string(alg)+`","kid":"`+ring.byAlg[alg].kid+`","jwk":{}}`)) + "." + p[1] + "." + p[2])
		}
	}
	f.Add("")
	f.Add("..")
	f.Add("a.b.c.d.e")
	f.Add(`{"protected":"","payload":"","signature":""}`)
	f.Fuzz(func(t *testing.T, token string) {
		for _, v := range []*Verifier{asym, sym} {
			c, err := v.Verify(t.Context(), token)
			if err == nil {
				if c == nil {
					t.Fatal("nil capability without error")
				}
				if !oracleSigned(keys, token) {
					t.Fatalf("accepted a token the oracle says is not signed by the key set: %q", token)
				}
				continue
			}
			if c != nil {
				t.Fatal("capability with an error")
			}
			if te, ok := err.(*TokenError); !ok || te.Reason == nil {
				t.Fatalf("error %T %v is not a *TokenError with a reason", err, err)
			}
			if len(token) >= 16 && strings.Contains(err.Error(), token) {
				t.Fatal("error contains the token")
			}
		}
	})
}

// oracleSigned independently decides whether token is a compact JWS signed
// by one of keys under the key's own algorithm.
func oracleSigned(keys map[string]*SigningKey, token string) bool {
	p := strings.Split(token, ".")
	if len(p) != 3 {
		return false
	}
	enc := base64.RawURLEncoding
	hdr, err1 := enc.DecodeString(p[0])
	sig, err2 := enc.DecodeString(p[2])
	if err1 != nil || err2 != nil {
		return false
	}
	// Canonical encodings only: re-encoding gives the same text.
	if enc.EncodeToString(hdr) != p[0] || enc.EncodeToString(sig) != p[2] {
		return false
	}
	var h struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if json.Unmarshal(hdr, &h) != nil {
		return false
	}
	k, ok := keys[h.Kid]
	if !ok || string(k.alg) != h.Alg {
		return false
	}
	in := []byte(p[0] + "." + p[1])
	switch k.alg {
	case EdDSA:
		return ed25519.Verify(k.pub.key.(ed25519.PublicKey), in, sig)
	case ES256:
		if len(sig) != 64 {
			return false
		}
		d := sha256.Sum256(in)
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(k.pub.key.(*ecdsa.PublicKey), d[:], r, s)
	case RS256:
		d := sha256.Sum256(in)
		return rsa.VerifyPKCS1v15(k.pub.key.(*rsa.PublicKey), crypto.SHA256, d[:], sig) == nil
	case HS256:
		m := hmac.New(sha256.New, k.pub.key.([]byte))
		m.Write(in)
		return hmac.Equal(m.Sum(nil), sig)
	}
	return false
}

// FuzzVerifySigned signs arbitrary header and payload bytes with the
// fixture EdDSA key, so that the fuzzer reaches the header parser and the
// claims decoder behind the signature check. Verify must never panic, and
// whatever it accepts must agree with encoding/json read independently:
// a header of only alg (EdDSA), kid (ours) and typ (JWT), and claims with
// our issuer, our audience, and an exp in the future.
//
//	go test -run '^$' -fuzz '^FuzzVerifySigned$' -fuzztime 60s ./capability/
func FuzzVerifySigned(f *testing.F) {
	ring := vtKeys(f)
	ed := ring.byAlg[EdDSA]
	v := vtVerifierFor(f, nil, ed)
	good := vtClaims(f, vtParams(3), nil)
	f.Add(vtHeader(EdDSA, ed.kid), good)
	f.Add([]byte(`{"alg":"EdDSA","kid":"k-eddsa"}`), good)
	f.Add([]byte(`{"alg":"EdDSA","kid":"k-eddsa","alg":"EdDSA"}`), good)
	f.Add([]byte(`{"alg":"EdDSA","kid":"k-\u0065ddsa"}`), good)
	f.Add(vtHeader(EdDSA, ed.kid), vtClaims(f, vtParams(3), func(m map[string]any) { m["aud"] = []any{"x", vtAudience} }))
	f.Add(vtHeader(EdDSA, ed.kid), vtClaims(f, vtParams(0), func(m map[string]any) { delete(m, "iat") }))
	f.Add(vtHeader(EdDSA, ed.kid), []byte(`{"sub":"a","iss":"`+vtIssuer+`","aud":"`+vtAudience+`","exp":`+itoa(vtNow.Add(time.Hour).Unix())+`,"grants":{"member":[1,2,3]}}`))
	f.Fuzz(func(t *testing.T, header, payload []byte) {
		tok := vtSign(t, ed, header, payload)
		c, err := v.Verify(t.Context(), tok)
		if err != nil {
			if c != nil {
				t.Fatal("capability with an error")
			}
			return
		}
		var h map[string]any
		if json.Unmarshal(header, &h) != nil {
			t.Fatalf("accepted a header encoding/json rejects: %q", header)
		}
		for k := range h {
			if k != "alg" && k != "kid" && k != "typ" {
				t.Fatalf("accepted header parameter %q", k)
			}
		}
		if h["alg"] != "EdDSA" || h["kid"] != ed.kid {
			t.Fatalf("accepted header %q", header)
		}
		if typ, ok := h["typ"]; ok && !strings.EqualFold(typ.(string), "JWT") {
			t.Fatalf("accepted typ %q", typ)
		}
		var m map[string]json.RawMessage // exact key match, unlike struct fields
		if json.Unmarshal(payload, &m) != nil {
			t.Fatalf("accepted a payload encoding/json rejects: %q", payload)
		}
		var iss string
		if json.Unmarshal(m["iss"], &iss) != nil || iss != vtIssuer || c.Issuer() != vtIssuer {
			t.Fatalf("accepted issuer %s", m["iss"])
		}
		var auds []string
		var aud string
		if json.Unmarshal(m["aud"], &aud) == nil {
			auds = []string{aud}
		} else if json.Unmarshal(m["aud"], &auds) != nil {
			t.Fatalf("accepted aud %s", m["aud"])
		}
		if !slices.Contains(auds, vtAudience) {
			t.Fatalf("accepted aud %s", m["aud"])
		}
		exp, err := strconv.ParseInt(string(m["exp"]), 10, 64)
		if err != nil || !vtNow.Before(time.Unix(exp, 0).Add(DefaultSkew)) {
			t.Fatalf("accepted exp %s", m["exp"])
		}
		// Verify builds per role what New builds from the decoded grants.
		dc, err := decodeClaims(payload, decodeOptions{roles: v.roles, kind: v.kind, maxGrants: v.maxGrants})
		if err != nil {
			t.Fatalf("accepted a payload decodeClaims rejects: %v", err)
		}
		dc.params.MaxGrants = v.maxGrants
		want, err := capability.New(v.roles, v.kind, dc.params)
		if err != nil {
			t.Fatalf("accepted grants New rejects: %v", err)
		}
		captest.CheckSameCapability(t, c, want, dc.params.Grants)
	})
}
