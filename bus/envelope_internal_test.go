package bus

import (
	"math/rand/v2"
	"mime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// printableRef is printable written plainly, a rune at a time.
func printableRef(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
		i += n
	}
	return true
}

// The eight-bytes-at-a-time printable agrees with the plain one, wherever the
// odd byte is.
func TestPrintable(t *testing.T) {
	odd := []string{"\x00", "\x1f", "\x7f", "\x80", "\xff", "\u0085", "\ufffd", "é", "€", " ", "~", "\x20", "\x5f", "\xe2\x82"}
	base := strings.Repeat("abcdefgh", 4)
	for n := 0; n <= len(base); n++ {
		if got, want := printable(base[:n]), printableRef(base[:n]); got != want {
			t.Errorf("printable(%q) = %t, want %t", base[:n], got, want)
		}
		for at := 0; at <= n; at++ {
			for _, o := range odd {
				s := base[:at] + o + base[at:n]
				if got, want := printable(s), printableRef(s); got != want {
					t.Errorf("printable(%q) = %t, want %t", s, got, want)
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		b := make([]byte, r.IntN(24))
		for i := range b {
			b[i] = byte(0x1c + r.IntN(0x68)) // around the edges 0x20 and 0x7f, some above 0x80
		}
		if got, want := printable(string(b)), printableRef(string(b)); got != want {
			t.Fatalf("printable(%q) = %t, want %t", b, got, want)
		}
	}
}

// parseTime reads UTC times itself; it agrees with time.Parse on what it accepts
// and what it reads.
func TestParseTimeUTC(t *testing.T) {
	cases := []string{
		"2025-03-14T15:09:26Z", "2025-03-14T15:09:26.5Z", "2025-03-14T15:09:26.535897932Z",
		"2025-03-14T15:09:26.000000001Z", "2025-03-14T15:09:26.0Z",
		"2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2000-02-29T00:00:00Z",
		"2025-04-31T00:00:00Z", "2025-04-30T23:59:59Z", "2025-12-31T23:59:59.999999999Z",
		"2025-13-01T00:00:00Z", "2025-00-01T00:00:00Z", "2025-01-00T00:00:00Z", "2025-01-32T00:00:00Z",
		"2025-01-01T24:00:00Z", "2025-01-01T23:60:00Z", "2025-01-01T23:59:60Z",
		"0000-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000001Z", "9999-12-31T23:59:59Z",
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20_000 {
		cases = append(cases, time.Unix(r.Int64N(400_000_000_000)-62_135_596_800, r.Int64N(1e9)).UTC().Format(time.RFC3339Nano))
	}
	for _, s := range cases {
		got, err := parseTime(s)
		want, werr := time.Parse(time.RFC3339Nano, s)
		switch {
		case werr != nil:
			if err == nil {
				t.Errorf("parseTime(%q) = %v, time.Parse rejects it: %v", s, got, werr)
			}
		case want.IsZero():
			if err != errZeroTime {
				t.Errorf("parseTime(%q) = %v, %v; want the zero-time error", s, got, err)
			}
		case err != nil || got != want:
			t.Errorf("parseTime(%q) = %v, %v; time.Parse says %v", s, got, err, want)
		}
	}
}

// validUUID accepts canonical lower-case UUIDs but the nil one, and nothing else.
func TestValidUUID(t *testing.T) {
	for _, tt := range []struct {
		s    string
		want bool
	}{
		{"0190a6e8-7d6f-7b3a-9c55-3a4d6b1e9f00", true},
		{"00000000-0000-0000-0000-000000000001", true},
		{"10000000-0000-0000-0000-000000000000", true},
		{"00000000-0000-0000-0000-000000000000", false},
		{"0190A6E8-7D6F-7B3A-9C55-3A4D6B1E9F00", false},
		{"0190a6e8-7d6f-7b3a-9c55-3a4d6b1e9f0g", false},
		{"0190a6e87d6f-7b3a-9c55-3a4d6b1e9f00-", false},
		{"0190a6e8-7d6f-7b3a-9c55-3a4d6b1e9f0", false},
		{"0190a6e8-7d6f-7b3a-9c55-3a4d6b1e9f000", false},
		{"{190a6e8-7d6f-7b3a-9c55-3a4d6b1e9f00", false},
		{"0190a6e8-7d6f-7b3a-9c55-3a4d6b1e9f\x00\x00", false},
	} {
		if got := validUUID(tt.s); got != tt.want {
			t.Errorf("validUUID(%q) = %t, want %t", tt.s, got, tt.want)
		}
	}
}

// parseTimeRef is parseTime as it was before it read UTC times itself: its
// layout check, then time.Parse.
func parseTimeRef(s string) (time.Time, bool) {
	const layout = "dddd-dd-ddTdd:dd:dd"
	if len(s) < len(layout)+1 {
		return time.Time{}, false
	}
	for i := 0; i < len(layout); i++ {
		if c := s[i]; layout[i] == 'd' && (c < '0' || c > '9') || layout[i] != 'd' && c != layout[i] {
			return time.Time{}, false
		}
	}
	rest := s[len(layout):]
	if rest[0] == '.' {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 1 || i > 10 {
			return time.Time{}, false
		}
		rest = rest[i:]
	}
	if rest != "Z" && !(len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' &&
		isDigit(rest[1]) && isDigit(rest[2]) && isDigit(rest[4]) && isDigit(rest[5])) {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil && !t.IsZero()
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2025-03-14T15:09:26Z", "2024-02-29T23:59:59.123456789Z", "0001-01-01T00:00:00Z",
		"2025-03-14T15:09:26+01:00", "2025-02-30T00:00:00Z", "2025-03-14T15:09:26.Z", "2025-03-14T24:00:00Z",
		"0000-01-01T00:00:00+00:10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseTime(s)
		want, ok := parseTimeRef(s)
		// Times with an offset have a fixed zone made anew by each time.Parse.
		same := got == want || got.Equal(want) && got.Format(time.RFC3339Nano) == want.Format(time.RFC3339Nano) && s[len(s)-1] != 'Z'
		if (err == nil) != ok || ok && !same {
			t.Fatalf("parseTime(%q) = %v, %v; before: %v, %t", s, got, err, want, ok)
		}
	})
}

// checkMediaType agrees with mime.ParseMediaType on what is a media type: its fast
// path for plain "type/subtype" accepts nothing the parser rejects.
func FuzzCheckMediaType(f *testing.F) {
	for _, s := range []string{"application/json", "application/json; charset=utf-8", "text/plain", "a/b",
		"/json", "application/", "application", "application/json/x", "appli cation/json", "application/js\"on",
		"application/vnd.api+json", "a/b;c=d", "", "é/x", "a/b\x7f", "a/b\x00", "x-y/z_!#$%&'*+-.^`|~"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _, werr := mime.ParseMediaType(s)
		if err := checkMediaType(s); (err == nil) != (werr == nil) {
			t.Errorf("checkMediaType(%q) = %v; mime.ParseMediaType says %v", s, err, werr)
		}
	})
}
