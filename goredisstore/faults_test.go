package goredisstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/redis/go-redis/v9"

	"github.com/scsession/scsession"
	"github.com/scsession/scsession/goredisstore"
	"github.com/scsession/scsession/internal/sessiontest"
)

// Faults on a real cluster (issue 14): a master killed, a slot resharded and
// the whole cluster down, each under a bounded load through a Manager on
// goredisstore, on a cluster of the test's own. The clients have the
// recommended 500 ms dial, read and write timeouts (newClusterClient).

// cart is the session of the fault tests: a login and the items added.
type cart struct {
	User  string
	Items []string
}

// faultApp serves a Manager on goredisstore: a login, a page that adds an
// item, one that reads the cart, and one that does not use the session.
type faultApp struct {
	URL    string
	errors atomic.Int64 // requests the ErrorFunc answered
}

func newFaultApp(t *testing.T, client redis.UniversalClient) *faultApp {
	app := &faultApp{}
	sm := scs.New()
	sm.Store = goredisstore.New(client)
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		app.errors.Add(1)
		http.Error(w, "session store: "+err.Error(), http.StatusInternalServerError)
	}
	m := scsession.New[cart](sm,
		scsession.WithLogger(slog.New(slog.DiscardHandler)),
		scsession.WithUserID(func(c cart) string { return c.User }))
	fail := func(w http.ResponseWriter, err error) bool {
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
		return err != nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if !fail(w, m.RenewToken(r.Context())) {
			fail(w, m.Update(r.Context(), func(c *cart) { c.User = r.FormValue("user") }))
		}
	})
	mux.HandleFunc("POST /add", func(w http.ResponseWriter, r *http.Request) {
		item := r.FormValue("item")
		fail(w, m.Update(r.Context(), func(c *cart) { c.Items = append(c.Items, item) }))
	})
	mux.HandleFunc("GET /cart", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(m.Get(r.Context()))
	})
	mux.HandleFunc("GET /static", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "static") })
	srv := httptest.NewServer(m.LoadAndSave(mux))
	t.Cleanup(srv.Close)
	app.URL = srv.URL
	return app
}

// shopper is one browser of the load: a cookie jar, and what it was told.
// Unlike sessiontest.Client it does not fail the test when a request does:
// a fault test counts failures. Its client gives up after 10 s, so that a
// request that hangs shows as a failure instead of hanging the test.
type shopper struct {
	base   string
	jar    *cookiejar.Jar
	client *http.Client
	user   string
	lastOK atomic.Int64 // Unix ns of the last request answered 200

	// Filled in by load once it has stopped.
	acks  []ack // the items added with a 200, by time
	fails []time.Time
	sent  int
}

// ack is an item whose addition was answered 200, and when.
type ack struct {
	item string
	at   time.Time
}

func newShopper(t *testing.T, base, user string) *shopper {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &shopper{base: base, jar: jar, user: user, client: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

// do sends a request; a transport error is status 0 with the error as body.
func (s *shopper) do(method, path string) (status int, body string, took time.Duration) {
	start := time.Now()
	req, err := http.NewRequest(method, s.base+path, nil)
	if err != nil {
		return 0, err.Error(), 0
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err.Error(), time.Since(start)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		s.lastOK.Store(time.Now().UnixNano())
	}
	return resp.StatusCode, string(b), time.Since(start)
}

// login logs the shopper in as its user.
func (s *shopper) login(t *testing.T) {
	t.Helper()
	if status, body, _ := s.do(http.MethodPost, "/login?user="+s.user); status != http.StatusOK {
		t.Fatalf("%s's login: %d %q", s.user, status, body)
	}
}

// cart reads the shopper's session.
func (s *shopper) cart(t *testing.T) cart {
	t.Helper()
	status, body, _ := s.do(http.MethodGet, "/cart")
	if status != http.StatusOK {
		t.Fatalf("%s's cart: %d %q", s.user, status, body)
	}
	var c cart
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		t.Fatalf("%s's cart: %v in %q", s.user, err, body)
	}
	return c
}

// key is the store key of the shopper's session: without signing keys the
// cookie is the token.
func (s *shopper) key() string {
	u, _ := url.Parse(s.base)
	for _, c := range s.jar.Cookies(u) {
		if c.Name == "session" {
			return "scs:session:" + c.Value
		}
	}
	return ""
}

// load is a bounded load on an app: goroutines adding items to their
// shopper's cart every few milliseconds until stopped.
type load struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	lastFail atomic.Int64 // Unix ns of the latest failed request, 0 if none
	done     []func()     // merge each goroutine's record into its shopper
}

// startLoad runs perShopper goroutines on each shopper, each adding items
// named after the shopper, the goroutine and a count, so that every item is
// unique.
func startLoad(shoppers []*shopper, perShopper int) *load {
	l := &load{stop: make(chan struct{})}
	for _, s := range shoppers {
		for g := range perShopper {
			var acks []ack
			var fails []time.Time
			sent := 0
			l.wg.Go(func() {
				for n := 0; ; n++ {
					select {
					case <-l.stop:
						return
					default:
					}
					item := fmt.Sprintf("%s-%d-%d", s.user, g, n)
					sent++
					if status, _, _ := s.do(http.MethodPost, "/add?item="+item); status == http.StatusOK {
						acks = append(acks, ack{item, time.Now()})
					} else {
						now := time.Now()
						fails = append(fails, now)
						l.lastFail.Store(now.UnixNano())
					}
					time.Sleep(3 * time.Millisecond)
				}
			})
			l.done = append(l.done, func() {
				s.acks, s.fails, s.sent = append(s.acks, acks...), append(s.fails, fails...), s.sent+sent
			})
		}
	}
	return l
}

// lastFailure is the time of the latest failed request, zero if none.
func (l *load) lastFailure() time.Time {
	if ns := l.lastFail.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// end stops the load, waits for it, and fills in each shopper's record.
func (l *load) end(shoppers []*shopper) (sent, failed, acked int) {
	close(l.stop)
	l.wg.Wait()
	for _, done := range l.done {
		done()
	}
	for _, s := range shoppers {
		slices.SortFunc(s.acks, func(a, b ack) int { return a.at.Compare(b.at) })
		slices.SortFunc(s.fails, func(a, b time.Time) int { return a.Compare(b) })
		sent, failed, acked = sent+s.sent, failed+len(s.fails), acked+len(s.acks)
	}
	return sent, failed, acked
}

// shoppers logs in n shoppers on app, named prefix0, prefix1...
func shoppers(t *testing.T, app *faultApp, prefix string, n int) []*shopper {
	var out []*shopper
	for i := range n {
		s := newShopper(t, app.URL, fmt.Sprint(prefix, i))
		s.login(t)
		out = append(out, s)
	}
	return out
}

// masterOf returns the address of the master that holds key, as client
// sees the cluster now.
func masterOf(t *testing.T, client *redis.ClusterClient, key string) string {
	t.Helper()
	node, err := client.MasterForKey(t.Context(), key)
	if err != nil {
		t.Fatalf("the master of %s: %v", key, err)
	}
	return node.Options().Addr
}

// missing returns the acknowledged items in acks that c lacks.
func missing(acks []ack, c cart) []ack {
	have := make(map[string]bool, len(c.Items))
	for _, item := range c.Items {
		have[item] = true
	}
	var out []ack
	for _, a := range acks {
		if !have[a.item] {
			out = append(out, a)
		}
	}
	return out
}

// TestMasterKilledUnderLoadFailsOverAndTheAppRecovers: a master killed
// under load, its replica takes over, and the app recovers by itself within
// seconds, keeping what was replicated. (go-redis reloads its map of the
// slots only on MOVED and ASK replies, which a dead node never sends: the
// store has the client reload it after a connection error.)
func TestMasterKilledUnderLoadFailsOverAndTheAppRecovers(t *testing.T) {
	cl := startCluster(t)
	masterKilledUnderLoad(t, cl, newClusterClient(t, cl))
}

// masterKilledUnderLoad kills the master that holds the most sessions while
// shoppers add to their carts, and checks that the app recovers by itself
// and keeps what was replicated.
func masterKilledUnderLoad(t *testing.T, cl *sessiontest.Cluster, client *redis.ClusterClient) {
	const (
		users      = 9
		perShopper = 2
		before     = 2 * time.Second  // of load before the kill
		replicated = time.Second      // a write acknowledged this long before the kill is on the replica
		stable     = time.Second      // without a failure, for the app to count as recovered
		bound      = 15 * time.Second // for the recovery
	)
	app := newFaultApp(t, client)
	all := shoppers(t, app, "shopper", users)

	// Kill the master that holds the most sessions.
	byMaster := map[string][]*shopper{}
	for _, s := range all {
		m := masterOf(t, client, s.key())
		byMaster[m] = append(byMaster[m], s)
	}
	var victim string
	for m, ss := range byMaster {
		if len(ss) > len(byMaster[victim]) {
			victim = m
		}
	}

	l := startLoad(all, perShopper)
	time.Sleep(before)
	killed := time.Now()
	cl.Node(victim).Kill()

	// Recovered: no request has failed for a while, and every shopper has
	// had a 200 since the last failure (none is stuck in a request).
	var recovered time.Time
	for time.Since(killed) < bound+stable {
		time.Sleep(100 * time.Millisecond)
		last := l.lastFailure()
		if last.IsZero() || time.Since(last) < stable {
			continue
		}
		if !slices.ContainsFunc(all, func(s *shopper) bool { return s.lastOK.Load() < last.UnixNano() }) {
			recovered = last
			break
		}
	}
	sent, failed, acked := l.end(all)
	if recovered.IsZero() {
		diagnose(t, cl, client, victim, byMaster[victim])
		t.Fatalf("%d of %d sessions on the killed master %s; the app had not recovered %v after the kill: %d of %d requests failed, the last %v after the kill",
			len(byMaster[victim]), users, victim, bound, failed, sent, l.lastFailure().Sub(killed))
	}
	if took := recovered.Sub(killed); took > bound {
		t.Errorf("the app recovered %v after the kill, want within %v", took, bound)
	}

	// Every session is still there, with every item acknowledged before
	// the last writes could have reached the replica, and every item
	// acknowledged since the recovery; only items acknowledged by the old
	// master in its last moments may be lost.
	lost, lastSecond, lostLastSecond := 0, 0, 0
	for _, s := range all {
		c := s.cart(t)
		if c.User != s.user {
			t.Errorf("%s's session after the failover: user %q (%d items), want %q", s.user, c.User, len(c.Items), s.user)
			continue
		}
		onVictim := slices.Contains(byMaster[victim], s)
		inLastSecond := func(a ack) bool { return onVictim && !a.at.Before(killed.Add(-replicated)) && !a.at.After(killed) }
		for _, a := range s.acks {
			if inLastSecond(a) {
				lastSecond++
			}
		}
		for _, a := range missing(s.acks, c) {
			if !onVictim || a.at.Before(killed.Add(-replicated)) || a.at.After(recovered) {
				t.Errorf("%s's item %s, acknowledged %v after the kill, is lost", s.user, a.item, a.at.Sub(killed))
				continue
			}
			lost++
			if inLastSecond(a) {
				lostLastSecond++
			}
		}
	}
	t.Logf("killed master %s holding %d of %d sessions; recovered %v after the kill; %d of %d requests failed (ErrorFunc %d); %d of %d acknowledged writes lost, %d of the %d the killed master acknowledged in its last %v",
		victim, len(byMaster[victim]), users, recovered.Sub(killed).Round(time.Millisecond), failed, sent, app.errors.Load(), lost, acked, lostLastSecond, lastSecond, replicated)
}

func TestSlotReshardedUnderLoadLosesNoUpdate(t *testing.T) {
	const (
		slots      = 1000 // moved, from the first of the source's
		moving     = 5    // sessions in them
		staying    = 2    // sessions elsewhere
		perShopper = 3    // concurrent additions on each session
	)
	cl := startCluster(t)
	client := newClusterClient(t, cl)
	app := newFaultApp(t, client)
	// The master of slot 0 gives its lowest slots (redis-cli moves a
	// source's lowest first) to the master of the last slot.
	from, fromID, first := lowestSlots(t, client, slots)
	to, toID, _ := masterOfSlot(t, client, 16383)
	// Log in until enough sessions sit in the slots that move.
	var move, stay []*shopper
	for i := 0; len(move) < moving || len(stay) < staying; i++ {
		if i == 2000 {
			t.Fatalf("2000 logins put %d sessions in the %d slots that move, want %d", len(move), slots, moving)
		}
		s := newShopper(t, app.URL, fmt.Sprint("shopper", i))
		s.login(t)
		slot, err := client.ClusterKeySlot(t.Context(), s.key()).Result()
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case first[int(slot)] && len(move) < moving:
			move = append(move, s)
		case !first[int(slot)] && len(stay) < staying:
			stay = append(stay, s)
		}
	}
	all := append(slices.Clone(move), stay...)

	l := startLoad(all, perShopper)
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "redis-cli", "--cluster", "reshard", from,
		"--cluster-from", fromID, "--cluster-to", toID, "--cluster-slots", strconv.Itoa(slots), "--cluster-yes").CombinedOutput()
	took := time.Since(start)
	time.Sleep(300 * time.Millisecond)
	sent, failed, acked := l.end(all)
	if err != nil {
		t.Fatalf("redis-cli --cluster reshard: %v\n%s", err, out)
	}

	for _, s := range move {
		if n, err := sessiontest.Command(to, "EXISTS", s.key()); err != nil || n != "1" {
			t.Errorf("%s's session is not on %s after the reshard: %q %v", s.user, to, n, err)
		}
	}
	lost := 0
	for _, s := range all {
		c := s.cart(t)
		if c.User != s.user {
			t.Errorf("%s's session after the reshard: user %q, want %q", s.user, c.User, s.user)
		}
		for _, a := range missing(s.acks, c) {
			lost++
			t.Errorf("%s's item %s, acknowledged %v after the reshard began, is lost", s.user, a.item, a.at.Sub(start))
		}
	}
	if failed > 5 {
		t.Errorf("%d of %d requests failed during the reshard, want at most 5", failed, sent)
	}
	t.Logf("moved %d slots (%d of %d sessions) from %s to %s in %v; %d of %d requests failed (ErrorFunc %d); %d of %d acknowledged additions lost",
		slots, len(move), len(all), from, to, took.Round(time.Millisecond), failed, sent, app.errors.Load(), lost, acked)
}

// masterOfSlot returns the address and ID of the master that serves slot,
// and the ranges it serves, from CLUSTER SLOTS. (Cluster.Masters reads one
// node's CLUSTER NODES, which right after the cluster is made may still
// list a replica as a master without slots.)
func masterOfSlot(t *testing.T, client *redis.ClusterClient, slot int) (addr, id string, ranges []redis.ClusterSlot) {
	t.Helper()
	all, err := client.ClusterSlots(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		if r.Start <= slot && slot <= r.End {
			addr, id = r.Nodes[0].Addr, r.Nodes[0].ID
		}
	}
	for _, r := range all {
		if r.Nodes[0].ID == id {
			ranges = append(ranges, r)
		}
	}
	if id == "" {
		t.Fatalf("no master serves slot %d", slot)
	}
	return addr, id, ranges
}

// lowestSlots returns the master of slot 0 and its n lowest slots.
func lowestSlots(t *testing.T, client *redis.ClusterClient, n int) (addr, id string, slots map[int]bool) {
	t.Helper()
	addr, id, ranges := masterOfSlot(t, client, 0)
	slices.SortFunc(ranges, func(a, b redis.ClusterSlot) int { return a.Start - b.Start })
	slots = make(map[int]bool, n)
	for _, r := range ranges {
		for s := r.Start; s <= r.End && len(slots) < n; s++ {
			slots[s] = true
		}
	}
	if len(slots) < n {
		t.Fatalf("%s serves %d slots, fewer than %d", addr, len(slots), n)
	}
	return addr, id, slots
}

func TestWholeClusterDownFailsFastAndRecovers(t *testing.T) {
	const (
		fast  = 3 * time.Second  // for a request to fail while the cluster is down
		bound = 15 * time.Second // for the app to recover once it is up
	)
	cl := startCluster(t)
	client := newClusterClient(t, cl)
	app := newFaultApp(t, client)
	s := newShopper(t, app.URL, "erin")
	s.login(t)
	if status, body, _ := s.do(http.MethodPost, "/add?item=tea"); status != http.StatusOK {
		t.Fatalf("add: %d %q", status, body)
	}

	cl.Stop()
	slowest := map[string]time.Duration{}
	for range 2 {
		for _, req := range []struct {
			method, path string
			want         int
		}{
			{http.MethodGet, "/cart", http.StatusInternalServerError},
			{http.MethodPost, "/add?item=jam", http.StatusInternalServerError},
			{http.MethodPost, "/login?user=erin", http.StatusInternalServerError},
			{http.MethodGet, "/static", http.StatusOK},
		} {
			status, body, took := s.do(req.method, req.path)
			if status != req.want || took > fast {
				t.Errorf("%s %s with the cluster down: %d %q in %v, want %d within %v", req.method, req.path, status, body, took, req.want, fast)
			}
			slowest[req.method+" "+req.path] = max(slowest[req.method+" "+req.path], took.Round(time.Millisecond))
		}
	}

	restart := time.Now()
	cl.Start() // on the same ports and data directories, with nodes.conf
	up := time.Now()
	var recovered time.Duration
	for recovered == 0 && time.Since(up) < bound {
		status, _, _ := s.do(http.MethodPost, "/add?item=jam")
		if status == http.StatusOK {
			recovered = time.Since(up)
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if recovered == 0 {
		t.Fatalf("the app had not recovered %v after the cluster was back up", bound)
	}
	s.login(t)
	// The nodes persist nothing (sessiontest.Redis): the session started
	// again empty, and works.
	if c := s.cart(t); c.User != "erin" || !slices.Contains(c.Items, "jam") {
		t.Errorf("the session after the restart: %+v, want erin's, with jam", c)
	}
	t.Logf("cluster down: slowest answers %v (ErrorFunc %d); started again: healthy in %v, the app recovered %v later",
		slowest, app.errors.Load(), up.Sub(restart).Round(time.Millisecond), recovered.Round(time.Millisecond))
}

// diagnose logs, when the app has not recovered from a failover, how a
// surviving node and the client each see the cluster, and what the
// sessions on the killed master get.
func diagnose(t *testing.T, cl *sessiontest.Cluster, client *redis.ClusterClient, victim string, on []*shopper) {
	for _, n := range cl.Nodes {
		if n.Addr != victim {
			nodes, err := sessiontest.Command(n.Addr, "CLUSTER", "NODES")
			t.Logf("CLUSTER NODES on %s (%v):\n%s", n.Addr, err, nodes)
			break
		}
	}
	for _, s := range on {
		status, body, _ := s.do(http.MethodGet, "/cart")
		t.Logf("%s: the client sends its session to %s; GET /cart: %d %.200q", s.user, masterOf(t, client, s.key()), status, body)
	}
}
