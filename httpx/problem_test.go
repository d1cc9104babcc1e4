package httpx_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"testing"

	"github.com/rampart-go/rampart/httpx"
)

// What WriteProblem writes, ParseProblem reads back.
func TestWriteProblemRoundTrip(t *testing.T) {
	for _, p := range []httpx.Problem{
		{Type: "https://example.invalid/problems/validation", Title: "Invalid order", Status: 422,
			Detail: "2 fields are invalid", Instance: "/orders",
			Extensions: map[string]any{
				"errors":     []any{map[string]any{"field": "email", "detail": "is empty"}, map[string]any{"field": "items[1].quantity", "detail": "must be positive"}},
				"request_id": "r-1",
			}},
		{Type: "about:blank", Title: "Not Found", Status: 404},
		{Type: "about:blank", Status: 499, Detail: "client closed"},
	} {
		rec := httptest.NewRecorder()
		httpx.WriteProblem(rec, p)
		res := rec.Result()
		if res.StatusCode != p.Status {
			t.Errorf("status %d, want %d", res.StatusCode, p.Status)
		}
		if ct := res.Header.Get("Content-Type"); ct != httpx.ProblemContentType {
			t.Errorf("Content-Type %q", ct)
		}
		if cl := res.Header.Get("Content-Length"); cl != strconv.Itoa(rec.Body.Len()) {
			t.Errorf("Content-Length %s, body of %d bytes", cl, rec.Body.Len())
		}
		got, err := httpx.ParseProblem(rec.Body.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*got, p) {
			t.Errorf("round trip:\n got %#v\nwant %#v", *got, p)
		}
	}
}

// WriteProblem completes a problem that says little.
func TestWriteProblemDefaults(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set("Cache-Control", "no-store")
	httpx.WriteProblem(rec, httpx.Problem{Extensions: map[string]any{"status": "shadowed", "bad": func() {}}})
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", rec.Code)
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Error("the caller's header was lost")
	}
	got, err := httpx.ParseProblem(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := httpx.Problem{Type: "about:blank", Title: "Internal Server Error", Status: 500}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("got %#v, want %#v", *got, want)
	}
}

func ExampleWriteProblem() {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteProblem(w, httpx.Problem{
			Type:     "https://example.invalid/problems/validation",
			Title:    "Invalid order",
			Status:   http.StatusUnprocessableEntity,
			Instance: r.URL.Path,
			Extensions: map[string]any{
				"errors": []map[string]string{{"field": "email", "detail": "is empty"}},
			},
		})
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/orders", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	fmt.Print(rec.Body.String())

	p, _ := httpx.ParseProblem(rec.Body.Bytes())
	fmt.Println(p.Status, p.Title, p.Extensions["errors"])
	// Output:
	// 422 application/problem+json
	// {"errors":[{"detail":"is empty","field":"email"}],"instance":"/orders","status":422,"title":"Invalid order","type":"https://example.invalid/problems/validation"}
	// 422 Invalid order [map[detail:is empty field:email]]
}
