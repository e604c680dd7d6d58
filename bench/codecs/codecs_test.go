// Package codecs compares encoding/json with the well-kept codecs the
// performance issue named as candidates, for the benchmark's session value:
// speed, allocations, size, and what each does with data written by an older
// version of the type. It is its own module so that the scsession module never
// depends on them.
package codecs

import (
	"encoding/json"
	"testing"

	"github.com/fxamacker/cbor/v2"
	gojson "github.com/goccy/go-json"
	"github.com/vmihailenco/msgpack/v5"
)

type benchUser struct {
	UserID int
	Name   string
	Cart   []string
	Prefs  map[string]string
}

var seed = benchUser{
	UserID: 4211,
	Name:   "Ada Lovelace",
	Cart:   []string{"sku-0001", "sku-0002", "sku-0003", "sku-0004", "sku-0005"},
	Prefs:  map[string]string{"theme": "dark", "lang": "en-GB"},
}

// Each codec runs in its library's default mode, which keys structs by field
// name, so all are self-describing, as JSON is.
type codec struct {
	name      string
	marshal   func(any) ([]byte, error)
	unmarshal func([]byte, any) error
}

var codecs = []codec{
	{"json", json.Marshal, json.Unmarshal},
	{"gojson", gojson.Marshal, gojson.Unmarshal},
	{"cbor", cbor.Marshal, cbor.Unmarshal}, // default EncOptions/DecOptions
	{"msgpack", msgpack.Marshal, msgpack.Unmarshal},
}

func BenchmarkCodec(b *testing.B) {
	for _, c := range codecs {
		encoded, err := c.marshal(&seed)
		if err != nil {
			b.Fatal(err)
		}
		var check benchUser
		if err := c.unmarshal(encoded, &check); err != nil || check.UserID != seed.UserID ||
			check.Name != seed.Name || len(check.Cart) != 5 || check.Prefs["lang"] != "en-GB" {
			b.Fatalf("%s: round trip: %+v, %v", c.name, check, err)
		}
		b.Run("codec="+c.name+"/op=encode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.marshal(&seed); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(encoded)), "B/value")
		})
		b.Run("codec="+c.name+"/op=decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var v benchUser
				if err := c.unmarshal(encoded, &v); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(encoded)), "B/value")
		})
	}
}

// The stored ("old") and current ("new") versions of a type: Age changed type
// and Email was added.
type oldUser struct {
	UserID int
	Name   string
	Age    int
}

type newUser struct {
	UserID int
	Name   string
	Age    string
	Email  string
}

// The same old fields with the misfit first, to show whether a decoder keeps
// reading after a field that no longer fits.
type oldUserAgeFirst struct {
	Age    int
	UserID int
	Name   string
}

// TestShapeChange documents what each codec does when stored data no longer
// fits the type: the error and which fields survive. It asserts only that
// nothing panics and that encoding/json keeps the fields that fit, as its
// documentation says.
func TestShapeChange(t *testing.T) {
	tests := []struct {
		codec    codec
		keepsAll bool // asserted: UserID and Name survive
	}{
		{codecs[0], true},
		{codecs[1], false},
		{codecs[2], false},
		{codecs[3], false},
	}
	for _, tt := range tests {
		t.Run(tt.codec.name, func(t *testing.T) {
			for _, stored := range []struct {
				order string
				value any
			}{
				{"UserID,Name,Age", oldUser{UserID: 7, Name: "ann", Age: 41}},
				{"Age,UserID,Name", oldUserAgeFirst{UserID: 7, Name: "ann", Age: 41}},
			} {
				data, err := tt.codec.marshal(stored.value)
				if err != nil {
					t.Fatal(err)
				}
				var v newUser
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Errorf("%s: decode panicked: %v", tt.codec.name, r)
						}
					}()
					err = tt.codec.unmarshal(data, &v)
				}()
				userID, name := v.UserID == 7, v.Name == "ann"
				t.Logf("%-7s old order %s: UserID kept=%v Name kept=%v Age=%q; err=%v",
					tt.codec.name, stored.order, userID, name, v.Age, err)
				if tt.keepsAll && (!userID || !name) {
					t.Errorf("%s (%s): UserID/Name not kept: %+v", tt.codec.name, stored.order, v)
				}
			}
		})
	}
}
