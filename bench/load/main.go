// Command load is the app that bench/load.sh puts under load: a read page and
// a write page on one session, with plain scs or scsession, on a memory store
// or Redis: for scs, scs's redisstore (last write wins); for scsession,
// scsession/redisstore (compare-and-set), as BenchmarkRequest uses them. It
// listens on 127.0.0.1 only.
//
//	go run ./bench/load -impl scsession -store redis -redis 127.0.0.1:6379 -addr 127.0.0.1:8080
//
// GET /login starts a session (its cookie is what the load test sends),
// GET /read shows it, POST /write adds an item to its cart.
package main

import (
	"encoding/gob"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/go-chi/chi/v5"
	"github.com/gomodule/redigo/redis"

	"github.com/scsession/scsession"
	casredis "github.com/scsession/scsession/redisstore"
)

// User is the session of issue #6's benchmarks: an ID, a name, a cart of
// five items and two preferences.
type User struct {
	UserID int
	Name   string
	Cart   []string
	Prefs  map[string]string
}

func seed() User {
	return User{
		UserID: 4211,
		Name:   "Ada Lovelace",
		Cart:   []string{"sku-0001", "sku-0002", "sku-0003", "sku-0004", "sku-0005"},
		Prefs:  map[string]string{"theme": "dark", "lang": "en-GB"},
	}
}

var writes atomic.Int64

// addToCart adds the next item and keeps the last five.
func addToCart(cart []string) []string {
	cart = append(cart, fmt.Sprintf("sku-%04d", writes.Add(1)%10000))
	if len(cart) > 5 {
		cart = cart[len(cart)-5:]
	}
	return cart
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen `address` (loopback only)")
	impl := flag.String("impl", "scsession", "scs or scsession")
	store := flag.String("store", "mem", "mem or redis")
	redisAddr := flag.String("redis", "127.0.0.1:6379", "Redis `address` for -store redis")
	flag.Parse()

	if host, _, err := net.SplitHostPort(*addr); err != nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("load: -addr %q: listen on a loopback address such as 127.0.0.1:8080", *addr)
	}
	sm := scs.New()
	switch *store {
	case "mem":
		sm.Store = memstore.New()
	case "redis":
		pool := &redis.Pool{
			MaxIdle:     64,
			IdleTimeout: 4 * time.Minute,
			Dial: func() (redis.Conn, error) {
				return redis.Dial("tcp", *redisAddr,
					redis.DialConnectTimeout(500*time.Millisecond),
					redis.DialReadTimeout(500*time.Millisecond),
					redis.DialWriteTimeout(500*time.Millisecond))
			},
		}
		defer pool.Close()
		sm.Store = redisstore.New(pool)
		if *impl == "scsession" {
			sm.Store = casredis.New(pool)
		}
	default:
		log.Fatalf("load: -store %q: want mem or redis", *store)
	}

	r := chi.NewRouter()
	switch *impl {
	case "scs":
		routeSCS(r, sm)
	case "scsession":
		routeTyped(r, scsession.New[User](sm))
	default:
		log.Fatalf("load: -impl %q: want scs or scsession", *impl)
	}
	log.Printf("load: %s on %s store, listening on http://%s", *impl, *store, *addr)
	log.Fatal(http.ListenAndServe(*addr, r))
}

func routeTyped(r chi.Router, m *scsession.Manager[User]) {
	r.Use(m.LoadAndSave)
	r.Get("/login", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Update(r.Context(), func(u *User) { *u = seed() }); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write([]byte("ok\n"))
	})
	r.Get("/read", func(w http.ResponseWriter, r *http.Request) {
		u := m.Get(r.Context())
		page(w, u.UserID, u.Name, len(u.Cart), u.Prefs["theme"])
	})
	r.Post("/write", func(w http.ResponseWriter, r *http.Request) {
		var n int
		err := m.Update(r.Context(), func(u *User) { u.Cart = addToCart(u.Cart); n = len(u.Cart) })
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write([]byte("cart: " + strconv.Itoa(n) + "\n"))
	})
}

func routeSCS(r chi.Router, sm *scs.SessionManager) {
	gob.Register(map[string]string{})
	r.Use(sm.LoadAndSave)
	r.Get("/login", func(w http.ResponseWriter, r *http.Request) {
		ctx, u := r.Context(), seed()
		sm.Put(ctx, "userID", u.UserID)
		sm.Put(ctx, "name", u.Name)
		sm.Put(ctx, "cart", u.Cart)
		sm.Put(ctx, "prefs", u.Prefs)
		w.Write([]byte("ok\n"))
	})
	r.Get("/read", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		cart, _ := sm.Get(ctx, "cart").([]string)
		prefs, _ := sm.Get(ctx, "prefs").(map[string]string)
		page(w, sm.GetInt(ctx, "userID"), sm.GetString(ctx, "name"), len(cart), prefs["theme"])
	})
	r.Post("/write", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		cart, _ := sm.Get(ctx, "cart").([]string)
		cart = addToCart(cart)
		sm.Put(ctx, "cart", cart)
		w.Write([]byte("cart: " + strconv.Itoa(len(cart)) + "\n"))
	})
}

func page(w http.ResponseWriter, id int, name string, items int, theme string) {
	fmt.Fprintf(w, "user %d (%s): %d items in the cart, %s theme\n", id, name, items, theme)
}
