//go:build linux

package testdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5/pgconn"
)

// Start starts an embedded PostgreSQL for a program (not a test) on the
// data directory dir, running initdb first when dir is missing or empty,
// and returns the libpq URL of the superuser "postgres" on a database named
// "keyhole" (created if missing) and a function that shuts the server down
// (fast shutdown) and waits for it to exit.
//
// The server listens only on a unix socket (in dir when the path is short
// enough, else in a private temporary directory), with PostgreSQL's default
// durability settings. A root process runs it as the "postgres" OS user,
// which then owns dir. The server gets SIGINT (fast shutdown) if the calling
// process dies without calling stop. The program must not call Start twice
// on the same dir at once: PostgreSQL's lock file refuses the second server.
func Start(ctx context.Context, dir string) (url string, stop func() error, err error) {
	b, err := findBinaries()
	if err != nil {
		return "", nil, err
	}
	o, err := serverOwner()
	if err != nil {
		return "", nil, err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return "", nil, fmt.Errorf("testdb: %w", err)
	}
	empty, err := isEmptyDir(dir)
	if err != nil {
		return "", nil, err
	}
	if empty {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", nil, fmt.Errorf("testdb: %w", err)
		}
		if err := o.chown(dir); err != nil {
			return "", nil, fmt.Errorf("testdb: %w", err)
		}
		if err := initdb(ctx, b, o, dir, false); err != nil {
			return "", nil, err
		}
	} else if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		return "", nil, fmt.Errorf("testdb: %s is neither empty nor a PostgreSQL data directory", dir)
	}

	sockDir, tmpSock := dir, ""
	if len(dir) > 80 { // a unix socket path must fit in 107 bytes
		if tmpSock, err = os.MkdirTemp("", "keyhole-sock-"); err != nil {
			return "", nil, fmt.Errorf("testdb: %w", err)
		}
		if err := o.chown(tmpSock); err != nil {
			os.RemoveAll(tmpSock)
			return "", nil, fmt.Errorf("testdb: %w", err)
		}
		sockDir = tmpSock
	}
	pm, err := startPostmaster(b, o, dir, sockDir, []string{"unix_socket_permissions=0700"})
	if err != nil {
		if tmpSock != "" {
			os.RemoveAll(tmpSock)
		}
		return "", nil, err
	}
	stop = func() error {
		err := pm.stop()
		if tmpSock != "" {
			os.RemoveAll(tmpSock)
		}
		return err
	}
	if err := pm.waitReady(ctx, socketURL(sockDir, "postgres", "postgres")); err != nil {
		stop()
		return "", nil, err
	}
	if err := createKeyhole(ctx, socketURL(sockDir, "postgres", "postgres")); err != nil {
		stop()
		return "", nil, err
	}
	return socketURL(sockDir, "postgres", "keyhole"), stop, nil
}

// createKeyhole creates the database "keyhole" if it does not exist.
func createKeyhole(ctx context.Context, url string) error {
	conn, err := pgconn.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("testdb: %w", err)
	}
	defer conn.Close(ctx)
	res, err := conn.Exec(ctx, "select 1 from pg_database where datname = 'keyhole'").ReadAll()
	if err != nil {
		return fmt.Errorf("testdb: %w", err)
	}
	if len(res) == 1 && len(res[0].Rows) == 1 {
		return nil
	}
	if _, err := conn.Exec(ctx, "create database keyhole").ReadAll(); err != nil {
		return fmt.Errorf("testdb: create database keyhole: %w", err)
	}
	return nil
}

// isEmptyDir reports whether dir is missing or empty.
func isEmptyDir(dir string) (bool, error) {
	f, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("testdb: %w", err)
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); errors.Is(err, io.EOF) {
		return true, nil
	} else if err != nil {
		return false, fmt.Errorf("testdb: %w", err)
	}
	return false, nil
}
