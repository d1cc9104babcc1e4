package bus_test

import (
	"context"
	"testing"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/memory"
)

type benchPublished struct {
	ID     string `json:"id"`
	Amount int    `json:"amount"`
}

// BenchmarkPublish measures the bus's share of Publish: typing, encoding and the
// envelope, on a transport that confirms at once (see BenchmarkConsume in
// bus/memory for the memory transport end to end).
func BenchmarkPublish(b *testing.B) {
	bs, err := bus.New(anyTransport, bus.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer bs.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := bs.Publish(ctx, benchPublished{ID: "x", Amount: i}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeEnvelope measures encoding (and validating) one envelope.
func BenchmarkEncodeEnvelope(b *testing.B) {
	id, _ := bus.NewID()
	bs, err := bus.New(memory.New(), bus.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer bs.Close()
	m, err := bs.Encode(context.Background(), benchPublished{ID: "x"}, bus.WithID(id), bus.WithSubject("s"))
	if err != nil {
		b.Fatal(err)
	}
	e, err := bus.DecodeEnvelope(m, bus.DecodeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bus.EncodeEnvelope(e, m.Body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeEnvelope measures reading and validating the envelope of a
// published message.
func BenchmarkDecodeEnvelope(b *testing.B) {
	bs, err := bus.New(anyTransport, bus.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer bs.Close()
	m, err := bs.Encode(context.Background(), benchPublished{ID: "x"}, bus.WithSubject("s"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bus.DecodeEnvelope(m, bus.DecodeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
