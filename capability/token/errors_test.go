package token

import (
	"errors"
	"testing"
)

// TestTokenErrorWithoutReason: a TokenError built by hand without a Reason
// reads as ErrInvalidToken instead of panicking.
func TestTokenErrorWithoutReason(t *testing.T) {
	var err error = &TokenError{KeyID: "k"}
	if got, want := err.Error(), ErrInvalidToken.Error(); got != want {
		t.Errorf("Error(): got %q, want %q", got, want)
	}
	if !errors.Is(err, ErrInvalidToken) {
		t.Error("errors.Is(err, ErrInvalidToken): got false")
	}
	if got, want := (&TokenError{Reason: ErrExpired}).Error(), "token: invalid token: token expired"; got != want {
		t.Errorf("with a Reason: got %q, want %q", got, want)
	}
}

// TestReasonCode: every reason sentinel has its own code, through a
// *TokenError too; anything else is invalid_token.
func TestReasonCode(t *testing.T) {
	seen := map[string]bool{}
	for _, rc := range reasonCodes {
		got := ReasonCode(tokenError(rc.err, "detail"))
		if got != rc.code || seen[got] {
			t.Errorf("ReasonCode(%v) = %q (seen before: %v), want %q once", rc.err, got, seen[got], rc.code)
		}
		seen[got] = true
	}
	if got := ReasonCode(errors.New("other")); got != "invalid_token" {
		t.Errorf("ReasonCode(other) = %q, want invalid_token", got)
	}
}
