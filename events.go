package scsession

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// An EventKind says what happened to a session.
type EventKind int

const (
	// EventCreated: a new session was saved for the first time.
	EventCreated EventKind = iota + 1
	// EventRenewed: RenewToken replaced the session's token, and the new one
	// was saved; Session names the old one.
	EventRenewed
	// EventDestroyed: Destroy, or a revocation (Revoke, RevokeOthers,
	// RevokeUser, RevokeUserSession), ended the session.
	EventDestroyed
	// EventMismatch: the stored data was written by another version of the
	// session type (or is not scsession's at all), and is saved in the current
	// shape. Fields that still fit were kept; Err says what was lost, and is
	// nil when nothing was (fields added, or removed while empty).
	EventMismatch
	// EventRejected: a session cookie (or WithTokenHeader's header, or
	// WithCookieStore's sealed cookie) was malformed, wrongly signed or did
	// not open, and the request got a new session instead; the response
	// expires a malformed cookie (a wrongly signed one, or one sealed with a
	// key this instance does not list, may be another instance's,
	// mid-rotation) and answers a bad header token with an empty one.
	// Since any client can send one, at most one a second is logged at Warn,
	// the others at Debug.
	EventRejected
	// EventLateChange: a change came after the response had started and was
	// lost; the method returned ErrCommitted.
	EventLateChange
	// EventDropped: another request ended the session (Destroy, RenewToken,
	// a revocation) after this one read it, so this request's changes (or
	// its renewal) were not saved: an ended session stays ended.
	EventDropped
	// EventEvicted: WithMaxSessions ended the session, the least recently
	// seen of its user's, when a save gave the user one session too many.
	EventEvicted
)

var eventNames = [...]string{
	EventCreated:    "created",
	EventRenewed:    "renewed",
	EventDestroyed:  "destroyed",
	EventMismatch:   "mismatch",
	EventRejected:   "rejected",
	EventLateChange: "late change",
	EventDropped:    "dropped",
	EventEvicted:    "evicted",
}

func (k EventKind) String() string {
	if k > 0 && int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "unknown"
}

// An Event is something that happened to a session during a request.
type Event struct {
	Kind EventKind
	// Session is the session's ID, the same in every event and log line
	// about it, in SessionInfo.ID and from Manager.ID: a hash that reveals
	// neither the token nor the user. It is empty when there is no token.
	Session string
	// Err says what went wrong, for EventMismatch (nil when nothing was
	// lost), EventRejected, EventLateChange and EventDropped.
	Err error
}

// WithEvents calls fn for every Event, on the request's goroutine and with
// its context. fn may call the Manager's methods; it should be quick.
func WithEvents(fn func(ctx context.Context, e Event)) Option {
	return func(c *config) { c.events = fn }
}

// WithLogger sets the logger for events: warnings for mismatched data,
// rejected cookies and lost changes, debug lines for the rest. The default
// is slog.Default(). Store errors go to the SessionManager's ErrorFunc, or,
// while that is scs's default (which logs with the log package), to this
// logger, at Error.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// A limiter lets through one warning a second; the others are logged at
// Debug. Any client can send a bad cookie on every request, and must not be
// able to flood the logs with warnings.
type limiter struct{ last atomic.Int64 } // Unix nanoseconds of the last warning

func (l *limiter) allow() bool {
	now, last := time.Now().UnixNano(), l.last.Load()
	return now-last >= int64(time.Second) && l.last.CompareAndSwap(last, now)
}

// warnLimited logs msg at Warn if l allows, at Debug otherwise: for what any
// client can cause on every request.
func (m *Manager[T]) warnLimited(ctx context.Context, l *limiter, msg string, attrs ...slog.Attr) {
	level := slog.LevelDebug
	if l.allow() {
		level = slog.LevelWarn
	}
	m.cfg.logger.LogAttrs(ctx, level, msg, attrs...)
}

func (m *Manager[T]) emit(ctx context.Context, e Event) {
	level := slog.LevelDebug
	if e.Err != nil && (e.Kind != EventRejected || m.limits.rejected.allow()) {
		level = slog.LevelWarn
	}
	if m.cfg.logger.Enabled(ctx, level) {
		attrs := []slog.Attr{slog.String("session", e.Session)}
		if e.Err != nil {
			attrs = append(attrs, slog.String("error", e.Err.Error()))
		}
		m.cfg.logger.LogAttrs(ctx, level, "scsession: "+e.Kind.String(), attrs...)
	}
	if m.cfg.events != nil {
		m.cfg.events(ctx, e)
	}
}
