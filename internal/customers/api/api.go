package api

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/rampart-go/rampart/internal/customers/app"
	"github.com/rampart-go/rampart/internal/customers/domain"
)

// Config configures the API's handler. Service and Authenticate are required.
type Config struct {
	Service *app.Service
	// Authenticate wraps the write endpoints: the Middleware of an
	// *auth.JWTVerifier.
	Authenticate func(http.Handler) http.Handler
	// Logger receives the faults of the service (500s). Nil logs nothing.
	Logger *slog.Logger
}

// API serves the endpoints listed in the package documentation.
type API struct {
	svc *app.Service
	log *slog.Logger
	mux *http.ServeMux
}

// New returns the API of cfg.
func New(cfg Config) (*API, error) {
	if cfg.Service == nil || cfg.Authenticate == nil {
		return nil, errors.New("api: Config.Service and Config.Authenticate are required")
	}
	a := &API{svc: cfg.Service, log: cfg.Logger, mux: http.NewServeMux()}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	write := func(h http.HandlerFunc) http.Handler { return cfg.Authenticate(h) }
	a.mux.Handle("POST /customers", write(a.createCustomer))
	a.mux.HandleFunc("GET /customers", a.listCustomers)
	a.mux.HandleFunc("GET /customers/{id}", a.getCustomer)
	a.mux.Handle("POST /customers/{id}/promote", write(a.promoteCustomer))
	a.mux.Handle("POST /orders", write(a.createOrder))
	a.mux.HandleFunc("GET /orders/{id}", a.getOrder)
	a.mux.Handle("POST /orders/{id}/refund", write(a.refundOrder))
	a.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, Problem{Status: http.StatusNotFound, Type: ProblemNotFound, Detail: "no such endpoint"})
	})
	return a, nil
}

// ServeHTTP serves the API's routes; any other path is a 404 problem. Mount it
// at "/" next to the service's other endpoints.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mux.ServeHTTP(w, r)
}

func (a *API) createCustomer(w http.ResponseWriter, r *http.Request) {
	var in domain.NewCustomerInput
	if !decode(w, r, &in) {
		return
	}
	c, err := a.svc.CreateCustomer(r.Context(), in)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/customers/"+c.ID)
	writeJSON(w, http.StatusCreated, customerView(c))
}

func (a *API) listCustomers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 0
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			writeFieldErrors(w, r, []domain.FieldError{{Field: "limit", Detail: "must be an integer from 1 to 200"}})
			return
		}
		limit = n
		if limit == 0 {
			limit = -1 // an explicit 0 is invalid, not the default
		}
	}
	list, next, err := a.svc.Customers(r.Context(), q.Get("after"), limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := customerListJSON{Customers: make([]customerJSON, 0, len(list)), Next: next}
	for _, c := range list {
		out.Customers = append(out.Customers, customerView(c))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) getCustomer(w http.ResponseWriter, r *http.Request) {
	id, ok := a.pathID(w, r, "customer")
	if !ok {
		return
	}
	v, err := a.svc.Customer(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, customerDetailView(v))
}

func (a *API) promoteCustomer(w http.ResponseWriter, r *http.Request) {
	id, ok := a.pathID(w, r, "customer")
	if !ok {
		return
	}
	c, _, err := a.svc.PromoteToVIP(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, customerView(c))
}

func (a *API) createOrder(w http.ResponseWriter, r *http.Request) {
	var in domain.NewOrderInput
	if !decode(w, r, &in) {
		return
	}
	o, err := a.svc.CreateOrder(r.Context(), in)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/orders/"+o.ID)
	writeJSON(w, http.StatusCreated, orderView(o))
}

func (a *API) getOrder(w http.ResponseWriter, r *http.Request) {
	id, ok := a.pathID(w, r, "order")
	if !ok {
		return
	}
	v, err := a.svc.Order(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, orderDetailView(v))
}

func (a *API) refundOrder(w http.ResponseWriter, r *http.Request) {
	id, ok := a.pathID(w, r, "order")
	if !ok {
		return
	}
	o, err := a.svc.RefundOrder(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, orderView(o))
}

// pathID returns the {id} of the path, or answers 404 for one that cannot be
// an ID.
func (a *API) pathID(w http.ResponseWriter, r *http.Request, what string) (string, bool) {
	id := r.PathValue("id")
	if !domain.ValidID(id) {
		writeProblem(w, r, Problem{Status: http.StatusNotFound, Type: ProblemNotFound, Detail: "no " + what + " has this ID"})
		return "", false
	}
	return id, true
}

// fail answers the error of a use case.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ve *domain.ValidationError
	switch {
	case errors.As(err, &ve):
		writeFieldErrors(w, r, ve.Fields)
	case errors.Is(err, domain.ErrNotFound):
		writeProblem(w, r, Problem{Status: http.StatusNotFound, Type: ProblemNotFound, Detail: detail(err, domain.ErrNotFound)})
	case errors.Is(err, domain.ErrConflict):
		writeProblem(w, r, Problem{Status: http.StatusConflict, Type: ProblemConflict, Detail: detail(err, domain.ErrConflict)})
	case errors.Is(err, app.ErrUnavailable):
		w.Header().Set("Retry-After", "5")
		writeProblem(w, r, Problem{Status: http.StatusServiceUnavailable, Type: ProblemUnavailable,
			Detail: "a provider the request needs is unavailable; try again later"})
	case r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		writeProblem(w, r, Problem{Status: 499, Title: "Client Closed Request"})
	default:
		a.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeProblem(w, r, Problem{Status: http.StatusInternalServerError, Detail: "the service failed; the request ID identifies it in the logs"})
	}
}

// detail is err's message without the sentinel's text in front: what the
// client reads.
func detail(err, sentinel error) string {
	return strings.TrimPrefix(err.Error(), sentinel.Error()+": ")
}
