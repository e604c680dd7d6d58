package scsession

import (
	"encoding/json"
	"math/big"
	"testing"
	"time"
)

type node struct {
	Name string
	Next *node
}

// deep has a reference of every kind JSON can fill.
type deep struct {
	Tags    []string
	Nested  [][]int
	ByName  map[string][]string
	Ptr     *user
	Users   []user
	Array   [2][]string
	Any     any
	List    *node
	When    time.Time
	Counter int
}

func TestCachedValuesAreDeepCopies(t *testing.T) {
	c := newDecodeCache[deep]()
	if c == nil {
		t.Fatal("no cache for a type that JSON fills with plain references")
	}
	orig := deep{
		Tags:   []string{"a"},
		Nested: [][]int{{1}},
		ByName: map[string][]string{"k": {"v"}},
		Ptr:    &user{Name: "ann", Cart: []string{"tea"}, Prefs: map[string]string{"a": "b"}},
		Users:  []user{{Cart: []string{"jam"}}},
		Array:  [2][]string{{"x"}, nil},
		Any:    map[string]any{"list": []any{"y", map[string]any{"z": 1.0}}},
		List:   &node{Name: "1", Next: &node{Name: "2"}},
		When:   time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC),
	}
	data, err := encodeData(&orig)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(orig)
	for i := range 3 { // a miss, then hits
		v, err := c.decode(data)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := json.Marshal(v); string(got) != string(want) {
			t.Fatalf("decode %d: %s, want %s", i, got, want)
		}
		v.Tags[0], v.Nested[0][0], v.ByName["k"][0] = "changed", 9, "changed"
		v.Ptr.Name, v.Ptr.Cart[0], v.Ptr.Prefs["a"] = "changed", "changed", "changed"
		v.Users[0].Cart[0], v.Array[0][0] = "changed", "changed"
		v.Any.(map[string]any)["list"].([]any)[1].(map[string]any)["z"] = 2.0
		v.List.Next.Name = "changed"
	}
	if v, _ := c.decode(data); v.Tags[0] != "a" || v.Ptr.Cart[0] != "tea" || v.List.Next.Name != "2" {
		t.Fatalf("changing a decoded value changed the cache: %+v", v)
	}
}

func TestTypesWithHiddenReferencesAreNotCached(t *testing.T) {
	type money struct{ Amount *big.Int }
	if newDecodeCache[money]() != nil {
		t.Fatal("big.Int's hidden slice would be shared between copies; want no cache")
	}
	if newDecodeCache[user]() == nil {
		t.Fatal("no cache for the plain user type")
	}
}
