package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyhole-go/keyhole/middleware"
)

// answerOf is the status errorWriter answers err with.
func answerOf(t *testing.T, r *http.Request, err error) int {
	t.Helper()
	w := httptest.NewRecorder()
	errorWriter.WriteError(w, r, err)
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q", ct)
	}
	return w.Code
}

func TestDecodeJSONBody(t *testing.T) {
	type thread struct {
		Title string `json:"title"`
		Group int64  `json:"group"`
	}
	tests := []struct {
		name   string
		ct     string
		body   string
		max    int64
		status int // WriteError's answer; 0 for success
	}{
		{"ok", "application/json", `{"title":"hi","group":7}`, 0, 0},
		{"ok with charset and whitespace", "application/json; charset=utf-8", " {\"title\":\"hi\"}\n ", 0, 0},
		{"unknown field", "application/json", `{"title":"hi","admin":true}`, 0, 400},
		{"wrong type", "application/json", `{"group":"7"}`, 0, 400},
		{"two values", "application/json", `{"title":"a"}{"title":"b"}`, 0, 400},
		{"trailing garbage", "application/json", `{"title":"a"} x`, 0, 400},
		{"truncated", "application/json", `{"title":`, 0, 400},
		{"empty", "application/json", ``, 0, 400},
		{"array", "application/json", `[]`, 0, 400},
		{"too large", "application/json", `{"title":"` + strings.Repeat("a", 100) + `"}`, 50, 413},
		{"too large trailing", "application/json", `{"title":"a"}` + strings.Repeat(" ", 100) + "{}", 50, 413},
		{"no content type", "", `{"title":"a"}`, 0, 415},
		{"text/plain (a cross-site form)", "text/plain", `{"title":"a"}`, 0, 415},
		{"form", "application/x-www-form-urlencoded", `title=a`, 0, 415},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			if tt.ct != "" {
				r.Header.Set("Content-Type", tt.ct)
			}
			var v thread
			max := tt.max
			if max == 0 {
				max = maxBody
			}
			err := decodeJSON(httptest.NewRecorder(), r, &v, max)
			if tt.status == 0 {
				if err != nil || v.Title != "hi" {
					t.Fatalf("got %+v, %v", v, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error")
			}
			if got := answerOf(t, r, err); got != tt.status {
				t.Errorf("%v: got %d, want %d", err, got, tt.status)
			}
			if tt.status == 400 && !errors.Is(err, middleware.ErrBadRequest) {
				t.Errorf("%v is not ErrBadRequest", err)
			}
		})
	}
	// A programming error is not the client's fault.
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{}`))
	r.Header.Set("Content-Type", "application/json")
	err := decodeJSON(httptest.NewRecorder(), r, nil, maxBody)
	if err == nil || errors.Is(err, middleware.ErrBadRequest) {
		t.Errorf("nil target: got %v", err)
	}
	if got := answerOf(t, r, err); got != http.StatusInternalServerError {
		t.Errorf("nil target: status %d", got)
	}
}

// TestDecodeJSONStrictKeys: repeated keys (at any depth) and keys that
// match a field only when case is ignored are refused; everything
// encoding/json accepts exactly is still accepted.
func TestDecodeJSONStrictKeys(t *testing.T) {
	type Inner struct {
		Name string `json:"name"`
	}
	type Base struct {
		ID   int64 `json:"id"`
		Note string
	}
	type target struct {
		Base
		Group   int64             `json:"group"`
		Skipped string            `json:"-"`
		Dash    string            `json:"-,"`
		Plain   string            // no tag: the Go name
		Inner   Inner             `json:"inner"`
		Ptr     *Inner            `json:"ptr"`
		List    []Inner           `json:"list"`
		Arr     [2]*Inner         `json:"arr"`
		Meta    map[string]Inner  `json:"meta"`
		Any     any               `json:"any"`
		Raw     json.RawMessage   `json:"raw"`
		Opts    map[string]string `json:"opts,omitempty"`
		Kind    string            `json:"kind"`
	}
	tests := []struct {
		name string
		body string
		ok   bool
	}{
		{"exact names", `{"group":1,"id":2,"Note":"n","-":"d","Plain":"p","inner":{"name":"a"},"ptr":{"name":"b"},"list":[{"name":"c"}],"arr":[{"name":"d"},null],"meta":{"Any":{"name":"e"},"any":{"name":"f"}},"any":{"X":1},"raw":{"Y":2},"opts":{"K":"v","k":"w"}}`, true},
		{"repeated key", `{"group":1,"group":2}`, false},
		{"repeated key, escaped", `{"group":1,"gr\u006fup":2}`, false},
		{"repeated key in a nested struct", `{"inner":{"name":"a","name":"b"}}`, false},
		{"repeated key in a list element", `{"list":[{"name":"a"},{"name":"a","name":"b"}]}`, false},
		{"repeated key in a map", `{"opts":{"k":"a","k":"b"}}`, false},
		{"repeated key in an interface value", `{"any":{"x":1,"x":2}}`, false},
		{"repeated key in a RawMessage", `{"raw":{"x":1,"x":2}}`, false},
		{"repeated key among many", `{"meta":{"a":{},"b":{},"c":{},"d":{},"e":{},"f":{},"g":{},"h":{},"i":{},"j":{},"k":{},"l":{},"m":{},"n":{},"o":{},"p":{},"q":{},"r":{},"a":{}}}`, false},
		{"upper case", `{"GROUP":2}`, false},
		{"mixed case", `{"Group":2}`, false},
		{"case of a nested field", `{"inner":{"Name":"a"}}`, false},
		{"case of a pointer field", `{"ptr":{"NAME":"a"}}`, false},
		{"case of a list element field", `{"list":[{"nAme":"a"}]}`, false},
		{"case of an array element field", `{"arr":[{"Name":"a"}]}`, false},
		{"case of a map value field", `{"meta":{"x":{"Name":"a"}}}`, false},
		{"case of an embedded field", `{"ID":2}`, false},
		{"case of an untagged field", `{"plain":"p"}`, false},
		{"Kelvin sign folds to k", "{\"\u212aind\":\"x\"}", false},
		{"skipped field", `{"Skipped":"x"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", "application/json")
			var v target
			err := decodeJSON(httptest.NewRecorder(), r, &v, maxBody)
			if tt.ok {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
				if v.Group != 1 || v.ID != 2 || v.Dash != "d" || v.Plain != "p" || v.Meta["Any"].Name != "e" || v.Opts["K"] != "v" {
					t.Errorf("decoded %+v", v)
				}
				return
			}
			if !errors.Is(err, middleware.ErrBadRequest) {
				t.Fatalf("got %v, want ErrBadRequest", err)
			}
			if got := answerOf(t, r, err); got != http.StatusBadRequest {
				t.Errorf("status %d, want 400", got)
			}
		})
	}
	// Top-level values other than structs: the duplicate rule still holds.
	for _, tc := range []struct {
		body string
		v    any
		ok   bool
	}{
		{`{"a":1,"A":2}`, &map[string]int{}, true},
		{`{"a":1,"a":2}`, &map[string]int{}, false},
		{`[{"a":1},{"a":1,"a":1}]`, &[]map[string]int{}, false},
		{`{"a":[1,{"b":1,"b":2}]}`, new(any), false},
		{`{"a":[1,{"b":1,"c":2}]}`, new(any), true},
		{strings.Repeat("[", 10000) + strings.Repeat("]", 10000), new(any), true},
		{strings.Repeat("[", 10001) + strings.Repeat("]", 10001), new(any), false},
		{strings.Repeat("[", 400000), new(any), false},
	} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
		r.Header.Set("Content-Type", "application/json")
		err := decodeJSON(httptest.NewRecorder(), r, tc.v, 1<<20)
		if tc.ok && err != nil || !tc.ok && !errors.Is(err, middleware.ErrBadRequest) {
			t.Errorf("%s into %T: got %v, want ok=%v", tc.body, tc.v, err, tc.ok)
		}
	}
}

// TestDecodeJSONText: text that is not UTF-8, which encoding/json would
// store as U+FFFD, is refused, whether it comes as raw bytes or as the
// \u escape of a lone surrogate; a surrogate pair and U+FFFD itself are
// text, and accepted.
func TestDecodeJSONText(t *testing.T) {
	type post struct {
		Content string `json:"content"`
	}
	tests := []struct {
		name string
		body string
		want string // "" : refused with 400
	}{
		{"ascii", `{"content":"ab"}`, "ab"},
		{"raw UTF-8", "{\"content\":\"caf\u00e9 \U0001F600\"}", "caf\u00e9 \U0001F600"},
		{"escaped BMP", `{"content":"caf\u00e9"}`, "caf\u00e9"},
		{"surrogate pair", `{"content":"\ud83d\ude00"}`, "\U0001F600"},
		{"surrogate pair, upper case hex", `{"content":"\uD83D\uDE00x"}`, "\U0001F600x"},
		{"U+FFFD escaped", `{"content":"a\ufffdb"}`, "a\ufffdb"},
		{"U+FFFD raw", "{\"content\":\"a\uFFFDb\"}", "a\ufffdb"},
		{"escaped backslash before u", `{"content":"\\ud800"}`, `\ud800`},
		{"last BMP before surrogates", `{"content":"\ud7ff"}`, "\ud7ff"},
		{"first BMP after surrogates", `{"content":"\ue000"}`, "\ue000"},

		{"raw invalid byte", "{\"content\":\"a\xffb\"}", ""},
		{"raw invalid byte in a key", "{\"c\xffontent\":\"a\"}", ""},
		{"raw invalid byte outside a string", "{\"content\":\"a\"}\xff", ""},
		{"truncated sequence", "{\"content\":\"a\xe2\x82\"}", ""},
		{"overlong encoding", "{\"content\":\"\xc0\xaf\"}", ""},
		{"raw encoded surrogate", "{\"content\":\"\xed\xa0\x80\"}", ""},
		{"lone high surrogate", `{"content":"a\ud800b"}`, ""},
		{"lone high surrogate at the end", `{"content":"a\ud800"}`, ""},
		{"lone low surrogate", `{"content":"a\udc00b"}`, ""},
		{"low then high", `{"content":"\ude00\ud83d"}`, ""},
		{"high then high", `{"content":"\ud83d\ud83d\ude00"}`, ""},
		{"high then a BMP escape", `{"content":"\ud83d\u0041"}`, ""},
		{"high then a one-character escape", `{"content":"\ud83d\n"}`, ""},
		{"lone surrogate in a key", `{"content":"a","\udfff":1}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", "application/json")
			var v post
			err := decodeJSON(httptest.NewRecorder(), r, &v, maxBody)
			if tt.want != "" {
				if err != nil || v.Content != tt.want {
					t.Fatalf("got %q, %v; want %q", v.Content, err, tt.want)
				}
				return
			}
			if !errors.Is(err, middleware.ErrBadRequest) {
				t.Fatalf("got %q, %v; want ErrBadRequest", v.Content, err)
			}
			if got := answerOf(t, r, err); got != http.StatusBadRequest {
				t.Errorf("status %d, want 400", got)
			}
		})
	}
}
