// Package middleware is keyhole's net/http glue: it authenticates requests
// with bearer tokens, puts the verified *capability.Capability in the
// request context, and answers failures the standard way (RFC 6750
// challenges, RFC 9457 problem bodies).
//
// # Quick start
//
// A verifier (package capability/token) judges the tokens; New builds the
// middleware once; Handler lets through only requests with a valid token;
// a handler finds the capability with capability.FromContext, hands it to
// a guarded statement (package sqlguard), and answers its error through an
// ErrorWriter that knows sqlguard's errors:
//
//	verifier, err := token.NewVerifier(ctx, token.VerifierOptions{
//		Issuer: "https://auth.example", Audience: "forum",
//		Algorithms: []token.Algorithm{token.EdDSA},
//		JWKSURL:    "https://auth.example/.well-known/jwks.json",
//		Roles:      roles, Kind: capability.KindInt64,
//	})
//	if err != nil { … }
//	auth, err := middleware.New(verifier, middleware.Options{Realm: "forum"})
//	if err != nil { … }
//	errs := middleware.ErrorWriter{Classifiers: []middleware.Classifier{sqlguard.Classify}}
//
//	mux.Handle("DELETE /threads/{id}", auth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//		c, _ := capability.FromContext(r.Context()) // always there behind Handler
//		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
//		if err == nil {
//			err = deleteThread.Exec(r.Context(), pool, c, id) // the guard runs in PostgreSQL
//		}
//		if err != nil {
//			errs.WriteError(w, r, err) // 403 "needs role moderator in group 7", 404, 409, 503, …
//			return
//		}
//		w.WriteHeader(http.StatusNoContent)
//	})))
//
// The package example runs this flow without a database.
//
// Auth is shaped like net/http.CrossOriginProtection: a value built once
// (New), a pure decision (Auth.Check), and a Handler method that composes
// with http.ServeMux and any func(http.Handler) http.Handler chain.
//
// # Trust model
//
// The package trusts its Verifier (normally a *token.Verifier) and
// nothing else. It makes no cryptographic choice: which algorithms and keys
// are accepted, and which claims are required, is the verifier's
// configuration. Every header, cookie, token byte and the token's kid are
// untrusted input: they are bounded in size before they are parsed, never
// echoed to the client, and the kid is quoted before it is logged. A
// capability reaches the request context only as the return value of a
// successful Verify.
//
// # Failing closed
//
// Auth.Handler calls the wrapped handler only for a request that carries a
// valid token, with the capability in the request context
// (capability.FromContext); the request is not otherwise modified. A route that also serves anonymous callers says so with
// Auth.Optional: a request without any token reaches the handler without a
// capability (capability.FromContext reports false), while a request with
// an invalid token, or a malformed one, is refused exactly as by Handler:
// an invalid token is never downgraded to anonymous. A verifier that fails
// without judging the token (for example its key set cannot be fetched) or
// returns neither a capability nor an error refuses the request (500, or
// 503 on a deadline). The Require… helpers refuse a request without a
// capability, so a helper used without Handler refuses everything.
//
// Browsers send CORS preflight requests (OPTIONS) without credentials:
// answer them outside Handler.
//
// # Token sources
//
// The token is read from the Authorization header (RFC 6750 §2.1): the
// scheme "Bearer", matched case-insensitively, exactly one space (RFC 6750
// allows several; we accept the one form clients send, so that the header
// has one reading), and a b64token, 1*( ALPHA / DIGIT / "-" / "." / "_" /
// "~" / "+" / "/" ) *"=". An Authorization header of another scheme (Basic,
// …) is not ours and is ignored, as if absent.
//
// Optionally, Options.Cookie names a cookie that may carry the token, for
// browser sessions. An empty cookie value (a cleared session) counts as no
// cookie. Browsers attach cookies to cross-site requests, so a request
// authenticated by the cookie alone whose method is not GET, HEAD or
// OPTIONS must pass an http.CrossOriginProtection check (Sec-Fetch-Site,
// else Origin against Host; Options.CrossOriginProtection for trusted
// origins), or is refused with 403 (ReasonCrossOrigin, ErrCrossOrigin)
// before its token is verified: fail closed. A Bearer Authorization header
// is not checked, since browsers never add one to a cross-site request on
// their own. Options.InsecureAllowCrossOriginCookies turns the check off.
//
// The query string is never read: a request whose only token is an
// access_token query parameter (RFC 6750 §2.3) is a request without a token
// (401 from Handler, anonymous in Optional). URLs end up in logs, browser
// history and Referer headers.
//
// These requests are refused as malformed, 400 with error="invalid_request":
// more than one Authorization header; an empty Authorization header or one
// without a scheme; a Bearer credential that does not follow the grammar
// (no token, two spaces, a tab, a character outside b64token, "=" other than
// trailing padding); a token cookie that is not a b64token; several token
// cookies with different values; a header token and a cookie token that
// differ (the same token in both is fine).
//
// A header or cookie longer than Options.MaxTokenBytes (plus "Bearer ") is
// refused before it is parsed or decoded, with 401 and
// error="invalid_token", reason "too_large": the same answer the verifier
// gives a token over its own MaxTokenSize, so the status does not depend on
// which bound is the smaller.
//
// # Answers
//
// A refused request is answered through Options.ErrorWriter (default
// WriteError) with an *AuthError:
//
//	no token                      401  WWW-Authenticate: Bearer realm="…"
//	token refused by the verifier 401  WWW-Authenticate: Bearer realm="…", error="invalid_token"
//	malformed request             400  WWW-Authenticate: Bearer realm="…", error="invalid_request"
//	Require… check not met        403  WWW-Authenticate: Bearer realm="…", error="insufficient_scope"
//
// with Cache-Control: no-store and a generic RFC 9457 body such as
// {"type":"about:blank","title":"Unauthorized","status":401}. No error text,
// token, or claim value reaches the client; the RFC 6750 error_description
// attribute is never sent. The reason (AuthError.Reason: "missing_token",
// "malformed_header", "expired", "bad_signature", …) is for the server's
// log: with Options.Logger set, each refusal is one record with the reason,
// the status, the quoted kid and, when the signature verified, the subject.
//
// The Require… helpers (Auth.RequireRole, Auth.RequireAdmin,
// Auth.RequireAudience) are coarse route checks on the capability in the
// context: 403 insufficient_scope when it does not pass, 401 when there is
// no capability at all. RequireRole lets the admin override pass, as the SQL
// guards do. Decisions about a row or a group belong in the SQL statement
// (sqlguard), not in a route check.
//
// An ErrorWriter is also the answer for handlers' own errors. Its defaults
// (WriteError) know this package's errors, capability's shared sentinels
// (capability.ErrForbidden 403, capability.ErrNotFound 404,
// capability.ErrBadCapability and ErrBadGroup 400) and token's errors,
// which sqlguard's denials and not-found errors match. The package links
// no SQL driver: the SQL and PostgreSQL rows (409 on a unique violation,
// 503 when the database is unavailable, a denial's need as the problem's
// detail) are sqlguard.Classify, which the application plugs in as a
// Classifier, in one line; a classifier of its own, put first, changes a
// single row. Recover turns a handler's panic into a 500 with a generic
// body.
//
// A handler's own client errors carry a detail written for the client:
// BadRequest("field \"group\": want an integer", err), or a *ClientError
// with another 4xx status, is answered with that detail, while err, the
// parser's or decoder's error, goes only to ErrorWriter.Logger. The
// detail is the only text of the application that reaches a problem
// body.
//
// # Request ids
//
// RequestIDs, the outermost layer, gives each request an id: the
// X-Request-Id a proxy set (when it is a short token), else 16 random hex
// digits. It is echoed in the answer's X-Request-Id, carried as
// "request_id" by the log records of Auth (401, 403, …), ErrorWriter
// (5xx) and Recover, and read by the application with RequestID, so that
// one request can be followed from a refusal in the log to the
// application's own records.
//
// # Examples
//
// The package example is the whole flow; the others show Auth.Handler,
// Auth.Optional, Auth.RequireRole, ErrorWriter (with sqlguard.Classify and
// with a classifier of the application's own), BadRequest, RequestIDs and
// Recover. They run without a database or a network: go doc -all, or the
// package's page on pkg.go.dev.
//
// The issuer's side (the token exchange endpoint, the JWKS publishing
// handler) is package tokenserver.
package middleware
