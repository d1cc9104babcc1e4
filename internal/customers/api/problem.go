package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/internal/customers/domain"
)

// Problem types (RFC 9457). The .invalid domain is reserved: they identify,
// they do not resolve.
const (
	ProblemValidation  = "https://customers.rampart.invalid/problems/validation"
	ProblemMalformed   = "https://customers.rampart.invalid/problems/malformed-request"
	ProblemNotFound    = "https://customers.rampart.invalid/problems/not-found"
	ProblemConflict    = "https://customers.rampart.invalid/problems/conflict"
	ProblemUnavailable = "https://customers.rampart.invalid/problems/provider-unavailable"
)

// Problem is an RFC 9457 problem details object as the API writes it: what
// writeProblem turns into an httpx.Problem. Instance and RequestID come from the
// request.
type Problem struct {
	Type      string              `json:"type"`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Detail    string              `json:"detail,omitempty"`
	Instance  string              `json:"instance,omitempty"`
	Errors    []domain.FieldError `json:"errors,omitempty"`
	RequestID string              `json:"request_id,omitempty"`
}

// writeProblem answers p, completed with the request's path and ID, through
// httpx.WriteProblem.
func writeProblem(w http.ResponseWriter, r *http.Request, p Problem) {
	hp := httpx.Problem{Type: p.Type, Title: p.Title, Status: p.Status, Detail: p.Detail, Instance: r.URL.Path}
	if len(p.Errors) > 0 {
		hp.Extensions = map[string]any{"errors": p.Errors}
	}
	if id := httpx.RequestIDFromContext(r.Context()); id != "" {
		if hp.Extensions == nil {
			hp.Extensions = map[string]any{}
		}
		hp.Extensions["request_id"] = id
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteProblem(w, hp)
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "cannot encode the answer", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(data)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}
