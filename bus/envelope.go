package bus

import (
	"errors"
	"mime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// SpecVersion is the CloudEvents specification version of every envelope.
const SpecVersion = "1.0"

// Header names of the envelope on the wire. Every transport carries them as
// message headers with exactly these (lower-case) names: the CloudEvents binary
// content mode with the "ce-" prefix, W3C trace context, and Rampart's own
// delivery headers.
const (
	HeaderSpecVersion   = "ce-specversion"
	HeaderID            = "ce-id"
	HeaderSource        = "ce-source"
	HeaderType          = "ce-type"
	HeaderTime          = "ce-time"
	HeaderSubject       = "ce-subject"
	HeaderContentType   = "content-type" // the CloudEvents datacontenttype
	HeaderCorrelationID = "ce-correlationid"
	HeaderCausationID   = "ce-causationid"
	HeaderPartitionKey  = "ce-partitionkey" // the CloudEvents partitioning extension
	HeaderTraceParent   = "traceparent"     // W3C trace context, passed through
	HeaderTraceState    = "tracestate"

	// HeaderAttempt is the delivery attempt, 1 for the first delivery. The consumer
	// counts failed attempts in it (not in the broker's x-death or delivery count).
	// Absent means 1: the first delivery does not carry it.
	HeaderAttempt = "rampart-attempt"
	// HeaderFirstFailure is the time (RFC 3339) of the first failed attempt, set on
	// the first redelivery and kept after.
	HeaderFirstFailure = "rampart-first-failure"
	// HeaderLastError is the error text of the last failed attempt, set on a
	// redelivery.
	HeaderLastError = "rampart-last-error"
	// HeaderInvalid lists headers that a transport could not turn into strings
	// ("name:type", comma-separated), such as an AMQP table where a string belongs.
	// The decoder rejects a message that has it.
	HeaderInvalid = "rampart-invalid-headers"
)

// Field limits of the decoder. A value over the limit is an error that names the
// header.
const (
	// DefaultMaxBodySize is the body size limit when none is configured: 1 MiB.
	DefaultMaxBodySize = 1 << 20

	maxTypeLen   = 255 // an AMQP short string; also fine as a NATS subject
	maxTextLen   = 1024
	maxIDLen     = 256
	maxAttempt   = 1_000_000
	maxErrorText = 1024 // error texts in headers are cut to this many bytes
)

// Envelope is what the bus adds around an event: the CloudEvents attributes, the
// correlation, causation and trace context, and the delivery attempt. Envelopes are
// values; the zero value is not valid (it has no ID, source, type or time).
type Envelope struct {
	SpecVersion     string    // always "1.0"
	ID              string    // UUID (v7 when the bus made it), the key of duplicate detection
	Source          string    // who produced the event: a URI reference such as "/customers"
	Type            string    // the event type name, such as "customers.customer-created.v1"
	Time            time.Time // when the event was produced
	Subject         string    // what the event is about within the source (a customer ID), optional
	DataContentType string    // the codec's media type, such as "application/json"
	CorrelationID   string    // the ID shared by every event of one conversation
	CausationID     string    // the ID of the event whose handler published this one, optional
	PartitionKey    string    // the ordering key, optional
	TraceParent     string    // W3C traceparent, optional; dropped by the decoder if malformed
	TraceState      string    // W3C tracestate, optional; kept only with a valid traceparent
	Attempt         int       // the delivery attempt, 1 for the first
}

// OrderingKey is the key that orders events in a subscription that keeps order:
// the partition key, or else the subject. Empty means unordered.
func (e Envelope) OrderingKey() string {
	if e.PartitionKey != "" {
		return e.PartitionKey
	}
	return e.Subject
}

// DecodeOptions limit what [DecodeEnvelope] accepts. The zero value limits bodies
// to [DefaultMaxBodySize].
type DecodeOptions struct {
	// MaxBodySize is the largest body accepted, in bytes. Zero means
	// DefaultMaxBodySize; negative means no limit.
	MaxBodySize int
}

// EncodeEnvelope returns the message that carries e and body: the envelope in
// headers (see the Header constants), the body as it is. It validates e with the
// decoder's rules, so that what it encodes decodes; an empty SpecVersion is taken
// as "1.0" and an Attempt of zero as 1. The first attempt is not written (the
// decoder takes a missing [HeaderAttempt] as 1). The error is a [*DecodeError]
// naming the field.
func EncodeEnvelope(e Envelope, body []byte) (Message, error) {
	if e.SpecVersion == "" {
		e.SpecVersion = SpecVersion
	}
	if e.Attempt == 0 {
		e.Attempt = 1
	}
	var buf [64]byte
	return encodeEnvelope(&e, body, string(e.Time.UTC().AppendFormat(buf[:0], time.RFC3339Nano)), 0)
}

// trust names the attributes of an envelope that need no check because the bus
// made them: Publish leaves out checks that cannot fail.
type trust uint8

const (
	trustID            trust = 1 << iota // a UUID made by idSource
	trustCorrelationID                   // the same
	trustSourceType                      // the bus's source (checked by New) and a registered type name
	trustContentType                     // the publishing codec's, checked by newCodecs
	trustTrace                           // the result of Bus.traceContext
)

// encodeEnvelope is EncodeEnvelope for an envelope whose SpecVersion and Attempt
// are set and whose time is ts as encoded, leaving out the checks of what t says
// the bus made.
func encodeEnvelope(e *Envelope, body []byte, ts string, t trust) (Message, error) {
	attempt := strconv.Itoa(e.Attempt)
	if e.Time.IsZero() {
		return Message{}, &DecodeError{Field: HeaderTime, Reason: "is missing"}
	}
	if t&trustTrace == 0 {
		if e.TraceParent != "" && !validTraceParent(e.TraceParent) {
			return Message{}, &DecodeError{Field: HeaderTraceParent, Value: clip(e.TraceParent), Reason: "is not a W3C traceparent"}
		}
		if e.TraceState != "" && (e.TraceParent == "" || len(e.TraceState) > 512 || !printable(e.TraceState)) {
			return Message{}, &DecodeError{Field: HeaderTraceState, Value: clip(e.TraceState), Reason: "needs a traceparent and printable text of at most 512 bytes"}
		}
	}
	if err := validateEncoded(e, ts, attempt, t); err != nil {
		return Message{}, err
	}
	// The map is made to size: with up to 8 headers, the usual case, it is one
	// small allocation.
	n := 5
	if e.Attempt != 1 {
		n++
	}
	for _, v := range [...]string{e.Subject, e.DataContentType, e.CorrelationID, e.CausationID, e.PartitionKey, e.TraceParent, e.TraceState} {
		if v != "" {
			n++
		}
	}
	h := make(map[string]string, n)
	h[HeaderSpecVersion] = e.SpecVersion
	h[HeaderID] = e.ID
	h[HeaderSource] = e.Source
	h[HeaderType] = e.Type
	h[HeaderTime] = ts
	if e.Attempt != 1 {
		h[HeaderAttempt] = attempt
	}
	setIf(h, HeaderSubject, e.Subject)
	setIf(h, HeaderContentType, e.DataContentType)
	setIf(h, HeaderCorrelationID, e.CorrelationID)
	setIf(h, HeaderCausationID, e.CausationID)
	setIf(h, HeaderPartitionKey, e.PartitionKey)
	setIf(h, HeaderTraceParent, e.TraceParent)
	setIf(h, HeaderTraceState, e.TraceState)
	return Message{ID: e.ID, Type: e.Type, Key: e.OrderingKey(), Headers: h, Body: body}, nil
}

// validateEncoded applies DecodeEnvelope's rules, in its order, to the headers
// EncodeEnvelope makes of e (ts and attempt being its time and attempt as
// encoded), without building and decoding the message: so that what it encodes
// decodes, and fails with the error the decoder would give. It leaves out the
// checks of what t says the bus made.
func validateEncoded(e *Envelope, ts, attempt string, t trust) error {
	if err := requiredText(HeaderSpecVersion, e.SpecVersion, 8); err != nil {
		return err
	}
	if e.SpecVersion != SpecVersion {
		return &DecodeError{Field: HeaderSpecVersion, Value: clip(e.SpecVersion), Reason: `is not "1.0"`}
	}
	if t&trustID == 0 {
		if err := requiredText(HeaderID, e.ID, 36); err != nil {
			return err
		}
		if !validUUID(e.ID) {
			return &DecodeError{Field: HeaderID, Value: clip(e.ID), Reason: "is not a canonical lower-case UUID"}
		}
	}
	if t&trustSourceType == 0 {
		if err := requiredText(HeaderSource, e.Source, maxTextLen); err != nil {
			return err
		}
		if err := requiredText(HeaderType, e.Type, maxTypeLen); err != nil {
			return err
		}
		if err := ValidateTypeName(e.Type); err != nil {
			return &DecodeError{Field: HeaderType, Value: clip(e.Type), Reason: err.Error()}
		}
	}
	// A UTC time of year 1 to 9999 formats as an RFC 3339 time that parseTime
	// accepts (the zero time was rejected before); any other goes the decoder's way.
	if y := e.Time.UTC().Year(); y < 1 || y > 9999 {
		if err := requiredText(HeaderTime, ts, 64); err != nil {
			return err
		}
		if _, err := parseTime(ts); err != nil {
			return &DecodeError{Field: HeaderTime, Value: clip(ts), Reason: err.Error()}
		}
	}
	if err := optionalText(HeaderSubject, e.Subject, maxTextLen); err != nil {
		return err
	}
	if t&trustContentType == 0 {
		if err := optionalText(HeaderContentType, e.DataContentType, 256); err != nil {
			return err
		}
		if e.DataContentType != "" {
			if perr := checkMediaType(e.DataContentType); perr != nil {
				return &DecodeError{Field: HeaderContentType, Value: clip(e.DataContentType), Reason: "is not a media type", Err: perr}
			}
		}
	}
	if t&trustCorrelationID == 0 {
		if err := optionalText(HeaderCorrelationID, e.CorrelationID, maxIDLen); err != nil {
			return err
		}
	}
	if err := optionalText(HeaderCausationID, e.CausationID, maxIDLen); err != nil {
		return err
	}
	if err := optionalText(HeaderPartitionKey, e.PartitionKey, maxIDLen); err != nil {
		return err
	}
	// The trace context was checked by EncodeEnvelope, stricter than the decoder.
	if _, ok := parseAttempt(attempt); !ok {
		return &DecodeError{Field: HeaderAttempt, Value: clip(attempt), Reason: "is not an integer from 1 to 1000000"}
	}
	return nil
}

// checkMediaType reports whether v is not a media type, as mime.ParseMediaType
// does; a plain "type/subtype" of token characters, the usual case, is accepted
// without it (ParseMediaType accepts every such value).
func checkMediaType(v string) error {
	slash := -1
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '/' && slash < 0 && i > 0 {
			slash = i
			continue
		}
		if !isToken[c] {
			_, _, err := mime.ParseMediaType(v)
			return err
		}
	}
	if slash < 0 || slash == len(v)-1 {
		_, _, err := mime.ParseMediaType(v)
		return err
	}
	return nil
}

// isToken reports the bytes of an RFC 2045 token: printable ASCII but for
// space and the tspecials.
var isToken = func() (t [256]bool) {
	for c := '!'; c < 0x7f; c++ {
		t[c] = !strings.ContainsRune(`()<>@,;:\"/[]?=`, c)
	}
	return t
}()

func setIf(h map[string]string, k, v string) {
	if v != "" {
		h[k] = v
	}
}

// DecodeEnvelope reads and validates the envelope of m, strictly: the spec version
// must be "1.0"; the ID a canonical lower-case UUID; the source, type and time
// present, the type made of letters, digits, '.', '-' and '_', the time RFC 3339;
// the content type a media type; the attempt, if present, a decimal integer ≥ 1;
// every text valid UTF-8 without control characters and within its length limit;
// no header a transport flagged as of the wrong type ([HeaderInvalid]); the body
// within opts.MaxBodySize. A malformed traceparent is dropped rather than rejected,
// as W3C trace context asks. The error is a [*DecodeError] naming the field; it
// matches [ErrDecode]. DecodeEnvelope does not look at the body's content, and
// does not check that the type is known.
func DecodeEnvelope(m Message, opts DecodeOptions) (Envelope, error) {
	h := m.Headers
	if bad, ok := h[HeaderInvalid]; ok {
		field, _, _ := strings.Cut(bad, ":")
		if field = strings.TrimSpace(field); field == "" || !printable(field) {
			field = HeaderInvalid
		}
		return Envelope{}, &DecodeError{Field: field, Value: clip(bad), Reason: "header has a type that is not text"}
	}
	limit := opts.MaxBodySize
	if limit == 0 {
		limit = DefaultMaxBodySize
	}
	if limit > 0 && len(m.Body) > limit {
		return Envelope{}, &DecodeError{Field: "data", Reason: "body of " + strconv.Itoa(len(m.Body)) + " bytes is over the limit of " + strconv.Itoa(limit)}
	}
	var e Envelope
	var err error
	if e.SpecVersion, err = required(h, HeaderSpecVersion, 8); err != nil {
		return Envelope{}, err
	}
	if e.SpecVersion != SpecVersion {
		return Envelope{}, &DecodeError{Field: HeaderSpecVersion, Value: clip(e.SpecVersion), Reason: `is not "1.0"`}
	}
	if e.ID, err = required(h, HeaderID, 36); err != nil {
		return Envelope{}, err
	}
	if !validUUID(e.ID) {
		return Envelope{}, &DecodeError{Field: HeaderID, Value: clip(e.ID), Reason: "is not a canonical lower-case UUID"}
	}
	if e.Source, err = required(h, HeaderSource, maxTextLen); err != nil {
		return Envelope{}, err
	}
	if e.Type, err = required(h, HeaderType, maxTypeLen); err != nil {
		return Envelope{}, err
	}
	if err := ValidateTypeName(e.Type); err != nil {
		return Envelope{}, &DecodeError{Field: HeaderType, Value: clip(e.Type), Reason: err.Error()}
	}
	ts, err := required(h, HeaderTime, 64)
	if err != nil {
		return Envelope{}, err
	}
	if e.Time, err = parseTime(ts); err != nil {
		return Envelope{}, &DecodeError{Field: HeaderTime, Value: clip(ts), Reason: err.Error()}
	}
	if e.Subject, err = optional(h, HeaderSubject, maxTextLen); err != nil {
		return Envelope{}, err
	}
	if e.DataContentType, err = optional(h, HeaderContentType, 256); err != nil {
		return Envelope{}, err
	}
	if e.DataContentType != "" {
		if perr := checkMediaType(e.DataContentType); perr != nil {
			return Envelope{}, &DecodeError{Field: HeaderContentType, Value: clip(e.DataContentType), Reason: "is not a media type", Err: perr}
		}
	}
	if e.CorrelationID, err = optional(h, HeaderCorrelationID, maxIDLen); err != nil {
		return Envelope{}, err
	}
	if e.CausationID, err = optional(h, HeaderCausationID, maxIDLen); err != nil {
		return Envelope{}, err
	}
	if e.PartitionKey, err = optional(h, HeaderPartitionKey, maxIDLen); err != nil {
		return Envelope{}, err
	}
	if tp := h[HeaderTraceParent]; validTraceParent(tp) {
		e.TraceParent = tp
		if ts, ok := h[HeaderTraceState]; ok && len(ts) <= 512 && printable(ts) {
			e.TraceState = ts
		}
	}
	e.Attempt = 1
	if a, ok := h[HeaderAttempt]; ok {
		n, ok := parseAttempt(a)
		if !ok {
			return Envelope{}, &DecodeError{Field: HeaderAttempt, Value: clip(a), Reason: "is not an integer from 1 to 1000000"}
		}
		e.Attempt = n
	}
	return e, nil
}

// The errors of parseTime.
var (
	errNotRFC3339 = errors.New("is not an RFC 3339 time")
	errZeroTime   = errors.New("is the zero time")
)

// parseTime parses an RFC 3339 time strictly: YYYY-MM-DDTHH:MM:SS, an optional
// fraction, then Z or ±HH:MM (time.Parse alone accepts one-digit hours). The zero
// time is rejected. A UTC time ("Z"), which is what the bus writes, is read here;
// one with an offset by time.Parse, for its time zone.
func parseTime(s string) (time.Time, error) {
	const layout = "dddd-dd-ddTdd:dd:dd"
	if len(s) < len(layout)+1 {
		return time.Time{}, errNotRFC3339
	}
	for i := 0; i < len(layout); i++ {
		if c := s[i]; layout[i] == 'd' && (c < '0' || c > '9') || layout[i] != 'd' && c != layout[i] {
			return time.Time{}, errNotRFC3339
		}
	}
	rest := s[len(layout):]
	nsec := 0
	if rest[0] == '.' {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			nsec = nsec*10 + int(rest[i]-'0')
			i++
		}
		if i == 1 || i > 10 {
			return time.Time{}, errNotRFC3339
		}
		for range 10 - i {
			nsec *= 10
		}
		rest = rest[i:]
	}
	switch {
	case rest == "Z":
		num := func(i, j int) int {
			n := 0
			for _, c := range []byte(s[i:j]) {
				n = n*10 + int(c-'0')
			}
			return n
		}
		year, month, day := num(0, 4), num(5, 7), num(8, 10)
		hour, min, sec := num(11, 13), num(14, 16), num(17, 19)
		// The ranges time.Parse accepts: no 24:00, no leap second, no February 30.
		if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || min > 59 || sec > 59 {
			return time.Time{}, errNotRFC3339
		}
		t := time.Date(year, time.Month(month), day, hour, min, sec, nsec, time.UTC)
		if t.IsZero() {
			return time.Time{}, errZeroTime
		}
		return t, nil
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' &&
		isDigit(rest[1]) && isDigit(rest[2]) && isDigit(rest[4]) && isDigit(rest[5]):
	default:
		return time.Time{}, errNotRFC3339
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errNotRFC3339
	}
	if t.IsZero() {
		return time.Time{}, errZeroTime
	}
	return t, nil
}

// daysIn returns the number of days of month in year (proleptic Gregorian).
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func required(h map[string]string, k string, max int) (string, error) {
	v := h[k]
	return v, requiredText(k, v, max)
}

func optional(h map[string]string, k string, max int) (string, error) {
	v := h[k]
	if v == "" {
		return "", nil
	}
	return v, checkText(k, v, max)
}

// requiredText checks the value v of the required header k.
func requiredText(k, v string, max int) error {
	if v == "" {
		return &DecodeError{Field: k, Reason: "is missing"}
	}
	return checkText(k, v, max)
}

// optionalText checks the value v of the optional header k.
func optionalText(k, v string, max int) error {
	if v == "" {
		return nil
	}
	return checkText(k, v, max)
}

func checkText(k, v string, max int) error {
	if len(v) > max {
		return &DecodeError{Field: k, Value: clip(v), Reason: "is longer than " + strconv.Itoa(max) + " bytes"}
	}
	if !printable(v) {
		return &DecodeError{Field: k, Value: clip(v), Reason: "is not printable UTF-8 text"}
	}
	return nil
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	i := 0
	// Eight bytes at a time while they are printable ASCII: none has its top bit
	// set, none is below 0x20, none is 0x7f.
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		del := w ^ 0x7f*ones
		if (w|(w-0x20*ones)|(del-ones)&^del)&highs != 0 {
			break // something else in these eight: byte by byte from here
		}
	}
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || (r >= 0x80 && r < 0xa0) {
			return false
		}
		i += n
	}
	return true
}

// parseAttempt parses a decimal attempt number from 1 to maxAttempt, digits only.
func parseAttempt(s string) (int, bool) {
	if s == "" || len(s) > 7 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n >= 1 && n <= maxAttempt
}

// validUUID reports whether s is a UUID in canonical lower-case form
// (8-4-4-4-12 hex digits) other than the nil UUID.
func validUUID(s string) bool {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return false
	}
	var bad, nonzero byte
	for _, part := range [...]string{s[:8], s[9:13], s[14:18], s[19:23], s[24:]} {
		for i := 0; i < len(part); i++ {
			c := part[i]
			bad |= notLowerHex[c]
			nonzero |= c ^ '0'
		}
	}
	return bad == 0 && nonzero != 0
}

// notLowerHex is 1 for the bytes that are not lower-case hex digits.
var notLowerHex = func() (t [256]byte) {
	for c := range t {
		if !isLowerHex(byte(c)) {
			t[c] = 1
		}
	}
	return t
}()

func isLowerHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

// validTraceParent reports whether s is a W3C traceparent: version-traceid-parentid-flags
// in lower-case hex, version not "ff", IDs not all zero. Versions after 00 may add
// fields after a '-'.
func validTraceParent(s string) bool {
	if len(s) < 55 || s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return false
	}
	if s[:2] == "ff" || (s[:2] == "00" && len(s) != 55) || (len(s) > 55 && s[55] != '-') {
		return false
	}
	hex := func(part string) (ok, nonzero bool) {
		for i := 0; i < len(part); i++ {
			if !isLowerHex(part[i]) {
				return false, false
			}
			if part[i] != '0' {
				nonzero = true
			}
		}
		return true, nonzero
	}
	if ok, _ := hex(s[:2]); !ok {
		return false
	}
	if ok, nz := hex(s[3:35]); !ok || !nz {
		return false
	}
	if ok, nz := hex(s[36:52]); !ok || !nz {
		return false
	}
	ok, _ := hex(s[53:55])
	return ok && printable(s)
}

// clip cuts a value quoted in an error to a readable length.
func clip(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return truncate(s, n) + "…"
}

// truncate cuts s to at most n bytes at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
