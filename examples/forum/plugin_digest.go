package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// digestPlugin is the digest plugin: it reads a group's recent threads and
// posts a summary into one thread. It stands for a plugin that would run
// elsewhere: it knows the forum only by a base URL and its JSON API, and
// acts only with the token it is given, an exchanged token of audience
// forum-digest (never the user's). It holds no state between runs.
type digestPlugin struct {
	// client calls the forum (default: a client with a 10 s timeout).
	client *http.Client
	// given, when set, is told every token the plugin is given (the tests
	// check that none is the user's).
	given func(token string)
}

// digestThreads is how many recent threads a digest covers, and
// digestPosts how many posts of each it counts at most.
const (
	digestThreads = 10
	digestPosts   = 100
)

// digestRefused is a request of the plugin that the forum refused.
type digestRefused struct {
	Method, Path string
	Status       int
}

func (e *digestRefused) Error() string {
	return fmt.Sprintf("forum: digest plugin: %s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
}

// Run writes the digest of group groupID into thread threadID, calling the
// forum at base with tok, and returns the post it created.
func (d *digestPlugin) Run(ctx context.Context, base, tok string, groupID, threadID int64) (post, error) {
	if d.given != nil {
		d.given(tok)
	}
	var threads list[thread]
	if err := d.call(ctx, base, tok, "GET", fmt.Sprintf("groups/%d/threads?limit=%d", groupID, digestThreads), nil, &threads); err != nil {
		return post{}, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Digest of the %d most recent threads of this group, %s:\n", len(threads.Items), time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	for _, t := range threads.Items {
		var posts list[post]
		if err := d.call(ctx, base, tok, "GET", fmt.Sprintf("threads/%d/posts?limit=%d", t.ID, digestPosts), nil, &posts); err != nil {
			return post{}, err
		}
		n := strconv.Itoa(len(posts.Items))
		if posts.Next != nil {
			n += "+"
		}
		last := ""
		if len(posts.Items) > 0 {
			last = ", latest by " + posts.Items[0].Author
		}
		fmt.Fprintf(&b, "- %s (%s posts%s)\n", t.Title, n, last)
	}
	var p post
	err := d.call(ctx, base, tok, "POST", fmt.Sprintf("threads/%d/posts", threadID), contentIn{Content: b.String()}, &p)
	return p, err
}

// call sends one request of the plugin API (path under pluginAPI) with tok
// and decodes the JSON answer into out.
func (d *digestPlugin) call(ctx context.Context, base, tok, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(base, "/")+pluginAPI+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := d.client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("forum: digest plugin: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		p, _, _ := strings.Cut(path, "?")
		return &digestRefused{Method: method, Path: pluginAPI + p, Status: resp.StatusCode}
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out)
}
