package sessiontest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Postgres is a PostgreSQL server of a test's own, on 127.0.0.1 and a free
// port, with trust authentication for the user "postgres", stopped and
// removed when the test ends. Like Redis it speaks no SQL itself: each
// module connects with its own driver, at URL.
type Postgres struct {
	Addr     string // host:port
	tb       testing.TB
	bin      string // the directory of initdb and postgres
	dir      string // the socket's; the data directory is dir/data
	settings []string
	owner    *syscall.Credential // who runs the server when the test runs as root
	cmd      *exec.Cmd
	exited   chan struct{} // closed once cmd has ended
	started  bool          // once: a restart keeps the address
}

// StartPostgres initializes a database cluster and starts a server on it,
// with the extra settings (such as "max_connections=10"), each given to the
// server as -c. Where PostgreSQL is missing it skips the test, except in CI
// (CI=true), where .ci/run installs it and its absence fails.
func StartPostgres(tb testing.TB, settings ...string) *Postgres {
	tb.Helper()
	p := NewPostgres(tb, settings...)
	p.Start()
	return p
}

// NewPostgres initializes a database cluster on a free port but does not
// start its server; Start does. It is stopped and removed when the test
// ends.
func NewPostgres(tb testing.TB, settings ...string) *Postgres {
	tb.Helper()
	bin := postgresBin()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatal("PostgreSQL is not installed; .ci/run installs it with apt-get install -y postgresql")
		}
		tb.Skip("PostgreSQL is not installed (no initdb in PATH or /usr/lib/postgresql/*/bin); to run the PostgreSQL tests: apt-get install -y postgresql")
	}
	// Not tb.TempDir: its parent is private to the test's user, and a test
	// run by root hands the directory to the user postgres, which initdb
	// and the server require.
	dir, err := os.MkdirTemp("", "sessiontest-postgres-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		tb.Fatal(err)
	}
	port := freePort(tb, 23000, 26000)
	p := &Postgres{tb: tb, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), bin: bin, dir: dir, settings: settings}
	if os.Geteuid() == 0 {
		p.owner = postgresUser(tb)
	}
	initdb := p.command(filepath.Join(bin, "initdb"), "-D", p.data(), "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--no-locale", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		tb.Fatalf("initdb: %v\n%s", err, out)
	}
	tb.Cleanup(p.Stop)
	return p
}

// postgresBin returns the directory of initdb and postgres: initdb's in
// PATH (a symbolic link followed), or the newest /usr/lib/postgresql/*/bin,
// or "" if there is none.
func postgresBin() string {
	if path, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(path); err == nil {
			path = real
		}
		return filepath.Dir(path)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return version(a) - version(b) })
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i]
		}
	}
	return ""
}

// version is the major version in /usr/lib/postgresql/<version>/bin.
func version(bin string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(bin)))
	return n
}

// postgresUser is the user postgres, who runs initdb and the server for a
// test run by root: PostgreSQL refuses to run as root.
func postgresUser(tb testing.TB) *syscall.Credential {
	u, err := user.Lookup("postgres")
	if err != nil {
		tb.Fatalf("the tests run as root, and PostgreSQL refuses to: they run it as the user postgres, but %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

func (p *Postgres) data() string { return filepath.Join(p.dir, "data") }

// command is name with args, run as the server's owner.
func (p *Postgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.owner}
	cmd.Dir = p.dir
	return cmd
}

// URL is the address of the database "postgres" as user "postgres", for
// pgx and libpq.
func (p *Postgres) URL() string {
	return "postgres://postgres@" + p.Addr + "/postgres?sslmode=disable"
}

// Start (re)starts the server on its address and data directory, so that a
// restart finds what was committed, and returns once it accepts a session.
// At the first start, a port another process took since NewPostgres chose
// it gives the server another port.
func (p *Postgres) Start() {
	p.tb.Helper()
	for attempt := 1; ; attempt++ {
		err := p.start()
		if err == nil {
			p.started = true
			return
		}
		if p.started || attempt == 5 || !strings.Contains(p.log(), "could not bind") {
			p.tb.Fatalf("%v:\n%s", err, p.log())
		}
		p.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(p.tb, 23000, 26000)))
	}
}

// start starts the server and waits until it accepts a session on its own
// socket, or says why not.
func (p *Postgres) start() error {
	_, port, _ := net.SplitHostPort(p.Addr)
	args := []string{"-D", p.data(), "-p", port, "-k", p.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "logging_collector=off"}
	for _, s := range p.settings {
		args = append(args, "-c", s)
	}
	log, err := os.Create(filepath.Join(p.dir, "server.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	p.cmd = p.command(filepath.Join(p.bin, "postgres"), args...)
	p.cmd.Stdout, p.cmd.Stderr = log, log
	if err := p.cmd.Start(); err != nil {
		return err
	}
	cmd, exited := p.cmd, make(chan struct{})
	p.exited = exited
	go func() { cmd.Wait(); close(exited) }()
	// Its own socket, in its own directory: a server of someone else's on
	// the same port cannot answer for it. One that could not bind its port
	// exits.
	socket := filepath.Join(p.dir, ".s.PGSQL."+port)
	for deadline := time.Now().Add(30 * time.Second); !p.accepts(socket); time.Sleep(20 * time.Millisecond) {
		select {
		case <-exited:
			p.cmd = nil
			return fmt.Errorf("postgres on %s exited at its start", p.Addr)
		default:
		}
		if time.Now().After(deadline) {
			p.Stop()
			return fmt.Errorf("postgres on %s did not accept a session within 30s", p.Addr)
		}
	}
	return nil
}

// log is the end of the server's log.
func (p *Postgres) log() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "server.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// accepts reports whether the server accepts a session: its answer to a
// startup message is an authentication request (trust: AuthenticationOk),
// not an error such as "the database system is starting up".
func (p *Postgres) accepts(socket string) bool {
	c, err := net.DialTimeout("unix", socket, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	params := "user\x00postgres\x00database\x00postgres\x00\x00"
	msg := binary.BigEndian.AppendUint32(nil, uint32(8+len(params)))
	msg = binary.BigEndian.AppendUint32(msg, 3<<16) // protocol 3.0
	msg = append(msg, params...)
	if _, err := c.Write(msg); err != nil {
		return false
	}
	kind, err := bufio.NewReader(c).ReadByte()
	if err != nil {
		return false
	}
	c.Write([]byte{'X', 0, 0, 0, 4}) // Terminate
	return kind == 'R'
}

// Stop ends the server with a fast shutdown (a paused one is resumed first,
// so that it can), and kills it if it has not ended within 10 s.
func (p *Postgres) Stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	pid := p.cmd.Process.Pid
	p.Resume()
	syscall.Kill(pid, syscall.SIGINT)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		for _, child := range children(pid) {
			syscall.Kill(child, syscall.SIGKILL)
		}
		syscall.Kill(pid, syscall.SIGKILL)
		<-p.exited
	}
	p.cmd = nil
}

// Restart stops the server and starts it again on the same data.
func (p *Postgres) Restart() {
	p.tb.Helper()
	p.Stop()
	p.Start()
}

// Pause freezes the server and every process of it (SIGSTOP): connections
// stay open, nothing answers, new connections wait in the listen queue. Each
// backend is a session of its own (PostgreSQL calls setsid), so they are
// found as the postmaster's children, in /proc.
func (p *Postgres) Pause() {
	pid := p.cmd.Process.Pid
	syscall.Kill(pid, syscall.SIGSTOP) // first, so that it starts no more
	for _, child := range children(pid) {
		syscall.Kill(child, syscall.SIGSTOP)
	}
}

// Resume undoes Pause.
func (p *Postgres) Resume() {
	pid := p.cmd.Process.Pid
	for _, child := range children(pid) {
		syscall.Kill(child, syscall.SIGCONT)
	}
	syscall.Kill(pid, syscall.SIGCONT)
}

// children returns the processes whose parent is pid, from /proc/<pid>/stat.
func children(pid int) []int {
	dirs, _ := os.ReadDir("/proc")
	var out []int
	for _, d := range dirs {
		child, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, not a ')'.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		fields := bytes.Fields(stat[i+1:])
		if len(fields) > 1 && string(fields[1]) == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}
