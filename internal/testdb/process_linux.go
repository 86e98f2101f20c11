//go:build linux

package testdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// owner is the OS account that runs initdb and postgres: nil cred means
// this process's own account. PostgreSQL refuses to run as root, so a root
// process runs them as the "postgres" user.
type owner struct {
	cred     *syscall.Credential
	uid, gid int
}

func serverOwner() (owner, error) {
	if os.Geteuid() != 0 {
		return owner{uid: -1, gid: -1}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return owner{}, &unavailableError{"running as root and there is no \"postgres\" OS user to run the server as"}
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return owner{}, fmt.Errorf("testdb: postgres OS user has uid %q gid %q", u.Uid, u.Gid)
	}
	return owner{
		cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}},
		uid:  int(uid), gid: int(gid),
	}, nil
}

// chown gives path to the server's account (no-op when not root).
func (o owner) chown(path string) error {
	if o.cred == nil {
		return nil
	}
	return os.Chown(path, o.uid, o.gid)
}

// hint names the account that needs access, for error messages.
func (o owner) hint() string {
	if o.cred == nil {
		return ""
	}
	return " as OS user postgres (it must be able to reach the directory)"
}

// The parent-death signal of a child goes off when the *thread* that forked
// it exits, not the process. Children are therefore forked from one
// goroutine locked to its OS thread that never returns, so the signal fires
// exactly when this process dies, however it dies (panic, os.Exit, SIGKILL).
var (
	spawnOnce sync.Once
	spawnCh   chan func()
)

// spawn starts cmd as the owner, with deathSig delivered to it when this
// process dies.
func spawn(cmd *exec.Cmd, o owner, deathSig syscall.Signal) error {
	// Setpgid puts the child in a process group of its own, so that a
	// terminal's Ctrl-C reaches only this process, which then stops the
	// server in order (after its own clients), instead of the server dying
	// under in-flight requests.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: deathSig, Credential: o.cred, Setpgid: true}
	spawnOnce.Do(func() {
		spawnCh = make(chan func())
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for f := range spawnCh {
				f()
			}
		}()
	})
	errc := make(chan error, 1)
	spawnCh <- func() { errc <- cmd.Start() }
	return <-errc
}

// initdb creates a cluster in data (which must not exist or be empty) with
// superuser "postgres", trust authentication (the socket directory is
// private) and UTF-8 in the C locale.
func initdb(ctx context.Context, b binaries, o owner, data string, noSync bool) error {
	args := []string{"-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale"}
	if noSync {
		args = append(args, "-N")
	}
	cmd := exec.CommandContext(ctx, b.initdb, args...)
	cmd.Env = childEnv()
	cmd.Dir = filepath.Dir(data)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := spawn(cmd, o, syscall.SIGKILL); err != nil {
		return fmt.Errorf("testdb: start initdb in %s%s: %w", cmd.Dir, o.hint(), err)
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("testdb: initdb %s: %w\n%s", data, err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}

// postmaster is a running postgres server, our child.
type postmaster struct {
	cmd     *exec.Cmd
	data    string // data directory
	log     *tailBuffer
	exited  chan struct{} // closed when the process has exited
	waitErr error         // valid after exited is closed
	once    sync.Once
	stopErr error
}

// startPostmaster runs postgres on data, listening only on a unix socket in
// sockDir, with the extra settings ("name=value"). The server gets SIGINT
// (fast shutdown) when this process dies.
func startPostmaster(b binaries, o owner, data, sockDir string, settings []string) (*postmaster, error) {
	args := []string{"-D", data, "-k", sockDir, "-c", "listen_addresses="}
	for _, s := range settings {
		args = append(args, "-c", s)
	}
	cmd := exec.Command(b.postgres, args...)
	cmd.Env = childEnv()
	cmd.Dir = sockDir
	p := &postmaster{cmd: cmd, data: data, log: &tailBuffer{max: 16 << 10}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := spawn(cmd, o, syscall.SIGINT); err != nil {
		return nil, fmt.Errorf("testdb: start postgres in %s%s: %w", cmd.Dir, o.hint(), err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// waitReady waits until the server has written "ready" to its lock file
// (the way pg_ctl waits) and url accepts connections, the server exits, or
// ctx ends. It polls with a short backoff: this is server start-up, not test
// synchronisation.
func (p *postmaster) waitReady(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	delay := 2 * time.Millisecond
	for {
		var err error
		if p.ready() {
			var conn *pgconn.PgConn
			if conn, err = pgconn.Connect(ctx, url); err == nil {
				return conn.Close(ctx)
			}
		}
		t := time.NewTimer(delay)
		select {
		case <-p.exited:
			t.Stop()
			return serverError("postgres exited during start-up", p.waitErr, p.log)
		case <-ctx.Done():
			t.Stop()
			return serverError("postgres not ready", errors.Join(ctx.Err(), err), p.log)
		case <-t.C:
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// ready reports whether the lock file of the data directory names this
// server and says it accepts connections. (A server that found the
// directory locked by another one never gets there.)
func (p *postmaster) ready() bool {
	b, err := os.ReadFile(filepath.Join(p.data, "postmaster.pid"))
	if err != nil {
		return false
	}
	lines := strings.Split(string(b), "\n")
	// Line 1: pid; line 8: status (PostgreSQL 10 and later).
	return len(lines) >= 8 && strings.TrimSpace(lines[0]) == strconv.Itoa(p.pid()) &&
		strings.TrimSpace(lines[7]) == "ready"
}

// stop shuts the server down (fast shutdown) and waits for it to exit.
func (p *postmaster) stop() error {
	p.once.Do(func() {
		select {
		case <-p.exited:
		default:
			if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
				p.stopErr = fmt.Errorf("testdb: stop postgres: %w", err)
				return
			}
			<-p.exited
		}
		if p.waitErr != nil {
			p.stopErr = serverError("postgres shutdown", p.waitErr, p.log)
		}
	})
	return p.stopErr
}

// pid is the server's process id.
func (p *postmaster) pid() int { return p.cmd.Process.Pid }

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	// pid (comm) state ...: comm may hold spaces and parentheses.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

// readPid reads the process id on the first line of file; 0 if none.
func readPid(file string) int {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	return pid
}

// removeStale removes the throwaway cluster (and PgBouncer) directories
// under base left by test processes that died without cleaning up: those
// whose owner process and server are both gone. A directory without an owner file is being
// created right now unless it is old.
func removeStale(base string) {
	dirs, _ := filepath.Glob(filepath.Join(base, clusterPrefix+"*"))
	bouncers, _ := filepath.Glob(filepath.Join(base, bouncerPrefix+"*")) // no data directory: the owner decides
	for _, d := range append(dirs, bouncers...) {
		ownerPid := readPid(filepath.Join(d, ownerFile))
		if ownerPid == 0 {
			fi, err := os.Stat(d)
			if err != nil || time.Since(fi.ModTime()) < 10*time.Minute {
				continue
			}
		}
		if alive(ownerPid) || alive(readPid(filepath.Join(d, "data", "postmaster.pid"))) {
			continue
		}
		os.RemoveAll(d)
	}
}
