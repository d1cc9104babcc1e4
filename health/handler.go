package health

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// Details chooses whether a response lists its checks. The zero value is
// DetailsAlways.
type Details uint8

const (
	// DetailsAlways lists the checks unless the request asks ?verbose=false.
	DetailsAlways Details = iota
	// DetailsOnRequest lists the checks only when the request asks ?verbose (or
	// ?verbose=true, =1): the usual choice for an endpoint that monitoring tools
	// read but strangers may reach.
	DetailsOnRequest
	// DetailsNever never lists the checks; the response has the overall status only.
	DetailsNever
)

// Handler returns the HTTP handler of probe p. It answers GET and HEAD with a
// [Response] of media type [ContentType] and HTTP 200 when the status is pass or
// warn, 503 when it is fail; other methods get 405. Whether the checks are listed
// follows Config.Details and the request's "verbose" query parameter. Responses
// are marked Cache-Control: no-store, since the Checker caches on its own.
//
// The handler waits for the checks (each bounded by its timeout) or for the request
// to be cancelled. It is safe for concurrent use.
func (c *Checker) Handler(p Probe) http.Handler { return handler{c, p} }

type handler struct {
	c *Checker
	p Probe
}

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, fmt.Sprintf("health: method %s not allowed", r.Method), http.StatusMethodNotAllowed)
		return
	}
	resp := h.c.Evaluate(r.Context(), h.p)
	if !h.c.showDetails(r) {
		resp.Checks = nil
	}
	body, err := json.Marshal(resp)
	if err != nil {
		body = encodeScrubbed(resp)
	}
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(resp.Status.HTTPStatus())
	if r.Method == http.MethodHead {
		return
	}
	w.Write(append(body, '\n'))
}

// showDetails reports whether the response to r lists its checks.
func (c *Checker) showDetails(r *http.Request) bool {
	verbose, asked := false, false
	if q := r.URL.Query(); q.Has("verbose") {
		asked = true
		v := q.Get("verbose")
		b, err := strconv.ParseBool(v)
		verbose = v == "" || (err == nil && b)
	}
	switch c.cfg.Details {
	case DetailsAlways:
		return !asked || verbose
	case DetailsOnRequest:
		return verbose
	}
	return false
}

// scrub replaces the observed values that do not encode to JSON by nothing, and
// says so in the output.
func scrub(resp Response) Response {
	checks := make(map[string][]CheckResult, len(resp.Checks))
	for k, list := range resp.Checks {
		list = append([]CheckResult(nil), list...)
		for i := range list {
			if _, err := json.Marshal(list[i].ObservedValue); err != nil {
				list[i].ObservedValue = nil
				if list[i].Output != "" {
					list[i].Output += "; "
				}
				list[i].Output += fmt.Sprintf("health: observedValue dropped: %v", err)
			}
		}
		checks[k] = list
	}
	resp.Checks = checks
	return resp
}

// encodeScrubbed encodes resp without the observed values that do not encode, or,
// should that fail too, the overall status alone.
func encodeScrubbed(resp Response) []byte {
	if b, err := json.Marshal(scrub(resp)); err == nil {
		return b
	}
	b, _ := json.Marshal(Response{Status: resp.Status, Output: "health: the response could not be encoded"})
	return b
}
