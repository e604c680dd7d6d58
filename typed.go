package scsession

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// What the store holds for one session: a fixed binary header that the
// middleware reads without touching T, the pending flash messages, then T as
// JSON, packed (pack.go). JSON because encoding/json decodes as much as still
// fits when T has changed shape, and needs no gob.Register.
//
//	magic    4 bytes  "scs\x03" ("scs\x02": data not packed; "scs\x01": nor
//	                  user and agent)
//	deadline 8 bytes  absolute expiry, Unix nanoseconds
//	created  8 bytes  Unix nanoseconds
//	touched  8 bytes  last write to the store, Unix nanoseconds
//	shape    8 bytes  fingerprint of T's type when the data was written
//	flags    1 byte   bit 0: RememberMe; bit 1: user is WithUserID's answer
//	user     uvarint-prefixed: WithUserID's answer for the data
//	agent    uvarint-prefixed: the User-Agent that created the session
//	flashes  uvarint count, then per flash uvarint-prefixed kind and message
//	data     the rest: T as packed JSON (empty for the zero T)
const (
	magic        = "scs\x03"
	magicV2      = "scs\x02"
	magicV1      = "scs\x01"
	headerSize   = len(magic) + 8*4 + 1
	flagRemember = 1 << 0
	flagUser     = 1 << 1
)

// errNotOurs reports bytes in the store that scsession did not write.
var errNotOurs = errors.New("scsession: stored bytes are not a scsession envelope")

type envelope struct {
	deadline time.Time
	created  time.Time
	touched  time.Time
	shape    uint64
	remember bool
	hasUser  bool // user was computed by WithUserID, not left empty by a Manager without it
	user     string
	agent    string
	flashes  []Flash
	data     []byte // T as packed JSON; may alias the store's memory, so never written to
}

func (e *envelope) encode() []byte {
	n := headerSize + 3*binary.MaxVarintLen64 + len(e.user) + len(e.agent) + len(e.data)
	for _, f := range e.flashes {
		n += 2*binary.MaxVarintLen64 + len(f.Kind) + len(f.Message)
	}
	b := make([]byte, 0, n)
	b = append(b, magic...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.deadline.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(e.created.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(e.touched.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, e.shape)
	var flags byte
	if e.remember {
		flags |= flagRemember
	}
	if e.hasUser {
		flags |= flagUser
	}
	b = append(b, flags)
	b = appendString(b, e.user)
	b = appendString(b, e.agent)
	b = binary.AppendUvarint(b, uint64(len(e.flashes)))
	for _, f := range e.flashes {
		b = appendString(b, f.Kind)
		b = appendString(b, f.Message)
	}
	return append(b, e.data...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decodeEnvelope reads the header and flashes of b. It does not decode T:
// e.data is the packed JSON, sharing b's memory (a packed copy for versions 1
// and 2, or damaged() if their JSON does not pack).
func decodeEnvelope(b []byte) (envelope, error) {
	var e envelope
	if len(b) < headerSize {
		return e, errNotOurs
	}
	version := string(b[:len(magic)])
	if version != magic && version != magicV2 && version != magicV1 {
		return e, errNotOurs
	}
	p := b[len(magic):]
	e.deadline = unixNano(p[0:8])
	e.created = unixNano(p[8:16])
	e.touched = unixNano(p[16:24])
	e.shape = binary.BigEndian.Uint64(p[24:32])
	e.remember = p[32]&flagRemember != 0
	e.hasUser = p[32]&flagUser != 0
	p = p[33:]
	if version != magicV1 {
		var ok bool
		if e.user, p, ok = readString(p); !ok {
			return envelope{}, errNotOurs
		}
		if e.agent, p, ok = readString(p); !ok {
			return envelope{}, errNotOurs
		}
	}

	count, n := binary.Uvarint(p)
	if n <= 0 || count > uint64(len(p)) { // each flash takes at least two bytes
		return envelope{}, errNotOurs
	}
	p = p[n:]
	if count > 0 {
		e.flashes = make([]Flash, count)
		for i := range e.flashes {
			var ok bool
			if e.flashes[i].Kind, p, ok = readString(p); !ok {
				return envelope{}, errNotOurs
			}
			if e.flashes[i].Message, p, ok = readString(p); !ok {
				return envelope{}, errNotOurs
			}
		}
	}
	e.data = p
	if version != magic && len(p) > 0 {
		var err error
		if e.data, err = pack(nil, p); err != nil {
			e.data = damaged() // the envelope is still ours: decoding T reports the damage
		}
	}
	return e, nil
}

func unixNano(b []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(b)))
}

func readString(p []byte) (string, []byte, bool) {
	l, n := binary.Uvarint(p)
	if n <= 0 || l > uint64(len(p)-n) {
		return "", nil, false
	}
	p = p[n:]
	return string(p[:l]), p[l:], true
}

// decodeData turns stored packed JSON into a T that shares no memory with
// anything else, so the caller may change it freely. Empty data is the zero
// T. On error the returned T holds every field that still fits.
func decodeData[T any](data []byte) (T, error) {
	var v T
	err := decodeInto(&v, data)
	return v, err
}

// decodeInto is decodeData into *dst, which must hold the zero T.
func decodeInto[T any](dst *T, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	j, err := unpack(make([]byte, 0, len(data)+len(data)/2), data)
	if err != nil {
		return err
	}
	return json.Unmarshal(j, dst)
}

func encodeData[T any](v *T) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("scsession: cannot encode %T as JSON: %w", *v, err)
	}
	b, err := pack(make([]byte, 0, len(j)), j)
	if err != nil {
		return nil, fmt.Errorf("scsession: cannot store %T: its JSON nests deeper than %d levels", *v, maxDepth)
	}
	return b, nil
}

// forgetRead drops from the decode cache the value of b, stored bytes of a
// session that ended.
func (m *Manager[T]) forgetRead(b []byte) {
	if env, err := decodeEnvelope(b); err == nil {
		m.cache.forget(env.data)
	}
}

// codec is the scs.Codec that New installs on the SessionManager, so that
// scs's own methods (Iterate, Load, Deadline, RememberMe...) read and write
// the same envelope as the Manager.
type codec struct{}

const (
	keyEnvelope = "scsession.envelope" // the whole envelope, so no field is lost on the way through scs
	keyRemember = "__rememberMe"       // scs's own key, so sm.RememberMe means the same
)

func (codec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	e, _ := values[keyEnvelope].(envelope)
	e.deadline = deadline
	e.remember, _ = values[keyRemember].(bool)
	return e.encode(), nil
}

func (codec) Decode(b []byte) (time.Time, map[string]any, error) {
	e, err := decodeEnvelope(b)
	if err != nil {
		return time.Time{}, nil, err
	}
	return e.deadline, map[string]any{keyEnvelope: e, keyRemember: e.remember}, nil
}
