package scsession

import (
	"fmt"

	"github.com/alexedwards/scs/v2"
)

// An app moving from plain scs to scsession has live sessions in scs's
// format: a deadline and a gob-encoded map. This file reads them.

// WithSCSValues adopts the sessions that plain scs saved, so that switching
// an app from scs to scsession logs nobody out. A stored session that scs's
// codec wrote (scs.GobCodec: a deadline and a map, decoded with the app's
// gob.Register calls, which must stay until the sessions have migrated) is
// given to fn, which fills the new T from its values:
//
//	scsession.WithSCSValues(func(values map[string]any, s *Session) {
//		s.UserID, _ = values["userID"].(int)
//		s.Theme, _ = values["theme"].(string)
//	})
//
// Use comma-ok type assertions: the values are whatever the old code put
// there. The session keeps its token, its deadline and scs's RememberMe, and
// is saved in scsession's format by the request that reads it, so each
// session migrates once. Plain scs cookies are not signed: turn on
// WithSigningKeys only once the scs sessions have expired, or it refuses
// their cookies. Without this option, data scsession did not write reads as
// a new session.
func WithSCSValues[T any](fn func(values map[string]any, s *T)) Option {
	return func(c *config) { c.scsValues = fn }
}

// adopt returns the envelope for b, bytes that plain scs saved, if
// WithSCSValues is on and b is scs's.
func (m *Manager[T]) adopt(b []byte) (envelope, bool) {
	if m.fromSCS == nil {
		return envelope{}, false
	}
	deadline, values, err := scs.GobCodec{}.Decode(b)
	if err != nil {
		return envelope{}, false
	}
	var v T
	m.fromSCS(values, &v)
	env := m.fresh()
	env.deadline, env.touched = deadline, env.created // idle since: scs's store kept it, so not idle yet
	env.remember, _ = values[keyRemember].(bool)
	if m.setData(&env, &v) != nil {
		return envelope{}, false
	}
	return env, true
}

// decodeStored reads what the store holds for a session: scsession's
// envelope, or, adopted, a session plain scs saved.
func (m *Manager[T]) decodeStored(b []byte) (env envelope, adopted bool, err error) {
	env, err = decodeEnvelope(b)
	if err != nil {
		if env, adopted = m.adopt(b); adopted {
			return env, true, nil
		}
	}
	return env, false, err
}

// scsValuesFunc returns WithSCSValues' function, checked against T.
func scsValuesFunc[T any](fn any) func(map[string]any, *T) {
	if fn == nil {
		return nil
	}
	f, ok := fn.(func(map[string]any, *T))
	if !ok {
		var zero T
		panic(fmt.Sprintf("scsession: WithSCSValues was given a %T, but the Manager stores %T: write WithSCSValues(func(values map[string]any, s *%[2]T) {...})", fn, zero))
	}
	return f
}
