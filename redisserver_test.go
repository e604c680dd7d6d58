package scsession

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
)

// redisServer is a redis-server of a test's own, on 127.0.0.1 and a free
// port, stopped when the test ends. Tests and benchmarks share it.
type redisServer struct {
	tb   testing.TB
	Addr string
	dir  string
	args []string
	cmd  *exec.Cmd
}

// startRedis starts a redis-server with the extra config args (such as
// "--maxmemory", "1mb"). Where redis-server is missing it skips the test,
// except in CI (CI=true), where .ci/run installs it and its absence fails.
func startRedis(tb testing.TB, args ...string) *redisServer {
	tb.Helper()
	s := newRedis(tb, args...)
	s.Start()
	return s
}

// newRedis reserves a free port and a data directory for a redis-server but
// does not start it, for tests of an application that comes up before its
// Redis; Start starts it. It is stopped when the test ends.
func newRedis(tb testing.TB, args ...string) *redisServer {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatal("redis-server is not installed; .ci/run installs it with apt-get install -y redis-server")
		}
		tb.Skip("redis-server is not installed; to run the Redis tests: apt-get install -y redis-server")
	}
	s := &redisServer{tb: tb, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(tb))), dir: tb.TempDir(), args: args}
	tb.Cleanup(s.Stop)
	return s
}

func freePort(tb testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start (re)starts the server on its address, with its data directory, so a
// restart finds what it persisted.
func (s *redisServer) Start() {
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
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := redis.Dial("tcp", s.Addr, redis.DialConnectTimeout(time.Second))
		if err == nil {
			_, err = c.Do("PING")
			c.Close()
			if err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			s.Stop()
			s.tb.Fatalf("redis-server on %s did not answer within 10s: %v", s.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop ends the server (a stopped one is resumed first, so it can exit).
func (s *redisServer) Stop() {
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
func (s *redisServer) Pause() { s.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume undoes Pause.
func (s *redisServer) Resume() { s.cmd.Process.Signal(syscall.SIGCONT) }

// Pool returns a connection pool with the timeouts the README recommends.
func (s *redisServer) Pool() *redis.Pool {
	p := newPool(s.Addr)
	s.tb.Cleanup(func() { p.Close() })
	return p
}

// Do runs one command on a connection of its own, for assertions.
func (s *redisServer) Do(cmd string, args ...any) any {
	s.tb.Helper()
	c, err := redis.Dial("tcp", s.Addr, redis.DialConnectTimeout(time.Second), redis.DialReadTimeout(5*time.Second))
	if err != nil {
		s.tb.Fatal(err)
	}
	defer c.Close()
	v, err := c.Do(cmd, args...)
	if err != nil {
		s.tb.Fatalf("redis %s: %v", cmd, err)
	}
	return v
}

// newPool is the pool the README shows: bounded connect, read and write
// times, so a stalled Redis fails requests instead of hanging them.
func newPool(addr string) *redis.Pool {
	return &redis.Pool{
		MaxIdle:     16,
		IdleTimeout: 4 * time.Minute,
		Dial: func() (redis.Conn, error) {
			return redis.Dial("tcp", addr,
				redis.DialConnectTimeout(500*time.Millisecond),
				redis.DialReadTimeout(500*time.Millisecond),
				redis.DialWriteTimeout(500*time.Millisecond))
		},
	}
}
