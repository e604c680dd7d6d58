package sessiontest

import (
	"bufio"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Redis is a redis-server of a test's own, on 127.0.0.1 and a free port,
// stopped when the test ends. It speaks no Redis itself: each store module
// connects with its own client.
type Redis struct {
	Addr string // host:port
	tb   testing.TB
	dir  string
	args []string
	cmd  *exec.Cmd
}

// StartRedis starts a redis-server with the extra config args (such as
// "--maxmemory", "1mb"). Where redis-server is missing it skips the test,
// except in CI (CI=true), where .ci/run installs it and its absence fails.
func StartRedis(tb testing.TB, args ...string) *Redis {
	tb.Helper()
	s := NewRedis(tb, args...)
	s.Start()
	return s
}

// NewRedis reserves a free port and a data directory for a redis-server but
// does not start it, for tests of an application that comes up before its
// Redis; Start starts it. It is stopped when the test ends.
func NewRedis(tb testing.TB, args ...string) *Redis {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatal("redis-server is not installed; .ci/run installs it with apt-get install -y redis-server")
		}
		tb.Skip("redis-server is not installed; to run the Redis tests: apt-get install -y redis-server")
	}
	port := freePort(tb, 10000, 20000)
	s := &Redis{tb: tb, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: tb.TempDir(), args: args}
	tb.Cleanup(s.Stop)
	return s
}

// Start (re)starts the server on its address, with its data directory, so a
// restart finds what it persisted, and returns once it answers PING.
func (s *Redis) Start() {
	s.tb.Helper()
	_, port, _ := net.SplitHostPort(s.Addr)
	args := append([]string{
		"--bind", "127.0.0.1", "--port", port, "--dir", s.dir,
		"--save", "", "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no",
	}, s.args...)
	s.cmd = exec.Command("redis-server", args...)
	if err := s.cmd.Start(); err != nil {
		s.tb.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !s.answers(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			s.Stop()
			s.tb.Fatalf("redis-server on %s did not answer within 10s", s.Addr)
		}
	}
}

// answers reports whether the server answers PING with PONG (not, say,
// LOADING while it reads back what it persisted).
func (s *Redis) answers() bool {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// Stop ends the server (a paused one is resumed first, so it can exit).
func (s *Redis) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGCONT)
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}

// Pause freezes the server (SIGSTOP): connections stay open, nothing answers.
func (s *Redis) Pause() { s.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume undoes Pause.
func (s *Redis) Resume() { s.cmd.Process.Signal(syscall.SIGCONT) }

// freePort returns a port in [from, to) that is free on 127.0.0.1. Test
// servers take ports below the kernel's ephemeral range (32768 and up on
// Linux): a port the kernel handed out is free only until it hands it out
// again, to an outgoing connection (a cluster's nodes make many), before the
// server binds it.
func freePort(tb testing.TB, from, to int) int {
	tb.Helper()
	for range 1000 {
		port := from + rand.IntN(to-from)
		if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
			l.Close()
			return port
		}
	}
	tb.Fatalf("found no free port in [%d, %d) on 127.0.0.1", from, to)
	return 0
}
