package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"reflect"

	"github.com/rampart-go/rampart/resilience"
)

// errorType returns the error.type of err, a value of low cardinality:
//
//   - the result of an ErrorType() string method in err's chain, if any;
//   - "timeout" for context.DeadlineExceeded and "canceled" for context.Canceled,
//     when they are all there is;
//   - "_OTHER" for an error that has no type of its own (errors.New, fmt.Errorf
//     without %w);
//   - otherwise the Go type of err as %T prints it ("*net.OpError",
//     "*resilience.BreakerOpenError"), after unwrapping fmt.Errorf's and
//     *url.Error's wrappers.
func errorType(err error) string {
	var et interface{ ErrorType() string }
	if errors.As(err, &et) {
		if s := et.ErrorType(); s != "" {
			return s
		}
	}
	err = unwrapGeneric(err)
	switch err {
	case context.DeadlineExceeded:
		return "timeout"
	case context.Canceled:
		return "canceled"
	}
	t := reflect.TypeOf(err)
	if t == errorStringType {
		return otherErrorType
	}
	return t.String()
}

// otherErrorType is the semantic conventions' error.type for errors without a
// better name.
const otherErrorType = "_OTHER"

var (
	errorStringType = reflect.TypeOf(errors.New(""))
	wrapErrorType   = reflect.TypeOf(fmt.Errorf("%w", errors.New("")))
	permanentType   = reflect.TypeOf(resilience.Permanent(errors.New("")))
)

// unwrapGeneric removes the wrappers that say nothing about an error's kind:
// fmt.Errorf's with one %w, *url.Error, and resilience.Permanent's marker.
func unwrapGeneric(err error) error {
	for {
		switch e := err.(type) {
		case *url.Error:
			if e.Err == nil {
				return err
			}
			err = e.Err
			continue
		}
		if t := reflect.TypeOf(err); t == wrapErrorType || t == permanentType {
			if u := errors.Unwrap(err); u != nil {
				err = u
				continue
			}
		}
		return err
	}
}
