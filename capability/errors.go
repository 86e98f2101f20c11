package capability

import "errors"

// Shared sentinels of a refused access, in the package every other keyhole
// package imports, the way io/fs holds ErrNotExist for every file system:
// the layer that decides (sqlguard, an application's own check) returns its
// own errors, which unwrap to these, and the layer that answers (the HTTP
// middleware) maps these without importing the layer that decided. Match
// them with errors.Is.
var (
	// ErrForbidden is matched by an error that refuses an action the
	// capability does not allow, on a resource the caller may know about
	// (every *sqlguard.DeniedError matches it). The HTTP answer is 403.
	ErrForbidden = errors.New("capability: forbidden")

	// ErrNotFound is matched by an error that reports a resource that does
	// not exist or that the capability may not see: the two are
	// indistinguishable on purpose (sqlguard.ErrNotFound matches it). The
	// HTTP answer is 404.
	ErrNotFound = errors.New("capability: not found")

	// ErrRevoked is matched by an error that refuses a capability whose
	// session ended before the token expired: the session was revoked
	// (signed out), or the subject's tokens were cut off ("sign out
	// everywhere", a removed user). The token itself is no longer good,
	// whatever the resource: the HTTP answer is 401 with
	// WWW-Authenticate: Bearer error="invalid_token", never 403 or 404.
	ErrRevoked = errors.New("capability: session ended")
)
