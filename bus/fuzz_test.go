package bus_test

import (
	"errors"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
)

// FuzzDecodeEnvelope feeds the decoder arbitrary header values and bodies. It must
// never panic; every error must be a *DecodeError that names a field and matches
// ErrDecode; and whatever it accepts must encode and decode to the same envelope.
func FuzzDecodeEnvelope(f *testing.F) {
	f.Add("1.0", testID, "/customers", "customers.customer-created.v1", "2025-03-14T15:09:26.5Z", "customer-42", "application/json", "3", testTraceParent, "", []byte(`{"a":1}`))
	f.Add("1.0", "not-a-uuid", "", "a b", "yesterday", "a\nb", "json;;", "0", "garbage", "ce-id:int", []byte{})
	f.Add("0.3", testID, "/s", "a..b", "2025-03-14T15:09:26+01:00", "", "", "", "", "", []byte(nil))
	f.Add("1.0", testID, "/s", "a.v1", "2025-03-14T15:09:26Z", "\xff", "text/plain; charset=utf-8", "1000001", "", "", []byte("x"))
	f.Fuzz(func(t *testing.T, spec, id, source, typ, tm, subject, ct, attempt, tp, invalid string, body []byte) {
		h := map[string]string{}
		for k, v := range map[string]string{
			bus.HeaderSpecVersion: spec, bus.HeaderID: id, bus.HeaderSource: source, bus.HeaderType: typ,
			bus.HeaderTime: tm, bus.HeaderSubject: subject, bus.HeaderContentType: ct, bus.HeaderAttempt: attempt,
			bus.HeaderTraceParent: tp, bus.HeaderInvalid: invalid,
		} {
			if v != "" {
				h[k] = v
			}
		}
		m := bus.Message{Headers: h, Body: body}
		e, err := bus.DecodeEnvelope(m, bus.DecodeOptions{MaxBodySize: 64})
		if err != nil {
			var de *bus.DecodeError
			if !errors.As(err, &de) || de.Field == "" || !errors.Is(err, bus.ErrDecode) {
				t.Fatalf("DecodeEnvelope error = %#v, want a *DecodeError naming a field", err)
			}
			return
		}
		if e.Attempt < 1 || e.ID != id || e.Type != typ || e.SpecVersion != "1.0" || e.Time.IsZero() {
			t.Fatalf("DecodeEnvelope accepted %v as %+v", h, e)
		}
		m2, err := bus.EncodeEnvelope(e, body)
		if err != nil {
			t.Fatalf("EncodeEnvelope(DecodeEnvelope(%v)) error = %v", h, err)
		}
		e2, err := bus.DecodeEnvelope(m2, bus.DecodeOptions{MaxBodySize: 64})
		if err != nil {
			t.Fatalf("DecodeEnvelope(EncodeEnvelope(%+v)) error = %v", e, err)
		}
		if !e2.Time.Equal(e.Time) {
			t.Fatalf("time %s came back as %s", e.Time, e2.Time)
		}
		e.Time, e2.Time = time.Time{}, time.Time{}
		if e != e2 {
			t.Fatalf("round trip changed the envelope: %+v, then %+v", e, e2)
		}
	})
}
