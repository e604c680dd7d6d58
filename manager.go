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
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
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
	sessions *scs.SessionManager
	cfg      config
	shape    uint64 // fingerprint of T, to notice data written by another version of it
	cache    *decodeCache[T]
	zero     []byte         // the zero T as packed JSON, which a new session's empty data stands for
	userID   func(T) string // WithUserID's; nil without
	index    UserIndexStore // where userID's answers are indexed; nil without
	skipped  *session[T]    // shared by every skipped request; never changed
}

type config struct {
	keys        [][]byte
	logger      *slog.Logger
	events      func(context.Context, Event)
	skip        []func(*http.Request) bool
	idleRefresh time.Duration
	refreshSet  bool
	userID      any // WithUserID's func(T) string
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
// has an IdleTimeout. The default is a tenth of the IdleTimeout, so a session
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
// codec, and the Manager's LoadAndSave replaces sm.LoadAndSave. Keep using sm
// to configure Cookie, Lifetime, IdleTimeout, Store, HashTokenInStore and
// ErrorFunc before serving requests.
//
// New panics if T cannot be encoded as JSON, if sm was not made by scs.New,
// or if a signing key is shorter than 32 bytes: mistakes in the program, not
// in the input.
func New[T any](sm *scs.SessionManager, opts ...Option) *Manager[T] {
	if sm == nil {
		sm = scs.New()
	}
	if sm.Store == nil || sm.Cookie.Name == "" || sm.Lifetime <= 0 {
		panic("scsession: New needs a SessionManager made by scs.New() (with Store, Cookie.Name and Lifetime set); pass nil for the defaults")
	}
	var zero T
	zeroData, err := encodeData(&zero)
	if err != nil {
		panic(fmt.Sprintf("scsession: the session type %T cannot be stored as JSON: %v", zero, errors.Unwrap(err)))
	}
	m := &Manager[T]{sessions: sm, shape: shapeOf[T](), cache: newDecodeCache[T](), zero: zeroData, skipped: &session[T]{skipped: true}}
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
	if m.cfg.userID != nil {
		var ok bool
		if m.userID, ok = m.cfg.userID.(func(T) string); !ok {
			panic(fmt.Sprintf("scsession: WithUserID was given a %T, but the Manager stores %T: write WithUserID(func(s %[2]T) string {...})", m.cfg.userID, zero))
		}
		if m.index = indexFor(sm.Store); m.index == nil {
			panic(fmt.Sprintf("scsession: WithUserID needs a store that indexes sessions by user (scs's memstore, or scsession/redisstore for Redis); %T has no index", sm.Store))
		}
	}
	sm.Codec = codec{}
	return m
}

// session is one request's view of its session. Its data stays encoded, so a
// request that never calls Get pays nothing to decode it, and every Get
// gets a fresh T that no one else holds (decoded, or copied from the cache).
//
// env is always read plus the request's changes. The changes are also kept
// as operations (updates, added, remember), so that when a save finds that
// another request saved first, they can be applied again to the newer data.
type session[T any] struct {
	mu          sync.Mutex
	token       string // "" until the store knows the session or a token is made
	held        string // the token the client's cookie carries, verified
	loaded      bool
	loadErr     error
	read        []byte   // what the store held for token when last read; nil for nothing
	env         envelope // read plus this request's changes: what a save writes
	updates     []func(*T)
	added       []Flash
	remember    bool
	rememberSet bool
	save        bool    // save even with no changes to replay: a new token, repaired data
	destroyed   bool    // Destroy ran: expire the cookie unless a new session follows
	stale       bool    // the cookie was signed with an older key: sign it again
	old         string  // the token RenewToken replaced: deleted once the new one is saved
	oldRead     []byte  // what the store held under old when the request read it
	indexed     string  // the user the index has for the stored session (WithUserID)
	committed   bool    // saved with the response headers; no more changes
	skipped     bool    // WithSkip excluded this request
	events      []Event // emitted after the lock is released
	w           responseWriter[T]
}

// changed reports whether the request made changes that must not be lost.
func (s *session[T]) changed() bool {
	return len(s.updates) > 0 || len(s.added) > 0 || s.rememberSet
}

// LoadAndSave is the middleware that gives requests their session, as in
// r.Use(m.LoadAndSave). It reads the session cookie, loads the session from
// the store the first time a handler asks for it, and saves it (and sets the
// cookie) just before the response is written if it changed.
//
// If the store fails while the handler reads or changes the session, the
// response is replaced by the SessionManager's ErrorFunc (by default a 500
// and a log line), whatever the handler wrote.
func (m *Manager[T]) LoadAndSave(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, skip := range m.cfg.skip {
			if skip(r) {
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), m, m.skipped)))
				return
			}
		}
		s := &session[T]{}
		if value, ok := cookieValue(r, m.sessions.Cookie.Name); ok {
			s.token, s.stale = m.verify(r.Context(), value)
			s.held = s.token
		}
		r = r.WithContext(context.WithValue(r.Context(), m, s))
		s.w = responseWriter[T]{ResponseWriter: w, m: m, r: r, s: s}
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
	if s.skipped {
		return v
	}
	s.mu.Lock()
	defer m.unlock(ctx, s)
	if m.load(ctx, s) != nil {
		return v
	}
	v, err := m.cache.decode(s.env.data)
	if err != nil {
		m.repair(s, v, err)
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
	v, err := m.cache.decode(s.env.data)
	if err != nil {
		m.repair(s, v, err)
	}
	fn(&v)
	b, err := encodeData(&v)
	if err != nil {
		return err
	}
	if bytes.Equal(b, s.env.data) || (len(s.env.data) == 0 && bytes.Equal(b, m.zero)) {
		return nil // nothing changed: nothing to save, as if fn had not run
	}
	if m.userID != nil {
		s.env.user, s.env.hasUser = m.userID(v), true
	}
	s.env.data = b
	s.updates = append(s.updates, fn)
	m.cache.put(b, &v)
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
	if s.token != "" {
		if s.old == "" {
			// Deleted once the new token is saved, so a failed save loses
			// nothing, and only if it still holds what was read.
			s.old, s.oldRead = s.token, s.read
		}
		s.events = append(s.events, Event{Kind: EventRenewed, Session: shortHash(s.token)})
	}
	s.token, s.read, s.save = newToken(), nil, true
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
	if s.skipped {
		return ErrSkipped
	}
	s.mu.Lock()
	defer m.unlock(ctx, s)
	if s.committed {
		return m.late(s)
	}
	for _, token := range []string{s.token, s.old} { // old: renewed earlier in this request
		if token == "" {
			continue
		}
		if err := m.delete(ctx, token); err != nil {
			return fmt.Errorf("scsession: destroying session: %w", err)
		}
		if s.indexed != "" {
			if err := m.index.RemoveUserSession(ctx, s.indexed, m.key(token)); err != nil {
				return fmt.Errorf("scsession: destroying session: %w", err)
			}
		}
	}
	if s.token != "" {
		s.events = append(s.events, Event{Kind: EventDestroyed, Session: shortHash(s.token)})
	}
	s.token, s.old, s.oldRead, s.indexed, s.read, s.env, s.loaded, s.loadErr = "", "", nil, "", nil, m.fresh(), true, nil
	s.updates, s.added, s.rememberSet, s.save, s.stale = nil, nil, false, false, false
	s.destroyed = true
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
	s.env.remember, s.remember, s.rememberSet = remember, remember, true
	return nil
}

func (m *Manager[T]) from(ctx context.Context) *session[T] {
	s, ok := ctx.Value(m).(*session[T])
	if !ok {
		panic("scsession: no session in the request context; add the Manager's middleware before this handler: r.Use(m.LoadAndSave)")
	}
	return s
}

// unlock releases s and then emits what happened while it was held, so that
// an event hook may call the Manager without deadlocking.
func (m *Manager[T]) unlock(ctx context.Context, s *session[T]) {
	events := s.events
	s.events = nil
	s.mu.Unlock()
	for _, e := range events {
		m.emit(ctx, e)
	}
}

// begin locks the request's session for a change, loading it first, or
// says why it cannot be changed now. Unlock it with m.unlock.
func (m *Manager[T]) begin(ctx context.Context) (*session[T], error) {
	s := m.from(ctx)
	if s.skipped {
		return nil, ErrSkipped
	}
	s.mu.Lock()
	var err error
	if s.committed {
		err = m.late(s)
	} else {
		err = m.load(ctx, s)
	}
	if err != nil {
		m.unlock(ctx, s)
		return nil, err
	}
	return s, nil
}

func (m *Manager[T]) late(s *session[T]) error {
	s.events = append(s.events, Event{Kind: EventLateChange, Session: shortHash(s.token), Err: ErrCommitted})
	return ErrCommitted
}

func (m *Manager[T]) fresh() envelope {
	now := time.Now()
	return envelope{deadline: now.Add(m.sessions.Lifetime), created: now, shape: m.shape}
}

// load reads the session from the store, once per request. A token the store
// does not know, or bytes that are not ours, give a fresh session with no
// token: the client's token is never adopted. s.mu is held.
func (m *Manager[T]) load(ctx context.Context, s *session[T]) error {
	if s.loaded {
		return s.loadErr
	}
	s.loaded = true
	if s.token != "" {
		b, found, err := m.find(ctx, s.token)
		if err != nil {
			s.loadErr = fmt.Errorf("scsession: loading session: %w", err)
			return s.loadErr
		}
		if found {
			env, err := decodeEnvelope(b)
			switch {
			case err != nil:
				s.events = append(s.events, Event{Kind: EventMismatch, Session: shortHash(s.token), Err: err})
			case time.Now().After(env.deadline):
				// The store kept it past its lifetime: it is gone all the same.
			default:
				s.read, s.env, s.indexed = b, env, env.user
				if env.shape != m.shape {
					v, err := decodeData[T](env.data)
					m.repair(s, v, errors.Join(errShape, err))
				} else if m.userID != nil && !env.hasUser {
					// Saved before WithUserID: index it now, or revoking
					// its user's sessions would miss it.
					v, _ := m.cache.decode(env.data)
					s.env.user, s.env.hasUser, s.save = m.userID(v), true, true
				}
				return nil
			}
		}
		s.token = ""
	}
	s.env = m.fresh()
	return nil
}

var errShape = errors.New("scsession: the stored session was written by another version of the session type; fields that still fit were kept, the rest are zero")

// repair replaces data that no longer fits T with v, the part of it that
// still does, and warns once: the repaired data is saved with this response.
func (m *Manager[T]) repair(s *session[T], v T, cause error) {
	s.env.data, _ = encodeData(&v) // New checked that T encodes; a v nested too deep to pack is saved as the zero T
	s.env.shape = m.shape
	if m.userID != nil {
		s.env.user, s.env.hasUser = m.userID(v), true
	}
	s.save = true
	s.events = append(s.events, Event{Kind: EventMismatch, Session: shortHash(s.token), Err: cause})
}

// commit saves the session if it changed, or if its idle expiry is due for a
// refresh, and sets the cookie. It runs once, before the response's first
// byte, and reports false if the ErrorFunc answered instead.
func (m *Manager[T]) commit(w http.ResponseWriter, r *http.Request, s *session[T]) bool {
	ctx := r.Context()
	s.mu.Lock()
	defer m.unlock(ctx, s)
	s.committed = true
	err := s.loadErr // only a load the handler asked for fails the response
	if s.token != "" && !s.loaded && s.stale {
		// Re-signing needs the stored expiry; it can wait for a later
		// request if the store fails now.
		if lerr := m.load(ctx, s); lerr != nil {
			m.cfg.logger.WarnContext(ctx, "scsession: cookie not re-signed", slog.String("error", lerr.Error()))
		}
	}
	now := time.Now()
	switch {
	case err != nil:
	case s.changed() || s.save || m.idleDue(s, now):
		if m.userID != nil && s.env.agent == "" {
			s.env.agent = agent(r) // for Sessions: the device that creates the session
		}
		err = m.save(ctx, w, s, now)
	case s.destroyed:
		m.writeCookie(w, "", time.Time{}, false)
	case s.stale && s.read != nil:
		m.writeCookie(w, s.token, m.expiry(&s.env), s.env.remember)
	}
	if err != nil {
		clear(w.Header()) // the handler's Location, Cache-Control... belong to its answer, not to this one
		m.errorFunc(w, r, err)
		return false
	}
	if s.loaded {
		h := w.Header()
		h["Vary"] = append(h["Vary"], "Cookie") // the key is canonical already
	}
	return true
}

// maxAttempts bounds how often a save is tried again on newer data.
const maxAttempts = 50

// ErrConflict is given to the ErrorFunc when a session changed under so many
// concurrent requests that a request's changes could not be saved.
var ErrConflict = fmt.Errorf("scsession: the session kept changing under concurrent requests; gave up saving after %d attempts", maxAttempts)

// save writes s.env if the store still holds what the request read. If
// another request saved first, the request's changes are applied again to
// what it saved, and the save is tried again. If the session was ended
// meanwhile (Destroy, RenewToken), it stays ended. s.mu is held.
func (m *Manager[T]) save(ctx context.Context, w http.ResponseWriter, s *session[T], now time.Time) error {
	isNew := s.token == ""
	if isNew {
		s.token = newToken()
	}
	if err := m.indexUser(ctx, s, isNew); err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		s.env.touched = now
		expiry := m.expiry(&s.env)
		b := s.env.encode()
		cur, ok, err := m.swap(ctx, s.token, s.read, b, expiry)
		switch {
		case err != nil:
			return fmt.Errorf("scsession: saving session: %w", err)
		case ok:
			s.read = b
			if isNew {
				s.events = append(s.events, Event{Kind: EventCreated, Session: shortHash(s.token)})
			}
			if s.old != "" {
				ended, err := m.retire(ctx, s, now)
				if err != nil {
					// The client keeps the old token, which still holds the session: the
					// new one must not live on, listed, with no browser holding it.
					m.forget(ctx, s.token, s.env.user)
					return err
				}
				if ended {
					return nil
				}
				expiry = m.expiry(&s.env)
			}
			if err := m.unindexUser(ctx, s); err != nil {
				// Saved all the same: listings skip the stale entry until it expires.
				m.cfg.logger.WarnContext(ctx, "scsession: stale user index entry kept", slog.String("error", err.Error()))
			}
			if m.cookieChanged(s) {
				m.writeCookie(w, s.token, expiry, s.env.remember)
			}
			return nil
		case !s.changed():
			return nil // a refresh or a repair only, and a newer save did it too
		case cur == nil || m.replay(s, cur) != nil:
			s.events = append(s.events, Event{Kind: EventDropped, Session: shortHash(s.token), Err: errEnded})
			return nil
		case attempt == maxAttempts:
			return ErrConflict
		}
	}
}

// retire deletes the token RenewToken replaced, if the store still holds
// what the request read under it. If another request changed it meanwhile,
// the request's changes are applied to that newer data, which moves to the
// new token, and to the index under the user it names; if another request
// ended it (Destroy, a revocation), the new token is deleted too, and the
// session stays ended, as it does when a revocation ends the new token
// before the old one is retired. s.mu is held.
func (m *Manager[T]) retire(ctx context.Context, s *session[T], now time.Time) (ended bool, err error) {
	created, deadline := s.env.created, s.env.deadline // the renewal's
	indexedAs := s.env.user                            // indexUser put the new token under this user
	for range maxAttempts {
		written := s.read // what the new token holds; replay moves s.read
		cur, ok, err := m.swap(ctx, s.old, s.oldRead, nil, time.Time{})
		switch {
		case err != nil:
			return false, fmt.Errorf("scsession: renewing token: %w", err)
		case ok:
			return false, nil
		case cur == nil || m.replay(s, cur) != nil:
			return true, m.dropRenewed(ctx, s, s.token, s.env.user)
		}
		// replay made cur the base; move it to the new token.
		s.oldRead, s.env.created, s.env.deadline, s.env.touched = cur, created, deadline, now
		b := s.env.encode()
		switch stored, ok, err := m.swap(ctx, s.token, written, b, m.expiry(&s.env)); {
		case err != nil:
			return false, fmt.Errorf("scsession: renewing token: %w", err)
		case !ok && stored == nil: // a revocation ended the new token meanwhile: the old one ends too
			return true, m.dropRenewed(ctx, s, s.old, s.indexed)
		case !ok:
			return false, fmt.Errorf("scsession: renewing token: %w", ErrConflict)
		}
		s.read = b
		if err := m.reindex(ctx, s.token, indexedAs, s.env.user, s.env.deadline); err != nil {
			return false, err
		}
		indexedAs = s.env.user
	}
	return false, ErrConflict
}

var errEnded = errors.New("scsession: another request ended the session (Destroy, RenewToken) after this one read it; its changes were dropped so that the session stays ended")

// replay makes cur, newer data than the request read, its base, and applies
// the request's changes to it again. s.mu is held.
func (m *Manager[T]) replay(s *session[T], cur []byte) error {
	env, err := decodeEnvelope(cur)
	if err != nil {
		return err
	}
	s.indexed = env.user // the request that saved cur indexed it so
	if len(s.updates) > 0 || env.shape != m.shape {
		v, _ := m.cache.decode(env.data) // what still fits, as on load
		for _, fn := range s.updates {
			fn(&v)
		}
		if env.data, err = encodeData(&v); err != nil {
			return err
		}
		env.shape = m.shape
		if m.userID != nil {
			env.user, env.hasUser = m.userID(v), true
		}
	}
	env.flashes = append(env.flashes, s.added...)
	if s.rememberSet {
		env.remember = s.remember
	}
	s.read, s.env = cur, env
	return nil
}

// indexUser records the session under its user before it is saved, when
// that is news to the index: a new session or token, or another user. A
// save that then fails leaves an entry that listings skip until it expires.
// s.mu is held.
func (m *Manager[T]) indexUser(ctx context.Context, s *session[T], isNew bool) error {
	if m.index == nil || s.env.user == "" || (s.env.user == s.indexed && !isNew && s.old == "") {
		return nil
	}
	if err := m.index.AddUserSession(ctx, s.env.user, m.key(s.token), s.env.deadline); err != nil {
		return fmt.Errorf("scsession: indexing the session of a user: %w", err)
	}
	return nil
}

// unindexUser drops, after a save, the index entry the save made stale: the
// old token's, or the previous user's. s.mu is held.
func (m *Manager[T]) unindexUser(ctx context.Context, s *session[T]) error {
	prev, key := s.indexed, m.key(s.token)
	if s.old != "" {
		key = m.key(s.old)
	}
	s.indexed = s.env.user
	if m.index == nil || prev == "" || (prev == s.env.user && s.old == "") {
		return nil
	}
	if err := m.index.RemoveUserSession(ctx, prev, key); err != nil {
		return fmt.Errorf("scsession: indexing the session of a user: %w", err)
	}
	return nil
}

// forget deletes the session under token and then its index entry under
// user; an entry left behind is only skipped by listings until it expires.
func (m *Manager[T]) forget(ctx context.Context, token, user string) error {
	if err := m.delete(ctx, token); err != nil {
		return err
	}
	if m.index != nil && user != "" {
		m.index.RemoveUserSession(ctx, user, m.key(token))
	}
	return nil
}

// dropRenewed forgets what is left of a session that another request ended
// during its renewal: token, indexed under user.
func (m *Manager[T]) dropRenewed(ctx context.Context, s *session[T], token, user string) error {
	if err := m.forget(ctx, token, user); err != nil {
		return fmt.Errorf("scsession: renewing token: %w", err)
	}
	s.events = append(s.events, Event{Kind: EventDropped, Session: shortHash(s.old), Err: errEnded})
	return nil
}

// reindex moves the index entry of the session under token from one user to
// another, when the data another request saved names another user.
func (m *Manager[T]) reindex(ctx context.Context, token, from, to string, deadline time.Time) error {
	if m.index == nil || from == to {
		return nil
	}
	key := m.key(token)
	if to != "" {
		if err := m.index.AddUserSession(ctx, to, key, deadline); err != nil {
			return fmt.Errorf("scsession: indexing the session of a user: %w", err)
		}
	}
	if from != "" {
		if err := m.index.RemoveUserSession(ctx, from, key); err != nil {
			return fmt.Errorf("scsession: indexing the session of a user: %w", err)
		}
	}
	return nil
}

// agent is what Sessions shows of the device that created a session.
func agent(r *http.Request) string {
	ua := r.UserAgent()
	if len(ua) > 256 {
		ua = ua[:256]
	}
	return ua
}

// cookieChanged reports whether the cookie the client holds differs from the
// one a save would set: another token, another signature, another expiry
// (with IdleTimeout, every save moves it) or another persistence.
func (m *Manager[T]) cookieChanged(s *session[T]) bool {
	return s.token != s.held || s.stale || s.rememberSet || m.sessions.IdleTimeout > 0
}

func (m *Manager[T]) idleDue(s *session[T], now time.Time) bool {
	idle := m.sessions.IdleTimeout
	if idle <= 0 || s.read == nil {
		return false
	}
	every := idle / 10
	if m.cfg.refreshSet {
		every = m.cfg.idleRefresh
	}
	return now.Sub(s.env.touched) >= every
}

// expiry is when the store forgets the session: its absolute deadline, or
// IdleTimeout after its last save if that comes first.
func (m *Manager[T]) expiry(e *envelope) time.Time {
	if idle := m.sessions.IdleTimeout; idle > 0 {
		if ie := e.touched.Add(idle); ie.Before(e.deadline) {
			return ie
		}
	}
	return e.deadline
}

// cookieValue returns the value of the first cookie called name, as
// r.Cookie does, without allocating: the value is checked by verify.
func cookieValue(r *http.Request, name string) (string, bool) {
	for _, line := range r.Header["Cookie"] {
		for part := range strings.SplitSeq(line, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && k == name {
				if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
					v = v[1 : len(v)-1]
				}
				return v, true
			}
		}
	}
	return "", false
}

// writeCookie sets the session cookie as scs does; an empty token expires it.
func (m *Manager[T]) writeCookie(w http.ResponseWriter, token string, expiry time.Time, remember bool) {
	c := m.sessions.Cookie
	cookie := &http.Cookie{
		Name:        c.Name,
		Value:       m.sign(token),
		Domain:      c.Domain,
		HttpOnly:    c.HttpOnly,
		Path:        c.Path,
		SameSite:    c.SameSite,
		Secure:      c.Secure,
		Partitioned: c.Partitioned,
	}
	switch {
	case token == "":
		cookie.Expires = time.Unix(1, 0)
		cookie.MaxAge = -1
	case c.Persist || remember:
		cookie.Expires = time.Unix(expiry.Unix()+1, 0) // rounded up to the second
		cookie.MaxAge = int(time.Until(expiry).Seconds() + 1)
	}
	w.Header().Add("Set-Cookie", cookie.String())
	w.Header().Add("Cache-Control", `no-cache="Set-Cookie"`)
}

func (m *Manager[T]) errorFunc(w http.ResponseWriter, r *http.Request, err error) {
	if m.sessions.ErrorFunc != nil {
		m.sessions.ErrorFunc(w, r, err)
		return
	}
	m.cfg.logger.ErrorContext(r.Context(), err.Error())
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}

// responseWriter saves the session before the first byte of the response,
// while headers can still carry the cookie.
type responseWriter[T any] struct {
	http.ResponseWriter
	m    *Manager[T]
	r    *http.Request
	s    *session[T]
	done bool // commit has run
	ok   bool // and the handler's response goes through
}

func (w *responseWriter[T]) commit() bool {
	if !w.done {
		w.done = true
		w.ok = w.m.commit(w.ResponseWriter, w.r, w.s)
	}
	return w.ok
}

func (w *responseWriter[T]) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code) // informational (103 Early Hints): the response has not started
		return
	}
	if w.commit() {
		w.ResponseWriter.WriteHeader(code)
	}
}

// Write passes b on, unless the ErrorFunc has answered this request instead:
// then b is dropped.
func (w *responseWriter[T]) Write(b []byte) (int, error) {
	if !w.commit() {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *responseWriter[T]) Flush() {
	if w.commit() {
		http.NewResponseController(w.ResponseWriter).Flush()
	}
}

// Hijack saves the session first: after it, nothing more can be sent. The
// cookie set then travels only if the new owner of the connection sends
// the response's headers.
func (w *responseWriter[T]) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !w.commit() {
		return nil, nil, errors.New("scsession: the session could not be saved, so the connection was not hijacked")
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *responseWriter[T]) Unwrap() http.ResponseWriter {
	return w.ResponseWriter
}
