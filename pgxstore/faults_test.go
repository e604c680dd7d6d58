package pgxstore_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/scsession/scsession/internal/sessiontest"
	"github.com/scsession/scsession/pgxstore"
)

// Faults on a server of the test's own, through an app on a Manager: a
// restart, a stalled server and a server without a free connection slot.

// faultTimeout is the Store's bound in the fault tests, shorter than the
// default so that they are quick.
const faultTimeout = time.Second

// expect checks a response's status and body.
func expect(t *testing.T, what string, r sessiontest.Response, status int, body string) {
	t.Helper()
	if r.Status != status || (body != "" && r.Body != body) {
		t.Fatalf("%s: %d %q, want %d %q", what, r.Status, r.Body, status, body)
	}
}

func TestRestartKeepsSessionsAndTheAppRecovers(t *testing.T) {
	pg := startPostgres(t)
	pool := newPool(t, pg, newSchema(t, pg), nil)
	app := visitsApp(t, newStore(t, pool, pgxstore.Config{Timeout: faultTimeout}), 0, false)
	c := sessiontest.NewClient(t)
	expect(t, "login", c.Post(app+"/login?user=alice"), 200, "user=alice visits=0")
	expect(t, "visit", c.Post(app+"/visit"), 200, "user=alice visits=1")

	// A restart: every pooled connection is dead. The pool pings one that
	// has been idle for over a second before handing it out, and replaces
	// it if it does not answer; a connection used sooner fails its request.
	idle := pool.Stat().IdleConns()
	pg.Restart()
	var r sessiontest.Response
	failed := 0
	for range idle + 1 {
		if r = c.Get(app + "/whoami"); r.Status == 200 {
			break
		}
		expect(t, "read after restart", r, 500, "")
		failed++
	}
	t.Logf("after a restart, %d request(s) failed before the pool reconnected (%d idle connection(s) before it)", failed, idle)
	expect(t, "read after restart", r, 200, "user=alice visits=1")

	// Stopped a while: requests fail at once (connection refused), then work.
	pg.Stop()
	r = c.Get(app + "/whoami")
	t.Logf("server stopped: %d after %v", r.Status, r.Took.Round(time.Millisecond))
	expect(t, "read while stopped", r, 500, "")
	if r.Took > faultTimeout {
		t.Errorf("a read with the server stopped took %v, want a prompt failure", r.Took)
	}
	pg.Start()
	expect(t, "read after a second restart", c.Get(app+"/whoami"), 200, "user=alice visits=1")
	expect(t, "write after a second restart", c.Post(app+"/visit"), 200, "user=alice visits=2")
}

func TestStalledServerFailsRequestsWithinTheTimeout(t *testing.T) {
	pg := startPostgres(t)
	pool := newPool(t, pg, newSchema(t, pg), nil)
	app := visitsApp(t, newStore(t, pool, pgxstore.Config{Timeout: faultTimeout}), 0, true)
	c := sessiontest.NewClient(t)
	expect(t, "login", c.Post(app+"/login?user=alice"), 200, "user=alice visits=0")

	pg.Pause() // if the test fails while paused, Stop resumes it to stop it
	for _, tc := range []struct {
		name, method, path string
		fresh              bool // a browser without a session
		wantStatus         int
	}{
		{"read", http.MethodGet, "/whoami", false, 500},
		{"write", http.MethodPost, "/visit", false, 500},
		{"first write of a new session", http.MethodPost, "/visit", true, 500},
		{"login", http.MethodPost, "/login?user=bob", false, 500},
		{"no session use", http.MethodGet, "/static", false, 200},
	} {
		b := c
		if tc.fresh {
			b = sessiontest.NewClient(t)
		}
		r := b.Do(tc.method, app+tc.path)
		t.Logf("stalled server, %s: %d after %v", tc.name, r.Status, r.Took.Round(time.Millisecond))
		if r.Status != tc.wantStatus {
			t.Errorf("%s: got %d %q, want %d", tc.name, r.Status, r.Body, tc.wantStatus)
		}
		if r.Took > faultTimeout+faultTimeout/2 {
			t.Errorf("%s took %v on a stalled server; want about the Store's timeout, %v", tc.name, r.Took, faultTimeout)
		}
	}

	pg.Resume()
	expect(t, "read after resume", c.Get(app+"/whoami"), 200, "user=alice visits=0")
	expect(t, "write after resume", c.Post(app+"/visit"), 200, "user=alice visits=1")
}

func TestNoFreeConnectionSlotFailsPromptlyAndRecovers(t *testing.T) {
	pg := startPostgres(t, "max_connections=10")
	pool := newPool(t, pg, newSchema(t, pg), nil)
	app := visitsApp(t, newStore(t, pool, pgxstore.Config{Timeout: faultTimeout}), 0, false)
	c := sessiontest.NewClient(t)
	expect(t, "login", c.Post(app+"/login?user=alice"), 200, "user=alice visits=0")

	// The app's pool has to connect anew, and other clients take every slot.
	pool.Reset()
	var hogs []*pgx.Conn
	defer func() {
		for _, h := range hogs {
			h.Close(t.Context())
		}
	}()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		h, err := pgx.Connect(t.Context(), pg.URL())
		if err != nil {
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "53300" { // too_many_connections
				t.Fatalf("taking the slots: %v", err)
			}
			if len(hogs) == 10 {
				break
			}
			time.Sleep(20 * time.Millisecond) // the pool's closed connection's backend is on its way out
			continue
		}
		hogs = append(hogs, h)
	}
	t.Logf("%d connections hold every slot", len(hogs))
	for _, tc := range []struct{ name, method, path string }{
		{"read", http.MethodGet, "/whoami"},
		{"write", http.MethodPost, "/visit"},
	} {
		r := c.Do(tc.method, app+tc.path)
		t.Logf("no free slot, %s: %d after %v", tc.name, r.Status, r.Took.Round(time.Millisecond))
		expect(t, tc.name+" with no free slot", r, 500, "")
		if r.Took > faultTimeout/2 {
			t.Errorf("%s with no free slot took %v, want a prompt failure (the server refuses at once)", tc.name, r.Took)
		}
	}

	for _, h := range hogs {
		h.Close(t.Context())
	}
	hogs = nil
	expect(t, "read once slots are free", c.Get(app+"/whoami"), 200, "user=alice visits=0")
	expect(t, "write once slots are free", c.Post(app+"/visit"), 200, "user=alice visits=1")
}
