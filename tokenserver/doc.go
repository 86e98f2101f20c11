// Package tokenserver holds the HTTP endpoints of a token issuer, the
// auth server's side of keyhole: the RFC 8693 token exchange endpoint
// (TokenExchange), which narrows a user's token for a plugin or a
// downstream service, and the JWKS publishing handler (JWKS,
// JWKSHandler), which serves the issuer's public keys.
//
// It is named for the role it plays, the server that hands out tokens, so
// that it sits apart from package middleware, the resource server's side,
// which authenticates requests with those tokens: a service that only
// verifies tokens imports middleware and never links the issuer's
// endpoints, and an auth service imports this package and
// capability/token. Neither package links the SQL driver.
//
// # Trust model
//
// The token exchange trusts its Verifier (the subject token is the only
// credential) and its Issuer, and the audiences the application declares
// with their approved roles; every request parameter is untrusted input,
// and the audience is read from the request body only, never from a
// header a browser controls. The JWKS handler trusts its KeySet to hold
// public keys only (*token.Issuer's does).
//
// # Failing closed
//
// A TokenExchange not built by NewTokenExchange refuses every request; an
// exchanged token never holds more than the subject token and the
// audience's approval both allow, never the admin flag, and never
// outlives the subject token. Refusals carry an OAuth error code and
// nothing else (no description, no token, no claim). A JWKS whose key set
// fails answers 500 with a generic body.
//
// # Examples
//
// ExampleTokenExchange exchanges a user's token for a plugin's narrowed
// one; ExampleJWKSHandler publishes an issuer's keys (go doc -all, or the
// package's page on pkg.go.dev).
package tokenserver
