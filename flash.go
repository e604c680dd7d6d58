package scsession

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// A Flash is a one-time message for the user, such as "Welcome back!" after a
// login, kept in the session until it is shown. Kind is yours to choose
// ("info", "error"...), typically a CSS class.
type Flash struct {
	Kind    string
	Message string
}

// Flash adds a message to the session, to be shown by the next page that
// calls Flashes, typically after a redirect. The message is lost, and logged,
// if the response has already started or the request is skipped. A session
// keeps at most 20 messages that were never shown: a 21st drops the oldest,
// with a warning.
func (m *Manager[T]) Flash(ctx context.Context, kind, message string) {
	s, err := m.begin(ctx)
	if errors.Is(err, ErrSkipped) { // a client may send the skip header: limited
		m.warnLimited(ctx, &m.limits.skippedFlash, "scsession: flash message lost: "+err.Error(), slog.String("kind", kind))
	}
	if err != nil {
		return // begin logged a late change; a failed load fails the request
	}
	defer m.unlock(ctx, s)
	f := Flash{Kind: kind, Message: message}
	s.env.flashes = m.capFlashes(ctx, append(s.env.flashes, f))
	s.ops.flashes = append(s.ops.flashes, f)
}

// maxFlashes bounds the messages a session keeps: a client that never
// follows its redirects must not grow its session for ever.
const maxFlashes = 20

// capFlashes keeps the newest maxFlashes of fs, and logs what it drops.
func (m *Manager[T]) capFlashes(ctx context.Context, fs []Flash) []Flash {
	if len(fs) <= maxFlashes {
		return fs
	}
	m.warnLimited(ctx, &m.limits.droppedFlash, // a client that never follows its redirects: limited
		fmt.Sprintf("scsession: a session holds more than %d flash messages that were never shown; dropping the oldest", maxFlashes),
		slog.Int("dropped", len(fs)-maxFlashes))
	return fs[len(fs)-maxFlashes:]
}

// Flashes returns the session's pending messages in the order they were
// added and removes them, so each is shown once, even when several requests
// of the session run at once: the stored messages are removed from the store
// at once, in one atomic step where the store allows it. Call it before
// writing the response: once the response has started the messages cannot be
// removed, so Flashes returns nil and leaves them for the next page. A store
// that cannot write (a full Redis) does not fail the page: the messages are
// shown, logged as possibly showing again.
func (m *Manager[T]) Flashes(ctx context.Context) []Flash {
	s := m.from(ctx)
	if s == m.skipped {
		return nil
	}
	s.mu.Lock()
	defer m.unlock(ctx, s)
	if m.load(ctx, s) != nil || len(s.env.flashes) == 0 {
		return nil
	}
	if s.committed {
		m.late(s)
		return nil
	}
	var shown []Flash
	if s.read == nil && s.oldRead == nil {
		shown = s.env.flashes // nothing stored: what the request holds is all there is
	} else {
		shown = append(m.takeStored(ctx, s), s.ops.flashes...)
	}
	s.env.flashes, s.ops.flashes = nil, nil
	return shown
}

// takeStored removes the flash messages stored for the session and returns
// them. They are under s.token, and s moves onto what the store then holds
// plus the request's changes; or, after RenewToken in this request, under
// the old token, until the save retires it. There s.oldRead moves only if no
// other request changed the old token, so that the save still carries their
// change over. If the store cannot remove them (it is full, or down), they
// are shown all the same, and a warning says they may show again. s.mu is
// held.
func (m *Manager[T]) takeStored(ctx context.Context, s *session[T]) []Flash {
	token, read, renewing := s.token, s.read, s.read == nil
	if renewing {
		token, read = s.old, s.oldRead
	}
	var taken []Flash
	var written []byte
	changed := false // another request changed the session meanwhile
	err := swapLoop(func() ([]byte, bool, error) {
		base, err := decodeEnvelope(read)
		if err != nil || len(base.flashes) == 0 {
			taken, written = nil, nil
			return nil, true, nil // none stored: nothing to remove
		}
		taken = base.flashes
		base.flashes, base.touched = nil, time.Now()
		written = base.encode()
		return m.store.swap(ctx, m.key(token), read, written, m.expiry(&base))
	}, func(cur []byte) (bool, error) {
		read, changed = cur, true
		return true, nil
	})
	switch {
	case errors.Is(err, errEnded):
		return nil // the session was ended meanwhile; saving will notice
	case err != nil:
		// Show them all the same: a full store fails writes, not pages.
		m.cfg.logger.WarnContext(ctx, "scsession: shown flash messages could not be removed from the store, so they may show again",
			slog.String("session", m.name(token)), slog.String("error", err.Error()))
		return taken
	case written == nil:
		return nil
	case renewing:
		if !changed {
			s.oldRead = written
		}
	default:
		env, _ := decodeEnvelope(written)
		s.read, s.indexed = written, env.user
		if m.rebase(s, env) != nil {
			return nil
		}
	}
	return taken
}
