package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/scsession/scsession/internal/sessiontest"
)

// TestTwoInstancesShareAPostgres: two instances on one PostgreSQL, with the
// same keys, are one site: a login, a cart, a logout and the list of
// sessions are the same on both, for browsers and for the API.
func TestTwoInstancesShareAPostgres(t *testing.T) {
	pg := sessiontest.StartPostgres(t)
	keys := [][]byte{[]byte("0123456789abcdef0123456789abcdef")}
	a := startApp(t, config{PostgresURL: pg.URL(), Keys: keys}).URL
	b := startApp(t, config{PostgresURL: pg.URL(), Keys: keys}).URL

	laptop := newDevice(t, a, chromeLinux)
	login(t, laptop, "demo").redirectsTo(t, "/members")
	laptop.base = b
	laptop.get("/members").has(t, "Welcome back!")
	laptop.post("/cart/add", "item", "tea")
	laptop.base = a
	laptop.get("/cart").has(t, "Green tea added to your cart.", `<tr data-item="tea">`)

	phone := newDevice(t, b, safariIPhone)
	login(t, phone, "demo").redirectsTo(t, "/members")
	rows := laptop.sessionList() // on a
	if len(rows) != 2 || !rows[0].Current && !rows[1].Current {
		t.Fatalf("the sessions page on a lists %+v, want the laptop (current) and the phone", rows)
	}
	idOf(t, rows, "Chrome on Linux")
	idOf(t, rows, "Safari on iPhone")

	api := newAPIClient(t, a)
	api.login()
	api.base = b
	api.do(http.MethodPost, "/api/cart", `{"item":"jam"}`)
	if got := api.cart().String(); got != "demo: jam=1 (1)" {
		t.Errorf("the API's cart on b: %s", got)
	}
	if n := len(laptop.sessionList()); n != 3 {
		t.Errorf("with the API's session, %d sessions listed, want 3", n)
	}

	phone.get("/") // on b, for the CSRF token that came with the login
	phone.post("/logout").redirectsTo(t, "/")
	phone.base = a
	if loggedIn(t, phone) {
		t.Error("the phone logged out on b is still logged in on a")
	}
	laptop.base = b
	if n := len(laptop.sessionList()); n != 2 {
		t.Errorf("after the phone's logout, %d sessions listed, want 2", n)
	}
	api.do(http.MethodPost, "/api/logout", nil)
	api.base = a
	api.do(http.MethodGet, "/api/cart", nil).error(t, http.StatusUnauthorized)
	laptop.post("/logout").redirectsTo(t, "/")
	laptop.base = a
	laptop.get("/members").redirectsTo(t, "/login")
}

func TestUnreachablePostgresStopsTheStart(t *testing.T) {
	_, err := newApp(config{PostgresURL: "postgres://app:secret@127.0.0.1:1/app?connect_timeout=2"})
	if err == nil {
		t.Fatal("newApp with an unreachable PostgreSQL: no error")
	}
	if msg := err.Error(); !strings.Contains(msg, "postgres app@127.0.0.1:1/app") || strings.Contains(msg, "secret") {
		t.Errorf("the error %q: want it to name the database, without the password", msg)
	}
}
