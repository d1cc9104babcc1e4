package sim

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg        Config
		field, msg string
	}{
		{Config{Routes: []Route{{Path: "api"}}}, "routes[0].path", `"api" does not start with /`},
		{Config{Routes: []Route{{Path: "/_sim/x"}}}, "routes[0].path", "control endpoint"},
		{Config{Routes: []Route{{Path: "/_sim"}}}, "routes[0].path", "control endpoint"},
		{Config{Routes: []Route{{}, {Path: "/"}}}, "routes[1].path", `"/" appears twice`},
		{Config{Routes: []Route{{Mix: Mix{{700, 1}}}}}, "routes[0].mix", "status 700"},
		{Config{Routes: []Route{{Latency: Latency{Points: []LatencyPoint{{50, time.Second}, {90, time.Millisecond}}}}}}, "routes[0].latency", "delays may not decrease"},
		{Config{Routes: []Route{{ResetRate: 1.5}}}, "routes[0].reset_rate", "1.5 is not between 0 and 1"},
		{Config{Routes: []Route{{HangRate: math.NaN()}}}, "routes[0].hang_rate", "NaN"},
		{Config{Routes: []Route{{ResetRate: 0.6, HangRate: 0.6}}}, "routes[0].hang_rate", "above 1"},
		{Config{Outage: Outage{After: -time.Second}}, "outage.after", "negative"},
		{Config{Outage: Outage{For: -time.Second}}, "outage.for", "negative"},
		{Config{Outage: Outage{For: time.Second, Mode: "down"}}, "outage.mode", `"down" is not "503" or "reset"`},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		fe, ok := errors.AsType[*FieldError](err)
		if !ok || fe.Field != tt.field || !strings.Contains(err.Error(), tt.msg) || !strings.HasPrefix(err.Error(), "sim: "+tt.field+": ") {
			t.Errorf("Validate(%+v) = %v; want a FieldError for %s containing %q", tt.cfg, err, tt.field, tt.msg)
		}
		if _, err := New(tt.cfg); err == nil {
			t.Errorf("New(%+v) succeeded; want the error", tt.cfg)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero Config: Validate() = %v", err)
	}
}

func TestConfigJSON(t *testing.T) {
	mix, _ := ParseMix("200:80,500:20")
	lat, _ := ParseLatency("p50=20ms,p99=800ms")
	cfg := Config{
		Routes: []Route{
			{Path: "/", Mix: mix, Latency: lat, RetryAfter: 2 * time.Second, ResetRate: 0.01, HangRate: 0.02},
			{Path: "/quiet/", RetryAfter: -1},
		},
		Outage: Outage{After: 10 * time.Second, For: 5 * time.Second, Mode: OutageReset},
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"routes":[{"path":"/","mix":"200:80,500:20","latency":"p0=10ms,p50=20ms,p99=800ms","retry_after":"2s","reset_rate":0.01,"hang_rate":0.02},` +
		`{"path":"/quiet/","mix":"","latency":"0","retry_after":"none","reset_rate":0,"hang_rate":0}],"outage":{"after":"10s","for":"5s","mode":"reset"}}`
	if string(data) != want {
		t.Errorf("json.Marshal(cfg) =\n%s\nwant\n%s", data, want)
	}
	var back Config
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, cfg) {
		t.Errorf("round trip:\n%+v\nwant\n%+v", back, cfg)
	}
}

func TestConfigJSONErrors(t *testing.T) {
	tests := []struct{ in, field, msg string }{
		{`{"routes":[{"mix":"200:x"}]}`, "routes[0].mix", `weight "x"`},
		{`{"routes":[{},{"latency":"soon"}]}`, "routes[1].latency", "want a duration"},
		{`{"routes":[{"retry_after":"later"}]}`, "routes[0].retry_after", `"later" is not a duration`},
		{`{"routes":[{"retry_after":"0s"}]}`, "routes[0].retry_after", "ambiguous"},
		{`{"routes":[{"reset_rate":"high"}]}`, "routes.reset_rate", "want a float64, not a JSON string"},
		{`{"outage":{"for":"a while"}}`, "outage.for", "not a duration"},
		{`{"outage":{"for":"1s","after":"x"}}`, "outage.after", "not a duration"},
		{`{"routez":[]}`, "", `unknown field "routez"`},
		{`{"routes":[]} {}`, "", "data after the JSON object"},
	}
	for _, tt := range tests {
		var c Config
		err := c.UnmarshalJSON([]byte(tt.in))
		fe, _ := errors.AsType[*FieldError](err)
		if err == nil || !strings.Contains(err.Error(), tt.msg) || (tt.field != "" && (fe == nil || fe.Field != tt.field)) {
			t.Errorf("UnmarshalJSON(%s) = %v; want an error for field %q containing %q", tt.in, err, tt.field, tt.msg)
		}
	}
}
