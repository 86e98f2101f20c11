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
