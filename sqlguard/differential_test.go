package sqlguard_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/sqlguard"
)

var (
	seedFlag  = flag.Uint64("sqlguard.seed", 0, "seed of TestDifferential (default: $SQLGUARD_SEED, else random)")
	casesFlag = flag.Int("sqlguard.cases", 10000, "number of operations of TestDifferential")
)

// Roles by rank: the forum's chain member < moderator < admin.
var rankOf = map[string]int{"member": 1, "moderator": 2, "admin": 3}
var roleOfRank = []string{"", "member", "moderator", "admin"}

// refCap is the reference model of a capability: the rank held per group.
type refCap struct {
	nil     bool
	subject string
	admin   bool
	ranks   map[int64]int
}

func (c refCap) has(role string, g *int64) bool {
	return !c.nil && g != nil && c.ranks[*g] >= rankOf[role]
}

type refThread struct {
	group  *int64
	locked bool
}

type refPost struct {
	thread int64
	author string
}

// model is the pure-Go reference of the forum's rows.
type model struct {
	threads map[int64]*refThread
	posts   map[int64]*refPost
}

// TestDifferential runs random operations by random capabilities on random
// rows, and checks every outcome (and list) in PostgreSQL against a pure-Go
// evaluation of the same policies on a model of the rows, which it keeps in
// step. The seed is printed on failure; set it with -sqlguard.seed or
// SQLGUARD_SEED.
func TestDifferential(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		if s, err := strconv.ParseUint(os.Getenv("SQLGUARD_SEED"), 10, 64); err == nil {
			seed = s
		} else {
			seed = uint64(time.Now().UnixNano())
		}
	}
	cases := *casesFlag
	if testing.Short() {
		cases = 1000
	}
	kind := capability.KindInt64
	db := testdb.New(t, forumSchema(kind))
	f := newForum(t, kind)
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	defer func() {
		if t.Failed() {
			t.Logf("TestDifferential seed: %d (rerun: go test ./sqlguard -run TestDifferential -sqlguard.seed=%d)", seed, seed)
		}
	}()

	const ngroups = 7 // groups 1..7; 7 is held by nobody
	subjects := []string{"s0", "s1", "s2", "s3", ""}
	m := &model{threads: map[int64]*refThread{}, posts: map[int64]*refPost{}}
	randGroup := func() *int64 {
		if rng.IntN(10) == 0 {
			return nil
		}
		g := int64(1 + rng.IntN(ngroups))
		return &g
	}
	// Seed rows.
	var batch pgx.Batch
	for id := int64(1); id <= 40; id++ {
		th := &refThread{group: randGroup(), locked: rng.IntN(8) == 0}
		m.threads[id] = th
		batch.Queue(`insert into threads (id, title, created_by, group_id, locked) values ($1, 'seed', 'seed', $2, $3)`, id, th.group, th.locked)
	}
	for id := int64(1); id <= 80; id++ {
		p := &refPost{thread: 1 + rng.Int64N(40), author: subjects[rng.IntN(len(subjects))]}
		m.posts[id] = p
		batch.Queue(`insert into posts (id, content, author, thread_id) values ($1, 'seed', $2, $3)`, id, p.author, p.thread)
	}
	batch.Queue(`select setval('threads_id_seq', 1000), setval('posts_id_seq', 1000)`)
	if err := db.Owner.SendBatch(ctx, &batch).Close(); err != nil {
		t.Fatal(err)
	}

	// Random capabilities, built once.
	type capPair struct {
		ref refCap
		cap *capability.Capability
	}
	var capsList []capPair
	for i := 0; i < 40; i++ {
		if i == 0 {
			capsList = append(capsList, capPair{ref: refCap{nil: true}})
			continue
		}
		rc := refCap{subject: subjects[rng.IntN(len(subjects))], admin: rng.IntN(7) == 0, ranks: map[int64]int{}}
		p := capability.Params{Subject: rc.subject, Admin: rc.admin, Expiry: time.Now().Add(time.Hour)}
		for g := int64(1); g < ngroups; g++ {
			if r := rng.IntN(6); r >= 1 && r <= 3 {
				rc.ranks[g] = r
				p.Grants = append(p.Grants, capability.Grant{Group: capability.Int64Group(g), Role: roleOfRank[r]})
			}
		}
		c, err := capability.New(forumRoles, kind, p)
		if err != nil {
			t.Fatal(err)
		}
		capsList = append(capsList, capPair{rc, c})
	}

	pickThread := func() int64 {
		if rng.IntN(12) == 0 {
			return 5000 + rng.Int64N(10) // missing
		}
		ids := sortedKeys(m.threads)
		if len(ids) == 0 {
			return 1
		}
		return ids[rng.IntN(len(ids))]
	}
	pickPost := func() int64 {
		if rng.IntN(12) == 0 {
			return 5000 + rng.Int64N(10)
		}
		ids := sortedKeys(m.posts)
		if len(ids) == 0 {
			return 1
		}
		return ids[rng.IntN(len(ids))]
	}
	status := func(found, readable, allowed bool) string {
		switch {
		case !found || !readable:
			return "notfound"
		case !allowed:
			return "denied"
		}
		return "ok"
	}
	nextUpsertID := int64(1_000_000)

	for i := 0; i < cases; i++ {
		cp := capsList[rng.IntN(len(capsList))]
		c, cap := cp.ref, cp.cap
		var op, want, got string
		var apply func()
		switch rng.IntN(11) {
		case 0: // create a thread in a group
			g := int64(1 + rng.IntN(ngroups))
			op = fmt.Sprintf("create thread in %d", g)
			want = map[bool]string{true: "ok", false: "denied"}[c.has("member", &g)]
			var id int64
			err := f.createThread.QueryRow(ctx, db.Pool, cap, "t", capability.Int64Group(g)).Scan(&id)
			got = outcome(err)
			apply = func() { m.threads[id] = &refThread{group: &g} }
		case 1: // post into a thread
			id := pickThread()
			op = fmt.Sprintf("post in thread %d", id)
			th, ok := m.threads[id]
			want = status(ok, ok && c.has("member", th.group) && !th.locked, true)
			var pid int64
			got = outcome(f.createPost.QueryRow(ctx, db.Pool, cap, "p", id).Scan(&pid))
			apply = func() { m.posts[pid] = &refPost{thread: id, author: c.subject} }
		case 2: // announce: moderator, readable by member, admin override
			id := pickThread()
			op = fmt.Sprintf("announce in thread %d", id)
			th, ok := m.threads[id]
			want = status(ok, ok && (c.has("member", th.group) || c.admin), ok && (c.has("moderator", th.group) || c.admin))
			var pid int64
			got = outcome(f.announce.QueryRow(ctx, db.Pool, cap, "a", id).Scan(&pid))
			apply = func() { m.posts[pid] = &refPost{thread: id, author: c.subject} }
		case 3: // delete a thread
			id := pickThread()
			op = fmt.Sprintf("delete thread %d", id)
			th, ok := m.threads[id]
			want = status(ok, ok && (c.has("member", th.group) || c.admin), ok && (c.has("moderator", th.group) || c.admin))
			got = outcome(f.deleteThread.Exec(ctx, db.Pool, cap, id))
			apply = func() {
				delete(m.threads, id)
				for pid, p := range m.posts {
					if p.thread == id {
						delete(m.posts, pid)
					}
				}
			}
		case 4: // move a thread
			id := pickThread()
			g := int64(1 + rng.IntN(ngroups))
			op = fmt.Sprintf("move thread %d to %d", id, g)
			th, ok := m.threads[id]
			want = status(ok, ok && (c.has("member", th.group) || c.admin),
				ok && (c.has("moderator", th.group) || c.admin) && (c.has("moderator", &g) || c.admin))
			var rid int64
			var rg int64
			got = outcome(f.moveThread.QueryRow(ctx, db.Pool, cap, id, capability.Int64Group(g)).Scan(&rid, &rg))
			if got == "ok" && (rid != id || rg != g) {
				got = fmt.Sprintf("ok but returned (%d, %d)", rid, rg)
			}
			apply = func() { m.threads[id].group = &g }
		case 5: // edit a post: author or moderator
			id := pickPost()
			op = fmt.Sprintf("edit post %d", id)
			p, ok := m.posts[id]
			var tg *int64
			owner := false
			if ok {
				tg = m.threads[p.thread].group
				owner = !c.nil && c.subject != "" && p.author == c.subject
			}
			want = status(ok, ok && (c.has("member", tg) || owner), ok && (c.has("moderator", tg) || owner))
			got = outcome(f.editPost.Exec(ctx, db.Pool, cap, id, "edited"))
			apply = func() {}
		case 6: // move a post to another thread
			id := pickPost()
			to := pickThread()
			op = fmt.Sprintf("move post %d to thread %d", id, to)
			p, ok := m.posts[id]
			var tg, ng *int64
			if ok {
				tg = m.threads[p.thread].group
			}
			nt, nok := m.threads[to]
			if nok {
				ng = nt.group
			}
			want = status(ok, ok && c.has("member", tg), ok && c.has("moderator", tg) && nok && c.has("moderator", ng))
			got = outcome(f.movePost.Exec(ctx, db.Pool, cap, id, to))
			apply = func() { m.posts[id].thread = to }
		case 7: // get a thread (admin override)
			id := pickThread()
			op = fmt.Sprintf("get thread %d", id)
			th, ok := m.threads[id]
			want = status(ok, ok && (c.has("member", th.group) || c.admin), true)
			var rid int64
			var title string
			got = outcome(f.getThread.QueryRow(ctx, db.Pool, cap, id).Scan(&rid, &title))
			apply = func() {}
		case 8: // peek a thread: denied told apart
			id := pickThread()
			op = fmt.Sprintf("peek thread %d", id)
			th, ok := m.threads[id]
			want = "notfound"
			if ok {
				want = map[bool]string{true: "ok", false: "denied"}[c.has("member", th.group)]
			}
			var rid int64
			var title string
			got = outcome(f.peekThread.QueryRow(ctx, db.Pool, cap, id).Scan(&rid, &title))
			apply = func() {}
		case 9: // upsert a thread
			id := pickThread()
			if rng.IntN(3) == 0 {
				id = nextUpsertID
			}
			g := int64(1 + rng.IntN(ngroups))
			op = fmt.Sprintf("upsert thread %d in %d", id, g)
			th, exists := m.threads[id]
			switch {
			case !c.has("moderator", &g):
				want = "denied"
			case !exists:
				want = "ok"
			case c.has("moderator", th.group):
				want = "ok"
			default:
				want = "denied"
			}
			var rid int64
			got = outcome(f.upsertThread.QueryRow(ctx, db.Pool, cap, id, "u", capability.Int64Group(g)).Scan(&rid))
			apply = func() {
				if exists {
					th.group = &g
				} else {
					m.threads[id] = &refThread{group: &g}
					nextUpsertID++
				}
			}
		case 10: // list threads
			op = "list threads"
			var vis []int64
			for id, th := range m.threads {
				if c.has("member", th.group) || c.admin {
					vis = append(vis, id)
				}
			}
			slices.Sort(vis)
			slices.Reverse(vis)
			if len(vis) > 50 {
				vis = vis[:50]
			}
			want = fmt.Sprint(vis)
			rows, err := f.listThreads.Query(ctx, db.Pool, cap, int64(0))
			if err != nil {
				t.Fatal(err)
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				t.Fatal(err)
			}
			if ids == nil {
				ids = []int64{}
			}
			if vis == nil {
				want = fmt.Sprint([]int64{})
			}
			got = fmt.Sprint(ids)
			apply = func() {}
		}
		if got != want {
			t.Fatalf("case %d: %+v: %s: got %s, want %s", i, c, op, got, want)
		}
		if got == "ok" {
			apply()
		}
	}
	// The model and the database agree on the final rows too.
	rows, err := db.Owner.Query(ctx, "select id, group_id from threads order by id")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var id int64
		var g *int64
		if err := rows.Scan(&id, &g); err != nil {
			t.Fatal(err)
		}
		th, ok := m.threads[id]
		if !ok || (th.group == nil) != (g == nil) || (g != nil && *g != *th.group) {
			t.Fatalf("final thread %d (group %v) differs from the model (%+v)", id, g, th)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(m.threads) {
		t.Fatalf("%d threads in the database, %d in the model", n, len(m.threads))
	}
	t.Logf("%d cases, seed %d", cases, seed)
}

func sortedKeys[V any](m map[int64]V) []int64 {
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

var _ = sqlguard.ErrDenied
