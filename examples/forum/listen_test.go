package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestListenAddr: the development login listens on the loopback only,
// unless -insecure-dev-login-on-network says otherwise.
func TestListenAddr(t *testing.T) {
	for _, c := range []struct {
		addr      string
		onNetwork bool
		want      bool // accepted
	}{
		{"127.0.0.1:8080", false, true},
		{"127.0.0.1:0", false, true},
		{"127.1.2.3:8080", false, true},
		{"[::1]:0", false, true},
		{":8080", false, false},
		{":0", false, false},
		{"0.0.0.0:8080", false, false},
		{"[::]:8080", false, false},
		{"192.0.2.1:8080", false, false},
		{"[2001:db8::1]:8080", false, false},
		{"[::ffff:192.0.2.1]:8080", false, false},
		{":8080", true, true},
		{"0.0.0.0:0", true, true},
		{"192.0.2.1:8080", true, true},
		{"127.0.0.1", false, false}, // no port: an error, not a default
	} {
		ta, err := listenAddr(c.addr, c.onNetwork)
		if got := err == nil; got != c.want {
			t.Errorf("listenAddr(%q, %v): got %v, %v; want accepted=%v", c.addr, c.onNetwork, ta, err, c.want)
		}
	}
}

// TestRunRefusesNetworkAddr: run refuses a non-loopback -addr before it
// starts or connects to PostgreSQL, and names the flag that overrides.
func TestRunRefusesNetworkAddr(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0"} {
		var stdout, stderr bytes.Buffer
		// A database that cannot answer: reaching it would fail
		// differently.
		err := run(context.Background(), []string{"-addr", addr, "-database", "postgres://127.0.0.1:1/none?connect_timeout=1"}, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), "-insecure-dev-login-on-network") {
			t.Errorf("-addr %s: got %v, want a refusal naming -insecure-dev-login-on-network", addr, err)
		}
		if stdout.Len() > 0 {
			t.Errorf("-addr %s: output before the refusal:\n%s", addr, &stdout)
		}
	}
}
