package bus

import (
	"errors"
	"fmt"
	"path"
	"reflect"
	"strings"
	"sync"
	"unicode"
)

// Registry maps Go types to event type names and back, so that what goes on the
// wire is a stable name chosen once ("customers.customer-created.v1") and never
// Go's reflection names at run time: renaming a Go type does not change its event
// type once it is registered by name. A Registry is safe for concurrent use; the
// zero value is not, use [NewRegistry].
type Registry struct {
	mu     sync.RWMutex
	byType map[reflect.Type]string
	byName map[string]reflect.Type
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{byType: make(map[reflect.Type]string), byName: make(map[string]reflect.Type)}
}

// Register maps T to the event type name, or to [DefaultTypeName] of T if name is
// empty. Pointers are looked through: Register[*Order] registers Order. Registering
// the same pair again does nothing; a type already registered under another name,
// or a name already taken by another type, is an error, as is a name that
// [ValidateTypeName] rejects.
func Register[T any](r *Registry, name string) error {
	return r.register(typeOf[T](), name)
}

// typeOf returns T with pointers removed.
func typeOf[T any]() reflect.Type {
	t := reflect.TypeFor[T]()
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

func (r *Registry) register(t reflect.Type, name string) error {
	if name == "" {
		var err error
		if name, err = DefaultTypeName(t); err != nil {
			return err
		}
	}
	if err := ValidateTypeName(name); err != nil {
		return fmt.Errorf("bus: register %s as %q: %w", t, name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if have, ok := r.byType[t]; ok {
		if have == name {
			return nil
		}
		return fmt.Errorf("bus: register %s as %q: already registered as %q", t, name, have)
	}
	if other, ok := r.byName[name]; ok {
		return fmt.Errorf("bus: register %s as %q: name already taken by %s", t, name, other)
	}
	r.byType[t] = name
	r.byName[name] = t
	return nil
}

// Name returns the event type name of v's type (pointers looked through).
func (r *Registry) Name(v any) (string, bool) {
	if v == nil {
		return "", false
	}
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return r.nameOf(t)
}

func (r *Registry) nameOf(t reflect.Type) (string, bool) {
	r.mu.RLock()
	name, ok := r.byType[t]
	r.mu.RUnlock()
	return name, ok
}

// nameOrRegister returns t's name, registering it under its default name first if
// it has none.
func (r *Registry) nameOrRegister(t reflect.Type) (string, error) {
	if name, ok := r.nameOf(t); ok {
		return name, nil
	}
	if err := r.register(t, ""); err != nil {
		return "", err
	}
	name, _ := r.nameOf(t)
	return name, nil
}

// Lookup returns the Go type registered under an event type name.
func (r *Registry) Lookup(name string) (reflect.Type, bool) {
	r.mu.RLock()
	t, ok := r.byName[name]
	r.mu.RUnlock()
	return t, ok
}

// Names returns every registered event type name, in no particular order.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.byName))
	for n := range r.byName {
		names = append(names, n)
	}
	return names
}

// DefaultTypeName derives an event type name from a named Go type: the last
// element of its package path, its name in kebab case, and ".v1". For
// customers.CustomerCreated it is "customers.customer-created.v1"; for
// billing.HTTPCallFailed "billing.http-call-failed.v1". Unnamed and generic types
// have no default name and must be registered by name.
func DefaultTypeName(t reflect.Type) (string, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() == "" || t.PkgPath() == "" {
		return "", &UnknownEventTypeError{GoType: t.String()}
	}
	if strings.ContainsAny(t.Name(), "[]") {
		return "", fmt.Errorf("bus: generic type %s has no default event type name; register it by name", t)
	}
	pkg := path.Base(t.PkgPath())
	pkg = strings.TrimSuffix(pkg, "_test")
	name := strings.ToLower(pkg) + "." + kebab(t.Name()) + ".v1"
	if err := ValidateTypeName(name); err != nil {
		return "", fmt.Errorf("bus: default event type name %q of %s: %w; register it by name", name, t, err)
	}
	return name, nil
}

// kebab turns a Go identifier into kebab case: "CustomerCreated" →
// "customer-created", "VIPPromoted" → "vip-promoted", "OrderV2Paid" →
// "order-v2-paid", "order_paid" → "order-paid".
func kebab(s string) string {
	rs := []rune(s)
	var b strings.Builder
	for i, r := range rs {
		if r == '_' {
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
				b.WriteByte('-')
			}
			continue
		}
		if unicode.IsUpper(r) && i > 0 {
			prev := rs[i-1]
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				if !strings.HasSuffix(b.String(), "-") {
					b.WriteByte('-')
				}
			}
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return strings.Trim(b.String(), "-")
}

// ValidateTypeName reports whether name can be an event type: 1 to 255 ASCII
// letters, digits, '.', '-' and '_', not starting or ending with '.', without "..":
// it is a routing key on RabbitMQ and part of a subject on JetStream.
func ValidateTypeName(name string) error {
	switch {
	case name == "":
		return errors.New("is empty")
	case len(name) > maxTypeLen:
		return fmt.Errorf("is longer than %d bytes", maxTypeLen)
	case name[0] == '.' || name[len(name)-1] == '.' || strings.Contains(name, ".."):
		return errors.New("has an empty dot-separated part")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("has %q; only letters, digits, '.', '-' and '_' are allowed", c)
		}
	}
	return nil
}
