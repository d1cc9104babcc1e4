package jetstream

import (
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
)

// benchMessage is a message as the bus publishes it for an event that starts a
// conversation: the correlation ID is the event ID.
func benchMessage(b *testing.B) bus.Message {
	b.Helper()
	id, err := bus.NewID()
	if err != nil {
		b.Fatal(err)
	}
	m, err := bus.EncodeEnvelope(bus.Envelope{ID: id, Source: "/bench", Type: "bench.customer-created.v1",
		Time: time.Date(2026, 11, 27, 14, 55, 0, 123456789, time.UTC), DataContentType: "application/json",
		CorrelationID: id, Subject: "c-000123"}, []byte(`{"customer_id":"c-000123"}`))
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func BenchmarkPublishMsg(b *testing.B) {
	tr := &Transport{names: newNames("rampart")}
	m := benchMessage(b)
	b.ReportAllocs()
	for b.Loop() {
		tr.publishMsg(m)
	}
}

// BenchmarkToMessagePublished reads the header that publishMsg makes.
func BenchmarkToMessagePublished(b *testing.B) {
	tr := &Transport{names: newNames("rampart")}
	m := benchMessage(b)
	nm := tr.publishMsg(m)
	b.ReportAllocs()
	for b.Loop() {
		tr.toMessage(nm.Subject, nm.Header, nm.Data)
	}
}
