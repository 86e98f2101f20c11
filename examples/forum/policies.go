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
}

// threadParent is the hop from a post to the thread that holds its group.
var threadParent = []sqlguard.Parent{{Column: "thread_id", Table: "threads"}}

// newPolicies declares every policy of the forum on a new registry. The
// registry is what -audit prints and what the approval lock compares.
func newPolicies() (*sqlguard.Registry, *policies) {
	reg := sqlguard.MustNewRegistry(forumRoles, capability.KindInt64)
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
			Returning: []string{"id", "created_at"},
		}),
		threadDelete: reg.MustDelete(sqlguard.Policy{
			Name: "threads.delete", Table: "threads", Key: []string{"id"},
			Role: roleModerator, ReadRole: roleMember, GroupColumn: "group_id", AdminOverride: true,
		}),
		threadMove: reg.MustUpdate(sqlguard.Policy{
			Name: "threads.move", Table: "threads", Key: []string{"id"}, Set: []string{"group_id"},
			Role: roleModerator, ReadRole: roleMember, GroupColumn: "group_id", AdminOverride: true,
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
			Returning: []string{"id", "created_at"},
		}),
		postEdit: reg.MustUpdate(sqlguard.Policy{
			Name: "posts.edit", Table: "posts", Parents: threadParent, Key: []string{"id"},
			Set:  []string{"content", "edited_at"},
			Role: roleMember, ReadRole: roleMember, GroupColumn: "group_id", AdminOverride: true,
			Where: []sq.Sqlizer{sq.Expr("posts.author = ?", sqlguard.Subject)},
		}),
		postDelete: reg.MustDelete(sqlguard.Policy{
			Name: "posts.delete", Table: "posts", Parents: threadParent, Key: []string{"id"},
			Role: roleModerator, ReadRole: roleMember, GroupColumn: "group_id", AdminOverride: true,
		}),
	}
	return reg, p
}
