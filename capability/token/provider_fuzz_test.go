package token

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzParseDiscovery: parseDiscovery never panics, and what it accepts is
// a JSON object (by encoding/json, the independent oracle) whose "issuer"
// is the configured issuer and whose "jwks_uri" is the non-empty string it
// returns.
func FuzzParseDiscovery(f *testing.F) {
	const iss = "https://idp.example"
	for _, s := range []string{
		`{"issuer":"https://idp.example","jwks_uri":"https://idp.example/keys"}`,
		`{"issuer":"https://idp.example/","jwks_uri":"https://idp.example/keys"}`,
		`{"issuer":"https://idp.example","jwks_uri":"https://idp.example/keys","issuer":"https://evil"}`,
		`{"issuer":"https://idp.example","jwks_uri":null}`,
		`{"issuer":"https:\/\/idp.example","jwks_uri":"\u0068ttps://k"}`,
		`{"ISSUER":"https://idp.example","jwks_uri":"x"}`,
		`[{"issuer":"https://idp.example"}]`,
		`{"issuer":"https://idp.example","jwks_uri":"k","x":{"y":{"z":[1,2,{"a":"b"}]}}}`,
		``, `null`, `{}`, `{"issuer":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := parseDiscovery(b, iss)
		if err != nil {
			return
		}
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(b))
		if err := d.Decode(&m); err != nil || d.More() {
			t.Fatalf("accepted a document encoding/json refuses: %v", err)
		}
		if m["issuer"] != iss || m["jwks_uri"] != u || u == "" {
			t.Fatalf("accepted issuer %v, jwks_uri %v, returned %q", m["issuer"], m["jwks_uri"], u)
		}
	})
}

// FuzzParsePublicJWK: ParsePublicJWK never panics, and a key it accepts is
// a usable verification key of a supported asymmetric algorithm, never an
// encryption key.
func FuzzParsePublicJWK(f *testing.F) {
	for _, s := range []string{
		`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k1","use":"sig"}`,
		`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k1","use":"enc"}`,
		`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k1","key_ops":["encrypt"]}`,
		`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k1","alg":"ES256"}`,
		`{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0","kid":"s"}`,
		`{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"ec"}`,
		`{}`, `[]`, `{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"r"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParsePublicJWK(b)
		if err != nil {
			if !k.IsZero() {
				t.Fatal("a key with an error")
			}
			return
		}
		if k.IsZero() || !k.alg.Valid() || k.symmetric() || !validKeyID(k.kid) {
			t.Fatalf("accepted %v", k)
		}
		var m map[string]any
		if json.Unmarshal(b, &m) == nil {
			if use, ok := m["use"]; ok && use != "sig" {
				t.Fatalf("accepted a key with use %v", use)
			}
		}
	})
}
