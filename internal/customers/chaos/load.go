package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"syscall"
)

// target is where requests go: the service running now.
type target interface {
	current() (url, token string)
}

// tally counts the requests and their outcomes. It is safe for concurrent use.
type tally struct {
	mu         sync.Mutex
	sent       int
	served     int            // answered 2xx
	failed     map[string]int // why: "503 POST /orders", "connection refused", ...
	dropped    int            // not sent: the concurrency bound was reached
	byOp       map[string]int
	customers  int
	orders     int
	pending    int // orders answered 201 with their payment pending
	promotions int
}

func newTally() *tally {
	return &tally{failed: map[string]int{}, byOp: map[string]int{}}
}

// Requests is what the load did, for the summary.
type Requests struct {
	Sent, Served, Dropped                          int
	Failed                                         map[string]int
	CustomersCreated, OrdersCreated, OrdersPending int
	Promotions                                     int
}

// FailedTotal is the number of requests that failed.
func (r Requests) FailedTotal() int {
	n := 0
	for _, v := range r.Failed {
		n += v
	}
	return n
}

// FailedSummary lists the failures by count, most first.
func (r Requests) FailedSummary() string {
	if len(r.Failed) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(r.Failed))
	for k := range r.Failed {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if r.Failed[keys[i]] != r.Failed[keys[j]] {
			return r.Failed[keys[i]] > r.Failed[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, r.Failed[k])
	}
	return strings.Join(parts, ", ")
}

func (t *tally) snapshot() Requests {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := make(map[string]int, len(t.failed))
	for k, v := range t.failed {
		f[k] = v
	}
	return Requests{Sent: t.sent, Served: t.served, Dropped: t.dropped, Failed: f, CustomersCreated: t.customers,
		OrdersCreated: t.orders, OrdersPending: t.pending, Promotions: t.promotions}
}

// driver sends the mix of requests. Its methods are safe for concurrent use.
type driver struct {
	client *http.Client
	target target
	tally  *tally

	mu        sync.Mutex
	rng       *rand.Rand
	customers []string // created, regular
	orders    []string
	seq       int
}

// op is one kind of request of the mix.
type op struct {
	name   string
	weight int
}

var mix = []op{{"create-customer", 25}, {"create-order", 40}, {"promote", 10}, {"get-order", 25}}

// pick draws the next request; a customer comes first when there is none.
func (d *driver) pick() (name string, n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	if len(d.customers) == 0 {
		return "create-customer", d.seq
	}
	w := d.rng.IntN(100)
	for _, o := range mix {
		if w < o.weight {
			return o.name, d.seq
		}
		w -= o.weight
	}
	return mix[len(mix)-1].name, d.seq
}

// one sends one request of the mix and counts its outcome.
func (d *driver) one(ctx context.Context) {
	name, n := d.pick()
	var (
		method, path string
		body         any
	)
	d.mu.Lock()
	switch name {
	case "create-customer":
		method, path = http.MethodPost, "/customers"
		body = map[string]any{"name": fmt.Sprintf("Chaos Customer %d", n), "email": fmt.Sprintf("chaos-%d-%d@example.com", n, d.rng.IntN(1e6))}
	case "create-order":
		method, path = http.MethodPost, "/orders"
		k := 1 + d.rng.IntN(3)
		items := make([]map[string]any, 0, k)
		for _, p := range d.rng.Perm(9)[:k] { // distinct products
			items = append(items, map[string]any{"product_id": fmt.Sprintf("sku-%d", p+1), "quantity": 1 + d.rng.IntN(3),
				"price_minor": 100 + d.rng.IntN(5000)})
		}
		body = map[string]any{"customer_id": d.customers[d.rng.IntN(len(d.customers))], "currency": "EUR", "items": items}
	case "promote":
		i := d.rng.IntN(len(d.customers))
		method, path = http.MethodPost, "/customers/"+d.customers[i]+"/promote"
		d.customers = append(d.customers[:i], d.customers[i+1:]...) // promoted once
	case "get-order":
		if len(d.orders) == 0 {
			d.mu.Unlock()
			return
		}
		method, path = http.MethodGet, "/orders/"+d.orders[d.rng.IntN(len(d.orders))]
	}
	d.mu.Unlock()

	status, resp, err := d.do(ctx, method, path, body)
	if ctx.Err() != nil && err != nil {
		return // the run is over; not the service's failure
	}
	d.tally.mu.Lock()
	defer d.tally.mu.Unlock()
	d.tally.sent++
	d.tally.byOp[name]++
	switch {
	case err != nil:
		d.tally.failed[errorKind(err)+" ("+name+")"]++
		return
	case status >= 300:
		d.tally.failed[fmt.Sprintf("%d %s", status, name)]++
		return
	}
	d.tally.served++
	id, _ := resp["id"].(string)
	switch name {
	case "create-customer":
		d.tally.customers++
		d.mu.Lock()
		d.customers = append(d.customers, id)
		d.mu.Unlock()
	case "create-order":
		d.tally.orders++
		if p, ok := resp["payment"].(map[string]any); ok && p["status"] == "pending" {
			d.tally.pending++
		}
		d.mu.Lock()
		d.orders = append(d.orders, id)
		d.mu.Unlock()
	case "promote":
		d.tally.promotions++
	}
}

// do sends a request to the service running now.
func (d *driver) do(ctx context.Context, method, path string, body any) (int, map[string]any, error) {
	url, token := d.target.current()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if method != http.MethodGet {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, nil, err
	}
	var m map[string]any
	_ = json.Unmarshal(data, &m) // problems and answers are JSON objects; anything else leaves m nil
	return resp.StatusCode, m, nil
}

// errorKind names the kind of a transport error, for the summary.
func errorKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection reset"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return fmt.Sprintf("error %T", errors.Unwrap(err))
}
