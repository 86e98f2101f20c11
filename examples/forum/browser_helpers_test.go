package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The browser tests drive a real headless Chromium with chromedp: one
// browser per test binary run (TestBrowser and its subtests), a fresh
// browser context (its own cookies) and tab per subtest, each against a
// forum of its own on a loopback httptest server.
//
// Without Chromium the tests skip, saying so, unless CI=true: then they
// fail. On failure every step's screenshot is saved under
// testdata/failures/<test>/, and the directory is printed in the log.
// FORUM_BROWSER_SCREENSHOTS=DIR saves them always, into DIR.

// chromiumPaths are where the browser is looked for, in order: Debian's
// chromium first.
var chromiumPaths = []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "headless-shell"}

func findChromium() (string, error) {
	for _, p := range chromiumPaths {
		if path, err := exec.LookPath(p); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("no Chromium found (looked for %s); install it with apt-get install chromium", strings.Join(chromiumPaths, ", "))
}

// inCI reports whether CI=true: missing tools fail the tests instead of
// skipping them.
func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// startBrowser starts the headless browser for the test and its
// subtests, and stops it (and removes its profile) when the test ends.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	path, err := findChromium()
	if err != nil {
		if inCI() {
			t.Fatalf("CI=true: %v", err)
		}
		t.Skipf("skipping the browser tests: %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,  // also hides scrollbars and mutes audio
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1000, 800),
		// The name of TestBrowser/DNSRebinding, re-resolved to the
		// loopback (the attacker's DNS answer, second time round).
		chromedp.Flag("host-resolver-rules", "MAP "+rebindHost+" 127.0.0.1"),
		chromedp.UserDataDir(t.TempDir()),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	start := time.Now()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	t.Logf("%s started in %v", path, time.Since(start).Round(time.Millisecond))
	return ctx
}

// tab is a tab of its own browser context, on forum f.
type tab struct {
	t   *testing.T
	f   *forum
	ctx context.Context

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
	shots   []shot
	// refused are the pages whose error status the test expects, by
	// URL: Chromium notes their load in the console as an error.
	refused map[string]int64
}

type shot struct {
	name string
	png  []byte
}

// stepTimeout bounds each browser step.
const stepTimeout = 15 * time.Second

// newTab opens a tab in a new browser context of the browser. At the end
// of the test it checks that the page wrote no error to the console and
// threw no exception (but for the note of each refused page, see
// expectRefused), and saves the screenshots if the test failed.
func newTab(t *testing.T, browser context.Context, f *forum) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	tb := &tab{t: t, f: f, ctx: ctx, refused: map[string]int64{}}
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("opening a tab: %v", err)
	}
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.console = append(tb.console, m)
			tb.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, m := range tb.console {
			if m.Type != chromedp.ConsoleError && !m.IsException() {
				continue
			}
			if st, ok := tb.refused[m.URL]; ok && m.Source == "network" &&
				strings.HasPrefix(m.Text, fmt.Sprintf("Failed to load resource: the server responded with a status of %d ", st)) {
				continue
			}
			t.Errorf("console %s at %s:%d: %s", m.Type, m.URL, m.Line+1, m.Text)
		}
		tb.saveShots()
	})
	return tb
}

// saveShots writes the screenshots of the steps when the test failed (or
// always, into $FORUM_BROWSER_SCREENSHOTS).
func (tb *tab) saveShots() {
	dir := os.Getenv("FORUM_BROWSER_SCREENSHOTS")
	if dir == "" {
		if !tb.t.Failed() {
			return
		}
		dir = filepath.Join("testdata", "failures")
	}
	dir = filepath.Join(dir, regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(tb.t.Name(), "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Log(err)
		return
	}
	for i, s := range tb.shots {
		name := fmt.Sprintf("%02d-%s.png", i+1, regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(s.name, "-"))
		if err := os.WriteFile(filepath.Join(dir, name), s.png, 0o644); err != nil {
			tb.t.Log(err)
			return
		}
	}
	abs, _ := filepath.Abs(dir)
	tb.t.Logf("screenshots of %d steps in %s", len(tb.shots), abs)
}

// step runs actions that load a page (a navigation or a form submitted)
// and waits for it; it keeps a screenshot named name, and returns the
// status of the page's answer.
func (tb *tab) step(name string, actions ...chromedp.Action[chromedp.Void]) int64 {
	tb.t.Helper()
	return tb.stepWith(name, func(ctx context.Context) (*network.Response, error) {
		return chromedp.RunResponse(ctx, actions...)
	})
}

func (tb *tab) stepWith(name string, run func(context.Context) (*network.Response, error)) int64 {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	resp, err := run(ctx)
	tb.shoot(name)
	if err != nil {
		tb.t.Fatalf("%s: %v", name, err)
	}
	if resp == nil {
		return 0
	}
	if resp.Status >= 400 {
		tb.expectRefused(resp.URL, resp.Status)
	}
	return resp.Status
}

// expectRefused notes that the page at url answers status, which the
// test checks: Chromium's console note of the failed load is no error.
func (tb *tab) expectRefused(url string, status int64) {
	tb.mu.Lock()
	tb.refused[url] = status
	tb.mu.Unlock()
}

// shoot keeps a screenshot of the page.
func (tb *tab) shoot(name string) {
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Logf("screenshot of %s: %v", name, err)
		return
	}
	tb.mu.Lock()
	tb.shots = append(tb.shots, shot{name, png})
	tb.mu.Unlock()
}

// open loads the forum's path.
func (tb *tab) open(path string) int64 {
	tb.t.Helper()
	return tb.stepWith("open "+path, func(ctx context.Context) (*network.Response, error) {
		return chromedp.Run(ctx, chromedp.NavigateResponse(tb.f.srv.URL+path))
	})
}

// click clicks the element of the CSS selector sel, which loads a page.
func (tb *tab) click(name, sel string) int64 {
	tb.t.Helper()
	return tb.step(name, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// fill sets the value of the field of the CSS selector sel.
func (tb *tab) fill(sel, value string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(sel), value, chromedp.NodeReady)); err != nil {
		tb.t.Fatalf("fill %s: %v", sel, err)
	}
}

// do runs actions that load no page.
func (tb *tab) do(name string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.shoot(name)
		tb.t.Fatalf("%s: %v", name, err)
	}
}

// text is the visible text of the page's body.
func (tb *tab) text() string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		tb.t.Fatalf("reading the page: %v", err)
	}
	return s
}

// path is the path (and query) of the page shown.
func (tb *tab) path() string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		tb.t.Fatalf("reading the location: %v", err)
	}
	return strings.TrimPrefix(loc, tb.f.srv.URL)
}

// see fails the test unless the page's text holds every one of want.
func (tb *tab) see(want ...string) {
	tb.t.Helper()
	text := tb.text()
	for _, w := range want {
		if !strings.Contains(text, w) {
			tb.t.Errorf("page %s does not show %q; it shows:\n%s", tb.path(), w, text)
		}
	}
}

// notSee fails the test if the page's text holds one of these.
func (tb *tab) notSee(unwanted ...string) {
	tb.t.Helper()
	text := tb.text()
	for _, w := range unwanted {
		if strings.Contains(text, w) {
			tb.t.Errorf("page %s shows %q:\n%s", tb.path(), w, text)
		}
	}
}

// login logs user in from the login page, as a person would: the button
// with their name.
func (tb *tab) login(user string) {
	tb.t.Helper()
	if tb.path() != "/" {
		tb.open("/")
	}
	if st := tb.click("log in as "+user, fmt.Sprintf(`form[action="/login"]:has(input[name=user][value=%q]) button`, user)); st != 200 {
		tb.t.Fatalf("log in as %s: status %d", user, st)
	}
}

// setCookie sets the session cookie of the tab's browser context.
func (tb *tab) setCookie(value string) {
	tb.t.Helper()
	httpOnly := true
	tb.do("set the session cookie", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{
			Name: cookieName, Value: value, URL: tb.f.srv.URL + "/", HTTPOnly: &httpOnly,
			SameSite: network.CookieSameSiteLax,
		})
		return err
	}))
}

// waitLoads runs trigger, then waits until n pages have loaded (a page
// that loads another by itself: an auto-submitted form).
func (tb *tab) waitLoads(name string, n int, trigger chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	loads := chromedp.Events(ctx, cdppage.LoadEventFired)
	if err := chromedp.Do(ctx, trigger); err != nil {
		tb.t.Fatalf("%s: %v", name, err)
	}
	seen := 0
	for _, err := range loads {
		if err != nil {
			tb.shoot(name)
			tb.t.Fatalf("%s: %d of %d loads: %v", name, seen, n, err)
		}
		if seen++; seen == n {
			break
		}
	}
	tb.shoot(name)
}

// count is the number of elements of the page that match the CSS
// selector sel.
func (tb *tab) count(sel string) int {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
	if err != nil {
		tb.t.Fatalf("counting %s: %v", sel, err)
	}
	return n
}
