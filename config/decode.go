package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The decoder fills the configuration structs from the merged tree of the file
// and the environment (maps, lists and scalars as the YAML parser returns them),
// keyed by the structs' yaml tags. It is strict: an unknown key, a value of the
// wrong type, a bare number for a duration are errors that name the path. Values
// set by environment variables are strings, parsed according to the type of the
// setting (a list is comma-separated).

// customDecoder is a type that decodes itself (a Secret, a policy).
type customDecoder interface {
	decodeFrom(st *loadState, path string, raw any)
}

// defaulter is a type that fills in its defaults before it is decoded, so that
// keys left out keep them.
type defaulter interface {
	setDefaults()
}

var durationType = reflect.TypeFor[Duration]()

// fieldOpts are the options of a struct field that matter to the decoder.
type fieldOpts struct {
	off bool // a Duration that accepts "off"
}

// decode decodes raw into rv, which must be settable.
func (st *loadState) decode(path string, raw any, rv reflect.Value, opts fieldOpts) {
	if rv.CanAddr() {
		if d, ok := rv.Addr().Interface().(customDecoder); ok {
			d.decodeFrom(st, path, raw)
			return
		}
	}
	if rv.Type() == durationType || rv.Type() == timeDurationType {
		st.decodeDuration(path, raw, rv, opts.off)
		return
	}
	switch rv.Kind() {
	case reflect.Struct:
		st.decodeStruct(path, raw, rv)
	case reflect.Pointer:
		if raw == nil {
			return // an optional section left empty is absent
		}
		p := reflect.New(rv.Type().Elem())
		if rv.IsNil() {
			setDefaults(p)
		} else {
			p.Elem().Set(rv.Elem()) // a program's section may hold a default here
		}
		st.decode(path, raw, p.Elem(), opts)
		rv.Set(p)
	case reflect.Map:
		st.decodeMap(path, raw, rv)
	case reflect.Slice:
		st.decodeSlice(path, raw, rv, opts)
	case reflect.String:
		st.decodeString(path, raw, rv)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		st.decodeInt(path, raw, rv)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		st.decodeUint(path, raw, rv)
	case reflect.Float32, reflect.Float64:
		st.decodeFloat(path, raw, rv)
	case reflect.Bool:
		st.decodeBool(path, raw, rv)
	default:
		panic(fmt.Sprintf("config: cannot decode into %s", rv.Type()))
	}
}

// reflectValue returns the settable value p points to.
func reflectValue(p any) reflect.Value { return reflect.ValueOf(p).Elem() }

// setDefaults calls setDefaults on p (a pointer) if its type has the method.
func setDefaults(p reflect.Value) {
	if d, ok := p.Interface().(defaulter); ok {
		d.setDefaults()
	}
}

// asMap returns raw as a map with string keys.
func asMap(raw any) (map[string]any, bool) {
	switch m := raw.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[fmt.Sprint(k)] = v
		}
		return out, true
	}
	return nil, false
}

// structFields describes the keys of a struct type.
type structFields struct {
	byName map[string]structField
	names  []string
}

type structField struct {
	index []int
	opts  fieldOpts
}

var fieldCache sync.Map // reflect.Type → *structFields

// fieldsOf returns the keys of struct type t from its yaml tags, those of inline
// embedded structs included.
func fieldsOf(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	fs := &structFields{byName: make(map[string]structField)}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag, ok := f.Tag.Lookup("yaml")
			if !f.IsExported() || !ok || tag == "-" {
				continue
			}
			name, rest, _ := strings.Cut(tag, ",")
			idx := append(append([]int(nil), prefix...), i)
			if strings.Contains(rest, "inline") {
				walk(f.Type, idx)
				continue
			}
			fs.byName[name] = structField{index: idx, opts: fieldOpts{off: f.Tag.Get("config") == "off"}}
			fs.names = append(fs.names, name)
		}
	}
	walk(t, nil)
	f, _ := fieldCache.LoadOrStore(t, fs)
	return f.(*structFields)
}

// decodeStruct decodes a mapping into a struct, rejecting unknown keys.
func (st *loadState) decodeStruct(path string, raw any, rv reflect.Value) {
	if raw == nil {
		return
	}
	m, ok := asMap(raw)
	if !ok {
		st.fail(path, "must be a mapping of keys to values, got %s", kindOf(raw))
		return
	}
	fs := fieldsOf(rv.Type())
	for _, k := range sortedKeys(m) {
		kp := join(path, k)
		f, ok := fs.byName[k]
		if !ok {
			st.failUnknown(kp, suggest(k, fs.names))
			continue
		}
		st.present[kp] = true
		st.decode(kp, m[k], rv.FieldByIndex(f.index), f.opts)
	}
}

// decodeMap decodes a mapping of names to values; each new value starts with its
// defaults.
func (st *loadState) decodeMap(path string, raw any, rv reflect.Value) {
	if raw == nil {
		return
	}
	m, ok := asMap(raw)
	if !ok {
		st.fail(path, "must be a mapping of names to values, got %s", kindOf(raw))
		return
	}
	// A new map, holding the entries rv had: the map of a default (a program's
	// section, copied from the struct it gave) is never written to.
	out := reflect.MakeMapWithSize(rv.Type(), rv.Len()+len(m))
	if !rv.IsNil() {
		iter := rv.MapRange()
		for iter.Next() {
			out.SetMapIndex(iter.Key(), iter.Value())
		}
	}
	rv.Set(out)
	for _, k := range sortedKeys(m) {
		kp := join(path, k)
		st.present[kp] = true
		elem := reflect.New(rv.Type().Elem())
		setDefaults(elem)
		st.decode(kp, m[k], elem.Elem(), fieldOpts{})
		rv.SetMapIndex(reflect.ValueOf(k).Convert(rv.Type().Key()), elem.Elem())
	}
}

// decodeSlice decodes a list; from the environment, a comma-separated string.
func (st *loadState) decodeSlice(path string, raw any, rv reflect.Value, opts fieldOpts) {
	var items []any
	switch v := raw.(type) {
	case nil:
		return // an empty key keeps the default
	case []any:
		items = v
	case string:
		if !st.fromEnv(path) {
			st.fail(path, "must be a list, got %s", kindOf(raw))
			return
		}
		if strings.TrimSpace(v) != "" {
			for _, s := range strings.Split(v, ",") {
				items = append(items, strings.TrimSpace(s))
			}
		}
	default:
		st.fail(path, "must be a list, got %s", kindOf(raw))
		return
	}
	out := reflect.MakeSlice(rv.Type(), len(items), len(items))
	for i, item := range items {
		ip := index(path, i)
		st.present[ip] = true
		elem := out.Index(i)
		setDefaults(elem.Addr())
		st.decode(ip, item, elem, opts)
	}
	rv.Set(out)
}

func (st *loadState) decodeString(path string, raw any, rv reflect.Value) {
	switch v := raw.(type) {
	case string:
		rv.SetString(v)
	case nil:
		st.fail(path, "has no value (leave the key out for the default)")
	case bool, int, int64, uint64, float64:
		st.fail(path, "must be a string, got %s (quote it to keep it as written)", kindOf(raw))
	default:
		st.fail(path, "must be a string, got %s", kindOf(raw))
	}
}

func (st *loadState) decodeInt(path string, raw any, rv reflect.Value) {
	var n int64
	switch v := raw.(type) {
	case int:
		n = int64(v)
	case int64:
		n = v
	case uint64:
		if v > math.MaxInt64 {
			st.fail(path, "is too large, got %v", v)
			return
		}
		n = int64(v)
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
			st.fail(path, "must be a whole number, got %s", kindOf(raw))
			return
		}
		n = int64(v)
	case string:
		if !st.fromEnv(path) {
			st.fail(path, "must be a whole number, got %s", kindOf(raw))
			return
		}
		var err error
		if n, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil {
			st.fail(path, "must be a whole number, got %s", kindOf(raw))
			return
		}
	case nil:
		st.fail(path, "has no value (leave the key out for the default)")
		return
	default:
		st.fail(path, "must be a whole number, got %s", kindOf(raw))
		return
	}
	if rv.OverflowInt(n) {
		st.fail(path, "is too large, got %d", n)
		return
	}
	rv.SetInt(n)
}

// decodeUint decodes a whole number that must not be negative.
func (st *loadState) decodeUint(path string, raw any, rv reflect.Value) {
	if v, ok := raw.(uint64); ok { // above MaxInt64
		if rv.OverflowUint(v) {
			st.fail(path, "is too large, got %d", v)
			return
		}
		rv.SetUint(v)
		return
	}
	n := reflect.New(reflect.TypeFor[int64]()).Elem()
	before := len(st.errs)
	st.decodeInt(path, raw, n)
	if len(st.errs) > before {
		return
	}
	switch i := n.Int(); {
	case i < 0:
		st.fail(path, "must not be negative, got %d", i)
	case rv.OverflowUint(uint64(i)):
		st.fail(path, "is too large, got %d", i)
	default:
		rv.SetUint(uint64(i))
	}
}

func (st *loadState) decodeFloat(path string, raw any, rv reflect.Value) {
	var f float64
	switch v := raw.(type) {
	case int:
		f = float64(v)
	case int64:
		f = float64(v)
	case uint64:
		f = float64(v)
	case float64:
		f = v
	case string:
		var err error
		if !st.fromEnv(path) {
			st.fail(path, "must be a number, got %s", kindOf(raw))
			return
		}
		if f, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
			st.fail(path, "must be a number, got %s", kindOf(raw))
			return
		}
	case nil:
		st.fail(path, "has no value (leave the key out for the default)")
		return
	default:
		st.fail(path, "must be a number, got %s", kindOf(raw))
		return
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		st.fail(path, "must be a finite number, got %v", f)
		return
	}
	if rv.OverflowFloat(f) {
		st.fail(path, "is too large, got %v", f)
		return
	}
	rv.SetFloat(f)
}

func (st *loadState) decodeBool(path string, raw any, rv reflect.Value) {
	switch v := raw.(type) {
	case bool:
		rv.SetBool(v)
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if !st.fromEnv(path) || err != nil {
			st.fail(path, "must be true or false, got %s", kindOf(raw))
			return
		}
		rv.SetBool(b)
	case nil:
		st.fail(path, "has no value (leave the key out for the default)")
	default:
		st.fail(path, "must be true or false, got %s", kindOf(raw))
	}
}

// decodeDuration reads "250ms", "2s", ...; "off" where allowed.
func (st *loadState) decodeDuration(path string, raw any, rv reflect.Value, off bool) {
	example := `such as "250ms" or "2s"`
	if off {
		example = `such as "250ms" or "2s", or "off"`
	}
	switch v := raw.(type) {
	case string:
		s := strings.TrimSpace(v)
		if off && s == "off" {
			rv.SetInt(-1)
			return
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
				st.fail(path, "must be a duration with a unit, %s; got the bare number %s", example, s)
				return
			}
			st.fail(path, "must be a duration %s, got %s", example, kindOf(raw))
			return
		}
		if d < 0 {
			st.fail(path, "must not be negative, got %s", d)
			return
		}
		rv.SetInt(int64(d))
	case int, int64, uint64, float64:
		st.fail(path, "must be a duration with a unit, %s; got the bare number %v", example, v)
	case nil:
		st.fail(path, "has no value (leave the key out for the default)")
	default:
		st.fail(path, "must be a duration %s, got %s", example, kindOf(raw))
	}
}
