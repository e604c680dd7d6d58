package bench

import (
	"bytes"
	"testing"

	"github.com/alexedwards/scs/v2/memstore"
)

var benchCookieKey = bytes.Repeat([]byte("k"), 32)

// BenchmarkRequestCookie is BenchmarkRequest with WithCookieStore, the
// session sealed in its cookie, beside scs and scsession on memstore:
//
//	impl=floor             the router with no sessions
//	impl=scs               scs on memstore
//	impl=scsession         Manager[benchUser] on memstore
//	impl=scsession-cookie  Manager[benchUser] with WithCookieStore: each
//	                       request opens the cookie, each write seals a new one
//
// for op=read, op=write and op=renew, without an idle timeout. Besides the
// usual metrics it reports B/cookie, the bytes of the Cookie header the
// seeded session takes ("session=" and the value).
func BenchmarkRequestCookie(b *testing.B) {
	for _, op := range []string{"read", "write", "renew"} {
		for _, impl := range []string{"floor", "scs", "scsession", "scsession-cookie"} {
			b.Run("store=cookie/idle=off/op="+op+"/impl="+impl, func(b *testing.B) {
				sm, store := benchSessionManager(memstore.NewWithCleanupInterval(0), 0)
				app := newBenchApp(b, impl, sm, store)
				benchRequests(b, app, op)
				b.ReportMetric(float64(len(app.cookie)), "B/cookie")
			})
		}
	}
}
