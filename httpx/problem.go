package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// ProblemContentType is the media type of RFC 9457 problem details.
const ProblemContentType = "application/problem+json"

// Problem is an RFC 9457 problem details object, the body of an error response whose
// Content-Type is application/problem+json.
type Problem struct {
	// Type is a URI reference that identifies the problem type; "about:blank" when
	// the problem does not say.
	Type string
	// Title is a short, human-readable summary of the problem type.
	Title string
	// Status is the HTTP status code the server generated for this occurrence, or 0
	// when absent or invalid.
	Status int
	// Detail explains this occurrence of the problem.
	Detail string
	// Instance is a URI reference that identifies this occurrence.
	Instance string
	// Extensions holds the members that are not standard ("balance", "errors", ...),
	// decoded as by encoding/json into an any; nil when there are none.
	Extensions map[string]any
}

// ErrNotProblem is the error of [ParseProblem] for a body that is not a JSON object.
var ErrNotProblem = errors.New("httpx: not a problem details object")

// ParseProblem parses an application/problem+json body. As RFC 9457 requires, a
// standard member of the wrong type is ignored rather than failing the whole
// problem; a body that is not a JSON object is an error matching [ErrNotProblem].
func ParseProblem(data []byte) (*Problem, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil || members == nil {
		if err == nil {
			err = errors.New("null")
		}
		return nil, fmt.Errorf("%w: %w", ErrNotProblem, err)
	}
	p := &Problem{}
	for k, raw := range members {
		switch k {
		case "type":
			_ = json.Unmarshal(raw, &p.Type)
		case "title":
			_ = json.Unmarshal(raw, &p.Title)
		case "detail":
			_ = json.Unmarshal(raw, &p.Detail)
		case "instance":
			_ = json.Unmarshal(raw, &p.Instance)
		case "status":
			var n int
			if json.Unmarshal(raw, &n) == nil && n >= 100 && n <= 599 {
				p.Status = n
			}
		default:
			var v any
			if json.Unmarshal(raw, &v) == nil {
				if p.Extensions == nil {
					p.Extensions = map[string]any{}
				}
				p.Extensions[k] = v
			}
		}
	}
	if p.Type == "" {
		p.Type = "about:blank"
	}
	return p, nil
}

// MarshalJSON encodes the problem as an RFC 9457 object, extensions included at
// the top level; an extension never overrides a standard member.
func (p *Problem) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(p.Extensions)+5)
	for k, v := range p.Extensions {
		m[k] = v
	}
	for k, v := range map[string]string{"type": p.Type, "title": p.Title, "detail": p.Detail, "instance": p.Instance} {
		if v != "" {
			m[k] = v
		} else {
			delete(m, k)
		}
	}
	if p.Status != 0 {
		m["status"] = p.Status
	} else {
		delete(m, "status")
	}
	return json.Marshal(m)
}

// WriteProblem answers p as an RFC 9457 problem: status p.Status, Content-Type
// application/problem+json and a JSON body with the standard members and, at the
// top level, p.Extensions (such as "errors": field errors), which [ParseProblem]
// reads back. A zero Status is 500, an empty Type "about:blank", and an empty
// Title the status's text. It sets Content-Length and leaves the other headers,
// such as Cache-Control, to the caller.
func WriteProblem(w http.ResponseWriter, p Problem) {
	if p.Status == 0 {
		p.Status = http.StatusInternalServerError
	}
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	data, err := json.Marshal(&p)
	if err != nil {
		// An extension that does not encode: answer the standard members alone.
		p.Extensions = nil
		data, _ = json.Marshal(&p)
	}
	data = append(data, '\n')
	h := w.Header()
	h.Set("Content-Type", ProblemContentType)
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(p.Status)
	_, _ = w.Write(data)
}

// String returns the problem's title and detail, for messages.
func (p *Problem) String() string {
	switch {
	case p.Title != "" && p.Detail != "":
		return p.Title + ": " + p.Detail
	case p.Detail != "":
		return p.Detail
	case p.Title != "":
		return p.Title
	}
	return p.Type
}

// isProblem reports whether the Content-Type ct is application/problem+json.
func isProblem(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && strings.EqualFold(mt, ProblemContentType)
}

// isJSON reports whether the Content-Type ct is JSON: application/json or any
// +json type.
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	mt = strings.ToLower(mt)
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}
