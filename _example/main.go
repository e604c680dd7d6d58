// Command _example is a small web app built on scsession: a typed session
// with a visit counter, a theme, a login throttled per session, per account
// and per client address, a members' page, a page listing the user's
// sessions with sign-out buttons, a cart, flash messages and forms protected
// against cross-site requests.
//
// From the root of the repository:
//
//	go run ./_example                        # memory store, http://127.0.0.1:8080/
//	go run ./_example -redis 127.0.0.1:6379  # sessions in Redis (or REDIS_ADDR)
//	go run ./_example -redis 10.0.0.1:6379,10.0.0.2:6379,10.0.0.3:6379  # in a Redis Cluster
//	go run ./_example -redis redis://:secret@127.0.0.1:6379/0          # a URL, as go-redis parses it
//
// One host:port is reached with redigo and scsession/redisstore; a list of
// cluster nodes or a URL with go-redis and scsession/goredisstore (a URL
// with addr= parameters naming more nodes is a cluster too).
//
// Several instances share sessions when they use the same Redis and the same
// SESSION_KEYS (comma-separated base64 keys of at least 32 bytes each, newest
// first; make one with `openssl rand -base64 32`).
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "`host:port` to listen on (port 0 picks a free one)")
	redisAddr := flag.String("redis", os.Getenv("REDIS_ADDR"), "the Redis for the sessions: `host:port`, a comma-separated list of cluster nodes, or a redis:// URL (default $REDIS_ADDR; empty means a memory store)")
	secure := flag.Bool("secure", false, "mark cookies Secure, for serving behind TLS")
	flag.Parse()

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*addr, *redisAddr, *secure, logger); err != nil {
		logger.Error(err.Error())
		os.Exit(1)
	}
}

func run(addr, redisAddr string, secure bool, logger *slog.Logger) error {
	keys, err := parseKeys(os.Getenv("SESSION_KEYS"))
	if err != nil {
		return err
	}
	if keys == nil {
		logger.Warn("SESSION_KEYS is not set: signing cookies with a random key, so sessions end when the app stops; set it (e.g. to the output of `openssl rand -base64 32`) to keep them")
	}
	app, err := newApp(config{RedisAddr: redisAddr, Secure: secure, Keys: keys, Logger: logger})
	if err != nil {
		return err
	}
	defer app.Close()

	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           app,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("serving", "store", app.store, "secure", secure)
	// The URL goes to stdout on a line of its own, for people and for the e2e tests.
	fmt.Printf("scsession example: http://%s/\n", l.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// parseKeys reads SESSION_KEYS: base64 keys separated by commas, the one to
// sign with first. Empty means none.
func parseKeys(s string) ([][]byte, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var keys [][]byte
	for i, field := range strings.Split(s, ",") {
		field = strings.TrimSpace(field)
		k, err := base64.StdEncoding.DecodeString(field)
		if err != nil {
			k, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(field, "="))
		}
		if err != nil {
			return nil, fmt.Errorf("SESSION_KEYS: key %d is not base64: %v", i+1, err)
		}
		if len(k) < 32 {
			return nil, fmt.Errorf("SESSION_KEYS: key %d is %d bytes once decoded; use at least 32 random bytes (`openssl rand -base64 32`)", i+1, len(k))
		}
		keys = append(keys, k)
	}
	return keys, nil
}
