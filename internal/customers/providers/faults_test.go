package providers_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/customers/providers"
	"github.com/rampart-go/rampart/internal/sim"
)

func mustMix(t *testing.T, s string) sim.Mix {
	t.Helper()
	m, err := sim.ParseMix(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustLatency(t *testing.T, s string) sim.Latency {
	t.Helper()
	l, err := sim.ParseLatency(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestFaultsValidate(t *testing.T) {
	tests := []struct {
		name  string
		f     providers.Faults
		field string // in the error; "" for valid
	}{
		{"zero", providers.Faults{}, ""},
		{"full", providers.Faults{Outage: true, ErrorRate: 0.5, LostRate: 0.5, FailNext: 1, LoseNext: 2,
			Statuses: mustMix(t, "503:3,500:1"), RetryAfter: -1, Latency: mustLatency(t, "uniform:1ms-5ms")}, ""},
		{"error rate above 1", providers.Faults{ErrorRate: 1.5}, "faults.error_rate"},
		{"negative lost rate", providers.Faults{LostRate: -0.1}, "faults.lost_rate"},
		{"rates above 1 together", providers.Faults{ErrorRate: 0.6, LostRate: 0.6}, "faults.lost_rate"},
		{"negative fail_next", providers.Faults{FailNext: -1}, "faults.fail_next"},
		{"negative lose_next", providers.Faults{LoseNext: -1}, "faults.lose_next"},
		{"success status", providers.Faults{Statuses: sim.Mix{{Status: 200, Weight: 1}}}, "faults.statuses"},
		{"zero weights", providers.Faults{Statuses: sim.Mix{{Status: 503, Weight: 0}}}, "faults.statuses"},
		{"negative latency", providers.Faults{Latency: sim.Latency{Points: []sim.LatencyPoint{{Percentile: 0, Delay: -time.Second}}}}, "faults.latency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.f.Validate()
			switch {
			case tt.field == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.field != "" && (err == nil || !strings.Contains(err.Error(), tt.field+":")):
				t.Errorf("Validate() = %v, want an error naming %s", err, tt.field)
			}
		})
	}
}

func TestFaultsJSON(t *testing.T) {
	f := providers.Faults{Outage: true, ErrorRate: 0.25, LostRate: 0.125, FailNext: 3, LoseNext: 1,
		Statuses: mustMix(t, "503:3,500:1"), RetryAfter: 2 * time.Second, Latency: mustLatency(t, "uniform:1ms-20ms")}
	data, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"outage":true,"error_rate":0.25,"lost_rate":0.125,"fail_next":3,"lose_next":1,"statuses":"503:3,500:1","retry_after":"2s","latency":"uniform:1ms-20ms"}`
	if string(data) != want {
		t.Errorf("json.Marshal(faults) = %s, want %s", data, want)
	}
	var back providers.Faults
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(back)
	if string(again) != want {
		t.Errorf("round trip = %s, want %s", again, want)
	}

	for in, wantRA := range map[string]time.Duration{`{}`: 0, `{"retry_after":"none"}`: -1, `{"retry_after":"1500ms"}`: 1500 * time.Millisecond} {
		var f providers.Faults
		if err := json.Unmarshal([]byte(in), &f); err != nil || f.RetryAfter != wantRA {
			t.Errorf("Unmarshal(%s): RetryAfter %v, %v; want %v", in, f.RetryAfter, err, wantRA)
		}
	}
	for _, in := range []string{`{"retry_after":"0s"}`, `{"retry_after":"soon"}`, `{"bogus":1}`, `{"statuses":"abc"}`, `{"latency":"fast"}`} {
		var f providers.Faults
		if err := json.Unmarshal([]byte(in), &f); err == nil {
			t.Errorf("Unmarshal(%s) = nil error, want one", in)
		}
	}
}
