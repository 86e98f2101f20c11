package sqlguard_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/testdb"
)

// literal renders a bound value as an SQL literal, for EXPLAIN EXECUTE.
func literal(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return "'" + strings.ReplaceAll(x, "'", "''") + "'"
	case bool:
		return fmt.Sprint(x)
	case int64:
		return fmt.Sprint(x)
	case time.Time:
		return "'" + x.UTC().Format(time.RFC3339) + "'"
	case []string:
		return "'{" + strings.Join(x, ",") + "}'"
	}
	panic(fmt.Sprintf("no literal for %T", v))
}

// explainPrepared prepares sql as name on conn and returns the plan of
// its execution with args (as literals), rows but no timings.
func explainPrepared(t *testing.T, conn *pgxpool.Conn, name, sql string, args []any) string {
	t.Helper()
	ctx := t.Context()
	if _, err := conn.Exec(ctx, "prepare "+name+" as "+sql); err != nil {
		t.Fatal(err)
	}
	lits := make([]string, len(args))
	for i, a := range args {
		lits[i] = literal(a)
	}
	rows, err := conn.Query(ctx, "explain (analyze, costs off, timing off, summary off) execute "+name+"("+strings.Join(lits, ", ")+")",
		pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// TestExplainListGenericPlan proves that a guarded list keeps its group
// index under a generic plan (plan_cache_mode = force_generic_plan) over
// 100,000 rows in 10,000 groups, for 1,000 allowed groups and for 3, and
// that the admin text walks the primary key without a group predicate.
func TestExplainListGenericPlan(t *testing.T) {
	kind := capability.KindInt64
	db := testdb.New(t, forumSchema(kind))
	ctx := t.Context()
	if _, err := db.Owner.Exec(ctx, `insert into threads (title, created_by, group_id)
		select 't' || i, 'seed', (i * 7919) % 10000 from generate_series(1, 100000) i`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Owner.Exec(ctx, "analyze threads"); err != nil {
		t.Fatal(err)
	}
	f := newForum(t, kind)
	many := map[int64]string{}
	for n := int64(0); n < 1000; n++ {
		many[n*10] = "member"
	}
	c, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	if _, err := c.Exec(ctx, "set plan_cache_mode = force_generic_plan"); err != nil {
		t.Fatal(err)
	}
	explain := func(name, sql string, args []any) string { return explainPrepared(t, c, name, sql, args) }
	for i, tc := range []struct {
		name string
		cap  *capability.Capability
		want string // the index the plan must use
	}{
		{"1000 groups", newCap(t, kind, "many", false, many), "threads_group_id_id"},
		{"3 groups", newCap(t, kind, "few", false, map[int64]string{10: "member", 20: "member", 30: "member"}), "threads_group_id_id"},
		{"admin", newCap(t, kind, "root", true, nil), "threads_pkey"},
	} {
		sql, args, err := f.listThreads.Bind(tc.cap, int64(0))
		if err != nil {
			t.Fatal(err)
		}
		plan := explain(fmt.Sprintf("sg_list_%d", i), sql, args)
		t.Logf("%s:\n%s\n%s", tc.name, sql, plan)
		if !strings.Contains(plan, tc.want) || strings.Contains(plan, "Seq Scan") {
			t.Errorf("%s: the generic plan does not use %s:\n%s", tc.name, tc.want, plan)
		}
		if !strings.Contains(plan, "$") {
			t.Errorf("%s: the plan is not generic (no parameter left in it):\n%s", tc.name, plan)
		}
		if strings.Contains(plan, "group_id = ANY") != (tc.name != "admin") {
			t.Errorf("%s: group comparison present: %v, want %v", tc.name, !(tc.name != "admin"), tc.name != "admin")
		}
	}
	// For the record: the single text with the admin alternative inline,
	// which the two texts avoid: with 3 groups it walks the
	// primary key through the whole table.
	sql, args, _ := f.listThreads.Bind(newCap(t, kind, "few", false, map[int64]string{10: "member", 20: "member", 30: "member"}), int64(0))
	inline := strings.Replace(sql, `("threads"."group_id" = ANY($1::int8[]))`, `("threads"."group_id" = ANY($1::int8[]) OR $3)`, 1)
	t.Logf("inline admin alternative (not used):\n%s", explain("sg_list_inline", inline, append(args, false)))
}
