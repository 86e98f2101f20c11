// Command forum is the forum that keyhole was designed around, runnable
// in one command:
//
//	go run ./examples/forum
//
// It starts an embedded PostgreSQL (or uses -database / DATABASE_URL),
// migrates and seeds demo data, and serves a JSON API under /api/, a small
// web page at /, a development login at POST /login and the login's keys
// at /.well-known/jwks.json, on 127.0.0.1:8080; a token exchange (RFC 8693)
// at POST /oauth/token for its plugin, the digest (plugins.go), whose routes
// are under /plugin-api/.
//
// The login has NO PASSWORDS: it is for development only.
//
// Flags:
//
//	-addr HOST:PORT   listen address, a loopback one (default 127.0.0.1:8080)
//	-insecure-dev-login-on-network
//	                  listen on -addr even when it is not a loopback address:
//	                  anyone who can reach it can act as any demo user
//	-allowed-host NAME[:PORT]
//	                  also answer requests for Host NAME (at the listen port,
//	                  or at PORT); repeatable. Without it the forum answers
//	                  only localhost, 127.0.0.1, [::1] and the -addr host:
//	                  any other Host gets 421 (DNS rebinding, see hosts.go)
//	-data DIR         data directory of the embedded PostgreSQL, kept between runs
//	                  (default: a temporary directory, removed at exit)
//	-database URL     an existing PostgreSQL database instead (default $DATABASE_URL);
//	                  its role migrates, seeds and sets up the second wall, so it
//	                  must own the tables and be allowed to create roles
//	-audit            print the audit report of the forum's policies and plugins and exit
//
// The requests run as the login role forum_app (created at start, with a
// fresh random password), which may only switch to the second wall's role
// (package sqlguard/wall): every statement travels with the caller's
// capability in one round trip, and one that forgot its guard still cannot
// cross a group.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyhole-go/keyhole/internal/testdb"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "forum:", strings.TrimPrefix(err.Error(), "forum: "))
		os.Exit(1)
	}
}

// run is the program; it returns when ctx is done or on SIGINT/SIGTERM,
// after shutting the HTTP server, then PostgreSQL, down.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("forum", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen `address`")
	data := fs.String("data", "", "data `directory` of the embedded PostgreSQL, kept between runs\n(default: a temporary directory, removed at exit)")
	dbURL := fs.String("database", "", "libpq `URL` of an existing PostgreSQL database to use instead of\nthe embedded one (default $DATABASE_URL)")
	audit := fs.Bool("audit", false, "print the audit report of the forum's policies and plugins and exit")
	onNetwork := fs.Bool("insecure-dev-login-on-network", false, "listen on -addr even when it is not a loopback address: the login has\nno passwords, ANYONE WHO CAN REACH THE ADDRESS CAN ACT AS ANY DEMO USER")
	var allowedHosts []string
	fs.Func("allowed-host", "also answer requests for Host `NAME[:PORT]` (repeatable); by default only\nlocalhost, 127.0.0.1, [::1] and the -addr host, at the listen port", func(s string) error {
		allowedHosts = append(allowedHosts, s)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *audit {
		reg, _ := newPolicies()
		return printAudit(stdout, reg)
	}
	laddr, err := listenAddr(*addr, *onNetwork)
	if err != nil {
		return err
	}

	ctx, stopSignals := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stopSignals()

	url := *dbURL
	if url == "" {
		url = os.Getenv("DATABASE_URL")
	}
	if url == "" {
		dir, temp := *data, false
		if dir == "" {
			if dir, err = os.MkdirTemp("", "keyhole-forum-"); err != nil {
				return err
			}
			temp = true
		}
		note := "kept between runs"
		if temp {
			note = "temporary, removed at exit; -data DIR keeps it"
		}
		fmt.Fprintf(stdout, "forum: starting PostgreSQL, data in %s (%s)\n", dir, note)
		var stopPG func() error
		if url, stopPG, err = testdb.Start(ctx, dir); err != nil {
			if temp {
				os.RemoveAll(dir)
			}
			return err
		}
		defer func() {
			fmt.Fprintln(stdout, "forum: stopping PostgreSQL")
			if serr := stopPG(); serr != nil && err == nil {
				err = fmt.Errorf("stopping PostgreSQL: %w", serr)
			}
			if temp {
				os.RemoveAll(dir)
			}
		}()
	}

	cfg, err := poolConfig(url, defaultWaits)
	if err != nil {
		return err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close() // before PostgreSQL stops: defers run last in, first out
	if err := migrate(ctx, pool); err != nil {
		return err
	}
	if err := seed(ctx, pool); err != nil {
		return err
	}
	// The requests run as the login role forum_app behind the second
	// wall; the owner's pool only migrated and seeded.
	appCfg, err := setupWall(ctx, pool, cfg)
	if err != nil {
		return err
	}
	pool.Close()
	appPool, err := pgxpool.NewWithConfig(ctx, appCfg)
	if err != nil {
		return err
	}
	defer appPool.Close()
	a, err := newApp(ctx, config{DB: appPool, Wall: &wallOptions, Logger: slog.New(slog.NewTextHandler(stderr, nil)),
		Listen: *addr, AllowedHosts: allowedHosts, RevocationCacheTTL: time.Second})
	if err != nil {
		return err
	}

	ln, err := net.ListenTCP("tcp", laddr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           a.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      writeTimeout, // above requestTimeout: see waits.go
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(slog.NewTextHandler(stderr, nil).WithGroup("http"), slog.LevelWarn),
	}
	a.pluginBase = "http://" + ln.Addr().String() // the digest plugin calls the forum here
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	banner(stdout, "http://"+ln.Addr().String(), *onNetwork && !laddr.IP.IsLoopback())

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	stopSignals() // a second Ctrl-C kills the process
	fmt.Fprintln(stdout, "forum: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting the HTTP server down: %w", err)
	}
	return nil
}

// listenAddr resolves -addr, and refuses an address that is not a
// loopback one (":8080" and "0.0.0.0:8080" listen on every interface)
// unless onNetwork: the development login has no passwords. The forum
// listens on the resolved address, so that the address checked is the
// address bound.
func listenAddr(addr string, onNetwork bool) (*net.TCPAddr, error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-addr %s: %w", addr, err)
	}
	if !onNetwork && !ta.IP.IsLoopback() {
		return nil, fmt.Errorf("refusing to listen on %s: not a loopback address, and the development login has no passwords "+
			"(anyone who can reach it can act as any demo user); -insecure-dev-login-on-network overrides", addr)
	}
	return ta, nil
}

// banner prints where the forum listens, who can log in, and a curl line.
// The first line is what scripts (and the start-up test) wait for.
// onNetwork: the address is not a loopback one.
func banner(w io.Writer, base string, onNetwork bool) {
	fmt.Fprintf(w, "forum: listening on %s/\n", base)
	fmt.Fprintln(w, "forum: DEVELOPMENT LOGIN WITHOUT PASSWORDS: anyone who can reach this address can act as any demo user.")
	if onNetwork {
		fmt.Fprintln(w, "forum: WARNING: -insecure-dev-login-on-network: this address is NOT the loopback; anyone on the network can act as any demo user.")
	}
	fmt.Fprintln(w, "forum: demo users:")
	for _, u := range demoUsers {
		fmt.Fprintf(w, "  %-6s %s\n", u.Name, u.Describe())
	}
	fmt.Fprintln(w, "forum: open the page, or log in as alice and post into thread 1 with curl:")
	fmt.Fprintf(w, "  TOKEN=$(curl -s %s/login -H 'Content-Type: application/json' -d '{\"user\":\"alice\"}' | sed -E 's/.*\"token\":\"([^\"]+)\".*/\\1/') && curl -s %s/api/threads/1/posts -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' -d '{\"content\":\"hello from curl\"}'\n", base, base)
	fmt.Fprintln(w, "forum: Ctrl-C stops the server and PostgreSQL.")
}
