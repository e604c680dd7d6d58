package scsession

import (
	"context"
	"net/http"
	"strings"
)

// API clients (mobile apps, CLIs, single-page apps on another origin) carry
// the session token in a request header instead of the cookie. This file
// reads that header and answers in it.

// WithTokenHeader lets clients carry the session token in the named request
// header instead of the cookie: "Authorization", with the value "Bearer
// <token>", or a header of your own such as "X-Session-Token", with the token
// as the value. Hand the token to the client with Token, typically in the
// body of a login response.
//
// A request that carries the header uses it, even if it also carries a
// cookie, and is never sent a cookie. When its token changes (RenewToken, or
// re-signing after a key rotation), the response carries the new one in the
// same header, in the same form, so a client keeps the last value it was
// sent and sends it as it is; after Destroy that value is empty. A browser
// script on another origin can read the header only if your CORS middleware
// lists it in Access-Control-Expose-Headers. An Authorization header with
// another scheme (Basic...) is not a session token and is left to the app.
// Everything else works as with cookies: signing, RenewToken, Destroy,
// revocation and the concurrency guarantees. A token in the URL is never
// accepted.
func WithTokenHeader(name string) Option {
	return func(c *config) { c.tokenHeader = http.CanonicalHeaderKey(name) }
}

// Token returns the request's session token, signed as its cookie would be,
// to hand to an API client that sends it back in the WithTokenHeader header.
// A session with no token yet is given one, and saved with the response so
// that the token works. After RenewToken, Token returns the new token, so
// call it last. A request that came with no session cookie is then answered
// as one that came with the header: its response sets no cookie (and carries
// the token in the header), so an API client's login does not also get a
// cookie. A request with a session cookie keeps it up to date as usual: the
// browser's session is never lost, and the token names the same session.
// Token returns ErrSkipped on a skipped request, the store's error if the
// session could not be loaded, and ErrCommitted if the session needs a token
// once the response has started. It panics with WithCookieStore, which has
// no tokens.
func (m *Manager[T]) Token(ctx context.Context) (string, error) {
	if m.sealer != nil {
		panic("scsession: Token needs a server-side store: with WithCookieStore the session itself travels in the cookie, and there is no token to hand out")
	}
	s := m.from(ctx)
	if s == m.skipped {
		return "", ErrSkipped
	}
	s.mu.Lock()
	defer m.unlock(ctx, s)
	if err := m.load(ctx, s); err != nil {
		return "", err
	}
	if s.token == "" {
		if s.committed {
			return "", m.late(s)
		}
		s.token = newToken()
		s.why |= renewed // a new token to save, with no old one to retire
	}
	if s.held == "" {
		s.tokenOnly = true // no cookie session to keep: an API client's login gets no cookie
	}
	return m.sign(s.token), nil
}

// ViaHeader reports whether the request's session token came in the
// WithTokenHeader header rather than the cookie. Such a request needs no
// CSRF token: a browser never adds that header to a cross-site request by
// itself. ViaHeader panics if
// LoadAndSave is not in the middleware chain.
func (m *Manager[T]) ViaHeader(ctx context.Context) bool {
	s := m.from(ctx)
	if s == m.skipped {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.viaHeader
}

// inHeader reports whether the client is answered in the token header,
// never with a cookie: it came with one, or called Token with no cookie.
func (s *session[T]) inHeader() bool { return s.viaHeader || s.tokenOnly }

// headerToken returns the token the request's token header carries, if it
// carries one.
func (m *Manager[T]) headerToken(r *http.Request) (string, bool) {
	name := m.cfg.tokenHeader
	if name == "" {
		return "", false
	}
	v := r.Header.Get(name)
	if name == "Authorization" {
		scheme, token, ok := strings.Cut(v, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", false // another scheme: not ours
		}
		return strings.TrimSpace(token), true
	}
	return v, v != ""
}

// writeHeaderToken answers a request that came with the token header with
// token in it, in the form it came in; an empty token tells the client to
// drop the one it holds.
func (m *Manager[T]) writeHeaderToken(w http.ResponseWriter, token string) {
	name, value := m.cfg.tokenHeader, m.sign(token)
	if name == "Authorization" && value != "" {
		value = "Bearer " + value
	}
	h := w.Header()
	h.Set(name, value)
	h.Add("Cache-Control", `no-cache="`+name+`"`)
}
