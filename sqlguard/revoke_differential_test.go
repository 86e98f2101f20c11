package sqlguard_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/testdb"
)

// revokeModel is the pure-Go reference of the revocation tables.
type revokeModel struct {
	sessions map[string]*refSession
	subjects map[string]time.Time // valid_after; no key: no row
	members  map[string]int       // "subject/group" -> rank
	threads  map[int64]int64      // id -> group
}

type refSession struct {
	subject string
	revoked bool
}

// live is the oracle of the live-session condition.
func (m *revokeModel) live(c *refCap, sid string, iat time.Time) bool {
	if c.nil || sid == "" || c.subject == "" || iat.IsZero() {
		return false
	}
	s, ok := m.sessions[sid]
	if !ok || s.revoked || s.subject != c.subject {
		return false
	}
	va, ok := m.subjects[c.subject]
	return ok && !iat.Before(va)
}

// fresh is the oracle of fresh membership: the token's grant and a
// membership row of at least the role.
func (m *revokeModel) fresh(c *refCap, role string, g int64) bool {
	return c.has(role, &g) && m.members[fmt.Sprintf("%s/%d", c.subject, g)] >= rankOf[role]
}

// TestRevokeDifferential runs random operations by random capabilities
// while sessions are revoked, subjects cut off or removed and memberships
// change, and checks every outcome and list in PostgreSQL against the
// pure-Go model: an ended session answers ErrSessionEnded on every kind,
// whatever the row; a live one follows the token and, on the writes with
// FreshMembership, the membership table. The seed is printed on failure.
func TestRevokeDifferential(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	cases := 3000
	if testing.Short() {
		cases = 500
	}
	db := testdb.New(t, revokeSchema)
	f := newRevokeForum(t)
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(seed, seed^0x51ed))
	defer func() {
		if t.Failed() {
			t.Logf("TestRevokeDifferential seed: %d (rerun with -sqlguard.seed=%d)", seed, seed)
		}
	}()
	subjects := []string{"alice", "bob", "carol", "dave", ""}
	sids := []string{"s0", "s1", "s2", "s3", "s4", "s5", ""}
	iats := []time.Time{revokeIAT, revokeIAT.Add(-48 * time.Hour), {}}
	afters := []time.Time{revokeIAT.Add(-24 * time.Hour), revokeIAT, revokeIAT.Add(time.Second), revokeIAT.Add(24 * time.Hour)}
	const ngroups = 5

	m := &revokeModel{sessions: map[string]*refSession{}, subjects: map[string]time.Time{}, members: map[string]int{}, threads: map[int64]int64{}}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := db.Owner.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	for i, sid := range sids[:6] {
		sub := subjects[i%4]
		m.sessions[sid] = &refSession{subject: sub}
		exec(`insert into sessions (id, subject) values ($1, $2)`, sid, sub)
	}
	for _, s := range subjects[:4] {
		m.subjects[s] = afters[0]
		exec(`insert into subjects (name, valid_after) values ($1, $2)`, s, afters[0])
	}
	for id := int64(1); id <= 20; id++ {
		g := 1 + rng.Int64N(ngroups)
		m.threads[id] = g
		exec(`insert into threads (id, title, created_by, group_id) values ($1, 't', 'seed', $2)`, id, g)
	}
	exec(`select setval('threads_id_seq', 1000)`)

	type capCase struct {
		ref refCap
		sid string
		iat time.Time
		cap *capability.Capability
	}
	var capsList []capCase
	for i := 0; i < 30; i++ {
		if i == 0 {
			capsList = append(capsList, capCase{ref: refCap{nil: true}})
			continue
		}
		rc := refCap{subject: subjects[rng.IntN(len(subjects))], admin: rng.IntN(6) == 0, ranks: map[int64]int{}}
		roles := map[int64]string{}
		for g := int64(1); g <= ngroups; g++ {
			if r := rng.IntN(4); r > 0 {
				rc.ranks[g] = r
				roles[g] = roleOfRank[r]
			}
		}
		cc := capCase{ref: rc, sid: sids[rng.IntN(len(sids))], iat: iats[rng.IntN(len(iats))]}
		if rng.IntN(10) < 7 {
			// Mostly a session of the capability's own subject, issued
			// now: the live path must be well covered too.
			for sid, s := range m.sessions {
				if s.subject == rc.subject {
					cc.sid = sid
				}
			}
			cc.iat = revokeIAT
		}
		cc.cap = revokeCap(t, rc.subject, cc.sid, cc.iat, rc.admin, roles)
		capsList = append(capsList, cc)
	}

	ended := 0
	defer func() { t.Logf("%d of %d operations found the session ended", ended, cases) }()
	for i := 0; i < cases; i++ {
		// One change of the revocation state in four operations.
		if rng.IntN(4) == 0 {
			switch rng.IntN(4) {
			case 0:
				sid := sids[rng.IntN(6)]
				rev := rng.IntN(4) == 0 // mostly live: revocations must not end the test's variety
				m.sessions[sid].revoked = rev
				if rev {
					exec(`update sessions set revoked_at = now() where id = $1`, sid)
				} else {
					exec(`update sessions set revoked_at = null where id = $1`, sid)
				}
			case 1:
				s, va := subjects[rng.IntN(4)], afters[0]
				if rng.IntN(3) == 0 {
					va = afters[rng.IntN(len(afters))]
				}
				m.subjects[s] = va
				exec(`insert into subjects (name, valid_after) values ($1, $2) on conflict (name) do update set valid_after = excluded.valid_after`, s, va)
			case 2:
				s := subjects[rng.IntN(4)]
				if rng.IntN(5) == 0 {
					delete(m.subjects, s)
					exec(`delete from subjects where name = $1`, s)
				}
			case 3:
				s, g, r := subjects[rng.IntN(4)], 1+rng.Int64N(ngroups), rng.IntN(4)
				key := fmt.Sprintf("%s/%d", s, g)
				exec(`delete from memberships where user_name = $1 and group_id = $2`, s, g)
				delete(m.members, key)
				if r > 0 {
					m.members[key] = r
					exec(`insert into memberships values ($1, $2, $3)`, s, g, roleOfRank[r])
				}
			}
		}
		cc := capsList[rng.IntN(len(capsList))]
		rc := &cc.ref
		live := m.live(rc, cc.sid, cc.iat)
		var got, want, what string
		switch op := rng.IntN(5); op {
		case 0: // create, fresh membership, admin override
			g := 1 + rng.Int64N(ngroups+1)
			what = fmt.Sprintf("create in %d", g)
			var id int64
			err := f.create.QueryRow(ctx, db.Pool, cc.cap, "t", g).Scan(&id)
			got = revokeOutcome(err)
			switch {
			case !live:
				want = "ended"
			case rc.admin || m.fresh(rc, "member", g):
				want = "ok"
				m.threads[id] = g
			default:
				want = "denied"
			}
		case 1: // delete, fresh membership, ReadRole member, admin override
			id := 1 + rng.Int64N(30)
			what = fmt.Sprintf("delete %d", id)
			got = revokeOutcome(f.del.Exec(ctx, db.Pool, cc.cap, id))
			g, exists := m.threads[id]
			switch {
			case !live:
				want = "ended"
			case !exists || !(rc.admin || rc.has("member", &g)):
				want = "notfound"
			case rc.admin || m.fresh(rc, "moderator", g):
				want = "ok"
				delete(m.threads, id)
			default:
				want = "denied"
			}
		case 2: // create without fresh membership, no admin override
			g := 1 + rng.Int64N(ngroups)
			what = fmt.Sprintf("plain create in %d", g)
			var id int64
			err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
				if err := f.createPlain.Exec(ctx, tx, cc.cap, "t", g); err != nil {
					return err
				}
				return tx.QueryRow(ctx, `select currval('threads_id_seq')`).Scan(&id)
			})
			got = revokeOutcome(err)
			switch {
			case !live:
				want = "ended"
			case rc.has("member", &g):
				want = "ok"
				m.threads[id] = g
			default:
				want = "denied"
			}
		case 3: // list, admin override
			what = "list"
			rows, err := f.list.Query(ctx, db.Pool, cc.cap)
			var ids []int64
			if err == nil {
				ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
			}
			got = revokeOutcome(err)
			if err == nil {
				got = fmt.Sprint(ids)
			}
			if !live {
				want = "ended"
			} else {
				wantIDs := []int64{}
				for id, g := range m.threads {
					if rc.admin || rc.has("member", &g) {
						wantIDs = append(wantIDs, id)
					}
				}
				slices.Sort(wantIDs)
				slices.Reverse(wantIDs)
				if len(wantIDs) > 50 {
					wantIDs = wantIDs[:50]
				}
				want = fmt.Sprint(wantIDs)
				if len(wantIDs) == 0 {
					want = "[]"
				}
			}
			if got == "[]" && want == "[]" || got == fmt.Sprint([]int64(nil)) && want == "[]" {
				got = want
			}
		case 4: // get, no admin override
			id := 1 + rng.Int64N(30)
			what = fmt.Sprintf("get %d", id)
			var gotID int64
			var title string
			got = revokeOutcome(f.get.QueryRow(ctx, db.Pool, cc.cap, id).Scan(&gotID, &title))
			g, exists := m.threads[id]
			switch {
			case !live:
				want = "ended"
			case exists && rc.has("member", &g):
				want = "ok"
			default:
				want = "notfound"
			}
		}
		if want == "ended" {
			ended++
		}
		if got != want {
			t.Fatalf("case %d: %+v (sid %q, iat %v) %s: got %s, want %s", i, *rc, cc.sid, cc.iat, what, got, want)
		}
	}
}
