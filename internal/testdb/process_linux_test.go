//go:build linux

package testdb

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv selects what TestHelperProcess does in a child test process.
const helperEnv = "KEYHOLE_TESTDB_HELPER"

// TestHelperProcess is not a test: it is the body of the child test
// processes that the tests below start.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	switch mode {
	case "":
		t.Skip("helper process only")
	case "serve", "panic":
		New(t, "")
		s, _ := getServer()
		fmt.Printf("postmaster=%d dir=%s\n", s.cluster.pm.pid(), s.cluster.dir)
		line, _ := bufio.NewReader(os.Stdin).ReadString('\n') // until the parent says so, or forever
		if mode == "panic" && line == "go\n" {
			panic("deliberate panic with a running server")
		}
	case "bouncer":
		New(t, "").PgBouncer(t, 1)
		for _, k := range processesWithParent(os.Getpid()) {
			if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", k)); strings.TrimSpace(string(comm)) == "pgbouncer" {
				fmt.Printf("pgbouncer=%d\n", k)
			}
		}
		bufio.NewReader(os.Stdin).ReadString('\n') // forever: the parent kills this process
	case "fail":
		db := New(t, notesSchema)
		if _, err := db.Pool.Exec(context.Background(), "insert into notes (body) values ($1)", "evidence"); err != nil {
			t.Fatal(err)
		}
		t.Error("deliberate failure")
	case "pass":
		db := New(t, notesSchema)
		fmt.Printf("database=%s\n", db.Name)
	case "noserver":
		pgLibDir = t.TempDir()
		t.Setenv("PATH", t.TempDir())
		New(t, "")
		t.Error("New returned without a server")
	default:
		t.Fatalf("unknown %s=%q", helperEnv, mode)
	}
}

// needBinaries skips the test, or fails it under CI without
// KEYHOLE_TEST_DATABASE, when no throwaway server can be started.
func needBinaries(t *testing.T) {
	t.Helper()
	_, err := findBinaries()
	if err == nil {
		_, err = serverOwner()
	}
	if err != nil {
		if inCI() && os.Getenv(envDatabase) == "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// helperCmd is a child test process running TestHelperProcess in mode,
// with env added to an environment free of KEYHOLE_TEST_DATABASE and CI.
func helperCmd(t *testing.T, mode string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.v", "-test.count=1")
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k == envDatabase || k == "CI" || k == helperEnv {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	// A race-enabled child would otherwise linger a second at exit.
	cmd.Env = append(cmd.Env, "GORACE=atexit_sleep_ms=0")
	cmd.Env = append(cmd.Env, append(env, helperEnv+"="+mode)...)
	return cmd
}

// processesWithParent lists the processes whose parent is pid.
func processesWithParent(pid int) []int {
	var kids []int
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		fields := strings.Fields(string(b[i+1:])) // state ppid ...
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			k, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			kids = append(kids, k)
		}
	}
	return kids
}

// TestNoServerSurvivesTestProcess: a child test process starts a
// throwaway server and dies (SIGKILL, or a panic); the server and all its
// processes go away, and the next start removes the directory left behind.
func TestNoServerSurvivesTestProcess(t *testing.T) {
	needBinaries(t)
	for _, mode := range []string{"serve", "panic"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			cmd := helperCmd(t, mode)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			var pm int
			var dir string
			sc := bufio.NewScanner(stdout)
			re := regexp.MustCompile(`^postmaster=(\d+) dir=(\S+)$`)
			for sc.Scan() {
				if m := re.FindStringSubmatch(sc.Text()); m != nil {
					pm, _ = strconv.Atoi(m[1])
					dir = m[2]
					break
				}
			}
			if pm == 0 {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("child printed no server: %s", stderr.String())
			}
			go func() { // drain, so the child never blocks on output
				for sc.Scan() {
				}
			}()
			procs := append([]int{pm}, processesWithParent(pm)...)
			if len(procs) < 2 {
				t.Errorf("postmaster %d has no child processes", pm)
			}
			if mode == "serve" {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			} else {
				fmt.Fprintln(stdin, "go")
			}
			err = cmd.Wait()
			if err == nil {
				t.Fatalf("child exited cleanly, want killed or panicked")
			}
			if mode == "panic" && !strings.Contains(stderr.String(), "deliberate panic") {
				t.Errorf("child did not panic: %v\n%s", err, stderr.String())
			}

			// The kernel's parent-death signal does the work; poll for the
			// external processes' exit with a deadline.
			deadline := time.Now().Add(15 * time.Second)
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for {
				var left []int
				for _, p := range procs {
					if alive(p) {
						left = append(left, p)
					}
				}
				if len(left) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("server processes %v still alive 15s after the test process died", left)
				}
				<-tick.C
			}
			if _, err := os.Stat(dir); err != nil {
				t.Fatalf("cluster directory %s: %v, want it left for the next start to remove", dir, err)
			}
			removeStale(filepath.Dir(dir))
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("stale cluster directory %s not removed: %v", dir, err)
				os.RemoveAll(dir)
			}
		})
	}
}

// TestFailedTestKeepsDatabase: a child test process fails a test on this
// process's server; its database is kept, its URL logged and usable.
func TestFailedTestKeepsDatabase(t *testing.T) {
	t.Parallel()
	s := mustServer(t)
	ctx := context.Background()
	cmd := helperCmd(t, "fail", envDatabase+"="+s.adminURL)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("child passed, want a failure:\n%s", out)
	}
	m := regexp.MustCompile(`kept database (keyhole_([0-9a-f]+)_\d+) of failed test`).FindSubmatch(out)
	u := regexp.MustCompile(`\sURL: +(\S+)`).FindSubmatch(out)
	if m == nil || u == nil {
		t.Fatalf("no kept database logged:\n%s", out)
	}
	name, run, url := string(m[1]), string(m[2]), string(u[1])
	t.Cleanup(func() {
		rows, err := s.admin.Query(ctx, "select datname from pg_database where datname like $1", "keyhole_"+run+"_%")
		if err != nil {
			t.Error(err)
			return
		}
		var dbs []string
		for rows.Next() {
			var d string
			rows.Scan(&d)
			dbs = append(dbs, d)
		}
		rows.Close()
		for _, d := range dbs {
			if err := s.drop(ctx, d); err != nil {
				t.Error(err)
			}
		}
		if _, err := s.admin.Exec(ctx, "drop role if exists keyhole_"+run+"_app"); err != nil {
			t.Error(err)
		}
	})
	if !dbExists(t, s, name) {
		t.Fatalf("database %s of the failed test is gone", name)
	}
	pool, err := newPool(ctx, url, 1, true)
	if err != nil {
		t.Fatalf("logged URL %s: %v", url, err)
	}
	defer pool.Close()
	var body string
	if err := pool.QueryRow(ctx, "select body from notes where id = $1", 1).Scan(&body); err != nil || body != "evidence" {
		t.Errorf("kept database: got %q, %v, want the failed test's row", body, err)
	}
}

// TestSkipOrFailWithoutServer: with no binaries and no
// KEYHOLE_TEST_DATABASE, New skips with what to install, or fails under CI.
func TestSkipOrFailWithoutServer(t *testing.T) {
	for _, tc := range []struct {
		ci       string
		wantPass bool
		want     string
	}{
		{"", true, "--- SKIP: TestHelperProcess"},
		{"true", false, "--- FAIL: TestHelperProcess"},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Parallel()
			out, err := helperCmd(t, "noserver", "CI="+tc.ci).CombinedOutput()
			if (err == nil) != tc.wantPass {
				t.Errorf("child error %v, want pass %v", err, tc.wantPass)
			}
			for _, want := range []string{tc.want, "apt-get install postgresql", envDatabase} {
				if !strings.Contains(string(out), want) {
					t.Errorf("child output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// TestMainCleansExternalServer: a test process whose tests pass leaves
// nothing on a KEYHOLE_TEST_DATABASE server: Main drops its templates and
// its role.
func TestMainCleansExternalServer(t *testing.T) {
	t.Parallel()
	s := mustServer(t)
	out, err := helperCmd(t, "pass", envDatabase+"="+s.adminURL).CombinedOutput()
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`database=keyhole_([0-9a-f]+)_\d+`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("child printed no database:\n%s", out)
	}
	run := string(m[1])
	var dbs, roles int
	err = s.admin.QueryRow(context.Background(), `select
		(select count(*) from pg_database where datname like $1),
		(select count(*) from pg_roles where rolname like $1)`, "keyhole_"+run+"_%").Scan(&dbs, &roles)
	if err != nil {
		t.Fatal(err)
	}
	if dbs != 0 || roles != 0 {
		t.Errorf("after a passing run: %d databases and %d roles of run %s left, want none", dbs, roles, run)
	}
}

// TestNoPgBouncerSurvivesTestProcess: a child test process starts a
// PgBouncer and is killed; the PgBouncer goes away with it.
func TestNoPgBouncerSurvivesTestProcess(t *testing.T) {
	needBinaries(t)
	if _, err := findPgBouncer(); err != nil {
		if inCI() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	t.Parallel()
	cmd := helperCmd(t, "bouncer")
	if _, err := cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	pid := 0
	sc := bufio.NewScanner(stdout)
	re := regexp.MustCompile(`^pgbouncer=(\d+)$`)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			pid, _ = strconv.Atoi(m[1])
			break
		}
	}
	if pid == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child printed no pgbouncer: %s", stderr.String())
	}
	go func() {
		for sc.Scan() {
		}
	}()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	// The parent-death signal does the work; poll for the exit.
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("pgbouncer %d still alive 15s after the test process died", pid)
		}
		<-tick.C
	}
}
