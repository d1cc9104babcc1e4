package providers

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/rampart-go/rampart/httpx"
)

// Problem types (RFC 9457) the simulators answer with, and the clients recognise.
// The .invalid domain is reserved: these URIs identify, they do not resolve.
const (
	// ProblemValidation is a request with invalid fields, listed in the problem's
	// "errors" member as [FieldError]s; status 400 or 422.
	ProblemValidation = "https://sim.rampart.invalid/problems/validation"
	// ProblemIdempotencyKeyReused is an idempotency key (or a resource ID that
	// plays its part) sent again with a different request; status 422.
	ProblemIdempotencyKeyReused = "https://sim.rampart.invalid/problems/idempotency-key-reused"
	// ProblemNotFound is an unknown resource; status 404.
	ProblemNotFound = "https://sim.rampart.invalid/problems/not-found"
	// ProblemOutOfStock is a reservation of more than the stock left; status 409,
	// with the extensions "product_id", "requested" and "available".
	ProblemOutOfStock = "https://sim.rampart.invalid/problems/out-of-stock"
	// ProblemConflict is a request that the resource's state forbids (a refund of
	// a declined payment, say); status 409.
	ProblemConflict = "https://sim.rampart.invalid/problems/conflict"
	// ProblemUnauthorized is a request without valid credentials; status 401.
	ProblemUnauthorized = "https://sim.rampart.invalid/problems/unauthorized"
	// ProblemSimulated is a failure injected by [Faults].
	ProblemSimulated = "https://sim.rampart.invalid/problems/simulated-failure"
)

// problemTitles are the titles of the problem types.
var problemTitles = map[string]string{
	ProblemValidation:           "Invalid request",
	ProblemIdempotencyKeyReused: "Idempotency key reused",
	ProblemNotFound:             "Not found",
	ProblemOutOfStock:           "Out of stock",
	ProblemConflict:             "Conflict",
	ProblemUnauthorized:         "Unauthorized",
	ProblemSimulated:            "Simulated failure",
}

// FieldError is one invalid field of a request, as listed in the "errors" member
// of a [ProblemValidation] problem.
type FieldError struct {
	// Field is the JSON name of the field ("currency"), or the header
	// ("Idempotency-Key").
	Field string `json:"field"`
	// Detail says what is wrong with it.
	Detail string `json:"detail"`
}

// maxRequestBody bounds the bodies the simulators read.
const maxRequestBody = 1 << 20

// writeProblem answers an RFC 9457 problem; ext holds extension members.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, typ, detail string, ext map[string]any) {
	title := problemTitles[typ]
	if title == "" {
		title = http.StatusText(status)
	}
	p := &httpx.Problem{Type: typ, Title: title, Status: status, Detail: detail, Extensions: ext}
	if r != nil {
		p.Instance = r.URL.Path
	}
	data, _ := p.MarshalJSON()
	h := w.Header()
	h.Set("Content-Type", httpx.ProblemContentType)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(data)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

// writeValidation answers 422 with the field errors.
func writeValidation(w http.ResponseWriter, r *http.Request, errs []FieldError) {
	detail := "the request has invalid fields"
	if len(errs) == 1 {
		detail = errs[0].Field + ": " + errs[0].Detail
	}
	writeProblem(w, r, http.StatusUnprocessableEntity, ProblemValidation, detail, map[string]any{"errors": errs})
}

// writeFailure answers an injected failure.
func writeFailure(w http.ResponseWriter, r *http.Request, status int, retryAfter time.Duration, detail string) {
	if (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((retryAfter+time.Second-1)/time.Second), 10))
	}
	writeProblem(w, r, status, ProblemSimulated, detail, nil)
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, nil, http.StatusInternalServerError, "about:blank", "cannot encode the answer", nil)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(data)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

// decodeBody decodes r's JSON body into v, answering 400 (and returning false) if
// it is not one JSON object that fits v.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err := dec.Decode(v); err != nil {
		writeProblem(w, r, http.StatusBadRequest, ProblemValidation, "the body is not a JSON object of the expected shape: "+err.Error(), nil)
		return false
	}
	if dec.More() {
		writeProblem(w, r, http.StatusBadRequest, ProblemValidation, "data after the JSON object", nil)
		return false
	}
	return true
}
