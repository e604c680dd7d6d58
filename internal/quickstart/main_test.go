package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/scsession/scsession"
)

func TestQuickstartWorks(t *testing.T) {
	srv := httptest.NewServer(routes(scsession.New[Session](nil)))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(path string) (int, string) {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	get("/")
	if _, body := get("/"); body != "Hello \"\", visit 2\n" {
		t.Fatalf("second visit: %q", body)
	}
	if code, _ := get("/account"); code != http.StatusUnauthorized {
		t.Fatalf("account before login: %d, want 401", code)
	}
	if _, err := c.PostForm(srv.URL+"/login", url.Values{"user": {"ann"}}); err != nil {
		t.Fatal(err)
	}
	if _, body := get("/account"); body != "Account of ann\n" {
		t.Fatalf("account after login: %q", body)
	}
}

// TestREADMEShowsThisProgram keeps the README's copy the program that the
// test above runs.
func TestREADMEShowsThisProgram(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, program, _ := strings.Cut(string(src), "package main\n") // the README skips the doc comment
	if !strings.Contains(string(readme), "```go\npackage main\n"+program+"```") {
		t.Fatal("README.md's first program is not internal/quickstart/main.go (from `package main` on): copy it over")
	}
}
