package scsession

import (
	"context"
	"fmt"
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
// if the response has already started or the request is skipped.
func (m *Manager[T]) Flash(ctx context.Context, kind, message string) {
	s, err := m.begin(ctx)
	if err != nil {
		return
	}
	defer m.unlock(ctx, s)
	f := Flash{Kind: kind, Message: message}
	s.env.flashes = append(s.env.flashes, f)
	s.added = append(s.added, f)
}

// Flashes returns the session's pending messages in the order they were
// added and removes them, so each is shown once, even when several requests
// of the session run at once: the stored messages are removed from the store
// at once, in one atomic step where the store allows it. Call it before
// writing the response: once the response has started the messages cannot be
// removed, so Flashes returns nil and leaves them for the next page.
func (m *Manager[T]) Flashes(ctx context.Context) []Flash {
	s := m.from(ctx)
	if s.skipped {
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
		shown = append(m.takeStored(ctx, s), s.added...)
	}
	s.env.flashes, s.added = nil, nil
	return shown
}

// takeStored removes the flash messages stored for the session and returns
// them. They are under s.token, and s moves onto what the store then holds
// plus the request's changes; or, after RenewToken in this request, under
// the old token, until the save retires it. There s.oldRead moves only if no
// other request changed the old token, so that retire still carries their
// change over. A store error fails the request, as a failed load does. s.mu
// is held.
func (m *Manager[T]) takeStored(ctx context.Context, s *session[T]) []Flash {
	token, read, renewed := s.token, s.read, s.read == nil
	if renewed {
		token, read = s.old, s.oldRead
	}
	for attempt := range maxAttempts {
		base, err := decodeEnvelope(read)
		if err != nil || len(base.flashes) == 0 {
			return nil
		}
		taken := base.flashes
		base.flashes, base.touched = nil, time.Now()
		b := base.encode()
		cur, ok, err := m.swap(ctx, token, read, b, m.expiry(&base))
		switch {
		case err != nil:
			s.loadErr = fmt.Errorf("scsession: removing shown flash messages: %w", err)
			return nil
		case ok && renewed:
			if attempt == 0 {
				s.oldRead = b
			}
			return taken
		case ok:
			m.replay(s, b)
			return taken
		case cur == nil:
			return nil // the session was ended meanwhile; saving will notice
		}
		if !renewed && m.replay(s, cur) != nil {
			return nil
		}
		read = cur
	}
	s.loadErr = ErrConflict
	return nil
}
