//go:build linux

package testdb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
)

const (
	clusterPrefix = "keyhole-testdb-" // name prefix of throwaway cluster directories
	ownerFile     = "owner.pid"       // pid of the process a throwaway cluster belongs to
)

// testSettings trade durability for speed and keep many concurrent
// clusters (one per test binary) light.
var testSettings = []string{
	"fsync=off",
	"synchronous_commit=off",
	"full_page_writes=off",
	"wal_level=minimal",
	"max_wal_senders=0",
	"max_wal_size=256MB", // in memory on tmpfs
	"min_wal_size=32MB",
	"checkpoint_timeout=1h",
	"max_connections=300",
	"shared_buffers=32MB",
	"autovacuum=off",
	"jit=off",
	"huge_pages=off",
	"TimeZone=UTC",
	"unix_socket_permissions=0700",
}

// clusterBases are the directories for throwaway clusters, best first:
// /dev/shm when it is a tmpfs with room (copying a template on a disk is
// ten times slower: ~250 ms instead of ~15 ms per database measured here),
// then the temporary directory. A cluster takes ~40 MB (in memory on tmpfs).
func clusterBases() []string {
	var bases []string
	var st syscall.Statfs_t
	const tmpfsMagic = 0x01021994
	if err := syscall.Statfs("/dev/shm", &st); err == nil && st.Type == tmpfsMagic &&
		uint64(st.Bavail)*uint64(st.Bsize) >= 512<<20 {
		bases = append(bases, "/dev/shm")
	}
	// A unix socket path must fit in 107 bytes.
	if tmp := os.TempDir(); len(tmp) <= 60 {
		return append(bases, tmp)
	}
	return append(bases, "/tmp")
}

// cluster is a throwaway PostgreSQL cluster in a temporary directory,
// reachable only through the unix socket in that directory.
type cluster struct {
	dir string
	url string // superuser "postgres", database "postgres"
	b   binaries
	o   owner

	mu sync.Mutex
	pm *postmaster // nil while stopped (restartServer)
}

func startCluster(ctx context.Context) (*cluster, error) {
	b, err := findBinaries()
	if err != nil {
		return nil, err
	}
	o, err := serverOwner()
	if err != nil {
		return nil, err
	}
	bases := clusterBases()
	for _, base := range bases {
		removeStale(base)
	}
	var dir string
	for _, base := range bases {
		if dir, err = os.MkdirTemp(base, clusterPrefix); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("testdb: %w", err)
	}
	c := &cluster{dir: dir, url: socketURL(dir, "postgres", "postgres"), b: b, o: o}
	if err := c.init(ctx, b, o); err != nil {
		if c.pm != nil {
			c.pm.stop()
		}
		os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
}

func (c *cluster) init(ctx context.Context, b binaries, o owner) error {
	if err := os.WriteFile(filepath.Join(c.dir, ownerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("testdb: %w", err)
	}
	if err := o.chown(c.dir); err != nil {
		return fmt.Errorf("testdb: %w", err)
	}
	data := filepath.Join(c.dir, "data")
	if err := initdb(ctx, b, o, data, true); err != nil {
		return err
	}
	pm, err := startPostmaster(b, o, data, c.dir, testSettings)
	if err != nil {
		return err
	}
	c.pm = pm
	return pm.waitReady(ctx, c.url)
}

// stop shuts the server down and removes its directory.
func (c *cluster) stop() error {
	err := c.stopServer()
	if rmErr := os.RemoveAll(c.dir); err == nil && rmErr != nil {
		err = fmt.Errorf("testdb: %w", rmErr)
	}
	return err
}

// stopServer shuts the server down (fast shutdown: open sessions end with
// admin_shutdown, 57P01) and waits for it to exit, keeping the directory.
// Stopping a stopped server does nothing.
func (c *cluster) stopServer() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pm == nil {
		return nil
	}
	err := c.pm.stop()
	c.pm = nil
	return err
}

// startServer starts the server again on the same directory and socket,
// and waits until it accepts connections. Starting a running server does
// nothing.
func (c *cluster) startServer(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pm != nil {
		return nil
	}
	pm, err := startPostmaster(c.b, c.o, filepath.Join(c.dir, "data"), c.dir, testSettings)
	if err != nil {
		return err
	}
	if err := pm.waitReady(ctx, c.url); err != nil {
		pm.stop()
		return err
	}
	c.pm = pm
	return nil
}

// running reports whether the server is started.
func (c *cluster) running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pm != nil
}
