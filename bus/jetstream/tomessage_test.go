package jetstream

import (
	"maps"
	"strconv"
	"testing"
	"unsafe"

	"github.com/nats-io/nats.go"

	"github.com/rampart-go/rampart/bus"
)

// compactNATSHeader is a message's NATS header in the compact form, as
// publishMsg stores it: five envelope headers, Nats-Msg-Id and the marker.
func compactNATSHeader() nats.Header {
	return nats.Header{
		bus.HeaderSource:        {"/test"},
		bus.HeaderTime:          {"2026-01-02T03:04:05Z"},
		bus.HeaderContentType:   {"application/json"},
		bus.HeaderCorrelationID: {"id-1"},
		bus.HeaderSubject:       {"customer-7"},
		"Nats-Msg-Id":           {"id-1"},
		compactHeader:           {"1"},
	}
}

// ceNATSHeader is the NATS header of the message of compactNATSHeader in the
// compact form of ceHeader, as publishMsg stores it: Nats-Msg-Id and ceHeader.
func ceNATSHeader() nats.Header {
	return nats.Header{
		"Nats-Msg-Id": {"id-1"},
		ceHeader:      {"source=/test,time=2026-01-02T03:04:05Z,datacontenttype=application/json,correlationid,subject=customer-7"},
	}
}

// manyHeaders returns n headers "x-<i>" with a value each.
func manyHeaders(n int) nats.Header {
	h := make(nats.Header, n)
	for i := range n {
		h["x-"+strconv.Itoa(i)] = []string{"v" + strconv.Itoa(i)}
	}
	return h
}

// withHeaders returns h with more headers.
func withHeaders(h nats.Header, more nats.Header) nats.Header {
	h = maps.Clone(h)
	maps.Copy(h, more)
	return h
}

func TestToMessage(t *testing.T) {
	tr := &Transport{names: newNames("rampart")}
	const typ = "test.thing-done.v1"
	events := tr.names.eventSubject(typ)
	compactWant := map[string]string{
		bus.HeaderSource:        "/test",
		bus.HeaderTime:          "2026-01-02T03:04:05Z",
		bus.HeaderContentType:   "application/json",
		bus.HeaderCorrelationID: "id-1",
		bus.HeaderSubject:       "customer-7",
		bus.HeaderSpecVersion:   bus.SpecVersion,
		bus.HeaderType:          typ,
		bus.HeaderID:            "id-1",
	}
	full := nats.Header{
		bus.HeaderSpecVersion:  {bus.SpecVersion},
		bus.HeaderID:           {"id-2"},
		bus.HeaderType:         {typ},
		bus.HeaderSource:       {"/test"},
		bus.HeaderPartitionKey: {"p-1"},
		bus.HeaderSubject:      {"customer-7"},
		"Nats-Msg-Id":          {"id-2"},
	}
	fullWant := map[string]string{
		bus.HeaderSpecVersion:  bus.SpecVersion,
		bus.HeaderID:           "id-2",
		bus.HeaderType:         typ,
		bus.HeaderSource:       "/test",
		bus.HeaderPartitionKey: "p-1",
		bus.HeaderSubject:      "customer-7",
	}
	many := func(n int) map[string]string {
		m := make(map[string]string, n)
		for k, v := range manyHeaders(n) {
			m[k] = v[0]
		}
		return m
	}
	tests := []struct {
		name    string
		subject string
		h       nats.Header
		want    map[string]string
		id, key string
	}{
		{"nil header", events, nil, map[string]string{}, "", ""},
		{"no header", events, nats.Header{}, map[string]string{}, "", ""},
		{"only Nats-Msg-Id", events, nats.Header{"Nats-Msg-Id": {"x"}}, map[string]string{}, "", ""},
		{"7 headers", events, manyHeaders(7), many(7), "", ""},
		{"8 headers", events, manyHeaders(8), many(8), "", ""},
		{"9 headers", events, manyHeaders(9), many(9), "", ""},
		{"40 headers", events, manyHeaders(40), many(40), "", ""},
		{"8 headers and Nats-Msg-Id", events, withHeaders(manyHeaders(8), nats.Header{"Nats-Msg-Id": {"x"}}), many(8), "", ""},
		{"compact", events, compactNATSHeader(), compactWant, "id-1", "customer-7"},
		{"compact with more headers", events,
			withHeaders(compactNATSHeader(), nats.Header{"x-a": {"a"}, "X-Mixed": {"b"}, "Nats-Other": {"c"}}),
			withStrings(compactWant, map[string]string{"x-a": "a", "X-Mixed": "b"}), "id-1", "customer-7"},
		{"compact without Nats-Msg-Id", events,
			withoutKey(compactNATSHeader(), "Nats-Msg-Id"),
			withoutString(compactWant, bus.HeaderID), "", "customer-7"},
		{"compact marker not 1", events,
			withHeaders(compactNATSHeader(), nats.Header{compactHeader: {"2"}}),
			withStrings(withoutString(withoutString(withoutString(compactWant, bus.HeaderID), bus.HeaderType), bus.HeaderSpecVersion),
				map[string]string{compactHeader: "2"}), "", "customer-7"},
		{"compact marker outside the events stream", "rampart.dlq.sub", compactNATSHeader(),
			withStrings(withoutString(withoutString(withoutString(compactWant, bus.HeaderID), bus.HeaderType), bus.HeaderSpecVersion),
				map[string]string{compactHeader: "1"}), "", "customer-7"},
		{"ce", events, ceNATSHeader(), compactWant, "id-1", "customer-7"},
		{"ce with more headers", events,
			withHeaders(ceNATSHeader(), nats.Header{"x-a": {"a"}, "X-Mixed": {"b"}, "Nats-Other": {"c"}}),
			withStrings(compactWant, map[string]string{"x-a": "a", "X-Mixed": "b"}), "id-1", "customer-7"},
		{"ce without Nats-Msg-Id", events,
			nats.Header{ceHeader: {"source=/test,correlationid=c-1"}},
			map[string]string{bus.HeaderSpecVersion: bus.SpecVersion, bus.HeaderType: typ, bus.HeaderSource: "/test", bus.HeaderCorrelationID: "c-1"},
			"", ""},
		{"ce empty", events, nats.Header{"Nats-Msg-Id": {"id-3"}, ceHeader: {""}},
			map[string]string{bus.HeaderSpecVersion: bus.SpecVersion, bus.HeaderType: typ, bus.HeaderID: "id-3"}, "id-3", ""},
		{"ce with an id entry", events,
			nats.Header{"Nats-Msg-Id": {"id 4"}, ceHeader: {"id=%20id%0A4%20,correlationid,partitionkey=p%2C1"}},
			map[string]string{bus.HeaderSpecVersion: bus.SpecVersion, bus.HeaderType: typ, bus.HeaderID: " id\n4 ",
				bus.HeaderCorrelationID: " id\n4 ", bus.HeaderPartitionKey: "p,1"}, " id\n4 ", "p,1"},
		{"ce and the old marker", events, withHeaders(ceNATSHeader(), nats.Header{compactHeader: {"1"}}),
			withStrings(compactWant, map[string]string{compactHeader: "1"}), "id-1", "customer-7"},
		{"ce outside the events stream", "rampart.dlq.sub", ceNATSHeader(),
			map[string]string{ceHeader: ceNATSHeader()[ceHeader][0]}, "", ""},
		{"multi-valued ce", events, withHeaders(ceNATSHeader(), nats.Header{ceHeader: {"source=/a", "source=/b"}}),
			map[string]string{bus.HeaderInvalid: ceHeader + ":[]string"}, "", ""},
		{"full", events, full, fullWant, "id-2", "p-1"},
		{"multi-valued", events,
			withHeaders(full, nats.Header{"x-two": {"a", "b"}, "x-three": {"a", "b", "c"}, "x-none": {}}),
			withStrings(fullWant, map[string]string{bus.HeaderInvalid: "x-three:[]string,x-two:[]string"}), "id-2", "p-1"},
		{"multi-valued compact marker", events,
			withHeaders(compactNATSHeader(), nats.Header{compactHeader: {"1", "1"}}),
			withStrings(withoutString(withoutString(withoutString(compactWant, bus.HeaderID), bus.HeaderType), bus.HeaderSpecVersion),
				map[string]string{bus.HeaderInvalid: compactHeader + ":[]string"}), "", "customer-7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(`{"n":1}`)
			m := tr.toMessage(tt.subject, tt.h, body)
			if !maps.Equal(m.Headers, tt.want) {
				t.Errorf("toMessage(%s).Headers =\n%v\nwant\n%v", tt.name, m.Headers, tt.want)
			}
			if m.Headers == nil {
				t.Errorf("toMessage(%s).Headers = nil, want a map", tt.name)
			}
			wantType := typ
			if tt.subject != events {
				wantType = tt.subject
			}
			if m.ID != tt.id || m.Type != wantType || m.Key != tt.key || string(m.Body) != string(body) {
				t.Errorf("toMessage(%s) = {ID %q Type %q Key %q Body %s}, want {%q %q %q %s}",
					tt.name, m.ID, m.Type, m.Key, m.Body, tt.id, wantType, tt.key, body)
			}
		})
	}
}

func withStrings(m, more map[string]string) map[string]string {
	m = maps.Clone(m)
	maps.Copy(m, more)
	return m
}

func withoutString(m map[string]string, k string) map[string]string {
	m = maps.Clone(m)
	delete(m, k)
	return m
}

func withoutKey(h nats.Header, k string) nats.Header {
	h = maps.Clone(h)
	delete(h, k)
	return h
}

// TestToMessageAllocations checks that a message in either compact form —
// eight bus headers — costs a small map (one group) and nothing else.
func TestToMessageAllocations(t *testing.T) {
	tr := &Transport{names: newNames("rampart")}
	subject := tr.names.eventSubject("test.thing-done.v1")
	body := []byte(`{}`)
	for _, c := range []struct {
		name string
		h    nats.Header
	}{{"compact", compactNATSHeader()}, {"ce", ceNATSHeader()}} {
		var sink bus.Message
		allocs := testing.AllocsPerRun(100, func() { sink = tr.toMessage(subject, c.h, body) })
		if len(sink.Headers) != 8 {
			t.Fatalf("toMessage(%s) has %d headers, want 8", c.name, len(sink.Headers))
		}
		// A map of at most eight entries: the map and its one group.
		if allocs > 2 {
			t.Errorf("toMessage(%s) allocates %v times, want at most 2", c.name, allocs)
		}
	}
}

func BenchmarkToMessage(b *testing.B) {
	tr := &Transport{names: newNames("rampart")}
	subject := tr.names.eventSubject("test.thing-done.v1")
	body := []byte(`{}`)
	full := withoutKey(compactNATSHeader(), compactHeader)
	full[bus.HeaderSpecVersion] = []string{bus.SpecVersion}
	full[bus.HeaderID] = []string{"id-1"}
	full[bus.HeaderType] = []string{"test.thing-done.v1"}
	for _, c := range []struct {
		name string
		h    nats.Header
	}{{"ce", ceNATSHeader()}, {"compact", compactNATSHeader()}, {"full", full}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tr.toMessage(subject, c.h, body)
			}
		})
	}
}

// TestDeliverySize keeps the delivery, allocated for every message, in the
// 144-byte size class.
func TestDeliverySize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes are those of 64-bit platforms")
	}
	if got := unsafe.Sizeof(delivery{}); got > 144 {
		t.Errorf("unsafe.Sizeof(delivery{}) = %d, want at most 144", got)
	}
}
