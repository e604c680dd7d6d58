package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

// The contract of scs.Store, which every store keeps, and of scs.CtxStore,
// whose methods must behave as the plain ones do: the Manager calls the Ctx
// methods of a store that has them, the plain ones otherwise.
const (
	foundRule   = "scs.Store: Find returns the bytes Commit stored for the token, exactly, until their expiry"
	missingRule = "scs.Store: Find of a token that was never stored, was deleted or has expired returns found=false and a nil error"
	commitRule  = "scs.Store: Commit of a token that exists overwrites its data and its expiry"
	deleteRule  = "scs.Store: Delete removes the token and its data, and of a token that does not exist it is a no-op that returns nil"
)

// methods are the scs.Store methods under test: the plain ones, or the Ctx
// ones of an scs.CtxStore.
type methods struct {
	st  scs.Store
	cs  scs.CtxStore // nil: the plain methods
	ctx context.Context
}

func (s methods) name(method string) string {
	if s.cs != nil {
		return method + "Ctx"
	}
	return method
}

func (s methods) find(token string) ([]byte, bool, error) {
	if s.cs != nil {
		return s.cs.FindCtx(s.ctx, token)
	}
	return s.st.Find(token)
}

func (s methods) commit(token string, b []byte, expiry time.Time) error {
	if s.cs != nil {
		return s.cs.CommitCtx(s.ctx, token, b, expiry)
	}
	return s.st.Commit(token, b, expiry)
}

func (s methods) delete(token string) error {
	if s.cs != nil {
		return s.cs.DeleteCtx(s.ctx, token)
	}
	return s.st.Delete(token)
}

// mustCommit commits b under token, and stops the test if that fails.
func (s methods) mustCommit(t *testing.T, token string, b []byte, expiry time.Time) {
	t.Helper()
	if err := s.commit(token, slices.Clone(b), expiry); err != nil {
		t.Fatalf("%s(token, %s, expiry %s) failed: %v", s.name("Commit"), show(b), expiry.Format(time.StampMilli), err)
	}
}

// wantData checks that the store holds want under token; after says what
// happened to it, for the message, and rules replace foundRule in it.
func (s methods) wantData(t *testing.T, token string, want []byte, after string, rules ...string) bool {
	t.Helper()
	rule := orRule(foundRule, rules)
	b, found, err := s.find(token)
	switch {
	case err != nil:
		t.Errorf("%s after %s returned the error %v; want %s (%s)", s.name("Find"), after, err, show(want), rule)
	case !found:
		t.Errorf("%s after %s found nothing; want %s (%s)", s.name("Find"), after, show(want), rule)
	case !same(b, want):
		t.Errorf("%s after %s returned %s; want %s (%s)", s.name("Find"), after, show(b), show(want), rule)
	default:
		return true
	}
	return false
}

// wantMissing checks that the store holds nothing under token.
func (s methods) wantMissing(t *testing.T, token, after string, rules ...string) {
	t.Helper()
	if b, found, err := s.find(token); err != nil || found {
		t.Errorf("%s after %s returned %s, found=%v, error %v; want found=false and no error (%s)",
			s.name("Find"), after, show(b), found, err, orRule(missingRule, rules))
	}
}

// gone checks that the store stops holding token by lateness after expiry.
// Call it once expiry has passed.
func (s methods) gone(t *testing.T, token string, expiry time.Time, after string, rules ...string) {
	t.Helper()
	var b []byte
	var found bool
	var err error
	if eventually(expiry, func() bool { b, found, err = s.find(token); return err != nil || !found }) && err == nil {
		return
	}
	if err != nil {
		t.Errorf("%s after %s, once it expired, returned the error %v; want found=false and no error (%s)", s.name("Find"), after, err, missingRule)
		return
	}
	t.Errorf("%s after %s still returned %s %v after its expiry; want found=false: a session past its expiry must not be found (%s)",
		s.name("Find"), after, show(b), lateness, orRule(missingRule, rules))
}

// orRule returns the rules for a message, def if there are none.
func orRule(def string, rules []string) string {
	if len(rules) == 0 {
		return def
	}
	return strings.Join(rules, "; ")
}

func testStore(t *testing.T, open func(*testing.T) scs.Store, withCtx bool) {
	if withCtx {
		if st := open(t); !isCtx(st) {
			t.Skipf("%T is not an scs.CtxStore; its Find, Commit and Delete are checked under Store", st)
		}
	}
	commit := "Commit" // for the messages
	if withCtx {
		commit = "CommitCtx"
	}
	fresh := func(t *testing.T) methods {
		st := open(t)
		s := methods{st: st, ctx: t.Context()}
		if withCtx {
			s.cs = st.(scs.CtxStore)
		}
		return s
	}

	t.Run("FindMissing", func(t *testing.T) {
		fresh(t).wantMissing(t, key(), "no "+commit+" of the token")
	})

	t.Run("CommitThenFind", func(t *testing.T) {
		s := fresh(t)
		values := []struct {
			name string
			b    []byte
		}{
			{"a zero byte", []byte{0}},
			{"binary bytes", []byte("\x00\xff\x80\xfe\x00session\x00\xc3\x28\n\r\t\x7f\x00")},
			{"every byte value", pattern(512)},
			{"JSON", []byte(`{"User":"alice","Cart":["tea","jam"]}`)},
			{"64 KiB", pattern(64 << 10)},
		}
		tokens := make([]string, len(values))
		for i, v := range values {
			tokens[i] = key()
			s.mustCommit(t, tokens[i], v.b, later())
		}
		for i, v := range values {
			s.wantData(t, tokens[i], v.b, commit+" of "+v.name)
		}
	})

	t.Run("CommitOverwrites", func(t *testing.T) {
		s := fresh(t)
		token := key()
		s.mustCommit(t, token, pattern(1024), later())
		s.mustCommit(t, token, []byte("second"), later())
		s.wantData(t, token, []byte("second"), "a "+commit+" of 1024 bytes, then one of 6 bytes, to the same token")
		s.mustCommit(t, token, []byte("third, longer"), later())
		s.wantData(t, token, []byte("third, longer"), "a third "+commit+" to the same token")
	})

	t.Run("DeleteRemoves", func(t *testing.T) {
		s := fresh(t)
		token, other := key(), key()
		s.mustCommit(t, token, []byte("deleted"), later())
		s.mustCommit(t, other, []byte("kept"), later())
		if err := s.delete(token); err != nil {
			t.Fatalf("%s of a stored token failed: %v (%s)", s.name("Delete"), err, deleteRule)
		}
		s.wantMissing(t, token, s.name("Delete")+" of the token")
		s.wantData(t, other, []byte("kept"), s.name("Delete")+" of another token")
	})

	t.Run("DeleteMissing", func(t *testing.T) {
		s := fresh(t)
		if err := s.delete(key()); err != nil {
			t.Errorf("%s of a token never stored returned %v; want nil (%s)", s.name("Delete"), err, deleteRule)
		}
		token := key()
		s.mustCommit(t, token, []byte("twice"), later())
		for i := range 2 {
			if err := s.delete(token); err != nil {
				t.Errorf("%s number %d of a token returned %v; want nil (%s)", s.name("Delete"), i+1, err, deleteRule)
			}
		}
	})

	t.Run("Expiry", func(t *testing.T) {
		s := fresh(t)
		expiring, extended, shortened := key(), key(), key()
		expiry := soon()
		s.mustCommit(t, expiring, []byte("expiring"), expiry)
		s.mustCommit(t, extended, []byte("first"), expiry)
		s.mustCommit(t, extended, []byte("extended"), later())
		s.mustCommit(t, shortened, []byte("first"), later())
		s.mustCommit(t, shortened, []byte("shortened"), expiry)
		if !s.wantData(t, expiring, []byte("expiring"), "a "+commit+" with an expiry 1s away, at once") {
			t.Fatal("the store lost a session before its expiry: does it read the expiry in the right unit and time zone?")
		}
		sleepPast(expiry)
		s.gone(t, expiring, expiry, "a "+commit+" with an expiry 1s away")
		s.gone(t, shortened, expiry, "a "+commit+" with an expiry an hour away, then one with an expiry 1s away", commitRule)
		s.wantData(t, extended, []byte("extended"), "a "+commit+" with an expiry 1s away, then one with an expiry an hour away, past the first expiry", commitRule)
	})

	t.Run("PastExpiry", func(t *testing.T) {
		s := fresh(t)
		token, replaced := key(), key()
		s.mustCommit(t, token, []byte("expired"), time.Now().Add(-time.Second))
		s.wantMissing(t, token, "a "+commit+" with an expiry 1s ago")
		s.mustCommit(t, replaced, []byte("live"), later())
		s.mustCommit(t, replaced, []byte("expired"), time.Now().Add(-time.Hour))
		s.wantMissing(t, replaced, "a "+commit+", then one with an expiry an hour ago, to the same token")
	})
}

func isCtx(st scs.Store) bool {
	_, ok := st.(scs.CtxStore)
	return ok
}
