package scsession

import (
	"encoding/json"
	"testing"
)

// The request benchmarks of issue #6 (floor, scs and scsession side by side,
// on memstore and Redis) are in the bench module, ../bench, with bench/run.
// What stays here needs the package's internals.

// benchUser is the benchmarks' session: an ID, a name, a cart of five items
// and two preferences (bench/bench_test.go's, the same).
type benchUser struct {
	UserID int
	Name   string
	Cart   []string
	Prefs  map[string]string
}

func benchSeed() benchUser {
	return benchUser{
		UserID: 4211,
		Name:   "Ada Lovelace",
		Cart:   []string{"sku-0001", "sku-0002", "sku-0003", "sku-0004", "sku-0005"},
		Prefs:  map[string]string{"theme": "dark", "lang": "en-GB"},
	}
}

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
