package bus_test

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
)

const (
	testID          = "0190a6e8-7d6f-7b3a-9c55-3a4d6b1e9f00"
	testTraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
)

var testTime = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)

func fullEnvelope() bus.Envelope {
	return bus.Envelope{
		SpecVersion:     "1.0",
		ID:              testID,
		Source:          "/customers",
		Type:            "customers.customer-created.v1",
		Time:            testTime,
		Subject:         "customer-42",
		DataContentType: "application/json",
		CorrelationID:   "corr-1",
		CausationID:     "0190a6e8-0000-7000-8000-000000000001",
		PartitionKey:    "customer-42",
		TraceParent:     testTraceParent,
		TraceState:      "vendor=1",
		Attempt:         3,
	}
}

func TestEncodeEnvelopeHeaders(t *testing.T) {
	m, err := bus.EncodeEnvelope(fullEnvelope(), []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"ce-specversion":   "1.0",
		"ce-id":            testID,
		"ce-source":        "/customers",
		"ce-type":          "customers.customer-created.v1",
		"ce-time":          "2025-03-14T15:09:26.535897932Z",
		"ce-subject":       "customer-42",
		"content-type":     "application/json",
		"ce-correlationid": "corr-1",
		"ce-causationid":   "0190a6e8-0000-7000-8000-000000000001",
		"ce-partitionkey":  "customer-42",
		"traceparent":      testTraceParent,
		"tracestate":       "vendor=1",
		"rampart-attempt":  "3",
	}
	if !maps.Equal(m.Headers, want) {
		t.Errorf("EncodeEnvelope(full).Headers = %v, want %v", m.Headers, want)
	}
	if m.ID != testID || m.Type != "customers.customer-created.v1" || m.Key != "customer-42" || string(m.Body) != "{}" {
		t.Errorf("EncodeEnvelope(full) = {ID:%q Type:%q Key:%q Body:%q}, want the envelope's ID, type, partition key and the body", m.ID, m.Type, m.Key, m.Body)
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	minimal := bus.Envelope{ID: testID, Source: "/s", Type: "a.b.v1", Time: testTime.In(time.FixedZone("X", 3600))}
	tests := []struct {
		name string
		in   bus.Envelope
		want bus.Envelope
	}{
		{"full", fullEnvelope(), fullEnvelope()},
		{"minimal", minimal, bus.Envelope{SpecVersion: "1.0", ID: testID, Source: "/s", Type: "a.b.v1", Time: testTime, Attempt: 1}},
	}
	for _, tt := range tests {
		m, err := bus.EncodeEnvelope(tt.in, nil)
		if err != nil {
			t.Errorf("%s: EncodeEnvelope: %v", tt.name, err)
			continue
		}
		got, err := bus.DecodeEnvelope(m, bus.DecodeOptions{})
		if err != nil {
			t.Errorf("%s: DecodeEnvelope: %v", tt.name, err)
			continue
		}
		if !got.Time.Equal(tt.want.Time) {
			t.Errorf("%s: Time = %s, want %s", tt.name, got.Time, tt.want.Time)
		}
		got.Time, tt.want.Time = time.Time{}, time.Time{}
		if got != tt.want {
			t.Errorf("%s: DecodeEnvelope(EncodeEnvelope(x)) = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestDecodeEnvelopeErrors(t *testing.T) {
	base, err := bus.EncodeEnvelope(fullEnvelope(), []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	with := func(set map[string]string) bus.Message { return base.WithHeaders(set) }
	tests := []struct {
		name  string
		msg   bus.Message
		opts  bus.DecodeOptions
		field string
	}{
		{"no id", with(map[string]string{"ce-id": ""}), bus.DecodeOptions{}, "ce-id"},
		{"id not a uuid", with(map[string]string{"ce-id": "order-1"}), bus.DecodeOptions{}, "ce-id"},
		{"id upper case", with(map[string]string{"ce-id": strings.ToUpper(testID)}), bus.DecodeOptions{}, "ce-id"},
		{"id in braces", with(map[string]string{"ce-id": "{" + testID + "}"}), bus.DecodeOptions{}, "ce-id"},
		{"id without dashes", with(map[string]string{"ce-id": strings.ReplaceAll(testID, "-", "")}), bus.DecodeOptions{}, "ce-id"},
		{"nil uuid", with(map[string]string{"ce-id": "00000000-0000-0000-0000-000000000000"}), bus.DecodeOptions{}, "ce-id"},
		{"no specversion", with(map[string]string{"ce-specversion": ""}), bus.DecodeOptions{}, "ce-specversion"},
		{"old specversion", with(map[string]string{"ce-specversion": "0.3"}), bus.DecodeOptions{}, "ce-specversion"},
		{"no source", with(map[string]string{"ce-source": ""}), bus.DecodeOptions{}, "ce-source"},
		{"no type", with(map[string]string{"ce-type": ""}), bus.DecodeOptions{}, "ce-type"},
		{"type with space", with(map[string]string{"ce-type": "a b"}), bus.DecodeOptions{}, "ce-type"},
		{"type with wildcard", with(map[string]string{"ce-type": "a.*"}), bus.DecodeOptions{}, "ce-type"},
		{"type with empty part", with(map[string]string{"ce-type": "a..b"}), bus.DecodeOptions{}, "ce-type"},
		{"type too long", with(map[string]string{"ce-type": strings.Repeat("a", 256)}), bus.DecodeOptions{}, "ce-type"},
		{"no time", with(map[string]string{"ce-time": ""}), bus.DecodeOptions{}, "ce-time"},
		{"time not rfc3339", with(map[string]string{"ce-time": "14/03/2025"}), bus.DecodeOptions{}, "ce-time"},
		{"time without zone", with(map[string]string{"ce-time": "2025-03-14T15:09:26"}), bus.DecodeOptions{}, "ce-time"},
		{"time with one-digit hour", with(map[string]string{"ce-time": "2025-03-14T5:09:26Z"}), bus.DecodeOptions{}, "ce-time"},
		{"time with lower-case t", with(map[string]string{"ce-time": "2025-03-14t15:09:26Z"}), bus.DecodeOptions{}, "ce-time"},
		{"time with empty fraction", with(map[string]string{"ce-time": "2025-03-14T15:09:26.Z"}), bus.DecodeOptions{}, "ce-time"},
		{"time with bad offset", with(map[string]string{"ce-time": "2025-03-14T15:09:26+0100"}), bus.DecodeOptions{}, "ce-time"},
		{"time out of range", with(map[string]string{"ce-time": "2025-13-14T15:09:26Z"}), bus.DecodeOptions{}, "ce-time"},
		{"zero time", with(map[string]string{"ce-time": "0001-01-01T00:00:00Z"}), bus.DecodeOptions{}, "ce-time"},
		{"invalid-headers without a name", with(map[string]string{"rampart-invalid-headers": " "}), bus.DecodeOptions{}, "rampart-invalid-headers"},
		{"bad content type", with(map[string]string{"content-type": "json;;"}), bus.DecodeOptions{}, "content-type"},
		{"attempt zero", with(map[string]string{"rampart-attempt": "0"}), bus.DecodeOptions{}, "rampart-attempt"},
		{"attempt negative", with(map[string]string{"rampart-attempt": "-1"}), bus.DecodeOptions{}, "rampart-attempt"},
		{"attempt with plus", with(map[string]string{"rampart-attempt": "+2"}), bus.DecodeOptions{}, "rampart-attempt"},
		{"attempt text", with(map[string]string{"rampart-attempt": "two"}), bus.DecodeOptions{}, "rampart-attempt"},
		{"attempt huge", with(map[string]string{"rampart-attempt": "99999999999999999999"}), bus.DecodeOptions{}, "rampart-attempt"},
		{"subject with newline", with(map[string]string{"ce-subject": "a\nb"}), bus.DecodeOptions{}, "ce-subject"},
		{"source not utf-8", with(map[string]string{"ce-source": "/\xff"}), bus.DecodeOptions{}, "ce-source"},
		{"correlation id too long", with(map[string]string{"ce-correlationid": strings.Repeat("c", 257)}), bus.DecodeOptions{}, "ce-correlationid"},
		{"header of the wrong type", with(map[string]string{"rampart-invalid-headers": "ce-subject:amqp091.Table"}), bus.DecodeOptions{}, "ce-subject"},
		{"body over the default limit", bus.Message{Headers: base.Headers, Body: make([]byte, bus.DefaultMaxBodySize+1)}, bus.DecodeOptions{}, "data"},
		{"body over a set limit", base, bus.DecodeOptions{MaxBodySize: 3}, "data"},
	}
	for _, tt := range tests {
		_, err := bus.DecodeEnvelope(tt.msg, tt.opts)
		var de *bus.DecodeError
		if !errors.As(err, &de) {
			t.Errorf("DecodeEnvelope(%s) error = %v, want a *DecodeError", tt.name, err)
			continue
		}
		if de.Field != tt.field {
			t.Errorf("DecodeEnvelope(%s) error field = %q, want %q (%v)", tt.name, de.Field, tt.field, err)
		}
		if !errors.Is(err, bus.ErrDecode) {
			t.Errorf("DecodeEnvelope(%s) error %v does not match ErrDecode", tt.name, err)
		}
		if !strings.HasPrefix(err.Error(), "bus: ") || !strings.Contains(err.Error(), `"`+tt.field+`"`) {
			t.Errorf("DecodeEnvelope(%s) error = %q, want it prefixed with \"bus: \" and naming %q", tt.name, err, tt.field)
		}
	}
}

func TestDecodeEnvelopeLimits(t *testing.T) {
	m, err := bus.EncodeEnvelope(fullEnvelope(), make([]byte, 10))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		limit int
		ok    bool
	}{{10, true}, {9, false}, {-1, true}, {0, true}} {
		_, err := bus.DecodeEnvelope(m, bus.DecodeOptions{MaxBodySize: tt.limit})
		if (err == nil) != tt.ok {
			t.Errorf("DecodeEnvelope(10-byte body, MaxBodySize %d) error = %v, want ok %v", tt.limit, err, tt.ok)
		}
	}
}

func TestDecodeEnvelopeTraceContext(t *testing.T) {
	tests := []struct {
		traceparent, tracestate string
		wantParent, wantState   string
	}{
		{testTraceParent, "a=1", testTraceParent, "a=1"},
		{"", "a=1", "", ""},
		{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "a=1", "", ""}, // upper case
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", "", "", ""},    // zero trace ID
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "", "", ""},    // zero parent ID
		{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "", "", ""},    // version ff
		{testTraceParent + "-extra", "", "", ""},                                   // version 00 has no more fields
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", "", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", ""},
		{"garbage", "", "", ""},
	}
	base, err := bus.EncodeEnvelope(bus.Envelope{ID: testID, Source: "/s", Type: "a.v1", Time: testTime}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		m := base.WithHeaders(map[string]string{"traceparent": tt.traceparent, "tracestate": tt.tracestate})
		e, err := bus.DecodeEnvelope(m, bus.DecodeOptions{})
		if err != nil {
			t.Errorf("DecodeEnvelope(traceparent %q) error = %v, want nil (a bad trace context is dropped)", tt.traceparent, err)
			continue
		}
		if e.TraceParent != tt.wantParent || e.TraceState != tt.wantState {
			t.Errorf("DecodeEnvelope(traceparent %q, tracestate %q) = %q, %q; want %q, %q",
				tt.traceparent, tt.tracestate, e.TraceParent, e.TraceState, tt.wantParent, tt.wantState)
		}
	}
}

func TestEncodeEnvelopeErrors(t *testing.T) {
	tests := []struct {
		name  string
		mod   func(*bus.Envelope)
		field string
	}{
		{"no id", func(e *bus.Envelope) { e.ID = "" }, "ce-id"},
		{"no time", func(e *bus.Envelope) { e.Time = time.Time{} }, "ce-time"},
		{"bad traceparent", func(e *bus.Envelope) { e.TraceParent = "x" }, "traceparent"},
		{"tracestate alone", func(e *bus.Envelope) { e.TraceParent = "" }, "tracestate"},
		{"negative attempt", func(e *bus.Envelope) { e.Attempt = -1 }, "rampart-attempt"},
		{"bad type", func(e *bus.Envelope) { e.Type = "a/b" }, "ce-type"},
	}
	for _, tt := range tests {
		e := fullEnvelope()
		tt.mod(&e)
		_, err := bus.EncodeEnvelope(e, nil)
		var de *bus.DecodeError
		if !errors.As(err, &de) || de.Field != tt.field {
			t.Errorf("EncodeEnvelope(%s) error = %v, want a *DecodeError for %q", tt.name, err, tt.field)
		}
	}
}

func TestHeaderText(t *testing.T) {
	tests := []struct {
		in   any
		want string
		ok   bool
	}{
		{"s", "s", true},
		{[]byte("b"), "b", true},
		{int32(3), "3", true},
		{int64(-4), "-4", true},
		{uint8(5), "5", true},
		{true, "true", true},
		{1.5, "1.5", true},
		{testTime, "2025-03-14T15:09:26.535897932Z", true},
		{map[string]any{"a": 1}, "", false},
		{[]any{1}, "", false},
		{nil, "", false},
	}
	for _, tt := range tests {
		got, ok := bus.HeaderText(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("HeaderText(%#v) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if got, want := bus.InvalidHeaders(map[string]any{"ce-id": map[string]any{}, "ce-type": nil}), "ce-id:map[string]interface {},ce-type:nil"; got != want {
		t.Errorf("InvalidHeaders = %q, want %q", got, want)
	}
}

func TestMessageWithHeaders(t *testing.T) {
	orig := bus.Message{Headers: map[string]string{"a": "1", "b": "2"}}
	got := orig.WithHeaders(map[string]string{"b": "", "c": "3"})
	if want := map[string]string{"a": "1", "c": "3"}; !maps.Equal(got.Headers, want) {
		t.Errorf("WithHeaders(b removed, c=3) = %v, want %v", got.Headers, want)
	}
	if want := map[string]string{"a": "1", "b": "2"}; !maps.Equal(orig.Headers, want) {
		t.Errorf("WithHeaders changed the original: %v, want %v", orig.Headers, want)
	}
}

func TestDeadLetterHeaders(t *testing.T) {
	dl := bus.DeadLetter{
		Reason:       bus.ReasonMaxAttempts,
		Error:        "boom",
		ErrorType:    "*errors.errorString",
		Subscription: "welcome-email",
		Attempts:     5,
		FirstFailure: testTime,
		LastFailure:  testTime.Add(time.Minute),
	}
	h := dl.Headers()
	want := map[string]string{
		"rampart-dlq-reason":        "max-attempts",
		"rampart-dlq-error":         "boom",
		"rampart-dlq-error-type":    "*errors.errorString",
		"rampart-dlq-subscription":  "welcome-email",
		"rampart-dlq-attempts":      "5",
		"rampart-dlq-first-failure": "2025-03-14T15:09:26.535897932Z",
		"rampart-dlq-last-failure":  "2025-03-14T15:10:26.535897932Z",
	}
	if !maps.Equal(h, want) {
		t.Errorf("DeadLetter.Headers() = %v, want %v", h, want)
	}
	got, err := bus.ParseDeadLetter(h)
	if err != nil {
		t.Fatal(err)
	}
	if got.Reason != dl.Reason || got.Error != dl.Error || got.ErrorType != dl.ErrorType || got.Subscription != dl.Subscription ||
		got.Attempts != dl.Attempts || !got.FirstFailure.Equal(dl.FirstFailure) || !got.LastFailure.Equal(dl.LastFailure) {
		t.Errorf("ParseDeadLetter(Headers(x)) = %+v, want %+v", got, dl)
	}
	long := bus.DeadLetter{Error: strings.Repeat("é", 1000)}.Headers()["rampart-dlq-error"]
	if len(long) > 1024 || !strings.HasPrefix(strings.Repeat("é", 1000), long) {
		t.Errorf("a long error text is %d bytes in the header, want it cut to at most 1024 at a rune boundary", len(long))
	}
	for _, bad := range []map[string]string{
		{"rampart-dlq-attempts": "x"},
		{"rampart-dlq-first-failure": "yesterday"},
	} {
		if _, err := bus.ParseDeadLetter(bad); !errors.Is(err, bus.ErrDecode) {
			t.Errorf("ParseDeadLetter(%v) error = %v, want ErrDecode", bad, err)
		}
	}
}
