package scsession

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// session is one request's view of its session. Its data stays encoded, so a
// request that never calls Get pays nothing to decode it, and every Get
// gets a fresh T that no one else holds (decoded, or copied from the cache).
//
// env is always the stored data the request read plus its changes. The
// changes are also kept as operations (ops), so that when a save finds that
// another request saved first, they can be applied again to the newer data.
type session[T any] struct {
	context.Context // the request's, which s extends with itself as m's value
	m               *Manager[T]
	mu              sync.Mutex
	held            string      // the token the client's cookie (or header) carries, verified
	viaHeader       bool        // the client carries the token in the WithTokenHeader header, not the cookie
	tokenOnly       bool        // Token was called on a request with no session cookie: answer in the header too
	chunks          int         // WithCookieStore: cookies the request's sealed session took, or the response's
	sealed          []byte      // WithCookieStore: what the client's cookie holds, the request's or the response's
	above           http.Header // response headers set above LoadAndSave, which an ErrorFunc's answer keeps
	events          []Event     // emitted once the lock is released
	w               responseWriter
	state[T]
}

// Value returns s for its Manager, as context.WithValue(ctx, m, s) would,
// without a second allocation per request.
func (s *session[T]) Value(key any) any {
	if m, ok := key.(*Manager[T]); ok && m == s.m {
		return s
	}
	return s.Context.Value(key)
}

// state is what a request knows of its session; Destroy starts it anew.
type state[T any] struct {
	loaded    bool   // the store was asked (or the session is known to be new)
	committed bool   // saved with the response headers: reads still work, changes are refused
	why       reason // what the response must do besides saving ops
	loadErr   error  // the load failed: the request fails if it asked for the session
	token     string // "" until the store knows the session or a token is made
	read      []byte // what the store held under token when last read; nil for nothing
	env       envelope
	ops       ops[T]
	old       string  // the token RenewToken replaced: retired when the new one is saved
	oldRead   []byte  // what the store held under old when last read
	indexed   string  // the user the stored data names, so the index has it under
	entries   []entry // index entries this request added, until a save settles them
}

// A reason is something the response must do about the session even when
// the request changed nothing (see ops for changes).
type reason uint8

const (
	renewed   reason = 1 << iota // a new token to save, and the old one to retire
	repaired                     // data rewritten in T's current shape, or given its user
	destroyed                    // Destroy: expire the cookie unless a new session follows
	resign                       // the cookie was signed with an older key
	rejected                     // the cookie was malformed: expire it (a wrongly signed one may be another instance's)
)

// ops are a request's changes, kept so that they can be applied again to
// data another request saved meanwhile.
type ops[T any] struct {
	updates  []func(*T)
	flashes  []Flash
	remember *bool
}

func (o *ops[T]) empty() bool {
	return len(o.updates) == 0 && len(o.flashes) == 0 && o.remember == nil
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
		b := s.sealed // WithCookieStore: the request brought it
		var err error
		if m.sealer == nil {
			b, err = m.store.find(ctx, m.key(s.token))
		}
		if err != nil {
			s.loadErr = fmt.Errorf("scsession: loading session: %w", err)
			return s.loadErr
		}
		if b != nil {
			env, adopted, err := m.decodeStored(b)
			switch {
			case err != nil:
				s.events = append(s.events, Event{Kind: EventMismatch, Session: m.name(s.token), Err: err})
			case time.Now().After(env.deadline), m.sealer != nil && time.Now().After(m.expiry(&env)):
				// Kept past its lifetime (by the store, or by a client
				// holding a cookie store's cookie, which also enforces the idle
				// timeout: a store does that itself): it is gone all the same.
			default:
				if adopted { // plain scs's: saved in our format by this request
					s.why |= repaired
					s.events = append(s.events, Event{Kind: EventMismatch, Session: m.name(s.token)})
				} else {
					s.indexed = env.user
				}
				s.read = b
				return m.rebase(s, env)
			}
		}
		s.token = ""
	}
	s.env = m.fresh()
	return nil
}

func (m *Manager[T]) fresh() envelope {
	now := time.Now()
	return envelope{deadline: now.Add(m.sessions.Lifetime), created: now, shape: m.shape}
}

// rebase makes env, data read from the store, the request's session: its
// changes so far are applied to it, and data that no longer fits T is
// repaired. s.mu is held.
func (m *Manager[T]) rebase(s *session[T], env envelope) error {
	env, repair, err := m.apply(env, &s.ops)
	if err != nil {
		return err
	}
	if repair != nil {
		m.repair(s, repair)
	}
	s.env = env
	return nil
}

// apply is the one place where stored data and a request's changes meet: it
// returns env with o applied, T's data first (decoded, changed by o's Update
// functions in order, encoded again), then o's flashes and RememberMe. Data
// that no longer fits T is repaired on the way, and the user WithUserID names
// recomputed; repair says why env differs from what o alone would give.
// load, Update and every save that finds newer data go through here.
func (m *Manager[T]) apply(env envelope, o *ops[T]) (_ envelope, repair, err error) {
	unindexed := m.userID != nil && !env.hasUser // saved before WithUserID: index it now, or revoking would miss it
	if env.shape != m.shape || len(o.updates) > 0 || unindexed {
		var v T
		keep := m.expiry(&env)
		if len(o.updates) > 0 {
			keep = time.Time{} // data an Update is about to replace
		}
		derr := m.cache.decode(&v, env.data, keep)
		switch {
		case env.shape != m.shape:
			repair = m.reshaped(env.data, &v, derr)
		case derr != nil:
			repair = derr
		case unindexed:
			repair = errUnindexed
		}
		for _, fn := range o.updates {
			fn(&v)
		}
		if err := m.setData(&env, &v); err != nil {
			return env, nil, err
		}
	}
	if len(o.flashes) > 0 {
		env.flashes = append(env.flashes[:len(env.flashes):len(env.flashes)], o.flashes...)
		if n := len(env.flashes); n > maxFlashes {
			env.flashes = env.flashes[n-maxFlashes:] // Flash warned
		}
	}
	if o.remember != nil {
		env.remember = *o.remember
	}
	return env, repair, nil
}

// setData stores v as env's data, in T's current shape, with its user.
func (m *Manager[T]) setData(env *envelope, v *T) error {
	b, err := encodeData(v)
	if err != nil {
		return err
	}
	env.data, env.shape = b, m.shape
	if m.userID != nil {
		env.user, env.hasUser = m.userID(*v), true
		if env.user == m.anonymous {
			env.user = ""
		}
	}
	return nil
}

var errUnindexed = errors.New("scsession: the session was saved before WithUserID: indexing it")

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
	if s == m.skipped {
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
	s.events = append(s.events, Event{Kind: EventLateChange, Session: m.name(s.token), Err: ErrCommitted})
	return ErrCommitted
}
