package main

import (
	"bytes"
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyhole-go/keyhole/capability"
)

// The plugin lock, plugins.lock, approves the forum's plugins the way
// keyhole.lock approves its policies (package sqlguard/approval has no
// notion of the token exchange's audiences): one line per plugin,
//
//	plugin forum-digest  roles=member  ttl=2m0s  policies=groups.get,posts.create
//
// its audience, the roles its exchanged tokens may hold, their lifetime,
// and the policies its routes run (each one's permission is in
// keyhole.lock). What widens, and so needs approval: a new plugin, a role
// that no approved role includes, a longer lifetime, a new policy.

// pluginLockHeader opens plugins.lock.
const pluginLockHeader = `# keyhole forum plugin lock: the approved plugins, one line per audience of
# the token exchange (POST /oauth/token): the roles a token exchanged for it
# may hold, the token's lifetime, and the policies the plugin's routes run
# (their permissions are in keyhole.lock). A new plugin, a new role, a longer
# lifetime or a new policy fails TestLock until this file is regenerated
# (go test ./examples/forum -run TestLock -update) and the diff is reviewed.
`

// approvedPlugins is the checked-in plugins.lock.
//
//go:embed plugins.lock
var approvedPlugins []byte

// pluginLine is a line of plugins.lock.
type pluginLine struct {
	Audience string
	Roles    []string
	TTL      time.Duration
	Policies []string
}

func lineOfPlugin(p pluginDecl) pluginLine {
	roles := slices.Clone(p.Roles)
	slices.Sort(roles)
	return pluginLine{Audience: p.Audience, Roles: roles, TTL: p.TTL, Policies: p.Policies()}
}

func (l pluginLine) String() string {
	return "plugin " + l.Audience + "  roles=" + strings.Join(l.Roles, ",") +
		"  ttl=" + l.TTL.String() + "  policies=" + strings.Join(l.Policies, ",")
}

// pluginLockFile is the lock file of plugins, sorted by audience.
func pluginLockFile(plugins []pluginDecl) []byte {
	lines := make([]string, 0, len(plugins))
	for _, p := range plugins {
		lines = append(lines, lineOfPlugin(p).String())
	}
	slices.Sort(lines)
	var b bytes.Buffer
	b.WriteString(pluginLockHeader)
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	return b.Bytes()
}

// parsePluginLock parses a lock written by pluginLockFile. Blank lines and
// lines starting with '#' are comments; any other line it does not
// understand is an error (a lock that cannot be read approves nothing).
func parsePluginLock(data []byte) (map[string]pluginLine, error) {
	out := make(map[string]pluginLine)
	for i, text := range strings.Split(string(data), "\n") {
		text = strings.TrimSpace(text)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		l, err := parsePluginLine(text)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", i+1, err)
		}
		if _, dup := out[l.Audience]; dup {
			return nil, fmt.Errorf("line %d: plugin %s twice", i+1, l.Audience)
		}
		out[l.Audience] = l
	}
	return out, nil
}

func parsePluginLine(text string) (pluginLine, error) {
	f := strings.Fields(text)
	if len(f) != 5 || f[0] != "plugin" {
		return pluginLine{}, fmt.Errorf("want plugin AUDIENCE roles=… ttl=… policies=…, got %q", text)
	}
	l := pluginLine{Audience: f[1]}
	seen := make(map[string]bool)
	for _, field := range f[2:] {
		k, v, ok := strings.Cut(field, "=")
		if !ok || seen[k] {
			return l, fmt.Errorf("%s: field %q", l.Audience, field)
		}
		seen[k] = true
		switch k {
		case "roles":
			l.Roles = strings.Split(v, ",")
		case "policies":
			l.Policies = strings.Split(v, ",")
		case "ttl":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return l, fmt.Errorf("%s: ttl %q", l.Audience, v)
			}
			l.TTL = d
		default:
			return l, fmt.Errorf("%s: unknown field %q", l.Audience, k)
		}
	}
	if !seen["roles"] || !seen["policies"] || !seen["ttl"] {
		return l, fmt.Errorf("%s: want roles=, ttl= and policies=", l.Audience)
	}
	return l, nil
}

// diffPlugins compares the declared plugins with the approved lock: wide
// lists what needs approval (a new plugin, a role no approved role
// includes, a longer lifetime, a new policy), narrow what only narrows (a
// plugin, role or policy dropped, a shorter lifetime).
func diffPlugins(approved map[string]pluginLine, roles *capability.Roles, plugins []pluginDecl) (wide, narrow []string) {
	declared := make(map[string]bool)
	for _, p := range plugins {
		cur := lineOfPlugin(p)
		declared[cur.Audience] = true
		old, ok := approved[cur.Audience]
		if !ok {
			wide = append(wide, "new plugin: "+cur.String())
			continue
		}
		for _, r := range cur.Roles {
			if !slices.ContainsFunc(old.Roles, func(have string) bool { return roles.Includes(have, r) }) {
				wide = append(wide, fmt.Sprintf("plugin %s: role %s (approved: %s)", cur.Audience, r, strings.Join(old.Roles, ",")))
			}
		}
		for _, r := range old.Roles {
			if !slices.Contains(cur.Roles, r) {
				narrow = append(narrow, fmt.Sprintf("plugin %s: role %s dropped", cur.Audience, r))
			}
		}
		switch {
		case cur.TTL > old.TTL:
			wide = append(wide, fmt.Sprintf("plugin %s: ttl %v (approved: %v)", cur.Audience, cur.TTL, old.TTL))
		case cur.TTL < old.TTL:
			narrow = append(narrow, fmt.Sprintf("plugin %s: ttl %v (was %v)", cur.Audience, cur.TTL, old.TTL))
		}
		for _, name := range cur.Policies {
			if !slices.Contains(old.Policies, name) {
				wide = append(wide, fmt.Sprintf("plugin %s: policy %s", cur.Audience, name))
			}
		}
		for _, name := range old.Policies {
			if !slices.Contains(cur.Policies, name) {
				narrow = append(narrow, fmt.Sprintf("plugin %s: policy %s dropped", cur.Audience, name))
			}
		}
	}
	for aud := range approved {
		if !declared[aud] {
			narrow = append(narrow, "plugin "+aud+" removed")
		}
	}
	slices.Sort(narrow)
	return wide, narrow
}
