package bus_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/bus"
)

type address struct {
	Zip string `json:"zip"`
}

type person struct {
	Name    string  `json:"name"`
	Age     int     `json:"age"`
	Address address `json:"address"`
}

func TestJSONUnmarshalErrors(t *testing.T) {
	tests := []struct {
		name   string
		codec  bus.JSON
		in     string
		field  string
		inText string
	}{
		{"wrong type", bus.JSON{}, `{"age":"old"}`, "age", "cannot unmarshal"},
		{"wrong nested type", bus.JSON{}, `{"address":{"zip":5}}`, "address.zip", "cannot unmarshal"},
		{"syntax", bus.JSON{}, `{"name":`, "", "unexpected end"},
		{"empty", bus.JSON{}, ``, "", "unexpected end"},
		{"trailing data", bus.JSON{}, `{} {}`, "", "after top-level value"},
		{"unknown field, strict", bus.JSON{DisallowUnknownFields: true}, `{"nickname":"x"}`, "nickname", "unknown field"},
		{"trailing data, strict", bus.JSON{DisallowUnknownFields: true}, `{} x`, "", "trailing data"},
		{"empty, strict", bus.JSON{DisallowUnknownFields: true}, ``, "", "unexpected EOF"},
	}
	for _, tt := range tests {
		var p person
		err := tt.codec.Unmarshal([]byte(tt.in), &p)
		var ce *bus.CodecError
		if !errors.As(err, &ce) {
			t.Errorf("%s: Unmarshal(%q) error = %v, want a *CodecError", tt.name, tt.in, err)
			continue
		}
		if ce.Field != tt.field || ce.Op != "unmarshal" || ce.ContentType != "application/json" {
			t.Errorf("%s: Unmarshal(%q) error = {Field:%q Op:%q ContentType:%q}, want field %q", tt.name, tt.in, ce.Field, ce.Op, ce.ContentType, tt.field)
		}
		if !strings.Contains(err.Error(), tt.inText) || !strings.HasPrefix(err.Error(), "bus: ") {
			t.Errorf("%s: Unmarshal(%q) error = %q, want it to say %q", tt.name, tt.in, err, tt.inText)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	for _, c := range []bus.JSON{{}, {DisallowUnknownFields: true}} {
		in := person{Name: "Ada", Age: 36, Address: address{Zip: "N1"}}
		b, err := c.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out person
		if err := c.Unmarshal(b, &out); err != nil || out != in {
			t.Errorf("Unmarshal(Marshal(%+v)) = %+v, %v", in, out, err)
		}
	}
	if got := (bus.JSON{}).ContentType(); got != "application/json" {
		t.Errorf("ContentType() = %q, want application/json", got)
	}
	if _, err := (bus.JSON{}).Marshal(map[string]any{"c": make(chan int)}); err == nil {
		t.Errorf("Marshal(a channel) error = nil, want an error")
	} else if ce := (*bus.CodecError)(nil); !errors.As(err, &ce) || ce.Op != "marshal" {
		t.Errorf("Marshal(a channel) error = %v, want a *CodecError for marshal", err)
	}
	var p person
	if err := (bus.JSON{}).Unmarshal([]byte(`{"nickname":"x","name":"A"}`), &p); err != nil || p.Name != "A" {
		t.Errorf("lenient Unmarshal with an unknown field = %+v, %v; want the known fields and no error", p, err)
	}
}
