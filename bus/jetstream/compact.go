package jetstream

import (
	"errors"
	"strings"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/internal/cecompact"
)

// ceHeader carries the envelope of a message on the events stream in the
// compact form: the envelope headers that the NATS message does not carry
// anyway, as one header's comma-separated entries named by the CloudEvents
// attribute ([ceEntries]: "source", "time", "datacontenttype" for content-type,
// "attempt" for rampart-attempt, …), each value escaped as package cecompact
// does ("%", ",", the space and control bytes as %XX):
//
//	Nats-Msg-Id: 0193…
//	Rampart-Ce: source=/customers,time=2026-11-27T14:55:00.123456789Z,datacontenttype=application/json,correlationid
//
// ce-specversion is "1.0", ce-type the end of the subject and ce-id the
// Nats-Msg-Id, unless a first entry "id" gives it (for an ID that a NATS
// header cannot carry unchanged: with a line break, or space at either end). A bare
// "correlationid" says that the correlation ID is the event ID, as the bus
// makes it for an event that starts a conversation; no other entry may be
// bare. Every other header (traceparent, tracestate, the headers of a retry,
// extensions) is a NATS header of its own. One header instead of one per
// attribute saves the client writing and parsing them and the server scanning
// and storing them: a header costs more than its bytes.
const ceHeader = "Rampart-Ce"

// ceEntries are the envelope headers that have an entry in [ceHeader], in the
// order written.
var ceEntries = [...]struct{ header, name string }{
	{bus.HeaderSource, "source"},
	{bus.HeaderTime, "time"},
	{bus.HeaderContentType, "datacontenttype"},
	{bus.HeaderCorrelationID, "correlationid"},
	{bus.HeaderCausationID, "causationid"},
	{bus.HeaderSubject, "subject"},
	{bus.HeaderPartitionKey, "partitionkey"},
	{bus.HeaderAttempt, "attempt"},
}

// ceIDEntry names the entry of an ID that Nats-Msg-Id cannot carry unchanged.
const ceIDEntry = "id"

// Where the compact form carries a header (see ceIndex): an index of
// [ceEntries], or one of these.
const (
	ceImplied = -1 // ce-id, ce-type, ce-specversion: in the message itself
	ceOwn     = -2 // a NATS header of its own
)

// ceCorrelationID is the index of ce-correlationid in [ceEntries].
const ceCorrelationID = 3

// ceIndex returns the index of header k in [ceEntries], or ceImplied or ceOwn.
func ceIndex(k string) int {
	switch k {
	case bus.HeaderID, bus.HeaderType, bus.HeaderSpecVersion:
		return ceImplied
	case bus.HeaderSource:
		return 0
	case bus.HeaderTime:
		return 1
	case bus.HeaderContentType:
		return 2
	case bus.HeaderCorrelationID:
		return 3
	case bus.HeaderCausationID:
		return 4
	case bus.HeaderSubject:
		return 5
	case bus.HeaderPartitionKey:
		return 6
	case bus.HeaderAttempt:
		return 7
	}
	return ceOwn
}

// ceValues are the values of a message's [ceEntries]: vals[i] if bit i of has
// is set.
type ceValues struct {
	vals [len(ceEntries)]string
	has  uint
}

// value returns the value of [ceHeader] for the entries of v, of a message
// whose ID is id: an entry for each of [ceEntries] that it has, and one for id
// first if Nats-Msg-Id cannot carry it.
func (v *ceValues) value(id string) string {
	n := 0
	for i, e := range ceEntries {
		if v.has&(1<<i) != 0 {
			n += len(e.name) + 2 + len(v.vals[i])
		}
	}
	var b strings.Builder
	b.Grow(n + 8)
	if !headerSafe(id) {
		cecompact.AppendEntry(&b, ceIDEntry, id)
	}
	for i, e := range ceEntries {
		switch {
		case v.has&(1<<i) == 0:
		case i == ceCorrelationID && v.vals[i] == id:
			cecompact.AppendName(&b, e.name)
		default:
			cecompact.AppendEntry(&b, e.name, v.vals[i])
		}
	}
	return b.String()
}

// headerSafe reports whether a NATS header carries v unchanged: nats.go trims
// spaces, tabs and line breaks at either end of a value it writes and turns
// those inside into spaces.
func headerSafe(v string) bool {
	if v == "" {
		return true
	}
	if c := v[0]; c == ' ' || c == '\t' {
		return false
	}
	if c := v[len(v)-1]; c == ' ' || c == '\t' {
		return false
	}
	return strings.IndexAny(v, "\r\n") < 0
}

// ceCount returns how many headers the entries of list are.
func ceCount(list string) int {
	if list == "" {
		return 0
	}
	return strings.Count(list, ",") + 1
}

// ceEntry returns the index in [ceEntries] of the entry name, or -1. Entries
// come in the order of ceEntries: it looks from index from on first.
func ceEntry(name string, from int) int {
	for i := from; i < len(ceEntries); i++ {
		if ceEntries[i].name == name {
			return i
		}
	}
	for i := range from {
		if ceEntries[i].name == name {
			return i
		}
	}
	return -1
}

// errCE is the error of readCE.
var errCE = errors.New("jetstream: malformed " + ceHeader)

// readCE puts the entries of list, a [ceHeader] value, into h: each as the
// header it stands for, unescaped, and a bare correlationid as the event ID,
// which is the "id" entry if there is one, or else natsID (the Nats-Msg-Id, if
// hasID). It returns the event ID. Bit i of seen says that the header of
// ceEntries[i] came as a header of its own. It fails, leaving the entries it
// read in h, on an entry it does not know, one of a header seen (twice the
// same entry, or an entry and a header of its own), another bare entry, or a
// malformed escape: such a value was not made by this transport.
func readCE(h map[string]string, list, natsID string, hasID bool, seen uint) (id string, err error) {
	id = natsID
	if strings.HasPrefix(list, ceIDEntry+"=") {
		end := strings.IndexByte(list, ',')
		if end < 0 {
			end = len(list)
		}
		v, ok := cecompact.Unescape(list[len(ceIDEntry)+1 : end])
		if !ok {
			return id, errCE
		}
		id, hasID = v, true
		if list = list[end:]; list != "" {
			if list = list[1:]; list == "" {
				return id, errCE // a trailing comma
			}
		}
	}
	next := 0
	for list != "" {
		entry := list
		if i := strings.IndexByte(list, ','); i >= 0 {
			entry, list = list[:i], list[i+1:]
			if list == "" {
				return id, errCE // a trailing comma
			}
		} else {
			list = ""
		}
		name, v, valued := strings.Cut(entry, "=")
		i := ceEntry(name, next)
		if i < 0 || seen&(1<<i) != 0 {
			return id, errCE
		}
		seen |= 1 << i
		next = i + 1
		switch {
		case valued:
			var ok bool
			if v, ok = cecompact.Unescape(v); !ok {
				return id, errCE
			}
		case i == ceCorrelationID && hasID:
			v = id
		default:
			return id, errCE
		}
		h[ceEntries[i].header] = v
	}
	return id, nil
}
