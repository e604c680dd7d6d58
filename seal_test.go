package scsession

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func sealKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func newTestSealer(t testing.TB, keys ...[]byte) *sealer {
	t.Helper()
	s, err := newSealer(keys)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// chunksOf is what a request carries after a response set values.
func chunksOf(values ...string) *chunks {
	var c chunks
	for i, v := range values {
		c.values[i], c.has[i] = v, true
	}
	return &c
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// sessionBytes is a plausible packed session of about n bytes: JSON with a user,
// a cart and a random CSRF token.
func sessionBytes(n int) []byte {
	b := []byte(`{"UserID":48213,"Email":"ada@example.com","CSRF":"` + base64.RawURLEncoding.EncodeToString(randomBytes(32)) + `","Cart":[`)
	for i := 0; len(b) < n-2; i++ {
		b = fmt.Appendf(b, `{"SKU":"SKU-%05d","Qty":%d},`, i*7919%100000, i%5+1)
	}
	b = append(b[:min(len(b), n-2)], "]}"...)
	return b
}

func TestSealRoundTrip(t *testing.T) {
	s := newTestSealer(t, sealKey(1))
	for _, tc := range []struct {
		name   string
		plain  []byte
		chunks int
	}{
		{"empty", []byte{}, 1},
		{"tiny", []byte("x"), 1},
		{"typical", sessionBytes(200), 1},
		{"3KB compressible", sessionBytes(3000), 1},
		{"200KB compressible", bytes.Repeat([]byte("abcdefgh"), 25000), 1},
		{"1MiB of zeros", make([]byte, maxPlain), 1},
		{"2KB random", randomBytes(2000), 1},
		{"one full chunk", randomBytes(chunkLen*3/4 - sealedMin), 1},
		{"one character over a chunk", randomBytes(chunkLen*3/4 - sealedMin + 1), 2},
		{"three chunks", randomBytes(7000), 3},
		{"exactly at the bound", randomBytes(maxSealed*3/4 - sealedMin), maxChunks},
	} {
		t.Run(tc.name, func(t *testing.T) {
			values, err := s.seal("session", tc.plain)
			if err != nil {
				t.Fatal(err)
			}
			if len(values) != tc.chunks {
				t.Errorf("%d chunks, want %d", len(values), tc.chunks)
			}
			for i, v := range values {
				if len(v) > chunkLen || len(v) == 0 || i < len(values)-1 && len(v) != chunkLen {
					t.Errorf("chunk %d is %d characters", i, len(v))
				}
			}
			plain, stale, err := s.open("session", chunksOf(values...))
			if err != nil || stale || !bytes.Equal(plain, tc.plain) || plain == nil {
				t.Fatalf("open = %d bytes, stale %v, %v; want the %d bytes sealed", len(plain), stale, err, len(tc.plain))
			}
		})
	}
}

func TestSealTooLarge(t *testing.T) {
	s := newTestSealer(t, sealKey(1))
	for _, tc := range []struct {
		name  string
		plain []byte
		want  string
	}{
		{"one byte over the bound", randomBytes(maxSealed*3/4 - sealedMin + 1), "the session is 19002 bytes sealed, over the cookie store's 19000-byte bound; keep less in the session or use a server-side store"},
		{"100KB random", randomBytes(100000), "over the cookie store's 19000-byte bound"},
		{"over the plaintext bound", make([]byte, maxPlain+1), "the session is 1048577 bytes, over the cookie store's 1048576-byte bound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			values, err := s.seal("session", tc.plain)
			if !errors.Is(err, ErrCookieTooLarge) || values != nil {
				t.Fatalf("seal = %d values, %v; want ErrCookieTooLarge", len(values), err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestSealRotation(t *testing.T) {
	old, current := sealKey(1), sealKey(2)
	before := newTestSealer(t, old)
	during := newTestSealer(t, current, old)
	after := newTestSealer(t, current)
	plain := sessionBytes(200)
	sealedOld, _ := before.seal("session", plain)
	sealedNew, _ := during.seal("session", plain)
	for _, tc := range []struct {
		name      string
		s         *sealer
		values    []string
		wantStale bool
		wantErr   error
	}{
		{"old key, listed second", during, sealedOld, true, nil},
		{"new key, listed first", during, sealedNew, false, nil},
		{"old key, no longer listed", after, sealedOld, false, errSealKey},
		{"new key, not yet listed", before, sealedNew, false, errSealKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, stale, err := tc.s.open("session", chunksOf(tc.values...))
			if !errors.Is(err, tc.wantErr) || stale != tc.wantStale {
				t.Fatalf("open: stale %v, %v; want stale %v, %v", stale, err, tc.wantStale, tc.wantErr)
			}
			if err == nil && !bytes.Equal(got, plain) {
				t.Errorf("open = %q, want %q", got, plain)
			}
		})
	}
}

// The signing key and the cookie store key may be the same secret: what it
// seals with is derived from it, never the secret itself.
func TestSealDoesNotUseTheSecretAsKey(t *testing.T) {
	secret := sealKey(7)
	s := newTestSealer(t, secret)
	values, _ := s.seal("session", []byte("hello"))
	raw, _ := strictB64.DecodeString(values[0])
	block, _ := aes.NewCipher(secret)
	aead, _ := cipher.NewGCM(block)
	if _, err := aead.Open(nil, raw[sealHeadLen:sealHeadLen+nonceLen], raw[sealHeadLen+nonceLen:], append(raw[:sealHeadLen:sealHeadLen], "session"...)); err == nil {
		t.Fatal("the value opens with the raw secret as AES key")
	}
}

func TestSealNonceIsRandom(t *testing.T) {
	s := newTestSealer(t, sealKey(1))
	plain := sessionBytes(200)
	seen := map[string]bool{}
	for range 100 {
		values, _ := s.seal("session", plain)
		raw, err := strictB64.DecodeString(values[0])
		if err != nil {
			t.Fatal(err)
		}
		nonce := string(raw[sealHeadLen : sealHeadLen+nonceLen])
		if seen[values[0]] || seen[nonce] {
			t.Fatal("two seals of the same plaintext share a value or a nonce")
		}
		seen[values[0]], seen[nonce] = true, true
	}
}

func TestSealRevealsNothing(t *testing.T) {
	s := newTestSealer(t, sealKey(1))
	const marker = "MARKER-8b1f"
	for _, plain := range [][]byte{
		[]byte(marker),
		append(sessionBytes(200), marker...),
		bytes.Repeat([]byte(marker), 1000), // deflated
		append(randomBytes(5000), marker...),
	} {
		values, err := s.seal(marker, plain)
		if err != nil {
			t.Fatal(err)
		}
		joined := strings.Join(values, "")
		raw, err := strictB64.DecodeString(joined)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{marker, base64.RawURLEncoding.EncodeToString([]byte(marker))[:12]} {
			if strings.Contains(joined, m) || bytes.Contains(raw, []byte(m)) {
				t.Errorf("the cookie of a %d-byte session shows %q", len(plain), m)
			}
		}
	}
}

func TestOpenWithoutCookie(t *testing.T) {
	s := newTestSealer(t, sealKey(1))
	values, _ := s.seal("session", randomBytes(5000))
	for _, c := range []*chunks{
		{},
		{values: [maxChunks]string{1: values[1]}, has: [maxChunks]bool{1: true}}, // a leftover chunk
	} {
		plain, stale, err := s.open("session", c)
		if plain != nil || stale || err != nil {
			t.Errorf("open without the first chunk = %q, %v, %v; want no session and no error", plain, stale, err)
		}
	}
}

func TestOpenRejectsTampering(t *testing.T) {
	s := newTestSealer(t, sealKey(1))
	small, _ := s.seal("session", sessionBytes(200))
	large, _ := s.seal("session", randomBytes(8000)) // 3 chunks
	other, _ := s.seal("session", randomBytes(8000))
	if len(small) != 1 || len(large) != 3 {
		t.Fatalf("chunks: %d and %d, want 1 and 3", len(small), len(large))
	}
	header := func(count, flags byte) string {
		return strictB64.EncodeToString(append([]byte{sealFormat, count, flags}, make([]byte, 60)...))
	}
	type tamper struct {
		name   string
		cookie string // the name open is given
		c      *chunks
	}
	cases := []tamper{
		{"moved to another cookie name", "other", chunksOf(small...)},
		{"large moved to another cookie name", "other", chunksOf(large...)},
		{"empty", "session", chunksOf("")},
		{"garbage", "session", chunksOf("hello, world")},
		{"not base64url", "session", chunksOf(header(1, 0)[:8] + "!!!!" + header(1, 0)[12:])},
		{"padded", "session", chunksOf(base64.URLEncoding.EncodeToString(append([]byte{sealFormat, 1, 0}, make([]byte, 40)...)))},
		{"standard base64", "session", chunksOf(strings.ReplaceAll(strings.ReplaceAll(small[0], "-", "+"), "_", "/"))},
		{"header only", "session", chunksOf(header(1, 0)[:4])},
		{"unknown format", "session", chunksOf(strictB64.EncodeToString(append([]byte{2, 1, 0}, make([]byte, 60)...)))},
		{"zero chunks", "session", chunksOf(header(0, 0))},
		{"too many chunks", "session", chunksOf(header(maxChunks+1, 0))},
		{"unknown flag", "session", chunksOf(header(1, 2))},
		{"oversized chunk", "session", chunksOf(header(1, 0) + strings.Repeat("A", chunkLen))},
		{"oversized last chunk", "session", chunksOf(large[0], large[1], large[2]+strings.Repeat("A", chunkLen))},
		{"first two chunks swapped", "session", chunksOf(large[1], large[0], large[2])},
		{"last two chunks swapped", "session", chunksOf(large[0], large[2], large[1])},
		{"chunk from another session", "session", chunksOf(large[0], other[1], large[2])},
		{"first chunk from another session", "session", chunksOf(other[0], large[1], large[2])},
		{"cut elsewhere", "session", chunksOf(large[0][:chunkLen-4], large[0][chunkLen-4:]+large[1][:chunkLen-4], large[1][chunkLen-4:]+large[2])},
	}
	for i := 1; i < len(large); i++ { // without chunk 0 there is no session: TestOpenWithoutCookie
		c := chunksOf(large...)
		c.values[i], c.has[i] = "", false
		cases = append(cases, tamper{fmt.Sprintf("chunk %d removed", i), "session", c})
	}
	for i := range len(small[0]) {
		cases = append(cases, tamper{fmt.Sprintf("cut at %d", i), "session", chunksOf(small[0][:i])})
	}
	for _, i := range []int{0, 1, 4, 100, chunkLen - 1} {
		cases = append(cases, tamper{fmt.Sprintf("first of three cut at %d", i), "session", chunksOf(large[0][:i], large[1], large[2])})
	}
	for i := range len(large[2]) {
		cases = append(cases, tamper{fmt.Sprintf("last of three cut at %d", i), "session", chunksOf(large[0], large[1], large[2][:i])})
	}
	raw, _ := strictB64.DecodeString(small[0])
	for i := range len(raw) * 8 {
		flipped := bytes.Clone(raw)
		flipped[i/8] ^= 1 << (i % 8)
		cases = append(cases, tamper{fmt.Sprintf("bit %d flipped", i), "session", chunksOf(strictB64.EncodeToString(flipped))})
	}
	for i := range len(small[0]) * 8 {
		v := []byte(small[0])
		v[i/8] ^= 1 << (i % 8)
		cases = append(cases, tamper{fmt.Sprintf("bit %d of the value flipped", i), "session", chunksOf(string(v))})
	}
	rawLarge, _ := strictB64.DecodeString(strings.Join(large, ""))
	for _, i := range []int{0, 8, 16, 30 * 8, 2850 * 8, len(rawLarge)*8 - 1} {
		flipped := bytes.Clone(rawLarge)
		flipped[i/8] ^= 1 << (i % 8)
		v := strictB64.EncodeToString(flipped)
		cases = append(cases, tamper{fmt.Sprintf("bit %d of three chunks flipped", i), "session", chunksOf(v[:chunkLen], v[chunkLen:2*chunkLen], v[2*chunkLen:])})
	}

	for _, tc := range cases {
		plain, stale, err := s.open(tc.cookie, tc.c)
		if err == nil || plain != nil || stale {
			t.Errorf("%s: open = %d bytes, stale %v, %v; want rejected", tc.name, len(plain), stale, err)
			continue
		}
		if !errors.Is(err, errSealMalformed) && !errors.Is(err, errSealKey) {
			t.Errorf("%s: %v is neither malformed nor a wrong key", tc.name, err)
		}
	}
}

func TestOpenBoundsInflation(t *testing.T) {
	s := newTestSealer(t, sealKey(1))
	deflate := func(n int) (length, stream []byte) {
		d := deflaters.Get().(*deflater)
		defer d.release()
		z := d.deflate(make([]byte, n))
		_, k := binary.Uvarint(z)
		return bytes.Clone(z[:k]), bytes.Clone(z[k:])
	}
	bombLength, bomb := deflate(maxPlain + 1)
	_, small := deflate(1000)
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"claims more than the bound", append(bombLength, bomb...)},
		{"inflates past its length", append(binary.AppendUvarint(nil, 10), bomb...)},
		{"inflates short of its length", append(binary.AppendUvarint(nil, 1001), small...)},
		{"cut deflate", append(binary.AppendUvarint(nil, 1000), small[:len(small)/2]...)},
		{"not deflate", append(binary.AppendUvarint(nil, 10), "plain text, flagged as deflated"...)},
		{"no length", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			values := sealRaw(s, "session", flagDeflate, tc.body)
			plain, _, err := s.open("session", chunksOf(values...))
			if !errors.Is(err, errSealInflate) || plain != nil {
				t.Fatalf("open = %d bytes, %v; want errSealInflate", len(plain), err)
			}
		})
	}
}

// sealRaw seals body as seal would, but with the flags given and without
// compressing: what only a holder of a key could make.
func sealRaw(s *sealer, name string, flags byte, body []byte) []string {
	n := sealedMin + len(body)
	count := (strictB64.EncodedLen(n) + chunkLen - 1) / chunkLen
	sealed := append([]byte{sealFormat, byte(count), flags}, randomBytes(nonceLen)...)
	ad := append(bytes.Clone(sealed[:sealHeadLen]), name...)
	v := strictB64.EncodeToString(s.aeads[0].Seal(sealed, sealed[sealHeadLen:], body, ad))
	var values []string
	for len(v) > chunkLen {
		values, v = append(values, v[:chunkLen]), v[chunkLen:]
	}
	return append(values, v)
}

func TestReadChunks(t *testing.T) {
	r := &http.Request{Header: http.Header{"Cookie": {
		`theme=dark; session.1=b;session="a"; session.2=c; sessions=x; session.01=x; session.5=x; session.=x`,
		`session=second; session.4=e; other.3=x`,
	}}}
	c := readChunks(r, "session")
	want := chunks{values: [maxChunks]string{"a", "b", "c", "", "e"}, has: [maxChunks]bool{true, true, true, false, true}}
	if c != want {
		t.Errorf("readChunks = %+v, want %+v", c, want)
	}
	if n := c.count(); n != 5 {
		t.Errorf("count = %d, want 5", n)
	}
	if n := (&chunks{}).count(); n != 0 {
		t.Errorf("count of no chunks = %d, want 0", n)
	}
	if allocs := testing.AllocsPerRun(100, func() { readChunks(r, "session") }); allocs != 0 {
		t.Errorf("readChunks allocates %v times", allocs)
	}
}

func TestNewSealerKeys(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys [][]byte
		want string // in the error; "" for none
	}{
		{"no key", nil, "scsession: WithCookieStore needs at least one key"},
		{"short key", [][]byte{make([]byte, 31)}, "scsession: cookie store key 0 is 31 bytes; use at least 32 random bytes"},
		{"short old key", [][]byte{sealKey(1), []byte("secret")}, "scsession: cookie store key 1 is 6 bytes"},
		{"32 bytes", [][]byte{sealKey(1)}, ""},
		{"longer keys", [][]byte{bytes.Repeat([]byte{1}, 64), sealKey(2)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := newSealer(tc.keys)
			switch {
			case tc.want == "" && (err != nil || len(s.aeads) != len(tc.keys)):
				t.Fatalf("newSealer: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("newSealer: %v; want an error saying %q", err, tc.want)
			}
		})
	}
}

// FuzzOpen feeds arbitrary cookies to open: chunk values separated by
// spaces, "!" for a chunk the request lacks. Nothing panics; of what the
// seeds were sealed with (a key new in every run, so that the corpus kept
// from earlier runs holds nothing it opens), only the seeds open, to what
// was sealed; and a sealer with another key opens nothing.
func FuzzOpen(f *testing.F) {
	known := newTestSealer(f, randomBytes(32))
	random := newTestSealer(f, randomBytes(32))
	sealed := map[string]string{} // the fuzz input of a sealed value: its plaintext
	for _, plain := range [][]byte{{}, []byte("x"), sessionBytes(200), sessionBytes(3000), randomBytes(3000), randomBytes(8000)} {
		values, err := known.seal("session", plain)
		if err != nil {
			f.Fatal(err)
		}
		in := strings.Join(values, " ")
		sealed[in] = string(plain)
		f.Add(in)
	}
	f.Add(strings.Join(sealRaw(known, "session", flagDeflate, []byte("not deflate")), " "))
	f.Add("")
	f.Add("! AAAA")
	f.Add("AQEA")
	f.Add("AQUB AAAA AAAA AAAA AAAA AAAA")

	f.Fuzz(func(t *testing.T, in string) {
		var c chunks
		for i, v := range strings.SplitN(in, " ", maxChunks+1) {
			if i < maxChunks && v != "!" {
				c.values[i], c.has[i] = v, true
			}
		}
		plain, _, err := known.open("session", &c)
		switch want, ok := sealed[in]; {
		case !c.has[0] && (plain != nil || err != nil):
			t.Fatalf("without a first chunk: %q, %v", plain, err)
		case err == nil && c.has[0] && (!ok || string(plain) != want):
			t.Fatalf("opened %q to %q, but it was not sealed", in, plain)
		case err != nil && plain != nil:
			t.Fatalf("rejected with %v, yet returned %q", err, plain)
		}
		if plain, _, err := random.open("session", &c); plain != nil || err == nil && c.has[0] {
			t.Fatalf("a random key opened %q to %q", in, plain)
		}
	})
}

func BenchmarkSeal(b *testing.B) {
	s := newTestSealer(b, sealKey(1))
	for _, size := range []int{200, 3000} {
		plain := sessionBytes(size)
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.seal("session", plain); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	s := newTestSealer(b, sealKey(1))
	for _, size := range []int{200, 3000} {
		values, _ := s.seal("session", sessionBytes(size))
		header := "theme=dark"
		for i, v := range values {
			header += "; " + chunkName("session", i) + "=" + v
		}
		r := &http.Request{Header: http.Header{"Cookie": {header}}}
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			b.ReportAllocs()
			b.ReportMetric(float64(len(strings.Join(values, ""))), "cookie-chars")
			for b.Loop() {
				c := readChunks(r, "session")
				if _, _, err := s.open("session", &c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A chunk beyond the count the header gives is a leftover of a larger
// session that a concurrent response shrank: open ignores it (the count is
// authenticated), and the response expires it.
func TestOpenIgnoresLeftoverChunks(t *testing.T) {
	s := newTestSealer(t, sealKey(1))
	small, _ := s.seal("session", []byte("small"))
	for _, c := range []*chunks{
		chunksOf(small[0], "AAAA"),
		{values: [maxChunks]string{small[0], 4: "AAAA"}, has: [maxChunks]bool{true, 4: true}},
	} {
		plain, _, err := s.open("session", c)
		if err != nil || string(plain) != "small" {
			t.Fatalf("with a leftover chunk: %q, %v; want the session", plain, err)
		}
	}
}
