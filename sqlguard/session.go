package sqlguard

import (
	"context"
	"fmt"

	"github.com/keyhole-go/keyhole/capability"
)

// Revocation before expiry, decided in the guarded statement itself.
//
// A token is good until its exp. An application that must end it sooner
// (sign out, sign out everywhere, a removed user, a removed member)
// declares its own tables once on the registry, and the policies that need
// it carry one more condition, bound from the capability like its groups:
// one parameter more, on the statement's snapshot, and no extra round trip
// for a call that succeeds.
//
//   - Sessions: the token's session (Capability.SessionID, the "sid"
//     claim) must be a row of the sessions table whose revoked-at column
//     is NULL. A capability without a session id matches no row: refused.
//   - SubjectTable (optional, with Sessions): the token must be issued at
//     or after the subject's cut-off (iat >= valid_after). A subject
//     without a row, and a capability without a subject or without an
//     issued-at time, are refused.
//   - Memberships: with Policy.FreshMembership, the row's group must also
//     hold a membership row of the subject in a role that includes the
//     policy's Role, so that removing a member takes effect on the next
//     write though the token still lists the group.
//
// The condition is an uncorrelated EXISTS in the write's WHERE (and in
// its status branch, if it has one), and above a read's whole query
// (SELECT "sg_m".* FROM (<read>) AS "sg_m" WHERE <live>, so that no shape
// of query, an aggregate included, answers a row to an ended session):
// PostgreSQL runs it once, as a one-time filter, before it reads or
// writes any row, so a statement of an ended session touches nothing and
// reads nothing. The path that succeeds carries only that probe.
//
// Why a statement did nothing is decided on the refusal path alone: a
// statement that requires a live session and did nothing (no row written,
// an empty list, no row for a Get, a denial) runs the registry's liveness
// query (the one of Revocations) before it answers, and answers
// ErrSessionEnded when the session ended, whatever the row: a revoked
// token never learns whether a row exists. An allowed call pays no second
// round trip; a refused or empty one pays one. The refusal itself was
// decided atomically by the guarded statement; the liveness query only
// names the reason, on its own snapshot (a session revoked between the
// two is reported ended, which it is).
//
// This is a change of course from a first version, which reported the
// reason in the same statement (a status CTE, and two leading columns on
// every row of a read): it cost an allowed insert 25% and an allowed list
// 20% of their throughput, the liveness probe alone 5 to 9% (see
// BenchmarkLiveSession).

// ErrSessionEnded reports that the capability's session ended before its
// token expired: the session was revoked, the subject's tokens were cut
// off, the subject was removed, or the capability has no session id. It
// matches capability.ErrRevoked, which the middleware answers with 401 and
// WWW-Authenticate: Bearer error="invalid_token". Nothing was written.
var ErrSessionEnded error = &sharedSentinel{msg: "sqlguard: session ended", shared: capability.ErrRevoked}

// SessionTable declares the application's sessions: a row per session,
// live while RevokedAt is NULL. Identifiers must match ^[a-z_][a-z0-9_]*$.
// The ID column is compared to the session id as text (declare it text, a
// primary key: the check is one primary-key probe). A session whose
// tokens have all expired may be deleted: a missing row is refused like
// a revoked one, and a smaller table has a shallower index to descend on
// every guarded statement.
type SessionTable struct {
	Table     string // e.g. "sessions"
	ID        string // e.g. "id", text
	RevokedAt string // e.g. "revoked_at", NULL while the session is live
	// Subject, if set, is the column holding the session's subject: the
	// session must then be the capability's subject's too (a token whose
	// sid names another subject's session is refused).
	Subject string
	// Subjects, when set, adds the per-subject cut-off to the check.
	Subjects *SubjectTable
	// Required makes every policy declared on the registry require a live
	// session (as if each set Policy.LiveSession).
	Required bool
}

// SubjectTable declares the per-subject cut-off: a token of subject s is
// good only if issued at or after the ValidAfter of s's row. Setting
// ValidAfter to now() signs the subject out everywhere (tokens are issued
// with whole seconds: a token minted in the same second after the cut-off
// is refused too, until the next second; an application that signs in
// again at once writes date_trunc('second', now()) and revokes the
// subject's sessions as well). Deleting the row refuses every token of the
// subject: a subject without a row is refused (fail closed).
type SubjectTable struct {
	Table      string // e.g. "users"
	Subject    string // the column holding the token's subject, e.g. "name"
	ValidAfter string // timestamptz, NOT NULL (a NULL refuses every token)
}

// MembershipTable declares the application's memberships, for
// Policy.FreshMembership: a row (subject, group, role) per grant.
type MembershipTable struct {
	Table   string // e.g. "memberships"
	Subject string // e.g. "user_name"
	Group   string // e.g. "group_id", of the registry's group kind
	Role    string // e.g. "role", text
}

// liveness is the declared sessions, validated and quoted.
type liveness struct {
	table, id, revoked, owner   string
	subjects, subject, validAft string // "" without cut-off
	required                    bool
	check                       statement // SELECT NOT <frag>: the session ended
}

// membership is the declared memberships, validated and quoted.
type membership struct {
	table, subject, group, role string
}

// Sessions declares the application's sessions table (and, optionally, the
// subjects' cut-off) for the policies that require a live session. It must
// be called once, before any policy is declared.
func (r *Registry) Sessions(t SessionTable) error {
	l := &liveness{required: t.Required}
	var err error
	for _, f := range []struct {
		field, name string
		dst         *string
	}{{"Table", t.Table, &l.table}, {"ID", t.ID, &l.id}, {"RevokedAt", t.RevokedAt, &l.revoked}} {
		if *f.dst, err = ident(f.name); err != nil {
			return fmt.Errorf("%w: SessionTable.%s: %v", ErrDeclaration, f.field, err)
		}
	}
	if t.Subject != "" {
		if l.owner, err = ident(t.Subject); err != nil {
			return fmt.Errorf("%w: SessionTable.Subject: %v", ErrDeclaration, err)
		}
	}
	if s := t.Subjects; s != nil {
		for _, f := range []struct {
			field, name string
			dst         *string
		}{{"Table", s.Table, &l.subjects}, {"Subject", s.Subject, &l.subject}, {"ValidAfter", s.ValidAfter, &l.validAft}} {
			if *f.dst, err = ident(f.name); err != nil {
				return fmt.Errorf("%w: SubjectTable.%s: %v", ErrDeclaration, f.field, err)
			}
		}
	}
	var b buf
	b.s("SELECT NOT ").frag(l.frag())
	if l.check.sql, l.check.slots, err = number(b.done()); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.live != nil {
		return fmt.Errorf("%w: Sessions declared twice", ErrDeclaration)
	}
	if len(r.byName) > 0 {
		return fmt.Errorf("%w: Sessions must be declared before the policies", ErrDeclaration)
	}
	r.live = l
	return nil
}

// Memberships declares the application's membership table for the
// policies with FreshMembership. It must be called once, before any
// policy is declared.
func (r *Registry) Memberships(t MembershipTable) error {
	m := &membership{}
	var err error
	for _, f := range []struct {
		field, name string
		dst         *string
	}{{"Table", t.Table, &m.table}, {"Subject", t.Subject, &m.subject}, {"Group", t.Group, &m.group}, {"Role", t.Role, &m.role}} {
		if *f.dst, err = ident(f.name); err != nil {
			return fmt.Errorf("%w: MembershipTable.%s: %v", ErrDeclaration, f.field, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.members != nil {
		return fmt.Errorf("%w: Memberships declared twice", ErrDeclaration)
	}
	if len(r.byName) > 0 {
		return fmt.Errorf("%w: Memberships must be declared before the policies", ErrDeclaration)
	}
	r.members = m
	return nil
}

// MustSessions is Sessions for package-level declarations: it panics on
// error.
func (r *Registry) MustSessions(t SessionTable) {
	if err := r.Sessions(t); err != nil {
		panic(err)
	}
}

// MustMemberships is Memberships for package-level declarations: it
// panics on error.
func (r *Registry) MustMemberships(t MembershipTable) {
	if err := r.Memberships(t); err != nil {
		panic(err)
	}
}

// frag is the live-session condition, one subquery of one or two
// primary-key probes:
//
//	EXISTS (SELECT 1 FROM "sessions" AS "sg_sess", "users" AS "sg_subj"
//	        WHERE "sg_sess"."id" = ?::text AND "sg_sess"."revoked_at" IS NULL
//	        [AND "sg_sess"."subject" = ?subject]
//	        AND "sg_subj"."name" = ?subject AND "sg_subj"."valid_after" <= ?::timestamptz)
//
// The session id binds NULL when the capability has none, and so does an
// empty subject or a zero issued-at time: the comparison is then NULL, the
// EXISTS false, the session not live.
func (l *liveness) frag() frag {
	var b buf
	b.s(`EXISTS (SELECT 1 FROM `, l.table, ` AS "sg_sess"`)
	if l.subjects != "" {
		b.s(", ", l.subjects, ` AS "sg_subj"`)
	}
	b.s(` WHERE "sg_sess".`, l.id, " = ").slot(slot{kind: slotSession}).s(`::text AND "sg_sess".`, l.revoked, " IS NULL")
	if l.owner != "" {
		b.s(` AND "sg_sess".`, l.owner, " = ").slot(slot{kind: slotSubject})
	}
	if l.subjects != "" {
		b.s(` AND "sg_subj".`, l.subject, " = ").slot(slot{kind: slotSubject}).
			s(` AND "sg_subj".`, l.validAft, " <= ").slot(slot{kind: slotIssuedAt}).s("::timestamptz")
	}
	b.s(")")
	return b.done()
}

// fresh is the fresh-membership condition on one group expression g:
//
//	EXISTS (SELECT 1 FROM "memberships" AS "sg_mem" WHERE "sg_mem"."user_name" = ?subject
//	        AND "sg_mem"."group_id" = g AND "sg_mem"."role" = ANY(?::text[]))
//
// where the array holds the roles that include the policy's role, a
// constant computed at declaration.
type fresh struct {
	m     *membership
	roles int // the constant's index
}

func (f *fresh) frag(g frag) frag {
	var b buf
	b.s(`EXISTS (SELECT 1 FROM `, f.m.table, ` AS "sg_mem" WHERE "sg_mem".`, f.m.subject, " = ").
		slot(slot{kind: slotSubject}).s(` AND "sg_mem".`, f.m.group, " = ").frag(g).
		s(` AND "sg_mem".`, f.m.role, " = ANY(").slot(slot{kind: slotConst, i: f.roles}).s("::text[]))")
	return b.done()
}

// declareRevocation validates LiveSession and FreshMembership (common).
func (d *decl) declareRevocation() error {
	p := d.p
	r := d.r
	r.mu.Lock()
	live, members := r.live, r.members
	r.mu.Unlock()
	if p.LiveSession || live != nil && live.required {
		if live == nil {
			return fmt.Errorf("LiveSession needs the registry's Sessions")
		}
		d.live = live.frag()
		d.liveness = live
		d.info.LiveSession = true
		d.info.LiveSQL = live.check.sql
	}
	if p.FreshMembership {
		if members == nil {
			return fmt.Errorf("FreshMembership needs the registry's Memberships")
		}
		if !d.guarded {
			return fmt.Errorf("FreshMembership needs a guard")
		}
		var incl []string
		for _, n := range r.roles.Names() {
			if r.roles.Includes(n, p.Role) {
				incl = append(incl, n)
			}
		}
		d.fresh = &fresh{m: members, roles: d.bd.constant(incl)}
		d.info.FreshMembership = true
		d.info.FreshRoles = incl
	}
	return nil
}

// sessionEnded is the error of a statement that found the session ended.
func (c *compiled) sessionEnded() error {
	return &policyError{policy: c.info.Name, err: ErrSessionEnded}
}

// refused is the refusal path of a statement that did nothing: for a
// policy that requires a live session it asks the registry's liveness
// query (see the top of this file) and answers ErrSessionEnded when the
// session ended, refusal otherwise. An error of the liveness query is
// answered as it is: a refusal either way.
func (c *compiled) refused(ctx context.Context, db DB, cp *capability.Capability, refusal error) error {
	if c.live == nil {
		return refusal
	}
	ended, err := c.live.ended(ctx, db, cp)
	if err != nil {
		return c.wrap(err)
	}
	if ended {
		return c.sessionEnded()
	}
	return refusal
}

// ended runs the liveness query for c on db: true when c's session ended
// (or c has no session id: no query is sent).
func (l *liveness) ended(ctx context.Context, db DB, c *capability.Capability) (bool, error) {
	if c == nil || c.SessionID() == "" {
		return true, nil
	}
	var a [4]any
	args := a[:0]
	for _, s := range l.check.slots {
		args = append(args, capabilityArg(c, s.kind))
	}
	var ended bool
	if err := db.QueryRow(ctx, l.check.sql, args...).Scan(&ended); err != nil {
		return false, fmt.Errorf("sqlguard: revocation check: %w", err)
	}
	return ended, nil
}

// sessionArg binds the capability's session id, NULL for none.
func sessionArg(c *capability.Capability) any {
	if sid := c.SessionID(); sid != "" {
		return sid
	}
	return nil
}

// issuedAtArg binds the capability's issued-at time, NULL when zero.
func issuedAtArg(c *capability.Capability) any {
	if t := c.IssuedAt(); !t.IsZero() {
		return t
	}
	return nil
}

// Revocations checks a capability against the registry's declared
// sessions (and cut-off) in one query, for routes that run no guarded
// statement. Its Revoked method satisfies the middleware's
// RevocationChecker: the middleware links no SQL driver, the application
// plugs this in. It is safe for concurrent use.
type Revocations struct {
	db   DB
	live *liveness
}

// Revocations returns the checker of r's declared sessions on db.
func (r *Registry) Revocations(db DB) (*Revocations, error) {
	r.mu.Lock()
	live := r.live
	r.mu.Unlock()
	if live == nil || db == nil {
		return nil, fmt.Errorf("%w: Revocations needs a DB and the registry's Sessions", ErrDeclaration)
	}
	return &Revocations{db: db, live: live}, nil
}

// Revoked reports whether c's session ended (see ErrSessionEnded): true
// for a nil capability and for one without a session id.
func (rv *Revocations) Revoked(ctx context.Context, c *capability.Capability) (bool, error) {
	return rv.live.ended(ctx, rv.db, c)
}

// capabilityArg binds the capability slots of the live-session condition.
func capabilityArg(c *capability.Capability, k slotKind) any {
	switch k {
	case slotSession:
		return sessionArg(c)
	case slotIssuedAt:
		return issuedAtArg(c)
	case slotSubject:
		if sub := c.Subject(); sub != "" {
			return sub
		}
	}
	return nil
}
