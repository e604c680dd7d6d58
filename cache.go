package scsession

import (
	"bytes"
	"hash/maphash"
	"maps"
	"reflect"
	"sync/atomic"
	"time"
)

// Decoding JSON is most of what a session read costs, yet most requests read
// data that an earlier request decoded already. decodeCache keeps the last
// value decoded from each of a fixed number of byte strings and hands out
// deep copies of it, which cost a fraction of decoding: Get still returns a
// value that no one else holds.
//
// The cache fills on decode only, and a hit needs the stored bytes to be
// equal, byte for byte, to those the value was decoded from: a hit is
// exactly what decoding would give. Slots are chosen by a hash of the bytes
// and overwritten on collision, so the cache holds at most cacheSlots
// values, and at most cacheBytes of the data they were decoded from (a value
// whose data would not fit is decoded on every read).
//
// Ended sessions' values do not linger: Destroy and the revocations forget
// theirs, and a value whose session has expired is a miss, and is swept out
// every sweepEvery fills.
type decodeCache[T any] struct {
	seed  maphash.Seed
	copy  copier // nil: T holds no references, assignment copies it
	bytes atomic.Int64
	fills atomic.Int64
	slots [cacheSlots]atomic.Pointer[cached[T]]
}

const (
	cacheSlots = 4096
	cacheBytes = 16 << 20
	sweepEvery = 1024
)

type cached[T any] struct {
	data    []byte
	expires time.Time // the session's expiry when it was decoded
	v       T
}

// newDecodeCache returns a cache for T, or nil if T holds something a deep
// copy cannot reproduce safely (unexported references, such as big.Int's);
// values of such a T are decoded on every Get.
func newDecodeCache[T any]() *decodeCache[T] {
	cp, ok := copierFor(reflect.TypeFor[T](), map[reflect.Type]*copier{})
	if !ok {
		return nil
	}
	return &decodeCache[T]{seed: maphash.MakeSeed(), copy: cp}
}

// decode is decodeInto, answered from the cache when it can be; expires is
// when the session that holds data expires, zero for data about to be
// replaced (an Update's), which is not worth keeping. dst must hold the zero
// T.
func (c *decodeCache[T]) decode(dst *T, data []byte, expires time.Time) error {
	if c == nil || len(data) == 0 {
		return decodeInto(dst, data)
	}
	slot := c.slot(data)
	now := time.Now()
	if e := slot.Load(); e != nil && bytes.Equal(e.data, data) && now.Before(e.expires) {
		c.clone(dst, &e.v)
		return nil
	}
	if err := decodeInto(dst, data); err != nil || expires.IsZero() {
		return err
	}
	if c.bytes.Add(int64(len(data))) > cacheBytes {
		c.bytes.Add(-int64(len(data)))
		return nil
	}
	e := &cached[T]{data: bytes.Clone(data), expires: expires} // data may be the tail of a larger buffer
	c.clone(&e.v, dst)
	c.evicted(slot.Swap(e))
	if c.fills.Add(1)%sweepEvery == 0 {
		c.sweep(now)
	}
	return nil
}

// sweep drops the values of sessions that have expired.
func (c *decodeCache[T]) sweep(now time.Time) {
	for i := range c.slots {
		if e := c.slots[i].Load(); e != nil && !now.Before(e.expires) && c.slots[i].CompareAndSwap(e, nil) {
			c.evicted(e)
		}
	}
}

// forget drops the value decoded from data, the data of a session that ended.
func (c *decodeCache[T]) forget(data []byte) {
	if c == nil || len(data) == 0 {
		return
	}
	slot := c.slot(data)
	if e := slot.Load(); e != nil && bytes.Equal(e.data, data) && slot.CompareAndSwap(e, nil) {
		c.evicted(e)
	}
}

func (c *decodeCache[T]) slot(data []byte) *atomic.Pointer[cached[T]] {
	return &c.slots[maphash.Bytes(c.seed, data)%cacheSlots]
}

func (c *decodeCache[T]) evicted(e *cached[T]) {
	if e != nil {
		c.bytes.Add(-int64(len(e.data)))
	}
}

// clone makes *dst a deep copy of *src.
func (c *decodeCache[T]) clone(dst, src *T) {
	*dst = *src
	if c.copy != nil {
		c.copy(reflect.ValueOf(dst).Elem(), reflect.ValueOf(src).Elem())
	}
}

// A copier replaces the references (slices, maps, pointers, interfaces) in
// dst, a settable value that already holds a shallow copy of src, with deep
// copies of them.
type copier func(dst, src reflect.Value)

var timeType = reflect.TypeFor[time.Time]()

// copierFor returns the copier for t (nil when assignment is a deep copy)
// and whether t can be copied safely at all.
func copierFor(t reflect.Type, seen map[reflect.Type]*copier) (copier, bool) {
	if p, ok := seen[t]; ok { // a recursive type: use the copier being built
		return func(dst, src reflect.Value) { (*p)(dst, src) }, true
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return nil, true
	case reflect.Interface:
		if t.NumMethod() > 0 {
			return nil, false
		}
		return func(dst, src reflect.Value) {
			if !src.IsNil() {
				dst.Set(reflect.ValueOf(copyAny(src.Interface())))
			}
		}, true
	}

	p := new(copier)
	seen[t] = p
	defer delete(seen, t)
	var ok bool
	switch t.Kind() {
	case reflect.Struct:
		*p, ok = structCopier(t, seen)
	case reflect.Pointer:
		*p, ok = pointerCopier(t, seen)
	case reflect.Slice:
		*p, ok = sliceCopier(t, seen)
	case reflect.Array:
		*p, ok = arrayCopier(t, seen)
	case reflect.Map:
		*p, ok = mapCopier(t, seen)
	}
	return *p, ok
}

func structCopier(t reflect.Type, seen map[reflect.Type]*copier) (copier, bool) {
	if t == timeType {
		return nil, true // its one reference, the Location, is never changed
	}
	type field struct {
		i  int
		cp copier
	}
	var deep []field
	for i := range t.NumField() {
		cp, ok := copierFor(t.Field(i).Type, seen)
		if !ok || (cp != nil && !t.Field(i).IsExported()) {
			return nil, false
		}
		if cp != nil {
			deep = append(deep, field{i, cp})
		}
	}
	if len(deep) == 0 {
		return nil, true
	}
	return func(dst, src reflect.Value) {
		for _, f := range deep {
			f.cp(dst.Field(f.i), src.Field(f.i))
		}
	}, true
}

func pointerCopier(t reflect.Type, seen map[reflect.Type]*copier) (copier, bool) {
	elem, ok := copierFor(t.Elem(), seen)
	return func(dst, src reflect.Value) {
		if src.IsNil() {
			return
		}
		p := reflect.New(t.Elem())
		p.Elem().Set(src.Elem())
		if elem != nil {
			elem(p.Elem(), src.Elem())
		}
		dst.Set(p)
	}, ok
}

func sliceCopier(t reflect.Type, seen map[reflect.Type]*copier) (copier, bool) {
	elem, ok := copierFor(t.Elem(), seen)
	return func(dst, src reflect.Value) {
		if src.IsNil() {
			return
		}
		s := reflect.MakeSlice(t, src.Len(), src.Len())
		reflect.Copy(s, src)
		if elem != nil {
			for i := range src.Len() {
				elem(s.Index(i), src.Index(i))
			}
		}
		dst.Set(s)
	}, ok
}

func arrayCopier(t reflect.Type, seen map[reflect.Type]*copier) (copier, bool) {
	elem, ok := copierFor(t.Elem(), seen)
	if elem == nil {
		return nil, ok
	}
	return func(dst, src reflect.Value) {
		for i := range src.Len() {
			elem(dst.Index(i), src.Index(i))
		}
	}, ok
}

func mapCopier(t reflect.Type, seen map[reflect.Type]*copier) (copier, bool) {
	key, keyOK := copierFor(t.Key(), seen)
	elem, ok := copierFor(t.Elem(), seen)
	if key != nil || !keyOK {
		return nil, false // JSON map keys are strings and numbers; anything else is not ours to copy
	}
	if clone, ok := mapClones[t]; ok {
		return clone, true
	}
	return func(dst, src reflect.Value) {
		if src.IsNil() {
			return
		}
		m := reflect.MakeMapWithSize(t, src.Len())
		if elem == nil {
			for it := src.MapRange(); it.Next(); {
				m.SetMapIndex(it.Key(), it.Value())
			}
		} else {
			v := reflect.New(t.Elem()).Elem()
			for it := src.MapRange(); it.Next(); {
				v.Set(it.Value())
				elem(v, it.Value())
				m.SetMapIndex(it.Key(), v)
			}
		}
		dst.Set(m)
	}, ok
}

// mapClones copy the commonest maps with maps.Clone, several times faster
// than element by element through reflect.
var mapClones = map[reflect.Type]copier{
	reflect.TypeFor[map[string]string]():  cloneMap[string, string],
	reflect.TypeFor[map[string]int]():     cloneMap[string, int],
	reflect.TypeFor[map[string]bool]():    cloneMap[string, bool],
	reflect.TypeFor[map[string]float64](): cloneMap[string, float64],
}

func cloneMap[K comparable, V any](dst, src reflect.Value) {
	if !src.IsNil() {
		dst.Set(reflect.ValueOf(maps.Clone(src.Interface().(map[K]V))))
	}
}

// copyAny deep-copies what encoding/json puts in an interface{}: maps,
// slices and plain values.
func copyAny(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = copyAny(e)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, e := range v {
			s[i] = copyAny(e)
		}
		return s
	default:
		return v
	}
}
