package bus

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"strconv"
	"strings"

	json "github.com/goccy/go-json"
)

// Codec turns events into bodies and back. The bus publishes with the first codec
// of [Options.Codecs] and decodes each message with the codec whose ContentType
// matches the message's datacontenttype. Codecs are safe for concurrent use.
type Codec interface {
	// ContentType is the media type written to datacontenttype, such as
	// "application/json".
	ContentType() string
	// Marshal encodes v.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into v, a non-nil pointer.
	Unmarshal(data []byte, v any) error
}

// JSON is the default codec, "application/json": encoding/json's JSON — its
// struct tags, and for events' types the same values decoded and the same bytes
// encoded (a fuzz test and a table of some 150 cases compare the two) — through
// github.com/goccy/go-json, which decodes a typical event about six times faster
// than encoding/json with about half its allocations (docs/benchmarks.md).
// Known differences: the field a decoding error names includes slice indexes and
// map keys ("items.1.sku" where encoding/json says "items.sku") and leaves out
// the names of embedded structs; the errors are go-json's types, which mirror
// encoding/json's but are not them; in an array (not a slice) of a type whose
// MarshalJSON or MarshalText has a pointer receiver, go-json calls the method;
// maps with float keys decode. A program that needs encoding/json itself
// registers a codec of its own with [Options.Codecs].
//
// Unmarshal is strict about syntax and types and rejects trailing data; with
// DisallowUnknownFields it also rejects fields the Go type does not have. Its
// errors are [*CodecError]s naming the field. The zero value is ready to use.
type JSON struct {
	// DisallowUnknownFields rejects objects with fields that do not match a field of
	// the destination (as encoding/json's Decoder.DisallowUnknownFields).
	DisallowUnknownFields bool
}

// ContentType returns "application/json".
func (JSON) ContentType() string { return "application/json" }

// Marshal encodes v as encoding/json's Marshal does.
func (JSON) Marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, &CodecError{ContentType: "application/json", Op: "marshal", Field: jsonField(err), Err: err}
	}
	return b, nil
}

// Unmarshal decodes one JSON value from data into v.
func (c JSON) Unmarshal(data []byte, v any) error {
	if !c.DisallowUnknownFields {
		// Unmarshal checks the whole input first, trailing data included.
		if err := json.Unmarshal(data, v); err != nil {
			return &CodecError{ContentType: "application/json", Op: "unmarshal", Field: jsonField(err), Err: err}
		}
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(data))
	if c.DisallowUnknownFields {
		d.DisallowUnknownFields()
	}
	if err := d.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return &CodecError{ContentType: "application/json", Op: "unmarshal", Field: jsonField(err), Err: err}
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return &CodecError{ContentType: "application/json", Op: "unmarshal", Err: errors.New("trailing data after the JSON value")}
	}
	return nil
}

// jsonField names the field a JSON error is about, if it says.
func jsonField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	var me *json.MarshalerError
	if errors.As(err, &me) {
		return me.Type.String()
	}
	// encoding/json reports unknown fields only as text: json: unknown field "name".
	if rest, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if name, err := strconv.Unquote(rest); err == nil {
			return name
		}
	}
	return ""
}

// CodecError is the error of a codec: which operation, which content type, and the
// field it is about when the codec can tell (a JSON path such as "address.zip").
// When decoding, the consumer wraps it in a [*DecodeError] for the body ("data"),
// which matches [ErrDecode].
type CodecError struct {
	ContentType string
	Op          string // "marshal" or "unmarshal"
	Field       string // the field, when known
	Err         error
}

func (e *CodecError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("bus: %s %s: field %q: %v", e.ContentType, e.Op, e.Field, e.Err)
	}
	return fmt.Sprintf("bus: %s %s: %v", e.ContentType, e.Op, e.Err)
}

// Unwrap returns the codec's own error.
func (e *CodecError) Unwrap() error { return e.Err }

// codecs finds codecs by media type.
type codecs struct {
	publish Codec
	byType  map[string]Codec
	// publishType is the publishing codec's content type, and publishTypeValid
	// reports that it passes the decoder's checks, so that encoding need not check
	// it for every event.
	publishType      string
	publishTypeValid bool
}

func newCodecs(list []Codec) (codecs, error) {
	if len(list) == 0 {
		list = []Codec{JSON{}}
	}
	c := codecs{publish: list[0], byType: make(map[string]Codec, len(list))}
	for i, codec := range list {
		if codec == nil {
			return codecs{}, fmt.Errorf("bus: Options.Codecs[%d] is nil", i)
		}
		mt, _, err := mime.ParseMediaType(codec.ContentType())
		if err != nil {
			return codecs{}, fmt.Errorf("bus: Options.Codecs[%d]: content type %q: %w", i, codec.ContentType(), err)
		}
		if _, dup := c.byType[mt]; !dup {
			c.byType[mt] = codec
		}
	}
	c.publishType = c.publish.ContentType()
	c.publishTypeValid = optionalText(HeaderContentType, c.publishType, 256) == nil &&
		(c.publishType == "" || checkMediaType(c.publishType) == nil)
	return c, nil
}

// lookup returns the codec for a datacontenttype; empty means the publishing
// codec's type (CloudEvents: JSON when absent, which is also our default).
func (c codecs) lookup(contentType string) (Codec, bool) {
	if contentType == "" {
		if codec, ok := c.byType["application/json"]; ok {
			return codec, true
		}
		return nil, false
	}
	if codec, ok := c.byType[contentType]; ok { // the common case: no parameters
		return codec, true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, false
	}
	codec, ok := c.byType[mt]
	return codec, ok
}
