package redisstore_test

import (
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/scsession/scsession/internal/sessiontest"
)

// redisServer is a redis-server of a test's own (sessiontest.Redis: on
// 127.0.0.1 and a free port, stopped when the test ends), and redigo on it.
type redisServer struct {
	*sessiontest.Redis
	tb testing.TB
}

// startRedis starts a redis-server with the extra config args (such as
// "--maxmemory", "1mb"). Where redis-server is missing it skips the test,
// except in CI (CI=true), where .ci/run installs it and its absence fails.
func startRedis(tb testing.TB, args ...string) *redisServer {
	tb.Helper()
	return &redisServer{sessiontest.StartRedis(tb, args...), tb}
}

// newRedis is startRedis without the start, for tests of an application
// that comes up before its Redis; Start starts it.
func newRedis(tb testing.TB, args ...string) *redisServer {
	tb.Helper()
	return &redisServer{sessiontest.NewRedis(tb, args...), tb}
}

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
