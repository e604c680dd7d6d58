package goredisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scsession/scsession/goredisstore"
)

// Tests from a review of goredisstore: each shows a defect, or a claim of
// the documentation that does not hold, and fails until it is fixed.
// rvHook is a go-redis hook that plays faults on chosen commands: each rule
// fires on the first command it matches (a script's NOSCRIPT attempt does
// not count), then never again.
type rvHook struct {
	mu    sync.Mutex
	rules []*rvRule
}
type rvRule struct {
	name  string
	match func(args []string) bool
	// do runs the command (or not) through next and returns its error.
	do    func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error
	fired bool
}

func (h *rvHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *rvHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *rvHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		args := rvArgs(cmd)
		h.mu.Lock()
		var rule *rvRule
		for _, r := range h.rules {
			if !r.fired && r.match(args) {
				rule = r
				break
			}
		}
		h.mu.Unlock()
		if rule == nil {
			return next(ctx, cmd)
		}
		err := rule.do(ctx, cmd, next)
		if !redis.HasErrorPrefix(err, "NOSCRIPT") {
			h.mu.Lock()
			rule.fired = true
			h.mu.Unlock()
		}
		return err
	}
}

// lostReply makes the first matching command reach Redis twice, its caller
// getting the second answer: what Redis sees, and what the caller gets, when
// go-redis retries a command whose answer a read timeout or a dropped
// connection lost after Redis had applied it (shouldRetry, in go-redis's
// error.go, retries both). between, if not nil, runs between the two.
func (h *rvHook) lostReply(name string, match func([]string) bool, between func()) {
	h.add(&rvRule{name: name, match: match, do: func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error {
		if err := next(ctx, cmd); redis.HasErrorPrefix(err, "NOSCRIPT") {
			return err
		}
		if between != nil {
			between()
		}
		cmd.SetErr(nil)
		return next(ctx, cmd)
	}})
}

// after runs fn once the first matching command has been answered.
func (h *rvHook) after(name string, match func([]string) bool, fn func()) {
	h.add(&rvRule{name: name, match: match, do: func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error {
		err := next(ctx, cmd)
		if !redis.HasErrorPrefix(err, "NOSCRIPT") {
			fn()
		}
		return err
	}})
}

// fail answers the first matching command with err, without sending it.
func (h *rvHook) fail(name string, match func([]string) bool, err error) {
	h.add(&rvRule{name: name, match: match, do: func(_ context.Context, cmd redis.Cmder, _ redis.ProcessHook) error {
		cmd.SetErr(err)
		return err
	}})
}
func (h *rvHook) add(r *rvRule) {
	h.mu.Lock()
	h.rules = append(h.rules, r)
	h.mu.Unlock()
}

// fired fails t for each rule that matched no command: the fault was not
// played, and the test proves nothing.
func (h *rvHook) fired(t *testing.T) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.rules {
		if !r.fired {
			t.Errorf("the fault %q was not played: no command matched it", r.name)
		}
	}
}

// rvArgs is cmd's arguments as text.
func rvArgs(cmd redis.Cmder) []string {
	var out []string
	for _, a := range cmd.Args() {
		switch v := a.(type) {
		case string:
			out = append(out, v)
		case []byte:
			out = append(out, string(v))
		default:
			out = append(out, fmt.Sprint(v))
		}
	}
	return out
}

// rvStoreHolding returns a store on client, with a prefix of its own, whose
// token "old" holds data, and the expiry the renewals give.
func rvStoreHolding(t *testing.T, client redis.UniversalClient, data string) (*goredisstore.Store, string, time.Time) {
	t.Helper()
	prefix := newPrefix()
	store := goredisstore.NewWithPrefix(client, prefix)
	expiry := time.Now().Add(rvHour)
	if err := store.CommitCtx(t.Context(), "old", []byte(data), expiry); err != nil {
		t.Fatal(err)
	}
	return store, prefix, expiry
}

// rvWrite matches the script of a renewal's first step, writing key.
func rvWrite(key string) func([]string) bool {
	return func(args []string) bool {
		cmd := strings.ToLower(args[0])
		return (cmd == "evalsha" || cmd == "eval") && len(args) == 8 && args[2] == "2" && args[3] == key
	}
}

// rvDeleteOnce matches the script of a renewal's delete on key, which
// leaves a mark so that a retry of it is known as done.
func rvDeleteOnce(key string) func([]string) bool {
	return func(args []string) bool {
		cmd := strings.ToLower(args[0])
		return (cmd == "evalsha" || cmd == "eval") && len(args) == 7 && args[2] == "2" && args[3] == key
	}
}

// rvCommand matches the command name on key.
func rvCommand(name, key string) func([]string) bool {
	return func(args []string) bool {
		return len(args) > 1 && strings.EqualFold(args[0], name) && args[1] == key
	}
}

// rvInSteps runs test on the clients with which CompareAndRenew works in
// steps: a ClusterClient on a cluster of 3 masters and 3 replicas, and a
// Ring (here of one shard), each with a hook of its own.
func rvInSteps(t *testing.T, test func(t *testing.T, client redis.UniversalClient, hook *rvHook)) {
	cl := startCluster(t)
	srv := startRedis(t)
	t.Run("cluster", func(t *testing.T) {
		c, h := newClusterClient(t, cl), &rvHook{}
		c.AddHook(h)
		test(t, c, h)
	})
	t.Run("ring", func(t *testing.T) {
		r := redis.NewRing(&redis.RingOptions{
			Addrs:       map[string]string{"one": srv.Addr},
			DialTimeout: redisTimeout, ReadTimeout: redisTimeout, WriteTimeout: redisTimeout,
			DisableIdentity: true,
		})
		t.Cleanup(func() { r.Close() })
		h := &rvHook{}
		r.AddHook(h)
		test(t, r, h)
	})
}

var rvHour = time.Hour

// A first step (the write of the new token) that Redis applied but whose
// answer was lost, and which the client sent again, is known as done: the
// renewal goes on, rather than finding the token taken.
func TestRenewalInStepsSurvivesARetriedFirstStep(t *testing.T) {
	rvInSteps(t, func(t *testing.T, client redis.UniversalClient, hook *rvHook) {
		ctx := t.Context()
		store, prefix, expiry := rvStoreHolding(t, client, "v1")
		hook.lostReply("the write of the new token, retried", rvWrite(prefix+"new"), nil)
		cur, renewed, err := store.CompareAndRenew(ctx, "old", []byte("v1"), "new", []byte("v2"), expiry)
		hook.fired(t)
		if err != nil || !renewed {
			t.Errorf("CompareAndRenew = %q, %v, %v; want renewed", cur, renewed, err)
		}
		if b, found, _ := store.FindCtx(ctx, "new"); !found || string(b) != "v2" {
			t.Errorf("the new token holds %q (found %v), want v2", b, found)
		}
	})
}

// A request cancelled after step 1 leaves no second session: the write is
// undone, though the request's context is gone.
func TestCancelledRenewalInStepsLeavesNoSecondSession(t *testing.T) {
	rvInSteps(t, func(t *testing.T, client redis.UniversalClient, hook *rvHook) {
		prefix := newPrefix()
		store := goredisstore.NewWithPrefix(client, prefix)
		expiry := time.Now().Add(rvHour)
		if err := store.CommitCtx(t.Context(), "old", []byte("v1"), expiry); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		hook.after("the request cancelled after step 1", rvWrite(prefix+"new"), cancel)
		_, renewed, err := store.CompareAndRenew(ctx, "old", []byte("v1"), "new", []byte("v2"), expiry)
		hook.fired(t)
		if renewed || !errors.Is(err, context.Canceled) {
			t.Errorf("CompareAndRenew: renewed %v, %v; want context.Canceled", renewed, err)
		}
		if b, found, _ := store.FindCtx(t.Context(), "new"); found {
			t.Errorf("the new token holds %q after a failed renewal: step 1 was not undone", b)
		}
	})
}

// A taken token is ErrTokenTaken on one node (the script's error reply) as
// in the renewal in steps.
func TestTakenTokenIsErrTokenTakenOnEveryClient(t *testing.T) {
	srv := startRedis(t)
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"one": srv.Addr}, DisableIdentity: true})
	t.Cleanup(func() { ring.Close() })
	for name, client := range map[string]redis.UniversalClient{"single node": newClient(t, srv.Addr), "ring": ring} {
		t.Run(name, func(t *testing.T) {
			ctx, store := t.Context(), prefixed(client)
			expiry := time.Now().Add(rvHour)
			for token, b := range map[string]string{"old": "v1", "new": "someone else's"} {
				if err := store.CommitCtx(ctx, token, []byte(b), expiry); err != nil {
					t.Fatal(err)
				}
			}
			_, renewed, err := store.CompareAndRenew(ctx, "old", []byte("v1"), "new", []byte("v2"), expiry)
			if renewed || !errors.Is(err, goredisstore.ErrTokenTaken) {
				t.Errorf("CompareAndRenew onto a taken token: renewed %v, %v (%T); want ErrTokenTaken", renewed, err, err)
			}
		})
	}
}

// With ContextTimeoutEnabled, as New's documentation recommends, a
// request's deadline bounds its wait on a stalled Redis, well before the
// client's ReadTimeout.
func TestARequestsDeadlineStopsItsWaitOnAStalledRedis(t *testing.T) {
	const readTimeout = 2 * time.Second
	srv := startRedis(t)
	cases := []struct {
		name       string
		ctxTimeout bool // the request's context has a deadline, as under http.TimeoutHandler
		enabled    bool // ContextTimeoutEnabled
	}{
		{"deadline, ContextTimeoutEnabled", true, true}, // what the documentation recommends
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client := redis.NewClient(&redis.Options{
				Addr:        srv.Addr,
				DialTimeout: readTimeout, ReadTimeout: readTimeout, WriteTimeout: readTimeout,
				ContextTimeoutEnabled: tc.enabled,
				DisableIdentity:       true,
			})
			t.Cleanup(func() { client.Close() })
			store := prefixed(client)
			if _, _, err := store.FindCtx(t.Context(), "warm"); err != nil { // a connection, ready
				t.Fatal(err)
			}
			srv.Pause()
			defer srv.Resume()
			var ctx context.Context
			var cancel context.CancelFunc
			if tc.ctxTimeout {
				ctx, cancel = context.WithTimeout(t.Context(), 100*time.Millisecond)
			} else {
				ctx, cancel = context.WithCancel(t.Context())
				time.AfterFunc(100*time.Millisecond, cancel)
			}
			defer cancel()
			start := time.Now()
			_, _, err := store.FindCtx(ctx, "token")
			if took := time.Since(start); took > time.Second {
				t.Errorf("FindCtx on a stalled Redis returned %v after %v, though its request ended after 100ms", err, took.Round(time.Millisecond))
			}
		})
	}
}

// A renewal whose step 2 (delete the old token if it holds what the request
// read) was applied but whose answer was lost, and which go-redis sent again,
// is known as done: the login keeps its new token.
func TestRenewalInStepsSurvivesARetriedDeleteOfTheOldToken(t *testing.T) {
	rvInSteps(t, func(t *testing.T, client redis.UniversalClient, hook *rvHook) {
		ctx := t.Context()
		store, prefix, expiry := rvStoreHolding(t, client, "v1")
		hook.lostReply("the delete of the old token, retried", rvDeleteOnce(prefix+"old"), nil)
		cur, renewed, err := store.CompareAndRenew(ctx, "old", []byte("v1"), "new", []byte("v2"), expiry)
		hook.fired(t)
		if err != nil || !renewed {
			t.Errorf("CompareAndRenew = %q, %v, %v; want renewed: Redis did renew the session", cur, renewed, err)
		}
		if b, found, err := store.FindCtx(ctx, "new"); !found || string(b) != "v2" {
			t.Errorf("the new token holds %q (found %v, %v), want v2: the login was lost", b, found, err)
		}
	})
}

// A renewal whose old token holds a newer save undoes step 1. An undo that
// was applied but whose answer was lost, retried by go-redis, is known as
// done, not taken for a revocation: the old token keeps the other request's
// change.
func TestRenewalInStepsSurvivesARetriedUndo(t *testing.T) {
	rvInSteps(t, func(t *testing.T, client redis.UniversalClient, hook *rvHook) {
		ctx := t.Context()
		store, prefix, expiry := rvStoreHolding(t, client, "v1+jam") // another request saved v1+jam after this one read v1
		hook.lostReply("the undo of the new token, retried", rvDeleteOnce(prefix+"new"), nil)
		cur, renewed, err := store.CompareAndRenew(ctx, "old", []byte("v1"), "new", []byte("v2"), expiry)
		hook.fired(t)
		if err != nil || renewed || string(cur) != "v1+jam" {
			t.Errorf("CompareAndRenew = %q, %v, %v; want v1+jam, false, nil: what the old token holds", cur, renewed, err)
		}
		if b, found, err := store.FindCtx(ctx, "old"); !found || string(b) != "v1+jam" {
			t.Errorf("the old token holds %q (found %v, %v), want v1+jam: the session was ended", b, found, err)
		}
	})
}

// A revocation that deletes the new token between step 1 and go-redis's
// retry of it (its answer lost) stays: the retry does not write the token
// again, and the login stays revoked, as the package documentation says.
func TestRetriedStepOneDoesNotBringBackARevokedToken(t *testing.T) {
	rvInSteps(t, func(t *testing.T, client redis.UniversalClient, hook *rvHook) {
		ctx := t.Context()
		store, prefix, expiry := rvStoreHolding(t, client, "v1")
		revoke := func() { // a listing found the new token and ended it
			if err := store.DeleteCtx(context.Background(), "new"); err != nil {
				t.Error(err)
			}
		}
		hook.lostReply("the SET NX of the new token, retried after a revocation", rvWrite(prefix+"new"), revoke)
		cur, renewed, err := store.CompareAndRenew(ctx, "old", []byte("v1"), "new", []byte("v2"), expiry)
		hook.fired(t)
		if b, found, _ := store.FindCtx(ctx, "new"); found {
			t.Errorf("CompareAndRenew = %q, %v, %v, and the revoked new token holds %q again", cur, renewed, err, b)
		}
	})
}
