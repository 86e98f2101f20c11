package middleware_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/middleware"
)

// TestRequire is the matrix of the coarse route checks, with real tokens.
func TestRequire(t *testing.T) {
	k := newKeys(t)
	var logs logBuffer
	a := k.newAuth(t, middleware.Options{Logger: logs.logger()})
	member := k.mint(t, "mem", false, grant("member", 1))
	moderator := k.mint(t, "mod", false, grant("moderator", 2))
	admin := k.mint(t, "root", true)
	nothing := k.mint(t, "nobody", false)
	multiAud := k.mintParams(t, capability.Params{Subject: "svc", Audience: []string{testAudience, "billing"}})

	checks := map[string]func(http.Handler) http.Handler{
		"role member":      a.RequireRole("member"),
		"role moderator":   a.RequireRole("moderator"),
		"role unknown":     a.RequireRole("janitor"),
		"admin":            a.RequireAdmin(),
		"audience billing": a.RequireAudience("billing"),
	}
	check := func(who, tok, what string, want int) {
		t.Helper()
		h := a.Handler(checks[what](capHandler))
		w := serve(h, request("GET", "/", bearer(tok), ""))
		switch want {
		case 200:
			checkAnswer(t, w, 200, "")
		case 403:
			checkAnswer(t, w, 403, chScope)
		default:
			t.Fatalf("bad want %d", want)
		}
		if t.Failed() {
			t.Logf("%s on %s", who, what)
		}
	}
	check("member", member, "role member", 200)
	check("member", member, "role moderator", 403)
	check("moderator", moderator, "role member", 200) // moderator includes member
	check("moderator", moderator, "role moderator", 200)
	check("admin", admin, "role moderator", 200) // the admin override, as in SQL
	check("admin", admin, "role unknown", 200)
	check("nothing", nothing, "role member", 403)
	check("moderator", moderator, "role unknown", 403)
	check("member", member, "admin", 403)
	check("moderator", moderator, "admin", 403)
	check("admin", admin, "admin", 200)
	check("member", member, "audience billing", 403)
	check("admin", admin, "audience billing", 403) // admin is about groups, not audiences
	check("svc", multiAud, "audience billing", 200)

	// Without a capability (no Handler, or Optional's anonymous), a
	// Require… helper refuses: fail closed.
	for what, req := range checks {
		w := serve(req(mustNotRun(t)), request("GET", "/", bearer(admin), ""))
		checkAnswer(t, w, 401, chNone)
		w = serve(a.Optional(req(mustNotRun(t))), request("GET", "/", nil, ""))
		checkAnswer(t, w, 401, chNone)
		if t.Failed() {
			t.Fatalf("%s without capability", what)
		}
	}

	// The refusal is logged with the subject.
	logs.buf.Reset()
	serve(a.Handler(a.RequireAdmin()(mustNotRun(t))), request("GET", "/", bearer(member), ""))
	recs := logs.records(t)
	if len(recs) != 1 || recs[0]["reason"] != "insufficient_scope" || recs[0]["sub"] != "mem" || recs[0]["status"] != float64(403) {
		t.Errorf("log: %v", recs)
	}
}

func TestRequireError(t *testing.T) {
	k := newKeys(t)
	var got error
	a := k.newAuth(t, middleware.Options{ErrorWriter: func(w http.ResponseWriter, r *http.Request, err error) { got = err }})
	serve(a.Handler(a.RequireAdmin()(mustNotRun(t))), request("GET", "/", bearer(k.mint(t, "x", false)), ""))
	if !errors.Is(got, middleware.ErrInsufficientScope) {
		t.Errorf("got %v, want ErrInsufficientScope", got)
	}
}

func TestRequirePanicsOnImpossibleRoute(t *testing.T) {
	k := newKeys(t)
	a := k.newAuth(t, middleware.Options{})
	for _, f := range []func(){
		func() { a.RequireRole("") },
		func() { a.RequireRole(capability.RoleNone) },
		func() { a.RequireAudience("") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("no panic")
				}
			}()
			f()
		}()
	}
}
