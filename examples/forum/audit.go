package main

import (
	_ "embed"
	"fmt"
	"io"
	"strings"

	"github.com/keyhole-go/keyhole/sqlguard"
	"github.com/keyhole-go/keyhole/sqlguard/approval"
)

// printAudit writes the audit report of reg's policies to w (forum
// -audit): a table of every policy (kind, table, role, read role, parent
// chain, owner column, admin override, columns set, extra conditions),
// then the RESERVED section of the policies that bypass the group guard,
// then the PLUGINS section: each plugin's audience, approved roles, token
// lifetime, and the policies it can reach.
func printAudit(w io.Writer, reg *sqlguard.Registry) error {
	if err := approval.NewReport(reg).WriteText(w); err != nil {
		return err
	}
	infos := make(map[string]sqlguard.PolicyInfo)
	for _, p := range reg.Policies() {
		infos[p.Name] = p
	}
	fmt.Fprintf(w, "\nPLUGINS: %d audience(s) of the token exchange (POST /oauth/token); an exchanged token never holds the admin flag\n", len(forumPlugins))
	for _, p := range forumPlugins {
		fmt.Fprintf(w, "  %s  roles=%s  ttl=%v  %s\n", p.Audience, strings.Join(p.Roles, ","), p.TTL, p.About)
		for _, name := range p.Policies() {
			info := infos[name]
			fmt.Fprintf(w, "    %-14s %s on %s, role %s\n", name, info.Kind, info.Table, info.Role)
		}
	}
	return nil
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
