package sqlguard_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyhole-go/keyhole/sqlguard"
)

// The error classes of a few errors as PostgreSQL and pgx report them.
func ExampleIsRetryable() {
	for _, err := range []error{
		&pgconn.PgError{Code: "40001"}, // serialization_failure
		&pgconn.PgError{Code: "23505", ConstraintName: "users_email_key"},
		&pgconn.PgError{Code: "57014"}, // statement_timeout
		context.Canceled,
		fmt.Errorf("insert: %w", errors.Join(sqlguard.ErrOutcomeUnknown, &pgconn.PgError{Code: "57P01", Severity: "FATAL"})),
	} {
		fmt.Printf("retryable=%-5v conflict=%-5v timeout=%-5v canceled=%-5v constraint=%q\n",
			sqlguard.IsRetryable(err), sqlguard.IsConflict(err), sqlguard.IsTimeout(err),
			sqlguard.IsCanceled(err), sqlguard.ConstraintName(err))
	}
	// Output:
	// retryable=true  conflict=false timeout=false canceled=false constraint=""
	// retryable=false conflict=true  timeout=false canceled=false constraint="users_email_key"
	// retryable=false conflict=false timeout=true  canceled=false constraint=""
	// retryable=false conflict=false timeout=false canceled=true  constraint=""
	// retryable=false conflict=false timeout=false canceled=false constraint=""
}

// A pool in describe_exec mode is refused for guarded statements, unless
// it is declared to reach PostgreSQL without a pooler. (pgxpool connects
// lazily: this example needs no server.)
func ExampleCheckExecMode() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://app@localhost/app?default_query_exec_mode=describe_exec")
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	err = sqlguard.CheckExecMode(pool)
	fmt.Println(errors.Is(err, sqlguard.ErrUnsafeExecMode))
	fmt.Println(sqlguard.CheckExecMode(sqlguard.DirectConnection(pool)))
	// Output:
	// true
	// <nil>
}
