package api

import (
	"crypto/rand"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/httpx"
)

// RequestID gives each request an ID: the client's X-Request-ID when it is 1 to
// 128 letters, digits and "-._:", else a new random one. The ID is set on the
// response, and carried by the request's context for the calls it makes
// (httpx.WithRequestID) and as the correlation ID of the events it produces
// (bus.ContextWithCorrelationID).
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(httpx.HeaderRequestID)
		if !validRequestID(id) {
			id = rand.Text()
		}
		w.Header().Set(httpx.HeaderRequestID, id)
		ctx := httpx.WithRequestID(r.Context(), id)
		ctx = bus.ContextWithCorrelationID(ctx, id)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._:", c) >= 0) {
			return false
		}
	}
	return true
}

// Logged logs one record per request (method, path, status, bytes, duration,
// and the request ID through the logger's context handler) once it is
// answered, at Info, or at Debug for the paths quiet reports true for (probes
// and scrapes). A handler that panics is answered 500 and its panic logged with
// its stack; http.ErrAbortHandler is passed on.
func Logged(logger *slog.Logger, quiet func(path string) bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &recorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				logger.ErrorContext(r.Context(), "handler panicked", "method", r.Method, "path", r.URL.Path,
					"panic", v, "stack", string(debug.Stack()))
				if !rw.wrote {
					writeProblem(rw, r, Problem{Status: http.StatusInternalServerError, Detail: "the service failed; the request ID identifies it in the logs"})
				}
			}
			level := slog.LevelInfo
			if quiet != nil && quiet(r.URL.Path) {
				level = slog.LevelDebug
			}
			logger.Log(r.Context(), level, "http request", "request_id", httpx.RequestIDFromContext(r.Context()),
				"method", r.Method, "path", r.URL.Path, "status", rw.status(),
				"bytes", rw.bytes, "duration_ms", float64(time.Since(start).Microseconds())/1000, "remote", r.RemoteAddr)
		}()
		next.ServeHTTP(rw, r)
	})
}

// recorder notes the status and size of an answer.
type recorder struct {
	http.ResponseWriter
	code  int
	bytes int
	wrote bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.code, r.wrote = http.StatusOK, true
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

func (r *recorder) status() int {
	if !r.wrote {
		return http.StatusOK
	}
	return r.code
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
