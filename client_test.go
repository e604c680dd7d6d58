package scsession

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"

	"github.com/scsession/scsession/internal/browser"
)

// user is the session type most tests store: what a real app keeps.
type user struct {
	UserID int
	Name   string
	Cart   []string
	Prefs  map[string]string
}

// client is the browser in miniature every module's tests share: one
// cookie jar, no redirects followed, assertions on what comes back.
type (
	client   = browser.Client
	response = browser.Response
)

func newClient(t testing.TB) *client { return browser.New(t) }

// countingStore counts the calls that reach the store, and can be told to fail.
type countingStore struct {
	scs.Store
	mu                   sync.Mutex
	finds, commits, dels int
	keys                 []string // every key asked for
	fail                 error
}

func newCountingStore() *countingStore {
	return &countingStore{Store: memstore.NewWithCleanupInterval(0)}
}

func (s *countingStore) Find(token string) ([]byte, bool, error) {
	s.mu.Lock()
	s.finds++
	s.keys = append(s.keys, token)
	fail := s.fail
	s.mu.Unlock()
	if fail != nil {
		return nil, false, fail
	}
	return s.Store.Find(token)
}

func (s *countingStore) Commit(token string, b []byte, expiry time.Time) error {
	s.mu.Lock()
	s.commits++
	s.keys = append(s.keys, token)
	fail := s.fail
	s.mu.Unlock()
	if fail != nil {
		return fail
	}
	return s.Store.Commit(token, b, expiry)
}

func (s *countingStore) Delete(token string) error {
	s.mu.Lock()
	s.dels++
	s.mu.Unlock()
	return s.Store.Delete(token)
}

// counts returns finds, commits and deletes since the last call.
func (s *countingStore) counts() (finds, commits, dels int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	finds, commits, dels = s.finds, s.commits, s.dels
	s.finds, s.commits, s.dels = 0, 0, 0
	return
}

// newSM returns scs's defaults on a counting store.
func newSM() (*scs.SessionManager, *countingStore) {
	sm := scs.New()
	st := newCountingStore()
	sm.Store = st
	return sm, st
}

// logBuffer collects log lines, for asserting on what was logged.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// discard is a logger for tests that make warnings on purpose.
var discard = slog.New(slog.DiscardHandler)

// eventLog records events, for asserting on them.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) option() Option {
	return WithEvents(func(_ context.Context, e Event) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.events = append(l.events, e)
	})
}

func (l *eventLog) count(kind EventKind) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.events {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// warnings counts the events of kind with an error: those logged at Warn.
func (l *eventLog) warnings(kind EventKind) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.events {
		if e.Kind == kind && e.Err != nil {
			n++
		}
	}
	return n
}

func (l *eventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var sb strings.Builder
	for _, e := range l.events {
		sb.WriteString(e.Kind.String() + " " + e.Session + " ")
		if e.Err != nil {
			sb.WriteString(e.Err.Error())
		}
		sb.WriteString("\n")
	}
	return sb.String()
}

// serve starts a test server for h behind m's middleware.
func serve[T any](t testing.TB, m *Manager[T], h http.Handler) string {
	return serveRaw(t, m.LoadAndSave(h))
}

// serveRaw starts a test server for h as it is, and returns its URL.
func serveRaw(t testing.TB, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// memSM is scs's defaults on a memstore without a cleanup goroutine: the
// store the Manager gives an in-memory user index.
func memSM() (*scs.SessionManager, *memstore.MemStore) {
	sm := scs.New()
	ms := memstore.NewWithCleanupInterval(0)
	sm.Store = ms
	return sm, ms
}

func byName(u user) string { return u.Name }
