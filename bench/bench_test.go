package bench

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/go-chi/chi/v5"
	"github.com/gomodule/redigo/redis"

	goredis "github.com/redis/go-redis/v9"
	"github.com/scsession/scsession"
	"github.com/scsession/scsession/goredisstore"
	"github.com/scsession/scsession/internal/benchsession"
	"github.com/scsession/scsession/internal/sessiontest"
	casredis "github.com/scsession/scsession/redisstore"
)

// The benchmarks of issue #6, in a module of their own: the Redis variants
// need redigo, which the library does not. Each request goes through a chi
// router and the real middleware, with httptest.NewRecorder and a request
// carrying the session cookie, in three implementations side by side:
//
//	impl=floor      the router with no sessions
//	impl=scs        scs's LoadAndSave, one key per field, gob (as scs users write it)
//	impl=scsession  Manager[benchUser], saving by compare-and-set (memstore,
//	                scsession/redisstore)
//	impl=scsession-lww  the same, last write wins (scs's redisstore), for op=write
//	                only: what the concurrency guarantees cost
//
// and four operations: op=read (Get), op=write (append to the cart), op=none
// (the handler never touches the session), op=renew (RenewToken). Compare
// with benchstat -col /impl; bench/run does it all.
//
// Besides time and allocations, each reports the store calls a request made
// and the bytes the store holds for the session (B/session). The calls are
// finds/op (Find), writes/op (Commit and CompareAndSwap: a save, or a
// compare-and-set delete), deletes/op (Delete) and renews/op
// (CompareAndRenew, scsession.RenewStore's: a renewal's save under the new
// token and the old token's delete in one call, so counted as one renew,
// not as a write and a delete). On Redis each call is one round trip: scs's
// redisstore pipelines MULTI/SET/PEXPIREAT/EXEC, scsession/redisstore sends
// one EVALSHA. On memstore, which has no CompareAndRenew, a renewal is two
// writes. BenchmarkCodec, which needs the library's internals, is in the
// root module.

// benchUser is the benchmarks' session, the same in every module.
type benchUser = benchsession.User

var benchSeed = benchsession.Seed

// benchAddToCart appends item and keeps the last five, so that the session keeps
// the same size however many writes a benchmark makes.
func benchAddToCart(cart []string, item string) []string {
	cart = append(cart, item)
	if len(cart) > 5 {
		cart = cart[len(cart)-5:]
	}
	return cart
}

// benchItems are what writes add to the cart, in turn: each write leaves a
// session unlike the last 9,999, so no cache of decoded values can help it.
var benchItems = func() (items [10000]string) {
	for i := range items {
		items[i] = fmt.Sprintf("sku-%04d", i)
	}
	return items
}()

func init() {
	gob.Register(map[string]string{}) // scs users must; []string and int are gob's already
}

var benchSink int

var benchOK = []byte("ok")

// benchStore counts the calls made to the store it wraps; on Redis each
// is one round trip. It is a scsession.SwapStore whatever it wraps; wrapping
// a scsession.RenewStore, benchSessionManager makes it a benchRenewStore.
type benchStore struct {
	scs.Store
	finds, commits, deletes, renews atomic.Int64
	size                            atomic.Int64 // bytes of the last save that stored something
}

func (c *benchStore) Find(token string) ([]byte, bool, error) {
	c.finds.Add(1)
	return c.Store.Find(token)
}

func (c *benchStore) Commit(token string, b []byte, expiry time.Time) error {
	c.commits.Add(1)
	c.size.Store(int64(len(b)))
	return c.Store.Commit(token, b, expiry)
}

// CompareAndSwap passes scsession's compare-and-set saves on to the store,
// counted as writes; impl=scsession-lww hides it.
func (c *benchStore) CompareAndSwap(ctx context.Context, token string, old, b []byte, expiry time.Time) ([]byte, bool, error) {
	c.commits.Add(1)
	if b != nil { // not a delete
		c.size.Store(int64(len(b)))
	}
	switch st := c.Store.(type) {
	case scsession.SwapStore:
		return st.CompareAndSwap(ctx, token, old, b, expiry)
	case *memstore.MemStore:
		return swapMem(st, token, old, b, expiry)
	}
	if b == nil {
		return nil, true, c.Store.Delete(token)
	}
	return nil, true, c.Store.Commit(token, b, expiry)
}

// swapMem compares and swaps on scs's memstore. A Manager makes an unwrapped
// memstore's saves atomic itself; wrapped in a benchStore, the memstore
// becomes a SwapStore, whose saves compare here, under one lock.
func swapMem(st *memstore.MemStore, token string, old, b []byte, expiry time.Time) ([]byte, bool, error) {
	memLock.Lock()
	defer memLock.Unlock()
	cur, _, err := st.Find(token) // nil when not found
	switch {
	case err != nil:
		return nil, false, err
	case (cur == nil) != (old == nil) || !bytes.Equal(cur, old):
		return cur, false, nil
	case b == nil:
		return nil, true, st.Delete(token)
	}
	return nil, true, st.Commit(token, b, expiry)
}

var memLock sync.Mutex

// lastWriteWins hides a store's CompareAndSwap (and CompareAndRenew), for
// impl=scsession-lww.
type lastWriteWins struct{ scs.Store }

func (c *benchStore) Delete(token string) error {
	c.deletes.Add(1)
	return c.Store.Delete(token)
}

func (c *benchStore) reset() {
	c.finds.Store(0)
	c.commits.Store(0)
	c.deletes.Store(0)
	c.renews.Store(0)
}

// benchRenewStore is a benchStore on a scsession.RenewStore: it passes the
// store's CompareAndRenew on, counted as one renew. A separate type, so that
// a benchStore on a store without one does not claim it, and the Manager
// renews there with two compare-and-swaps, as it would unwrapped.
type benchRenewStore struct {
	*benchStore
	rs scsession.RenewStore
}

func (c benchRenewStore) CompareAndRenew(ctx context.Context, oldToken string, old []byte, token string, b []byte, expiry time.Time) ([]byte, bool, error) {
	c.renews.Add(1)
	c.size.Store(int64(len(b)))
	return c.rs.CompareAndRenew(ctx, oldToken, old, token, b, expiry)
}

// benchApp is one implementation's router, its store, and the cookie of a
// session seeded with benchSeed.
type benchApp struct {
	handler http.Handler
	writes  int // so far, to pick the next of benchItems
	store   *benchStore
	cookie  string // "session=..." or "" for the floor
	sealed  bool   // the session is in the cookie (WithCookieStore): a write changes it
}

// benchSessionManager returns scs.New()'s SessionManager with store and
// idle, store wrapped to count its calls: in a benchRenewStore if it is a
// scsession.RenewStore, a benchStore otherwise.
func benchSessionManager(store scs.Store, idle time.Duration) (*scs.SessionManager, *benchStore) {
	sm := scs.New()
	counted := &benchStore{Store: store}
	sm.Store = counted
	if rs, ok := store.(scsession.RenewStore); ok {
		sm.Store = benchRenewStore{counted, rs}
	}
	sm.IdleTimeout = idle
	return sm, counted
}

// newBenchApp returns impl's app on sm (which the floor ignores), with a
// session seeded with benchSeed. For impl=scsession-lww, sm's store must wrap
// a lastWriteWins.
func newBenchApp(tb testing.TB, impl string, sm *scs.SessionManager, store *benchStore) *benchApp {
	tb.Helper()
	app := &benchApp{store: store}
	r := chi.NewRouter()
	switch impl {
	case "floor":
		ok := func(w http.ResponseWriter, r *http.Request) { w.Write(benchOK) }
		r.Get("/read", ok)
		r.Post("/write", ok)
		r.Get("/none", ok)
		r.Post("/renew", ok)
		r.Post("/seed", ok)
	case "scs":
		r.Use(sm.LoadAndSave)
		r.Get("/read", func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			id := sm.GetInt(ctx, "userID")
			name := sm.GetString(ctx, "name")
			cart, _ := sm.Get(ctx, "cart").([]string)
			prefs, _ := sm.Get(ctx, "prefs").(map[string]string)
			benchSink += id + len(name) + len(cart) + len(prefs["theme"])
			w.Write(benchOK)
		})
		r.Post("/write", func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			cart, _ := sm.Get(ctx, "cart").([]string)
			sm.Put(ctx, "cart", benchAddToCart(cart, benchItems[app.writes%len(benchItems)]))
			app.writes++
			w.Write(benchOK)
		})
		r.Get("/none", func(w http.ResponseWriter, r *http.Request) { w.Write(benchOK) })
		r.Post("/renew", func(w http.ResponseWriter, r *http.Request) {
			if err := sm.RenewToken(r.Context()); err != nil {
				tb.Error(err)
			}
			w.Write(benchOK)
		})
		r.Post("/seed", func(w http.ResponseWriter, r *http.Request) {
			ctx, u := r.Context(), benchSeed()
			sm.Put(ctx, "userID", u.UserID)
			sm.Put(ctx, "name", u.Name)
			sm.Put(ctx, "cart", u.Cart)
			sm.Put(ctx, "prefs", u.Prefs)
			w.Write(benchOK)
		})
	case "scsession", "scsession-lww", "scsession-goredis", "scsession-cookie":
		var opts []scsession.Option
		if impl == "scsession-cookie" {
			opts = append(opts, scsession.WithCookieStore(benchCookieKey))
			app.sealed = true
		}
		m := scsession.New[benchUser](sm, opts...)
		r.Use(m.LoadAndSave)
		r.Get("/read", func(w http.ResponseWriter, r *http.Request) {
			u := m.Get(r.Context())
			benchSink += u.UserID + len(u.Name) + len(u.Cart) + len(u.Prefs["theme"])
			w.Write(benchOK)
		})
		r.Post("/write", func(w http.ResponseWriter, r *http.Request) {
			err := m.Update(r.Context(), func(u *benchUser) { u.Cart = benchAddToCart(u.Cart, benchItems[app.writes%len(benchItems)]) })
			app.writes++
			if err != nil {
				tb.Error(err)
			}
			w.Write(benchOK)
		})
		r.Get("/none", func(w http.ResponseWriter, r *http.Request) { w.Write(benchOK) })
		r.Post("/renew", func(w http.ResponseWriter, r *http.Request) {
			if err := m.RenewToken(r.Context()); err != nil {
				tb.Error(err)
			}
			w.Write(benchOK)
		})
		r.Post("/seed", func(w http.ResponseWriter, r *http.Request) {
			if err := m.Update(r.Context(), func(u *benchUser) { *u = benchSeed() }); err != nil {
				tb.Error(err)
			}
			w.Write(benchOK)
		})
	default:
		tb.Fatalf("unknown impl %q", impl)
	}
	app.handler = r

	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("POST", "/seed", nil))
	if rec.Code != http.StatusOK {
		tb.Fatalf("%s: seeding the session: status %d", impl, rec.Code)
	}
	app.cookie = benchSetCookie(rec.Header())
	if impl != "floor" && app.cookie == "" {
		tb.Fatalf("%s: seeding the session set no cookie", impl)
	}
	return app
}

// benchSetCookie returns the "name=value" part of the response's session cookie,
// without allocating.
func benchSetCookie(h http.Header) string {
	for _, c := range h["Set-Cookie"] {
		if strings.HasPrefix(c, "session=") {
			c, _, _ = strings.Cut(c, ";")
			return c
		}
	}
	return ""
}

// request is the benchmark's request for op, carrying the app's cookie (the
// floor's too, so that every implementation reads the same request).
func (app *benchApp) request(op string) *http.Request {
	method := "GET"
	if op == "write" || op == "renew" {
		method = "POST"
	}
	req := httptest.NewRequest(method, "/"+op, nil)
	req.Header.Set("Cookie", "session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	if app.cookie != "" {
		req.Header.Set("Cookie", app.cookie)
	}
	return req
}

var (
	benchStores = []string{"mem", "redis"}
	benchIdle   = []string{"off", "on"}
	benchOps    = []string{"read", "write", "none", "renew"}
	benchImpls  = []string{"floor", "scs", "scsession-lww", "scsession", "scsession-goredis"}
)

// benchIdleTimeout is the IdleTimeout of the idle=on variants: scsession
// refreshes at most every 3 minutes, so a benchmark's reads never do.
const benchIdleTimeout = 30 * time.Minute

func BenchmarkRequest(b *testing.B) {
	for _, store := range benchStores {
		b.Run("store="+store, func(b *testing.B) {
			newStore := func(string) scs.Store { return memstore.NewWithCleanupInterval(0) }
			if store == "redis" {
				pool, client := redisPool(b)
				newStore = func(impl string) scs.Store {
					switch impl {
					case "scsession":
						return casredis.New(pool)
					case "scsession-goredis":
						return goredisstore.New(client)
					}
					return redisstore.New(pool)
				}
			}
			for _, idle := range benchIdle {
				timeout := time.Duration(0)
				if idle == "on" {
					timeout = benchIdleTimeout
				}
				for _, op := range benchOps {
					for _, impl := range benchImpls {
						if (impl == "scsession-lww" && op != "write") || (impl == "scsession-goredis" && store != "redis") {
							continue
						}
						name := "idle=" + idle + "/op=" + op + "/impl=" + impl
						b.Run(name, func(b *testing.B) {
							st := newStore(impl)
							if impl == "scsession-lww" {
								st = lastWriteWins{st}
							}
							sm, store := benchSessionManager(st, timeout)
							benchRequests(b, newBenchApp(b, impl, sm, store), op)
						})
					}
				}
			}
		})
	}
}

func benchRequests(b *testing.B, app *benchApp, op string) {
	req := app.request(op)
	cookie := req.Header["Cookie"] // renewals change it in place
	app.store.reset()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		rec := httptest.NewRecorder()
		app.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
		if (op == "renew" || op == "write" && app.sealed) && app.cookie != "" {
			if c := benchSetCookie(rec.Header()); c != "" {
				cookie[0] = c
			} else {
				b.Fatal("a renewal set no cookie")
			}
		}
		n++
	}
	perOp := func(c *atomic.Int64) float64 { return float64(c.Load()) / float64(n) }
	b.ReportMetric(perOp(&app.store.finds), "finds/op")
	b.ReportMetric(perOp(&app.store.commits), "writes/op")
	b.ReportMetric(perOp(&app.store.deletes), "deletes/op")
	b.ReportMetric(perOp(&app.store.renews), "renews/op")
	b.ReportMetric(float64(app.store.size.Load()), "B/session")
}

// TestIdleRefreshWritesFewReads measures, on a fake clock, what an
// IdleTimeout costs a reader: a read a second for an hour, then silence. It
// logs the share of reads that wrote to the store and when the session
// expired, for scs and scsession, and holds scsession to issue #6: at least
// 90% of reads write nothing, and the session still expires between
// IdleTimeout minus the refresh interval and IdleTimeout after its last
// request.
func TestIdleRefreshWritesFewReads(t *testing.T) {
	const (
		idle    = 10 * time.Minute
		refresh = idle / 10 // the default
		reads   = 3630      // an hour and a half-interval, so the last refresh is not the last read
	)
	for _, impl := range []string{"scs", "scsession"} {
		sm, store := benchSessionManager(memstore.NewWithCleanupInterval(0), idle)
		synctest.Test(t, func(t *testing.T) {
			app := newBenchApp(t, impl, sm, store)
			req := app.request("read")
			store.reset()
			for range reads {
				time.Sleep(time.Second)
				rec := httptest.NewRecorder()
				app.handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					t.Fatalf("status %d", rec.Code)
				}
			}
			last := time.Now()
			token := strings.TrimPrefix(app.cookie, "session=")
			for {
				if _, found, _ := store.Store.Find(token); !found {
					break
				}
				time.Sleep(time.Second)
			}
			writes := store.commits.Load()
			gone := time.Since(last)
			t.Logf("%-9s IdleTimeout %v: %d of %d reads wrote to the store (%.1f%%); the session expired %v after its last request",
				impl, idle, writes, reads, 100*float64(writes)/reads, gone)
			if impl != "scsession" {
				return
			}
			if writes > reads/10 {
				t.Errorf("%d of %d reads wrote; want at most 10%%", writes, reads)
			}
			if gone < idle-refresh || gone > idle+time.Second {
				t.Errorf("session expired %v after its last request; want between %v and %v", gone, idle-refresh, idle)
			}
		})
	}
}

// BenchmarkReadManySessions reads n sessions in turn, so that scsession's
// cache of decoded values (4,096 slots) cannot hold them all when n is
// large: the cost of a read that misses it, next to scs's.
func BenchmarkReadManySessions(b *testing.B) {
	for _, n := range []int{100, 10000, 100000} {
		for _, impl := range []string{"scs", "scsession"} {
			b.Run(fmt.Sprintf("sessions=%d/impl=%s", n, impl), func(b *testing.B) {
				sm, store := benchSessionManager(memstore.NewWithCleanupInterval(0), 0)
				app := newBenchApp(b, impl, sm, store)
				reqs := make([]*http.Request, n)
				for i := range reqs {
					rec := httptest.NewRecorder()
					app.handler.ServeHTTP(rec, httptest.NewRequest("POST", "/seed", nil))
					reqs[i] = httptest.NewRequest("GET", "/read", nil)
					reqs[i].Header.Set("Cookie", benchSetCookie(rec.Header()))
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					rec := httptest.NewRecorder()
					app.handler.ServeHTTP(rec, reqs[i%n])
					i++
				}
			})
		}
	}
}

// BenchmarkRedisSave compares, at the store, the two ways a save reaches
// Redis: scs's pipelined MULTI/SET/PEXPIREAT/EXEC, and scsession's
// compare-and-swap script (EVALSHA), with the session's size.
func BenchmarkRedisSave(b *testing.B) {
	pool, _ := redisPool(b)
	val := make([]byte, 149)
	expiry := time.Now().Add(time.Hour)
	b.Run("impl=multi", func(b *testing.B) {
		st := redisstore.New(pool)
		for b.Loop() {
			if err := st.Commit("multi", val, expiry); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=lua", func(b *testing.B) {
		st := casredis.New(pool)
		st.Commit("lua", val, expiry)
		for b.Loop() {
			if _, ok, err := st.CompareAndSwap(b.Context(), "lua", val, val, expiry); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}

// redisPool starts a redis-server of the benchmark's own and returns a pool
// on it with the README's timeouts, closed when the benchmark ends.
// redisPool starts a redis-server of the benchmark's own and returns a
// redigo pool and a go-redis client on it, with the same timeouts.
func redisPool(tb testing.TB) (*redis.Pool, *goredis.Client) {
	addr := sessiontest.StartRedis(tb).Addr
	pool := &redis.Pool{MaxIdle: 16, Dial: func() (redis.Conn, error) {
		return redis.Dial("tcp", addr, redis.DialConnectTimeout(500*time.Millisecond),
			redis.DialReadTimeout(500*time.Millisecond), redis.DialWriteTimeout(500*time.Millisecond))
	}}
	client := goredis.NewClient(&goredis.Options{Addr: addr, PoolSize: 16, DialTimeout: 500 * time.Millisecond,
		ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond, ContextTimeoutEnabled: true, DisableIdentity: true})
	tb.Cleanup(func() { pool.Close(); client.Close() })
	return pool, client
}
