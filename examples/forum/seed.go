package main

import (
	"context"
	_ "embed"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// schema is the forum's schema, idempotent.
//
//go:embed schema.sql
var schema string

// demoUser is a demo account of the development login.
type demoUser struct {
	Name    string
	Display string
	Admin   bool
	Roles   map[int64]string // group -> role
}

// demoGroups are the seeded groups.
var demoGroups = []struct {
	ID   int64
	Name string
}{
	{1, "general"},
	{2, "golang"},
	{3, "staff"},
}

// demoUsers are the seeded users, in the order they are printed.
var demoUsers = []demoUser{
	{Name: "alice", Display: "Alice", Roles: map[int64]string{1: roleMember}},
	{Name: "bob", Display: "Bob", Roles: map[int64]string{1: roleModerator, 2: roleMember}},
	{Name: "carol", Display: "Carol", Admin: true},
	{Name: "dave", Display: "Dave", Roles: map[int64]string{2: roleMember}},
	// erin moderates two groups: she may move threads between them.
	{Name: "erin", Display: "Erin", Roles: map[int64]string{1: roleModerator, 2: roleModerator}},
}

// Describe says what a demo user may do, for the start-up banner and the
// login page.
func (u demoUser) Describe() string {
	if u.Admin {
		return "admin (every group)"
	}
	s := ""
	for _, g := range demoGroups {
		if r, ok := u.Roles[g.ID]; ok {
			if s != "" {
				s += ", "
			}
			s += r + " of " + g.Name
		}
	}
	return s
}

// demoThreads are seeded once, when the forum has no thread at all.
var demoThreads = []struct {
	Group  int64
	Title  string
	Author string
	Posts  [][2]string // author, content
}{
	{1, "Welcome to the forum", "bob", [][2]string{
		{"bob", "Be nice. Moderators of general may delete threads and posts here."},
		{"alice", "Hello everyone!"},
	}},
	{1, "Where do I find the JWKS?", "alice", [][2]string{
		{"alice", "The API verifies tokens with the keys at /.well-known/jwks.json."},
	}},
	{2, "Go 1.26 is out", "dave", [][2]string{
		{"dave", "What is your favourite change?"},
		{"bob", "http.CrossOriginProtection, which guards this very page."},
	}},
	{3, "Staff only", "carol", [][2]string{
		{"carol", "Only admins see this group: nobody holds a role in it."},
	}},
}

// migrate applies the schema.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	// The schema holds several statements: pgx sends an Exec without
	// arguments as one simple query, which runs them as a script.
	if _, err := pool.Exec(ctx, schema); err != nil {
		return fmt.Errorf("forum: migrate: %w", err)
	}
	return nil
}

// seed inserts the demo groups, users and memberships (again if missing),
// and the demo threads and posts when there is no thread yet. It is the
// auth side's and the operator's setup, not a request: it runs without a
// capability, outside the policies.
func seed(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, g := range demoGroups {
			if _, err := tx.Exec(ctx, "insert into groups (id, name) values ($1, $2) on conflict do nothing", g.ID, g.Name); err != nil {
				return fmt.Errorf("forum: seed groups: %w", err)
			}
		}
		for _, u := range demoUsers {
			if _, err := tx.Exec(ctx, "insert into users (name, display, admin) values ($1, $2, $3) on conflict do nothing", u.Name, u.Display, u.Admin); err != nil {
				return fmt.Errorf("forum: seed users: %w", err)
			}
			for g, r := range u.Roles {
				if _, err := tx.Exec(ctx, "insert into memberships (user_name, group_id, role) values ($1, $2, $3) on conflict do nothing", u.Name, g, r); err != nil {
					return fmt.Errorf("forum: seed memberships: %w", err)
				}
			}
		}
		var seeded bool
		if err := tx.QueryRow(ctx, "select exists (select 1 from threads)").Scan(&seeded); err != nil {
			return fmt.Errorf("forum: seed: %w", err)
		}
		if seeded {
			return nil
		}
		for _, th := range demoThreads {
			var id int64
			err := tx.QueryRow(ctx, "insert into threads (group_id, title, created_by) values ($1, $2, $3) returning id",
				th.Group, th.Title, th.Author).Scan(&id)
			if err != nil {
				return fmt.Errorf("forum: seed threads: %w", err)
			}
			for _, p := range th.Posts {
				if _, err := tx.Exec(ctx, "insert into posts (thread_id, author, content) values ($1, $2, $3)", id, p[0], p[1]); err != nil {
					return fmt.Errorf("forum: seed posts: %w", err)
				}
			}
		}
		return nil
	})
}
