package sqlguard

// Insert declares an insert of one row. With GroupColumn among Columns it
// is a direct insert ("insert-child" otherwise, with Parents): the group is
// one of the inserted values, and the statement is
//
//	INSERT INTO t (a, g) SELECT $1, $2 WHERE ($2 = ANY($3::int8[]) OR $4)
//
// For a child insert the group comes from the parent chain, with Lock
// taken on the parents:
//
//	INSERT INTO posts (content, thread_id) SELECT $1, $2
//	WHERE EXISTS (SELECT 1 FROM threads AS p1 WHERE p1.id = $2
//	              AND (p1.group_id = ANY($3::int8[]) OR $4) FOR SHARE)
//
// Call values: Columns, then the conditions' Args.
func (r *Registry) Insert(p Policy) (*Write, error) {
	return as[Write](r.declare(p, KindInsert, func(d *decl) (*compiled, error) {
		if len(p.Parents) > 0 {
			d.info.Kind = KindInsertChild
		}
		return d.insert()
	}))
}

// Update declares an update of the rows selected by Key: the row's current
// group must allow Role (the filter), and when Set holds the group column
// (or the first parent's Column) the new group must allow it too (the
// check):
//
//	UPDATE threads SET group_id = $2 WHERE threads.id = $1
//	AND (threads.group_id = ANY($3::int8[]) OR $4) AND ($2 = ANY($5::int8[]) OR $4)
//
// Call values: Key, then Set, then the conditions' Args.
func (r *Registry) Update(p Policy) (*Write, error) {
	return as[Write](r.declare(p, KindUpdate, (*decl).updateOrDelete))
}

// Delete declares a delete of the rows selected by Key whose group allows
// Role. Call values: Key, then the conditions' Args.
func (r *Registry) Delete(p Policy) (*Write, error) {
	return as[Write](r.declare(p, KindDelete, (*decl).updateOrDelete))
}

// Upsert declares INSERT ... ON CONFLICT (Key) DO UPDATE SET (Set) with
// both sides guarded: the proposed row's group (one of Columns) must allow
// Role, and so must the existing row's group for the update. When the
// existing row's group does not allow it, the call answers *DeniedError.
// Call values: Columns, then the conditions' Args.
func (r *Registry) Upsert(p Policy) (*Write, error) {
	return as[Write](r.declare(p, KindUpsert, (*decl).upsert))
}

// List declares a guarded select of many rows: Query with the guard ANDed
// to its WHERE. Call values: the Args of Query and Where, in text order.
//
// With AdminOverride the policy holds two texts: the one for non-admin
// capabilities has no admin alternative at all (WHERE ... AND
// t.group_id = ANY($1::int8[])), so that a generic plan still uses the
// group index; the one for admin capabilities replaces the group
// comparison by the bound admin flag (WHERE ... AND ($1)).
func (r *Registry) List(p Policy) (*List, error) {
	return as[List](r.declare(p, KindSelectList, (*decl).read))
}

// Get declares a guarded select of one row by Key. A row the caller may
// not read answers ErrNotFound, like a missing one, unless
// DistinguishDenied is set. Call values: Key, then the Args of Query and
// Where in text order.
func (r *Registry) Get(p Policy) (*Get, error) {
	return as[Get](r.declare(p, KindSelectOne, (*decl).read))
}

// MustInsert is Insert for package-level declarations: it panics on error.
func (r *Registry) MustInsert(p Policy) *Write { return must(r.Insert(p)) }

// MustUpdate is Update for package-level declarations: it panics on error.
func (r *Registry) MustUpdate(p Policy) *Write { return must(r.Update(p)) }

// MustDelete is Delete for package-level declarations: it panics on error.
func (r *Registry) MustDelete(p Policy) *Write { return must(r.Delete(p)) }

// MustUpsert is Upsert for package-level declarations: it panics on error.
func (r *Registry) MustUpsert(p Policy) *Write { return must(r.Upsert(p)) }

// MustList is List for package-level declarations: it panics on error.
func (r *Registry) MustList(p Policy) *List { return must(r.List(p)) }

// MustGet is Get for package-level declarations: it panics on error.
func (r *Registry) MustGet(p Policy) *Get { return must(r.Get(p)) }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// as wraps a declared policy in its executable type.
func as[T Write | List | Get](c *compiled, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return &T{c: c}, nil
}

// declare validates p as a policy of kind, builds its SQL with build and
// adds it to the registry.
func (r *Registry) declare(p Policy, kind Kind, build func(*decl) (*compiled, error)) (*compiled, error) {
	d, err := r.begin(p, kind)
	if err != nil {
		return nil, err
	}
	c, err := build(d)
	if err != nil {
		return nil, d.fail(err)
	}
	if err := r.add(c); err != nil {
		return nil, err
	}
	return c, nil
}
