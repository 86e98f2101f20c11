package main

import (
	sq "github.com/Masterminds/squirrel"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// The forum's roles. A moderator includes a member. Above both stands the
// admin of rule 4 below, which is not a role held in a group but the
// token's admin flag (users.admin): every policy below sets AdminOverride,
// so an admin acts in every group, and nothing else.
const (
	roleMember    = "member"
	roleModerator = "moderator"
)

// forumRoles is member < moderator (and the admin flag above them).
var forumRoles = func() *capability.Roles {
	r, err := capability.Chain(roleMember, roleModerator)
	if err != nil {
		panic(err)
	}
	return r
}()

// policies are the forum's guarded statements, each declared once. No
// handler decides access itself: it binds a capability and the call's
// values to one of these, and PostgreSQL decides in the statement.
type policies struct {
	groupsList *sqlguard.List
	groupGet   *sqlguard.Get

	threadsList  *sqlguard.List
	threadGet    *sqlguard.Get
	threadCreate *sqlguard.Write // rule 1: a member creates a thread in their group
	threadDelete *sqlguard.Write // rule 3: a moderator deletes threads of their group
	threadMove   *sqlguard.Write // a moderator of both groups moves a thread

	postsList  *sqlguard.List
	postGet    *sqlguard.Get
	postCreate *sqlguard.Write // rule 2: a member posts in a thread of their group
	postEdit   *sqlguard.Write // the author edits their own post (in a group they belong to)
	postDelete *sqlguard.Write // rule 3: a moderator deletes posts of their group
	// Rule 4, admins do all of the above in any group: AdminOverride
	// on every policy.

	// Sessions and memberships, the admin's page (rows of no group: the
	// admin flag alone), and the caller's own logout.
	membersList     *sqlguard.List  // an admin sees who belongs to which group
	memberRemove    *sqlguard.Write // an admin removes a member from a group
	userCutoff      *sqlguard.Write // an admin signs a user out everywhere: the cut-off
	userSessionsEnd *sqlguard.Write // ... and the user's live sessions
	sessionEnd      *sqlguard.Write // logout: the caller ends their own session
}

// threadParent is the hop from a post to the thread that holds its group.
var threadParent = []sqlguard.Parent{{Column: "thread_id", Table: "threads"}}

// newPolicies declares every policy of the forum on a new registry. The
// registry is what -audit prints and what the approval lock compares.
//
// Every policy requires a live session (the registry's Sessions, Required):
// a token whose session was logged out, whose user was signed out
// everywhere (users.valid_after after the token's iat) or deleted, is
// refused by every statement with sqlguard.ErrSessionEnded (401), before
// its row is even looked at. The writes that matter (create, move, edit,
// delete) also require a fresh membership: the token's grant and a row of
// memberships, so that a member removed from a group stops writing there
// at once, though their token still lists the group. The admin flag
// (AdminOverride) does not need a membership: an admin is not a member;
// a signed-out admin is refused by the session check like anyone.
func newPolicies() (*sqlguard.Registry, *policies) {
	reg := sqlguard.MustNewRegistry(forumRoles, capability.KindInt64)
	reg.MustSessions(sqlguard.SessionTable{
		Table: "sessions", ID: "id", RevokedAt: "revoked_at", Subject: "user_name", Required: true,
		Subjects: &sqlguard.SubjectTable{Table: "users", Subject: "name", ValidAfter: "valid_after"},
	})
	reg.MustMemberships(sqlguard.MembershipTable{Table: "memberships", Subject: "user_name", Group: "group_id", Role: "role"})
	p := &policies{
		groupsList: reg.MustList(sqlguard.Policy{
			Name: "groups.list", Table: "groups", Alias: "g",
			Role: roleMember, GroupColumn: "id", AdminOverride: true,
			Query: sq.Select("g.id", "g.name").
				Where("g.id < ?", sqlguard.Arg).
				OrderBy("g.id DESC").Suffix("LIMIT ?", sqlguard.Arg),
		}),
		groupGet: reg.MustGet(sqlguard.Policy{
			Name: "groups.get", Table: "groups", Alias: "g", Key: []string{"id"},
			Role: roleMember, GroupColumn: "id", AdminOverride: true,
			Query: sq.Select("g.id", "g.name"),
		}),

		threadsList: reg.MustList(sqlguard.Policy{
			Name: "threads.list", Table: "threads", Alias: "t",
			Role: roleMember, GroupColumn: "group_id", AdminOverride: true,
			Query: sq.Select("t.id", "t.group_id", "t.title", "t.created_by", "t.created_at").
				Where("t.group_id = ? AND t.id < ?", sqlguard.Arg, sqlguard.Arg).
				OrderBy("t.id DESC").Suffix("LIMIT ?", sqlguard.Arg),
		}),
		threadGet: reg.MustGet(sqlguard.Policy{
			Name: "threads.get", Table: "threads", Alias: "t", Key: []string{"id"},
			Role: roleMember, GroupColumn: "group_id", AdminOverride: true,
			Query: sq.Select("t.id", "t.group_id", "g.name", "t.title", "t.created_by", "t.created_at").
				Join("groups AS g ON g.id = t.group_id"),
		}),
		threadCreate: reg.MustInsert(sqlguard.Policy{
			Name: "threads.create", Table: "threads",
			Role: roleMember, GroupColumn: "group_id", AdminOverride: true,
			Columns: []string{"group_id", "title"}, SubjectColumn: "created_by",
			Returning: []string{"id", "created_at"}, FreshMembership: true,
		}),
		threadDelete: reg.MustDelete(sqlguard.Policy{
			Name: "threads.delete", Table: "threads", Key: []string{"id"},
			Role: roleModerator, ReadRole: roleMember, GroupColumn: "group_id", AdminOverride: true,
			FreshMembership: true,
		}),
		threadMove: reg.MustUpdate(sqlguard.Policy{
			Name: "threads.move", Table: "threads", Key: []string{"id"}, Set: []string{"group_id"},
			Role: roleModerator, ReadRole: roleMember, GroupColumn: "group_id", AdminOverride: true,
			FreshMembership: true,
		}),

		postsList: reg.MustList(sqlguard.Policy{
			Name: "posts.list", Table: "posts", Alias: "p", Parents: threadParent,
			Role: roleMember, GroupColumn: "group_id", AdminOverride: true,
			Query: sq.Select("p.id", "p.thread_id", "p.author", "p.content", "p.created_at", "p.edited_at").
				Where("p.thread_id = ? AND p.id < ?", sqlguard.Arg, sqlguard.Arg).
				OrderBy("p.id DESC").Suffix("LIMIT ?", sqlguard.Arg),
		}),
		postGet: reg.MustGet(sqlguard.Policy{
			Name: "posts.get", Table: "posts", Alias: "p", Parents: threadParent, Key: []string{"id"},
			Role: roleMember, GroupColumn: "group_id", AdminOverride: true,
			Query: sq.Select("p.id", "p.thread_id", "p.author", "p.content", "p.created_at", "p.edited_at"),
		}),
		postCreate: reg.MustInsert(sqlguard.Policy{
			Name: "posts.create", Table: "posts", Parents: threadParent,
			Role: roleMember, GroupColumn: "group_id", AdminOverride: true,
			// A thread may be moved while someone posts into it: the insert
			// and the move serialize on the thread row.
			Lock:    sqlguard.LockShare,
			Columns: []string{"thread_id", "content"}, SubjectColumn: "author",
			Returning: []string{"id", "created_at"}, FreshMembership: true,
		}),
		postEdit: reg.MustUpdate(sqlguard.Policy{
			Name: "posts.edit", Table: "posts", Parents: threadParent, Key: []string{"id"},
			Set:  []string{"content", "edited_at"},
			Role: roleMember, ReadRole: roleMember, GroupColumn: "group_id", AdminOverride: true,
			Where:           []sq.Sqlizer{sq.Expr("posts.author = ?", sqlguard.Subject)},
			FreshMembership: true,
		}),
		postDelete: reg.MustDelete(sqlguard.Policy{
			Name: "posts.delete", Table: "posts", Parents: threadParent, Key: []string{"id"},
			Role: roleModerator, ReadRole: roleMember, GroupColumn: "group_id", AdminOverride: true,
			FreshMembership: true,
		}),

		membersList: reg.MustList(sqlguard.Policy{
			Name: "members.list", Table: "memberships", Alias: "m", AdminOnly: true,
			Query: sq.Select("m.user_name", "m.group_id", "m.role").OrderBy("m.group_id", "m.user_name").Suffix("LIMIT 1000"),
		}),
		memberRemove: reg.MustDelete(sqlguard.Policy{
			Name: "members.remove", Table: "memberships", Key: []string{"group_id", "user_name"}, AdminOnly: true,
		}),
		userCutoff: reg.MustUpdate(sqlguard.Policy{
			Name: "users.signout", Table: "users", Key: []string{"name"}, Set: []string{"valid_after"}, AdminOnly: true,
		}),
		userSessionsEnd: reg.MustUpdate(sqlguard.Policy{
			Name: "sessions.signout", Table: "sessions", Key: []string{"user_name"}, Set: []string{"revoked_at"}, AdminOnly: true,
			Where: []sq.Sqlizer{sq.Expr("sessions.revoked_at IS NULL")},
		}),
		sessionEnd: reg.MustUpdate(sqlguard.Policy{
			Name: "sessions.logout", Table: "sessions", Key: []string{"id"}, Set: []string{"revoked_at"},
			Unguarded: "a session belongs to no group: the caller ends their own (user_name = subject)",
			Where:     []sq.Sqlizer{sq.Expr("sessions.user_name = ?", sqlguard.Subject), sq.Expr("sessions.revoked_at IS NULL")},
		}),
	}
	return reg, p
}
