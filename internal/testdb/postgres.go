package testdb

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// installHint says what to do when no server can be had.
const installHint = "install the PostgreSQL server binaries (Debian/Ubuntu: apt-get install postgresql) " +
	"or set KEYHOLE_TEST_DATABASE to the libpq URL of a superuser on an existing server " +
	"(e.g. postgres://postgres:secret@127.0.0.1:5432/postgres)"

// unavailableError reports that no PostgreSQL server can be had on this
// machine: New skips on it outside CI.
type unavailableError struct{ reason string }

func (e *unavailableError) Error() string {
	return "testdb: no PostgreSQL server: " + e.reason + ": " + installHint
}

// pgLibDir holds Debian's versioned PostgreSQL installations.
var pgLibDir = "/usr/lib/postgresql"

// binaries are the PostgreSQL programs testdb runs.
type binaries struct {
	initdb, postgres string
}

// findBinaries looks for initdb and postgres on PATH (in the same directory,
// symlinks resolved), then under /usr/lib/postgresql/<highest>/bin.
func findBinaries() (binaries, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if b, ok := binariesIn(dir); ok {
			return b, nil
		}
		if pg, err := exec.LookPath("postgres"); err == nil {
			return binaries{initdb: p, postgres: pg}, nil
		}
	}
	versions, _ := filepath.Glob(filepath.Join(pgLibDir, "*", "bin", "initdb"))
	sort.Slice(versions, func(i, j int) bool { return pgVersion(versions[i]) > pgVersion(versions[j]) })
	for _, p := range versions {
		if b, ok := binariesIn(filepath.Dir(p)); ok {
			return b, nil
		}
	}
	return binaries{}, &unavailableError{"initdb and postgres not found on PATH nor under /usr/lib/postgresql/*/bin"}
}

func binariesIn(dir string) (binaries, bool) {
	b := binaries{initdb: filepath.Join(dir, "initdb"), postgres: filepath.Join(dir, "postgres")}
	for _, p := range []string{b.initdb, b.postgres} {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return binaries{}, false
		}
	}
	return b, true
}

// pgVersion is the numeric major version in /usr/lib/postgresql/<v>/bin/initdb.
func pgVersion(initdb string) float64 {
	v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(filepath.Dir(initdb))), 64)
	if err != nil {
		return -1
	}
	return v
}

// childEnv is the environment of initdb and postgres: ours without PG*
// variables (they would redirect initdb) and with the C locale for messages.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PG") || strings.HasPrefix(k, "LC_") || k == "LANG" || k == "LANGUAGE" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C")
}

// tailBuffer keeps the last max bytes written to it (a server's log).
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(bytes.TrimSpace(b.buf))
}

// errNotLinux is returned where the ephemeral cluster is unsupported.
var errNotLinux = errors.New("testdb: an embedded PostgreSQL needs Linux (parent-death signal); set KEYHOLE_TEST_DATABASE")

// serverError decorates a start-up failure with the server's log tail.
func serverError(what string, err error, log *tailBuffer) error {
	if s := log.String(); s != "" {
		return fmt.Errorf("testdb: %s: %w\n%s", what, err, s)
	}
	return fmt.Errorf("testdb: %s: %w", what, err)
}
