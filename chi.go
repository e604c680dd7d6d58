package scsession

import "net/http"

// Require returns middleware that lets a request through only when
// allow(session) is true, and serves deny otherwise: a 401, a redirect to
// the login page... A nil deny answers 401 Unauthorized. It works on chi
// groups (r.With(m.Require(...)), r.Group) and with any net/http handler,
// below LoadAndSave.
func (m *Manager[T]) Require(allow func(T) bool, deny http.Handler) func(http.Handler) http.Handler {
	if deny == nil {
		deny = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
		})
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if allow(m.Get(r.Context())) {
				next.ServeHTTP(w, r)
				return
			}
			deny.ServeHTTP(w, r)
		})
	}
}
