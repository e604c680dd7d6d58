package scsession

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// packed is j packed, for tests that write envelopes by hand.
func packed(j string) []byte {
	b, err := pack(nil, []byte(j))
	if err != nil {
		panic("packed: " + err.Error())
	}
	return b
}

func TestPackGivesTheJSONBackByteForByte(t *testing.T) {
	long := strings.Repeat("x", 300)
	many := "[" + strings.Repeat("1,", 99) + "1]"
	members := "{" + strings.Repeat(`"k":true,`, 40) + `"k":null}`
	tests := []string{
		`null`, `true`, `false`, `0`, `-0`, `7`, `30`, `31`, `32`, `-31`, `4211`, `-9007199254740993`,
		`18446744073709551615`, `184467440737095516150`, `1.5`, `-2.5e-8`, `1E+300`,
		`""`, `"ada"`, `"` + long + `"`, `"\"quoted\" \\ \n \u003chtml\u003e \ufffd é 😀"`,
		`[]`, `{}`, `[[],{}]`, many, members,
		`{"UserID":4211,"Name":"Ada Lovelace","Cart":["sku-0001","sku-0002"],"Prefs":{"lang":"en-GB"}}`,
		`{"a":{"b":{"c":[1,[2,[3,{"d":"e"}]]]}},"weird key \" \\":1}`,
	}
	for _, j := range tests {
		p, err := pack(nil, []byte(j))
		if err != nil {
			t.Fatalf("pack(%.40s): %v", j, err)
		}
		back, err := unpack(nil, p)
		if err != nil || string(back) != j {
			t.Fatalf("unpack(pack(%.40s)) = %.40s, %v", j, back, err)
		}
	}
}

func TestPackSkipsSpaceAndRefusesWhatIsNotJSON(t *testing.T) {
	p, err := pack(nil, []byte(" { \"a\" : [ 1 , 2 ] ,\n\t\"b\" : null }\r\n"))
	if back, _ := unpack(nil, p); err != nil || string(back) != `{"a":[1,2],"b":null}` {
		t.Fatalf("spaced JSON packs to %q, %v", back, err)
	}
	for _, j := range []string{``, ` `, `{`, `[1,]`, `[1 2]`, `{"a"}`, `{"a":}`, `{a:1}`, `"open`, `tru`, `nul`, `1 2`, `[`, `}`} {
		if _, err := pack(nil, []byte(j)); err == nil {
			t.Errorf("pack(%q) succeeded", j)
		}
	}
}

func TestUnpackRefusesDamagedData(t *testing.T) {
	p := packed(`{"UserID":4211,"Cart":["a","b"],"Big":184467440737095516150}`)
	for n := range len(p) { // every truncation
		if _, err := unpack(nil, p[:n]); err == nil {
			t.Errorf("unpack of the first %d of %d bytes succeeded", n, len(p))
		}
	}
	for _, b := range [][]byte{
		{0x03},                         // a literal that does not exist
		{0xe0},                         // kind 7
		{0x5f, 0xff, 0xff, 0xff, 0xff}, // an array count running off the end
		{0x9f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, // an integer past uint64
		append(packed(`1`), 0x00),              // bytes after the value
		bytes.Repeat([]byte{0x41}, maxDepth+2), // arrays nested too deep
	} {
		if _, err := unpack(nil, b); err == nil {
			t.Errorf("unpack(% x) succeeded", b[:min(len(b), 12)])
		}
	}
}

func TestPackedSessionIsSmallerThanItsJSON(t *testing.T) {
	v := benchSeed()
	j, _ := json.Marshal(v)
	p, err := encodeData(&v)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) > len(j)*4/5 {
		t.Fatalf("packed %d bytes, JSON %d: packing should save at least a fifth", len(p), len(j))
	}
	got, err := decodeData[benchUser](p)
	if err != nil || got.Name != v.Name || len(got.Cart) != 5 || got.Prefs["lang"] != "en-GB" {
		t.Fatalf("decoded %+v, %v", got, err)
	}
}

// FuzzPack checks that packing gives back any valid JSON, compacted, and that
// no input makes pack or unpack panic.
func FuzzPack(f *testing.F) {
	f.Add([]byte(`{"UserID":1,"Cart":["a"],"Prefs":{"k":"v"},"N":-1.5e3,"B":[true,false,null]}`))
	f.Add([]byte(` [ "\u00e9\"" , 18446744073709551615 ] `))
	f.Add(packed(`{"a":[1,2,{"b":"c"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		unpack(nil, b)
		p, err := pack(nil, b)
		if !json.Valid(b) {
			return
		}
		if err != nil {
			t.Fatalf("valid JSON %q does not pack: %v", b, err)
		}
		var want bytes.Buffer
		json.Compact(&want, b)
		if back, err := unpack(nil, p); err != nil || !bytes.Equal(back, want.Bytes()) {
			t.Fatalf("%q packs and unpacks to %q, %v", b, back, err)
		}
	})
}

func TestPackNestsAsDeepAsEncodingJSON(t *testing.T) {
	for _, n := range []int{maxDepth, maxDepth + 1} {
		j := []byte(strings.Repeat("[", n) + strings.Repeat("]", n))
		p, err := pack(nil, j)
		if (err == nil) != json.Valid(j) {
			t.Fatalf("%d nested arrays: pack says %v, json.Valid %v", n, err, json.Valid(j))
		}
		if err == nil {
			if back, err := unpack(nil, p); err != nil || !bytes.Equal(back, j) {
				t.Fatalf("%d nested arrays do not unpack: %v", n, err)
			}
		}
	}
}
