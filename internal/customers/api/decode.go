package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/rampart-go/rampart/internal/customers/domain"
)

// maxBody bounds a request body.
const maxBody = 1 << 20

// decode reads r's body, one JSON object, into v strictly: unknown members and
// values of the wrong type are field errors (422), anything that is not JSON a
// 400. It answers the problem itself and returns false when the body does not
// fit.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" && !strings.HasSuffix(mt, "+json") {
			writeProblem(w, r, Problem{Status: http.StatusUnsupportedMediaType, Type: ProblemMalformed,
				Detail: "the body must be JSON (Content-Type: application/json)"})
			return false
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("data after the JSON object")
	}
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("data after the JSON object")
		}
	}
	if err == nil {
		return true
	}
	var (
		typeErr *json.UnmarshalTypeError
		maxErr  *http.MaxBytesError
	)
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			writeProblem(w, r, Problem{Status: http.StatusBadRequest, Type: ProblemMalformed, Detail: "the body must be a JSON object"})
			return false
		}
		writeFieldErrors(w, r, []domain.FieldError{{Field: field, Detail: "must be " + kindName(typeErr.Type)}})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		writeFieldErrors(w, r, []domain.FieldError{{Field: field, Detail: "is not a field of this request"}})
	case errors.As(err, &maxErr):
		writeProblem(w, r, Problem{Status: http.StatusRequestEntityTooLarge, Type: ProblemMalformed,
			Detail: fmt.Sprintf("the body is larger than %d bytes", maxBody)})
	case errors.Is(err, io.EOF):
		writeProblem(w, r, Problem{Status: http.StatusBadRequest, Type: ProblemMalformed, Detail: "the body is empty; want a JSON object"})
	default:
		writeProblem(w, r, Problem{Status: http.StatusBadRequest, Type: ProblemMalformed, Detail: "the body is not valid JSON: " + err.Error()})
	}
	return false
}

// kindName names a JSON value of type t for a message.
func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer (amounts are in minor units: 1999 for 19.99)"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Bool:
		return "true or false"
	}
	return "a " + t.String()
}

// writeFieldErrors answers 422 with the invalid fields.
func writeFieldErrors(w http.ResponseWriter, r *http.Request, fields []domain.FieldError) {
	detail := "the request has invalid fields"
	if len(fields) == 1 {
		detail = fields[0].Field + ": " + fields[0].Detail
	}
	writeProblem(w, r, Problem{Status: http.StatusUnprocessableEntity, Type: ProblemValidation,
		Title: "Invalid request", Detail: detail, Errors: fields})
}
