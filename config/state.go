package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// loadState is one run of the loader: where each setting came from, which keys
// were written, and what went wrong.
type loadState struct {
	file      string
	lines     map[string]int    // path → line in the file
	env       map[string]string // path → the environment variable that set it
	present   map[string]bool   // paths written in the file or the environment
	errs      []*FieldError
	failed    map[string]bool // paths with an error
	unknown   map[string]bool // paths of unknown keys, which change no value
	warns     []*FieldError
	ignoreEnv bool

	defaultsName string         // the name of LoadOptions.Defaults in messages
	defaultLines map[string]int // path → line in the defaults
	sections     map[string]any // LoadOptions.Sections, checked; nil: lenient
}

func newLoadState(file string, ignoreEnv bool) *loadState {
	return &loadState{
		file:      file,
		lines:     make(map[string]int),
		env:       make(map[string]string),
		present:   make(map[string]bool),
		ignoreEnv: ignoreEnv,

		defaultLines: make(map[string]int),
	}
}

// at returns a FieldError located where path (or its nearest ancestor) was set.
func (st *loadState) at(path, msg string, err error) *FieldError {
	e := &FieldError{Path: path, Msg: msg, Err: err}
	for p := path; ; p = parentPath(p) {
		if name, ok := st.env[p]; ok {
			e.Env = name
			return e
		}
		if line, ok := st.lines[p]; ok {
			e.File, e.Line = st.file, line
			return e
		}
		if line, ok := st.defaultLines[p]; ok {
			e.File, e.Line = st.defaultsName, line
			return e
		}
		if p == "" {
			e.File = st.file
			return e
		}
	}
}

// fail reports that the setting at path is wrong. Only the first problem of a
// setting is reported: a value that could not be decoded keeps its default, which
// must not be reported again by the checks that follow.
func (st *loadState) fail(path, format string, args ...any) {
	st.failErr(path, nil, format, args...)
}

// failErr is fail with an underlying error.
func (st *loadState) failErr(path string, err error, format string, args ...any) {
	if path != "" && st.failed[path] {
		return
	}
	if st.failed == nil {
		st.failed = make(map[string]bool)
	}
	st.failed[path] = true
	st.errs = append(st.errs, st.at(path, fmt.Sprintf(format, args...), err))
}

// failUnknown reports an unknown key, which leaves every value as it was.
func (st *loadState) failUnknown(path, hint string) {
	if st.unknown == nil {
		st.unknown = make(map[string]bool)
	}
	st.unknown[path] = true
	st.fail(path, "unknown key%s", hint)
}

// settled reports whether the values under path decoded and checked without
// errors (unknown keys aside), so that the packages' own validation, which
// compares settings, can run on them.
func (st *loadState) settled(path string) bool {
	for _, e := range st.errs {
		if st.unknown[e.Path] {
			continue
		}
		if e.Path == path || strings.HasPrefix(e.Path, path+".") || strings.HasPrefix(e.Path, path+"[") {
			return false
		}
	}
	return true
}

// warn reports something that works but should not be done.
func (st *loadState) warn(path, format string, args ...any) {
	st.warns = append(st.warns, st.at(path, fmt.Sprintf(format, args...), nil))
}

// fromEnv reports whether the value at path was set by an environment variable.
func (st *loadState) fromEnv(path string) bool {
	for p := path; ; p = parentPath(p) {
		if _, ok := st.env[p]; ok {
			return true
		}
		if p == "" {
			return false
		}
	}
}

// onlyDefault reports whether the key at path, and everything under it, comes
// from the defaults alone: neither the file nor the environment set any of it.
func (st *loadState) onlyDefault(path string) bool {
	if _, ok := st.defaultLines[path]; !ok {
		return false
	}
	under := func(p string) bool {
		return p == path || strings.HasPrefix(p, path) && (p[len(path)] == '.' || p[len(path)] == '[')
	}
	for p := range st.lines {
		if under(p) {
			return false
		}
	}
	for p := range st.env {
		if under(p) {
			return false
		}
	}
	return true
}

// has reports whether the key at path was written (in the file or the
// environment), as opposed to taking its default.
func (st *loadState) has(path string) bool { return st.present[path] }

// join returns the path of key under parent.
func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// index returns the path of element i of the list at parent.
func index(parent string, i int) string { return parent + "[" + strconv.Itoa(i) + "]" }

// parentPath returns the path that contains p ("" for a top-level key).
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// kindOf describes a decoded YAML value for an error message.
func kindOf(v any) string {
	switch v := v.(type) {
	case nil:
		return "nothing"
	case bool:
		return fmt.Sprintf("the boolean %v", v)
	case int, int64, uint64:
		return fmt.Sprintf("the number %v", v)
	case float64:
		return fmt.Sprintf("the number %v", v)
	case string:
		return "the string " + quoteShort(v)
	case []any:
		return "a list"
	case map[string]any, map[any]any:
		return "a mapping"
	}
	return fmt.Sprintf("a value of type %T", v)
}

// quoteShort quotes s, cut to a length that keeps messages on one line.
func quoteShort(s string) string {
	const maxLen = 60
	if len(s) > maxLen {
		return strconv.Quote(s[:maxLen]) + "…"
	}
	return strconv.Quote(s)
}
