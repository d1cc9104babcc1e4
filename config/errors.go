package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrInvalid is matched, with [errors.Is], by every error of [Load] that is about
// the configuration itself (a [*FieldError]), as opposed to a file that cannot be
// read.
var ErrInvalid = errors.New("config: invalid configuration")

// FieldError is one problem with one setting: where it was set (a line of the file
// or an environment variable), its path in the configuration, and what is wrong.
// Its text is
//
//	config.yaml:14: clients.payments.retry.max_attempts: must be ≥ 1, got 0
//	env RAMPART_CLIENTS__PAYMENTS__RETRY__MAX_ATTEMPTS: clients.payments.retry.max_attempts: must be ≥ 1, got 0
//
// A setting that was not written anywhere (a default that conflicts with another
// setting, a required key that is missing) is reported at the line of the
// nearest enclosing key. [Load] returns every FieldError it found, joined with
// [errors.Join]; [Config.Warnings] holds the problems that are not errors. No
// FieldError contains the value of a secret. A FieldError matches [ErrInvalid].
type FieldError struct {
	File string // the file's name as given to Load; empty for a setting from the environment
	Line int    // the line in File, from 1; 0 when unknown
	Env  string // the environment variable that set the value, if it came from one
	Path string // the setting, such as "clients.payments.retry.max_attempts"; empty for the whole file
	Msg  string // what is wrong
	Err  error  // the underlying error, if any (an httpx or resilience validation error, an I/O error)
}

// Error returns "FILE:LINE: PATH: MSG", or "env VAR: PATH: MSG".
func (e *FieldError) Error() string {
	var b strings.Builder
	switch {
	case e.Env != "":
		b.WriteString("env ")
		b.WriteString(e.Env)
		b.WriteString(": ")
	case e.File != "" && e.Line > 0:
		b.WriteString(e.File)
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": ")
	case e.File != "":
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying error, if any.
func (e *FieldError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrInvalid].
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// FieldErrors returns the [*FieldError]s in err (as returned by [Load] or
// [LoadOptions.Parse], possibly wrapped with %w), in the order they were
// reported.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *FieldError:
			out = append(out, e)
		case interface{ Unwrap() []error }:
			for _, e := range e.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap()) // Load's errors, wrapped by a caller
		}
	}
	walk(err)
	return out
}

// sortFieldErrors orders errors as a reader meets them: the file's by line, then
// the environment's by variable, then by path.
func sortFieldErrors(errs []*FieldError) {
	slices.SortStableFunc(errs, func(a, b *FieldError) int {
		ae, be := a.Env != "", b.Env != ""
		switch {
		case ae != be:
			if ae {
				return 1
			}
			return -1
		case ae:
			return cmp.Or(strings.Compare(a.Env, b.Env), strings.Compare(a.Path, b.Path))
		}
		return cmp.Or(cmp.Compare(a.Line, b.Line), strings.Compare(a.Path, b.Path))
	})
}

// suggest returns " (did you mean X?)" for the known word closest to got, or a list
// of the known words when none is close.
func suggest(got string, known []string) string {
	if best := closest(got, known); best != "" {
		return fmt.Sprintf(" (did you mean %s?)", best)
	}
	if len(known) == 0 {
		return ""
	}
	sorted := slices.Clone(known)
	slices.Sort(sorted)
	return " (known: " + strings.Join(sorted, ", ") + ")"
}

// closest returns the word of known closest to got by edit distance (case, '-' and
// '_' aside), or "" if none is close enough to be a likely typo.
func closest(got string, known []string) string {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "_") }
	g := norm(got)
	limit := 1
	switch {
	case len(g) > 8:
		limit = 3
	case len(g) > 4:
		limit = 2
	}
	best, bestD := "", limit+1
	for _, k := range known {
		d := editDistance(g, norm(k))
		if d < bestD || d == bestD && k < best {
			best, bestD = k, d
		}
	}
	if bestD > limit {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b: the
// insertions, deletions, substitutions and transpositions of adjacent bytes that
// turn one into the other. Long inputs are cut, to bound the work.
func editDistance(a, b string) int {
	const maxLen = 64
	a, b = a[:min(len(a), maxLen)], b[:min(len(b), maxLen)]
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
