package wall

import (
	"fmt"
	"strings"
)

// Options configures the second wall. The zero value is usable.
type Options struct {
	// Prefix of the PostgreSQL roles and policy names: <prefix>app,
	// <prefix>role_<role>, <prefix>select. Default "keyhole_". It must
	// match ^[a-z_][a-z0-9_]*$.
	Prefix string
	// Settings is the namespace of the transaction-local settings
	// (<ns>.admin, <ns>.subject, <ns>.groups_<role>). Default "keyhole".
	Settings string
	// Grantees are existing login roles allowed to switch to <prefix>app
	// (GRANT <prefix>app TO grantee): the application's connection role.
	Grantees []string
	// Force adds FORCE ROW LEVEL SECURITY: the tables' owner is then
	// confined too (superusers and BYPASSRLS roles never are).
	Force bool
}

func (o Options) prefix() string {
	if o.Prefix == "" {
		return "keyhole_"
	}
	return o.Prefix
}

func (o Options) ns() string {
	if o.Settings == "" {
		return "keyhole"
	}
	return o.Settings
}

func (o Options) validate() error {
	if !plainIdent(o.prefix()) || len(o.prefix()) > 40 {
		return fmt.Errorf("wall: Prefix %q must match ^[a-z_][a-z0-9_]*$ (at most 40 bytes)", o.Prefix)
	}
	if !plainIdent(o.ns()) || len(o.ns()) > 40 {
		return fmt.Errorf("wall: Settings %q must match ^[a-z_][a-z0-9_]*$ (at most 40 bytes)", o.Settings)
	}
	for _, g := range o.Grantees {
		if _, err := ident(g); err != nil {
			return fmt.Errorf("wall: Grantees: %v", err)
		}
	}
	return nil
}

func plainIdent(s string) bool {
	_, err := ident(s)
	return err == nil
}

// AppRole is the PostgreSQL role WithCapability switches to.
func (o Options) AppRole() string { return o.prefix() + "app" }

// RoleFor is the PostgreSQL role holding the privileges of the policies
// that need the application role role.
func (o Options) RoleFor(role string) string { return o.prefix() + "role_" + encodeName(role) }

// GroupsSetting is the name of the setting holding a capability's groups
// for role.
func (o Options) GroupsSetting(role string) string {
	return o.ns() + ".groups_" + encodeName(role)
}

// AdminSetting and SubjectSetting are the names of the settings holding
// the capability's admin flag and subject.
func (o Options) AdminSetting() string   { return o.ns() + ".admin" }
func (o Options) SubjectSetting() string { return o.ns() + ".subject" }

// encodeName maps a role name ([a-z0-9_.-]) to [a-z0-9_], injectively:
// '_' becomes "__", other bytes "_" and two hex digits.
func encodeName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z' || '0' <= c && c <= '9':
			b.WriteByte(c)
		case c == '_':
			b.WriteString("__")
		default:
			fmt.Fprintf(&b, "_%02x", c)
		}
	}
	return b.String()
}

// lit quotes s as an SQL string literal. Only names built from validated
// identifiers reach it.
func lit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
