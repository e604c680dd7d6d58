// Package browser is a browser in miniature for the tests of every module:
// a cookie jar, no redirects followed, and what came back, to assert on.
package browser

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"
	"time"
)

// Client is a browser in miniature: one cookie jar, no redirects followed,
// and what came back, to assert on. Cookies ignore ports, so one Client
// visiting two test servers on 127.0.0.1 sends both the same cookie, as a
// browser does behind a load balancer. It knows scs's default cookie name,
// "session".
type Client struct {
	Agent string // the User-Agent it sends, if not empty
	t     testing.TB
	jar   *cookiejar.Jar
	http  *http.Client
}

// Response is what a request got back, and how long it took.
type Response struct {
	Status int
	Body   string
	Header http.Header
	Took   time.Duration
}

// New returns a browser with an empty cookie jar; a failed request
// fails t.
func New(t testing.TB) *Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Client{t: t, jar: jar, http: &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// T is the test the client fails when a request does.
func (c *Client) T() testing.TB { return c.t }

// Do sends a request with the jar's cookies and the header's name, value
// pairs.
func (c *Client) Do(method, rawURL string, header ...string) Response {
	c.t.Helper()
	return c.send(c.http, method, rawURL, header...)
}

// Get and Post are Do with their method.
func (c *Client) Get(rawURL string, header ...string) Response {
	c.t.Helper()
	return c.Do(http.MethodGet, rawURL, header...)
}

func (c *Client) Post(rawURL string, header ...string) Response {
	c.t.Helper()
	return c.Do(http.MethodPost, rawURL, header...)
}

// Replay sends a request with the given session cookie value instead of the
// jar's, as an attacker holding an old cookie would.
func (c *Client) Replay(method, rawURL, cookie string) Response {
	c.t.Helper()
	bare := &http.Client{Timeout: c.http.Timeout, CheckRedirect: c.http.CheckRedirect}
	return c.send(bare, method, rawURL, "Cookie", (&http.Cookie{Name: "session", Value: cookie}).String())
}

func (c *Client) send(hc *http.Client, method, rawURL string, header ...string) Response {
	c.t.Helper()
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.Agent != "" {
		req.Header.Set("User-Agent", c.Agent)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return Response{Status: resp.StatusCode, Body: string(b), Header: resp.Header, Took: time.Since(start)}
}

// Cookie returns the value of the session cookie the client holds for
// rawURL, or "".
func (c *Client) Cookie(rawURL string) string {
	for _, ck := range c.jar.Cookies(c.url(rawURL)) {
		if ck.Name == "session" {
			return ck.Value
		}
	}
	return ""
}

// SetCookie makes the client send value as its session cookie, as another
// tab of the same browser does.
func (c *Client) SetCookie(rawURL, value string) {
	c.jar.SetCookies(c.url(rawURL), []*http.Cookie{{Name: "session", Value: value, Path: "/"}})
}

func (c *Client) url(rawURL string) *url.URL {
	u, err := url.Parse(rawURL)
	if err != nil {
		c.t.Fatal(err)
	}
	return u
}
