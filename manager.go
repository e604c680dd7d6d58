// Package scsession gives typed sessions to net/http and chi applications,
// built on github.com/alexedwards/scs/v2.
//
// A Manager[T] stores one value of your own struct type T per session,
// encoded as JSON: no string keys, no type assertions, no gob.Register.
// Cookie settings, lifetimes and storage backends are scs's and are set on the
// *scs.SessionManager as usual; the Manager owns that SessionManager from then
// on (it installs its own Codec and runs its own LoadAndSave).
package scsession

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"
)

// ErrCommitted is returned by Update (and the other methods that change a
// session) once the response has started: the session was saved with the
// headers, so the change could not be. Change the session before writing the
// response, or before calling w.WriteHeader.
var ErrCommitted = errors.New("scsession: session already saved with the response headers; change the session before writing the response")

// ErrSkipped is returned by Update for a request that WithSkip or
// WithSkipHeader excluded from session handling.
var ErrSkipped = errors.New("scsession: sessions are skipped for this request (WithSkip or WithSkipHeader)")

// A Manager loads, saves and types the sessions of one application. Create it
// with New and install its LoadAndSave middleware; then Get and Update work on
// any request below it. A Manager is safe for concurrent use.
type Manager[T any] struct {
	sessions   *scs.SessionManager
	cfg        config
	shape      uint64 // fingerprint of T, to notice data written by another version of it
	cache      *decodeCache[T]
	zero       []byte                                                               // the zero T as packed JSON, which a new session's empty data stands for
	store      backend                                                              // sessions.Store, as New found it
	storeAtNew scs.Store                                                            // to tell, in LoadAndSave, that it changed since
	limits     struct{ rejected, skippedFlash, droppedFlash, notRefreshed limiter } // of warnings any client can cause
	userID     func(T) string                                                       // WithUserID's; nil without
	anonymous  string                                                               // what userID says of the zero T: no user
	index      UserIndexStore                                                       // where userID's answers are indexed; nil without
	fromSCS    func(map[string]any, *T)                                             // WithSCSValues'; nil without
	sealer     *sealer                                                              // WithCookieStore's; nil without
	skipped    *session[T]                                                          // shared by every skipped request; never changed
}

type config struct {
	keys        [][]byte
	logger      *slog.Logger
	events      func(context.Context, Event)
	skip        []func(*http.Request) bool
	idleRefresh time.Duration
	refreshSet  bool
	userID      any      // WithUserID's func(T) string
	sealKeys    [][]byte // WithCookieStore's
	cookieStore bool     // WithCookieStore was given
	tokenHeader string   // WithTokenHeader's, canonical
	maxSessions int      // WithMaxSessions'
	capped      bool     // WithMaxSessions was given
	scsValues   any      // WithSCSValues' func(map[string]any, *T)
}

// An Option configures a Manager. Options are applied in order by New.
type Option func(*config)

// WithSkip bypasses session handling for the requests for which skip returns
// true, such as health checks and static files: no cookie is read or
// written and the store is not touched. On such a request Get returns the
// zero T and Update returns ErrSkipped.
func WithSkip(skip func(r *http.Request) bool) Option {
	return func(c *config) { c.skip = append(c.skip, skip) }
}

// WithSkipHeader bypasses session handling, as WithSkip does, for requests that
// carry the named header with any non-empty value (for example a load
// balancer's health check sending "X-Skip-Session: 1"). Clients can send it too,
// and then simply get no session.
func WithSkipHeader(name string) Option {
	return WithSkip(func(r *http.Request) bool { return r.Header.Get(name) != "" })
}

// WithIdleRefresh sets how often, at most, a request that changes nothing
// rewrites the session to push back its idle expiry when the SessionManager
// has an IdleTimeout (or, with WithMaxSessions, to record when it was last
// seen; 5 minutes by default without an IdleTimeout). The default is a tenth of the IdleTimeout, so a session
// expires between 0.9 and 1 IdleTimeout after the last request that used it
// (read or changed it) while most reads cost no store write. Zero rewrites on
// every such request, as scs does on every request.
func WithIdleRefresh(every time.Duration) Option {
	return func(c *config) { c.idleRefresh, c.refreshSet = every, true }
}

// New returns a Manager that keeps a T per session in sm's store. A nil sm
// means scs.New(): a memory store, 24-hour lifetime and scs's cookie defaults.
//
// The Manager owns sm from now on: New sets sm.Codec to scsession's own
// codec, and the Manager's LoadAndSave replaces sm.LoadAndSave. Set sm.Store
// before New, which decides from it how sessions are saved (LoadAndSave
// panics if it has changed since); Cookie, Lifetime, IdleTimeout,
// HashTokenInStore and ErrorFunc may still be set until requests are served.
//
// New panics if T is not a struct that JSON stores faithfully, if sm was not
// made by scs.New, if a signing key is shorter than 32 bytes, or for options
// that cannot work together: mistakes in the program, not in the input.
func New[T any](sm *scs.SessionManager, opts ...Option) *Manager[T] {
	if sm == nil {
		sm = scs.New()
	}
	if sm.Store == nil || sm.Cookie.Name == "" || sm.Lifetime <= 0 {
		panic("scsession: New needs a SessionManager made by scs.New() (with Store, Cookie.Name and Lifetime set); pass nil for the defaults")
	}
	var zero T
	zeroData := checkType[T]()
	m := &Manager[T]{sessions: sm, shape: shapeOf[T](), cache: newDecodeCache[T](), zero: zeroData, skipped: &session[T]{}}
	for _, opt := range opts {
		opt(&m.cfg)
	}
	for i, k := range m.cfg.keys {
		if len(k) < minKeyLen {
			panic(fmt.Sprintf("scsession: signing key %d is %d bytes; use at least %d random bytes, e.g. made by `openssl rand -base64 32` and base64-decoded", i, len(k), minKeyLen))
		}
	}
	if m.cfg.logger == nil {
		m.cfg.logger = slog.Default()
	}
	if idle := sm.IdleTimeout; m.cfg.refreshSet && idle > 0 && m.cfg.idleRefresh >= idle {
		panic(fmt.Sprintf("scsession: WithIdleRefresh(%v) is not below the IdleTimeout (%v), so sessions in use would expire; use a fraction of it, such as the default %v", m.cfg.idleRefresh, idle, idle/10))
	}
	var index UserIndexStore
	if m.cfg.cookieStore {
		m.useCookieStore()
	} else {
		m.store, index = backendFor(sm.Store, m.cfg.userID != nil)
	}
	m.storeAtNew = sm.Store
	if !m.store.atomic() && m.sealer == nil {
		m.cfg.logger.Warn(fmt.Sprintf("scsession: %T saves last-write-wins, so concurrent requests of a session can lose each other's changes and a slow request can undo a logout; use a store that compares and swaps: scs's memstore, or scsession's redisstore, goredisstore or pgxstore", sm.Store))
	}
	if m.cfg.userID != nil {
		var ok bool
		if m.userID, ok = m.cfg.userID.(func(T) string); !ok {
			panic(fmt.Sprintf("scsession: WithUserID was given a %T, but the Manager stores %T: write WithUserID(func(s %[2]T) string {...})", m.cfg.userID, zero))
		}
		if m.index = index; m.index == nil {
			panic(fmt.Sprintf("scsession: WithUserID needs a store that indexes sessions by user (scs's memstore, or scsession's redisstore, goredisstore or pgxstore); %T has no index", sm.Store))
		}
		m.anonymous = m.userID(zero) // "0" for an int ID: every visitor is not one user
	}
	if n := m.cfg.maxSessions; m.cfg.capped && (n < 1 || m.userID == nil) {
		panic(fmt.Sprintf("scsession: WithMaxSessions(%d) needs WithUserID, to know whose sessions to count, and an n of at least 1", n))
	}
	m.fromSCS = scsValuesFunc[T](m.cfg.scsValues)
	sm.Codec = codec{}
	return m
}

// LoadAndSave is the middleware that gives requests their session, as in
// r.Use(m.LoadAndSave). It reads the session cookie (or WithTokenHeader's
// header), loads the session from the store (or WithCookieStore's cookie)
// the first time a handler asks for it, and saves it (and sets the cookie,
// or answers in the header) just before the response is written if it
// changed.
//
// If the store fails while the handler reads or changes the session, the
// response is replaced by the SessionManager's ErrorFunc (by default a 500
// and a log line), whatever the handler wrote.
func (m *Manager[T]) LoadAndSave(next http.Handler) http.Handler {
	if !sameStore(m.sessions.Store, m.storeAtNew) {
		panic(fmt.Sprintf("scsession: sm.Store was set to %T after New, which chose how to save sessions from the store it had then; set sm.Store before calling New", m.sessions.Store))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, skip := range m.cfg.skip {
			if skip(r) {
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), m, m.skipped)))
				return
			}
		}
		s := &session[T]{Context: r.Context(), m: m}
		if h := w.Header(); len(h) > 0 {
			s.above = h.Clone()
		}
		m.receive(r, s)
		r = r.WithContext(s) // s is the request's context, with itself as m's value
		s.w = responseWriter{ResponseWriter: w, r: r, save: s}
		next.ServeHTTP(&s.w, r)
		s.w.commit()
	})
}

// Get returns the request's session. A new session, or one whose store
// failed, is the zero T. The value is the caller's: changing it, even a slice
// element or a map entry, does not change the session; Update does. Get
// panics if LoadAndSave is not in the middleware chain.
func (m *Manager[T]) Get(ctx context.Context) T {
	s := m.from(ctx)
	var v T
	if s == m.skipped {
		return v
	}
	s.mu.Lock()
	defer m.unlock(ctx, s)
	if m.load(ctx, s) != nil {
		return v
	}
	if err := m.cache.decode(&v, s.env.data, m.expiry(&s.env)); err != nil {
		m.setData(&s.env, &v) // New checked that T encodes; a v nested too deep to pack is saved as the zero T
		m.repair(s, err)
	}
	return v
}

// Update changes the request's session: fn gets the current value, and what
// it leaves there is saved with the response (an fn that changes nothing
// costs no store write). Later Get and Update calls in the same request see
// the change. Update returns ErrCommitted once the response has started,
// ErrSkipped on a skipped request, and the store's error if the session
// could not be loaded.
//
// If another request saved the session after this one read it, fn runs again
// on the newer data before the save (see the README's "Concurrent requests"),
// so write fn in terms of *T, such as appending to a cart, not of values read
// earlier in the handler.
func (m *Manager[T]) Update(ctx context.Context, fn func(*T)) error {
	s, err := m.begin(ctx)
	if err != nil {
		return err
	}
	defer m.unlock(ctx, s)
	env, repair, err := m.apply(s.env, &ops[T]{updates: []func(*T){fn}})
	if err != nil {
		return err
	}
	if repair != nil {
		m.repair(s, repair)
	}
	if bytes.Equal(env.data, s.env.data) || (len(s.env.data) == 0 && bytes.Equal(env.data, m.zero)) {
		return nil // nothing changed: nothing to save, as if fn had not run
	}
	s.env = env
	s.ops.updates = append(s.ops.updates, fn)
	return nil
}

// RenewToken gives the session a new token while keeping its data. The old
// token is deleted from the store once the new one is saved, with the
// response, so that it reads nothing afterwards; if that save fails, the old
// session is still there. Call RenewToken when the user logs in or changes
// privilege, against session fixation. The absolute lifetime starts again,
// as in scs.
func (m *Manager[T]) RenewToken(ctx context.Context) error {
	s, err := m.begin(ctx)
	if err != nil {
		return err
	}
	defer m.unlock(ctx, s)
	if s.read != nil && s.old == "" {
		// Deleted once the new token is saved, so a failed save loses
		// nothing, and only if it still holds what was read. A token
		// nothing is stored under yet (Token's, for a new session) just goes.
		s.old, s.oldRead = s.token, s.read
	}
	s.token, s.read = newToken(), nil
	s.why |= renewed
	s.env.created = time.Now() // a new session, for Sessions: typically a login
	s.env.deadline = s.env.created.Add(m.sessions.Lifetime)
	return nil
}

// Destroy ends the session (logout): its data is deleted from the store and
// the response expires the cookie, with the Path, Domain, Secure and SameSite
// attributes it was set with. Changes made after Destroy in the same request,
// such as a flash message, go to a new session with a new token.
func (m *Manager[T]) Destroy(ctx context.Context) error {
	s := m.from(ctx)
	if s == m.skipped {
		return ErrSkipped
	}
	s.mu.Lock()
	defer m.unlock(ctx, s)
	if s.committed {
		return m.late(s)
	}
	if m.index != nil {
		// The user the index has the session under is in its stored data.
		if err := m.load(ctx, s); err != nil {
			return fmt.Errorf("scsession: destroying session: %w", err)
		}
	}
	for _, token := range []string{s.token, s.old} { // old: renewed earlier in this request
		if token == "" {
			continue
		}
		if err := m.store.delete(ctx, m.key(token)); err != nil {
			return fmt.Errorf("scsession: destroying session: %w", err)
		}
		if s.indexed != "" {
			if err := m.index.RemoveUserSession(ctx, s.indexed, m.key(token)); err != nil {
				return fmt.Errorf("scsession: destroying session: %w", err)
			}
		}
	}
	if s.token != "" {
		s.events = append(s.events, Event{Kind: EventDestroyed, Session: m.name(s.token)})
	}
	m.forgetRead(s.read)
	m.forgetRead(s.oldRead)
	s.state = state[T]{loaded: true, why: destroyed, env: m.fresh()}
	return nil
}

// RememberMe makes the session cookie persistent (true) or end with the
// browser session (false) when the SessionManager's Cookie.Persist is false;
// it is scs's RememberMe for typed sessions. With Cookie.Persist true, every
// session cookie is persistent already.
func (m *Manager[T]) RememberMe(ctx context.Context, remember bool) error {
	s, err := m.begin(ctx)
	if err != nil {
		return err
	}
	defer m.unlock(ctx, s)
	s.env.remember, s.ops.remember = remember, &remember
	return nil
}

// ID returns the ID of the request's session, the one that events, log
// lines and SessionInfo.ID give it, for the app's own request logs; "" for
// a request without a session yet. It reads nothing from the store: before
// the session is read, it names the token the cookie carries, which may
// turn out to be unknown (a new session then gets a new ID). ID panics if
// LoadAndSave is not in the middleware chain.
func (m *Manager[T]) ID(ctx context.Context) string {
	s := m.from(ctx)
	if s == m.skipped {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return m.name(s.token)
}
