package main

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
	"github.com/keyhole-go/keyhole/middleware"
	"github.com/keyhole-go/keyhole/sqlguard"
	"github.com/keyhole-go/keyhole/sqlguard/wall"
	"github.com/keyhole-go/keyhole/tokenserver"
)

// The token's issuer and audience. The development login stands for an
// auth service of its own; the forum API is one audience among others.
const (
	tokenIssuer   = "keyhole-forum-dev-login"
	tokenAudience = "forum"
	cookieName    = "forum_token" // no __Host- prefix: see login
)

// signingAlgorithm is the algorithm of the login's keys. A token is
// verified on its first request (then again at most once a minute: the
// verifier's verified-token cache, on by default, answers the others) and
// signed only at login: RS256 verifies fastest of the asymmetric
// algorithms (an RSA public exponent of 65537 makes the check a few
// multiplications; about half the time of EdDSA, see BenchmarkForum), and
// every identity provider speaks it.
const signingAlgorithm = token.RS256

// config is what newApp needs. Zero values are defaults.
type config struct {
	// DB is the forum's database.
	DB *pgxpool.Pool
	// Key signs the tokens (default: a fresh signingAlgorithm key, so that
	// tokens of an earlier run do not verify).
	Key *token.SigningKey
	// Now is the clock of the issuer and the verifier (default time.Now).
	Now func() time.Time
	// TTL is the tokens' lifetime (default 1h).
	TTL time.Duration
	// Logger receives refused requests and internal errors (default
	// slog.Default).
	Logger *slog.Logger
	// Listen is the listen address (-addr), whose host the forum answers
	// besides the loopback names; AllowedHosts are more names it answers
	// (-allowed-host, NAME or NAME:PORT). See hostGuard.
	Listen       string
	AllowedHosts []string
	// RequestTimeout bounds every request's work (default requestTimeout,
	// see waits.go).
	RequestTimeout time.Duration
	// RevocationCacheTTL caches, for the routes that run no statement,
	// whether a token's session ended (see middleware.Options): 0, the
	// default, asks PostgreSQL on every such request.
	RevocationCacheTTL time.Duration
	// Wall, when set, runs every request's statement behind the second
	// wall of these options, in one round trip (wall.Wall.Bind): the wall
	// must be applied (wall.Script with the same options, see setupWall)
	// and granted to DB's role.
	Wall *wall.Options
}

// app is the forum: the development login (the auth side) and the forum
// itself (API and web page), in one process.
type app struct {
	db       *pgxpool.Pool
	wall     *wall.Wall // nil: no second wall
	reg      *sqlguard.Registry
	pol      *policies
	issuer   *token.Issuer
	verifier *token.Verifier
	// cop refuses cross-site unsafe requests: the whole site's (login and
	// form posts) and, shared with both Auths, those authenticated by the
	// session cookie. One instance, so that trusted origins are set once.
	cop   *http.CrossOriginProtection
	hosts *hostGuard // refuses a Host the forum does not answer (DNS rebinding)
	// requestTimeout bounds every request's work (middleware.Deadline).
	requestTimeout time.Duration
	apiAuth        *middleware.Auth // API: problem answers
	webAuth        *middleware.Auth // web page: a bad session goes back to the login
	// meAuth is apiAuth for the routes that run no guarded statement: it
	// asks the sessions table itself (sqlguard's Revocations) whether the
	// token's session ended. The other routes need not: every policy
	// requires a live session in its own statement.
	meAuth *middleware.Auth
	tmpl   *template.Template
	log    *slog.Logger
	now    func() time.Time
	ttl    time.Duration

	// The plugins (plugins.go): the token exchange, one Auth per plugin
	// audience (its routes only), the digest plugin and where it calls the
	// forum.
	exchange   *tokenserver.TokenExchange
	pluginAuth map[string]*middleware.Auth
	digest     *digestPlugin
	// pluginBase is the forum's base URL as the plugins call it: http://
	// and the listening address, set once the listener is open (before
	// serving). Empty: the page cannot run a plugin.
	pluginBase string

	// createPost inserts a post: the guarded policy. The benchmark swaps
	// in a plain insert to measure what the guard costs.
	createPost func(ctx context.Context, c *capability.Capability, threadID int64, content string) (post, error)
}

func newApp(ctx context.Context, cfg config) (*app, error) {
	if cfg.DB == nil {
		return nil, errors.New("forum: no database")
	}
	a := &app{db: cfg.DB, log: cfg.Logger, now: cfg.Now, ttl: cfg.TTL, requestTimeout: cfg.RequestTimeout}
	if a.requestTimeout <= 0 {
		a.requestTimeout = requestTimeout
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.ttl == 0 {
		a.ttl = time.Hour
	}
	a.reg, a.pol = newPolicies()
	// Run only what the checked-in keyhole.lock approves: a policy widened
	// without review answers sqlguard.ErrNotApproved (403) before it
	// reaches the database.
	if err := approveLock(a.reg); err != nil {
		return nil, err
	}
	a.createPost = a.createPostGuarded
	if cfg.Wall != nil {
		var err error
		if a.wall, err = wall.New(a.reg, *cfg.Wall); err != nil {
			return nil, err
		}
	}

	key := cfg.Key
	if key == nil {
		var err error
		if key, err = token.GenerateKey(signingAlgorithm, "forum-"+a.now().UTC().Format("20060102T150405")); err != nil {
			return nil, err
		}
	}
	var err error
	a.issuer, err = token.NewIssuer(token.IssuerOptions{
		Issuer: tokenIssuer, Roles: forumRoles, Kind: capability.KindInt64,
		Key: key, TTL: a.ttl, Now: a.now,
	})
	if err != nil {
		return nil, err
	}
	// The API verifies like any keyhole service would. In one process a
	// static key set is enough; a separate service would set JWKSURL to
	// the login's /.well-known/jwks.json instead.
	a.verifier, err = token.NewVerifier(ctx, token.VerifierOptions{
		Issuer: tokenIssuer, Audience: tokenAudience,
		Algorithms: []token.Algorithm{key.Algorithm()}, Keys: a.issuer.PublicKeys(),
		Roles: forumRoles, Kind: capability.KindInt64, Now: a.now,
	})
	if err != nil {
		return nil, err
	}
	if err := a.setupPlugins(ctx, key); err != nil {
		return nil, err
	}
	if a.hosts, err = newHostGuard(cfg.Listen, cfg.AllowedHosts); err != nil {
		return nil, err
	}
	a.hosts.deny = a.refuse
	a.cop = http.NewCrossOriginProtection()
	a.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.refuse(w, r, http.StatusForbidden, middleware.ErrCrossOrigin)
	}))
	a.apiAuth, err = middleware.New(a.verifier, middleware.Options{
		Realm: "forum", Cookie: cookieName, Logger: a.log, CrossOriginProtection: a.cop,
		ErrorWriter: errorWriter.WriteError,
	})
	if err != nil {
		return nil, err
	}
	revs, err := a.reg.Revocations(a.db)
	if err != nil {
		return nil, err
	}
	a.meAuth, err = middleware.New(a.verifier, middleware.Options{
		Realm: "forum", Cookie: cookieName, Logger: a.log, CrossOriginProtection: a.cop,
		ErrorWriter: errorWriter.WriteError, Revocation: revs, RevocationCacheTTL: cfg.RevocationCacheTTL,
	})
	if err != nil {
		return nil, err
	}
	a.webAuth, err = middleware.New(a.verifier, middleware.Options{
		Realm: "forum", Cookie: cookieName, Logger: a.log, ErrorWriter: a.webAuthError,
		CrossOriginProtection: a.cop,
	})
	if err != nil {
		return nil, err
	}
	if a.tmpl, err = parseTemplates(); err != nil {
		return nil, err
	}
	return a, nil
}

// errorWriter answers every failed request, the API's and the page's
// (through statusOf): the middleware's defaults, then sqlguard's
// classification of SQL and PostgreSQL errors (409 on a unique violation,
// 503 when the database is unavailable, a denial's need as the detail), in
// one line, and the forum's own errors. A 503 says when to try again.
var errorWriter = middleware.ErrorWriter{
	Classifiers: []middleware.Classifier{sqlguard.Classify, classifyForum, classifyPlugin},
	RetryAfter:  time.Second,
}

// classifyForum answers the forum's own errors that the middleware's
// defaults do not know.
func classifyForum(err error) (status int, detail string, ok bool) {
	if errors.Is(err, errUnsupportedMediaType) {
		return http.StatusUnsupportedMediaType, "", true
	}
	return 0, "", false
}

// handler returns the forum's routes, behind request ids, panic recovery,
// the Host check (hostGuard: every route, against DNS rebinding) and, for every
// state-changing request, cross-origin protection (the web page
// authenticates with a cookie). A path or method no route has answers the
// site's own 404 or 405 (siteErrors).
func (a *app) handler() http.Handler {
	mux := http.NewServeMux()

	// The auth side.
	mux.HandleFunc("POST /login", a.login)
	mux.Handle("POST /logout", a.webAuth.Optional(http.HandlerFunc(a.logout)))
	mux.Handle("/.well-known/jwks.json", tokenserver.JWKSHandler(a.issuer))
	// The token exchange (RFC 8693) and the plugins' own API routes, each
	// for its plugin's audience only (plugins.go).
	a.pluginRoutes(mux)

	// The JSON API: every route needs a valid token.
	api := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, a.apiAuth.Handler(h)) }
	mux.Handle("GET /api/me", a.meAuth.Handler(a.api(a.apiMe))) // no statement: meAuth checks the session
	api("GET /api/members", a.api(a.apiMembers))
	api("DELETE /api/groups/{id}/members/{user}", a.apiID(a.apiRemoveMember))
	api("POST /api/users/{user}/signout", a.api(a.apiSignOut))
	api("GET /api/groups", a.api(a.apiGroups))
	api("GET /api/groups/{id}", a.apiID(a.apiGroup))
	api("GET /api/groups/{id}/threads", a.apiID(a.apiThreads))
	api("POST /api/groups/{id}/threads", apiJSON(a, a.apiCreateThread))
	api("GET /api/threads/{id}", a.apiID(a.apiThread))
	api("DELETE /api/threads/{id}", a.apiID(a.apiDeleteThread))
	api("POST /api/threads/{id}/move", apiJSON(a, a.apiMoveThread))
	api("GET /api/threads/{id}/posts", a.apiID(a.apiPosts))
	api("POST /api/threads/{id}/posts", apiJSON(a, a.apiCreatePost))
	api("GET /api/posts/{id}", a.apiID(a.apiPost))
	api("PATCH /api/posts/{id}", apiJSON(a, a.apiEditPost))
	api("DELETE /api/posts/{id}", a.apiID(a.apiDeletePost))

	// The web page.
	mux.Handle("GET /{$}", a.webAuth.Optional(http.HandlerFunc(a.webHome)))
	mux.HandleFunc("GET /favicon.ico", favicon)
	web := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, a.webAuth.Handler(h)) }
	web("GET /groups/{id}", a.webPage("group", a.webGroup))
	web("GET /threads/{id}", a.webPage("thread", a.webThread))
	web("POST /groups/{id}/threads", a.webForm(a.webCreateThread))
	web("POST /threads/{id}/posts", a.webForm(a.webCreatePost))
	web("POST /threads/{id}/delete", a.webForm(a.webDeleteThread))
	web("POST /threads/{id}/move", a.webForm(a.webMoveThread))
	web("POST /posts/{id}/edit", a.webForm(a.webEditPost))
	web("POST /posts/{id}/delete", a.webForm(a.webDeletePost))
	web("POST /groups/{id}/members/remove", a.webForm(a.webRemoveMember))
	web("POST /users/signout", a.webSignOut)
	web("POST /groups/{id}/digest", a.webForm(a.webDigest))

	// RequestIDs, outermost: every answer carries X-Request-Id, and every
	// log record of the request (Auth's refusals, logFailure, a panic) its
	// request_id.
	return middleware.RequestIDs(middleware.RecoverWith(a.log, errorWriter.WriteError)(
		a.hosts.Handler(a.cop.Handler(middleware.Deadline(a.requestTimeout)(a.siteErrors(mux))))))
}

// logFailure logs an error that is not an ordinary refusal (denied, not
// found, bad input): those are answers, not failures.
func (a *app) logFailure(r *http.Request, err error) {
	switch {
	case errors.Is(err, sqlguard.ErrDenied), errors.Is(err, sqlguard.ErrNotFound), errors.Is(err, sqlguard.ErrSessionEnded),
		errors.Is(err, middleware.ErrBadRequest), errors.Is(err, errUnsupportedMediaType),
		errors.Is(err, sqlguard.ErrInvalidInput):
		return
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return
	}
	id, _ := middleware.RequestID(r.Context())
	if sqlguard.IsCanceled(err) {
		// The client gave up: the statement was canceled, nothing failed.
		a.log.LogAttrs(r.Context(), slog.LevelInfo, "forum: request canceled by the client",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("request_id", id))
		return
	}
	a.log.LogAttrs(r.Context(), slog.LevelError, "forum: request failed",
		slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.String("request_id", id), slog.String("error", err.Error()))
}

// badRequest is an error the middleware answers with 400, with the text
// (written for the client) as the problem's detail.
func badRequest(format string, args ...any) error {
	return middleware.BadRequest(fmt.Sprintf(format, args...), nil)
}

// q is where a request's statement for capability c runs: behind the
// second wall in one round trip when the forum has one, else the pool.
func (a *app) q(c *capability.Capability) sqlguard.DB {
	if a.wall == nil {
		return a.db
	}
	return a.wall.Bind(a.db, c)
}
