package health_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/rampart-go/rampart/health"
)

// fakeConn is a ConnectionState whose state the test sets, as a transport would.
type fakeConn struct {
	mu        sync.Mutex
	connected bool
	blocked   bool
	consumers int
	err       error
}

func (f *fakeConn) set(connected, blocked bool, consumers int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.connected, f.blocked, f.consumers, f.err = connected, blocked, consumers, err
}

func (f *fakeConn) Connected() bool       { f.mu.Lock(); defer f.mu.Unlock(); return f.connected }
func (f *fakeConn) Blocked() bool         { f.mu.Lock(); defer f.mu.Unlock(); return f.blocked }
func (f *fakeConn) ConsumersRunning() int { f.mu.Lock(); defer f.mu.Unlock(); return f.consumers }
func (f *fakeConn) LastError() error      { f.mu.Lock(); defer f.mu.Unlock(); return f.err }

func TestConnection(t *testing.T) {
	lost := errors.New("Exception (320) Reason: \"CONNECTION_FORCED - Closed via management plugin\"")
	tests := []struct {
		name      string
		connected bool
		blocked   bool
		consumers int
		err       error
		opts      health.ConnectionOptions
		code      int
		status    health.Status
		output    string
	}{
		{"up", true, false, 3, nil, health.ConnectionOptions{MinConsumers: 2}, 200, "pass", ""},
		{"up with an old error", true, false, 0, lost, health.ConnectionOptions{}, 200, "pass", ""},
		{"down", false, false, 0, lost, health.ConnectionOptions{}, 503, "fail", "disconnected: last error: " + lost.Error()},
		{"down without error", false, false, 0, nil, health.ConnectionOptions{}, 503, "fail", "disconnected"},
		{"blocked", true, true, 3, nil, health.ConnectionOptions{}, 200, "warn", "blocked by the broker"},
		{"blocked as fail", true, true, 3, nil, health.ConnectionOptions{BlockedStatus: health.StatusFail}, 503, "fail", "blocked by the broker"},
		{"consumers missing", true, false, 1, nil, health.ConnectionOptions{MinConsumers: 2}, 503, "fail", "1 of 2 consumers running"},
		{"consumers missing and blocked", true, true, 0, lost, health.ConnectionOptions{MinConsumers: 1}, 503, "fail", "0 of 1 consumers running: last error: " + lost.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := new(fakeConn)
			conn.set(tt.connected, tt.blocked, tt.consumers, tt.err)
			c := newChecker(t, health.Config{Readiness: []health.Source{health.RabbitMQ(conn, tt.opts)}})
			r := serve(t, c.Handler(health.Readiness), "/")
			got := r.one(t, "rabbitmq:connection")
			if r.code != tt.code || got.Status != tt.status || got.Output != tt.output {
				t.Errorf("GET = %d, check %q %q; want %d, %q %q", r.code, got.Status, got.Output, tt.code, tt.status, tt.output)
			}
			want := map[string]any{"connected": tt.connected, "blocked": tt.blocked, "consumersRunning": float64(tt.consumers)}
			value, _ := got.ObservedValue.(map[string]any)
			if len(value) != len(want) {
				t.Errorf("observedValue = %v, want %v", got.ObservedValue, want)
			}
			for k, v := range want {
				if value[k] != v {
					t.Errorf("observedValue.%s = %v, want %v", k, value[k], v)
				}
			}
			if got.ComponentType != "system" {
				t.Errorf("componentType = %q, want system", got.ComponentType)
			}
		})
	}
}

// The check reads the state at each run: a reconnect shows up after CacheFor.
func TestConnectionFollowsState(t *testing.T) {
	conn := new(fakeConn)
	conn.set(false, false, 0, errors.New("nats: no servers available for connection"))
	c := newChecker(t, health.Config{CacheFor: -1, Readiness: []health.Source{health.NATS(conn, health.ConnectionOptions{})}})
	r := c.Evaluate(t.Context(), health.Readiness)
	if got := r.Checks["nats:connection"][0]; got.Status != health.StatusFail || got.Output != "disconnected: last error: nats: no servers available for connection" {
		t.Errorf("NATS down = %q %q, want fail with the last error", got.Status, got.Output)
	}
	conn.set(true, false, 1, nil)
	r = c.Evaluate(t.Context(), health.Readiness)
	got := r.Checks["nats:connection"][0]
	if got.Status != health.StatusPass || got.ObservedValue != (health.ConnectionValue{Connected: true, ConsumersRunning: 1}) {
		t.Errorf("NATS back = %q %v, want pass {connected, 1 consumer}", got.Status, got.ObservedValue)
	}
}
