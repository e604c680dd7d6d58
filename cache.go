package scsession

import (
	"bytes"
	"encoding"
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
// A hit needs the stored bytes to be equal, byte for byte, to those the value
// was decoded from, so a hit is exactly what decoding would give. Slots are
// chosen by a hash of the bytes and overwritten on collision: memory stays
// bounded at cacheSlots values.
type decodeCache[T any] struct {
	seed     maphash.Seed
	copy     copier // nil: T holds no references, assignment copies it
	faithful bool   // a T that Update leaves is what decoding its encoding gives
	slots    [cacheSlots]atomic.Pointer[cached[T]]
}

const cacheSlots = 4096

type cached[T any] struct {
	data []byte
	v    T
}

// newDecodeCache returns a cache for T, or nil if T holds something a deep
// copy cannot reproduce safely (unexported references, such as big.Int's);
// values of such a T are decoded on every Get.
func newDecodeCache[T any]() *decodeCache[T] {
	cp, ok := copierFor(reflect.TypeFor[T](), map[reflect.Type]*copier{})
	if !ok {
		return nil
	}
	return &decodeCache[T]{seed: maphash.MakeSeed(), copy: cp, faithful: faithful(reflect.TypeFor[T](), map[reflect.Type]bool{})}
}

// faithful reports whether every value of t survives encoding/json
// unchanged: no field JSON leaves out (unexported, `json:"-"`, shadowed in
// an embedded struct), no custom or lossy encoding (time.Time loses its
// monotonic reading), no interface.
func faithful(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return true
	}
	seen[t] = true
	if t.Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(jsonMarshaler) ||
		t.Implements(textMarshaler) || reflect.PointerTo(t).Implements(textMarshaler) {
		return false
	}
	switch t.Kind() {
	case reflect.Interface, reflect.Chan, reflect.Func, reflect.UnsafePointer, reflect.Complex64, reflect.Complex128:
		return false
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return faithful(t.Elem(), seen)
	case reflect.Map:
		return faithful(t.Key(), seen) && faithful(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || f.Anonymous || f.Tag.Get("json") == "-" || !faithful(f.Type, seen) {
				return false
			}
		}
	}
	return true
}

var textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()

// decode is decodeData, answered from the cache when it can be.
func (c *decodeCache[T]) decode(data []byte) (T, error) {
	if c == nil || len(data) == 0 {
		return decodeData[T](data)
	}
	slot := &c.slots[maphash.Bytes(c.seed, data)%cacheSlots]
	if e := slot.Load(); e != nil && bytes.Equal(e.data, data) {
		return c.clone(&e.v), nil
	}
	v, err := decodeData[T](data)
	if err == nil {
		slot.Store(&cached[T]{data: data, v: c.clone(&v)})
	}
	return v, err
}

// put records that data is the encoding of v, so that the next request that
// reads data needs no decoding. Only for a faithful T, and only if encoding
// replaced no invalid UTF-8: otherwise decoding data gives something else
// than v, and a hit must be exactly what decoding gives.
func (c *decodeCache[T]) put(data []byte, v *T) {
	if c == nil || !c.faithful || len(data) == 0 || bytes.Contains(data, []byte(`\ufffd`)) {
		return
	}
	c.slots[maphash.Bytes(c.seed, data)%cacheSlots].Store(&cached[T]{data: data, v: c.clone(v)})
}

func (c *decodeCache[T]) clone(v *T) T {
	out := *v
	if c.copy != nil {
		c.copy(reflect.ValueOf(&out).Elem(), reflect.ValueOf(v).Elem())
	}
	return out
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
