//go:build linux

package testdb

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// startDir is a fresh directory for Start that the server's OS user can
// reach (t.TempDir's parent is private to the test's user).
func startDir(t *testing.T) string {
	t.Helper()
	needBinaries(t)
	// In memory when possible: Start keeps PostgreSQL's durable settings,
	// and fsync on a busy disk is slow.
	base, err := os.MkdirTemp(clusterBases()[0], "keyhole-start-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(base, "pgdata")
}

// TestStart: Start initdbs an empty directory, serves the database
// "keyhole", stops cleanly, and a second Start on the same directory finds
// the data again without initdb.
func TestStart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := startDir(t)

	url, stop, err := Start(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		stop()
		t.Fatal(err)
	}
	var db string
	var super bool
	err = conn.QueryRow(ctx, "select current_database(), rolsuper from pg_roles where rolname = current_user").Scan(&db, &super)
	if err == nil {
		_, err = conn.Exec(ctx, "create table kept (v text); insert into kept values ('persisted')")
	}
	conn.Close(ctx)
	if err != nil {
		stop()
		t.Fatal(err)
	}
	if db != "keyhole" || !super {
		t.Errorf("got database %q superuser %v, want keyhole and true", db, super)
	}
	pidFile := filepath.Join(dir, "postmaster.pid")
	pid := readPid(pidFile)
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if alive(pid) {
		t.Errorf("server %d alive after stop returned", pid)
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("postmaster.pid after a clean stop: %v", err)
	}
	if err := stop(); err != nil {
		t.Errorf("second stop: %v", err)
	}

	url2, stop2, err := Start(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := stop2(); err != nil {
			t.Errorf("stop: %v", err)
		}
	}()
	if url2 != url {
		t.Errorf("second Start URL %s, want %s", url2, url)
	}
	conn, err = pgx.Connect(ctx, url2)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, "select v from kept where v = $1", "persisted").Scan(&v); err != nil {
		t.Errorf("data after restart: %v", err)
	}

	// A second server on the same directory is refused.
	if _, stop3, err := Start(ctx, dir); err == nil {
		stop3()
		t.Errorf("second concurrent Start on %s succeeded", dir)
	}
}

// TestStartRefusesForeignDirectory: a non-empty directory that is no data
// directory is left alone.
func TestStartRefusesForeignDirectory(t *testing.T) {
	dir := startDir(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stop, err := Start(context.Background(), dir)
	if err == nil {
		stop()
		t.Fatal("Start on a foreign directory succeeded")
	}
	if !strings.Contains(err.Error(), "neither empty nor a PostgreSQL data directory") {
		t.Errorf("got %v", err)
	}
}
