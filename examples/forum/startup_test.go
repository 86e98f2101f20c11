package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyhole-go/keyhole/internal/testdb"
)

// TestStartup builds the forum binary and runs it as a user would: on a
// throwaway database (-database), and on its embedded PostgreSQL (-data).
// Each run waits for the listening line, logs in and posts with a real
// HTTP client, stops the program with SIGINT and checks that it exits with
// status 0; the embedded run also checks that no PostgreSQL process is
// left on its data directory.
func TestStartup(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the embedded PostgreSQL and /proc are Linux only")
	}
	db := testdb.New(t, "") // skips (or fails in CI) without PostgreSQL
	bin := filepath.Join(t.TempDir(), "forum")
	// go test puts its own GOROOT/bin first on the test's PATH.
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	t.Run("database", func(t *testing.T) {
		p := startForum(t, bin, "-addr", "127.0.0.1:0", "-database", db.OwnerURL)
		useForum(t, p.base)
		out := p.interrupt(t)
		if strings.Contains(out, "starting PostgreSQL") {
			t.Errorf("started an embedded PostgreSQL although -database was given:\n%s", out)
		}
	})

	t.Run("embedded", func(t *testing.T) {
		if !havePostgresBinaries() && os.Getenv("CI") != "true" {
			t.Skip("no PostgreSQL binaries (initdb) on this machine for the embedded server")
		}
		// The data directory must be reachable by the server's OS user
		// (root runs PostgreSQL as "postgres"); t.TempDir's parent is not.
		base := t.TempDir()
		for _, d := range []string{base, filepath.Dir(base)} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		data := filepath.Join(base, "pgdata")
		p := startForum(t, bin, "-addr", "127.0.0.1:0", "-data", data)
		useForum(t, p.base)
		pid := postmasterPID(t, filepath.Join(data, "postmaster.pid"))
		out := p.interrupt(t)
		if !strings.Contains(out, "stopping PostgreSQL") {
			t.Errorf("no PostgreSQL shutdown in the output:\n%s", out)
		}
		if _, err := os.Stat(filepath.Join(data, "postmaster.pid")); !os.IsNotExist(err) {
			t.Errorf("postmaster.pid left behind (err %v)", err)
		}
		if cmd, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); err == nil && strings.Contains(string(cmd), "postgres") {
			t.Errorf("postmaster %d still running: %q", pid, cmd)
		}
		if left := processesUsing(data); len(left) > 0 {
			t.Errorf("processes still using %s: %v", data, left)
		}
	})
}

// havePostgresBinaries reports whether initdb can be found the way
// internal/testdb looks for it.
func havePostgresBinaries() bool {
	if _, err := exec.LookPath("initdb"); err == nil {
		return true
	}
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	return len(m) > 0
}

// forumProcess is a running forum binary.
type forumProcess struct {
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:port/
	stderr *bytes.Buffer
	mu     sync.Mutex
	out    []string
	eof    chan struct{}
}

func (p *forumProcess) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.out, "\n")
}

// startForum runs bin with args and waits for its listening line.
func startForum(t *testing.T, bin string, args ...string) *forumProcess {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DATABASE_URL=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	p := &forumProcess{cmd: cmd, stderr: new(bytes.Buffer), eof: make(chan struct{})}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan string, 1)
	go func() {
		defer close(p.eof)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.out = append(p.out, line)
			p.mu.Unlock()
			if u, ok := strings.CutPrefix(line, "forum: listening on "); ok {
				listening <- u
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case p.base = <-listening:
	case <-p.eof:
		err := cmd.Wait()
		t.Fatalf("forum exited before listening (%v)\nstdout:\n%s\nstderr:\n%s", err, p.output(), p.stderr)
	case <-ctx.Done():
		t.Fatalf("no listening line\nstdout:\n%s", p.output())
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.eof
			cmd.Wait()
		}
	})
	return p
}

// interrupt sends SIGINT, waits for the exit, requires status 0 and
// returns the standard output.
func (p *forumProcess) interrupt(t *testing.T) string {
	t.Helper()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	<-p.eof
	err := p.cmd.Wait()
	out := p.output()
	if err != nil {
		t.Fatalf("forum did not exit cleanly: %v\nstdout:\n%s\nstderr:\n%s", err, out, p.stderr)
	}
	if !strings.Contains(out, "forum: shutting down") {
		t.Errorf("no shutdown line:\n%s", out)
	}
	return out
}

// useForum logs in as alice and posts into the seeded thread 1 with a real
// HTTP client, and fetches the page.
func useForum(t *testing.T, base string) {
	t.Helper()
	c := &http.Client{Timeout: 20 * time.Second}
	resp, err := c.Post(base+"login", "application/json", strings.NewReader(`{"user":"alice"}`))
	if err != nil {
		t.Fatal(err)
	}
	var lr loginResponse
	err = json.NewDecoder(resp.Body).Decode(&lr)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || lr.Token == "" {
		t.Fatalf("login: %d %v", resp.StatusCode, err)
	}
	req, _ := http.NewRequest("POST", base+"api/threads/1/posts", strings.NewReader(`{"content":"hello from the start-up test"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+lr.Token)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("post: %d %s", resp.StatusCode, body)
	}
	resp, err = c.Get(base)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("no passwords")) {
		t.Fatalf("page: %d", resp.StatusCode)
	}
}

// postmasterPID reads the server's pid from its lock file.
func postmasterPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("postmaster.pid: %q", line)
	}
	return pid
}

// processesUsing lists the processes whose command line names dir.
func processesUsing(dir string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		if bytes.Contains(cmd, []byte(dir)) {
			out = append(out, e.Name()+": "+strings.ReplaceAll(string(cmd), "\x00", " "))
		}
	}
	return out
}
