// Package oidctest_test runs a real OpenID provider (zitadel/oidc v3's op
// package) on a loopback server and sends its tokens through keyhole: OpenID
// discovery, the JWKS cache, the claim mapping, the middleware and guarded
// statements on a real PostgreSQL. It is a package of its own so that the
// provider library and the database are linked only into this test binary.
package oidctest_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/middleware"
	"github.com/keyhole-go/keyhole/sqlguard"
)

func TestMain(m *testing.M) { testdb.Main(m) }

const (
	apiAudience = "forum-api"
	schema      = `
		create table groups (id bigint primary key, name text not null);
		create table threads (
			id bigserial primary key,
			group_id bigint not null references groups(id),
			title text not null,
			created_by text not null
		);
		insert into groups values (7, 'seven'), (8, 'eight'), (9, 'nine');
	`
)

// roles is the one hierarchy of the verifiers and the registry (a
// capability is checked against the very hierarchy it was built for).
var roles = capability.MustChain("member", "moderator")

// provider is a zitadel OpenID provider on a loopback httptest server.
type provider struct {
	srv    *httptest.Server
	issuer string
	store  *opStorage
}

func startProvider(t *testing.T, store *opStorage) *provider {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	cfg := &op.Config{CryptoKey: sha256.Sum256([]byte(t.Name()))}
	h, err := op.NewProvider(cfg, store, op.StaticIssuer(issuer), op.WithAllowInsecure(),
		op.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	return &provider{srv: srv, issuer: issuer, store: store}
}

// token runs the client_credentials grant for client id at the provider
// and returns its JWT access token.
func (p *provider) token(t *testing.T, id string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"forum"}}
	req, err := http.NewRequest(http.MethodPost, p.issuer+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, "secret-"+id)
	res, err := p.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("token endpoint: %d %s", res.StatusCode, body)
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.AccessToken == "" {
		t.Fatalf("token response %s: %v", body, err)
	}
	return out.AccessToken
}

// header returns the alg and kid of a compact JWS.
func header(t *testing.T, tok string) (alg, kid string) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(tok[:strings.IndexByte(tok, '.')])
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Alg, Kid string }
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h.Alg, h.Kid
}

// The provider's test keys: one RSA key serves the six RSA algorithms under
// six key ids (RSA generation is slow under -race); each is pinned to its
// algorithm by its JWK's "alg".
type keyMaker struct {
	rsa *rsa.PrivateKey
	ec  map[elliptic.Curve]*ecdsa.PrivateKey
	ed  ed25519.PrivateKey
}

func newKeyMaker(t *testing.T) *keyMaker {
	t.Helper()
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	km := &keyMaker{rsa: r, ec: map[elliptic.Curve]*ecdsa.PrivateKey{}}
	if _, km.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		if km.ec[c], err = ecdsa.GenerateKey(c, rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	return km
}

func (km *keyMaker) key(alg jose.SignatureAlgorithm, kid string) *opKey {
	switch alg {
	case jose.ES256:
		return &opKey{id: kid, alg: alg, priv: km.ec[elliptic.P256()]}
	case jose.ES384:
		return &opKey{id: kid, alg: alg, priv: km.ec[elliptic.P384()]}
	case jose.ES512:
		return &opKey{id: kid, alg: alg, priv: km.ec[elliptic.P521()]}
	case jose.EdDSA:
		return &opKey{id: kid, alg: alg, priv: km.ed}
	}
	return &opKey{id: kid, alg: alg, priv: km.rsa}
}

// api is the resource server: the middleware in front of two guarded
// statements, on a real PostgreSQL.
type api struct {
	srv *httptest.Server
	v   *token.Verifier
}

func startAPI(t *testing.T, v *token.Verifier) *api {
	t.Helper()
	db := testdb.New(t, schema)
	reg := sqlguard.MustNewRegistry(roles, capability.KindInt64)
	create := reg.MustInsert(sqlguard.Policy{
		Name: "threads.create", Table: "threads",
		Role: "member", GroupColumn: "group_id",
		Columns: []string{"group_id", "title"}, SubjectColumn: "created_by",
		Returning: []string{"id"},
	})
	remove := reg.MustDelete(sqlguard.Policy{
		Name: "threads.delete", Table: "threads", Key: []string{"id"},
		Role: "moderator", ReadRole: "member", GroupColumn: "group_id",
	})
	auth, err := middleware.New(v, middleware.Options{Realm: "forum"})
	if err != nil {
		t.Fatal(err)
	}
	status := func(w http.ResponseWriter, err error) {
		switch {
		case errors.Is(err, sqlguard.ErrDenied):
			w.WriteHeader(http.StatusForbidden)
		case errors.Is(err, sqlguard.ErrNotFound):
			w.WriteHeader(http.StatusNotFound)
		default:
			t.Errorf("guarded statement: %v", err)
			w.WriteHeader(http.StatusInternalServerError)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /groups/{group}/threads", func(w http.ResponseWriter, r *http.Request) {
		c, _ := capability.FromContext(r.Context())
		g, err := capability.ParseGroup(capability.KindInt64, r.PathValue("group"))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var id int64
		if err := create.QueryRow(r.Context(), db.Pool, c, g, "hello").Scan(&id); err != nil {
			status(w, err)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, id)
	})
	mux.HandleFunc("DELETE /threads/{id}", func(w http.ResponseWriter, r *http.Request) {
		c, _ := capability.FromContext(r.Context())
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if err := remove.Exec(r.Context(), db.Pool, c, id); err != nil {
			status(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(auth.Handler(mux))
	t.Cleanup(srv.Close)
	return &api{srv: srv, v: v}
}

// call sends method path with tok and returns the status and body.
func (a *api) call(t *testing.T, method, path, tok string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, a.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := a.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// expect asserts the status of method path with tok and returns the body.
func (a *api) expect(t *testing.T, step, method, path, tok string, want int) string {
	t.Helper()
	got, body := a.call(t, method, path, tok)
	if got != want {
		t.Errorf("%s: %s %s: got %d %q, want %d", step, method, path, got, body, want)
	}
	return body
}

// refused asserts that the verifier refuses tok for reason, and the API
// with 401.
func (a *api) refused(t *testing.T, step, tok string, reason error) {
	t.Helper()
	if _, err := a.v.Verify(context.Background(), tok); !errors.Is(err, reason) {
		t.Errorf("%s: Verify: got %v, want %v", step, err, reason)
	}
	a.expect(t, step, "POST", "/groups/7/threads", tok, http.StatusUnauthorized)
}

// The claims the provider puts in the subjects' access tokens, in the
// shapes identity providers emit: a flat "groups" array (Okta, Azure AD),
// and roles per group nested under resource_access.<client>.roles
// (Keycloak), as "role:group" strings or {"group", "role"} objects, next to
// the provider's own roles, which the mapping ignores.
var subjects = []struct {
	client, subject string
	audience        []string
	claims          map[string]any
}{
	{"alice-app", "alice", []string{apiAudience}, map[string]any{
		"groups":          []any{"7"},
		"resource_access": map[string]any{"forum": map[string]any{"roles": []any{"moderator:8", "offline_access"}}},
	}},
	{"bob-app", "bob", []string{apiAudience, "other-api"}, map[string]any{
		"groups":          []any{9},
		"resource_access": map[string]any{"forum": map[string]any{"roles": []any{map[string]any{"group": "7", "role": "moderator"}}}},
	}},
	{"carol-app", "carol", []string{apiAudience}, map[string]any{
		"groups": []any{}, "resource_access": map[string]any{"other": map[string]any{"roles": []any{"moderator:7"}}},
	}},
	{"mallory-app", "mallory", []string{"other-api"}, map[string]any{"groups": []any{"7", "8", "9"}}},
	{"dave-app", "dave", []string{apiAudience}, map[string]any{
		"groups": []any{"7"}, "resource_access": map[string]any{"forum": map[string]any{"roles": []any{"owner:7"}}},
	}},
	{"erin-app", "erin", []string{apiAudience}, map[string]any{"groups": "7"}},
}

// allAlgs are the algorithms go-jose signs with that keyhole verifies:
// all of keyhole's asymmetric ones.
var allAlgs = []token.Algorithm{token.RS256, token.RS384, token.RS512, token.PS256, token.PS384, token.PS512,
	token.ES256, token.ES384, token.ES512, token.EdDSA}

func TestRealProvider(t *testing.T) {
	ctx := context.Background()
	km := newKeyMaker(t)
	store := newOPStorage()
	store.rotate(km.key(jose.RS256, "k0-RS256"))
	for _, s := range subjects {
		store.addClient(&opClient{id: s.client, secret: "secret-" + s.client, subject: s.subject, audience: s.audience}, s.claims)
	}
	idp := startProvider(t, store)

	v, err := token.NewVerifier(ctx, token.VerifierOptions{
		Issuer: idp.issuer, Audience: apiAudience, Algorithms: allAlgs, Discovery: true,
		Roles: roles, Kind: capability.KindInt64,
		Mapping: &token.ClaimMapping{
			GroupsClaim: "groups", DefaultRole: "member",
			RolesPath: []string{"resource_access", "forum", "roles"}, IgnoreOtherRoles: true,
		},
	})
	if err != nil {
		t.Fatalf("NewVerifier through discovery: %v", err)
	}
	defer v.Close()
	a := startAPI(t, v)

	// alice: member of 7 (groups), moderator of 8 (nested role).
	first := idp.token(t, "alice-app")
	if alg, kid := header(t, first); alg != "RS256" || kid != "k0-RS256" {
		t.Fatalf("first token: alg %s kid %s", alg, kid)
	}
	c, err := v.Verify(ctx, first)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.Subject() != "alice" || !c.Has("member", capability.Int64Group(7)) || !c.Has("moderator", capability.Int64Group(8)) ||
		c.Has("moderator", capability.Int64Group(7)) || c.Has("member", capability.Int64Group(9)) {
		t.Errorf("alice's capability: %v", c.Grants())
	}
	in7 := a.expect(t, "alice creates in 7", "POST", "/groups/7/threads", first, http.StatusCreated)
	in8 := a.expect(t, "alice creates in 8 (moderator includes member)", "POST", "/groups/8/threads", first, http.StatusCreated)
	a.expect(t, "alice creates in 9", "POST", "/groups/9/threads", first, http.StatusForbidden)
	a.expect(t, "alice deletes in 7 (member only)", "DELETE", "/threads/"+in7, first, http.StatusForbidden)
	a.expect(t, "alice deletes in 8 (moderator)", "DELETE", "/threads/"+in8, first, http.StatusNoContent)

	// bob: member of 9 (groups as JSON numbers), moderator of 7 (object entry).
	bob := idp.token(t, "bob-app")
	a.expect(t, "bob creates in 9", "POST", "/groups/9/threads", bob, http.StatusCreated)
	a.expect(t, "bob creates in 8", "POST", "/groups/8/threads", bob, http.StatusForbidden)
	a.expect(t, "bob deletes alice's thread in 7", "DELETE", "/threads/"+in7, bob, http.StatusNoContent)

	// carol: no groups, and a role for another client: nothing.
	carol := idp.token(t, "carol-app")
	a.expect(t, "carol creates in 7", "POST", "/groups/7/threads", carol, http.StatusForbidden)

	// A role the hierarchy does not know, or a groups claim of the wrong
	// shape, refuses the whole token (never coerced, never skipped).
	a.refused(t, "unknown role", idp.token(t, "dave-app"), token.ErrClaims)
	a.refused(t, "groups not an array", idp.token(t, "erin-app"), token.ErrClaims)

	// mallory's token is for another audience.
	a.refused(t, "wrong audience", idp.token(t, "mallory-app"), token.ErrAudience)

	// Each algorithm the provider signs with: rotate at the provider, then
	// refresh. Tokens of earlier keys keep verifying while published.
	prev := first
	for _, alg := range allAlgs {
		t.Run(string(alg), func(t *testing.T) {
			kid := "k1-" + string(alg)
			store.rotate(km.key(jose.SignatureAlgorithm(alg), kid))
			if err := v.Refresh(ctx); err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			tok := idp.token(t, "alice-app")
			if gotAlg, gotKid := header(t, tok); gotAlg != string(alg) || gotKid != kid {
				t.Fatalf("token header: alg %s kid %s", gotAlg, gotKid)
			}
			a.expect(t, "new key", "POST", "/groups/7/threads", tok, http.StatusCreated)
			a.expect(t, "new key, other group", "POST", "/groups/9/threads", tok, http.StatusForbidden)
			a.expect(t, "previous key, still published", "POST", "/groups/8/threads", prev, http.StatusCreated)
			prev = tok
		})
	}

	// A new key without an explicit refresh: the first unknown kid makes
	// the verifier fetch the JWKS at once.
	store.rotate(km.key(jose.ES256, "k2-ES256"))
	a.expect(t, "unknown kid refreshes", "POST", "/groups/7/threads", idp.token(t, "alice-app"), http.StatusCreated)

	// The provider stops publishing the first key: after the refresh its
	// tokens are refused, the current key's are not.
	store.unpublish("k0-RS256")
	if err := v.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	a.refused(t, "unpublished key", first, token.ErrUnknownKey)
	a.expect(t, "current key after the removal", "POST", "/groups/7/threads", idp.token(t, "alice-app"), http.StatusCreated)

	// Another issuer with the very same keys and clients: refused on iss.
	other := startProvider(t, store)
	a.refused(t, "another issuer, same keys", other.token(t, "alice-app"), token.ErrIssuer)

	// Another provider with keys of its own: refused on the key.
	stranger := newOPStorage()
	stranger.rotate(newKeyMaker(t).key(jose.ES256, "k2-ES256")) // even the same kid
	stranger.addClient(&opClient{id: "alice-app", secret: "secret-alice-app", subject: "alice", audience: []string{apiAudience}}, subjects[0].claims)
	a.refused(t, "another provider's key under a known kid", startProvider(t, stranger).token(t, "alice-app"), token.ErrBadSignature)

	// A verifier built from the other provider's discovery document does
	// not accept this provider's tokens either.
	v2, err := token.NewVerifier(ctx, token.VerifierOptions{
		Issuer: other.issuer, Audience: apiAudience, Algorithms: allAlgs, Discovery: true,
		Roles: roles, Kind: capability.KindInt64,
		Mapping: &token.ClaimMapping{GroupsClaim: "groups", DefaultRole: "member"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v2.Close()
	if _, err := v2.Verify(ctx, idp.token(t, "alice-app")); !errors.Is(err, token.ErrIssuer) {
		t.Errorf("the other issuer's verifier: got %v, want ErrIssuer", err)
	}
}

// TestRealProviderDiscoveryIssuer: the provider's discovery document names
// its issuer without a trailing slash; a verifier configured with one is
// refused (exact comparison).
func TestRealProviderDiscoveryIssuer(t *testing.T) {
	store := newOPStorage()
	store.rotate(newKeyMaker(t).key(jose.ES384, "k"))
	idp := startProvider(t, store)
	_, err := token.NewVerifier(context.Background(), token.VerifierOptions{
		Issuer: idp.issuer + "/", Audience: apiAudience, Algorithms: allAlgs, Discovery: true,
		Roles: capability.MustChain("member"), Kind: capability.KindInt64,
	})
	if !errors.Is(err, token.ErrDiscovery) {
		t.Errorf("issuer with a trailing slash: got %v, want ErrDiscovery", err)
	}
}
