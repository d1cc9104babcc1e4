package jetstream

import (
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rampart-go/rampart/bus"
)

// natsWire carries NATS messages through the local server, so that their
// headers go through nats.go's encoding and decoding as they do on the events
// stream (values trimmed, line breaks replaced).
type natsWire struct {
	nc  *nats.Conn
	sub *nats.Subscription
}

func newNATSWire(t testing.TB) *natsWire {
	t.Helper()
	nc, err := nats.Connect(externalURL(t))
	if err != nil {
		t.Fatalf("connecting to NATS: %v", err)
	}
	t.Cleanup(nc.Close)
	sub, err := nc.SubscribeSync(nats.NewInbox())
	if err != nil {
		t.Fatal(err)
	}
	return &natsWire{nc: nc, sub: sub}
}

// carry publishes m and returns the header of the copy received.
func (w *natsWire) carry(t testing.TB, m *nats.Msg) nats.Header {
	t.Helper()
	if err := w.nc.PublishMsg(&nats.Msg{Subject: w.sub.Subject, Header: m.Header, Data: m.Data}); err != nil {
		t.Fatalf("publishing %v: %v", m.Header, err)
	}
	got, err := w.sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("receiving %v: %v", m.Header, err)
	}
	return got.Header
}

func envelopeMsg(t testing.TB, e bus.Envelope) bus.Message {
	t.Helper()
	if e.ID == "" {
		id, err := bus.NewID()
		if err != nil {
			t.Fatal(err)
		}
		e.ID = id
	}
	e.Source, e.Type, e.Time = "/tests", "tests.thing-happened.v1", time.Date(2026, 11, 27, 14, 55, 0, 123456789, time.UTC)
	m, err := bus.EncodeEnvelope(e, []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCompactRoundTrip publishes messages as Publish does, through the NATS
// server, and reads them as a consumer does: the bus gets back exactly the
// headers published, the envelope in Nats-Msg-Id and ceHeader alone, every
// other header a NATS header of its own.
func TestCompactRoundTrip(t *testing.T) {
	w := newNATSWire(t)
	tr := &Transport{names: newNames("rampart")}
	starts := envelopeMsg(t, bus.Envelope{DataContentType: "application/json", Subject: "customer-7"})
	starts = starts.WithHeaders(map[string]string{bus.HeaderCorrelationID: starts.ID})
	full := envelopeMsg(t, bus.Envelope{DataContentType: "application/json", CorrelationID: "corr-1", CausationID: "cause-1",
		Subject: "customer-7", PartitionKey: "p-1", Attempt: 3,
		TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", TraceState: "k=v"})
	full = full.WithHeaders(map[string]string{"x-custom": "kept"})
	awkward := envelopeMsg(t, bus.Envelope{}).WithHeaders(map[string]string{
		bus.HeaderSource:        "/a,b%2C,%",
		bus.HeaderSubject:       "line one\r\nline two\n",
		bus.HeaderCorrelationID: "  spaces at both ends\t ",
		bus.HeaderCausationID:   "",
		bus.HeaderPartitionKey:  "clé ✓ \x00\x7f=",
		bus.HeaderContentType:   " ",
	})
	awkward.Key = awkward.Headers[bus.HeaderPartitionKey]
	awkwardID := bus.Message{ID: " id\r\n2 ", Type: "tests.x.v1", Headers: map[string]string{
		bus.HeaderID: " id\r\n2 ", bus.HeaderType: "tests.x.v1", bus.HeaderSpecVersion: bus.SpecVersion,
		bus.HeaderCorrelationID: " id\r\n2 ",
	}}
	bare := bus.Message{ID: "id-3", Type: "tests.x.v1", Headers: map[string]string{
		bus.HeaderID: "id-3", bus.HeaderType: "tests.x.v1", bus.HeaderSpecVersion: bus.SpecVersion, "a": "b",
	}}
	many := envelopeMsg(t, bus.Envelope{Subject: "customer-7"})
	for i := range 10 {
		many = many.WithHeaders(map[string]string{"x-" + strconv.Itoa(i): "v" + strconv.Itoa(i)})
	}
	many.Key = "customer-7"
	cases := []struct {
		name string
		m    bus.Message
		ce   string // the ceHeader wanted, "" for any
		own  int    // NATS headers but Nats-Msg-Id and ceHeader
	}{
		{"starts a conversation", starts, "source=/tests,time=2026-11-27T14:55:00.123456789Z,datacontenttype=application/json,correlationid,subject=customer-7", 0},
		{"every header", full, "source=/tests,time=2026-11-27T14:55:00.123456789Z,datacontenttype=application/json,correlationid=corr-1," +
			"causationid=cause-1,subject=customer-7,partitionkey=p-1,attempt=3", 3},
		{"awkward values", awkward, "", 0},
		{"an ID a header cannot carry", awkwardID, "id=%20id%0D%0A2%20,correlationid", 0},
		{"nothing but ID and type", bare, "", 1},
		{"many headers of their own", many, "", 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nm := tr.publishMsg(c.m)
			if nm.Subject != tr.names.eventSubject(c.m.Type) {
				t.Errorf("subject = %q, want the event type's", nm.Subject)
			}
			if got := nm.Header[ceHeader]; len(got) != 1 || c.ce != "" && got[0] != c.ce {
				t.Errorf("%s = %q, want %q", ceHeader, got, c.ce)
			}
			if got := nm.Header.Get("Nats-Msg-Id"); got != c.m.ID {
				t.Errorf("Nats-Msg-Id = %q, want %q", got, c.m.ID)
			}
			if len(nm.Header) != c.own+2 {
				t.Errorf("NATS header = %v, want %d headers", nm.Header, c.own+2)
			}
			for k := range nm.Header {
				if ceIndex(k) != ceOwn {
					t.Errorf("NATS header has %s, want it in %s", k, ceHeader)
				}
			}
			back := tr.toMessage(nm.Subject, w.carry(t, nm), nm.Data)
			if !maps.Equal(back.Headers, c.m.Headers) {
				t.Errorf("read back %q\nwant %q", back.Headers, c.m.Headers)
			}
			if back.ID != c.m.ID || back.Type != c.m.Type || back.Key != c.m.Key || string(back.Body) != string(c.m.Body) {
				t.Errorf("read back ID %q type %q key %q body %q, want %q %q %q %q",
					back.ID, back.Type, back.Key, back.Body, c.m.ID, c.m.Type, c.m.Key, c.m.Body)
			}
		})
	}
}

// TestCEIndex checks that ceIndex and ceCorrelationID agree with ceEntries.
func TestCEIndex(t *testing.T) {
	for i, e := range ceEntries {
		if got := ceIndex(e.header); got != i {
			t.Errorf("ceIndex(%s) = %d, want %d", e.header, got, i)
		}
	}
	if h := ceEntries[ceCorrelationID].header; h != bus.HeaderCorrelationID {
		t.Errorf("ceEntries[ceCorrelationID] is %s, want %s", h, bus.HeaderCorrelationID)
	}
	for _, k := range []string{bus.HeaderID, bus.HeaderType, bus.HeaderSpecVersion} {
		if got := ceIndex(k); got != ceImplied {
			t.Errorf("ceIndex(%s) = %d, want ceImplied", k, got)
		}
	}
	if got := ceIndex(bus.HeaderTraceParent); got != ceOwn {
		t.Errorf("ceIndex(%s) = %d, want ceOwn", bus.HeaderTraceParent, got)
	}
}

// TestFullHeadersForm: with Options.FullHeaders, every header goes as it is.
func TestFullHeadersForm(t *testing.T) {
	tr := &Transport{names: newNames("rampart"), opts: Options{FullHeaders: true}}
	m := envelopeMsg(t, bus.Envelope{Subject: "customer-7"})
	nm := tr.publishMsg(m)
	if _, ok := nm.Header[ceHeader]; ok || len(nm.Header) != len(m.Headers)+1 {
		t.Errorf("NATS header = %v, want the %d headers and Nats-Msg-Id", nm.Header, len(m.Headers))
	}
}

// TestToMessageMalformedCE reads ceHeader values that this transport does not
// make: the message has the entries read, the header itself as it came, and
// HeaderInvalid naming it, so that the bus dead-letters it with the reason.
func TestToMessageMalformedCE(t *testing.T) {
	tr := &Transport{names: newNames("rampart")}
	subject := tr.names.eventSubject("tests.x.v1")
	for _, v := range []string{
		"source=/a,unknown=x",
		"source=/a,source=/b",
		"source=/a,",
		",source=/a",
		"source=/a,,time=t",
		"source",
		"subject=50%",
		"subject=%zz",
		"id=x%4",
		"id=x,",
		"time=t,id=x",
		"ce-source=/a",
	} {
		h := nats.Header{"Nats-Msg-Id": {"id-1"}, ceHeader: {v}}
		m := tr.toMessage(subject, h, nil)
		if got, want := m.Headers[bus.HeaderInvalid], ceHeader+":string"; got != want {
			t.Errorf("toMessage(%s: %q) has %s = %q, want %q", ceHeader, v, bus.HeaderInvalid, got, want)
		}
		if got := m.Headers[ceHeader]; got != v {
			t.Errorf("toMessage(%s: %q) has %s = %q, want it kept", ceHeader, v, ceHeader, got)
		}
	}
	// A bare correlationid with no ID to be, and an entry of a header that
	// came as a header of its own.
	for _, h := range []nats.Header{
		{ceHeader: {"correlationid"}},
		{"Nats-Msg-Id": {"id-1"}, ceHeader: {"source=/a"}, bus.HeaderSource: {"/b"}},
	} {
		m := tr.toMessage(subject, h, nil)
		if got, want := m.Headers[bus.HeaderInvalid], ceHeader+":string"; got != want {
			t.Errorf("toMessage(%v) has %s = %q, want %q", h, bus.HeaderInvalid, got, want)
		}
	}
	// The bus's decoder refuses such a message, naming the header.
	m := tr.toMessage(subject, nats.Header{"Nats-Msg-Id": {"id-1"}, ceHeader: {"source=/a,bogus"}}, []byte(`{}`))
	if _, err := bus.DecodeEnvelope(m, bus.DecodeOptions{}); err == nil || !strings.Contains(err.Error(), ceHeader) {
		t.Errorf("DecodeEnvelope(malformed %s) = %v, want an error naming it", ceHeader, err)
	}
}

// FuzzCompactRoundTrip publishes messages whose envelope headers hold any text
// (a value of "\x00" leaves the header out) through the NATS server and reads
// them back: the bus gets exactly the headers it published.
func FuzzCompactRoundTrip(f *testing.F) {
	f.Add("id-1", "/tests", "2026-01-02T03:04:05Z", "application/json", "id-1", "customer-7", "2", "\x00")
	f.Add(" id ", "/a,b%2C", "", " ", "\x00", "line\r\nline", "\x00", "%zz")
	f.Add("id\n", "clé ✓", "\t", "\x00", "id\n", ",,=", "", "=")
	w := newNATSWire(f)
	tr := &Transport{names: newNames("rampart")}
	f.Fuzz(func(t *testing.T, id, source, tm, ct, corr, subject, attempt, partition string) {
		if id == "" {
			return // the full form
		}
		h := map[string]string{bus.HeaderID: id, bus.HeaderType: "tests.x.v1", bus.HeaderSpecVersion: bus.SpecVersion, "x": "y"}
		for k, v := range map[string]string{bus.HeaderSource: source, bus.HeaderTime: tm, bus.HeaderContentType: ct,
			bus.HeaderCorrelationID: corr, bus.HeaderSubject: subject, bus.HeaderAttempt: attempt, bus.HeaderPartitionKey: partition} {
			if v != "\x00" {
				h[k] = v
			}
		}
		m := bus.Message{ID: id, Type: "tests.x.v1", Headers: h}
		nm := tr.publishMsg(m)
		back := tr.toMessage(nm.Subject, w.carry(t, nm), nm.Data)
		if !maps.Equal(back.Headers, m.Headers) || back.ID != id {
			t.Errorf("read back %q\nwant %q (%s %q)", back.Headers, m.Headers, ceHeader, nm.Header[ceHeader])
		}
	})
}

// FuzzToMessageCE reads any ceHeader, with or without a header of its own
// beside it (without, and with a Nats-Msg-Id, toMessage takes its short way):
// no panic, and either every entry read or the header listed in
// HeaderInvalid; the header is never lost.
func FuzzToMessageCE(f *testing.F) {
	f.Add("source=/a,time=2026-01-01T00:00:00Z,correlationid", "id-1", true)
	f.Add("source=/a,time=2026-01-01T00:00:00Z,correlationid", "id-1", false)
	f.Add(",,=,%,%zz,id=,correlationid=", "", true)
	f.Add("id=%41,correlationid", "", true)
	f.Add("id=%41,correlationid", "x", false)
	tr := &Transport{names: newNames("rampart")}
	subject := tr.names.eventSubject("tests.x.v1")
	f.Fuzz(func(t *testing.T, ce, id string, own bool) {
		h := nats.Header{ceHeader: {ce}}
		if own {
			h["a"] = []string{"b"}
		}
		if id != "" {
			h["Nats-Msg-Id"] = []string{id}
		}
		m := tr.toMessage(subject, h, nil)
		if own && m.Headers["a"] != "b" || m.Headers[bus.HeaderType] != "tests.x.v1" {
			t.Errorf("headers %q lost a=b or the type", m.Headers)
		}
		if _, ok := m.Headers[bus.HeaderSpecVersion]; !ok {
			t.Errorf("headers %q lost %s", m.Headers, bus.HeaderSpecVersion)
		}
		_, kept := m.Headers[ceHeader]
		if invalid := m.Headers[bus.HeaderInvalid] != ""; kept != invalid {
			t.Errorf("headers %q: %s kept %v, invalid %v; want both or neither", m.Headers, ceHeader, kept, invalid)
		}
	})
}

// TestPublishMsgAllocations checks that the compact form of a message with at
// most one header of its own costs a small NATS header (the map and its one
// group), the ceHeader value, the subject, and the message with the values of
// its header.
func TestPublishMsgAllocations(t *testing.T) {
	tr := &Transport{names: newNames("rampart")}
	m := envelopeMsg(t, bus.Envelope{DataContentType: "application/json", Subject: "customer-7"})
	traced := envelopeMsg(t, bus.Envelope{Subject: "customer-7", TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
	for name, m := range map[string]bus.Message{"plain": m, "traced": traced} {
		allocs := testing.AllocsPerRun(100, func() { tr.publishMsg(m) })
		if allocs > 5 {
			t.Errorf("publishMsg(%s) allocates %v times, want at most 5", name, allocs)
		}
	}
}
