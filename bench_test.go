package scsession

import (
	"encoding/json"
	"testing"

	"github.com/scsession/scsession/internal/benchsession"
)

// The request benchmarks of issue #6 (floor, scs and scsession side by side,
// on memstore and Redis) are in the bench module, ../bench, with bench/run.
// What stays here needs the package's internals.

// benchUser is the benchmarks' session, the same in every module.
type benchUser = benchsession.User

var benchSeed = benchsession.Seed

// BenchmarkCodec measures what packing adds to encoding/json for the
// benchmark's session: form=json is json.Marshal/Unmarshal alone,
// form=packed what the store gets (encodeData, decodeData).
func BenchmarkCodec(b *testing.B) {
	v := benchSeed()
	j, _ := json.Marshal(v)
	p, _ := encodeData(&v)
	b.Run("op=encode/form=json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			json.Marshal(&v)
		}
	})
	b.Run("op=encode/form=packed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			encodeData(&v)
		}
	})
	b.Run("op=decode/form=json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var out benchUser
			json.Unmarshal(j, &out)
		}
	})
	b.Run("op=decode/form=packed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			decodeData[benchUser](p)
		}
	})
}
