package scsession

import (
	"bufio"
	"errors"
	"net"
	"net/http"
)

// responseWriter saves the session before the first byte of the response,
// while headers can still carry the cookie.
type responseWriter struct {
	http.ResponseWriter
	r    *http.Request
	save committer
	done bool // commit has run
	ok   bool // and the handler's response goes through
}

// A committer saves a request's session into the headers of w, once, and
// reports false if its ErrorFunc answered the request instead.
type committer interface {
	commit(w http.ResponseWriter, r *http.Request) bool
}

func (w *responseWriter) commit() bool {
	if !w.done {
		w.done = true
		w.ok = w.save.commit(w.ResponseWriter, w.r)
	}
	return w.ok
}

func (w *responseWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code) // informational (103 Early Hints): the response has not started
		return
	}
	if w.commit() {
		w.ResponseWriter.WriteHeader(code)
	}
}

// Write passes b on, unless the ErrorFunc has answered this request instead:
// then b is dropped.
func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.commit() {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *responseWriter) Flush() {
	if w.commit() {
		http.NewResponseController(w.ResponseWriter).Flush()
	}
}

// Hijack saves the session first: after it, nothing more can be sent. The
// cookie set then travels only if the new owner of the connection sends
// the response's headers.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !w.commit() {
		return nil, nil, errors.New("scsession: the session could not be saved, so the connection was not hijacked")
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *responseWriter) Unwrap() http.ResponseWriter {
	return w.ResponseWriter
}
