package token

import (
	"encoding/base64"
	"github.com/keyhole-go/keyhole/internal/strictjson"
	"strings"
)

// b64 is the only base64 keyhole reads: the URL alphabet without padding,
// strict (non-zero trailing bits are an error, so every byte string has
// exactly one accepted encoding). The decoder silently skips '\r' and '\n';
// splitCompact rejects them before any decoding.
var b64 = base64.RawURLEncoding.Strict()

// maxHeaderLen bounds the encoded protected header. Ours is about 60 bytes.
const maxHeaderLen = 1024

// maxHeaderDepth bounds the nesting of the header, which is a flat object
// (the object itself is depth 1).
const maxHeaderDepth = 2

// splitCompact splits a compact JWS into its three encoded parts. It accepts
// nothing else: no JSON serialization, no JWE (five parts), no line breaks.
func splitCompact(token string) (hdr, payload, sig string, te *TokenError) {
	if token == "" {
		return "", "", "", tokenError(ErrMalformed, "empty token")
	}
	if token[0] == '{' {
		return "", "", "", tokenError(ErrMalformed, "JSON serialization is not accepted")
	}
	if strings.IndexByte(token, '\n') >= 0 || strings.IndexByte(token, '\r') >= 0 {
		return "", "", "", tokenError(ErrMalformed, "line break in token")
	}
	i := strings.IndexByte(token, '.')
	if i < 0 {
		return "", "", "", tokenError(ErrMalformed, "not a compact JWS")
	}
	j := strings.IndexByte(token[i+1:], '.')
	if j < 0 {
		return "", "", "", tokenError(ErrMalformed, "not a compact JWS")
	}
	j += i + 1
	if k := strings.IndexByte(token[j+1:], '.'); k >= 0 {
		if strings.Count(token, ".") == 4 {
			return "", "", "", tokenError(ErrMalformed, "JWE is not accepted")
		}
		return "", "", "", tokenError(ErrMalformed, "not a compact JWS")
	}
	hdr, payload, sig = token[:i], token[i+1:j], token[j+1:]
	// An empty signature (alg "none") is refused later, by the algorithm
	// check or the signature length.
	if hdr == "" || payload == "" {
		return "", "", "", tokenError(ErrMalformed, "empty part")
	}
	if len(hdr) > maxHeaderLen {
		return "", "", "", tokenError(ErrMalformed, "header too long")
	}
	return hdr, payload, sig, nil
}

// header is the decoded protected header. Only alg, kid and typ are
// accepted; every other parameter is refused.
type header struct {
	alg    string
	kid    string
	hasAlg bool
	hasKID bool
}

// refusedHeaders are parameters that keyhole never honours, with why. A
// key or key location in the token (jwk, jku, x5u, x5c, x5t) would let the
// token choose its own verification key; crit, b64, cty, enc and zip change
// how the token is read (critical extensions, unencoded payloads, nested
// tokens, JWE, compression).
var refusedHeaders = map[string]string{
	"jwk":      "embedded key (jwk) is not accepted",
	"jku":      "key URL (jku) is not accepted",
	"x5u":      "certificate URL (x5u) is not accepted",
	"x5c":      "certificate chain (x5c) is not accepted",
	"x5t":      "certificate thumbprint (x5t) is not accepted",
	"x5t#S256": "certificate thumbprint (x5t#S256) is not accepted",
	"crit":     "critical header (crit) is not accepted",
	"b64":      "unencoded payload (b64) is not accepted",
	"cty":      "nested token (cty) is not accepted",
	"enc":      "JWE (enc) is not accepted",
	"zip":      "compression (zip) is not accepted",
}

// parseHeader reads the decoded protected header b: a strict JSON object
// (no duplicate keys, valid UTF-8, nesting at most maxHeaderDepth, nothing
// after it) whose members are only "alg", "kid" and "typ", each a string,
// with typ equal to "JWT" (case-insensitively) when present. It reads the
// header in one pass; a header that is not strict JSON is reported as such
// before any refused parameter in it.
func parseHeader(b []byte) (header, *TokenError) {
	var h header
	s := strictjson.Scanner{Data: b, MaxDepth: maxHeaderDepth}
	if s.Next() != '{' {
		return h, tokenError(ErrMalformed, "header is not a strict JSON object")
	}
	var refusal *TokenError // the first refusal, reported once the JSON is known to be strict
	refuse := func(reason error, detail string) {
		if refusal == nil {
			refusal = tokenError(reason, detail)
		}
	}
	err := s.Object(func(k []byte) error {
		key := string(k)
		switch key {
		case "alg", "kid", "typ":
		default:
			if why, refused := refusedHeaders[key]; refused {
				refuse(ErrMalformed, why)
			} else {
				refuse(ErrMalformed, "unsupported header parameter")
			}
			return s.SkipValue(1)
		}
		if s.Peek() != '"' {
			refuse(ErrMalformed, "header "+key+" is not a string")
			return s.SkipValue(1)
		}
		raw, err := s.Bytes()
		if err != nil {
			return err
		}
		switch key {
		case "alg":
			h.alg, h.hasAlg = string(raw), true
		case "kid":
			h.kid, h.hasKID = string(raw), true
		case "typ":
			if !strings.EqualFold(string(raw), "JWT") {
				refuse(ErrMalformed, "typ is not JWT")
			}
		}
		return nil
	})
	if err == nil {
		err = s.End()
	}
	if err != nil {
		return header{}, tokenError(ErrMalformed, "header is not a strict JSON object")
	}
	if refusal != nil {
		return header{}, refusal
	}
	if !h.hasAlg {
		return h, tokenError(ErrAlgorithm, "no alg")
	}
	return h, nil
}
