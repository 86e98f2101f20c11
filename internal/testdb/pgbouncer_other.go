//go:build !linux

package testdb

import "testing"

// PgBouncer needs Linux (the parent-death signal); it skips t elsewhere.
func (db *DB) PgBouncer(t testing.TB, poolSize int) string {
	t.Helper()
	t.Skip(errNotLinux)
	return ""
}
