package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
	"github.com/keyhole-go/keyhole/middleware"
	"github.com/keyhole-go/keyhole/sqlguard"
	"github.com/keyhole-go/keyhole/tokenserver"
)

// Plugins. A plugin never gets the user's token: the forum exchanges it
// (RFC 8693, tokenserver.TokenExchange, also served at POST /oauth/token)
// for a short-lived token of the plugin's own audience, whose grants are the
// user's grants within the plugin's approved roles, without the admin flag,
// in the user's session. The plugin calls the forum's JSON API with that
// token, on its own routes under /plugin-api/ only: those routes verify
// tokens of the plugin's audience (and no other), the user's /api/ routes
// verify tokens of the forum's audience (and no other), and PostgreSQL
// decides every statement with the narrowed grants, as for anyone.
//
// What each plugin may do is declared here and approved in plugins.lock
// (TestLock): its audience, its roles, its token's lifetime, and the
// policies its routes run. A new plugin, a new role, a longer lifetime or a
// new policy fails the lock test until the lock is rewritten and its diff
// reviewed, and the forum does not start with a plugin the embedded lock
// does not approve.

// digestAudience is the audience of the digest plugin's tokens.
const digestAudience = "forum-digest"

// pluginAPI is the path prefix of the plugins' routes.
const pluginAPI = "/plugin-api/"

// pluginDecl declares a plugin: who it is, what it may hold and which of
// the forum's routes (and so policies) it may call.
type pluginDecl struct {
	// Audience is the audience of the plugin's exchanged tokens, and its
	// name.
	Audience string
	// About says what the plugin does, for the page.
	About string
	// Roles are the approved roles (tokenserver.AudiencePolicy.Roles): the
	// plugin holds, in each of the user's groups, at most these.
	Roles []string
	// TTL is the lifetime of the plugin's tokens (shortened to the user's
	// token's expiry).
	TTL time.Duration
	// Routes are the API routes the plugin may call, under pluginAPI.
	Routes []pluginRoute
}

// pluginRoute is a route of the plugin API: the pattern (method and path,
// under pluginAPI), the policies its handler runs, and the handler (one of
// the user API's).
type pluginRoute struct {
	Pattern  string
	Policies []string
	handler  func(a *app) http.Handler
}

// Policies returns the policies the plugin's routes run, sorted.
func (p pluginDecl) Policies() []string {
	var out []string
	for _, r := range p.Routes {
		for _, name := range r.Policies {
			if !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// forumPlugins are the forum's plugins.
var forumPlugins = []pluginDecl{{
	Audience: digestAudience,
	About:    "digest: reads a group's recent threads and posts a summary into one thread",
	Roles:    []string{roleMember},
	TTL:      2 * time.Minute,
	Routes: []pluginRoute{
		// A group's threads; an empty page asks groups.get (childList).
		{Pattern: "GET " + pluginAPI + "groups/{id}/threads", Policies: []string{"threads.list", "groups.get"},
			handler: func(a *app) http.Handler { return a.apiID(a.apiThreads) }},
		// A thread's posts; an empty page asks threads.get.
		{Pattern: "GET " + pluginAPI + "threads/{id}/posts", Policies: []string{"posts.list", "threads.get"},
			handler: func(a *app) http.Handler { return a.apiID(a.apiPosts) }},
		{Pattern: "POST " + pluginAPI + "threads/{id}/posts", Policies: []string{"posts.create"},
			handler: func(a *app) http.Handler { return apiJSON(a, a.apiCreatePost) }},
	},
}}

// exchangeOptions are the token exchange's options for plugins: the
// forum's verifier (audience "forum" only, so that a plugin's token cannot
// be exchanged again) and issuer, and each plugin's approved roles. The
// exchange's TTL is the longest plugin TTL; checkPlugins requires them all
// equal, since the exchange has one TTL.
func exchangeOptions(a *app, v tokenserver.Verifier, plugins []pluginDecl) tokenserver.TokenExchangeOptions {
	opts := tokenserver.TokenExchangeOptions{
		Verifier: v, Issuer: a.issuer, Now: a.now, Logger: a.log,
		Audiences: make(map[string]tokenserver.AudiencePolicy, len(plugins)),
	}
	for _, p := range plugins {
		opts.Audiences[p.Audience] = tokenserver.AudiencePolicy{Roles: p.Roles}
		opts.TTL = max(opts.TTL, p.TTL)
	}
	return opts
}

// checkPlugins checks the declared plugins against the registry: every
// route under pluginAPI, every policy declared and guarded by a group role
// that one of the plugin's approved roles includes (a plugin holds no admin
// flag: an admin-only or unguarded policy is never one it may use), one
// lifetime for all. It does not check the lock (approvePlugins does).
func checkPlugins(reg *sqlguard.Registry, plugins []pluginDecl) error {
	infos := make(map[string]sqlguard.PolicyInfo)
	for _, p := range reg.Policies() {
		infos[p.Name] = p
	}
	roles := reg.Roles()
	for i, p := range plugins {
		if p.TTL <= 0 || p.TTL != plugins[0].TTL {
			return fmt.Errorf("forum: plugin %s: TTL %v: every plugin has the same positive TTL", p.Audience, p.TTL)
		}
		for _, r := range p.Routes {
			if _, path, _ := strings.Cut(r.Pattern, " "); !strings.HasPrefix(path, pluginAPI) {
				return fmt.Errorf("forum: plugin %s: route %q is not under %s", p.Audience, r.Pattern, pluginAPI)
			}
		}
		for _, name := range p.Policies() {
			info, ok := infos[name]
			switch {
			case !ok:
				return fmt.Errorf("forum: plugin %s: no policy %s", p.Audience, name)
			case info.AdminOnly || info.Unguarded != "" || info.Role == "":
				return fmt.Errorf("forum: plugin %s: policy %s is not guarded by a group role", p.Audience, name)
			case !slices.ContainsFunc(p.Roles, func(have string) bool { return roles.Includes(have, info.Role) }):
				return fmt.Errorf("forum: plugin %s: policy %s needs role %s, which the plugin's roles %v do not include",
					p.Audience, name, info.Role, p.Roles)
			}
		}
		for _, q := range plugins[:i] {
			if q.Audience == p.Audience {
				return fmt.Errorf("forum: plugin %s declared twice", p.Audience)
			}
		}
	}
	return nil
}

// errPluginNotApproved is wrapped by approvePlugins' error.
var errPluginNotApproved = errors.New("forum: plugin not approved by plugins.lock")

// approvePlugins refuses plugins that the approved lock does not approve:
// the forum does not start with them.
func approvePlugins(approved []byte, roles *capability.Roles, plugins []pluginDecl) error {
	lock, err := parsePluginLock(approved)
	if err != nil {
		return fmt.Errorf("forum: plugins.lock: %w", err)
	}
	if wide, _ := diffPlugins(lock, roles, plugins); len(wide) > 0 {
		return fmt.Errorf("%w: %s", errPluginNotApproved, strings.Join(wide, "; "))
	}
	return nil
}

// pluginView is a plugin as the page shows it: what it may do.
type pluginView struct {
	Audience string
	About    string
	Roles    string
	TTL      time.Duration
	Policies []sqlguard.PolicyInfo
}

// pluginViews describes the declared plugins for the page, from the
// registry's view of their policies (what the audit report shows).
func (a *app) pluginViews() []pluginView {
	infos := make(map[string]sqlguard.PolicyInfo)
	for _, p := range a.reg.Policies() {
		infos[p.Name] = p
	}
	var out []pluginView
	for _, p := range forumPlugins {
		v := pluginView{Audience: p.Audience, About: p.About, Roles: strings.Join(p.Roles, ", "), TTL: p.TTL}
		for _, name := range p.Policies() {
			v.Policies = append(v.Policies, infos[name])
		}
		out = append(out, v)
	}
	return out
}

// setupPlugins checks the declared plugins, against the registry and the
// embedded plugins.lock, and builds the token exchange and one Auth per
// plugin audience: a verifier that accepts that audience only, bearer
// tokens only (no cookie: a browser's session never reaches a plugin
// route).
func (a *app) setupPlugins(ctx context.Context, key *token.SigningKey) error {
	if err := checkPlugins(a.reg, forumPlugins); err != nil {
		return err
	}
	if err := approvePlugins(approvedPlugins, forumRoles, forumPlugins); err != nil {
		return err
	}
	rev, err := a.reg.Revocations(a.db)
	if err != nil {
		return err
	}
	if a.exchange, err = tokenserver.NewTokenExchange(exchangeOptions(a, liveVerifier{a.verifier, rev}, forumPlugins)); err != nil {
		return err
	}
	a.pluginAuth = make(map[string]*middleware.Auth, len(forumPlugins))
	for _, p := range forumPlugins {
		v, err := token.NewVerifier(ctx, token.VerifierOptions{
			Issuer: tokenIssuer, Audience: p.Audience,
			Algorithms: []token.Algorithm{key.Algorithm()}, Keys: a.issuer.PublicKeys(),
			Roles: forumRoles, Kind: capability.KindInt64, Now: a.now,
		})
		if err != nil {
			return err
		}
		if a.pluginAuth[p.Audience], err = middleware.New(v, middleware.Options{
			Realm: p.Audience, Logger: a.log, ErrorWriter: errorWriter.WriteError,
		}); err != nil {
			return err
		}
	}
	a.digest = &digestPlugin{}
	return nil
}

// liveVerifier is the exchange's verifier: the forum's, then the session
// check, so that the token of a session that ended (logout, signed out
// everywhere) is not exchanged. (The token it would give is refused
// anyway: it carries the session, and every policy requires it live.)
type liveVerifier struct {
	v   *token.Verifier
	rev *sqlguard.Revocations
}

// errSessionEnded refuses the token of an ended session: invalid_grant for
// the exchange, back to the login for the page (capability.ErrRevoked).
var errSessionEnded = fmt.Errorf("forum: %w: %w", capability.ErrRevoked, token.ErrInvalidToken)

// Audience is the verifier's audience: NewTokenExchange refuses to declare
// it as a plugin's.
func (l liveVerifier) Audience() string { return l.v.Audience() }

// Verify verifies tok and checks that its session is live.
func (l liveVerifier) Verify(ctx context.Context, tok string) (*capability.Capability, error) {
	c, err := l.v.Verify(ctx, tok)
	if err != nil {
		return nil, err
	}
	revoked, err := l.rev.Revoked(ctx, c)
	if err != nil {
		return nil, err
	}
	if revoked {
		return nil, errSessionEnded
	}
	return c, nil
}

// pluginRoutes mounts the token exchange and every plugin's routes on mux.
func (a *app) pluginRoutes(mux *http.ServeMux) {
	mux.Handle("POST /oauth/token", a.exchange)
	for _, p := range forumPlugins {
		for _, r := range p.Routes {
			mux.Handle(r.Pattern, a.pluginAuth[p.Audience].Handler(r.handler(a)))
		}
	}
}

// userToken is the token the web page's request was authenticated with
// (webAuth: the bearer token, else the session cookie; the middleware
// refused the request when both are present and differ).
func userToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimPrefix(h, "Bearer ")
	}
	if c, err := r.Cookie(cookieName); err == nil {
		return c.Value
	}
	return ""
}

// webDigest runs the digest plugin for the group {id} into the thread of
// the form's thread_id, on the user's behalf: the forum exchanges the
// user's token for a token of the plugin's audience, here, and gives the
// plugin only that. The plugin calls the forum at pluginBase, which comes
// from the configuration, never from the request (a Host header must not
// decide where a token is sent).
func (a *app) webDigest(r *http.Request, id int64) (string, error) {
	threadID, err := formID(r, "thread_id")
	if err != nil {
		return "", err
	}
	if a.pluginBase == "" {
		return "", errors.New("forum: no plugin base URL configured")
	}
	x, err := a.exchange.Exchange(r.Context(), userToken(r), digestAudience)
	if err != nil {
		return "", err
	}
	p, err := a.digest.Run(r.Context(), a.pluginBase, x.Token, id, threadID)
	if err != nil {
		return "", err
	}
	return pathTo("/threads/", threadID) + "#post-" + strconv.FormatInt(p.ID, 10), nil
}

// pluginAccessDenied is the detail of an exchange refused for want of a
// role the plugin may use.
const pluginAccessDenied = "The plugin may act only within its approved roles, and you hold none of them in any group."

// classifyPlugin answers the errors of a plugin run: an exchange refusal
// with its status (403 when the user holds no role the plugin may use),
// a refused plugin request with the forum's answer to it.
func classifyPlugin(err error) (status int, detail string, ok bool) {
	var xe *tokenserver.ExchangeError
	if errors.As(err, &xe) && xe.Code == tokenserver.ExchangeAccessDenied {
		return http.StatusForbidden, pluginAccessDenied, true
	}
	var dr *digestRefused
	if errors.As(err, &dr) && dr.Status >= 400 && dr.Status <= 599 {
		return dr.Status, "The forum refused the plugin's request " + dr.Method + " " + dr.Path + ".", true
	}
	return 0, "", false
}
