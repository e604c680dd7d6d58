package goredisstore_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/redis/go-redis/v9"

	"github.com/scsession/scsession/goredisstore"
	"github.com/scsession/scsession/internal/sessiontest"
)

// tripCounter is a go-redis hook that counts round trips, and the commands
// each carried. A command is one round trip; a pipeline is one per node it
// goes to: on a ClusterClient the hook is on each node's client (OnNewNode),
// which sends that node's share of a pipeline in one write. The commands a
// client sends to learn the cluster's layout (CLUSTER SLOTS, in the
// background) and to set up a connection are no request's, and not counted.
type tripCounter struct {
	mu    sync.Mutex
	trips []string // per round trip, its commands: "GET", "GET GET"
}

func (tc *tripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (tc *tripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		tc.add([]redis.Cmder{cmd})
		return next(ctx, cmd)
	}
}

func (tc *tripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		tc.add(cmds)
		return next(ctx, cmds)
	}
}

func (tc *tripCounter) add(cmds []redis.Cmder) {
	var names []string
	for _, cmd := range cmds {
		switch name := cmd.Name(); name {
		case "cluster", "hello", "client", "command":
		default:
			names = append(names, strings.ToUpper(name))
		}
	}
	if len(names) == 0 {
		return
	}
	tc.mu.Lock()
	tc.trips = append(tc.trips, strings.Join(names, " "))
	tc.mu.Unlock()
}

// take returns the round trips since the last take.
func (tc *tripCounter) take() []string {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	trips := tc.trips
	tc.trips = nil
	return trips
}

func TestRoundTripsPerRequest(t *testing.T) {
	const (
		get  = "GET"
		del  = "DEL"
		swap = "EVALSHA" // a compare-and-swap script
	)
	for _, way := range []struct {
		name   string
		client func(t *testing.T, tc *tripCounter) redis.UniversalClient
		login  []string // after the GET
	}{
		{"single node", func(t *testing.T, tc *tripCounter) redis.UniversalClient {
			c := newClient(t, startRedis(t).Addr)
			c.AddHook(tc)
			return c
		}, []string{swap}}, // one script: save the new token, delete the old
		{"cluster", func(t *testing.T, tc *tripCounter) redis.UniversalClient {
			c := newClusterClient(t, startCluster(t))
			c.OnNewNode(func(node *redis.Client) { node.AddHook(tc) })
			return c
		}, []string{swap, swap}}, // write the new token, then compare-and-delete the old: a script each
	} {
		t.Run(way.name, func(t *testing.T) {
			var trips tripCounter
			client := way.client(t, &trips)
			// Each master learns a script at its first call (EVALSHA fails,
			// EVAL follows), and the client learns the cluster's layout, as
			// a running app's first requests teach them: teach them first,
			// with sessions in enough slots to reach every master.
			warm := visitsApp(t, goredisstore.New(client), nil)
			for range 30 {
				c := sessiontest.NewClient(t)
				for _, path := range []string{"/visit", "/login?user=alice", "/visit", "/logout"} {
					if r := c.Post(warm + path); r.Status != 200 {
						t.Fatalf("warm-up %s: %d %q", path, r.Status, r.Body)
					}
				}
			}
			for _, tc := range []struct {
				name         string
				idle         time.Duration
				method, path string
				session      bool // the browser has a session already
				want         []string
			}{
				{"read", 0, http.MethodGet, "/whoami", true, []string{get}},
				{"write", 0, http.MethodPost, "/visit", true, []string{get, swap}},
				{"no session use", 0, http.MethodGet, "/static", true, nil},
				{"read without a session", 0, http.MethodGet, "/whoami", false, nil},
				{"first write", 0, http.MethodPost, "/visit", false, []string{swap}},
				{"login (RenewToken and Update)", 0, http.MethodPost, "/login?user=bob", true, append([]string{get}, way.login...)},
				{"logout (Destroy)", 0, http.MethodPost, "/logout", true, []string{del}},
				{"flashes, none pending", 0, http.MethodGet, "/flashes", true, []string{get}},
				{"read, IdleTimeout", time.Hour, http.MethodGet, "/whoami", true, []string{get}},
				{"write, IdleTimeout", time.Hour, http.MethodPost, "/visit", true, []string{get, swap}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					app := visitsApp(t, goredisstore.New(client), func(sm *scs.SessionManager) { sm.IdleTimeout = tc.idle })
					c := sessiontest.NewClient(t)
					if tc.session {
						if r := c.Post(app + "/login?user=alice"); r.Status != 200 {
							t.Fatalf("login: %d %q", r.Status, r.Body)
						}
					}
					trips.take()
					if r := c.Do(tc.method, app+tc.path); r.Status != 200 {
						t.Fatalf("got %d %q", r.Status, r.Body)
					}
					got := trips.take()
					t.Logf("%s: %d round trip(s) %q", tc.name, len(got), got)
					if !slices.Equal(got, tc.want) {
						t.Errorf("round trips %q, want %q", got, tc.want)
					}
				})
			}
		})
	}
}

// visitsApp is sessiontest.VisitsApp on store, with configure's settings.
func visitsApp(t *testing.T, store scs.Store, configure func(*scs.SessionManager)) string {
	sm := scs.New()
	sm.Store = store
	if configure != nil {
		configure(sm)
	}
	return sessiontest.VisitsApp(t, sm)
}
