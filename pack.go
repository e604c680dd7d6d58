package scsession

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strconv"
)

// The store holds T's JSON packed: the same tree of values, with JSON's
// punctuation replaced by a tag byte per value and integers by varints. Keys,
// strings and other numbers stay as encoding/json wrote them, and unpacking
// gives that JSON back byte for byte, so decoding is still encoding/json's,
// with everything it does when T has changed shape. Packing saves the quotes,
// colons, commas and braces: about a fifth of the JSON.
//
// A value is a tag byte, kind<<tagShift | n, then what the kind needs. n is a
// count, a length or an integer; 31 means 31 plus a uvarint that follows the
// tag.
//
//	kind 0  null (n=0), false (n=1), true (n=2)
//	kind 1  string: n bytes, JSON-escaped, without the quotes
//	kind 2  array: n values
//	kind 3  object: n members, each a uvarint-prefixed key (JSON-escaped) and a value
//	kind 4  integer n, written as JSON writes it (no sign, no leading zero)
//	kind 5  integer -n
//	kind 6  any other number: its n bytes of JSON text
const (
	kindLiteral byte = iota
	kindString
	kindArray
	kindObject
	kindUint
	kindNegative
	kindNumber
	kindNone // no value: marks data known to be damaged
)

const (
	tagShift = 5
	smallMax = 1<<tagShift - 1 // the largest n in a tag, which says a uvarint follows
	maxDepth = 10000           // nesting, as encoding/json allows
)

var (
	errJSON   = errors.New("scsession: not valid JSON")
	errPacked = errors.New("scsession: stored session data is damaged")
)

// damaged returns data that stands for data that cannot be read: decoding
// it fails with errPacked, so the session is repaired as any whose data no
// longer fits.
func damaged() []byte { return []byte{kindNone << tagShift} }

// pack appends the packed form of the JSON value j to dst. It checks the
// structure (nesting, quotes, separators), not every rule of JSON:
// encoding/json checks the rest when it decodes.
func pack(dst, j []byte) ([]byte, error) {
	p := packer{j: j, out: dst}
	if err := p.value(0); err != nil {
		return dst, err
	}
	if p.skipSpace(); p.i != len(j) {
		return dst, errJSON
	}
	return p.out, nil
}

type packer struct {
	j   []byte
	i   int
	out []byte
}

func (p *packer) skipSpace() {
	for p.i < len(p.j) && (p.j[p.i] == ' ' || p.j[p.i] == '\t' || p.j[p.i] == '\n' || p.j[p.i] == '\r') {
		p.i++
	}
}

func (p *packer) value(depth int) error {
	if depth >= maxDepth {
		return errJSON
	}
	p.skipSpace()
	if p.i == len(p.j) {
		return errJSON
	}
	switch c := p.j[p.i]; c {
	case '{', '[':
		return p.container(c, depth)
	case '"':
		s, err := p.str()
		if err != nil {
			return err
		}
		p.out = appendTag(p.out, kindString, uint64(len(s)))
		p.out = append(p.out, s...)
	case 'n', 'f', 't':
		for n, lit := range [...]string{"null", "false", "true"} {
			if lit[0] == c && len(p.j)-p.i >= len(lit) && string(p.j[p.i:p.i+len(lit)]) == lit {
				p.i += len(lit)
				p.out = appendTag(p.out, kindLiteral, uint64(n))
				return nil
			}
		}
		return errJSON
	default:
		return p.number()
	}
	return nil
}

// container packs an object or array: its tag is written first and its
// count filled in once the members are known.
func (p *packer) container(open byte, depth int) error {
	kind, end := kindArray, byte(']')
	if open == '{' {
		kind, end = kindObject, '}'
	}
	p.i++
	at := len(p.out)
	p.out = append(p.out, kind<<tagShift)
	count := uint64(0)
	for {
		p.skipSpace()
		if p.i < len(p.j) && p.j[p.i] == end && count == 0 {
			break
		}
		if kind == kindObject {
			key, err := p.str()
			if err != nil {
				return err
			}
			p.out = binary.AppendUvarint(p.out, uint64(len(key)))
			p.out = append(p.out, key...)
			if p.skipSpace(); p.i == len(p.j) || p.j[p.i] != ':' {
				return errJSON
			}
			p.i++
		}
		if err := p.value(depth + 1); err != nil {
			return err
		}
		count++
		if p.skipSpace(); p.i == len(p.j) {
			return errJSON
		}
		if p.j[p.i] == end {
			break
		}
		if p.j[p.i] != ',' {
			return errJSON
		}
		p.i++
	}
	p.i++
	if count < smallMax {
		p.out[at] |= byte(count)
		return nil
	}
	p.out[at] |= smallMax
	var more [binary.MaxVarintLen64]byte
	p.out = slices.Insert(p.out, at+1, more[:binary.PutUvarint(more[:], count-smallMax)]...)
	return nil
}

// str returns the JSON-escaped content of the string at p.i.
func (p *packer) str() ([]byte, error) {
	p.skipSpace()
	if p.i == len(p.j) || p.j[p.i] != '"' {
		return nil, errJSON
	}
	start := p.i + 1
	for i := start; i < len(p.j); i++ {
		switch p.j[i] {
		case '\\':
			i++
		case '"':
			p.i = i + 1
			return p.j[start:i], nil
		}
	}
	return nil, errJSON
}

func (p *packer) number() error {
	start := p.i
	for p.i < len(p.j) && (p.j[p.i] >= '0' && p.j[p.i] <= '9' || p.j[p.i] == '-' || p.j[p.i] == '+' || p.j[p.i] == '.' || p.j[p.i] == 'e' || p.j[p.i] == 'E') {
		p.i++
	}
	text := p.j[start:p.i]
	if len(text) == 0 {
		return errJSON
	}
	kind, digits := kindUint, text
	if digits[0] == '-' {
		kind, digits = kindNegative, digits[1:]
	}
	if n, err := strconv.ParseUint(string(digits), 10, 64); err == nil && (digits[0] != '0' || len(digits) == 1) {
		p.out = appendTag(p.out, kind, n)
		return nil
	}
	p.out = appendTag(p.out, kindNumber, uint64(len(text)))
	p.out = append(p.out, text...)
	return nil
}

func appendTag(b []byte, kind byte, n uint64) []byte {
	if n < smallMax {
		return append(b, kind<<tagShift|byte(n))
	}
	return binary.AppendUvarint(append(b, kind<<tagShift|smallMax), n-smallMax)
}

// unpack appends the JSON text of the packed value b to dst. It never
// panics, whatever b holds: damage to the structure gives errPacked, while
// damage inside a string or a number gives JSON that encoding/json refuses or
// reads as other values (the store is trusted with the data; unpack only
// guards against crashes and runaway work).
func unpack(dst, b []byte) ([]byte, error) {
	u := unpacker{b: b, out: dst}
	if err := u.value(0); err != nil {
		return dst, err
	}
	if u.i != len(b) {
		return dst, errPacked
	}
	return u.out, nil
}

type unpacker struct {
	b   []byte
	i   int
	out []byte
}

func (u *unpacker) value(depth int) error {
	kind, n, err := u.tag()
	if err != nil || depth >= maxDepth {
		return errPacked
	}
	switch kind {
	case kindLiteral:
		if n > 2 {
			return errPacked
		}
		u.out = append(u.out, [...]string{"null", "false", "true"}[n]...)
	case kindString:
		return u.quoted(n)
	case kindArray, kindObject:
		open, end := byte('['), byte(']')
		if kind == kindObject {
			open, end = '{', '}'
		}
		u.out = append(u.out, open)
		for k := range n {
			if k > 0 {
				u.out = append(u.out, ',')
			}
			if kind == kindObject {
				l, w := binary.Uvarint(u.b[u.i:])
				if w <= 0 {
					return errPacked
				}
				u.i += w
				if err := u.quoted(l); err != nil {
					return err
				}
				u.out = append(u.out, ':')
			}
			if err := u.value(depth + 1); err != nil {
				return err
			}
		}
		u.out = append(u.out, end)
	case kindUint:
		u.out = strconv.AppendUint(u.out, n, 10)
	case kindNegative:
		u.out = strconv.AppendUint(append(u.out, '-'), n, 10)
	case kindNumber:
		if n > uint64(len(u.b)-u.i) {
			return errPacked
		}
		u.out = append(u.out, u.b[u.i:u.i+int(n)]...)
		u.i += int(n)
	default:
		return errPacked
	}
	return nil
}

// tag reads a tag and its count. A count of values larger than the bytes
// left cannot be right: each value takes at least one.
func (u *unpacker) tag() (byte, uint64, error) {
	if u.i == len(u.b) {
		return 0, 0, errPacked
	}
	kind, n := u.b[u.i]>>tagShift, uint64(u.b[u.i]&smallMax)
	u.i++
	if n == smallMax {
		more, w := binary.Uvarint(u.b[u.i:])
		if w <= 0 || more > math.MaxUint64-smallMax {
			return 0, 0, errPacked
		}
		u.i += w
		n += more
	}
	if (kind == kindArray || kind == kindObject) && n > uint64(len(u.b)-u.i) {
		return 0, 0, errPacked
	}
	return kind, n, nil
}

func (u *unpacker) quoted(n uint64) error {
	if n > uint64(len(u.b)-u.i) {
		return errPacked
	}
	u.out = append(u.out, '"')
	u.out = append(u.out, u.b[u.i:u.i+int(n)]...)
	u.out = append(u.out, '"')
	u.i += int(n)
	return nil
}
