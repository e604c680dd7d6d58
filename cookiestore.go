package scsession

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// With WithCookieStore there is no server store: the session's stored bytes
// travel in the cookie, sealed (seal.go). This file connects that to the
// Manager: the cookie is read where the store would be, and written where
// the store would be saved.

// WithCookieStore keeps each session in its cookie instead of a server-side
// store: T, its flash messages and its times are sealed with AES-256-GCM
// under keys[0] (a fresh random nonce for every seal), and a cookie sealed
// with any of the keys opens. The cookie reveals nothing of T, and one
// changed in any bit, cut short, or put together from two sessions' chunks
// reads as a new session, with an EventRejected. To rotate, put the new key
// first and keep the old ones until the cookies they sealed have expired: a
// cookie sealed with an old key is sealed again with the new one on its next
// request; one sealed with a key no longer listed reads as a new session
// (and, as it may be another instance's mid-rotation, is not expired: it is
// replaced at the session's next save).
// Each key must be at least 32 random bytes (New panics otherwise), secret
// and the same on every instance. sm.Store is never touched.
//
// Lifetime and IdleTimeout are enforced from times sealed inside the cookie,
// so a client that keeps a cookie past its Expires gets nothing from it.
// Turning IdleTimeout on applies to the cookies sealed before at once: a
// session whose last save is older than it ends. The
// sealed bytes are compressed when that pays; a session that does not fit one
// cookie is spread over several (session, session.1, ...), up to 5 cookies of
// 3,800 characters each. A save beyond that fails through the ErrorFunc
// with ErrCookieTooLarge, rather than leave the browser to drop an
// oversized cookie silently. Every request carries the whole session: past
// two cookies, proxies that limit a request header line to 8 KB (nginx's
// and Apache's defaults) refuse it. The compressed size shows in the
// cookie's length, so do not keep text an attacker chooses next to a secret
// in the same session. A key should seal fewer than 2^32 cookies (random
// nonces): rotate it long before, at least yearly.
//
// What a cookie store cannot do: a session cannot be ended on the server, so
// a stolen cookie stays valid until it expires (keep Lifetime and IdleTimeout
// short); sessions cannot be listed or revoked (New panics with WithUserID);
// and of concurrent requests of one session, the last response wins.
// WithTokenHeader, Token and WithSigningKeys need a server store too (New
// and Token panic).
func WithCookieStore(keys ...[]byte) Option {
	return func(c *config) { c.sealKeys, c.cookieStore = keys, true }
}

// ErrCookieTooLarge is given to the ErrorFunc, wrapped with the sizes, when a
// session sealed by WithCookieStore does not fit in its 5 cookies: it was not
// saved, and the client keeps the cookie it had. Keep less in the session,
// or use a server-side store.
var ErrCookieTooLarge = errors.New("scsession: session too large for the cookie store")

// cookieBackend is the backend of WithCookieStore. The session's "store" is
// the client's cookie, which the request brought (load reads it, not find)
// and the response writes: every save succeeds, and the last response wins.
type cookieBackend struct{}

func (cookieBackend) find(context.Context, string) ([]byte, error) { return nil, nil }
func (cookieBackend) delete(context.Context, string) error         { return nil }
func (cookieBackend) swap(context.Context, string, []byte, []byte, time.Time) ([]byte, bool, error) {
	return nil, true, nil
}
func (cookieBackend) renew(context.Context, string, []byte, string, []byte, time.Time) ([]byte, bool, error) {
	return nil, true, nil
}
func (cookieBackend) atomic() bool { return false }

// useCookieStore sets m up for WithCookieStore, or panics naming what
// cannot work without a server store.
func (m *Manager[T]) useCookieStore() {
	sealer, err := newSealer(m.cfg.sealKeys)
	if err != nil {
		panic(err.Error())
	}
	switch {
	case m.cfg.userID != nil:
		panic("scsession: WithUserID needs a server-side store: with WithCookieStore a session lives only in its cookie, so it can be neither listed nor revoked; use memstore, Redis or PostgreSQL to revoke sessions")
	case m.cfg.tokenHeader != "":
		panic("scsession: WithTokenHeader needs a server-side store: with WithCookieStore the session itself is the cookie, too large for a header token; use memstore, Redis or PostgreSQL for API clients")
	case len(m.cfg.keys) > 0:
		panic("scsession: WithSigningKeys signs a token, and WithCookieStore has none: its seal authenticates the cookie already; drop WithSigningKeys")
	}
	m.sealer, m.store = sealer, cookieBackend{}
}

// openCookie reads the request's sealed session into s: its token, and the
// stored bytes load then takes as the store's.
func (m *Manager[T]) openCookie(r *http.Request, s *session[T]) {
	c := readChunks(r, m.sessions.Cookie.Name)
	s.chunks = c.count()
	plain, stale, err := m.sealer.open(m.sessions.Cookie.Name, &c)
	if err == nil && plain != nil && (len(plain) < tokenLen || !isToken(string(plain[:tokenLen]))) {
		err = fmt.Errorf("%w: no token inside", errSealMalformed) // sealed by us with a key: cannot happen
	}
	switch {
	case err != nil:
		m.emit(r.Context(), Event{Kind: EventRejected, Err: err})
		if !errors.Is(err, errSealKey) {
			s.why |= rejected // expire it; one that opens with no key may be another instance's, mid-rotation
		}
	case plain != nil:
		s.token, s.sealed = string(plain[:tokenLen]), plain[tokenLen:]
		s.held = s.token
		if stale {
			s.why |= resign
		}
	}
}

// sendSealed gives the client the session under token, sealed in as many
// cookies as it takes, and expires those of the request's chunks it no
// longer needs; an empty token expires them all.
func (m *Manager[T]) sendSealed(w http.ResponseWriter, s *session[T], token string) error {
	name := m.sessions.Cookie.Name
	var values []string
	if token != "" {
		var err error
		if values, err = m.sealer.seal(name, append([]byte(token), s.read...)); err != nil {
			return err
		}
	}
	expiry := m.expiry(&s.env)
	for i, v := range values {
		m.writeCookie(w, chunkName(name, i), v, expiry, s.env.remember)
	}
	for i := len(values); i < max(s.chunks, 1); i++ {
		m.writeCookie(w, chunkName(name, i), "", time.Time{}, false)
	}
	s.chunks, s.sealed = len(values), s.read
	return nil
}

// resealDue reports whether the cookie the client holds no longer carries
// what the session's store holds: with WithCookieStore, Flashes changes what
// is stored without a save.
func (m *Manager[T]) resealDue(s *session[T]) bool {
	return m.sealer != nil && s.read != nil && !bytes.Equal(s.read, s.sealed)
}
