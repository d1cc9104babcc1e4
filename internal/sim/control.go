package sim

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// controlPrefix is where the control endpoint lives.
const controlPrefix = "/_sim/"

// maxConfigBytes bounds the body of PUT /_sim/config.
const maxConfigBytes = 1 << 20

// control serves the control endpoint: see the package documentation.
func (s *Server) control(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case controlPrefix + "config":
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			writeJSON(w, http.StatusOK, s.Config())
		case http.MethodPut:
			s.putConfig(w, r)
		default:
			methodNotAllowed(w, "GET, HEAD, PUT")
		}
	case controlPrefix + "outage":
		switch r.Method {
		case http.MethodPost:
			s.postOutage(w, r)
		case http.MethodDelete:
			s.EndOutage()
			writeJSON(w, http.StatusOK, s.Config())
		default:
			methodNotAllowed(w, "POST, DELETE")
		}
	case controlPrefix + "stats":
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			writeJSON(w, http.StatusOK, s.Stats())
		default:
			methodNotAllowed(w, "GET, HEAD")
		}
	default:
		writeError(w, http.StatusNotFound, errors.New("sim: unknown control path; try /_sim/config, /_sim/outage or /_sim/stats"))
	}
}

func (s *Server) putConfig(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxConfigBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, errors.New("sim: config: body too large or unreadable"))
		return
	}
	var cfg Config
	if err := json.Unmarshal(data, &cfg); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if err := s.SetConfig(cfg); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, s.Config())
}

// postOutage starts an outage: POST /_sim/outage?for=5s[&after=1s][&mode=reset].
func (s *Server) postOutage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var o Outage
	var err error
	switch v := q.Get("for"); v {
	case "":
		err = &FieldError{Field: "for", Err: errors.New("required, such as for=5s")}
	default:
		if o.For, err = parseDuration(v); err != nil {
			err = &FieldError{Field: "for", Err: err}
		}
	}
	if v := q.Get("after"); v != "" && err == nil {
		if o.After, err = parseDuration(v); err != nil {
			err = &FieldError{Field: "after", Err: err}
		}
	}
	if err == nil {
		err = s.StartOutage(o.After, o.For, OutageMode(q.Get("mode")))
		if fe, ok := errors.AsType[*FieldError](err); ok {
			// Name the query parameter, not the config field.
			err = &FieldError{Field: strings.TrimPrefix(fe.Field, "outage."), Err: fe.Err}
		}
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, s.Config())
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, errors.New("sim: method not allowed; use "+allow))
}

// controlError is the body of a control endpoint's error answer.
type controlError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// writeError answers err, naming the field of a [*FieldError].
func writeError(w http.ResponseWriter, status int, err error) {
	var field string
	if fe, ok := errors.AsType[*FieldError](err); ok {
		field = fe.Field
	}
	writeJSON(w, status, controlError{Error: err.Error(), Field: field})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status, data = http.StatusInternalServerError, []byte(`{"error":"sim: cannot encode the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}
