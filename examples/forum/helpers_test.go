package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyhole-go/keyhole/capability/token"
	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/sqlguard"
	"github.com/keyhole-go/keyhole/sqlguard/wall"
)

// TestMain sets up every test pool's connections with
// sqlguard.ConfigurePool, as an application sets up its own.
func TestMain(m *testing.M) {
	testdb.MainWith(m, testdb.Options{ConfigurePool: sqlguard.ConfigurePool})
}

// forum is a running forum for a test: the app on the unprivileged test
// role's pool, seeded through the owner's pool, behind a loopback
// httptest server.
type forum struct {
	t      testing.TB
	db     *testdb.DB
	app    *app
	srv    *httptest.Server
	key    *token.SigningKey
	tokens map[string]string
}

func newForum(t testing.TB) *forum {
	t.Helper()
	return newForumWith(t, forumOptions{})
}

// forumOptions adjust a test forum before its server starts.
type forumOptions struct {
	pool func(*testdb.DB) *pgxpool.Pool // the app's pool (default: the test role's db.Pool)
	app  func(*app)                     // a last change to the app
	// noWall runs the app without the second wall (by default every
	// test forum runs behind it, as the program does).
	noWall bool
}

func newForumWith(t testing.TB, o forumOptions) *forum {
	t.Helper()
	db := testdb.New(t, schema)
	ctx := context.Background()
	if err := seed(ctx, db.Owner); err != nil {
		t.Fatal(err)
	}
	pool := db.Pool
	if o.pool != nil {
		pool = o.pool(db)
	}
	key := testKey(t)
	cfg := config{DB: pool, Key: key, Logger: slog.New(slog.DiscardHandler)}
	if !o.noWall {
		cfg.Wall = applyWall(t, db)
	}
	a, err := newApp(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if o.app != nil {
		o.app(a)
	}
	srv := httptest.NewUnstartedServer(a.handler())
	a.pluginBase = "http://" + srv.Listener.Addr().String() // before serving: the digest plugin calls the forum here
	srv.Start()
	t.Cleanup(srv.Close)
	return &forum{t: t, db: db, app: a, srv: srv, key: key, tokens: map[string]string{}}
}

// testKey is the signing key of the tests' forums, made once (an RSA key
// takes a while).
func testKey(t testing.TB) *token.SigningKey {
	t.Helper()
	key, err := testKeyOnce()
	if err != nil {
		t.Fatal(err)
	}
	return key
}

var testKeyOnce = sync.OnceValues(func() (*token.SigningKey, error) {
	return token.GenerateKey(signingAlgorithm, "test-1")
})

// token logs user in through POST /login (once per test).
func (f *forum) token(user string) string {
	f.t.Helper()
	if tok, ok := f.tokens[user]; ok {
		return tok
	}
	status, body := f.do("POST", "/login", "", `{"user":"`+user+`"}`)
	if status != http.StatusOK {
		f.t.Fatalf("login %s: got %d %s, want 200", user, status, body)
	}
	var lr loginResponse
	if err := json.Unmarshal(body, &lr); err != nil || lr.Token == "" {
		f.t.Fatalf("login %s: %s: %v", user, body, err)
	}
	f.tokens[user] = lr.Token
	return lr.Token
}

// do sends a request with a bearer token (none if "") and a JSON body
// (none if ""), and returns the status and the body.
func (f *forum) do(method, path, token, body string) (int, []byte) {
	f.t.Helper()
	status, b, err := f.try(method, path, token, body)
	if err != nil {
		f.t.Fatal(err)
	}
	return status, b
}

// try is do for any goroutine: it returns the error instead of failing.
func (f *forum) try(method, path, token, body string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, bytes.TrimSpace(b), err
}

// as sends a request as user.
func (f *forum) as(user, method, path, body string) (int, []byte) {
	f.t.Helper()
	return f.do(method, path, f.token(user), body)
}

// exec runs SQL as the owner (setup and checks, outside the policies).
func (f *forum) exec(sql string, args ...any) {
	f.t.Helper()
	if _, err := f.db.Owner.Exec(context.Background(), sql, args...); err != nil {
		f.t.Fatal(err)
	}
}

// id runs a query returning one int8 as the owner.
func (f *forum) id(sql string, args ...any) int64 {
	f.t.Helper()
	var n int64
	if err := f.db.Owner.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// newThread inserts a thread in group g as the owner.
func (f *forum) newThread(g int64, title string) int64 {
	f.t.Helper()
	return f.id("insert into threads (group_id, title, created_by) values ($1, $2, 'setup') returning id", g, title)
}

// newPost inserts a post into thread th as the owner.
func (f *forum) newPost(th int64, author, content string) int64 {
	f.t.Helper()
	return f.id("insert into posts (thread_id, author, content) values ($1, $2, $3) returning id", th, author, content)
}

// fingerprint is a digest of every row of the forum's tables: equal
// fingerprints mean that no row was added, removed or changed.
func (f *forum) fingerprint() string {
	f.t.Helper()
	var s string
	err := f.db.Owner.QueryRow(context.Background(), `select md5(
		coalesce((select string_agg(t::text, '|' order by id) from threads t), '') || '#' ||
		coalesce((select string_agg(p::text, '|' order by id) from posts p), '') || '#' ||
		coalesce((select string_agg(g::text, '|' order by id) from groups g), ''))`).Scan(&s)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *forum) exists(table string, id int64) bool {
	f.t.Helper()
	var ok bool
	if err := f.db.Owner.QueryRow(context.Background(), "select exists (select 1 from "+table+" where id = $1)", id).Scan(&ok); err != nil {
		f.t.Fatal(err)
	}
	return ok
}

// applyWall applies the second wall of the forum's policies to db, with
// roles prefixed by the database's name (dropped at cleanup) and granted
// to the test role, the app's login role in the tests.
func applyWall(t testing.TB, db *testdb.DB) *wall.Options {
	t.Helper()
	ctx := context.Background()
	var login string
	if err := db.Pool.QueryRow(ctx, "select current_user").Scan(&login); err != nil {
		t.Fatal(err)
	}
	reg, _ := newPolicies()
	if err := approveLock(reg); err != nil {
		t.Fatal(err)
	}
	opts := wall.Options{Prefix: db.Name + "_", Grantees: []string{login}}
	script, err := wall.Script(reg, opts)
	if err != nil {
		t.Fatal(err)
	}
	roles := []string{pgx.Identifier{opts.AppRole()}.Sanitize()}
	for _, r := range forumRoles.Names() {
		roles = append(roles, pgx.Identifier{opts.RoleFor(r)}.Sanitize())
	}
	list := strings.Join(roles, ", ")
	t.Cleanup(func() {
		if _, err := db.Owner.Exec(context.Background(), "drop owned by "+list+"; drop role "+list); err != nil {
			t.Errorf("drop the wall's roles: %v", err)
		}
	})
	if _, err := db.Owner.Exec(ctx, script+authTableSecurity(pgx.Identifier{login}.Sanitize(), opts)); err != nil {
		t.Fatalf("apply the wall: %v", err)
	}
	return &opts
}

// testPool opens a pool on url with the forum's own configuration
// (poolConfig with w), changed by configure when it is not nil, closed at
// the end of t: for forumOptions.pool.
func testPool(t testing.TB, url string, w waits, configure func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	cfg, err := poolConfig(url, w)
	if err != nil {
		t.Fatal(err)
	}
	if configure != nil {
		configure(cfg)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}
