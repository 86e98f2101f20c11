package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// The forum's rows as the API shows them.
type group struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type thread struct {
	ID        int64     `json:"id"`
	GroupID   int64     `json:"group_id"`
	GroupName string    `json:"group_name,omitempty"`
	Title     string    `json:"title"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

type post struct {
	ID        int64      `json:"id"`
	ThreadID  int64      `json:"thread_id"`
	Author    string     `json:"author"`
	Content   string     `json:"content"`
	CreatedAt time.Time  `json:"created_at"`
	EditedAt  *time.Time `json:"edited_at,omitempty"`
}

// page is a page of a list: newest first; the next page is before the
// last id.
type page struct {
	Before int64 // only ids below it; math.MaxInt64 for the first page
	Limit  int
}

const (
	defaultLimit = 20
	maxLimit     = 100
	maxTitle     = 200   // characters, as the schema checks
	maxContent   = 10000 // characters, as the schema checks
)

var firstPage = page{Before: math.MaxInt64, Limit: defaultLimit}

// Every method below hands the capability and the call's values to a
// declared policy: none decides access itself.

func (a *app) listGroups(ctx context.Context, c *capability.Capability, p page) ([]group, error) {
	rows, err := a.pol.groupsList.Query(ctx, a.q(c), c, p.Before, p.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (g group, err error) {
		err = r.Scan(&g.ID, &g.Name)
		return g, err
	})
}

func (a *app) getGroup(ctx context.Context, c *capability.Capability, id int64) (group, error) {
	var g group
	err := a.pol.groupGet.QueryRow(ctx, a.q(c), c, id).Scan(&g.ID, &g.Name)
	return g, err
}

// listThreads lists a group's threads: none for a group the caller may
// not see (childList tells that apart from a group without threads).
func (a *app) listThreads(ctx context.Context, c *capability.Capability, groupID int64, p page) ([]thread, error) {
	rows, err := a.pol.threadsList.Query(ctx, a.q(c), c, groupID, p.Before, p.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (t thread, err error) {
		err = r.Scan(&t.ID, &t.GroupID, &t.Title, &t.CreatedBy, &t.CreatedAt)
		return t, err
	})
}

func (a *app) getThread(ctx context.Context, c *capability.Capability, id int64) (thread, error) {
	var t thread
	err := a.pol.threadGet.QueryRow(ctx, a.q(c), c, id).Scan(&t.ID, &t.GroupID, &t.GroupName, &t.Title, &t.CreatedBy, &t.CreatedAt)
	return t, err
}

func (a *app) createThread(ctx context.Context, c *capability.Capability, groupID int64, title string) (thread, error) {
	if err := checkText("title", title, maxTitle); err != nil {
		return thread{}, err
	}
	t := thread{GroupID: groupID, Title: title, CreatedBy: c.Subject()}
	err := a.pol.threadCreate.QueryRow(ctx, a.q(c), c, groupID, title).Scan(&t.ID, &t.CreatedAt)
	return t, noGroup(err)
}

func (a *app) deleteThread(ctx context.Context, c *capability.Capability, id int64) error {
	return a.pol.threadDelete.Exec(ctx, a.q(c), c, id)
}

func (a *app) moveThread(ctx context.Context, c *capability.Capability, id, groupID int64) error {
	return noGroup(a.pol.threadMove.Exec(ctx, a.q(c), c, id, groupID))
}

// listPosts lists a thread's posts: none for a thread the caller may not
// see (childList tells that apart from a thread without posts).
func (a *app) listPosts(ctx context.Context, c *capability.Capability, threadID int64, p page) ([]post, error) {
	rows, err := a.pol.postsList.Query(ctx, a.q(c), c, threadID, p.Before, p.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (p post, err error) {
		err = r.Scan(&p.ID, &p.ThreadID, &p.Author, &p.Content, &p.CreatedAt, &p.EditedAt)
		return p, err
	})
}

func (a *app) getPost(ctx context.Context, c *capability.Capability, id int64) (post, error) {
	var p post
	err := a.pol.postGet.QueryRow(ctx, a.q(c), c, id).Scan(&p.ID, &p.ThreadID, &p.Author, &p.Content, &p.CreatedAt, &p.EditedAt)
	return p, err
}

func (a *app) createPostGuarded(ctx context.Context, c *capability.Capability, threadID int64, content string) (post, error) {
	p := post{ThreadID: threadID, Author: c.Subject(), Content: content}
	err := a.pol.postCreate.QueryRow(ctx, a.q(c), c, threadID, content).Scan(&p.ID, &p.CreatedAt)
	return p, err
}

func (a *app) editPost(ctx context.Context, c *capability.Capability, id int64, content string) error {
	if err := checkText("content", content, maxContent); err != nil {
		return err
	}
	err := a.pol.postEdit.Exec(ctx, a.q(c), c, id, content, a.now())
	var de *sqlguard.DeniedError
	if errors.As(err, &de) {
		// The caller may read the post, and so is a member of its group
		// (or the admin): what failed is posts.edit's one condition, the
		// author. Not even the admin edits another's words.
		return &sqlguard.DeniedError{Policy: de.Policy, Need: needAuthor}
	}
	return err
}

// needAuthor is what a refused edit needed.
const needAuthor = "to be the post's author: only the author may edit"

func (a *app) deletePost(ctx context.Context, c *capability.Capability, id int64) error {
	return a.pol.postDelete.Exec(ctx, a.q(c), c, id)
}

// noGroup turns the foreign key error of a group that does not exist
// (only an admin's statement gets that far) into not found.
func noGroup(err error) error {
	if sqlguard.IsForeignKeyViolation(err) {
		return fmt.Errorf("forum: no such group: %w", sqlguard.ErrNotFound)
	}
	return err
}

// checkText validates a title or a post's content before it reaches the
// database, whose check constraint would otherwise answer 500.
func checkText(field, s string, max int) error {
	switch {
	case strings.TrimSpace(s) == "":
		return badRequest("%s is empty", field)
	case !utf8.ValidString(s) || strings.ContainsRune(s, 0):
		return badRequest("%s is not valid text", field)
	case utf8.RuneCountInString(s) > max:
		return badRequest("%s is longer than %d characters", field, max)
	}
	return nil
}

// errUnknownUser is the login's answer to a name that is not a demo user.
var errUnknownUser = errors.New("forum: unknown user")

// grantsOf reads the auth side's tables: the user's admin flag and
// memberships. This is the auth service's own lookup, not a forum request,
// so it runs without a capability.
func (a *app) grantsOf(ctx context.Context, name string) (admin bool, grants []capability.Grant, err error) {
	err = a.db.QueryRow(ctx, "select admin from users where name = $1", name).Scan(&admin)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil, errUnknownUser
	}
	if err != nil {
		return false, nil, err
	}
	rows, err := a.db.Query(ctx, "select group_id, role from memberships where user_name = $1 order by group_id", name)
	if err != nil {
		return false, nil, err
	}
	grants, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (capability.Grant, error) {
		var g int64
		var role string
		err := r.Scan(&g, &role)
		return capability.Grant{Group: capability.Int64Group(g), Role: role}, err
	})
	return admin, grants, err
}

// roleIn is the caller's role in group g, for display only (what the page
// offers); PostgreSQL decides what is allowed.
func roleIn(c *capability.Capability, g int64) string {
	if c.Admin() {
		return "admin"
	}
	switch {
	case c.Has(roleModerator, capability.Int64Group(g)):
		return roleModerator
	case c.Has(roleMember, capability.Int64Group(g)):
		return roleMember
	}
	return ""
}

// openSession starts a session of user name and returns its id, 128
// random bits. Like grantsOf, it is the auth side's own work at login,
// without a capability.
func (a *app) openSession(ctx context.Context, name string) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	sid := base64.RawURLEncoding.EncodeToString(b[:])
	if _, err := a.db.Exec(ctx, "insert into sessions (id, user_name) values ($1, $2)", sid, name); err != nil {
		return "", err
	}
	return sid, nil
}

// endSession is logout: the caller ends their own live session.
func (a *app) endSession(ctx context.Context, c *capability.Capability) error {
	return a.pol.sessionEnd.Exec(ctx, a.q(c), c, c.SessionID(), a.now())
}

// member is a row of memberships, for the admin's page.
type member struct {
	User  string `json:"user"`
	Group int64  `json:"group"`
	Role  string `json:"role"`
}

// listMembers lists every membership: an admin's view (members.list is
// admin-only: anyone else gets an empty list).
func (a *app) listMembers(ctx context.Context, c *capability.Capability) ([]member, error) {
	rows, err := a.pol.membersList.Query(ctx, a.q(c), c)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (m member, err error) {
		err = r.Scan(&m.User, &m.Group, &m.Role)
		return m, err
	})
}

// removeMember removes user from group: their next write there is refused
// (fresh membership), though their token still lists the group.
func (a *app) removeMember(ctx context.Context, c *capability.Capability, groupID int64, user string) error {
	return a.pol.memberRemove.Exec(ctx, a.q(c), c, groupID, user)
}

// signOut signs user out everywhere: their cut-off moves to this second
// (every token issued before it is refused), then their live sessions end
// (tokens of this very second too). An unknown user, or a caller without
// the admin flag, is not found, and nothing changes. Two statements, not
// one transaction: an admin who signs themselves out has ended their own
// token with the first, and the second then answers ErrSessionEnded,
// which is fine (its tokens of this second keep their sessions: the
// cut-off refuses the older ones).
func (a *app) signOut(ctx context.Context, c *capability.Capability, user string) error {
	now := a.now()
	if err := a.pol.userCutoff.Exec(ctx, a.q(c), c, user, now.Truncate(time.Second)); err != nil {
		return err
	}
	err := a.pol.userSessionsEnd.Exec(ctx, a.q(c), c, user, now)
	if errors.Is(err, sqlguard.ErrNotFound) || errors.Is(err, sqlguard.ErrSessionEnded) {
		return nil // no live session left
	}
	return err
}
