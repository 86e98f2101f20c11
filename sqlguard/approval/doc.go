// Package approval reviews what an application's sqlguard policies allow:
// the audit report (NewReport, for people and tools) and the approval
// lock file (File, Parse, Lock.Diff), which an application checks in so
// that a new or widened permission fails its tests until someone approves
// it by regenerating the file (sqlguardtest.CheckLock). Enforce makes a
// registry refuse, at run time and before anything is sent to the
// database, every policy the lock does not approve (the hook is
// sqlguard.Registry.SetApproval: a refused policy answers
// sqlguard.ErrNotApproved).
//
// It reads each policy through its one description, sqlguard.PolicyInfo
// (Registry.Policies), never through its SQL text. What it trusts: the
// lock file it is given (it is the approval). How it fails: closed. A lock
// file that cannot be parsed is an error and approves nothing; a policy
// missing from the lock, or wider than approved, is refused.
//
// # The lock file
//
// A lock file lists the approved permissions of an application, one line
// per policy, sorted by name:
//
//	posts.delete  delete  posts  role=moderator  read=member  group=thread_id>threads.group_id  admin=yes
//	posts.edit  update  posts  role=member  group=thread_id>threads.group_id  owner=author  admin=no  set=content,edited_at
//
// A line holds what decides who may do what to which rows, and nothing of
// the SQL text: rewording a query, a condition or a returned column inside
// the same permission changes no line. The fields, and when a change
// widens access (and so needs approval):
//
//	name kind table   a change of kind or table is a different permission
//	role=R            the role needed in the row's group: a role that R does not include is wider
//	read=R            the role that may tell denied from not found: added or lowered is wider
//	group=G           where the group comes from (PolicyInfo.GroupPath): any change needs approval
//	owner=C           the owner column whose subject may also act: added or changed is wider
//	admin=yes|no      the admin override: yes is wider
//	set=a,b           the columns an update may change: a new column is wider
//	write=a,b         the columns an insert takes from the call's values: a new column is wider
//	subject=C         the column an insert takes from the capability's subject
//	                  (SubjectColumn): any change, and its removal, is wider (a
//	                  column moved from subject= to write= comes from the request)
//	distinguish=yes   a Get that tells a denied key from a missing one: wider
//	conds=N           the number of extra conditions (Policy.Where): fewer is wider
//	subj=N            the number of Subject placeholders in the conditions (and,
//	                  for List and Get, in the query): fewer is wider (a Subject
//	                  turned into an Arg takes the value from the request)
//	joins=a,b         the relations a List's or Get's query and conditions read
//	                  besides its table (joins, subqueries, TABLE t; a function as
//	                  name()): a new one is wider
//	unguarded=yes     no group guard at all: the widest
//
// Extra conditions only narrow what the guard allows: each is checked at
// declaration to be one balanced expression (see sqlguard.Policy.Where), so no
// rewording can reach around the key or the guard. Their text is SQL and
// may be reworded freely, so the lock holds only their number and how many
// values they take from the capability: dropping a condition
// ("posts.author = Subject") or binding it to a call value instead of the
// subject needs approval; rewording one does not, and neither does
// replacing one by a weaker one (the audit report shows their text, with
// <subject> for Subject). An unguarded policy's reason is written as a
// comment above its line: rewording it is visible in the diff and needs no
// approval.
//
// # Examples
//
// ExampleReport_WriteText prints an audit report, ExampleFile a lock file,
// ExampleLock_Diff what a change needs approved.
package approval
