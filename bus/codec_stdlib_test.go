package bus_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
)

// stdTarget has a field of most kinds an event has, for comparing bus.JSON
// with encoding/json.
type stdTarget struct {
	S   string            `json:"s"`
	I   int64             `json:"i"`
	U   uint8             `json:"u"`
	B   bool              `json:"b"`
	F   float64           `json:"f"`
	F32 float32           `json:"f32"`
	P   *string           `json:"p"`
	L   []int             `json:"l"`
	M   map[string]int    `json:"m,omitempty"`
	In  *stdInner         `json:"in"`
	Ls  []stdInner        `json:"ls"`
	X   any               `json:"x"`
	R   json.RawMessage   `json:"r"`
	Q   int               `json:"q,string"`
	T   bus.Envelope      `json:"-"`
	E   map[string]string `json:"e"`

	// More kinds an event may have.
	stdEmbedded
	Tm  time.Time       `json:"tm"`
	Tz  time.Time       `json:"tz,omitzero"`
	By  []byte          `json:"by"`
	MI  map[int]string  `json:"mi"`
	MU  map[uint16]bool `json:"mu"`
	MT  map[stdText]int `json:"mt"`
	Tx  stdText         `json:"tx"`
	PTx *stdText        `json:"ptx"`
	Arr [2]int8         `json:"arr"`
	Num json.Number     `json:"num"`
	PF  *float64        `json:"pf,string"`
	Bs  bool            `json:"bs,string"`
	Ss  string          `json:"ss,string"`
	U64 uint64          `json:"u64"`
	Nst map[string]any  `json:"nst"`
	Dur time.Duration   `json:"dur"`
	Opt *stdInner       `json:"opt,omitempty"`
	Is  []string        `json:"is,omitempty"`
}

// stdEmbedded is embedded in stdTarget: its fields are promoted, but for the one
// that a field of stdTarget shadows.
type stdEmbedded struct {
	EA string `json:"ea"`
	S  string `json:"s"` // shadowed by stdTarget.S
	EB int
}

// stdText is a TextMarshaler, as a value and as a map key.
type stdText struct{ V string }

func (t stdText) MarshalText() ([]byte, error) { return []byte("t:" + t.V), nil }

func (t *stdText) UnmarshalText(b []byte) error {
	if len(b) > 0 && b[0] == '!' {
		return errors.New("stdText: no !")
	}
	t.V = string(b)
	return nil
}

type stdInner struct {
	A string  `json:"a"`
	N float64 `json:"n,omitempty"`
}

// stdUnmarshal is bus.JSON's contract in encoding/json: one value, trailing
// data refused, unknown fields refused when strict.
func stdUnmarshal(data []byte, v any, strict bool) error {
	if !strict {
		return json.Unmarshal(data, v)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data")
	}
	return nil
}

// FuzzJSONLikeStdlib checks that the default codec decodes what encoding/json
// decodes, to the same values, refuses what it refuses, and encodes the same
// bytes.
func FuzzJSONLikeStdlib(f *testing.F) {
	for _, s := range []string{
		`{}`, `null`, `{"s":"x","i":1,"u":300}`, `{"s":"\u00e9\ud800","b":true,"f":1e308,"f32":1e39}`,
		`{"p":"v","l":[1,2,3],"m":{"a":1},"in":{"a":"b","n":0.5}}`, `{"ls":[{"a":"x"},{}],"x":[1,"a",{"b":null}]}`,
		`{"S":"case-insensitive"}`, `{"s":"a","s":"b"}`, `{"r":{"z":[1]},"q":"12"}`, `{"q":12}`, `[1]`,
		`{"i":1.5}`, `{"i":-9223372036854775809}`, `{"e":{"k":"<&>"}}`, `{"unknown":1}`, `{} {}`, ` {"s":"x"} `,
		`{"x":12345678901234567890}`, `{"s":"\x00"}`, "{\"s\":\"\xff\"}", `{"in":null,"l":null}`,
		`{"ea":"e","EB":2,"eb":3}`, `{"tm":"2024-02-29T23:59:60.5+01:00","tz":"2024-01-01T00:00:00Z"}`, `{"tm":"2024-1-1"}`,
		`{"by":"aGVsbG8=","mi":{"-1":"a","02":"b"},"mu":{"65535":true}}`, `{"by":"aGVsbG8","mu":{"65536":true}}`,
		`{"mt":{"k":1,"!x":2},"tx":"v","ptx":null}`, `{"tx":1}`, `{"arr":[1,2,3],"num":1.5e3}`, `{"arr":[128]}`,
		`{"pf":"1.5","bs":"true","ss":"\"q\""}`, `{"pf":"null","bs":"1"}`, `{"ss":"q"}`, `{"u64":18446744073709551615}`,
		`{"nst":{"a":[{"b":1e2}],"c":null},"dur":1000}`, `{"opt":{"a":"x"},"is":["\u2028<"]}`, `{"num":"7"}`, `{"num":"x"}`,
		`{"\u212a":1}`, `{"ArR":[1]}`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, strict bool) {
		var got, want stdTarget
		gerr := bus.JSON{DisallowUnknownFields: strict}.Unmarshal(data, &got)
		werr := stdUnmarshal(data, &want, strict)
		if (gerr == nil) != (werr == nil) {
			t.Fatalf("Unmarshal(%q, strict %v): error %v, encoding/json's %v", data, strict, gerr, werr)
		}
		if werr != nil {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Unmarshal(%q): %+v, encoding/json: %+v", data, got, want)
		}
		gb, gerr := bus.JSON{}.Marshal(want)
		wb, werr := json.Marshal(want)
		if (gerr == nil) != (werr == nil) || !bytes.Equal(gb, wb) {
			t.Fatalf("Marshal(%+v) = %s, %v; encoding/json: %s, %v", want, gb, gerr, wb, werr)
		}
		var anyv any
		if json.Unmarshal(data, &anyv) == nil {
			gb, gerr := bus.JSON{}.Marshal(anyv)
			wb, werr := json.Marshal(anyv)
			if (gerr == nil) != (werr == nil) || !bytes.Equal(gb, wb) {
				t.Fatalf("Marshal(%#v) = %s, %v; encoding/json: %s, %v", anyv, gb, gerr, wb, werr)
			}
		}
	})
}

// benchEvent is an event of about 120 bytes of JSON, as in the transports'
// benchmarks.
type benchEvent struct {
	CustomerID string `json:"customer_id"`
	Email      string `json:"email"`
	Name       string `json:"name"`
	Plan       string `json:"plan"`
	Seq        int    `json:"seq"`
}

// BenchmarkJSONCodec compares the default codec with encoding/json on a
// typical event: go test -run '^$' -bench JSONCodec -benchmem ./bus/
func BenchmarkJSONCodec(b *testing.B) {
	ev := benchEvent{CustomerID: "c-000123", Email: "customer-000123@example.com", Name: "Customer 000123", Plan: "gold", Seq: 123}
	body, err := json.Marshal(ev)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("op=unmarshal/lib=rampart", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			var e benchEvent
			if err := (bus.JSON{}).Unmarshal(body, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=unmarshal/lib=encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			var e benchEvent
			if err := json.Unmarshal(body, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=marshal/lib=rampart", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := (bus.JSON{}).Marshal(ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=marshal/lib=encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := json.Marshal(ev); err != nil {
				b.Fatal(err)
			}
		}
	})
}
