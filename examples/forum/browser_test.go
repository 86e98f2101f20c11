package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestBrowser is the forum in a real browser (headless Chromium through
// chromedp, see browser_helpers_test.go): what a person sees and does on
// the page, every wall on. Each subtest has its own forum, database and
// browser context; one browser serves them all.
func TestBrowser(t *testing.T) {
	browser := startBrowser(t)
	for _, c := range []struct {
		name string
		run  func(t *testing.T, tb *tab)
	}{
		{"LoginEachUser", browserLoginEachUser},
		{"ThreadPostEdit", browserThreadPostEdit},
		{"ModeratorDeletes", browserModeratorDeletes},
		{"MoveThread", browserMoveThread},
		{"Refused", browserRefused},
		{"SessionExpired", browserSessionExpired},
		{"UnknownPage", browserUnknownPage},
		{"DNSRebinding", browserDNSRebinding},
		{"Digest", browserDigest},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			f := newForum(t)
			c.run(t, newTab(t, browser, f))
			t.Logf("%s: %v", c.name, time.Since(start).Round(time.Millisecond))
		})
	}
	t.Run("CrossSiteForm", func(t *testing.T) {
		start := time.Now()
		browserCrossSiteForm(t, browser)
		t.Logf("CrossSiteForm: %v", time.Since(start).Round(time.Millisecond))
	})
}

// browserLoginEachUser: every demo user logs in with their button, sees
// who they are, what they may do and exactly their groups, and logs out.
func browserLoginEachUser(t *testing.T, tb *tab) {
	visible := map[string][]string{ // the groups each user sees
		"alice": {"general"},
		"bob":   {"general", "golang"},
		"carol": {"general", "golang", "staff"},
		"dave":  {"golang"},
		"erin":  {"general", "golang"},
	}
	tb.open("/")
	tb.see("Development login: there are no passwords.", "Log in as a demo user")
	for _, u := range demoUsers {
		tb.login(u.Name)
		if got := tb.path(); got != "/" {
			t.Errorf("%s lands on %s, want /", u.Name, got)
		}
		tb.see(u.Name, u.Describe(), "Your groups")
		want := visible[u.Name]
		for _, g := range demoGroups {
			sel := fmt.Sprintf(`a[href="/groups/%d"]`, g.ID)
			n := tb.count(sel)
			if seen := n == 1; seen != contains(want, g.Name) {
				t.Errorf("%s: link to %s shown %d times, want visible=%v", u.Name, g.Name, n, contains(want, g.Name))
			}
		}
		if st := tb.click("log out "+u.Name, `form[action="/logout"] button`); st != http.StatusOK {
			t.Errorf("log out %s: status %d", u.Name, st)
		}
		tb.see("Log in as a demo user")
		tb.notSee("Your groups")
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// browserThreadPostEdit: a member creates a thread, posts in it and edits
// her post.
func browserThreadPostEdit(t *testing.T, tb *tab) {
	tb.login("alice")
	tb.click("open general", `a[href="/groups/1"]`)
	tb.see("general", "you: member", "Welcome to the forum")

	tb.fill(`input[name=title]`, "Written in a browser")
	tb.click("create a thread", `form[action="/groups/1/threads"] button`)
	th := tb.f.id("select id from threads where title = 'Written in a browser' and created_by = 'alice' and group_id = 1")
	if got, want := tb.path(), fmt.Sprintf("/threads/%d", th); got != want {
		t.Errorf("after creating the thread: on %s, want %s", got, want)
	}
	tb.see("Written in a browser", "No post yet.")

	tb.fill(`textarea[name=content]:not([form]):not(details textarea)`, "My first post, typed in Chromium.")
	tb.click("post", fmt.Sprintf(`form[action="/threads/%d/posts"] button`, th))
	tb.see("My first post, typed in Chromium.")
	p := tb.f.id("select id from posts where thread_id = $1 and author = 'alice'", th)

	tb.do("open the edit form", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#post-%d summary`, p)), chromedp.NodeVisible))
	tb.fill(fmt.Sprintf(`form[action="/posts/%d/edit"] textarea`, p), "My first post, edited.")
	tb.click("save the edit", fmt.Sprintf(`form[action="/posts/%d/edit"] button`, p))
	tb.see("My first post, edited.", "edited")
	tb.notSee("typed in Chromium")
	if n := tb.f.id("select count(*) from posts where id = $1 and content = 'My first post, edited.' and edited_at is not null", p); n != 1 {
		t.Errorf("the edit did not land")
	}
}

// browserModeratorDeletes: bob, moderator of general, deletes a post and
// then a thread of general.
func browserModeratorDeletes(t *testing.T, tb *tab) {
	th := tb.f.newThread(1, "To be moderated")
	p := tb.f.newPost(th, "alice", "A post to delete")
	keep := tb.f.newPost(th, "alice", "A post to keep")
	tb.login("bob")
	tb.open(fmt.Sprintf("/threads/%d", th))
	tb.see("you: moderator", "A post to delete")
	tb.click("delete a post", fmt.Sprintf(`form[action="/posts/%d/delete"] button`, p))
	tb.notSee("A post to delete")
	tb.see("A post to keep")
	if tb.f.exists("posts", p) || !tb.f.exists("posts", keep) {
		t.Errorf("post %d still there, or post %d gone", p, keep)
	}
	tb.click("delete the thread", fmt.Sprintf(`form[action="/threads/%d/delete"] button`, th))
	if got := tb.path(); got != "/groups/1" {
		t.Errorf("after deleting the thread: on %s, want /groups/1", got)
	}
	tb.notSee("To be moderated")
	if tb.f.exists("threads", th) || tb.f.exists("posts", keep) {
		t.Errorf("thread %d or its post still there", th)
	}
}

// browserMoveThread: erin, moderator of general and golang, moves a
// thread from golang to general.
func browserMoveThread(t *testing.T, tb *tab) {
	th := tb.f.newThread(2, "Belongs in general")
	tb.login("erin")
	tb.open(fmt.Sprintf("/threads/%d", th))
	tb.see("golang", "Belongs in general")
	tb.do("choose general", chromedp.SetValue(chromedp.CSS(fmt.Sprintf(`form[action="/threads/%d/move"] select`, th)), "1", chromedp.NodeReady))
	tb.click("move", fmt.Sprintf(`form[action="/threads/%d/move"] button`, th))
	if got := tb.f.id("select group_id from threads where id = $1", th); got != 1 {
		t.Errorf("thread in group %d after the move, want 1", got)
	}
	tb.click("open general", `a[href="/groups/1"]`)
	tb.see("Belongs in general")
}

// browserRefused: what the page offers that PostgreSQL refuses is shown
// as a refusal that says why, and changes nothing.
func browserRefused(t *testing.T, tb *tab) {
	th := tb.f.newThread(1, "Others' words")
	bobs := tb.f.newPost(th, "bob", "Bob's post")
	before := tb.f.fingerprint()

	tb.login("alice") // a member of general, not a moderator
	tb.open(fmt.Sprintf("/threads/%d", th))
	if st := tb.click("delete bob's post", fmt.Sprintf(`form[action="/posts/%d/delete"] button`, bobs)); st != http.StatusForbidden {
		t.Errorf("alice deletes bob's post: status %d, want 403", st)
	}
	tb.see("Denied.", `needs moderator in "general" (policy posts.delete)`)

	tb.open(fmt.Sprintf("/threads/%d", th))
	tb.do("open the edit form", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#post-%d summary`, bobs)), chromedp.NodeVisible))
	tb.fill(fmt.Sprintf(`form[action="/posts/%d/edit"] textarea`, bobs), "alice was here")
	if st := tb.click("edit bob's post", fmt.Sprintf(`form[action="/posts/%d/edit"] button`, bobs)); st != http.StatusForbidden {
		t.Errorf("alice edits bob's post: status %d, want 403", st)
	}
	tb.see("Denied.", "only the author may edit")

	tb.open(fmt.Sprintf("/threads/%d", th))
	tb.do("choose golang", chromedp.SetValue(chromedp.CSS(fmt.Sprintf(`form[action="/threads/%d/move"] select`, th)), "1", chromedp.NodeReady))
	if st := tb.click("move", fmt.Sprintf(`form[action="/threads/%d/move"] button`, th)); st != http.StatusForbidden {
		t.Errorf("alice moves a thread: status %d, want 403", st)
	}
	tb.see("Denied.", `needs moderator in "general"`)

	// Another group's thread is not found, like one that does not exist.
	if st := tb.open("/threads/3"); st != http.StatusNotFound {
		t.Errorf("alice opens golang's thread: status %d, want 404", st)
	}
	tb.see("Not found.")

	// The admin may delete, but not edit someone's words either.
	tb.login("carol")
	tb.open(fmt.Sprintf("/threads/%d", th))
	tb.do("open the edit form", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#post-%d summary`, bobs)), chromedp.NodeVisible))
	if st := tb.click("carol edits bob's post", fmt.Sprintf(`form[action="/posts/%d/edit"] button`, bobs)); st != http.StatusForbidden {
		t.Errorf("carol edits bob's post: status %d, want 403", st)
	}
	tb.see("only the author may edit")
	if tb.f.fingerprint() != before {
		t.Error("a refused action changed the database")
	}
}

// browserSessionExpired: a page opened with an expired session goes to
// the login, which returns to the page.
func browserSessionExpired(t *testing.T, tb *tab) {
	tb.open("/")
	tb.setCookie(mintWith(t, tb.f.key, time.Now().Add(-3*time.Hour)))
	tb.open("/threads/1")
	if got, want := tb.path(), "/?next=%2Fthreads%2F1"; got != want {
		t.Errorf("expired session: on %s, want %s", got, want)
	}
	tb.see("Your session has ended.", "/threads/1")
	tb.click("log in again as alice", `form[action="/login"]:has(input[name=user][value="alice"]) button`)
	if got := tb.path(); got != "/threads/1" {
		t.Errorf("after the login: on %s, want /threads/1", got)
	}
	tb.see("Welcome to the forum", "alice")

	// The session ends while she writes a reply: the reply is not
	// posted, and the login brings her back to the thread.
	before := tb.f.fingerprint()
	tb.setCookie(mintWith(t, tb.f.key, time.Now().Add(-3*time.Hour)))
	tb.fill(`form[action="/threads/1/posts"] textarea`, "written too late")
	tb.click("post with an expired session", `form[action="/threads/1/posts"] button`)
	if got, want := tb.path(), "/?next=%2Fthreads%2F1"; got != want {
		t.Errorf("expired session, form post: on %s, want %s", got, want)
	}
	if tb.f.fingerprint() != before {
		t.Error("a form post with an expired session changed the database")
	}
	tb.click("log in again as alice", `form[action="/login"]:has(input[name=user][value="alice"]) button`)
	if got := tb.path(); got != "/threads/1" {
		t.Errorf("after the login: on %s, want /threads/1", got)
	}
}

// browserUnknownPage: a path no route has is the site's own page.
func browserUnknownPage(t *testing.T, tb *tab) {
	if st := tb.open("/no/such/page"); st != http.StatusNotFound {
		t.Errorf("status %d, want 404", st)
	}
	tb.see("Not found.", "There is no such page.", "keyhole forum")
	tb.notSee("404 page not found")
}

// crossSitePage is another site's page that posts a form to the forum as
// soon as it loads.
const crossSitePage = `<!doctype html>
<html><head><title>free prizes</title></head>
<body onload="document.forms[0].submit()">
<form method="post" action="%s/threads/1/posts"><input type="hidden" name="content" value="posted by another site"></form>
</body></html>`

// browserCrossSiteForm: a page of another origin auto-submits a form to
// the forum in the browser of a logged-in user. From 127.0.0.1 on another
// port, the other origin is same-site, so the SameSite=Lax cookie goes
// along and only http.CrossOriginProtection stands in the way (from
// localhost, cross-site, the cookie stays home too). It is refused, on
// the forum's own page, and nothing changes.
func browserCrossSiteForm(t *testing.T, browser context.Context) {
	for _, host := range []string{"127.0.0.1", "localhost"} {
		t.Run(host, func(t *testing.T) {
			f := newForum(t)
			evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				fmt.Fprintf(w, crossSitePage, f.srv.URL)
			}))
			t.Cleanup(evil.Close)
			evilURL := strings.Replace(evil.URL, "127.0.0.1", host, 1)

			tb := newTab(t, browser, f)
			tb.expectRefused(f.srv.URL+"/threads/1/posts", http.StatusForbidden)
			tb.login("alice")
			before := f.fingerprint()
			tb.waitLoads("open the other site's page", 2, chromedp.Navigate(evilURL))
			if got := tb.path(); got != "/threads/1/posts" {
				t.Errorf("after the other site's form: on %s, want the forum's /threads/1/posts", got)
			}
			tb.see("Cross-site request refused.", "nothing was changed")
			if f.fingerprint() != before {
				t.Error("the cross-site form changed the database")
			}
			if n := f.id("select count(*) from posts where content = 'posted by another site'"); n != 0 {
				t.Errorf("%d cross-site posts landed", n)
			}
		})
	}
}

// rebindHost is the attacker's name of TestBrowser/DNSRebinding; the
// browser resolves it to 127.0.0.1 (startBrowser).
const rebindHost = "rebind.example"

// rebindPage is the attacker's page, served the first time its name
// resolved to the attacker's server: once the name points at 127.0.0.1,
// its script is same-origin with whatever listens there on the same
// port, and asks it for the admin's token.
const rebindPage = `<!doctype html>
<html><head><title>rebinding</title></head><body><pre id="out"></pre>
<script>
fetch("/login", {method: "POST", headers: {"Content-Type": "application/json"}, body: '{"user":"carol"}'})
	.then(r => r.text().then(t => { out.textContent = r.status + " " + t; }))
	.catch(e => { out.textContent = "failed: " + e; })
	.finally(() => { const p = document.createElement("p"); p.id = "done"; document.body.append(p); });
</script></body></html>`

// browserDNSRebinding: a page of another name, whose DNS now answers
// 127.0.0.1, posts to the forum's login from the forum's port: for the
// browser and for http.CrossOriginProtection it is same-origin
// (Sec-Fetch-Site: same-origin, Origin = Host). The forum answers 421,
// without a token, and nothing changes. The first load of the page comes
// from the attacker's server (another httptest server, on the loopback
// too, so that Chromium's own Private Network Access checks, which other
// browsers do not all have, do not stop the script before the forum's
// wall is reached); the rest goes to the forum.
func browserDNSRebinding(t *testing.T, tb *tab) {
	port := tb.f.port()
	origin := "http://" + rebindHost + ":" + port
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, rebindPage)
	}))
	t.Cleanup(attacker.Close)
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{
		Patterns: []*fetch.RequestPattern{{URLPattern: origin + "/attack"}},
	}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{
				RequestID: ev.RequestID, URL: attacker.URL + "/attack",
			})
		}
	}()
	before := tb.f.fingerprint()
	tb.expectRefused(origin+"/login", http.StatusMisdirectedRequest)
	tb.expectRefused(origin+"/favicon.ico", http.StatusMisdirectedRequest) // the browser's own request
	tb.step("open the attacker's page", chromedp.Navigate(origin+"/attack"))
	tb.do("wait for its script", chromedp.WaitVisible(chromedp.CSS("#done"), chromedp.NodeReady))
	tb.shoot("the script's answer")
	out, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#out")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "421 ") || strings.Contains(out, `"token"`) || !strings.Contains(out, "Wrong address.") {
		t.Errorf("the rebound page's login: got %.300q, want 421 and the forum's page, no token", out)
	}
	if tb.f.fingerprint() != before {
		t.Error("the rebound page changed the database")
	}

	// The forum itself, by that name: the same refusal, as a page.
	if st := tb.stepWith("open the forum as "+rebindHost, func(ctx context.Context) (*network.Response, error) {
		return chromedp.Run(ctx, chromedp.NavigateResponse(origin+"/"))
	}); st != http.StatusMisdirectedRequest {
		t.Errorf("the forum as %s: status %d, want 421", rebindHost, st)
	}
	tb.see("Wrong address.")
}

// browserDigest: alice sees the plugins and what they may do, and runs the
// digest plugin for general into a thread; the summary appears there,
// posted in her name with the plugin's own token.
func browserDigest(t *testing.T, tb *tab) {
	welcome := tb.f.id("select id from threads where title = 'Welcome to the forum'")
	tb.login("alice")
	tb.see("Plugins", "forum-digest", "roles: member", "posts.create")
	tb.click("open general", `a[href="/groups/1"]`)
	tb.do("choose the thread", chromedp.SetValue(chromedp.CSS(`form[action="/groups/1/digest"] select`), fmt.Sprint(welcome), chromedp.NodeReady))
	if st := tb.click("run the digest", `form[action="/groups/1/digest"] button`); st != 200 {
		t.Fatalf("run the digest: status %d", st)
	}
	if got, want := tb.path(), fmt.Sprintf("/threads/%d", welcome); !strings.HasPrefix(got, want) {
		t.Errorf("after the digest: on %s, want %s", got, want)
	}
	tb.see("Digest of the 2 most recent threads", "Where do I find the JWKS? (1 posts, latest by alice)")
}
