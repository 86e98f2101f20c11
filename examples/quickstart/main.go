// Command quickstart is the README's quick start, runnable: a table of
// notes, one registry of policies, a verifier, the middleware around the
// handlers, and a few requests that show what PostgreSQL allows, denies
// and does not find.
//
//	go run ./examples/quickstart
//
// It starts an embedded PostgreSQL (or uses -database / DATABASE_URL),
// creates the notes table, plays the auth service (an issuer with a fresh
// EdDSA key) and sends its requests through a loopback HTTP server,
// printing each answer. With -serve ADDR it keeps serving on ADDR (a
// loopback address) and prints tokens for curl.
//
// quickstart.go is the part an application writes; this file is the
// harness around it.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
	"github.com/keyhole-go/keyhole/internal/testdb"
)

// schema is the quick start's table.
const schema = `CREATE TABLE IF NOT EXISTS notes (
	id bigserial PRIMARY KEY,
	group_id bigint NOT NULL,
	author text NOT NULL,
	body text NOT NULL
)`

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := fs.String("database", "", "libpq `URL` of an existing PostgreSQL database (default $DATABASE_URL;\nneither: an embedded PostgreSQL in a temporary directory)")
	serve := fs.String("serve", "", "keep serving on this loopback `address` (e.g. 127.0.0.1:8080)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	url := *dbURL
	if url == "" {
		url = os.Getenv("DATABASE_URL")
	}
	if url == "" {
		dir, err := os.MkdirTemp("", "keyhole-quickstart-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		fmt.Fprintln(stdout, "starting an embedded PostgreSQL in", dir)
		var stopPG func() error
		if url, stopPG, err = testdb.Start(ctx, dir); err != nil {
			return err
		}
		defer func() {
			if serr := stopPG(); serr != nil && err == nil {
				err = serr
			}
		}()
	}
	pool, err := openPool(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, schema); err != nil {
		return err
	}

	// The auth service: it signs tokens; the application only verifies.
	key, err := token.GenerateKey(token.EdDSA, "k1")
	if err != nil {
		return err
	}
	issuer, err := token.NewIssuer(token.IssuerOptions{Issuer: "https://auth.example",
		Roles: roles, Kind: capability.KindInt64, Key: key, TTL: time.Hour})
	if err != nil {
		return err
	}
	verifier, err := newVerifier(ctx, issuer.PublicKeys())
	if err != nil {
		return err
	}
	h, err := routes(pool, verifier)
	if err != nil {
		return err
	}
	alice, err := mint(issuer, "alice", 1)
	if err != nil {
		return err
	}
	bob, err := mint(issuer, "bob", 2)
	if err != nil {
		return err
	}

	addr := "127.0.0.1:0"
	if *serve != "" {
		addr = *serve
	}
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return err
	}
	if !ta.IP.IsLoopback() {
		return fmt.Errorf("-serve %s: not a loopback address", addr)
	}
	ln, err := net.ListenTCP("tcp", ta)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	if *serve == "" {
		return demo(ctx, stdout, base, alice, bob)
	}
	fmt.Fprintf(stdout, "listening on %s\n", base)
	fmt.Fprintf(stdout, "alice (member of group 1):\n  curl -s %s/groups/1/notes -H 'Authorization: Bearer %s' -d body=hello\n", base, alice)
	fmt.Fprintf(stdout, "bob (member of group 2):\n  curl -s %s/groups/1/notes -H 'Authorization: Bearer %s'\n", base, bob)
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
		return nil
	}
}

// mint is the auth service's answer to a login: a token for sub, member
// of group, for the audience "notes".
func mint(issuer *token.Issuer, sub string, group int64) (string, error) {
	return issuer.Mint(capability.Params{Subject: sub, Audience: []string{"notes"},
		Grants: []capability.Grant{{Group: capability.Int64Group(group), Role: "member"}}})
}

// demo sends the quick start's requests and prints each answer.
func demo(ctx context.Context, w io.Writer, base, alice, bob string) error {
	fmt.Fprintln(w, "alice is a member of group 1, bob of group 2.")
	steps := []struct {
		who, token, method, path, body string
	}{
		{"alice", alice, "POST", "/groups/1/notes", "hello from alice"},
		{"bob", bob, "POST", "/groups/2/notes", "bob's secret"},
		{"alice", alice, "GET", "/groups/1/notes", ""},
		{"alice", alice, "POST", "/groups/2/notes", "let me in"},
		{"alice", alice, "GET", "/groups/2/notes", ""},
		{"alice", alice, "GET", "/notes/2", ""},
		{"alice", alice, "GET", "/notes/x", ""},
		{"nobody", "", "GET", "/groups/1/notes", ""},
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for _, s := range steps {
		var body io.Reader
		if s.body != "" {
			body = strings.NewReader(url.Values{"body": {s.body}}.Encode())
		}
		req, err := http.NewRequestWithContext(ctx, s.method, base+s.path, body)
		if err != nil {
			return err
		}
		if s.body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if s.token != "" {
			req.Header.Set("Authorization", "Bearer "+s.token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		out, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%-6s %-4s %-16s", s.who, s.method, s.path)
		if s.body != "" {
			line += fmt.Sprintf(" body=%q", s.body)
		}
		fmt.Fprintf(w, "%s\n    -> %d %s\n", strings.TrimRight(line, " "), resp.StatusCode, bytes.TrimSpace(out))
	}
	return nil
}
