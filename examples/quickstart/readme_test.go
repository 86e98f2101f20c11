package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
	"github.com/keyhole-go/keyhole/sqlguard/sqlguardtest"
)

// region returns the lines of text strictly between the line that holds
// begin and the line that holds end.
func region(t *testing.T, name, text, begin, end string) string {
	t.Helper()
	_, after, ok := strings.Cut(text, begin)
	if !ok {
		t.Fatalf("%s: no %q marker", name, begin)
	}
	_, after, _ = strings.Cut(after, "\n") // the rest of the marker's line
	inside, _, ok := strings.Cut(after, end)
	if !ok {
		t.Fatalf("%s: no %q marker after %q", name, end, begin)
	}
	if i := strings.LastIndexByte(inside, '\n'); i >= 0 {
		inside = inside[:i+1] // drop the start of the end marker's line
	}
	return inside
}

// TestREADMEInSync fails when the README's quick start and quick-start
// test differ from quickstart.go and quickstart_test.go: the README shows
// the code that this package compiles and runs.
func TestREADMEInSync(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```sql\n"+schema+"\n```") {
		t.Errorf("README.md does not show the quick start's schema as it is in main.go:\n%s", schema)
	}
	for _, c := range []struct{ file, marker string }{
		{"quickstart.go", "quickstart"},
		{"quickstart_test.go", "quickstart-test"},
	} {
		src, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		want := region(t, c.file, string(src), "// "+c.marker+":begin", "// "+c.marker+":end")
		block := region(t, "README.md", string(readme), "<!-- "+c.marker+":begin -->", "<!-- "+c.marker+":end -->")
		got := region(t, "README.md "+c.marker, block, "```go", "```")
		if got != want {
			t.Errorf("README.md's %s block differs from %s; paste the lines between the markers of %s into it.\nREADME:\n%s\n%s:\n%s",
				c.marker, c.file, c.file, got, c.file, want)
		}
	}
}

// TestQuickstartHTTP runs the quick start's routes against PostgreSQL
// through HTTP: an allowed insert and list, a denial with what was needed,
// a note of another group not found, a bad id with its detail, no token.
func TestQuickstartHTTP(t *testing.T) {
	db := sqlguardtest.NewDB(t, schema)
	key, err := token.GenerateKey(token.EdDSA, "k1")
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := token.NewIssuer(token.IssuerOptions{Issuer: "https://auth.example",
		Roles: roles, Kind: capability.KindInt64, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := newVerifier(t.Context(), issuer.PublicKeys())
	if err != nil {
		t.Fatal(err)
	}
	h, err := routes(db.Pool, verifier)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	alice, err := mint(issuer, "alice", 1)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := mint(issuer, "bob", 2)
	if err != nil {
		t.Fatal(err)
	}

	do := func(tok, method, path, body string) (int, string) {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(url.Values{"body": {body}}.Encode())
		}
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(bytes.TrimSpace(b))
	}
	count := func() int {
		var n int
		if err := db.Owner.QueryRow(t.Context(), "SELECT count(*) FROM notes").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	steps := []struct {
		name, tok, method, path, body string
		status                        int
		answer                        string
		rows                          int // notes after the step
	}{
		{"allowed insert", alice, "POST", "/groups/1/notes", "hello", 200, "1", 1},
		{"bob's note", bob, "POST", "/groups/2/notes", "bob's", 200, "2", 2},
		{"allowed list", alice, "GET", "/groups/1/notes", "", 200, `[{"body":"hello","id":1}]`, 2},
		{"denied insert", alice, "POST", "/groups/2/notes", "in", 403,
			`{"type":"about:blank","title":"Forbidden","status":403,"detail":"needs role member in group 2"}`, 2},
		{"list of another group", alice, "GET", "/groups/2/notes", "", 200, `[]`, 2},
		{"note of another group", alice, "GET", "/notes/2", "", 404, `{"type":"about:blank","title":"Not Found","status":404}`, 2},
		{"own note", alice, "GET", "/notes/1", "", 200, `"hello"`, 2},
		{"bad id", alice, "GET", "/notes/x", "", 400,
			`{"type":"about:blank","title":"Bad Request","status":400,"detail":"id: want an integer"}`, 2},
		{"no token", "", "POST", "/groups/1/notes", "anon", 401, `{"type":"about:blank","title":"Unauthorized","status":401}`, 2},
	}
	for _, s := range steps {
		status, answer := do(s.tok, s.method, s.path, s.body)
		if status != s.status || answer != s.answer {
			t.Errorf("%s: got %d %s, want %d %s", s.name, status, answer, s.status, s.answer)
		}
		if n := count(); n != s.rows {
			t.Errorf("%s: %d notes, want %d", s.name, n, s.rows)
		}
	}
}

// TestRun runs the program as `go run ./examples/quickstart -database URL`
// does and checks its answers.
func TestRun(t *testing.T) {
	db := sqlguardtest.NewDB(t, "")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"-database", db.OwnerURL}, &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s%s", err, out.String(), errOut.String())
	}
	// Every line of the README's sample output is a line of the output.
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	sample := region(t, "README.md", string(readme), "<!-- quickstart-output:begin -->", "<!-- quickstart-output:end -->")
	sample = region(t, "README.md quickstart-output", sample, "```", "```")
	lines := map[string]bool{}
	for _, l := range strings.Split(out.String(), "\n") {
		lines[l] = true
	}
	for _, l := range strings.Split(strings.TrimSpace(sample), "\n") {
		if !lines[l] {
			t.Errorf("README.md's sample output has %q, which the program does not print", l)
		}
	}
	for _, want := range []string{
		"-> 200 1\n",
		`-> 403 {"type":"about:blank","title":"Forbidden","status":403,"detail":"needs role member in group 2"}`,
		`-> 404 {"type":"about:blank","title":"Not Found","status":404}`,
		"-> 401 ",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestREADMEExampleLinks fails when a link of the README to a runnable
// example (pkg.go.dev's #example-… anchors) names no Example function of
// the package, so that a renamed or removed example does not leave a dead
// link behind.
func TestREADMEExampleLinks(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	links := exampleLink.FindAllStringSubmatch(string(readme), -1)
	if len(links) < 20 {
		t.Fatalf("found %d example links in README.md, want the table's (20 or more)", len(links))
	}
	for _, l := range links {
		pkg, anchor := l[1], l[2]
		want := "func " + exampleFunc(anchor) + "()"
		files, err := filepath.Glob(filepath.Join("../..", pkg, "*_test.go"))
		if err != nil || len(files) == 0 {
			t.Errorf("%s: no test files in %s (%v)", l[0], pkg, err)
			continue
		}
		found := false
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(src, []byte(want)) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("README.md links to %s, but %s has no %s", l[0], pkg, want)
		}
	}
}

var exampleLink = regexp.MustCompile(`https://pkg\.go\.dev/github\.com/keyhole-go/keyhole/([a-z/]+)#example-([A-Za-z0-9.\-]+)`)

// exampleFunc is the Example function of a pkg.go.dev anchor:
// "package" is Example, "Registry.Insert-Child" ExampleRegistry_Insert_child.
func exampleFunc(anchor string) string {
	if anchor == "package" {
		return "Example"
	}
	name, suffix, _ := strings.Cut(anchor, "-")
	name = "Example" + strings.ReplaceAll(name, ".", "_")
	if suffix != "" {
		name += "_" + strings.ToLower(suffix[:1]) + suffix[1:]
	}
	return name
}
