package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
	redigo "github.com/gomodule/redigo/redis"
	"github.com/redis/go-redis/v9"

	"github.com/scsession/scsession/goredisstore"
	"github.com/scsession/scsession/redisstore"
)

// redisTimeout bounds every connect, read and write to Redis, so that a
// stalled Redis fails requests instead of hanging them.
const redisTimeout = time.Second

// sessionRedis is where -redis keeps the sessions: the store, what to call
// it in the log, and how to let it go.
type sessionRedis struct {
	store scs.Store
	name  string // for the log, without a password
	ping  func(context.Context) error
	close func() error
}

// newRedis reads -redis without connecting:
//
//	127.0.0.1:6379                   one Redis, through redigo (redisstore)
//	10.0.0.1:6379,10.0.0.2:6379,...  a Redis Cluster, seeded by these nodes,
//	                                 through go-redis (goredisstore)
//	redis://[user:pass@]host:port[/db][?dial_timeout=2s...]
//	                                 one Redis through go-redis; with
//	                                 &addr=host:port for more nodes, a cluster
//	                                 (rediss:// for TLS)
//
// Timeouts a URL does not set are redisTimeout.
func newRedis(addr string) (*sessionRedis, error) {
	addr = strings.TrimSpace(addr)
	switch {
	case strings.Contains(addr, "://"):
		return urlRedis(addr)
	case strings.Contains(addr, ","):
		var nodes []string
		for _, n := range strings.Split(addr, ",") {
			if n = strings.TrimSpace(n); n != "" {
				nodes = append(nodes, n)
			}
		}
		client := redis.NewUniversalClient(&redis.UniversalOptions{
			Addrs:         nodes,
			IsClusterMode: true, // even when the list has one node
			DialTimeout:   redisTimeout, ReadTimeout: redisTimeout, WriteTimeout: redisTimeout,
		})
		return goRedis(client, "redis cluster "+strings.Join(nodes, ",")), nil
	default:
		return redigoRedis(addr), nil
	}
}

// urlRedis is newRedis for a URL: go-redis parses it, for a cluster when
// it names more than one node (addr= parameters).
func urlRedis(raw string) (*sessionRedis, error) {
	u, err := url.Parse(raw)
	if uerr := (*url.Error)(nil); errors.As(err, &uerr) {
		// Not uerr itself: it quotes the whole URL, password and all.
		return nil, fmt.Errorf("-redis: not a valid URL: %v", uerr.Err)
	} else if err != nil {
		return nil, fmt.Errorf("-redis: %v", err)
	}
	name := "redis " + u.Redacted()
	if !u.Query().Has("addr") {
		opt, err := redis.ParseURL(raw)
		if err != nil {
			return nil, fmt.Errorf("-redis: %v", err)
		}
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = orDefault(opt.DialTimeout), orDefault(opt.ReadTimeout), orDefault(opt.WriteTimeout)
		return goRedis(redis.NewClient(opt), name), nil
	}
	opt, err := redis.ParseClusterURL(raw)
	if err != nil {
		return nil, fmt.Errorf("-redis: %v", err)
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = orDefault(opt.DialTimeout), orDefault(opt.ReadTimeout), orDefault(opt.WriteTimeout)
	return goRedis(redis.NewClusterClient(opt), "redis cluster "+u.Redacted()), nil
}

// orDefault is d, or redisTimeout when d is not set.
func orDefault(d time.Duration) time.Duration {
	if d == 0 {
		return redisTimeout
	}
	return d
}

// goRedis keeps sessions through a go-redis client: one node, or a cluster.
func goRedis(client redis.UniversalClient, name string) *sessionRedis {
	return &sessionRedis{
		store: goredisstore.New(client),
		name:  name,
		ping:  func(ctx context.Context) error { return client.Ping(ctx).Err() },
		close: client.Close,
	}
}

// redigoRedis keeps sessions in one Redis through a redigo pool.
func redigoRedis(addr string) *sessionRedis {
	pool := &redigo.Pool{
		MaxIdle:     16,
		IdleTimeout: 4 * time.Minute,
		Dial: func() (redigo.Conn, error) {
			return redigo.Dial("tcp", addr,
				redigo.DialConnectTimeout(redisTimeout),
				redigo.DialReadTimeout(redisTimeout),
				redigo.DialWriteTimeout(redisTimeout))
		},
	}
	return &sessionRedis{
		store: redisstore.New(pool),
		name:  "redis " + addr,
		ping: func(ctx context.Context) error {
			c, err := pool.GetContext(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Do("PING")
			return err
		},
		close: pool.Close,
	}
}

// openRedis is newRedis, then a check that Redis answers.
func openRedis(addr string) (*sessionRedis, error) {
	r, err := newRedis(addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.ping(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("%s: %w", r.name, err), r.close())
	}
	return r, nil
}
