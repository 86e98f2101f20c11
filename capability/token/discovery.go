package token

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/keyhole-go/keyhole/internal/strictjson"
	"io"
	"net/http"
	"strings"
)

// ErrDiscovery is returned by NewVerifier when the OpenID Connect discovery
// document of VerifierOptions.Issuer cannot be fetched or is not usable.
var ErrDiscovery = errors.New("token: OpenID discovery")

// MaxDiscoveryBody caps the body of a discovery document, in bytes. The
// documents of the large providers are a few KiB.
const MaxDiscoveryBody = 64 << 10

// maxDiscoveryDepth bounds the nesting of a discovery document (it is a flat
// object of strings and string arrays, with the odd object such as
// mtls_endpoint_aliases).
const maxDiscoveryDepth = 8

// discoveryPath is appended to the issuer (OpenID Connect Discovery 1.0 §4).
const discoveryPath = "/.well-known/openid-configuration"

// discoverJWKSURL fetches the discovery document of opts.Issuer and returns
// its jwks_uri, following the rules stated on VerifierOptions.Discovery.
func discoverJWKSURL(ctx context.Context, opts VerifierOptions) (string, error) {
	u, err := fetchURL(opts.Issuer)
	if err != nil {
		return "", fmt.Errorf("%w: VerifierOptions.Issuer %w", ErrDiscovery, err)
	}
	if u.RawQuery != "" || u.ForceQuery {
		return "", fmt.Errorf("%w: VerifierOptions.Issuer has a query", ErrDiscovery)
	}
	// §4: "any terminating / MUST be removed before appending".
	target := strings.TrimSuffix(opts.Issuer, "/") + discoveryPath
	hc, _ := fetchClient(opts.HTTPClient)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrDiscovery, err)
	}
	req.Header.Set("Accept", "application/json")
	res, err := (&capClient{c: hc, max: MaxDiscoveryBody}).Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: fetching %s: %w", ErrDiscovery, discoveryPath, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%w: %s answered HTTP %d", ErrDiscovery, discoveryPath, res.StatusCode)
	}
	body, err := io.ReadAll(res.Body) // capped by capClient: an error past MaxDiscoveryBody
	if err != nil {
		return "", fmt.Errorf("%w: reading the document: %w", ErrDiscovery, err)
	}
	jwksURI, err := parseDiscovery(body, opts.Issuer)
	if err != nil {
		return "", err
	}
	if _, err := fetchURL(jwksURI); err != nil {
		return "", fmt.Errorf("%w: jwks_uri %w", ErrDiscovery, err)
	}
	return jwksURI, nil
}

// parseDiscovery reads a discovery document, which is untrusted: it must be
// one strict JSON object (valid UTF-8, no duplicate member at any depth,
// bounded nesting, nothing after it) whose "issuer" is a string equal to
// issuer, byte for byte, and whose "jwks_uri" is a non-empty string. Member
// names are matched exactly (encoding/json alone would match "ISSUER").
// It returns jwks_uri.
func parseDiscovery(body []byte, issuer string) (string, error) {
	if len(body) > MaxDiscoveryBody {
		return "", fmt.Errorf("%w: document exceeds %d bytes", ErrDiscovery, MaxDiscoveryBody)
	}
	if err := strictjson.CheckObject(body, maxDiscoveryDepth); err != nil {
		return "", fmt.Errorf("%w: the document is not a strict JSON object", ErrDiscovery)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("%w: the document is not a JSON object", ErrDiscovery)
	}
	str := func(name string) (string, error) {
		raw, ok := doc[name]
		if !ok {
			return "", fmt.Errorf("%w: the document has no %q", ErrDiscovery, name)
		}
		var s string
		if !bytes.HasPrefix(raw, []byte(`"`)) || json.Unmarshal(raw, &s) != nil || s == "" {
			return "", fmt.Errorf("%w: %q is not a non-empty string", ErrDiscovery, name)
		}
		return s, nil
	}
	iss, err := str("issuer")
	if err != nil {
		return "", err
	}
	if iss != issuer {
		// OpenID Connect Discovery 1.0 §4.3: exactly, no normalisation.
		return "", fmt.Errorf("%w: the document's issuer is not VerifierOptions.Issuer", ErrDiscovery)
	}
	return str("jwks_uri")
}
