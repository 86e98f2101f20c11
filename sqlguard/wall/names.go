package wall

import (
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// ident validates and quotes an identifier, as sqlguard does:
// ^[a-z_][a-z0-9_]*$, at most 63 bytes.
func ident(name string) (string, error) {
	if len(name) == 0 || len(name) > 63 {
		return "", fmt.Errorf("identifier %q must be 1..63 bytes", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9') {
			return "", fmt.Errorf("identifier %q must match ^[a-z_][a-z0-9_]*$", name)
		}
	}
	return q(name), nil
}

// q quotes an identifier.
func q(name string) string { return pgx.Identifier{name}.Sanitize() }

// parentKey is the parent's referenced column, "id" by default.
func parentKey(h sqlguard.Parent) string {
	if h.Key == "" {
		return "id"
	}
	return h.Key
}

// arrayTypes is the array type of each kind of group id.
var arrayTypes = map[capability.GroupKind]string{
	capability.KindInt64: "int8[]",
	capability.KindUUID:  "uuid[]",
	capability.KindText:  "text[]",
}

// groupsValue is the value of the groups setting for role, in the form
// the policies read (see wall.groupsExpr): the delimited text of int8 and
// uuid ids, the array literal of text ids, and "" for a nil capability
// (no group, in either form).
func groupsValue(c *capability.Capability, role string) string {
	if c == nil {
		return ""
	}
	if c.GroupKind() == capability.KindText {
		return sqlguard.GroupsText(c, role)
	}
	return sqlguard.GroupsList(c, role)
}
