package middleware

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/keyhole-go/keyhole/capability"
)

// RevocationChecker tells whether a verified capability's session ended
// before its token expired (signed out, signed out everywhere, a removed
// user). The application implements it over its own store; sqlguard's
// Registry.Revocations is one, over the sessions table its guarded
// statements check. Revoked must be safe for concurrent use. An error
// means the answer is unknown: the request is refused (fail closed).
type RevocationChecker interface {
	Revoked(ctx context.Context, c *capability.Capability) (bool, error)
}

// MaxRevocationCacheTTL bounds Options.RevocationCacheTTL: a revoked
// session is refused by every route at most this long after it ended.
const MaxRevocationCacheTTL = 5 * time.Second

// DefaultRevocationCacheSize is the default bound on the number of cached
// answers.
const DefaultRevocationCacheSize = 10000

// errRevoked is the Err of the AuthError of a revoked session.
var errRevoked = fmt.Errorf("middleware: %w", capability.ErrRevoked)

// revocation asks a RevocationChecker, through an optional short cache.
type revocation struct {
	rc  RevocationChecker
	ttl time.Duration // 0: no cache
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[string]revocationEntry
}

type revocationEntry struct {
	revoked bool
	until   time.Time
}

func newRevocation(rc RevocationChecker, ttl time.Duration, size int) (*revocation, error) {
	if ttl < 0 || ttl > MaxRevocationCacheTTL {
		return nil, fmt.Errorf("middleware: Options.RevocationCacheTTL %v must be within 0..%v", ttl, MaxRevocationCacheTTL)
	}
	if size < 0 {
		return nil, errors.New("middleware: Options.RevocationCacheSize is negative")
	}
	if size == 0 {
		size = DefaultRevocationCacheSize
	}
	v := &revocation{rc: rc, ttl: ttl, max: size, now: time.Now}
	if ttl > 0 {
		v.entries = make(map[string]revocationEntry)
	}
	return v, nil
}

// cacheKey is what the answer depends on: the session, the subject and
// the issued-at time (a subject's cut-off).
func cacheKey(c *capability.Capability) string {
	return c.SessionID() + "\x00" + c.Subject() + "\x00" + strconv.FormatInt(c.IssuedAt().Unix(), 10)
}

// revoked answers for c; errors are never cached.
func (v *revocation) revoked(ctx context.Context, c *capability.Capability) (bool, error) {
	if v.ttl == 0 || c.SessionID() == "" {
		return v.rc.Revoked(ctx, c)
	}
	key := cacheKey(c)
	now := v.now()
	v.mu.Lock()
	e, ok := v.entries[key]
	v.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.revoked, nil
	}
	revoked, err := v.rc.Revoked(ctx, c)
	if err != nil {
		return false, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.entries) >= v.max {
		for k, e := range v.entries {
			if !now.Before(e.until) {
				delete(v.entries, k)
			}
		}
		// Still full: forget one entry (map order is random enough).
		for k := range v.entries {
			if len(v.entries) < v.max {
				break
			}
			delete(v.entries, k)
		}
	}
	v.entries[key] = revocationEntry{revoked: revoked, until: now.Add(v.ttl)}
	return revoked, nil
}

// checkRevoked refuses a capability whose session ended: 401
// invalid_token, or 503 when the checker failed.
func (a *Auth) checkRevoked(ctx context.Context, c *capability.Capability) *AuthError {
	revoked, err := a.rev.revoked(ctx, c)
	if err != nil {
		return &AuthError{Status: 503, Reason: ReasonRevocationError, Err: err}
	}
	if revoked {
		return &AuthError{Status: 401, Code: "invalid_token", Reason: ReasonRevoked, Err: errRevoked, challenge: a.chInvalidToken}
	}
	return nil
}
