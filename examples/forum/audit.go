package main

import (
	_ "embed"
	"fmt"
	"io"

	"github.com/keyhole-go/keyhole/sqlguard"
	"github.com/keyhole-go/keyhole/sqlguard/approval"
)

// printAudit writes the audit report of reg's policies to w (forum
// -audit): a table of every policy (kind, table, role, read role, parent
// chain, owner column, admin override, columns set, extra conditions),
// then the RESERVED section of the policies that bypass the group guard.
func printAudit(w io.Writer, reg *sqlguard.Registry) error {
	return approval.NewReport(reg).WriteText(w)
}

// approvedLock is the forum's checked-in approval lock: the permissions a
// reviewer approved. lock_test.go fails when the policies ask for more;
// go test ./examples/forum -run Lock -update rewrites it.
//
//go:embed keyhole.lock
var approvedLock []byte

// approveLock makes reg refuse, before touching the database, every
// policy that keyhole.lock does not approve (sqlguard.ErrNotApproved).
func approveLock(reg *sqlguard.Registry) error {
	a, err := approval.Parse(approvedLock)
	if err != nil {
		return fmt.Errorf("forum: keyhole.lock: %w", err)
	}
	return approval.Enforce(reg, a)
}
