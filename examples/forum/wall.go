package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

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
` + authTableSecurity(login, wallOptions)
	if _, err := owner.Exec(ctx, setup); err != nil {
		return nil, fmt.Errorf("forum: the second wall: %w", err)
	}
	app := cfg.Copy()
	app.ConnConfig.User = appLogin
	app.ConnConfig.Password = password
	return app, nil
}

// authTableSecurity is the security of the tables of the auth side
// (users, memberships, sessions) for login (the app's login role, which
// the development login and the revocation checker use directly) and for
// the wall's role (which every statement through wall.Bind runs as).
//
// These tables hold no group, so the wall generates no group policy for
// them: the forum's policies on them are AdminOnly (remove a member, sign
// a user out everywhere) or the caller's own session (logout), decided by
// their statements. The forum adds the same rules as row-level security,
// so that a statement that forgot its guard, run through the wall, still
// reads only the caller's own rows of these tables, changes them only as
// the admin (the settings' admin flag) or, for the caller's own session,
// only to end it: it cannot un-revoke a session, move anyone's cut-off or
// remove a membership. The wall makes sessions' row-level security
// permissive for its unguarded sessions.logout; the forum's rule there is
// RESTRICTIVE, so both must hold, for the statements that run as the
// wall's role.
func authTableSecurity(login string, o wall.Options) string {
	role := pgx.Identifier{o.AppRole()}.Sanitize()
	lit := func(v string) string { return "'" + strings.ReplaceAll(v, "'", "''") + "'" }
	subject := "current_setting(" + lit(o.SubjectSetting()) + ", true)"
	admin := "COALESCE(NULLIF(current_setting(" + lit(o.AdminSetting()) + ", true), '')::boolean, false)"
	// A policy TO the wall's role applies to its members too, the login
	// role among them: the restrictive rule binds only statements that
	// run as the wall's role (through wall.Bind), not the login's own.
	viaWall := "current_user <> " + lit(o.AppRole())
	policy := func(name, table, rest string) string {
		return "DROP POLICY IF EXISTS " + name + " ON " + table + ";\nCREATE POLICY " + name + " ON " + table + " " + rest + ";\n"
	}
	return `GRANT SELECT ON TABLE users, memberships, sessions TO ` + login + `;
GRANT INSERT ON TABLE sessions TO ` + login + `;
GRANT SELECT ON TABLE users, memberships, sessions TO ` + role + `;
GRANT UPDATE (revoked_at) ON TABLE sessions TO ` + role + `;
GRANT UPDATE (valid_after) ON TABLE users TO ` + role + `;
GRANT DELETE ON TABLE memberships TO ` + role + `;
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
` + policy("forum_login_read", "users", "FOR SELECT TO "+login+" USING (TRUE)") +
		policy("forum_login_read", "memberships", "FOR SELECT TO "+login+" USING (TRUE)") +
		policy("forum_login_read", "sessions", "FOR SELECT TO "+login+" USING (TRUE)") +
		policy("forum_login", "sessions", "FOR INSERT TO "+login+" WITH CHECK (revoked_at IS NULL)") +
		policy("forum_own", "users", "FOR SELECT TO "+role+" USING (name = "+subject+" OR "+admin+")") +
		policy("forum_cutoff", "users", "FOR UPDATE TO "+role+" USING ("+admin+") WITH CHECK ("+admin+")") +
		policy("forum_own", "memberships", "FOR SELECT TO "+role+" USING (user_name = "+subject+" OR "+admin+")") +
		policy("forum_remove", "memberships", "FOR DELETE TO "+role+" USING ("+admin+")") +
		policy("forum_own", "sessions", "AS RESTRICTIVE FOR ALL TO "+role+
			" USING ("+viaWall+" OR user_name = "+subject+" OR "+admin+")"+
			" WITH CHECK ("+viaWall+" OR ((user_name = "+subject+" OR "+admin+") AND revoked_at IS NOT NULL))")
}
