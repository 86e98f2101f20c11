package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// DNS rebinding. The forum listens on the loopback, but a browser decides
// what is same-origin by the name in the address bar: a page of
// http://rebind.example:8080 whose name is then re-resolved to 127.0.0.1
// reaches the forum with Host rebind.example:8080, and with Origin
// http://rebind.example:8080, which http.CrossOriginProtection (Origin
// against Host) accepts as same-origin. Its script could then log in as
// any demo user and read the answers. The defense is to answer only the
// names the forum is meant to be reached by: hostGuard wraps every route.
//
// A refused request answers 421 Misdirected Request (RFC 9110 15.5.20: "the
// request was directed at a server that is unable or unwilling to produce
// an authoritative response for the target URI"), which is exactly the
// case, says that nothing ran, and is not an error a client retries on the
// same name (a browser retries 421 only on another HTTP/2 connection,
// which reaches the same check). 403 would say that the server understood
// the request and refuses the caller; 400 that the request is malformed,
// and it is not.

// errMisdirected is the error of a request whose Host the forum does not
// answer.
var errMisdirected = errors.New("forum: misdirected request: host not allowed")

// hostGuard lets through only requests whose Host is one of the forum's
// names, at the port the request arrived on:
//
//   - the loopback names localhost, 127.0.0.1 and [::1];
//   - the host of the listen address (-addr), as given;
//   - the IP address the connection arrived at, written as an IP literal
//     (a literal cannot be rebound: an attacker's page cannot have it as
//     its origin);
//   - the names given with -allowed-host: NAME at the port the request
//     arrived on, or NAME:PORT at PORT exactly (a proxy in front).
//
// Anything else, including a missing Host and a Host with another port,
// is refused before any handler runs.
type hostGuard struct {
	names map[string]bool // lower case, IPv6 without brackets: at the connection's port
	exact map[string]bool // "name:port", lower case: at that port only
	deny  func(w http.ResponseWriter, r *http.Request, status int, err error)
}

// newHostGuard parses the listen address and the extra names once.
func newHostGuard(listen string, extra []string) (*hostGuard, error) {
	g := &hostGuard{
		names: map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true},
		exact: map[string]bool{},
	}
	if listen != "" {
		h, _, err := net.SplitHostPort(listen)
		if err != nil {
			return nil, fmt.Errorf("forum: listen address %q: %w", listen, err)
		}
		if h != "" {
			g.names[strings.ToLower(h)] = true
		}
	}
	for _, e := range extra {
		e = strings.ToLower(strings.TrimSpace(e))
		if h, p, err := net.SplitHostPort(e); err == nil {
			if h == "" || !validPort(p) {
				return nil, fmt.Errorf("forum: -allowed-host %q: want NAME or NAME:PORT", e)
			}
			g.exact[net.JoinHostPort(h, p)] = true
			continue
		}
		e = strings.TrimSuffix(strings.TrimPrefix(e, "["), "]")
		if e == "" || strings.ContainsAny(e, "/ @?#") {
			return nil, fmt.Errorf("forum: -allowed-host %q: want NAME or NAME:PORT", e)
		}
		g.names[e] = true
	}
	return g, nil
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n < 1<<16 && strconv.Itoa(n) == p
}

// Check returns nil when r's Host is one the forum answers, else an error
// that wraps errMisdirected.
func (g *hostGuard) Check(r *http.Request) error {
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return fmt.Errorf("%w: no local address", errMisdirected)
	}
	lap, err := netip.ParseAddrPort(local.String())
	if err != nil {
		return fmt.Errorf("%w: local address %s", errMisdirected, local)
	}
	host := strings.ToLower(r.Host)
	if host == "" {
		return fmt.Errorf("%w: no Host", errMisdirected)
	}
	if g.exact[host] {
		return nil
	}
	name, port, err := net.SplitHostPort(host)
	if err != nil { // no port: the scheme's default
		name, port = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), "80"
		if r.TLS != nil {
			port = "443"
		}
	}
	if port != strconv.Itoa(int(lap.Port())) {
		return fmt.Errorf("%w: Host %q: not the port the request arrived on", errMisdirected, r.Host)
	}
	if g.names[name] {
		return nil
	}
	if ip, err := netip.ParseAddr(name); err == nil && ip.Unmap() == lap.Addr().Unmap() {
		return nil
	}
	return fmt.Errorf("%w: Host %q", errMisdirected, r.Host)
}

// Handler refuses, with 421 and the site's own answer, every request that
// Check refuses, and passes the others to h.
func (g *hostGuard) Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := g.Check(r); err != nil {
			g.deny(w, r, http.StatusMisdirectedRequest, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}
