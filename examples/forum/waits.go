package main

import (
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyhole-go/keyhole/sqlguard"
)

// The forum's bounds on waiting. Every wait of a request ends, and the
// client then gets 503 with Retry-After instead of a hung connection:
//
//   - requestTimeout (middleware.Deadline) bounds a request's whole work,
//     including the wait for a free connection of the pool; it is below
//     the http.Server's WriteTimeout, so the 503 is still written;
//   - statementTimeout and lockTimeout are PostgreSQL's own bounds, set for
//     every connection of the forum's pool (as startup parameters; behind
//     PgBouncer, which refuses unknown startup parameters, set them on the
//     role instead: ALTER ROLE forum SET lock_timeout = '2s'). They are
//     below requestTimeout, so that PostgreSQL ends a stuck statement
//     itself and rolls it back, before the client gives up on it: a write
//     refused by lock_timeout never commits later behind the client's
//     back. A write waiting on a row lock held by someone else fails after
//     lockTimeout (55P03, answered 503) instead of holding a connection of
//     the pool until the lock is released;
//   - poolMaxConns sizes the pool explicitly: more concurrent requests
//     wait for a connection, within their deadline.
const (
	requestTimeout   = 5 * time.Second
	statementTimeout = 3 * time.Second
	lockTimeout      = 2 * time.Second
	poolMaxConns     = 8
	writeTimeout     = 10 * time.Second // http.Server.WriteTimeout
)

// waits are the bounds of one forum (tests shorten them).
type waits struct {
	statement, lock time.Duration
	maxConns        int32
}

var defaultWaits = waits{statement: statementTimeout, lock: lockTimeout, maxConns: poolMaxConns}

// poolConfig returns the configuration of the forum's pool on url: its
// size, the statement and lock timeouts of its connections, and sqlguard's
// types (group arrays sent in binary, see sqlguard.RegisterTypes).
func poolConfig(url string, w waits) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = w.maxConns
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = ms(w.statement)
	cfg.ConnConfig.RuntimeParams["lock_timeout"] = ms(w.lock)
	sqlguard.ConfigurePool(cfg)
	return cfg, nil
}
