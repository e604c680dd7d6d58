package scsession

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// WithUserID tells the Manager which user a session belongs to: id returns
// the user's ID for a session value, "" for an anonymous one. It enables
// Sessions, Revoke, RevokeOthers and RevokeUser, through an index from users
// to their sessions that the store keeps beside the sessions (scs's memstore
// and scsession's redisstore, goredisstore and pgxstore have one; New panics for a store without).
//
// The index changes when a session's user does (typically at login), when
// its token is renewed and when it is destroyed: a request that changes
// neither costs nothing more. Sessions saved before WithUserID was turned on
// are indexed when they are next used.
func WithUserID[T any](id func(T) string) Option {
	return func(c *config) { c.userID = id }
}

// WithMaxSessions caps the sessions of each user at n. When a save gives a
// user more than n (a login on yet another device), the least recently seen
// ones end until n are left, each with an EventEvicted: they are revoked as
// Revoke revokes, so a request of theirs in flight cannot bring them back.
// Seen means used: a request that only reads saves the session's LastSeen
// at most every 5 minutes (the idle refresh with an IdleTimeout;
// WithIdleRefresh sets it), so the order is that of use to within that.
// When logins race, the newest n win, which can end a login's own session
// before its response reaches the device.
// A login that renews the token of a device's session (RenewToken, as a
// login should) replaces that session and does not count twice. Only saves
// that give a session to a user pay for the check: one listing of that
// user's sessions. WithMaxSessions needs WithUserID (New panics without it)
// and an n of at least 1.
func WithMaxSessions(n int) Option {
	return func(c *config) { c.maxSessions, c.capped = n, true }
}

// A SessionInfo describes one of a user's sessions, as Sessions lists them.
type SessionInfo struct {
	ID       string    // opaque (a hash), for Revoke; reveals neither the token nor the user
	Created  time.Time // when the session was created, or its token last renewed (at login)
	LastSeen time.Time // its last save; with IdleTimeout, within the idle refresh interval
	Expires  time.Time // when it ends unless used again
	Agent    string    // the User-Agent of the request that created it
	Current  bool      // it is the session of the request that asked
}

// ErrNoUserIndex is returned by Sessions and the Revoke methods when the
// Manager has no WithUserID option.
var ErrNoUserIndex = errors.New("scsession: sessions are not indexed by user; pass WithUserID to New")

// ErrSessionID is returned by Revoke for an ID that is not one of the current
// user's live sessions: never theirs, or ended already. Nothing was revoked.
var ErrSessionID = errors.New("scsession: not the ID of one of this user's sessions (it may have ended already)")

// Sessions returns the live sessions of user, the most recently seen first.
// Its cost grows with that user's sessions, not with the store's. Current is
// set when ctx is a request's below LoadAndSave.
func (m *Manager[T]) Sessions(ctx context.Context, user string) ([]SessionInfo, error) {
	stored, err := m.userSessions(ctx, user)
	if err != nil {
		return nil, err
	}
	var own []string
	if s, ok := ctx.Value(m).(*session[T]); ok && s != m.skipped {
		s.mu.Lock()
		own = m.ownKeys(s)
		s.mu.Unlock()
	}
	infos := make([]SessionInfo, 0, len(stored))
	for key, l := range stored {
		env := l.env
		infos = append(infos, SessionInfo{
			ID:       sessionID(key),
			Created:  env.created,
			LastSeen: env.touched,
			Expires:  m.expiry(&env),
			Agent:    env.agent,
			Current:  slices.Contains(own, key),
		})
	}
	slices.SortFunc(infos, func(a, b SessionInfo) int { return b.LastSeen.Compare(a.LastSeen) })
	return infos, nil
}

// Revoke ends one of the current request's user's sessions, by the ID that
// Sessions gave it: it reads as new on its next request, on any instance,
// and a request of it in flight cannot save it back. An ID of another user's
// session, or of one that has ended, gives ErrSessionID, so a forged form
// cannot sign out somebody else. Revoke panics outside LoadAndSave; tools
// that act for any user use RevokeUserSession.
func (m *Manager[T]) Revoke(ctx context.Context, id string) error {
	user, _, err := m.current(ctx)
	if err != nil {
		return err
	}
	return m.RevokeUserSession(ctx, user, id)
}

// RevokeUserSession ends the session of user with the given ID, as Revoke
// does, for code that acts for any user (an admin page, a support tool); it
// needs no request. It returns ErrSessionID if user has no such session.
func (m *Manager[T]) RevokeUserSession(ctx context.Context, user, id string) error {
	stored, err := m.userSessions(ctx, user)
	if err != nil {
		return err
	}
	for key, l := range stored {
		if sessionID(key) != id {
			continue
		}
		ended, err := m.end(ctx, user, key, l)
		if ended {
			m.emit(ctx, Event{Kind: EventDestroyed, Session: sessionID(key)})
		}
		if err != nil || ended {
			return err
		}
		break // it ended meanwhile
	}
	return ErrSessionID
}

// RevokeOthers ends every session of the current request's user except the
// current one ("log out everywhere else"), and returns how many it ended. An
// anonymous session has no others.
func (m *Manager[T]) RevokeOthers(ctx context.Context) (int, error) {
	if m.userID == nil {
		return 0, ErrNoUserIndex // or a "log out everywhere" button would silently do nothing
	}
	user, own, err := m.current(ctx)
	if err != nil || user == "" {
		return 0, err
	}
	return m.revoke(ctx, user, own...)
}

// current returns the user of the request's session and its store keys.
func (m *Manager[T]) current(ctx context.Context) (user string, own []string, err error) {
	s := m.from(ctx)
	if s == m.skipped {
		return "", nil, ErrSkipped
	}
	s.mu.Lock()
	defer m.unlock(ctx, s)
	if err := m.load(ctx, s); err != nil {
		return "", nil, err
	}
	user = s.env.user
	if user == m.anonymous {
		user = "" // saved before the zero T's "user" meant no user
	}
	return user, m.ownKeys(s), nil
}

// ownKeys returns the store keys of the request's session: its token's and,
// after RenewToken in this request, the old token's, which the save retires
// (revoking it would end the renewed session too). s.mu is held.
func (m *Manager[T]) ownKeys(s *session[T]) []string {
	var own []string
	for _, token := range []string{s.token, s.old} {
		if token != "" {
			own = append(own, m.key(token))
		}
	}
	return own
}

// RevokeUser ends every session of user, after a password change or a
// stolen laptop, and returns how many it ended.
func (m *Manager[T]) RevokeUser(ctx context.Context, user string) (int, error) {
	return m.revoke(ctx, user)
}

// revoke ends the sessions of user but those under keep, and returns how
// many it ended. It lists and ends them again until a listing finds none
// left: a renewal in flight may have moved a session to a new token after a
// listing and before the old token's deletion, which then ends nothing. The
// renewal indexed its new token before saving it, and saved it before
// deleting the old one, so the next listing finds it; and once the old token
// is deleted, a renewal that has not saved yet fails its compare-and-swap.
func (m *Manager[T]) revoke(ctx context.Context, user string, keep ...string) (int, error) {
	n := 0
	for range maxAttempts {
		stored, err := m.userSessions(ctx, user)
		if err != nil {
			return n, err
		}
		listed := 0
		for key, l := range stored {
			if slices.Contains(keep, key) {
				continue
			}
			listed++
			ended, err := m.end(ctx, user, key, l)
			if err != nil {
				return n, err
			}
			if ended {
				m.emit(ctx, Event{Kind: EventDestroyed, Session: sessionID(key)})
				n++
			}
		}
		if listed == 0 {
			return n, nil
		}
	}
	return n, ErrConflict
}

// end deletes the session under key, which a listing found holding l, and
// its index entry, and reports whether it ended it: false if it was gone
// already (a renewal retired the token, or a logout), which is then neither
// counted nor announced (the caller announces the others). One that changed
// since the listing ends all the same.
func (m *Manager[T]) end(ctx context.Context, user, key string, l listed) (bool, error) {
	m.cache.forget(l.env.data)
	cur, ended, err := m.store.swap(ctx, key, l.raw, nil, time.Time{})
	if err == nil && !ended && cur != nil {
		err = m.store.delete(ctx, key)
		ended = err == nil
	}
	if err != nil {
		return false, fmt.Errorf("scsession: revoking session: %w", err)
	}
	return ended, m.index.RemoveUserSession(ctx, user, key)
}

// evict ends, after a save gave user a session, the least recently seen of
// user's sessions beyond WithMaxSessions' cap, and returns their events.
// Every request that evicts keeps the same sessions of those it sees, the
// newest by LastSeen (ties broken by key), so logins racing each other
// leave exactly the cap: the last of them to list sees them all.
func (m *Manager[T]) evict(ctx context.Context, user string) ([]Event, error) {
	stored, err := m.userSessions(ctx, user)
	if err != nil || len(stored) <= m.cfg.maxSessions {
		return nil, err
	}
	keys := slices.Collect(maps.Keys(stored))
	slices.SortFunc(keys, func(a, b string) int {
		if c := stored[b].env.touched.Compare(stored[a].env.touched); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	var events []Event
	for _, key := range keys[m.cfg.maxSessions:] {
		ended, err := m.end(ctx, user, key, stored[key])
		if ended {
			events = append(events, Event{Kind: EventEvicted, Session: sessionID(key)})
		}
		if err != nil {
			return events, err
		}
	}
	return events, nil
}

// listed is a session as a listing of its user's found it.
type listed struct {
	raw []byte
	env envelope
}

// userSessions returns the user's stored sessions, decoded, by key; entries
// whose data now belongs to another user are left out.
func (m *Manager[T]) userSessions(ctx context.Context, user string) (map[string]listed, error) {
	if m.userID == nil {
		return nil, ErrNoUserIndex
	}
	if user == "" || user == m.anonymous {
		return nil, nil // the zero T's "user" is no user (sessions saved before that rule may still name it)
	}
	stored, err := m.index.UserSessions(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("scsession: listing sessions of a user: %w", err)
	}
	out := make(map[string]listed, len(stored))
	for key, b := range stored {
		if env, err := decodeEnvelope(b); err == nil && env.user == user {
			out[key] = listed{b, env}
		}
	}
	return out, nil
}

// sessionID names a session by a hash of its store key, which may be the
// token itself.
func sessionID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// An entry is one of the user index's: the session under key is user's.
type entry struct{ user, key string }

// indexBefore records the session under its user before it is saved, when
// that is news to the index: a new session or token, or another user. A save
// that then fails leaves an entry that listings skip until it expires (or
// that unindexAdded removes). s.mu is held.
func (m *Manager[T]) indexBefore(ctx context.Context, s *session[T]) error {
	if m.index == nil || s.env.user == "" {
		return nil
	}
	e := entry{s.env.user, m.key(s.token)}
	if (s.old == "" && s.read != nil && s.indexed == e.user) || slices.Contains(s.entries, e) {
		return nil // the index has it
	}
	if err := m.index.AddUserSession(ctx, e.user, e.key, s.env.deadline); err != nil {
		return fmt.Errorf("scsession: indexing the session of a user: %w", err)
	}
	s.entries = append(s.entries, e)
	return nil
}

// indexAfter drops, after a save, the entries the save made stale: the one
// the data it replaced had (under the old token, after a renewal), and those
// this request added for a user or token that is no longer the session's.
// s.mu is held.
func (m *Manager[T]) indexAfter(ctx context.Context, s *session[T]) error {
	final := entry{s.env.user, m.key(s.token)}
	stale := s.entries
	if s.indexed != "" {
		base := final.key
		if s.old != "" {
			base = m.key(s.old)
		}
		stale = append(stale, entry{s.indexed, base})
	}
	s.indexed, s.entries = s.env.user, nil
	if m.index == nil {
		return nil
	}
	var errs []error
	for _, e := range stale {
		if e != final {
			errs = append(errs, m.index.RemoveUserSession(ctx, e.user, e.key))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("scsession: indexing the session of a user: %w", err)
	}
	return nil
}

// unindexAdded removes the entries this request added, for a save that did
// not happen; an entry left behind is only skipped by listings until it
// expires. s.mu is held.
func (m *Manager[T]) unindexAdded(ctx context.Context, s *session[T]) {
	for _, e := range s.entries {
		m.index.RemoveUserSession(ctx, e.user, e.key)
	}
	s.entries = nil
}
