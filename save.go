package scsession

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"runtime"
	"slices"
	"time"
)

// maxAttempts bounds how often a compare-and-set is tried again on newer data.
const maxAttempts = 200

// ErrConflict is given to the ErrorFunc when a session changed under so many
// concurrent requests that a request's changes could not be saved.
var ErrConflict = fmt.Errorf("scsession: the session kept changing under concurrent requests; gave up saving after %d attempts", maxAttempts)

var errEnded = errors.New("scsession: another request ended the session (Destroy, RenewToken) after this one read it; its changes were dropped so that the session stays ended")

// swapLoop is the Manager's one compare-and-set. write stores what the
// request holds if the store still holds what the request last read, and
// otherwise returns what it holds; rebase then makes that the request's base
// and says whether to try again (false: nothing left to write). The store
// holding nothing where the request read something means that another
// request ended the session: swapLoop returns errEnded, having written
// nothing. A store error is returned as it is.
func swapLoop(write func() (current []byte, ok bool, err error), rebase func(current []byte) (again bool, err error)) error {
	for range maxAttempts {
		cur, ok, err := write()
		switch {
		case err != nil:
			return err
		case ok:
			return nil
		case cur == nil:
			return errEnded
		}
		if again, err := rebase(cur); err != nil || !again {
			return err
		}
	}
	return ErrConflict
}

func (s *session[T]) commit(w http.ResponseWriter, r *http.Request) bool { return s.m.commit(w, r, s) }

// commit saves the session if it changed, or if its idle expiry is due for a
// refresh, and sets the cookie. It runs once, before the response's first
// byte, and reports false if the ErrorFunc answered instead.
func (m *Manager[T]) commit(w http.ResponseWriter, r *http.Request, s *session[T]) bool {
	ctx := r.Context()
	s.mu.Lock()
	defer m.unlock(ctx, s)
	err := s.loadErr // only a load the handler asked for fails the response
	if !s.loaded && s.why&resign != 0 && s.token != "" {
		// Re-signing needs the stored expiry; it can wait for a later
		// request if the store fails now.
		if lerr := m.load(ctx, s); lerr != nil {
			m.cfg.logger.WarnContext(ctx, "scsession: cookie not re-signed", slog.String("error", lerr.Error()))
		}
	}
	s.committed = true
	now := time.Now()
	switch {
	case err != nil:
	case !s.ops.empty() || s.why&(renewed|repaired) != 0 || m.idleDue(s, now):
		if m.userID != nil && s.env.agent == "" {
			s.env.agent = agent(r) // for Sessions: the device that creates the session
		}
		err = m.save(ctx, w, s, now)
		if err != nil && s.ops.empty() && s.why&renewed == 0 {
			// Only an idle refresh or a repair: the page can do without it (a
			// full store fails writes, not reads), and a later request tries again.
			m.warnLimited(ctx, &m.limits.notRefreshed, "scsession: session not refreshed; it keeps its earlier expiry and last-seen time",
				slog.String("session", m.name(s.token)), slog.String("error", err.Error()))
			err = nil
		}
	case s.why&(destroyed|rejected) != 0:
		m.send(w, s, "")
	case s.read != nil && (s.why&resign != 0 || m.resealDue(s)):
		if serr := m.send(w, s, s.token); serr != nil {
			// The client keeps the cookie it has, which the next save replaces.
			m.cfg.logger.WarnContext(ctx, "scsession: cookie not sealed again", slog.String("error", serr.Error()))
		}
	}
	if err != nil {
		// The handler's Location, Cache-Control... belong to its answer, not
		// to this one; what middleware above set (CORS, a request ID) stays.
		h := w.Header()
		clear(h)
		maps.Copy(h, s.above)
		m.errorFunc(w, r, err)
		return false
	}
	if s.loaded {
		h := w.Header()
		h["Vary"] = append(h["Vary"], "Cookie") // the key is canonical already
		if m.cfg.tokenHeader != "" {
			h["Vary"] = append(h["Vary"], m.cfg.tokenHeader)
		}
	}
	return true
}

// errorFunc answers a request whose session could not be loaded or saved:
// with the SessionManager's ErrorFunc, unless it is still scs's default,
// which logs with the log package: then with a 500 and a line in the
// Manager's logger, where the app's other lines go.
func (m *Manager[T]) errorFunc(w http.ResponseWriter, r *http.Request, err error) {
	if fn := m.sessions.ErrorFunc; fn != nil && !isSCSDefault(fn) {
		fn(w, r, err)
		return
	}
	m.cfg.logger.ErrorContext(r.Context(), err.Error())
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}

// isSCSDefault reports whether fn is scs's default ErrorFunc, which scs.New
// installs and which logs with the log package.
func isSCSDefault(fn func(http.ResponseWriter, *http.Request, error)) bool {
	f := runtime.FuncForPC(reflect.ValueOf(fn).Pointer())
	return f != nil && f.Name() == "github.com/alexedwards/scs/v2.defaultErrorFunc"
}

// save writes s.env by compare-and-set against what the request read, under
// a new token after RenewToken (retiring the old one in the same step). If
// another request saved first, the request's changes are applied again to
// what it saved; if it ended the session, the session stays ended. s.mu is
// held.
func (m *Manager[T]) save(ctx context.Context, w http.ResponseWriter, s *session[T], now time.Time) error {
	if s.token == "" {
		s.token = newToken()
	}
	isNew := s.read == nil && s.old == "" // nothing stored yet, under any token
	saved := false
	write := func() ([]byte, bool, error) {
		cur, ok, err := m.write(ctx, s, now)
		saved = ok
		return cur, ok, err
	}
	err := swapLoop(write, func(cur []byte) (bool, error) { return m.rebaseSave(s, cur) })
	switch {
	case errors.Is(err, errEnded):
		m.unindexAdded(ctx, s)
		name := s.token
		if s.old != "" {
			name = s.old
			if m.index != nil && s.indexed != "" {
				// The old token is gone (an emulated renewal may have deleted it
				// itself, the new one having been revoked): so is its entry.
				m.index.RemoveUserSession(ctx, s.indexed, m.key(s.old))
			}
		}
		if !s.ops.empty() || s.old != "" {
			s.events = append(s.events, Event{Kind: EventDropped, Session: m.name(name), Err: errEnded})
		}
		return nil
	case err != nil:
		if s.old != "" {
			// The client keeps the old token, which still holds the session: the
			// new one must not live on, listed, with no browser holding it.
			ctx := context.WithoutCancel(ctx) // also when the request was cancelled
			m.store.delete(ctx, m.key(s.token))
			m.unindexAdded(ctx, s)
		}
		return fmt.Errorf("scsession: saving session: %w", err)
	case !saved:
		return nil // rebaseSave found nothing left to write
	}
	if m.cookieChanged(s) {
		if err := m.send(w, s, s.token); err != nil {
			return fmt.Errorf("scsession: saving session: %w", err) // a cookie store's session too large: nothing saved
		}
	}
	switch {
	case isNew:
		s.events = append(s.events, Event{Kind: EventCreated, Session: m.name(s.token)})
	case s.old != "":
		s.events = append(s.events, Event{Kind: EventRenewed, Session: m.name(s.old)})
	}
	gained := m.cfg.capped && slices.Contains(s.entries, entry{s.env.user, m.key(s.token)}) // the user has one more session
	if err := m.indexAfter(ctx, s); err != nil {
		// Saved all the same: listings skip the stale entry until it expires.
		m.cfg.logger.WarnContext(ctx, "scsession: stale user index entry kept", slog.String("error", err.Error()))
	}
	if gained {
		events, err := m.evict(ctx, s.env.user)
		s.events = append(s.events, events...)
		if err != nil {
			// Saved all the same: the next login of the user tries again.
			m.cfg.logger.WarnContext(ctx, "scsession: sessions over WithMaxSessions' cap not ended", slog.String("error", err.Error()))
		}
	}
	return nil
}

// write is one attempt of save: it indexes the session if that is news,
// then stores it if the store holds what the request read, under the old
// token for a renewal. s.mu is held.
func (m *Manager[T]) write(ctx context.Context, s *session[T], now time.Time) (current []byte, ok bool, err error) {
	if err := m.indexBefore(ctx, s); err != nil {
		return nil, false, err
	}
	s.env.touched = now
	b, key := s.env.encode(), m.key(s.token)
	if s.old != "" {
		current, ok, err = m.store.renew(ctx, m.key(s.old), s.oldRead, key, b, m.expiry(&s.env))
	} else {
		current, ok, err = m.store.swap(ctx, key, s.read, b, m.expiry(&s.env))
		// A client that retried a swap whose answer was lost finds its own
		// bytes (they carry the save's time to the nanosecond): it was saved.
		ok = ok || (err == nil && current != nil && bytes.Equal(current, b))
	}
	if ok {
		s.read = b
	}
	return current, ok, err
}

// rebaseSave makes cur, what another request saved after this one read the
// session, the request's base, and says whether there is still something to
// write. A renewal keeps its new creation time and deadline. s.mu is held.
func (m *Manager[T]) rebaseSave(s *session[T], cur []byte) (again bool, err error) {
	renewing := s.old != ""
	if !renewing && s.ops.empty() {
		return false, nil // a refresh or a repair only, and a newer save did it too
	}
	env, adopted, err := m.decodeStored(cur) // adopted: plain scs saved it meanwhile, mid-deploy
	if err != nil {
		return false, errEnded // not ours any more: as good as ended
	}
	if renewing {
		s.oldRead = cur
		env.created, env.deadline = s.env.created, s.env.deadline
	} else {
		s.read = cur
	}
	if !adopted {
		s.indexed = env.user // the request that saved cur indexed it so
	}
	return true, m.rebase(s, env)
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
// one a save sets: another token, another signature, another expiry (with
// IdleTimeout, every save moves it) or another persistence. A token header
// has no expiry: only another token or signature changes it. With
// WithCookieStore the cookie holds what was saved.
func (m *Manager[T]) cookieChanged(s *session[T]) bool {
	if m.sealer != nil {
		return true // the cookie is what was saved
	}
	if s.inHeader() {
		return s.token != s.held || s.why&resign != 0
	}
	return s.token != s.held || s.why&resign != 0 || s.ops.remember != nil || m.sessions.IdleTimeout > 0
}

// idleDue reports whether a request that changed nothing should save the
// session all the same, to push back its idle expiry or, with
// WithMaxSessions, to record that it is in use (its LastSeen).
func (m *Manager[T]) idleDue(s *session[T], now time.Time) bool {
	idle := m.sessions.IdleTimeout
	if s.read == nil || idle <= 0 && (!m.cfg.capped || s.env.user == "") {
		return false // nothing to expire, and no user's cap to count it in
	}
	every := idle / 10
	switch {
	case m.cfg.refreshSet && idle > 0:
		every = min(m.cfg.idleRefresh, idle/2) // New refuses more; an IdleTimeout set after New must not expire sessions in use
	case m.cfg.refreshSet:
		every = m.cfg.idleRefresh
	case idle <= 0:
		every = seenRefresh
	}
	return now.Sub(s.env.touched) >= every
}

// seenRefresh is how often, at most, a request that changes nothing saves
// the session under WithMaxSessions without an IdleTimeout, so that the
// sessions the cap ends are the least recently used, not the least recently
// changed.
const seenRefresh = 5 * time.Minute

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
