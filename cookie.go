package scsession

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"iter"
	"net/http"
	"strings"
	"time"
)

// The session cookie carries a token, signed with WithSigningKeys. This
// file reads it, verifies it, writes it and names the token in the store.

const (
	tokenBytes = 32                      // random bytes in a token, as scs makes them
	tokenLen   = (tokenBytes*8 + 5) / 6  // 43 characters of unpadded base64url
	sigLen     = (sha256.Size*8 + 5) / 6 // an HMAC-SHA256, likewise
	minKeyLen  = 32                      // bytes in a signing key
	b64url     = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)

// WithSigningKeys signs session cookies: the cookie carries the token and an
// HMAC-SHA256 of it made with keys[0], and a cookie is accepted if any of the
// keys made its signature. To rotate, put the new key first and keep the old
// ones after it until the cookies they signed have expired; a cookie signed
// with an old key is signed again with the new one on its next request.
//
// Each key must be at least 32 random bytes (New panics otherwise), kept
// secret and the same on every instance of the application. A cookie whose
// signature or shape is wrong never reaches the store: the request gets a
// new, empty session and an EventRejected.
func WithSigningKeys(keys ...[]byte) Option {
	return func(c *config) { c.keys = keys }
}

// strictB64 refuses signatures whose unused trailing bits are set, so that a
// signature has one spelling and a cookie can only be one we issued.
var strictB64 = base64.RawURLEncoding.Strict()

var (
	errMalformed = errors.New("scsession: session cookie is not shaped like a session token")
	errSignature = errors.New("scsession: session cookie signature does not match any signing key")
)

// verify returns the token a cookie value carries, or "" when it carries
// none, whether it was signed with an old key, and whether it is malformed
// (not shaped like a token at all), which the response then expires. A
// well-shaped cookie signed with a key this instance does not know is not
// expired: in a rolling deploy of a new key, another instance may know it. Without signing keys the
// value must still look like a token, so that junk never reaches the store.
func (m *Manager[T]) verify(ctx context.Context, value string) (token string, stale, malformed bool) {
	if len(m.cfg.keys) == 0 {
		if isToken(value) {
			return value, false, false
		}
		m.emit(ctx, Event{Kind: EventRejected, Err: errMalformed})
		return "", false, true
	}
	var got [sha256.Size]byte
	token, sig, ok := strings.Cut(value, ".")
	ok = ok && isToken(token) && len(sig) == sigLen // before decoding: got has room for sigLen characters only
	if ok {
		n, err := strictB64.Decode(got[:], []byte(sig))
		ok = err == nil && n == len(got)
	}
	if !ok {
		m.emit(ctx, Event{Kind: EventRejected, Err: errMalformed})
		return "", false, true
	}
	for i, key := range m.cfg.keys {
		if hmac.Equal(got[:], mac(key, token)) {
			return token, i > 0, false
		}
	}
	m.emit(ctx, Event{Kind: EventRejected, Session: m.name(token), Err: errSignature})
	return "", false, false
}

// receive reads into s what the client holds of its session: the token its
// header or cookie carries, verified, or with WithCookieStore the sealed
// session.
func (m *Manager[T]) receive(r *http.Request, s *session[T]) {
	if m.sealer != nil {
		m.openCookie(r, s)
		return
	}
	value, ok := m.headerToken(r)
	if s.viaHeader = ok; !ok {
		value, ok = cookieValue(r, m.sessions.Cookie.Name)
	}
	if !ok {
		return
	}
	var stale, malformed bool
	s.token, stale, malformed = m.verify(r.Context(), value)
	s.held = s.token
	switch {
	case stale:
		s.why |= resign
	case malformed:
		s.why |= rejected // expire it, or the client sends it (and is logged) again and again
	}
}

// sign returns the cookie value for token: the token itself, or with signing
// keys the token, a dot and its signature.
func (m *Manager[T]) sign(token string) string {
	if len(m.cfg.keys) == 0 || token == "" {
		return token
	}
	return token + "." + base64.RawURLEncoding.EncodeToString(mac(m.cfg.keys[0], token))
}

func mac(key []byte, token string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(token))
	return h.Sum(nil)
}

func isToken(s string) bool {
	if len(s) != tokenLen {
		return false
	}
	for i := range len(s) {
		if !isB64url[s[i]] {
			return false
		}
	}
	return true
}

var isB64url = func() (t [256]bool) {
	for _, c := range []byte(b64url) {
		t[c] = true
	}
	return t
}()

func newToken() string {
	b := make([]byte, tokenBytes)
	rand.Read(b) // never fails: crypto/rand aborts the program rather than return an error
	return base64.RawURLEncoding.EncodeToString(b)
}

// name is the ID of the session under token, as events, log lines,
// Sessions and ID give it: a hash of its store key, which reveals neither
// the token nor the user. It is "" when there is no token.
func (m *Manager[T]) name(token string) string {
	if token == "" {
		return ""
	}
	return sessionID(m.key(token))
}

// cookieValue returns the value of the first cookie called name, as
// r.Cookie does, without allocating: the value is checked by verify.
func cookieValue(r *http.Request, name string) (string, bool) {
	for k, v := range cookies(r) {
		if k == name {
			return v, true
		}
	}
	return "", false
}

// cookies yields the name and value of each cookie r carries, in order,
// without allocating; values are not checked (their readers check them).
func cookies(r *http.Request) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for _, line := range r.Header["Cookie"] {
			for part := range strings.SplitSeq(line, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
				if !ok {
					continue
				}
				if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
					v = v[1 : len(v)-1]
				}
				if !yield(k, v) {
					return
				}
			}
		}
	}
}

// send gives the client what it must hold for the session under token: the
// cookie, the token header for a request that came with one, or with
// WithCookieStore the sealed session. An empty token ends what the client
// holds. Only sealing can fail: the session is too large for its cookies.
func (m *Manager[T]) send(w http.ResponseWriter, s *session[T], token string) error {
	switch {
	case s.inHeader():
		m.writeHeaderToken(w, token)
		return nil
	case m.sealer != nil:
		if err := m.sendSealed(w, s, token); err != nil {
			return err
		}
	default:
		m.writeCookie(w, m.sessions.Cookie.Name, m.sign(token), m.expiry(&s.env), s.env.remember)
	}
	w.Header().Add("Cache-Control", `no-cache="Set-Cookie"`)
	return nil
}

// writeCookie sets a cookie with the session cookie's attributes, as scs
// does; an empty value expires it.
func (m *Manager[T]) writeCookie(w http.ResponseWriter, name, value string, expiry time.Time, remember bool) {
	c := m.sessions.Cookie
	cookie := &http.Cookie{
		Name:        name,
		Value:       value,
		Domain:      c.Domain,
		HttpOnly:    c.HttpOnly,
		Path:        c.Path,
		SameSite:    c.SameSite,
		Secure:      c.Secure,
		Partitioned: c.Partitioned,
	}
	switch {
	case value == "":
		cookie.Expires = time.Unix(1, 0)
		cookie.MaxAge = -1
	case c.Persist || remember:
		cookie.Expires = time.Unix(expiry.Unix()+1, 0) // rounded up to the second
		cookie.MaxAge = int(time.Until(expiry).Seconds() + 1)
	}
	w.Header().Add("Set-Cookie", cookie.String())
}

// key is the store key of token: the token itself, or with HashTokenInStore
// a hash of it, as scs makes them.
func (m *Manager[T]) key(token string) string {
	if m.sessions.HashTokenInStore {
		sum := sha256.Sum256([]byte(token))
		return base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return token
}
