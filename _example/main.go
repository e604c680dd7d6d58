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
//	go run ./_example -postgres postgres://app:secret@127.0.0.1/app    # in PostgreSQL (or DATABASE_URL)
//	go run ./_example -cookie-store          # each session sealed in its cookie: no server store
//
// One host:port is reached with redigo and scsession/redisstore; a list of
// cluster nodes or a URL with go-redis and scsession/goredisstore (a URL
// with addr= parameters naming more nodes is a cluster too). PostgreSQL is
// reached with a pgx pool and scsession/pgxstore, which creates its tables
// when they are missing; the app does not start if the database does not
// answer. With -cookie-store there is no sessions page (a cookie store can
// neither list nor revoke sessions) and no API (a header token needs a
// session on the server). The three flags are exclusive.
//
// Several instances share sessions when they use the same Redis or
// database and the same SESSION_KEYS (comma-separated base64 keys of at
// least 32 bytes each, newest first; make one with `openssl rand -base64
// 32`). With -cookie-store the same keys seal the cookies.
//
// Programs use the JSON API under /api with the session token in an
// Authorization header (api.go); the page /api shows it with curl.
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
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
	secure := flag.Bool("secure", false, "mark cookies Secure, for serving behind TLS")
	var cfg config
	flag.StringVar(&cfg.RedisAddr, "redis", os.Getenv("REDIS_ADDR"), "keep sessions in Redis: `host:port`, a comma-separated list of cluster nodes, or a redis:// URL (default $REDIS_ADDR)")
	flag.StringVar(&cfg.PostgresURL, "postgres", os.Getenv("DATABASE_URL"), "keep sessions in PostgreSQL: a `URL` such as postgres://user:pass@host:5432/db, or libpq's key=value pairs (default $DATABASE_URL)")
	flag.BoolVar(&cfg.CookieStore, "cookie-store", false, "keep each session sealed in its cookie, with no server store (no sessions page, no API)")
	flag.Usage = usage
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "example: unexpected argument %q\n", flag.Arg(0))
		usage()
		os.Exit(2)
	}
	explicit := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	if explicit["redis"] || explicit["postgres"] || explicit["cookie-store"] {
		// A backend given on the command line wins over the environment's.
		if !explicit["redis"] {
			cfg.RedisAddr = ""
		}
		if !explicit["postgres"] {
			cfg.PostgresURL = ""
		}
	}
	if set := cfg.stores(); len(set) > 1 {
		fmt.Fprintf(os.Stderr, "example: %s each keep the sessions somewhere else: choose one (REDIS_ADDR and DATABASE_URL set -redis and -postgres unless a backend flag is given)\n", strings.Join(set, " and "))
		os.Exit(2)
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg.Secure, cfg.Logger = *secure, logger
	if err := run(*addr, cfg); err != nil {
		logger.Error(err.Error())
		os.Exit(1)
	}
}

// usage is -h: the flags, with those that pick the store together.
func usage() {
	out := flag.CommandLine.Output()
	fmt.Fprint(out, `Usage: go run ./_example [-addr host:port] [-secure] [-redis addr | -postgres URL | -cookie-store]

A small web app on scsession, with a JSON API under /api.

Where the sessions live, one of (default: in memory, gone when the app stops):
`)
	for _, name := range []string{"redis", "postgres", "cookie-store"} {
		printFlag(out, flag.Lookup(name))
	}
	fmt.Fprint(out, "\nServing:\n")
	for _, name := range []string{"addr", "secure"} {
		printFlag(out, flag.Lookup(name))
	}
	fmt.Fprint(out, `
Environment:
  SESSION_KEYS  comma-separated base64 keys of at least 32 bytes, newest first,
                that sign the cookies (seal them with -cookie-store); the same
                on every instance. Unset: a random key, so sessions end with the app.
  REDIS_ADDR, DATABASE_URL  the defaults of -redis and -postgres.
`)
}

// printFlag prints one flag as flag.PrintDefaults does, but not the value
// an environment variable gave it: a URL may hold a password.
func printFlag(out io.Writer, f *flag.Flag) {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Var(f.Value, f.Name, f.Usage)
	def := f.DefValue
	if f.Name == "redis" || f.Name == "postgres" {
		def = ""
	}
	fs.Lookup(f.Name).DefValue = def
	fs.PrintDefaults()
}

func run(addr string, cfg config) error {
	keys, err := parseKeys(os.Getenv("SESSION_KEYS"))
	if err != nil {
		return err
	}
	logger := cfg.Logger
	if keys == nil {
		logger.Warn("SESSION_KEYS is not set: signing cookies with a random key, so sessions end when the app stops; set it (e.g. to the output of `openssl rand -base64 32`) to keep them")
	}
	cfg.Keys = keys
	app, err := newApp(cfg)
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
	logger.Info("serving", "store", app.store, "secure", cfg.Secure)
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
		stop() // a second Ctrl-C ends the process at once
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
