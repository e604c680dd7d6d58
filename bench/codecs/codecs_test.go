// Package codecs compares encoding/json with the well-kept codecs issue #6
// named as candidates, for the benchmark's session: speed, allocations, size,
// and what each does with data written by an older version of the type. It
// is its own module so that the scsession module never depends on them.
package codecs

import (
	"encoding/json"
	"fmt"
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

// A codec keys structs by field name in each library's default mode, so all
// are self-describing, as JSON is.
type codec struct {
	name      string
	marshal   func(any) ([]byte, error)
	unmarshal func([]byte, any) error
}

var codecs = []codec{
	{"json", json.Marshal, json.Unmarshal},
	{"gojson", gojson.Marshal, gojson.Unmarshal},
	{"cbor", cbor.Marshal, cbor.Unmarshal},
	{"msgpack", msgpack.Marshal, msgpack.Unmarshal},
}

func BenchmarkCodec(b *testing.B) {
	for _, c := range codecs {
		data, err := c.marshal(&seed)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("codec="+c.name+"/op=encode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.marshal(&seed); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data)), "B/value")
		})
		b.Run("codec="+c.name+"/op=decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var v benchUser
				if err := c.unmarshal(data, &v); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data)), "B/value")
		})
	}
}

// TestShapeChange stores a value of an old version of a type and reads it
// into the new one, where Age changed type and Email is new: what survives?
// Age comes first, so a decoder that stops at the first field that does not
// fit keeps nothing.
func TestShapeChange(t *testing.T) {
	type before struct {
		Age    int
		UserID int
		Name   string
	}
	type after struct {
		Age    string
		UserID int
		Name   string
		Email  string
	}
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			data, err := c.marshal(before{UserID: 7, Name: "ann", Age: 41})
			if err != nil {
				t.Fatal(err)
			}
			var v after
			err = c.unmarshal(data, &v)
			kept := fmt.Sprintf("UserID kept: %v, Name kept: %v", v.UserID == 7, v.Name == "ann")
			t.Logf("%-8s %s; error: %v", c.name, kept, err)
			if c.name == "json" && (v.UserID != 7 || v.Name != "ann" || err == nil) {
				t.Errorf("encoding/json should keep the fields that fit and report the one that does not: %s, %v", kept, err)
			}
		})
	}
}
