package rabbitmq

import (
	"maps"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rampart-go/rampart/bus"
)

// delivered returns the delivery the broker makes of p: the same properties and
// table.
func delivered(p amqp.Publishing) amqp.Delivery {
	return amqp.Delivery{
		Headers: p.Headers, ContentType: p.ContentType, DeliveryMode: p.DeliveryMode, CorrelationId: p.CorrelationId,
		MessageId: p.MessageId, Timestamp: p.Timestamp, Type: p.Type, AppId: p.AppId, Body: p.Body,
		Exchange: "ex", RoutingKey: "rk",
	}
}

func envelopeMessage(t *testing.T, e bus.Envelope) bus.Message {
	t.Helper()
	id, err := bus.NewID()
	if err != nil {
		t.Fatal(err)
	}
	e.ID, e.Source, e.Type, e.Time = id, "/tests", "tests.thing-happened.v1", time.Now()
	m, err := bus.EncodeEnvelope(e, []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestPropertiesRoundTrip publishes messages as the transport does and reads
// them as its consumer does: the bus gets back exactly the message it published,
// while the envelope attributes that AMQP has a property for travel in the
// property, not in the header table.
func TestPropertiesRoundTrip(t *testing.T) {
	tr := &Transport{opts: Options{Name: "svc"}}
	full := envelopeMessage(t, bus.Envelope{DataContentType: "application/json", CorrelationID: "corr-1", CausationID: "cause-1",
		Subject: "customer-7", TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
	noID := bus.Message{ID: "id-1", Type: "tests.x.v1", Headers: map[string]string{"a": "b"}, Body: []byte("x")}
	long := full.WithHeaders(map[string]string{
		bus.HeaderCorrelationID: strings.Repeat("c", 256),
		bus.HeaderContentType:   "application/" + strings.Repeat("x", 250),
	})
	mismatched := full.WithHeaders(map[string]string{bus.HeaderID: "another-id", bus.HeaderType: "another.type.v1"})
	escaped := envelopeMessage(t, bus.Envelope{Subject: "a,b%c", PartitionKey: "%2C,,%"})
	escaped = escaped.WithHeaders(map[string]string{bus.HeaderSource: "/tests?x=1,2&y=%41", "x-custom": "v,1"})
	other := envelopeMessage(t, bus.Envelope{})
	other = other.WithHeaders(map[string]string{bus.HeaderSpecVersion: "2.0", bus.HeaderAttempt: "3"})
	longID := bus.Message{ID: strings.Repeat("i", 300), Type: "tests.x.v1", Headers: map[string]string{bus.HeaderID: strings.Repeat("i", 300)}}
	ts := func(m bus.Message) string { return "source=/tests,time=" + m.Headers[bus.HeaderTime] }
	cases := []struct {
		name                string
		m                   bus.Message
		props               map[string]string // property → value wanted
		compact             string            // the headerCompact wanted
		notInTable, inTable []string
	}{
		{"full envelope", full,
			map[string]string{"message-id": full.ID, "type": full.Type, "content-type": "application/json", "correlation-id": "corr-1"},
			ts(full) + ",subject=customer-7,causationid=cause-1",
			[]string{bus.HeaderID, bus.HeaderType, bus.HeaderContentType, bus.HeaderCorrelationID,
				bus.HeaderSpecVersion, bus.HeaderSource, bus.HeaderTime, bus.HeaderAttempt, bus.HeaderCausationID, bus.HeaderSubject},
			[]string{bus.HeaderTraceParent}},
		{"values with the list's separator and escape", escaped,
			map[string]string{"message-id": escaped.ID},
			"source=/tests?x=1%2C2&y=%2541,time=" + escaped.Headers[bus.HeaderTime] + ",subject=a%2Cb%25c,partitionkey=%252C%2C%2C%25",
			[]string{bus.HeaderSource, bus.HeaderSubject, bus.HeaderPartitionKey}, []string{"x-custom"}},
		{"no envelope headers", noID,
			map[string]string{"message-id": "id-1", "type": "tests.x.v1"},
			"id,type,specversion",
			[]string{bus.HeaderID, bus.HeaderType}, []string{"a"}},
		{"other attempt and specversion", other,
			map[string]string{"message-id": other.ID},
			"specversion=2.0," + ts(other) + ",attempt=3",
			[]string{bus.HeaderSpecVersion, bus.HeaderAttempt}, nil},
		{"too long for a property", long,
			map[string]string{"message-id": full.ID, "content-type": "", "correlation-id": ""},
			ts(full) + ",subject=customer-7,causationid=cause-1",
			[]string{bus.HeaderID, bus.HeaderType}, []string{bus.HeaderCorrelationID, bus.HeaderContentType}},
		{"headers that differ from the ID and type", mismatched,
			map[string]string{"message-id": full.ID, "type": full.Type},
			ts(full) + ",subject=customer-7,causationid=cause-1",
			[]string{bus.HeaderContentType, bus.HeaderCorrelationID}, []string{bus.HeaderID, bus.HeaderType}},
		{"ID too long for message-id", longID,
			map[string]string{"message-id": "", "type": "tests.x.v1"},
			"type,specversion",
			nil, []string{bus.HeaderID}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := tr.publishing(c.m, 0)
			got := map[string]string{"message-id": p.MessageId, "type": p.Type, "content-type": p.ContentType, "correlation-id": p.CorrelationId}
			for k, want := range c.props {
				if got[k] != want {
					t.Errorf("property %s = %q, want %q", k, got[k], want)
				}
			}
			if got, ok := p.Headers[headerCompact].(string); got != c.compact || !ok {
				t.Errorf("header table has %s = %q, want %q", headerCompact, got, c.compact)
			}
			for _, k := range c.notInTable {
				if _, ok := p.Headers[k]; ok {
					t.Errorf("header table has %s = %v, want it carried by its property", k, p.Headers[k])
				}
			}
			for _, k := range c.inTable {
				if _, ok := p.Headers[k]; !ok {
					t.Errorf("header table lacks %s", k)
				}
			}
			if p.AppId != "svc" || p.DeliveryMode != amqp.Persistent {
				t.Errorf("app-id, delivery mode = %q, %d; want svc, persistent", p.AppId, p.DeliveryMode)
			}
			d := delivered(p)
			back, o := message(&d)
			if back.ID != c.m.ID && !(len(c.m.ID) > maxShortstr && back.ID == c.m.Headers[bus.HeaderID]) {
				t.Errorf("ID = %q, want %q", back.ID, c.m.ID)
			}
			if back.Type != c.m.Type || back.Key != c.m.Key || string(back.Body) != string(c.m.Body) {
				t.Errorf("read back type %q key %q body %q, want %q %q %q", back.Type, back.Key, back.Body, c.m.Type, c.m.Key, c.m.Body)
			}
			if !maps.Equal(back.Headers, c.m.Headers) {
				t.Errorf("headers read back = %v\nwant %v", back.Headers, c.m.Headers)
			}
			if o.exchange != "ex" || o.routingKey != "rk" {
				t.Errorf("origin = %+v, want the delivery's exchange and routing key", o)
			}
		})
	}
}

// TestMessageReadsCompactEntries reads compact headers that this transport
// does not make: a malformed escape is passed on as sent (for the bus's decoder
// to judge), an entry the table has too keeps the table's value, unknown and
// empty entries are skipped, a bare name is an absent header.
func TestMessageReadsCompactEntries(t *testing.T) {
	implied := map[string]string{bus.HeaderID: "id-1", bus.HeaderType: "tests.x.v1", bus.HeaderContentType: "application/json",
		bus.HeaderSpecVersion: "1.0"}
	with := func(kv ...string) map[string]string {
		m := maps.Clone(implied)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "-" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	cases := []struct {
		name  string
		table amqp.Table
		want  map[string]string
	}{
		{"nothing listed", amqp.Table{headerCompact: ""}, implied},
		{"malformed escape", amqp.Table{headerCompact: "source=/a%zz,subject=50%,time=%4"},
			with(bus.HeaderSource, "/a%zz", bus.HeaderSubject, "50%", bus.HeaderTime, "%4")},
		{"table wins", amqp.Table{headerCompact: "source=/packed,subject=s%2C1,attempt=2", bus.HeaderSource: "/table", bus.HeaderAttempt: "5"},
			with(bus.HeaderSource, "/table", bus.HeaderSubject, "s,1", bus.HeaderAttempt, "5")},
		{"unknown and empty entries", amqp.Table{headerCompact: ",unknown,,=x,ce-source=/x,source"}, implied},
		{"bare names", amqp.Table{headerCompact: "id,datacontenttype,specversion,attempt,correlationid"},
			with(bus.HeaderID, "-", bus.HeaderContentType, "-", bus.HeaderSpecVersion, "-")},
		{"the form before", amqp.Table{headerProps: "ce-id,ce-type,content-type", bus.HeaderSpecVersion: "1.0", bus.HeaderSource: "/old"},
			with(bus.HeaderSource, "/old")},
		{"a compact header that is not text", amqp.Table{headerCompact: int32(1)},
			map[string]string{bus.HeaderInvalid: headerCompact + ":int32"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := amqp.Delivery{Headers: c.table, MessageId: "id-1", Type: "tests.x.v1", ContentType: "application/json"}
			m, _ := message(&d)
			if !maps.Equal(m.Headers, c.want) {
				t.Errorf("headers = %v\nwant %v", m.Headers, c.want)
			}
		})
	}
}

// TestMessageReadsTheOldForm reads messages published before the envelope went
// into properties: every header in the table, message-id, type and content-type
// set too. The bus sees the same headers as from the new form.
func TestMessageReadsTheOldForm(t *testing.T) {
	m := envelopeMessage(t, bus.Envelope{DataContentType: "application/json", CorrelationID: "corr-1"})
	table := amqp.Table{}
	for k, v := range m.Headers {
		table[k] = v
	}
	d := amqp.Delivery{Headers: table, MessageId: m.ID, Type: m.Type, ContentType: "application/json", AppId: "svc", Body: m.Body}
	got, _ := message(&d)
	if !maps.Equal(got.Headers, m.Headers) || got.ID != m.ID || got.Type != m.Type {
		t.Errorf("old form read as %s %s %v\nwant %s %s %v", got.ID, got.Type, got.Headers, m.ID, m.Type, m.Headers)
	}
	// The new form of the same message reads the same.
	tr := &Transport{opts: Options{Name: "svc"}}
	nd := delivered(tr.publishing(m, 0))
	if len(nd.Headers) >= len(table) {
		t.Errorf("new form has %d table entries, the old %d; want fewer", len(nd.Headers), len(table))
	}
	got2, _ := message(&nd)
	if !maps.Equal(got2.Headers, got.Headers) {
		t.Errorf("new form read as %v, old form as %v", got2.Headers, got.Headers)
	}
}

// TestMessageFromForeignProperties reads a message of another publisher that
// sets the properties for reasons of its own (Spring's content_type text/plain
// on a string, an RPC's correlation_id): without the transport's marker, they
// are not read as envelope headers; the bus sees the table, as before the
// envelope went into properties. ID and type come from message-id and type.
func TestMessageFromForeignProperties(t *testing.T) {
	d := amqp.Delivery{
		Headers:   amqp.Table{"a": "b", "x-death": []any{}},
		MessageId: "m-1", Type: "orders.placed.v1", ContentType: "text/plain", CorrelationId: "c-1",
	}
	got, _ := message(&d)
	if want := map[string]string{"a": "b"}; !maps.Equal(got.Headers, want) {
		t.Errorf("headers = %v, want %v (no envelope headers from the properties)", got.Headers, want)
	}
	if got.ID != "m-1" || got.Type != "orders.placed.v1" {
		t.Errorf("ID, type = %q, %q; want m-1, orders.placed.v1", got.ID, got.Type)
	}
	// A content-type header of the publisher's is read as it is.
	d.Headers = amqp.Table{bus.HeaderContentType: "application/json"}
	if got, _ := message(&d); !maps.Equal(got.Headers, map[string]string{bus.HeaderContentType: "application/json"}) {
		t.Errorf("headers = %v, want the table's content-type only", got.Headers)
	}
}

// TestMessageReadsListedPropertiesOnly: the marker names the properties that are
// headers, and only those; it is not a header the bus sees; a header in the
// table takes precedence.
func TestMessageReadsListedPropertiesOnly(t *testing.T) {
	d := amqp.Delivery{
		Headers:   amqp.Table{headerProps: bus.HeaderID + "," + bus.HeaderCorrelationID, "a": "b"},
		MessageId: "m-1", Type: "orders.placed.v1", ContentType: "text/plain", CorrelationId: "c-1",
	}
	got, _ := message(&d)
	want := map[string]string{"a": "b", bus.HeaderID: "m-1", bus.HeaderCorrelationID: "c-1"}
	if !maps.Equal(got.Headers, want) {
		t.Errorf("headers = %v, want %v", got.Headers, want)
	}
	// A header of the wrong type is listed as invalid, not replaced by the property.
	d = amqp.Delivery{Headers: amqp.Table{headerProps: bus.HeaderID, bus.HeaderID: amqp.Table{}}, MessageId: "m-1"}
	got, _ = message(&d)
	if _, ok := got.Headers[bus.HeaderID]; ok || !strings.HasPrefix(got.Headers[bus.HeaderInvalid], bus.HeaderID+":") {
		t.Errorf("headers = %v, want ce-id listed in %s and not set", got.Headers, bus.HeaderInvalid)
	}
	// A marker among the headers handed to publishing (an imported message's) is
	// not the table's: the table lists what this publishing moved.
	tr := &Transport{opts: Options{Name: "svc"}}
	p := tr.publishing(bus.Message{ID: "m-2", Type: "t.v1", Headers: map[string]string{headerProps: bus.HeaderCorrelationID, "a": "b"}}, 0)
	if _, ok := p.Headers[headerProps]; ok {
		t.Errorf("table = %v, want no %s (nothing moved)", p.Headers, headerProps)
	}
	d = delivered(p)
	if got, _ := message(&d); !maps.Equal(got.Headers, map[string]string{"a": "b"}) {
		t.Errorf("read back %v, want a=b only", got.Headers)
	}
}

// TestEnvelopeInTable publishes with Options.EnvelopeInTable: every header in
// the table, as consumers of earlier versions read them, and the same message
// read back.
func TestEnvelopeInTable(t *testing.T) {
	tr := &Transport{opts: Options{Name: "svc", EnvelopeInTable: true}}
	m := envelopeMessage(t, bus.Envelope{DataContentType: "application/json", CorrelationID: "corr-1"})
	p := tr.publishing(m, 0)
	for k, v := range m.Headers {
		if p.Headers[k] != v {
			t.Errorf("table %s = %v, want %q", k, p.Headers[k], v)
		}
	}
	if len(p.Headers) != len(m.Headers) {
		t.Errorf("table = %v, want exactly the headers %v (no %s)", p.Headers, m.Headers, headerProps)
	}
	if p.MessageId != m.ID || p.Type != m.Type || p.ContentType != "application/json" || p.CorrelationId != "corr-1" {
		t.Errorf("properties %q %q %q %q, want the envelope's", p.MessageId, p.Type, p.ContentType, p.CorrelationId)
	}
	d := delivered(p)
	if got, _ := message(&d); !maps.Equal(got.Headers, m.Headers) {
		t.Errorf("read back %v, want %v", got.Headers, m.Headers)
	}
}

// FuzzCompactRoundTrip publishes messages whose envelope headers hold any text
// (a value of "\x00" leaves the header out), and whose ID and type may differ
// from their headers or not fit a property, and reads them back: the bus gets
// exactly the headers it published.
func FuzzCompactRoundTrip(f *testing.F) {
	f.Add("id-1", "tests.x.v1", "id-1", "tests.x.v1", "application/json", "c-1", "/tests", "customer-7", "2", "1.0")
	f.Add("id-1", "tests.x.v1", "\x00", "other.v1", "", "\x00", "/a,b%2C", "%", ",,", "")
	f.Add("", "t", "x=y,z", "", "\x00", "%zz", "", "x=y,z", "\x00", "2.0")
	tr := &Transport{opts: Options{Name: "svc"}}
	f.Fuzz(func(t *testing.T, id, typ, idH, typeH, ct, corr, source, subject, attempt, spec string) {
		h := map[string]string{"x": "y"}
		for k, v := range map[string]string{bus.HeaderID: idH, bus.HeaderType: typeH, bus.HeaderContentType: ct,
			bus.HeaderCorrelationID: corr, bus.HeaderSource: source, bus.HeaderSubject: subject,
			bus.HeaderAttempt: attempt, bus.HeaderSpecVersion: spec} {
			if v != "\x00" {
				h[k] = v
			}
		}
		m := bus.Message{ID: id, Type: typ, Headers: h}
		d := delivered(tr.publishing(m, 0))
		back, _ := message(&d)
		if !maps.Equal(back.Headers, m.Headers) {
			t.Errorf("read back %q\nwant %q (compact %q, table %v)", back.Headers, m.Headers, d.Headers[headerCompact], d.Headers)
		}
		if len(id) <= maxShortstr && id != "" && back.ID != id {
			t.Errorf("ID read back %q, want %q", back.ID, id)
		}
	})
}

// FuzzMessage reads deliveries with any compact header and properties: no
// panic, and the compact header is never among the headers the bus sees.
func FuzzMessage(f *testing.F) {
	f.Add("source=/a,time=2026-01-01T00:00:00Z,attempt=2", "id-1", "t.v1", "application/json", "c")
	f.Add(",,=,%,%zz,specversion,id,type=", "", "", "", "")
	f.Fuzz(func(t *testing.T, compact, id, typ, ct, corr string) {
		d := amqp.Delivery{Headers: amqp.Table{headerCompact: compact, "a": "b"}, MessageId: id, Type: typ, ContentType: ct, CorrelationId: corr}
		m, _ := message(&d)
		if _, ok := m.Headers[headerCompact]; ok {
			t.Errorf("headers %v have %s", m.Headers, headerCompact)
		}
		if m.Headers["a"] != "b" {
			t.Errorf("headers %v lost the table's a=b", m.Headers)
		}
	})
}
