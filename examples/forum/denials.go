package main

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// needGroup matches what sqlguard says a refused statement needed when it
// names the group: "role moderator in group 2".
var needGroup = regexp.MustCompile(`^role (\S+) in group (\d+)`)

// needText is the page's wording of a *sqlguard.DeniedError's Need: the
// group by its name when the caller may see the group (`moderator in
// "golang"`), else by its id, as sqlguard wrote it (a refusal never
// tells a name the caller may not read: the name comes from groups.get,
// the guarded read, with the caller's capability). It runs only on the
// error path, one statement.
func (a *app) needText(r *http.Request, need string) string {
	m := needGroup.FindStringSubmatch(need)
	if m == nil {
		return strings.TrimPrefix(need, "role ")
	}
	name := "group " + m[2]
	if id, err := strconv.ParseInt(m[2], 10, 64); err == nil {
		if g, err := a.getGroup(r.Context(), capOf(r), id); err == nil {
			name = strconv.Quote(g.Name)
		}
	}
	return m[1] + " in " + name + need[len(m[0]):]
}
