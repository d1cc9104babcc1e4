package config

import (
	"sort"
	"strconv"
	"strings"

	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/v2"
)

// EnvPrefix starts the name of every environment variable that overrides a
// setting.
const EnvPrefix = "RAMPART_"

// EnvName returns the environment variable that overrides the setting at path
// ("clients.payments.retry.max_attempts" → RAMPART_CLIENTS__PAYMENTS__RETRY__MAX_ATTEMPTS;
// "pipelines.orders.policies[2].retry.max_attempts" →
// RAMPART_PIPELINES__ORDERS__POLICIES__2__RETRY__MAX_ATTEMPTS). A '-' in a name
// becomes '_'.
func EnvName(path string) string {
	path = strings.NewReplacer("[", ".", "]", "", "-", "_").Replace(path)
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "__"))
}

// An environment variable RAMPART_A__B__C sets the key a.b.c: the prefix is
// removed, each "__" separates two levels, and the rest is lower-cased, so that a
// single '_' stays part of a name (RAMPART_CLIENTS__PAYMENTS_EU__BASE_URL sets
// clients.payments_eu.base_url). A level matches an existing key of the file
// whatever its case and with '-' and '_' taken as equal, so the same variable also
// reaches a client named "payments-eu". A number addresses an element of a list
// (…__POLICIES__0__RETRY__…). Variables without "__" (RAMPART_TEST_AMQP_URL) are
// not overrides and are ignored.

// envOverride is one variable that sets a key.
type envOverride struct {
	name  string   // the variable
	segs  []string // the key, split into levels
	value string
}

// readEnv returns the overrides in the environment, through koanf's environment
// provider, sorted by key so that a list is set before its elements.
func (st *loadState) readEnv() []envOverride {
	byKey := make(map[string]envOverride)
	k := koanf.New(".")
	provider := env.Provider(".", env.Opt{
		Prefix: EnvPrefix,
		TransformFunc: func(name, value string) (string, any) {
			rest := strings.TrimPrefix(name, EnvPrefix)
			if !strings.Contains(rest, "__") || strings.Contains(rest, ".") {
				return "", nil
			}
			segs := strings.Split(strings.ToLower(rest), "__")
			for _, s := range segs {
				if s == "" {
					st.errs = append(st.errs, &FieldError{Env: name, Msg: `has an empty level (a "__" right after another, or at an end)`})
					return "", nil
				}
			}
			key := strings.Join(segs, ".")
			if prev, dup := byKey[key]; dup {
				a, b := min(prev.name, name), max(prev.name, name)
				st.errs = append(st.errs, &FieldError{Env: b, Path: key, Msg: "sets the same key as " + a})
				return "", nil
			}
			byKey[key] = envOverride{name: name, segs: segs, value: value}
			return key, value
		},
	})
	// The provider reads the environment and cannot fail; its nested map is not
	// used, since lists and names that differ in case are merged below.
	_ = k.Load(provider, nil)
	list := make([]envOverride, 0, len(byKey))
	for _, o := range byKey {
		list = append(list, o)
	}
	sort.Slice(list, func(i, j int) bool { return strings.Join(list[i].segs, ".") < strings.Join(list[j].segs, ".") })
	return list
}

// applyEnv merges the overrides into the tree of the file.
func (st *loadState) applyEnv(tree map[string]any) {
	for _, o := range st.readEnv() {
		st.setEnv(tree, o)
	}
}

// setEnv sets one override in tree, creating the mappings on its way.
func (st *loadState) setEnv(tree map[string]any, o envOverride) {
	var cur any = tree
	path := ""
	for i, seg := range o.segs {
		last := i == len(o.segs)-1
		// get and set read and write the element seg names in cur.
		var get func() any
		var set func(any)
		switch c := cur.(type) {
		case map[string]any:
			key := matchKey(c, seg)
			path = join(path, key)
			get, set = func() any { return c[key] }, func(v any) { c[key] = v }
		case []any:
			n, err := strconv.Atoi(seg)
			if err != nil || n < 0 || n >= len(c) {
				st.errs = append(st.errs, &FieldError{Env: o.name, Path: path,
					Msg: "is a list of " + strconv.Itoa(len(c)) + " elements: address one by its index from 0, got " + quoteShort(seg)})
				return
			}
			path = index(path, n)
			get, set = func() any { return c[n] }, func(v any) { c[n] = v }
		}
		if last {
			set(o.value)
			st.setBy(path, o.name)
			return
		}
		next := get()
		switch v := next.(type) {
		case map[string]any, []any:
		case map[any]any:
			next, _ = asMap(v)
			set(next)
		default:
			// Absent, empty or a scalar: the variable makes it a mapping.
			next = make(map[string]any)
			set(next)
			st.setBy(path, o.name)
		}
		cur = next
	}
}

// setBy records that the variable name set the value at path, which replaces
// whatever the file had there.
func (st *loadState) setBy(path, name string) {
	st.env[path] = name
	for p := range st.lines {
		if strings.HasPrefix(p, path) && len(p) > len(path) && (p[len(path)] == '.' || p[len(path)] == '[') {
			delete(st.lines, p)
		}
	}
	for p := range st.env {
		if strings.HasPrefix(p, path) && len(p) > len(path) && (p[len(path)] == '.' || p[len(path)] == '[') {
			delete(st.env, p)
		}
	}
}

// matchKey returns the key of m that seg names: the same key, or one that differs
// only in case or in '-' for '_'; seg itself if there is none.
func matchKey(m map[string]any, seg string) string {
	if _, ok := m[seg]; ok {
		return seg
	}
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "_") }
	want := norm(seg)
	var found []string
	for k := range m {
		if norm(k) == want {
			found = append(found, k)
		}
	}
	if len(found) == 0 {
		return seg
	}
	sort.Strings(found)
	return found[0]
}
