package scsession

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"reflect"
	"strings"
)

// What T may be, and what happens when the stored data was written by
// another version of it: the fingerprint of T's shape, the check New makes,
// and the repair of data that no longer fits.

// checkType returns the zero T, encoded, or panics, naming the fix, for a T
// that the Manager cannot store faithfully: not a struct, something JSON
// cannot encode or decode (a chan, a func, an interface with methods), or an
// unexported field that JSON would drop without a word, even between an
// Update and a Get of one request.
func checkType[T any]() []byte {
	var zero T
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Struct {
		panic(fmt.Sprintf("scsession: the session type must be a struct, not %v: write New[MySession], with fields for what the session holds", t))
	}
	if path, why := unstorable(t, t.Name(), map[reflect.Type]bool{}); path != "" {
		panic(fmt.Sprintf("scsession: the session type %v cannot be stored as JSON: %s %s", t, path, why))
	}
	b, err := encodeData(&zero)
	if err != nil {
		panic(fmt.Sprintf("scsession: the session type %T cannot be stored as JSON: %v", zero, errors.Unwrap(err)))
	}
	return b
}

// unstorable returns the path to the first part of a value of t that JSON
// would not store and read back, and why, or "".
func unstorable(t reflect.Type, path string, seen map[reflect.Type]bool) (string, string) {
	if seen[t] || t.Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(jsonMarshaler) ||
		t.Implements(textMarshaler) || reflect.PointerTo(t).Implements(textMarshaler) {
		return "", "" // a type that encodes itself (time.Time...) knows what it keeps
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
		return path, fmt.Sprintf("is a %v, which JSON cannot encode; tag it `json:\"-\"` or leave it out of the session", t.Kind())
	case reflect.Interface:
		if t.NumMethod() > 0 {
			return path, fmt.Sprintf("is an interface with methods (%v), which JSON cannot decode into; store a concrete type", t)
		}
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return unstorable(t.Elem(), path+"[]", seen)
	case reflect.Struct:
		names := map[string]string{} // JSON name → field, to find two fields JSON would both drop
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Tag.Get("json") == "-" {
				continue
			}
			if name := jsonName(f); name != "" && f.IsExported() {
				if other, ok := names[name]; ok {
					return path + "." + f.Name, fmt.Sprintf("has the JSON name %q of %s.%s too, so JSON would drop both without a word; give one another name", name, path, other)
				}
				names[name] = f.Name
			}
			embeddedStruct := f.Anonymous && f.Type.Kind() == reflect.Struct // JSON promotes its exported fields
			if !f.IsExported() && !embeddedStruct {
				return path + "." + f.Name, "is unexported, so JSON would drop it without a word; export it, or tag it `json:\"-\"` if it is not meant to be stored"
			}
			if p, why := unstorable(f.Type, path+"."+f.Name, seen); p != "" {
				return p, why
			}
		}
	}
	return "", ""
}

// jsonName is the name encoding/json gives field f, "" for an embedded
// struct whose fields it promotes.
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" && f.Anonymous {
		return ""
	}
	if name == "" {
		name = f.Name
	}
	return name
}

var textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()

// shapeOf fingerprints T's structure (field names, JSON tags and types, all
// the way down), so that data written by another version of T is noticed
// even when encoding/json would decode it without complaint.
func shapeOf[T any]() uint64 {
	var sb strings.Builder
	describe(&sb, reflect.TypeFor[T](), map[reflect.Type]bool{})
	h := fnv.New64a()
	h.Write([]byte(sb.String()))
	return h.Sum64()
}

func describe(sb *strings.Builder, t reflect.Type, seen map[reflect.Type]bool) {
	if seen[t] {
		sb.WriteString(t.String()) // a recursive type: its name is enough
		return
	}
	if t.Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(jsonMarshaler) {
		sb.WriteString(t.String()) // time.Time and the like: their JSON form is their own
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		seen[t] = true
		sb.WriteString("struct{")
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() && !f.Anonymous {
				continue
			}
			fmt.Fprintf(sb, "%s %q ", f.Name, f.Tag.Get("json"))
			describe(sb, f.Type, seen)
			sb.WriteString(";")
		}
		sb.WriteString("}")
		delete(seen, t)
	case reflect.Pointer, reflect.Slice, reflect.Array:
		fmt.Fprintf(sb, "%s%d ", t.Kind(), arrayLen(t))
		describe(sb, t.Elem(), seen)
	case reflect.Map:
		sb.WriteString("map[")
		describe(sb, t.Key(), seen)
		sb.WriteString("]")
		describe(sb, t.Elem(), seen)
	default:
		sb.WriteString(t.Kind().String())
	}
}

var jsonMarshaler = reflect.TypeFor[json.Marshaler]()

func arrayLen(t reflect.Type) int {
	if t.Kind() == reflect.Array {
		return t.Len()
	}
	return 0
}

var (
	errShape   = errors.New("scsession: the stored session was written by another version of the session type; fields that still fit were kept, the rest are zero")
	errDropped = errors.New("scsession: the stored session was written by another version of the session type; values of fields it no longer has were dropped")
	// errCompatible: written by another version of T, with nothing lost
	// (fields were added, or removed while empty). Not worth a warning.
	errCompatible = errors.New("scsession: the stored session was written by another version of the session type; nothing was lost")
)

// reshaped says what reading data, written by another version of T, into v
// lost: derr, the decoding error, if the data no longer fits; errDropped if
// a field that held a value is gone; errCompatible if nothing was lost.
func (m *Manager[T]) reshaped(data []byte, v *T, derr error) error {
	if derr != nil {
		return fmt.Errorf("%w: %w", errShape, derr) // one line, for one log line
	}
	if len(data) == 0 {
		return errCompatible // the zero T (a session holding only flashes): nothing to lose
	}
	j, err := unpack(nil, data)
	if err != nil {
		return fmt.Errorf("%w: %w", errShape, err)
	}
	now, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%w: %w", errShape, err)
	}
	var before, after any
	json.Unmarshal(j, &before)
	json.Unmarshal(now, &after)
	if lost(before, after) {
		return errDropped
	}
	return errCompatible
}

// lost reports whether a JSON value held something, other than a zero
// value, that after no longer has.
func lost(before, after any) bool {
	switch b := before.(type) {
	case map[string]any:
		a, _ := after.(map[string]any)
		for k, v := range b {
			if av, ok := a[k]; (!ok && !zeroJSON(v)) || (ok && lost(v, av)) {
				return true
			}
		}
	case []any:
		a, _ := after.([]any)
		for i, v := range b {
			if (i >= len(a) && !zeroJSON(v)) || (i < len(a) && lost(v, a[i])) {
				return true
			}
		}
	}
	return false
}

// zeroJSON reports whether v is what encoding/json writes for a zero value.
func zeroJSON(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case float64:
		return v == 0
	case string:
		return v == ""
	case []any:
		return len(v) == 0
	case map[string]any:
		for _, e := range v {
			if !zeroJSON(e) {
				return false
			}
		}
		return true
	}
	return false
}

// repair records that the request's data was rewritten, in T's current
// shape and keeping what still fit, or given its user: it is saved with this
// response. A mismatch is warned about once, since the next request reads
// the repaired data.
func (m *Manager[T]) repair(s *session[T], cause error) {
	if s.why&repaired != 0 {
		return // repaired already in this request (a rebase onto the same old data): one event
	}
	s.why |= repaired
	switch cause {
	case errUnindexed:
	case errCompatible: // an added field: an event, logged at Debug, no warning
		s.events = append(s.events, Event{Kind: EventMismatch, Session: m.name(s.token)})
	default:
		s.events = append(s.events, Event{Kind: EventMismatch, Session: m.name(s.token), Err: cause})
	}
}
