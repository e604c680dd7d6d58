package scsession

import "context"

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
	s := m.from(ctx)
	if s.skipped {
		return
	}
	s.mu.Lock()
	defer m.unlock(ctx, s)
	if m.writable(ctx, s) != nil {
		return
	}
	s.env.flashes = append(s.env.flashes, Flash{Kind: kind, Message: message})
	s.dirty = true
}

// Flashes returns the session's pending messages in the order they were
// added and removes them, so each is shown once. Call it before writing the
// response: once the response has started the messages cannot be removed, so
// Flashes returns nil and leaves them for the next page.
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
	flashes := s.env.flashes
	s.env.flashes = nil
	s.dirty = true
	return flashes
}
