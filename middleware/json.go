package middleware

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
)

// DefaultMaxBodyBytes is DecodeJSON's bound on a body when maxBytes is 0.
const DefaultMaxBodyBytes = 1 << 20

// DecodeJSON decodes r's body, which must be one JSON value declared as
// application/json, into v, strictly: unknown object fields, trailing data
// after the value, an empty body and a body over maxBytes (0:
// DefaultMaxBodyBytes) are errors. Requiring the media type also keeps a
// cross-site HTML form, which cannot send application/json without a CORS
// preflight, from posting to a cookie-authenticated API.
//
// Its errors match ErrBadRequest (WriteError: 400), additionally
// *http.MaxBytesError for an oversize body (413), or ErrUnsupportedMediaType
// (415). A nil or non-pointer v is a programming error, reported as is
// (500).
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any, maxBytes int64) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return fmt.Errorf("%w: Content-Type must be application/json", ErrUnsupportedMediaType)
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBodyBytes
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ie *json.InvalidUnmarshalError
		switch {
		case errors.As(err, &ie):
			return fmt.Errorf("middleware: DecodeJSON: %w", err)
		case errors.Is(err, io.EOF):
			return fmt.Errorf("%w: empty body", ErrBadRequest)
		}
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
		return fmt.Errorf("%w: data after the JSON value", ErrBadRequest)
	}
	return nil
}
