package tokenserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
	"github.com/keyhole-go/keyhole/middleware"
	"github.com/keyhole-go/keyhole/tokenserver"
)

// The exchange tests run through a real issuer and real verifiers (static
// Ed25519 key, injected clock): the security claims are proven by the
// tokens the exchange actually signs.
const (
	xchIssuer    = "https://auth.example"
	xchUserAud   = "forum"
	xchStats     = "plugin.stats" // approved: member
	xchMod       = "plugin.mod"   // approved: moderator
	xchHello     = "plugin.hello" // approved: member, AllowEmpty
	xchTokenType = "urn:ietf:params:oauth:token-type:jwt"
)

var xchT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type xchFixture struct {
	roles  *capability.Roles
	key    *token.SigningKey
	issuer *token.Issuer
	user   *token.Verifier // audience xchUserAud
	ex     *tokenserver.TokenExchange
	logs   *xchLog

	mu  sync.Mutex
	now time.Time
}

func (f *xchFixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *xchFixture) setNow(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = t
}

func xchForumRoles(t testing.TB) *capability.Roles {
	t.Helper()
	r, err := capability.Chain("member", "moderator")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// newXchFixture builds an issuer, a verifier for the users' audience, and
// an exchange with the three plugin audiences; opts may change the
// exchange's options before it is built.
func newXchFixture(t testing.TB, roles *capability.Roles, opts func(*tokenserver.TokenExchangeOptions)) *xchFixture {
	t.Helper()
	if roles == nil {
		roles = xchForumRoles(t)
	}
	f := &xchFixture{roles: roles, now: xchT0, logs: &xchLog{}}
	var err error
	if f.key, err = token.GenerateKey(token.EdDSA, "k1"); err != nil {
		t.Fatal(err)
	}
	f.issuer, err = token.NewIssuer(token.IssuerOptions{
		Issuer: xchIssuer, Roles: roles, Kind: capability.KindInt64, Key: f.key, Now: f.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.user = f.verifier(t, xchUserAud)
	o := tokenserver.TokenExchangeOptions{
		Verifier: f.user,
		Issuer:   f.issuer,
		Audiences: map[string]tokenserver.AudiencePolicy{
			xchStats: {Roles: []string{"member"}},
			xchMod:   {Roles: []string{"moderator"}},
			xchHello: {Roles: []string{"member"}, AllowEmpty: true},
		},
		Now:    f.clock,
		Logger: slog.New(slog.NewJSONHandler(f.logs, nil)),
	}
	if opts != nil {
		opts(&o)
	}
	if f.ex, err = tokenserver.NewTokenExchange(o); err != nil {
		t.Fatal(err)
	}
	return f
}

// verifier returns a real verifier of f's issuer for audience aud.
func (f *xchFixture) verifier(t testing.TB, aud string) *token.Verifier {
	t.Helper()
	v, err := token.NewVerifier(context.Background(), token.VerifierOptions{
		Issuer: xchIssuer, Audience: aud, Algorithms: []token.Algorithm{token.EdDSA},
		Keys: f.issuer.PublicKeys(), Roles: f.roles, Kind: capability.KindInt64, Now: f.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// userToken mints a token for the users' audience, 15 minutes unless p says.
func (f *xchFixture) userToken(t testing.TB, p capability.Params) string {
	t.Helper()
	if p.Audience == nil {
		p.Audience = []string{xchUserAud}
	}
	tok, err := f.issuer.Mint(p)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func xg(role string, g int64) capability.Grant {
	return capability.Grant{Group: capability.Int64Group(g), Role: role}
}

// xchForm is a well-formed exchange request body.
func xchForm(tok, aud string) url.Values {
	return url.Values{
		"grant_type":         {tokenserver.GrantTypeTokenExchange},
		"subject_token":      {tok},
		"subject_token_type": {xchTokenType},
		"audience":           {aud},
	}
}

// xchRequest is a POST of body as a form, to /token.
func xchRequest(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func (f *xchFixture) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.ex.ServeHTTP(w, r)
	return w
}

type xchResponse struct {
	AccessToken     string `json:"access_token"`
	IssuedTokenType string `json:"issued_token_type"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
}

// xchOK checks a successful answer and returns its body.
func xchOK(t *testing.T, w *httptest.ResponseRecorder) xchResponse {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status: got %d, want 200 (body %q)", w.Code, w.Body.String())
	}
	xchHeaders(t, w)
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	var resp xchResponse
	if err := dec.Decode(&resp); err != nil {
		t.Fatalf("body: %v", err)
	}
	if resp.IssuedTokenType != xchTokenType || resp.TokenType != "Bearer" || resp.AccessToken == "" {
		t.Errorf("answer: got %+v, want a Bearer JWT", resp)
	}
	return resp
}

func xchHeaders(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	for k, want := range map[string]string{
		"Content-Type":           "application/json",
		"Cache-Control":          "no-store",
		"Pragma":                 "no-cache",
		"X-Content-Type-Options": "nosniff",
	} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s: got %q, want %q", k, got, want)
		}
	}
}

// xchRefused checks an error answer: the status, and a body that is
// exactly {"error":code}.
func xchRefused(t *testing.T, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if w.Code != status {
		t.Errorf("status: got %d, want %d", w.Code, status)
	}
	if got, want := w.Body.String(), `{"error":"`+code+`"}`+"\n"; got != want {
		t.Errorf("body: got %q, want %q", got, want)
	}
	xchHeaders(t, w)
}

// xchLog collects JSON log records.
type xchLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *xchLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *xchLog) take(t *testing.T) (raw string, recs []map[string]any) {
	t.Helper()
	l.mu.Lock()
	raw = l.buf.String()
	l.buf.Reset()
	l.mu.Unlock()
	for _, line := range strings.Split(strings.TrimSpace(raw), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		recs = append(recs, m)
	}
	return raw, recs
}

// TestExchangeHappyPath exchanges a user's token (member in 1, moderator
// in 2, admin) for plugin.stats (approved: member) and decodes the issued
// token with a real verifier for the plugin's audience.
func TestExchangeHappyPath(t *testing.T) {
	f := newXchFixture(t, nil, nil)
	userTok := f.userToken(t, capability.Params{Subject: "alice", Admin: true,
		Grants: []capability.Grant{xg("member", 1), xg("moderator", 2)}})
	userCap, err := f.user.Verify(context.Background(), userTok)
	if err != nil {
		t.Fatal(err)
	}

	resp := xchOK(t, f.serve(xchRequest(xchForm(userTok, xchStats).Encode())))
	if resp.ExpiresIn != 300 {
		t.Errorf("expires_in: got %d, want 300", resp.ExpiresIn)
	}
	c, err := f.verifier(t, xchStats).Verify(context.Background(), resp.AccessToken)
	if err != nil {
		t.Fatalf("the plugin's verifier refuses the exchanged token: %v", err)
	}
	if got, want := c.Grants(), []capability.Grant{xg("member", 1), xg("member", 2)}; !slices.Equal(got, want) {
		t.Errorf("grants: got %v, want %v", got, want)
	}
	if c.Admin() {
		t.Error("the exchanged token carries the admin flag")
	}
	if got := c.Audience(); !slices.Equal(got, []string{xchStats}) {
		t.Errorf("aud: got %q, want [%q]", got, xchStats)
	}
	if c.Subject() != "alice" || c.Issuer() != xchIssuer {
		t.Errorf("sub, iss: got %q, %q", c.Subject(), c.Issuer())
	}
	if want := xchT0.Add(tokenserver.DefaultExchangeTTL); !c.Expiry().Equal(want) {
		t.Errorf("exp: got %v, want %v", c.Expiry(), want)
	}
	if c.ID() == "" || c.ID() == userCap.ID() {
		t.Errorf("jti: got %q, want a new one (user's %q)", c.ID(), userCap.ID())
	}
	// The users' verifier refuses the plugin's token: it is not a user token.
	if _, err := f.user.Verify(context.Background(), resp.AccessToken); !errors.Is(err, token.ErrAudience) {
		t.Errorf("users' verifier on the plugin token: got %v, want ErrAudience", err)
	}
}

// TestExchangeApprovedModerator: approved moderator keeps a member grant
// as member (never raised) and a moderator grant as moderator.
func TestExchangeApprovedModerator(t *testing.T) {
	f := newXchFixture(t, nil, nil)
	tok := f.userToken(t, capability.Params{Subject: "bob", Grants: []capability.Grant{xg("member", 1), xg("moderator", 2)}})
	resp := xchOK(t, f.serve(xchRequest(xchForm(tok, xchMod).Encode())))
	c, err := f.verifier(t, xchMod).Verify(context.Background(), resp.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Grants(), []capability.Grant{xg("member", 1), xg("moderator", 2)}; !slices.Equal(got, want) {
		t.Errorf("grants: got %v, want %v", got, want)
	}
}

// TestExchangeAllowEmpty: a user with nothing for an audience gets a token
// without grants only where AllowEmpty says so, else 403 access_denied;
// an admin without grants is no exception (the flag is dropped).
func TestExchangeAllowEmpty(t *testing.T) {
	f := newXchFixture(t, nil, nil)
	nobody := f.userToken(t, capability.Params{Subject: "carol"})
	adminOnly := f.userToken(t, capability.Params{Subject: "root", Admin: true})

	for _, tok := range []string{nobody, adminOnly} {
		xchRefused(t, f.serve(xchRequest(xchForm(tok, xchStats).Encode())), http.StatusForbidden, "access_denied")

		resp := xchOK(t, f.serve(xchRequest(xchForm(tok, xchHello).Encode())))
		c, err := f.verifier(t, xchHello).Verify(context.Background(), resp.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Grants()) != 0 || c.Admin() {
			t.Errorf("AllowEmpty token: got grants %v admin %v, want none", c.Grants(), c.Admin())
		}
	}
}

// TestExchangeExpiryClamp: the exchanged token never outlives the subject
// token, and a subject token at (or within the verifier's skew past) its
// expiry is invalid_grant.
func TestExchangeExpiryClamp(t *testing.T) {
	f := newXchFixture(t, nil, nil)
	plugin := f.verifier(t, xchStats)
	grants := []capability.Grant{xg("member", 1)}

	short := f.userToken(t, capability.Params{Subject: "alice", Grants: grants, Expiry: xchT0.Add(2 * time.Minute)})
	resp := xchOK(t, f.serve(xchRequest(xchForm(short, xchStats).Encode())))
	if resp.ExpiresIn != 120 {
		t.Errorf("expires_in: got %d, want 120", resp.ExpiresIn)
	}
	c, err := plugin.Verify(context.Background(), resp.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if want := xchT0.Add(2 * time.Minute); !c.Expiry().Equal(want) {
		t.Errorf("exp: got %v, want the subject token's %v", c.Expiry(), want)
	}

	// Half a second later the subject token has 119.5 s left: exp stays
	// the subject's, expires_in rounds down.
	f.setNow(xchT0.Add(500 * time.Millisecond))
	resp = xchOK(t, f.serve(xchRequest(xchForm(short, xchStats).Encode())))
	if resp.ExpiresIn != 119 {
		t.Errorf("expires_in: got %d, want 119", resp.ExpiresIn)
	}
	if c, err = plugin.Verify(context.Background(), resp.AccessToken); err != nil || !c.Expiry().Equal(xchT0.Add(2*time.Minute)) {
		t.Errorf("exp: got %v (%v), want %v", c.Expiry(), err, xchT0.Add(2*time.Minute))
	}

	// Less than a second left, exactly at exp, and 10 s past exp (which the
	// verifier still accepts within its 30 s skew): refused.
	for _, now := range []time.Time{
		xchT0.Add(2*time.Minute - 500*time.Millisecond),
		xchT0.Add(2 * time.Minute),
		xchT0.Add(2*time.Minute + 10*time.Second),
	} {
		f.setNow(now)
		xchRefused(t, f.serve(xchRequest(xchForm(short, xchStats).Encode())), http.StatusBadRequest, "invalid_grant")
	}
	f.setNow(xchT0.Add(2*time.Minute + 10*time.Second))
	if _, err := f.user.Verify(context.Background(), short); err != nil {
		t.Fatalf("precondition: the verifier should accept a token 10 s past exp (skew): %v", err)
	}
}

// TestExchangeErrors is the table of refusals: status and exact body.
func TestExchangeErrors(t *testing.T) {
	f := newXchFixture(t, nil, nil)
	good := f.userToken(t, capability.Params{Subject: "alice", Grants: []capability.Grant{xg("member", 1)}})
	expired := f.userToken(t, capability.Params{Subject: "alice", Grants: []capability.Grant{xg("member", 1)},
		Expiry: xchT0.Add(time.Second)})
	pluginTok := f.userToken(t, capability.Params{Subject: "alice", Audience: []string{xchStats},
		Grants: []capability.Grant{xg("member", 1)}})
	noSub := f.userToken(t, capability.Params{Grants: []capability.Grant{xg("member", 1)}})
	nothing := f.userToken(t, capability.Params{Subject: "dave", Grants: nil})

	// A token from an issuer with the same name but another key.
	otherKey, err := token.GenerateKey(token.EdDSA, "k1")
	if err != nil {
		t.Fatal(err)
	}
	other, err := token.NewIssuer(token.IssuerOptions{Issuer: xchIssuer, Roles: f.roles,
		Kind: capability.KindInt64, Key: otherKey, Now: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	forged, err := other.Mint(capability.Params{Subject: "alice", Audience: []string{xchUserAud},
		Grants: []capability.Grant{xg("moderator", 1)}, Admin: true})
	if err != nil {
		t.Fatal(err)
	}

	with := func(tok, aud string, change func(url.Values)) string {
		v := xchForm(tok, aud)
		change(v)
		return v.Encode()
	}
	form := xchForm(good, xchStats).Encode()
	f.logs.take(t)
	type row struct {
		name   string
		req    func() *http.Request
		status int
		code   string
		reason string // the log's reason: the row fails for its own cause
	}
	post := func(body string) func() *http.Request { return func() *http.Request { return xchRequest(body) } }
	rows := []row{
		{"GET", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/token?"+form, nil) }, 405, "invalid_request", "method \"GET\""},
		{"PUT", func() *http.Request {
			r := xchRequest(form)
			r.Method = http.MethodPut
			return r
		}, 405, "invalid_request", "method \"PUT\""},
		{"JSON body", func() *http.Request {
			r := xchRequest(`{"grant_type":"` + tokenserver.GrantTypeTokenExchange + `"}`)
			r.Header.Set("Content-Type", "application/json")
			return r
		}, 415, "invalid_request", "media type"},
		{"no content type", func() *http.Request {
			r := xchRequest(form)
			r.Header.Del("Content-Type")
			return r
		}, 415, "invalid_request", "media type"},
		{"multipart", func() *http.Request {
			r := xchRequest(form)
			r.Header.Set("Content-Type", "multipart/form-data; boundary=x")
			return r
		}, 415, "invalid_request", "media type"},
		{"latin-1 charset", func() *http.Request {
			r := xchRequest(form)
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=iso-8859-1")
			return r
		}, 415, "invalid_request", "charset"},
		{"body over 16 KiB", post(form + "&pad=" + strings.Repeat("a", tokenserver.DefaultExchangeMaxBody)), 413, "invalid_request", "body too large"},
		{"malformed body", post(form + "&%zz=1"), 400, "invalid_request", "malformed body"},
		{"semicolon separator", post(strings.ReplaceAll(form, "&", ";")), 400, "invalid_request", "malformed body"},
		{"empty body", post(""), 400, "invalid_request", "missing grant_type"},
		{"repeated audience", post(form + "&audience=" + xchMod), 400, "invalid_request", "repeated parameter"},
		{"repeated same audience", post(form + "&audience=" + xchStats), 400, "invalid_request", "repeated parameter"},
		{"repeated subject_token", post(form + "&subject_token=" + good), 400, "invalid_request", "repeated parameter"},
		{"repeated grant_type", post(form + "&grant_type=" + url.QueryEscape(tokenserver.GrantTypeTokenExchange)), 400, "invalid_request", "repeated parameter"},
		{"missing grant_type", post(with(good, xchStats, func(v url.Values) { v.Del("grant_type") })), 400, "invalid_request", "missing grant_type"},
		{"other grant_type", post(with(good, xchStats, func(v url.Values) { v.Set("grant_type", "client_credentials") })), 400, "unsupported_grant_type", "grant_type"},
		{"missing subject_token", post(with(good, xchStats, func(v url.Values) { v.Del("subject_token") })), 400, "invalid_request", "missing subject_token"},
		{"empty subject_token", post(with("", xchStats, func(url.Values) {})), 400, "invalid_request", "missing subject_token"},
		{"missing subject_token_type", post(with(good, xchStats, func(v url.Values) { v.Del("subject_token_type") })), 400, "invalid_request", "missing subject_token_type"},
		{"id_token subject_token_type", post(with(good, xchStats, func(v url.Values) {
			v.Set("subject_token_type", "urn:ietf:params:oauth:token-type:id_token")
		})), 400, "invalid_request", "unsupported subject_token_type"},
		{"actor_token", post(with(good, xchStats, func(v url.Values) {
			v.Set("actor_token", good)
			v.Set("actor_token_type", xchTokenType)
		})), 400, "invalid_request", "delegation (actor_token) is not supported"},
		{"saml requested_token_type", post(with(good, xchStats, func(v url.Values) {
			v.Set("requested_token_type", "urn:ietf:params:oauth:token-type:saml2")
		})), 400, "invalid_request", "unsupported requested_token_type"},
		{"missing audience", post(with(good, xchStats, func(v url.Values) { v.Del("audience") })), 400, "invalid_request", "missing audience"},
		{"empty audience", post(with(good, "", func(url.Values) {})), 400, "invalid_request", "missing audience"},
		{"scope", post(with(good, xchStats, func(v url.Values) { v.Set("scope", "read") })), 400, "invalid_scope", "scope is not supported"},
		{"resource", post(with(good, xchStats, func(v url.Values) { v.Set("resource", "https://stats.example") })), 400, "invalid_target", "resource is not supported"},
		{"audience in the query string", func() *http.Request {
			r := xchRequest(with(good, xchStats, func(v url.Values) { v.Del("audience") }))
			r.URL.RawQuery = "audience=" + xchStats
			return r
		}, 400, "invalid_request", "parameter in the query string"},
		{"token in the query string", func() *http.Request {
			r := xchRequest(form)
			r.URL.RawQuery = "subject_token=" + good
			return r
		}, 400, "invalid_request", "parameter in the query string"},
		{"unknown audience", post(xchForm(good, "plugin.other").Encode()), 400, "invalid_target", "undeclared audience"},
		{"the users' own audience", post(xchForm(good, xchUserAud).Encode()), 400, "invalid_target", "undeclared audience"},
		{"garbage token", post(xchForm("not.a.token", xchStats).Encode()), 400, "invalid_grant", "malformed_token"},
		{"token of another key", post(xchForm(forged, xchStats).Encode()), 400, "invalid_grant", "bad_signature"},
		{"plugin token", post(xchForm(pluginTok, xchMod).Encode()), 400, "invalid_grant", "wrong_audience"},
		{"token without subject", post(xchForm(noSub, xchStats).Encode()), 400, "invalid_grant", "bad_claims"}, // the Verifier refuses it
		{"garbage token, unknown audience", post(xchForm("x", "plugin.other").Encode()), 400, "invalid_grant", "malformed_token"},
		{"nothing for the audience", post(xchForm(nothing, xchStats).Encode()), 403, "access_denied", "no grant within the approved roles"},
		{"expired token", func() *http.Request {
			f.setNow(xchT0.Add(time.Hour))
			return xchRequest(xchForm(expired, xchStats).Encode())
		}, 400, "invalid_grant", "expired"},
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			defer f.setNow(xchT0)
			w := f.serve(tc.req())
			xchRefused(t, w, tc.status, tc.code)
			if tc.status == 405 && w.Header().Get("Allow") != http.MethodPost {
				t.Errorf("Allow: got %q, want POST", w.Header().Get("Allow"))
			}
			if _, recs := f.logs.take(t); len(recs) != 1 || recs[0]["reason"] != tc.reason {
				t.Errorf("log: got %v, want one record with reason %q", recs, tc.reason)
			}
		})
	}
	// The good request itself is accepted: each row fails for its own reason.
	xchOK(t, f.serve(xchRequest(form)))
	// Unknown parameters are ignored (RFC 6749 §3.2), a charset of UTF-8 and
	// requested_token_type jwt or access_token are fine, and so is the
	// access_token subject_token_type.
	r := xchRequest(with(good, xchStats, func(v url.Values) {
		v.Set("client_id", "forum-web")
		v.Set("requested_token_type", "urn:ietf:params:oauth:token-type:access_token")
		v.Set("subject_token_type", "urn:ietf:params:oauth:token-type:access_token")
	}))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
	r.URL.RawQuery = "tenant=1"
	xchOK(t, f.serve(r))
}

// TestExchangeAudienceOnlyFromParameter: headers a browser controls never
// choose the audience.
func TestExchangeAudienceOnlyFromParameter(t *testing.T) {
	f := newXchFixture(t, nil, nil)
	tok := f.userToken(t, capability.Params{Subject: "alice", Grants: []capability.Grant{xg("moderator", 1)}})

	// No audience parameter, but every header names a declared audience.
	r := xchRequest(url.Values{
		"grant_type":         {tokenserver.GrantTypeTokenExchange},
		"subject_token":      {tok},
		"subject_token_type": {xchTokenType},
	}.Encode())
	r.Header.Set("Referer", "https://"+xchMod+"/settings")
	r.Header.Set("Origin", "https://"+xchMod)
	r.Header.Set("X-Audience", xchMod)
	r.Host = xchMod
	xchRefused(t, f.serve(r), http.StatusBadRequest, "invalid_request")

	// audience=plugin.stats while the headers say plugin.mod: the token is
	// for plugin.stats, with plugin.stats's approved role.
	r = xchRequest(xchForm(tok, xchStats).Encode())
	r.Header.Set("Referer", "https://"+xchMod+"/settings")
	r.Header.Set("Origin", "https://"+xchMod)
	r.Host = xchMod
	resp := xchOK(t, f.serve(r))
	c, err := f.verifier(t, xchStats).Verify(context.Background(), resp.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Audience(), []string{xchStats}) || !slices.Equal(c.Grants(), []capability.Grant{xg("member", 1)}) {
		t.Errorf("got aud %q grants %v, want [%s] and member in 1", c.Audience(), c.Grants(), xchStats)
	}
	if _, err := f.verifier(t, xchMod).Verify(context.Background(), resp.AccessToken); !errors.Is(err, token.ErrAudience) {
		t.Errorf("plugin.mod's verifier: got %v, want ErrAudience", err)
	}
}

// TestExchangeVerifierAudience: a real verifier configured for audience A
// rejects a token minted for audience B, with ErrAudience.
func TestExchangeVerifierAudience(t *testing.T) {
	f := newXchFixture(t, nil, nil)
	tok := f.userToken(t, capability.Params{Subject: "alice", Grants: []capability.Grant{xg("moderator", 1)}})
	for _, aud := range []string{xchStats, xchMod} {
		resp := xchOK(t, f.serve(xchRequest(xchForm(tok, aud).Encode())))
		for _, other := range []string{xchStats, xchMod, xchHello, xchUserAud} {
			_, err := f.verifier(t, other).Verify(context.Background(), resp.AccessToken)
			if other == aud {
				if err != nil {
					t.Errorf("verifier for %s on its own token: %v", other, err)
				}
				continue
			}
			if !errors.Is(err, token.ErrAudience) || !errors.Is(err, token.ErrInvalidToken) {
				t.Errorf("verifier for %s on a token for %s: got %v, want ErrAudience", other, aud, err)
			}
		}
	}
}

// xchAnyAudience accepts the tokens of either verifier: a misconfigured
// subject verifier that also accepts plugin tokens.
type xchAnyAudience []*token.Verifier

func (vs xchAnyAudience) Verify(ctx context.Context, tok string) (*capability.Capability, error) {
	var err error
	for _, v := range vs {
		var c *capability.Capability
		if c, err = v.Verify(ctx, tok); err == nil {
			return c, nil
		}
	}
	return nil, err
}

// TestExchangeNoWidening: a narrowed token cannot be exchanged back into a
// wider one. The exchange's verifier refuses it (wrong audience); and
// even a verifier that accepts plugin tokens only narrows further: the
// re-exchanged grants are within the presented token's, never the user's.
func TestExchangeNoWidening(t *testing.T) {
	f := newXchFixture(t, nil, nil)
	userTok := f.userToken(t, capability.Params{Subject: "alice", Admin: true,
		Grants: []capability.Grant{xg("moderator", 1), xg("moderator", 2)}})
	stats := xchOK(t, f.serve(xchRequest(xchForm(userTok, xchStats).Encode()))).AccessToken

	// 1. The plugin presents its token to the exchange, asking for the
	// moderator audience: refused, because it is not a user token.
	_, err := f.ex.Exchange(context.Background(), stats, xchMod)
	var xe *tokenserver.ExchangeError
	if !errors.As(err, &xe) || xe.Code != "invalid_grant" || xe.Status != 400 || !errors.Is(err, token.ErrAudience) {
		t.Fatalf("re-exchange of a plugin token: got %v, want invalid_grant wrapping token.ErrAudience", err)
	}
	xchRefused(t, f.serve(xchRequest(xchForm(stats, xchMod).Encode())), 400, "invalid_grant")

	// 2. Defense in depth: an exchange whose verifier accepts both the
	// users' and plugin.stats's tokens.
	lax, err := tokenserver.NewTokenExchange(tokenserver.TokenExchangeOptions{
		Verifier: xchAnyAudience{f.user, f.verifier(t, xchStats)},
		Issuer:   f.issuer, Now: f.clock,
		Audiences: map[string]tokenserver.AudiencePolicy{xchMod: {Roles: []string{"moderator"}}, xchStats: {Roles: []string{"member"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := lax.Exchange(context.Background(), stats, xchMod)
	if err != nil {
		t.Fatal(err)
	}
	want := []capability.Grant{xg("member", 1), xg("member", 2)} // the presented token's, not moderator
	if !slices.Equal(got.Grants, want) {
		t.Errorf("re-exchanged grants: got %v, want the presented token's %v", got.Grants, want)
	}
	c, err := f.verifier(t, xchMod).Verify(context.Background(), got.Token)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Grants(), want) || c.Admin() {
		t.Errorf("re-exchanged token: got grants %v admin %v, want %v and no admin", c.Grants(), c.Admin(), want)
	}
	if c.Has("moderator", capability.Int64Group(1)) {
		t.Error("re-exchange regained the user's moderator role")
	}
}

// TestExchangeNarrowingProperty runs random users and approved-role sets
// through the handler, on a diamond hierarchy: every minted grant is held
// by the user (through the hierarchy) and included in an approved role,
// and every role the user holds that an approved role includes is kept.
func TestExchangeNarrowingProperty(t *testing.T) {
	roles, err := capability.NewRoles(
		capability.RoleSpec{Name: "member"},
		capability.RoleSpec{Name: "editor", Includes: []string{"member"}},
		capability.RoleSpec{Name: "reviewer", Includes: []string{"member"}},
		capability.RoleSpec{Name: "moderator", Includes: []string{"editor", "reviewer"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	names := roles.Names()
	// One audience per non-empty subset of the roles.
	auds := map[string]tokenserver.AudiencePolicy{}
	approvedOf := map[string][]string{}
	for mask := 1; mask < 1<<len(names); mask++ {
		var approved []string
		for i, n := range names {
			if mask&(1<<i) != 0 {
				approved = append(approved, n)
			}
		}
		aud := fmt.Sprintf("plugin.%d", mask)
		auds[aud] = tokenserver.AudiencePolicy{Roles: approved, AllowEmpty: true}
		approvedOf[aud] = approved
	}
	f := newXchFixture(t, roles, func(o *tokenserver.TokenExchangeOptions) {
		o.Audiences = auds
		o.Logger = nil
	})
	verifiers := map[string]*token.Verifier{}

	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 0))
	for i := range 150 {
		var grants []capability.Grant
		for range rng.IntN(6) {
			grants = append(grants, xg(names[rng.IntN(len(names))], rng.Int64N(4)))
		}
		aud := fmt.Sprintf("plugin.%d", 1+rng.IntN(1<<len(names)-1))
		approved := approvedOf[aud]
		tok := f.userToken(t, capability.Params{Subject: "u", Grants: grants, Admin: rng.IntN(2) == 0})
		user, err := f.user.Verify(context.Background(), tok)
		if err != nil {
			t.Fatal(err)
		}
		w := f.serve(xchRequest(xchForm(tok, aud).Encode()))
		if w.Code != http.StatusOK {
			t.Fatalf("seed %d case %d: status %d %s", seed, i, w.Code, w.Body)
		}
		var resp xchResponse
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			t.Fatal(err)
		}
		if verifiers[aud] == nil {
			verifiers[aud] = f.verifier(t, aud)
		}
		c, err := verifiers[aud].Verify(context.Background(), resp.AccessToken)
		if err != nil {
			t.Fatalf("seed %d case %d: %v", seed, i, err)
		}
		if c.Admin() {
			t.Fatalf("seed %d case %d: admin flag survived", seed, i)
		}
		for _, mg := range c.Grants() {
			if !user.Has(mg.Role, mg.Group) {
				t.Fatalf("seed %d case %d: minted %v, user %v does not hold it", seed, i, mg, grants)
			}
			if !slices.ContainsFunc(approved, func(a string) bool { return roles.Includes(a, mg.Role) }) {
				t.Fatalf("seed %d case %d: minted %v above the approved %v", seed, i, mg, approved)
			}
		}
		for _, r := range names {
			approves := slices.ContainsFunc(approved, func(a string) bool { return roles.Includes(a, r) })
			for g := range int64(4) {
				if want := approves && user.Has(r, capability.Int64Group(g)); c.Has(r, capability.Int64Group(g)) != want {
					t.Fatalf("seed %d case %d: user %v approved %v: holds %s in %d = %v, want %v",
						seed, i, grants, approved, r, g, !want, want)
				}
			}
		}
	}
}

// TestNewTokenExchangeOptions: configuration errors are reported at
// construction, by field.
func TestNewTokenExchangeOptions(t *testing.T) {
	f := newXchFixture(t, nil, nil)
	base := func() tokenserver.TokenExchangeOptions {
		return tokenserver.TokenExchangeOptions{
			Verifier: f.user, Issuer: f.issuer,
			Audiences: map[string]tokenserver.AudiencePolicy{xchStats: {Roles: []string{"member"}}},
		}
	}
	for _, tc := range []struct {
		name   string
		change func(*tokenserver.TokenExchangeOptions)
		want   string // substring of the error; "" for success
	}{
		{"valid", func(*tokenserver.TokenExchangeOptions) {}, ""},
		{"no verifier", func(o *tokenserver.TokenExchangeOptions) { o.Verifier = nil }, "Verifier"},
		{"no issuer", func(o *tokenserver.TokenExchangeOptions) { o.Issuer = nil }, "Issuer"},
		{"no audiences", func(o *tokenserver.TokenExchangeOptions) { o.Audiences = nil }, "Audiences"},
		{"empty audience name", func(o *tokenserver.TokenExchangeOptions) {
			o.Audiences[""] = tokenserver.AudiencePolicy{Roles: []string{"member"}}
		}, "Audiences"},
		{"audience with a space", func(o *tokenserver.TokenExchangeOptions) {
			o.Audiences["plugin stats"] = tokenserver.AudiencePolicy{Roles: []string{"member"}}
		}, "Audiences"},
		{"audience too long", func(o *tokenserver.TokenExchangeOptions) {
			o.Audiences[strings.Repeat("a", 257)] = tokenserver.AudiencePolicy{Roles: []string{"member"}}
		}, "Audiences"},
		{"unknown role", func(o *tokenserver.TokenExchangeOptions) {
			o.Audiences[xchMod] = tokenserver.AudiencePolicy{Roles: []string{"owner"}}
		}, `"owner"`},
		{"reserved role none", func(o *tokenserver.TokenExchangeOptions) {
			o.Audiences[xchMod] = tokenserver.AudiencePolicy{Roles: []string{capability.RoleNone}}
		}, `"none"`},
		{"repeated role", func(o *tokenserver.TokenExchangeOptions) {
			o.Audiences[xchMod] = tokenserver.AudiencePolicy{Roles: []string{"member", "member"}}
		}, "twice"},
		{"no role without AllowEmpty", func(o *tokenserver.TokenExchangeOptions) {
			o.Audiences[xchMod] = tokenserver.AudiencePolicy{}
		}, "approves no role"},
		{"no role with AllowEmpty", func(o *tokenserver.TokenExchangeOptions) {
			o.Audiences[xchMod] = tokenserver.AudiencePolicy{AllowEmpty: true}
		}, ""},
		{"negative TTL", func(o *tokenserver.TokenExchangeOptions) { o.TTL = -time.Second }, "TTL"},
		{"TTL over the issuer's MaxTTL", func(o *tokenserver.TokenExchangeOptions) { o.TTL = 25 * time.Hour }, "MaxTTL"},
		{"TTL at the issuer's MaxTTL", func(o *tokenserver.TokenExchangeOptions) { o.TTL = token.DefaultMaxTTL }, ""},
		{"audience of the subject verifier", func(o *tokenserver.TokenExchangeOptions) {
			o.Audiences[xchUserAud] = tokenserver.AudiencePolicy{Roles: []string{"member"}}
		}, "Verifier's own"},
		{"audience of a verifier without Audience()", func(o *tokenserver.TokenExchangeOptions) {
			o.Verifier = xchFuncVerifier(f.user.Verify)
			o.Audiences[xchUserAud] = tokenserver.AudiencePolicy{Roles: []string{"member"}}
		}, ""},
		{"negative MaxBodyBytes", func(o *tokenserver.TokenExchangeOptions) { o.MaxBodyBytes = -1 }, "MaxBodyBytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base()
			tc.change(&o)
			ex, err := tokenserver.NewTokenExchange(o)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("got %v, want success", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want an error naming %s", err, tc.want)
			case tc.want != "" && ex != nil:
				t.Error("got an exchange with the error")
			}
		})
	}

	// The options' map is copied: changing it later changes nothing.
	o := base()
	ex, err := tokenserver.NewTokenExchange(o)
	if err != nil {
		t.Fatal(err)
	}
	o.Audiences[xchMod] = tokenserver.AudiencePolicy{Roles: []string{"moderator"}}
	tok := f.userToken(t, capability.Params{Subject: "alice", Grants: []capability.Grant{xg("moderator", 1)}})
	if _, err := ex.Exchange(context.Background(), tok, xchMod); err == nil {
		t.Error("an audience added to the options after construction was accepted")
	}
}

// TestExchangeZeroValue: a TokenExchange not built by NewTokenExchange
// fails closed.
func TestExchangeZeroValue(t *testing.T) {
	f := newXchFixture(t, nil, nil)
	tok := f.userToken(t, capability.Params{Subject: "alice", Grants: []capability.Grant{xg("member", 1)}})
	for _, ex := range []*tokenserver.TokenExchange{nil, {}} {
		w := httptest.NewRecorder()
		ex.ServeHTTP(w, xchRequest(xchForm(tok, xchStats).Encode()))
		xchRefused(t, w, 500, "server_error")
		var xe *tokenserver.ExchangeError
		if _, err := ex.Exchange(context.Background(), tok, xchStats); !errors.As(err, &xe) || xe.Code != "server_error" {
			t.Errorf("Exchange: got %v, want server_error", err)
		}
	}
}

// TestExchangeTTL: a configured TTL is used, and the issued lifetime is
// exactly it.
func TestExchangeTTL(t *testing.T) {
	f := newXchFixture(t, nil, func(o *tokenserver.TokenExchangeOptions) { o.TTL = time.Minute })
	tok := f.userToken(t, capability.Params{Subject: "alice", Grants: []capability.Grant{xg("member", 1)}})
	got, err := f.ex.Exchange(context.Background(), tok, xchStats)
	if err != nil {
		t.Fatal(err)
	}
	if want := xchT0.Add(time.Minute); !got.Expiry.Equal(want) || got.Subject != "alice" || got.Audience != xchStats {
		t.Errorf("got exp %v sub %q aud %q, want %v alice %s", got.Expiry, got.Subject, got.Audience, want, xchStats)
	}
	if resp := xchOK(t, f.serve(xchRequest(xchForm(tok, xchStats).Encode()))); resp.ExpiresIn != 60 {
		t.Errorf("expires_in: got %d, want 60", resp.ExpiresIn)
	}
}

// TestExchangeBrokenVerifier: a verifier that fails without judging the
// token is a server error, never invalid_grant, and its text stays out of
// the answer.
func TestExchangeBrokenVerifier(t *testing.T) {
	for _, tc := range []struct {
		name   string
		verify func(context.Context, string) (*capability.Capability, error)
		status int
		code   string
	}{
		{"error", func(context.Context, string) (*capability.Capability, error) {
			return nil, errors.New("jwks fetch failed: secret-detail")
		}, 500, "server_error"},
		{"deadline", func(context.Context, string) (*capability.Capability, error) {
			return nil, fmt.Errorf("secret-detail: %w", context.DeadlineExceeded)
		}, 503, "temporarily_unavailable"},
		{"nil, nil", func(context.Context, string) (*capability.Capability, error) { return nil, nil }, 500, "server_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newXchFixture(t, nil, func(o *tokenserver.TokenExchangeOptions) { o.Verifier = xchFuncVerifier(tc.verify) })
			w := f.serve(xchRequest(xchForm("tok", xchStats).Encode()))
			xchRefused(t, w, tc.status, tc.code)
			if strings.Contains(w.Body.String(), "secret-detail") {
				t.Error("the verifier's error text reached the client")
			}
			_, recs := f.logs.take(t)
			if len(recs) != 1 || recs[0]["level"] != "ERROR" || recs[0]["outcome"] != tc.code {
				t.Errorf("log: got %v, want one ERROR record with outcome %s", recs, tc.code)
			}
		})
	}

	// A verifier with another role hierarchy: its capability's roles do not
	// know the approved role; 500, no token.
	other, err := capability.Chain("reader")
	if err != nil {
		t.Fatal(err)
	}
	c, err := capability.New(other, capability.KindInt64, capability.Params{Subject: "alice", Expiry: xchT0.Add(time.Hour),
		Grants: []capability.Grant{xg("reader", 1)}})
	if err != nil {
		t.Fatal(err)
	}
	f := newXchFixture(t, nil, func(o *tokenserver.TokenExchangeOptions) {
		o.Verifier = xchFuncVerifier(func(context.Context, string) (*capability.Capability, error) { return c, nil })
	})
	xchRefused(t, f.serve(xchRequest(xchForm("tok", xchStats).Encode())), 500, "server_error")
}

type xchFuncVerifier func(context.Context, string) (*capability.Capability, error)

func (f xchFuncVerifier) Verify(ctx context.Context, tok string) (*capability.Capability, error) {
	return f(ctx, tok)
}

// TestExchangeLog: one record per exchange, with subject, audience and
// outcome, and never a token.
func TestExchangeLog(t *testing.T) {
	f := newXchFixture(t, nil, nil)
	tok := f.userToken(t, capability.Params{Subject: "alice", Grants: []capability.Grant{xg("member", 1), xg("member", 2)}})
	pluginTok := f.userToken(t, capability.Params{Subject: "mallory", Audience: []string{xchStats}, Grants: []capability.Grant{xg("member", 1)}})
	var issued []string

	for _, tc := range []struct {
		name string
		body string
		want map[string]any
	}{
		{"issued", xchForm(tok, xchStats).Encode(),
			map[string]any{"outcome": "issued", "sub": "alice", "audience": xchStats, "grants": 2.0, "status": 200.0}},
		{"undeclared audience", xchForm(tok, "evil\n\"aud").Encode(),
			map[string]any{"outcome": "invalid_target", "sub": "alice", "audience": `"evil\n\"aud"`, "status": 400.0}},
		{"nothing for the audience", xchForm(f.userToken(t, capability.Params{Subject: "dave"}), xchStats).Encode(),
			map[string]any{"outcome": "access_denied", "sub": "dave", "audience": xchStats, "status": 403.0}},
		{"wrong audience token", xchForm(pluginTok, xchMod).Encode(),
			map[string]any{"outcome": "invalid_grant", "reason": middleware.ReasonAudience, "sub": "mallory", "audience": xchMod}},
		{"garbage token", xchForm("abc.def.ghi", xchStats).Encode(),
			map[string]any{"outcome": "invalid_grant", "reason": middleware.ReasonMalformedToken, "sub": nil}},
		{"repeated parameter", xchForm(tok, xchStats).Encode() + "&audience=x",
			map[string]any{"outcome": "invalid_request", "reason": "repeated parameter", "sub": nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := f.serve(xchRequest(tc.body))
			if w.Code == http.StatusOK {
				var resp xchResponse
				if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
					t.Fatal(err)
				}
				issued = append(issued, resp.AccessToken)
			}
			raw, recs := f.logs.take(t)
			if len(recs) != 1 {
				t.Fatalf("got %d records, want 1: %s", len(recs), raw)
			}
			for k, want := range tc.want {
				if got := recs[0][k]; got != want {
					t.Errorf("%s: got %#v, want %#v", k, got, want)
				}
			}
			for _, secret := range append([]string{tok, pluginTok}, issued...) {
				if strings.Contains(raw, secret) || strings.Contains(raw, strings.Split(secret, ".")[2]) {
					t.Errorf("a token or signature is in the log: %s", raw)
				}
			}
		})
	}
}

// TestExchangeConcurrent runs exchanges in parallel (for -race).
func TestExchangeConcurrent(t *testing.T) {
	f := newXchFixture(t, nil, nil)
	tok := f.userToken(t, capability.Params{Subject: "alice", Grants: []capability.Grant{xg("moderator", 1)}})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			aud := []string{xchStats, xchMod}[i%2]
			if _, err := f.ex.Exchange(context.Background(), tok, aud); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
