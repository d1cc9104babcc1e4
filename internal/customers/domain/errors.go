package domain

import (
	"errors"
	"strings"
)

// Errors the use cases return, matched with [errors.Is].
var (
	// ErrInvalid is matched by a [*ValidationError].
	ErrInvalid = errors.New("domain: invalid input")
	// ErrNotFound: no customer or order has that ID.
	ErrNotFound = errors.New("domain: not found")
	// ErrConflict: the change conflicts with the current state (an e-mail address
	// already in use, a refund of an order that was not paid).
	ErrConflict = errors.New("domain: conflict")
)

// FieldError is one invalid field of a request.
type FieldError struct {
	// Field is the field's JSON path: "email", "items[1].quantity".
	Field string `json:"field"`
	// Detail says what is wrong with it.
	Detail string `json:"detail"`
}

// ValidationError lists the invalid fields of a request. It matches
// [ErrInvalid].
type ValidationError struct {
	Fields []FieldError
}

// Error returns "domain: invalid input: field: detail; field: detail".
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("domain: invalid input")
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Field)
		b.WriteString(": ")
		b.WriteString(f.Detail)
	}
	return b.String()
}

// Is reports whether target is [ErrInvalid].
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// fields collects field errors.
type fields []FieldError

func (f *fields) add(field, detail string) { *f = append(*f, FieldError{Field: field, Detail: detail}) }

// err returns a *ValidationError, or nil when no field is invalid.
func (f fields) err() error {
	if len(f) == 0 {
		return nil
	}
	return &ValidationError{Fields: f}
}

// Invalid returns a [*ValidationError] for one field.
func Invalid(field, detail string) error {
	return &ValidationError{Fields: []FieldError{{Field: field, Detail: detail}}}
}
