package bus_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/bus"
)

type (
	CustomerCreated struct{ ID string }
	VIPPromoted     struct{}
	HTTPCallFailed  struct{}
	OrderV2Paid     struct{}
	order_shipped   struct{}
	Generic[T any]  struct{ V T }
)

func TestDefaultTypeName(t *testing.T) {
	tests := []struct {
		typ  reflect.Type
		want string
	}{
		{reflect.TypeFor[CustomerCreated](), "bus.customer-created.v1"},
		{reflect.TypeFor[*CustomerCreated](), "bus.customer-created.v1"},
		{reflect.TypeFor[VIPPromoted](), "bus.vip-promoted.v1"},
		{reflect.TypeFor[HTTPCallFailed](), "bus.http-call-failed.v1"},
		{reflect.TypeFor[OrderV2Paid](), "bus.order-v2-paid.v1"},
		{reflect.TypeFor[order_shipped](), "bus.order-shipped.v1"},
		{reflect.TypeFor[bus.Envelope](), "bus.envelope.v1"},
	}
	for _, tt := range tests {
		got, err := bus.DefaultTypeName(tt.typ)
		if got != tt.want || err != nil {
			t.Errorf("DefaultTypeName(%s) = %q, %v; want %q, nil", tt.typ, got, err, tt.want)
		}
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[struct{ A int }](), reflect.TypeFor[Generic[int]](), reflect.TypeFor[int]()} {
		if got, err := bus.DefaultTypeName(typ); err == nil {
			t.Errorf("DefaultTypeName(%s) = %q, nil; want an error (register it by name)", typ, got)
		}
	}
}

func TestRegister(t *testing.T) {
	r := bus.NewRegistry()
	if err := bus.Register[CustomerCreated](r, "customers.customer-created.v1"); err != nil {
		t.Fatal(err)
	}
	if err := bus.Register[*CustomerCreated](r, "customers.customer-created.v1"); err != nil {
		t.Errorf("Register of the same pair again (through a pointer) = %v, want nil", err)
	}
	if got, ok := r.Name(&CustomerCreated{}); got != "customers.customer-created.v1" || !ok {
		t.Errorf("Name(&CustomerCreated{}) = %q, %v; want the registered name", got, ok)
	}
	if got, ok := r.Lookup("customers.customer-created.v1"); got != reflect.TypeFor[CustomerCreated]() || !ok {
		t.Errorf("Lookup = %v, %v; want CustomerCreated", got, ok)
	}
	if _, ok := r.Lookup("nope.v1"); ok {
		t.Errorf("Lookup(unregistered) ok = true, want false")
	}
	if _, ok := r.Name(VIPPromoted{}); ok {
		t.Errorf("Name(unregistered) ok = true, want false")
	}
	if err := bus.Register[Generic[int]](r, "generic-int.v1"); err != nil {
		t.Errorf("Register(generic type, explicit name) = %v, want nil", err)
	}
	if err := bus.Register[VIPPromoted](r, ""); err != nil {
		t.Errorf("Register(default name) = %v", err)
	}
	if got, _ := r.Name(VIPPromoted{}); got != "bus.vip-promoted.v1" {
		t.Errorf("Name after Register(\"\") = %q, want the default name", got)
	}
	errs := []struct {
		name string
		err  error
		want string
	}{
		{"type again under another name", bus.Register[CustomerCreated](r, "other.v1"), "already registered"},
		{"name taken by another type", bus.Register[HTTPCallFailed](r, "customers.customer-created.v1"), "already taken"},
		{"invalid name", bus.Register[OrderV2Paid](r, "orders paid"), "only letters"},
		{"generic without a name", bus.Register[Generic[string]](r, ""), "register it by name"},
	}
	for _, e := range errs {
		if e.err == nil || !strings.Contains(e.err.Error(), e.want) || !strings.HasPrefix(e.err.Error(), "bus: ") {
			t.Errorf("Register(%s) = %v, want an error prefixed \"bus: \" saying %q", e.name, e.err, e.want)
		}
	}
	if n := len(r.Names()); n != 3 {
		t.Errorf("len(Names()) = %d, want 3", n)
	}
}

func TestValidateTypeName(t *testing.T) {
	for name, ok := range map[string]bool{
		"customers.customer-created.v1": true,
		"a":                             true,
		"A_b-c.9":                       true,
		"":                              false,
		".a":                            false,
		"a.":                            false,
		"a..b":                          false,
		"a b":                           false,
		"a.*":                           false,
		"a.>":                           false,
		"a/b":                           false,
		"é":                             false,
		strings.Repeat("a", 255):        true,
		strings.Repeat("a", 256):        false,
	} {
		if err := bus.ValidateTypeName(name); (err == nil) != ok {
			t.Errorf("ValidateTypeName(%q) = %v, want ok %v", name, err, ok)
		}
	}
}
