package sim

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// call sends a control request and decodes the JSON answer into v (if not nil).
func call(t *testing.T, c *http.Client, method, url, body string, v any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s = %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json", method, url, ct)
	}
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatalf("%s %s: decoding %s: %v", method, url, data, err)
		}
	}
	return resp.StatusCode
}

func TestControlConfig(t *testing.T) {
	mix, _ := ParseMix("200:9,500:1")
	s, c := start(t, Config{Routes: []Route{{Path: "/", Mix: mix}}})
	base := s.URL() + "/_sim/"

	var got Config
	if code := call(t, c, "GET", base+"config", "", &got); code != 200 {
		t.Fatalf("GET config = %d", code)
	}
	want := Config{Routes: []Route{{Path: "/", Mix: mix, RetryAfter: time.Second}}}
	if got.Routes[0].Mix.String() != "200:9,500:1" || got.Routes[0].RetryAfter != time.Second || len(got.Routes) != 1 {
		t.Errorf("GET config = %+v, want %+v", got, want)
	}

	errs := []struct{ body, field, msg string }{
		{`{"routes":[{"path":"/","mix":"200:1,oops"}]}`, "routes[0].mix", `status "oops" is not a number`},
		{`{"routes":[{"path":"/","reset_rate":2}]}`, "routes[0].reset_rate", "2 is not between 0 and 1"},
		{`{"routes":[{"path":"x"}]}`, "routes[0].path", "does not start with /"},
		{`{"outage":{"for":"1s","mode":"down"}}`, "outage.mode", `"down"`},
		{`{"routez":[]}`, "", `unknown field "routez"`},
		{`not json`, "", "invalid character"},
	}
	for _, tt := range errs {
		var e controlError
		if code := call(t, c, "PUT", base+"config", tt.body, &e); code != 400 || e.Field != tt.field || !strings.Contains(e.Error, tt.msg) {
			t.Errorf("PUT config %s = %d %+v; want 400 naming field %q with %q", tt.body, code, e, tt.field, tt.msg)
		}
	}
	// A rejected configuration changes nothing.
	if code, _ := mustGet(t, c, s.URL()); code != 200 && code != 500 {
		t.Errorf("GET after rejected PUTs = %d", code)
	}

	if code := call(t, c, "PUT", base+"config", `{"routes":[{"path":"/","mix":"503","retry_after":"2s"}]}`, &got); code != 200 {
		t.Fatalf("PUT of a valid config = %d", code)
	}
	if code, ra := mustGet(t, c, s.URL()+"/x"); code != 503 || ra != "2" {
		t.Errorf("GET after PUT = %d, Retry-After %q; want 503, 2", code, ra)
	}

	var e controlError
	if code := call(t, c, "POST", base+"config", "", &e); code != 405 {
		t.Errorf("POST config = %d, want 405", code)
	}
	if code := call(t, c, "GET", base+"nope", "", &e); code != 404 {
		t.Errorf("GET /_sim/nope = %d, want 404", code)
	}
}

func TestControlOutage(t *testing.T) {
	s, c := start(t, Config{})
	base := s.URL() + "/_sim/"
	errs := []struct{ query, field, msg string }{
		{"", "for", "required"},
		{"?for=soon", "for", `"soon" is not a duration`},
		{"?for=0s", "for", "above zero"},
		{"?for=-1s", "for", "negative"},
		{"?for=1s&after=x", "after", "not a duration"},
		{"?for=1s&mode=down", "mode", `"down"`},
	}
	for _, tt := range errs {
		var e controlError
		if code := call(t, c, "POST", base+"outage"+tt.query, "", &e); code != 400 || e.Field != tt.field || !strings.Contains(e.Error, tt.msg) {
			t.Errorf("POST outage%s = %d %+v; want 400 naming %q with %q", tt.query, code, e, tt.field, tt.msg)
		}
	}

	var cfg Config
	if code := call(t, c, "POST", base+"outage?for=1h", "", &cfg); code != 200 {
		t.Fatalf("POST outage?for=1h = %d", code)
	}
	if o := cfg.Outage; o.After != 0 || o.For <= 59*time.Minute || o.For > time.Hour || o.Mode != OutageUnavailable {
		t.Errorf("config after POST outage: Outage = %+v; want about 1h from now, 503", o)
	}
	if code, ra := mustGet(t, c, s.URL()); code != 503 || ra != "1" {
		t.Errorf("GET during outage = %d, Retry-After %q; want 503, 1", code, ra)
	}
	if code := call(t, c, "DELETE", base+"outage", "", &cfg); code != 200 || cfg.Outage != (Outage{}) {
		t.Errorf("DELETE outage = %d, outage %+v; want 200, none", code, cfg.Outage)
	}
	if code, _ := mustGet(t, c, s.URL()); code != 200 {
		t.Errorf("GET after the outage = %d, want 200", code)
	}

	var st Stats
	if code := call(t, c, "GET", base+"stats", "", &st); code != 200 {
		t.Fatalf("GET stats = %d", code)
	}
	if st.Requests != 2 || st.ByStatus[503] != 1 || st.ByStatus[200] != 1 || st.Outage != 1 {
		t.Errorf("GET stats = %+v; want 2 requests: one 503 in the outage, one 200", st)
	}
	var e controlError
	if code := call(t, c, "PUT", base+"outage", "", &e); code != 405 {
		t.Errorf("PUT outage = %d, want 405", code)
	}
}
