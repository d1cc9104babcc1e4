package cecompact

import (
	"strings"
	"testing"
)

// TestEscaping checks what AppendEscaped makes of values, and that Unescape
// reads them back.
func TestEscaping(t *testing.T) {
	for v, want := range map[string]string{
		"":                               "",
		"/customers":                     "/customers",
		"2026-11-27T14:55:00.123456789Z": "2026-11-27T14:55:00.123456789Z",
		"a,b%c":                          "a%2Cb%25c",
		"%2C":                            "%252C",
		" lead and trail ":               "%20lead%20and%20trail%20",
		"line\r\nbreak\ttab":             "line%0D%0Abreak%09tab",
		"\x00\x1f\x7f":                   "%00%1F%7F",
		"a=b":                            "a=b",
		"né ✓":                           "né%20✓",
		"\xff\xfe":                       "\xff\xfe",
	} {
		var b strings.Builder
		AppendEscaped(&b, v)
		if got := b.String(); got != want {
			t.Errorf("AppendEscaped(%q) = %q, want %q", v, got, want)
		}
		if got, ok := Unescape(want); got != v || !ok {
			t.Errorf("Unescape(%q) = %q, %v; want %q, true", want, got, ok, v)
		}
	}
}

func TestAppendEntry(t *testing.T) {
	var b strings.Builder
	AppendEntry(&b, "source", "/a,b")
	AppendName(&b, "correlationid")
	AppendEntry(&b, "subject", "")
	if got, want := b.String(), "source=/a%2Cb,correlationid,subject="; got != want {
		t.Errorf("list = %q, want %q", got, want)
	}
}

// TestUnescape reads what AppendEscaped does not make: lower-case hex
// digits, bytes an earlier version did not escape, and malformed escapes.
func TestUnescape(t *testing.T) {
	if got, ok := Unescape("%2c%0d%0a"); got != ",\r\n" || !ok {
		t.Errorf("Unescape(%q) = %q, %v; want %q, true", "%2c%0d%0a", got, ok, ",\r\n")
	}
	for _, v := range []string{"raw, space", "tab\t"} {
		if got, ok := Unescape(v); got != v || !ok {
			t.Errorf("Unescape(%q) = %q, %v; want it as it is, true", v, got, ok)
		}
	}
	// A "%" not followed by two hex digits.
	for _, v := range []string{"50%", "%4", "a%zz", "%4g", "%%41"} {
		if got, ok := Unescape(v); got != v || ok {
			t.Errorf("Unescape(%q) = %q, %v; want it as it is, false", v, got, ok)
		}
	}
}

// TestEscapedBytes checks that an escaped value has none of the bytes that a
// list or a NATS header cannot carry as they are.
func TestEscapedBytes(t *testing.T) {
	var all [256]byte
	for i := range all {
		all[i] = byte(i)
	}
	var b strings.Builder
	AppendEscaped(&b, string(all[:]))
	if i := strings.IndexFunc(b.String(), func(r rune) bool { return r <= ' ' || r == ',' || r == 0x7f }); i >= 0 {
		t.Errorf("AppendEscaped(every byte) = %q has %q at %d", b.String(), b.String()[i], i)
	}
}

// FuzzRoundTrip checks that what AppendEscaped writes Unescape reads back, and
// that a value without "%" reads as it is.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"", "a,b%c", " x ", "\r\n", "%zz", "né\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		var b strings.Builder
		AppendEscaped(&b, v)
		e := b.String()
		if strings.ContainsAny(e, ", \r\n\t") {
			t.Errorf("AppendEscaped(%q) = %q, has a separator or whitespace", v, e)
		}
		if got, ok := Unescape(e); got != v || !ok {
			t.Errorf("Unescape(AppendEscaped(%q)) = %q, %v; want it back", v, got, ok)
		}
		if !strings.Contains(v, "%") {
			if got, ok := Unescape(v); got != v || !ok {
				t.Errorf("Unescape(%q) = %q, %v; want it as it is", v, got, ok)
			}
		}
	})
}
