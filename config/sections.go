package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"
)

// A program's own settings live in the same file as Rampart's, in top-level
// sections of their own that LoadOptions.Sections declares. They are decoded by
// the decoder of Rampart's sections, into a copy of the struct the program gave.

// rampartSections are the top-level keys of the file that are Rampart's.
var rampartSections = func() []string {
	return slices.Clone(fieldsOf(reflect.TypeFor[Config]()).names)
}()

// checkSections checks LoadOptions.Sections: names that are valid and not
// Rampart's, each a non-nil pointer to a struct whose fields the decoder knows.
// Its errors are the program's mistakes, not the file's.
func checkSections(sections map[string]any) (map[string]any, error) {
	if sections == nil {
		return nil, nil
	}
	for _, name := range sortedKeys(sections) {
		where := fmt.Sprintf("config: LoadOptions.Sections[%q]", name)
		if !nameRE.MatchString(name) {
			return nil, errors.New(where + ": a name is 1 to 200 letters, digits, '-' and '_', starting with a letter or digit")
		}
		if slices.Contains(rampartSections, name) {
			return nil, errors.New(where + ": the section is Rampart's")
		}
		v := reflect.ValueOf(sections[name])
		if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
			return nil, fmt.Errorf("%s: must be a non-nil pointer to a struct, got %T", where, sections[name])
		}
		if err := decodable(v.Elem().Type(), map[reflect.Type]bool{}); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
	}
	return sections, nil
}

var timeDurationType = reflect.TypeFor[time.Duration]()

// decodable reports which field of t, if any, has a type the decoder cannot
// fill.
func decodable(t reflect.Type, seen map[reflect.Type]bool) error {
	if seen[t] {
		return nil
	}
	seen[t] = true
	if reflect.PointerTo(t).Implements(reflect.TypeFor[customDecoder]()) || t == durationType || t == timeDurationType {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if _, ok := f.Tag.Lookup("yaml"); !ok || !f.IsExported() || f.Tag.Get("yaml") == "-" {
				continue
			}
			if err := decodable(f.Type, seen); err != nil {
				return fmt.Errorf("field %s: %w", f.Name, err)
			}
		}
		return nil
	case reflect.Pointer, reflect.Slice:
		return decodable(t.Elem(), seen)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return fmt.Errorf("cannot decode into %s: map keys must be strings", t)
		}
		return decodable(t.Elem(), seen)
	case reflect.String, reflect.Bool, reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return nil
	}
	return fmt.Errorf("cannot decode into %s", t)
}

// splitSections takes the top-level keys that are not Rampart's out of tree,
// and returns them. A key close to the name of a Rampart section stays, to be
// reported as a typo.
func (st *loadState) splitSections(tree map[string]any) map[string]any {
	others := make(map[string]any)
	for _, k := range sortedKeys(tree) {
		if slices.Contains(rampartSections, k) {
			continue
		}
		if _, declared := st.sections[k]; !declared && closest(k, rampartSections) != "" {
			continue
		}
		others[k] = tree[k]
		delete(tree, k)
	}
	return others
}

// decodeSections decodes the program's sections from others (the top-level
// keys that are not Rampart's), starting from copies of their structs, and
// returns them. Other keys are errors, or with no sections declared, warnings
// for the mappings (sections of a program that are not checked here).
func (st *loadState) decodeSections(others map[string]any) map[string]any {
	out := make(map[string]any, len(st.sections))
	for _, name := range sortedKeys(st.sections) {
		given := reflect.ValueOf(st.sections[name])
		p := reflect.New(given.Elem().Type())
		p.Elem().Set(given.Elem())
		raw, ok := others[name]
		if ok {
			st.present[name] = true
			st.decodeStruct(name, raw, p.Elem())
		}
		st.checkSecrets(name, p.Elem())
		if v, ok := p.Interface().(interface{ Validate() error }); ok && st.settled(name) {
			st.sectionErrors(name, v.Validate())
		}
		out[name] = p.Interface()
	}
	for _, k := range sortedKeys(others) {
		if _, ok := st.sections[k]; ok {
			continue
		}
		if _, isMap := asMap(others[k]); (isMap || others[k] == nil) && st.sections == nil {
			st.warn(k, "is not a section of Rampart's: not checked here (the program that reads it declares it in config.LoadOptions.Sections)")
			continue
		}
		known := slices.Concat(rampartSections, sortedKeys(st.sections))
		st.failUnknown(k, suggest(k, known))
	}
	return out
}

// sectionErrors reports the errors of a section's Validate: a *FieldError at its
// path within the section, another error at the section.
func (st *loadState) sectionErrors(section string, err error) {
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else if err != nil {
		list = []error{err}
	}
	for _, e := range list {
		var fe *FieldError
		if errors.As(e, &fe) {
			st.failErr(join(section, fe.Path), fe.Err, "%s", fe.Msg)
			continue
		}
		st.failErr(section, e, "%v", e)
	}
}

// checkSecrets checks that every Secret in rv (a section) can be read now, as
// Rampart's own are.
func (st *loadState) checkSecrets(path string, rv reflect.Value) {
	if rv.Type() == reflect.TypeFor[Secret]() {
		s := rv.Interface().(Secret)
		if !s.IsZero() && st.settled(path) {
			s.check(st, path)
		}
		return
	}
	switch rv.Kind() {
	case reflect.Struct:
		fs := fieldsOf(rv.Type())
		for _, name := range fs.names {
			st.checkSecrets(join(path, name), rv.FieldByIndex(fs.byName[name].index))
		}
	case reflect.Pointer:
		if !rv.IsNil() {
			st.checkSecrets(path, rv.Elem())
		}
	case reflect.Slice:
		for i := range rv.Len() {
			st.checkSecrets(index(path, i), rv.Index(i))
		}
	case reflect.Map:
		iter := rv.MapRange()
		for iter.Next() {
			st.checkSecrets(join(path, iter.Key().String()), iter.Value())
		}
	}
}

// Section returns the program's section name (declared in
// [LoadOptions.Sections]) as Load decoded it: a pointer to a struct of the type
// given there, holding the defaults given there overridden by the file and the
// environment. It returns nil for a name that was not declared. The value is the
// Config's: read it, do not change it while others read it.
func (c *Config) Section(name string) any { return c.sections[name] }
