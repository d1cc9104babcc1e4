package httpx_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/rampart-go/rampart/httpx"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"120", 120 * time.Second, true},
		{" 0 ", 0, true},
		{"Wed, 21 Oct 2015 07:28:30 GMT", 30 * time.Second, true},
		{"Wednesday, 21-Oct-15 07:29:00 GMT", time.Minute, true}, // RFC 850
		{"Wed Oct 21 07:28:05 2015", 5 * time.Second, true},      // asctime
		{"Wed, 21 Oct 2015 07:00:00 GMT", 0, true},               // past
		{"99999999999999999999", time.Duration(1<<63 - 1).Truncate(time.Second), true},
		{"", 0, false},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"0x10", 0, false},
	}
	for _, tc := range cases {
		got, ok := httpx.ParseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseRetryAfter(%q) = %s, %t; want %s, %t", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "0", "Wed, 21 Oct 2015 07:28:00 GMT", "Wednesday, 21-Oct-15 07:28:00 GMT",
		"Wed Oct 21 07:28:00 2015", "", "-1", "1e3", "99999999999999999999999", " 7 "} {
		f.Add(s)
	}
	now := time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := httpx.ParseRetryAfter(v, now)
		if d < 0 {
			t.Fatalf("ParseRetryAfter(%q) = %s, a negative wait", v, d)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %s, false; want 0 when not ok", v, d)
		}
		// A wait that parsed as a date is the same from an HTTP-date of its own.
		if ok && d > 0 && d < 1000*time.Hour {
			if _, err := http.ParseTime(v); err == nil {
				again, ok2 := httpx.ParseRetryAfter(now.Add(d).UTC().Format(http.TimeFormat), now)
				if !ok2 || again != d.Truncate(time.Second) {
					t.Fatalf("ParseRetryAfter(%q) = %s, but the same date formatted again gives %s, %t", v, d, again, ok2)
				}
			}
		}
	})
}

func TestParseProblem(t *testing.T) {
	p, err := httpx.ParseProblem([]byte(`{"type":"https://example.com/probs/out-of-credit","title":"Out of credit",` +
		`"status":"403","detail":12,"instance":"/acct/1","balance":30,"accounts":["/acct/1"]}`))
	if err != nil {
		t.Fatal(err)
	}
	// Members of the wrong type are ignored, not fatal (RFC 9457, section 3.1).
	if p.Type != "https://example.com/probs/out-of-credit" || p.Title != "Out of credit" || p.Status != 0 ||
		p.Detail != "" || p.Instance != "/acct/1" || p.Extensions["balance"] != float64(30) || len(p.Extensions) != 2 {
		t.Errorf("ParseProblem = %+v", p)
	}
	if p, _ := httpx.ParseProblem([]byte(`{}`)); p.Type != "about:blank" {
		t.Errorf("Type of an empty problem = %q, want about:blank", p.Type)
	}
	for _, bad := range []string{``, `null`, `[]`, `"x"`, `{`, `{"type":1}{}`} {
		if _, err := httpx.ParseProblem([]byte(bad)); err == nil {
			t.Errorf("ParseProblem(%q) succeeded", bad)
		}
	}
}

func FuzzParseProblem(f *testing.F) {
	for _, s := range []string{
		`{"type":"about:blank","title":"Not Found","status":404}`,
		`{"type":"https://example.com/probs/x","title":"T","status":422,"detail":"D","instance":"/i","balance":30,"accounts":["a"]}`,
		`{"status":"500","title":null}`, `{"status":1e3}`, `{"status":-1}`, `[]`, `null`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := httpx.ParseProblem(data)
		if err != nil {
			if p != nil {
				t.Fatalf("ParseProblem returned a problem and an error")
			}
			return
		}
		if p.Type == "" {
			t.Fatalf("ParseProblem(%q).Type is empty, want about:blank by default", data)
		}
		if p.Status != 0 && (p.Status < 100 || p.Status > 599) {
			t.Fatalf("ParseProblem(%q).Status = %d, not a status code", data, p.Status)
		}
		// What parsed survives encoding and parsing again.
		enc, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", p, err)
		}
		q, err := httpx.ParseProblem(enc)
		if err != nil {
			t.Fatalf("ParseProblem(Marshal(%+v)) = %v", p, err)
		}
		if q.Type != p.Type || q.Title != p.Title || q.Status != p.Status || q.Detail != p.Detail ||
			q.Instance != p.Instance || len(q.Extensions) != len(p.Extensions) {
			t.Fatalf("round trip of %q: %+v became %+v", data, p, q)
		}
		_ = p.String()
	})
}
