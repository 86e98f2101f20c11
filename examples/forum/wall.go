package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyhole-go/keyhole/sqlguard/wall"
)

// The second wall (package sqlguard/wall): the forum's pool connects as
// the login role appLogin, which holds no table privilege of its own
// beyond reading the user directory (the development login's lookup),
// and may only switch to the wall's role. Every request's statement runs
// through wall.Wall.Bind: the capability's role and settings travel with
// the statement in one round trip, so a statement that forgot its guard
// still sees and changes only the caller's groups, and one sent on the
// pool without Bind sees nothing.
const appLogin = "forum_app"

// wallOptions are the forum's wall: the default names (keyhole_app,
// keyhole_role_<role>, settings keyhole.*), granted to appLogin.
var wallOptions = wall.Options{Grantees: []string{appLogin}}

// setupWall runs as the database's owner (a role that may create roles):
// it creates the login role appLogin if missing and gives it a fresh
// random password, lets it connect and read the user directory, and
// applies the second wall generated from the forum's policies (again at
// every start: the script brings the wall up to date). It returns the
// pool configuration of appLogin: cfg with appLogin's user and password.
func setupWall(ctx context.Context, owner *pgxpool.Pool, cfg *pgxpool.Config) (*pgxpool.Config, error) {
	reg, _ := newPolicies()
	if err := approveLock(reg); err != nil {
		return nil, err
	}
	script, err := wall.Script(reg, wallOptions)
	if err != nil {
		return nil, err
	}
	var pw [16]byte
	if _, err := rand.Read(pw[:]); err != nil {
		return nil, err
	}
	password := hex.EncodeToString(pw[:]) // hex: safe inside the literal
	login := pgx.Identifier{appLogin}.Sanitize()
	setup := `DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '` + appLogin + `') THEN CREATE ROLE ` + login + ` LOGIN; END IF; END $$;
ALTER ROLE ` + login + ` LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB PASSWORD '` + password + `';
DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO ` + appLogin + `', current_database()); END $$;
GRANT USAGE ON SCHEMA public TO ` + login + `;
` + script + `
` + authTableGrants(login, pgx.Identifier{wallOptions.AppRole()}.Sanitize())
	if _, err := owner.Exec(ctx, setup); err != nil {
		return nil, fmt.Errorf("forum: the second wall: %w", err)
	}
	app := cfg.Copy()
	app.ConnConfig.User = appLogin
	app.ConnConfig.Password = password
	return app, nil
}

// authTableGrants are the privileges on the tables of the auth side
// (users, memberships, sessions), of login (the app's login role, which
// the development login uses directly) and of role (the wall's role, which
// every statement through wall.Bind runs as). These tables hold no group,
// so the wall generates no group policy for them; the forum's policies on
// them are AdminOnly or the caller's own session, decided in their
// statements. The wall enables row-level security on sessions (for the
// unguarded sessions.logout) without an INSERT policy: the login, the one
// writer of new sessions, gets its own.
func authTableGrants(login, role string) string {
	return `GRANT SELECT ON TABLE users, memberships, sessions TO ` + login + `;
GRANT INSERT ON TABLE sessions TO ` + login + `;
DROP POLICY IF EXISTS forum_login ON sessions;
CREATE POLICY forum_login ON sessions FOR INSERT TO ` + login + ` WITH CHECK (TRUE);
GRANT SELECT ON TABLE users, memberships, sessions TO ` + role + `;
GRANT UPDATE (revoked_at) ON TABLE sessions TO ` + role + `;
GRANT UPDATE (valid_after) ON TABLE users TO ` + role + `;
GRANT DELETE ON TABLE memberships TO ` + role + `;
`
}
