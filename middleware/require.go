package middleware

import (
	"net/http"
	"slices"

	"github.com/keyhole-go/keyhole/capability"
)

// The Require… helpers are coarse route checks on the capability that
// Handler (or Optional) stored in the request context. They answer a
// request without a capability with 401 (fail closed: a helper used
// without Handler refuses everything) and a capability that does not pass
// with 403 and error="insufficient_scope". Fine-grained decisions, about a
// particular row or group, belong in the SQL statement (sqlguard).
//
// Each returns a func(http.Handler) http.Handler, so that it composes with
// any middleware chain:
//
//	mux.Handle("POST /admin/users", auth.Handler(auth.RequireAdmin()(h)))

// RequireRole passes requests whose capability holds role (or a role that
// includes it) in at least one group, or carries the admin override: like
// the SQL guards, whose "or $admin" lets an admin act in every group, the
// route check does not refuse what the statement would allow. It panics if
// role is empty or capability.RoleNone, as a route that no one may reach is
// a configuration error.
func (a *Auth) RequireRole(role string) func(http.Handler) http.Handler {
	if role == "" || role == capability.RoleNone {
		panic("middleware: RequireRole: role " + quoteBounded(role, 64) + " can never be held")
	}
	return a.require(func(c *capability.Capability) bool {
		return c.Admin() || c.Groups(role).Len() > 0
	})
}

// RequireAdmin passes requests whose capability carries the admin override.
func (a *Auth) RequireAdmin() func(http.Handler) http.Handler {
	return a.require((*capability.Capability).Admin)
}

// RequireAudience passes requests whose capability's audiences include aud
// (the verifier already required its own audience; this narrows a route to
// tokens minted for one service among several). It panics if aud is empty.
func (a *Auth) RequireAudience(aud string) func(http.Handler) http.Handler {
	if aud == "" {
		panic("middleware: RequireAudience: empty audience")
	}
	return a.require(func(c *capability.Capability) bool {
		return slices.Contains(c.Audience(), aud)
	})
}

func (a *Auth) require(ok func(*capability.Capability) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, has := capability.FromContext(r.Context())
			if !has {
				a.refuse(w, r, &AuthError{
					Status:    http.StatusUnauthorized,
					Reason:    ReasonMissingToken,
					sentinel:  ErrNoToken,
					challenge: a.chNone,
				})
				return
			}
			if !ok(c) {
				a.refuse(w, r, &AuthError{
					Status:    http.StatusForbidden,
					Code:      "insufficient_scope",
					Reason:    ReasonInsufficientScope,
					sentinel:  ErrInsufficientScope,
					challenge: a.chInsufficientScope,
				})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
