package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/sqlguard"
	"github.com/keyhole-go/keyhole/tokenserver"
)

// exchange posts an RFC 8693 token exchange of subject for audience to
// /oauth/token and returns the status and the issued token ("" when
// refused) or the error code.
func (f *forum) exchange(subject, audience string) (status int, tok, code string) {
	f.t.Helper()
	form := url.Values{
		"grant_type":         {tokenserver.GrantTypeTokenExchange},
		"subject_token":      {subject},
		"subject_token_type": {tokenserver.TokenTypeJWT},
		"audience":           {audience},
	}
	resp, err := f.srv.Client().Post(f.srv.URL+"/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, out.AccessToken, out.Error
}

// form posts an HTML form as the page does, authenticated by the session
// cookie holding tok, and returns the status, the Location and the body;
// redirects are not followed.
func (f *forum) form(path, tok string, values url.Values) (int, string, string) {
	f.t.Helper()
	req, err := http.NewRequest("POST", f.srv.URL+path, strings.NewReader(values.Encode()))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: cookieName, Value: tok})
	client := *f.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// pluginVerifier verifies tokens of the digest plugin's audience with
// f's keys.
func (f *forum) pluginVerifier() *token.Verifier {
	f.t.Helper()
	v, err := token.NewVerifier(context.Background(), token.VerifierOptions{
		Issuer: tokenIssuer, Audience: digestAudience, Algorithms: []token.Algorithm{signingAlgorithm},
		Keys: f.app.issuer.PublicKeys(), Roles: forumRoles, Kind: capability.KindInt64,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

// newPluginForum is a forum whose digest plugin records every token it is
// given; given returns them.
func newPluginForum(t *testing.T) (f *forum, given func() []string) {
	t.Helper()
	var mu sync.Mutex
	var got []string
	f = newForumWith(t, forumOptions{app: func(a *app) {
		a.digest.given = func(tok string) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, tok)
		}
	}})
	return f, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

// TestPluginDigest: a member runs the digest from the page; the plugin
// posts the summary with a token of its own (audience forum-digest,
// member only, short-lived, in the user's session), never the user's.
func TestPluginDigest(t *testing.T) {
	f, given := newPluginForum(t)
	welcome := f.id("select id from threads where title = 'Welcome to the forum'")
	alice := f.token("alice")

	status, loc, body := f.form("/groups/1/digest", alice, url.Values{"thread_id": {strconv.FormatInt(welcome, 10)}})
	if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/threads/"+strconv.FormatInt(welcome, 10)+"#post-") {
		t.Fatalf("digest: got %d %q %s, want 303 to the thread", status, loc, body)
	}
	var author, content string
	if err := f.db.Owner.QueryRow(context.Background(),
		"select author, content from posts where thread_id = $1 order by id desc limit 1", welcome).Scan(&author, &content); err != nil {
		t.Fatal(err)
	}
	if author != "alice" || !strings.HasPrefix(content, "Digest of the 2 most recent threads") ||
		!strings.Contains(content, "Welcome to the forum (") || !strings.Contains(content, "Where do I find the JWKS? (1 posts, latest by alice)") {
		t.Errorf("digest post: by %s: %q", author, content)
	}

	// The plugin got one token, not alice's: the plugin's audience only,
	// member of group 1 only, alice's session, at most 2 minutes.
	toks := given()
	if len(toks) != 1 {
		t.Fatalf("the plugin was given %d tokens, want 1", len(toks))
	}
	user, err := f.app.verifier.Verify(context.Background(), alice)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range toks {
		if tok == alice {
			t.Fatal("the plugin was given the user's token")
		}
		c, err := f.pluginVerifier().Verify(context.Background(), tok)
		if err != nil {
			t.Fatalf("the plugin's token does not verify for %s: %v", digestAudience, err)
		}
		if aud := c.Audience(); len(aud) != 1 || aud[0] != digestAudience {
			t.Errorf("plugin token audience %v, want [%s]", aud, digestAudience)
		}
		if _, err := f.app.verifier.Verify(context.Background(), tok); err == nil {
			t.Error("the plugin's token verifies for the forum's audience")
		}
		if got := c.Grants(); len(got) != 1 || got[0].Role != roleMember || got[0].Group != capability.Int64Group(1) {
			t.Errorf("plugin token grants %v, want member of 1", got)
		}
		if c.Admin() || c.Subject() != "alice" || c.SessionID() != user.SessionID() {
			t.Errorf("plugin token: admin %v, subject %q, sid %q; want no admin, alice, %q", c.Admin(), c.Subject(), c.SessionID(), user.SessionID())
		}
		if c.Expiry().After(user.Expiry()) || c.Expiry().After(time.Now().Add(forumPlugins[0].TTL+time.Second)) {
			t.Errorf("plugin token expires %v: after the user's %v or past its TTL", c.Expiry(), user.Expiry())
		}
	}

	// The page lists the plugin and what it may do.
	req, _ := http.NewRequest("GET", f.srv.URL+"/", nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: alice})
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(t, resp)
	for _, want := range []string{"Plugins", digestAudience, "roles: <b>member</b>", "<code>posts.create</code>", "<code>threads.list</code>", "2m0s"} {
		if !strings.Contains(page, want) {
			t.Errorf("home page lacks %q", want)
		}
	}
}

// TestPluginDigestRefused: the digest into a thread of a group the user
// is not in, or by a user who holds no member role, changes nothing.
func TestPluginDigestRefused(t *testing.T) {
	f, given := newPluginForum(t)
	golang := f.id("select id from threads where group_id = 2 order by id limit 1")
	before := f.fingerprint()
	// alice is in group 1 only: the plugin reads group 1, its post into
	// a thread of group 2 is refused (not found, like any row she may not see).
	status, _, body := f.form("/groups/1/digest", f.token("alice"), url.Values{"thread_id": {strconv.FormatInt(golang, 10)}})
	if status != http.StatusNotFound || !strings.Contains(body, "POST /plugin-api/threads/") {
		t.Errorf("digest into another group's thread: got %d, want 404 naming the plugin's request\n%s", status, body)
	}
	// ... nor read a group she is not in.
	status, _, _ = f.form("/groups/2/digest", f.token("alice"), url.Values{"thread_id": {"1"}})
	if status != http.StatusNotFound {
		t.Errorf("digest of another group: got %d, want 404", status)
	}
	// carol is an admin in no group: nothing to exchange for a member-only plugin.
	status, _, body = f.form("/groups/1/digest", f.token("carol"), url.Values{"thread_id": {"1"}})
	if status != http.StatusForbidden || !strings.Contains(body, "approved roles") {
		t.Errorf("digest by an admin in no group: got %d, want 403 saying why\n%s", status, body)
	}
	// alice logs out: her cookie's token is not exchanged; back to the login.
	alice := f.token("alice")
	if got, body := f.do("POST", "/logout", alice, ""); got != http.StatusNoContent {
		t.Fatalf("logout: got %d %s", got, body)
	}
	status, loc, _ := f.form("/groups/1/digest", alice, url.Values{"thread_id": {"1"}})
	if status != http.StatusSeeOther || loc != "/" {
		t.Errorf("digest after logout: got %d to %q, want 303 to /", status, loc)
	}
	if got := f.fingerprint(); got != before {
		t.Error("a refused digest changed the database")
	}
	if n := len(given()); n != 2 {
		t.Errorf("the plugin was given %d tokens, want 2 (none for carol)", n)
	}
}

// TestPluginTokenRefused: the plugin's token of a moderator is a member's
// token of the plugin's audience: PostgreSQL refuses it a delete or a move,
// every user route refuses it, it reaches no group the user is not in,
// it cannot be exchanged again, and it stops with the user's session.
func TestPluginTokenRefused(t *testing.T) {
	f := newForum(t)
	bob := f.token("bob") // moderator of 1, member of 2
	status, ptok, code := f.exchange(bob, digestAudience)
	if status != http.StatusOK || ptok == "" {
		t.Fatalf("exchange: got %d %s, want 200", status, code)
	}
	c, err := f.pluginVerifier().Verify(context.Background(), ptok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Has(roleModerator, capability.Int64Group(1)) || !c.Has(roleMember, capability.Int64Group(1)) || c.Admin() {
		t.Fatalf("plugin token of bob: grants %v admin %v, want member only", c.Grants(), c.Admin())
	}
	th1 := f.newThread(1, "one")
	p1 := f.newPost(th1, "alice", "hi")
	th3 := f.newThread(3, "staff only")
	before := f.fingerprint()

	// PostgreSQL itself refuses the plugin's capability a moderator's
	// statement, though bob moderates group 1.
	if err := f.app.deleteThread(context.Background(), c, th1); !errors.Is(err, sqlguard.ErrDenied) {
		t.Errorf("delete thread with the plugin's capability: got %v, want denied", err)
	}
	if err := f.app.moveThread(context.Background(), c, th1, 2); !errors.Is(err, sqlguard.ErrDenied) {
		t.Errorf("move thread with the plugin's capability: got %v, want denied", err)
	}
	if err := f.app.deletePost(context.Background(), c, p1); !errors.Is(err, sqlguard.ErrDenied) {
		t.Errorf("delete post with the plugin's capability: got %v, want denied", err)
	}

	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	for _, tc := range []struct {
		method, path, body string
		want               []int
	}{
		// No plugin route for these: the plugin API has none.
		{"DELETE", "/plugin-api/threads/" + id(th1), "", []int{404, 405}},
		{"POST", "/plugin-api/threads/" + id(th1) + "/move", `{"group_id":2}`, []int{404, 405}},
		{"DELETE", "/plugin-api/posts/" + id(p1), "", []int{404, 405}},
		{"POST", "/plugin-api/groups/1/threads", `{"title":"x"}`, []int{404, 405}},
		// The user API verifies the forum's audience only.
		{"DELETE", "/api/threads/" + id(th1), "", []int{401}},
		{"POST", "/api/threads/" + id(th1) + "/move", `{"group_id":2}`, []int{401}},
		{"DELETE", "/api/posts/" + id(p1), "", []int{401}},
		{"POST", "/api/threads/" + id(th1) + "/posts", `{"content":"x"}`, []int{401}},
		{"GET", "/api/groups", "", []int{401}},
		{"GET", "/api/me", "", []int{401}},
		{"GET", "/api/members", "", []int{401}},
		// A group bob is not in.
		{"GET", "/plugin-api/groups/3/threads", "", []int{404}},
		{"GET", "/plugin-api/threads/" + id(th3) + "/posts", "", []int{404}},
		{"POST", "/plugin-api/threads/" + id(th3) + "/posts", `{"content":"x"}`, []int{404}},
	} {
		got, body := f.do(tc.method, tc.path, ptok, tc.body)
		ok := false
		for _, w := range tc.want {
			ok = ok || got == w
		}
		if !ok {
			t.Errorf("%s %s with the plugin's token: got %d %s, want %v", tc.method, tc.path, got, body, tc.want)
		}
	}
	// Nor the page's routes, nor the logout (the plugin token as a
	// bearer token): back to the login.
	for _, path := range []string{"/threads/" + id(th1) + "/delete", "/logout"} {
		req, _ := http.NewRequest("POST", f.srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+ptok)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "/threads") {
			t.Errorf("POST %s with the plugin's token: got %d to %q, want 303 to the login", path, resp.StatusCode, loc)
		}
	}
	// Nor exchanged again, for any audience.
	if got, _, code := f.exchange(ptok, digestAudience); got != http.StatusBadRequest || code != tokenserver.ExchangeInvalidGrant {
		t.Errorf("exchange the plugin's token: got %d %s, want 400 invalid_grant", got, code)
	}
	if got := f.fingerprint(); got != before {
		t.Fatal("a refused plugin request changed the database")
	}

	// What it may do, it does: read and post in bob's groups.
	if got, body := f.do("GET", "/plugin-api/groups/1/threads", ptok, ""); got != http.StatusOK {
		t.Errorf("plugin reads group 1: got %d %s", got, body)
	}
	if got, body := f.do("POST", "/plugin-api/threads/"+id(th1)+"/posts", ptok, `{"content":"from the plugin"}`); got != http.StatusCreated {
		t.Errorf("plugin posts in group 1: got %d %s", got, body)
	}

	// bob logs out: his session ends, and with it the plugin's token.
	if got, body := f.do("POST", "/logout", bob, ""); got != http.StatusNoContent {
		t.Fatalf("logout: got %d %s", got, body)
	}
	before = f.fingerprint()
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/plugin-api/groups/1/threads", ""},
		{"GET", "/plugin-api/threads/" + id(th1) + "/posts", ""},
		{"POST", "/plugin-api/threads/" + id(th1) + "/posts", `{"content":"after logout"}`},
	} {
		if got, body := f.do(tc.method, tc.path, ptok, tc.body); got != http.StatusUnauthorized {
			t.Errorf("%s %s after the user's logout: got %d %s, want 401", tc.method, tc.path, got, body)
		}
	}
	if got, _, code := f.exchange(bob, digestAudience); got != http.StatusBadRequest || code != tokenserver.ExchangeInvalidGrant {
		t.Errorf("exchange after logout: got %d %s, want 400 invalid_grant", got, code)
	}
	if got := f.fingerprint(); got != before {
		t.Error("the plugin's token changed the database after the user's logout")
	}
}

// TestPluginAdmin: an admin's exchanged token carries no admin override:
// an admin in no group gets no token; an admin who is also a member of a
// group gets that membership only.
func TestPluginAdmin(t *testing.T) {
	f := newForum(t)
	if got, _, code := f.exchange(f.token("carol"), digestAudience); got != http.StatusForbidden || code != tokenserver.ExchangeAccessDenied {
		t.Errorf("exchange for an admin in no group: got %d %s, want 403 access_denied", got, code)
	}
	f.exec("insert into memberships (user_name, group_id, role) values ('carol', 2, 'moderator')")
	delete(f.tokens, "carol")
	carol := f.token("carol")
	status, ptok, code := f.exchange(carol, digestAudience)
	if status != http.StatusOK {
		t.Fatalf("exchange: got %d %s", status, code)
	}
	c, err := f.pluginVerifier().Verify(context.Background(), ptok)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Grants(); c.Admin() || len(got) != 1 || got[0].Group != capability.Int64Group(2) || got[0].Role != roleMember {
		t.Fatalf("admin's plugin token: admin %v grants %v, want member of 2 only", c.Admin(), got)
	}
	th1 := f.newThread(1, "general")
	before := f.fingerprint()
	// carol herself reads and writes group 1 (the admin flag) ...
	if got, _ := f.do("GET", "/api/groups/1/threads", carol, ""); got != http.StatusOK {
		t.Errorf("admin reads group 1: got %d", got)
	}
	// ... her plugin does not.
	if got, _ := f.do("GET", "/plugin-api/groups/1/threads", ptok, ""); got != http.StatusNotFound {
		t.Errorf("admin's plugin reads group 1: got %d, want 404", got)
	}
	if got, _ := f.do("POST", "/plugin-api/threads/"+strconv.FormatInt(th1, 10)+"/posts", ptok, `{"content":"x"}`); got != http.StatusNotFound {
		t.Errorf("admin's plugin posts in group 1: got %d, want 404", got)
	}
	if err := f.app.deleteThread(context.Background(), c, th1); !errors.Is(err, sqlguard.ErrNotFound) {
		t.Errorf("admin's plugin capability deletes in group 1: got %v, want not found", err)
	}
	if got := f.fingerprint(); got != before {
		t.Error("the admin's plugin changed the database")
	}
	if got, _ := f.do("GET", "/plugin-api/groups/2/threads", ptok, ""); got != http.StatusOK {
		t.Errorf("admin's plugin reads group 2 (member): got %d, want 200", got)
	}
}

// sqlRecorder records the text of every statement through a pool, those
// of a batch included (behind the second wall a statement travels in a
// batch after its settings).
type sqlRecorder struct {
	mu  sync.Mutex
	sql []string
}

func (c *sqlRecorder) add(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sql = append(c.sql, s)
}

// take returns the recorded statements and forgets them.
func (c *sqlRecorder) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sql
	c.sql = nil
	return s
}

func (c *sqlRecorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.add(d.SQL)
	return ctx
}

func (c *sqlRecorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *sqlRecorder) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (c *sqlRecorder) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	c.add(d.SQL)
}

func (c *sqlRecorder) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// TestPluginRoutesRunTheirPolicies: each plugin route runs only the
// policies plugins.lock lists for it: every statement it sends is the text
// of one of its declared policies (the second wall's settings aside).
func TestPluginRoutesRunTheirPolicies(t *testing.T) {
	var rec sqlRecorder
	f := newForumWith(t, forumOptions{pool: func(db *testdb.DB) *pgxpool.Pool {
		return testPool(t, db.URL, defaultWaits, func(cfg *pgxpool.Config) { cfg.ConnConfig.Tracer = &rec })
	}})
	_, ptok, code := f.exchange(f.token("bob"), digestAudience)
	if ptok == "" {
		t.Fatalf("exchange: %s", code)
	}
	c, err := f.pluginVerifier().Verify(context.Background(), ptok)
	if err != nil {
		t.Fatal(err)
	}
	// The text of each policy for the plugin's capability (the values do
	// not change the text).
	p := f.app.pol
	binds := map[string]func() (string, []any, error){
		"groups.get":   func() (string, []any, error) { return p.groupGet.Bind(c, int64(1)) },
		"threads.list": func() (string, []any, error) { return p.threadsList.Bind(c, int64(1), int64(1), 20) },
		"threads.get":  func() (string, []any, error) { return p.threadGet.Bind(c, int64(1)) },
		"posts.list":   func() (string, []any, error) { return p.postsList.Bind(c, int64(1), int64(1), 20) },
		"posts.create": func() (string, []any, error) { return p.postCreate.Bind(c, int64(1), "x") },
	}
	// A call that did nothing (an empty page) asks the registry's liveness
	// query why: a read of the sessions, not a policy of its own.
	live := p.threadGet.Info().LiveSQL
	if live == "" {
		t.Fatal("threads.get requires no live session")
	}
	empty := f.newThread(1, "empty")
	requests := map[string][]struct{ method, path, body string }{
		"GET " + pluginAPI + "groups/{id}/threads": {{"GET", "/plugin-api/groups/1/threads", ""},
			{"GET", "/plugin-api/groups/1/threads?before=1", ""}, {"GET", "/plugin-api/groups/3/threads", ""}},
		"GET " + pluginAPI + "threads/{id}/posts": {{"GET", "/plugin-api/threads/1/posts", ""},
			{"GET", "/plugin-api/threads/" + strconv.FormatInt(empty, 10) + "/posts", ""}},
		"POST " + pluginAPI + "threads/{id}/posts": {{"POST", "/plugin-api/threads/1/posts", `{"content":"x"}`}},
	}
	for _, pl := range forumPlugins {
		for _, r := range pl.Routes {
			allowed := map[string]string{}
			for _, name := range r.Policies {
				bind, ok := binds[name]
				if !ok {
					t.Fatalf("route %s: no test binding of policy %s", r.Pattern, name)
				}
				sql, _, err := bind()
				if err != nil {
					t.Fatal(err)
				}
				allowed[sql] = name
			}
			allowed[live] = "the liveness query"
			if len(requests[r.Pattern]) == 0 {
				t.Fatalf("route %s: no test request", r.Pattern)
			}
			rec.take()
			for _, req := range requests[r.Pattern] {
				f.do(req.method, req.path, ptok, req.body)
			}
			ran := 0
			for _, sql := range rec.take() {
				if strings.Contains(sql, "set_config('role'") {
					continue // the second wall's settings
				}
				ran++
				if _, ok := allowed[sql]; !ok {
					t.Errorf("route %s ran a statement of none of its policies %v:\n%.300s", r.Pattern, r.Policies, sql)
				}
			}
			if ran == 0 {
				t.Errorf("route %s ran no statement", r.Pattern)
			}
		}
	}
}
