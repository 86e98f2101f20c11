package token

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// b64 is the only base64 keyhole reads: the URL alphabet without padding,
// strict (non-zero trailing bits are an error, so every byte string has
// exactly one accepted encoding). The decoder silently skips '\r' and '\n';
// splitCompact rejects them before any decoding.
var b64 = base64.RawURLEncoding.Strict()

// maxHeaderLen bounds the encoded protected header. Ours is about 60 bytes.
const maxHeaderLen = 1024

// maxHeaderDepth is the nesting bound given to checkStrictJSONObject for the
// header, which is a flat object.
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
// (checked by checkStrictJSONObject: no duplicate keys, valid UTF-8, nothing
// after it) whose members are only "alg", "kid" and "typ", each a string,
// with typ equal to "JWT" (case-insensitively) when present.
func parseHeader(b []byte) (header, *TokenError) {
	var h header
	if err := checkStrictJSONObject(b, maxHeaderDepth); err != nil {
		return h, tokenError(ErrMalformed, "header is not a strict JSON object")
	}
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return h, tokenError(ErrMalformed, "header is not a JSON object")
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return h, tokenError(ErrAlgorithm, "no alg")
	}
	hasTyp := false
	for {
		key, n, ok := jsonString(b, i)
		if !ok {
			return h, tokenError(ErrMalformed, "bad header key")
		}
		i = skipWS(b, n)
		if i >= len(b) || b[i] != ':' {
			return h, tokenError(ErrMalformed, "bad header")
		}
		i = skipWS(b, i+1)
		switch key {
		case "alg", "kid", "typ":
		default:
			if why, refused := refusedHeaders[key]; refused {
				return h, tokenError(ErrMalformed, why)
			}
			return h, tokenError(ErrMalformed, "unsupported header parameter")
		}
		val, n, ok := jsonString(b, i)
		if !ok {
			return h, tokenError(ErrMalformed, "header "+key+" is not a string")
		}
		switch key {
		case "alg":
			if h.hasAlg {
				return h, tokenError(ErrMalformed, "duplicate header alg")
			}
			h.alg, h.hasAlg = val, true
		case "kid":
			if h.hasKID {
				return h, tokenError(ErrMalformed, "duplicate header kid")
			}
			h.kid, h.hasKID = val, true
		case "typ":
			if hasTyp {
				return h, tokenError(ErrMalformed, "duplicate header typ")
			}
			hasTyp = true
			if !strings.EqualFold(val, "JWT") {
				return h, tokenError(ErrMalformed, "typ is not JWT")
			}
		}
		i = skipWS(b, n)
		if i >= len(b) {
			return h, tokenError(ErrMalformed, "bad header")
		}
		if b[i] == '}' {
			break
		}
		if b[i] != ',' {
			return h, tokenError(ErrMalformed, "bad header")
		}
		i = skipWS(b, i+1)
	}
	if !h.hasAlg {
		return h, tokenError(ErrAlgorithm, "no alg")
	}
	return h, nil
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// jsonString reads the JSON string starting at b[i] and returns its value
// and the index after its closing quote. Strings without escapes are read
// directly; the rare string with escapes goes through encoding/json.
func jsonString(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	j := i + 1
	for j < len(b) && b[j] != '"' && b[j] != '\\' && b[j] >= 0x20 {
		j++
	}
	if j < len(b) && b[j] == '"' {
		if !utf8.Valid(b[i+1 : j]) {
			return "", 0, false
		}
		return string(b[i+1 : j]), j + 1, true
	}
	// Escapes: find the closing quote, then decode with encoding/json.
	for j < len(b) && b[j] != '"' {
		if b[j] < 0x20 {
			return "", 0, false
		}
		if b[j] == '\\' {
			j++
		}
		j++
	}
	if j >= len(b) {
		return "", 0, false
	}
	var s string
	if err := json.Unmarshal(b[i:j+1], &s); err != nil || !utf8.ValidString(s) {
		return "", 0, false
	}
	return s, j + 1, true
}
