package main

import (
	"errors"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/middleware"
)

// This file is the auth side: a DEVELOPMENT login without passwords. Anyone
// who can reach it can log in as any demo user. It stands for a real auth
// service, which would authenticate the user before minting.

// maxLoginBody bounds the login request.
const maxLoginBody = 4 << 10

// loginResponse is the JSON answer of POST /login.
type loginResponse struct {
	Token     string    `json:"token"`
	User      string    `json:"user"`
	ExpiresAt time.Time `json:"expires_at"`
}

// login mints a token for a demo user from the user's memberships:
//
//	POST /login  {"user":"alice"}             -> 200 {"token": ...} and the cookie
//	POST /login  user=alice (an HTML form)    -> 303 to / with the cookie
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	form := mt == "application/x-www-form-urlencoded"
	var name string
	if form {
		r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
		if err := r.ParseForm(); err != nil {
			a.webError(w, r, badRequest("unreadable form"))
			return
		}
		name = r.PostForm.Get("user")
	} else {
		var in struct {
			User string `json:"user"`
		}
		if err := decodeJSON(w, r, &in, maxLoginBody); err != nil {
			a.fail(w, r, err)
			return
		}
		name = in.User
	}

	token, exp, err := a.mint(r, name)
	if err != nil {
		if errors.Is(err, errUnknownUser) {
			err = badRequest("unknown demo user")
		}
		if form {
			a.webError(w, r, err)
		} else {
			a.fail(w, r, err)
		}
		return
	}
	// The session cookie. Secure follows the connection: the forum serves
	// plain http on the loopback in development, and a browser drops a
	// Secure cookie set over plain http, so Secure is set only when the
	// request came over TLS (the forum behind a TLS-terminating proxy
	// would set it always). For the same reason the name has no __Host-
	// prefix: the prefix requires Secure, and browsers refuse such a
	// cookie over plain http (some make an exception for localhost, not
	// all, and not for every loopback name).
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: token, Path: "/",
		Expires: exp, MaxAge: int(exp.Sub(a.now()).Seconds()),
		HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: r.TLS != nil,
	})
	w.Header().Set("Cache-Control", "no-store")
	if form {
		to := "/"
		if next := r.PostForm.Get("next"); localPath(next) {
			to = next
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusOK, loginResponse{Token: token, User: name, ExpiresAt: exp})
}

// mint looks the user's grants up, opens a session and signs a token for
// the forum's audience that carries the session's id (sid): the session
// ends at logout, or when an admin signs the user out everywhere, and
// every guarded statement refuses the token from then on.
func (a *app) mint(r *http.Request, name string) (string, time.Time, error) {
	admin, grants, err := a.grantsOf(r.Context(), name)
	if err != nil {
		return "", time.Time{}, err
	}
	sid, err := a.openSession(r.Context(), name)
	if err != nil {
		return "", time.Time{}, err
	}
	exp := a.now().Add(a.ttl).Truncate(time.Second)
	token, err := a.issuer.Mint(capability.Params{
		Subject:   name,
		SessionID: sid,
		Audience:  []string{tokenAudience},
		Expiry:    exp,
		Grants:    grants,
		Admin:     admin,
	})
	return token, exp, err
}

// logout ends the caller's session, so that the token stops working
// everywhere, a copy of it included, and clears the session cookie:
//
//	POST /logout  (Bearer token)   -> 204
//	POST /logout  (the cookie)     -> 303 to /
//
// A request without a token only clears the cookie; one whose token is
// invalid is answered by the middleware (webAuthError: the cookie is
// cleared, back to /), one whose session already ended like any route
// (401 for a bearer token, back to / without the cookie for the page).
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	bearer := strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ")
	if c, ok := capability.FromContext(r.Context()); ok {
		if err := a.endSession(r.Context(), c); err != nil {
			// Already ended: 401 for the API, back to the login (the
			// cookie cleared) for the page, like any route.
			if bearer {
				a.fail(w, r, err)
			} else {
				a.webError(w, r, err)
			}
			return
		}
	}
	clearSession(w)
	w.Header().Set("Cache-Control", "no-store")
	if bearer {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// webAuthError answers a web request that the middleware refused: a
// session that is missing, expired, ended or signed by the key of an
// earlier run goes back to the login page, without its cookie, which
// returns to the page after the login (nextOf); any other refusal is the
// error page.
func (a *app) webAuthError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *middleware.AuthError
	if errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusBadRequest) {
		clearSession(w)
		http.Redirect(w, r, loginPage(nextOf(r)), http.StatusSeeOther)
		return
	}
	if errors.Is(err, middleware.ErrCrossOrigin) {
		a.refuse(w, r, http.StatusForbidden, err)
		return
	}
	a.webError(w, r, err)
}
