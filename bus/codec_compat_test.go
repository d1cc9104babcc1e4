package bus

import (
	stdjson "encoding/json"
	"errors"
	"math/big"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The default codec next to encoding/json on what events have that the fuzz
// test's target lacks or rarely hits: embedded structs and their conflicts,
// the string option, Marshaler/TextMarshaler values and map keys (pointer and
// value receivers), time.Time, []byte, map keys, omitempty/omitzero, invalid
// UTF-8, HTML escaping, numbers into interface{}, Unicode case folding of
// field names, null into non-pointers, duplicate keys.
func TestJSONLikeStdlib(t *testing.T) {
	now := time.Date(2024, 1, 2, 3, 4, 5, 6000, time.FixedZone("x", 3600))
	unmarshal := []struct {
		newV func() any
		in   []string
	}{
		{func() any { return new(compatEmbedConflict) }, []string{`{"a":"x","C":1,"Z":2,"b2":"y"}`, `{"b":1,"c":2}`}},
		{func() any { return new(compatEmbedPtr) }, []string{`{"a":"x","y":1}`, `{"y":1}`, `{}`}},
		{func() any { return new(compatEmbedUnexportedPtr) }, []string{`{"A":1,"Z":2}`, `{"Z":2}`}},
		{func() any { return new(compatDominant) }, []string{`{"X":"s"}`, `{"X":1}`}},
		{func() any { return new(compatStringOpt) }, []string{`{"i":"12","f":"1.5","b":"true","s":"\"x\"","pi":"3"}`,
			`{"i":12}`, `{"i":"null"}`, `{"i":null}`, `{"s":"x"}`, `{"i":" 12"}`, `{"b":"1"}`, `{"pi":"null"}`}},
		{func() any { return new(compatAll) }, []string{
			`{"t":"2024-01-02T03:04:05.123456789+01:00"}`, `{"t":"2024-01-02 03:04:05Z"}`, `{"t":null}`, `{"t":"24:00"}`,
			`{"by":"aGVsbG8="}`, `{"by":"aGVsbG8"}`, `{"by":"aGVs\nbG8="}`, `{"by":"aGVs\r\nbG8="}`, `{"by":"-_8="}`, `{"by":[1,2]}`, `{"by":null}`,
			`{"mi":{"1":"a","-2":"b"}}`, `{"mi":{"01":"a"}}`, `{"mi":{"+1":"a"}}`, `{"mi":{"x":"a"}}`, `{"mu":{"256":"a"}}`,
			`{"mt":{"k":1}}`, `{"tm":"hello"}`, `{"tm":null}`, `{"tm":1}`, `{"ptm":"hello"}`, `{"ptm":null}`,
			`{"jm":  {"a" : 1 }  }`, `{"jm":null}`, `{"pjm":null}`, `{"pjm":"s"}`,
			`{"x":12345678901234567890123}`, `{"x":1e400}`, `{"x":-0}`, `{"arr":[1,2,3]}`, `{"arr":[1]}`,
			`{"addr":"1.2.3.4"}`, `{"addr":""}`, `{"big":123456789012345678901234567890}`,
			`{"num":12.5e3}`, `{"num":"12"}`, `{"num":"x"}`, `{"rm": [ 1 , 2 ] }`, `{"rm":null}`,
			`{"u":-1}`, `{"u":18446744073709551616}`, `{"u":1.0}`, `{"u":1e2}`, `{"unex":1}`, `{"T":"2024-01-02T03:04:05Z"}`,
			"{}\x00", "\f{}", "{}\v", "\ufeff{}", `{"\u0074":"2024-01-02T03:04:05Z"}`,
		}},
		{func() any { return new(struct{ K string }) }, []string{`{"\u212a":"kelvin"}`}},
		{func() any { return new(struct{ S string }) }, []string{`{"\u017f":"long s"}`, `{"s":"a","S":"b"}`, `{"S":"a","s":"b"}`}},
		{func() any { return new(struct{ X, Y int }) }, []string{`{"X":1,"x":"bad","Y":3}`}},
		{func() any { return new(struct{ I int }) }, []string{`{"I":null}`}},
		{func() any { return new([]int) }, []string{`[1,null,3]`}},
		{func() any { return new(string) }, []string{"\"\xff\xfe\"", `"\ud83d\ude00\udc00\ud800x"`, "\"a\tb\"", `"\/\b\f"`, `"\u00"`}},
		{func() any { return new(any) }, []string{`[1, 2.5, "x", {"a": [true]}]`, `{"a":9007199254740993}`, `[1, -0, -0.0, 1E400]`}},
		{func() any { return new(float32) }, []string{`3.4e39`, `16777217`}},
		{func() any { return new(int) }, []string{`1.`, `.5`, `-`, `00`, `1E+2`}},
		{func() any { return new(struct{ A any }) }, []string{`{"A":{"b":1},"A":[1]}`}},
		{func() any { return new(struct{ A [2]int }) }, []string{`{"A":[1,2],"A":[3]}`}},
		{func() any { return new(struct{ A struct{ X, Y int } }) }, []string{`{"A":{"X":1},"A":{"Y":2}}`}},
		{func() any { return new(map[string]*int) }, []string{`{"a":null,"b":1}`}},
		{func() any { return new(struct{ V [3]byte }) }, []string{`{"V":"AQID"}`, `{"V":[1,2,3]}`}},
	}
	for _, tt := range unmarshal {
		for _, in := range tt.in {
			for _, strict := range []bool{false, true} {
				got, want := tt.newV(), tt.newV()
				gerr := JSON{DisallowUnknownFields: strict}.Unmarshal([]byte(in), got)
				d := stdjson.NewDecoder(strings.NewReader(in))
				if strict {
					d.DisallowUnknownFields()
				}
				werr := d.Decode(want)
				if werr == nil && d.InputOffset() < int64(len(strings.TrimRight(in, " \t\r\n"))) {
					werr = errors.New("trailing data")
				}
				if (gerr == nil) != (werr == nil) {
					t.Errorf("%T Unmarshal(%q, strict %t): error %v, encoding/json's %v", got, in, strict, gerr, werr)
				} else if werr == nil && !reflect.DeepEqual(got, want) {
					t.Errorf("%T Unmarshal(%q, strict %t) = %+v, encoding/json's %+v", got, in, strict, got, want)
				}
			}
		}
	}
	for _, v := range []any{
		compatOmit{}, compatOmit{T: now, TZ: now, I: 0}, compatOmit{I: (*int)(nil)},
		compatEmbedConflict{compatInner{"a", 1, 4}, compatInner2{"b", 2}, 3}, compatEmbedPtr{}, compatEmbedPtr{compatInner: &compatInner{A: "q"}},
		compatDominant{}, compatEmbedUnexportedPtr{},
		compatStringOpt{I: 1, F: 1.5, B: true, S: `a"<b>`, PI: new(int)}, compatAll{},
		compatAll{T: now, By: []byte("hello\xff"), MI: map[int]string{10: "a", 9: "b", -1: "c"}, MU: map[uint8]string{2: "x", 10: "y"},
			MT: map[jsonText]int{{"b"}: 1, {"a"}: 2}, TM: jsonText{"<x>"}, PTM: &jsonText{"p"}, JM: jsonRawer{"&"},
			X: map[string]any{"z": 1, "a": []any{1.5, 1e21, 1e-7, float32(0.1)}}, Addr: netip.MustParseAddr("::1"), Big: big.NewInt(5),
			Num: "12", RM: stdjson.RawMessage(` { "a" : "<" } `)},
		map[string]string{"<": "&", "\u2028": "\u2029", "bad\xff": "x\xfe\x00\x1f\x7f"},
		[]any{float32(1e21), float32(1e-7), 1e20, 1e21, 123456789.0, -0.0, float32(3.4e38), 5e-324},
		struct{ X ptrJSONer }{}, &struct{ X ptrJSONer }{}, []ptrJSONer{{}}, map[string]ptrJSONer{"a": {}},
		struct{ X any }{ptrJSONer{}}, map[ptrText]int{}, struct{ P *jsonRawer }{},
		stdjson.Number("1.5"), stdjson.Number("abc"), stdjson.RawMessage(`{bad`),
		struct {
			A int `json:"-,"`
			B int `json:"a b"`
			C int `json:"<"`
		}{1, 2, 3},
		[][]byte{nil, {}, {1}}, struct{ F func() }{}, map[int64]int{-5: 1, 3: 2}, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		map[string]any{"a": (*int)(nil), "b": []any{nil}, "c": struct{}{}},
	} {
		gb, gerr := JSON{}.Marshal(v)
		wb, werr := stdjson.Marshal(v)
		if (gerr == nil) != (werr == nil) || string(gb) != string(wb) {
			t.Errorf("Marshal(%#v) = %s, %v; encoding/json: %s, %v", v, gb, gerr, wb, werr)
		}
	}
}

type compatInner struct {
	A string `json:"a"`
	B int    `json:"b,omitempty"`
	C int    // the same name as compatInner2.C: neither is encoded nor decoded
}
type compatInner2 struct {
	B2 string `json:"b2"`
	C  int
}
type compatEmbedConflict struct {
	compatInner
	compatInner2
	Z int
}
type compatEmbedPtr struct {
	*compatInner
	Y int `json:"y"`
}
type compatUnexported struct{ A, B int }
type compatEmbedUnexportedPtr struct {
	*compatUnexported
	Z int
}
type compatDeep1 struct{ X int }
type compatDeep2 struct{ compatDeep1 }
type compatDominant struct {
	compatDeep2
	X string
}
type compatStringOpt struct {
	I  int     `json:"i,string"`
	F  float64 `json:"f,string"`
	B  bool    `json:"b,string"`
	S  string  `json:"s,string"`
	PI *int    `json:"pi,string"`
}
type compatOmit struct {
	T  time.Time      `json:"t,omitempty"`
	TZ time.Time      `json:"tz,omitzero"`
	S  compatInner    `json:"s,omitempty"`
	SZ compatInner    `json:"sz,omitzero"`
	M  map[string]int `json:"m,omitempty"`
	L  []int          `json:"l,omitempty"`
	P  *int           `json:"p,omitempty"`
	A  [0]int         `json:"a,omitempty"`
	I  any            `json:"i,omitempty"`
}
type jsonText struct{ V string }

func (t jsonText) MarshalText() ([]byte, error)  { return []byte("T:" + t.V), nil }
func (t *jsonText) UnmarshalText(b []byte) error { t.V = "U:" + string(b); return nil }

type jsonRawer struct{ V string }

func (t jsonRawer) MarshalJSON() ([]byte, error) {
	return []byte(` { "v" : "<` + t.V + `>" } `), nil
}
func (t *jsonRawer) UnmarshalJSON(b []byte) error { t.V = "raw:" + string(b); return nil }

type ptrJSONer struct{ V int }

func (*ptrJSONer) MarshalJSON() ([]byte, error) { return []byte(`"ptr"`), nil }

type ptrText struct{ V int }

func (*ptrText) MarshalText() ([]byte, error) { return []byte(`ptrtext`), nil }

type compatAll struct {
	T    time.Time          `json:"t"`
	By   []byte             `json:"by"`
	MI   map[int]string     `json:"mi"`
	MU   map[uint8]string   `json:"mu"`
	MT   map[jsonText]int   `json:"mt"`
	TM   jsonText           `json:"tm"`
	PTM  *jsonText          `json:"ptm"`
	JM   jsonRawer          `json:"jm"`
	PJM  *jsonRawer         `json:"pjm"`
	X    any                `json:"x"`
	Arr  [2]int             `json:"arr"`
	Addr netip.Addr         `json:"addr"`
	Big  *big.Int           `json:"big"`
	Num  stdjson.Number     `json:"num"`
	RM   stdjson.RawMessage `json:"rm"`
	U    uint64             `json:"u"`
	unex int
}
