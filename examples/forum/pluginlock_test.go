package main

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// checkPluginLock is TestLock for plugins.lock: a new plugin, role,
// lifetime or policy fails until the lock is rewritten with -update.
func checkPluginLock(t *testing.T, path string, plugins []pluginDecl, update bool) {
	t.Helper()
	want := pluginLockFile(plugins)
	data, err := os.ReadFile(path)
	if err != nil && !update {
		t.Fatalf("read %s: %v", path, err)
	}
	approved, perr := parsePluginLock(data)
	if perr != nil && !update {
		t.Fatalf("%s: %v (rewrite it with -update)", path, perr)
	}
	wide, narrow := diffPlugins(approved, forumRoles, plugins)
	if update {
		for _, c := range append(wide, narrow...) {
			t.Logf("%s: %s", path, c)
		}
		if !bytes.Equal(data, want) {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s: review and commit its diff", path)
		}
		return
	}
	for _, c := range wide {
		t.Errorf("%s: not approved: %s", path, c)
	}
	for _, c := range narrow {
		t.Logf("%s: narrowed (approve with -update): %s", path, c)
	}
	if len(wide) == 0 && !bytes.Equal(data, want) {
		t.Logf("%s differs from the declared plugins only in what needs no approval; -update rewrites it", path)
	}
}

// widened returns a copy of forumPlugins changed by f (on the digest).
func widened(f func(p *pluginDecl)) []pluginDecl {
	ps := slices.Clone(forumPlugins)
	p := ps[0]
	p.Roles = slices.Clone(p.Roles)
	p.Routes = slices.Clone(p.Routes)
	f(&p)
	ps[0] = p
	return ps
}

// TestPluginLockWidened: every widening of a plugin's permissions fails
// the lock check against the checked-in plugins.lock, and the forum's
// start-up refuses it; narrowing does not.
func TestPluginLockWidened(t *testing.T) {
	approved, err := parsePluginLock(approvedPlugins)
	if err != nil {
		t.Fatal(err)
	}
	if wide, narrow := diffPlugins(approved, forumRoles, forumPlugins); len(wide)+len(narrow) > 0 {
		t.Fatalf("the declared plugins differ from plugins.lock: %v %v", wide, narrow)
	}
	moderate := pluginRoute{Pattern: "DELETE " + pluginAPI + "threads/{id}", Policies: []string{"threads.delete"}}
	for _, tc := range []struct {
		name   string
		change func(p *pluginDecl)
		wide   bool
		want   string
	}{
		{"role moderator", func(p *pluginDecl) { p.Roles = append(p.Roles, roleModerator) }, true, "role moderator"},
		{"member to moderator", func(p *pluginDecl) { p.Roles = []string{roleModerator} }, true, "role moderator"},
		{"longer ttl", func(p *pluginDecl) { p.TTL = time.Hour }, true, "ttl 1h0m0s"},
		{"new policy", func(p *pluginDecl) { p.Routes = append(p.Routes, moderate) }, true, "policy threads.delete"},
		{"new plugin", func(p *pluginDecl) { p.Audience = "forum-other" }, true, "new plugin: plugin forum-other"},
		{"shorter ttl", func(p *pluginDecl) { p.TTL = time.Minute }, false, ""},
		{"fewer policies", func(p *pluginDecl) { p.Routes = p.Routes[:1] }, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := widened(tc.change)
			wide, _ := diffPlugins(approved, forumRoles, ps)
			if got := len(wide) > 0; got != tc.wide {
				t.Fatalf("widened: got %v (%q), want %v", got, wide, tc.wide)
			}
			err := approvePlugins(approvedPlugins, forumRoles, ps)
			if !tc.wide {
				if err != nil {
					t.Errorf("approvePlugins: %v, want nil", err)
				}
				return
			}
			if !strings.Contains(strings.Join(wide, "; "), tc.want) {
				t.Errorf("wide: got %q, want it to name %q", wide, tc.want)
			}
			if !errors.Is(err, errPluginNotApproved) {
				t.Errorf("approvePlugins: got %v, want errPluginNotApproved", err)
			}
		})
	}
}

// TestPluginLockParse: a lock that cannot be read approves nothing.
func TestPluginLockParse(t *testing.T) {
	for _, bad := range []string{
		"plugin forum-digest roles=member ttl=2m0s",
		"plugin forum-digest roles=member ttl=2m0s policies=a extra=1",
		"plugin forum-digest roles=member ttl=-1s policies=a",
		"plugin forum-digest roles=member roles=member policies=a",
		"plugin forum-digest roles=member ttl=1m policies=a\nplugin forum-digest roles=member ttl=1m policies=a",
		"policy forum-digest roles=member ttl=1m policies=a",
	} {
		if _, err := parsePluginLock([]byte(bad)); err == nil {
			t.Errorf("parsePluginLock(%q): got nil error", bad)
		}
		if err := approvePlugins([]byte(bad), forumRoles, forumPlugins); err == nil {
			t.Errorf("approvePlugins(%q): got nil error", bad)
		}
	}
	got, err := parsePluginLock(pluginLockFile(forumPlugins))
	if err != nil {
		t.Fatal(err)
	}
	if l := got[digestAudience]; l.String() != lineOfPlugin(forumPlugins[0]).String() {
		t.Errorf("round trip: got %q, want %q", l, lineOfPlugin(forumPlugins[0]))
	}
}

// TestCheckPlugins: a plugin may only declare policies guarded by a group
// role within its approved roles.
func TestCheckPlugins(t *testing.T) {
	reg, _ := newPolicies()
	if err := checkPlugins(reg, forumPlugins); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(p *pluginDecl){
		"moderator policy": func(p *pluginDecl) {
			p.Routes = append(p.Routes, pluginRoute{Pattern: "DELETE " + pluginAPI + "threads/{id}", Policies: []string{"threads.delete"}})
		},
		"admin-only policy": func(p *pluginDecl) {
			p.Routes = append(p.Routes, pluginRoute{Pattern: "GET " + pluginAPI + "members", Policies: []string{"members.list"}})
		},
		"unguarded policy": func(p *pluginDecl) {
			p.Routes = append(p.Routes, pluginRoute{Pattern: "POST " + pluginAPI + "logout", Policies: []string{"sessions.logout"}})
		},
		"unknown policy": func(p *pluginDecl) {
			p.Routes = append(p.Routes, pluginRoute{Pattern: "GET " + pluginAPI + "x", Policies: []string{"nope"}})
		},
		"route outside": func(p *pluginDecl) {
			p.Routes = append(p.Routes, pluginRoute{Pattern: "GET /api/groups", Policies: []string{"groups.list"}})
		},
		"no ttl": func(p *pluginDecl) { p.TTL = 0 },
	} {
		if err := checkPlugins(reg, widened(change)); err == nil {
			t.Errorf("%s: got nil error", name)
		}
	}
}
