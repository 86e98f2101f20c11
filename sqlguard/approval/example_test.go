package approval_test

import (
	"errors"
	"fmt"
	"os"

	sq "github.com/Masterminds/squirrel"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/sqlguard"
	"github.com/keyhole-go/keyhole/sqlguard/approval"
)

// exampleRegistry declares a few policies of a small forum.
func exampleRegistry() *sqlguard.Registry {
	roles, _ := capability.Chain("member", "moderator")
	reg := sqlguard.MustNewRegistry(roles, capability.KindInt64)
	reg.MustInsert(sqlguard.Policy{Name: "threads.create", Table: "threads",
		Columns: []string{"title", "group_id"}, SubjectColumn: "created_by",
		GroupColumn: "group_id", Role: "member"})
	reg.MustList(sqlguard.Policy{Name: "threads.list", Table: "threads", Alias: "t",
		GroupColumn: "group_id", Role: "member", AdminOverride: true,
		Query: sq.Select("t.id", "t.title").OrderBy("t.id DESC")})
	reg.MustDelete(sqlguard.Policy{Name: "posts.delete", Table: "posts", Key: []string{"id"},
		Parents:     []sqlguard.Parent{{Column: "thread_id", Table: "threads"}},
		GroupColumn: "group_id", Role: "moderator", ReadRole: "member", OwnerColumn: "author"})
	reg.MustUpdate(sqlguard.Policy{Name: "posts.edit", Table: "posts", Key: []string{"id"}, Set: []string{"content"},
		Parents:     []sqlguard.Parent{{Column: "thread_id", Table: "threads"}},
		GroupColumn: "group_id", Role: "member", Where: []sq.Sqlizer{sq.Expr("posts.author = ?", sqlguard.Subject)}})
	reg.MustDelete(sqlguard.Policy{Name: "sessions.purge", Table: "sessions", Key: []string{"id"},
		Unguarded: "expired sessions are purged by a job without a user"})
	return reg
}

// The audit report of a registry, for people, with the policies that
// bypass the group guard flagged in a RESERVED section.
func ExampleReport_WriteText() {
	reg := exampleRegistry()
	if err := approval.NewReport(reg).WriteText(os.Stdout); err != nil {
		fmt.Println(err)
	}
	// Output:
	// POLICY          KIND         TABLE     ROLE       READ    GROUP                       OWNER   ADMIN  SET      CONDITIONS
	// posts.delete    delete       posts     moderator  member  thread_id>threads.group_id  author  no     -        -
	// posts.edit      update       posts     member     -       thread_id>threads.group_id  -       no     content  posts.author = <subject>
	// sessions.purge  delete       sessions  UNGUARDED  -       -                           -       no     -        -
	// threads.create  insert       threads   member     -       group_id                    -       no     -        -
	// threads.list    select-list  threads   member     -       group_id                    -       yes    -        -
	//
	// RESERVED: 2 policies bypass the group guard
	//   !! sessions.purge  unguarded       delete on sessions                     no group guard: expired sessions are purged by a job without a user
	//   !! threads.list    admin-override  select-list on threads in every group  the admin flag passes the group check
}

// The lock file of a registry: the approved permissions, one line per
// policy, without SQL text.
func ExampleFile() {
	reg := exampleRegistry()
	fmt.Print(string(approval.File(reg)))
	// Output:
	// # keyhole approval lock: the approved permissions of this application's
	// # sqlguard policies, one line per policy (see sqlguard.Permission).
	// # A new or widened permission fails the application's lock test until this
	// # file is regenerated (go test -run Lock -update) and the diff is reviewed.
	// posts.delete  delete  posts  role=moderator  read=member  group=thread_id>threads.group_id  owner=author  admin=no
	// posts.edit  update  posts  role=member  group=thread_id>threads.group_id  admin=no  set=content  conds=1  subj=1
	// # sessions.purge is unguarded: expired sessions are purged by a job without a user
	// sessions.purge  delete  sessions  unguarded=yes
	// threads.create  insert  threads  role=member  group=group_id  admin=no  write=group_id,title  subject=created_by
	// threads.list  select-list  threads  role=member  group=group_id  admin=yes
}

// An application's code changed posts.delete to need only role member: the
// diff against the approved lock names the widening, and a registry that
// approves the lock refuses to run the policy.
func ExampleLock_Diff() {
	approved, err := approval.Parse(approval.File(exampleRegistry()))
	if err != nil {
		fmt.Println(err)
		return
	}
	roles, _ := capability.Chain("member", "moderator")
	reg := sqlguard.MustNewRegistry(roles, capability.KindInt64)
	del := reg.MustDelete(sqlguard.Policy{Name: "posts.delete", Table: "posts", Key: []string{"id"},
		Parents:     []sqlguard.Parent{{Column: "thread_id", Table: "threads"}},
		GroupColumn: "group_id", Role: "member", AdminOverride: true})
	reg.MustUpdate(sqlguard.Policy{Name: "posts.pin", Table: "posts", Key: []string{"id"}, Set: []string{"pinned"},
		Parents:     []sqlguard.Parent{{Column: "thread_id", Table: "threads"}},
		GroupColumn: "group_id", Role: "moderator"})
	d := approved.Diff(reg)
	for _, c := range d.Added {
		fmt.Println("added:   ", c)
	}
	for _, c := range d.Widened {
		fmt.Println("widened: ", c)
	}
	for _, c := range d.Narrowed {
		fmt.Println("narrowed:", c)
	}
	for _, c := range d.Removed {
		fmt.Println("removed: ", c)
	}
	if err := approval.Enforce(reg, approved); err != nil {
		fmt.Println(err)
		return
	}
	// Refused before anything reaches the database.
	_, _, err = del.Bind(nil, int64(1))
	fmt.Println(errors.Is(err, sqlguard.ErrNotApproved), err)
	// Output:
	// added:    posts.pin is a new permission (update on posts, role moderator); not approved
	// widened:  posts.delete now allows role member; approved: moderator
	// widened:  posts.delete now allows the admin override; approved: no admin override
	// narrowed: posts.delete narrowed to no read role; approved: read role member
	// narrowed: posts.delete narrowed to no owner column; approved: owner author
	// removed:  posts.edit is no longer declared; approved: update on posts, role member
	// removed:  sessions.purge is no longer declared; approved: delete on sessions, unguarded
	// removed:  threads.create is no longer declared; approved: insert on threads, role member
	// removed:  threads.list is no longer declared; approved: select-list on threads, role member, admin override
	// true sqlguard: posts.delete: policy not approved: policy "posts.delete" needs role member on posts; approved: moderator; and needs the admin override on posts; approved: no admin override
}
