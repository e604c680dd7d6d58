package goredisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/redis/go-redis/v9"

	"github.com/scsession/scsession"
	"github.com/scsession/scsession/goredisstore"
	"github.com/scsession/scsession/internal/sessiontest"
)

// What the Manager discovers by type assertion, checked at compile time.
var (
	_ scs.CtxStore             = (*goredisstore.Store)(nil)
	_ scsession.RenewStore     = (*goredisstore.Store)(nil)
	_ scsession.UserIndexStore = (*goredisstore.Store)(nil)
	_ redis.UniversalClient    = (*redis.ClusterClient)(nil)
)

func TestCancelledRequestDoesNotWaitOnRedis(t *testing.T) {
	srv := startRedis(t)
	store := goredisstore.New(newClient(t, srv.Addr))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := store.FindCtx(ctx, "token"); !errors.Is(err, context.Canceled) {
		t.Errorf("FindCtx with a cancelled context returned %v, want context.Canceled", err)
	}
	if err := store.CommitCtx(ctx, "token", []byte("x"), time.Now().Add(time.Hour)); !errors.Is(err, context.Canceled) {
		t.Errorf("CommitCtx with a cancelled context returned %v, want context.Canceled", err)
	}
}

func TestKeyLayoutPutsEachUsersIndexInASlotOfItsOwn(t *testing.T) {
	srv := startRedis(t)
	store := goredisstore.New(newClient(t, srv.Addr))
	expiry := time.Now().Add(time.Hour)
	if err := store.Commit("tok", []byte("data"), expiry); err != nil {
		t.Fatal(err)
	}
	if err := store.AddUserSession(t.Context(), "alice", "tok", expiry); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"scs:session:tok", "scs:user:{alice}"} {
		if n, err := sessiontest.Command(srv.Addr, "EXISTS", key); err != nil || n != "1" {
			t.Errorf("EXISTS %s: %q %v, want 1", key, n, err)
		}
	}
}

func TestListingAUsersSessionsOnAClusterTouchesOnlyThem(t *testing.T) {
	var trips tripCounter
	client := newClusterClient(t, startCluster(t))
	client.OnNewNode(func(node *redis.Client) { node.AddHook(&trips) })
	app := sessiontest.NewAccountsApp(t, prefixed(client), time.Hour)
	for i := range 3 {
		sessiontest.NewDevice(t, fmt.Sprint("device ", i)).Post(app.URL + "/login?name=erin")
	}
	for i := range 50 { // other users' sessions, which listing erin's must not touch
		sessiontest.NewDevice(t, "other").Post(app.URL + fmt.Sprintf("/login?name=user%d", i))
	}
	app.M.Sessions(t.Context(), "erin") // the master of erin's slot learns the script
	trips.take()
	infos, err := app.M.Sessions(t.Context(), "erin")
	if err != nil || len(infos) != 3 {
		t.Fatalf("erin's sessions: %+v (%v)", infos, err)
	}
	got := trips.take()
	t.Logf("listing 3 sessions: %d round trips %q", len(got), got)
	if len(got) < 2 || len(got) > 4 || got[0] != "EVALSHA" || strings.Count(strings.Join(got[1:], " "), "GET") != 3 {
		t.Fatalf("listing took %q, want one script call, then the 3 GETs in one round trip per node", got)
	}
}
