package testdb

import (
	"context"
	"testing"
)

// BenchmarkClusterStart measures a test binary's first use of testdb: a
// throwaway cluster (initdb, start, wait until ready) and its test role,
// then shutdown. Run with a small -benchtime, e.g. -benchtime=5x.
func BenchmarkClusterStart(b *testing.B) {
	if _, err := findBinaries(); err != nil {
		b.Skip(err)
	}
	ctx := context.Background()
	for b.Loop() {
		c, err := startCluster(ctx)
		if err != nil {
			b.Fatal(err)
		}
		s := &server{cluster: c, adminURL: c.url, templates: map[string]*template{}}
		if err := s.setup(ctx); err != nil {
			s.close(false)
			b.Fatal(err)
		}
		if err := s.close(true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewDatabase measures what New costs once the template exists:
// clone, grant, two pools, a ping. "new" leaves the drop out of the
// timing; "new+drop" is a test's whole database life cycle; "parallel"
// runs it from several goroutines at once.
func BenchmarkNewDatabase(b *testing.B) {
	New(b, notesSchema) // starts the server and the template, or skips
	s, err := getServer()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	open := func(b *testing.B) *DB {
		db, err := s.newDB(ctx, notesSchema)
		if err != nil {
			b.Fatal(err)
		}
		return db
	}
	closeDrop := func(b *testing.B, db *DB) {
		db.Pool.Close()
		db.Owner.Close()
		s.waitNoSessions(ctx, db.Name)
		if err := s.drop(ctx, db.Name); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("new", func(b *testing.B) {
		for b.Loop() {
			db := open(b)
			b.StopTimer()
			closeDrop(b, db)
			b.StartTimer()
		}
	})
	b.Run("new+drop", func(b *testing.B) {
		for b.Loop() {
			closeDrop(b, open(b))
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				closeDrop(b, open(b))
			}
		})
	})
}
