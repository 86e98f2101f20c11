package main

// The README's quick start is this file from the line after
// "quickstart:begin" to the line before "quickstart:end", verbatim:
// TestREADMEInSync fails when the two differ.

// quickstart:begin
import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	sq "github.com/Masterminds/squirrel"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
	"github.com/keyhole-go/keyhole/middleware"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// Roles, lowest first: a moderator may do all that a member may.
var roles = capability.MustChain("member", "moderator")

// The policies, declared once, on the table
// notes (id bigserial, group_id bigint, author text, body text).
var (
	reg        = sqlguard.MustNewRegistry(roles, capability.KindInt64)
	createNote = reg.MustInsert(sqlguard.Policy{Name: "notes.create", Table: "notes", Role: "member",
		GroupColumn: "group_id", Columns: []string{"group_id", "body"}, SubjectColumn: "author",
		Returning: []string{"id"}})
	listNotes = reg.MustList(sqlguard.Policy{Name: "notes.list", Table: "notes", Role: "member",
		GroupColumn: "group_id", Query: sq.Select("id", "body").Where("group_id = ?", sqlguard.Arg)})
	getNote = reg.MustGet(sqlguard.Policy{Name: "notes.get", Table: "notes", Role: "member",
		GroupColumn: "group_id", Key: []string{"id"}, Query: sq.Select("body")})
)

// openPool opens the pool that runs the policies: ConfigurePool makes its
// connections send group arrays in binary. Connect as a role that does not
// own the tables and is not a superuser.
func openPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	sqlguard.ConfigurePool(cfg)
	return pgxpool.NewWithConfig(ctx, cfg)
}

// newVerifier accepts the tokens that the auth service signs with keys'
// private halves (or set JWKSURL, the URL of its key set, instead of Keys).
func newVerifier(ctx context.Context, keys []token.PublicKey) (*token.Verifier, error) {
	return token.NewVerifier(ctx, token.VerifierOptions{Issuer: "https://auth.example",
		Audience: "notes", Algorithms: []token.Algorithm{token.EdDSA}, Keys: keys,
		Roles: roles, Kind: capability.KindInt64})
}

// routes serves the notes to callers with a valid token; PostgreSQL decides
// which notes, in the statement that reads or writes them.
func routes(pool *pgxpool.Pool, v middleware.Verifier) (http.Handler, error) {
	auth, err := middleware.New(v, middleware.Options{Realm: "notes"})
	if err != nil {
		return nil, err
	}
	errs := middleware.ErrorWriter{Classifiers: []middleware.Classifier{sqlguard.Classify}}
	notes := func(w http.ResponseWriter, r *http.Request) {
		c, _ := capability.FromContext(r.Context()) // auth.Handler put it there
		ctx, out := r.Context(), any(nil)
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		switch {
		case err != nil:
			err = middleware.BadRequest("id: want an integer", err) // shows the detail, not err
		case r.Pattern == "POST /groups/{id}/notes":
			var note int64
			err = createNote.QueryRow(ctx, pool, c, id, r.FormValue("body")).Scan(&note)
			out = note
		case r.Pattern == "GET /groups/{id}/notes":
			var rows pgx.Rows
			if rows, err = listNotes.Query(ctx, pool, c, id); err == nil {
				out, err = pgx.CollectRows(rows, pgx.RowToMap)
			}
		case r.Pattern == "GET /notes/{id}":
			var body string
			err = getNote.QueryRow(ctx, pool, c, id).Scan(&body)
			out = body
		}
		if err != nil { // 403 {..."detail":"needs role member in group 2"}, 404, 400, 503, …
			errs.WriteError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	}
	mux := http.NewServeMux()
	for _, route := range []string{"POST /groups/{id}/notes", "GET /groups/{id}/notes", "GET /notes/{id}"} {
		mux.Handle(route, auth.Handler(http.HandlerFunc(notes)))
	}
	return mux, nil
}

// quickstart:end
