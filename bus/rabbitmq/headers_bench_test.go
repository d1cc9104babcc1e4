package rabbitmq

import (
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
)

// BenchmarkHeaders measures the transport's own work on an envelope: making the
// AMQP message of a published one, and the bus's message of a delivered one.
func BenchmarkHeaders(b *testing.B) {
	id, err := bus.NewID()
	if err != nil {
		b.Fatal(err)
	}
	m, err := bus.EncodeEnvelope(bus.Envelope{ID: id, Source: "/bench", Type: "bench.customer-created.v1", Time: time.Now(),
		DataContentType: "application/json"}, []byte(`{"n":1}`))
	if err != nil {
		b.Fatal(err)
	}
	tr := &Transport{opts: Options{Name: "bench"}}
	b.Run("publishing", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = tr.publishing(m, 0)
		}
	})
	b.Run("message", func(b *testing.B) {
		d := delivered(tr.publishing(m, 0))
		b.ReportAllocs()
		for b.Loop() {
			_, _ = message(&d)
		}
	})
}
