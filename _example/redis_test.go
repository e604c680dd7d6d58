package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/scsession/scsession/internal/sessiontest"
)

// TestRedisFlagPicksTheStore reads -redis values without connecting: one
// host:port is redigo's redisstore, a list of nodes or a URL is
// goredisstore, on a cluster when it names several nodes.
func TestRedisFlagPicksTheStore(t *testing.T) {
	for _, tc := range []struct {
		flag, store, name string
	}{
		{"127.0.0.1:6379", "*redisstore.Store", "redis 127.0.0.1:6379"},
		{" 127.0.0.1:6379 ", "*redisstore.Store", "redis 127.0.0.1:6379"},
		{"10.0.0.1:6379,10.0.0.2:6379,10.0.0.3:6379", "*goredisstore.Store", "redis cluster 10.0.0.1:6379,10.0.0.2:6379,10.0.0.3:6379"},
		{"10.0.0.1:6379, 10.0.0.2:6379,", "*goredisstore.Store", "redis cluster 10.0.0.1:6379,10.0.0.2:6379"},
		{"redis://127.0.0.1:6379/2", "*goredisstore.Store", "redis redis://127.0.0.1:6379/2"},
		{"redis://:secret@127.0.0.1:6379", "*goredisstore.Store", "redis redis://:xxxxx@127.0.0.1:6379"},
		{"redis://10.0.0.1:6379?addr=10.0.0.2:6379&addr=10.0.0.3:6379", "*goredisstore.Store", "redis cluster redis://10.0.0.1:6379?addr=10.0.0.2:6379&addr=10.0.0.3:6379"},
	} {
		r, err := newRedis(tc.flag)
		if err != nil {
			t.Errorf("-redis %q: %v", tc.flag, err)
			continue
		}
		if got := fmt.Sprintf("%T", r.store); got != tc.store || r.name != tc.name {
			t.Errorf("-redis %q: %s, %q; want %s, %q", tc.flag, got, r.name, tc.store, tc.name)
		}
		if strings.Contains(r.name, "secret") {
			t.Errorf("-redis %q: the log would show the password: %q", tc.flag, r.name)
		}
		r.close()
	}
	for _, bad := range []string{"http://127.0.0.1:6379", "redis://127.0.0.1:6379?bogus=1", "redis://10.0.0.1:6379?addr=10.0.0.2:6379&bogus=1"} {
		if r, err := newRedis(bad); err == nil {
			t.Errorf("-redis %q: %s, no error", bad, r.name)
			r.close()
		}
	}
}

// TestTwoInstancesShareACluster is TestTwoInstancesShareRedis on a Redis
// Cluster of 3 masters and 3 replicas, each instance given the nodes as a
// list, then as a URL.
func TestTwoInstancesShareACluster(t *testing.T) {
	cl := sessiontest.StartCluster(t)
	nodes := cl.Addrs()
	keys := [][]byte{[]byte("0123456789abcdef0123456789abcdef")}
	a := startApp(t, config{RedisAddr: strings.Join(nodes, ","), Keys: keys})
	b := startApp(t, config{RedisAddr: "redis://" + nodes[0] + "?addr=" + nodes[1] + "&addr=" + nodes[2], Keys: keys})

	for range 3 { // sessions in a few slots, on more than one master
		br := newBrowser(t, a.URL)
		login(t, br, "demo").redirectsTo(t, "/members")
		br.base = b.URL
		br.get("/members").has(t, "Welcome back!")
		br.post("/cart/add", "item", "tea")
		br.base = a.URL
		br.get("/cart").has(t, "Green tea added to your cart.", `<tr data-item="tea">`)
		br.get("/sessions").has(t, "This device")
		br.post("/logout").redirectsTo(t, "/")
		br.base = b.URL
		br.get("/members").redirectsTo(t, "/login")
	}

	if _, err := newApp(config{RedisAddr: "127.0.0.1:1,127.0.0.1:2"}); err == nil {
		t.Error("newApp with an unreachable cluster: no error")
	}
}

// TestRedisURLErrorHidesThePassword: a -redis URL that url.Parse rejects
// is not echoed in the error: main logs it, and it may hold a password.
func TestRedisURLErrorHidesThePassword(t *testing.T) {
	for _, raw := range []string{
		"redis://:hunter2@db.internal:badport/0",
		"redis://app:hunter2@db internal:6379/0",
	} {
		_, err := newApp(config{RedisAddr: raw})
		if err == nil {
			t.Fatalf("%s: no error", raw)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}
