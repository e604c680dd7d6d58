package scsession

import (
	"bytes"
	"compress/flate"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// With WithCookieStore the session's bytes travel in the cookie itself,
// sealed (encrypted and authenticated) with AES-256-GCM. This file seals and
// opens those bytes, and spreads them over as many cookies as they need.
//
// The cookie value is the unpadded, strict base64url of
//
//	header      3 bytes: format (1), number of cookies (1 to maxChunks), flags (bit 0: deflated)
//	nonce      12 bytes, random for every seal
//	ciphertext  the body, then a 16-byte GCM tag
//
// The body is the plaintext, or, with the deflated flag, when that is
// shorter, the plaintext's length as a uvarint followed by its deflate.
//
// The GCM additional data is the header followed by the cookie's name, so a
// value moved to another cookie name, or given another chunk count or flags,
// does not open. The value is cut into chunks of exactly chunkLen characters
// (the last one shorter): the first is the cookie called name, then name.1,
// name.2 and so on. open accepts only what seal wrote, to the character: the
// same chunks, with the same cuts, and no other chunk beside them.
//
// Compression shows in the cookie's length: a client that can put text of
// its choosing into a session beside a secret, and watch the cookie's
// length, could learn the secret a little at a time, as with CRIME.

const (
	sealFormat  = 1 // the header's first byte
	sealHeadLen = 3
	flagDeflate = 1 << 0
	nonceLen    = 12
	tagLen      = 16
	sealedMin   = sealHeadLen + nonceLen + tagLen // bytes sealed from an empty plaintext

	// chunkLen is the most characters of value one cookie carries. RFC 6265
	// asks browsers to keep cookies of at least 4,096 bytes, counting name,
	// value and attributes (RFC 6265bis: name and value), so 3,800 leaves
	// 296 bytes for the name and the attributes (Path, Domain, Expires, Max-Age, HttpOnly, Secure,
	// SameSite, Partitioned: about 120 without Domain). It is a multiple of 4
	// so that each chunk decodes on its own.
	chunkLen = 3800
	// maxChunks is how many cookies one session may take: 5, 19,000
	// characters, about 14 KB sealed. Each request sends them all, and 19 KB
	// is far beyond what a session in a cookie should be. Proxies whose
	// request header lines are limited to 8 KB (nginx's and Apache's
	// defaults) refuse a Cookie header beyond that, so past two chunks such a
	// proxy needs its limit raised. It is at most 10: chunk names end in one digit.
	maxChunks = 5
	// maxSealed is the most characters a sealed session takes, all chunks together.
	maxSealed = chunkLen * maxChunks
	// maxPlain is the most bytes of plaintext seal takes and open inflates:
	// a cap on what a sealed deflate bomb could cost, which only a holder of
	// a key could make.
	maxPlain = 1 << 20
	// minDeflate is the shortest plaintext seal tries to compress: below
	// it, deflate saves a few dozen bytes for ten times what the rest of
	// seal and open cost.
	minDeflate = 512

	// sealInfo makes the AES keys from the secrets, so that a secret also
	// used to sign cookies never gives the same key.
	sealInfo = "scsession cookie store v1: AES-256-GCM"
)

// Checked by the compiler: a full chunk is whole base64 quanta, and chunk
// names have one digit.
const (
	_ uint = -(chunkLen % 4)
	_ uint = 10 - maxChunks
)

var (
	// errSealMalformed: the cookies are not what seal writes (garbage, a
	// chunk missing, extra or cut elsewhere); the error wrapping it says which.
	errSealMalformed = errors.New("scsession: sealed session cookie is malformed")
	// errSealKey: the cookies are shaped right but do not open with any key:
	// tampered with, from two sessions, or sealed with a key not (or no
	// longer, or not yet on this instance) listed.
	errSealKey = errors.New("scsession: sealed session cookie does not open with any cookie store key")
	// errSealInflate: the cookies opened, but their deflate is broken, or
	// inflates to other than its length or beyond maxPlain. Only a holder of
	// a key could have made them.
	errSealInflate = errors.New("scsession: sealed session does not decompress, or not within 1 MiB")
)

// A sealer seals a session's bytes into cookie values with the first of its
// keys, and opens values sealed with any of them. Nonces are random, so a
// key should seal fewer than 2^32 values (NIST's bound for GCM), about a
// year at 100 seals a second: rotate before.
type sealer struct {
	aeads []cipher.AEAD // one per key, in the order given; aeads[0] seals
}

// newSealer makes a sealer from keys, each at least 32 random bytes, the
// first the one that seals. The error says what is wrong with the keys.
func newSealer(keys [][]byte) (*sealer, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("scsession: WithCookieStore needs at least one key; use %d random bytes, e.g. made by `openssl rand -base64 32` and base64-decoded", minKeyLen)
	}
	s := &sealer{aeads: make([]cipher.AEAD, len(keys))}
	for i, k := range keys {
		if len(k) < minKeyLen {
			return nil, fmt.Errorf("scsession: cookie store key %d is %d bytes; use at least %d random bytes, e.g. made by `openssl rand -base64 32` and base64-decoded", i, len(k), minKeyLen)
		}
		key, err := hkdf.Key(sha256.New, k, nil, sealInfo, 32)
		if err != nil {
			return nil, err
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		if s.aeads[i], err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// seal returns the cookie values that carry plain under the cookie called
// name: values[0] for name itself, values[i] for chunkName(name, i). It
// compresses plain when that makes it shorter. A plain that does not fit in
// maxChunks cookies gets an error wrapping ErrCookieTooLarge.
func (s *sealer) seal(name string, plain []byte) ([]string, error) {
	if len(plain) > maxPlain {
		return nil, fmt.Errorf("%w: the session is %d bytes, over the cookie store's %d-byte bound; keep less in the session or use a server-side store", ErrCookieTooLarge, len(plain), maxPlain)
	}
	body, flags := plain, byte(0)
	if len(plain) >= minDeflate {
		d := deflaters.Get().(*deflater)
		defer d.release()
		if z := d.deflate(plain); len(z) < len(plain) {
			body, flags = z, flagDeflate
		}
	}
	n := sealedMin + len(body)
	chars := strictB64.EncodedLen(n)
	if chars > maxSealed {
		return nil, fmt.Errorf("%w: the session is %d bytes sealed, over the cookie store's %d-byte bound; keep less in the session or use a server-side store", ErrCookieTooLarge, chars, maxSealed)
	}
	count := (chars + chunkLen - 1) / chunkLen

	// One buffer: the sealed bytes, then the additional data, then the encoding.
	buf := make([]byte, n+sealHeadLen+len(name)+chars)
	sealed, ad, enc := buf[:sealHeadLen+nonceLen:n], buf[n:n+sealHeadLen+len(name)], buf[n+sealHeadLen+len(name):]
	sealed[0], sealed[1], sealed[2] = sealFormat, byte(count), flags
	rand.Read(sealed[sealHeadLen:]) // never fails: crypto/rand aborts the program rather than return an error
	copy(ad, sealed[:sealHeadLen])
	copy(ad[sealHeadLen:], name)
	sealed = s.aeads[0].Seal(sealed, sealed[sealHeadLen:], body, ad)
	strictB64.Encode(enc, sealed)

	value := string(enc)
	values := make([]string, count)
	for i := range values {
		values[i] = value[i*chunkLen : min((i+1)*chunkLen, len(value))]
	}
	return values, nil
}

// open returns the plaintext sealed in the chunks of the cookie called
// name, and whether a key other than the first sealed it (the caller should
// seal it again). Without the first chunk there is no session: plain and err
// are nil. Cookies that are not exactly what seal wrote for name with one of
// the keys are rejected with an error wrapping errSealMalformed, errSealKey
// or errSealInflate.
func (s *sealer) open(name string, c *chunks) (plain []byte, stale bool, err error) {
	if !c.has[0] {
		return nil, false, nil
	}
	var head [sealHeadLen]byte
	if v := c.values[0]; len(v) < 4 || !decodesTo(head[:], v[:4]) {
		return nil, false, fmt.Errorf("%w: %s does not start with a header", errSealMalformed, name)
	}
	count := int(head[1])
	if head[0] != sealFormat || count < 1 || count > maxChunks || head[2]&^flagDeflate != 0 {
		return nil, false, fmt.Errorf("%w: %s has an unknown header", errSealMalformed, name)
	}
	chars := 0
	for i := range maxChunks {
		v := c.values[i]
		switch {
		case i >= count:
			continue // a leftover of a larger session: the next save expires it
		case !c.has[i]:
			return nil, false, fmt.Errorf("%w: %s has %d chunks, but the request has no %s", errSealMalformed, name, count, chunkName(name, i))
		case i < count-1 && len(v) != chunkLen, i == count-1 && (v == "" || len(v) > chunkLen):
			return nil, false, fmt.Errorf("%w: chunk %s is %d characters long", errSealMalformed, chunkName(name, i), len(v))
		}
		chars += len(v)
	}

	// One buffer: the encoding, the sealed bytes, the additional data, and,
	// for a deflated body, the deflate; a plaintext gets its own.
	n := strictB64.DecodedLen(chars)
	if n < sealedMin {
		return nil, false, fmt.Errorf("%w: %s is too short", errSealMalformed, name)
	}
	deflated := head[2]&flagDeflate != 0
	size := chars + n + sealHeadLen + len(name)
	if deflated {
		size += n - sealedMin
	}
	buf := make([]byte, size)
	enc, sealed, ad, out := buf[:0:chars], buf[chars:chars+n], buf[chars+n:chars+n+sealHeadLen+len(name)], buf[chars+n+sealHeadLen+len(name):]
	for i := range count {
		enc = append(enc, c.values[i]...)
	}
	if m, err := strictB64.Decode(sealed, enc); err != nil || m != n {
		return nil, false, fmt.Errorf("%w: %s is not base64url", errSealMalformed, name)
	}
	copy(ad, sealed[:sealHeadLen])
	copy(ad[sealHeadLen:], name)
	if !deflated {
		out = make([]byte, n-sealedMin)
	}
	nonce, ciphertext := sealed[sealHeadLen:sealHeadLen+nonceLen], sealed[sealHeadLen+nonceLen:]
	for i, aead := range s.aeads {
		if out, err = aead.Open(out[:0], nonce, ciphertext, ad); err == nil {
			stale = i > 0
			break
		}
	}
	if err != nil {
		return nil, false, errSealKey
	}
	if deflated {
		if out, err = inflate(out); err != nil {
			return nil, false, fmt.Errorf("%w: %v", errSealInflate, err)
		}
	}
	return out, stale, nil
}

// decodesTo reports whether the base64url s decodes to exactly len(dst) bytes.
func decodesTo(dst []byte, s string) bool {
	var src [4]byte
	n, err := strictB64.Decode(dst, append(src[:0], s...))
	return err == nil && n == len(dst)
}

// chunks are the values of one sealed cookie's chunks as a request carried
// them: values[i] is chunkName(name, i)'s, if has[i].
type chunks struct {
	values [maxChunks]string
	has    [maxChunks]bool
}

// readChunks returns the chunks of the cookie called name that r carries,
// reading its Cookie header once and without allocating. Of cookies with
// the same name, the first counts, as with r.Cookie.
func readChunks(r *http.Request, name string) chunks {
	var c chunks
	for k, v := range cookies(r) {
		if i := chunkIndex(k, name); i >= 0 && !c.has[i] {
			c.values[i], c.has[i] = v, true
		}
	}
	return c
}

// count is how many chunk names the request's chunks take, gaps included:
// the response expires the first count() chunk names to remove them all, or
// those from the new value's number of chunks on to remove what it no longer
// needs (leftovers of a larger session, which open ignores).
func (c *chunks) count() int {
	for i := maxChunks; i > 0; i-- {
		if c.has[i-1] {
			return i
		}
	}
	return 0
}

// chunkIndex returns i if k is chunkName(name, i) for a chunk, or -1.
func chunkIndex(k, name string) int {
	switch {
	case k == name:
		return 0
	case len(k) == len(name)+2 && k[len(name)] == '.' && k[:len(name)] == name:
		if d := int(k[len(name)+1]) - '0'; d >= 1 && d < maxChunks {
			return d
		}
	}
	return -1
}

// chunkName is the name of the cookie that carries chunk i of the cookie
// called name: name itself, then name.1, name.2 and so on.
func chunkName(name string, i int) string {
	if i == 0 {
		return name
	}
	return name + "." + strconv.Itoa(i)
}

// A deflater compresses with a writer made once: a new flate.Writer costs
// hundreds of kilobytes.
type deflater struct {
	buf bytes.Buffer
	w   *flate.Writer
}

var deflaters = sync.Pool{New: func() any {
	d := new(deflater)
	d.w, _ = flate.NewWriter(&d.buf, flate.BestSpeed) // never fails for a valid level
	return d
}}

// deflate returns p's length as a uvarint, then p compressed, in a buffer
// valid until release. The length lets inflate allocate once, and refuse a
// bomb before inflating it.
func (d *deflater) deflate(p []byte) []byte {
	d.buf.Reset()
	d.buf.Write(binary.AppendUvarint(d.buf.AvailableBuffer(), uint64(len(p))))
	d.w.Reset(&d.buf)
	d.w.Write(p) // writes to a bytes.Buffer never fail
	d.w.Close()
	return d.buf.Bytes()
}

// release returns d to the pool, unless a large session left it holding a
// large buffer.
func (d *deflater) release() {
	if d.buf.Cap() <= 64<<10 {
		deflaters.Put(d)
	}
}

// An inflater decompresses with a reader made once, like deflater.
type inflater struct {
	src  bytes.Reader
	r    io.ReadCloser
	more [1]byte
}

var inflaters = sync.Pool{New: func() any {
	f := new(inflater)
	f.r = flate.NewReader(&f.src)
	return f
}}

// inflate returns what deflate compressed into z, or an error if z is not
// what deflate writes or claims more than maxPlain bytes.
func inflate(z []byte) ([]byte, error) {
	n, k := binary.Uvarint(z)
	if k <= 0 || n > maxPlain {
		return nil, errors.New("no length, or over the bound")
	}
	f := inflaters.Get().(*inflater)
	defer inflaters.Put(f)
	f.src.Reset(z[k:])
	if err := f.r.(flate.Resetter).Reset(&f.src, nil); err != nil {
		return nil, err
	}
	out := make([]byte, n)
	if _, err := io.ReadFull(f.r, out); err != nil {
		return nil, err
	}
	if m, err := f.r.Read(f.more[:]); m != 0 || err != io.EOF {
		return nil, errors.New("longer than its length")
	}
	return out, nil
}
